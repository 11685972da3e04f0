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

use tunegate_testenv::{ControlPlane, Options};

/// The control plane of this test binary, started on first use.
pub fn control_plane() -> &'static ControlPlane {
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
