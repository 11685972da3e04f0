//! The Amazon Bedrock adapter behind the provider port: `Remote` over `crate::provider::bedrock`
//! (the official AWS SDK for Rust).
//!
//! How the port's neutral operations land on Bedrock:
//! - a dataset copy is an S3 object in the config's bucket, `<prefix>/tunegate-<uid>-<digest12>-<role>.jsonl`,
//!   converted to the base model's record format as it streams; its id is `s3://bucket/key` and
//!   the digest reported is that of the converted bytes;
//! - the job is named `tunegate-<uid>` with the same `clientRequestToken`, so a retried create
//!   cannot make a second job and a crash is recovered by reading it back by name;
//! - the job's output prefix `s3://bucket/<prefix>/tunegate-<uid>-output/` is reported with the
//!   job, so the ledger holds it before Bedrock writes there;
//! - there are no events, no pause and no resume (refused at admission, see
//!   `finetune/capabilities.rs`).
//!
//! Credentials: the config's Secret key holds an AWS shared-credentials file
//! (`aws_access_key_id`, `aws_secret_access_key`, optional `aws_session_token`; the `[default]`
//! profile, or the only one), the same convention as Crossplane's and Velero's AWS Secrets. A
//! ClusterProviderConfig without credentials uses the SDK's default chain (an empty key here).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::OnceCell;

use super::finetune::plan::UID_METADATA_KEY;
use super::ports::{
    CopyRef, DatasetCopy, JobRequest, Remote, RemoteError, RemoteEvent, RemoteFile, RemoteJob,
    RemoteOutput, UploadBody, UploadCreated,
};
use crate::provider::Target;
use crate::provider::bedrock::{
    BedrockConfig, BedrockError, BedrockFormat, BedrockJob, BedrockJobCreate, BedrockProvider,
    DataRole, Deletion, JobNames, S3Object, StaticCredentials,
};
use crate::provider::sanitize::sanitize;
use tunegate_api::{AutoOr, DatasetFormat, FineTuneMethod, MethodType, RemoteKind};

/// Most Bedrock clients kept (one per config and key); rotated keys leave stale entries, so the
/// map is bounded rather than tracked.
const MAX_CACHED: usize = 256;

/// Builds Bedrock remotes, one per distinct target and key, reused across reconciles (the SDK
/// clients hold connection pools and a credentials cache).
#[derive(Default)]
pub struct BedrockRemotes {
    cache: Mutex<HashMap<String, Arc<BedrockRemote>>>,
}

impl BedrockRemotes {
    pub fn build(&self, target: &Target, key: &str) -> Result<Box<dyn Remote>, RemoteError> {
        let cache_key = super::adapters::cache_key(target, key);
        if let Ok(cache) = self.cache.lock()
            && let Some(r) = cache.get(&cache_key)
        {
            return Ok(Box::new(Shared(r.clone())));
        }
        let remote = Arc::new(BedrockRemote::new(target, key)?);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(cache_key, remote.clone());
        }
        Ok(Box::new(Shared(remote)))
    }
}

/// Parses an AWS shared-credentials file (or `KEY=value` lines with the same names, any case):
/// the `[default]` profile, or the only profile. Errors name what is missing, never a value.
pub fn parse_credentials(text: &str) -> Result<StaticCredentials, &'static str> {
    let mut profiles: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().trim_start_matches("profile ").trim().to_owned();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            profiles
                .entry(current.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let profile = match (profiles.get("default"), profiles.get("")) {
        (Some(p), _) | (None, Some(p)) => p,
        _ if profiles.len() == 1 => profiles.values().next().ok_or("no profile")?,
        _ => return Err("several profiles and no [default]"),
    };
    let get = |k: &str| profile.get(k).filter(|v| !v.is_empty()).cloned();
    Ok(StaticCredentials {
        access_key_id: get("aws_access_key_id").ok_or("aws_access_key_id missing")?,
        secret_access_key: get("aws_secret_access_key").ok_or("aws_secret_access_key missing")?,
        session_token: get("aws_session_token"),
    })
}

/// The record format Bedrock trains a base model on, for a dataset format. Claude 3 Haiku has
/// its own messages format; other chat models take the Converse schema
/// (`bedrock-conversation-2024`); Completion data becomes `{"prompt","completion"}`. Preference
/// data has no Bedrock customization that takes it.
pub fn record_format(model: &str, format: DatasetFormat) -> Result<BedrockFormat, String> {
    match format {
        DatasetFormat::Completion => Ok(BedrockFormat::PromptCompletion),
        DatasetFormat::Chat if model.starts_with("anthropic.claude-3-haiku") => {
            Ok(BedrockFormat::ClaudeMessages)
        }
        DatasetFormat::Chat => Ok(BedrockFormat::Conversation),
        DatasetFormat::Preference => Err(
            "Preference (DPO) datasets: Amazon Bedrock model customization has no preference tuning"
                .into(),
        ),
        DatasetFormat::Reinforcement => Err(
            "Reinforcement datasets: Amazon Bedrock grades reinforcement fine-tuning with a Lambda function, not with the grader a FineTuneJob names"
                .into(),
        ),
    }
}

/// The hyperparameters as Bedrock names them (Amazon Bedrock user guide, "Custom model
/// hyperparameters"): `nEpochs` -> `epochCount`, `batchSize` -> `batchSize`; the learning-rate
/// multiplier exists only for Anthropic models (`learningRateMultiplier`), the others take an
/// absolute `learningRate`, which has no FineTuneJob field. `auto` means the field is omitted.
pub fn hyperparameters(
    model: &str,
    method: &FineTuneMethod,
) -> Result<BTreeMap<String, String>, String> {
    match method.type_ {
        MethodType::Supervised => {}
        MethodType::Dpo => {
            return Err(
                "method DPO: Amazon Bedrock model customization has no preference tuning".into(),
            );
        }
        MethodType::Reinforcement => {
            return Err(
                "method Reinforcement: Amazon Bedrock grades with a Lambda function, not with the grader a FineTuneJob names".into(),
            );
        }
    }
    let mut out = BTreeMap::new();
    let Some(h) = &method.hyperparameters else {
        return Ok(out);
    };
    if let Some(AutoOr::Value(n)) = h.n_epochs {
        out.insert("epochCount".to_owned(), n.to_string());
    }
    if let Some(AutoOr::Value(n)) = h.batch_size {
        out.insert("batchSize".to_owned(), n.to_string());
    }
    if let Some(AutoOr::Value(m)) = h.learning_rate_multiplier {
        if !model.starts_with("anthropic.") {
            return Err(format!(
                "learningRateMultiplier: {model} takes an absolute learningRate on Bedrock, not a multiplier"
            ));
        }
        out.insert("learningRateMultiplier".to_owned(), m.to_string());
    }
    if matches!(h.beta, Some(AutoOr::Value(_))) {
        return Err("beta: a DPO parameter, and Bedrock has no DPO".into());
    }
    Ok(out)
}

fn data_role(role: &str) -> DataRole {
    if role == "validation" {
        DataRole::Validation
    } else {
        DataRole::Training
    }
}

/// `s3://bucket/key` -> (bucket, key).
fn parse_uri(uri: &str) -> Option<(&str, &str)> {
    uri.strip_prefix("s3://")?
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
}

/// Maps a Bedrock error onto the port's classes.
pub fn classify(e: BedrockError) -> RemoteError {
    if e.is_not_found() {
        return RemoteError::NotFound;
    }
    let http = match &e {
        BedrockError::Service { status, .. } | BedrockError::Decode { status, .. } => *status,
        _ => 0,
    };
    let code = e.code().to_owned();
    let auth = matches!(
        code.as_str(),
        "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "AccessDenied"
            | "AccessDeniedException"
    ) || matches!(http, 401 | 403);
    if auth {
        return RemoteError::AuthRejected {
            code,
            message: sanitize(&e.to_string(), 300),
            http,
        };
    }
    if e.is_recoverable() {
        return RemoteError::Recoverable {
            code,
            retry_after: None,
        };
    }
    RemoteError::Terminal {
        code,
        message: sanitize(&e.to_string(), 300),
        http,
    }
}

fn unsupported(what: &str) -> RemoteError {
    RemoteError::Terminal {
        code: "unsupported_operation".into(),
        message: format!("{what} is not supported by Amazon Bedrock"),
        http: 0,
    }
}

/// One Bedrock config and key. The SDK clients are built on first use (loading the default
/// credential chain is asynchronous; the port's factory is not).
pub struct BedrockRemote {
    config: BedrockConfig,
    client: OnceCell<BedrockProvider>,
}

impl BedrockRemote {
    fn new(target: &Target, key: &str) -> Result<Self, RemoteError> {
        let invalid = |m: String| RemoteError::Terminal {
            code: "invalid_provider_config".into(),
            message: m,
            http: 0,
        };
        let b = target
            .bedrock
            .as_ref()
            .ok_or_else(|| invalid("a Bedrock config needs its bedrock settings".into()))?;
        let credentials = if key.trim().is_empty() {
            None
        } else {
            Some(parse_credentials(key).map_err(|m| {
                invalid(format!(
                    "the credentials Secret key must hold an AWS credentials file: {m}"
                ))
            })?)
        };
        // The regional default is only what the allow-list checked: the SDK knows the real
        // endpoints (bedrock and S3) itself. Anything else (moto, a VPC endpoint) is used as is.
        let regional = format!("https://bedrock.{}.amazonaws.com", b.region);
        let endpoint_url = (target.endpoint.trim_end_matches('/') != regional)
            .then(|| target.endpoint.trim_end_matches('/').to_owned());
        Ok(Self {
            config: BedrockConfig {
                region: b.region.clone(),
                bucket: b.s3.bucket.clone(),
                prefix: b.s3.prefix.clone().unwrap_or_default(),
                role_arn: b.role_arn.clone(),
                // Set per job (`for_model`): one config serves several base models.
                base_model: "per-job".into(),
                format: BedrockFormat::Conversation,
                endpoint_url,
                credentials,
            },
            client: OnceCell::new(),
        })
    }

    async fn client(&self) -> Result<&BedrockProvider, RemoteError> {
        self.client
            .get_or_try_init(|| BedrockProvider::new(self.config.clone()))
            .await
            .map_err(classify)
    }

    fn names(&self, uid: &str) -> Result<JobNames, RemoteError> {
        JobNames::new(&self.config.prefix, uid).map_err(classify)
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.config.bucket)
    }

    /// The key of an `s3://` id in this config's bucket; another bucket is refused.
    fn key_of<'a>(&self, id: &'a str) -> Result<&'a str, RemoteError> {
        match parse_uri(id) {
            Some((bucket, key)) if bucket == self.config.bucket => Ok(key),
            _ => Err(RemoteError::Terminal {
                code: "foreign_object".into(),
                message: format!("{id} is not in bucket {}", self.config.bucket),
                http: 0,
            }),
        }
    }

    fn job(&self, j: BedrockJob, names: Option<&JobNames>) -> RemoteJob {
        let status = j.neutral_status().to_owned();
        let failed = j.status == "Failed";
        // Bedrock jobs carry no metadata to read back; the name is derived from the uid alone,
        // so it says whose the job is as surely (see `finetune::owned`).
        let metadata = names
            .filter(|n| n.job_name == j.name)
            .and_then(|_| j.name.strip_prefix("tunegate-"))
            .map(|uid| BTreeMap::from([(UID_METADATA_KEY.to_owned(), uid.to_owned())]))
            .unwrap_or_default();
        RemoteJob {
            // The name, not the ARN: Bedrock takes either, moto only the name.
            id: j.name,
            status,
            fine_tuned_model: j.output_model_arn,
            trained_tokens: None,
            error_code: failed.then(|| "bedrock_job_failed".to_owned()),
            error_message: j.failure_message.map(|m| sanitize(&m, 300)),
            metadata,
            outputs: names
                .map(|n| RemoteOutput {
                    kind: RemoteKind::Output,
                    id: self.uri(&n.output_prefix),
                    role: "output",
                })
                .into_iter()
                .collect(),
        }
    }

    fn names_of_job(&self, j: &BedrockJob) -> Option<JobNames> {
        j.name
            .strip_prefix("tunegate-")
            .and_then(|uid| self.names(uid).ok())
    }

    async fn copies(&self, at: &CopyRef) -> Result<Vec<RemoteFile>, RemoteError> {
        let names = self.names(&at.uid)?;
        let client = self.client().await?;
        let suffix = format!("-{}.jsonl", at.role);
        let mut out = Vec::new();
        for (key, size) in client
            .list_objects(&names.key_prefix)
            .await
            .map_err(classify)?
        {
            if key.starts_with(&names.output_prefix) || !key.ends_with(&suffix) {
                continue;
            }
            let prefix = key
                .strip_prefix(&names.key_prefix)
                .and_then(|k| k.strip_suffix(&suffix))
                .filter(|d| d.len() == 12 && d.chars().all(|c| c.is_ascii_hexdigit()))
                .map(str::to_owned);
            // Read back: the ledger records the digest of the bytes that are there.
            let digest = client.object_digest(&key).await.map_err(classify)?;
            out.push(RemoteFile {
                id: self.uri(&key),
                filename: key,
                bytes: size,
                purpose: "fine-tune".into(),
                digest,
                dataset_digest_prefix: prefix,
            });
        }
        Ok(out)
    }
}

/// `Box<dyn Remote>` over a cached remote.
struct Shared(Arc<BedrockRemote>);

impl Remote for Shared {
    fn find_files(&self, _filename: &str) -> BoxFuture<'_, Result<Vec<RemoteFile>, RemoteError>> {
        // Copies are found by uid and role (`find_copies`), never by filename.
        Box::pin(async { Ok(Vec::new()) })
    }

    fn upload_file(
        &self,
        _filename: String,
        _purpose: String,
        _len: u64,
        _expires_after_secs: u64,
        _body: UploadBody,
    ) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        Box::pin(async { Err(unsupported("a file upload without a dataset copy")) })
    }

    fn delete_file(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_owned();
        Box::pin(async move {
            let key = self.0.key_of(&id)?.to_owned();
            match self
                .0
                .client()
                .await?
                .delete_object(&key)
                .await
                .map_err(classify)?
            {
                Deletion::Deleted => Ok(()),
                Deletion::NotFound => Err(RemoteError::NotFound),
            }
        })
    }

    fn get_file(&self, id: &str) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        // The id names the object (`s3://bucket/key`) and the key is all that ownership looks
        // at; whether it still exists is for the call that uses it to find out.
        let id = id.to_owned();
        Box::pin(async move {
            let key = self.0.key_of(&id)?.to_owned();
            Ok(RemoteFile {
                id,
                filename: key,
                purpose: "fine-tune".into(),
                ..RemoteFile::default()
            })
        })
    }

    fn wait_file_ready(&self, _id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        // An S3 object is readable once written.
        Box::pin(async { Ok(()) })
    }

    fn create_job(&self, req: JobRequest) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        Box::pin(async move {
            let r = &self.0;
            let uid = req
                .metadata
                .get(UID_METADATA_KEY)
                .ok_or_else(|| unsupported("a job without a resource uid"))?;
            let names = r.names(uid)?;
            let object = |id: &str| -> Result<S3Object, RemoteError> {
                let key = r.key_of(id)?;
                Ok(S3Object {
                    bucket: r.config.bucket.clone(),
                    key: key.to_owned(),
                    bytes: 0,
                    digest: String::new(),
                    records: 0,
                })
            };
            let training = object(&req.training_file)?;
            let validation = req.validation_file.as_deref().map(object).transpose()?;
            let hyperparameters =
                hyperparameters(&req.model, &req.method).map_err(|m| RemoteError::Terminal {
                    code: "unsupported_hyperparameters".into(),
                    message: m,
                    http: 0,
                })?;
            let client = r
                .client()
                .await?
                .for_model(&req.model, BedrockFormat::Conversation);
            let job = client
                .create_job(&BedrockJobCreate {
                    names: names.clone(),
                    training,
                    validation,
                    hyperparameters,
                    tags: req.metadata.clone(),
                })
                .await
                .map_err(classify)?;
            Ok(r.job(job, Some(&names)))
        })
    }

    fn find_jobs(
        &self,
        key: &str,
        value: &str,
    ) -> BoxFuture<'_, Result<Vec<RemoteJob>, RemoteError>> {
        let (key, value) = (key.to_owned(), value.to_owned());
        Box::pin(async move {
            // Bedrock finds the job by its name, which the uid decides.
            if key != UID_METADATA_KEY {
                return Ok(Vec::new());
            }
            let names = self.0.names(&value)?;
            let found = self
                .0
                .client()
                .await?
                .find_job(&names)
                .await
                .map_err(classify)?;
            Ok(found
                .map(|j| self.0.job(j, Some(&names)))
                .into_iter()
                .collect())
        })
    }

    fn get_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_owned();
        Box::pin(async move {
            let j = self
                .0
                .client()
                .await?
                .get_job(&id)
                .await
                .map_err(classify)?;
            let names = self.0.names_of_job(&j);
            Ok(self.0.job(j, names.as_ref()))
        })
    }

    fn cancel_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_owned();
        Box::pin(async move {
            let client = self.0.client().await?;
            if client.stop_job(&id).await.map_err(classify)? == Deletion::NotFound {
                return Err(RemoteError::NotFound);
            }
            let j = client.get_job(&id).await.map_err(classify)?;
            let names = self.0.names_of_job(&j);
            Ok(self.0.job(j, names.as_ref()))
        })
    }

    fn pause_job(&self, _id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        Box::pin(async { Err(unsupported("pausing a customization job")) })
    }

    fn resume_job(&self, _id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        Box::pin(async { Err(unsupported("resuming a customization job")) })
    }

    fn events_after(
        &self,
        _job_id: &str,
        _after: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<RemoteEvent>, RemoteError>> {
        // Bedrock reports a status and metrics files, not an event stream.
        Box::pin(async { Ok(Vec::new()) })
    }

    fn delete_model(&self, model: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let model = model.to_owned();
        Box::pin(async move {
            let client = self.0.client().await?;
            // The ledger holds the ARN (what inference and provisioned throughput take). Bedrock
            // deletes by name or ARN; moto by name only, so the name is looked up first.
            let Some(name) = client.custom_model_name(&model).await.map_err(classify)? else {
                return Err(RemoteError::NotFound);
            };
            match client.delete_custom_model(&name).await.map_err(classify)? {
                Deletion::Deleted => Ok(()),
                Deletion::NotFound => Err(RemoteError::NotFound),
            }
        })
    }

    fn find_copies(&self, at: &CopyRef) -> BoxFuture<'_, Result<Vec<RemoteFile>, RemoteError>> {
        let at = at.clone();
        Box::pin(async move { self.0.copies(&at).await })
    }

    fn store_copy(
        &self,
        copy: &DatasetCopy,
        _len: u64,
        _expires_after_secs: u64,
        body: UploadBody,
        on_upload_created: Option<UploadCreated>,
    ) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        let copy = copy.clone();
        Box::pin(async move {
            let r = &self.0;
            let format =
                record_format(&copy.model, copy.format).map_err(|m| RemoteError::Terminal {
                    code: "unsupported_dataset_format".into(),
                    message: m,
                    http: 0,
                })?;
            let names = r.names(&copy.at.uid)?;
            let key = names
                .data_key(data_role(copy.at.role), &copy.dataset_digest)
                .map_err(classify)?;
            let client = r.client().await?.for_model(&copy.model, format);
            // The ledger id of a multipart upload is `key#uploadId`: aborting needs both.
            let hook = on_upload_created.map(|h| {
                let key = key.clone();
                let hook: crate::provider::bedrock::MultipartCreatedHook =
                    Arc::new(move |id: String| h(format!("{key}#{id}")));
                hook
            });
            let obj = client.upload(&key, body, hook).await.map_err(classify)?;
            let prefix = copy
                .dataset_digest
                .strip_prefix("sha256:")
                .and_then(|h| h.get(..12))
                .map(str::to_owned);
            Ok(RemoteFile {
                id: obj.uri(),
                filename: obj.key.clone(),
                bytes: obj.bytes,
                purpose: "fine-tune".into(),
                digest: Some(obj.digest),
                dataset_digest_prefix: prefix,
            })
        })
    }

    fn cancel_upload(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_owned();
        Box::pin(async move {
            let Some((key, upload_id)) = id.rsplit_once('#') else {
                return Err(RemoteError::NotFound);
            };
            match self
                .0
                .client()
                .await?
                .abort_upload(key, upload_id)
                .await
                .map_err(classify)?
            {
                Deletion::Deleted => Ok(()),
                Deletion::NotFound => Err(RemoteError::NotFound),
            }
        })
    }

    fn delete_output(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_owned();
        Box::pin(async move {
            let prefix = self.0.key_of(&id)?.to_owned();
            // Only a prefix of this resource's own: never a bucket-wide delete.
            if !prefix.ends_with('/') || !prefix.contains("tunegate-") {
                return Err(RemoteError::Terminal {
                    code: "foreign_object".into(),
                    message: format!("{id} is not a tunegate output prefix"),
                    http: 0,
                });
            }
            let deleted = self
                .0
                .client()
                .await?
                .delete_prefix(&prefix)
                .await
                .map_err(classify)?;
            if deleted == 0 {
                return Err(RemoteError::NotFound);
            }
            Ok(())
        })
    }

    fn abort_unrecorded_uploads(
        &self,
        uid: &str,
    ) -> BoxFuture<'_, Result<Vec<String>, RemoteError>> {
        let uid = uid.to_owned();
        Box::pin(async move {
            let names = self.0.names(&uid)?;
            self.0
                .client()
                .await?
                .abort_unfinished(&names)
                .await
                .map_err(classify)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_files_parse_and_never_echo_values() {
        let c = parse_credentials(
            "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key=s3cr3t\n",
        )
        .unwrap();
        assert_eq!(c.access_key_id, "AKIAEXAMPLE");
        assert_eq!(c.secret_access_key, "s3cr3t");
        assert_eq!(c.session_token, None);
        // Environment-style names, no section, with a session token.
        let c = parse_credentials(
            "AWS_ACCESS_KEY_ID=a\nAWS_SECRET_ACCESS_KEY=b\nAWS_SESSION_TOKEN=t\n",
        )
        .unwrap();
        assert_eq!(c.session_token.as_deref(), Some("t"));
        // The only profile is used; several without [default] are ambiguous.
        assert!(parse_credentials("[ci]\naws_access_key_id=a\naws_secret_access_key=b").is_ok());
        assert_eq!(
            parse_credentials("[a]\naws_access_key_id=a\n[b]\naws_access_key_id=b").unwrap_err(),
            "several profiles and no [default]"
        );
        let e = parse_credentials("[default]\naws_access_key_id=canary-id\n").unwrap_err();
        assert_eq!(e, "aws_secret_access_key missing");
        assert!(parse_credentials("just-an-api-key").is_err());
    }

    #[test]
    fn record_formats_follow_model_and_dataset() {
        assert_eq!(
            record_format("amazon.nova-micro-v1:0:128k", DatasetFormat::Chat),
            Ok(BedrockFormat::Conversation)
        );
        assert_eq!(
            record_format(
                "anthropic.claude-3-haiku-20240307-v1:0:200k",
                DatasetFormat::Chat
            ),
            Ok(BedrockFormat::ClaudeMessages)
        );
        assert_eq!(
            record_format("amazon.titan-text-lite-v1:0:4k", DatasetFormat::Completion),
            Ok(BedrockFormat::PromptCompletion)
        );
        assert!(record_format("x", DatasetFormat::Preference).is_err());
    }

    fn method(y: &str) -> FineTuneMethod {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn hyperparameters_take_bedrock_names() {
        let m = method("{type: Supervised, hyperparameters: {nEpochs: 3, batchSize: 8}}");
        assert_eq!(
            hyperparameters("amazon.nova-micro-v1:0:128k", &m).unwrap(),
            BTreeMap::from([
                ("batchSize".to_owned(), "8".to_owned()),
                ("epochCount".to_owned(), "3".to_owned())
            ])
        );
        let auto = method("{hyperparameters: {nEpochs: auto, learningRateMultiplier: auto}}");
        assert!(
            hyperparameters("amazon.nova-micro-v1:0:128k", &auto)
                .unwrap()
                .is_empty()
        );
        let lrm = method("{hyperparameters: {learningRateMultiplier: 0.5}}");
        assert!(hyperparameters("amazon.nova-micro-v1:0:128k", &lrm).is_err());
        assert_eq!(
            hyperparameters("anthropic.claude-3-haiku-20240307-v1:0:200k", &lrm)
                .unwrap()
                .get("learningRateMultiplier")
                .map(String::as_str),
            Some("0.5")
        );
        assert!(hyperparameters("x", &method("{type: DPO}")).is_err());
    }

    #[test]
    fn aws_errors_map_onto_the_ports_classes() {
        let svc = |code: &str, status: u16| BedrockError::Service {
            operation: "X",
            code: code.into(),
            status,
            message: Some("m".into()),
        };
        // moto answers not-found with 400: the code decides.
        assert!(matches!(
            classify(svc("ResourceNotFoundException", 400)),
            RemoteError::NotFound
        ));
        assert!(matches!(
            classify(svc("UnrecognizedClientException", 400)),
            RemoteError::AuthRejected { .. }
        ));
        assert!(matches!(
            classify(svc("AccessDenied", 403)),
            RemoteError::AuthRejected { http: 403, .. }
        ));
        assert!(matches!(
            classify(svc("ThrottlingException", 400)),
            RemoteError::Recoverable { .. }
        ));
        assert!(matches!(
            classify(BedrockError::Transport {
                operation: "X",
                detail: "reset".into()
            }),
            RemoteError::Recoverable { .. }
        ));
        match classify(svc("ValidationException", 400)) {
            RemoteError::Terminal { code, http, .. } => {
                assert_eq!((code.as_str(), http), ("ValidationException", 400));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ids_are_s3_uris_in_the_configs_bucket() {
        assert_eq!(parse_uri("s3://b/k/x.jsonl"), Some(("b", "k/x.jsonl")));
        assert_eq!(parse_uri("s3://b/"), None);
        assert_eq!(parse_uri("file-abc"), None);
        let target = Target {
            type_: tunegate_api::ProviderType::Bedrock,
            endpoint: "https://bedrock.us-east-1.amazonaws.com".into(),
            organization: None,
            project: None,
            api_version: None,
            bedrock: Some(
                serde_yaml::from_str(
                    "{region: us-east-1, s3: {bucket: acme, prefix: ft/}, roleArn: 'arn:aws:iam::1:role/r'}",
                )
                .unwrap(),
            ),
        };
        let r = BedrockRemote::new(&target, "").unwrap();
        // The public regional endpoint is the SDK's own business; no override, default chain.
        assert_eq!(r.config.endpoint_url, None);
        assert!(r.config.credentials.is_none());
        assert_eq!(r.key_of("s3://acme/ft/x").unwrap(), "ft/x");
        assert!(r.key_of("s3://other/ft/x").is_err());
        let moto = Target {
            endpoint: "http://127.0.0.1:5000".into(),
            ..target.clone()
        };
        let r = BedrockRemote::new(
            &moto,
            "[default]\naws_access_key_id=a\naws_secret_access_key=b",
        )
        .unwrap();
        assert_eq!(
            r.config.endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert!(r.config.credentials.is_some());
        assert!(matches!(
            BedrockRemote::new(&moto, "sk-not-aws"),
            Err(RemoteError::Terminal { .. })
        ));
    }
}
