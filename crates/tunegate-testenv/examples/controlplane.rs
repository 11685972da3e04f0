//! A local control plane for a person at a shell; `hack/controlplane.sh` wraps this.
//!
//! ```text
//! cargo run --quiet -p tunegate-testenv --example controlplane -- up   [--dir DIR]   # start (detached), install CRDs
//! cargo run --quiet -p tunegate-testenv --example controlplane -- env  [--dir DIR]   # print `export KUBECONFIG=...`
//! cargo run --quiet -p tunegate-testenv --example controlplane -- down [--dir DIR]   # stop and remove the state
//! ```
//! DIR defaults to `${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/dev-cluster`.

use std::path::PathBuf;
use std::process::ExitCode;

use tunegate_testenv::{DevCluster, DevStatus, Options};

const USAGE: &str = "usage: controlplane up|down|env|status [--dir DIR]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("controlplane: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let command = args.next().ok_or(USAGE)?;
    let mut dir = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            _ => return Err(format!("unexpected argument {arg:?}; {USAGE}")),
        }
    }
    let cluster = DevCluster::new(dir.unwrap_or_else(DevCluster::default_dir));
    match command.as_str() {
        "up" => {
            let report = cluster.up(Options::default()).map_err(|e| e.to_string())?;
            if let DevStatus::Running {
                server,
                etcd_pid,
                apiserver_pid,
                ..
            } = &report.status
            {
                let verb = if report.started {
                    "started"
                } else {
                    "already running"
                };
                eprintln!(
                    "control plane {verb}: {server} (etcd pid {etcd_pid}, kube-apiserver pid {apiserver_pid})"
                );
            }
            if let Some(t) = report.ready_after {
                let kib =
                    |v: Option<u64>| v.map_or("?".to_owned(), |k| format!("{} MiB", k / 1024));
                eprintln!(
                    "ready after {:.1} s; RSS etcd {}, kube-apiserver {}",
                    t.as_secs_f64(),
                    kib(report.rss_kib.0),
                    kib(report.rss_kib.1)
                );
            }
            println!("export KUBECONFIG={}", cluster.kubeconfig().display());
        }
        "env" => match cluster.status().map_err(|e| e.to_string())? {
            DevStatus::Running { kubeconfig, .. } => {
                println!("export KUBECONFIG={}", kubeconfig.display())
            }
            DevStatus::Stopped => {
                return Err(format!(
                    "no control plane running in {}; run `hack/controlplane.sh up`",
                    cluster.dir().display()
                ));
            }
        },
        "status" => match cluster.status().map_err(|e| e.to_string())? {
            DevStatus::Running { server, .. } => println!("running: {server}"),
            DevStatus::Stopped => println!("stopped"),
        },
        "down" => {
            let was = cluster.down().map_err(|e| e.to_string())?;
            eprintln!(
                "control plane {}",
                if was { "stopped" } else { "was not running" }
            );
        }
        _ => return Err(USAGE.to_owned()),
    }
    Ok(())
}
