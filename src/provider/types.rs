//! What the provider sends back, and what the client sends. Response types are lenient (only
//! `id` and the status are required) so that a provider omitting a field, as Azure OpenAI does at
//! times, does not break the controller; request types validate against the API's bounds before
//! anything is sent.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::endpoint::Dialect;
use super::error::ProviderError;
use super::sanitize;
use super::status::{FileStatus, JobStatus, UploadStatus};
use tunegate_api::{AutoOr, FineTuneMethod, Hyperparameters, MethodType};

/// The `purpose` of every file tunegate uploads.
pub const FINE_TUNE_PURPOSE: &str = "fine-tune";

/// MIME type declared for JSONL training files in the Uploads API.
pub const JSONL_MIME: &str = "text/jsonl";

/// A file at the provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileObject {
    /// The file id.
    #[serde(deserialize_with = "sanitize::id")]
    pub id: String,
    /// Size in bytes.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Unix seconds; set when `expires_after` was given.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// The name given at upload.
    #[serde(default, deserialize_with = "sanitize::text")]
    pub filename: Option<String>,
    /// e.g. `fine-tune`, `fine-tune-results`.
    #[serde(default, deserialize_with = "sanitize::word")]
    pub purpose: Option<String>,
    /// Processing status (see [`FileStatus`]).
    #[serde(default)]
    pub status: Option<FileStatus>,
    /// Why processing failed, if it did.
    #[serde(default, deserialize_with = "sanitize::text")]
    pub status_details: Option<String>,
}

impl FileObject {
    /// Ready for a job: processed, or no status at all (OpenAI deprecated it).
    pub fn is_ready(&self) -> bool {
        self.status.as_ref().is_none_or(FileStatus::is_ready)
    }
}

/// A multipart upload (Uploads API).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadObject {
    /// The upload id.
    #[serde(deserialize_with = "sanitize::id")]
    pub id: String,
    /// pending, completed, cancelled or expired.
    pub status: UploadStatus,
    /// Declared size.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// Unix seconds after which an incomplete upload is dropped.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// The file, once completed.
    #[serde(default)]
    pub file: Option<FileObject>,
}

/// One uploaded part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UploadPart {
    /// The part id, listed in order on completion.
    #[serde(deserialize_with = "sanitize::id")]
    pub id: String,
}

/// Why a job failed, as the provider says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    /// e.g. `invalid_n_examples`.
    #[serde(default, deserialize_with = "sanitize::word")]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default, deserialize_with = "sanitize::text")]
    pub message: Option<String>,
    /// The parameter at fault, e.g. `training_file`.
    #[serde(default, deserialize_with = "sanitize::word")]
    pub param: Option<String>,
}

/// A fine-tuning job at the provider.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FineTuningJob {
    /// The job id.
    #[serde(deserialize_with = "sanitize::id")]
    pub id: String,
    /// The provider's status word.
    pub status: JobStatus,
    /// The base model.
    #[serde(default, deserialize_with = "sanitize::opt_id")]
    pub model: Option<String>,
    /// The resulting model, once succeeded.
    #[serde(default, deserialize_with = "sanitize::opt_id")]
    pub fine_tuned_model: Option<String>,
    /// The training file id.
    #[serde(default, deserialize_with = "sanitize::opt_id")]
    pub training_file: Option<String>,
    /// The validation file id.
    #[serde(default, deserialize_with = "sanitize::opt_id")]
    pub validation_file: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Unix seconds, once terminal.
    #[serde(default)]
    pub finished_at: Option<i64>,
    /// Unix seconds, while running.
    #[serde(default)]
    pub estimated_finish: Option<i64>,
    /// Billable tokens, once finished.
    #[serde(default)]
    pub trained_tokens: Option<u64>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<JobError>,
    /// Result file ids (metrics CSVs); they are the provider's, purpose `fine-tune-results`.
    #[serde(default, deserialize_with = "sanitize::ids")]
    pub result_files: Vec<String>,
    /// The metadata given at creation.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// The seed used.
    #[serde(default)]
    pub seed: Option<i64>,
}

impl FineTuningJob {
    /// The job's error if it carries a real one (Azure sends `{}` or empty strings for "none").
    pub fn failure(&self) -> Option<&JobError> {
        self.error.as_ref().filter(|e| {
            e.code.as_deref().is_some_and(|c| !c.is_empty())
                || e.message.as_deref().is_some_and(|m| !m.is_empty())
        })
    }

    /// Whether `metadata[key] == value`.
    pub fn has_metadata(&self, key: &str, value: &str) -> bool {
        self.metadata
            .as_ref()
            .and_then(|m| m.get(key))
            .is_some_and(|v| v == value)
    }
}

/// A job event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// The event id (the cursor).
    #[serde(deserialize_with = "sanitize::id")]
    pub id: String,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// info, warn or error.
    #[serde(default, deserialize_with = "sanitize::word")]
    pub level: Option<String>,
    /// The provider's message.
    #[serde(default, deserialize_with = "sanitize::text")]
    pub message: Option<String>,
    /// message or metrics.
    #[serde(rename = "type", default, deserialize_with = "sanitize::word")]
    pub kind: Option<String>,
    /// Structured data (metrics). Not read from the wire: nothing uses it, and an event flood
    /// of large `data` objects must not cost memory (the parser skips it without allocating).
    #[serde(default, skip_deserializing)]
    pub data: Option<Value>,
}

/// A checkpoint of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The checkpoint id.
    #[serde(deserialize_with = "sanitize::id")]
    pub id: String,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// The checkpoint model name, usable like a fine-tuned model.
    #[serde(default, deserialize_with = "sanitize::opt_id")]
    pub fine_tuned_model_checkpoint: Option<String>,
    /// The step it was taken at.
    #[serde(default)]
    pub step_number: Option<u64>,
    /// Training metrics at that step.
    #[serde(default)]
    pub metrics: Option<Value>,
    /// The job.
    #[serde(default, deserialize_with = "sanitize::opt_id")]
    pub fine_tuning_job_id: Option<String>,
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Whether another page follows.
    #[serde(default)]
    pub has_more: bool,
    /// First id of the page, when the provider sends it.
    #[serde(default, deserialize_with = "sanitize::opt_id")]
    pub first_id: Option<String>,
    /// Last id of the page: the `after` cursor for the next page.
    #[serde(default, deserialize_with = "sanitize::opt_id")]
    pub last_id: Option<String>,
}

/// The result of a delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Deleted now.
    Deleted,
    /// The provider answered 404: it was already gone. Not an error.
    AlreadyGone,
}

/// Called with the upload id right after an Uploads-API upload is created, before any part is
/// sent, so the controller can record it in its ledger.
pub type UploadCreatedHook = Arc<dyn Fn(String) -> BoxFuture<'static, ()> + Send + Sync>;

/// The bytes to upload: a stream of chunks. Returning an error aborts the upload; see
/// [`FileUpload`].
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>> + Send + 'static>>;

/// A file to upload, as a stream of known length.
///
/// **Guarantee:** if `body` returns an error, or produces more or fewer than `bytes` bytes, no
/// file is created. A single-request upload never lets its last chunk leave the process until
/// the stream has ended cleanly with exactly `bytes` bytes, so the provider sees a body short of
/// its `Content-Length` and discards it; an Uploads-API upload is cancelled and never completed.
///
/// **Retries:** the body is consumed once and cannot be replayed, so a failed upload is not
/// retried by the client. A recoverable error (see `ProviderError::is_recoverable`) means: run
/// the pipeline again and call `upload_file` again, after `find_files_by_filename` shows that no
/// file was created (`ProviderError::outcome_unknown` is true when one may have been).
pub struct FileUpload {
    /// The file name, e.g. `tunegate-<uid>-training.jsonl` (used to find it again after a crash).
    pub filename: String,
    /// Exact length of the stream.
    pub bytes: u64,
    /// Backstop expiry (`expires_after` anchored at `created_at`), 1 hour to 30 days. Sent to
    /// OpenAI; Azure OpenAI's Files API does not take it, so it is not sent there.
    pub expires_after: Option<Duration>,
    /// The bytes.
    pub body: ByteStream,
    /// See [`UploadCreatedHook`].
    pub on_upload_created: Option<UploadCreatedHook>,
}

impl std::fmt::Debug for FileUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileUpload")
            .field("filename", &self.filename)
            .field("bytes", &self.bytes)
            .field("expires_after", &self.expires_after)
            .finish_non_exhaustive()
    }
}

/// `expires_after` bounds from the API (1 hour to 30 days).
pub const EXPIRES_AFTER_MIN: Duration = Duration::from_secs(3600);
/// See [`EXPIRES_AFTER_MIN`].
pub const EXPIRES_AFTER_MAX: Duration = Duration::from_secs(2_592_000);

/// Validates `expires_after` and returns it in whole seconds.
pub fn expires_after_secs(expires: Duration) -> Result<u64, ProviderError> {
    if (EXPIRES_AFTER_MIN..=EXPIRES_AFTER_MAX).contains(&expires) {
        Ok(expires.as_secs())
    } else {
        Err(ProviderError::InvalidRequest(format!(
            "expires_after must be between 3600 and 2592000 seconds, got {}",
            expires.as_secs()
        )))
    }
}

/// Validates an upload file name (it is sent in a multipart header and a JSON body).
pub fn validate_filename(name: &str) -> Result<(), ProviderError> {
    if name.is_empty() || name.len() > 255 {
        return Err(ProviderError::InvalidRequest(
            "filename must be 1 to 255 bytes".into(),
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '/' || c == '\\')
    {
        return Err(ProviderError::InvalidRequest(
            "filename must not contain control characters, quotes or slashes".into(),
        ));
    }
    Ok(())
}

/// `POST /uploads` body (CreateUploadRequest).
pub fn create_upload_body(
    filename: &str,
    bytes: u64,
    expires_after: Option<Duration>,
) -> Result<Value, ProviderError> {
    validate_filename(filename)?;
    let mut body = json!({
        "filename": filename,
        "purpose": FINE_TUNE_PURPOSE,
        "bytes": bytes,
        "mime_type": JSONL_MIME,
    });
    if let Some(expires) = expires_after {
        body["expires_after"] =
            json!({"anchor": "created_at", "seconds": expires_after_secs(expires)?});
    }
    Ok(body)
}

/// `POST /uploads/{id}/complete` body (CompleteUploadRequest).
pub fn complete_upload_body(part_ids: &[String]) -> Value {
    json!({ "part_ids": part_ids })
}

/// A fine-tuning job to create.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobCreate {
    /// Base model.
    pub model: String,
    /// Training file id (processed).
    pub training_file: String,
    /// Validation file id.
    pub validation_file: Option<String>,
    /// Method and hyperparameters (omitted hyperparameters mean "auto").
    pub method: FineTuneMethod,
    /// Up to 64 characters for the model name.
    pub suffix: Option<String>,
    /// Seed, 0 to 2147483647.
    pub seed: Option<i64>,
    /// Up to 16 pairs; tunegate sets `tunegate-uid` for adoption after a crash.
    pub metadata: BTreeMap<String, String>,
    /// Azure OpenAI only: where training runs (`trainingType`).
    pub training_type: Option<TrainingType>,
}

/// Azure OpenAI's training types (`trainingType`, from api-version `2025-04-01-preview` and
/// on the v1 data plane): Standard (in the resource's region), GlobalStandard (any region,
/// cheaper), Developer (preemptible, cheapest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainingType {
    /// `standard`.
    Standard,
    /// `globalstandard`.
    GlobalStandard,
    /// `developer`.
    Developer,
}

impl TrainingType {
    /// The word Azure takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::GlobalStandard => "globalstandard",
            Self::Developer => "developer",
        }
    }

    /// Case-insensitive parse of `Standard`, `GlobalStandard`, `Developer`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Standard, Self::GlobalStandard, Self::Developer]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// Azure OpenAI's suffix limit: "up to 40 characters (a-z, A-Z, 0-9, - and _)".
pub const AZURE_SUFFIX_MAX: usize = 40;

/// The grader types of OpenAI's spec and the fields each requires (besides `type`).
const GRADER_REQUIRED: [(&str, &[&str]); 6] = [
    ("string_check", &["name", "input", "reference", "operation"]),
    (
        "text_similarity",
        &["name", "input", "reference", "evaluation_metric"],
    ),
    ("score_model", &["name", "input", "model"]),
    (
        "label_model",
        &["name", "model", "input", "passing_labels", "labels"],
    ),
    ("python", &["name", "source"]),
    ("multi", &["name", "graders", "calculate_output"]),
];

/// Client-side shape check of a grader: an object with a known `type` and that type's required
/// fields (OpenAI's `Grader*` schemas). The provider's validation call does the rest.
pub fn check_grader(grader: &Value) -> Result<(), ProviderError> {
    let bad = |m: String| Err(ProviderError::InvalidRequest(m));
    let Some(obj) = grader.as_object() else {
        return bad("grader must be an object".into());
    };
    let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
    let Some((_, required)) = GRADER_REQUIRED.iter().find(|(t, _)| *t == kind) else {
        return bad(format!(
            "grader type must be one of string_check, text_similarity, score_model, label_model, python, multi (got {:?})",
            kind.chars().take(40).collect::<String>()
        ));
    };
    if let Some(missing) = required.iter().find(|f| !obj.contains_key(**f)) {
        return bad(format!("{kind} grader needs `{missing}`"));
    }
    Ok(())
}

impl JobCreate {
    /// The `POST /fine_tuning/jobs` body (CreateFineTuningJobRequest), after checking every
    /// field against the API's bounds so a mistake surfaces as a clear client-side error.
    pub fn to_body(&self) -> Result<Value, ProviderError> {
        self.to_body_for(&Dialect::OpenAi {
            organization: None,
            project: None,
        })
    }

    /// The body for a dialect: Azure OpenAI takes `trainingType` and a suffix of at most 40
    /// characters of `[a-zA-Z0-9_-]`; OpenAI takes no `trainingType`.
    pub fn to_body_for(&self, dialect: &Dialect) -> Result<Value, ProviderError> {
        let azure = matches!(dialect, Dialect::Azure { .. });
        let bad = |m: String| Err(ProviderError::InvalidRequest(m));
        if let (Some(suffix), true) = (&self.suffix, azure) {
            let n = suffix.chars().count();
            if n > AZURE_SUFFIX_MAX
                || !suffix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return bad(format!(
                    "Azure OpenAI takes a suffix of 1 to {AZURE_SUFFIX_MAX} letters, digits, '-' or '_' (got {n} characters)"
                ));
            }
        }
        let mut body = self.to_body_inner()?;
        match (self.training_type, azure, body.as_object_mut()) {
            (None, _, _) => {}
            (Some(t), true, Some(obj)) => {
                obj.insert("trainingType".into(), json!(t.as_str()));
            }
            (Some(_), _, _) => {
                return bad("trainingType is only taken by Azure OpenAI".into());
            }
        }
        Ok(body)
    }

    fn to_body_inner(&self) -> Result<Value, ProviderError> {
        let bad = |m: String| Err(ProviderError::InvalidRequest(m));
        if self.model.trim().is_empty() {
            return bad("model must not be empty".into());
        }
        if self.training_file.trim().is_empty() {
            return bad("training_file must not be empty".into());
        }
        let mut body = Map::new();
        body.insert("model".into(), json!(self.model));
        body.insert("training_file".into(), json!(self.training_file));
        if let Some(v) = &self.validation_file {
            body.insert("validation_file".into(), json!(v));
        }
        if let Some(suffix) = &self.suffix {
            let n = suffix.chars().count();
            if !(1..=64).contains(&n) {
                return bad(format!("suffix must be 1 to 64 characters, got {n}"));
            }
            body.insert("suffix".into(), json!(suffix));
        }
        if let Some(seed) = self.seed {
            if !(0..=2_147_483_647).contains(&seed) {
                return bad(format!("seed must be between 0 and 2147483647, got {seed}"));
            }
            body.insert("seed".into(), json!(seed));
        }
        if !self.metadata.is_empty() {
            if self.metadata.len() > 16 {
                return bad("metadata holds at most 16 pairs".into());
            }
            for (k, v) in &self.metadata {
                if k.is_empty() || k.chars().count() > 64 || v.chars().count() > 512 {
                    return bad(
                        "metadata keys must be 1 to 64 characters and values at most 512".into(),
                    );
                }
            }
            body.insert("metadata".into(), json!(self.metadata));
        }
        let method = method_body(&self.method)?;
        body.insert("method".into(), method);
        Ok(Value::Object(body))
    }
}

fn method_body(method: &FineTuneMethod) -> Result<Value, ProviderError> {
    let word = match method.type_ {
        MethodType::Supervised => "supervised",
        MethodType::Dpo => "dpo",
        MethodType::Reinforcement => "reinforcement",
    };
    let hp = hyperparameters_body(method.hyperparameters.as_ref(), method.type_)?;
    let mut inner = Map::new();
    match (&method.grader, method.type_) {
        (Some(grader), MethodType::Reinforcement) => {
            check_grader(&grader.0)?;
            inner.insert("grader".into(), grader.0.clone());
        }
        (None, MethodType::Reinforcement) => {
            return Err(ProviderError::InvalidRequest(
                "the reinforcement method needs a grader".into(),
            ));
        }
        (Some(_), _) => {
            return Err(ProviderError::InvalidRequest(
                "a grader goes with the reinforcement method only".into(),
            ));
        }
        (None, _) => {}
    }
    if !hp.is_empty() {
        inner.insert("hyperparameters".into(), Value::Object(hp));
    }
    Ok(json!({ "type": word, word: inner }))
}

fn hyperparameters_body(
    hp: Option<&Hyperparameters>,
    method: MethodType,
) -> Result<Map<String, Value>, ProviderError> {
    let mut out = Map::new();
    let Some(hp) = hp else { return Ok(out) };
    let int = |name: &str, v: Option<AutoOr<u32>>, max: u32, out: &mut Map<String, Value>| match v {
        None => Ok(()),
        Some(AutoOr::Auto) => {
            out.insert(name.into(), json!("auto"));
            Ok(())
        }
        Some(AutoOr::Value(n)) if (1..=max).contains(&n) => {
            out.insert(name.into(), json!(n));
            Ok(())
        }
        Some(AutoOr::Value(n)) => Err(ProviderError::InvalidRequest(format!(
            "{name} must be \"auto\" or 1 to {max}, got {n}"
        ))),
    };
    let float = |name: &str, v: Option<AutoOr<f64>>, max: f64, out: &mut Map<String, Value>| match v
    {
        None => Ok(()),
        Some(AutoOr::Auto) => {
            out.insert(name.into(), json!("auto"));
            Ok(())
        }
        Some(AutoOr::Value(x)) if x.is_finite() && x > 0.0 && x <= max => {
            out.insert(name.into(), json!(x));
            Ok(())
        }
        Some(AutoOr::Value(x)) => Err(ProviderError::InvalidRequest(format!(
            "{name} must be \"auto\" or a number in (0, {max}], got {x}"
        ))),
    };
    int("n_epochs", hp.n_epochs, 50, &mut out)?;
    int("batch_size", hp.batch_size, 256, &mut out)?;
    float(
        "learning_rate_multiplier",
        hp.learning_rate_multiplier,
        f64::MAX,
        &mut out,
    )?;
    match (method, hp.beta) {
        (_, None) => {}
        (MethodType::Dpo, beta) => float("beta", beta, 2.0, &mut out)?,
        (_, Some(_)) => {
            return Err(ProviderError::InvalidRequest(
                "hyperparameters.beta is only valid for the DPO method".into(),
            ));
        }
    }
    if method == MethodType::Reinforcement {
        if let Some(effort) = hp.reasoning_effort {
            out.insert("reasoning_effort".into(), json!(effort.as_api()));
        }
        float("compute_multiplier", hp.compute_multiplier, 10.0, &mut out)?;
        // OpenAI's spec sets no upper bound on these two; u32 is the field's own bound.
        int("eval_interval", hp.eval_interval, u32::MAX, &mut out)?;
        int("eval_samples", hp.eval_samples, u32::MAX, &mut out)?;
    } else if let Some(name) = hp.reinforcement_only_set().first() {
        return Err(ProviderError::InvalidRequest(format!(
            "hyperparameters.{name} is only valid for the Reinforcement method"
        )));
    }
    Ok(out)
}

/// Filters for listing files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileListQuery {
    /// Only files with this purpose.
    pub purpose: Option<String>,
    /// Cursor: the last id of the previous page.
    pub after: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
}

/// Filters for listing jobs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobListQuery {
    /// Cursor: the last id of the previous page.
    pub after: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// `metadata[k]=v` filters.
    pub metadata: BTreeMap<String, String>,
}

impl JobListQuery {
    /// The query pairs, `metadata[k]=v` included.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(after) = &self.after {
            out.push(("after".to_owned(), after.clone()));
        }
        if let Some(limit) = self.limit {
            out.push(("limit".to_owned(), limit.to_string()));
        }
        for (k, v) in &self.metadata {
            out.push((format!("metadata[{k}]"), v.clone()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(method: FineTuneMethod) -> JobCreate {
        JobCreate {
            model: "gpt-4o-mini-2024-07-18".into(),
            training_file: "file-1".into(),
            method,
            ..JobCreate::default()
        }
    }

    #[test]
    fn supervised_body_with_auto_and_values() {
        let mut j = job(FineTuneMethod {
            type_: MethodType::Supervised,
            hyperparameters: Some(Hyperparameters {
                n_epochs: Some(AutoOr::Value(3)),
                batch_size: Some(AutoOr::Auto),
                learning_rate_multiplier: Some(AutoOr::Value(0.5)),
                beta: None,
                ..Default::default()
            }),
            grader: None,
        });
        j.suffix = Some("bot".into());
        j.seed = Some(42);
        j.metadata.insert("tunegate-uid".into(), "u-1".into());
        assert_eq!(
            j.to_body().unwrap(),
            json!({
                "model": "gpt-4o-mini-2024-07-18",
                "training_file": "file-1",
                "suffix": "bot",
                "seed": 42,
                "metadata": {"tunegate-uid": "u-1"},
                "method": {"type": "supervised", "supervised": {"hyperparameters": {
                    "n_epochs": 3, "batch_size": "auto", "learning_rate_multiplier": 0.5}}}
            })
        );
    }

    #[test]
    fn dpo_body_and_empty_hyperparameters() {
        let j = job(FineTuneMethod {
            type_: MethodType::Dpo,
            hyperparameters: Some(Hyperparameters {
                beta: Some(AutoOr::Value(0.1)),
                ..Hyperparameters::default()
            }),
            grader: None,
        });
        assert_eq!(
            j.to_body().unwrap()["method"],
            json!({"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1}}})
        );
        let j = job(FineTuneMethod::default());
        assert_eq!(
            j.to_body().unwrap()["method"],
            json!({"type": "supervised", "supervised": {}})
        );
    }

    #[test]
    fn rejects_out_of_range_fields() {
        let hp = |h: Hyperparameters, t| {
            job(FineTuneMethod {
                type_: t,
                hyperparameters: Some(h),
                grader: None,
            })
        };
        let cases = [
            hp(
                Hyperparameters {
                    n_epochs: Some(AutoOr::Value(51)),
                    ..Default::default()
                },
                MethodType::Supervised,
            ),
            hp(
                Hyperparameters {
                    batch_size: Some(AutoOr::Value(0)),
                    ..Default::default()
                },
                MethodType::Supervised,
            ),
            hp(
                Hyperparameters {
                    learning_rate_multiplier: Some(AutoOr::Value(f64::NAN)),
                    ..Default::default()
                },
                MethodType::Supervised,
            ),
            hp(
                Hyperparameters {
                    beta: Some(AutoOr::Value(0.1)),
                    ..Default::default()
                },
                MethodType::Supervised,
            ),
            hp(
                Hyperparameters {
                    beta: Some(AutoOr::Value(2.5)),
                    ..Default::default()
                },
                MethodType::Dpo,
            ),
            JobCreate {
                seed: Some(-1),
                ..job(FineTuneMethod::default())
            },
            JobCreate {
                suffix: Some("x".repeat(65)),
                ..job(FineTuneMethod::default())
            },
            JobCreate {
                model: String::new(),
                ..job(FineTuneMethod::default())
            },
        ];
        for case in cases {
            let err = case.to_body().unwrap_err();
            assert_eq!(err.code(), "invalid_request", "{case:?}");
        }
    }

    #[test]
    fn azure_training_type_and_suffix_limit() {
        let azure = Dialect::Azure {
            api_version: "v1".into(),
        };
        let openai = Dialect::OpenAi {
            organization: None,
            project: None,
        };
        let j = JobCreate {
            training_type: Some(TrainingType::GlobalStandard),
            suffix: Some("x".repeat(40)),
            ..job(FineTuneMethod::default())
        };
        let body = j.to_body_for(&azure).unwrap();
        assert_eq!(body["trainingType"], "globalstandard");
        assert_eq!(
            j.to_body_for(&openai).unwrap_err().code(),
            "invalid_request",
            "OpenAI takes no trainingType"
        );
        for suffix in ["x".repeat(41), "has.dot".into(), "has space".into()] {
            let j = JobCreate {
                suffix: Some(suffix.clone()),
                ..job(FineTuneMethod::default())
            };
            assert!(j.to_body_for(&azure).is_err(), "{suffix}");
        }
        // OpenAI keeps its 64-character limit and allows dots.
        let j = JobCreate {
            suffix: Some(format!("{}.v2", "x".repeat(50))),
            ..job(FineTuneMethod::default())
        };
        assert!(j.to_body_for(&openai).is_ok());
        assert_eq!(
            TrainingType::parse("Developer"),
            Some(TrainingType::Developer)
        );
        assert_eq!(
            TrainingType::parse("GLOBALSTANDARD"),
            Some(TrainingType::GlobalStandard)
        );
        assert_eq!(TrainingType::parse("premium"), None);
    }

    #[test]
    fn reinforcement_body_carries_the_grader() {
        let grader = json!({
            "type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
            "reference": "{{item.label}}", "operation": "eq"
        });
        let rft = |grader: Option<Value>, hp: Hyperparameters| JobCreate {
            model: "o4-mini-2025-04-16".into(),
            ..job(FineTuneMethod {
                type_: MethodType::Reinforcement,
                hyperparameters: Some(hp),
                grader: grader.map(tunegate_api::Grader),
            })
        };
        let j = rft(
            Some(grader.clone()),
            Hyperparameters {
                n_epochs: Some(AutoOr::Value(2)),
                reasoning_effort: Some(tunegate_api::ReasoningEffort::High),
                compute_multiplier: Some(AutoOr::Value(1.5)),
                eval_interval: Some(AutoOr::Auto),
                eval_samples: Some(AutoOr::Value(4)),
                ..Default::default()
            },
        );
        let body = j.to_body().unwrap();
        assert_eq!(body["method"]["type"], "reinforcement");
        assert_eq!(body["method"]["reinforcement"]["grader"], grader);
        let hp = &body["method"]["reinforcement"]["hyperparameters"];
        assert_eq!(hp["n_epochs"], 2);
        assert_eq!(hp["reasoning_effort"], "high");
        assert_eq!(hp["compute_multiplier"], 1.5);
        assert_eq!(hp["eval_interval"], "auto");
        assert_eq!(hp["eval_samples"], 4);
        // Without a grader; beyond OpenAI's compute bound; beta outside DPO.
        assert!(rft(None, Hyperparameters::default()).to_body().is_err());
        let over = Hyperparameters {
            compute_multiplier: Some(AutoOr::Value(11.0)),
            ..Default::default()
        };
        assert!(rft(Some(grader.clone()), over).to_body().is_err());
        let beta = Hyperparameters {
            beta: Some(AutoOr::Value(0.1)),
            ..Default::default()
        };
        assert!(rft(Some(grader.clone()), beta).to_body().is_err());
        // A grader with DPO, reinforcement hyperparameters with supervised.
        let dpo = job(FineTuneMethod {
            type_: MethodType::Dpo,
            hyperparameters: None,
            grader: Some(tunegate_api::Grader(grader.clone())),
        });
        assert!(dpo.to_body().is_err());
        let sft = job(FineTuneMethod {
            type_: MethodType::Supervised,
            hyperparameters: Some(Hyperparameters {
                reasoning_effort: Some(tunegate_api::ReasoningEffort::Low),
                ..Default::default()
            }),
            grader: None,
        });
        assert!(sft.to_body().is_err());
        for g in [
            json!({"type": "string_check", "name": "n", "input": "i", "reference": "r"}),
            json!({"type": "magic", "name": "n"}),
            json!("string_check"),
        ] {
            assert!(check_grader(&g).is_err(), "{g}");
        }
        assert!(
            check_grader(
                &json!({"type": "python", "name": "p", "source": "def grade(s, i): return 1"})
            )
            .is_ok()
        );
    }

    #[test]
    fn upload_bodies() {
        assert_eq!(
            create_upload_body("a.jsonl", 10, Some(Duration::from_secs(7200))).unwrap(),
            json!({"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10,
                   "mime_type": "text/jsonl",
                   "expires_after": {"anchor": "created_at", "seconds": 7200}})
        );
        assert!(create_upload_body("a.jsonl", 10, Some(Duration::from_secs(60))).is_err());
        assert!(create_upload_body("a\"b", 10, None).is_err());
        assert_eq!(
            complete_upload_body(&["p1".into(), "p2".into()]),
            json!({"part_ids": ["p1", "p2"]})
        );
    }

    #[test]
    fn job_list_pairs() {
        let mut q = JobListQuery {
            after: Some("ftjob-9".into()),
            limit: Some(50),
            ..Default::default()
        };
        q.metadata.insert("tunegate-uid".into(), "u".into());
        assert_eq!(
            q.pairs(),
            vec![
                ("after".into(), "ftjob-9".into()),
                ("limit".into(), "50".into()),
                ("metadata[tunegate-uid]".into(), "u".into())
            ]
        );
    }

    #[test]
    fn lenient_job_parsing() {
        let j: FineTuningJob = serde_json::from_value(json!({
            "id": "ftjob-1", "status": "paused", "result_files": null, "error": {},
            "metadata": {"tunegate-uid": "u"}
        }))
        .unwrap();
        assert_eq!(j.status, JobStatus::Paused);
        assert!(j.result_files.is_empty());
        assert!(j.failure().is_none());
        assert!(j.has_metadata("tunegate-uid", "u"));
        assert!(!j.has_metadata("tunegate-uid", "v"));
        let f: FileObject =
            serde_json::from_value(json!({"id": "file-1", "status": "pending"})).unwrap();
        assert!(!f.is_ready());
        let f: FileObject = serde_json::from_value(json!({"id": "file-1"})).unwrap();
        assert!(f.is_ready());
    }
}
