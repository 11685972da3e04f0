//! Spawning and stopping the control-plane processes.
//!
//! Attached children (tests) must die with the process that started them even when it is
//! killed or panics, because a killed process runs no `Drop` and statics are never dropped.
//! They get `PR_SET_PDEATHSIG(SIGKILL)`; that signal fires when the *thread* that forked them
//! exits, so every attached child is forked by one dedicated thread that lives as long as the
//! process. Detached children (a person's dev cluster) start a session of their own instead.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::Error;

/// How a child is tied to the current process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Own process group, killed when this process dies.
    Attached,
    /// Own session, survives this process (recorded by pid for a later `down`).
    Detached,
}

/// A started etcd or kube-apiserver.
#[derive(Debug)]
pub struct Managed {
    pub name: &'static str,
    pub child: Child,
    pub log: PathBuf,
}

impl Managed {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` if the process has already exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM to the process group, then SIGKILL after `grace`; reaps the child.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        terminate_group(self.child.id(), grace, || self.exited().is_some());
        // Reap it so that no zombie remains (the group was SIGKILLed if still alive).
        let _ = self.child.wait();
    }
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// The long-lived thread that forks every attached child (see the module comment).
fn spawner() -> &'static mpsc::Sender<SpawnRequest> {
    static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // The sender lives in this static forever, so `recv` only ends when the process does.
        let spawned = thread::Builder::new()
            .name("testenv-spawner".to_owned())
            .spawn(move || {
                while let Ok((mut cmd, reply)) = rx.recv() {
                    let _ = reply.send(cmd.spawn());
                }
            });
        if let Err(e) = spawned {
            // Nothing can be spawned then; each request reports the failure below.
            eprintln!("testenv: cannot start the spawner thread: {e}");
        }
        tx
    })
}

/// Starts `program args` with stdout/stderr appended to `log`.
pub fn spawn(
    name: &'static str,
    program: &Path,
    args: &[String],
    log: &Path,
    lifetime: Lifetime,
) -> Result<Managed, Error> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::io(format!("open {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| Error::io(format!("open {}", log.display()), e))?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    let spawn_err = |e: io::Error| Error::io(format!("start {name} ({})", program.display()), e);
    let child = match lifetime {
        Lifetime::Attached => {
            // SAFETY: getpid is async-signal-safe and called before the fork.
            let parent = unsafe { libc::getpid() };
            // SAFETY: the closure runs between fork and exec and only makes
            // async-signal-safe system calls; it allocates nothing.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setpgid(0, 0) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    if libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    ) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                    // The parent may have died before prctl took effect: then nobody would
                    // ever kill this child, so do not start it at all.
                    if libc::getppid() != parent {
                        return Err(io::Error::from_raw_os_error(libc::ESRCH));
                    }
                    Ok(())
                });
            }
            let (tx, rx) = mpsc::channel();
            spawner()
                .send((cmd, tx))
                .map_err(|_| spawn_err(io::Error::other("spawner thread is gone")))?;
            rx.recv()
                .map_err(|_| spawn_err(io::Error::other("spawner thread is gone")))?
                .map_err(spawn_err)?
        }
        Lifetime::Detached => {
            // SAFETY: setsid is async-signal-safe; nothing is allocated.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::setsid() < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            cmd.spawn().map_err(spawn_err)?
        }
    };
    Ok(Managed {
        name,
        child,
        log: log.to_owned(),
    })
}

/// SIGTERM to process group `pgid`, wait up to `grace` for `gone()`, then SIGKILL.
pub fn terminate_group(pgid: u32, grace: Duration, mut gone: impl FnMut() -> bool) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    // SAFETY: plain kill(2) on a process group we created.
    unsafe { libc::kill(-pgid, libc::SIGTERM) };
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if gone() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: as above.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

/// Whether `pid` is alive (not a zombie) and its executable is named `name`, so that a
/// recorded pid reused by an unrelated process is never signalled.
pub fn is_running_as(pid: u32, name: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // Format: "pid (comm) state ..."; comm is truncated to 15 bytes.
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let comm = &stat[open + 1..close];
    let state = stat[close + 1..].trim_start().chars().next();
    let short: String = name.chars().take(15).collect();
    comm == short && state != Some('Z')
}

/// Resident set size of `pid` in KiB, from /proc/PID/status.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The last `n` lines of a log file, for error messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Attached control planes still running: (process group ids, directory to remove or None).
/// A control plane shared through a static is never dropped, so `exit` cleans up after it.
/// The last element runs after the processes are dead (a full cluster removes its network
/// bridge and cgroups there).
type Registry = Vec<(u64, Vec<u32>, Option<PathBuf>, Option<AtExit>)>;
/// Clean-up work for the exit hook.
pub type AtExit = Box<dyn FnOnce() + Send>;
static AT_EXIT: Mutex<Registry> = Mutex::new(Vec::new());

/// Registers attached processes (and a temporary directory) to be killed (and removed) when
/// the process exits normally; returns a key for [`unregister_at_exit`].
pub fn register_at_exit(pgids: Vec<u32>, dir: Option<PathBuf>) -> u64 {
    register_at_exit_with(pgids, dir, None)
}

/// [`register_at_exit`] with work to do once the processes are dead.
pub fn register_at_exit_with(pgids: Vec<u32>, dir: Option<PathBuf>, then: Option<AtExit>) -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        // SAFETY: registers a plain extern "C" function that never unwinds.
        unsafe { libc::atexit(cleanup_at_exit) };
    });
    let key = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Ok(mut r) = AT_EXIT.lock() {
        r.push((key, pgids, dir, then));
    }
    key
}

pub fn unregister_at_exit(key: u64) {
    if let Ok(mut r) = AT_EXIT.lock() {
        r.retain(|(k, _, _, _)| *k != key);
    }
}

extern "C" fn cleanup_at_exit() {
    // Never block or unwind in an exit handler.
    let Ok(mut registry) = AT_EXIT.try_lock() else {
        return;
    };
    for (_, pgids, dir, then) in registry.drain(..) {
        for pgid in pgids {
            if let Ok(pgid) = libc::pid_t::try_from(pgid) {
                // SAFETY: kill(2) and waitpid(2) on process groups and children we created.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                    libc::waitpid(pgid, std::ptr::null_mut(), 0);
                }
            }
        }
        if let Some(then) = then {
            then();
        }
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The command name of `pid` (`/proc/PID/comm`).
pub fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Direct children of `pid` (all its threads' children).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(list) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// Every descendant of `pid` (not `pid` itself), breadth first.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut queue = std::collections::VecDeque::from([pid]);
    // Bounded: a process tree larger than this is not one we started.
    while let Some(p) = queue.pop_front() {
        for c in children(p) {
            if out.len() >= 100_000 {
                return out;
            }
            if !out.contains(&c) {
                out.push(c);
                queue.push_back(c);
            }
        }
    }
    out
}
