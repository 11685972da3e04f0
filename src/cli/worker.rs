//! `tunegate worker validate`: the volume pipeline inside a worker Job. It has no API token; it
//! reads mounted files, runs the pipeline, and writes a small JSON result (counts, digests and
//! codes only) to its termination message.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;

use crate::controller::worker::{SPEC_ENV, WorkerResult};
use tunegate_api::TrainingDatasetSpec;

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

fn inputs(sources: &[PathBuf], key_file: Option<&PathBuf>) -> Result<Inputs, &'static str> {
    let spec_json = std::env::var(SPEC_ENV).map_err(|_| "SpecMissing")?;
    let spec =
        serde_json::from_str::<TrainingDatasetSpec>(&spec_json).map_err(|_| "SpecInvalid")?;
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
    let (spec, key, mut input) = match inputs(&args.sources, args.key_file.as_ref()) {
        Ok(i) => i,
        Err(code) => return err(code),
    };
    match crate::controller::pipeline::run(&spec, &mut input, key.as_deref(), &mut std::io::sink())
    {
        Ok(s) => WorkerResult::Summary(s),
        Err(e) => err(e.reason().as_str()),
    }
}

fn upload(args: &UploadArgs) -> WorkerResult {
    use crate::controller::finetune::upload::{self, StreamRequest, Streamed};
    use crate::controller::ports::RemoteFactory;
    let (spec, key, input) = match inputs(&args.sources, args.key_file.as_ref()) {
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
