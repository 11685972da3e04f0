//! Teardown tests run their own test binary again as a child, restricted to one ignored `probe`
//! test that starts a cluster, prints a line `PROBE ...` and then fails or hangs; the parent
//! kills or releases it and checks what is left. These are the shared parts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The probe child and the rest of its `PROBE ` line.
pub struct Probe {
    pub child: Child,
    pub line: String,
}

/// Runs this test binary's ignored `probe` test with `env_key=mode`, stdin piped (closing it is
/// a signal the probe may wait for), and waits up to `timeout` for its `PROBE ` line.
pub fn start(env_key: &str, mode: &str, timeout: Duration) -> Probe {
    let exe = std::env::current_exe().expect("current test executable");
    let mut child = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "probe",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(env_key, mode)
        .env("RUST_BACKTRACE", "0") // a probe's panic is on purpose; keep the log short
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the probe");
    let stdout = child.stdout.take().expect("probe stdout");
    // Read on a thread of its own so that a probe that never reports cannot hang the test.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints "test probe ... " on the same line before the test's own output.
            if let Some((_, rest)) = line.split_once("PROBE ") {
                let _ = tx.send(rest.trim().to_owned());
            }
        }
    });
    match rx.recv_timeout(timeout) {
        Ok(line) => Probe { child, line },
        Err(_) => {
            let _ = child.kill();
            let status = child.wait().expect("wait for the probe");
            panic!("the probe ended ({status}) without reporting what it started");
        }
    }
}

/// Whether a process runs (a zombie only waits for its reaper; it runs nothing).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// `pgrep -a -f -- pattern`: one line per live process whose command line matches.
pub fn pgrep(pattern: &str) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-a", "-f", "--", pattern])
        .output()
        .expect("run pgrep");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}
