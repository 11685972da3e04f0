#!/usr/bin/env bash
# The local demo: a single-node cluster (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, containerd and a kubelet: tunegate-testenv's full mode, the `cluster` example),
# the operator installed from charts/tunegate with helm and running as a pod of the operator image
# (hack/images/build-operator-image.sh), openai-sandbox on the node address port 18080 (key
# sk-sandbox-demo-key), and the examples applied. Prints progress until the FineTuneJob is Succeeded, then the
# resources and the ledger. Everything is stopped and removed on exit; KEEP=1 leaves it running.
#   hack/demo.sh                    # JOB_SECONDS=8 by default
#   PROVIDER=azure hack/demo.sh     # the sandbox's Azure OpenAI flavour (async file import)
#   PROVIDER=bedrock hack/demo.sh   # Amazon Bedrock emulated by moto (PyPI, pinned like the tests)
#                                   # on the node address port 18081: a bucket, a Bedrock
#                                   # ClusterProviderConfig, and the job on amazon.nova-micro
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
job_seconds="${JOB_SECONDS:-8}"
provider="${PROVIDER:-openai}"
case "$provider" in
  openai|azure|bedrock) ;;
  *) echo "PROVIDER must be openai, azure or bedrock (got $provider)" >&2; exit 2 ;;
esac
work="$(mktemp -d "${TMPDIR:-/tmp}/tunegate-demo.XXXXXX")"
ns=tunegate-demo

"$root/scripts/ensure-tools.sh"
echo "==> building tunegate, openai-sandbox and the cluster launcher"
cargo build --quiet -p tunegate -p openai-sandbox --bins
cargo build --quiet -p tunegate-testenv --example cluster
bin="$root/target/debug"
echo "==> the operator image (static release build the first time: slow) and helm"
image="$(hack/images/build-operator-image.sh | tail -n 1)"
helm="$(hack/build-helm.sh | tail -n 1)"

pids=()
cleanup() {
  local rc=$?
  if [[ "${KEEP:-0}" == 1 ]]; then
    echo "==> left running (KEEP=1): export KUBECONFIG=$KUBECONFIG; logs in $work"
    echo "    stop with: kill ${pids[*]:-}   (the cluster process removes everything it started)"
    exit "$rc"
  fi
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  if [[ "$rc" != 0 ]]; then
    echo "==> demo failed (exit $rc); operator pod log tail:" >&2
    kubectl -n tunegate-system logs deploy/tunegate --tail=30 >&2 || true
    tail -n 20 "$work/cluster.err" >&2 || true
  fi
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT INT TERM

echo "==> starting the local cluster (control plane, controllers, containerd, kubelet)"
"$bin/examples/cluster" --hold --image "$image" >"$work/cluster.out" 2>"$work/cluster.err" &
pids+=($!)
for _ in $(seq 1 600); do grep -q '^NODE_IP=' "$work/cluster.out" 2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/cluster.err" >&2; exit 1; }; sleep 0.5; done
grep -q '^NODE_IP=' "$work/cluster.out" || { echo "the cluster did not come up" >&2; exit 1; }
eval "$(grep '^export KUBECONFIG=' "$work/cluster.out")"
node_ip="$(sed -n 's/^NODE_IP=//p' "$work/cluster.out")"
sed -n 's/^/    /p' "$work/cluster.err" | grep -E 'Ready|RSS' || true
export KUBECACHEDIR="$work/kubectl-cache"
kubectl get nodes -o wide

# Pods reach the host only through the node address (the cluster's bridge), not 127.0.0.1.
sandbox="http://$node_ip:18080"
echo "==> starting openai-sandbox on $sandbox (jobs take ${job_seconds}s)"
"$bin/openai-sandbox" --listen "$node_ip:18080" --api-key sk-sandbox-demo-key \
  --job-seconds "$job_seconds" --azure-file-seconds 3 >"$work/sandbox.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -fs "$sandbox/_sandbox/state" >/dev/null && break; sleep 0.1; done
allowed="$node_ip:18080"
bucket=tunegate-demo
if [[ "$provider" == bedrock ]]; then
  # moto in server mode, the same pinned release and launcher as the tests
  # (crates/tunegate-testkit/moto/launch.py: RFC 3339 timestamps, output model names, and
  # --complete-after, because moto never finishes a customization job by itself).
  moto_version="$(sed -n 's/^pub const MOTO_VERSION: &str = "\(.*\)";/\1/p' crates/tunegate-testkit/src/moto.rs)"
  venv="$root/target/moto-venv"
  if ! "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$moto_version')" 2>/dev/null; then
    echo "==> installing moto $moto_version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "moto[server]==$moto_version"
  fi
  moto="http://$node_ip:18081"
  echo "==> starting moto (S3 and Bedrock) on $moto (jobs complete after ${job_seconds}s)"
  "$venv/bin/python" crates/tunegate-testkit/moto/launch.py --host "$node_ip" --port 18081 \
    --complete-after "$job_seconds" >"$work/moto.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -fs "$moto/moto-api/data.json" >/dev/null && break; sleep 0.1; done
  curl -fsS -X PUT "$moto/$bucket" -o /dev/null
  echo "    bucket s3://$bucket created"
  allowed="$node_ip:18081"
fi

# INSECURE on purpose: the sandbox is plain http on this machine, so the operator runs with
# --allow-insecure-endpoints and an allow-list of exactly the sandbox's address. A real install
# keeps the chart's default (https, the providers' public endpoints only).
echo "==> helm install tunegate charts/tunegate -n tunegate-system --wait (insecure endpoints allowed: $allowed only)"
HELM_CACHE_HOME="$work/helm" HELM_CONFIG_HOME="$work/helm" HELM_DATA_HOME="$work/helm" \
  "$helm" install tunegate charts/tunegate -n tunegate-system --create-namespace --wait --timeout 5m \
  --set fullnameOverride=tunegate \
  --set providerEndpoints.allowInsecure=true \
  --set "providerEndpoints.allowed={$allowed}" >/dev/null
echo "==> kubectl get pods -n tunegate-system"
kubectl get pods -n tunegate-system -o wide

echo "==> kubectl apply -f deploy/examples/ (provider endpoint 127.0.0.1:18080 -> $node_ip:18080 for the pod)"
kubectl apply -f deploy/examples/00-namespace.yaml >/dev/null
node_addr() { sed "s#127.0.0.1:18080#$node_ip:18080#g" "$1"; }
if [[ "$provider" == azure ]]; then
  # The same job against the Azure flavour: resource endpoint plus a dated api-version.
  # The same job through an Azure OpenAI config: resource endpoint plus a dated api-version.
  for f in deploy/examples/*.yaml; do
    [[ "$f" == */35-clusterproviderconfig.yaml ]] && continue
    node_addr "$f"; echo "---"
  done | kubectl apply -f -
  node_addr deploy/examples/35-clusterproviderconfig.yaml | sed -e 's|type: OpenAI|type: AzureOpenAI|' \
      -e "s|endpoint: http://$node_ip:18080/v1|endpoint: http://$node_ip:18080\n  apiVersion: \"2024-10-21\"|" \
    | kubectl apply -f -
elif [[ "$provider" == bedrock ]]; then
  # The same dataset and job through a Bedrock ClusterProviderConfig: the customer's bucket, a
  # service role, and an AWS credentials file in the operator's namespace (moto takes any key).
  for f in deploy/examples/*.yaml; do
    case "$f" in */30-openai-credentials.yaml|*/35-clusterproviderconfig.yaml|*/40-finetunejob.yaml) continue ;; esac
    cat "$f"; echo "---"
  done | kubectl apply -f -
  kubectl apply -f - <<YAML
apiVersion: v1
kind: Secret
metadata: {name: aws, namespace: tunegate-system}
stringData:
  credentials: |
    [default]
    aws_access_key_id = testing
    aws_secret_access_key = testing
---
apiVersion: tunegate.dev/v1alpha1
kind: ClusterProviderConfig
metadata: {name: bedrock}
spec:
  type: Bedrock
  # INSECURE on purpose: moto over plain http on the node address. Omit endpoint at AWS.
  endpoint: $moto
  credentials: {secretRef: {name: aws, key: credentials}}
  bedrock:
    region: us-east-1
    s3: {bucket: $bucket, prefix: demo/}
    roleArn: arn:aws:iam::123456789012:role/bedrock-customization
  namespaceSelector: {matchLabels: {tunegate.dev/tenant: "true"}}
  allowedModels: ["amazon.nova-*"]
YAML
  # The example job, on a Bedrock base model: Bedrock has no seed or suffix (refused otherwise).
  sed -e 's|name: openai}|name: bedrock}|' -e 's|model: gpt-4o-mini-2024-07-18|model: amazon.nova-micro-v1:0:128k|' \
      -e 's|hyperparameters: {nEpochs: 3, batchSize: auto, learningRateMultiplier: auto}|hyperparameters: {nEpochs: 3}|' \
      -e '/^  suffix:/d' -e '/^  seed:/d' deploy/examples/40-finetunejob.yaml | kubectl apply -f -
else
  for f in deploy/examples/*.yaml; do node_addr "$f"; echo "---"; done | kubectl apply -f -
fi

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
if [[ "$provider" == bedrock ]]; then
  echo "==> what the bucket holds now (0 objects: training data and job output deleted when the job finished)"
  listing="$(curl -fsS "$moto/$bucket?list-type=2")"
  left="$(grep -o '<Key>[^<]*</Key>' <<<"$listing" | wc -l || true)"
  echo "    objects in s3://$bucket: $left"
  [[ "$left" == 0 ]] || { echo "objects left in the bucket" >&2; exit 1; }
else
  echo "==> what the sandbox holds now (uploaded files: 0, deleted as soon as the job finished)"
  curl -fs "$sandbox/_sandbox/state" | jq -r '
    "    uploaded files: \(.counts.client_files)   provider result files: \(.counts.files - .counts.client_files)   jobs: \(.counts.jobs)   models: \(.counts.models)"'
fi
