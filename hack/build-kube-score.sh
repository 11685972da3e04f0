#!/usr/bin/env bash
# Builds kube-score (a linter of Kubernetes manifests) from Go modules (hack/kube-score pins
# github.com/zegl/kube-score) into a cache keyed by version and prints the binary's path as the
# last line of stdout, like hack/build-helm.sh. KUBE_SCORE (if set and executable) is used as is.
set -euo pipefail
hack="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_SCORE_VERSION=v1.20.0

if [[ -n "${KUBE_SCORE:-}" && -x "${KUBE_SCORE}" ]]; then
  echo "$KUBE_SCORE"
  exit 0
fi
cache="${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/kube-score/${KUBE_SCORE_VERSION}"
out="$cache/kube-score"
if [[ -x "$out" ]]; then echo "$out"; exit 0; fi
if ! command -v go >/dev/null 2>&1; then
  if [[ -x /usr/local/go/bin/go ]]; then PATH="$PATH:/usr/local/go/bin"; else
    echo "build-kube-score.sh: go not found" >&2; exit 1
  fi
fi
grep -Eq "^[[:space:]]*github.com/zegl/kube-score ${KUBE_SCORE_VERSION}( |$)" "$hack/kube-score/go.mod" || {
  echo "build-kube-score.sh: hack/kube-score/go.mod does not pin kube-score ${KUBE_SCORE_VERSION}" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ -x "$out" ]]; then echo "$out"; exit 0; fi
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
tmp="$cache/.kube-score.$$"
trap 'rm -f "$tmp"' EXIT
start=$SECONDS
echo "build-kube-score.sh: building kube-score ${KUBE_SCORE_VERSION} from Go modules ..." >&2
# kube-score's release stamps (main.version, main.commit).
sum="$(cd "$hack/kube-score" && go mod download -json "github.com/zegl/kube-score@${KUBE_SCORE_VERSION}" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p')"
(cd "$hack/kube-score" && go build -trimpath -ldflags "-s -w -X main.version=${KUBE_SCORE_VERSION#v} -X main.commit=${sum}" -o "$tmp" github.com/zegl/kube-score/cmd/kube-score)
mv "$tmp" "$out"
echo "build-kube-score.sh: built in $((SECONDS - start)) s into $out" >&2
echo "$out"
