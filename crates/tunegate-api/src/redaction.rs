//! The redaction policy: the `redaction` section of a TrainingDataset, and also the YAML policy file
//! of `tunegate redact --policy`. One type, so the CLI and the operator can never disagree.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SecretKeyRef;

/// What happens to an example in which a detector finds something.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RedactionMode {
    /// Replace each finding with its entity type in brackets, e.g. `[EMAIL_ADDRESS]`.
    #[default]
    Mask,
    /// Replace each finding with a keyed HMAC token, e.g. `[EMAIL_ADDRESS_7f3a9c1e]`; the same value
    /// gets the same token across the whole dataset, so conversations stay coherent.
    Pseudonymize,
    /// Drop every example that contains a finding.
    DropExample,
    /// Fail the whole dataset if anything is found.
    Reject,
}

/// A built-in detector.
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    /// E-mail addresses.
    EmailAddress,
    /// Phone numbers in national and international formats.
    PhoneNumber,
    /// Payment card numbers (Luhn-checked, known brand ranges).
    CreditCard,
    /// US social security numbers (area, group and serial rules).
    UsSsn,
    /// International bank account numbers (mod-97 and per-country length).
    IbanCode,
    /// IPv4 and IPv6 addresses.
    IpAddress,
    /// MAC addresses.
    MacAddress,
    /// API keys, tokens, private keys, passwords in URLs and high-entropy strings near words such as
    /// key, token, secret or password.
    Secret,
}

impl EntityType {
    /// Every built-in detector, the default set.
    pub const ALL: [EntityType; 8] = [
        EntityType::EmailAddress,
        EntityType::PhoneNumber,
        EntityType::CreditCard,
        EntityType::UsSsn,
        EntityType::IbanCode,
        EntityType::IpAddress,
        EntityType::MacAddress,
        EntityType::Secret,
    ];

    /// The name used in masks, reports and status (`EMAIL_ADDRESS`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::EmailAddress => "EMAIL_ADDRESS",
            EntityType::PhoneNumber => "PHONE_NUMBER",
            EntityType::CreditCard => "CREDIT_CARD",
            EntityType::UsSsn => "US_SSN",
            EntityType::IbanCode => "IBAN_CODE",
            EntityType::IpAddress => "IP_ADDRESS",
            EntityType::MacAddress => "MAC_ADDRESS",
            EntityType::Secret => "SECRET",
        }
    }
}

fn all_entities() -> Vec<EntityType> {
    EntityType::ALL.to_vec()
}

/// A named custom regular expression; every match is a finding of type `name`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CustomPattern {
    /// Entity name used in masks and reports, upper snake case, e.g. `EMPLOYEE_ID`.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[A-Z][A-Z0-9_]*$"))]
    pub name: String,
    /// Regular expression in Rust `regex` syntax (no look-around, no backreferences; matching is
    /// linear-time).
    #[schemars(length(min = 1, max = 4096))]
    pub regex: String,
}

/// Literal terms that are always redacted (matched case-insensitively, on word boundaries).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DenyList {
    /// Entity name used in masks and reports, upper snake case, e.g. `CUSTOMER`.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[A-Z][A-Z0-9_]*$"))]
    pub name: String,
    /// The terms.
    #[schemars(length(min = 1))]
    pub terms: Vec<String>,
}

/// How personal data and secrets are removed before anything leaves the cluster.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RedactionPolicy {
    /// What to do with findings: Mask (default), Pseudonymize, DropExample or Reject.
    #[serde(default)]
    pub mode: RedactionMode,
    /// Built-in detectors to run. Defaults to all of them.
    #[serde(default = "all_entities")]
    pub entities: Vec<EntityType>,
    /// Additional named regular expressions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_patterns: Vec<CustomPattern>,
    /// Literal terms that are always redacted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_list: Vec<DenyList>,
    /// Literal values that are never redacted, e.g. a public support address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_list: Vec<String>,
    /// Secret key holding the HMAC key for Pseudonymize mode. When omitted, the operator generates a
    /// key into a Secret it owns, so tokens stay stable across re-validations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonymization_key_ref: Option<SecretKeyRef>,
}

impl Default for RedactionPolicy {
    fn default() -> Self {
        Self {
            mode: RedactionMode::default(),
            entities: all_entities(),
            custom_patterns: Vec::new(),
            deny_list: Vec::new(),
            allow_list: Vec::new(),
            pseudonymization_key_ref: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_yaml_is_mask_with_every_detector() {
        let p: RedactionPolicy = serde_yaml::from_str("{}").expect("parse");
        assert_eq!(p, RedactionPolicy::default());
        assert_eq!(p.entities.len(), EntityType::ALL.len());
    }

    #[test]
    fn design_example_parses() {
        let y = r#"
mode: Pseudonymize
entities: [EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS, MAC_ADDRESS, SECRET]
customPatterns: [{name: EMPLOYEE_ID, regex: 'EMP-\d{6}'}]
denyList:  [{name: CUSTOMER, terms: [Globex, Initech]}]
allowList: [support@acme.example]
pseudonymizationKeyRef: {name: tds-hmac, key: key}
"#;
        let p: RedactionPolicy = serde_yaml::from_str(y).expect("parse");
        assert_eq!(p.mode, RedactionMode::Pseudonymize);
        assert_eq!(p.custom_patterns[0].name, "EMPLOYEE_ID");
        assert_eq!(p.deny_list[0].terms, vec!["Globex", "Initech"]);
    }
}
