#!/usr/bin/env bash
# The operator image without a Docker engine: the static binary that the Dockerfile's build stage
# builds (hack/build-static.sh runs the same cargo command), stripped as `install -s` does, on a
# root filesystem with what the distroless/static:nonroot base provides and the binary uses
# (/etc/passwd and /etc/group with nonroot 65532, CA certificates, a world-writable /tmp,
# /home/nonroot), and the runtime stage's USER, ENTRYPOINT, CMD, EXPOSE and LABELs.
# tests/image.rs checks that this recipe and the Dockerfile do not drift.
#   build-operator-image.sh                 builds target/images/tunegate-<version>.tar, prints its path
#   build-operator-image.sh --print-config  prints the image config JSON only (no build)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
version="$(sed -n 's/^appVersion: "\(.*\)"$/\1/p' "$root/charts/tunegate/Chart.yaml")"
ref="tunegate/tunegate:${version}"
config='{
  "User": "65532:65532",
  "Entrypoint": ["/usr/local/bin/tunegate"],
  "Cmd": ["run"],
  "ExposedPorts": {"8080/tcp": {}},
  "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
  "WorkingDir": "/",
  "Labels": {
    "org.opencontainers.image.title": "tunegate",
    "org.opencontainers.image.description": "Kubernetes operator for fine-tuning hosted models on redacted, tracked training data",
    "org.opencontainers.image.licenses": "Apache-2.0"
  }
}'
if [[ "${1:-}" == "--print-config" ]]; then
  jq -c . <<<"$config"
  exit 0
fi
bin="$("$root/hack/build-static.sh" | tail -n 1)"
ca=/etc/ssl/certs/ca-certificates.crt
[[ -s "$ca" ]] || { echo "build-operator-image.sh: $ca missing (Debian package ca-certificates)" >&2; exit 1; }
out_dir="${CARGO_TARGET_DIR:-$root/target}/images"
out="$out_dir/tunegate-${version}.tar"
mkdir -p "$out_dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rfs="$work/rootfs"
install -D -s -m 0755 "$bin" "$rfs/usr/local/bin/tunegate"
install -d -m 0755 "$rfs/etc/ssl/certs"
install -m 0644 "$ca" "$rfs/etc/ssl/certs/ca-certificates.crt"
# The same accounts as distroless's base-files.
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > "$work/passwd"
printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' > "$work/group"
install -m 0644 "$work/passwd" "$rfs/etc/passwd"
install -m 0644 "$work/group" "$rfs/etc/group"
install -d -m 1777 "$rfs/tmp"
install -d -m 0700 "$rfs/root"
install -d -m 0700 -o 65532 -g 65532 "$rfs/home/nonroot"
"$root/hack/images/image-tar.sh" "$out" "$ref" "$rfs" "$config"
echo "$out"
