//! `TrainingDataset`: a validated, redacted view of training data that lives in the cluster.

// Each `printcolumn(...)` repeats keys such as `type_ = "string"`, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ConfigMapKeyRef, RedactionPolicy, SecretKeyRef};

/// OpenAI's three fine-tuning data formats.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DatasetFormat {
    /// Chat examples: `{"messages": [...]}` (optionally with `tools`), for supervised fine-tuning.
    #[default]
    Chat,
    /// Legacy prompt/completion examples: `{"prompt": "...", "completion": "..."}`.
    Completion,
    /// Preference pairs for DPO: `{"input": {...}, "preferred_output": [...], "non_preferred_output": [...]}`.
    Preference,
    /// Prompts for reinforcement fine-tuning: `{"messages": [...], "tools": [...], ...}` whose last
    /// message is the user's, plus any other top-level fields the grader reads as
    /// `{{item.<field>}}` (they are redacted like the messages).
    Reinforcement,
}

/// A file on a PersistentVolumeClaim, read by a short-lived worker Job that mounts it read-only.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.path.startsWith('/') && self.path != '..' && !self.path.startsWith('../') && !self.path.endsWith('/..') && !self.path.contains('/../')").message("volume path must be relative and must not contain '..'").reason(Reason::FieldValueInvalid))]
pub struct VolumeFileRef {
    /// Name of the PersistentVolumeClaim, in the same namespace as the dataset.
    #[schemars(length(min = 1, max = 253))]
    pub claim_name: String,
    /// Path of the JSONL file inside the volume, relative to its root, without `..`.
    #[schemars(length(min = 1, max = 4096))]
    pub path: String,
}

/// One source of training data. Exactly one of `secret`, `configMap` or `volume` must be set.
/// Secrets and ConfigMaps must carry the label `tunegate.dev/training-data: "true"`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.secret), has(self.configMap), has(self.volume)].filter(x, x).size() == 1").message("each source must name exactly one of secret, configMap or volume").reason(Reason::FieldValueInvalid))]
pub struct DatasetSource {
    /// A key of a Secret labelled `tunegate.dev/training-data: "true"`, read by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretKeyRef>,
    /// A key of a ConfigMap labelled `tunegate.dev/training-data: "true"`, read by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapKeyRef>,
    /// A file on a PersistentVolumeClaim, read by a worker Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeFileRef>,
}

fn default_min_examples() -> u32 {
    10
}

/// Format validation settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ValidationSpec {
    /// Base model the data is meant for; selects the per-example token limit and the tokenizer.
    /// Defaults to the limits of the gpt-4o-mini family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub model: Option<String>,
    /// Fewest examples the dataset must hold after redaction (OpenAI requires at least 10).
    #[serde(default = "default_min_examples")]
    #[schemars(range(min = 1))]
    pub min_examples: u32,
}

impl Default for ValidationSpec {
    fn default() -> Self {
        Self {
            model: None,
            min_examples: default_min_examples(),
        }
    }
}

/// A named, validated, redacted view of training data that lives in the cluster. tunegate reads
/// the sources, validates the format, redacts personal data and secrets, and records counts and
/// digests; FineTuneJobs upload exactly the redacted bytes described here.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "tunegate.dev",
    version = "v1alpha1",
    kind = "TrainingDataset",
    namespaced,
    status = "TrainingDatasetStatus",
    shortname = "tds",
    category = "tunegate",
    doc = "A validated, redacted view of fine-tuning data held in Secrets, ConfigMaps or volumes.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the dataset is valid and redacted"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        description = "Reason of the Ready condition"
    ),
    printcolumn(
        name = "Format",
        type_ = "string",
        json_path = ".spec.format",
        description = "Training data format"
    ),
    printcolumn(
        name = "Examples",
        type_ = "integer",
        json_path = ".status.examples",
        description = "Examples after redaction"
    ),
    printcolumn(
        name = "Dropped",
        type_ = "integer",
        json_path = ".status.droppedExamples",
        description = "Examples dropped by redaction",
        priority = 1
    ),
    printcolumn(
        name = "Tokens",
        type_ = "integer",
        json_path = ".status.estimatedTokens",
        description = "Estimated training tokens per epoch",
        priority = 1
    ),
    printcolumn(
        name = "Model",
        type_ = "string",
        json_path = ".spec.validation.model",
        description = "Model the data is validated for"
    ),
    printcolumn(
        name = "Digest",
        type_ = "string",
        json_path = ".status.redactedDigest",
        description = "Digest of the redacted bytes",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct TrainingDatasetSpec {
    /// Training data format: Chat, Completion, Preference (DPO) or Reinforcement.
    #[serde(default)]
    pub format: DatasetFormat,
    /// Where the JSONL data comes from. Sources are concatenated in order.
    #[schemars(length(min = 1, max = 64))]
    pub sources: Vec<DatasetSource>,
    /// Redaction policy applied to every example before anything is uploaded.
    #[serde(default)]
    pub redaction: RedactionPolicy,
    /// Format validation settings.
    #[serde(default)]
    pub validation: ValidationSpec,
}

/// A format problem, by line and stable code; never the content of the line.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FormatErrorRef {
    /// 1-based line number in the concatenated sources.
    pub line: u64,
    /// Stable error code, e.g. `missing_assistant_message`.
    pub code: String,
}

/// Observed state of a TrainingDataset. Counts, digests and codes only: never content.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrainingDatasetStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, SourcesResolved, Validated and Redacted conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Examples in the redacted output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub examples: Option<u64>,
    /// Examples removed by redaction (DropExample mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_examples: Option<u64>,
    /// Estimated training tokens for one epoch over the redacted output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_tokens: Option<u64>,
    /// Size in bytes of the redacted output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted_bytes: Option<u64>,
    /// `sha256:<hex>` of the concatenated source bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_digest: Option<String>,
    /// `sha256:<hex>` of the exact bytes that would be uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted_digest: Option<String>,
    /// Number of findings per entity type. Counts only, never values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub findings: BTreeMap<String, u64>,
    /// The first format errors (at most 10), by line and code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub format_errors: Vec<FormatErrorRef>,
}
