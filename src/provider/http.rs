//! The HTTP implementation of [`FineTuneProvider`] for OpenAI and Azure OpenAI.

use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use reqwest::{Body, Client, Method, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::{debug, info, warn};

use super::body::{FailureSlot, HoldBack, PartReader};
use super::endpoint::{Dialect, Endpoint};
use super::error::{ApiError, ProviderError, TransportKind};
use super::key::ApiKey;
use super::metrics::{Operation, RequestOutcome};
use super::retry::{Decision, retry_hint, should_retry_header};
use super::sanitize::{MAX_TEXT_BYTES, sanitize};
use super::status::UploadStatus;
use super::types::{
    Checkpoint, DeleteOutcome, FINE_TUNE_PURPOSE, FileListQuery, FileObject, FileUpload,
    FineTuningJob, JobCreate, JobEvent, JobListQuery, Page, UploadObject, UploadPart,
    complete_upload_body, create_upload_body, expires_after_secs, validate_filename,
};
use super::{FineTuneProvider, ProviderOptions};
use tunegate_api::ProviderType;

/// Largest error body read (they are small JSON objects; anything bigger is not one).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Bounds on pagination in the `find_*` helpers.
const MAX_PAGES: usize = 50;
const MAX_EVENT_PAGES: usize = 20;

/// A provider reached over HTTP. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct HttpProvider {
    client: Client,
    endpoint: Endpoint,
    auth: reqwest::header::HeaderMap,
    options: ProviderOptions,
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("endpoint", &self.endpoint)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A request body that can be rebuilt for every attempt.
enum Payload {
    Empty,
    Json(Value),
    /// One Uploads-API part (buffered, so replayable).
    Part(Bytes),
}

impl HttpProvider {
    /// One client (one connection pool) for this endpoint and key.
    pub fn new(
        endpoint: Endpoint,
        key: ApiKey,
        options: ProviderOptions,
    ) -> Result<Self, ProviderError> {
        // reqwest is built without a bundled crypto provider; ring is ours. Installing fails
        // harmlessly when a provider is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .connect_timeout(options.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            // Never follow a redirect: the credential headers (`Authorization`, Azure's
            // `api-key`) would go with it to wherever the server points. A 3xx is an error.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tunegate/", env!("CARGO_PKG_VERSION")))
            // Never follow redirects: a redirect would carry the API key (reqwest keeps `api-key`
            // across hosts) to a host the endpoint allow-list never approved.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ProviderError::InvalidConfig(format!("cannot build HTTP client: {e}")))?;
        let auth = endpoint.headers(&key)?;
        Ok(Self {
            client,
            endpoint,
            auth,
            options,
        })
    }

    /// The endpoint (base URL and dialect).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn url(&self, segments: &[&str]) -> Url {
        self.endpoint.url(segments, &[])
    }

    fn request(&self, method: Method, url: Url, payload: &Payload) -> RequestBuilder {
        let builder = self.client.request(method, url).headers(self.auth.clone());
        match payload {
            Payload::Empty => builder.timeout(self.options.request_timeout),
            Payload::Json(value) => builder.json(value).timeout(self.options.request_timeout),
            Payload::Part(bytes) => {
                let part = Part::stream_with_length(Body::from(bytes.clone()), bytes.len() as u64)
                    .file_name("part");
                builder
                    .multipart(Form::new().part("data", part))
                    .timeout(self.options.upload_timeout_for(bytes.len() as u64))
            }
        }
    }

    fn observe(&self, operation: Operation, outcome: RequestOutcome, started: Instant) {
        self.options
            .observer
            .observe(operation, outcome, started.elapsed());
    }

    /// Sends a replayable request, retrying as the policy allows. Creates are retried only
    /// when the server certainly did not act (429, 503, 409, connect errors).
    async fn send(
        &self,
        operation: Operation,
        method: Method,
        url: Url,
        payload: Payload,
    ) -> Result<Response, ProviderError> {
        let first = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let started = Instant::now();
            let result = self
                .request(method.clone(), url.clone(), &payload)
                .send()
                .await;
            let failure = match result {
                Ok(response) => {
                    self.observe(
                        operation,
                        RequestOutcome::Status(response.status().as_u16()),
                        started,
                    );
                    log_response(operation, &response, attempts, started);
                    if response.status().is_success() {
                        return Ok(response);
                    }
                    api_error(operation, response, attempts).await
                }
                Err(e) => {
                    self.observe(operation, RequestOutcome::TransportError, started);
                    transport_error(operation, &e, attempts)
                }
            };
            let retryable = failure.is_recoverable() && !failure.outcome_unknown();
            let decision = self.options.retry.decide(
                attempts,
                first.elapsed(),
                retryable,
                failure.retry_after(),
                rand::random::<f64>(),
            );
            match decision {
                Decision::Retry(delay) => {
                    info!(
                        operation = %operation,
                        attempt = attempts,
                        error = failure.code(),
                        status = failure.status(),
                        request_id = failure.request_id().unwrap_or("-"),
                        delay_ms = delay.as_millis() as u64,
                        "provider request failed, retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Decision::GiveUp => return Err(failure),
            }
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        operation: Operation,
        method: Method,
        url: Url,
        payload: Payload,
    ) -> Result<T, ProviderError> {
        let response = self.send(operation, method, url, payload).await?;
        decode(operation, response, self.options.max_response_bytes).await
    }

    async fn delete(&self, operation: Operation, url: Url) -> Result<DeleteOutcome, ProviderError> {
        #[derive(Deserialize)]
        struct Deleted {
            deleted: Option<bool>,
        }
        let response = match self
            .send(operation, Method::DELETE, url, Payload::Empty)
            .await
        {
            Ok(response) => response,
            Err(e) if e.is_not_found() => return Ok(DeleteOutcome::AlreadyGone),
            Err(e) => return Err(e),
        };
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(DeleteOutcome::Deleted);
        }
        let body = read_capped(operation, response, self.options.max_response_bytes).await?;
        match serde_json::from_slice::<Deleted>(&body) {
            Ok(Deleted {
                deleted: Some(false),
            }) => Err(ProviderError::Decode {
                operation,
                detail: "the provider answered deleted=false".into(),
            }),
            _ => Ok(DeleteOutcome::Deleted),
        }
    }

    async fn upload_single(&self, upload: FileUpload) -> Result<FileObject, ProviderError> {
        let operation = Operation::UploadFile;
        let mut form = Form::new().text("purpose", FINE_TUNE_PURPOSE);
        if let (Some(expires), Dialect::OpenAi { .. }) =
            (upload.expires_after, self.endpoint.dialect())
        {
            form = form.text("expires_after[anchor]", "created_at").text(
                "expires_after[seconds]",
                expires_after_secs(expires)?.to_string(),
            );
        }
        let slot = FailureSlot::default();
        let body = Body::wrap_stream(HoldBack::new(upload.body, upload.bytes, slot.clone()));
        let file = Part::stream_with_length(body, upload.bytes)
            .file_name(upload.filename.clone())
            .mime_str("application/jsonl")
            .map_err(|e| ProviderError::InvalidRequest(format!("multipart: {e}")))?;
        // The file goes last: everything the server needs to route it comes first.
        form = form.part("file", file);

        let started = Instant::now();
        let result = self
            .client
            .post(self.url(&["files"]))
            .headers(self.auth.clone())
            .timeout(self.options.upload_timeout_for(upload.bytes))
            .multipart(form)
            .send()
            .await;
        let stream_failure = slot.lock().ok().and_then(|mut s| s.take());
        match (result, stream_failure) {
            (result, Some(failure)) => {
                if let Ok(response) = result {
                    self.observe(
                        operation,
                        RequestOutcome::Status(response.status().as_u16()),
                        started,
                    );
                    // A server that accepted a body short of its Content-Length is broken;
                    // make sure the partial file does not survive anyway.
                    if response.status().is_success()
                        && let Ok(file) = decode::<FileObject>(
                            operation,
                            response,
                            self.options.max_response_bytes,
                        )
                        .await
                    {
                        warn!(file_id = %file.id, "provider accepted an aborted upload; deleting it");
                        let _ = self.delete_file(&file.id).await;
                    }
                } else {
                    self.observe(operation, RequestOutcome::TransportError, started);
                }
                Err(failure.into_error(operation))
            }
            (Ok(response), None) => {
                self.observe(
                    operation,
                    RequestOutcome::Status(response.status().as_u16()),
                    started,
                );
                log_response(operation, &response, 1, started);
                if response.status().is_success() {
                    decode(operation, response, self.options.max_response_bytes).await
                } else {
                    Err(api_error(operation, response, 1).await)
                }
            }
            (Err(e), None) => {
                self.observe(operation, RequestOutcome::TransportError, started);
                Err(transport_error(operation, &e, 1))
            }
        }
    }

    async fn upload_in_parts(&self, upload: FileUpload) -> Result<FileObject, ProviderError> {
        let body = create_upload_body(&upload.filename, upload.bytes, upload.expires_after)?;
        let created: UploadObject = self
            .call(
                Operation::CreateUpload,
                Method::POST,
                self.url(&["uploads"]),
                Payload::Json(body),
            )
            .await?;
        let upload_id = created.id.clone();
        debug!(upload_id = %upload_id, bytes = upload.bytes, "upload created");
        let mut guard = CancelGuard {
            pending: Some((self.clone(), upload_id.clone())),
        };
        if let Some(hook) = &upload.on_upload_created {
            hook(upload_id.clone()).await;
        }
        let part_size = usize::try_from(self.options.upload.part_size).unwrap_or(usize::MAX);
        let mut reader = PartReader::new(upload.body, upload.bytes, part_size);
        let result = self.send_parts_and_complete(&upload_id, &mut reader).await;
        match result {
            Ok(file) => {
                guard.pending = None;
                Ok(file)
            }
            Err(e) => {
                if let Some((provider, id)) = guard.pending.take()
                    && let Err(cancel) = provider.cancel_upload(&id).await
                {
                    warn!(upload_id = %id, error = cancel.code(), "cancelling the upload failed; it expires on its own");
                }
                Err(e)
            }
        }
    }

    async fn send_parts_and_complete(
        &self,
        upload_id: &str,
        reader: &mut PartReader,
    ) -> Result<FileObject, ProviderError> {
        let mut part_ids = Vec::new();
        let parts_url = self.url(&["uploads", upload_id, "parts"]);
        loop {
            match reader.next_part().await {
                Ok(Some(bytes)) => {
                    let part: UploadPart = self
                        .call(
                            Operation::AddUploadPart,
                            Method::POST,
                            parts_url.clone(),
                            Payload::Part(bytes),
                        )
                        .await?;
                    part_ids.push(part.id);
                }
                // The source ended cleanly with exactly the declared length: only now may the
                // upload be completed.
                Ok(None) => break,
                Err(failure) => return Err(failure.into_error(Operation::UploadFile)),
            }
        }
        let done: UploadObject = self
            .call(
                Operation::CompleteUpload,
                Method::POST,
                self.url(&["uploads", upload_id, "complete"]),
                Payload::Json(complete_upload_body(&part_ids)),
            )
            .await?;
        match (done.status, done.file) {
            (UploadStatus::Completed, Some(file)) => Ok(file),
            (status, _) => Err(ProviderError::Decode {
                operation: Operation::CompleteUpload,
                detail: format!("completed upload has status {status} and no file"),
            }),
        }
    }

    async fn cancel_upload(&self, upload_id: &str) -> Result<(), ProviderError> {
        let _: Value = self
            .call(
                Operation::CancelUpload,
                Method::POST,
                self.url(&["uploads", upload_id, "cancel"]),
                Payload::Empty,
            )
            .await?;
        info!(upload_id, "upload cancelled");
        Ok(())
    }

    async fn job_action(
        &self,
        operation: Operation,
        job_id: &str,
        action: &str,
    ) -> Result<FineTuningJob, ProviderError> {
        self.call(
            operation,
            Method::POST,
            self.url(&["fine_tuning", "jobs", job_id, action]),
            Payload::Empty,
        )
        .await
    }
}

/// Cancels an Uploads-API upload if the upload future is dropped half-way (the controller's
/// task was aborted): the upload must not linger, and it must never be completed.
struct CancelGuard {
    pending: Option<(HttpProvider, String)>,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some((provider, id)) = self.pending.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                let _ = provider.cancel_upload(&id).await;
            });
        }
    }
}

fn request_id(response: &Response) -> Option<String> {
    ["x-request-id", "apim-request-id"]
        .iter()
        .find_map(|name| response.headers().get(*name))
        .and_then(|v| v.to_str().ok())
        .map(|id| sanitize(id, REQUEST_ID_BYTES))
}

/// Longest request id kept (real ones are under 64 bytes).
const REQUEST_ID_BYTES: usize = 128;

fn log_response(operation: Operation, response: &Response, attempt: u32, started: Instant) {
    debug!(
        operation = %operation,
        status = response.status().as_u16(),
        request_id = request_id(response).as_deref().unwrap_or("-"),
        attempt,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "provider response"
    );
}

async fn api_error(operation: Operation, mut response: Response, attempts: u32) -> ProviderError {
    let status = response.status().as_u16();
    let request_id = request_id(&response);
    let retry_after = retry_hint(response.headers(), SystemTime::now());
    let should_retry = should_retry_header(response.headers());
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ERROR_BODY {
            body.clear();
            break;
        }
    }
    ProviderError::Api {
        operation,
        status,
        error: Box::new(ApiError::parse(&body)),
        request_id,
        retry_after,
        should_retry,
        attempts,
    }
}

fn transport_error(operation: Operation, error: &reqwest::Error, attempts: u32) -> ProviderError {
    let kind = if error.is_connect() {
        TransportKind::Connect
    } else if error.is_timeout() {
        TransportKind::Timeout
    } else {
        TransportKind::Connection
    };
    // The chain of causes, without the URL (it is in the operation already).
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    ProviderError::Transport {
        operation,
        kind,
        attempts,
        detail: sanitize(&detail, MAX_TEXT_BYTES),
    }
}

/// Reads a success body, streamed, stopping with `ResponseTooLarge` as soon as it would pass
/// `limit` bytes (at once when `Content-Length` says so): memory per answer is bounded by
/// `limit`, whatever the server sends. The request timeout still bounds the time.
async fn read_capped(
    operation: Operation,
    mut response: Response,
    limit: u64,
) -> Result<Bytes, ProviderError> {
    let too_large = || ProviderError::ResponseTooLarge { operation, limit };
    let declared = response.content_length();
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let capacity = declared.unwrap_or(0).min(limit).min(64 * 1024);
    let mut body = bytes::BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(operation, &e, 1))?
    {
        let total = u64::try_from(body.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
        if total > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

async fn decode<T: DeserializeOwned>(
    operation: Operation,
    response: Response,
    limit: u64,
) -> Result<T, ProviderError> {
    let body = read_capped(operation, response, limit).await?;
    serde_json::from_slice(&body).map_err(|e| ProviderError::Decode {
        operation,
        // Position and class only: the body is not echoed.
        detail: format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

#[async_trait]
impl FineTuneProvider for HttpProvider {
    fn provider_type(&self) -> ProviderType {
        match self.endpoint.dialect() {
            Dialect::OpenAi { .. } => ProviderType::OpenAI,
            Dialect::Azure { .. } => ProviderType::AzureOpenAI,
        }
    }

    async fn cancel_upload(&self, upload_id: &str) -> Result<(), ProviderError> {
        // The inherent method (also used by the upload's own cancel guard).
        HttpProvider::cancel_upload(self, upload_id).await
    }

    async fn upload_file(&self, upload: FileUpload) -> Result<FileObject, ProviderError> {
        validate_filename(&upload.filename)?;
        if let Some(expires) = upload.expires_after {
            expires_after_secs(expires)?;
        }
        let limits = &self.options.upload;
        if upload.bytes > limits.max_bytes {
            return Err(ProviderError::TooLarge {
                bytes: upload.bytes,
                max: limits.max_bytes,
            });
        }
        let started = Instant::now();
        let (bytes, filename) = (upload.bytes, upload.filename.clone());
        let file = if upload.bytes <= limits.single_request_max {
            self.upload_single(upload).await?
        } else {
            self.upload_in_parts(upload).await?
        };
        info!(
            file_id = %file.id,
            filename = %filename,
            bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "file uploaded"
        );
        Ok(file)
    }

    async fn wait_file_ready(&self, file_id: &str) -> Result<FileObject, ProviderError> {
        let started = Instant::now();
        let mut delay = self.options.file_ready_poll;
        loop {
            let file = self.retrieve_file(file_id).await?;
            let status = file.status.as_ref().map(|s| s.as_str().to_owned());
            if file.status.as_ref().is_some_and(|s| s.is_failed()) {
                return Err(ProviderError::FileProcessingFailed {
                    file_id: file.id,
                    status: status.unwrap_or_default(),
                });
            }
            if file.is_ready() {
                return Ok(file);
            }
            if started.elapsed().saturating_add(delay) > self.options.file_ready_timeout {
                return Err(ProviderError::FileNotReady {
                    file_id: file.id,
                    status: status.unwrap_or_default(),
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            debug!(
                file_id,
                status = status.as_deref().unwrap_or("-"),
                "waiting for file processing"
            );
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2).min(Duration::from_secs(10));
        }
    }

    async fn retrieve_file(&self, file_id: &str) -> Result<FileObject, ProviderError> {
        self.call(
            Operation::RetrieveFile,
            Method::GET,
            self.url(&["files", file_id]),
            Payload::Empty,
        )
        .await
    }

    async fn list_files(&self, query: &FileListQuery) -> Result<Page<FileObject>, ProviderError> {
        let limit = query.limit.map(|l| l.to_string());
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(purpose) = &query.purpose {
            pairs.push(("purpose", purpose));
        }
        if let Some(after) = &query.after {
            pairs.push(("after", after));
        }
        if let Some(limit) = &limit {
            pairs.push(("limit", limit));
        }
        let url = self.endpoint.url(&["files"], &pairs);
        self.call(Operation::ListFiles, Method::GET, url, Payload::Empty)
            .await
    }

    async fn find_files_by_filename(
        &self,
        filename: &str,
    ) -> Result<Vec<FileObject>, ProviderError> {
        let mut query = FileListQuery {
            purpose: Some(FINE_TUNE_PURPOSE.to_owned()),
            after: None,
            limit: None,
        };
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.list_files(&query).await?;
            let next = page
                .last_id
                .clone()
                .or_else(|| page.data.last().map(|f| f.id.clone()));
            found.extend(
                page.data
                    .into_iter()
                    .filter(|f| f.filename.as_deref() == Some(filename)),
            );
            match next {
                Some(next) if page.has_more && query.after.as_ref() != Some(&next) => {
                    query.after = Some(next)
                }
                _ => break,
            }
        }
        Ok(found)
    }

    async fn delete_file(&self, file_id: &str) -> Result<DeleteOutcome, ProviderError> {
        let outcome = self
            .delete(Operation::DeleteFile, self.url(&["files", file_id]))
            .await?;
        info!(file_id, outcome = ?outcome, "file deleted");
        Ok(outcome)
    }

    async fn validate_grader(&self, grader: &Value) -> Result<(), ProviderError> {
        super::types::check_grader(grader)?;
        if let Dialect::OpenAi { .. } = self.endpoint.dialect() {
            let _: Value = self
                .call(
                    Operation::ValidateGrader,
                    Method::POST,
                    self.url(&["fine_tuning", "alpha", "graders", "validate"]),
                    Payload::Json(serde_json::json!({ "grader": grader })),
                )
                .await?;
        }
        Ok(())
    }

    async fn create_job(&self, job: &JobCreate) -> Result<FineTuningJob, ProviderError> {
        let body = job.to_body_for(self.endpoint.dialect())?;
        let created: FineTuningJob = self
            .call(
                Operation::CreateJob,
                Method::POST,
                self.url(&["fine_tuning", "jobs"]),
                Payload::Json(body),
            )
            .await?;
        info!(job_id = %created.id, status = %created.status, "fine-tuning job created");
        Ok(created)
    }

    async fn retrieve_job(&self, job_id: &str) -> Result<FineTuningJob, ProviderError> {
        self.call(
            Operation::RetrieveJob,
            Method::GET,
            self.url(&["fine_tuning", "jobs", job_id]),
            Payload::Empty,
        )
        .await
    }

    async fn list_jobs(&self, query: &JobListQuery) -> Result<Page<FineTuningJob>, ProviderError> {
        let pairs = query.pairs();
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let url = self.endpoint.url(&["fine_tuning", "jobs"], &pairs);
        self.call(Operation::ListJobs, Method::GET, url, Payload::Empty)
            .await
    }

    async fn find_jobs_by_metadata(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Vec<FineTuningJob>, ProviderError> {
        let mut query = JobListQuery {
            after: None,
            limit: Some(100),
            metadata: [(key.to_owned(), value.to_owned())].into(),
        };
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = self.list_jobs(&query).await?;
            let next = page
                .last_id
                .clone()
                .or_else(|| page.data.last().map(|j| j.id.clone()));
            found.extend(page.data.into_iter().filter(|j| j.has_metadata(key, value)));
            match next {
                Some(next) if page.has_more && query.after.as_ref() != Some(&next) => {
                    query.after = Some(next)
                }
                _ => break,
            }
        }
        Ok(found)
    }

    async fn cancel_job(&self, job_id: &str) -> Result<FineTuningJob, ProviderError> {
        self.job_action(Operation::CancelJob, job_id, "cancel")
            .await
    }

    async fn pause_job(&self, job_id: &str) -> Result<FineTuningJob, ProviderError> {
        self.job_action(Operation::PauseJob, job_id, "pause").await
    }

    async fn resume_job(&self, job_id: &str) -> Result<FineTuningJob, ProviderError> {
        self.job_action(Operation::ResumeJob, job_id, "resume")
            .await
    }

    async fn delete_job(&self, job_id: &str) -> Result<DeleteOutcome, ProviderError> {
        match self.endpoint.dialect() {
            Dialect::Azure { .. } => {
                self.delete(
                    Operation::DeleteJob,
                    self.url(&["fine_tuning", "jobs", job_id]),
                )
                .await
            }
            Dialect::OpenAi { .. } => Err(ProviderError::Unsupported {
                operation: Operation::DeleteJob,
                provider: "OpenAI",
            }),
        }
    }

    async fn list_job_events(
        &self,
        job_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<JobEvent>, ProviderError> {
        let limit = limit.to_string();
        let mut pairs = vec![("limit", limit.as_str())];
        if let Some(after) = after {
            pairs.push(("after", after));
        }
        let url = self
            .endpoint
            .url(&["fine_tuning", "jobs", job_id, "events"], &pairs);
        self.call(Operation::ListJobEvents, Method::GET, url, Payload::Empty)
            .await
    }

    async fn job_events_since(
        &self,
        job_id: &str,
        last_seen: Option<&str>,
    ) -> Result<Vec<JobEvent>, ProviderError> {
        let mut newer: Vec<JobEvent> = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_EVENT_PAGES {
            let page = self.list_job_events(job_id, after.as_deref(), 100).await?;
            let count = page.data.len();
            let mut reached = false;
            for event in page.data {
                if Some(event.id.as_str()) == last_seen {
                    reached = true;
                    break;
                }
                newer.push(event);
            }
            if reached || !page.has_more || count == 0 {
                break;
            }
            after = newer.last().map(|e| e.id.clone());
        }
        // Pages are newest first; the controller wants them in the order they happened.
        newer.reverse();
        Ok(newer)
    }

    async fn list_job_checkpoints(
        &self,
        job_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Checkpoint>, ProviderError> {
        let limit = limit.to_string();
        let mut pairs = vec![("limit", limit.as_str())];
        if let Some(after) = after {
            pairs.push(("after", after));
        }
        let url = self
            .endpoint
            .url(&["fine_tuning", "jobs", job_id, "checkpoints"], &pairs);
        self.call(
            Operation::ListJobCheckpoints,
            Method::GET,
            url,
            Payload::Empty,
        )
        .await
    }

    async fn delete_model(&self, model: &str) -> Result<DeleteOutcome, ProviderError> {
        match self.endpoint.dialect() {
            Dialect::Azure { .. } => Err(ProviderError::ModelDeletionUnsupported {
                model: model.to_owned(),
            }),
            Dialect::OpenAi { .. } => {
                let outcome = self
                    .delete(Operation::DeleteModel, self.url(&["models", model]))
                    .await?;
                info!(model, outcome = ?outcome, "model deleted");
                Ok(outcome)
            }
        }
    }
}
