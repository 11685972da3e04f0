#!/usr/bin/env bash
# Assembles a single-layer image as a Docker image archive (`docker save` format: manifest.json,
# config, layer.tar), the form `ctr -n k8s.io images import` reads, without a Docker engine.
#   image-tar.sh OUT.tar NAME:TAG ROOTFS_DIR CONFIG_JSON
# CONFIG_JSON is the image's "config" object (User, Entrypoint, Cmd, Env, ExposedPorts, Labels).
# The layer is reproducible: sorted names, mtime 0, owner root unless the rootfs says otherwise
# through numeric ids (tar --numeric-owner keeps what the files carry).
set -euo pipefail
out="$1" ref="$2" rootfs="$3" config="$4"
command -v jq >/dev/null || { echo "image-tar.sh: jq is required (scripts/ensure-tools.sh installs it)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar --sort=name --mtime=@0 --numeric-owner --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$rootfs" -cf "$work/layer.tar" .
diff_id="sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
jq -cn --argjson config "$config" --arg diff "$diff_id" '{
  architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
  config: $config,
  rootfs: {type: "layers", diff_ids: [$diff]},
  history: [{created: "1970-01-01T00:00:00Z", created_by: "hack/images/image-tar.sh"}]
}' > "$work/config.json"
cid="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
lid="${diff_id#sha256:}"
mkdir -p "$work/img/$lid"
mv "$work/config.json" "$work/img/$cid.json"
mv "$work/layer.tar" "$work/img/$lid/layer.tar"
jq -cn --arg c "$cid.json" --arg r "$ref" --arg l "$lid/layer.tar" \
  '[{Config: $c, RepoTags: [$r], Layers: [$l]}]' > "$work/img/manifest.json"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/img" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "image-tar.sh: $ref -> $out (config sha256:$cid)" >&2
