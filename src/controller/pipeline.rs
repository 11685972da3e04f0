//! The dataset pipeline as the controllers and the worker run it: `tunegate-core`'s streaming
//! read -> validate -> redact -> digest, configured from a `TrainingDatasetSpec`, with its result
//! in the small serializable form that status and the worker's termination message carry.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Write};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use tunegate_api::conditions::Reason;
use tunegate_api::{FormatErrorRef, TrainingDatasetSpec};
use tunegate_core::dataset::pipeline::{self, Outcome, PipelineOptions};
use tunegate_core::redact::Redactor;

/// The verdict of a pipeline run on the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PipelineOutcome {
    /// Every example parsed, validated and was redacted.
    Valid,
    /// At least one line failed format validation.
    InvalidFormat,
    /// Fewer examples than `validation.minExamples` remain.
    TooFewExamples,
    /// Reject mode found something.
    RedactionRejected,
}

impl PipelineOutcome {
    /// The condition reason for this outcome.
    pub fn reason(self) -> Reason {
        match self {
            PipelineOutcome::Valid => Reason::Valid,
            PipelineOutcome::InvalidFormat => Reason::InvalidFormat,
            PipelineOutcome::TooFewExamples => Reason::TooFewExamples,
            PipelineOutcome::RedactionRejected => Reason::RedactionRejected,
        }
    }
}

/// What one pass of the pipeline found: counts, digests and codes only, never content. This is
/// also the worker's wire format (its termination message), so fields are only ever added.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineSummary {
    pub outcome: Option<PipelineOutcome>,
    pub examples: u64,
    pub dropped_examples: u64,
    pub estimated_tokens: u64,
    pub redacted_bytes: u64,
    pub source_digest: String,
    pub redacted_digest: String,
    pub findings: BTreeMap<String, u64>,
    pub format_errors: Vec<FormatErrorRef>,
}

/// A pipeline failure that is not a verdict on the data. Carries no content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    #[error("the validation model is unknown")]
    UnknownModel,
    #[error("the redaction policy is invalid")]
    InvalidPolicy,
    #[error("reading the sources failed")]
    ReadFailed,
    #[error("the output was closed")]
    OutputClosed,
    #[error("the tokenizer is unavailable")]
    TokenizerUnavailable,
    #[error("validation and redaction took longer than the pipeline time budget of {}", seconds(*.budget))]
    TimeBudgetExceeded { budget: Duration },
}

impl PipelineError {
    /// The condition reason; its word is also the worker's error code.
    pub fn reason(self) -> Reason {
        match self {
            PipelineError::UnknownModel => Reason::UnknownModel,
            PipelineError::InvalidPolicy => Reason::InvalidPolicy,
            PipelineError::ReadFailed => Reason::ReadFailed,
            PipelineError::OutputClosed => Reason::OutputClosed,
            PipelineError::TokenizerUnavailable => Reason::TokenizerUnavailable,
            PipelineError::TimeBudgetExceeded { .. } => Reason::PipelineTimeBudgetExceeded,
        }
    }
}

/// Most token-counting threads of one run in the operator or a worker.
pub const MAX_TOKEN_THREADS: usize = 4;

/// `600 s`, or `300 ms` below a second.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Bounds of one pipeline run in this process: the longest line (memory, see
/// `tunegate_core::dataset::memory`) and, for validation runs, how long it may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunLimits {
    /// Longer lines are `line_too_long` format errors, refused while they are read.
    pub max_line_bytes: usize,
    /// A validation run that takes longer fails with `PipelineTimeBudgetExceeded`. Uploads are
    /// not bounded by it (they wait for the network; the HTTP client's upload timeout bounds
    /// them).
    pub time_budget: Option<Duration>,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            max_line_bytes: tunegate_core::dataset::jsonl::DEFAULT_MAX_LINE_BYTES,
            time_budget: None,
        }
    }
}

static LIMITS: RwLock<Option<RunLimits>> = RwLock::new(None);

/// Sets this process's limits (the worker from its flags, the operator from its own).
pub fn set_limits(limits: RunLimits) {
    if let Ok(mut l) = LIMITS.write() {
        *l = Some(limits);
    }
}

/// This process's limits.
pub fn limits() -> RunLimits {
    LIMITS.read().ok().and_then(|l| *l).unwrap_or_default()
}

/// Reads `inner` until `deadline`, then fails every read with a `TimedOut` error that carries
/// [`BudgetExceeded`]. The pipeline reads in 64 KiB steps and works on one line at a time, so a
/// run stops within one line of its deadline.
struct DeadlineReader<'a> {
    inner: &'a mut dyn Read,
    deadline: Instant,
}

/// The marker inside the `TimedOut` error of a [`DeadlineReader`].
#[derive(Debug)]
struct BudgetExceeded;

impl std::fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("pipeline time budget exceeded")
    }
}

impl std::error::Error for BudgetExceeded {}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, BudgetExceeded));
        }
        self.inner.read(buf)
    }
}

fn is_budget(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<BudgetExceeded>())
}

/// Streams the concatenated source bytes through JSONL parsing, validation and redaction into
/// `out` (a sink when validating, the upload body when uploading), with this process's line cap
/// and no time budget.
pub fn run(
    spec: &TrainingDatasetSpec,
    input: &mut dyn Read,
    key: Option<&[u8]>,
    out: &mut dyn Write,
) -> Result<PipelineSummary, PipelineError> {
    let limits = RunLimits {
        time_budget: None,
        ..limits()
    };
    run_with(spec, input, key, out, &limits)
}

/// A validation run: `run` within this process's time budget as well.
pub fn validate(
    spec: &TrainingDatasetSpec,
    input: &mut dyn Read,
    key: Option<&[u8]>,
) -> Result<PipelineSummary, PipelineError> {
    run_with(spec, input, key, &mut io::sink(), &limits())
}

/// `run` with explicit limits.
pub fn run_with(
    spec: &TrainingDatasetSpec,
    input: &mut dyn Read,
    key: Option<&[u8]>,
    out: &mut dyn Write,
    limits: &RunLimits,
) -> Result<PipelineSummary, PipelineError> {
    let mut options = PipelineOptions::from_spec(spec.format, &spec.validation)
        .map_err(|_| PipelineError::UnknownModel)?;
    options.max_line_bytes = limits.max_line_bytes;
    // Each counting thread keeps a token-count cache of up to 8 MiB: on a 64-core node one per
    // core would be half a gigabyte, outside the memory model (`memory::BASE_BYTES`).
    options.threads = options.threads.clamp(1, MAX_TOKEN_THREADS);
    let redactor = Redactor::new(&spec.redaction, key).map_err(|_| PipelineError::InvalidPolicy)?;
    let started = Instant::now();
    let mut timed;
    let input: &mut dyn Read = match limits.time_budget {
        Some(budget) => {
            timed = DeadlineReader {
                inner: input,
                deadline: started + budget,
            };
            &mut timed
        }
        None => input,
    };
    let input = BufReader::with_capacity(64 * 1024, input);
    let (s, _) = pipeline::run(input, out, &redactor, &options).map_err(|e| match e {
        pipeline::PipelineError::Read { source, .. } if is_budget(&source) => {
            PipelineError::TimeBudgetExceeded {
                budget: limits.time_budget.unwrap_or_default(),
            }
        }
        pipeline::PipelineError::Read { .. } => PipelineError::ReadFailed,
        pipeline::PipelineError::Write(_) => PipelineError::OutputClosed,
        pipeline::PipelineError::Tokenizer(_) => PipelineError::TokenizerUnavailable,
    })?;
    // The last line may have been read before the deadline and processed after it.
    if let Some(budget) = limits.time_budget
        && started.elapsed() > budget
    {
        return Err(PipelineError::TimeBudgetExceeded { budget });
    }
    let outcome = match s.outcome {
        Outcome::Valid => PipelineOutcome::Valid,
        Outcome::Invalid { .. } => PipelineOutcome::InvalidFormat,
        Outcome::Rejected { .. } => PipelineOutcome::RedactionRejected,
        Outcome::TooFewExamples { .. } => PipelineOutcome::TooFewExamples,
    };
    Ok(PipelineSummary {
        outcome: Some(outcome),
        examples: s.examples,
        dropped_examples: s.dropped_examples,
        estimated_tokens: s.estimated_tokens,
        redacted_bytes: s.redacted_bytes,
        source_digest: s.source_digest,
        redacted_digest: s.redacted_digest,
        findings: s.findings,
        format_errors: s.format_errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> TrainingDatasetSpec {
        serde_yaml::from_str(yaml).expect("spec")
    }

    #[test]
    fn valid_chat_lines_give_a_valid_summary_with_digests() {
        let spec = spec(
            "sources: [{secret: {name: s, key: k}}]\nformat: Chat\nvalidation: {minExamples: 1}\n",
        );
        let line = r#"{"messages":[{"role":"user","content":"mail me at a.b@example.com"},{"role":"assistant","content":"ok"}]}"#;
        let input = format!("{line}\n").into_bytes();
        let mut out = Vec::new();
        let s = run(&spec, &mut input.as_slice(), None, &mut out).expect("runs");
        assert_eq!(s.outcome, Some(PipelineOutcome::Valid));
        assert_eq!(s.examples, 1);
        assert_eq!(s.redacted_bytes, out.len() as u64);
        assert!(s.redacted_digest.starts_with("sha256:"));
        assert!(!String::from_utf8_lossy(&out).contains("a.b@example.com"));
    }

    #[test]
    fn an_unknown_validation_model_is_a_typed_error() {
        let spec = spec(
            "sources: [{secret: {name: s, key: k}}]\nformat: Chat\nvalidation: {model: no-such-model}\n",
        );
        let e = run(&spec, &mut &b""[..], None, &mut std::io::sink()).expect_err("refused");
        assert_eq!(e, PipelineError::UnknownModel);
        assert_eq!(e.reason(), Reason::UnknownModel);
    }

    /// Yields one valid line per read, sleeping before each.
    struct Slow {
        line: Vec<u8>,
        delay: std::time::Duration,
    }

    impl Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(self.delay);
            let n = self.line.len().min(buf.len());
            buf[..n].copy_from_slice(&self.line[..n]);
            Ok(n)
        }
    }

    #[test]
    fn a_run_past_its_time_budget_fails_naming_the_limit() {
        let spec = spec("sources: [{secret: {name: s, key: k}}]\nformat: Chat\n");
        let line =
            br#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ok"}]}
"#;
        // An endless source: without the budget this would never end.
        let mut input = Slow {
            line: line.to_vec(),
            delay: std::time::Duration::from_millis(5),
        };
        let limits = RunLimits {
            time_budget: Some(std::time::Duration::from_millis(300)),
            ..RunLimits::default()
        };
        let started = Instant::now();
        let e = run_with(&spec, &mut input, None, &mut io::sink(), &limits).expect_err("stops");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        assert!(
            matches!(e, PipelineError::TimeBudgetExceeded { .. }),
            "{e:?}"
        );
        assert_eq!(e.reason(), Reason::PipelineTimeBudgetExceeded);
        assert!(e.to_string().contains("time budget of 300 ms"), "{e}");
        // Within the budget nothing changes.
        let mut ok = &line[..];
        let limits = RunLimits {
            time_budget: Some(std::time::Duration::from_secs(600)),
            ..RunLimits::default()
        };
        let s = run_with(&spec, &mut ok, None, &mut io::sink(), &limits).expect("runs");
        assert_eq!(s.examples, 1);
    }

    #[test]
    fn the_line_cap_comes_from_the_limits() {
        let spec = spec(
            "sources: [{secret: {name: s, key: k}}]\nformat: Chat\nvalidation: {minExamples: 1}\n",
        );
        let long = format!(
            r#"{{"messages":[{{"role":"user","content":"{}"}},{{"role":"assistant","content":"ok"}}]}}"#,
            "x".repeat(2000)
        );
        let input = format!("{long}\n");
        let limits = RunLimits {
            max_line_bytes: 1000,
            time_budget: None,
        };
        let s = run_with(&spec, &mut input.as_bytes(), None, &mut io::sink(), &limits).unwrap();
        assert_eq!(s.outcome, Some(PipelineOutcome::InvalidFormat));
        assert_eq!(s.format_errors[0].code, "line_too_long");
        assert_eq!(s.format_errors[0].line, 1);
    }
}
