#!/usr/bin/env bash
# A local Kubernetes control plane (etcd + kube-apiserver built by hack/build-controlplane.sh)
# for a person at a shell. All logic lives in Rust (crates/tunegate-testenv and its examples/controlplane.rs).
#   hack/controlplane.sh up     # start it detached, install the CRDs; prints `export KUBECONFIG=...`
#   eval "$(hack/controlplane.sh env)"
#   hack/controlplane.sh down   # stop it and remove its state
# State: ${TUNEGATE_DEV_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/dev-cluster}
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-}"
case "$cmd" in
  up|down|env|status) ;;
  *) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
esac
dir="${TUNEGATE_DEV_CLUSTER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/dev-cluster}"
cd "$root"
exec cargo run --quiet -p tunegate-testenv --example controlplane -- "$cmd" --dir "$dir"
