//! `tunegate worker validate`: the volume pipeline inside a worker Job. It has no API token; it
//! reads mounted files (the sources, and the dataset spec with its redaction policy from a
//! mounted ConfigMap), runs the pipeline, and writes a small JSON result (counts, digests and
//! codes only) to its termination message.
//!
//! Its memory is bounded by design: lines longer than `--max-line-bytes` are refused as they are
//! read, and the operator derives that cap and the Job's memory limit from each other
//! (`tunegate_core::dataset::memory`).

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use crate::controller::pipeline::{self, RunLimits};
use crate::controller::worker::{SPEC_FILE, WorkerResult};
use tunegate_api::TrainingDatasetSpec;

/// Largest spec file read (a ConfigMap holds at most 1 MiB).
const MAX_SPEC_BYTES: u64 = 4 * 1024 * 1024;

/// Flags every worker command shares.
#[derive(clap::Args, Debug, Clone)]
pub struct CommonArgs {
    /// The dataset spec (JSON), from the mounted ConfigMap.
    #[arg(long, default_value = SPEC_FILE)]
    pub spec_file: PathBuf,
    /// `sha256:<hex>` the spec file must hash to (from the Job's arguments, which nobody can
    /// change after creation, unlike the ConfigMap).
    #[arg(long)]
    pub spec_digest: Option<String>,
    /// Longest line accepted; longer lines are `line_too_long`, refused without buffering them.
    /// The operator derives it from the Job's memory limit. Default: what 256 MiB allows.
    #[arg(long, default_value_t = tunegate_core::dataset::memory::DEFAULT_WORKER_MAX_LINE)]
    pub max_line_bytes: u64,
}

/// Worker tasks.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum WorkerCommand {
    /// Validate and redact mounted sources; report the summary as the termination message.
    Validate(ValidateArgs),
    /// Re-run the pipeline into a provider upload (volume-source datasets); report the file id.
    Upload(UploadArgs),
}

/// Flags of `tunegate worker upload`.
#[derive(clap::Args, Debug, Clone)]
pub struct UploadArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// A source file, in order; repeat for several sources.
    #[arg(long = "source", required = true)]
    pub sources: Vec<PathBuf>,
    /// File holding the pseudonymization key.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// File holding the provider API key (the mounted credentials Secret).
    #[arg(long)]
    pub api_key_file: PathBuf,
    /// Upload filename (`tunegate-<uid>-<role>.jsonl`).
    #[arg(long)]
    pub filename: String,
    /// Exact size of the redacted output, from the dataset's status.
    #[arg(long)]
    pub expected_bytes: u64,
    /// `sha256:<hex>` the redacted output must hash to (the dataset's redactedDigest).
    #[arg(long)]
    pub expected_digest: String,
    /// `expires_after` of the uploaded file.
    #[arg(long, default_value_t = 30 * 24 * 3600)]
    pub expires_after_secs: u64,
    /// Where to write the result (the container's termination message path).
    #[arg(long, default_value = "/dev/termination-log")]
    pub termination_log: PathBuf,
}

/// Flags of `tunegate worker validate`.
#[derive(clap::Args, Debug, Clone)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Validation that runs longer fails with `PipelineTimeBudgetExceeded`.
    #[arg(long)]
    pub time_budget_seconds: Option<u64>,
    /// A source file, in order; repeat for several sources.
    #[arg(long = "source", required = true)]
    pub sources: Vec<PathBuf>,
    /// File holding the pseudonymization key.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Where to write the result (the container's termination message path).
    #[arg(long, default_value = "/dev/termination-log")]
    pub termination_log: PathBuf,
}

/// Runs a worker command; returns the process exit code.
pub fn main(cmd: &WorkerCommand) -> u8 {
    let (common, time_budget) = match cmd {
        WorkerCommand::Validate(a) => (&a.common, a.time_budget_seconds),
        WorkerCommand::Upload(a) => (&a.common, None),
    };
    pipeline::set_limits(RunLimits {
        max_line_bytes: usize::try_from(common.max_line_bytes).unwrap_or(usize::MAX),
        time_budget: time_budget.map(Duration::from_secs),
    });
    let (result, log) = match cmd {
        WorkerCommand::Validate(args) => (validate(args), &args.termination_log),
        WorkerCommand::Upload(args) => (upload(args), &args.termination_log),
    };
    let code = match &result {
        WorkerResult::Summary(_) | WorkerResult::Uploaded { .. } => 0,
        WorkerResult::Error { .. } => 1,
    };
    let text = serde_json::to_string(&result)
        .unwrap_or_else(|_| r#"{"error":{"code":"ResultEncoding"}}"#.to_string());
    match File::create(log).and_then(|mut f| f.write_all(text.as_bytes())) {
        Ok(()) => code,
        Err(_) => 2,
    }
}

fn err(code: &str) -> WorkerResult {
    WorkerResult::Error {
        code: code.to_string(),
    }
}

type Inputs = (TrainingDatasetSpec, Option<Vec<u8>>, Box<dyn Read + Send>);

/// The dataset spec from its mounted file (never from the environment: a large policy would
/// exceed the kernel's 128 KiB limit for one variable, and the pod spec would show it).
fn read_spec(path: &PathBuf, digest: Option<&str>) -> Result<TrainingDatasetSpec, &'static str> {
    use sha2::{Digest, Sha256};
    let file = File::open(path).map_err(|_| "SpecMissing")?;
    let mut text = Vec::new();
    file.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|_| "SpecMissing")?;
    if text.len() as u64 > MAX_SPEC_BYTES {
        return Err("SpecInvalid");
    }
    if let Some(want) = digest
        && format!("sha256:{}", hex::encode(Sha256::digest(&text))) != want
    {
        // Edited or planted: never run a policy the operator did not write.
        return Err("SpecDigestMismatch");
    }
    serde_json::from_slice::<TrainingDatasetSpec>(&text).map_err(|_| "SpecInvalid")
}

fn inputs(
    common: &CommonArgs,
    sources: &[PathBuf],
    key_file: Option<&PathBuf>,
) -> Result<Inputs, &'static str> {
    let spec = read_spec(&common.spec_file, common.spec_digest.as_deref())?;
    let key = match key_file {
        Some(p) => match std::fs::read(p) {
            Ok(k) if !k.is_empty() => Some(k),
            _ => return Err("KeyUnreadable"),
        },
        None => None,
    };
    let mut files = Vec::with_capacity(sources.len());
    for p in sources {
        match File::open(p) {
            Ok(f) => files.push(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err("SourceFileNotFound");
            }
            // Its own reason: the fix is on the volume (ownership, mode), not in the dataset.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err("SourceFilePermissionDenied");
            }
            Err(_) => return Err("SourceFileUnreadable"),
        }
    }
    // Same joining as in-process sources, so both paths give the same digests.
    let input: Box<dyn Read + Send> =
        Box::new(tunegate_core::dataset::pipeline::concat_sources(files));
    Ok((spec, key, input))
}

fn validate(args: &ValidateArgs) -> WorkerResult {
    let (spec, key, mut input) = match inputs(&args.common, &args.sources, args.key_file.as_ref()) {
        Ok(i) => i,
        Err(code) => return err(code),
    };
    match pipeline::validate(&spec, &mut input, key.as_deref()) {
        Ok(s) => WorkerResult::Summary(s),
        Err(e) => err(e.reason().as_str()),
    }
}

fn upload(args: &UploadArgs) -> WorkerResult {
    use crate::controller::finetune::upload::{self, StreamRequest, Streamed};
    use crate::controller::ports::RemoteFactory;
    let (spec, key, input) = match inputs(&args.common, &args.sources, args.key_file.as_ref()) {
        Ok(i) => i,
        Err(code) => return err(code),
    };
    let Ok(provider_json) = std::env::var(crate::controller::worker::PROVIDER_ENV) else {
        return err("ProviderSpecMissing");
    };
    let Ok(provider) = serde_json::from_str::<crate::provider::Target>(&provider_json) else {
        return err("ProviderSpecInvalid");
    };
    let api_key = match std::fs::read_to_string(&args.api_key_file) {
        Ok(k) if !k.trim().is_empty() => k.trim().to_string(),
        _ => return err("CredentialsUnreadable"),
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    else {
        return err("RuntimeUnavailable");
    };
    let metrics = std::sync::Arc::new(crate::controller::metrics::Metrics::new());
    let remotes = crate::controller::adapters::HttpRemotes::new(metrics);
    let remote = match remotes.build(&provider, &api_key) {
        Ok(r) => r,
        Err(_) => return err("InvalidProvider"),
    };
    let req = StreamRequest {
        spec,
        input,
        key,
        copy: None,
        on_upload_created: None,
        filename: args.filename.clone(),
        expected_bytes: args.expected_bytes,
        expected_digest: args.expected_digest.clone(),
        expires_after_secs: args.expires_after_secs,
    };
    runtime.block_on(async {
        match upload::stream(remote.as_ref(), req).await {
            Ok(Streamed::Uploaded(f)) => WorkerResult::Uploaded {
                id: f.id,
                bytes: f.bytes,
            },
            Ok(Streamed::Changed(file)) => {
                // Nobody can record a file this worker cannot report as good: remove it here.
                if let Some(f) = file {
                    let _ = remote.delete_file(&f.id).await;
                }
                err("DatasetChanged")
            }
            Ok(Streamed::PipelineFailed(file)) => {
                if let Some(f) = file {
                    let _ = remote.delete_file(&f.id).await;
                }
                err("PipelineFailed")
            }
            Err(e) => err(match e {
                crate::controller::ports::RemoteError::Terminal { .. } => "ProviderRejected",
                crate::controller::ports::RemoteError::NotFound => "ProviderNotFound",
                crate::controller::ports::RemoteError::AuthRejected { .. } => "CredentialsRejected",
                crate::controller::ports::RemoteError::Recoverable { .. } => "ProviderUnavailable",
                crate::controller::ports::RemoteError::NotOwned { .. } => "RemoteObjectNotOwned",
            }),
        }
    })
}
