//! `tunegate worker validate`: the volume pipeline inside a worker Job. It has no API token; it
//! reads mounted files, runs the pipeline, and writes a small JSON result (counts, digests and
//! codes only) to its termination message.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;

use crate::api::TrainingDatasetSpec;
use crate::controller::ports::DatasetPipeline;
use crate::controller::worker::{SPEC_ENV, WorkerResult};

/// Worker tasks.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum WorkerCommand {
    /// Validate and redact mounted sources; report the summary as the termination message.
    Validate(ValidateArgs),
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
pub fn run(cmd: &WorkerCommand, pipeline: &dyn DatasetPipeline) -> u8 {
    match cmd {
        WorkerCommand::Validate(args) => {
            let result = validate(args, pipeline);
            let code = match &result {
                WorkerResult::Summary(_) => 0,
                WorkerResult::Error { .. } => 1,
            };
            let text = serde_json::to_string(&result)
                .unwrap_or_else(|_| r#"{"error":{"code":"ResultEncoding"}}"#.to_string());
            match File::create(&args.termination_log).and_then(|mut f| f.write_all(text.as_bytes()))
            {
                Ok(()) => code,
                Err(_) => 2,
            }
        }
    }
}

fn err(code: &str) -> WorkerResult {
    WorkerResult::Error {
        code: code.to_string(),
    }
}

fn validate(args: &ValidateArgs, pipeline: &dyn DatasetPipeline) -> WorkerResult {
    let Ok(spec_json) = std::env::var(SPEC_ENV) else {
        return err("SpecMissing");
    };
    let Ok(spec) = serde_json::from_str::<TrainingDatasetSpec>(&spec_json) else {
        return err("SpecInvalid");
    };
    let key = match &args.key_file {
        Some(p) => match std::fs::read(p) {
            Ok(k) if !k.is_empty() => Some(k),
            _ => return err("KeyUnreadable"),
        },
        None => None,
    };
    let mut input: Box<dyn Read> = Box::new(std::io::empty());
    for p in &args.sources {
        match File::open(p) {
            Ok(f) => input = Box::new(input.chain(std::io::BufReader::new(f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return err("SourceFileNotFound"),
            Err(_) => return err("SourceFileUnreadable"),
        }
    }
    let mut input = input;
    match pipeline.run(&spec, &mut input, key.as_deref(), &mut std::io::sink()) {
        Ok(s) => WorkerResult::Summary(s),
        Err(e) => err(&e.code),
    }
}

/// `tunegate worker ...` with the real pipeline; returns the exit code.
pub fn main(cmd: &WorkerCommand) -> u8 {
    run(cmd, &crate::controller::adapters::RealPipeline)
}
