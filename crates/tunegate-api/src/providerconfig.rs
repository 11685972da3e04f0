//! `ClusterProviderConfig` (cluster-scoped, made by cluster admins) and `ProviderConfig`
//! (namespaced, made by namespace owners): where a FineTuneJob's data may go, with which key, for
//! which models, with how much redaction at least, within which limits.
//!
//! The shape follows cert-manager's Issuer/ClusterIssuer (the cluster kind's Secret lives in the
//! operator's own namespace, like cert-manager's cluster resource namespace), External Secrets'
//! ClusterSecretStore (a namespace selector decides who may use the cluster kind) and Crossplane's
//! ProviderConfig (a config in use cannot be deleted; here a finalizer, not a webhook).

// Each `printcolumn(...)` repeats keys such as `type_ = "string"`, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{EntityType, RedactionMode, SecretKeyRef};

/// Label a namespaced ProviderConfig's credentials Secret must carry (the namespace owner's
/// opt-in: without it any Secret of the namespace could be sent to a provider as an API key).
pub const CREDENTIALS_LABEL: &str = "tunegate.dev/credentials";

/// Finalizer on provider configs while FineTuneJobs using them still have remote objects, so
/// cleanup never loses its endpoint and credentials.
pub const CONFIG_FINALIZER: &str = "tunegate.dev/config-in-use";

/// Hosted fine-tuning provider.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProviderType {
    /// OpenAI's API (`https://api.openai.com/v1` unless `endpoint` says otherwise).
    #[default]
    OpenAI,
    /// Azure OpenAI (`{endpoint}/openai/...?api-version=`); needs `endpoint` and `apiVersion`.
    AzureOpenAI,
    /// Amazon Bedrock model customization; needs `bedrock` (region, S3 location, role).
    Bedrock,
}

impl ProviderType {
    /// The name as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderType::OpenAI => "OpenAI",
            ProviderType::AzureOpenAI => "AzureOpenAI",
            ProviderType::Bedrock => "Bedrock",
        }
    }
}

/// The Secret key holding the provider credentials.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ProviderCredentials {
    /// The Secret key with the API key. For a ClusterProviderConfig the Secret is in the
    /// operator's own namespace; for a ProviderConfig it is in the config's namespace and must carry
    /// the label `tunegate.dev/credentials: "true"`.
    pub secret_ref: SecretKeyRef,
}

/// An S3 location (Bedrock training data, validation data and output).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct S3Location {
    /// Bucket name.
    #[schemars(length(min = 3, max = 63))]
    pub bucket: String,
    /// Key prefix under which tunegate writes, e.g. `tunegate/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub prefix: Option<String>,
}

/// Amazon Bedrock settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct BedrockSettings {
    /// AWS region, e.g. `us-east-1`.
    #[schemars(length(min = 1, max = 32), regex(pattern = r"^[a-z0-9-]+$"))]
    pub region: String,
    /// Where training and validation data and the job output are written (the customer's bucket).
    pub s3: S3Location,
    /// The IAM service role Bedrock assumes to read and write that bucket.
    #[serde(rename = "roleArn")]
    #[schemars(
        length(min = 20, max = 2048),
        regex(pattern = r"^arn:aws[a-z-]*:iam::")
    )]
    pub role_arn: String,
}

/// Minimum redaction every dataset sent through this config must apply. A config without a floor
/// gets the default floor: every built-in entity, and Mask or a stricter mode.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RedactionFloor {
    /// Built-in entities a dataset must enable. Defaults to all of them; `[]` requires none (an
    /// explicit admin choice).
    #[serde(default = "all_entities")]
    pub entities: Vec<EntityType>,
    /// Redaction modes a dataset may use. Defaults to Mask, DropExample and Reject (Mask and what
    /// is stricter); Pseudonymize must be allowed explicitly, since its tokens link occurrences.
    #[serde(default = "default_modes")]
    #[schemars(length(min = 1))]
    pub modes: Vec<RedactionMode>,
    /// Whether a custom pattern named like a required built-in entity (e.g. `EMAIL_ADDRESS`) may
    /// stand in for that built-in detector. Default false: the built-in must be enabled.
    #[serde(default)]
    pub allow_custom_patterns_to_replace_builtins: bool,
}

fn all_entities() -> Vec<EntityType> {
    EntityType::ALL.to_vec()
}

/// Mask and the modes stricter than it.
pub fn default_modes() -> Vec<RedactionMode> {
    vec![
        RedactionMode::Mask,
        RedactionMode::DropExample,
        RedactionMode::Reject,
    ]
}

impl Default for RedactionFloor {
    fn default() -> Self {
        Self {
            entities: all_entities(),
            modes: default_modes(),
            allow_custom_patterns_to_replace_builtins: false,
        }
    }
}

/// What jobs through a config may leave at the provider. Omitted: nothing but the model: uploaded
/// files are always deleted (when the job ends, or with the resource), and deleting a FineTuneJob
/// always cleans up. A job author cannot opt out of that unless the config allows it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RetentionPolicy {
    /// Whether a job may keep its uploaded files at the provider for good
    /// (`retention.trainingFiles: Retain`). Default false.
    #[serde(default)]
    pub allow_retained_files: bool,
    /// Whether deleting a job may leave its remote objects at the provider
    /// (`deletionPolicy: Orphan`). Default false.
    #[serde(default)]
    pub allow_orphan: bool,
}

/// Limits per namespace. Omitted limits do not apply.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderLimits {
    /// FineTuneJobs of one namespace that may run at the provider at once through this config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub concurrent_jobs_per_namespace: Option<u32>,
    /// Largest redacted training (or validation) file, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_upload_bytes: Option<u64>,
    /// Trained tokens one namespace may use per calendar month (UTC), accounted from the provider's
    /// `trained_tokens` and shown in `status.usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub trained_tokens_per_namespace_per_month: Option<u64>,
}

/// Everything both kinds share. Used by the controller in place of either spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderSettings {
    pub type_: ProviderType,
    pub endpoint: Option<String>,
    pub credentials: Option<ProviderCredentials>,
    pub organization: Option<String>,
    pub project: Option<String>,
    pub api_version: Option<String>,
    pub bedrock: Option<BedrockSettings>,
    pub allowed_models: Vec<String>,
    pub redaction_floor: RedactionFloor,
    pub limits: ProviderLimits,
    pub retention: RetentionPolicy,
}

// Both kinds have the same provider fields; the macro keeps them one definition, with their docs,
// without `serde(flatten)` (which schemars would turn into a non-structural `allOf`).
macro_rules! provider_config_spec {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($extra:tt)* }
    ) => {
        $(#[$meta])*
        #[serde(rename_all = "camelCase")]
        #[x_kube(validation = Rule::new("self.type != 'AzureOpenAI' || has(self.apiVersion)").message("apiVersion is required when type is AzureOpenAI").reason(Reason::FieldValueRequired))]
        #[x_kube(validation = Rule::new("self.type != 'AzureOpenAI' || has(self.endpoint)").message("endpoint (the Azure OpenAI resource endpoint) is required when type is AzureOpenAI").reason(Reason::FieldValueRequired))]
        #[x_kube(validation = Rule::new("self.type != 'Bedrock' || has(self.bedrock)").message("bedrock (region, s3, roleArn) is required when type is Bedrock").reason(Reason::FieldValueRequired))]
        #[x_kube(validation = Rule::new("self.type == 'Bedrock' || !has(self.bedrock)").message("bedrock is only valid when type is Bedrock").reason(Reason::FieldValueForbidden))]
        #[x_kube(validation = Rule::new("self.type == 'Bedrock' || has(self.credentials)").message("credentials are required for OpenAI and AzureOpenAI").reason(Reason::FieldValueRequired))]
        pub struct $name {
            /// Provider type: OpenAI, AzureOpenAI or Bedrock.
            #[serde(rename = "type", default)]
            pub type_: ProviderType,
            /// API base URL. Defaults to `https://api.openai.com/v1` for OpenAI and to the regional
            /// endpoint for Bedrock; for AzureOpenAI it is the resource endpoint, e.g.
            /// `https://my-resource.openai.azure.com`. Must pass the operator's endpoint allow-list.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(length(min = 1, max = 2048), regex(pattern = r"^https?://"))]
            pub endpoint: Option<String>,
            /// The Secret key with the API key.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub credentials: Option<ProviderCredentials>,
            /// OpenAI organization id, sent as `OpenAI-Organization`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(length(min = 1, max = 256))]
            pub organization: Option<String>,
            /// OpenAI project id, sent as `OpenAI-Project`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(length(min = 1, max = 256))]
            pub project: Option<String>,
            /// Azure OpenAI data-plane API version, e.g. `2024-10-21`. Required for AzureOpenAI.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(length(min = 1, max = 64))]
            pub api_version: Option<String>,
            /// Amazon Bedrock settings. Required for Bedrock.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub bedrock: Option<BedrockSettings>,
            /// Base models jobs may fine-tune, as exact names or patterns with `*` (any run of
            /// characters), e.g. `gpt-4.1-mini-*`. Empty or omitted: every model.
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            #[schemars(length(max = 64))]
            pub allowed_models: Vec<ModelPattern>,
            /// Minimum redaction of every dataset sent through this config. Omitted: every built-in
            /// entity, in Mask or a stricter mode.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub redaction_floor: Option<RedactionFloor>,
            /// Limits per namespace.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub limits: Option<ProviderLimits>,
            /// What jobs may leave at the provider. Omitted: uploaded files are always deleted,
            /// and deleting a job always cleans up (no `Retain` files, no `Orphan`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub retention: Option<RetentionPolicy>,
            $($extra)*
        }

        impl $name {
            /// The provider fields, in the form the controller uses for both kinds.
            pub fn settings(&self) -> ProviderSettings {
                ProviderSettings {
                    type_: self.type_,
                    endpoint: self.endpoint.clone(),
                    credentials: self.credentials.clone(),
                    organization: self.organization.clone(),
                    project: self.project.clone(),
                    api_version: self.api_version.clone(),
                    bedrock: self.bedrock.clone(),
                    allowed_models: self.allowed_models.iter().map(|m| m.0.clone()).collect(),
                    redaction_floor: self.redaction_floor.clone().unwrap_or_default(),
                    limits: self.limits.clone().unwrap_or_default(),
                    retention: self.retention.clone().unwrap_or_default(),
                }
            }
        }
    };
}

/// A model name or a pattern with `*`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(transparent)]
pub struct ModelPattern(pub String);

impl JsonSchema for ModelPattern {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ModelPattern".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": 256,
            "pattern": r"^[A-Za-z0-9._:*/-]+$"
        })
    }
}

/// Trained tokens one namespace used through a config in one calendar month (UTC).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceUsage {
    /// The namespace.
    pub namespace: String,
    /// The month, `YYYY-MM` (UTC).
    pub month: String,
    /// Trained tokens, as the provider billed them, of the jobs that finished that month.
    pub trained_tokens: u64,
    /// Uids of the FineTuneJobs counted, so that a job is counted once and deleting it does not
    /// give its tokens back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounted_jobs: Vec<String>,
}

/// Observed state of a provider config.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigStatus {
    /// The metadata.generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready: the credentials resolve and the endpoint is allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// FineTuneJobs using this config that still have remote objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs_in_use: Option<u32>,
    /// Trained tokens per namespace per month (the current and the previous month are kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub usage: Vec<NamespaceUsage>,
}

provider_config_spec! {
    /// A provider endpoint, credentials and policy for FineTuneJobs in the namespaces its
    /// `namespaceSelector` selects. The credentials Secret lives in the operator's namespace.
    #[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[kube(
        group = "tunegate.dev",
        version = "v1alpha1",
        kind = "ClusterProviderConfig",
        status = "ProviderConfigStatus",
        shortname = "cpc",
        category = "tunegate",
        doc = "A cluster-wide provider endpoint, credentials and policy (allowed namespaces and models, redaction floor, limits) for FineTuneJobs.",
        printcolumn(name = "Type", type_ = "string", json_path = ".spec.type", description = "Provider type"),
        printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status", description = "Whether credentials resolve and the endpoint is allowed"),
        printcolumn(name = "Reason", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].reason", description = "Reason of the Ready condition"),
        printcolumn(name = "Endpoint", type_ = "string", json_path = ".spec.endpoint", description = "API base URL", priority = 1),
        printcolumn(name = "Jobs", type_ = "integer", json_path = ".status.jobsInUse", description = "Jobs with remote objects", priority = 1),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )]
    pub struct ClusterProviderConfigSpec {
        /// Namespaces whose FineTuneJobs may use this config. Omitted: none (an empty selector
        /// `{}` selects every namespace).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub namespace_selector: Option<LabelSelector>,
    }
}

provider_config_spec! {
    /// A provider endpoint, credentials and policy for FineTuneJobs of this namespace. The
    /// credentials Secret is in this namespace and carries `tunegate.dev/credentials: "true"`.
    #[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[kube(
        group = "tunegate.dev",
        version = "v1alpha1",
        kind = "ProviderConfig",
        namespaced,
        status = "ProviderConfigStatus",
        shortname = "pc",
        category = "tunegate",
        doc = "A namespace's provider endpoint, credentials and policy (allowed models, redaction floor, limits) for its FineTuneJobs.",
        printcolumn(name = "Type", type_ = "string", json_path = ".spec.type", description = "Provider type"),
        printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status", description = "Whether credentials resolve and the endpoint is allowed"),
        printcolumn(name = "Reason", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].reason", description = "Reason of the Ready condition"),
        printcolumn(name = "Endpoint", type_ = "string", json_path = ".spec.endpoint", description = "API base URL", priority = 1),
        printcolumn(name = "Jobs", type_ = "integer", json_path = ".status.jobsInUse", description = "Jobs with remote objects", priority = 1),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )]
    pub struct ProviderConfigSpec {}
}

/// Which kind of provider config a FineTuneJob names.
#[derive(
    JsonSchema,
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
)]
pub enum ProviderConfigKind {
    /// A cluster-scoped ClusterProviderConfig (default).
    #[default]
    ClusterProviderConfig,
    /// A ProviderConfig in the job's namespace.
    ProviderConfig,
}

impl ProviderConfigKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderConfigKind::ClusterProviderConfig => "ClusterProviderConfig",
            ProviderConfigKind::ProviderConfig => "ProviderConfig",
        }
    }
}

/// A reference to the provider config a FineTuneJob runs through.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigRef {
    /// ClusterProviderConfig (default) or ProviderConfig (in the job's namespace).
    #[serde(default)]
    pub kind: ProviderConfigKind,
    /// Name of the config.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_floor_is_every_entity_in_mask_or_stricter() {
        let c: ClusterProviderConfigSpec = serde_yaml::from_str(
            "{type: OpenAI, credentials: {secretRef: {name: k, key: apiKey}}}",
        )
        .expect("parse");
        let s = c.settings();
        assert_eq!(s.redaction_floor.entities, EntityType::ALL.to_vec());
        assert!(s.redaction_floor.modes.contains(&RedactionMode::Mask));
        assert!(
            !s.redaction_floor
                .modes
                .contains(&RedactionMode::Pseudonymize)
        );
        assert!(!s.redaction_floor.allow_custom_patterns_to_replace_builtins);
        assert!(c.namespace_selector.is_none());
    }

    #[test]
    fn bedrock_fields_parse() {
        let y = r#"
type: Bedrock
bedrock: {region: eu-central-1, s3: {bucket: acme-ft, prefix: tunegate/}, roleArn: "arn:aws:iam::123456789012:role/tunegate"}
"#;
        let c: ProviderConfigSpec = serde_yaml::from_str(y).expect("parse");
        assert_eq!(
            c.settings().bedrock.map(|b| b.s3.bucket).as_deref(),
            Some("acme-ft")
        );
    }
}
