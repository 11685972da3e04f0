#!/usr/bin/env bash
# Builds the exact binary the Dockerfile's build stage builds (release, --locked, musl, static) on
# the host, and checks that it is statically linked and runs. Prints the binary's path last.
# Needs the rustup target x86_64-unknown-linux-musl and musl-gcc (apt: musl-tools); installs both
# if missing. Slow (a full release build): CI-optional, see docs/operations.md "The image".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target=x86_64-unknown-linux-musl
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target" >&2
fi
if ! command -v musl-gcc >/dev/null 2>&1; then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends musl-tools >&2
fi
cd "$root"
cargo build --release --locked --target "$target" --bin tunegate >&2
bin="$root/target/$target/release/tunegate"
# ldd prints "statically linked" (glibc ldd) or "not a dynamic executable" for static binaries.
if ldd_out="$(ldd "$bin" 2>&1)"; then :; fi
case "$ldd_out" in
  *"statically linked"*|*"not a dynamic executable"*) ;;
  *) echo "build-static.sh: $bin is dynamically linked:" >&2; echo "$ldd_out" >&2; exit 1 ;;
esac
if readelf -l "$bin" | grep -q INTERP; then
  echo "build-static.sh: $bin has an ELF interpreter (not static)" >&2; exit 1
fi
"$bin" --version >&2
# The image strips it (install -s in the Dockerfile); report both sizes.
stripped="$(mktemp)"; trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$bin"
"$stripped" crds >/dev/null
echo "build-static.sh: static binary $(du -h "$bin" | cut -f1), stripped $(du -h "$stripped" | cut -f1); ldd: ${ldd_out//$'\n'/ }" >&2
echo "$bin"
