#!/usr/bin/env bash
# Benchmark of `tunegate redact` (Mask, every detector) against Presidio and scrubadub.
#
#   bench/redact.sh                      # 100+ MB ASCII, non-ASCII, dense and prompted (dense after one
#                                        # system prompt) chat JSONL, plus a 2 MB slice
#                                        # through Presidio and scrubadub, with ratios
#   REDACT_BENCH_RSS_GB=1 bench/redact.sh  # also: peak RSS while redacting a 1 GB stream
#
# Env: REDACT_BENCH_BYTES (default 110 MiB), REDACT_BENCH_SLICE (default 2 MiB),
#      REDACT_BENCH_SKIP_PY=1 (skip the Python tools), REDACT_BENCH_RUNS (default 3, best run kept).
# Inputs are generated deterministically into bench/out/ (gitignored); the Python tools are
# installed into bench/.venv (gitignored) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

BYTES=${REDACT_BENCH_BYTES:-$((110 * 1024 * 1024))}
SLICE=${REDACT_BENCH_SLICE:-$((2 * 1024 * 1024))}
RUNS=${REDACT_BENCH_RUNS:-3}
OUT=bench/out
mkdir -p "$OUT"

if [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (apt)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq time >/dev/null; else sudo apt-get install -y -qq time >/dev/null; fi
fi

cargo build -q --release -p tunegate --bin tunegate && cargo build -q --release -p tunegate-core --example redact_bench_gen
BIN=target/release/tunegate
GEN=target/release/examples/redact_bench_gen

gen() { # file kind
  local f="$OUT/$1.jsonl"
  if [ ! -s "$f" ] || [ "$(stat -c %s "$f")" -lt "$BYTES" ] || [ ! -s "$f.ok" ] || [ "$(cat "$f.ok")" != "$BYTES" ]; then
    "$GEN" "$BYTES" "$2" > "$f" 2>/dev/null
    echo "$BYTES" > "$f.ok"
  fi
}
gen chat_ascii ascii
gen chat_nonascii nonascii
gen chat_dense dense
gen chat_prompted prompted

# best-of-N wall time, CPU time and peak RSS of one redact run
measure() { # file -> prints "wall_s cpu_s rss_kb"
  local best="" line
  # best = lowest CPU time
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S %M" -o "$OUT/time.txt" "$BIN" redact "$1" > /dev/null
    t1=$(date +%s.%N)
    line=$(awk -v a="$t0" -v b="$t1" '{printf "%.3f %.3f %d", b - a, $1 + $2, $3}' "$OUT/time.txt")
    if [ -z "$best" ] || awk -v x="$line" -v y="$best" 'BEGIN{split(x,p," ");split(y,q," ");exit !(p[2]<q[2])}'; then
      best=$line
    fi
  done
  echo "$best"
}

mbps() { awk -v b="$1" -v s="$2" 'BEGIN{printf "%.1f", b / s / 1e6}'; }

echo "== tunegate redact (Mask, all detectors, every core) =="
# The machine may be shared: MB per CPU second (user + sys, summed over threads) is the per-core
# rate; MB per wall second shows what every core together gives. Both include start-up.
declare -A RATE
for f in chat_ascii chat_nonascii chat_dense chat_prompted; do
  size=$(stat -c %s "$OUT/$f.jsonl")
  read -r wall cpu rss < <(measure "$OUT/$f.jsonl")
  RATE[$f]=$(mbps "$size" "$cpu")
  printf "%-14s %7.1f MB  %7s MB/s (cpu %5.2f s)  %7s MB/s (wall %5.2f s)  peak RSS %5.1f MB\n" \
    "$f" "$(awk -v b="$size" 'BEGIN{print b/1e6}')" "${RATE[$f]}" "$cpu" "$(mbps "$size" "$wall")" "$wall" \
    "$(awk -v k="$rss" 'BEGIN{print k/1024}')"
done
awk -v a="${RATE[chat_ascii]}" -v n="${RATE[chat_nonascii]}" 'BEGIN{printf "non-ASCII / ASCII speed (cpu): %.2f  (target >= 0.8; ASCII target >= 150 MB/s)\n", n / a}'

if [ "${REDACT_BENCH_RSS_GB:-}" != "" ]; then
  gb=$REDACT_BENCH_RSS_GB
  echo "== peak RSS on a ${gb} GB stream (generated on the fly, piped through stdin) =="
  t0=$(date +%s.%N)
  "$GEN" $((gb * 1024 * 1024 * 1024)) ascii 2>/dev/null | /usr/bin/time -f "%M" -o "$OUT/rss.txt" "$BIN" redact - > /dev/null
  t1=$(date +%s.%N)
  awk -v k="$(cat "$OUT/rss.txt")" -v a="$t0" -v b="$t1" -v g="$gb" \
    'BEGIN{printf "1 GB x %d: peak RSS %.1f MB (target <= 64 MB), %.1f s incl. generation\n", g, k/1024, b-a}'
fi

if [ "${REDACT_BENCH_SKIP_PY:-}" = "1" ]; then exit 0; fi

VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import presidio_analyzer, presidio_anonymizer, scrubadub" 2>/dev/null; then
  echo "installing presidio-analyzer, presidio-anonymizer, scrubadub into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check presidio-analyzer presidio-anonymizer scrubadub
fi

echo "== same ${SLICE}-byte slice of chat_ascii: tunegate vs Presidio vs scrubadub =="
# the first SLICE bytes, cut back to a whole line
python3 - "$OUT/chat_ascii.jsonl" "$OUT/slice.jsonl" "$SLICE" <<'PY'
import sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "rb") as f:
    b = f.read(n)
open(dst, "wb").write(b[: b.rfind(b"\n") + 1])
PY
slice_size=$(stat -c %s "$OUT/slice.jsonl")
read -r _ cpu _ < <(RUNS=5 measure "$OUT/slice.jsonl")
tg=$(mbps "$slice_size" "$cpu")
echo "tunegate   $tg MB/s on the slice (cpu; includes start-up and the ~0.13 s tokenizer load)"
"$VENV/bin/python" bench/compare.py "$OUT/slice.jsonl" "$slice_size" | while read -r name size secs rate; do
  if [ "$size" = "error" ]; then echo "$name failed"; continue; fi
  printf "%-10s %s MB/s  (%.2f s)  -> tunegate is %sx faster (slice) / %sx (full ASCII run)\n" "$name" "$rate" "$secs" \
    "$(awk -v a="$tg" -v b="$rate" 'BEGIN{printf "%.0f", a / b}')" \
    "$(awk -v a="${RATE[chat_ascii]}" -v b="$rate" 'BEGIN{printf "%.0f", a / b}')"
done
