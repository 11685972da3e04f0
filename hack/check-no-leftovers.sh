#!/usr/bin/env bash
# Fails if anything started by tunegate's test support is still running or left on the machine:
# etcd and kube-apiserver (data in ${TMPDIR:-/tmp}/tunegate-cp-*), and for the full cluster the
# controller-manager, scheduler, containerd, its shims, the kubelet, containers, the node's
# network bridges (tgbr*), pod cgroups (/sys/fs/cgroup/*/k8s.io/*) and KUBE-* iptables chains.
# Meant for the end of a test run; a dev cluster from hack/controlplane.sh lives elsewhere and is
# not counted.
set -euo pipefail
tmp="${TMPDIR:-/tmp}"
tmp="${tmp%/}"
fail=0
pattern="--data-dir=${tmp}/tunegate-cp-|--etcd-servers=.*--tls-cert-file=${tmp}/tunegate-cp-"
pattern+="|--kubeconfig=${tmp}/tunegate-cp-|--config ${tmp}/tunegate-cp-|--config=${tmp}/tunegate-cp-"
pattern+="|-address ${tmp}/tunegate-cp-"
if left="$(pgrep -a -f -- "$pattern")"; then
  echo "check-no-leftovers: test cluster processes still running:" >&2
  echo "$left" >&2
  fail=1
fi
# Containers: any process whose parent is a containerd shim of ours is caught above through the
# shim; a container whose shim died would be reparented, so look for its cgroup as well.
if compgen -G "/sys/fs/cgroup/*/k8s.io/*/" >/dev/null; then
  echo "check-no-leftovers: container cgroups left:" >&2
  ls -d /sys/fs/cgroup/*/k8s.io/*/ >&2
  fail=1
fi
if bridges="$(ip -o link show type bridge 2>/dev/null | awk -F': ' '$2 ~ /^tgbr[0-9]+/ {print $2}')" && [[ -n "$bridges" ]]; then
  echo "check-no-leftovers: full-cluster bridges left: $bridges" >&2
  fail=1
fi
if command -v iptables-save >/dev/null 2>&1 && iptables-save 2>/dev/null | grep -q '^:KUBE-'; then
  echo "check-no-leftovers: KUBE-* iptables chains present (the kubelet must run with makeIPTablesUtilChains: false)" >&2
  fail=1
fi
[[ $fail -eq 0 ]] || exit 1
echo "check-no-leftovers: no test cluster process, container, bridge or cgroup left behind"
