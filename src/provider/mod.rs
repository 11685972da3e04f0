//! Clients for hosted fine-tuning providers (OpenAI and Azure OpenAI), behind one trait the
//! controller holds as `Arc<dyn FineTuneProvider>`.
//!
//! - Pure parts, unit-tested: status words ([`status`]), error parsing and classification
//!   ([`error`]), retry hints and backoff ([`retry`]), URL and header building ([`endpoint`]),
//!   request bodies ([`types`]), upload stream adapters (`body`).
//! - I/O: [`HttpProvider`] (reqwest, rustls with ring, one connection pool per provider).
//!
//! Nothing here logs or returns the API key or uploaded bytes.

pub mod bedrock;
mod body;
pub mod endpoint;
pub mod error;
mod http;
pub mod key;
pub mod metrics;
pub mod retry;
pub mod sanitize;
pub mod status;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use endpoint::{Dialect, Endpoint, OPENAI_DEFAULT_BASE_URL};
pub use error::{ApiError, ProviderError, TransportKind};
pub use http::HttpProvider;
pub use key::ApiKey;
pub use metrics::{NoopObserver, Operation, RequestObserver, RequestOutcome};
pub use retry::RetryPolicy;
pub use status::{FileStatus, JobStatus, UploadStatus};
pub use types::{
    ByteStream, Checkpoint, DeleteOutcome, FileListQuery, FileObject, FileUpload, FineTuningJob,
    JobCreate, JobError, JobEvent, JobListQuery, Page, TrainingType, UploadCreatedHook,
    check_grader,
};

use tunegate_api::ProviderType;

/// Everything the controller does at a provider. Object-safe; every method is one logical
/// operation with retries inside (except uploads, whose bodies cannot be replayed: see
/// [`FileUpload`]).
#[async_trait]
pub trait FineTuneProvider: Send + Sync {
    /// OpenAI or AzureOpenAI.
    fn provider_type(&self) -> ProviderType;

    /// Uploads a file with purpose `fine-tune`: one multipart request up to
    /// [`UploadLimits::single_request_max`], the Uploads API (64 MB parts) above it, up to 8 GB.
    /// Returns the file as created; on Azure it may still be `pending`: call
    /// [`wait_file_ready`](Self::wait_file_ready) (after recording the id) before using it.
    async fn upload_file(&self, upload: FileUpload) -> Result<FileObject, ProviderError>;

    /// Cancels an unfinished Uploads API upload (cleanup of an upload id from the ledger).
    async fn cancel_upload(&self, upload_id: &str) -> Result<(), ProviderError>;

    /// Polls the file until it is processed (Azure) with bounded backoff. Immediate on OpenAI.
    /// `FileProcessingFailed` is terminal; `FileNotReady` is recoverable.
    async fn wait_file_ready(&self, file_id: &str) -> Result<FileObject, ProviderError>;

    /// One file.
    async fn retrieve_file(&self, file_id: &str) -> Result<FileObject, ProviderError>;

    /// One page of files.
    async fn list_files(&self, query: &FileListQuery) -> Result<Page<FileObject>, ProviderError>;

    /// Every `fine-tune` file with this exact name (adoption after a crash).
    async fn find_files_by_filename(
        &self,
        filename: &str,
    ) -> Result<Vec<FileObject>, ProviderError>;

    /// Deletes a file; 404 is [`DeleteOutcome::AlreadyGone`].
    async fn delete_file(&self, file_id: &str) -> Result<DeleteOutcome, ProviderError>;

    /// Creates a job. Not retried when the outcome is unknown
    /// ([`ProviderError::outcome_unknown`]): look for it by metadata first.
    async fn create_job(&self, job: &JobCreate) -> Result<FineTuningJob, ProviderError>;

    /// One job.
    async fn retrieve_job(&self, job_id: &str) -> Result<FineTuningJob, ProviderError>;

    /// One page of jobs, newest first, filtered by `metadata[k]=v`.
    async fn list_jobs(&self, query: &JobListQuery) -> Result<Page<FineTuningJob>, ProviderError>;

    /// Every job whose metadata has `key=value`, across pages (adoption after a crash). The
    /// filter is also applied client-side, in case a provider ignores it.
    async fn find_jobs_by_metadata(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<FineTuningJob>, ProviderError>;

    /// Cancels a job.
    async fn cancel_job(&self, job_id: &str) -> Result<FineTuningJob, ProviderError>;

    /// Pauses a running job.
    async fn pause_job(&self, job_id: &str) -> Result<FineTuningJob, ProviderError>;

    /// Resumes a paused job.
    async fn resume_job(&self, job_id: &str) -> Result<FineTuningJob, ProviderError>;

    /// Deletes a (terminal) job record: Azure OpenAI only; OpenAI answers `Unsupported`.
    async fn delete_job(&self, job_id: &str) -> Result<DeleteOutcome, ProviderError>;

    /// One page of events, newest first, older than the `after` event.
    async fn list_job_events(
        &self,
        job_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<JobEvent>, ProviderError>;

    /// The events newer than `last_seen` (all of them when `None`), oldest first, so the
    /// controller can turn each into a Kubernetes Event once and store the last id. Reads at
    /// most 20 pages of 100.
    async fn job_events_since(
        &self,
        job_id: &str,
        last_seen: Option<&str>,
    ) -> Result<Vec<JobEvent>, ProviderError>;

    /// One page of checkpoints, newest first.
    async fn list_job_checkpoints(
        &self,
        job_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Checkpoint>, ProviderError>;

    /// Checks a reinforcement grader before a job uses it: the client-side shape check
    /// ([`check_grader`]), then the provider's validation call where it has one (OpenAI's
    /// `POST /fine_tuning/alpha/graders/validate`; Azure OpenAI documents none, so only the
    /// shape is checked there).
    async fn validate_grader(&self, grader: &serde_json::Value) -> Result<(), ProviderError> {
        check_grader(grader)
    }

    /// Deletes a fine-tuned model; 404 is `AlreadyGone`. Azure OpenAI has no data-plane call
    /// for this and answers [`ProviderError::ModelDeletionUnsupported`].
    async fn delete_model(&self, model: &str) -> Result<DeleteOutcome, ProviderError>;
}

/// Size limits of file uploads. Decimal megabytes, the conservative reading of the API docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest file sent as one `POST /files` (512 MB); larger ones use the Uploads API.
    pub single_request_max: u64,
    /// Uploads API part size (64 MB, the API's maximum). One part is buffered in memory so a
    /// failed part can be retried.
    pub part_size: u64,
    /// Largest file accepted at all (8 GB).
    pub max_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            single_request_max: 512_000_000,
            part_size: 64_000_000,
            max_bytes: 8_000_000_000,
        }
    }
}

/// Tuning of an [`HttpProvider`]. The defaults suit production.
#[derive(Clone)]
pub struct ProviderOptions {
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout for JSON calls.
    pub request_timeout: Duration,
    /// Longest whole-request timeout for one upload request (a file up to 512 MB or one part);
    /// each upload gets [`ProviderOptions::upload_timeout_for`] its size, at most this.
    pub upload_timeout: Duration,
    /// Slowest upload rate waited for, in bytes per second: an upload of `n` bytes may take
    /// `request_timeout + n / upload_min_bytes_per_sec`, so a small file is not given half an
    /// hour and a large one is not cut off while it moves.
    pub upload_min_bytes_per_sec: u64,
    /// Retries of replayable requests.
    pub retry: RetryPolicy,
    /// Upload size limits.
    pub upload: UploadLimits,
    /// How long `wait_file_ready` polls before `FileNotReady`.
    pub file_ready_timeout: Duration,
    /// First poll interval of `wait_file_ready` (doubles up to 10 s).
    pub file_ready_poll: Duration,
    /// Largest success body read. Bodies are streamed and reading stops at this many bytes
    /// (`ProviderError::ResponseTooLarge`), so one provider answer cannot exhaust the operator's
    /// memory. Every API answer tunegate asks for is far smaller (a page of 10,000 files is
    /// about 2.5 MB).
    pub max_response_bytes: u64,
    /// Receives one call per HTTP attempt.
    pub observer: Arc<dyn RequestObserver>,
}

/// Default of [`ProviderOptions::upload_min_bytes_per_sec`]: 256 KiB/s (512 MB in ~33 min).
pub const DEFAULT_UPLOAD_MIN_BYTES_PER_SEC: u64 = 256 * 1024;

impl ProviderOptions {
    /// The timeout of one upload request of `bytes`: the JSON request timeout plus the time the
    /// body takes at the slowest accepted rate, capped at `upload_timeout`.
    pub fn upload_timeout_for(&self, bytes: u64) -> Duration {
        let moving = Duration::from_secs(bytes / self.upload_min_bytes_per_sec.max(1));
        self.request_timeout
            .saturating_add(moving)
            .min(self.upload_timeout)
    }
}

/// Default of [`ProviderOptions::max_response_bytes`]: 4 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;

impl Default for ProviderOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            upload_timeout: Duration::from_secs(30 * 60),
            upload_min_bytes_per_sec: DEFAULT_UPLOAD_MIN_BYTES_PER_SEC,
            retry: RetryPolicy::default(),
            upload: UploadLimits::default(),
            file_ready_timeout: Duration::from_secs(10 * 60),
            file_ready_poll: Duration::from_secs(1),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            observer: Arc::new(NoopObserver),
        }
    }
}

impl std::fmt::Debug for ProviderOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("upload_timeout", &self.upload_timeout)
            .field("retry", &self.retry)
            .field("upload", &self.upload)
            .field("file_ready_timeout", &self.file_ready_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

/// Where and how to call a provider, as resolved from a provider config: what the provider client
/// is built from (and what the upload worker receives, as JSON). No credentials in it.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    #[serde(rename = "type")]
    pub type_: ProviderType,
    /// The effective endpoint, already checked against the operator's allow-list.
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Amazon Bedrock: region, S3 location and service role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bedrock: Option<tunegate_api::BedrockSettings>,
}

impl Target {
    /// The target of a config's settings at an (allowed) endpoint.
    pub fn new(settings: &tunegate_api::ProviderSettings, endpoint: &str) -> Self {
        Self {
            type_: settings.type_,
            endpoint: endpoint.to_string(),
            organization: settings.organization.clone(),
            project: settings.project.clone(),
            api_version: settings.api_version.clone(),
            bedrock: settings.bedrock.clone(),
        }
    }
}

/// The dialect and base URL of a target.
pub fn endpoint_from_target(t: &Target) -> Result<Endpoint, ProviderError> {
    match t.type_ {
        ProviderType::OpenAI => Endpoint::new(
            &t.endpoint,
            Dialect::OpenAi {
                organization: t.organization.clone(),
                project: t.project.clone(),
            },
        ),
        ProviderType::AzureOpenAI => {
            let api_version = t.api_version.clone().ok_or_else(|| {
                ProviderError::InvalidConfig("AzureOpenAI needs apiVersion".into())
            })?;
            Endpoint::new(&t.endpoint, Dialect::Azure { api_version })
        }
        ProviderType::Bedrock => Err(ProviderError::InvalidConfig(
            "Bedrock has no HTTP client in this build".into(),
        )),
    }
}

/// Builds the provider client for a target and the key bytes from its config's Secret.
pub fn from_target(
    target: &Target,
    api_key: &[u8],
    options: ProviderOptions,
) -> Result<Arc<dyn FineTuneProvider>, ProviderError> {
    let endpoint = endpoint_from_target(target)?;
    let key = ApiKey::from_bytes(api_key)?;
    Ok(Arc::new(HttpProvider::new(endpoint, key, options)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_timeouts_grow_with_the_bytes_and_stay_bounded() {
        let o = ProviderOptions::default();
        // A small in-process upload gets about the JSON timeout, not half an hour.
        assert_eq!(o.upload_timeout_for(0), Duration::from_secs(60));
        assert_eq!(
            o.upload_timeout_for(8 * 1024 * 1024),
            Duration::from_secs(60 + 32)
        );
        // 512 MB at 256 KiB/s is ~33 min: capped at upload_timeout.
        assert_eq!(o.upload_timeout_for(512_000_000), o.upload_timeout);
        assert_eq!(o.upload_timeout_for(u64::MAX), o.upload_timeout);
        let stalled = ProviderOptions {
            upload_min_bytes_per_sec: 0,
            ..ProviderOptions::default()
        };
        assert!(stalled.upload_timeout_for(1 << 30) <= stalled.upload_timeout);
    }
}
