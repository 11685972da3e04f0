#!/usr/bin/env bash
# Installs the few tools tunegate's scripts need beyond Rust and Go, idempotently.
set -euo pipefail

need_apt=()
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubectl)
[ -x /usr/bin/time ] || need_apt+=(time)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v jq >/dev/null 2>&1 || need_apt+=(jq)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# The sandbox's contract test drives it with the official Node SDK too.
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# The full test cluster's node (crates/tunegate-testenv, full mode): Debian's containerd 1.6, runc
# and the CNI plugins (bridge, host-local, loopback).
command -v containerd >/dev/null 2>&1 || need_apt+=(containerd)
command -v runc >/dev/null 2>&1 || need_apt+=(runc)
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing with apt: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # No recommends: containerd's would pull in criu, which nothing here uses.
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if command -v rustup >/dev/null 2>&1; then
  installed=$(rustup component list --installed 2>/dev/null || true)
  for c in rustfmt clippy; do
    grep -q "^$c" <<<"$installed" || rustup component add "$c"
  done
fi

for t in cargo go kubectl python3; do
  command -v "$t" >/dev/null 2>&1 || { echo "ensure-tools: $t is missing and cannot be installed here" >&2; exit 1; }
done
