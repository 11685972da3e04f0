//! `FineTuneJob`: one fine-tuning run at one provider, and the ledger of every remote object it
//! created.

// Each `printcolumn(...)` repeats keys such as `type_ = "string"`, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use super::{LocalObjectRef, ProviderConfigRef};

/// A hyperparameter that is either `"auto"` (the provider chooses) or an explicit positive value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AutoOr<T> {
    /// Let the provider choose.
    Auto,
    /// An explicit positive value.
    Value(T),
}

impl<T: Serialize> Serialize for AutoOr<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AutoOr::Auto => s.serialize_str("auto"),
            AutoOr::Value(v) => v.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for AutoOr<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Text(String),
            Value(T),
        }
        match Raw::<T>::deserialize(d)? {
            Raw::Text(s) if s == "auto" => Ok(AutoOr::Auto),
            Raw::Text(_) => Err(serde::de::Error::custom(
                "expected \"auto\" or a positive number",
            )),
            Raw::Value(v) => Ok(AutoOr::Value(v)),
        }
    }
}

// Integer hyperparameters: int-or-string, narrowed by CEL to positive ints or "auto".
impl JsonSchema for AutoOr<u32> {
    fn schema_name() -> Cow<'static, str> {
        "AutoOrPositiveInteger".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "x-kubernetes-int-or-string": true,
            "x-kubernetes-validations": [{
                "rule": "type(self) == string ? self == 'auto' : self > 0",
                "message": "must be a positive integer or \"auto\""
            }]
        })
    }
}

// Float hyperparameters: an untyped node, because structural schemas have no "number or string"
// type (x-kubernetes-int-or-string rejects 0.1), and CEL cannot see untyped fields (kube-apiserver
// rejects such a rule: "unable to convert structural schema to CEL declarations"). Plain OpenAPI
// value validations, which each apply to one JSON type, narrow it instead.
impl JsonSchema for AutoOr<f64> {
    fn schema_name() -> Cow<'static, str> {
        "AutoOrPositiveNumber".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // Value validations apply per JSON type only, so each line below constrains one type and
        // passes the others: numbers must be > 0, strings must be "auto", objects can never
        // satisfy `required` and arrays never both item bounds, and `not` excludes booleans.
        // Together they admit exactly a positive number or "auto".
        json_schema!({
            "x-kubernetes-preserve-unknown-fields": true,
            "minimum": 0,
            "exclusiveMinimum": true,
            "pattern": "^auto$",
            "required": ["a positive number or \"auto\""],
            "minItems": 1,
            "maxItems": 0,
            "not": {"enum": [true, false]}
        })
    }
}

/// Training hyperparameters; each is a positive number or `"auto"`. Omitted means `"auto"`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Hyperparameters {
    /// Number of epochs (passes over the training data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_epochs: Option<AutoOr<u32>>,
    /// Examples per batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<AutoOr<u32>>,
    /// Scaling factor for the learning rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate_multiplier: Option<AutoOr<f64>>,
    /// DPO only: weight of the penalty between the policy and the reference model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<AutoOr<f64>>,
    /// Reinforcement only: reasoning effort of the model being trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Reinforcement only: multiplier on the compute spent exploring during training
    /// (OpenAI allows (0, 10]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_multiplier: Option<AutoOr<f64>>,
    /// Reinforcement only: training steps between evaluation runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_interval: Option<AutoOr<u32>>,
    /// Reinforcement only: evaluation samples generated per training step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_samples: Option<AutoOr<u32>>,
}

impl Hyperparameters {
    /// Names of the reinforcement-only hyperparameters that are set.
    pub fn reinforcement_only_set(&self) -> Vec<&'static str> {
        let mut set = Vec::new();
        if self.reasoning_effort.is_some() {
            set.push("reasoningEffort");
        }
        if self.compute_multiplier.is_some() {
            set.push("computeMultiplier");
        }
        if self.eval_interval.is_some() {
            set.push("evalInterval");
        }
        if self.eval_samples.is_some() {
            set.push("evalSamples");
        }
        set
    }
}

/// Reasoning effort of a reinforcement fine-tuning run.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReasoningEffort {
    /// The provider's default.
    Default,
    Low,
    Medium,
    High,
}

impl ReasoningEffort {
    /// The word OpenAI's API takes.
    pub fn as_api(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// A reinforcement fine-tuning grader, exactly as OpenAI's API takes it (`type` one of
/// `string_check`, `text_similarity`, `score_model`, `label_model`, `python`, `multi`, with that
/// type's fields). Kept as free-form JSON because the grader schemas are the provider's and keep
/// growing; tunegate checks the shape, then the provider's validation call checks the rest.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(transparent)]
pub struct Grader(pub serde_json::Value);

impl JsonSchema for Grader {
    fn schema_name() -> Cow<'static, str> {
        "Grader".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
            "description": "The grader, as OpenAI's fine-tuning API takes it (`type`: string_check, text_similarity, score_model, label_model, python or multi, and that type's fields)."
        })
    }
}

/// Fine-tuning method.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MethodType {
    /// Supervised fine-tuning on Chat or Completion data.
    #[default]
    Supervised,
    /// Direct preference optimization on Preference data.
    #[serde(rename = "DPO")]
    Dpo,
    /// Reinforcement fine-tuning on Reinforcement data, scored by `grader`.
    Reinforcement,
}

/// How the model is trained.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
// No CEL rule for "beta only with DPO": `beta` is schemaless (number or "auto"), and CEL drops
// schemaless fields from the object type, so kube-apiserver rejects the CRD when a rule names
// `self.hyperparameters.beta` ("undefined field 'beta'"). The controller has to check it.
#[x_kube(validation = Rule::new("self.type == 'Reinforcement' ? has(self.grader) : !has(self.grader)").message("the Reinforcement method needs a grader, and only it takes one").reason(Reason::FieldValueInvalid))]
#[x_kube(validation = Rule::new("self.type == 'Reinforcement' || !has(self.hyperparameters) || !has(self.hyperparameters.reasoningEffort)").message("hyperparameters.reasoningEffort is for the Reinforcement method only").reason(Reason::FieldValueInvalid))]
pub struct FineTuneMethod {
    /// Supervised (default), DPO or Reinforcement. DPO needs a Preference dataset,
    /// Reinforcement a Reinforcement dataset and a `grader`.
    #[serde(rename = "type", default)]
    pub type_: MethodType,
    /// Hyperparameters; omitted ones are chosen by the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hyperparameters: Option<Hyperparameters>,
    /// Reinforcement only: the grader that scores the model's answers. Validated before anything
    /// is uploaded (OpenAI's grader validation call; a shape check where the provider has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grader: Option<Grader>,
}

/// When uploaded training and validation files are deleted at the provider.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FileRetention {
    /// Delete as soon as the job reaches a terminal state (the shortest exposure; default).
    #[default]
    DeleteWhenFinished,
    /// Keep until this FineTuneJob is deleted.
    DeleteWithResource,
    /// Never delete (the provider keeps files until someone deletes them).
    Retain,
}

/// What happens to the fine-tuned model.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ModelRetention {
    /// Keep the model when this FineTuneJob is deleted (default).
    #[default]
    Retain,
    /// Delete the model at the provider when this FineTuneJob is deleted.
    DeleteWithResource,
}

/// How long remote copies live at the provider.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Retention {
    /// Uploaded files: DeleteWhenFinished (default), DeleteWithResource or Retain.
    #[serde(default)]
    pub training_files: FileRetention,
    /// The fine-tuned model: Retain (default) or DeleteWithResource.
    #[serde(default)]
    pub model: ModelRetention,
}

/// What deleting the FineTuneJob does at the provider.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DeletionPolicy {
    /// Cancel a running job and delete remote objects as `retention` says (default).
    #[default]
    Delete,
    /// Leave every remote object as it is.
    Orphan,
}

/// Where to publish the resulting model id for consumers.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OutputSpec {
    /// ConfigMap (in this namespace, owned by the FineTuneJob) that receives the keys `model`,
    /// `baseModel`, `jobID` and `trainingFileDigest`.
    #[schemars(length(min = 1, max = 253))]
    pub config_map_name: String,
}

/// One fine-tuning run at one provider. The spec is immutable once created, except `paused`,
/// `retention` and `deletionPolicy`.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "tunegate.dev",
    version = "v1alpha1",
    kind = "FineTuneJob",
    namespaced,
    status = "FineTuneJobStatus",
    shortname = "ftj",
    category = "tunegate",
    doc = "A fine-tuning run at a hosted provider on a redacted TrainingDataset, with a ledger of every remote object it created.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the job succeeded and remote cleanup is done"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.remote.status",
        description = "The provider's job status"
    ),
    printcolumn(
        name = "Model",
        type_ = "string",
        json_path = ".status.remote.fineTunedModel",
        description = "The fine-tuned model"
    ),
    printcolumn(
        name = "Base",
        type_ = "string",
        json_path = ".spec.model",
        description = "The base model",
        priority = 1
    ),
    printcolumn(
        name = "Job",
        type_ = "string",
        json_path = ".status.remote.jobID",
        description = "The provider's job id",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.trainingDatasetRef == oldSelf.trainingDatasetRef && self.providerRef == oldSelf.providerRef && self.model == oldSelf.model && self.method == oldSelf.method && has(self.validationDatasetRef) == has(oldSelf.validationDatasetRef) && (!has(self.validationDatasetRef) || self.validationDatasetRef == oldSelf.validationDatasetRef) && has(self.suffix) == has(oldSelf.suffix) && (!has(self.suffix) || self.suffix == oldSelf.suffix) && has(self.seed) == has(oldSelf.seed) && (!has(self.seed) || self.seed == oldSelf.seed) && has(self.output) == has(oldSelf.output) && (!has(self.output) || self.output == oldSelf.output)").message("spec is immutable after creation, except paused, retention and deletionPolicy").reason(Reason::FieldValueForbidden))]
pub struct FineTuneJobSpec {
    /// The TrainingDataset (same namespace) whose redacted output is the training file.
    pub training_dataset_ref: LocalObjectRef,
    /// Optional TrainingDataset (same namespace) used as the validation file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_dataset_ref: Option<LocalObjectRef>,
    /// The provider config this job runs through: a ClusterProviderConfig (made by a cluster
    /// admin) or a ProviderConfig in this namespace. It decides the endpoint, the credentials,
    /// the allowed models, the redaction floor and the limits; the job chooses none of them.
    pub provider_ref: ProviderConfigRef,
    /// Base model to fine-tune, e.g. `gpt-4o-mini-2024-07-18`.
    #[schemars(length(min = 1, max = 256))]
    pub model: String,
    /// Training method and hyperparameters.
    #[serde(default)]
    pub method: FineTuneMethod,
    /// Up to 64 characters added to the fine-tuned model's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub suffix: Option<String>,
    /// Seed for reproducible training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Pause (true) or resume (false) the remote job.
    #[serde(default)]
    pub paused: bool,
    /// How long uploaded files and the model live at the provider.
    #[serde(default)]
    pub retention: Retention,
    /// Delete (default): cancel and clean up remotely on deletion. Orphan: leave remote objects.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// Where to publish the fine-tuned model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputSpec>,
}

/// An uploaded file, with the digest of its bytes.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RemoteFileRef {
    /// The provider's file id.
    pub id: String,
    /// Size in bytes.
    pub bytes: u64,
    /// `sha256:<hex>` of the uploaded bytes; equals the dataset's `redactedDigest`.
    pub digest: String,
}

/// A provider error, as the provider reported it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RemoteError {
    /// The provider's error code, e.g. `invalid_n_examples`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The provider's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The parameter the error is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// What the provider says about the job.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RemoteStatus {
    /// The provider's job id.
    #[serde(rename = "jobID", default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The provider's own status word (validating_files, queued, running, paused, succeeded,
    /// failed, cancelled, or anything new the provider introduces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The uploaded training file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_file: Option<RemoteFileRef>,
    /// The uploaded validation file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_file: Option<RemoteFileRef>,
    /// The resulting model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tuned_model: Option<String>,
    /// Tokens trained on, as billed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trained_tokens: Option<u64>,
    /// The provider's error for a failed job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RemoteError>,
    /// Id of the last provider event already turned into a Kubernetes Event.
    #[serde(
        rename = "lastEventID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_event_id: Option<String>,
    /// When the job finished, as the provider reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
}

/// Kind of remote object.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemoteKind {
    /// An uploaded file.
    File,
    /// A multipart upload (Uploads API) in progress.
    Upload,
    /// A fine-tuning job.
    Job,
    /// A fine-tuned model.
    Model,
    /// Where the provider writes a job's output (Amazon Bedrock: the S3 prefix of the job's
    /// metrics). Deleting it deletes every object under it; it follows `retention.trainingFiles`.
    Output,
}

/// Fate of a remote object.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LedgerState {
    /// Exists at the provider.
    Present,
    /// A job still in progress.
    Running,
    /// A job that succeeded.
    Succeeded,
    /// A job that failed.
    Failed,
    /// A job or upload that was cancelled.
    Cancelled,
    /// Deleted at the provider (or found already gone).
    Deleted,
    /// Deliberately left at the provider (Retain or deletionPolicy Orphan).
    Retained,
    /// The provider answered 404 for an object the ledger knew: gone, but not deleted by
    /// tunegate (expired, removed out of band, or the credentials now belong to another
    /// project). Distinct from `Deleted` so a rotated key cannot fake a deletion record.
    NotFound,
    /// The entry names an object this FineTuneJob did not create (another resource's file, job
    /// or model, e.g. written into status by hand): tunegate left it alone.
    NotOwned,
}

/// One remote object this FineTuneJob created, and its fate.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    /// File, Upload, Job or Model.
    pub kind: RemoteKind,
    /// The provider's id.
    pub id: String,
    /// For files: the provider purpose, e.g. `fine-tune`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// For files: `training` or `validation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// For files: the size of the exact bytes stored at the provider (after any conversion, e.g.
    /// to Amazon Bedrock's record format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// For files: `sha256:<hex>` of the exact bytes stored at the provider. Equals the dataset's
    /// `redactedDigest` where the provider stores the redacted JSONL as it is (OpenAI, Azure
    /// OpenAI); differs where tunegate converts it (Amazon Bedrock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Present, Running, Succeeded, Failed, Cancelled, Deleted, Retained or NotFound.
    pub state: LedgerState,
    /// When tunegate recorded the object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
    /// When tunegate saw it deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Time>,
}

/// Observed state of a FineTuneJob.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FineTuneJobStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, DatasetReady, Uploaded, Submitted, Succeeded and RemoteCleanedUp conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The provider's view of the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteStatus>,
    /// Every remote object ever created for this resource, and its fate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ledger: Vec<LedgerEntry>,
}
