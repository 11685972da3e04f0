//! Redaction report: counts only, never values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a redaction run found and changed. Counts only: no value ever lands here.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RedactionReport {
    /// Lines (examples) processed successfully.
    pub examples: u64,
    /// Examples with at least one finding.
    pub examples_with_findings: u64,
    /// Examples rewritten (Mask, Pseudonymize).
    pub redacted_examples: u64,
    /// Examples dropped (DropExample).
    pub dropped_examples: u64,
    /// Examples with findings in Reject mode.
    pub rejected_examples: u64,
    /// Findings per entity type (`EMAIL_ADDRESS`, custom and deny-list names).
    pub findings: BTreeMap<String, u64>,
    /// Findings per message role (`user`, `assistant`, ...) and entity type, for strings that belong
    /// to a message.
    pub findings_by_role: BTreeMap<String, BTreeMap<String, u64>>,
    /// o200k_base tokens in the changed parts of string values before redaction.
    pub tokens_removed: u64,
    /// o200k_base tokens in the same parts after redaction.
    pub tokens_added: u64,
}

impl RedactionReport {
    /// Adds another report's counts to this one (for parallel or per-source runs).
    pub fn merge(&mut self, other: &RedactionReport) {
        self.examples += other.examples;
        self.examples_with_findings += other.examples_with_findings;
        self.redacted_examples += other.redacted_examples;
        self.dropped_examples += other.dropped_examples;
        self.rejected_examples += other.rejected_examples;
        for (k, v) in &other.findings {
            *self.findings.entry(k.clone()).or_default() += v;
        }
        for (role, m) in &other.findings_by_role {
            let dst = self.findings_by_role.entry(role.clone()).or_default();
            for (k, v) in m {
                *dst.entry(k.clone()).or_default() += v;
            }
        }
        self.tokens_removed += other.tokens_removed;
        self.tokens_added += other.tokens_added;
    }

    pub(crate) fn bump(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
        match map.get_mut(key) {
            Some(v) => *v += n,
            None => {
                map.insert(key.to_string(), n);
            }
        }
    }
}
