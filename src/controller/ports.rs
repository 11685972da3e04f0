//! The provider port: the one interface the FineTuneJob controller and the upload worker use to
//! talk to a fine-tuning provider, in provider-neutral types.
//!
//! It exists because there is more than one kind of provider behind it, not for fakes: the
//! OpenAI-compatible HTTP client for OpenAI and Azure OpenAI (`adapters.rs`) and Amazon Bedrock
//! on the AWS SDK (`bedrock.rs`). The controller is tested against the real sandbox over HTTP and
//! against moto, and its decisions are tested as pure functions in `finetune/plan.rs`.
//!
//! The operations are the provider-neutral ones the state machine needs. Where providers store
//! data differently, the port speaks of a dataset's *copy* ([`CopyRef`], [`DatasetCopy`]) and
//! lets each adapter name and shape it: a file named after the uid on OpenAI, a converted S3
//! object under a key derived from the uid and the dataset digest on Bedrock. Defaults keep the
//! file-based behaviour, so the HTTP adapter only implements the file operations.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

/// A classified provider error. Messages come from the provider and carry no request content.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RemoteError {
    /// The request is wrong and retrying it will not help (4xx other than 404/408/409/429).
    /// A refusal to fine-tune at all (organisation without access, retired base model) has
    /// `code` [`PROVIDER_REFUSED`] and the provider's own code first in `message`.
    #[error("provider rejected the request ({code}, HTTP {http})")]
    Terminal {
        code: String,
        message: String,
        http: u16,
    },
    /// The provider refused the credentials (401/403). Nothing is wrong with the request: it is
    /// retried with exponential backoff, and at once when the credentials change.
    #[error("provider rejected the credentials ({code}, HTTP {http})")]
    AuthRejected {
        code: String,
        message: String,
        http: u16,
    },
    /// The object does not exist (or no longer does).
    #[error("not found at the provider")]
    NotFound,
    /// The object exists but was not created by this resource (see `finetune::owned`). Nothing
    /// was done with it. `id` is the provider's id of the object, never content.
    #[error("the provider's {kind} {id} was not created by this resource")]
    NotOwned { kind: &'static str, id: String },
    /// Try again later (429, 5xx, timeouts, dropped connections).
    #[error("provider temporarily unavailable ({code})")]
    Recoverable {
        code: String,
        retry_after: Option<std::time::Duration>,
    },
}

/// The `RemoteError::Terminal` code of a refusal to fine-tune (see `ProviderError::refusal`).
pub const PROVIDER_REFUSED: &str = "provider_refused";

/// A file at the provider.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RemoteFile {
    pub id: String,
    pub filename: String,
    /// Size of the bytes as stored.
    pub bytes: u64,
    pub purpose: String,
    /// `sha256:<hex>` of the bytes as stored, where the adapter knows it and it differs from
    /// the dataset's redacted digest (a converted copy). `None`: the redacted bytes themselves.
    pub digest: Option<String>,
    /// The hex prefix of the dataset digest the copy was made from, where its name carries one
    /// (adoption then compares content, not only a length).
    pub dataset_digest_prefix: Option<String>,
}

/// Which copy: the resource and the role (`training`, `validation`), plus the filename the
/// file-based providers use for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyRef {
    pub uid: String,
    pub role: &'static str,
    pub filename: String,
}

/// A dataset copy to store: which, of what, for which base model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetCopy {
    pub at: CopyRef,
    /// The dataset's `redactedDigest`.
    pub dataset_digest: String,
    /// The base model, which decides the record format where the provider converts.
    pub model: String,
    pub format: tunegate_api::DatasetFormat,
}

/// A remote copy the provider makes for a job, besides the model: an output location (Bedrock's
/// S3 output prefix), a result file, a checkpoint model. Recorded in the ledger like the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteOutput {
    pub kind: tunegate_api::RemoteKind,
    pub id: String,
    /// e.g. `output`, `result`, `checkpoint`.
    pub role: &'static str,
}

/// What the controller asks the provider to create.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRequest {
    pub model: String,
    pub training_file: String,
    pub validation_file: Option<String>,
    pub suffix: Option<String>,
    pub seed: Option<i64>,
    /// Method and hyperparameters, as in the FineTuneJob spec.
    pub method: tunegate_api::FineTuneMethod,
    pub metadata: BTreeMap<String, String>,
}

/// The provider's view of a job.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RemoteJob {
    pub id: String,
    pub status: String,
    pub fine_tuned_model: Option<String>,
    pub trained_tokens: Option<u64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// Copies the provider made or will make for this job (see [`RemoteOutput`]).
    pub outputs: Vec<RemoteOutput>,
}

/// One provider job event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteEvent {
    pub id: String,
    pub level: String,
    pub message: String,
    /// A per-step training-metrics event (`type: metrics`). These arrive once per training step,
    /// so they advance the cursor but do not become Kubernetes Events.
    pub metrics: bool,
}

/// Called with a multipart upload's id right after the provider created it and before the first
/// part is sent, so the ledger can hold it (and clean-up cancel it) should the run crash.
pub type UploadCreated = std::sync::Arc<dyn Fn(String) -> BoxFuture<'static, ()> + Send + Sync>;

/// The request body of an upload: a stream of chunks with a known total length. An `Err` item
/// aborts the request so that the provider never creates the file.
pub type UploadBody = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// The provider operations the FineTuneJob controller needs. Object-safe.
pub trait Remote: Send + Sync {
    fn find_files(&self, filename: &str) -> BoxFuture<'_, Result<Vec<RemoteFile>, RemoteError>>;
    fn upload_file(
        &self,
        filename: String,
        purpose: String,
        len: u64,
        expires_after_secs: u64,
        body: UploadBody,
    ) -> BoxFuture<'_, Result<RemoteFile, RemoteError>>;
    fn delete_file(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>>;
    /// One file's metadata (its filename tells whose it is).
    fn get_file(&self, id: &str) -> BoxFuture<'_, Result<RemoteFile, RemoteError>>;
    /// Waits (bounded) until the provider may use the file in a job: immediate on OpenAI; on
    /// Azure OpenAI until its asynchronous import reached `processed`. Still importing is
    /// `Recoverable { code: "file_not_ready" }`; a failed import is `Terminal`.
    fn wait_file_ready(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>>;
    fn create_job(&self, req: JobRequest) -> BoxFuture<'_, Result<RemoteJob, RemoteError>>;
    fn find_jobs(
        &self,
        key: &str,
        value: &str,
    ) -> BoxFuture<'_, Result<Vec<RemoteJob>, RemoteError>>;
    fn get_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>>;
    fn cancel_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>>;
    fn pause_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>>;
    fn resume_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>>;
    /// Events strictly after `after` (oldest first). `None` means from the beginning.
    fn events_after(
        &self,
        job_id: &str,
        after: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<RemoteEvent>, RemoteError>>;
    fn delete_model(&self, model: &str) -> BoxFuture<'_, Result<(), RemoteError>>;

    /// Every copy of a resource's dataset in a role, current or stale. Default: the files named
    /// `at.filename`.
    fn find_copies(&self, at: &CopyRef) -> BoxFuture<'_, Result<Vec<RemoteFile>, RemoteError>> {
        self.find_files(&at.filename)
    }

    /// Stores a dataset copy from the redacted bytes; `on_upload_created` hears of a multipart
    /// upload before its first part. Default: uploads them as the file `copy.at.filename`.
    fn store_copy(
        &self,
        copy: &DatasetCopy,
        len: u64,
        expires_after_secs: u64,
        body: UploadBody,
        _on_upload_created: Option<UploadCreated>,
    ) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        self.upload_file(
            copy.at.filename.clone(),
            "fine-tune".into(),
            len,
            expires_after_secs,
            body,
        )
    }

    /// Cancels (aborts) an unfinished multipart upload the ledger recorded. Default: there are
    /// none at this provider.
    fn cancel_upload(&self, _id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        Box::pin(async { Err(RemoteError::NotFound) })
    }

    /// Deletes an output the ledger recorded (see [`RemoteOutput`]). Default: it is a file.
    fn delete_output(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        self.delete_file(id)
    }

    /// Checks a reinforcement grader before anything is uploaded: the provider's validation call
    /// where it has one, tunegate's shape check otherwise. A refused grader is `Terminal`.
    /// Default: this provider runs no reinforcement fine-tuning (admission refuses such jobs
    /// first).
    fn validate_grader(
        &self,
        _grader: &serde_json::Value,
    ) -> BoxFuture<'_, Result<(), RemoteError>> {
        Box::pin(async {
            Err(RemoteError::Terminal {
                code: "reinforcement_unsupported".into(),
                message: "this provider runs no reinforcement fine-tuning".into(),
                http: 0,
            })
        })
    }

    /// Aborts the unfinished multipart uploads of a resource a crash may have left unrecorded;
    /// returns their ids. Default: none (the provider has no such uploads, or records them).
    fn abort_unrecorded_uploads(
        &self,
        _uid: &str,
    ) -> BoxFuture<'_, Result<Vec<String>, RemoteError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Builds a `Remote` for a provider target (from a provider config) and API key.
pub trait RemoteFactory: Send + Sync {
    fn build(
        &self,
        target: &crate::provider::Target,
        api_key: &str,
    ) -> Result<Box<dyn Remote>, RemoteError>;
}
