//! Nothing of a full single-node cluster outlives a test binary that is SIGKILLed while a pod
//! runs: no control-plane or node process, no containerd shim, no container; and what the
//! kernel cannot remove by itself (the node's bridge, the containers' cgroups, the temporary
//! directory) is removed by `tunegate_testenv::remove_stale`, which every cluster start runs.
//!
//! The check runs this same test binary again as a child, restricted to the ignored `probe`
//! test, which starts a full cluster, runs a pod, reports what it started and hangs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tunegate_testkit::cluster as support;
use tunegate_testkit::probe::{self, alive, pgrep};

const MODE_ENV: &str = "TUNEGATE_TEARDOWN_FULL_PROBE";

/// Started by the test below, never on its own (it does nothing without `MODE_ENV`).
#[test]
#[ignore = "helper process for the full-cluster teardown test"]
fn probe() {
    if std::env::var(MODE_ENV).is_err() {
        return;
    }
    let cluster = tunegate_testenv::Cluster::start(tunegate_testenv::ClusterOptions::default())
        .unwrap_or_else(|e| panic!("full cluster did not start: {e}"));
    let kubeconfig = cluster.kubeconfig().to_string_lossy().into_owned();
    let image = support::pinned_version("PAUSE_IMAGE");
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: sleeper, namespace: default}}\n\
         spec:\n  automountServiceAccountToken: false\n  containers:\n  \
         - {{name: c, image: \"{image}\", imagePullPolicy: Never}}\n"
    );
    let mut apply = Command::new("kubectl")
        .args(["--kubeconfig", &kubeconfig, "apply", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kubectl apply");
    if let Some(mut stdin) = apply.stdin.take() {
        std::io::Write::write_all(&mut stdin, pod.as_bytes()).expect("write the pod");
    }
    assert!(apply.wait().expect("kubectl apply").success());
    let ready = Command::new("kubectl")
        .args([
            "--kubeconfig",
            &kubeconfig,
            "wait",
            "--for=condition=Ready",
            "pod/sleeper",
            "--timeout=180s",
        ])
        .status()
        .expect("kubectl wait");
    assert!(ready.success(), "the pod did not become Ready");
    let (etcd, apiserver) = cluster.control_plane().pids();
    let mut pids = vec![etcd, apiserver];
    pids.extend(cluster.node_pids());
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    println!(
        "PROBE {} {} {}",
        cluster.network().bridge,
        cluster.control_plane().dir().display(),
        pids.join(",")
    );
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::thread::sleep(Duration::from_secs(900));
}

fn shims() -> Vec<String> {
    pgrep("containerd-shim")
}

fn container_cgroups() -> Vec<String> {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    hierarchies
        .flatten()
        .filter_map(|h| std::fs::read_dir(h.path().join("k8s.io")).ok())
        .flat_map(|d| d.flatten().filter(|e| e.path().is_dir()))
        .map(|e| e.path().display().to_string())
        .collect()
}

#[test]
fn a_sigkilled_full_cluster_leaves_nothing_behind() {
    let shims_before = shims();
    let probe::Probe { mut child, line } = probe::start(MODE_ENV, "hang", Duration::from_secs(420));
    let parts: Vec<&str> = line.trim().splitn(3, ' ').collect();
    assert_eq!(parts.len(), 3, "bad probe line {line:?}");
    let (bridge, dir) = (parts[0].to_owned(), parts[1].to_owned());
    let pids: Vec<u32> = parts[2]
        .split(',')
        .map(|p| p.parse().expect("pid"))
        .collect();
    assert!(pids.len() >= 4, "too few processes reported: {pids:?}");
    assert!(pids.iter().all(|&p| alive(p)), "the cluster is not running");
    let ours: Vec<String> = shims()
        .into_iter()
        .filter(|s| !shims_before.contains(s))
        .collect();
    assert!(!ours.is_empty(), "the probe's pod has no containerd shim");
    assert!(Path::new("/sys/class/net").join(&bridge).exists());

    child.kill().expect("SIGKILL the probe"); // Child::kill sends SIGKILL
    let _ = child.wait();

    // The kernel ends every process: the control plane by PDEATHSIG, the node's PID namespace
    // (containerd, kubelet, shims, containers) with its init.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        let by_dir = pgrep(&dir);
        let new_shims: Vec<String> = shims()
            .into_iter()
            .filter(|s| !shims_before.contains(s))
            .collect();
        if left.is_empty() && by_dir.is_empty() && new_shims.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "30 s after SIGKILL still running: pids {left:?}, by directory {by_dir:?}, shims {new_shims:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // What only a live process could remove: the next start's sweep removes it.
    let removed = tunegate_testenv::remove_stale();
    assert!(
        removed.contains(&bridge),
        "remove_stale did not remove {bridge} (removed {removed:?})"
    );
    assert!(!Path::new("/sys/class/net").join(&bridge).exists());
    assert!(!Path::new(&dir).exists(), "{dir} left behind");
    let cgroups = container_cgroups();
    assert!(cgroups.is_empty(), "container cgroups left: {cgroups:?}");
    let check = Command::new(support::repo_root().join("hack/check-no-leftovers.sh"))
        .output()
        .expect("run hack/check-no-leftovers.sh");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
