//! The provider port: the one interface the FineTuneJob controller and the upload worker use to
//! talk to a fine-tuning provider, in provider-neutral types.
//!
//! It exists because there is more than one kind of provider behind it (the OpenAI-compatible HTTP
//! client for OpenAI and Azure OpenAI today, Amazon Bedrock next), not for fakes: the controller
//! is tested against the real sandbox over HTTP, and its decisions are tested as pure functions in
//! `finetune/plan.rs`. The HTTP adapter is `adapters.rs`.

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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteFile {
    pub id: String,
    pub filename: String,
    pub bytes: u64,
    pub purpose: String,
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
}

/// Builds a `Remote` for a provider target (from a provider config) and API key.
pub trait RemoteFactory: Send + Sync {
    fn build(
        &self,
        target: &crate::provider::Target,
        api_key: &str,
    ) -> Result<Box<dyn Remote>, RemoteError>;
}
