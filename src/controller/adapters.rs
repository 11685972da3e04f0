//! The HTTP adapter behind the provider port: `Remote` over the OpenAI-compatible client in
//! `crate::provider` (OpenAI and Azure OpenAI).

use crate::provider::sanitize::sanitize;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::finetune::plan;
use super::metrics::Metrics;
use super::ports::{
    CopyRef, JobRequest, Remote, RemoteError, RemoteEvent, RemoteFactory, RemoteFile, RemoteJob,
    RemoteOutput, UploadBody,
};
use crate::provider::Target;
use crate::provider::{
    self, FileUpload, FineTuneProvider, FineTuningJob, JobCreate, Operation, ProviderError,
    ProviderOptions, RequestObserver, RequestOutcome, UploadLimits,
};

/// Counts every outbound provider request in the operator's metrics.
struct MetricsObserver(Arc<Metrics>);

impl RequestObserver for MetricsObserver {
    fn observe(&self, operation: Operation, outcome: RequestOutcome, _elapsed: Duration) {
        self.0
            .provider_request(operation.as_str(), &outcome.label());
    }
}

/// Builds the provider remotes: HTTP providers (OpenAI, Azure OpenAI) that report to the
/// operator's metrics, and Amazon Bedrock through `super::bedrock`. One client (and connection
/// pool) per distinct provider spec and key, reused across reconciles.
pub struct HttpRemotes {
    metrics: Arc<Metrics>,
    cache: std::sync::Mutex<std::collections::HashMap<String, Arc<dyn FineTuneProvider>>>,
    bedrock: super::bedrock::BedrockRemotes,
    upload: UploadLimits,
}

impl HttpRemotes {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            cache: Default::default(),
            bedrock: Default::default(),
            upload: UploadLimits::default(),
        }
    }

    /// When files go through the Uploads API, and in parts of what size (OpenAI, Azure OpenAI).
    pub fn with_upload_limits(mut self, upload: UploadLimits) -> Self {
        self.upload = upload;
        self
    }
}

/// Cache key: a digest of the spec and the key, so the map never holds the key itself.
pub(crate) fn cache_key(spec: &Target, api_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(spec).unwrap_or_default());
    h.update([0]);
    h.update(api_key.as_bytes());
    hex::encode(h.finalize())
}

impl RemoteFactory for HttpRemotes {
    fn build(&self, spec: &Target, api_key: &str) -> Result<Box<dyn Remote>, RemoteError> {
        if spec.type_ == tunegate_api::ProviderType::Bedrock {
            return self.bedrock.build(spec, api_key);
        }
        let key = cache_key(spec, api_key);
        if let Ok(cache) = self.cache.lock()
            && let Some(p) = cache.get(&key)
        {
            return Ok(Box::new(ProviderRemote(p.clone())));
        }
        let options = ProviderOptions {
            observer: Arc::new(MetricsObserver(self.metrics.clone())),
            // A reconcile waits this long for Azure's file import, then requeues.
            file_ready_timeout: Duration::from_secs(30),
            upload: self.upload.clone(),
            ..Default::default()
        };
        let p = provider::from_target(spec, api_key.as_bytes(), options).map_err(classify)?;
        if let Ok(mut cache) = self.cache.lock() {
            // Rotated keys leave stale entries; bound the map rather than track usage.
            if cache.len() >= 256 {
                cache.clear();
            }
            cache.insert(key, p.clone());
        }
        Ok(Box::new(ProviderRemote(p)))
    }
}

/// Maps a provider error onto terminal / not found / recoverable.
pub fn classify(e: ProviderError) -> RemoteError {
    if let ProviderError::Api { status: 404, .. } = &e {
        return RemoteError::NotFound;
    }
    // A refused job creation (fine-tuning not available to the organisation, a retired base
    // model) is checked first: it is a 403 on CreateJob only, not a rejected key.
    if let Some(code) = e.refusal() {
        return RemoteError::Terminal {
            code: super::ports::PROVIDER_REFUSED.to_string(),
            message: format!("{code}: {}", sanitize(&e.to_string(), 300)),
            http: e.status().unwrap_or(0),
        };
    }
    if e.is_auth_rejected() {
        return RemoteError::AuthRejected {
            code: e
                .api_error()
                .and_then(|a| a.code.clone())
                .unwrap_or_else(|| e.code().to_string()),
            message: sanitize(&e.to_string(), 300),
            http: e.status().unwrap_or(0),
        };
    }
    if e.is_recoverable() {
        return RemoteError::Recoverable {
            code: e.code().to_string(),
            retry_after: e.retry_after(),
        };
    }
    let (code, http) = match &e {
        ProviderError::Api { status, error, .. } => (
            error.code.clone().unwrap_or_else(|| e.code().to_string()),
            *status,
        ),
        _ => (e.code().to_string(), 0),
    };
    let message = sanitize(&e.to_string(), 300);
    RemoteError::Terminal {
        code,
        message,
        http,
    }
}

struct ProviderRemote(Arc<dyn FineTuneProvider>);

/// Pages of 10,000 files at most looked at when finding a resource's copies.
const MAX_FILE_PAGES: usize = 50;

/// OpenAI keeps at most the last few checkpoints of a job (the last three epochs): one page.
const MAX_CHECKPOINTS: u32 = 10;

fn job(j: FineTuningJob) -> RemoteJob {
    let (error_code, error_message) = match j.failure() {
        Some(e) => (e.code.clone(), e.message.clone()),
        None => (None, None),
    };
    // Result files (the job's metrics CSV) are provider-made files: recorded and deleted like the
    // training files.
    let outputs = j
        .result_files
        .iter()
        .map(|id| RemoteOutput {
            kind: tunegate_api::RemoteKind::Output,
            id: id.clone(),
            role: "result",
        })
        .collect();
    RemoteJob {
        id: j.id,
        status: j.status.as_str().to_string(),
        fine_tuned_model: j.fine_tuned_model,
        trained_tokens: j.trained_tokens,
        error_code,
        error_message,
        metadata: j.metadata.unwrap_or_default(),
        outputs,
    }
}

impl ProviderRemote {
    /// A job, with its checkpoint models once it succeeded: they are usable for inference and
    /// trained on the same data, so the ledger holds them like the model (`retention.model`).
    async fn job_with_checkpoints(&self, j: FineTuningJob) -> Result<RemoteJob, RemoteError> {
        let succeeded = j.status.as_str() == "succeeded";
        let mut out = job(j);
        if succeeded {
            match self
                .0
                .list_job_checkpoints(&out.id, None, MAX_CHECKPOINTS)
                .await
                .map_err(classify)
            {
                Ok(page) => out.outputs.extend(page.data.into_iter().filter_map(|c| {
                    c.fine_tuned_model_checkpoint.map(|m| RemoteOutput {
                        kind: tunegate_api::RemoteKind::Model,
                        id: m,
                        role: "checkpoint",
                    })
                })),
                // No checkpoints endpoint (an older Azure api-version): nothing to record.
                Err(RemoteError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

impl Remote for ProviderRemote {
    fn store_copy(
        &self,
        copy: &super::ports::DatasetCopy,
        len: u64,
        expires_after_secs: u64,
        body: UploadBody,
        on_upload_created: Option<super::ports::UploadCreated>,
    ) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        let filename = copy.at.filename.clone();
        Box::pin(async move {
            let upload = FileUpload {
                filename: filename.clone(),
                bytes: len,
                expires_after: Some(Duration::from_secs(expires_after_secs)),
                body,
                on_upload_created,
            };
            let f = self.0.upload_file(upload).await.map_err(classify)?;
            Ok(RemoteFile {
                id: f.id,
                filename,
                bytes: f.bytes.unwrap_or(len),
                purpose: "fine-tune".into(),
                ..RemoteFile::default()
            })
        })
    }

    fn cancel_upload(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_string();
        Box::pin(async move { self.0.cancel_upload(&id).await.map_err(classify) })
    }

    /// Every fine-tune file of the uid and role: `tunegate-<uid>-<digest12>-<role>.jsonl` (the
    /// digest prefix is reported, so adoption compares content) and the older digest-less name.
    fn find_copies(&self, at: &CopyRef) -> BoxFuture<'_, Result<Vec<RemoteFile>, RemoteError>> {
        let at = at.clone();
        Box::pin(async move {
            let mut query = provider::FileListQuery {
                purpose: Some("fine-tune".to_owned()),
                after: None,
                limit: None,
            };
            let mut found = Vec::new();
            for _ in 0..MAX_FILE_PAGES {
                let page = self.0.list_files(&query).await.map_err(classify)?;
                let next = page
                    .last_id
                    .clone()
                    .or_else(|| page.data.last().map(|f| f.id.clone()));
                for f in page.data {
                    let name = f.filename.clone().unwrap_or_default();
                    let prefix = plan::filename_digest_prefix(&at.uid, at.role, &name);
                    if prefix.is_none() && name != at.filename {
                        continue;
                    }
                    found.push(RemoteFile {
                        id: f.id,
                        filename: name,
                        bytes: f.bytes.unwrap_or(0),
                        purpose: "fine-tune".into(),
                        digest: None,
                        dataset_digest_prefix: prefix,
                    });
                }
                match next {
                    Some(next) if page.has_more && query.after.as_ref() != Some(&next) => {
                        query.after = Some(next)
                    }
                    _ => break,
                }
            }
            Ok(found)
        })
    }

    fn find_files(&self, filename: &str) -> BoxFuture<'_, Result<Vec<RemoteFile>, RemoteError>> {
        let filename = filename.to_string();
        Box::pin(async move {
            let files = self
                .0
                .find_files_by_filename(&filename)
                .await
                .map_err(classify)?;
            Ok(files
                .into_iter()
                .map(|f| RemoteFile {
                    id: f.id,
                    filename: f.filename.unwrap_or_default(),
                    bytes: f.bytes.unwrap_or(0),
                    purpose: "fine-tune".into(),
                    ..RemoteFile::default()
                })
                .collect())
        })
    }

    fn upload_file(
        &self,
        filename: String,
        purpose: String,
        len: u64,
        expires_after_secs: u64,
        body: UploadBody,
    ) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        Box::pin(async move {
            let upload = FileUpload {
                filename: filename.clone(),
                bytes: len,
                expires_after: Some(Duration::from_secs(expires_after_secs)),
                body,
                on_upload_created: None,
            };
            let f = self.0.upload_file(upload).await.map_err(classify)?;
            Ok(RemoteFile {
                id: f.id,
                filename,
                bytes: f.bytes.unwrap_or(len),
                purpose,
                ..RemoteFile::default()
            })
        })
    }

    fn delete_file(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            match self.0.delete_file(&id).await.map_err(classify)? {
                provider::DeleteOutcome::Deleted => Ok(()),
                provider::DeleteOutcome::AlreadyGone => Err(RemoteError::NotFound),
            }
        })
    }

    fn get_file(&self, id: &str) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            let f = self.0.retrieve_file(&id).await.map_err(classify)?;
            Ok(RemoteFile {
                id: f.id,
                filename: f.filename.unwrap_or_default(),
                bytes: f.bytes.unwrap_or(0),
                purpose: f.purpose.unwrap_or_default(),
                ..RemoteFile::default()
            })
        })
    }

    fn wait_file_ready(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            self.0
                .wait_file_ready(&id)
                .await
                .map(|_| ())
                .map_err(classify)
        })
    }

    fn validate_grader(
        &self,
        grader: &serde_json::Value,
    ) -> BoxFuture<'_, Result<(), RemoteError>> {
        let grader = grader.clone();
        Box::pin(async move { self.0.validate_grader(&grader).await.map_err(classify) })
    }

    fn create_job(&self, req: JobRequest) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        Box::pin(async move {
            let create = JobCreate {
                model: req.model,
                training_file: req.training_file,
                validation_file: req.validation_file,
                method: req.method,
                suffix: req.suffix,
                seed: req.seed,
                metadata: req.metadata,
                ..JobCreate::default()
            };
            self.0.create_job(&create).await.map(job).map_err(classify)
        })
    }

    fn find_jobs(
        &self,
        key: &str,
        value: &str,
    ) -> BoxFuture<'_, Result<Vec<RemoteJob>, RemoteError>> {
        let (key, value) = (key.to_string(), value.to_string());
        Box::pin(async move {
            let jobs = self
                .0
                .find_jobs_by_metadata(&key, &value)
                .await
                .map_err(classify)?;
            Ok(jobs.into_iter().map(job).collect())
        })
    }

    fn get_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            let j = self.0.retrieve_job(&id).await.map_err(classify)?;
            self.job_with_checkpoints(j).await
        })
    }

    fn cancel_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move { self.0.cancel_job(&id).await.map(job).map_err(classify) })
    }

    fn pause_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move { self.0.pause_job(&id).await.map(job).map_err(classify) })
    }

    fn resume_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move { self.0.resume_job(&id).await.map(job).map_err(classify) })
    }

    fn events_after(
        &self,
        job_id: &str,
        after: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<RemoteEvent>, RemoteError>> {
        let (job_id, after) = (job_id.to_string(), after.map(str::to_string));
        Box::pin(async move {
            let events = self
                .0
                .job_events_since(&job_id, after.as_deref())
                .await
                .map_err(classify)?;
            Ok(events
                .into_iter()
                .map(|e| RemoteEvent {
                    id: e.id,
                    level: e.level.unwrap_or_else(|| "info".into()),
                    message: e.message.unwrap_or_default(),
                    metrics: e.kind.as_deref() == Some("metrics"),
                })
                .collect())
        })
    }

    fn delete_model(&self, model: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let model = model.to_string();
        Box::pin(async move {
            match self.0.delete_model(&model).await.map_err(classify)? {
                provider::DeleteOutcome::Deleted => Ok(()),
                provider::DeleteOutcome::AlreadyGone => Err(RemoteError::NotFound),
            }
        })
    }
}
