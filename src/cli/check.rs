//! `tunegate check INPUT [--format F] [--model M] [--json]`: format validation and statistics.
//!
//! Exit codes: 0 valid, 1 invalid (format errors or too few examples), 2 unreadable input or
//! bad arguments. Errors are reported by line and code, never with content.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use tunegate_api::DatasetFormat;
use tunegate_core::dataset::jsonl::DEFAULT_MAX_LINE_BYTES;
use tunegate_core::dataset::pipeline::{
    self, NoRedaction, Outcome, PipelineOptions, PipelineSummary,
};
use tunegate_core::dataset::tokens::limits_for_model;

/// How many format errors `check` lists.
const MAX_LISTED_ERRORS: usize = 100;

pub const EXIT_VALID: u8 = 0;
pub const EXIT_INVALID: u8 = 1;
pub const EXIT_UNREADABLE: u8 = 2;

/// Data format names on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FormatArg {
    #[default]
    Chat,
    Completion,
    Preference,
    Reinforcement,
}

impl From<FormatArg> for DatasetFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Chat => DatasetFormat::Chat,
            FormatArg::Completion => DatasetFormat::Completion,
            FormatArg::Preference => DatasetFormat::Preference,
            FormatArg::Reinforcement => DatasetFormat::Reinforcement,
        }
    }
}

impl FormatArg {
    fn as_str(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Completion => "completion",
            Self::Preference => "preference",
            Self::Reinforcement => "reinforcement",
        }
    }
}

/// Arguments of `tunegate check`.
#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// JSONL file to check, or `-` for stdin.
    pub input: PathBuf,
    /// Training data format.
    #[arg(long, value_enum, default_value_t = FormatArg::Chat)]
    pub format: FormatArg,
    /// Base model: selects the tokenizer and the per-example token limit (default: gpt-4o-mini).
    #[arg(long)]
    pub model: Option<String>,
    /// Fewest examples required.
    #[arg(long, default_value_t = 10)]
    pub min_examples: u64,
    /// Longest accepted line in bytes; longer lines are `line_too_long` errors.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Summary statistics of a distribution.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Distribution {
    pub min: u64,
    pub max: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
}

impl Distribution {
    /// Nearest-rank percentiles; `None` for no values.
    pub fn of(values: &[u32]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let pct = |p: u64| {
            let rank = (p * sorted.len() as u64).div_ceil(100).max(1);
            u64::from(sorted[(rank - 1) as usize])
        };
        let sum: u64 = sorted.iter().map(|&v| u64::from(v)).sum();
        Some(Self {
            min: u64::from(sorted[0]),
            max: u64::from(sorted[sorted.len() - 1]),
            mean: sum as f64 / sorted.len() as f64,
            p50: pct(50),
            p90: pct(90),
            p95: pct(95),
            p99: pct(99),
        })
    }
}

/// One format error.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ErrorEntry {
    pub line: u64,
    pub code: String,
}

/// The report `check` prints (as JSON with `--json`).
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub valid: bool,
    pub format: &'static str,
    pub model: String,
    pub encoding: &'static str,
    pub max_example_tokens: u64,
    pub min_examples: u64,
    pub lines: u64,
    pub examples: u64,
    pub bytes: u64,
    pub source_digest: String,
    pub total_tokens: u64,
    pub tokens_per_example: Option<Distribution>,
    pub messages_per_example: Option<Distribution>,
    pub examples_with_tools: u64,
    /// Total format errors.
    pub error_count: u64,
    pub error_counts: BTreeMap<String, u64>,
    /// The first errors, by line.
    pub errors: Vec<ErrorEntry>,
}

/// Why `check` could not produce a verdict (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Options(#[from] pipeline::UnknownModel),
    #[error(transparent)]
    Pipeline(#[from] pipeline::PipelineError),
}

/// Checks `input` and builds the report.
pub fn check_reader<R: BufRead>(input: R, args: &CheckArgs) -> Result<CheckReport, CheckError> {
    let mut options = PipelineOptions::new(args.format.into());
    let model = match &args.model {
        Some(m) => {
            options.limits =
                limits_for_model(m).ok_or_else(|| pipeline::UnknownModel { model: m.clone() })?;
            m.clone()
        }
        None => options.limits.family.to_string(),
    };
    options.min_examples = args.min_examples;
    options.max_line_bytes = args.max_line_bytes;
    options.max_format_errors = MAX_LISTED_ERRORS;
    options.collect_distribution = true;
    let (summary, ()) = pipeline::run(input, &mut io::sink(), &NoRedaction, &options)?;
    Ok(report(summary, args, model, &options))
}

fn report(
    summary: PipelineSummary,
    args: &CheckArgs,
    model: String,
    options: &PipelineOptions,
) -> CheckReport {
    let PipelineSummary {
        outcome,
        lines,
        examples,
        estimated_tokens,
        source_bytes,
        source_digest,
        format_errors,
        format_error_counts,
        stats,
        ..
    } = summary;
    let messages_per_example = match args.format {
        FormatArg::Completion => None,
        _ => Distribution::of(&stats.messages),
    };
    CheckReport {
        valid: matches!(outcome, Outcome::Valid),
        format: args.format.as_str(),
        model,
        encoding: options.limits.encoding.as_str(),
        max_example_tokens: options.limits.max_example_tokens,
        min_examples: options.min_examples,
        lines,
        examples,
        bytes: source_bytes,
        source_digest,
        total_tokens: estimated_tokens,
        tokens_per_example: Distribution::of(&stats.tokens),
        messages_per_example,
        examples_with_tools: stats.with_tools,
        error_count: format_error_counts.values().sum(),
        error_counts: format_error_counts,
        errors: format_errors
            .into_iter()
            .map(|e| ErrorEntry {
                line: e.line,
                code: e.code,
            })
            .collect(),
    }
}

/// Runs `tunegate check`; returns the exit code. `stdin` serves `-`.
pub fn run<I: BufRead, O: Write, E: Write>(
    args: &CheckArgs,
    stdin: I,
    stdout: &mut O,
    stderr: &mut E,
) -> u8 {
    let result = if args.input.as_os_str() == "-" {
        check_reader(stdin, args)
    } else {
        match File::open(&args.input) {
            Ok(file) => check_reader(BufReader::with_capacity(256 * 1024, file), args),
            Err(source) => Err(CheckError::Open {
                path: args.input.display().to_string(),
                source,
            }),
        }
    };
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            let _ = writeln!(stderr, "tunegate check: {e}");
            return EXIT_UNREADABLE;
        }
    };
    let written = if args.json {
        serde_json::to_string_pretty(&report)
            .map_err(io::Error::other)
            .and_then(|s| writeln!(stdout, "{s}"))
    } else {
        write_text(&report, stdout)
    };
    if let Err(e) = written {
        let _ = writeln!(stderr, "tunegate check: cannot write report: {e}");
        return EXIT_UNREADABLE;
    }
    if report.valid {
        EXIT_VALID
    } else {
        EXIT_INVALID
    }
}

fn write_text<O: Write>(r: &CheckReport, out: &mut O) -> io::Result<()> {
    writeln!(out, "{}", if r.valid { "valid" } else { "invalid" })?;
    writeln!(
        out,
        "format {}, model {} ({}, at most {} tokens per example)",
        r.format, r.model, r.encoding, r.max_example_tokens
    )?;
    writeln!(
        out,
        "examples {} of {} lines (at least {} required), {} bytes, {}",
        r.examples, r.lines, r.min_examples, r.bytes, r.source_digest
    )?;
    writeln!(out, "tokens total {}", r.total_tokens)?;
    if let Some(d) = &r.tokens_per_example {
        write_distribution(out, "tokens per example", d)?;
    }
    if let Some(d) = &r.messages_per_example {
        write_distribution(out, "messages per example", d)?;
    }
    if r.examples_with_tools > 0 {
        writeln!(out, "examples with tools {}", r.examples_with_tools)?;
    }
    if r.error_count > 0 {
        let by_code: Vec<String> = r
            .error_counts
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        writeln!(out, "errors {}: {}", r.error_count, by_code.join(", "))?;
        for e in &r.errors {
            if e.line == 0 {
                writeln!(out, "  dataset: {}", e.code)?;
            } else {
                writeln!(out, "  line {}: {}", e.line, e.code)?;
            }
        }
        if r.error_count > r.errors.len() as u64 {
            writeln!(out, "  ... {} more", r.error_count - r.errors.len() as u64)?;
        }
    }
    Ok(())
}

fn write_distribution<O: Write>(out: &mut O, name: &str, d: &Distribution) -> io::Result<()> {
    writeln!(
        out,
        "{name}: min {}, max {}, mean {:.1}, p50 {}, p90 {}, p95 {}, p99 {}",
        d.min, d.max, d.mean, d.p50, d.p90, d.p95, d.p99
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u32> = (1..=100).collect();
        let d = Distribution::of(&values).unwrap();
        assert_eq!(
            (d.min, d.max, d.p50, d.p90, d.p95, d.p99),
            (1, 100, 50, 90, 95, 99)
        );
        assert!((d.mean - 50.5).abs() < 1e-9);
        let one = Distribution::of(&[7]).unwrap();
        assert_eq!((one.p50, one.p99), (7, 7));
        assert_eq!(Distribution::of(&[]), None);
    }
}
