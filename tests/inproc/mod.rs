//! The operator run in-process (`tunegate::cli::run::run_with`) by the integration tests that
//! drive it that way: one copy instead of one per test file (`mod inproc;`).

use std::sync::Arc;

use clap::Parser;
use tunegate::cli::run::{RunArgs, run_with};
use tunegate::controller::adapters::HttpRemotes;
use tunegate::controller::metrics::Metrics;

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    args: RunArgs,
}

/// Starts `tunegate run` against `cp`: a fast poll, no leader election, the given operator
/// namespace, and the loopback allowed as an endpoint (INSECURE on purpose: the sandbox and moto
/// are plain http on loopback), then `extra` flags. Abort the handle to stop it.
pub fn spawn_operator(
    cp: &tunegate_testenv::ControlPlane,
    operator_namespace: &str,
    extra: &[&str],
) -> tokio::task::JoinHandle<()> {
    let metrics = Arc::new(Metrics::new());
    let kubeconfig = cp.kubeconfig().display().to_string();
    let mut argv = vec![
        "run",
        "--kubeconfig",
        &kubeconfig,
        "--metrics-addr",
        "127.0.0.1:0",
        "--poll-seconds",
        "0.2",
        "--no-leader-election",
        "--allow-insecure-endpoints",
        "--allowed-endpoint",
        "127.0.0.1:*",
        "--operator-namespace",
        operator_namespace,
    ];
    argv.extend_from_slice(extra);
    let args = Wrap::parse_from(argv).args;
    tokio::spawn(async move {
        let _ = run_with(args, Arc::new(HttpRemotes::new(metrics.clone())), metrics).await;
    })
}
