//! The dataset pipeline as the controllers and the worker run it: `tunegate-core`'s streaming
//! read -> validate -> redact -> digest, configured from a `TrainingDatasetSpec`, with its result
//! in the small serializable form that status and the worker's termination message carry.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};

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
        }
    }
}

/// Streams the concatenated source bytes through JSONL parsing, validation and redaction into
/// `out` (a sink when validating, the upload body when uploading).
pub fn run(
    spec: &TrainingDatasetSpec,
    input: &mut dyn Read,
    key: Option<&[u8]>,
    out: &mut dyn Write,
) -> Result<PipelineSummary, PipelineError> {
    let options = PipelineOptions::from_spec(spec.format, &spec.validation)
        .map_err(|_| PipelineError::UnknownModel)?;
    let redactor = Redactor::new(&spec.redaction, key).map_err(|_| PipelineError::InvalidPolicy)?;
    let input = BufReader::with_capacity(64 * 1024, input);
    let (s, _) = pipeline::run(input, out, &redactor, &options).map_err(|e| match e {
        pipeline::PipelineError::Read { .. } => PipelineError::ReadFailed,
        pipeline::PipelineError::Write(_) => PipelineError::OutputClosed,
        pipeline::PipelineError::Tokenizer(_) => PipelineError::TokenizerUnavailable,
    })?;
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
}
