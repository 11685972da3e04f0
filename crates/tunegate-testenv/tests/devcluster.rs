//! The detached dev cluster behind `hack/controlplane.sh`: `up` leaves etcd and kube-apiserver
//! running after the call returns, a second `up` reuses them, `down` stops them and removes
//! the state directory.

use std::time::{Duration, Instant};

use tunegate_testenv::{DevCluster, DevStatus, Options};

/// Stops the detached processes even if an assertion fails (they do not die with this process).
struct Down<'a>(&'a DevCluster);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.down() {
            eprintln!("dev cluster cleanup failed: {e}");
        }
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn up_env_down() {
    let parent = tempfile::tempdir().expect("temporary directory");
    let cluster = DevCluster::new(parent.path().join("dev-cluster"));
    let _down = Down(&cluster);
    assert!(matches!(cluster.status(), Ok(DevStatus::Stopped)));

    let report = cluster.up(Options::default()).expect("dev cluster starts");
    assert!(report.started);
    let DevStatus::Running {
        etcd_pid,
        apiserver_pid,
        kubeconfig,
        ..
    } = report.status
    else {
        panic!("not running after up");
    };
    assert_eq!(kubeconfig, cluster.kubeconfig());
    // Detached: each leads a session of its own, so a shell's Ctrl-C or exit does not reach it.
    for pid in [etcd_pid, apiserver_pid] {
        let sid = unsafe { libc::getsid(pid as libc::pid_t) };
        assert_eq!(sid, pid as libc::pid_t, "pid {pid} is not a session leader");
    }

    let out = std::process::Command::new("kubectl")
        .args(["get", "crd", "finetunejobs.tunegate.dev", "-o", "name"])
        .env("KUBECONFIG", &kubeconfig)
        .env("KUBECACHEDIR", parent.path().join("kubectl-cache"))
        .output()
        .expect("run kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let again = cluster.up(Options::default()).expect("second up");
    assert!(!again.started, "second up started another control plane");

    assert!(cluster.down().expect("down"));
    let deadline = Instant::now() + Duration::from_secs(15);
    while alive(etcd_pid) || alive(apiserver_pid) {
        assert!(
            Instant::now() < deadline,
            "processes still running after down"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!cluster.dir().exists(), "state directory not removed");
    assert!(!cluster.down().expect("second down"));
}
