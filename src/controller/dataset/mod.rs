//! The TrainingDataset controller: dereference (sources and key, `deref`) -> run the pipeline
//! in-process or in a worker Job -> status (`status`, pure).

pub mod revalidate;
pub mod status;

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;

use self::revalidate::WorkerChoice;
use self::status::Verdict;
use super::deref::{self, Data, InProcessData, Inputs, KeyAccess, Problem};
use super::pipeline;
use super::worker::{self, WorkerResult};
use super::{Context, Error, apply_status, name_ns};
use crate::source;
use tunegate_api::TrainingDataset;
use tunegate_api::conditions::{self, Reason, types};

/// Controller name in metrics and logs.
pub const NAME: &str = "trainingdataset";

pub async fn reconcile(tds: Arc<TrainingDataset>, ctx: Arc<Context>) -> Result<Action, Error> {
    // One namespace's slow objects may not hold every reconcile slot while others wait.
    let Some(_slot) = ctx
        .dataset_slots
        .try_acquire(&tds.namespace().unwrap_or_default())
    else {
        return Ok(Action::requeue(super::over_share_delay()));
    };
    let start = Instant::now();
    let r = super::within_deadline(ctx.config.reconcile_timeout, reconcile_inner(&tds, &ctx)).await;
    ctx.metrics
        .reconciled(NAME, start.elapsed(), r.as_ref().err().map(Error::category));
    if r.is_ok() {
        ctx.failures.succeeded(&failure_key(&tds));
    }
    r
}

fn failure_key(tds: &TrainingDataset) -> String {
    format!("tds/{}", tds.uid().unwrap_or_default())
}

pub fn error_policy(tds: Arc<TrainingDataset>, err: &Error, ctx: Arc<Context>) -> Action {
    let failures = ctx.failures.failed(&failure_key(&tds), "");
    let delay = super::error_delay(failures, err, rand::random::<f64>());
    tracing::warn!(controller = NAME, error = %err, category = err.category(), failures,
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), "reconcile failed");
    Action::requeue(delay)
}

/// dereference -> (validate in-process | run a worker) -> status.
async fn reconcile_inner(tds: &TrainingDataset, ctx: &Context) -> Result<Action, Error> {
    let (name, ns) = name_ns(tds)?;
    let verdict = match deref::resolve_in(ctx, tds, KeyAccess::CreateIfMissing).await? {
        Err(problem) => problem_verdict(&problem),
        Ok(Inputs {
            data: Data::InProcess(parts),
            key,
            ..
        }) => in_process_verdict(tds, parts, key).await?,
        Ok(Inputs {
            data: Data::Volume,
            key_secret,
            ..
        }) => match volume_verdict(tds, ctx, &ns, key_secret).await? {
            Some(v) => v,
            // The final verdict for this generation stands: its status is already written.
            None => return Ok(Action::await_change()),
        },
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
    let type_ = if after.status == "True" || Reason::parse(&after.reason) == Reason::WorkerRunning {
        EventType::Normal
    } else {
        EventType::Warning
    };
    ctx.event(tds, type_, &after.reason, "Validate", after.message.clone())
        .await;
}

fn problem_verdict(p: &Problem) -> Verdict {
    match p {
        Problem::Source(_) => Verdict::SourceProblem {
            reason: p.reason(),
            message: p.to_string(),
        },
        Problem::OverBudget { .. } => Verdict::SourceProblem {
            reason: p.reason(),
            message: p.to_string(),
        },
        Problem::KeyNotFound { .. } | Problem::Key(_) => Verdict::PipelineFailed {
            reason: p.reason(),
            message: p.to_string(),
        },
    }
}

async fn in_process_verdict(
    tds: &TrainingDataset,
    parts: InProcessData,
    key: Option<Vec<u8>>,
) -> Result<Verdict, Error> {
    let spec = tds.spec.clone();
    let summary = tokio::task::spawn_blocking(move || {
        // The reader holds the memory reservation until the run ends.
        let mut input = concat(parts);
        pipeline::validate(&spec, &mut input, key.as_deref())
    })
    .await
    .map_err(|_| Error::Join)?;
    Ok(match summary {
        Ok(s) => Verdict::Pipeline(s),
        Err(e) => Verdict::PipelineFailed {
            reason: e.reason(),
            message: format!("the pipeline failed: {e}"),
        },
    })
}

/// The sources as one reader, in order, never merging one source's last line with the next
/// source's first (what `sourceDigest` covers). The reader holds the data's memory reservation
/// (released when it is dropped).
pub fn concat(parts: impl Into<InProcessData>) -> impl Read + Send {
    let InProcessData { bytes, reservation } = parts.into();
    Held {
        inner: tunegate_core::dataset::pipeline::concat_sources(
            bytes.parts.into_iter().map(std::io::Cursor::new).collect(),
        ),
        _reservation: reservation,
    }
}

/// A reader that keeps a memory reservation for as long as it lives.
struct Held<R> {
    inner: R,
    _reservation: Option<crate::sharing::Reservation>,
}

impl<R: Read> Read for Held<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

/// Whether a stored Ready condition is this generation's final verdict. Volumes have no change
/// notifications, so a spec change (new generation) is what triggers another read; a source
/// refusal is re-checked on every reconcile (labels and objects do notify).
fn final_verdict_stands(tds: &TrainingDataset) -> bool {
    let Some(st) = &tds.status else {
        return false;
    };
    st.observed_generation == tds.metadata.generation
        && conditions::reason_of(&st.conditions, types::READY).is_some_and(|r| {
            !matches!(
                r,
                Reason::WorkerRunning | Reason::SourceNotAllowed | Reason::SourceNotFound
            )
        })
}

/// Volume sources: a worker Job reads them; its termination message is the verdict. `None` when
/// the final verdict for this generation is already in the status and no FineTuneJob found its
/// digest stale (then the volume is read again, see `revalidate`).
async fn volume_verdict(
    tds: &TrainingDataset,
    ctx: &Context,
    ns: &str,
    key_secret: Option<(String, String)>,
) -> Result<Option<Verdict>, Error> {
    let stale = revalidate::stale_digest(tds, &ctx.jobs.state());
    if final_verdict_stands(tds) && stale.is_none() {
        return Ok(None);
    }
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), ns);
    let listed = jobs
        .list(&ListParams::default().labels(&worker::generation_selector(tds)))
        .await?;
    let job = match revalidate::choose(tds, stale.as_deref(), &listed.items) {
        WorkerChoice::Use(job) => job,
        WorkerChoice::Create(name) => {
            let manifest = worker::validate_job_named(tds, &name, &ctx.config, key_secret)
                .map_err(|_| Error::MissingField("uid"))?;
            super::spawn::create_worker(&ctx.client, ns, &manifest, &tds.spec).await?;
            return Ok(Some(Verdict::WorkerRunning));
        }
    };
    let finished = worker::job_finished(job);
    let Some(succeeded) = finished else {
        // Repairs a crash between creating the Job and its spec ConfigMap.
        super::spawn::ensure_spec(&ctx.client, job, &tds.spec).await?;
        return Ok(Some(Verdict::WorkerRunning));
    };
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let list = pods
        .list(&ListParams::default().labels(&worker::pod_selector(job)?))
        .await?;
    let message = worker::job_result_message(job, &list.items);
    if !succeeded && worker::oom_killed(job, &list.items) {
        return Ok(Some(out_of_memory(&ctx.config)));
    }
    let verdict = match (succeeded, message.as_deref().map(WorkerResult::parse)) {
        (true, Some(Ok(WorkerResult::Summary(s)))) => Verdict::Pipeline(s),
        (_, Some(Ok(WorkerResult::Error { code }))) => worker_error(&code, &ctx.config),
        (false, Some(Ok(WorkerResult::Summary(_))))
        | (_, Some(Ok(WorkerResult::Uploaded { .. }))) => Verdict::WorkerFailed {
            reason: Reason::WorkerFailed,
            message: "the worker Job failed".into(),
        },
        (_, Some(Err(_))) => Verdict::WorkerFailed {
            reason: Reason::WorkerResultInvalid,
            message: "the worker's termination message is not a result".into(),
        },
        (_, None) => Verdict::WorkerFailed {
            reason: Reason::WorkerFailed,
            message: "the worker Job failed without a result".into(),
        },
    };
    Ok(Some(verdict))
}

/// The kubelet killed the worker for its memory: name the limit and the line cap, so the fix is
/// obvious (lines up to the cap fit the limit by construction; only a larger pipeline multiple
/// than `tunegate_core::dataset::memory` assumes can get here).
pub fn out_of_memory(config: &super::Config) -> Verdict {
    Verdict::WorkerFailed {
        reason: Reason::WorkerOutOfMemory,
        message: format!(
            "the worker was killed for exceeding its memory limit of {} (it accepts lines up to {} bytes); raise --worker-memory-limit (chart: worker.memoryLimit)",
            config.worker_memory.limit_quantity(),
            config.worker_memory.max_line
        ),
    }
}

/// The verdict for a worker's error code: its own reason where the operator can say more than
/// "the worker failed".
pub fn worker_error(code: &str, config: &super::Config) -> Verdict {
    match Reason::parse(code) {
        Reason::PipelineTimeBudgetExceeded => Verdict::PipelineFailed {
            reason: Reason::PipelineTimeBudgetExceeded,
            message: format!(
                "validation and redaction took longer than the pipeline time budget of {} s (--pipeline-time-budget-seconds)",
                config.pipeline_time_budget.as_secs()
            ),
        },
        _ => Verdict::WorkerFailed {
            reason: Reason::WorkerFailed,
            message: format!("the worker failed ({code})"),
        },
    }
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
