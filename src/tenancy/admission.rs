//! May this FineTuneJob send data through the config it names? Resolution (config exists, Ready,
//! endpoint allowed, credentials resolve, namespace selected) does I/O against the API server;
//! the policy part (model, redaction floor, limits) is pure. Either refuses with a condition
//! reason and a message that names objects and rules, never data. Nothing here talks to a
//! provider: a refused job makes no remote call at all.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::{Client, Resource, ResourceExt};

use super::endpoints::effective_endpoint;
use super::policy::{self, LimitFacts, LimitProblem};
use super::reconcile::{
    CredentialsFound, Refusal, TenancySettings, credentials_place, month_of, namespace_labels,
    read_credentials, readiness, uses_default_chain,
};
use tunegate_api::conditions::{self, Reason, types};
use tunegate_api::{
    AutoOr, ClusterProviderConfig, FineTuneJob, FineTuneJobSpec, LedgerState, ProviderConfig,
    ProviderConfigKind, ProviderConfigRef, ProviderConfigStatus, ProviderSettings, RemoteKind,
    TrainingDataset,
};

/// A config resolved for one job: its settings, the effective endpoint and the API key. The key
/// is only ever handed to the provider client.
#[derive(Clone)]
pub struct Resolved {
    pub kind: ProviderConfigKind,
    pub name: String,
    pub settings: ProviderSettings,
    pub endpoint: String,
    pub api_key: String,
    pub status: ProviderConfigStatus,
    pub deleting: bool,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// What the resolution is for. Cleanup (cancel, delete) must keep working when a config stopped
/// admitting new work (namespace deselected, being deleted, status stale): deleting data is
/// always allowed; only the endpoint and the credentials must still hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    NewWork,
    Cleanup,
}

fn label(kind: ProviderConfigKind, name: &str) -> String {
    format!("{} {name}", kind.as_str())
}

/// Resolves the config a job names, or refuses.
pub async fn resolve(
    client: &Client,
    tenancy: &TenancySettings,
    job_ns: &str,
    r: &ProviderConfigRef,
    purpose: Purpose,
) -> Result<Result<Resolved, Refusal>, kube::Error> {
    let what = label(r.kind, &r.name);
    let (settings, status, generation, deleting, selector) = match r.kind {
        ProviderConfigKind::ClusterProviderConfig => {
            if tenancy.single_namespace {
                return Ok(Err(Refusal::new(
                    Reason::ClusterProviderConfigUnavailable,
                    "the operator watches one namespace and serves only namespaced ProviderConfigs",
                )));
            }
            let api: Api<ClusterProviderConfig> = Api::all(client.clone());
            let Some(c) = api.get_opt(&r.name).await? else {
                return Ok(Err(Refusal::new(
                    Reason::ProviderConfigNotFound,
                    format!("{what} not found"),
                )));
            };
            (
                c.spec.settings(),
                c.status.clone().unwrap_or_default(),
                c.meta().generation,
                c.meta().deletion_timestamp.is_some(),
                Some(c.spec.namespace_selector.clone()),
            )
        }
        ProviderConfigKind::ProviderConfig => {
            let api: Api<ProviderConfig> = Api::namespaced(client.clone(), job_ns);
            let Some(c) = api.get_opt(&r.name).await? else {
                return Ok(Err(Refusal::new(
                    Reason::ProviderConfigNotFound,
                    format!("{what} not found in namespace {job_ns}"),
                )));
            };
            (
                c.spec.settings(),
                c.status.clone().unwrap_or_default(),
                c.meta().generation,
                c.meta().deletion_timestamp.is_some(),
                None,
            )
        }
    };
    if purpose == Purpose::NewWork {
        if deleting {
            return Ok(Err(Refusal::new(
                Reason::ProviderConfigDeleting,
                format!("{what} is being deleted and takes no new work"),
            )));
        }
        let ready = conditions::find(&status.conditions, types::READY);
        let current = ready.is_some_and(|c| c.observed_generation == generation);
        match ready {
            Some(c) if c.status == "True" && current => {}
            Some(c) if current => {
                return Ok(Err(Refusal::new(
                    Reason::ProviderConfigNotReady,
                    format!("{what} is not Ready ({}: {})", c.reason, c.message),
                )));
            }
            _ => {
                return Ok(Err(Refusal::new(
                    Reason::ProviderConfigNotReady,
                    format!("{what} has not been checked yet"),
                )));
            }
        }
        if let Some(selector) = &selector {
            let labels = namespace_labels(client, job_ns).await?.unwrap_or_default();
            match policy::selector_matches(selector.as_ref(), &labels) {
                Ok(true) => {}
                Ok(false) => {
                    return Ok(Err(Refusal::new(
                        Reason::NamespaceNotAllowed,
                        format!("{what} does not select namespace {job_ns}"),
                    )));
                }
                Err(e) => {
                    return Ok(Err(Refusal::new(
                        Reason::NamespaceNotAllowed,
                        e.to_string(),
                    )));
                }
            }
        }
    }
    // Checked again live, never trusted from status: the allow-list, the Secret and its label.
    let place = match credentials_place(r.kind, Some(job_ns), tenancy) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let (found, key) = read_credentials(client, &place, &settings).await?;
    if let Err(e) = readiness(&settings, None, &tenancy.endpoints, &place, &found) {
        return Ok(Err(e));
    }
    // A Bedrock ClusterProviderConfig without credentials: the SDK's default chain, passed on
    // as an empty key (readiness refused this for the namespaced kind).
    let key = if uses_default_chain(&settings) {
        Some(String::new())
    } else {
        key
    };
    let found = if uses_default_chain(&settings) {
        CredentialsFound::Present {
            labelled: false,
            key_present: false,
        }
    } else {
        found
    };
    let (Some(api_key), CredentialsFound::Present { .. }) = (key, found) else {
        return Ok(Err(Refusal::new(
            Reason::CredentialsNotFound,
            format!("{what}: credentials do not resolve"),
        )));
    };
    let endpoint = match effective_endpoint(
        settings.type_,
        settings.endpoint.as_deref(),
        settings.bedrock.as_ref().map(|b| b.region.as_str()),
    ) {
        Ok(e) => e,
        Err(e) => return Ok(Err(Refusal::new(Reason::EndpointNotAllowed, e.to_string()))),
    };
    Ok(Ok(Resolved {
        kind: r.kind,
        name: r.name.clone(),
        settings,
        endpoint,
        api_key,
        status,
        deleting,
    }))
}

/// The part of a job's admission that needs no I/O: model, redaction floor, limits.
pub fn admit(
    resolved: &Resolved,
    job: &FineTuneJobSpec,
    job_ns: &str,
    datasets: &[(&'static str, &TrainingDataset)],
    active_jobs: u32,
    now: Timestamp,
) -> Result<(), Refusal> {
    let what = label(resolved.kind, &resolved.name);
    let s = &resolved.settings;
    if !policy::model_allowed(&s.allowed_models, &job.model) {
        return Err(Refusal::new(
            Reason::ModelNotAllowed,
            format!(
                "{what} does not allow model {} (allowed: {})",
                job.model,
                s.allowed_models.join(", ")
            ),
        ));
    }
    let excess = policy::retention_excess(job, &s.retention);
    if !excess.is_empty() {
        return Err(Refusal::new(
            Reason::RetentionNotAllowed,
            format!(
                "{what} does not allow jobs to leave objects at the provider: {}",
                excess.join("; ")
            ),
        ));
    }
    for (role, ds) in datasets {
        let gaps = policy::floor_gaps(&s.redaction_floor, &ds.spec.redaction);
        if !gaps.is_empty() {
            return Err(Refusal::new(
                Reason::RedactionBelowFloor,
                format!(
                    "{role} dataset {} is below the redaction floor of {what}: {}",
                    ds.name_any(),
                    gaps.describe(&s.redaction_floor)
                ),
            ));
        }
    }
    let uploads = datasets
        .iter()
        .map(|(role, ds)| {
            (
                *role,
                ds.status
                    .as_ref()
                    .and_then(|st| st.redacted_bytes)
                    .unwrap_or(0),
            )
        })
        .collect();
    let per_epoch = datasets
        .iter()
        .find(|(role, _)| *role == "training")
        .and_then(|(_, ds)| ds.status.as_ref().and_then(|st| st.estimated_tokens))
        .unwrap_or(0);
    let epochs = match job.method.hyperparameters.as_ref().and_then(|h| h.n_epochs) {
        Some(AutoOr::Value(n)) => u64::from(n),
        _ => 1,
    };
    let facts = LimitFacts {
        active_jobs,
        uploads,
        used_tokens: policy::used_tokens(&resolved.status.usage, job_ns, &month_of(now)),
        estimated_tokens: per_epoch.saturating_mul(epochs),
    };
    policy::check_limits(&s.limits, &facts)
        .map_err(|e: LimitProblem| Refusal::new(e.reason(), format!("{what}: {e}")))
}

/// Whether a job holds a slot of its config's concurrency limit: it has uploaded or created
/// something that is not finished yet.
pub fn holds_slot(job: &FineTuneJob) -> bool {
    let Some(st) = &job.status else { return false };
    let job_running = st
        .ledger
        .iter()
        .any(|e| e.kind == RemoteKind::Job && e.state == LedgerState::Running);
    let has_job = st.ledger.iter().any(|e| e.kind == RemoteKind::Job);
    let files_live = st
        .ledger
        .iter()
        .any(|e| e.kind == RemoteKind::File && e.state == LedgerState::Present);
    job_running || (!has_job && files_live)
}

type SlotKey = (ProviderConfigKind, String, String);

/// Jobs admitted in this process and not finished yet, per (config, namespace). The job cache can
/// lag a status write by a moment; without this, two jobs reconciled at once could both see a
/// free slot. Entries leave when the job finishes or is deleted, so the map holds at most the
/// jobs in flight.
#[derive(Default)]
pub struct Slots(Mutex<BTreeMap<SlotKey, BTreeSet<String>>>);

impl Slots {
    /// Counts the other jobs holding a slot and, if `limit` allows, takes one for `uid`.
    /// Returns the count of others.
    pub fn acquire(
        &self,
        jobs: &[Arc<FineTuneJob>],
        r: &ProviderConfigRef,
        ns: &str,
        uid: &str,
        limit: Option<u32>,
    ) -> u32 {
        let key = (r.kind, r.name.clone(), ns.to_string());
        let mut holders: BTreeSet<String> = jobs
            .iter()
            .filter(|j| j.namespace().as_deref() == Some(ns))
            .filter(|j| &j.spec.provider_ref == r)
            .filter(|j| holds_slot(j))
            .filter_map(|j| j.uid())
            .collect();
        let Ok(mut map) = self.0.lock() else {
            return u32::try_from(holders.len()).unwrap_or(u32::MAX);
        };
        let reserved = map.entry(key).or_default();
        holders.extend(reserved.iter().cloned());
        holders.remove(uid);
        let others = u32::try_from(holders.len()).unwrap_or(u32::MAX);
        if limit.is_none_or(|l| others < l) {
            reserved.insert(uid.to_string());
        }
        others
    }

    /// Frees the slot of a finished or deleted job.
    pub fn release(&self, uid: &str) {
        if let Ok(mut map) = self.0.lock() {
            for set in map.values_mut() {
                set.remove(uid);
            }
            map.retain(|_, s| !s.is_empty());
        }
    }

    pub fn len(&self) -> usize {
        self.0
            .lock()
            .map(|m| m.values().map(BTreeSet::len).sum())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(spec: &str) -> Resolved {
        let c: ClusterProviderConfig = serde_yaml::from_str(&format!(
            "apiVersion: tunegate.dev/v1alpha1\nkind: ClusterProviderConfig\nmetadata: {{name: shared}}\nspec:\n{spec}"
        ))
        .expect("config fixture");
        Resolved {
            kind: ProviderConfigKind::ClusterProviderConfig,
            name: "shared".into(),
            settings: c.spec.settings(),
            endpoint: "https://api.openai.com/v1".into(),
            api_key: "sk-test".into(),
            status: c.status.unwrap_or_default(),
            deleting: false,
        }
    }

    fn dataset(redaction: &str, bytes: u64, tokens: u64) -> TrainingDataset {
        serde_yaml::from_str(&format!(
            r#"
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: chats, namespace: team-a}}
spec:
  sources: [{{secret: {{name: s, key: k}}}}]
  redaction: {redaction}
status: {{redactedBytes: {bytes}, estimatedTokens: {tokens}}}
"#
        ))
        .expect("dataset fixture")
    }

    fn job(extra: &str) -> FineTuneJobSpec {
        serde_yaml::from_str(&format!(
            "trainingDatasetRef: {{name: chats}}\nmodel: gpt-4o-mini-2024-07-18\nproviderRef: {{name: shared}}\n{extra}"
        ))
        .expect("job fixture")
    }

    fn now() -> Timestamp {
        "2026-12-01T12:00:00Z".parse().expect("ts")
    }

    const BASE: &str = "  type: OpenAI\n  credentials: {secretRef: {name: k, key: k}}\n";

    #[test]
    fn default_config_admits_a_fully_redacted_dataset() {
        let r = resolved(BASE);
        let ds = dataset("{}", 100, 10);
        assert_eq!(
            admit(&r, &job(""), "team-a", &[("training", &ds)], 0, now()),
            Ok(())
        );
    }

    #[test]
    fn empty_entities_are_below_the_default_floor() {
        let r = resolved(BASE);
        let ds = dataset("{entities: []}", 100, 10);
        let e = admit(&r, &job(""), "team-a", &[("training", &ds)], 0, now()).unwrap_err();
        assert_eq!(e.reason, Reason::RedactionBelowFloor);
        assert!(e.message.starts_with("training dataset chats is below the redaction floor of ClusterProviderConfig shared: entities not enabled: EMAIL_ADDRESS"), "{}", e.message);
    }

    #[test]
    fn models_outside_the_patterns_are_refused() {
        let r = resolved(&format!("{BASE}  allowedModels: ['gpt-4.1-mini-*']\n"));
        let ds = dataset("{}", 100, 10);
        let e = admit(&r, &job(""), "team-a", &[("training", &ds)], 0, now()).unwrap_err();
        assert_eq!(e.reason, Reason::ModelNotAllowed);
        let ok = job("")
            .model
            .replace("gpt-4o-mini-2024-07-18", "gpt-4.1-mini-2025-04-14");
        let mut j = job("");
        j.model = ok;
        assert_eq!(
            admit(&r, &j, "team-a", &[("training", &ds)], 0, now()),
            Ok(())
        );
    }

    #[test]
    fn limits_use_dataset_status_and_config_usage() {
        let r = resolved(&format!(
            "{BASE}  limits: {{maxUploadBytes: 1000, concurrentJobsPerNamespace: 1, trainedTokensPerNamespacePerMonth: 1000}}\nstatus:\n  usage: [{{namespace: team-a, month: '2026-12', trainedTokens: 900}}, {{namespace: team-b, month: '2026-12', trainedTokens: 5000}}]\n"
        ));
        let small = dataset("{}", 1000, 50);
        let run = |ds: &TrainingDataset, j: &FineTuneJobSpec, active: u32| {
            admit(&r, j, "team-a", &[("training", ds)], active, now()).map_err(|e| e.reason)
        };
        assert_eq!(run(&small, &job(""), 0), Ok(()));
        assert_eq!(
            run(&small, &job(""), 1),
            Err(Reason::ConcurrentJobLimitReached)
        );
        assert_eq!(
            run(&dataset("{}", 1001, 50), &job(""), 0),
            Err(Reason::UploadTooLarge)
        );
        // 900 used + 50 tokens x 3 explicit epochs > 1000.
        let three = job("method: {hyperparameters: {nEpochs: 3}}");
        assert_eq!(
            run(&small, &three, 0),
            Err(Reason::TrainedTokenBudgetExceeded)
        );
        // team-b's usage is not team-a's.
        assert_eq!(
            admit(&r, &job(""), "team-c", &[("training", &small)], 0, now()),
            Ok(())
        );
    }

    fn live_job(name: &str, ns: &str, reff: &str, ledger: &str) -> Arc<FineTuneJob> {
        Arc::new(
            serde_yaml::from_str(&format!(
                "apiVersion: tunegate.dev/v1alpha1\nkind: FineTuneJob\nmetadata: {{name: {name}, namespace: {ns}, uid: {name}}}\nspec:\n  trainingDatasetRef: {{name: d}}\n  model: m\n  providerRef: {reff}\nstatus: {{ledger: {ledger}}}\n"
            ))
            .expect("job fixture"),
        )
    }

    #[test]
    fn slots_count_store_and_reservations_and_are_released() {
        let r = ProviderConfigRef {
            kind: ProviderConfigKind::ClusterProviderConfig,
            name: "shared".into(),
        };
        let jobs = vec![
            live_job(
                "running",
                "a",
                "{name: shared}",
                "[{kind: Job, id: j, state: Running}]",
            ),
            live_job(
                "done",
                "a",
                "{name: shared}",
                "[{kind: Job, id: j, state: Succeeded}]",
            ),
            live_job(
                "uploaded",
                "a",
                "{name: shared}",
                "[{kind: File, id: f, state: Present}]",
            ),
            live_job(
                "other-ns",
                "b",
                "{name: shared}",
                "[{kind: Job, id: j, state: Running}]",
            ),
            live_job(
                "other-cfg",
                "a",
                "{name: x}",
                "[{kind: Job, id: j, state: Running}]",
            ),
        ];
        let slots = Slots::default();
        assert_eq!(slots.acquire(&jobs, &r, "a", "new-1", Some(3)), 2);
        // new-1 is now reserved: a second newcomer sees three and gets no slot.
        assert_eq!(slots.acquire(&jobs, &r, "a", "new-2", Some(3)), 3);
        assert_eq!(slots.len(), 1);
        // Re-acquiring for the same uid does not count itself.
        assert_eq!(slots.acquire(&jobs, &r, "a", "new-1", Some(3)), 2);
        slots.release("new-1");
        assert!(slots.is_empty());
        assert_eq!(slots.acquire(&jobs, &r, "a", "new-2", Some(3)), 2);
    }
}
