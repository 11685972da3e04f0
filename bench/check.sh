#!/usr/bin/env bash
# Throughput of format validation + token counting (`tunegate check`) on a generated chat JSONL.
#
#   bench/check.sh [SIZE_MB]      (default 100)
#
# Generates a deterministic chat file (system/user/assistant turns, some tool calls, some
# non-ASCII text) under target/bench/, builds the release binary, runs `tunegate check --json`
# and prints MB/s and peak RSS; then runs examples/pipeline_bench.rs (the library pipeline with and
# without redaction) on one core and on all cores. Needs python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."

size_mb="${1:-100}"
dir=target/bench
mkdir -p "$dir"
file="$dir/check-chat-${size_mb}mb.jsonl"

if [[ ! -s "$file" ]]; then
  echo "generating $file (${size_mb} MB)"
  python3 - "$file" "$size_mb" <<'PY'
import json, random, sys
path, size_mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
words = ("invoice account refund shipping order delivery password reset billing cycle upgrade plan "
         "support ticket latency region cluster deploy rollback metrics dashboard alert quota "
         "données café naïve résumé Grüße straße 東京 注文 배송 заказ").split()
def sentence(n):
    return " ".join(rng.choice(words) for _ in range(n)).capitalize() + "."
target = size_mb * 1024 * 1024
written = 0
with open(path, "w", encoding="utf-8") as f:
    i = 0
    while written < target:
        msgs = [{"role": "system", "content": "You are a helpful support assistant for Acme."}]
        for _ in range(rng.randint(1, 3)):
            msgs.append({"role": "user", "content": " ".join(sentence(rng.randint(6, 20)) for _ in range(rng.randint(1, 4)))})
            if i % 7 == 0:
                msgs.append({"role": "assistant", "tool_calls": [{"id": f"call_{i}", "type": "function",
                    "function": {"name": "lookup_order", "arguments": json.dumps({"order_id": f"A-{i:08d}"})}}]})
                msgs.append({"role": "tool", "tool_call_id": f"call_{i}", "content": sentence(8)})
            msgs.append({"role": "assistant", "content": " ".join(sentence(rng.randint(8, 24)) for _ in range(rng.randint(1, 5)))})
        line = json.dumps({"messages": msgs}, ensure_ascii=False) + "\n"
        f.write(line)
        written += len(line.encode("utf-8"))
        i += 1
PY
fi

echo "building release binary"
cargo build --release --quiet --bin tunegate
bin=target/release/tunegate
bytes=$(stat -c %s "$file")

run() {
  local label="$1"; shift
  local pin=()
  if [[ "$label" == *"1 core"* ]] && command -v taskset >/dev/null; then pin=(taskset -c 0); fi
  local start end rss
  start=$(date +%s.%N)
  if command -v /usr/bin/time >/dev/null; then
    "${pin[@]}" /usr/bin/time -f '%M' -o "$dir/rss.txt" "$bin" check "$file" --json "$@" >"$dir/report.json" || [[ $? -eq 1 ]]
    rss="$(cat "$dir/rss.txt") KiB"
  else
    "${pin[@]}" "$bin" check "$file" --json "$@" >"$dir/report.json" || [[ $? -eq 1 ]]
    rss="n/a"
  fi
  end=$(date +%s.%N)
  python3 - "$bytes" "$start" "$end" "$label" "$rss" "$dir/report.json" <<'PY'
import json, sys
size, start, end, label, rss, report = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
r = json.load(open(report))
secs = end - start
print(f"{label}: {size/1e6:.1f} MB, {r['examples']} examples, {r['totalTokens']} tokens in {secs:.2f} s "
      f"= {size/1e6/secs:.1f} MB/s, {r['totalTokens']/secs/1e6:.2f} M tokens/s, peak RSS {rss}, valid={r['valid']}")
PY
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
run "check, 1 core (o200k_base, gpt-4o-mini)"
run "check, all cores (o200k_base, gpt-4o-mini)"
run "check, 1 core (cl100k_base, gpt-3.5-turbo)" --model gpt-3.5-turbo-0125

echo "library pipeline (examples/pipeline_bench.rs)"
cargo build --release --quiet -p tunegate-core --example pipeline_bench
if command -v taskset >/dev/null; then
  taskset -c 0 target/release/examples/pipeline_bench "$file" 1
fi
target/release/examples/pipeline_bench "$file"
