#!/usr/bin/env bash
# Upload benchmark: a release-built openai-sandbox and the upload_bench client; the client
# streams a generated MB-sized JSONL file (600 MB by default: the Uploads API in 64 MB parts)
# and we print throughput and the client's peak RSS. Usage: bench/upload.sh [MB]
set -euo pipefail
cd "$(dirname "$0")/.."

MB="${1:-600}"
KEY="sk-bench-$RANDOM$RANDOM"

if [ ! -x /usr/bin/time ]; then
  apt-get install -y -q time >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q time >/dev/null; }
fi

cargo build --release -p openai-sandbox --bin openai-sandbox && cargo build --release -p tunegate --example upload_bench

LOG="$(mktemp)"; OUT="$(mktemp)"
SANDBOX_PID=""
cleanup() {
  if [ -n "$SANDBOX_PID" ]; then kill "$SANDBOX_PID" 2>/dev/null || true; wait "$SANDBOX_PID" 2>/dev/null || true; fi
  rm -f "$LOG" "$OUT"
}
trap cleanup EXIT

# The sandbox spools received bytes to disk; keep them under target/, away from /tmp cleaners.
SPOOL="$PWD/target/bench-spool"; mkdir -p "$SPOOL"
TMPDIR="$SPOOL" OPENAI_SANDBOX_API_KEY="$KEY" target/release/openai-sandbox --listen 127.0.0.1:0 >"$LOG" 2>&1 &
SANDBOX_PID=$!
BASE=""
for _ in $(seq 1 100); do
  BASE="$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$LOG" | head -1)"
  [ -n "$BASE" ] && break
  sleep 0.1
done
[ -n "$BASE" ] || { echo "sandbox did not start:"; cat "$LOG"; exit 1; }

BENCH_API_KEY="$KEY" /usr/bin/time -v target/release/examples/upload_bench \
  --base-url "$BASE/v1" --mb "$MB" >"$OUT" 2>"$OUT.time" || { cat "$OUT" "$OUT.time"; exit 1; }

FILE_ID="$(sed -n 's/^file_id=//p' "$OUT")"
SHA="$(sed -n 's/^sha256=//p' "$OUT")"
RECEIVED="$(curl -fsS "$BASE/_sandbox/received")"
VIA="$(printf '%s' "$RECEIVED" | python3 -c "import json,sys; d=[r for r in json.load(sys.stdin)['data'] if r['id']=='$FILE_ID']; print(d[0]['via'] if d else 'missing')")"
SERVER_SHA="$(printf '%s' "$RECEIVED" | python3 -c "import json,sys; d=[r for r in json.load(sys.stdin)['data'] if r['id']=='$FILE_ID']; print(d[0]['sha256'] if d else 'missing')")"
RSS_KB="$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$OUT.time")"
rm -f "$OUT.time"

echo "upload of ${MB} MB via ${VIA}: file ${FILE_ID}"
grep -E '^(seconds|throughput_mb_s)=' "$OUT"
echo "client_peak_rss_mb=$((RSS_KB / 1024))"
if [ "${SERVER_SHA#sha256:}" = "$SHA" ]; then
  echo "digest: server received exactly the bytes sent (sha256 $SHA)"
else
  echo "digest MISMATCH: client $SHA, server $SERVER_SHA"; exit 1
fi
