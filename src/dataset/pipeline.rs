//! The streaming pipeline shared by the operator, the worker and the CLI:
//! source bytes -> JSONL reader -> format validation -> redaction -> LF-terminated output, with
//! SHA-256 digests of the source and output bytes, counts, token estimates and the first format
//! errors. Deterministic, one line in memory at a time.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::jsonl::{ConcatSources, DEFAULT_MAX_LINE_BYTES, DigestingReader, JsonlReader};
use super::tokens::{DEFAULT_LIMITS, ModelLimits, TokenCounter, TokenizerError, limits_for_model};
use super::validate::{FormatCode, validate_line};
use crate::api::{DatasetFormat, FormatErrorRef, TrainingDatasetStatus, ValidationSpec};

/// How many format errors the summary keeps (the status shows at most 10).
pub const DEFAULT_MAX_FORMAT_ERRORS: usize = 10;

/// Concatenates sources in order without merging the last line of one with the first of the next.
pub fn concat_sources<R: Read>(sources: Vec<R>) -> BufReader<ConcatSources<R>> {
    BufReader::with_capacity(64 * 1024, ConcatSources::new(sources))
}

/// What redaction did with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedactOutcome {
    /// Nothing found; `out` holds the line as it should be written.
    Unchanged,
    /// Something was replaced; `out` holds the rewritten line.
    Redacted,
    /// DropExample: the line is left out of the output.
    Dropped,
    /// Reject mode found something: the dataset must not be used.
    Rejected,
}

/// Redaction could not process a line; `code` is stable and names no content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("redaction failed ({code})")]
pub struct RedactLineError {
    pub code: &'static str,
}

/// The redaction step, as the pipeline sees it. The redaction engine implements it; `NoRedaction`
/// passes lines through (for `tunegate check`).
pub trait LineRedactor {
    /// Counts accumulated over a run; never values.
    type Report: Default;

    /// Redacts one validated JSONL line into `out` (cleared by the caller).
    fn redact_line(
        &self,
        line: &str,
        out: &mut String,
        report: &mut Self::Report,
    ) -> Result<RedactOutcome, RedactLineError>;

    /// Findings per entity type in `report`.
    fn findings(report: &Self::Report) -> BTreeMap<String, u64>;
}

/// Passes every line through unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRedaction;

impl LineRedactor for NoRedaction {
    type Report = ();

    fn redact_line(
        &self,
        line: &str,
        out: &mut String,
        _: &mut (),
    ) -> Result<RedactOutcome, RedactLineError> {
        out.push_str(line);
        Ok(RedactOutcome::Unchanged)
    }

    fn findings(_: &()) -> BTreeMap<String, u64> {
        BTreeMap::new()
    }
}

/// Pipeline settings.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    pub format: DatasetFormat,
    pub limits: ModelLimits,
    pub min_examples: u64,
    pub max_line_bytes: usize,
    pub max_format_errors: usize,
    /// Keep per-example token and message counts for percentiles (the CLI's statistics).
    pub collect_distribution: bool,
}

/// The configured model is not in the token-limit table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model {model:?}: no tokenizer or per-example token limit is known for it")]
pub struct UnknownModel {
    pub model: String,
}

impl PipelineOptions {
    /// Defaults: gpt-4o-mini limits, at least 10 examples, 64 MiB lines, 10 errors kept.
    pub fn new(format: DatasetFormat) -> Self {
        Self {
            format,
            limits: DEFAULT_LIMITS,
            min_examples: 10,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_format_errors: DEFAULT_MAX_FORMAT_ERRORS,
            collect_distribution: false,
        }
    }

    /// Options for a TrainingDataset's `format` and `validation`.
    pub fn from_spec(
        format: DatasetFormat,
        validation: &ValidationSpec,
    ) -> Result<Self, UnknownModel> {
        let mut options = Self::new(format);
        options.min_examples = u64::from(validation.min_examples);
        if let Some(model) = &validation.model {
            options.limits = limits_for_model(model).ok_or_else(|| UnknownModel {
                model: model.clone(),
            })?;
        }
        Ok(options)
    }
}

/// Why the pipeline could not finish. Format problems are not errors: they are in the summary.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The input could not be read (the source is unreadable, not malformed).
    #[error("cannot read input at line {line}: {source}")]
    Read {
        line: u64,
        #[source]
        source: io::Error,
    },
    /// The output sink failed.
    #[error("cannot write output: {0}")]
    Write(#[source] io::Error),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
}

/// The verdict on a dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every line valid, nothing rejected, enough examples.
    Valid,
    /// Format errors; `codes` are the distinct codes found, sorted.
    Invalid { codes: Vec<String> },
    /// Reject mode found sensitive data in `lines` examples.
    Rejected { lines: u64 },
    /// Valid, but fewer examples than required after redaction.
    TooFewExamples { found: u64, required: u64 },
}

impl Outcome {
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid)
    }
}

/// Per-example statistics over the output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExampleStats {
    pub tokens_min: u64,
    pub tokens_max: u64,
    pub messages_min: u32,
    pub messages_max: u32,
    pub messages_total: u64,
    /// Examples that define tools or functions.
    pub with_tools: u64,
    /// Per-example token counts, in order (only with `collect_distribution`).
    pub tokens: Vec<u32>,
    /// Per-example message counts, in order (only with `collect_distribution`).
    pub messages: Vec<u32>,
}

/// Result of one pipeline run; maps onto `TrainingDatasetStatus`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineSummary {
    pub outcome: Outcome,
    /// Lines read.
    pub lines: u64,
    /// Examples written to the output.
    pub examples: u64,
    pub dropped_examples: u64,
    pub rejected_examples: u64,
    /// Tokens of the output examples (one epoch), counted with the model's encoding.
    pub estimated_tokens: u64,
    pub source_bytes: u64,
    pub source_digest: String,
    /// Bytes written to the output.
    pub redacted_bytes: u64,
    pub redacted_digest: String,
    pub findings: BTreeMap<String, u64>,
    /// The first `max_format_errors` format errors.
    pub format_errors: Vec<FormatErrorRef>,
    /// All format errors, per code.
    pub format_error_counts: BTreeMap<String, u64>,
    pub stats: ExampleStats,
}

impl PipelineSummary {
    /// Copies counts, digests, findings and errors into a status (conditions are the caller's).
    pub fn apply_to(&self, status: &mut TrainingDatasetStatus) {
        status.examples = Some(self.examples);
        status.dropped_examples = Some(self.dropped_examples);
        status.estimated_tokens = Some(self.estimated_tokens);
        status.redacted_bytes = Some(self.redacted_bytes);
        status.source_digest = Some(self.source_digest.clone());
        status.redacted_digest = Some(self.redacted_digest.clone());
        status.findings = self.findings.clone();
        status.format_errors = self.format_errors.clone();
    }

    /// Total format errors.
    pub fn format_error_total(&self) -> u64 {
        self.format_error_counts.values().sum()
    }
}

/// Runs the pipeline over `input` (the concatenated source bytes), writing output lines to `sink`.
/// Returns the summary and the redactor's report.
pub fn run<I, W, R>(
    input: I,
    sink: &mut W,
    redactor: &R,
    options: &PipelineOptions,
) -> Result<(PipelineSummary, R::Report), PipelineError>
where
    I: BufRead,
    W: Write + ?Sized,
    R: LineRedactor,
{
    let counter = TokenCounter::new(options.limits.encoding)?;
    let mut reader = JsonlReader::new(DigestingReader::new(input), options.max_line_bytes);
    let mut output = DigestingWriter::new(BufWriter::with_capacity(64 * 1024, sink));
    let mut report = R::Report::default();
    let mut errors = ErrorLog::new(options.max_format_errors);
    let mut stats = ExampleStats::default();
    let mut examples = 0u64;
    let mut dropped = 0u64;
    let mut rejected = 0u64;
    let mut tokens_total = 0u64;
    let mut out = String::new();

    while let Some(item) = reader.next_line() {
        let line = match item {
            Ok(line) => line,
            Err(err) => match FormatCode::from_read_error(&err) {
                Some(code) => {
                    errors.push(err.line, code.as_str());
                    continue;
                }
                None => {
                    let line = err.line;
                    let source = match err.kind {
                        super::jsonl::ReadErrorKind::Io(e) => e,
                        _ => io::Error::other("read failed"),
                    };
                    return Err(PipelineError::Read { line, source });
                }
            },
        };
        let number = line.number;
        let (value, shape) = match validate_line(options.format, line.text) {
            Ok(parsed) => parsed,
            Err(code) => {
                errors.push(number, code.as_str());
                continue;
            }
        };
        out.clear();
        let outcome = match redactor.redact_line(line.text, &mut out, &mut report) {
            Ok(outcome) => outcome,
            Err(e) => {
                errors.push(number, e.code);
                continue;
            }
        };
        let tokens = match outcome {
            RedactOutcome::Dropped => {
                dropped += 1;
                continue;
            }
            RedactOutcome::Rejected => {
                rejected += 1;
                continue;
            }
            RedactOutcome::Unchanged if out == line.text => counter.example(options.format, &value),
            RedactOutcome::Unchanged | RedactOutcome::Redacted => {
                match serde_json::from_str::<Value>(&out) {
                    Ok(redacted) => counter.example(options.format, &redacted),
                    Err(_) => {
                        errors.push(number, "redaction_invalid_json");
                        continue;
                    }
                }
            }
        };
        if tokens > options.limits.max_example_tokens {
            errors.push(number, FormatCode::TooManyTokens.as_str());
            continue;
        }
        output.write_line(&out).map_err(PipelineError::Write)?;
        examples += 1;
        tokens_total += tokens;
        stats.record(
            tokens,
            shape.messages,
            shape.has_tools,
            examples == 1,
            options.collect_distribution,
        );
    }

    let lines = reader.lines_read();
    let (source_digest, source_bytes) = reader.into_inner().finish();
    let (redacted_digest, redacted_bytes) = output.finish().map_err(PipelineError::Write)?;
    let outcome = if !errors.counts.is_empty() {
        Outcome::Invalid {
            codes: errors.counts.keys().cloned().collect(),
        }
    } else if rejected > 0 {
        Outcome::Rejected { lines: rejected }
    } else if examples < options.min_examples {
        errors.push(0, FormatCode::TooFewExamples.as_str());
        Outcome::TooFewExamples {
            found: examples,
            required: options.min_examples,
        }
    } else {
        Outcome::Valid
    };
    let summary = PipelineSummary {
        outcome,
        lines,
        examples,
        dropped_examples: dropped,
        rejected_examples: rejected,
        estimated_tokens: tokens_total,
        source_bytes,
        source_digest,
        redacted_bytes,
        redacted_digest,
        findings: R::findings(&report),
        format_errors: errors.first,
        format_error_counts: errors.counts,
        stats,
    };
    Ok((summary, report))
}

impl ExampleStats {
    fn record(&mut self, tokens: u64, messages: u32, has_tools: bool, first: bool, keep: bool) {
        if first {
            self.tokens_min = tokens;
            self.messages_min = messages;
        }
        self.tokens_min = self.tokens_min.min(tokens);
        self.tokens_max = self.tokens_max.max(tokens);
        self.messages_min = self.messages_min.min(messages);
        self.messages_max = self.messages_max.max(messages);
        self.messages_total += u64::from(messages);
        self.with_tools += u64::from(has_tools);
        if keep {
            self.tokens.push(u32::try_from(tokens).unwrap_or(u32::MAX));
            self.messages.push(messages);
        }
    }
}

struct ErrorLog {
    first: Vec<FormatErrorRef>,
    counts: BTreeMap<String, u64>,
    max: usize,
}

impl ErrorLog {
    fn new(max: usize) -> Self {
        Self {
            first: Vec::new(),
            counts: BTreeMap::new(),
            max,
        }
    }

    fn push(&mut self, line: u64, code: &str) {
        if self.first.len() < self.max {
            self.first.push(FormatErrorRef {
                line,
                code: code.to_string(),
            });
        }
        *self.counts.entry(code.to_string()).or_default() += 1;
    }
}

/// Writes LF-terminated lines, hashing and counting exactly the bytes written.
struct DigestingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> DigestingWriter<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    fn write_line(&mut self, line: &str) -> io::Result<()> {
        self.inner.write_all(line.as_bytes())?;
        self.inner.write_all(b"\n")?;
        self.hasher.update(line.as_bytes());
        self.hasher.update(b"\n");
        self.bytes += line.len() as u64 + 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<(String, u64)> {
        self.inner.flush()?;
        Ok((
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.bytes,
        ))
    }
}
