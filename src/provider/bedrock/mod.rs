//! Amazon Bedrock model customization, through the official AWS SDK for Rust (`aws-sdk-s3`,
//! `aws-sdk-bedrock`, `aws-config`), on hyper 1 + rustls 0.23 (the TLS stack kube already
//! brings; the SDK's legacy hyper 0.14 client is not compiled in).
//!
//! The training data goes to the customer's own S3 bucket: the redacted bytes are converted to
//! the base model's record format as they stream ([`convert`]) and written under a key derived
//! from the resource uid and the dataset digest, so a retry overwrites instead of duplicating;
//! the digest returned is of the exact bytes written. The job's name and `clientRequestToken`
//! are derived from the uid too ([`JobNames`]), so a retried create cannot make a second job and
//! a crash is recovered by reading the job back by name.
//!
//! Bedrock has no pause or resume; [`BedrockProvider::pause_job`] says so.

pub mod convert;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_bedrock::types::{
    CustomizationType, ModelCustomizationJobStatus, OutputDataConfig, Tag, TrainingDataConfig,
    ValidationDataConfig, Validator,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tracing::info;

pub use convert::{BedrockFormat, ConvertError, Converter};

use super::types::ByteStream;

/// Longest message kept from an AWS error (they end up in conditions).
const MAX_MESSAGE_CHARS: usize = 300;

/// Part size of multipart uploads: S3 needs at least 5 MiB per part but the last; 8 MiB parts
/// reach 80 GB within S3's 10,000 parts. One part is held in memory.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Largest converted file written (bounds the parts and the time spent).
pub const MAX_OBJECT_BYTES: u64 = 8_000_000_000;

/// Most objects listed under one prefix when cleaning up (pages of 1000).
const MAX_LISTED_OBJECTS: usize = 10_000;

/// What a Bedrock provider config says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BedrockConfig {
    /// AWS region, e.g. `us-east-1`.
    pub region: String,
    /// The customer's bucket for training, validation and output data.
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing slash needed).
    pub prefix: String,
    /// The service role Bedrock assumes to read and write the bucket.
    pub role_arn: String,
    /// The base model identifier, e.g. `amazon.nova-micro-v1:0:128k`.
    pub base_model: String,
    /// Record format the base model trains on.
    pub format: BedrockFormat,
    /// An endpoint override (tests: moto on loopback). `None` in production.
    pub endpoint_url: Option<String>,
    /// Credentials; `None` uses the SDK's default chain (env, IRSA web identity, EKS Pod
    /// Identity / container credentials, IMDS).
    pub credentials: Option<StaticCredentials>,
}

/// Keys from the provider config's Secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key id is not secret, but it is not needed in logs either.
        f.write_str("StaticCredentials(..)")
    }
}

/// Which dataset a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataRole {
    /// The training file.
    Training,
    /// The validation file.
    Validation,
}

impl DataRole {
    fn as_str(self) -> &'static str {
        match self {
            Self::Training => "training",
            Self::Validation => "validation",
        }
    }
}

/// Every name tunegate uses at Bedrock for one resource, derived from its uid alone, so the
/// same resource always maps to the same names (crash safety) and two resources never share one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobNames {
    /// `tunegate-<uid>`: the job name (1-63 chars, `[a-zA-Z0-9](-*[a-zA-Z0-9+\-.])*`).
    pub job_name: String,
    /// `tunegate-<uid>`: the custom model name.
    pub custom_model_name: String,
    /// `tunegate-<uid>`: the idempotency token (`[a-zA-Z0-9](-*[a-zA-Z0-9])*`, up to 256).
    pub client_request_token: String,
    /// `<prefix>/tunegate-<uid>-`: every object key of this resource starts with it.
    pub key_prefix: String,
    /// `<prefix>/tunegate-<uid>-output/`: where Bedrock writes the job's output (metrics).
    pub output_prefix: String,
}

impl JobNames {
    /// Names for a resource uid (a Kubernetes uid: 36 characters of hex and dashes).
    pub fn new(prefix: &str, uid: &str) -> Result<Self, BedrockError> {
        let ok = !uid.is_empty()
            && uid.len() <= 40
            && uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && uid.starts_with(|c: char| c.is_ascii_alphanumeric())
            && !uid.ends_with('-');
        if !ok {
            return Err(BedrockError::InvalidConfig(
                "resource uid must be 1-40 letters, digits or inner dashes".into(),
            ));
        }
        let prefix = prefix.trim_matches('/');
        let dir = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let name = format!("tunegate-{uid}");
        Ok(Self {
            job_name: name.clone(),
            custom_model_name: name.clone(),
            client_request_token: name,
            key_prefix: format!("{dir}tunegate-{uid}-"),
            output_prefix: format!("{dir}tunegate-{uid}-output/"),
        })
    }

    /// The key of a data file: `<prefix>/tunegate-<uid>-<digest12>-<role>.jsonl`. The dataset
    /// digest's prefix makes a changed dataset a different object, and lets adoption compare
    /// content, not just a name.
    pub fn data_key(&self, role: DataRole, dataset_digest: &str) -> Result<String, BedrockError> {
        let hex = dataset_digest
            .strip_prefix("sha256:")
            .unwrap_or(dataset_digest);
        let short = hex
            .get(..12)
            .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
        let short = short.ok_or_else(|| {
            BedrockError::InvalidConfig("dataset digest must be sha256 hex".into())
        })?;
        Ok(format!(
            "{}{short}-{}.jsonl",
            self.key_prefix,
            role.as_str()
        ))
    }
}

/// An object tunegate wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Object {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// Bytes written.
    pub bytes: u64,
    /// `sha256:<hex>` of exactly the bytes written (after conversion).
    pub digest: String,
    /// Records (JSONL lines) written.
    pub records: u64,
}

impl S3Object {
    /// `s3://bucket/key`.
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// A customization job to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BedrockJobCreate {
    /// Names from the uid.
    pub names: JobNames,
    /// The training object.
    pub training: S3Object,
    /// The validation object.
    pub validation: Option<S3Object>,
    /// Hyperparameters as Bedrock names them (`epochCount`, `batchSize`, `learningRate`,
    /// `learningRateWarmupSteps`, ...), values as strings.
    pub hyperparameters: BTreeMap<String, String>,
    /// Tags on the job and the model (tunegate sets `tunegate-uid`).
    pub tags: BTreeMap<String, String>,
}

/// A customization job as Bedrock reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BedrockJob {
    /// The job ARN.
    pub arn: String,
    /// The job name.
    pub name: String,
    /// Bedrock's own status word: InProgress, Completed, Failed, Stopping, Stopped.
    pub status: String,
    /// The custom model ARN, once there is one.
    pub output_model_arn: Option<String>,
    /// The custom model name.
    pub output_model_name: Option<String>,
    /// The training data URI the job reads.
    pub training_uri: Option<String>,
    /// Why it failed (truncated).
    pub failure_message: Option<String>,
}

impl BedrockJob {
    /// The status in tunegate's provider-neutral words (OpenAI's), for the same state machine:
    /// InProgress -> running, Completed -> succeeded, Failed -> failed, Stopping -> cancelling,
    /// Stopped -> cancelled; anything else is kept as Bedrock said it.
    pub fn neutral_status(&self) -> &str {
        neutral_status(&self.status)
    }

    /// Whether the job can no longer change.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "Completed" | "Failed" | "Stopped")
    }
}

/// See [`BedrockJob::neutral_status`].
pub fn neutral_status(status: &str) -> &str {
    match status {
        "InProgress" => "running",
        "Completed" => "succeeded",
        "Failed" => "failed",
        "Stopping" => "cancelling",
        "Stopped" => "cancelled",
        other => other,
    }
}

/// Outcome of a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// It existed and is gone now.
    Deleted,
    /// It was not there (the ledger records `NotFound`, not `Deleted`).
    NotFound,
}

/// Errors of the Bedrock provider. Messages carry AWS error codes, never data or credentials.
#[derive(Debug, thiserror::Error)]
pub enum BedrockError {
    /// The config is unusable.
    #[error("invalid Bedrock configuration: {0}")]
    InvalidConfig(String),
    /// AWS answered with an error.
    #[error("{operation}: {code} (HTTP {status}){}", message_suffix(.message))]
    Service {
        /// What was being done.
        operation: &'static str,
        /// AWS's error code, e.g. `ValidationException`, `AccessDenied`.
        code: String,
        /// HTTP status (0 when unknown).
        status: u16,
        /// AWS's message, truncated.
        message: Option<String>,
    },
    /// No usable answer (connect error, timeout, broken connection), after the SDK's retries.
    #[error("{operation}: transport failure: {detail}")]
    Transport {
        /// What was being done.
        operation: &'static str,
        /// The SDK's description.
        detail: String,
    },
    /// An answer the SDK could not read.
    #[error("{operation}: unreadable answer (HTTP {status})")]
    Decode {
        /// What was being done.
        operation: &'static str,
        /// HTTP status.
        status: u16,
    },
    /// The dataset cannot be expressed in the base model's format.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// The source stream failed; the upload was aborted and no object was completed.
    #[error("upload abandoned because the source stream failed: {0}")]
    StreamAborted(std::io::Error),
    /// The converted file is larger than tunegate writes.
    #[error("converted file exceeds {max} bytes")]
    TooLarge {
        /// The bound.
        max: u64,
    },
    /// A job with our name exists but reads other data: not ours to adopt.
    #[error("a customization job named {name} exists with different training data")]
    NameTaken {
        /// The job name.
        name: String,
    },
    /// Bedrock has no such operation.
    #[error("{0} is not supported by Amazon Bedrock")]
    Unsupported(&'static str),
}

fn message_suffix(m: &Option<String>) -> String {
    m.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
}

impl BedrockError {
    /// A stable identifier for conditions and metrics.
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidConfig(_) => "invalid_provider_config",
            Self::Service { code, .. } => code,
            Self::Transport { .. } => "transport_error",
            Self::Decode { .. } => "unexpected_response",
            Self::Convert(e) => e.code,
            Self::StreamAborted(_) => "upload_stream_aborted",
            Self::TooLarge { .. } => "file_too_large",
            Self::NameTaken { .. } => "name_taken",
            Self::Unsupported(_) => "unsupported_operation",
        }
    }

    /// Whether trying again later can help: throttling, 5xx, transport failures.
    pub fn is_recoverable(&self) -> bool {
        match self {
            Self::Service { code, status, .. } => {
                is_recoverable_code(code) || matches!(*status, 429 | 500..=599)
            }
            Self::Transport { .. } => true,
            _ => false,
        }
    }

    /// Whether AWS said the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Service { code, status, .. }
            if matches!(code.as_str(), "ResourceNotFoundException" | "NoSuchKey" | "NotFound" | "NoSuchUpload")
                || (*status == 404 && code != "NoSuchBucket"))
    }

    /// Whether AWS said the name is in use (a create that already happened).
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Service { code, message, .. }
            if matches!(code.as_str(), "ConflictException" | "ResourceInUseException")
                || (code == "ValidationException"
                    && message.as_deref().is_some_and(|m| m.contains("already exists"))))
    }
}

fn is_recoverable_code(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "Throttling"
            | "SlowDown"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalServerException"
            | "InternalError"
            | "RequestTimeout"
            | "RequestTimeoutException"
    )
}

fn truncate(mut m: String) -> String {
    if let Some((i, _)) = m.char_indices().nth(MAX_MESSAGE_CHARS) {
        m.truncate(i);
        m.push('…');
    }
    m
}

fn sdk_error<E>(
    operation: &'static str,
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> BedrockError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &e {
        SdkError::ResponseError(_) => BedrockError::Decode {
            operation,
            status: e.raw_response().map_or(0, |r| r.status().as_u16()),
        },
        SdkError::ServiceError(_) => {
            let status = e.raw_response().map_or(0, |r| r.status().as_u16());
            BedrockError::Service {
                operation,
                code: e
                    .code()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("http_{status}")),
                status,
                message: e.message().map(|m| truncate(m.to_owned())),
            }
        }
        SdkError::ConstructionFailure(_) => {
            BedrockError::InvalidConfig(format!("{operation}: request could not be built"))
        }
        _ => BedrockError::Transport {
            operation,
            detail: truncate(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()),
        },
    }
}

/// Called with the multipart upload id right after S3 created it, before any part is sent, so
/// the ledger holds it and a crash can abort it.
pub type MultipartCreatedHook =
    std::sync::Arc<dyn Fn(String) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// S3 and Bedrock clients for one provider config.
#[derive(Clone, Debug)]
pub struct BedrockProvider {
    cfg: BedrockConfig,
    s3: aws_sdk_s3::Client,
    bedrock: aws_sdk_bedrock::Client,
}

impl BedrockProvider {
    /// Builds the clients. Credentials from the config or the SDK's default chain.
    pub async fn new(cfg: BedrockConfig) -> Result<Self, BedrockError> {
        for (what, v) in [
            ("region", &cfg.region),
            ("bucket", &cfg.bucket),
            ("roleArn", &cfg.role_arn),
            ("baseModel", &cfg.base_model),
        ] {
            if v.trim().is_empty() {
                return Err(BedrockError::InvalidConfig(format!("{what} must be set")));
            }
        }
        if !cfg.role_arn.starts_with("arn:") {
            return Err(BedrockError::InvalidConfig(
                "roleArn must be an IAM role ARN".into(),
            ));
        }
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            // One attempt at one 8 MiB part or one API call.
            .operation_attempt_timeout(Duration::from_secs(300))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .timeout_config(timeouts);
        if let Some(url) = &cfg.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        if let Some(c) = &cfg.credentials {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                c.session_token.clone(),
                None,
                "tunegate-provider-config",
            ));
        }
        let shared = loader.load().await;
        // Path-style addressing only against an endpoint override (moto, S3-compatible
        // stores); virtual-hosted style at AWS.
        let s3_conf = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(cfg.endpoint_url.is_some())
            .build();
        Ok(Self {
            s3: aws_sdk_s3::Client::from_conf(s3_conf),
            bedrock: aws_sdk_bedrock::Client::new(&shared),
            cfg,
        })
    }

    /// The config.
    pub fn config(&self) -> &BedrockConfig {
        &self.cfg
    }

    /// The same clients (and connection pools, credential cache) for another base model and
    /// record format: one provider config serves jobs on different base models.
    pub fn for_model(&self, base_model: &str, format: BedrockFormat) -> Self {
        let mut p = self.clone();
        p.cfg.base_model = base_model.to_owned();
        p.cfg.format = format;
        p
    }

    /// Names for a resource uid.
    pub fn names(&self, uid: &str) -> Result<JobNames, BedrockError> {
        JobNames::new(&self.cfg.prefix, uid)
    }

    /// Streams redacted JSONL through the converter into `key`: one `PutObject` when it fits
    /// in one part, a multipart upload otherwise (aborted on any failure, so no partial object
    /// is ever completed). Writing the same key again replaces the object: a retry after a
    /// crash cannot leave two copies.
    pub async fn upload(
        &self,
        key: &str,
        mut body: ByteStream,
        on_multipart_created: Option<MultipartCreatedHook>,
    ) -> Result<S3Object, BedrockError> {
        let mut converter = Converter::new(self.cfg.format);
        let mut hasher = Sha256::new();
        let mut part: Vec<u8> = Vec::with_capacity(PART_SIZE);
        let mut multipart: Option<Multipart> = None;
        let mut total: u64 = 0;
        let result: Result<(), BedrockError> = async {
            loop {
                let chunk = match body.next().await {
                    Some(Ok(c)) => Some(c),
                    Some(Err(e)) => return Err(BedrockError::StreamAborted(e)),
                    None => None,
                };
                let before = part.len();
                match &chunk {
                    Some(c) => converter.push(c, &mut part)?,
                    None => converter.finish(&mut part)?,
                }
                let added = part.get(before..).unwrap_or_default();
                hasher.update(added);
                total = total.saturating_add(added.len() as u64);
                if total > MAX_OBJECT_BYTES {
                    return Err(BedrockError::TooLarge {
                        max: MAX_OBJECT_BYTES,
                    });
                }
                while part.len() >= PART_SIZE {
                    let rest = part.split_off(PART_SIZE);
                    let full = std::mem::replace(&mut part, rest);
                    let mp = match &mut multipart {
                        Some(mp) => mp,
                        None => {
                            let mp = self.create_multipart(key).await?;
                            if let Some(hook) = &on_multipart_created {
                                hook(mp.upload_id.clone()).await;
                            }
                            multipart.insert(mp)
                        }
                    };
                    self.upload_part(key, mp, full).await?;
                }
                if chunk.is_none() {
                    return Ok(());
                }
            }
        }
        .await;
        let finished = match (result, multipart) {
            (Err(e), Some(mp)) => {
                self.abort_multipart(key, &mp.upload_id).await;
                Err(e)
            }
            (Err(e), None) => Err(e),
            (Ok(()), None) => self.put_object(key, part).await,
            (Ok(()), Some(mut mp)) => {
                let done = async {
                    if !part.is_empty() {
                        self.upload_part(key, &mut mp, part).await?;
                    }
                    self.complete_multipart(key, &mp).await
                }
                .await;
                if done.is_err() {
                    self.abort_multipart(key, &mp.upload_id).await;
                }
                done
            }
        };
        finished?;
        let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
        info!(
            key,
            bytes = total,
            records = converter.records(),
            "training data written to S3"
        );
        Ok(S3Object {
            bucket: self.cfg.bucket.clone(),
            key: key.to_owned(),
            bytes: total,
            digest,
            records: converter.records(),
        })
    }

    async fn put_object(&self, key: &str, bytes: Vec<u8>) -> Result<(), BedrockError> {
        let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        self.s3
            .put_object()
            .bucket(&self.cfg.bucket)
            .key(key)
            .content_type("application/jsonl")
            .content_length(len)
            .body(S3Body::from(bytes))
            .send()
            .await
            .map_err(|e| sdk_error("PutObject", e))?;
        Ok(())
    }

    async fn create_multipart(&self, key: &str) -> Result<Multipart, BedrockError> {
        let out = self
            .s3
            .create_multipart_upload()
            .bucket(&self.cfg.bucket)
            .key(key)
            .content_type("application/jsonl")
            .send()
            .await
            .map_err(|e| sdk_error("CreateMultipartUpload", e))?;
        let upload_id =
            out.upload_id()
                .map(str::to_owned)
                .ok_or_else(|| BedrockError::Transport {
                    operation: "CreateMultipartUpload",
                    detail: "no upload id in the answer".into(),
                })?;
        Ok(Multipart {
            upload_id,
            parts: Vec::new(),
        })
    }

    async fn upload_part(
        &self,
        key: &str,
        mp: &mut Multipart,
        bytes: Vec<u8>,
    ) -> Result<(), BedrockError> {
        let number = i32::try_from(mp.parts.len().saturating_add(1)).unwrap_or(i32::MAX);
        if number > 10_000 {
            return Err(BedrockError::TooLarge {
                max: MAX_OBJECT_BYTES,
            });
        }
        let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        let out = self
            .s3
            .upload_part()
            .bucket(&self.cfg.bucket)
            .key(key)
            .upload_id(&mp.upload_id)
            .part_number(number)
            .content_length(len)
            .body(S3Body::from(bytes))
            .send()
            .await
            .map_err(|e| sdk_error("UploadPart", e))?;
        mp.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_owned))
                .build(),
        );
        Ok(())
    }

    async fn complete_multipart(&self, key: &str, mp: &Multipart) -> Result<(), BedrockError> {
        self.s3
            .complete_multipart_upload()
            .bucket(&self.cfg.bucket)
            .key(key)
            .upload_id(&mp.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(mp.parts.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_error("CompleteMultipartUpload", e))?;
        Ok(())
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) {
        // Best effort: a leftover is found again by `abort_unfinished_uploads`.
        if let Err(e) = self.abort_upload(key, upload_id).await {
            info!(key, error = e.code(), "aborting a multipart upload failed");
        }
    }

    /// Aborts one multipart upload (cleanup of an upload id from the ledger).
    pub async fn abort_upload(&self, key: &str, upload_id: &str) -> Result<Deletion, BedrockError> {
        match self
            .s3
            .abort_multipart_upload()
            .bucket(&self.cfg.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| sdk_error("AbortMultipartUpload", e))
        {
            Ok(_) => Ok(Deletion::Deleted),
            Err(e) if e.is_not_found() => Ok(Deletion::NotFound),
            Err(e) => Err(e),
        }
    }

    /// Aborts every unfinished multipart upload under the resource's key prefix.
    pub async fn abort_unfinished_uploads(&self, names: &JobNames) -> Result<u32, BedrockError> {
        let ids = self.abort_unfinished(names).await?;
        Ok(u32::try_from(ids.len()).unwrap_or(u32::MAX))
    }

    /// Like [`Self::abort_unfinished_uploads`], returning `key#uploadId` of each upload aborted
    /// (for the ledger).
    pub async fn abort_unfinished(&self, names: &JobNames) -> Result<Vec<String>, BedrockError> {
        let out = self
            .s3
            .list_multipart_uploads()
            .bucket(&self.cfg.bucket)
            .prefix(&names.key_prefix)
            .send()
            .await
            .map_err(|e| sdk_error("ListMultipartUploads", e))?;
        let mut aborted = Vec::new();
        for u in out.uploads() {
            if let (Some(key), Some(id)) = (u.key(), u.upload_id())
                && self.abort_upload(key, id).await? == Deletion::Deleted
            {
                aborted.push(format!("{key}#{id}"));
            }
        }
        Ok(aborted)
    }

    /// Every object whose key starts with `prefix` (bounded), for adoption and cleanup.
    pub async fn list_objects(&self, prefix: &str) -> Result<Vec<(String, u64)>, BedrockError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(&self.cfg.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error("ListObjectsV2", e))?;
            for o in out.contents() {
                if let Some(k) = o.key() {
                    let size = o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
                    found.push((k.to_owned(), size));
                }
            }
            if found.len() >= MAX_LISTED_OBJECTS {
                break;
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(found)
    }

    /// The sha256 of an object as stored (reads it back; used to verify an adopted object).
    pub async fn object_digest(&self, key: &str) -> Result<Option<String>, BedrockError> {
        let out = match self
            .s3
            .get_object()
            .bucket(&self.cfg.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error("GetObject", e))
        {
            Ok(out) => out,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut hasher = Sha256::new();
        let mut body = out.body;
        while let Some(chunk) = body.try_next().await.map_err(|e| BedrockError::Transport {
            operation: "GetObject",
            detail: truncate(e.to_string()),
        })? {
            hasher.update(&chunk);
        }
        Ok(Some(format!("sha256:{}", hex::encode(hasher.finalize()))))
    }

    /// Deletes one object. S3 answers 204 whether or not it existed, so it is looked up first:
    /// a missing object is [`Deletion::NotFound`].
    pub async fn delete_object(&self, key: &str) -> Result<Deletion, BedrockError> {
        match self
            .s3
            .head_object()
            .bucket(&self.cfg.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error("HeadObject", e))
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(Deletion::NotFound),
            Err(e) => return Err(e),
        }
        self.s3
            .delete_object()
            .bucket(&self.cfg.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteObject", e))?;
        Ok(Deletion::Deleted)
    }

    /// Deletes every object under a prefix (the job's output metrics); returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u32, BedrockError> {
        let mut deleted = 0u32;
        for (key, _) in self.list_objects(prefix).await? {
            if self.delete_object(&key).await? == Deletion::Deleted {
                deleted = deleted.saturating_add(1);
            }
        }
        Ok(deleted)
    }

    /// Creates the customization job, or adopts it when one with our name already exists and
    /// reads our training data (a retried create, or a crash between create and recording).
    /// The `clientRequestToken` makes Bedrock itself treat a retry as the same request.
    pub async fn create_job(&self, job: &BedrockJobCreate) -> Result<BedrockJob, BedrockError> {
        let tag =
            |(k, v): (&String, &String)| {
                Tag::builder().key(k).value(v).build().map_err(|_| {
                    BedrockError::InvalidConfig("tag keys and values must be set".into())
                })
            };
        let tags: Vec<Tag> = job.tags.iter().map(tag).collect::<Result<_, _>>()?;
        let bad = |what: &str| BedrockError::InvalidConfig(format!("{what} is incomplete"));
        let output = OutputDataConfig::builder()
            .s3_uri(format!(
                "s3://{}/{}",
                self.cfg.bucket, job.names.output_prefix
            ))
            .build()
            .map_err(|_| bad("output data config"))?;
        let mut req = self
            .bedrock
            .create_model_customization_job()
            .job_name(&job.names.job_name)
            .custom_model_name(&job.names.custom_model_name)
            .client_request_token(&job.names.client_request_token)
            .role_arn(&self.cfg.role_arn)
            .base_model_identifier(&self.cfg.base_model)
            .customization_type(CustomizationType::FineTuning)
            .training_data_config(
                TrainingDataConfig::builder()
                    .s3_uri(job.training.uri())
                    .build(),
            )
            .output_data_config(output)
            .set_job_tags(Some(tags.clone()))
            .set_custom_model_tags(Some(tags));
        if let Some(v) = &job.validation {
            let validator = Validator::builder()
                .s3_uri(v.uri())
                .build()
                .map_err(|_| bad("validator"))?;
            req = req.validation_data_config(
                ValidationDataConfig::builder()
                    .validators(validator)
                    .build()
                    .map_err(|_| bad("validation data config"))?,
            );
        }
        for (k, v) in &job.hyperparameters {
            req = req.hyper_parameters(k, v);
        }
        match req
            .send()
            .await
            .map_err(|e| sdk_error("CreateModelCustomizationJob", e))
        {
            Ok(out) => {
                info!(job = %job.names.job_name, "Bedrock customization job created");
                let _ = out.job_arn();
                self.get_job(&job.names.job_name).await
            }
            Err(e) if e.is_conflict() => {
                let existing = self.get_job(&job.names.job_name).await?;
                if existing.training_uri.as_deref() != Some(job.training.uri().as_str()) {
                    return Err(BedrockError::NameTaken {
                        name: job.names.job_name.clone(),
                    });
                }
                info!(job = %job.names.job_name, "Bedrock customization job adopted");
                Ok(existing)
            }
            Err(e) => Err(e),
        }
    }

    /// One job, by name or ARN.
    pub async fn get_job(&self, identifier: &str) -> Result<BedrockJob, BedrockError> {
        let out = self
            .bedrock
            .get_model_customization_job()
            .job_identifier(identifier)
            .send()
            .await
            .map_err(|e| sdk_error("GetModelCustomizationJob", e))?;
        Ok(BedrockJob {
            arn: out.job_arn().to_owned(),
            name: out.job_name().to_owned(),
            status: out
                .status()
                .map(ModelCustomizationJobStatus::as_str)
                .unwrap_or("Unknown")
                .to_owned(),
            output_model_arn: out.output_model_arn().map(str::to_owned),
            output_model_name: Some(out.output_model_name().to_owned()).filter(|n| !n.is_empty()),
            training_uri: out
                .training_data_config()
                .and_then(|t| t.s3_uri())
                .map(str::to_owned),
            failure_message: out.failure_message().map(|m| truncate(m.to_owned())),
        })
    }

    /// The job of a resource after a crash: `None` when there is none.
    pub async fn find_job(&self, names: &JobNames) -> Result<Option<BedrockJob>, BedrockError> {
        match self.get_job(&names.job_name).await {
            Ok(j) => Ok(Some(j)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Stops a running job; a job that is gone is `NotFound`.
    pub async fn stop_job(&self, identifier: &str) -> Result<Deletion, BedrockError> {
        match self
            .bedrock
            .stop_model_customization_job()
            .job_identifier(identifier)
            .send()
            .await
            .map_err(|e| sdk_error("StopModelCustomizationJob", e))
        {
            Ok(_) => Ok(Deletion::Deleted),
            Err(e) if e.is_not_found() => Ok(Deletion::NotFound),
            Err(e) => Err(e),
        }
    }

    /// Bedrock customization jobs cannot be paused.
    pub async fn pause_job(&self, _identifier: &str) -> Result<(), BedrockError> {
        Err(BedrockError::Unsupported("pausing a customization job"))
    }

    /// Bedrock customization jobs cannot be resumed.
    pub async fn resume_job(&self, _identifier: &str) -> Result<(), BedrockError> {
        Err(BedrockError::Unsupported("resuming a customization job"))
    }

    /// Deletes the custom model (by name or ARN). A model with a deployment or provisioned
    /// throughput cannot be deleted: Bedrock answers with an error, which is returned.
    pub async fn delete_custom_model(&self, identifier: &str) -> Result<Deletion, BedrockError> {
        match self
            .bedrock
            .delete_custom_model()
            .model_identifier(identifier)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteCustomModel", e))
        {
            Ok(_) => Ok(Deletion::Deleted),
            Err(e) if e.is_not_found() => Ok(Deletion::NotFound),
            Err(e) => Err(e),
        }
    }

    /// The name of a custom model given its name or ARN; `None` when it does not exist.
    pub async fn custom_model_name(
        &self,
        identifier: &str,
    ) -> Result<Option<String>, BedrockError> {
        match self
            .bedrock
            .get_custom_model()
            .model_identifier(identifier)
            .send()
            .await
            .map_err(|e| sdk_error("GetCustomModel", e))
        {
            Ok(out) => Ok(Some(out.model_name().to_owned())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the custom model exists.
    pub async fn custom_model_exists(&self, identifier: &str) -> Result<bool, BedrockError> {
        match self
            .bedrock
            .get_custom_model()
            .model_identifier(identifier)
            .send()
            .await
            .map_err(|e| sdk_error("GetCustomModel", e))
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[derive(Debug)]
struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_valid_for_bedrock() {
        let uid = "1f0e9c1a-3b2d-4c5e-8f70-a1b2c3d4e5f6";
        let a = JobNames::new("/team-a/ft/", uid).unwrap();
        assert_eq!(a, JobNames::new("team-a/ft", uid).unwrap());
        assert_eq!(a.job_name, format!("tunegate-{uid}"));
        assert!(a.job_name.len() <= 63);
        assert_eq!(a.client_request_token, a.job_name);
        assert_eq!(a.output_prefix, format!("team-a/ft/tunegate-{uid}-output/"));
        let key = a
            .data_key(DataRole::Training, "sha256:0123456789abcdef0123")
            .unwrap();
        assert_eq!(
            key,
            format!("team-a/ft/tunegate-{uid}-0123456789ab-training.jsonl")
        );
        assert!(key.starts_with(&a.key_prefix));
        assert!(!a.output_prefix.starts_with(&key));
        // No prefix: keys at the bucket root.
        let b = JobNames::new("", uid).unwrap();
        assert_eq!(b.key_prefix, format!("tunegate-{uid}-"));
        // Token pattern [a-zA-Z0-9](-*[a-zA-Z0-9])*.
        assert!(
            a.client_request_token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        );
    }

    #[test]
    fn bad_uids_and_digests_are_refused() {
        for uid in ["", "-a", "a-", "a/b", "a b", &"x".repeat(41)] {
            assert!(JobNames::new("p", uid).is_err(), "{uid:?}");
        }
        let n = JobNames::new("p", "abc").unwrap();
        assert!(n.data_key(DataRole::Training, "sha256:xyz").is_err());
        assert!(
            n.data_key(DataRole::Training, "sha256:0123456789zz")
                .is_err()
        );
    }

    #[test]
    fn status_words_map_onto_the_neutral_ones() {
        for (bedrock, neutral) in [
            ("InProgress", "running"),
            ("Completed", "succeeded"),
            ("Failed", "failed"),
            ("Stopping", "cancelling"),
            ("Stopped", "cancelled"),
            ("SomethingNew", "SomethingNew"),
        ] {
            assert_eq!(neutral_status(bedrock), neutral);
        }
    }

    #[test]
    fn errors_are_classified_by_aws_code() {
        let svc = |code: &str, status: u16, message: Option<&str>| BedrockError::Service {
            operation: "X",
            code: code.into(),
            status,
            message: message.map(str::to_owned),
        };
        assert!(svc("ThrottlingException", 400, None).is_recoverable());
        assert!(svc("InternalError", 500, None).is_recoverable());
        assert!(!svc("ValidationException", 400, None).is_recoverable());
        assert!(!svc("AccessDeniedException", 403, None).is_recoverable());
        // moto answers 400 for ResourceNotFoundException; AWS 404: the code decides.
        assert!(svc("ResourceNotFoundException", 400, None).is_not_found());
        assert!(svc("NoSuchKey", 404, None).is_not_found());
        assert!(!svc("NoSuchBucket", 404, None).is_not_found());
        assert!(svc("ResourceInUseException", 400, None).is_conflict());
        assert!(svc("ValidationException", 400, Some("job already exists")).is_conflict());
        assert!(!svc("ValidationException", 400, Some("bad s3 uri")).is_conflict());
        assert_eq!(
            svc("AccessDenied", 403, Some("no")).to_string(),
            "X: AccessDenied (HTTP 403): no"
        );
    }

    #[test]
    fn credentials_never_print() {
        let c = StaticCredentials {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "canary-secret".into(),
            session_token: None,
        };
        let printed = format!("{c:?}");
        assert!(!printed.contains("canary") && !printed.contains("AKIA"));
    }
}
