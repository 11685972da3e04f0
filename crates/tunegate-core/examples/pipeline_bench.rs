//! Throughput of the dataset pipeline on a JSONL file, with and without redaction.
//!
//!   cargo run --release -p tunegate-core --example pipeline_bench -- FILE [THREADS]
//!
//! Prints MB/s for: validation + token counting; and validation + redaction (Mask, every built-in
//! detector) + token counting + digests, the path the operator and the worker run.

use std::fs::File;
use std::io::{BufReader, sink};
use std::process::ExitCode;
use std::time::Instant;

use tunegate_api::{DatasetFormat, RedactionPolicy};
use tunegate_core::dataset::pipeline::{self, LineRedactor, NoRedaction, PipelineOptions};
use tunegate_core::redact::Redactor;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: pipeline_bench FILE [THREADS]");
        return ExitCode::from(2);
    };
    let mut options = PipelineOptions::new(DatasetFormat::Chat);
    if let Some(threads) = args.next().and_then(|t| t.parse().ok()) {
        options.threads = threads;
    }
    let redactor = match Redactor::new(&RedactionPolicy::default(), None) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pipeline_bench: {e}");
            return ExitCode::from(2);
        }
    };
    let result = measure("validate + tokens", &path, &NoRedaction, &options).and_then(|()| {
        measure(
            "validate + redact (mask, all detectors) + tokens",
            &path,
            &redactor,
            &options,
        )
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipeline_bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn measure<R: LineRedactor>(
    label: &str,
    path: &str,
    redactor: &R,
    options: &PipelineOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    let input = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let start = Instant::now();
    let (summary, _) = pipeline::run(input, &mut sink(), redactor, options)?;
    let secs = start.elapsed().as_secs_f64();
    let mb = summary.source_bytes as f64 / 1e6;
    println!(
        "{label} ({} threads): {mb:.1} MB, {} examples, {} tokens, {} findings in {secs:.2} s = {:.1} MB/s",
        options.threads,
        summary.examples,
        summary.estimated_tokens,
        summary.findings.values().sum::<u64>(),
        mb / secs
    );
    Ok(())
}
