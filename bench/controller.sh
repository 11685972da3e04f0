#!/usr/bin/env bash
# Scale benchmark of the operator: DATASETS TrainingDatasets (default 100) and JOBS FineTuneJobs
# (default 1000) against openai-sandbox with short jobs, on the local control plane.
# Prints: time until every job is Succeeded, the operator's peak RSS, API writes per job
# lifecycle (from kube-apiserver's request counters, minus the benchmark's own applies; lease
# renewals excluded), and the writes made while idle afterwards.
#   bench/controller.sh                 # release build
#   PROFILE=debug JOBS=200 bench/controller.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
datasets="${DATASETS:-100}"
jobs="${JOBS:-1000}"
job_seconds="${JOB_SECONDS:-5}"
idle_seconds="${IDLE_SECONDS:-30}"
profile="${PROFILE:-release}"
concurrency="${CONCURRENCY:-32}"
work="$(mktemp -d "${TMPDIR:-/tmp}/tunegate-bench.XXXXXX")"
cluster="$work/cluster"
ns=bench

if [[ "$profile" == release ]]; then
  cargo build --quiet --release -p tunegate -p openai-sandbox -p tunegate-testenv --bins --example controlplane
  bin="${CARGO_TARGET_DIR:-$root/target}/release"
else
  cargo build --quiet -p tunegate -p openai-sandbox -p tunegate-testenv --bins --example controlplane
  bin="${CARGO_TARGET_DIR:-$root/target}/debug"
fi

pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && wait "$p" 2>/dev/null || true; done
  "$bin/examples/controlplane" down --dir "$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$bin/examples/controlplane" up --dir "$cluster" >/dev/null
eval "$("$bin/examples/controlplane" env --dir "$cluster")"
export KUBECACHEDIR="$work/kubectl-cache"

"$bin/openai-sandbox" --listen 127.0.0.1:0 --api-key sk-bench --job-seconds "$job_seconds" \
  >"$work/sandbox.out" 2>"$work/sandbox.log" &
pids+=($!)
for _ in $(seq 1 100); do grep -q listening "$work/sandbox.out" 2>/dev/null && break; sleep 0.1; done
sandbox="$(awk '{print $NF}' "$work/sandbox.out" | head -1)"

# Writes per resource (verb POST/PUT/PATCH/DELETE/APPLY), leases excluded.
writes() {
  kubectl get --raw /metrics | awk '
    /^apiserver_request_total\{/ {
      if ($0 !~ /verb="(POST|PUT|PATCH|DELETE|APPLY)"/) next
      if ($0 ~ /resource="leases"/) next
      match($0, /resource="[^"]*"/); r = substr($0, RSTART + 10, RLENGTH - 11)
      n[r] += $NF; t += $NF
    }
    END { for (r in n) printf "%s=%d ", r, n[r]; printf "total=%d\n", t }'
}
total() { writes | sed 's/.*total=//'; }
events() { writes | tr ' ' '\n' | sed -n 's/^events=//p' | grep . || echo 0; }

echo "==> generating $datasets datasets and $jobs FineTuneJobs"
{
  echo "apiVersion: v1"; echo "kind: Namespace"; echo "metadata: {name: $ns}"
  echo "---"
  echo "apiVersion: v1"; echo "kind: Secret"
  echo "metadata: {name: creds, namespace: $ns, labels: {tunegate.dev/credentials: \"true\"}}"
  echo "stringData: {apiKey: sk-bench}"
  echo "---"
  echo "apiVersion: tunegate.dev/v1alpha1"; echo "kind: ProviderConfig"
  echo "metadata: {name: sandbox, namespace: $ns}"
  echo "spec: {endpoint: $sandbox/v1, credentials: {secretRef: {name: creds, key: apiKey}}}"
  for d in $(seq 1 "$datasets"); do
    echo "---"
    echo "apiVersion: v1"; echo "kind: Secret"
    echo "metadata: {name: data-$d, namespace: $ns, labels: {tunegate.dev/training-data: \"true\"}}"
    echo "stringData:"; echo "  train.jsonl: |"
    for i in $(seq 1 12); do
      echo "    {\"messages\":[{\"role\":\"user\",\"content\":\"dataset $d question $i, mail me at user$i@example.com\"},{\"role\":\"assistant\",\"content\":\"answer $i\"}]}"
    done
    echo "---"
    echo "apiVersion: tunegate.dev/v1alpha1"; echo "kind: TrainingDataset"
    echo "metadata: {name: ds-$d, namespace: $ns}"
    echo "spec: {format: Chat, sources: [{secret: {name: data-$d, key: train.jsonl}}]}"
  done
  for j in $(seq 1 "$jobs"); do
    d=$(( (j - 1) % datasets + 1 ))
    echo "---"
    echo "apiVersion: tunegate.dev/v1alpha1"; echo "kind: FineTuneJob"
    echo "metadata: {name: job-$j, namespace: $ns}"
    echo "spec:"
    echo "  trainingDatasetRef: {name: ds-$d}"
    echo "  providerRef: {kind: ProviderConfig, name: sandbox}"
    echo "  model: gpt-4o-mini-2024-07-18"
    echo "  output: {configMapName: job-$j-model}"
  done
} >"$work/bench.yaml"
objects=$(( 3 + 2 * datasets + jobs ))

# --allow-insecure-endpoints: the sandbox is plain http on loopback (benchmark only).
"$bin/tunegate" run --metrics-addr 127.0.0.1:0 --poll-seconds 2 --concurrency "$concurrency" \
  --lease-namespace default --log-format json --operator-namespace default \
  --allow-insecure-endpoints --allowed-endpoint "${sandbox#http://}" >"$work/operator.log" 2>&1 &
op=$!
pids+=($op)
sleep 2

before="$(total)"
events_before="$(events)"
start=$(date +%s.%N)
echo "==> kubectl apply --server-side ($objects objects)"
kubectl apply --server-side -f "$work/bench.yaml" >/dev/null
echo "==> waiting until every FineTuneJob is Succeeded"
while :; do
  # One list per round (1000 objects); a busy apiserver may time out: then just try again.
  if ! kubectl -n "$ns" get ftj -o json --request-timeout=120s >"$work/ftj.json" 2>/dev/null; then
    sleep 5; continue
  fi
  done_count="$(jq '[.items[] | select(.status.conditions // [] | any(.type=="Ready" and .status=="True"))] | length' "$work/ftj.json")"
  failed="$(jq '[.items[] | select(.status.conditions // [] | any(.type=="Succeeded" and .status=="False"))] | length' "$work/ftj.json")"
  now=$(date +%s.%N)
  printf '    %6.1fs  %4d/%d succeeded, %d failed, operator RSS %s\n' "$(echo "$now - $start" | bc)" \
    "$done_count" "$jobs" "$failed" "$(awk '/VmRSS/{print $2" "$3}' /proc/$op/status)"
  [[ "$done_count" -ge "$jobs" ]] && break
  [[ "$failed" -gt 0 ]] && { echo "some jobs failed" >&2; exit 1; }
  kill -0 "$op" 2>/dev/null || { echo "operator died" >&2; tail -20 "$work/operator.log" >&2; exit 1; }
  sleep 10
done
end=$(date +%s.%N)
sleep 3
after="$(total)"
events_after="$(events)"
by_resource="$(writes)"
sleep "$idle_seconds"
idle_after="$(total)"
peak="$(awk '/VmHWM/{print $2}' /proc/$op/status)"
leftover="$(curl -fs "$sandbox/_sandbox/state" | jq '.counts.client_files')"

operator_writes=$(( after - before - objects ))
event_writes=$(( events_after - events_before ))
object_writes=$(( operator_writes - event_writes ))
echo
echo "datasets:                 $datasets"
echo "fine-tune jobs:           $jobs (sandbox --job-seconds $job_seconds, operator --concurrency $concurrency, $profile build)"
printf 'time until all Succeeded: %.1f s\n' "$(echo "$end - $start" | bc)"
echo "operator peak RSS:        $(( peak / 1024 )) MiB"
echo "operator API writes:      $operator_writes (apply of $objects objects excluded; leases excluded)"
printf 'writes per job lifecycle: %.2f, of which Events %.2f (one per provider event) and object/status writes %.2f (dataset writes amortised over the jobs)\n' \
  "$(echo "$operator_writes / $jobs" | bc -l)" "$(echo "$event_writes / $jobs" | bc -l)" "$(echo "$object_writes / $jobs" | bc -l)"
echo "writes while idle ${idle_seconds}s:   $(( idle_after - after ))"
echo "uploaded files left at the sandbox: $leftover"
echo "writes by resource (cumulative, incl. the apply): $by_resource"
