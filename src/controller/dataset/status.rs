//! Pure status computation for a TrainingDataset: from what the reconcile found to the status it
//! should have. Unchanged input gives an identical status, so the caller can skip the write.

use k8s_openapi::jiff::Timestamp;

use crate::controller::pipeline::{PipelineOutcome, PipelineSummary};
use tunegate_api::TrainingDatasetStatus;
use tunegate_api::conditions::{ConditionUpdate, Reason, Status, set_condition, types};

/// Format errors kept in status.
pub const MAX_FORMAT_ERRORS: usize = 10;

/// What one reconcile found out about a dataset.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// A source is missing or refused; `reason` is CamelCase, `message` names objects only.
    SourceProblem { reason: Reason, message: String },
    /// The pipeline ran to the end.
    Pipeline(PipelineSummary),
    /// The pipeline could not run (I/O, bad policy, pseudonymization key problem).
    PipelineFailed { reason: Reason, message: String },
    /// A worker Job is reading volume sources.
    WorkerRunning,
    /// The worker Job failed.
    WorkerFailed { reason: Reason, message: String },
}

fn cond(t: &'static str, s: Status, reason: Reason, msg: impl Into<String>) -> ConditionUpdate {
    ConditionUpdate {
        type_: t,
        status: s,
        reason,
        message: msg.into(),
    }
}

/// The status a dataset should have, given its current status and a verdict.
pub fn compute(
    current: Option<&TrainingDatasetStatus>,
    generation: Option<i64>,
    verdict: &Verdict,
    now: Timestamp,
) -> TrainingDatasetStatus {
    let mut conditions = current.map(|c| c.conditions.clone()).unwrap_or_default();
    let mut next = TrainingDatasetStatus {
        observed_generation: generation,
        ..Default::default()
    };
    let updates: Vec<ConditionUpdate> = match verdict {
        Verdict::SourceProblem { reason, message } => vec![
            cond(
                types::SOURCES_RESOLVED,
                Status::False,
                reason.clone(),
                message.clone(),
            ),
            cond(
                types::VALIDATED,
                Status::Unknown,
                Reason::SourcesUnresolved,
                "sources are not resolved",
            ),
            cond(
                types::REDACTED,
                Status::Unknown,
                Reason::SourcesUnresolved,
                "sources are not resolved",
            ),
            cond(types::READY, Status::False, reason.clone(), message.clone()),
        ],
        Verdict::PipelineFailed { reason, message } => vec![
            cond(
                types::SOURCES_RESOLVED,
                Status::True,
                Reason::Resolved,
                "all sources resolved",
            ),
            cond(
                types::VALIDATED,
                Status::Unknown,
                reason.clone(),
                message.clone(),
            ),
            cond(
                types::REDACTED,
                Status::Unknown,
                reason.clone(),
                message.clone(),
            ),
            cond(types::READY, Status::False, reason.clone(), message.clone()),
        ],
        Verdict::WorkerRunning => vec![
            cond(
                types::SOURCES_RESOLVED,
                Status::True,
                Reason::Resolved,
                "all sources resolved",
            ),
            cond(
                types::VALIDATED,
                Status::Unknown,
                Reason::WorkerRunning,
                "a worker Job is reading the volume sources",
            ),
            cond(
                types::REDACTED,
                Status::Unknown,
                Reason::WorkerRunning,
                "a worker Job is reading the volume sources",
            ),
            cond(
                types::READY,
                Status::False,
                Reason::WorkerRunning,
                "a worker Job is reading the volume sources",
            ),
        ],
        Verdict::WorkerFailed { reason, message } => vec![
            cond(
                types::SOURCES_RESOLVED,
                Status::True,
                Reason::Resolved,
                "all sources resolved",
            ),
            cond(
                types::VALIDATED,
                Status::Unknown,
                reason.clone(),
                message.clone(),
            ),
            cond(
                types::REDACTED,
                Status::Unknown,
                reason.clone(),
                message.clone(),
            ),
            cond(types::READY, Status::False, reason.clone(), message.clone()),
        ],
        Verdict::Pipeline(s) => {
            next.examples = Some(s.examples);
            next.dropped_examples = Some(s.dropped_examples);
            next.estimated_tokens = Some(s.estimated_tokens);
            next.redacted_bytes = Some(s.redacted_bytes);
            next.source_digest = Some(s.source_digest.clone());
            next.findings = s.findings.clone();
            next.format_errors = s
                .format_errors
                .iter()
                .take(MAX_FORMAT_ERRORS)
                .cloned()
                .collect();
            let findings: u64 = s.findings.values().sum();
            let outcome = s.outcome.unwrap_or(PipelineOutcome::Valid);
            let resolved = cond(
                types::SOURCES_RESOLVED,
                Status::True,
                Reason::Resolved,
                "all sources resolved",
            );
            match outcome {
                PipelineOutcome::Valid => {
                    next.redacted_digest = Some(s.redacted_digest.clone());
                    vec![
                        resolved,
                        cond(
                            types::VALIDATED,
                            Status::True,
                            Reason::Valid,
                            format!("{} examples are valid", s.examples),
                        ),
                        cond(
                            types::REDACTED,
                            Status::True,
                            Reason::Redacted,
                            format!(
                                "{findings} findings redacted, {} examples dropped",
                                s.dropped_examples
                            ),
                        ),
                        cond(
                            types::READY,
                            Status::True,
                            Reason::Valid,
                            format!("{} examples ready to upload", s.examples),
                        ),
                    ]
                }
                PipelineOutcome::InvalidFormat => {
                    let first = s
                        .format_errors
                        .first()
                        .map(|e| format!("; first at line {} ({})", e.line, e.code))
                        .unwrap_or_default();
                    let msg = format!("{} format errors{first}", s.format_errors.len());
                    vec![
                        resolved,
                        cond(
                            types::VALIDATED,
                            Status::False,
                            Reason::InvalidFormat,
                            msg.clone(),
                        ),
                        cond(
                            types::REDACTED,
                            Status::Unknown,
                            Reason::InvalidFormat,
                            "not redacted: the data is invalid",
                        ),
                        cond(types::READY, Status::False, Reason::InvalidFormat, msg),
                    ]
                }
                PipelineOutcome::TooFewExamples => {
                    let msg = format!(
                        "{} examples after redaction, fewer than the minimum",
                        s.examples
                    );
                    vec![
                        resolved,
                        cond(
                            types::VALIDATED,
                            Status::False,
                            Reason::TooFewExamples,
                            msg.clone(),
                        ),
                        cond(
                            types::REDACTED,
                            Status::True,
                            Reason::Redacted,
                            format!("{findings} findings redacted"),
                        ),
                        cond(types::READY, Status::False, Reason::TooFewExamples, msg),
                    ]
                }
                PipelineOutcome::RedactionRejected => {
                    let msg = format!("Reject mode: {findings} findings");
                    vec![
                        resolved,
                        cond(
                            types::VALIDATED,
                            Status::True,
                            Reason::Valid,
                            format!("{} examples are valid", s.examples),
                        ),
                        cond(
                            types::REDACTED,
                            Status::False,
                            Reason::RedactionRejected,
                            msg.clone(),
                        ),
                        cond(types::READY, Status::False, Reason::RedactionRejected, msg),
                    ]
                }
            }
        }
    };
    for u in updates {
        set_condition(&mut conditions, u, generation, now);
    }
    next.conditions = conditions;
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn summary(outcome: PipelineOutcome) -> PipelineSummary {
        serde_yaml::from_str(&format!(
            r#"
outcome: {outcome:?}
examples: 12
droppedExamples: 0
estimatedTokens: 900
redactedBytes: 4000
sourceDigest: "sha256:aa"
redactedDigest: "sha256:bb"
findings: {{EMAIL_ADDRESS: 2}}
formatErrors: [{{line: 3, code: missing_assistant_message}}]
"#
        ))
        .unwrap()
    }

    #[test]
    fn valid_dataset_is_ready_with_digests() {
        let st = compute(
            None,
            Some(1),
            &Verdict::Pipeline(summary(PipelineOutcome::Valid)),
            ts(10),
        );
        let want: TrainingDatasetStatus = serde_yaml::from_str(
            r#"
observedGeneration: 1
examples: 12
droppedExamples: 0
estimatedTokens: 900
redactedBytes: 4000
sourceDigest: "sha256:aa"
redactedDigest: "sha256:bb"
findings: {EMAIL_ADDRESS: 2}
formatErrors: [{line: 3, code: missing_assistant_message}]
conditions:
- {type: SourcesResolved, status: "True", reason: Resolved, message: all sources resolved, observedGeneration: 1, lastTransitionTime: "1970-01-01T00:00:10Z"}
- {type: Validated, status: "True", reason: Valid, message: 12 examples are valid, observedGeneration: 1, lastTransitionTime: "1970-01-01T00:00:10Z"}
- {type: Redacted, status: "True", reason: Redacted, message: "2 findings redacted, 0 examples dropped", observedGeneration: 1, lastTransitionTime: "1970-01-01T00:00:10Z"}
- {type: Ready, status: "True", reason: Valid, message: 12 examples ready to upload, observedGeneration: 1, lastTransitionTime: "1970-01-01T00:00:10Z"}
"#,
        )
        .unwrap();
        assert_eq!(st, want);
    }

    #[test]
    fn same_verdict_gives_identical_status() {
        let v = Verdict::Pipeline(summary(PipelineOutcome::Valid));
        let a = compute(None, Some(1), &v, ts(10));
        let b = compute(Some(&a), Some(1), &v, ts(99));
        assert_eq!(a, b);
    }

    #[test]
    fn invalid_format_has_no_redacted_digest() {
        let st = compute(
            None,
            Some(2),
            &Verdict::Pipeline(summary(PipelineOutcome::InvalidFormat)),
            ts(1),
        );
        assert_eq!(st.redacted_digest, None);
        let ready = tunegate_api::conditions::find(&st.conditions, "Ready").unwrap();
        assert_eq!(ready.reason, "InvalidFormat");
        assert_eq!(
            ready.message,
            "1 format errors; first at line 3 (missing_assistant_message)"
        );
    }

    #[test]
    fn source_problem_clears_counts_and_keeps_transition_time_of_unchanged_conditions() {
        let ok = compute(
            None,
            Some(1),
            &Verdict::Pipeline(summary(PipelineOutcome::Valid)),
            ts(10),
        );
        let bad = compute(
            Some(&ok),
            Some(1),
            &Verdict::SourceProblem {
                reason: Reason::SourceNotAllowed,
                message: "m".into(),
            },
            ts(20),
        );
        assert_eq!(bad.examples, None);
        assert_eq!(bad.redacted_digest, None);
        let ready = tunegate_api::conditions::find(&bad.conditions, "Ready").unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "SourceNotAllowed")
        );
        assert_eq!(ready.last_transition_time.0, ts(20));
    }

    #[test]
    fn format_errors_are_capped() {
        let mut s = summary(PipelineOutcome::InvalidFormat);
        s.format_errors = (1..=25)
            .map(|line| tunegate_api::FormatErrorRef {
                line,
                code: "invalid_json".into(),
            })
            .collect();
        let st = compute(None, Some(1), &Verdict::Pipeline(s), ts(1));
        assert_eq!(st.format_errors.len(), MAX_FORMAT_ERRORS);
    }
}
