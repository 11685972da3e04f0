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

/// What happens to examples with image content parts (`image_url`), which text rules cannot redact.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ImagePolicy {
    /// Refuse the dataset (the first image fails it with a clear condition).
    #[default]
    Reject,
    /// Drop every example that contains an image.
    Drop,
    /// Keep images unchanged; only the text around them is redacted.
    Keep,
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
    /// UK National Insurance numbers (prefix letters, six digits, suffix A-D).
    UkNino,
    /// UK NHS numbers (10 digits, mod-11 check digit).
    UkNhs,
    /// German tax identification numbers (Steuer-ID: 11 digits, ISO 7064 check digit, digit-repetition rule).
    DeTaxId,
    /// French social security numbers (NIR: 13 digits and a mod-97 key).
    FrNir,
    /// Dutch citizen service numbers (BSN: 9 digits, eleven-test).
    NlBsn,
    /// Spanish DNI and NIE numbers (mod-23 control letter).
    EsNif,
    /// Italian fiscal codes (codice fiscale: 16 characters, control letter).
    ItFiscalCode,
    /// Polish PESEL numbers (11 digits, weighted check digit, valid birth date).
    PlPesel,
    /// Indian Aadhaar numbers (12 digits, Verhoeff check digit).
    InAadhaar,
    /// Canadian social insurance numbers (9 digits, Luhn).
    CaSin,
    /// Australian tax file numbers (9 digits, weighted mod-11).
    AuTfn,
    /// US individual taxpayer identification numbers (9XX-[5-9]X-XXXX ranges).
    UsItin,
    /// US ABA routing numbers (9 digits, 3-7-1 checksum, Federal Reserve prefixes), when a context word says so.
    UsBankRouting,
    /// Passport numbers, when a context word such as passport says so.
    Passport,
    /// Driver's licence numbers, when a context word says so.
    DriverLicense,
    /// Dates of birth, when a context word such as born or DOB says so.
    DateOfBirth,
    /// Cryptocurrency wallet addresses (Bitcoin Base58Check and Bech32, Ethereum).
    CryptoWallet,
    /// Person names (best effort: gazetteer, context cues and capitalisation).
    Person,
    /// Postal addresses (best effort: street and postcode patterns for US, UK, DE, FR, NL, ES).
    PostalAddress,
    /// Finnish personal identity codes (henkilötunnus: birth date, century sign, mod-31 check character).
    FiPersonalIdentityCode,
    /// Swedish personal identity numbers (personnummer and samordningsnummer: birth date, Luhn).
    SePersonnummer,
    /// Turkish national identity numbers (TC Kimlik No: 11 digits, two check digits).
    TrNationalId,
    /// South Korean resident registration numbers (birth date, sex and century digit; check digit
    /// where one was issued).
    KrRrn,
    /// US National Provider Identifiers (10 digits, Luhn over the 80840 prefix), when a context
    /// word says so or printed 4-3-3.
    UsNpi,
    /// US Medicare Beneficiary Identifiers (11 characters in the CMS position pattern).
    UsMbi,
}

impl EntityType {
    /// Every built-in detector, the default set.
    pub const ALL: [EntityType; 33] = [
        EntityType::EmailAddress,
        EntityType::PhoneNumber,
        EntityType::CreditCard,
        EntityType::UsSsn,
        EntityType::IbanCode,
        EntityType::IpAddress,
        EntityType::MacAddress,
        EntityType::Secret,
        EntityType::UkNino,
        EntityType::UkNhs,
        EntityType::DeTaxId,
        EntityType::FrNir,
        EntityType::NlBsn,
        EntityType::EsNif,
        EntityType::ItFiscalCode,
        EntityType::PlPesel,
        EntityType::InAadhaar,
        EntityType::CaSin,
        EntityType::AuTfn,
        EntityType::UsItin,
        EntityType::UsBankRouting,
        EntityType::Passport,
        EntityType::DriverLicense,
        EntityType::DateOfBirth,
        EntityType::CryptoWallet,
        EntityType::Person,
        EntityType::PostalAddress,
        EntityType::FiPersonalIdentityCode,
        EntityType::SePersonnummer,
        EntityType::TrNationalId,
        EntityType::KrRrn,
        EntityType::UsNpi,
        EntityType::UsMbi,
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
            EntityType::UkNino => "UK_NINO",
            EntityType::UkNhs => "UK_NHS",
            EntityType::DeTaxId => "DE_TAX_ID",
            EntityType::FrNir => "FR_NIR",
            EntityType::NlBsn => "NL_BSN",
            EntityType::EsNif => "ES_NIF",
            EntityType::ItFiscalCode => "IT_FISCAL_CODE",
            EntityType::PlPesel => "PL_PESEL",
            EntityType::InAadhaar => "IN_AADHAAR",
            EntityType::CaSin => "CA_SIN",
            EntityType::AuTfn => "AU_TFN",
            EntityType::UsItin => "US_ITIN",
            EntityType::UsBankRouting => "US_BANK_ROUTING",
            EntityType::Passport => "PASSPORT",
            EntityType::DriverLicense => "DRIVER_LICENSE",
            EntityType::DateOfBirth => "DATE_OF_BIRTH",
            EntityType::CryptoWallet => "CRYPTO_WALLET",
            EntityType::Person => "PERSON",
            EntityType::PostalAddress => "POSTAL_ADDRESS",
            EntityType::FiPersonalIdentityCode => "FI_PERSONAL_IDENTITY_CODE",
            EntityType::SePersonnummer => "SE_PERSONNUMMER",
            EntityType::TrNationalId => "TR_NATIONAL_ID",
            EntityType::KrRrn => "KR_RRN",
            EntityType::UsNpi => "US_NPI",
            EntityType::UsMbi => "US_MBI",
        }
    }
}

fn is_default_images(p: &ImagePolicy) -> bool {
    *p == ImagePolicy::default()
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
    /// The terms (each at most 256 bytes).
    #[schemars(length(min = 1, max = 20000))]
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
    /// Additional named regular expressions (at most 32, 64 KiB of patterns together; each must
    /// compile within 1 MiB).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub custom_patterns: Vec<CustomPattern>,
    /// Literal terms that are always redacted (at most 64 lists, 20000 terms together).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub deny_list: Vec<DenyList>,
    /// Literal values that are never redacted, e.g. a public support address (at most 20000).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20000))]
    pub allow_list: Vec<String>,
    /// Examples with `image_url` content parts: Reject (default), Drop or Keep. Image data is never
    /// scanned as text and never logged; it counts toward the size limits.
    #[serde(default, skip_serializing_if = "is_default_images")]
    pub images: ImagePolicy,
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
            images: ImagePolicy::default(),
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
    fn entity_names_match_serde() {
        for e in EntityType::ALL {
            let v = serde_json::to_value(e).expect("serialize");
            assert_eq!(v.as_str(), Some(e.as_str()));
        }
    }

    #[test]
    fn images_default_reject() {
        let p: RedactionPolicy = serde_yaml::from_str("images: Drop").expect("parse");
        assert_eq!(p.images, ImagePolicy::Drop);
        assert_eq!(RedactionPolicy::default().images, ImagePolicy::Reject);
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
