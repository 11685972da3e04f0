#!/usr/bin/env bash
# Builds Helm from Go modules (hack/helm pins helm.sh/helm/v3) into a cache keyed by version and prints
# the binary's path as the last line of stdout. Progress goes to stderr.
#   - HELM (if set and executable) is used as is: nothing is built.
#   - Otherwise reuse ${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/helm/<version>/helm.
# Needs only Go (GOTOOLCHAIN=local: hack/helm/go.mod asks for no newer toolchain than Go 1.26.0).
set -euo pipefail
hack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HELM_VERSION=v3.22.0

if [[ -n "${HELM:-}" && -x "${HELM}" ]]; then
  echo "$HELM"
  exit 0
fi

cache="${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/helm/${HELM_VERSION}"
out="$cache/helm"
if [[ -x "$out" ]]; then
  echo "$out"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then PATH="$PATH:/usr/local/go/bin"; else
    echo "build-helm.sh: go not found (need Go >= 1.26.0)" >&2; exit 1
  fi
fi

grep -Eq "^[[:space:]]*helm.sh/helm/v3 ${HELM_VERSION}( |$)" "$hack/helm/go.mod" || {
  echo "build-helm.sh: hack/helm/go.mod does not pin helm ${HELM_VERSION}" >&2; exit 1; }

mkdir -p "$cache"
# Several test binaries may ask at once: one builds, the others wait and reuse its result.
exec 9>"$cache/.lock"
flock 9
if [[ -x "$out" ]]; then
  echo "$out"
  exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
tmp="$cache/.helm.$$"
trap 'rm -f "$tmp"' EXIT
start=$SECONDS
echo "build-helm.sh: building helm ${HELM_VERSION} from Go modules ..." >&2
# The same version stamps as Helm's own Makefile, so `helm version` reports the release.
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
helm_sum="$(cd "$hack/helm" && go mod download -json "helm.sh/helm/v3@${HELM_VERSION}" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p')"
ldflags+=" -X helm.sh/helm/v3/internal/version.metadata= -X helm.sh/helm/v3/internal/version.gitTreeState=archive"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitCommit=${helm_sum}"
# Helm's default Kubernetes version (lint, template without --kube-version) follows its client-go.
kminor="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$hack/helm/go.mod")"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags+=" -X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1 -X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${kminor}"
done
(cd "$hack/helm" && go build -trimpath -ldflags "$ldflags" -o "$tmp" helm.sh/helm/v3/cmd/helm)
mv "$tmp" "$out"
echo "build-helm.sh: built in $((SECONDS - start)) s into $out" >&2
echo "$out"
