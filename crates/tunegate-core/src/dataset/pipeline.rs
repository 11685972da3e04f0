//! The streaming pipeline shared by the operator, the worker and the CLI:
//! source bytes -> JSONL reader -> format validation -> redaction -> LF-terminated output, with
//! SHA-256 digests of the source and output bytes, counts, token estimates and the first format
//! errors. Deterministic whatever the thread count; memory bounded by the batches in flight.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};

use sha2::{Digest, Sha256};

use super::jsonl::{ConcatSources, DEFAULT_MAX_LINE_BYTES, DigestingReader, JsonlReader};
use super::parallel;
use super::tokens::{
    CountCache, DEFAULT_LIMITS, ModelLimits, TokenCounter, TokenizerError, limits_for_model,
};
use super::validate::{ExampleShape, FormatCode};
use super::validate_raw::validate_line_raw;
use tunegate_api::{DatasetFormat, FormatErrorRef, ValidationSpec};

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
pub trait LineRedactor: Sync {
    /// Counts accumulated over a run; never values. Each worker thread keeps its own per batch.
    type Report: Default + Send;

    /// Redacts one validated JSONL line, appending the output line (without terminator) to `out`
    /// unless the example is dropped or rejected.
    fn redact_line(
        &self,
        line: &str,
        out: &mut String,
        report: &mut Self::Report,
    ) -> Result<RedactOutcome, RedactLineError>;

    /// Findings per entity type in `report`.
    fn findings(report: &Self::Report) -> BTreeMap<String, u64>;

    /// Adds the counts of `from` (a batch processed on another thread) to `into`.
    fn merge_reports(into: &mut Self::Report, from: Self::Report);
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

    fn merge_reports(_: &mut (), (): ()) {}
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
    /// Worker threads that validate, redact and count tokens; output, digests and counts never
    /// depend on it.
    pub threads: usize,
}

/// The configured model is not in the token-limit table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown model {model:?}: no tokenizer or per-example token limit is known for it")]
pub struct UnknownModel {
    pub model: String,
}

impl PipelineOptions {
    /// Defaults: gpt-4o-mini limits, at least 10 examples, 16 MiB lines, 10 errors kept.
    pub fn new(format: DatasetFormat) -> Self {
        Self {
            format,
            limits: DEFAULT_LIMITS,
            min_examples: 10,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_format_errors: DEFAULT_MAX_FORMAT_ERRORS,
            collect_distribution: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
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

/// Runs the pipeline over `input` (the concatenated source bytes), writing output lines to `sink`.
/// Returns the summary and the redactor's report.
///
/// The calling thread reads lines into batches (bounded in bytes and lines); `options.threads`
/// workers validate, redact and count tokens of whole batches; the calling thread writes the
/// results in input order. Output, digests, counts and errors do not depend on the thread count;
/// memory is bounded by the batches in flight (see [`parallel::Bounds`]).
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

    let produce = || -> Result<Option<InBatch>, PipelineError> {
        let mut batch = InBatch::default();
        while !batch.is_full() {
            let Some(item) = reader.next_line() else {
                break;
            };
            match item {
                Ok(line) => {
                    let start = batch.text.len();
                    batch.text.push_str(line.text);
                    batch.items.push(Input::Line {
                        number: line.number,
                        start,
                        end: batch.text.len(),
                    });
                }
                Err(err) => match FormatCode::from_read_error(&err) {
                    Some(code) => batch.items.push(Input::Error {
                        number: err.line,
                        code: code.as_str(),
                    }),
                    None => {
                        let line = err.line;
                        let source = match err.kind {
                            super::jsonl::ReadErrorKind::Io(e) => e,
                            _ => io::Error::other("read failed"),
                        };
                        return Err(PipelineError::Read { line, source });
                    }
                },
            }
        }
        Ok((!batch.items.is_empty()).then_some(batch))
    };
    let work = |cache: &mut CountCache, batch: InBatch| -> OutBatch<R::Report> {
        process_batch(redactor, &counter, options, cache, &batch)
    };
    let consume = |done: OutBatch<R::Report>| -> Result<(), PipelineError> {
        R::merge_reports(&mut report, done.report);
        for item in done.items {
            match item {
                Done::Error { number, code } => errors.push(number, code),
                Done::Dropped => dropped += 1,
                Done::Rejected => rejected += 1,
                Done::Line {
                    start,
                    end,
                    tokens,
                    shape,
                } => {
                    output
                        .write_line(&done.text[start..end])
                        .map_err(PipelineError::Write)?;
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
            }
        }
        Ok(())
    };
    parallel::ordered(
        parallel::Bounds::new(options.threads, IN_FLIGHT_BYTES),
        produce,
        |b: &InBatch| b.text.len(),
        CountCache::new,
        work,
        consume,
    )?;

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

/// Validates, redacts and counts the tokens of one batch (on a worker thread).
fn process_batch<R: LineRedactor>(
    redactor: &R,
    counter: &TokenCounter,
    options: &PipelineOptions,
    cache: &mut CountCache,
    batch: &InBatch,
) -> OutBatch<R::Report> {
    let mut out = OutBatch {
        text: String::with_capacity(batch.text.len() + batch.text.len() / 8),
        items: Vec::with_capacity(batch.items.len()),
        report: R::Report::default(),
    };
    for item in &batch.items {
        let (number, line) = match *item {
            Input::Error { number, code } => {
                out.items.push(Done::Error { number, code });
                continue;
            }
            Input::Line { number, start, end } => (number, &batch.text[start..end]),
        };
        // Validated from its text in place: a parsed tree would be many times the line's size.
        let shape = match validate_line_raw(options.format, line) {
            Ok(shape) => shape,
            Err(code) => {
                out.items.push(Done::Error {
                    number,
                    code: code.as_str(),
                });
                continue;
            }
        };
        let start = out.text.len();
        let outcome = match redactor.redact_line(line, &mut out.text, &mut out.report) {
            Ok(outcome) => outcome,
            Err(e) => {
                out.text.truncate(start);
                out.items.push(Done::Error {
                    number,
                    code: e.code,
                });
                continue;
            }
        };
        match outcome {
            RedactOutcome::Dropped => {
                out.text.truncate(start);
                out.items.push(Done::Dropped);
                continue;
            }
            RedactOutcome::Rejected => {
                out.text.truncate(start);
                out.items.push(Done::Rejected);
                continue;
            }
            RedactOutcome::Unchanged | RedactOutcome::Redacted => {}
        }
        // Tokens are those of the output line, counted from its text; counting stops past the
        // model's limit (such a line is refused anyway). An output equal to the input line was
        // syntax-checked by validation: it is not parsed again.
        let output = &out.text[start..];
        let tokens = if output == line {
            Some(counter.line_syntax_ok(
                options.format,
                output,
                cache,
                options.limits.max_example_tokens,
            ))
        } else {
            counter.line(
                options.format,
                output,
                cache,
                options.limits.max_example_tokens,
            )
        };
        let Some(tokens) = tokens else {
            out.text.truncate(start);
            out.items.push(Done::Error {
                number,
                code: "redaction_invalid_json",
            });
            continue;
        };
        if tokens > options.limits.max_example_tokens {
            out.text.truncate(start);
            out.items.push(Done::Error {
                number,
                code: FormatCode::TooManyTokens.as_str(),
            });
            continue;
        }
        out.items.push(Done::Line {
            start,
            end: out.text.len(),
            tokens,
            shape,
        });
    }
    out
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

/// Lines read and not yet processed: their text back to back, and where each one is.
#[derive(Default)]
struct InBatch {
    text: String,
    items: Vec<Input>,
}

/// One input line (a range of `InBatch::text`), or a line the reader could not return.
enum Input {
    Line {
        number: u64,
        start: usize,
        end: usize,
    },
    Error {
        number: u64,
        code: &'static str,
    },
}

/// A processed batch: output lines back to back, what happened to each input line, in order, and
/// the redactor's counts for the batch.
struct OutBatch<Rep> {
    text: String,
    items: Vec<Done>,
    report: Rep,
}

enum Done {
    Error {
        number: u64,
        code: &'static str,
    },
    Dropped,
    Rejected,
    Line {
        start: usize,
        end: usize,
        tokens: u64,
        shape: ExampleShape,
    },
}

/// Batch bounds: memory stays bounded, and each batch has enough work for one thread.
const BATCH_BYTES: usize = 1024 * 1024;
/// Small in tests, so that test inputs span many batches.
const BATCH_ITEMS: usize = if cfg!(test) { 7 } else { 4096 };
/// Input bytes in flight (read and not yet written) before the reader waits; one batch is always
/// allowed, so a single line longer than this still goes through on its own.
const IN_FLIGHT_BYTES: usize = 8 * 1024 * 1024;

impl InBatch {
    fn is_full(&self) -> bool {
        self.text.len() >= BATCH_BYTES || self.items.len() >= BATCH_ITEMS
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

    /// Keeps the `max` errors with the smallest line numbers, in line order (errors of a batch
    /// can arrive after errors of later lines).
    fn push(&mut self, line: u64, code: &str) {
        let at = self.first.partition_point(|e| e.line <= line);
        if at < self.max {
            self.first.insert(
                at,
                FormatErrorRef {
                    line,
                    code: code.to_string(),
                },
            );
            self.first.truncate(self.max);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Masks the word SECRET, drops lines with DROP, rejects lines with REJECT.
    struct FakeRedactor;

    impl LineRedactor for FakeRedactor {
        type Report = BTreeMap<String, u64>;

        fn redact_line(
            &self,
            line: &str,
            out: &mut String,
            report: &mut Self::Report,
        ) -> Result<RedactOutcome, RedactLineError> {
            if line.contains("REJECT") {
                return Ok(RedactOutcome::Rejected);
            }
            if line.contains("DROP") {
                return Ok(RedactOutcome::Dropped);
            }
            let n = line.matches("SECRET").count() as u64;
            out.push_str(&line.replace("SECRET", "[SECRET]"));
            if n == 0 {
                return Ok(RedactOutcome::Unchanged);
            }
            *report.entry("SECRET".into()).or_default() += n;
            Ok(RedactOutcome::Redacted)
        }

        fn findings(report: &Self::Report) -> BTreeMap<String, u64> {
            report.clone()
        }

        fn merge_reports(into: &mut Self::Report, from: Self::Report) {
            for (k, v) in from {
                *into.entry(k).or_default() += v;
            }
        }
    }

    fn example(text: &str) -> String {
        format!(
            r#"{{"messages":[{{"role":"user","content":"{text}"}},{{"role":"assistant","content":"ok"}}]}}"#
        )
    }

    fn lines(n: usize) -> Vec<String> {
        (0..n).map(|i| example(&format!("question {i}"))).collect()
    }

    fn run_fake(input: &[u8], options: &PipelineOptions) -> (PipelineSummary, Vec<u8>) {
        let mut out = Vec::new();
        let (summary, _) = run(
            Cursor::new(input.to_vec()),
            &mut out,
            &FakeRedactor,
            options,
        )
        .unwrap();
        (summary, out)
    }

    fn sha(bytes: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
    }

    fn opts() -> PipelineOptions {
        PipelineOptions::new(DatasetFormat::Chat)
    }

    #[test]
    fn valid_dataset_digests_and_counts() {
        let mut src = lines(10);
        src[3] = example("my SECRET and SECRET");
        src[7] = example("please DROP me");
        src.push(example("eleventh"));
        let input = format!("\u{FEFF}{}", src.join("\r\n"));
        let (summary, out) = run_fake(input.as_bytes(), &opts());

        assert_eq!(summary.outcome, Outcome::Valid);
        assert_eq!(summary.lines, 11);
        assert_eq!(summary.examples, 10);
        assert_eq!(summary.dropped_examples, 1);
        assert_eq!(
            summary.findings,
            BTreeMap::from([("SECRET".to_string(), 2)])
        );
        assert_eq!(summary.source_digest, sha(input.as_bytes()));
        assert_eq!(summary.source_bytes, input.len() as u64);
        assert_eq!(summary.redacted_digest, sha(&out));
        assert_eq!(summary.redacted_bytes, out.len() as u64);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains('\r') && !text.contains('\u{FEFF}') && text.ends_with('\n'));
        assert_eq!(text.lines().count(), 10);
        assert!(text.contains("my [SECRET] and [SECRET]"));
        assert!(!text.contains("DROP"));
        assert!(summary.format_errors.is_empty());

        // Tokens are those of the output examples.
        let counter = TokenCounter::new(Encoding::O200kBase).unwrap();
        let expected: u64 = text
            .lines()
            .map(|l| counter.example(DatasetFormat::Chat, &serde_json::from_str(l).unwrap()))
            .sum();
        assert_eq!(summary.estimated_tokens, expected);
        assert_eq!(summary.stats.messages_min, 2);
        assert_eq!(summary.stats.messages_total, 20);

        assert_eq!(summary.examples, 10);
        assert_eq!(summary.dropped_examples, 1);
    }

    use super::super::tokens::Encoding;

    #[test]
    fn runs_are_deterministic() {
        let input = lines(12).join("\n");
        let a = run_fake(input.as_bytes(), &opts());
        let b = run_fake(input.as_bytes(), &opts());
        assert_eq!(a, b);
    }

    #[test]
    fn format_errors_keep_first_ten_with_lines_and_codes() {
        let mut src = lines(10);
        for _ in 0..12 {
            src.push(r#"{"messages":[{"role":"user","content":"x"}]}"#.to_string());
        }
        src.insert(2, String::new());
        src.insert(4, "not json".to_string());
        let input = src.join("\n");
        let (summary, out) = run_fake(input.as_bytes(), &opts());
        assert_eq!(
            summary.outcome,
            Outcome::Invalid {
                codes: vec![
                    "blank_line".into(),
                    "example_missing_assistant_message".into(),
                    "invalid_json".into()
                ]
            }
        );
        assert_eq!(summary.format_errors.len(), 10);
        assert_eq!(
            summary.format_errors[0],
            FormatErrorRef {
                line: 3,
                code: "blank_line".into()
            }
        );
        assert_eq!(
            summary.format_errors[1],
            FormatErrorRef {
                line: 5,
                code: "invalid_json".into()
            }
        );
        assert_eq!(summary.format_errors[2].line, 13);
        assert_eq!(summary.format_error_counts.values().sum::<u64>(), 14);
        assert_eq!(summary.examples, 10);
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 10);
    }

    #[test]
    fn thread_count_changes_nothing() {
        let mut src = lines(300);
        for i in (0..300).step_by(17) {
            src[i] = example(&"word ".repeat(60));
        }
        for i in (5..300).step_by(23) {
            src[i] = "{}".to_string();
        }
        src[42] = example("SECRET");
        let input = src.join("\n");
        let mut options = opts();
        options.limits.max_example_tokens = 40;
        options.collect_distribution = true;
        options.threads = 1;
        let single = run_fake(input.as_bytes(), &options);
        options.threads = 3;
        let multi = run_fake(input.as_bytes(), &options);
        assert_eq!(single, multi);
        let lines: Vec<u64> = single.0.format_errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![1, 6, 18, 29, 35, 52, 52 + 17, 75, 86, 98]);
        assert_eq!(single.0.format_error_counts["too_many_tokens"], 17); // line 52 is also a `{}` line
        assert_eq!(single.0.format_error_counts["missing_messages_list"], 13);
    }

    #[test]
    fn too_few_examples_is_its_own_outcome() {
        let input = lines(9).join("\n");
        let (summary, _) = run_fake(input.as_bytes(), &opts());
        assert_eq!(
            summary.outcome,
            Outcome::TooFewExamples {
                found: 9,
                required: 10
            }
        );
        assert_eq!(
            summary.format_errors,
            vec![FormatErrorRef {
                line: 0,
                code: "too_few_examples".into()
            }]
        );

        // Dropped examples do not count towards the minimum.
        let mut src = lines(10);
        src[0] = example("DROP");
        let (summary, _) = run_fake(src.join("\n").as_bytes(), &opts());
        assert!(matches!(
            summary.outcome,
            Outcome::TooFewExamples { found: 9, .. }
        ));
    }

    #[test]
    fn rejection_is_reported_and_nothing_rejected_is_written() {
        let mut src = lines(11);
        src[5] = example("REJECT this");
        let (summary, out) = run_fake(src.join("\n").as_bytes(), &opts());
        assert_eq!(summary.outcome, Outcome::Rejected { lines: 1 });
        assert_eq!(summary.rejected_examples, 1);
        assert!(!String::from_utf8(out).unwrap().contains("REJECT"));
    }

    #[test]
    fn too_many_tokens_uses_the_model_limit() {
        let mut options = opts();
        options.limits.max_example_tokens = 20;
        let mut src = lines(10);
        src.push(example(&"word ".repeat(50)));
        let (summary, _) = run_fake(src.join("\n").as_bytes(), &options);
        assert_eq!(
            summary.format_errors,
            vec![FormatErrorRef {
                line: 11,
                code: "too_many_tokens".into()
            }]
        );
        assert!(!summary.outcome.is_valid());
    }

    #[test]
    fn over_long_lines_are_format_errors() {
        let mut options = opts();
        options.max_line_bytes = 100;
        let mut src = lines(10);
        src.push(example(&"x".repeat(200)));
        let input = src.join("\n");
        let (summary, _) = run_fake(input.as_bytes(), &options);
        assert_eq!(
            summary.format_errors,
            vec![FormatErrorRef {
                line: 11,
                code: "line_too_long".into()
            }]
        );
        assert_eq!(summary.source_bytes, input.len() as u64);
        assert_eq!(summary.source_digest, sha(input.as_bytes()));
    }

    #[test]
    fn concatenated_sources_keep_lines_apart() {
        let a = lines(5).join("\n");
        let b = lines(5).join("\n") + "\n";
        let input = concat_sources(vec![
            Cursor::new(a.clone().into_bytes()),
            Cursor::new(b.clone().into_bytes()),
        ]);
        let mut out = Vec::new();
        let (summary, ()) = run(input, &mut out, &NoRedaction, &opts()).unwrap();
        assert_eq!(summary.outcome, Outcome::Valid);
        assert_eq!(summary.examples, 10);
        assert_eq!(summary.source_digest, sha(format!("{a}\n{b}").as_bytes()));
        // Pass-through output of LF input is the input itself.
        assert_eq!(out, format!("{a}\n{b}").into_bytes());
    }

    #[test]
    fn from_spec_reads_model_and_minimum() {
        let spec = ValidationSpec {
            model: Some("gpt-3.5-turbo-0125".into()),
            min_examples: 3,
        };
        let o = PipelineOptions::from_spec(DatasetFormat::Completion, &spec).unwrap();
        assert_eq!((o.min_examples, o.limits.max_example_tokens), (3, 16_385));
        let bad = ValidationSpec {
            model: Some("mystery".into()),
            min_examples: 10,
        };
        assert!(PipelineOptions::from_spec(DatasetFormat::Chat, &bad).is_err());
    }

    #[test]
    fn real_redactor_masks_and_reports_findings() {
        use crate::redact::Redactor;
        use tunegate_api::{RedactionMode, RedactionPolicy};
        let mut src = lines(10);
        src[4] = example("mail me at jane.doe@example.com");
        let input = src.join("\n");
        let redactor = Redactor::new(&RedactionPolicy::default(), None).unwrap();
        let mut out = Vec::new();
        let (summary, report) =
            run(Cursor::new(input.clone()), &mut out, &redactor, &opts()).unwrap();
        assert_eq!(summary.outcome, Outcome::Valid);
        assert_eq!(summary.findings.get("EMAIL_ADDRESS"), Some(&1));
        assert_eq!(report.redacted_examples, 1);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("jane.doe@example.com"));
        assert!(text.contains("[EMAIL_ADDRESS]"));
        assert_eq!(summary.redacted_digest, sha(text.as_bytes()));

        let policy = RedactionPolicy {
            mode: RedactionMode::DropExample,
            ..RedactionPolicy::default()
        };
        let redactor = Redactor::new(&policy, None).unwrap();
        let (summary, _) = run(
            Cursor::new(input.clone()),
            &mut Vec::new(),
            &redactor,
            &opts(),
        )
        .unwrap();
        assert_eq!((summary.examples, summary.dropped_examples), (9, 1));
        assert!(matches!(
            summary.outcome,
            Outcome::TooFewExamples { found: 9, .. }
        ));

        let policy = RedactionPolicy {
            mode: RedactionMode::Reject,
            ..RedactionPolicy::default()
        };
        let redactor = Redactor::new(&policy, None).unwrap();
        let (summary, _) = run(Cursor::new(input), &mut Vec::new(), &redactor, &opts()).unwrap();
        assert_eq!(summary.outcome, Outcome::Rejected { lines: 1 });
    }

    struct FailAfter(Vec<u8>);
    impl Read for FailAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("gone"));
            }
            let n = self.0.len().min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn read_failure_is_an_error_not_a_format_problem() {
        let input = BufReader::new(FailAfter(format!("{}\n", example("a")).into_bytes()));
        let err = run(input, &mut Vec::new(), &NoRedaction, &opts()).unwrap_err();
        assert!(matches!(err, PipelineError::Read { line: 2, .. }), "{err}");
    }
}
