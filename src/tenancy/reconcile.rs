//! The ClusterProviderConfig / ProviderConfig reconciler: `Ready` when the endpoint is allowed and
//! the credentials resolve; usage accounting; a finalizer that keeps a config while jobs using it
//! still have remote objects.
//!
//! No probe call: Ready says the config is usable as far as the cluster can tell (endpoint allowed,
//! Secret present, opted in, key non-empty). A read-only call to the provider on every reconcile
//! would send the key out on a timer and make a config's readiness depend on the provider's
//! availability; a wrong key shows on the first job instead, as that job's condition.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};

use super::endpoints::{EndpointPolicy, effective_endpoint};
use super::policy::{self, BilledJob};
use crate::controller::finetune::plan;
use crate::source;
use tunegate_api::conditions::{ConditionUpdate, Reason, set_condition, types};
use tunegate_api::{
    CONFIG_FINALIZER, CREDENTIALS_LABEL, ClusterProviderConfig, FineTuneJob, ProviderConfig,
    ProviderConfigKind, ProviderConfigRef, ProviderConfigStatus, ProviderSettings, ProviderType,
};

/// Operator-level tenancy settings (flags and Helm values).
#[derive(Clone, Debug, Default)]
pub struct TenancySettings {
    /// Which endpoints any config may name.
    pub endpoints: EndpointPolicy,
    /// Where ClusterProviderConfig credentials live (the operator's own namespace).
    pub operator_namespace: Option<String>,
    /// The operator watches one namespace: ClusterProviderConfigs are not served.
    pub single_namespace: bool,
}

/// What the reconciler needs.
pub struct ConfigContext {
    pub client: Client,
    pub jobs: Store<FineTuneJob>,
    pub settings: Arc<TenancySettings>,
}

/// Errors a reconcile returns (retried with backoff). No secrets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("object has no {0}")]
    MissingField(&'static str),
}

/// Where a config's credentials must be, and whether they must carry the opt-in label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialsPlace {
    pub namespace: String,
    pub must_be_labelled: bool,
}

/// What was found at the credentials reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialsFound {
    Missing,
    Present { labelled: bool, key_present: bool },
}

/// A reason a config is not usable (or a job may not use it). `reason` is CamelCase; `message`
/// names objects, hosts and rules, never values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub message: String,
}

impl Refusal {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// The namespace and label rule for a config's credentials.
pub fn credentials_place(
    kind: ProviderConfigKind,
    config_namespace: Option<&str>,
    settings: &TenancySettings,
) -> Result<CredentialsPlace, Refusal> {
    match kind {
        ProviderConfigKind::ClusterProviderConfig => settings
            .operator_namespace
            .clone()
            .map(|namespace| CredentialsPlace {
                namespace,
                must_be_labelled: false,
            })
            .ok_or_else(|| {
                Refusal::new(Reason::OperatorNamespaceUnknown,
                    "the operator does not know its own namespace (--operator-namespace or POD_NAMESPACE), where ClusterProviderConfig credentials live",
                )
            }),
        ProviderConfigKind::ProviderConfig => config_namespace
            .map(|ns| CredentialsPlace {
                namespace: ns.to_string(),
                must_be_labelled: true,
            })
            .ok_or_else(|| Refusal::new(Reason::InvalidConfig, "ProviderConfig has no namespace")),
    }
}

/// Pure readiness: endpoint, provider support, selector, credentials, in that order.
pub fn readiness(
    settings: &ProviderSettings,
    selector_error: Option<&policy::SelectorError>,
    endpoints: &EndpointPolicy,
    place: &CredentialsPlace,
    found: &CredentialsFound,
) -> Result<(), Refusal> {
    let endpoint = effective_endpoint(
        settings.type_,
        settings.endpoint.as_deref(),
        settings.bedrock.as_ref().map(|b| b.region.as_str()),
    )
    .map_err(|e| Refusal::new(Reason::EndpointNotAllowed, e.to_string()))?;
    endpoints
        .check(&endpoint)
        .map_err(|e| Refusal::new(Reason::EndpointNotAllowed, e.to_string()))?;
    if let Some(e) = selector_error {
        return Err(Refusal::new(
            Reason::InvalidNamespaceSelector,
            e.to_string(),
        ));
    }
    if uses_default_chain(settings) {
        // The SDK's default chain is the operator's own AWS identity (IRSA, EKS Pod Identity,
        // instance role): an admin may lend it through a ClusterProviderConfig, a namespace
        // owner may not take it through a ProviderConfig.
        return if place.must_be_labelled {
            Err(Refusal::new(
                Reason::DefaultCredentialsNotAllowed,
                "a namespaced Bedrock ProviderConfig needs credentials: without them the operator's own AWS identity would be used, which only a ClusterProviderConfig may do",
            ))
        } else {
            Ok(())
        };
    }
    let Some(creds) = &settings.credentials else {
        return Err(Refusal::new(
            Reason::CredentialsNotFound,
            format!("{} needs credentials", settings.type_.as_str()),
        ));
    };
    let r = &creds.secret_ref;
    match found {
        CredentialsFound::Missing => Err(Refusal::new(
            Reason::CredentialsNotFound,
            format!("Secret {}/{} not found", place.namespace, r.name),
        )),
        CredentialsFound::Present {
            labelled: false, ..
        } if place.must_be_labelled => Err(Refusal::new(
            Reason::CredentialsNotOptedIn,
            format!(
                "Secret {}/{} lacks the label {CREDENTIALS_LABEL}=\"true\"",
                place.namespace, r.name
            ),
        )),
        CredentialsFound::Present {
            key_present: false, ..
        } => Err(Refusal::new(
            Reason::CredentialsNotFound,
            format!(
                "Secret {}/{} has no non-empty key {}",
                place.namespace, r.name, r.key
            ),
        )),
        CredentialsFound::Present { .. } => Ok(()),
    }
}

/// A Bedrock config without credentials: the AWS SDK's default chain (environment, IRSA web
/// identity, EKS Pod Identity, instance profile) of the operator's pod.
pub fn uses_default_chain(settings: &ProviderSettings) -> bool {
    settings.type_ == ProviderType::Bedrock && settings.credentials.is_none()
}

/// The API key of a config, read from its Secret after the label check. None when the Secret
/// is missing, not opted in (for the namespaced kind), or the key is missing or empty.
pub async fn read_credentials(
    client: &Client,
    place: &CredentialsPlace,
    settings: &ProviderSettings,
) -> Result<(CredentialsFound, Option<String>), kube::Error> {
    let Some(creds) = &settings.credentials else {
        return Ok((CredentialsFound::Missing, None));
    };
    let api: Api<Secret> = Api::namespaced(client.clone(), &place.namespace);
    let Some(secret) = api.get_opt(&creds.secret_ref.name).await? else {
        return Ok((CredentialsFound::Missing, None));
    };
    let labelled = secret
        .labels()
        .get(CREDENTIALS_LABEL)
        .is_some_and(|v| v == "true");
    if place.must_be_labelled && !labelled {
        // Not opted in: the value is never looked at.
        return Ok((
            CredentialsFound::Present {
                labelled,
                key_present: false,
            },
            None,
        ));
    }
    let key = source::secret_key_bytes(&secret, &creds.secret_ref.key)
        .and_then(|k| String::from_utf8(k).ok())
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    Ok((
        CredentialsFound::Present {
            labelled,
            key_present: key.is_some(),
        },
        key,
    ))
}

/// The config a job names, as a reflector key for the config controllers.
pub fn config_ref_of(job: &FineTuneJob) -> Option<&ProviderConfigRef> {
    Some(&job.spec.provider_ref)
}

fn job_uses(job: &FineTuneJob, kind: ProviderConfigKind, name: &str, ns: Option<&str>) -> bool {
    config_ref_of(job).is_some_and(|r| {
        r.kind == kind
            && r.name == name
            && match kind {
                ProviderConfigKind::ClusterProviderConfig => true,
                ProviderConfigKind::ProviderConfig => job.namespace().as_deref() == ns,
            }
    })
}

/// `YYYY-MM` (UTC) of a timestamp.
pub fn month_of(t: Timestamp) -> String {
    let d = t.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC).date();
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The jobs using a config: how many still have remote objects, and their billed tokens.
pub fn usage_facts(
    jobs: &[Arc<FineTuneJob>],
    kind: ProviderConfigKind,
    name: &str,
    ns: Option<&str>,
    now: Timestamp,
) -> (u32, Vec<BilledJob>) {
    let mut in_use = 0u32;
    let mut billed = Vec::new();
    for j in jobs.iter().filter(|j| job_uses(j, kind, name, ns)) {
        // Every job that has not finished clean-up holds the config, not only those with live
        // ledger entries: one mid-upload has an empty ledger but is about to need the key. A job
        // refused at admission holds nothing.
        if plan::holds_config(&j.spec, j.status.as_ref()) {
            in_use = in_use.saturating_add(1);
        }
        let Some(status) = &j.status else { continue };
        let remote = status.remote.as_ref();
        if let (Some(tokens), Some(uid), Some(job_ns)) = (
            remote.and_then(|r| r.trained_tokens),
            j.uid(),
            j.namespace(),
        ) {
            let at = remote
                .and_then(|r| r.finished_at.as_ref())
                .map(|t| t.0)
                .unwrap_or(now);
            billed.push(BilledJob {
                uid,
                namespace: job_ns,
                month: month_of(at),
                trained_tokens: tokens,
            });
        }
    }
    (in_use, billed)
}

/// Both config kinds, behind one interface.
trait ConfigObject:
    Resource<DynamicType = ()>
    + Clone
    + std::fmt::Debug
    + serde::de::DeserializeOwned
    + serde::Serialize
    + Send
    + Sync
    + 'static
{
    const KIND: ProviderConfigKind;
    fn settings(&self) -> ProviderSettings;
    fn selector_error(&self) -> Option<policy::SelectorError>;
    fn status(&self) -> Option<&ProviderConfigStatus>;
    fn api(client: &Client, ns: Option<&str>) -> Api<Self>;
}

impl ConfigObject for ClusterProviderConfig {
    const KIND: ProviderConfigKind = ProviderConfigKind::ClusterProviderConfig;
    fn settings(&self) -> ProviderSettings {
        self.spec.settings()
    }
    fn selector_error(&self) -> Option<policy::SelectorError> {
        self.spec
            .namespace_selector
            .as_ref()
            .and_then(|s| policy::validate_selector(s).err())
    }
    fn status(&self) -> Option<&ProviderConfigStatus> {
        self.status.as_ref()
    }
    fn api(client: &Client, _ns: Option<&str>) -> Api<Self> {
        Api::all(client.clone())
    }
}

impl ConfigObject for ProviderConfig {
    const KIND: ProviderConfigKind = ProviderConfigKind::ProviderConfig;
    fn settings(&self) -> ProviderSettings {
        self.spec.settings()
    }
    fn selector_error(&self) -> Option<policy::SelectorError> {
        None
    }
    fn status(&self) -> Option<&ProviderConfigStatus> {
        self.status.as_ref()
    }
    fn api(client: &Client, ns: Option<&str>) -> Api<Self> {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
}

/// Finalizer on a config's credentials Secret while jobs using the config have remote objects or
/// have not finished clean-up: namespace deletion removes Secrets and configs together, and clean-up
/// needs the key to delete the remote copies.
pub const CREDENTIALS_FINALIZER: &str = "tunegate.dev/credentials-in-use";

/// Adds (`hold`) or removes the credentials finalizer on the Secret `name` in `namespace`. A merge
/// patch with a `resourceVersion` precondition, so concurrent writers conflict instead of losing an
/// update; a missing Secret needs nothing.
async fn hold_credentials_secret(
    client: &Client,
    namespace: &str,
    name: &str,
    hold: bool,
) -> Result<(), Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let Some(meta) = api.get_metadata_opt(name).await? else {
        return Ok(());
    };
    let finalizers = meta.metadata.finalizers.clone().unwrap_or_default();
    let has = finalizers.iter().any(|f| f == CREDENTIALS_FINALIZER);
    if has == hold {
        return Ok(());
    }
    let next: Vec<String> = if hold {
        finalizers
            .into_iter()
            .chain(std::iter::once(CREDENTIALS_FINALIZER.to_string()))
            .collect()
    } else {
        finalizers
            .into_iter()
            .filter(|f| f != CREDENTIALS_FINALIZER)
            .collect()
    };
    let patch = serde_json::json!({"metadata": {
        "finalizers": next,
        "resourceVersion": meta.metadata.resource_version,
    }});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

async fn set_finalizers<K: ConfigObject>(
    api: &Api<K>,
    obj: &K,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let name = obj.meta().name.clone().ok_or(Error::MissingField("name"))?;
    let patch = serde_json::json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": obj.meta().resource_version,
    }});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

async fn reconcile_any<K: ConfigObject>(
    obj: Arc<K>,
    ctx: Arc<ConfigContext>,
) -> Result<Action, Error> {
    let name = obj.meta().name.clone().ok_or(Error::MissingField("name"))?;
    let ns = obj.meta().namespace.clone();
    let api = K::api(&ctx.client, ns.as_deref());
    let now = Timestamp::now();
    let (in_use, billed) = usage_facts(&ctx.jobs.state(), K::KIND, &name, ns.as_deref(), now);
    let finalizers = obj.meta().finalizers.clone().unwrap_or_default();
    let has_finalizer = finalizers.iter().any(|f| f == CONFIG_FINALIZER);

    if obj.meta().deletion_timestamp.is_some() {
        if in_use == 0 && has_finalizer {
            // The credentials Secret first: once the config is gone nothing would release it.
            if let (Ok(place), Some(creds)) = (
                credentials_place(K::KIND, ns.as_deref(), &ctx.settings),
                &obj.settings().credentials,
            ) {
                hold_credentials_secret(
                    &ctx.client,
                    &place.namespace,
                    &creds.secret_ref.name,
                    false,
                )
                .await?;
            }
            let kept = finalizers
                .into_iter()
                .filter(|f| f != CONFIG_FINALIZER)
                .collect();
            set_finalizers(&api, obj.as_ref(), kept).await?;
            return Ok(Action::await_change());
        }
    } else if !has_finalizer {
        let mut with = finalizers;
        with.push(CONFIG_FINALIZER.to_string());
        set_finalizers(&api, obj.as_ref(), with).await?;
        // The patch triggers the next reconcile.
        return Ok(Action::await_change());
    }

    let settings = obj.settings();
    let verdict = match credentials_place(K::KIND, ns.as_deref(), &ctx.settings) {
        Err(r) => Err(r),
        Ok(place) => {
            if let Some(creds) = &settings.credentials {
                hold_credentials_secret(
                    &ctx.client,
                    &place.namespace,
                    &creds.secret_ref.name,
                    in_use > 0,
                )
                .await?;
            }
            let (found, _key) = read_credentials(&ctx.client, &place, &settings).await?;
            readiness(
                &settings,
                obj.selector_error().as_ref(),
                &ctx.settings.endpoints,
                &place,
                &found,
            )
        }
    };
    let verdict = match verdict {
        Ok(()) if obj.meta().deletion_timestamp.is_some() => Err(Refusal::new(
            Reason::Deleting,
            format!("being deleted; waiting for {in_use} jobs to clean up their remote objects"),
        )),
        Ok(())
            if K::KIND == ProviderConfigKind::ClusterProviderConfig
                && ctx.settings.single_namespace =>
        {
            Err(Refusal::new(
                Reason::ClusterProviderConfigUnavailable,
                "the operator watches one namespace and serves only namespaced ProviderConfigs",
            ))
        }
        v => v,
    };

    let persisted = obj.status().cloned();
    let mut status = persisted.clone().unwrap_or_default();
    status.observed_generation = obj.meta().generation;
    let update = match &verdict {
        Ok(()) => ConditionUpdate::new(
            types::READY,
            true,
            Reason::Ready,
            "endpoint allowed and credentials resolve",
        ),
        Err(r) => ConditionUpdate::new(types::READY, false, r.reason.clone(), r.message.clone()),
    };
    set_condition(&mut status.conditions, update, obj.meta().generation, now);
    status.jobs_in_use = Some(in_use);
    policy::account(&mut status.usage, &billed, &month_of(now));
    if persisted.as_ref() != Some(&status) {
        crate::controller::apply_status(&api, &name, &status).await?;
    }
    Ok(Action::requeue(recheck_after(verdict.is_ok(), in_use)))
}

/// When to reconcile a config again without an event. Secrets are not watched (the operator
/// would need every Secret's events), so readiness is re-checked on a timer. While jobs use the
/// config, sooner: the job event that ends the last use can reach this controller before the job
/// store it counts uses from has the job's final state, and the credentials Secret's finalizer
/// must not then wait five minutes for its release.
fn recheck_after(ready: bool, in_use: u32) -> Duration {
    if in_use > 0 {
        Duration::from_secs(10)
    } else if ready {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(30)
    }
}

pub async fn reconcile_cluster(
    obj: Arc<ClusterProviderConfig>,
    ctx: Arc<ConfigContext>,
) -> Result<Action, Error> {
    reconcile_any(obj, ctx).await
}

pub async fn reconcile_namespaced(
    obj: Arc<ProviderConfig>,
    ctx: Arc<ConfigContext>,
) -> Result<Action, Error> {
    reconcile_any(obj, ctx).await
}

pub fn error_policy<K>(_obj: Arc<K>, err: &Error, _ctx: Arc<ConfigContext>) -> Action {
    tracing::warn!(controller = "providerconfig", error = %err, "reconcile failed");
    Action::requeue(Duration::from_secs(5) + crate::controller::jitter(Duration::from_secs(5)))
}

/// The ClusterProviderConfig a job change concerns (for the watch mapper).
pub fn cluster_config_of(job: &FineTuneJob) -> Option<ObjectRef<ClusterProviderConfig>> {
    config_ref_of(job)
        .filter(|r| r.kind == ProviderConfigKind::ClusterProviderConfig)
        .map(|r| ObjectRef::new(&r.name))
}

/// The ProviderConfig a job change concerns (for the watch mapper).
pub fn namespaced_config_of(job: &FineTuneJob) -> Option<ObjectRef<ProviderConfig>> {
    let ns = job.namespace()?;
    config_ref_of(job)
        .filter(|r| r.kind == ProviderConfigKind::ProviderConfig)
        .map(|r| ObjectRef::new(&r.name).within(&ns))
}

/// Labels of a namespace, for the cluster kind's selector.
pub async fn namespace_labels(
    client: &Client,
    ns: &str,
) -> Result<Option<BTreeMap<String, String>>, kube::Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    Ok(api
        .get_metadata_opt(ns)
        .await?
        .map(|m| m.metadata.labels.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_in_use_are_checked_again_soon() {
        assert_eq!(recheck_after(true, 1), Duration::from_secs(10));
        assert_eq!(recheck_after(false, 3), Duration::from_secs(10));
        assert_eq!(recheck_after(true, 0), Duration::from_secs(300));
        assert_eq!(recheck_after(false, 0), Duration::from_secs(30));
    }

    fn cluster(y: &str) -> ClusterProviderConfig {
        serde_yaml::from_str(y).expect("fixture")
    }

    fn tenancy(insecure: bool) -> TenancySettings {
        TenancySettings {
            endpoints: EndpointPolicy::new(
                &["127.0.0.1:*".into(), "api.openai.com".into()],
                insecure,
            )
            .expect("patterns"),
            operator_namespace: Some("tunegate-system".into()),
            single_namespace: false,
        }
    }

    const CPC: &str = r#"
apiVersion: tunegate.dev/v1alpha1
kind: ClusterProviderConfig
metadata: {name: openai}
spec:
  type: OpenAI
  endpoint: http://127.0.0.1:18080/v1
  credentials: {secretRef: {name: openai-key, key: apiKey}}
  namespaceSelector: {matchLabels: {tunegate.dev/tenant: "true"}}
"#;

    fn verdict(
        c: &ClusterProviderConfig,
        t: &TenancySettings,
        found: CredentialsFound,
    ) -> Result<(), Refusal> {
        let place = credentials_place(ProviderConfigKind::ClusterProviderConfig, None, t)?;
        readiness(
            &c.spec.settings(),
            c.selector_error().as_ref(),
            &t.endpoints,
            &place,
            &found,
        )
    }

    const FOUND: CredentialsFound = CredentialsFound::Present {
        labelled: false,
        key_present: true,
    };

    #[test]
    fn ready_when_endpoint_allowed_and_credentials_resolve() {
        assert_eq!(verdict(&cluster(CPC), &tenancy(true), FOUND), Ok(()));
    }

    #[test]
    fn refusal_reasons() {
        let c = cluster(CPC);
        let r = verdict(&c, &tenancy(false), FOUND).unwrap_err();
        assert_eq!(r.reason, Reason::EndpointNotAllowed);
        assert!(r.message.contains("https"), "{}", r.message);
        let r = verdict(&c, &tenancy(true), CredentialsFound::Missing).unwrap_err();
        assert_eq!(
            (r.reason.clone(), r.message.as_str()),
            (
                Reason::CredentialsNotFound,
                "Secret tunegate-system/openai-key not found"
            )
        );
        let r = verdict(
            &c,
            &tenancy(true),
            CredentialsFound::Present {
                labelled: true,
                key_present: false,
            },
        )
        .unwrap_err();
        assert_eq!(r.reason, Reason::CredentialsNotFound);
        let mut t = tenancy(true);
        t.operator_namespace = None;
        assert_eq!(
            verdict(&c, &t, FOUND).unwrap_err().reason,
            Reason::OperatorNamespaceUnknown
        );
        let other = cluster(&CPC.replace("http://127.0.0.1:18080/v1", "https://evil.example/v1"));
        let r = verdict(&other, &tenancy(true), FOUND).unwrap_err();
        assert_eq!(r.reason, Reason::EndpointNotAllowed);
        assert!(r.message.contains("evil.example"));
        let bad_sel = cluster(&CPC.replace(
            "{matchLabels: {tunegate.dev/tenant: \"true\"}}",
            "{matchExpressions: [{key: a, operator: Near, values: [b]}]}",
        ));
        assert_eq!(
            verdict(&bad_sel, &tenancy(true), FOUND).unwrap_err().reason,
            Reason::InvalidNamespaceSelector
        );
        let bedrock = cluster(
            r#"
apiVersion: tunegate.dev/v1alpha1
kind: ClusterProviderConfig
metadata: {name: br}
spec:
  type: Bedrock
  bedrock: {region: us-east-1, s3: {bucket: acme-ft}, roleArn: "arn:aws:iam::123456789012:role/x"}
"#,
        );
        let t = TenancySettings {
            endpoints: EndpointPolicy::default(),
            ..tenancy(false)
        };
        // A cluster-wide Bedrock config without credentials uses the SDK's default chain.
        assert_eq!(verdict(&bedrock, &t, CredentialsFound::Missing), Ok(()));
        // A namespaced one may not borrow the operator's AWS identity.
        let own: ProviderConfig = serde_yaml::from_str(
            r#"
apiVersion: tunegate.dev/v1alpha1
kind: ProviderConfig
metadata: {name: br, namespace: team-a}
spec:
  type: Bedrock
  bedrock: {region: us-east-1, s3: {bucket: acme-ft}, roleArn: "arn:aws:iam::123456789012:role/x"}
"#,
        )
        .expect("fixture");
        let place = credentials_place(ProviderConfigKind::ProviderConfig, Some("team-a"), &t)
            .expect("place");
        assert_eq!(
            readiness(
                &own.spec.settings(),
                None,
                &t.endpoints,
                &place,
                &CredentialsFound::Missing
            )
            .unwrap_err()
            .reason,
            Reason::DefaultCredentialsNotAllowed
        );
        // With a labelled key Secret it is Ready.
        let mut with_key = own.spec.settings();
        with_key.credentials = Some(tunegate_api::ProviderCredentials {
            secret_ref: tunegate_api::SecretKeyRef {
                name: "aws".into(),
                key: "credentials".into(),
            },
        });
        let found = CredentialsFound::Present {
            labelled: true,
            key_present: true,
        };
        assert_eq!(
            readiness(&with_key, None, &t.endpoints, &place, &found),
            Ok(())
        );
    }

    #[test]
    fn namespaced_credentials_must_be_opted_in() {
        let pc: ProviderConfig = serde_yaml::from_str(
            r#"
apiVersion: tunegate.dev/v1alpha1
kind: ProviderConfig
metadata: {name: own, namespace: team-a}
spec:
  endpoint: https://api.openai.com/v1
  credentials: {secretRef: {name: db-password, key: password}}
"#,
        )
        .expect("fixture");
        let t = tenancy(false);
        let place = credentials_place(ProviderConfigKind::ProviderConfig, Some("team-a"), &t)
            .expect("place");
        assert_eq!(
            place,
            CredentialsPlace {
                namespace: "team-a".into(),
                must_be_labelled: true
            }
        );
        let unlabelled = CredentialsFound::Present {
            labelled: false,
            key_present: false,
        };
        let r =
            readiness(&pc.spec.settings(), None, &t.endpoints, &place, &unlabelled).unwrap_err();
        assert_eq!(r.reason, Reason::CredentialsNotOptedIn);
        assert_eq!(
            r.message,
            "Secret team-a/db-password lacks the label tunegate.dev/credentials=\"true\""
        );
        let labelled = CredentialsFound::Present {
            labelled: true,
            key_present: true,
        };
        assert_eq!(
            readiness(&pc.spec.settings(), None, &t.endpoints, &place, &labelled),
            Ok(())
        );
    }

    fn job(y: &str) -> Arc<FineTuneJob> {
        Arc::new(serde_yaml::from_str(y).expect("job fixture"))
    }

    #[test]
    fn usage_counts_jobs_of_this_config_only() {
        let base = |name: &str, ns: &str, reff: &str, tokens: u64, ledger: &str| {
            job(&format!(
                r#"
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: {name}, namespace: {ns}, uid: uid-{name}}}
spec:
  trainingDatasetRef: {{name: d}}
  model: gpt-4o-mini-2024-07-18
  providerRef: {reff}
status:
  remote: {{trainedTokens: {tokens}, finishedAt: "2026-12-01T10:00:00Z"}}
  ledger: {ledger}
"#
            ))
        };
        let live = "[{kind: File, id: file-1, role: training, state: Present}]";
        let jobs = vec![
            base("a", "team-a", "{name: openai}", 100, live),
            base(
                "b",
                "team-b",
                "{kind: ClusterProviderConfig, name: openai}",
                50,
                "[]",
            ),
            base(
                "c",
                "team-a",
                "{kind: ProviderConfig, name: openai}",
                7,
                live,
            ),
            base("d", "team-a", "{name: other}", 9, live),
        ];
        let now = Timestamp::from_second(1_764_000_000).expect("ts");
        let (in_use, billed) = usage_facts(
            &jobs,
            ProviderConfigKind::ClusterProviderConfig,
            "openai",
            None,
            now,
        );
        // a has a live file; b has an empty ledger but has not finished clean-up (it may be
        // mid-upload), so it holds the config too.
        assert_eq!(in_use, 2);
        let got: Vec<(&str, &str, u64)> = billed
            .iter()
            .map(|b| (b.namespace.as_str(), b.month.as_str(), b.trained_tokens))
            .collect();
        assert_eq!(got, [("team-a", "2026-12", 100), ("team-b", "2026-12", 50)]);
        let (in_use, billed) = usage_facts(
            &jobs,
            ProviderConfigKind::ProviderConfig,
            "openai",
            Some("team-a"),
            now,
        );
        assert_eq!((in_use, billed.len()), (1, 1));
        let (_, billed) = usage_facts(
            &jobs,
            ProviderConfigKind::ProviderConfig,
            "openai",
            Some("team-b"),
            now,
        );
        assert!(billed.is_empty());
    }
}
