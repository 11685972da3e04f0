//! The TrainingDataset controller: dereference sources -> run the pipeline -> status.

pub mod status;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use self::status::Verdict;
use super::worker::{self, WorkerResult};
use super::{Context, Error, apply_status, name_ns};
use crate::source::{self, SourceProblem};
use tunegate_api::conditions::{self, types};
use tunegate_api::{RedactionMode, TrainingDataset};

/// Controller name in metrics and logs.
pub const NAME: &str = "trainingdataset";
/// Key of the generated pseudonymization Secret.
pub const GENERATED_KEY: &str = "key";

/// Name of the Secret the controller generates for Pseudonymize mode without a key reference.
pub fn generated_key_secret(dataset: &str) -> String {
    format!("{dataset}-pseudonymization-key")
}

pub async fn reconcile(tds: Arc<TrainingDataset>, ctx: Arc<Context>) -> Result<Action, Error> {
    let start = Instant::now();
    let r = reconcile_inner(&tds, &ctx).await;
    ctx.metrics.reconciled(NAME, start.elapsed(), r.is_err());
    r
}

pub fn error_policy(_tds: Arc<TrainingDataset>, err: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(controller = NAME, error = %err, "reconcile failed");
    Action::requeue(Duration::from_secs(5) + super::jitter(Duration::from_secs(5)))
}

async fn reconcile_inner(tds: &TrainingDataset, ctx: &Context) -> Result<Action, Error> {
    let (name, ns) = name_ns(tds)?;
    let verdict = if source::has_volume(&tds.spec.sources) {
        match volume_verdict(tds, ctx, &name, &ns).await? {
            Some(v) => v,
            // The final verdict for this generation stands: its status is already written.
            None => return Ok(Action::await_change()),
        }
    } else {
        in_process_verdict(tds, ctx, &name, &ns).await?
    };
    let next = status::compute(
        tds.status.as_ref(),
        tds.metadata.generation,
        &verdict,
        Timestamp::now(),
    );
    if tds.status.as_ref() != Some(&next) {
        let api: Api<TrainingDataset> = Api::namespaced(ctx.client.clone(), &ns);
        apply_status(&api, &name, &next).await?;
        publish_transition(tds, ctx, &next).await;
    }
    Ok(Action::await_change())
}

/// One Event when Ready changes (or first appears), none otherwise.
async fn publish_transition(
    tds: &TrainingDataset,
    ctx: &Context,
    next: &tunegate_api::TrainingDatasetStatus,
) {
    let before = tds
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, types::READY))
        .map(|c| (c.status.clone(), c.reason.clone()));
    let Some(after) = conditions::find(&next.conditions, types::READY) else {
        return;
    };
    if before.as_ref() == Some(&(after.status.clone(), after.reason.clone())) {
        return;
    }
    let type_ = if after.status == "True" || after.reason == "WorkerRunning" {
        EventType::Normal
    } else {
        EventType::Warning
    };
    ctx.event(tds, type_, &after.reason, "Validate", after.message.clone())
        .await;
}

fn source_verdict(p: &SourceProblem) -> Result<Verdict, Error> {
    match p {
        SourceProblem::Api {
            retryable: true, ..
        } => Err(Error::Source(p.clone())),
        _ => Ok(Verdict::SourceProblem {
            reason: p.reason().to_string(),
            message: p.to_string(),
        }),
    }
}

/// The pseudonymization key, if the mode needs one: the referenced Secret, or a generated Secret
/// owned by the dataset. `Err(verdict)` when the referenced key is missing.
async fn pseudonymization_key(
    tds: &TrainingDataset,
    ctx: &Context,
    name: &str,
    ns: &str,
) -> Result<Result<Option<Vec<u8>>, Verdict>, Error> {
    if tds.spec.redaction.mode != RedactionMode::Pseudonymize {
        return Ok(Ok(None));
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    if let Some(r) = &tds.spec.redaction.pseudonymization_key_ref {
        let found = secrets
            .get_opt(&r.name)
            .await?
            .and_then(|s| source::secret_key_bytes(&s, &r.key));
        return Ok(match found {
            Some(k) if !k.is_empty() => Ok(Some(k)),
            _ => Err(Verdict::PipelineFailed {
                reason: "PseudonymizationKeyNotFound".into(),
                message: format!("Secret {} has no non-empty key {}", r.name, r.key),
            }),
        });
    }
    let key_name = generated_key_secret(name);
    if let Some(s) = secrets.get_opt(&key_name).await?
        && let Some(k) = source::secret_key_bytes(&s, GENERATED_KEY)
    {
        return Ok(Ok(Some(k)));
    }
    let key: [u8; 32] = rand::random();
    let owner = tds
        .controller_owner_ref(&())
        .ok_or(Error::MissingField("uid"))?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(key_name),
            namespace: Some(ns.to_string()),
            owner_references: Some(vec![owner]),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "tunegate".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        data: Some([(GENERATED_KEY.to_string(), ByteString(key.to_vec()))].into()),
        type_: Some("Opaque".into()),
        ..Default::default()
    };
    secrets.create(&PostParams::default(), &secret).await?;
    Ok(Ok(Some(key.to_vec())))
}

async fn in_process_verdict(
    tds: &TrainingDataset,
    ctx: &Context,
    name: &str,
    ns: &str,
) -> Result<Verdict, Error> {
    let parts = match source::read_in_process(&ctx.client, ns, &tds.spec.sources).await {
        Ok(p) => p,
        Err(p) => return source_verdict(&p),
    };
    let key = match pseudonymization_key(tds, ctx, name, ns).await? {
        Ok(k) => k,
        Err(v) => return Ok(v),
    };
    let pipeline = ctx.pipeline.clone();
    let spec = tds.spec.clone();
    let summary = tokio::task::spawn_blocking(move || {
        let mut input = concat(parts);
        pipeline.run(&spec, &mut input, key.as_deref(), &mut std::io::sink())
    })
    .await
    .map_err(|_| Error::Join)?;
    Ok(match summary {
        Ok(s) => Verdict::Pipeline(s),
        Err(e) => Verdict::PipelineFailed {
            reason: e.code.clone(),
            message: format!("the pipeline failed ({})", e.code),
        },
    })
}

/// The sources as one reader, in order, never merging one source's last line with the next
/// source's first (what `sourceDigest` covers).
pub fn concat(parts: Vec<Vec<u8>>) -> impl Read + Send {
    tunegate_core::dataset::pipeline::concat_sources(
        parts.into_iter().map(std::io::Cursor::new).collect(),
    )
}

/// Volume sources: a worker Job reads them; its termination message is the verdict. `None` when
/// the final verdict for this generation is already in the status.
async fn volume_verdict(
    tds: &TrainingDataset,
    ctx: &Context,
    name: &str,
    ns: &str,
) -> Result<Option<Verdict>, Error> {
    if let Err(p) = source::check_allowed(&ctx.client, ns, &tds.spec.sources).await {
        return Ok(Some(source_verdict(&p)?));
    }
    // A final verdict for this generation stands; volumes have no change notifications, so a
    // spec change (new generation) is what triggers another read.
    if let Some(st) = &tds.status
        && st.observed_generation == tds.metadata.generation
        && conditions::find(&st.conditions, types::READY).is_some_and(|c| {
            c.reason != "WorkerRunning"
                && c.reason != "SourceNotAllowed"
                && c.reason != "SourceNotFound"
        })
    {
        return Ok(None);
    }
    let key_secret = match pseudonymization_key(tds, ctx, name, ns).await? {
        // Ok(None) exactly when the mode needs no key, as for `key_secret`.
        Ok(_) => worker::key_secret(tds),
        Err(v) => return Ok(Some(v)),
    };
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), ns);
    let job_name = worker::job_name(tds);
    let Some(job) = jobs.get_opt(&job_name).await? else {
        let manifest = worker::validate_job(tds, &ctx.config, key_secret)
            .map_err(|_| Error::MissingField("uid"))?;
        jobs.create(&PostParams::default(), &manifest).await?;
        return Ok(Some(Verdict::WorkerRunning));
    };
    let finished = worker::job_finished(&job);
    let Some(succeeded) = finished else {
        return Ok(Some(Verdict::WorkerRunning));
    };
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let list = pods
        .list(&ListParams::default().labels(&format!("job-name={job_name}")))
        .await?;
    let message = list.items.iter().find_map(worker::termination_message);
    let verdict = match (succeeded, message.as_deref().map(WorkerResult::parse)) {
        (true, Some(Ok(WorkerResult::Summary(s)))) => Verdict::Pipeline(s),
        (_, Some(Ok(WorkerResult::Error { code }))) => Verdict::WorkerFailed {
            reason: "WorkerFailed".into(),
            message: format!("the worker failed ({code})"),
        },
        (false, Some(Ok(WorkerResult::Summary(_))))
        | (_, Some(Ok(WorkerResult::Uploaded { .. }))) => Verdict::WorkerFailed {
            reason: "WorkerFailed".into(),
            message: "the worker Job failed".into(),
        },
        (_, Some(Err(_))) => Verdict::WorkerFailed {
            reason: "WorkerResultInvalid".into(),
            message: "the worker's termination message is not a result".into(),
        },
        (_, None) => Verdict::WorkerFailed {
            reason: "WorkerFailed".into(),
            message: "the worker Job failed without a result".into(),
        },
    };
    Ok(Some(verdict))
}

/// Datasets in `ns` that read Secret (`secret == true`) or ConfigMap `name`: the watch mapper.
pub fn datasets_referencing(
    store: &[Arc<TrainingDataset>],
    ns: &str,
    name: &str,
    secret: bool,
) -> Vec<kube::runtime::reflector::ObjectRef<TrainingDataset>> {
    store
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(ns))
        .filter(|d| {
            let (secrets, cms) = source::referenced(&d.spec.sources);
            let key_ref = d
                .spec
                .redaction
                .pseudonymization_key_ref
                .as_ref()
                .is_some_and(|r| secret && r.name == name);
            key_ref
                || if secret {
                    secrets.contains(&name)
                } else {
                    cms.contains(&name)
                }
        })
        .map(|d| kube::runtime::reflector::ObjectRef::from_obj(d.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapper_finds_datasets_by_source_in_the_same_namespace() {
        let d: TrainingDataset = serde_yaml::from_str(
            r#"
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {name: d, namespace: a}
spec:
  sources: [{secret: {name: s, key: k}}, {configMap: {name: c, key: k}}]
  redaction: {mode: Pseudonymize, pseudonymizationKeyRef: {name: hmac, key: key}}
"#,
        )
        .unwrap();
        let store = vec![Arc::new(d)];
        assert_eq!(datasets_referencing(&store, "a", "s", true).len(), 1);
        assert_eq!(datasets_referencing(&store, "a", "hmac", true).len(), 1);
        assert_eq!(datasets_referencing(&store, "a", "c", false).len(), 1);
        assert_eq!(datasets_referencing(&store, "a", "c", true).len(), 0);
        assert_eq!(datasets_referencing(&store, "b", "s", true).len(), 0);
    }

    #[test]
    fn concat_keeps_order() {
        let mut out = String::new();
        concat(vec![b"a\n".to_vec(), b"b\n".to_vec()])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "a\nb\n");
    }

    #[test]
    fn concat_keeps_sources_on_separate_lines() {
        let mut out = String::new();
        concat(vec![b"a".to_vec(), b"b\n".to_vec()])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "a\nb\n");
    }
}
