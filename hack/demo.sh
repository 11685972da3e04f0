#!/usr/bin/env bash
# The local demo: a control plane (etcd + kube-apiserver, no kubelet), openai-sandbox on
# 127.0.0.1:18080 (key sk-sandbox-demo-key, what deploy/examples/ points at), the operator as a
# process, and the examples applied. Prints progress until the FineTuneJob is Succeeded, then the
# resources and the ledger. Everything is stopped and removed on exit; KEEP=1 leaves it running.
#   hack/demo.sh            # JOB_SECONDS=8 by default
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
job_seconds="${JOB_SECONDS:-8}"
work="$(mktemp -d "${TMPDIR:-/tmp}/tunegate-demo.XXXXXX")"
cluster="$work/cluster"
ns=tunegate-demo

"$root/scripts/ensure-tools.sh"
echo "==> building tunegate, openai-sandbox and the control-plane launcher"
cargo build --quiet -p tunegate -p openai-sandbox --bins
cargo build --quiet -p tunegate-testenv --example controlplane
bin="$root/target/debug"

pids=()
cleanup() {
  local rc=$?
  if [[ "${KEEP:-0}" == 1 ]]; then
    echo "==> left running (KEEP=1): export KUBECONFIG=$cluster/kubeconfig; logs in $work"
    echo "    stop with: kill ${pids[*]:-}; $bin/examples/controlplane down --dir $cluster"
    exit "$rc"
  fi
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && wait "$p" 2>/dev/null || true; done
  "$bin/examples/controlplane" down --dir "$cluster" >/dev/null 2>&1 || true
  if [[ "$rc" != 0 ]]; then
    echo "==> demo failed (exit $rc); operator log tail:" >&2
    tail -n 30 "$work/operator.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT INT TERM

echo "==> starting the local control plane"
"$bin/examples/controlplane" up --dir "$cluster" >/dev/null
eval "$("$bin/examples/controlplane" env --dir "$cluster")"
export KUBECACHEDIR="$work/kubectl-cache"

echo "==> starting openai-sandbox on 127.0.0.1:18080 (jobs take ${job_seconds}s)"
"$bin/openai-sandbox" --listen 127.0.0.1:18080 --api-key sk-sandbox-demo-key \
  --job-seconds "$job_seconds" >"$work/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -fs http://127.0.0.1:18080/_sandbox/state >/dev/null && break; sleep 0.1; done

# INSECURE on purpose: the sandbox is plain http on loopback, so the operator runs with
# --allow-insecure-endpoints and an allow-list of exactly the sandbox's address. A real install
# keeps the default (https, the providers' public endpoints only).
echo "==> starting the operator (tunegate run --allow-insecure-endpoints, for the loopback sandbox)"
"$bin/tunegate" run --metrics-addr 127.0.0.1:18081 --poll-seconds 1 \
  --lease-namespace default --operator-namespace tunegate-system \
  --allow-insecure-endpoints --allowed-endpoint 127.0.0.1:18080 >"$work/operator.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18081/readyz >/dev/null && break; sleep 0.1; done

echo "==> kubectl apply -f deploy/examples/"
kubectl apply -f deploy/examples/00-namespace.yaml >/dev/null
kubectl apply -f deploy/examples/

echo "==> waiting for FineTuneJob support-bot"
last=""
for _ in $(seq 1 600); do
  line="$(kubectl -n "$ns" get ftj support-bot -o json 2>/dev/null | jq -r '
    [(.status.conditions // [] | map(select(.type=="Ready"))[0] | "\(.status // "-")/\(.reason // "-")"),
     (.status.remote.status // "-"),
     (.status.remote.fineTunedModel // "-")] | @tsv' || true)"
  if [[ -n "$line" && "$line" != "$last" ]]; then
    printf '    %s  Ready=%s  provider=%s  model=%s\n' "$(date +%T)" $line
    last="$line"
  fi
  succeeded="$(kubectl -n "$ns" get ftj support-bot \
    -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].status}' 2>/dev/null || true)"
  ready="$(kubectl -n "$ns" get ftj support-bot \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)"
  if [[ "$succeeded" == True && "$ready" == True ]]; then
    printf '    %s  Succeeded\n' "$(date +%T)"
    break
  fi
  if [[ "$succeeded" == False ]]; then echo "the job failed" >&2; exit 1; fi
  sleep 0.5
done
[[ "$succeeded" == True ]] || { echo "timed out waiting for Succeeded" >&2; exit 1; }

echo
echo "==> kubectl get clusterproviderconfig; kubectl get tds,ftj -n $ns -o wide"
kubectl get clusterproviderconfig -o wide
kubectl -n "$ns" get tds,ftj -o wide
echo
echo "==> what redaction found in support-chats (counts only; the values never leave the cluster)"
kubectl -n "$ns" get tds support-chats -o json |
  jq -r '.status.findings // {} | to_entries[] | "    \(.key)\t\(.value)"'

echo "==> ledger of support-bot (every remote object and its fate)"
kubectl -n "$ns" get ftj support-bot -o json |
  jq -r '.status.ledger[] | "    \(.kind)\t\(.id)\t\(.state)"'
echo
echo "==> output ConfigMap support-bot-model"
kubectl -n "$ns" get configmap support-bot-model -o json | jq -r '.data | to_entries[] | "    \(.key)=\(.value)"'
echo
echo "==> what the sandbox holds now (uploaded files: 0, deleted as soon as the job finished)"
curl -fs http://127.0.0.1:18080/_sandbox/state | jq -r '
  "    uploaded files: \(.counts.client_files)   provider result files: \(.counts.files - .counts.client_files)   jobs: \(.counts.jobs)   models: \(.counts.models)"'
