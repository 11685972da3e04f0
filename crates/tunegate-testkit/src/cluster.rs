//! Shared helpers for integration tests that need a real API server.
//!
//! One control plane per test binary (it takes 10-30 s to start), shared by its tests; each
//! test works in a namespace of its own. The processes die with the test binary even when it
//! panics or is killed (see `tunegate_testenv`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use tunegate_testenv::{Cluster, ClusterOptions, ControlPlane, Options};

/// Set by [`use_full_cluster`]: this test binary runs against the full cluster.
static FULL_MODE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes every helper of this crate (kubectl, namespace, the operator process) use the full
/// single-node cluster of this test binary instead of the fast apiserver-only one. Call it first
/// in each test of a full-mode test binary.
pub fn use_full_cluster() -> &'static Cluster {
    FULL_MODE.store(true, Ordering::SeqCst);
    full_cluster()
}

/// The operator image archive (hack/images/build-operator-image.sh: the Dockerfile's static
/// binary, a release build, slow the first time), built once per test binary.
/// `TUNEGATE_OPERATOR_IMAGE` names an archive built elsewhere instead (`docker save` of the
/// Dockerfile's image, tagged as [`operator_image_ref`]).
pub fn operator_image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        if let Some(p) = std::env::var_os("TUNEGATE_OPERATOR_IMAGE") {
            return PathBuf::from(p);
        }
        let out = Command::new(repo_root().join("hack/images/build-operator-image.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run hack/images/build-operator-image.sh");
        assert!(
            out.status.success(),
            "hack/images/build-operator-image.sh failed"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(stdout.lines().last().expect("the image path").trim())
    })
}

/// The image reference the operator image is imported as (the chart's default).
pub fn operator_image_ref() -> String {
    let chart = std::fs::read_to_string(repo_root().join("charts/tunegate/Chart.yaml"))
        .expect("Chart.yaml");
    let version = chart
        .lines()
        .find_map(|l| l.strip_prefix("appVersion: "))
        .expect("appVersion")
        .trim_matches('"');
    format!("tunegate/tunegate:{version}")
}

/// The full cluster of this test binary (control plane, controller-manager, scheduler,
/// containerd, kubelet), started on first use with the operator image imported.
pub fn full_cluster() -> &'static Cluster {
    static FULL: OnceLock<Result<Cluster, String>> = OnceLock::new();
    let c = FULL.get_or_init(|| {
        let options = ClusterOptions {
            images: vec![operator_image().to_owned()],
            ..ClusterOptions::default()
        };
        let c = Cluster::start(options).map_err(|e| e.to_string())?;
        let rss = c.rss();
        let mib = |k: Option<u64>| k.unwrap_or(0) / 1024;
        eprintln!(
            "full cluster: node Ready after {:.1} s (control plane {:.1} s); RSS MiB etcd {} kube-apiserver {} \
             kube-controller-manager {} kube-scheduler {} containerd {} kubelet {}",
            c.ready_after().as_secs_f64(),
            c.control_plane().ready_after().as_secs_f64(),
            mib(rss.etcd),
            mib(rss.kube_apiserver),
            mib(rss.kube_controller_manager),
            mib(rss.kube_scheduler),
            mib(rss.containerd),
            mib(rss.kubelet),
        );
        Ok(c)
    });
    match c {
        Ok(c) => c,
        Err(e) => panic!("full cluster did not start: {e}"),
    }
}

/// The control plane of this test binary, started on first use (the full cluster's after
/// [`use_full_cluster`]).
pub fn control_plane() -> &'static ControlPlane {
    if FULL_MODE.load(Ordering::SeqCst) {
        return full_cluster().control_plane();
    }
    static CP: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    let cp = CP.get_or_init(|| {
        let cp = ControlPlane::start(Options::default()).map_err(|e| e.to_string())?;
        let (etcd, apiserver) = cp.rss_kib();
        eprintln!(
            "control plane ready at {} after {:.1} s (RSS etcd {} KiB, kube-apiserver {} KiB)",
            cp.server(),
            cp.ready_after().as_secs_f64(),
            etcd.unwrap_or(0),
            apiserver.unwrap_or(0),
        );
        Ok(cp)
    });
    match cp {
        Ok(cp) => cp,
        Err(e) => panic!("local control plane did not start: {e}"),
    }
}

/// The repository root (for deploy/examples, hack/versions.env).
pub fn repo_root() -> &'static Path {
    crate::repo_root()
}

/// The result of one kubectl run.
#[derive(Debug)]
pub struct Kubectl {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Kubectl {
    /// Panics with kubectl's output unless it succeeded.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(
            self.success,
            "kubectl failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Panics unless kubectl failed with `needle` in its stderr.
    #[track_caller]
    pub fn fails_with(self, needle: &str) -> Self {
        assert!(
            !self.success,
            "kubectl unexpectedly succeeded (expected an error containing {needle:?}):\n{}",
            self.stdout
        );
        assert!(
            self.stderr.contains(needle),
            "kubectl error lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }
}

/// Runs kubectl against the shared control plane with its admin kubeconfig.
pub fn kubectl(args: &[&str]) -> Kubectl {
    kubectl_with_stdin(args, None)
}

/// Runs kubectl with `stdin` piped in (for `apply -f -`).
pub fn kubectl_stdin(args: &[&str], stdin: &str) -> Kubectl {
    kubectl_with_stdin(args, Some(stdin))
}

fn kubectl_with_stdin(args: &[&str], stdin: Option<&str>) -> Kubectl {
    let cp = control_plane();
    let mut cmd = Command::new("kubectl");
    cmd.args(args)
        .env("KUBECONFIG", cp.kubeconfig())
        // Discovery cache per control plane, never the user's ~/.kube.
        .env("KUBECACHEDIR", cp.dir().join("kubectl-cache"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot run kubectl (is it on PATH?): {e}"),
    };
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take())
        && let Err(e) = pipe.write_all(input.as_bytes())
    {
        panic!("cannot write kubectl's stdin: {e}");
    }
    let out: Output = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => panic!("kubectl did not finish: {e}"),
    };
    Kubectl {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Creates a fresh namespace named after `prefix` and returns its name.
pub fn namespace(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed));
    kubectl(&["create", "namespace", &name]).ok();
    name
}

/// A value from hack/versions.env (e.g. `K8S_VERSION`).
pub fn pinned_version(key: &str) -> String {
    let path: PathBuf = repo_root().join("hack/versions.env");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => panic!("cannot read {}: {e}", path.display()),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("{key} not set in {}", path.display()))
}
