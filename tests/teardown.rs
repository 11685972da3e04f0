//! No etcd or kube-apiserver outlives a test binary that started them, whether a test failed
//! or the binary was killed with SIGKILL (which runs no destructor at all).
//!
//! Each check runs this same test binary again as a child, restricted to the ignored `probe`
//! test, which starts a control plane, reports its pids and then panics or hangs.

use tunegate_testkit::cluster as support;
use tunegate_testkit::probe::{self, alive, pgrep};

use std::sync::Mutex;
use std::time::{Duration, Instant};

const MODE_ENV: &str = "TUNEGATE_TEARDOWN_PROBE";

/// Started by the tests below, never on its own (it does nothing without `MODE_ENV`).
#[test]
#[ignore = "helper process for the teardown tests"]
fn probe() {
    let Ok(mode) = std::env::var(MODE_ENV) else {
        return;
    };
    let cp = support::control_plane();
    let (etcd, apiserver) = cp.pids();
    println!("PROBE {etcd} {apiserver} {}", cp.dir().display());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    match mode.as_str() {
        "panic" => {
            // Wait until the parent has seen the processes alive, else it races our exit.
            let mut go = String::new();
            let _ = std::io::stdin().read_line(&mut go);
            panic!("probe: failing on purpose with the control plane running")
        }
        _ => std::thread::sleep(Duration::from_secs(600)),
    }
}

/// Two probes at once would double the load on a small machine for no gain.
static SERIAL: Mutex<()> = Mutex::new(());

struct Probe {
    child: std::process::Child,
    pids: [u32; 2],
    dir: String,
}

fn start_probe(mode: &str) -> Probe {
    let probe::Probe { child, line } = probe::start(MODE_ENV, mode, Duration::from_secs(300));
    let parts: Vec<&str> = line.splitn(3, ' ').collect();
    assert_eq!(parts.len(), 3, "bad probe line {line:?}");
    let pid = |s: &str| s.parse::<u32>().expect("pid");
    Probe {
        child,
        pids: [pid(parts[0]), pid(parts[1])],
        dir: parts[2].trim().to_owned(),
    }
}

fn assert_all_gone(probe: &Probe) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left: Vec<u32> = probe.pids.into_iter().filter(|&p| alive(p)).collect();
        let matching = pgrep(&probe.dir);
        if left.is_empty() && matching.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after the test process ended: pids {left:?}, pgrep -f {}: {matching:?}",
            probe.dir
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn no_process_left_after_a_failing_test() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut probe = start_probe("panic");
    assert!(
        probe.pids.iter().all(|&p| alive(p)),
        "control plane not running in the probe"
    );
    assert!(
        !pgrep(&probe.dir).is_empty(),
        "pgrep -f finds the probe's processes"
    );
    // Let it fail now; dropping its stdin (EOF) is the signal.
    drop(probe.child.stdin.take());
    let status = probe.child.wait().expect("wait for probe");
    assert!(!status.success(), "the probe test should have failed");
    assert_all_gone(&probe);
}

#[test]
fn no_process_left_after_sigkill() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut probe = start_probe("hang");
    assert!(
        probe.pids.iter().all(|&p| alive(p)),
        "control plane not running in the probe"
    );
    assert!(
        !pgrep(&probe.dir).is_empty(),
        "pgrep -f finds the probe's processes"
    );
    probe.child.kill().expect("SIGKILL the probe"); // Child::kill sends SIGKILL
    let _ = probe.child.wait();
    assert_all_gone(&probe);
}

#[test]
fn drop_stops_both_processes_and_removes_the_directory() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cp = tunegate_testenv::ControlPlane::start(Default::default())
        .unwrap_or_else(|e| panic!("control plane did not start: {e}"));
    let (etcd, apiserver) = cp.pids();
    let dir = cp.dir().to_owned();
    assert!(alive(etcd) && alive(apiserver));
    assert!(
        !pgrep(&dir.to_string_lossy()).is_empty(),
        "pgrep -f finds them"
    );
    drop(cp);
    // Drop waits for both children, so they are gone (and reaped) already.
    assert!(
        !alive(etcd) && !alive(apiserver),
        "still running after drop"
    );
    assert!(pgrep(&dir.to_string_lossy()).is_empty());
    assert!(!dir.exists(), "{} not removed", dir.display());
}
