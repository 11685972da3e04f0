#!/usr/bin/env bash
# Runs every tunegate test: formatting, lints, unit tests, and the integration and end-to-end tests
# against a real kube-apiserver + etcd (built from Go modules on first use and cached) and the
# openai-sandbox. Installs what it needs by itself; see README.md "What the scripts install".
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "tools"
scripts/ensure-tools.sh

step "control plane binaries (cached after the first build)"
KUBEBUILDER_ASSETS="$(hack/build-controlplane.sh | tail -n 1)"
export KUBEBUILDER_ASSETS
echo "using $KUBEBUILDER_ASSETS"

step "full-cluster node binaries and images (cached after the first build)"
# kubelet, kube-controller-manager, kube-scheduler (same Kubernetes module as kube-apiserver), the
# pause image, and the operator image from the Dockerfile's static binary (a release build).
TUNEGATE_NODE_ASSETS="$(hack/build-node.sh | tail -n 1)"
export TUNEGATE_NODE_ASSETS
hack/images/build-pause.sh >/dev/null
if [[ -z "${TUNEGATE_OPERATOR_IMAGE:-}" ]]; then
  TUNEGATE_OPERATOR_IMAGE="$(hack/images/build-operator-image.sh | tail -n 1)"
  export TUNEGATE_OPERATOR_IMAGE
fi
echo "using $TUNEGATE_NODE_ASSETS and $TUNEGATE_OPERATOR_IMAGE"

step "cargo fmt"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "cargo test"
# The end-to-end tests start the workspace's binaries (tunegate, openai-sandbox) as processes.
cargo build --locked --workspace --bins
cargo test --locked --workspace --all-targets --no-fail-fast
cargo test --locked --workspace --doc

step "no test-cluster process, container, bridge or cgroup left behind"
hack/check-no-leftovers.sh
