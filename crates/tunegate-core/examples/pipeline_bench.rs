//! Throughput of the dataset pipeline on a JSONL file, with and without redaction.
//!
//!   cargo run --release -p tunegate-core --example pipeline_bench -- FILE [THREADS]
//!
//! Prints MB/s for: validation + token counting; and validation + redaction (Mask, every built-in
//! detector) + token counting + digests, the path the operator and the worker run. Each pass is
//! timed in wall seconds and in CPU seconds of the whole process (user + system, every thread:
//! on a shared host the CPU rate is the fairer per-core measure).

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
    let cpu0 = process_cpu_secs();
    let (summary, _) = pipeline::run(input, &mut sink(), redactor, options)?;
    let secs = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, process_cpu_secs()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    let mb = summary.source_bytes as f64 / 1e6;
    println!(
        "{label} ({} threads): {mb:.1} MB, {} examples, {} tokens, {} findings in {secs:.2} s = {:.1} MB/s wall, cpu {cpu:.2} s = {:.1} MB/s",
        options.threads,
        summary.examples,
        summary.estimated_tokens,
        summary.findings.values().sum::<u64>(),
        mb / secs,
        mb / cpu
    );
    // To compare two builds: the output must be byte-identical.
    println!(
        "  output {} bytes, sha256 {}",
        summary.redacted_bytes, summary.redacted_digest
    );
    Ok(())
}

/// User + system CPU seconds of this process, every thread (Linux: /proc/self/stat fields 14 and
/// 15, in clock ticks of 1/100 s).
fn process_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
