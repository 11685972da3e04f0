//! What a provider config admits: namespaces (label selectors), models (patterns), a dataset's
//! redaction policy (the floor) and the per-namespace limits. Pure: no Kubernetes, no network.
//!
//! Every refusal names the config, the rule and what is missing; never data.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use tunegate_api::conditions::Reason;

use tunegate_api::{
    DeletionPolicy, EntityType, FileRetention, FineTuneJobSpec, NamespaceUsage, ProviderLimits,
    RedactionFloor, RedactionMode, RedactionPolicy, RetentionPolicy,
};

/// A label selector that cannot be evaluated (an operator Kubernetes does not define, or `In`
/// without values). Such a selector selects nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("namespaceSelector: {0}")]
pub struct SelectorError(pub String);

fn requirement_matches(
    r: &LabelSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> Result<bool, SelectorError> {
    let values = r.values.as_deref().unwrap_or_default();
    let value = labels.get(&r.key);
    match r.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => Err(SelectorError(format!(
            "operator {} on key {} needs values",
            r.operator, r.key
        ))),
        "Exists" | "DoesNotExist" if !values.is_empty() => Err(SelectorError(format!(
            "operator {} on key {} takes no values",
            r.operator, r.key
        ))),
        "In" => Ok(value.is_some_and(|v| values.iter().any(|x| x == v))),
        "NotIn" => Ok(!value.is_some_and(|v| values.iter().any(|x| x == v))),
        "Exists" => Ok(value.is_some()),
        "DoesNotExist" => Ok(value.is_none()),
        other => Err(SelectorError(format!("unknown operator {other}"))),
    }
}

/// What a job's retention asks for beyond what its config allows (empty: nothing).
pub fn retention_excess(spec: &FineTuneJobSpec, allowed: &RetentionPolicy) -> Vec<&'static str> {
    let mut out = Vec::new();
    if spec.retention.training_files == FileRetention::Retain && !allowed.allow_retained_files {
        out.push(
            "retention.trainingFiles: Retain (the config's retention.allowRetainedFiles is false)",
        );
    }
    if spec.deletion_policy == DeletionPolicy::Orphan && !allowed.allow_orphan {
        out.push("deletionPolicy: Orphan (the config's retention.allowOrphan is false)");
    }
    out
}

/// The job's spec with the retention its config allows. `retention` and `deletionPolicy` stay
/// mutable after admission, so a job author could ask to keep files (or orphan everything) once
/// the data is uploaded: clean-up follows this, not the raw spec. `Retain` files become
/// `DeleteWhenFinished` (the default), `Orphan` becomes `Delete`.
pub fn governed_spec(spec: &FineTuneJobSpec, allowed: &RetentionPolicy) -> FineTuneJobSpec {
    let mut out = spec.clone();
    if out.retention.training_files == FileRetention::Retain && !allowed.allow_retained_files {
        out.retention.training_files = FileRetention::DeleteWhenFinished;
    }
    if out.deletion_policy == DeletionPolicy::Orphan && !allowed.allow_orphan {
        out.deletion_policy = DeletionPolicy::Delete;
    }
    out
}

/// Checks that a selector can be evaluated at all.
pub fn validate_selector(sel: &LabelSelector) -> Result<(), SelectorError> {
    selector_matches(Some(sel), &BTreeMap::new()).map(|_| ())
}

/// Kubernetes label-selector semantics: every `matchLabels` pair and every `matchExpressions`
/// requirement must hold; `{}` selects everything. No selector at all selects nothing, so a
/// ClusterProviderConfig is usable by no namespace until its admin says which.
pub fn selector_matches(
    sel: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> Result<bool, SelectorError> {
    let Some(sel) = sel else {
        return Ok(false);
    };
    let mut ok = true;
    for (k, v) in sel.match_labels.iter().flatten() {
        ok &= labels.get(k) == Some(v);
    }
    // Evaluate every requirement even after a miss, so an invalid one is always reported.
    for r in sel.match_expressions.iter().flatten() {
        ok &= requirement_matches(r, labels)?;
    }
    Ok(ok)
}

/// `*` matches any run of characters (also none); everything else matches itself. Linear in
/// practice: the classic greedy matcher with one backtrack point.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether the config lets jobs fine-tune `model`. An empty list allows every model.
pub fn model_allowed(patterns: &[String], model: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| glob_match(p, model))
}

/// How a dataset's redaction policy falls short of a floor. Policy names only, never data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FloorGaps {
    /// Required built-in entities the policy does not enable.
    pub missing_entities: Vec<EntityType>,
    /// The policy's mode, when the floor does not allow it.
    pub mode_not_allowed: Option<RedactionMode>,
}

impl FloorGaps {
    pub fn is_empty(&self) -> bool {
        self.missing_entities.is_empty() && self.mode_not_allowed.is_none()
    }

    /// Human message naming what is missing, e.g. `entities not enabled: EMAIL_ADDRESS; mode
    /// Pseudonymize not allowed (allowed: Mask, Reject)`.
    pub fn describe(&self, floor: &RedactionFloor) -> String {
        let mut parts = Vec::new();
        if !self.missing_entities.is_empty() {
            let names: Vec<&str> = self.missing_entities.iter().map(|e| e.as_str()).collect();
            parts.push(format!("entities not enabled: {}", names.join(", ")));
        }
        if let Some(m) = self.mode_not_allowed {
            let allowed: Vec<String> = floor.modes.iter().map(|m| format!("{m:?}")).collect();
            parts.push(format!(
                "mode {m:?} not allowed (allowed: {})",
                allowed.join(", ")
            ));
        }
        parts.join("; ")
    }
}

/// Compares a dataset's redaction policy with a floor.
pub fn floor_gaps(floor: &RedactionFloor, policy: &RedactionPolicy) -> FloorGaps {
    let enabled: BTreeSet<EntityType> = policy.entities.iter().copied().collect();
    let custom: BTreeSet<&str> = policy
        .custom_patterns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let required: BTreeSet<EntityType> = floor.entities.iter().copied().collect();
    let missing_entities = required
        .into_iter()
        .filter(|e| !enabled.contains(e))
        .filter(|e| {
            !(floor.allow_custom_patterns_to_replace_builtins && custom.contains(e.as_str()))
        })
        .collect();
    let mode_not_allowed = (!floor.modes.contains(&policy.mode)).then_some(policy.mode);
    FloorGaps {
        missing_entities,
        mode_not_allowed,
    }
}

/// Why a job is refused or must wait under the config's limits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitProblem {
    #[error("{active} jobs of this namespace already run through this config (limit {limit})")]
    Concurrency { limit: u32, active: u32 },
    #[error("the {role} file is {bytes} bytes, more than the config allows ({limit})")]
    UploadTooLarge {
        role: &'static str,
        bytes: u64,
        limit: u64,
    },
    #[error(
        "this namespace used {used} of {budget} trained tokens this month; this job needs at least {estimate} more"
    )]
    TokenBudget {
        budget: u64,
        used: u64,
        estimate: u64,
    },
}

impl LimitProblem {
    /// CamelCase condition reason.
    pub fn reason(&self) -> Reason {
        match self {
            LimitProblem::Concurrency { .. } => Reason::ConcurrentJobLimitReached,
            LimitProblem::UploadTooLarge { .. } => Reason::UploadTooLarge,
            LimitProblem::TokenBudget { .. } => Reason::TrainedTokenBudgetExceeded,
        }
    }

    /// Whether waiting can resolve it (another job finishing, next month) or the spec must change.
    pub fn transient(&self) -> bool {
        !matches!(self, LimitProblem::UploadTooLarge { .. })
    }
}

/// What the limit checks need to know about the job and its namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LimitFacts {
    /// Other jobs of the namespace with a live remote job through this config.
    pub active_jobs: u32,
    /// Redacted bytes of each file this job uploads: (role, bytes).
    pub uploads: Vec<(&'static str, u64)>,
    /// Trained tokens the namespace used this month through this config.
    pub used_tokens: u64,
    /// A lower bound of the tokens this job trains: estimated tokens per epoch times the explicit
    /// epoch count (1 when the provider chooses).
    pub estimated_tokens: u64,
}

/// Checks every limit; the first one exceeded wins (spec problems before transient ones).
pub fn check_limits(limits: &ProviderLimits, f: &LimitFacts) -> Result<(), LimitProblem> {
    if let Some(limit) = limits.max_upload_bytes {
        for &(role, bytes) in &f.uploads {
            if bytes > limit {
                return Err(LimitProblem::UploadTooLarge { role, bytes, limit });
            }
        }
    }
    if let Some(limit) = limits.concurrent_jobs_per_namespace
        && f.active_jobs >= limit
    {
        return Err(LimitProblem::Concurrency {
            limit,
            active: f.active_jobs,
        });
    }
    if let Some(budget) = limits.trained_tokens_per_namespace_per_month
        && f.used_tokens.saturating_add(f.estimated_tokens) > budget
    {
        return Err(LimitProblem::TokenBudget {
            budget,
            used: f.used_tokens,
            estimate: f.estimated_tokens,
        });
    }
    Ok(())
}

/// Most job uids remembered per namespace and month; beyond it the oldest are forgotten (a
/// forgotten job can only be counted twice, never not at all: the budget errs on the safe side).
pub const MAX_ACCOUNTED_JOBS: usize = 5000;

/// A finished job's billed tokens, for accounting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BilledJob {
    pub uid: String,
    pub namespace: String,
    /// `YYYY-MM` of the job's end (UTC).
    pub month: String,
    pub trained_tokens: u64,
}

/// `YYYY-MM` of the month before `month` (`YYYY-MM`), or None when it does not parse.
pub fn previous_month(month: &str) -> Option<String> {
    let (y, m) = month.split_once('-')?;
    let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
    if !(1..=12).contains(&m) {
        return None;
    }
    Some(if m == 1 {
        format!("{:04}-12", y.checked_sub(1)?)
    } else {
        format!("{y:04}-{:02}", m - 1)
    })
}

/// Adds jobs not yet counted to `usage` and drops months older than the previous one. Returns
/// whether anything changed. Deleting a job never gives its tokens back.
pub fn account(usage: &mut Vec<NamespaceUsage>, jobs: &[BilledJob], current_month: &str) -> bool {
    let keep: BTreeSet<String> = std::iter::once(current_month.to_string())
        .chain(previous_month(current_month))
        .collect();
    let before = usage.len();
    usage.retain(|u| keep.contains(&u.month));
    let mut changed = usage.len() != before;
    for j in jobs.iter().filter(|j| keep.contains(&j.month)) {
        let idx = match usage
            .iter()
            .position(|u| u.namespace == j.namespace && u.month == j.month)
        {
            Some(i) => i,
            None => {
                usage.push(NamespaceUsage {
                    namespace: j.namespace.clone(),
                    month: j.month.clone(),
                    ..Default::default()
                });
                usage.len() - 1
            }
        };
        let Some(entry) = usage.get_mut(idx) else {
            continue;
        };
        if entry.accounted_jobs.contains(&j.uid) {
            continue;
        }
        entry.trained_tokens = entry.trained_tokens.saturating_add(j.trained_tokens);
        entry.accounted_jobs.push(j.uid.clone());
        if entry.accounted_jobs.len() > MAX_ACCOUNTED_JOBS {
            let excess = entry.accounted_jobs.len() - MAX_ACCOUNTED_JOBS;
            entry.accounted_jobs.drain(..excess);
        }
        changed = true;
    }
    usage.sort_by(|a, b| (&a.namespace, &a.month).cmp(&(&b.namespace, &b.month)));
    changed
}

/// Trained tokens a namespace used in a month.
pub fn used_tokens(usage: &[NamespaceUsage], namespace: &str, month: &str) -> u64 {
    usage
        .iter()
        .filter(|u| u.namespace == namespace && u.month == month)
        .map(|u| u.trained_tokens)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_spec(y: &str) -> FineTuneJobSpec {
        let base = "{trainingDatasetRef: {name: d}, providerRef: {kind: ProviderConfig, name: p}, model: m}";
        let mut v: serde_json::Value = serde_yaml::from_str(base).expect("spec fixture");
        let extra: serde_json::Value = serde_yaml::from_str(y).expect("spec fixture");
        if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
        serde_json::from_value(v).expect("spec")
    }

    #[test]
    fn retention_beyond_the_config_is_refused_then_overridden() {
        let strict = RetentionPolicy::default();
        let lenient = RetentionPolicy {
            allow_retained_files: true,
            allow_orphan: true,
        };
        let keep = job_spec("{retention: {trainingFiles: Retain}, deletionPolicy: Orphan}");
        assert_eq!(retention_excess(&keep, &strict).len(), 2);
        assert!(retention_excess(&keep, &lenient).is_empty());
        let governed = governed_spec(&keep, &strict);
        assert_eq!(
            governed.retention.training_files,
            FileRetention::DeleteWhenFinished
        );
        assert_eq!(governed.deletion_policy, DeletionPolicy::Delete);
        assert_eq!(governed_spec(&keep, &lenient), keep);
        // What the config allows by default passes unchanged.
        for y in [
            "{}",
            "{retention: {trainingFiles: DeleteWithResource, model: DeleteWithResource}}",
            "{retention: {model: Retain}}",
        ] {
            let spec = job_spec(y);
            assert!(retention_excess(&spec, &strict).is_empty(), "{y}");
            assert_eq!(governed_spec(&spec, &strict), spec, "{y}");
        }
        // Only one of the two allowed.
        let files_only = RetentionPolicy {
            allow_retained_files: true,
            allow_orphan: false,
        };
        assert_eq!(
            retention_excess(&keep, &files_only),
            vec!["deletionPolicy: Orphan (the config's retention.allowOrphan is false)"]
        );
    }

    fn labels(y: &str) -> BTreeMap<String, String> {
        serde_yaml::from_str(y).expect("labels fixture")
    }

    fn selector(y: &str) -> LabelSelector {
        serde_yaml::from_str(y).expect("selector fixture")
    }

    #[test]
    fn selectors_follow_kubernetes_semantics() {
        let team = labels("{team: a, env: prod}");
        let cases = [
            ("{}", true),
            ("{matchLabels: {team: a}}", true),
            ("{matchLabels: {team: b}}", false),
            ("{matchLabels: {team: a, tier: x}}", false),
            (
                "{matchExpressions: [{key: env, operator: In, values: [prod, stage]}]}",
                true,
            ),
            (
                "{matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}",
                false,
            ),
            (
                "{matchExpressions: [{key: missing, operator: NotIn, values: [x]}]}",
                true,
            ),
            ("{matchExpressions: [{key: team, operator: Exists}]}", true),
            (
                "{matchExpressions: [{key: team, operator: DoesNotExist}]}",
                false,
            ),
            (
                "{matchLabels: {team: a}, matchExpressions: [{key: env, operator: In, values: [dev]}]}",
                false,
            ),
        ];
        for (sel, want) in cases {
            assert_eq!(
                selector_matches(Some(&selector(sel)), &team),
                Ok(want),
                "{sel}"
            );
        }
        // No selector: nobody.
        assert_eq!(selector_matches(None, &team), Ok(false));
    }

    #[test]
    fn invalid_selectors_select_nothing_and_say_why() {
        for sel in [
            "{matchExpressions: [{key: a, operator: In}]}",
            "{matchExpressions: [{key: a, operator: Exists, values: [x]}]}",
            "{matchExpressions: [{key: a, operator: Gt, values: ['1']}]}",
            // An invalid requirement after a failed matchLabels is still reported.
            "{matchLabels: {x: y}, matchExpressions: [{key: a, operator: Like, values: [b]}]}",
        ] {
            let s = selector(sel);
            assert!(
                selector_matches(Some(&s), &labels("{a: b}")).is_err(),
                "{sel}"
            );
            assert!(validate_selector(&s).is_err(), "{sel}");
        }
    }

    #[test]
    fn model_patterns() {
        let p = vec![
            "gpt-4.1-mini-*".to_string(),
            "gpt-4o-mini-2024-07-18".to_string(),
        ];
        assert!(model_allowed(&p, "gpt-4.1-mini-2025-04-14"));
        assert!(model_allowed(&p, "gpt-4o-mini-2024-07-18"));
        assert!(!model_allowed(&p, "gpt-4o-mini-2024-07-18x"));
        assert!(!model_allowed(&p, "gpt-4.1-2025-04-14"));
        assert!(!model_allowed(&p, "xgpt-4.1-mini-1"));
        assert!(model_allowed(&[], "anything"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        // No quadratic blow-up on a hostile pattern.
        let long = "a".repeat(10_000);
        assert!(!glob_match("*a*a*a*a*a*b", &long));
    }

    fn policy(y: &str) -> RedactionPolicy {
        serde_yaml::from_str(y).expect("policy fixture")
    }

    fn floor(y: &str) -> RedactionFloor {
        serde_yaml::from_str(y).expect("floor fixture")
    }

    #[test]
    fn default_floor_refuses_empty_entities_and_pseudonymize() {
        let f = RedactionFloor::default();
        assert!(floor_gaps(&f, &policy("{}")).is_empty());
        assert!(floor_gaps(&f, &policy("{mode: Reject}")).is_empty());
        assert!(floor_gaps(&f, &policy("{mode: DropExample}")).is_empty());
        let g = floor_gaps(&f, &policy("{entities: []}"));
        assert_eq!(g.missing_entities, EntityType::ALL.to_vec());
        let described = g.describe(&f);
        assert!(
            described.starts_with(
                "entities not enabled: EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE"
            ),
            "{described}"
        );
        for e in EntityType::ALL {
            assert!(described.contains(e.as_str()), "{described} lacks {e:?}");
        }
        let g = floor_gaps(&f, &policy("{mode: Pseudonymize}"));
        assert_eq!(g.mode_not_allowed, Some(RedactionMode::Pseudonymize));
        assert_eq!(
            g.describe(&f),
            "mode Pseudonymize not allowed (allowed: Mask, DropExample, Reject)"
        );
    }

    #[test]
    fn floor_names_only_what_is_missing() {
        let f = floor("{entities: [EMAIL_ADDRESS, SECRET], modes: [Mask, Pseudonymize]}");
        let g = floor_gaps(
            &f,
            &policy("{mode: Pseudonymize, entities: [EMAIL_ADDRESS, PHONE_NUMBER]}"),
        );
        assert_eq!(g.missing_entities, vec![EntityType::Secret]);
        assert_eq!(g.mode_not_allowed, None);
        assert_eq!(g.describe(&f), "entities not enabled: SECRET");
        // An explicit empty floor requires nothing.
        assert!(floor_gaps(&floor("{entities: []}"), &policy("{entities: []}")).is_empty());
    }

    #[test]
    fn custom_patterns_replace_builtins_only_when_the_floor_allows() {
        let p = policy(
            "{entities: [PHONE_NUMBER], customPatterns: [{name: EMAIL_ADDRESS, regex: 'zzz@zzz'}]}",
        );
        let strict = floor("{entities: [EMAIL_ADDRESS, PHONE_NUMBER]}");
        assert_eq!(
            floor_gaps(&strict, &p).missing_entities,
            vec![EntityType::EmailAddress]
        );
        let lax = floor(
            "{entities: [EMAIL_ADDRESS, PHONE_NUMBER], allowCustomPatternsToReplaceBuiltins: true}",
        );
        assert!(floor_gaps(&lax, &p).is_empty());
    }

    fn limits(y: &str) -> ProviderLimits {
        serde_yaml::from_str(y).expect("limits fixture")
    }

    #[test]
    fn limits_refuse_at_the_bound_not_before() {
        let l = limits(
            "{concurrentJobsPerNamespace: 2, maxUploadBytes: 1000, trainedTokensPerNamespacePerMonth: 500}",
        );
        let ok = LimitFacts {
            active_jobs: 1,
            uploads: vec![("training", 1000), ("validation", 10)],
            used_tokens: 400,
            estimated_tokens: 100,
        };
        assert_eq!(check_limits(&l, &ok), Ok(()));
        let busy = LimitFacts {
            active_jobs: 2,
            ..ok.clone()
        };
        let e = check_limits(&l, &busy).unwrap_err();
        assert_eq!(e.reason(), Reason::ConcurrentJobLimitReached);
        assert!(e.transient());
        let big = LimitFacts {
            uploads: vec![("training", 1001)],
            ..ok.clone()
        };
        let e = check_limits(&l, &big).unwrap_err();
        assert_eq!(e.reason(), Reason::UploadTooLarge);
        assert!(!e.transient());
        let spent = LimitFacts {
            estimated_tokens: 101,
            ..ok.clone()
        };
        assert_eq!(
            check_limits(&l, &spent).unwrap_err().reason(),
            Reason::TrainedTokenBudgetExceeded
        );
        let huge = LimitFacts {
            used_tokens: u64::MAX,
            estimated_tokens: u64::MAX,
            ..ok
        };
        assert!(check_limits(&l, &huge).is_err());
        assert_eq!(check_limits(&ProviderLimits::default(), &huge), Ok(()));
    }

    fn billed(uid: &str, ns: &str, month: &str, t: u64) -> BilledJob {
        BilledJob {
            uid: uid.into(),
            namespace: ns.into(),
            month: month.into(),
            trained_tokens: t,
        }
    }

    #[test]
    fn accounting_counts_each_job_once_and_deleting_it_gives_nothing_back() {
        let mut u = Vec::new();
        let jobs = vec![
            billed("j1", "a", "2026-12", 100),
            billed("j2", "a", "2026-12", 50),
            billed("j3", "b", "2026-11", 7),
            billed("old", "a", "2026-09", 1000),
        ];
        assert!(account(&mut u, &jobs, "2026-12"));
        assert!(
            !account(&mut u, &jobs, "2026-12"),
            "a second pass adds nothing"
        );
        assert_eq!(used_tokens(&u, "a", "2026-12"), 150);
        assert_eq!(used_tokens(&u, "b", "2026-11"), 7);
        assert_eq!(
            used_tokens(&u, "a", "2026-09"),
            0,
            "only this and last month"
        );
        // j1 deleted, j4 finished: 150 + 20.
        assert!(account(
            &mut u,
            &[billed("j4", "a", "2026-12", 20)],
            "2026-12"
        ));
        assert_eq!(used_tokens(&u, "a", "2026-12"), 170);
        // A new year drops November.
        assert!(account(&mut u, &[], "2027-01"));
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].month, "2026-12");
    }

    #[test]
    fn accounting_memory_is_bounded() {
        let mut u = Vec::new();
        let jobs: Vec<BilledJob> = (0..MAX_ACCOUNTED_JOBS + 10)
            .map(|i| billed(&format!("j{i}"), "a", "2026-12", 1))
            .collect();
        account(&mut u, &jobs, "2026-12");
        assert_eq!(u[0].accounted_jobs.len(), MAX_ACCOUNTED_JOBS);
        assert_eq!(u[0].trained_tokens, (MAX_ACCOUNTED_JOBS + 10) as u64);
    }

    #[test]
    fn previous_months() {
        assert_eq!(previous_month("2027-01").as_deref(), Some("2026-12"));
        assert_eq!(previous_month("2026-10").as_deref(), Some("2026-09"));
        assert_eq!(previous_month("2026-13"), None);
        assert_eq!(previous_month("x"), None);
    }
}
