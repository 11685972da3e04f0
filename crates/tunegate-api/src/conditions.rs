//! `metav1.Condition` handling shared by both resources: pure, no I/O.
//!
//! Conditions are keyed by `type`; `lastTransitionTime` moves only when `status` changes, so that a
//! reconcile that finds nothing new produces an identical status and therefore no write.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Condition types used by tunegate resources.
pub mod types {
    pub const READY: &str = "Ready";
    pub const SOURCES_RESOLVED: &str = "SourcesResolved";
    pub const VALIDATED: &str = "Validated";
    pub const REDACTED: &str = "Redacted";
    pub const DATASET_READY: &str = "DatasetReady";
    pub const UPLOADED: &str = "Uploaded";
    pub const SUBMITTED: &str = "Submitted";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const REMOTE_CLEANED_UP: &str = "RemoteCleanedUp";
}

/// Tri-state condition status as Kubernetes spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    True,
    False,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

impl From<bool> for Status {
    fn from(b: bool) -> Self {
        if b { Status::True } else { Status::False }
    }
}

/// Declares [`Reason`]: every condition reason the operator writes, plus an open variant for
/// reasons derived from a provider's error code.
macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// A condition reason (CamelCase). Controllers decide state by comparing these values, never
        /// raw strings; [`Reason::parse`] reads one back from a stored condition.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum Reason {
            $($(#[$doc])* $name,)*
            /// A reason derived from a provider's error code (e.g. `invalid_n_examples` ->
            /// `InvalidNExamples`): an open set, never one of the names above.
            Provider(String),
        }

        impl Reason {
            /// Every named reason (not the open [`Reason::Provider`] set), for docs and tests.
            pub const ALL: &'static [Reason] = &[$(Reason::$name,)*];

            /// The CamelCase word written into the condition.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Reason::$name => stringify!($name),)*
                    Reason::Provider(s) => s,
                }
            }

            /// The reason a stored condition carries; a word this operator does not name is kept
            /// as [`Reason::Provider`].
            pub fn parse(s: &str) -> Reason {
                match s {
                    $(stringify!($name) => Reason::$name,)*
                    other => Reason::Provider(other.to_string()),
                }
            }
        }
    };
}

reasons! {
    // TrainingDataset: sources and pipeline.
    /// Every source resolved.
    Resolved,
    /// Sources are not resolved, so later conditions cannot be known.
    SourcesUnresolved,
    /// A source object lacks the opt-in label.
    SourceNotAllowed,
    /// A source object does not exist.
    SourceNotFound,
    /// A source object has no such key.
    KeyNotFound,
    /// A source names not exactly one of secret, configMap, volume.
    InvalidSource,
    /// A source could not be read (API error).
    SourceUnreadable,
    /// Every example parsed and validated.
    Valid,
    /// Redaction ran.
    Redacted,
    /// At least one line failed format validation.
    InvalidFormat,
    /// Fewer examples than `validation.minExamples`.
    TooFewExamples,
    /// Reject mode found something to redact.
    RedactionRejected,
    /// The pseudonymization key Secret or key is missing or empty.
    PseudonymizationKeyNotFound,
    /// The validation model has no known tokenizer or limits.
    UnknownModel,
    /// The redaction policy does not compile.
    InvalidPolicy,
    /// Reading the source bytes failed.
    ReadFailed,
    /// The pipeline's output was closed.
    OutputClosed,
    /// The tokenizer could not be loaded.
    TokenizerUnavailable,
    /// A worker Job is reading the volume sources.
    WorkerRunning,
    /// A worker Job failed.
    WorkerFailed,
    /// A worker's termination message is not a result.
    WorkerResultInvalid,
    /// The worker was killed for exceeding its memory limit (the kubelet's OOM kill). Lines up to
    /// the worker's line cap fit its limit by construction; this names both so the limit can be
    /// raised.
    WorkerOutOfMemory,
    /// The Secret and ConfigMap sources together hold more bytes than the operator reads
    /// in-process for one dataset (`--max-in-process-source-bytes`); use a volume source.
    SourcesTooLarge,
    /// Validation and redaction ran longer than the pipeline time budget
    /// (`--pipeline-time-budget-seconds`).
    PipelineTimeBudgetExceeded,
    // FineTuneJob.
    /// The referenced datasets are Ready.
    DatasetReady,
    /// A referenced dataset is not Ready yet.
    DatasetNotReady,
    /// A referenced dataset does not exist.
    DatasetNotFound,
    /// The dataset's format does not fit the fine-tuning method.
    MethodFormatMismatch,
    /// The data changed since validation; the upload was refused.
    DatasetChanged,
    /// A worker Job is uploading a volume dataset.
    WorkerUploading,
    /// The file is at the provider and recorded.
    Uploaded,
    /// The job was created at the provider.
    Submitted,
    /// The job runs at the provider.
    Running,
    /// The job is paused at the provider.
    Paused,
    /// The job succeeded.
    Succeeded,
    /// The job failed.
    Failed,
    /// The job was cancelled.
    Cancelled,
    /// Every remote object that policy says to delete is gone.
    CleanedUp,
    /// The output ConfigMap exists and is not owned by this FineTuneJob: nothing was written.
    OutputConflict,
    /// The provider credentials Secret or key is missing.
    CredentialsNotFound,
    /// The provider refused the credentials (HTTP 401/403); retried with exponential backoff,
    /// at once when the credentials Secret changes.
    CredentialsRejected,
    /// The provider settings are unusable.
    InvalidProvider,
    /// The provider rejected a request without a usable error code.
    ProviderError,
    /// The provider refuses fine-tuning here: not available to the organisation (OpenAI's
    /// wind-down) or the base model cannot be fine-tuned. Terminal; the message has its code.
    ProviderRefused,
    /// Azure OpenAI is waiting for the uploaded file's import (`pending` -> `processed`).
    FileImporting,
    /// The provider finished importing the file with an error.
    FileProcessingFailed,
    /// The provider answers 404 for the job the ledger records (see `LedgerState::NotFound`);
    /// not treated as a failure: tunegate checks again later.
    JobNotFound,
    /// `retention.model: DeleteWithResource` asked of a provider whose API cannot delete the
    /// model (Azure OpenAI's data plane): refused before anything is uploaded.
    ModelDeletionUnsupported,
    /// The status names a remote object (file, job or model) that this FineTuneJob did not
    /// create: its filename, job metadata or job lineage belongs to another resource. Nothing is
    /// done with it (status is writable by whoever holds `finetunejobs/status`; a shared
    /// provider key must not let one team cancel or delete another's objects).
    RemoteObjectNotOwned,
    /// The job asks for something its provider cannot do (e.g. pause, DPO or `seed` on Amazon
    /// Bedrock); the message names it. Refused before anything is sent.
    UnsupportedByProvider,
    /// The reinforcement grader is refused: by tunegate's shape check or by the provider's
    /// grader validation call. Checked before anything is uploaded; terminal (the method is
    /// immutable).
    GraderInvalid,
    // Provider configs.
    /// A provider config is usable: endpoint allowed, credentials resolve.
    Ready,
    /// The endpoint is not https, not public, or not on the operator's allow-list.
    EndpointNotAllowed,
    /// A namespaced config's credentials Secret lacks `tunegate.dev/credentials: "true"`.
    CredentialsNotOptedIn,
    /// The namespace selector cannot be evaluated.
    InvalidNamespaceSelector,
    /// A namespaced Bedrock ProviderConfig without credentials: the SDK's default chain would be
    /// the operator's own AWS identity, which only a ClusterProviderConfig may lend.
    DefaultCredentialsNotAllowed,
    /// The operator does not know its own namespace.
    OperatorNamespaceUnknown,
    /// A single-namespace operator serves no ClusterProviderConfigs.
    ClusterProviderConfigUnavailable,
    /// The config could not be evaluated.
    InvalidConfig,
    /// The config is being deleted.
    Deleting,
    // FineTuneJob admission.
    /// The named provider config does not exist.
    ProviderConfigNotFound,
    /// The named provider config is not Ready.
    ProviderConfigNotReady,
    /// The named provider config is being deleted.
    ProviderConfigDeleting,
    /// The ClusterProviderConfig does not select the job's namespace.
    NamespaceNotAllowed,
    /// The model is not in the config's allowedModels.
    ModelNotAllowed,
    /// A dataset's redaction is below the config's floor.
    RedactionBelowFloor,
    /// The namespace runs as many jobs through the config as it allows.
    ConcurrentJobLimitReached,
    /// A redacted file is larger than the config allows.
    UploadTooLarge,
    /// The namespace's monthly trained-token budget would be exceeded.
    TrainedTokenBudgetExceeded,
    /// Volume datasets need a namespaced ProviderConfig (the worker mounts the key).
    VolumeSourceNeedsProviderConfig,
    /// The job asks to leave objects at the provider (`trainingFiles: Retain`,
    /// `deletionPolicy: Orphan`) and its config's `retention` does not allow it. At admission
    /// the job is refused; later (the fields are mutable) the config's policy is applied instead.
    RetentionNotAllowed,
    // Pseudonymization keys.
    /// A referenced key Secret lacks the opt-in label.
    PseudonymizationKeyNotAllowed,
    /// The generated key's Secret is not owned by the dataset.
    PseudonymizationKeyNotOwned,
}

impl Reason {
    /// A refusal before any remote work: the job's provider config, namespace, model, datasets or
    /// limits do not admit it. Such a job has sent nothing and holds nothing (so a tenant cannot
    /// keep an admin's config from being deleted by naming it in a job).
    pub fn is_admission_refusal(&self) -> bool {
        matches!(
            self,
            Reason::ProviderConfigNotFound
                | Reason::ProviderConfigNotReady
                | Reason::ProviderConfigDeleting
                | Reason::NamespaceNotAllowed
                | Reason::ModelNotAllowed
                | Reason::RedactionBelowFloor
                | Reason::ConcurrentJobLimitReached
                | Reason::UploadTooLarge
                | Reason::TrainedTokenBudgetExceeded
                | Reason::VolumeSourceNeedsProviderConfig
                | Reason::RetentionNotAllowed
                | Reason::ModelDeletionUnsupported
                | Reason::UnsupportedByProvider
                | Reason::DefaultCredentialsNotAllowed
                | Reason::EndpointNotAllowed
                | Reason::CredentialsNotOptedIn
                | Reason::ClusterProviderConfigUnavailable
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason of the condition `type_`, if it is present.
pub fn reason_of(conditions: &[Condition], type_: &str) -> Option<Reason> {
    find(conditions, type_).map(|c| Reason::parse(&c.reason))
}

/// What a reconcile wants a condition to say. `reason` must be CamelCase; `message` is for humans
/// and must never contain data content or credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionUpdate {
    pub type_: &'static str,
    pub status: Status,
    pub reason: Reason,
    pub message: String,
}

impl ConditionUpdate {
    pub fn new(
        type_: &'static str,
        status: impl Into<Status>,
        reason: Reason,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status: status.into(),
            reason,
            message: message.into(),
        }
    }
}

/// Sets (inserts or updates) one condition. `lastTransitionTime` is kept unless `status` changed.
/// Returns true when anything changed.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    update: ConditionUpdate,
    observed_generation: Option<i64>,
    now: Timestamp,
) -> bool {
    let status = update.status.as_str();
    match conditions.iter_mut().find(|c| c.type_ == update.type_) {
        Some(existing) => {
            let transition = existing.status != status;
            let changed = transition
                || existing.reason != update.reason.as_str()
                || existing.message != update.message
                || existing.observed_generation != observed_generation;
            if changed {
                if transition {
                    existing.last_transition_time = Time(now);
                }
                existing.status = status.to_string();
                existing.reason = update.reason.as_str().to_string();
                existing.message = update.message;
                existing.observed_generation = observed_generation;
            }
            changed
        }
        None => {
            conditions.push(Condition {
                type_: update.type_.to_string(),
                status: status.to_string(),
                reason: update.reason.as_str().to_string(),
                message: update.message,
                observed_generation,
                last_transition_time: Time(now),
            });
            true
        }
    }
}

/// Finds a condition by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True when the condition exists with status "True".
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).expect("valid timestamp")
    }

    #[test]
    fn inserts_then_keeps_transition_time_when_status_is_unchanged() {
        let mut c = Vec::new();
        let up = ConditionUpdate::new(types::READY, false, Reason::DatasetNotReady, "waiting");
        assert!(set_condition(&mut c, up.clone(), Some(1), ts(10)));
        assert!(!set_condition(&mut c, up, Some(1), ts(20)));
        let msg = ConditionUpdate::new(
            types::READY,
            false,
            Reason::DatasetNotReady,
            "still waiting",
        );
        assert!(set_condition(&mut c, msg, Some(1), ts(30)));
        assert_eq!(c[0].last_transition_time, Time(ts(10)));
        assert_eq!(c[0].message, "still waiting");
    }

    #[test]
    fn reasons_round_trip_and_provider_codes_stay_open() {
        for r in [
            Reason::DatasetChanged,
            Reason::WorkerRunning,
            Reason::CleanedUp,
        ] {
            assert_eq!(Reason::parse(r.as_str()), r);
        }
        assert_eq!(
            Reason::parse("InvalidNExamples"),
            Reason::Provider("InvalidNExamples".into())
        );
    }

    #[test]
    fn status_flip_moves_transition_time() {
        let mut c = Vec::new();
        set_condition(
            &mut c,
            ConditionUpdate::new(types::READY, false, Reason::DatasetNotReady, "waiting"),
            Some(1),
            ts(10),
        );
        set_condition(
            &mut c,
            ConditionUpdate::new(types::READY, true, Reason::DatasetReady, "ok"),
            Some(2),
            ts(40),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last_transition_time, Time(ts(40)));
        assert_eq!(c[0].observed_generation, Some(2));
        assert!(is_true(&c, types::READY));
    }
}
