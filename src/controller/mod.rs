//! The two controllers (TrainingDataset, FineTuneJob) and what they share.

pub mod adapters;
pub mod bedrock;
pub mod dataset;
pub mod deref;
pub mod finetune;
pub mod metrics;
pub mod pipeline;
pub mod ports;
pub mod spawn;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use tunegate_api::{FineTuneJob, TrainingDataset};

/// The one field manager for every write the operator makes.
pub const FIELD_MANAGER: &str = "tunegate";
/// Finalizer on FineTuneJobs: remote cleanup before the resource goes.
pub const JOB_FINALIZER: &str = "tunegate.dev/cleanup";

/// Settings from the command line.
#[derive(Clone, Debug)]
pub struct Config {
    /// Image of the worker Job (the operator's own image).
    pub worker_image: String,
    /// Base poll interval for running jobs.
    pub poll_interval: Duration,
    /// `expires_after` for uploaded files, a backstop if cleanup never happens.
    pub file_expiry: Duration,
    /// Worker Jobs are deleted this long after they finish.
    pub worker_ttl_seconds: i32,
    /// Reconciles in flight per controller.
    pub concurrency: u16,
    /// The worker container's memory limit and the line cap derived with it.
    pub worker_memory: tunegate_core::dataset::memory::WorkerMemory,
    /// How long one validation run (in-process or in a worker) may take.
    pub pipeline_time_budget: Duration,
    /// Most bytes of Secret/ConfigMap sources the operator reads in-process for one dataset.
    pub max_in_process_source_bytes: u64,
    /// Deadline of one reconcile.
    pub reconcile_timeout: Duration,
}

/// Default of [`Config::pipeline_time_budget`]: 30 minutes.
pub const DEFAULT_PIPELINE_TIME_BUDGET: Duration = Duration::from_secs(30 * 60);
/// Default of [`Config::max_in_process_source_bytes`]: 8 MiB (a Secret or ConfigMap holds at most
/// 1 MiB; larger datasets belong on a volume).
pub const DEFAULT_MAX_IN_PROCESS_SOURCE_BYTES: u64 = 8 * 1024 * 1024;
/// Default of the process-wide budget for in-process sources: 256 MiB (the chart gives the
/// operator 512 MiB; it idles at ~100 MiB).
pub const DEFAULT_SOURCE_MEMORY_BUDGET: u64 = 256 * 1024 * 1024;
/// Default of [`Config::reconcile_timeout`]: 5 minutes.
pub const DEFAULT_RECONCILE_TIMEOUT: Duration = Duration::from_secs(300);

impl Default for Config {
    fn default() -> Self {
        Self {
            worker_image: "ghcr.io/tunegate/tunegate:latest".to_string(),
            poll_interval: Duration::from_secs(15),
            file_expiry: Duration::from_secs(30 * 24 * 3600),
            worker_ttl_seconds: 600,
            concurrency: 8,
            worker_memory: tunegate_core::dataset::memory::WorkerMemory::resolve(None, None)
                .unwrap_or(tunegate_core::dataset::memory::WorkerMemory {
                    limit: tunegate_core::dataset::memory::DEFAULT_WORKER_MEMORY,
                    max_line: tunegate_core::dataset::memory::DEFAULT_WORKER_MAX_LINE,
                }),
            pipeline_time_budget: DEFAULT_PIPELINE_TIME_BUDGET,
            max_in_process_source_bytes: DEFAULT_MAX_IN_PROCESS_SOURCE_BYTES,
            reconcile_timeout: DEFAULT_RECONCILE_TIMEOUT,
        }
    }
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Arc<metrics::Metrics>,
    pub remotes: Arc<dyn ports::RemoteFactory>,
    pub config: Config,
    pub datasets: Store<TrainingDataset>,
    pub jobs: Store<FineTuneJob>,
    /// The last provider event published per FineTuneJob uid. The status cursor is only written
    /// with a real status change, so without this every poll would re-publish (409) the events
    /// seen since that write; after a restart the status cursor and the 409 take over.
    pub event_cursors: EventCursors,
    /// Endpoint allow-list and where ClusterProviderConfig credentials live.
    pub tenancy: Arc<crate::tenancy::reconcile::TenancySettings>,
    /// Concurrency slots per provider config and namespace (jobs admitted, not finished).
    pub slots: crate::tenancy::admission::Slots,
    /// Consecutive failures per object (uid), for exponential backoff; bounded.
    pub failures: crate::sharing::FailureTracker,
    /// Fair share of the TrainingDataset controller's concurrent reconciles per namespace.
    pub dataset_slots: Arc<crate::sharing::NamespaceSlots>,
    /// Fair share of the FineTuneJob controller's concurrent reconciles per namespace.
    pub job_slots: Arc<crate::sharing::NamespaceSlots>,
    /// Memory for in-process sources and their pipelines, shared by every concurrent reconcile
    /// (see `deref::resolve_in`).
    pub source_budget: Arc<crate::sharing::ByteBudget>,
}

/// Requeue delay of a reconcile that found its namespace at its fair share of slots.
pub fn over_share_delay() -> Duration {
    Duration::from_millis(500) + jitter(Duration::from_secs(2))
}

/// Backoff after repeated reconcile errors of one object: 2 s doubling to 5 min, jittered.
pub const ERROR_BACKOFF: crate::sharing::Backoff = crate::sharing::Backoff {
    base: Duration::from_secs(2),
    max: Duration::from_secs(300),
};

/// Backoff while the provider rejects an object's credentials: 30 s doubling to 10 min. The
/// count starts again when the credentials Secret changes (its resourceVersion).
pub const CREDENTIALS_BACKOFF: crate::sharing::Backoff = crate::sharing::Backoff {
    base: Duration::from_secs(30),
    max: Duration::from_secs(600),
};

/// Requeue after [`Error::Busy`]: 2.5 to 5 s.
pub const BUSY_DELAY: crate::sharing::Backoff = crate::sharing::Backoff {
    base: Duration::from_secs(5),
    max: Duration::from_secs(5),
};

/// Runs one reconcile body within `limit`; past it the body is dropped and the reconcile fails
/// with [`Error::Timeout`] (its own metric category), requeued with the object's exponential
/// backoff like any error.
///
/// Dropping the body abandons it at whichever `.await` it is waiting on: exactly what a crash of
/// the operator at that point does, and the controllers are built to survive that anywhere. A
/// remote object is never created without a way back to it: every create is preceded, in the
/// same reconcile, by a lookup under a name derived from the resource's uid (files by
/// `tunegate-<uid>-<role>.jsonl`, jobs by `metadata.tunegate-uid`, Bedrock jobs by name and
/// client token, multipart uploads reported before their first part), and every id is written
/// to `status.ledger` right after it exists. So a deadline that strikes between a create and the
/// ledger write leaves an object the next reconcile adopts before creating anything, never one
/// that stays unrecorded (the `after-upload`/`after-job-create` failpoints test this instant).
/// Blocking work started by the body (a pipeline run on `spawn_blocking`) cannot be cancelled
/// and finishes on its own: in-process runs stop at the pipeline time budget, capped at this
/// deadline, and uploads when their body's receiver is dropped.
pub async fn within_deadline<T>(
    limit: Duration,
    body: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout(limit, body).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout(limit)),
    }
}

/// Objects whose failures are remembered (the least recently failed is forgotten first).
pub const FAILURE_TRACKER_CAPACITY: usize = 10_000;

/// The requeue delay after the `failures`-th consecutive error of an object: exponential with
/// jitter, and never sooner than a (clamped) server hint.
pub fn error_delay(failures: u32, err: &Error, jitter: f64) -> Duration {
    if matches!(err, Error::Busy(_)) {
        // Not this object's failure: come back soon, spread out.
        return BUSY_DELAY.delay(1, jitter);
    }
    let backoff = ERROR_BACKOFF.delay(failures, jitter);
    match err {
        Error::Remote(ports::RemoteError::Recoverable {
            retry_after: Some(hint),
            ..
        }) => backoff.max((*hint).min(crate::provider::retry::MAX_RETRY_HINT)),
        _ => backoff,
    }
}

/// Last published provider event id per FineTuneJob uid (entries leave when the job finishes).
#[derive(Default)]
pub struct EventCursors(std::sync::Mutex<std::collections::HashMap<String, String>>);

impl EventCursors {
    pub fn get(&self, uid: &str) -> Option<String> {
        self.0.lock().ok().and_then(|m| m.get(uid).cloned())
    }

    pub fn set(&self, uid: &str, event_id: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(uid.to_string(), event_id.to_string());
        }
    }

    pub fn forget(&self, uid: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(uid);
        }
    }
}

impl Context {
    pub fn new_recorder(client: Client) -> Recorder {
        Recorder::new(
            client,
            Reporter {
                controller: "tunegate".into(),
                instance: std::env::var("POD_NAME").ok(),
            },
        )
    }

    /// Publishes an Event; failures are logged, never fatal.
    pub async fn event<K>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) where
        K: Resource<DynamicType = ()>,
    {
        let ev = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note),
            action: action.to_string(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &obj.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "cannot publish event");
        }
    }
}

/// Errors a reconcile returns (the error policy requeues with backoff): transient failures of
/// one step. Verdicts on the spec or the data are conditions, not errors. No content, no secrets.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing Kubernetes objects (apply and status steps).
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A provider call (upload, submit, poll, cleanup steps).
    #[error("provider: {0}")]
    Remote(#[from] ports::RemoteError),
    /// The object lacks a field the API server always sets.
    #[error("object has no {0}")]
    MissingField(&'static str),
    /// A blocking pipeline task panicked or was cancelled.
    #[error("background task failed")]
    Join,
    /// Adding or removing a finalizer.
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// The dereference step: a source could not be read for a reason worth retrying.
    #[error("{0}")]
    Source(#[from] crate::source::SourceProblem),
    /// A shared budget (e.g. the memory for in-process sources) is taken by other reconciles:
    /// retried shortly, not a failure of this object.
    #[error("waiting for the {0}")]
    Busy(&'static str),
    /// The reconcile ran past its deadline and was abandoned (see [`within_deadline`]).
    #[error("the reconcile took longer than its deadline of {} ms", .0.as_millis())]
    Timeout(Duration),
}

impl Error {
    /// A fixed word for the step that failed: the `category` label of the reconcile-failure metric
    /// and a field of the warning log.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kubernetes",
            Error::Remote(ports::RemoteError::Terminal { .. }) => "provider-rejected",
            Error::Remote(ports::RemoteError::NotFound) => "provider-not-found",
            Error::Remote(ports::RemoteError::AuthRejected { .. }) => "provider-credentials",
            Error::Remote(ports::RemoteError::Recoverable { .. }) => "provider-unavailable",
            Error::Remote(ports::RemoteError::NotOwned { .. }) => "not-owned",
            Error::MissingField(_) => "invalid-object",
            Error::Join => "internal",
            Error::Finalizer(_) => "finalizer",
            Error::Source(_) => "source",
            Error::Busy(_) => "busy",
            Error::Timeout(_) => "timeout",
        }
    }
}

/// Writes `status` by server-side apply with the single field manager.
pub async fn apply_status<K, S>(api: &Api<K>, name: &str, status: &S) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

/// Name and namespace of a namespaced object, or an error.
pub fn name_ns<K: Resource>(obj: &K) -> Result<(String, String), Error> {
    let name = obj.meta().name.clone().ok_or(Error::MissingField("name"))?;
    let ns = obj.namespace().ok_or(Error::MissingField("namespace"))?;
    Ok((name, ns))
}

/// Random jitter up to `max`, so that many objects failing together do not retry together.
pub fn jitter(max: Duration) -> Duration {
    let ms = max.as_millis().max(1) as u64;
    Duration::from_millis(rand::random_range(0..ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_errors_back_off_exponentially_with_jitter_and_a_bound() {
        let err = Error::MissingField("x");
        // Today's fixed 3-10 s requeue would keep hammering a broken endpoint.
        assert!(error_delay(1, &err, 0.0) <= Duration::from_secs(2));
        assert!(error_delay(6, &err, 0.0) >= Duration::from_secs(32));
        assert_eq!(error_delay(50, &err, 0.999), ERROR_BACKOFF.delay(50, 0.999));
        assert!(error_delay(u32::MAX, &err, 1.0) <= Duration::from_secs(300));
        // Objects that failed together spread out.
        assert_ne!(error_delay(5, &err, 0.1), error_delay(5, &err, 0.9));
        let hinted = Error::Remote(ports::RemoteError::Recoverable {
            code: "rate_limited".into(),
            retry_after: Some(Duration::from_secs(40)),
        });
        assert_eq!(error_delay(1, &hinted, 0.0), Duration::from_secs(40));
        let absurd = Error::Remote(ports::RemoteError::Recoverable {
            code: "rate_limited".into(),
            retry_after: Some(Duration::MAX),
        });
        assert!(error_delay(1, &absurd, 0.0) <= crate::provider::retry::MAX_RETRY_HINT);
    }

    #[test]
    fn every_error_has_a_fixed_category() {
        let cases = [
            (Error::MissingField("uid"), "invalid-object"),
            (Error::Join, "internal"),
            (Error::Finalizer("x".into()), "finalizer"),
            (
                Error::Remote(ports::RemoteError::NotFound),
                "provider-not-found",
            ),
            (
                Error::Source(crate::source::SourceProblem::Api {
                    index: 0,
                    retryable: true,
                }),
                "source",
            ),
            (Error::Busy("budget"), "busy"),
            (Error::Timeout(Duration::from_secs(1)), "timeout"),
        ];
        for (e, want) in cases {
            assert_eq!(e.category(), want, "{e}");
        }
    }

    #[test]
    fn busy_comes_back_soon_whatever_the_failure_count() {
        for failures in [1, 10, 1000] {
            let d = error_delay(failures, &Error::Busy("budget"), 0.5);
            assert!(
                d >= Duration::from_millis(2500) && d <= Duration::from_secs(5),
                "{d:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_reconcile_past_its_deadline_is_a_timeout_error() {
        // A body that never answers (a provider that accepts the connection and says nothing).
        let never = futures::future::pending::<Result<(), Error>>();
        let e = within_deadline(Duration::from_millis(50), never)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Timeout(d) if d == Duration::from_millis(50)));
        assert_eq!(e.category(), "timeout");
        let quick = async { Ok::<_, Error>(7) };
        assert_eq!(
            within_deadline(Duration::from_secs(1), quick)
                .await
                .unwrap(),
            7
        );
    }
}
