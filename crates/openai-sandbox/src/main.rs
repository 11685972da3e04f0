//! `openai-sandbox`: an OpenAI-compatible local server for tests and demos (never in the
//! operator's path). See `tunegate::sandbox` for the endpoints.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use openai_sandbox::faults::{FaultConfig, FaultKind, FaultRule};
use openai_sandbox::{Config, start};

#[derive(Parser)]
#[command(
    name = "openai-sandbox",
    version,
    about = "OpenAI-compatible fine-tuning sandbox server"
)]
struct Cli {
    /// Address to listen on, e.g. 127.0.0.1:18080 (port 0 picks a free port).
    #[arg(long)]
    listen: SocketAddr,
    /// The API key clients must send (Bearer for OpenAI paths, `api-key` for Azure paths).
    #[arg(long, env = "OPENAI_SANDBOX_API_KEY", hide_env_values = true)]
    api_key: String,
    /// Seconds of (un-paused) time from job creation to a terminal state.
    #[arg(long, default_value_t = 10.0)]
    job_seconds: f64,
    /// Organisation name used in fine-tuned model ids.
    #[arg(long, default_value = "sandbox-org")]
    org: String,
    /// Organisation id reported in jobs and as the owner of fine-tuned models.
    #[arg(long, default_value = "org-sandbox")]
    org_id: String,
    /// Seed for ids, metrics and fault decisions.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Azure flavour: seconds for an uploaded file to become `processed`.
    #[arg(long, default_value_t = 0.5)]
    azure_file_seconds: f64,
    /// OpenAI flavour: refuse every job creation with 403, as OpenAI does for organisations
    /// without self-serve fine-tuning.
    #[arg(long)]
    fine_tuning_refused: bool,
    /// Probability of a fault on each request to a faulted route.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Comma-separated route patterns (`[METHOD ]PATH_GLOB`) the fault rate and latency apply to.
    #[arg(long, default_value = "*", value_delimiter = ',')]
    fault_routes: Vec<String>,
    /// Comma-separated fault kinds: 429, 500, 502, 503, drop (before processing), drop_after
    /// (processed, response lost).
    #[arg(long, default_value = "429,500,503", value_delimiter = ',')]
    fault_kinds: Vec<String>,
    /// Retry-After advertised on injected 429/503, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    retry_after_ms: u64,
    /// Latency added to every request on the faulted routes.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// The next N jobs fail while running.
    #[arg(long, default_value_t = 0)]
    fail_next_jobs: u32,
    /// Jobs whose metadata has this key fail while running.
    #[arg(long)]
    fail_jobs_with_metadata: Option<String>,
    /// Directory for the spool of large request bodies (a private subdirectory is created and
    /// removed on exit); the system temp directory by default.
    #[arg(long)]
    spool_dir: Option<std::path::PathBuf>,
    /// A full fault configuration as JSON (same shape as `POST /_sandbox/faults`); rules built
    /// from the other fault flags are appended to it.
    #[arg(long)]
    faults: Option<String>,
}

fn fault_config(cli: &Cli) -> Result<FaultConfig, String> {
    let mut cfg: FaultConfig = match &cli.faults {
        Some(json) => {
            serde_json::from_str(json).map_err(|e| format!("invalid --faults JSON: {e}"))?
        }
        None => FaultConfig {
            seed: cli.seed,
            ..Default::default()
        },
    };
    let kinds = cli
        .fault_kinds
        .iter()
        .map(|k| {
            FaultKind::parse(k).ok_or_else(|| {
                format!(
                    "unknown fault kind {k:?} (expected 429, 500, 502, 503, drop or drop_after)"
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !(0.0..=1.0).contains(&cli.fault_rate) {
        return Err("--fault-rate must be between 0 and 1".into());
    }
    if cli.fault_rate > 0.0 || cli.latency_ms > 0 {
        for route in &cli.fault_routes {
            cfg.rules.push(FaultRule {
                route: route.trim().to_owned(),
                rate: cli.fault_rate,
                count: None,
                kinds: kinds.clone(),
                latency_ms: cli.latency_ms,
                retry_after_ms: cli.retry_after_ms,
                injected: 0,
            });
        }
    }
    cfg.fail_next_jobs += cli.fail_next_jobs;
    if cli.fail_jobs_with_metadata.is_some() {
        cfg.fail_jobs_with_metadata = cli.fail_jobs_with_metadata.clone();
    }
    Ok(cfg)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if !cli.job_seconds.is_finite() || cli.job_seconds < 0.0 {
        eprintln!("openai-sandbox: --job-seconds must be a non-negative number");
        return ExitCode::from(2);
    }
    let faults = match fault_config(&cli) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("openai-sandbox: {e}");
            return ExitCode::from(2);
        }
    };
    let mut cfg = Config::new(cli.api_key.clone());
    cfg.job_seconds = cli.job_seconds;
    cfg.org_name = cli.org.clone();
    cfg.org_id = cli.org_id.clone();
    cfg.seed = cli.seed;
    cfg.azure_file_seconds = cli.azure_file_seconds.max(0.0);
    cfg.fine_tuning_refused = cli.fine_tuning_refused;
    cfg.faults = faults;
    cfg.spool_dir = cli.spool_dir.clone();
    let mut running = match start(cfg, cli.listen).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("openai-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Tests parse this line to learn the port when listening on port 0.
    println!("listening on http://{}", running.addr);
    let code = tokio::select! {
        r = running.wait() => match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("openai-sandbox: {e}");
                ExitCode::FAILURE
            }
        },
        _ = shutdown_signal() => ExitCode::SUCCESS,
    };
    // Stops the server and removes its spool directory (only a SIGKILL leaves it behind).
    drop(running);
    code
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
