//! A full single-node cluster (control plane, controller-manager, scheduler, containerd,
//! kubelet) held by this process: it prints timings, each component's RSS and the kubeconfig,
//! then (with `--hold`) keeps the cluster up until SIGINT/SIGTERM, and removes everything.
//!
//! ```text
//! cargo run --quiet --example cluster -- [--hold] [--image TARBALL]...
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use tunegate_testenv::{Cluster, ClusterOptions};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("cluster: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut options = ClusterOptions::default();
    let mut hold = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--hold" => hold = true,
            "--image" => options
                .images
                .push(PathBuf::from(args.next().ok_or("--image needs a path")?)),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    // Block the stop signals before any thread starts, so that `sigwait` receives them.
    let set = stop_signals();
    // SAFETY: changes this thread's signal mask; threads spawned later inherit it.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    let cluster = Cluster::start(options).map_err(|e| e.to_string())?;
    let cp = cluster.control_plane();
    let rss = cluster.rss();
    let mib = |k: Option<u64>| k.map_or("?".to_owned(), |k| format!("{} MiB", k / 1024));
    eprintln!(
        "node Ready after {:.1} s (control plane ready after {:.1} s)",
        cluster.ready_after().as_secs_f64(),
        cp.ready_after().as_secs_f64()
    );
    eprintln!(
        "RSS: etcd {}, kube-apiserver {}, kube-controller-manager {}, kube-scheduler {}, containerd {}, kubelet {}, shims {} MiB",
        mib(rss.etcd),
        mib(rss.kube_apiserver),
        mib(rss.kube_controller_manager),
        mib(rss.kube_scheduler),
        mib(rss.containerd),
        mib(rss.kubelet),
        rss.shims / 1024
    );
    println!("export KUBECONFIG={}", cluster.kubeconfig().display());
    println!("NODE_IP={}", cluster.network().node_ip);
    // Whoever reads stdout (hack/demo.sh) may wait for this line.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    if hold {
        eprintln!(
            "holding the cluster (pid {}); SIGINT or SIGTERM stops it",
            std::process::id()
        );
        let mut sig = 0;
        // SAFETY: waits for one of the blocked signals.
        unsafe { libc::sigwait(&set, &mut sig) };
        eprintln!("stopping");
    }
    drop(cluster);
    Ok(())
}

fn stop_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data initialised by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}
