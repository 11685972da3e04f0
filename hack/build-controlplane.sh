#!/usr/bin/env bash
# Builds kube-apiserver and etcd from Go modules (through the module proxy) into a cache keyed by
# version and prints that directory as the last line of stdout. Progress goes to stderr.
#   - KUBEBUILDER_ASSETS (the envtest convention): if it holds both binaries, use it, build nothing.
#   - Otherwise reuse ${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/controlplane/<k8s>-etcd<etcd>/bin.
# Needs only Go (GOTOOLCHAIN=local: the go.mod files ask for no newer toolchain than the machine's).
set -euo pipefail
hack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$hack/versions.env"

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if [[ -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  echo "build-controlplane.sh: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks kube-apiserver or etcd; building into the cache" >&2
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/controlplane/${K8S_VERSION}-etcd${ETCD_VERSION}"
bin="$cache/bin"
if [[ -x "$bin/kube-apiserver" && -x "$bin/etcd" ]]; then
  echo "$bin"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then PATH="$PATH:/usr/local/go/bin"; else
    echo "build-controlplane.sh: go not found (need Go >= the go directive in hack/*/go.mod)" >&2; exit 1
  fi
fi

mkdir -p "$cache"
# Several test binaries may ask at once: one builds, the others wait and reuse its result.
exec 9>"$cache/.lock"
flock 9
if [[ -x "$bin/kube-apiserver" && -x "$bin/etcd" ]]; then
  echo "$bin"
  exit 0
fi

# The committed go.mod files must match versions.env (regenerate with hack/*/generate.sh).
grep -Eq "^[[:space:]]*k8s.io/kubernetes ${K8S_VERSION}( |$)" "$hack/kube-apiserver/go.mod" || {
  echo "build-controlplane.sh: hack/kube-apiserver/go.mod is not for ${K8S_VERSION}; run hack/kube-apiserver/generate.sh" >&2; exit 1; }
grep -Eq "^[[:space:]]*go.etcd.io/etcd/server/v3 ${ETCD_VERSION}( |$)" "$hack/etcd/go.mod" || {
  echo "build-controlplane.sh: hack/etcd/go.mod is not for ${ETCD_VERSION}; run hack/etcd/generate.sh" >&2; exit 1; }

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
tmp="$cache/.build.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# Version stamps. The module zip carries no git metadata: the commit field records the module's
# checksum (which pins the exact source), the tree state is "archive" as for Kubernetes' source
# tarballs, and the build date is the release's publication time so that builds are reproducible.
k8s_json="$(cd "$hack/kube-apiserver" && go mod download -json "k8s.io/kubernetes@${K8S_VERSION}")"
k8s_sum="$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$k8s_json")"
k8s_info="$(sed -n 's/^[[:space:]]*"Info": "\(.*\)",$/\1/p' <<<"$k8s_json")"
k8s_date="$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$k8s_info")"
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
k8s_ldflags="-s -w -X ${vpkg}.gitVersion=${K8S_VERSION} -X ${vpkg}.gitMajor=1 -X ${vpkg}.gitMinor=${minor}"
k8s_ldflags+=" -X ${vpkg}.gitCommit=${k8s_sum} -X ${vpkg}.gitTreeState=archive -X ${vpkg}.buildDate=${k8s_date}"
# component-base also exposes the version through its "verflag" default, set from the same vars.

etcd_json="$(cd "$hack/etcd" && go mod download -json "go.etcd.io/etcd/server/v3@${ETCD_VERSION}")"
etcd_sum="$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' <<<"$etcd_json")"
etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd_sum}"

start=$SECONDS
echo "build-controlplane.sh: building etcd ${ETCD_VERSION} ..." >&2
(cd "$hack/etcd" && go build -trimpath -ldflags "$etcd_ldflags" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
echo "build-controlplane.sh: building kube-apiserver ${K8S_VERSION} (slow on a cold cache) ..." >&2
(cd "$hack/kube-apiserver" && go build -trimpath -ldflags "$k8s_ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
mkdir -p "$bin"
mv "$tmp/etcd" "$tmp/kube-apiserver" "$bin/"
echo "build-controlplane.sh: built in $((SECONDS - start)) s into $bin" >&2
echo "$bin"
