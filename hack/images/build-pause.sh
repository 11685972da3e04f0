#!/usr/bin/env bash
# Builds the pod sandbox ("pause") image from Kubernetes' own pause.c (build/pause/linux in the
# k8s.io/kubernetes module of hack/kube-apiserver/go.mod), statically linked, as an image archive
# for `ctr images import`. Cached by version; prints the tarball's path as the last line.
set -euo pipefail
hack="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../versions.env
source "$hack/versions.env"
PATH="$PATH:/usr/local/go/bin"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/images"
out="$cache/pause-${K8S_VERSION}.tar"
if [[ -s "$out" ]]; then echo "$out"; exit 0; fi
mkdir -p "$cache"
exec 9>"$cache/.pause.lock"
flock 9
if [[ -s "$out" ]]; then echo "$out"; exit 0; fi
command -v gcc >/dev/null || { echo "build-pause.sh: gcc is required" >&2; exit 1; }
src="$(cd "$hack/kube-apiserver" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/build/pause"
tag="$(sed -n 's/^TAG ?= \(.*\)$/\1/p' "$src/Makefile")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs"
# The flags of build/pause/Makefile (-Os -Wall -Werror -static), glibc instead of its musl toolchain.
gcc -Os -Wall -Werror -static -DVERSION="v${tag}" -o "$work/rootfs/pause" "$src/linux/pause.c"
strip "$work/rootfs/pause"
"$hack/images/image-tar.sh" "$out" "$(sed -n 's/^PAUSE_IMAGE=//p' "$hack/versions.env")" "$work/rootfs" \
  '{"Entrypoint":["/pause"],"User":"65535:65535"}'
echo "$out"
