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

step "cargo fmt"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "cargo test"
# The end-to-end tests start the workspace's binaries (tunegate, openai-sandbox) as processes.
cargo build --locked --workspace --bins
cargo test --locked --workspace --all-targets --no-fail-fast
cargo test --locked --workspace --doc

step "no control-plane process left behind"
hack/check-no-leftovers.sh
