#!/usr/bin/env bash
# Makes sure Debian's lua5.1 and lua5.4 interpreters are present (installs them with apt if missing)
# for the Argo CD health-check tests. Lua 5.1 is the dialect of Argo CD's gopher-lua; 5.4 is checked
# too so that the scripts stay portable. Prints nothing on stdout; progress goes to stderr.
set -euo pipefail
missing=()
for v in 5.1 5.4; do
  command -v "lua$v" >/dev/null 2>&1 || missing+=("lua$v")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-lua.sh: need ${missing[*]} and apt-get is not available" >&2; exit 1
fi
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
# Several test binaries may ask at once: one installs, the others wait.
exec 9>"${TMPDIR:-/tmp}/tunegate-ensure-lua.lock"
flock 9
missing=()
for v in 5.1 5.4; do command -v "lua$v" >/dev/null 2>&1 || missing+=("lua$v"); done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "ensure-lua.sh: installing ${missing[*]} with apt" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends "${missing[@]}" >&2 || {
  $sudo apt-get -o DPkg::Lock::Timeout=120 update >&2 && $sudo apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends "${missing[@]}" >&2; }
