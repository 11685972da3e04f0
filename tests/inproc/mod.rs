//! The operator run in-process (`tunegate::cli::run::run_with`) by the integration tests that
//! drive it that way, and their async helpers: one copy instead of one per test file
//! (`mod inproc;`).
// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tunegate::cli::run::{RunArgs, run_with, upload_limits};
use tunegate::controller::adapters::HttpRemotes;
use tunegate::controller::metrics::Metrics;
use tunegate_api::FineTuneJob;

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
        let limits = upload_limits(&args).expect("valid upload flags");
        let remotes = HttpRemotes::new(metrics.clone()).with_upload_limits(limits);
        let _ = run_with(args, Arc::new(remotes), metrics).await;
    })
}

/// Polls `f` every 200 ms until it returns Some, or panics after `secs`.
pub async fn wait<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A FineTuneJob condition's (status, reason, message).
pub fn cond(j: &FineTuneJob, t: &str) -> Option<(String, String, String)> {
    j.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// The in-process sandbox's `/_sandbox/state`.
pub async fn sandbox_state(base: &str) -> serde_json::Value {
    reqwest::get(format!("{base}/_sandbox/state"))
        .await
        .expect("sandbox state")
        .json()
        .await
        .expect("sandbox state JSON")
}

/// Uploaded training files still at the sandbox (result files the provider makes don't count).
pub fn training_files(state: &serde_json::Value) -> usize {
    state["files"].as_array().map_or(0, |files| {
        files.iter().filter(|f| f["purpose"] == "fine-tune").count()
    })
}
