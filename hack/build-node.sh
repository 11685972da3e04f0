#!/usr/bin/env bash
# Builds kubelet, kube-controller-manager and kube-scheduler from the same k8s.io/kubernetes module
# (hack/kube-apiserver/go.mod) as kube-apiserver, into a cache keyed by version, and prints that
# directory as the last line of stdout. Progress goes to stderr. The full test cluster
# (tunegate-testenv's full mode) runs them beside hack/build-controlplane.sh's etcd + kube-apiserver.
#   - TUNEGATE_NODE_ASSETS: if it holds all three binaries, use it, build nothing.
#   - Otherwise reuse ${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/node/<k8s>/bin.
set -euo pipefail
hack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$hack/versions.env"
bins=(kubelet kube-controller-manager kube-scheduler)

have_all() { local b; for b in "${bins[@]}"; do [[ -x "$1/$b" ]] || return 1; done; }

if [[ -n "${TUNEGATE_NODE_ASSETS:-}" ]]; then
  if have_all "$TUNEGATE_NODE_ASSETS"; then echo "$TUNEGATE_NODE_ASSETS"; exit 0; fi
  echo "build-node.sh: TUNEGATE_NODE_ASSETS=$TUNEGATE_NODE_ASSETS lacks one of ${bins[*]}; building into the cache" >&2
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/node/${K8S_VERSION}"
bin="$cache/bin"
if have_all "$bin"; then echo "$bin"; exit 0; fi

if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then PATH="$PATH:/usr/local/go/bin"; else
    echo "build-node.sh: go not found (need Go >= the go directive in hack/kube-apiserver/go.mod)" >&2; exit 1
  fi
fi

mkdir -p "$cache"
# Several test binaries may ask at once: one builds, the others wait and reuse its result.
exec 9>"$cache/.lock"
flock 9
if have_all "$bin"; then echo "$bin"; exit 0; fi

grep -Eq "^[[:space:]]*k8s.io/kubernetes ${K8S_VERSION}( |$)" "$hack/kube-apiserver/go.mod" || {
  echo "build-node.sh: hack/kube-apiserver/go.mod is not for ${K8S_VERSION}; run hack/kube-apiserver/generate.sh" >&2; exit 1; }
for b in "${bins[@]}"; do
  grep -qx "tool k8s.io/kubernetes/cmd/$b" "$hack/kube-apiserver/go.mod" || {
    echo "build-node.sh: hack/kube-apiserver/go.mod has no tool line for $b; run hack/kube-apiserver/generate.sh" >&2; exit 1; }
done

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
tmp="$cache/.build.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# The same version stamps as hack/build-controlplane.sh (see hack/README.md).
k8s_json="$(cd "$hack/kube-apiserver" && go mod download -json "k8s.io/kubernetes@${K8S_VERSION}")"
k8s_sum="$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$k8s_json")"
k8s_info="$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",$/\1/p' <<<"$k8s_json")"
k8s_date="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$k8s_info")"
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
ldflags="-s -w -X ${vpkg}.gitVersion=${K8S_VERSION} -X ${vpkg}.gitMajor=1 -X ${vpkg}.gitMinor=${minor}"
ldflags+=" -X ${vpkg}.gitCommit=${k8s_sum} -X ${vpkg}.gitTreeState=archive -X ${vpkg}.buildDate=${k8s_date}"

start=$SECONDS
pkgs=()
for b in "${bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
echo "build-node.sh: building ${bins[*]} ${K8S_VERSION} ..." >&2
# One go build for all three: shared packages compile once.
(cd "$hack/kube-apiserver" && go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}")
mkdir -p "$bin"
for b in "${bins[@]}"; do mv "$tmp/$b" "$bin/"; done
echo "build-node.sh: built in $((SECONDS - start)) s into $bin" >&2
echo "$bin"
