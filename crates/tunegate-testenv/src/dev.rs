//! A detached control plane for a person at a shell (`hack/controlplane.sh up|down|env`):
//! the processes run in their own sessions and outlive the command that started them; their
//! pids are recorded in a state directory so that `down` can stop them later.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{self, Lifetime};
use super::{ControlPlane, Error, Options};

const STATE_FILE: &str = "state.json";
/// Present in every directory this module manages, so `down` never deletes anything else.
const MARKER: &str = ".tunegate-dev-cluster";

/// A dev cluster's state directory.
#[derive(Debug, Clone)]
pub struct DevCluster {
    dir: PathBuf,
}

/// What `status` or `up` found.
#[derive(Debug, Clone)]
pub enum DevStatus {
    Running {
        server: String,
        kubeconfig: PathBuf,
        etcd_pid: u32,
        apiserver_pid: u32,
    },
    Stopped,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    server: String,
    kubeconfig: PathBuf,
    etcd_pid: u32,
    apiserver_pid: u32,
}

/// What `up` did.
#[derive(Debug, Clone)]
pub struct UpReport {
    pub status: DevStatus,
    /// False when the cluster was already running and nothing was started.
    pub started: bool,
    /// Spawn to ready (`/readyz` ok, CRDs Established), when started.
    pub ready_after: Option<Duration>,
    /// RSS in KiB of (etcd, kube-apiserver) right after ready, when started.
    pub rss_kib: (Option<u64>, Option<u64>),
}

impl DevCluster {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DevCluster { dir: dir.into() }
    }

    /// `${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/dev-cluster`.
    pub fn default_dir() -> PathBuf {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        cache.join("tunegate").join("dev-cluster")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    fn state_error(&self, msg: impl Into<String>) -> Error {
        Error::State {
            dir: self.dir.display().to_string(),
            msg: msg.into(),
        }
    }

    fn read_state(&self) -> Result<Option<State>, Error> {
        let path = self.dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| self.state_error(format!("cannot parse {STATE_FILE}: {e}"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("read {}", path.display()), e)),
        }
    }

    /// Running only if both recorded processes are alive and are what they should be.
    pub fn status(&self) -> Result<DevStatus, Error> {
        Ok(match self.read_state()? {
            Some(s)
                if process::is_running_as(s.etcd_pid, "etcd")
                    && process::is_running_as(s.apiserver_pid, "kube-apiserver") =>
            {
                DevStatus::Running {
                    server: s.server,
                    kubeconfig: s.kubeconfig,
                    etcd_pid: s.etcd_pid,
                    apiserver_pid: s.apiserver_pid,
                }
            }
            _ => DevStatus::Stopped,
        })
    }

    /// Starts the cluster unless it is already running. A half-dead previous cluster (one
    /// process gone) is cleaned up first.
    pub fn up(&self, mut options: Options) -> Result<UpReport, Error> {
        if let status @ DevStatus::Running { .. } = self.status()? {
            return Ok(UpReport {
                status,
                started: false,
                ready_after: None,
                rss_kib: (None, None),
            });
        }
        self.down()?;
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::io(format!("create {}", self.dir.display()), e))?;
        std::fs::write(self.dir.join(MARKER), "")
            .map_err(|e| Error::io(format!("write {}", self.dir.display()), e))?;
        options.dir = Some(self.dir.clone());
        options.lifetime = Lifetime::Detached;
        let mut cp = ControlPlane::start(options)?;
        let (etcd_pid, apiserver_pid) = cp.pids();
        let state = State {
            server: cp.server().to_owned(),
            kubeconfig: cp.kubeconfig().to_owned(),
            etcd_pid,
            apiserver_pid,
        };
        let json = serde_json::to_string_pretty(&state)
            .map_err(|e| self.state_error(format!("encode state: {e}")))?;
        let path = self.dir.join(STATE_FILE);
        std::fs::write(&path, json)
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        // Only now that the pids are recorded may the processes outlive `cp`.
        cp.disarm();
        Ok(UpReport {
            status: DevStatus::Running {
                server: state.server,
                kubeconfig: state.kubeconfig,
                etcd_pid,
                apiserver_pid,
            },
            started: true,
            ready_after: Some(cp.ready_after()),
            rss_kib: cp.rss_kib(),
        })
    }

    /// Stops the recorded processes (SIGTERM to their process groups, SIGKILL after 10 s) and
    /// removes the state directory. Returns whether anything was running.
    pub fn down(&self) -> Result<bool, Error> {
        let mut was_running = false;
        if let Some(s) = self.read_state()? {
            for (pid, name) in [(s.apiserver_pid, "kube-apiserver"), (s.etcd_pid, "etcd")] {
                if process::is_running_as(pid, name) {
                    was_running = true;
                    // Detached children lead their own session and process group.
                    process::terminate_group(pid, Duration::from_secs(10), || {
                        !process::is_running_as(pid, name)
                    });
                }
            }
        }
        if self.dir.join(MARKER).exists() {
            std::fs::remove_dir_all(&self.dir)
                .map_err(|e| Error::io(format!("remove {}", self.dir.display()), e))?;
        } else if self.dir.exists()
            && std::fs::read_dir(&self.dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            return Err(self.state_error(format!(
                "not a dev cluster directory (no {MARKER}); refusing to delete it"
            )));
        }
        Ok(was_running)
    }
}
