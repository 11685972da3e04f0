#!/usr/bin/env bash
# Bench: push a 600 MB JSONL file through openai-sandbox's Uploads API (64 MB parts, as the
# official SDK does) and print throughput and the sandbox's peak RSS. The sandbox spools parts
# to disk, so its peak RSS should stay far below the file size.
#   bench/sandbox_upload.sh            # SIZE_MB=600 by default; uses target/debug unless BIN=...
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SIZE_MB="${SIZE_MB:-600}"
BIN="${BIN:-$ROOT/target/debug/openai-sandbox}"
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --quiet -p openai-sandbox --bin openai-sandbox)
# The SDK venv from the SDK test (created idempotently there).
VENV="$ROOT/crates/openai-sandbox/tests/sdk/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "openai==3.57.0"
fi

WORK="$(mktemp -d)"
OUT="$WORK/sandbox.out"
KEY="sk-bench"
"$BIN" --listen 127.0.0.1:0 --api-key "$KEY" --job-seconds 5 >"$OUT" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do grep -q '^listening on' "$OUT" && break; sleep 0.1; done
URL="$(sed -n 's/^listening on //p' "$OUT")"

SANDBOX_URL="$URL" SANDBOX_KEY="$KEY" SANDBOX_PID="$PID" SIZE_MB="$SIZE_MB" WORK="$WORK" "$VENV/bin/python" - <<'PY'
import hashlib, json, os, time, urllib.request
from openai import OpenAI

size = int(os.environ["SIZE_MB"]) * 1024 * 1024
path = os.path.join(os.environ["WORK"], "big.jsonl")
line = (json.dumps({"messages": [{"role": "user", "content": "q" * 200}, {"role": "assistant", "content": "a" * 200}]}) + "\n").encode()
sha = hashlib.sha256()
with open(path, "wb") as f:
    written = 0
    while written < size:
        chunk = line * 4096
        f.write(chunk); sha.update(chunk); written += len(chunk)
nbytes = os.path.getsize(path)

def rss_kb(field):
    with open(f"/proc/{os.environ['SANDBOX_PID']}/status") as s:
        for l in s:
            if l.startswith(field):
                return int(l.split()[1])

base = rss_kb("VmRSS")
client = OpenAI(base_url=os.environ["SANDBOX_URL"] + "/v1", api_key=os.environ["SANDBOX_KEY"], timeout=600)
t = time.time()
up = client.uploads.upload_file_chunked(file=path, mime_type="text/jsonl", purpose="fine-tune")
dt = time.time() - t
assert up.status == "completed" and up.file.bytes == nbytes, up
with urllib.request.urlopen(os.environ["SANDBOX_URL"] + "/_sandbox/received") as r:
    rec = [x for x in json.load(r)["data"] if x["id"] == up.file.id][0]
assert rec["sha256"] == sha.hexdigest(), "received bytes differ"
peak = rss_kb("VmHWM")
print(f"uploaded {nbytes / 1e6:.0f} MB in {dt:.2f} s: {nbytes / 1e6 / dt:.0f} MB/s through the Uploads API "
      f"({(nbytes + 64 * 2**20 - 1) // (64 * 2**20)} parts)")
print(f"sandbox RSS: {base / 1024:.0f} MB before, peak {peak / 1024:.0f} MB (file {nbytes / 2**20:.0f} MiB); sha256 verified")
PY
