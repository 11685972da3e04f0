#!/usr/bin/env bash
# Fails if any etcd or kube-apiserver started by tunegate's test support is still running
# (they run with data in ${TMPDIR:-/tmp}/tunegate-cp-*). Meant for the end of a test run; a dev
# cluster from hack/controlplane.sh lives elsewhere and is not counted.
set -euo pipefail
tmp="${TMPDIR:-/tmp}"
tmp="${tmp%/}"
if left="$(pgrep -a -f -- "--data-dir=${tmp}/tunegate-cp-|--etcd-servers=.*--tls-cert-file=${tmp}/tunegate-cp-")"; then
  echo "check-no-leftovers: control-plane processes still running:" >&2
  echo "$left" >&2
  exit 1
fi
echo "check-no-leftovers: no etcd or kube-apiserver left behind"
