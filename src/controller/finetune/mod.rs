//! The FineTuneJob controller: datasets -> upload -> submit -> poll -> finish -> clean up, with
//! every remote id recorded in the ledger right after it exists.

pub mod capabilities;
mod owned;
pub mod plan;
pub mod upload;

use crate::provider::sanitize::{MAX_TEXT_BYTES, sanitize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, Event as FinalizerEvent};
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use self::plan::{Cleanup, DatasetCheck, DatasetFacts, Phase, Role, Step};
use self::upload::Streamed;
use super::deref::{self, Data, Inputs, KeyAccess};
use super::ports::{DatasetCopy, JobRequest, Remote, RemoteError, RemoteFile, RemoteJob};
use super::worker::{self, WorkerResult};
use super::{Context, Error, FIELD_MANAGER, JOB_FINALIZER, name_ns};
use crate::source;
use crate::tenancy::admission;
use tunegate_api::conditions::{ConditionUpdate, Reason, Status, set_condition, types};
use tunegate_api::{
    FineTuneJob, FineTuneJobStatus, LedgerState, RemoteFileRef, RemoteKind, RemoteStatus,
    TrainingDataset,
};

/// Controller name in metrics and logs.
pub const NAME: &str = "finetunejob";
/// Env var naming a crash point for crash-safety tests: `after-upload` or `after-job-create`
/// aborts the process right after the remote object exists and before it is recorded.
pub const FAILPOINT_ENV: &str = "TUNEGATE_FAILPOINT";

fn failpoint(name: &str) {
    if std::env::var(FAILPOINT_ENV).is_ok_and(|v| v == name) {
        tracing::error!(failpoint = name, "failpoint reached: aborting");
        std::process::abort();
    }
}

/// At most this many provider events become Kubernetes Events per poll.
pub const MAX_PROVIDER_EVENTS_PER_POLL: usize = 10;

pub async fn reconcile(ftj: Arc<FineTuneJob>, ctx: Arc<Context>) -> Result<Action, Error> {
    // One namespace's slow endpoints may not hold every reconcile slot while others wait.
    let Some(_slot) = ctx
        .job_slots
        .try_acquire(&ftj.namespace().unwrap_or_default())
    else {
        return Ok(Action::requeue(super::over_share_delay()));
    };
    let start = Instant::now();
    // A deadline per reconcile; see `within_deadline` for why abandoning it mid-way never leaves
    // a remote object unrecorded.
    let body = reconcile_with_finalizer(ftj.clone(), &ctx);
    let r = match super::within_deadline(ctx.config.reconcile_timeout, body).await {
        Err(Error::Remote(RemoteError::AuthRejected { code, http, .. })) => {
            ctx.metrics
                .reconciled(NAME, start.elapsed(), Some("provider-credentials"));
            return credentials_rejected(&ftj, &ctx, &code, http).await;
        }
        r => r,
    };
    ctx.metrics
        .reconciled(NAME, start.elapsed(), r.as_ref().err().map(Error::category));
    if r.is_ok() {
        let uid = ftj.uid().unwrap_or_default();
        ctx.failures.succeeded(&format!("ftj/{uid}"));
        ctx.failures.succeeded(&format!("credentials/{uid}"));
    }
    r
}

/// The provider refused the job's credentials (401/403): a condition, one Warning Event per
/// version of the credentials Secret, and exponential backoff until that Secret changes (its
/// resourceVersion restarts the count). Not a terminal failure: nothing about the job is wrong.
async fn credentials_rejected(
    ftj: &FineTuneJob,
    ctx: &Context,
    code: &str,
    http: u16,
) -> Result<Action, Error> {
    let (_, ns) = name_ns(ftj)?;
    let uid = ftj.uid().ok_or(Error::MissingField("uid"))?;
    let r = &ftj.spec.provider_ref;
    // The count starts again when the config's key changes: a digest of the key (never the key)
    // is the version.
    let version = match admission::resolve(
        &ctx.client,
        &ctx.tenancy,
        &ns,
        r,
        admission::Purpose::Cleanup,
    )
    .await?
    {
        Ok(resolved) => hex::encode(Sha256::digest(resolved.api_key.as_bytes())),
        Err(_) => String::new(),
    };
    let failures = ctx.failures.failed(&format!("credentials/{uid}"), &version);
    let delay = super::CREDENTIALS_BACKOFF.delay(failures, rand::random::<f64>());
    let msg = format!(
        "the provider rejected the credentials of {} {} (HTTP {http}, {code}); \
         retrying in {} s with exponential backoff, or once the key changes",
        r.kind.as_str(),
        r.name,
        delay.as_secs()
    );
    let mut run = Run::new(ftj, ctx)?;
    run.set(
        types::READY,
        false,
        Reason::CredentialsRejected,
        msg.clone(),
    );
    run.save().await?;
    if failures == 1 {
        run.event(
            EventType::Warning,
            Reason::CredentialsRejected.as_str(),
            "Authenticate",
            msg,
        )
        .await;
    }
    tracing::warn!(
        controller = NAME,
        failures,
        http,
        "provider rejected the credentials"
    );
    Ok(Action::requeue(delay))
}

async fn reconcile_with_finalizer(ftj: Arc<FineTuneJob>, ctx: &Context) -> Result<Action, Error> {
    let (_, ns) = name_ns(ftj.as_ref())?;
    let api: Api<FineTuneJob> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer::finalizer(&api, JOB_FINALIZER, ftj, |ev| async move {
        match ev {
            FinalizerEvent::Apply(obj) => Run::new(&obj, ctx)?.apply().await,
            FinalizerEvent::Cleanup(obj) => Run::new(&obj, ctx)?.cleanup().await,
        }
    })
    .await
    .map_err(|e| match e {
        finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
        finalizer::Error::AddFinalizer(e) | finalizer::Error::RemoveFinalizer(e) => Error::Kube(e),
        other => Error::Finalizer(other.to_string()),
    })
}

pub fn error_policy(ftj: Arc<FineTuneJob>, err: &Error, ctx: Arc<Context>) -> Action {
    let uid = ftj.uid().unwrap_or_default();
    let failures = ctx.failures.failed(&format!("ftj/{uid}"), "");
    let delay = super::error_delay(failures, err, rand::random::<f64>());
    tracing::warn!(controller = NAME, error = %err, failures,
        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), "reconcile failed");
    Action::requeue(delay)
}

/// A condition reason from a provider's snake_case error code (`invalid_n_examples` ->
/// `InvalidNExamples`); `ProviderError` when the code has no usable word.
pub fn camel_reason(code: &str) -> Reason {
    let out: String = code
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut cs = p.chars();
            match cs.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + cs.as_str(),
                None => String::new(),
            }
        })
        .collect();
    match out.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => Reason::Provider(out),
        _ => Reason::ProviderError,
    }
}

struct Run<'a> {
    obj: &'a FineTuneJob,
    ctx: &'a Context,
    api: Api<FineTuneJob>,
    name: String,
    ns: String,
    uid: String,
    status: FineTuneJobStatus,
    persisted: Option<FineTuneJobStatus>,
    remote: Option<Arc<dyn Remote>>,
    resolved: Option<admission::Resolved>,
    training: Option<TrainingDataset>,
    validation: Option<TrainingDataset>,
}

impl<'a> Run<'a> {
    fn new(obj: &'a FineTuneJob, ctx: &'a Context) -> Result<Self, Error> {
        let (name, ns) = name_ns(obj)?;
        let uid = obj.uid().ok_or(Error::MissingField("uid"))?;
        let mut status = obj.status.clone().unwrap_or_default();
        status.observed_generation = obj.metadata.generation;
        Ok(Self {
            obj,
            ctx,
            api: Api::namespaced(ctx.client.clone(), &ns),
            name,
            ns,
            uid,
            status,
            persisted: obj.status.clone(),
            remote: None,
            resolved: None,
            training: None,
            validation: None,
        })
    }

    fn set(&mut self, type_: &'static str, status: impl Into<Status>, reason: Reason, msg: String) {
        set_condition(
            &mut self.status.conditions,
            ConditionUpdate::new(type_, status, reason, msg),
            self.obj.metadata.generation,
            Timestamp::now(),
        );
    }

    fn remote_status(&mut self) -> &mut RemoteStatus {
        self.status.remote.get_or_insert_with(Default::default)
    }

    /// Writes status if it differs from what was last written (or read).
    async fn save(&mut self) -> Result<(), Error> {
        if self.persisted.as_ref() == Some(&self.status) {
            return Ok(());
        }
        super::apply_status(&self.api, &self.name, &self.status).await?;
        self.persisted = Some(self.status.clone());
        Ok(())
    }

    /// Like `save`, but a moved provider-event cursor alone is not worth a write: provider events
    /// become Kubernetes Events with deterministic names, so republishing after a restart is a
    /// no-op (409), and the cursor is persisted with the next real change.
    async fn save_progress(&mut self) -> Result<(), Error> {
        let mut without_cursor = self.status.clone();
        if let (Some(r), Some(p)) = (
            without_cursor.remote.as_mut(),
            self.persisted.as_ref().and_then(|p| p.remote.as_ref()),
        ) {
            r.last_event_id = p.last_event_id.clone();
        }
        if self.persisted.as_ref() == Some(&without_cursor) {
            return Ok(());
        }
        self.save().await
    }

    async fn event(&self, type_: EventType, reason: &str, action: &str, note: String) {
        self.ctx.event(self.obj, type_, reason, action, note).await;
    }

    /// The provider client, built from the job's config only (its endpoint, checked against the
    /// allow-list, and its credentials). Also used for clean-up, so it needs the endpoint and the
    /// key to hold, not the config to admit new work.
    async fn remote(&mut self) -> Result<Result<Arc<dyn Remote>, (Reason, String)>, Error> {
        if self.remote.is_none() {
            let resolved = match admission::resolve(
                &self.ctx.client,
                &self.ctx.tenancy,
                &self.ns,
                &self.obj.spec.provider_ref,
                admission::Purpose::Cleanup,
            )
            .await?
            {
                Ok(r) => r,
                Err(refusal) => {
                    return Ok(Err((refusal.reason, refusal.message)));
                }
            };
            let target = crate::provider::Target::new(&resolved.settings, &resolved.endpoint);
            match self.ctx.remotes.build(&target, &resolved.api_key) {
                // Every id the controller takes from status is checked at the provider first.
                Ok(r) => {
                    self.remote = Some(Arc::new(owned::OwnedRemote::new(Arc::from(r), &self.uid)))
                }
                Err(e) => return Ok(Err((Reason::InvalidProvider, e.to_string()))),
            }
            self.resolved = Some(resolved);
        }
        match &self.remote {
            Some(r) => Ok(Ok(r.clone())),
            None => Err(Error::MissingField("provider")),
        }
    }

    async fn load_datasets(&mut self) -> Result<DatasetCheck, Error> {
        let api: Api<TrainingDataset> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        self.training = api
            .get_opt(&self.obj.spec.training_dataset_ref.name)
            .await?;
        let validation = match &self.obj.spec.validation_dataset_ref {
            Some(r) => {
                self.validation = api.get_opt(&r.name).await?;
                Some(self.validation.as_ref())
            }
            None => None,
        };
        Ok(plan::check_datasets(
            &self.obj.spec,
            self.training.as_ref(),
            validation,
        ))
    }

    async fn apply(mut self) -> Result<Action, Error> {
        let ledger_has_job = plan::ledger_id(&self.status.ledger, RemoteKind::Job, None).is_some();
        let check = if ledger_has_job {
            None
        } else {
            Some(self.load_datasets().await?)
        };
        let facts = match &check {
            Some(DatasetCheck::Ready {
                training,
                validation,
            }) => {
                let msg = format!("dataset {} is Ready", training.name);
                self.set(types::DATASET_READY, true, Reason::DatasetReady, msg);
                Some((training.clone(), validation.clone()))
            }
            Some(DatasetCheck::NotReady { reason, message }) => {
                self.set(types::DATASET_READY, false, reason.clone(), message.clone());
                None
            }
            None => None,
        };
        loop {
            let step = plan::next_step(&self.obj.spec, &self.status, facts.is_some());
            let action = match step {
                Step::WaitForDatasets => {
                    let (reason, msg) = match &check {
                        Some(DatasetCheck::NotReady { reason, message }) => {
                            (reason.clone(), message.clone())
                        }
                        _ => (Reason::DatasetNotReady, String::new()),
                    };
                    self.set(types::READY, false, reason, msg);
                    self.save().await?;
                    // Dataset changes trigger a reconcile through the watch; the timer is a backstop.
                    return Ok(Action::requeue(Duration::from_secs(300)));
                }
                Step::Upload(role) => {
                    let Some((t, v)) = &facts else {
                        return Err(Error::MissingField("dataset"));
                    };
                    if let Some(a) = self.admit().await? {
                        return Ok(a);
                    }
                    if role == Role::Training
                        && let Some(a) = self.check_grader().await?
                    {
                        return Ok(a);
                    }
                    let f = match role {
                        Role::Training => t.clone(),
                        Role::Validation => v.clone().ok_or(Error::MissingField("validation"))?,
                    };
                    self.upload(role, f).await?
                }
                Step::CreateJob => match self.admit().await? {
                    Some(a) => Some(a),
                    None => self.create_job().await?,
                },
                Step::Poll { job_id } => self.poll(&job_id).await?,
                Step::Finish { job_id } => Some(self.finish(&job_id).await?),
            };
            if let Some(a) = action {
                return Ok(a);
            }
        }
    }

    /// Records a blocking problem in Ready and waits.
    async fn blocked(
        &mut self,
        reason: Reason,
        msg: String,
        wait: Duration,
    ) -> Result<Option<Action>, Error> {
        self.set(types::READY, false, reason, msg);
        self.save().await?;
        Ok(Some(Action::requeue(wait)))
    }

    /// Reinforcement: the grader is checked before the first byte is uploaded, so a grader the
    /// provider refuses leaves nothing behind. The method is immutable, so a refusal is final.
    async fn check_grader(&mut self) -> Result<Option<Action>, Error> {
        let method = &self.obj.spec.method;
        let Some(grader) = method
            .grader
            .clone()
            .filter(|_| method.type_ == tunegate_api::MethodType::Reinforcement)
        else {
            return Ok(None);
        };
        let remote = match self.remote().await? {
            Ok(r) => r,
            Err((reason, msg)) => {
                return self.blocked(reason, msg, Duration::from_secs(60)).await;
            }
        };
        match remote.validate_grader(&grader.0).await {
            Ok(()) => Ok(None),
            Err(RemoteError::Terminal { code, message, .. }) => {
                let reason = Reason::GraderInvalid;
                let msg = format!("the provider refused the grader: {code}: {message}");
                self.set(types::SUBMITTED, false, reason.clone(), msg.clone());
                self.event(EventType::Warning, reason.as_str(), "Submit", msg.clone())
                    .await;
                self.blocked(reason, msg, Duration::from_secs(3600)).await
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn upload(&mut self, role: Role, facts: DatasetFacts) -> Result<Option<Action>, Error> {
        let filename = plan::upload_filename(&self.uid, role);
        let remote = match self.remote().await? {
            Ok(r) => r,
            Err((reason, msg)) => {
                return self.blocked(reason, msg, Duration::from_secs(60)).await;
            }
        };
        // Adopt a file a previous run uploaded but did not record.
        // Every file of that name is looked at, not only the first: one of the right length is
        // adopted, any other (a duplicate from a crashed run, or an older dataset version) is
        // deleted, so none is left behind unrecorded.
        let mut adopted = None;
        for f in remote.find_copies(&plan::copy_ref(&self.uid, role)).await? {
            if adopted.is_none() && plan::adoptable(&f, &facts) {
                adopted = Some(f);
                continue;
            }
            match remote.delete_file(&f.id).await {
                Ok(()) | Err(RemoteError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            tracing::info!(file = %f.id, role = role.as_str(), "deleted an extra uploaded file");
        }
        if let Some(f) = adopted {
            tracing::info!(file = %f.id, role = role.as_str(), "adopting uploaded file");
            return self.record_file(role, &f, &facts).await.map(|_| None);
        }
        let ds = match role {
            Role::Training => self.training.clone(),
            Role::Validation => self.validation.clone(),
        }
        .ok_or(Error::MissingField("dataset"))?;
        let inputs = match deref::resolve_in(self.ctx, &ds, KeyAccess::ReadOnly).await? {
            Ok(inputs) => inputs,
            Err(p) => {
                self.set(types::UPLOADED, false, p.reason(), p.to_string());
                return self
                    .blocked(p.reason(), p.to_string(), Duration::from_secs(60))
                    .await;
            }
        };
        let (parts, key) = match inputs {
            Inputs {
                data: Data::Volume,
                key_secret,
                ..
            } => return self.upload_via_worker(role, facts, &ds, key_secret).await,
            Inputs {
                data: Data::InProcess(parts),
                key,
                ..
            } => (parts, key),
        };
        // A multipart upload a crashed run left open: cancel it before starting another.
        self.cancel_open_uploads(&remote).await?;
        let created = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let req = upload::StreamRequest {
            on_upload_created: Some(self.upload_created_hook(role, created.clone())),
            spec: ds.spec.clone(),
            input: Box::new(super::dataset::concat(parts)),
            key,
            copy: Some(DatasetCopy {
                at: crate::controller::ports::CopyRef {
                    filename: plan::copy_filename(&self.uid, role, &facts.redacted_digest),
                    ..plan::copy_ref(&self.uid, role)
                },
                dataset_digest: facts.redacted_digest.clone(),
                model: self.obj.spec.model.clone(),
                format: ds.spec.format,
            }),
            filename,
            expected_bytes: facts.redacted_bytes,
            expected_digest: facts.redacted_digest.clone(),
            expires_after_secs: self.ctx.config.file_expiry.as_secs(),
        };
        let streamed = upload::stream(remote.as_ref(), req).await;
        // Every upload id the hook saw is in the ledger: completed ones as Succeeded (the file
        // is recorded below), the others Present, for clean-up to cancel.
        let ids = created.lock().map(|v| v.clone()).unwrap_or_default();
        let completed = matches!(streamed, Ok(Streamed::Uploaded(_)));
        let now = Timestamp::now();
        for id in &ids {
            plan::record(
                &mut self.status.ledger,
                RemoteKind::Upload,
                id,
                Some(role),
                LedgerState::Present,
                now,
            );
            if completed {
                plan::set_state(
                    &mut self.status.ledger,
                    RemoteKind::Upload,
                    id,
                    LedgerState::Succeeded,
                    now,
                );
            }
        }
        match streamed? {
            Streamed::Uploaded(file) => {
                failpoint("after-upload");
                self.record_file(role, &file, &facts).await?;
                Ok(None)
            }
            Streamed::Changed(file) => {
                if let Some(file) = file {
                    // The provider accepted a body that ended in an error: record and remove it.
                    self.record_file(role, &file, &facts).await?;
                    self.delete_file(&file.id).await?;
                }
                self.dataset_changed(&facts).await
            }
            Streamed::PipelineFailed(file) => {
                if let Some(file) = file {
                    self.record_file(role, &file, &facts).await?;
                    self.delete_file(&file.id).await?;
                    self.save().await?;
                }
                Err(Error::Finalizer("the pipeline failed during upload".into()))
            }
        }
    }

    /// A hook that writes a multipart upload's id into the ledger (status) before the first part
    /// is sent. Best effort: if the write fails the upload goes on, and the id is recorded when
    /// the upload returns (a crash in between leaves it to the provider's expiry: an hour for
    /// OpenAI's Uploads API; on Bedrock clean-up also aborts every open upload of the uid).
    fn upload_created_hook(
        &self,
        role: Role,
        created: Arc<std::sync::Mutex<Vec<String>>>,
    ) -> super::ports::UploadCreated {
        let api = self.api.clone();
        let name = self.name.clone();
        let base = self.status.clone();
        Arc::new(move |id: String| {
            let (api, name, mut status, created) =
                (api.clone(), name.clone(), base.clone(), created.clone());
            let fut: futures::future::BoxFuture<'static, ()> = Box::pin(async move {
                if let Ok(mut c) = created.lock() {
                    c.push(id.clone());
                    for earlier in c.iter() {
                        plan::record(
                            &mut status.ledger,
                            RemoteKind::Upload,
                            earlier,
                            Some(role),
                            LedgerState::Present,
                            Timestamp::now(),
                        );
                    }
                }
                if let Err(e) = super::apply_status(&api, &name, &status).await {
                    tracing::warn!(error = %e, "cannot record the upload id before its first part");
                }
            });
            fut
        })
    }

    /// Cancels the multipart uploads the ledger holds as open (a run that crashed mid-upload).
    async fn cancel_open_uploads(&mut self, remote: &Arc<dyn Remote>) -> Result<(), Error> {
        let open: Vec<String> = self
            .status
            .ledger
            .iter()
            .filter(|e| e.kind == RemoteKind::Upload && e.state == LedgerState::Present)
            .map(|e| e.id.clone())
            .collect();
        for id in open {
            let state = match remote.cancel_upload(&id).await {
                Ok(()) => LedgerState::Cancelled,
                Err(RemoteError::NotFound) => LedgerState::NotFound,
                // No longer pending (already cancelled, completed or expired): nothing is open.
                Err(RemoteError::Terminal { .. }) => LedgerState::Cancelled,
                Err(e) => return Err(e.into()),
            };
            plan::set_state(
                &mut self.status.ledger,
                RemoteKind::Upload,
                &id,
                state,
                Timestamp::now(),
            );
        }
        Ok(())
    }

    async fn dataset_changed(&mut self, facts: &DatasetFacts) -> Result<Option<Action>, Error> {
        // The digest is how the dataset controller knows which validation went stale (see
        // `dataset::revalidate`).
        let msg = format!(
            "the data of dataset {} no longer hashes to {}; waiting for re-validation",
            facts.name, facts.redacted_digest
        );
        self.set(types::UPLOADED, false, Reason::DatasetChanged, msg.clone());
        self.event(EventType::Warning, "DatasetChanged", "Upload", msg.clone())
            .await;
        self.blocked(Reason::DatasetChanged, msg, Duration::from_secs(30))
            .await
    }

    /// Volume-source datasets: a worker Job (credentials mounted as a file, no API token) streams
    /// the upload; its termination message carries the file id. A crash or failure in between is
    /// covered by adoption by filename before any new attempt.
    async fn upload_via_worker(
        &mut self,
        role: Role,
        facts: DatasetFacts,
        ds: &TrainingDataset,
        key_secret: Option<(String, String)>,
    ) -> Result<Option<Action>, Error> {
        let jobs: Api<Job> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        let name =
            worker::upload_job_name(&self.name, &self.uid, role.as_str(), &facts.redacted_digest);
        let Some(job) = jobs.get_opt(&name).await? else {
            let owner = self
                .obj
                .controller_owner_ref(&())
                .ok_or(Error::MissingField("uid"))?;
            let resolved = self
                .resolved
                .clone()
                .ok_or(Error::MissingField("provider config"))?;
            let credentials = resolved
                .settings
                .credentials
                .as_ref()
                .map(|c| (c.secret_ref.name.clone(), c.secret_ref.key.clone()))
                .ok_or(Error::MissingField("credentials"))?;
            let upload = worker::UploadSpec {
                target: crate::provider::Target::new(&resolved.settings, &resolved.endpoint),
                credentials,
                filename: plan::copy_filename(&self.uid, role, &facts.redacted_digest),
                expected_bytes: facts.redacted_bytes,
                expected_digest: facts.redacted_digest.clone(),
                expires_after_secs: self.ctx.config.file_expiry.as_secs(),
            };
            let manifest = worker::upload_job(
                &name,
                &self.ns,
                owner,
                ds,
                &self.ctx.config,
                key_secret,
                &upload,
            )
            .map_err(|_| Error::MissingField("worker manifest"))?;
            crate::controller::spawn::create_worker(
                &self.ctx.client,
                &self.ns,
                &manifest,
                &ds.spec,
            )
            .await?;
            self.set(
                types::UPLOADED,
                false,
                Reason::WorkerUploading,
                format!("a worker Job uploads the {} file", role.as_str()),
            );
            return self
                .blocked(
                    Reason::WorkerUploading,
                    "a worker Job is uploading".into(),
                    Duration::from_secs(30),
                )
                .await;
        };
        let Some(succeeded) = worker::job_finished(&job) else {
            crate::controller::spawn::ensure_spec(&self.ctx.client, &job, &ds.spec).await?;
            return Ok(Some(Action::requeue(Duration::from_secs(30))));
        };
        let pods: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        let list = pods
            .list(&ListParams::default().labels(&worker::pod_selector(&job)?))
            .await?;
        let result = worker::job_result_message(&job, &list.items).map(|m| WorkerResult::parse(&m));
        // Whatever happened, the next attempt needs a fresh Job.
        if let Err(e) = jobs.delete(&name, &DeleteParams::background()).await {
            tracing::warn!(job = %name, error = %e, "cannot delete the finished upload worker Job");
        }
        if !succeeded && worker::oom_killed(&job, &list.items) {
            // The same memory model as validation: name the limit and the line cap.
            let (reason, msg) = match super::dataset::out_of_memory(&self.ctx.config) {
                super::dataset::status::Verdict::WorkerFailed { reason, message } => {
                    (reason, message)
                }
                _ => (
                    Reason::WorkerOutOfMemory,
                    "the upload worker exceeded its memory limit".to_string(),
                ),
            };
            self.set(types::UPLOADED, false, reason.clone(), msg.clone());
            return self.blocked(reason, msg, Duration::from_secs(300)).await;
        }
        match result {
            Some(Ok(WorkerResult::Uploaded { id, bytes })) => {
                let file = RemoteFile {
                    id,
                    bytes,
                    ..RemoteFile::default()
                };
                self.record_file(role, &file, &facts).await?;
                Ok(None)
            }
            Some(Ok(WorkerResult::Error { code })) if code == "DatasetChanged" => {
                self.dataset_changed(&facts).await
            }
            Some(Ok(WorkerResult::Error { code })) if code == "CredentialsRejected" => {
                Err(Error::Remote(RemoteError::AuthRejected {
                    code: "upload_worker".into(),
                    message: "the upload worker's request was refused".into(),
                    http: 401,
                }))
            }
            Some(Ok(WorkerResult::Error { code })) => {
                let msg = format!("the upload worker failed ({code})");
                self.set(types::UPLOADED, false, Reason::WorkerFailed, msg.clone());
                self.blocked(Reason::WorkerFailed, msg, Duration::from_secs(30))
                    .await
            }
            _ => {
                let msg = "the upload worker ended without a result".to_string();
                self.set(types::UPLOADED, false, Reason::WorkerFailed, msg.clone());
                self.blocked(Reason::WorkerFailed, msg, Duration::from_secs(30))
                    .await
            }
        }
    }

    async fn record_file(
        &mut self,
        role: Role,
        file: &RemoteFile,
        facts: &DatasetFacts,
    ) -> Result<(), Error> {
        let id = file.id.as_str();
        let now = Timestamp::now();
        plan::record(
            &mut self.status.ledger,
            RemoteKind::File,
            id,
            Some(role),
            LedgerState::Present,
            now,
        );
        // The exact bytes at the provider: the redacted JSONL itself, or its converted form.
        let stored_digest = file
            .digest
            .clone()
            .unwrap_or_else(|| facts.redacted_digest.clone());
        let stored_bytes = if file.digest.is_some() {
            file.bytes
        } else {
            facts.redacted_bytes
        };
        plan::set_stored(&mut self.status.ledger, id, stored_bytes, &stored_digest);
        let fref = RemoteFileRef {
            id: id.to_string(),
            bytes: facts.redacted_bytes,
            digest: facts.redacted_digest.clone(),
        };
        match role {
            Role::Training => self.remote_status().training_file = Some(fref),
            Role::Validation => self.remote_status().validation_file = Some(fref),
        }
        let msg = format!(
            "{} file uploaded ({} bytes)",
            role.as_str(),
            facts.redacted_bytes
        );
        self.set(types::UPLOADED, true, Reason::Uploaded, msg.clone());
        self.save().await?;
        self.event(EventType::Normal, "Uploaded", "Upload", msg)
            .await;
        Ok(())
    }

    async fn create_job(&mut self) -> Result<Option<Action>, Error> {
        // A refusal stands (the spec that was refused cannot change): asking again on the next
        // reconcile would only be refused again.
        if tunegate_api::conditions::reason_of(&self.status.conditions, types::SUBMITTED)
            == Some(Reason::ProviderRefused)
        {
            return Ok(Some(Action::await_change()));
        }
        let training = plan::ledger_id(&self.status.ledger, RemoteKind::File, Some(Role::Training))
            .ok_or(Error::MissingField("training file"))?
            .to_string();
        let validation = plan::ledger_id(
            &self.status.ledger,
            RemoteKind::File,
            Some(Role::Validation),
        )
        .map(str::to_string);
        let uid = self.uid.clone();
        let spec = self.obj.spec.clone();
        let remote = match self.remote().await? {
            Ok(r) => r,
            Err((reason, msg)) => return self.blocked(reason, msg, Duration::from_secs(60)).await,
        };
        let existing = remote.find_jobs(plan::UID_METADATA_KEY, &uid).await?;
        let job = match existing.into_iter().next() {
            Some(j) => {
                tracing::info!(job = %j.id, "adopting remote job");
                j
            }
            None => {
                // Azure imports files asynchronously and answers 400 to a job on a file that is
                // not yet `processed`: wait for every file the job names first.
                for id in std::iter::once(&training).chain(validation.iter()) {
                    match remote.wait_file_ready(id).await {
                        Ok(()) => {}
                        Err(RemoteError::Recoverable { code, .. }) if code == "file_not_ready" => {
                            let msg = format!("the provider is still importing file {id}");
                            self.set(types::SUBMITTED, false, Reason::FileImporting, msg.clone());
                            return self
                                .blocked(Reason::FileImporting, msg, Duration::from_secs(5))
                                .await;
                        }
                        Err(RemoteError::NotOwned { kind, id }) => {
                            return self.not_owned(RemoteKind::File, kind, &id, "Submit").await;
                        }
                        Err(RemoteError::Terminal { code, message, .. }) => {
                            let reason = Reason::FileProcessingFailed;
                            let msg = format!(
                                "the provider could not import file {id}: {code}: {message}"
                            );
                            self.set(types::SUBMITTED, false, reason.clone(), msg.clone());
                            self.event(EventType::Warning, reason.as_str(), "Submit", msg.clone())
                                .await;
                            return self.blocked(reason, msg, Duration::from_secs(3600)).await;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                let req = JobRequest {
                    model: spec.model.clone(),
                    training_file: training,
                    validation_file: validation,
                    suffix: spec.suffix.clone(),
                    seed: spec.seed,
                    method: spec.method.clone(),
                    metadata: plan::job_metadata(&uid),
                };
                match remote.create_job(req).await {
                    Ok(j) => j,
                    Err(RemoteError::NotOwned { kind, id }) => {
                        return self.not_owned(RemoteKind::File, kind, &id, "Submit").await;
                    }
                    Err(RemoteError::Terminal { code, message, .. }) => {
                        let (reason, msg) = if code == super::ports::PROVIDER_REFUSED {
                            // `message` starts with the provider's own code.
                            (
                                Reason::ProviderRefused,
                                format!("the provider refuses to fine-tune here: {message}"),
                            )
                        } else {
                            (
                                camel_reason(&code),
                                format!("the provider refused the job: {code}: {message}"),
                            )
                        };
                        self.set(types::SUBMITTED, false, reason.clone(), msg.clone());
                        self.event(EventType::Warning, reason.as_str(), "Submit", msg.clone())
                            .await;
                        // Terminal: no retry storm; a spec change cannot happen (immutable), so wait long.
                        return self.blocked(reason, msg, Duration::from_secs(3600)).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        failpoint("after-job-create");
        let now = Timestamp::now();
        plan::record(
            &mut self.status.ledger,
            RemoteKind::Job,
            &job.id,
            None,
            plan::job_state(&job.status),
            now,
        );
        plan::record_outputs(&mut self.status.ledger, &job.outputs, now);
        self.observe(&job);
        let msg = format!("job {} submitted", job.id);
        self.set(types::SUBMITTED, true, Reason::Submitted, msg.clone());
        self.set(
            types::READY,
            false,
            Reason::Running,
            format!("provider status: {}", job.status),
        );
        self.save().await?;
        self.event(EventType::Normal, "Submitted", "Submit", msg)
            .await;
        self.ctx.metrics.job_status(&self.uid, Some(&job.status));
        Ok(None)
    }

    fn observe(&mut self, job: &RemoteJob) {
        let r = self.remote_status();
        r.job_id = Some(job.id.clone());
        r.status = Some(job.status.clone());
        if job.fine_tuned_model.is_some() {
            r.fine_tuned_model = job.fine_tuned_model.clone();
        }
        if job.trained_tokens.is_some() {
            r.trained_tokens = job.trained_tokens;
        }
        if job.error_code.is_some() || job.error_message.is_some() {
            r.error = Some(tunegate_api::RemoteError {
                code: job.error_code.clone(),
                message: job.error_message.clone(),
                param: None,
            });
        }
    }

    async fn poll(&mut self, job_id: &str) -> Result<Option<Action>, Error> {
        let paused = self.obj.spec.paused;
        let remote = match self.remote().await? {
            Ok(r) => r,
            Err((reason, msg)) => return self.blocked(reason, msg, Duration::from_secs(60)).await,
        };
        let mut job = match remote.get_job(job_id).await {
            Ok(j) => j,
            Err(RemoteError::NotFound) => {
                // Not a failed job: the credentials may now belong to another project (a
                // rotated key), so nothing is cleaned up or marked deleted; check again later.
                plan::set_state(
                    &mut self.status.ledger,
                    RemoteKind::Job,
                    job_id,
                    LedgerState::NotFound,
                    Timestamp::now(),
                );
                let msg = format!("the provider answers 404 for job {job_id}");
                return self
                    .blocked(Reason::JobNotFound, msg, Duration::from_secs(300))
                    .await;
            }
            Err(RemoteError::NotOwned { kind, id }) => {
                return self.not_owned(RemoteKind::Job, kind, &id, "Poll").await;
            }
            Err(e) => return Err(e.into()),
        };
        let after = self.ctx.event_cursors.get(&self.uid).or_else(|| {
            self.status
                .remote
                .as_ref()
                .and_then(|r| r.last_event_id.clone())
        });
        let events = remote.events_after(job_id, after.as_deref()).await?;
        if !plan::is_terminal(&job.status) {
            let change = match (paused, job.status.as_str()) {
                (true, "paused") | (false, "running" | "queued" | "validating_files") => None,
                (true, _) => Some(remote.pause_job(job_id).await),
                (false, "paused") => Some(remote.resume_job(job_id).await),
                _ => None,
            };
            match change {
                Some(Ok(j)) => job = j,
                Some(Err(RemoteError::Terminal { code, .. })) => {
                    tracing::info!(code = %code, "pause/resume refused by the provider");
                }
                Some(Err(e)) => return Err(e.into()),
                None => {}
            }
        }
        // A flood of provider events must not become a flood of Kubernetes Events: the newest
        // few per poll, and one summary for the rest.
        let messages: Vec<_> = events.iter().filter(|ev| !ev.metrics).collect();
        let (shown, omitted) = crate::sharing::newest(messages, MAX_PROVIDER_EVENTS_PER_POLL);
        for ev in shown {
            self.provider_event(ev).await;
        }
        if omitted > 0 {
            self.event(
                EventType::Normal,
                "ProviderEventsOmitted",
                "Poll",
                format!(
                    "{omitted} older provider events since the last poll were not copied \
                     (at most {MAX_PROVIDER_EVENTS_PER_POLL} per poll)"
                ),
            )
            .await;
        }
        if let Some(last) = events.last() {
            self.ctx.event_cursors.set(&self.uid, &last.id);
            self.remote_status().last_event_id = Some(last.id.clone());
        }
        self.observe(&job);
        self.ctx.metrics.job_status(&self.uid, Some(&job.status));
        plan::record_outputs(&mut self.status.ledger, &job.outputs, Timestamp::now());
        plan::set_state(
            &mut self.status.ledger,
            RemoteKind::Job,
            job_id,
            plan::job_state(&job.status),
            Timestamp::now(),
        );
        if plan::is_terminal(&job.status) {
            return Ok(None);
        }
        let reason = if job.status == "paused" {
            Reason::Paused
        } else {
            Reason::Running
        };
        self.set(
            types::READY,
            false,
            reason,
            format!("provider status: {}", job.status),
        );
        self.save_progress().await?;
        Ok(Some(Action::requeue(plan::poll_interval(
            &job.status,
            self.ctx.config.poll_interval,
        ))))
    }

    /// One Kubernetes Event per provider event, named after it so that a repeat is a no-op.
    async fn provider_event(&self, ev: &super::ports::RemoteEvent) {
        let mut h = Sha256::new();
        h.update(self.uid.as_bytes());
        h.update(ev.id.as_bytes());
        let name = format!("{}.{}", self.name, &hex::encode(h.finalize())[..16]);
        let warning = matches!(ev.level.as_str(), "warn" | "warning" | "error");
        // Already sanitized when decoded; again here, because this is where it leaves.
        let note = sanitize(&ev.message, MAX_TEXT_BYTES);
        let event = K8sEvent {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(self.ns.clone()),
                ..Default::default()
            },
            action: Some("Poll".into()),
            reason: Some("ProviderEvent".into()),
            note: Some(note),
            event_time: Some(MicroTime(Timestamp::now())),
            regarding: Some(self.obj.object_ref(&())),
            reporting_controller: Some("tunegate".into()),
            reporting_instance: Some(
                std::env::var("POD_NAME").unwrap_or_else(|_| "tunegate".into()),
            ),
            type_: Some(if warning { "Warning" } else { "Normal" }.into()),
            ..Default::default()
        };
        let api: Api<K8sEvent> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => tracing::warn!(error = %e, "cannot publish provider event"),
        }
    }

    async fn finish(&mut self, job_id: &str) -> Result<Action, Error> {
        let now = Timestamp::now();
        let remote = self.status.remote.clone().unwrap_or_default();
        let word = remote.status.clone().unwrap_or_default();
        plan::set_state(
            &mut self.status.ledger,
            RemoteKind::Job,
            job_id,
            plan::job_state(&word),
            now,
        );
        let was_succeeded =
            tunegate_api::conditions::find(&self.status.conditions, types::SUCCEEDED)
                .map(|c| c.status.clone());
        let mut output_conflict: Option<String> = None;
        let mut output_error: Option<Error> = None;
        if word == "succeeded" {
            if let Some(model) = &remote.fine_tuned_model {
                plan::record(
                    &mut self.status.ledger,
                    RemoteKind::Model,
                    model,
                    None,
                    LedgerState::Present,
                    now,
                );
                // A failing output write never blocks remote cleanup: remember it, clean up,
                // then report it.
                match self.write_output(model, job_id).await {
                    Ok(conflict) => output_conflict = conflict,
                    Err(e) => output_error = Some(e),
                }
            }
            let msg = format!(
                "model {}",
                remote.fine_tuned_model.clone().unwrap_or_default()
            );
            self.set(types::SUCCEEDED, true, Reason::Succeeded, msg);
        } else {
            let code = remote.error.as_ref().and_then(|e| e.code.clone());
            let reason = match (&code, word.as_str()) {
                (_, "cancelled") => Reason::Cancelled,
                (Some(c), _) => camel_reason(c),
                (None, _) => Reason::Failed,
            };
            let msg = match &remote.error {
                Some(e) => format!(
                    "job {word}: {}: {}",
                    e.code.clone().unwrap_or_default(),
                    e.message.clone().unwrap_or_default()
                ),
                None => format!("job {word}"),
            };
            self.set(types::SUCCEEDED, false, reason, msg);
        }
        let spec = self.governed_spec("Finish").await?;
        let actions = plan::cleanup(&spec, &self.status.ledger, Phase::Finished);
        if !actions.is_empty() {
            match self.remote().await? {
                Ok(_) => {}
                Err((reason, msg)) => {
                    self.set(types::REMOTE_CLEANED_UP, false, reason, msg.clone());
                    self.save().await?;
                    return Ok(Action::requeue(Duration::from_secs(60)));
                }
            }
            for a in actions {
                self.run_cleanup(&a).await?;
            }
        }
        let cleaned = plan::cleanup(&spec, &self.status.ledger, Phase::Finished).is_empty();
        if cleaned {
            self.set(
                types::REMOTE_CLEANED_UP,
                true,
                Reason::CleanedUp,
                "retention applied".into(),
            );
        }
        let ok = word == "succeeded";
        let (reason, msg) = if ok {
            (
                Reason::Succeeded,
                "the job succeeded and retention is applied".to_string(),
            )
        } else {
            (Reason::Failed, format!("the job ended {word}"))
        };
        let reason_word = reason.as_str().to_string();
        match &output_conflict {
            Some(conflict) => {
                let was =
                    tunegate_api::conditions::reason_of(&self.status.conditions, types::READY);
                self.set(
                    types::READY,
                    false,
                    Reason::OutputConflict,
                    conflict.clone(),
                );
                if was != Some(Reason::OutputConflict) {
                    self.event(
                        EventType::Warning,
                        Reason::OutputConflict.as_str(),
                        "Finish",
                        conflict.clone(),
                    )
                    .await;
                }
            }
            None => self.set(types::READY, ok && cleaned, reason, msg.clone()),
        }
        self.save().await?;
        // The final status holds the cursor; a finished job is never polled again.
        self.ctx.event_cursors.forget(&self.uid);
        let now_succeeded =
            tunegate_api::conditions::find(&self.status.conditions, types::SUCCEEDED)
                .map(|c| c.status.clone());
        if was_succeeded != now_succeeded {
            let t = if ok {
                EventType::Normal
            } else {
                EventType::Warning
            };
            self.event(t, &reason_word, "Finish", msg).await;
        }
        self.release_slot();
        if let Some(e) = output_error {
            // Cleanup is done; the write is retried with backoff.
            return Err(e);
        }
        if output_conflict.is_some() {
            // Watched objects do not include the ConfigMap: look again now and then.
            return Ok(Action::requeue(Duration::from_secs(300)));
        }
        Ok(Action::await_change())
    }

    /// Writes the output ConfigMap if it is absent or ours; `Ok(Some(message))` when a ConfigMap
    /// of that name belongs to someone else (nothing is written then).
    async fn write_output(&self, model: &str, job_id: &str) -> Result<Option<String>, Error> {
        let Some(out) = &self.obj.spec.output else {
            return Ok(None);
        };
        let digest = self
            .status
            .remote
            .as_ref()
            .and_then(|r| r.training_file.as_ref())
            .map(|f| f.digest.clone())
            .unwrap_or_default();
        let data = std::collections::BTreeMap::from([
            ("model".to_string(), model.to_string()),
            ("baseModel".to_string(), self.obj.spec.model.clone()),
            ("jobID".to_string(), job_id.to_string()),
            ("trainingFileDigest".to_string(), digest),
        ]);
        let api: Api<ConfigMap> = Api::namespaced(self.ctx.client.clone(), &self.ns);
        let existing = api.get_opt(&out.config_map_name).await?;
        let action = plan::output_plan(existing.as_ref(), &self.uid, &data);
        let cm = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": out.config_map_name,
                "namespace": self.ns,
                "ownerReferences": [self.obj.controller_owner_ref(&())],
                "labels": {"app.kubernetes.io/managed-by": "tunegate"},
            },
            "data": data,
        });
        match action {
            plan::OutputPlan::Unchanged => {}
            plan::OutputPlan::Conflict => {
                return Ok(Some(format!(
                    "ConfigMap {} exists and is not owned by this FineTuneJob; nothing was written \
                     (delete it or choose another output.configMapName)",
                    out.config_map_name
                )));
            }
            plan::OutputPlan::Create => {
                let cm: ConfigMap =
                    serde_json::from_value(cm).map_err(|_| Error::MissingField("output"))?;
                match api.create(&PostParams::default(), &cm).await {
                    Ok(_) => {}
                    // Made by someone else since the read: theirs; the next reconcile says so.
                    Err(kube::Error::Api(s)) if s.code == 409 => {
                        return Ok(Some(format!(
                            "ConfigMap {} was created by someone else; nothing was written",
                            out.config_map_name
                        )));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            plan::OutputPlan::Update => {
                api.patch(
                    &out.config_map_name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&cm),
                )
                .await?;
            }
        }
        Ok(None)
    }

    async fn delete_file(&mut self, id: &str) -> Result<(), Error> {
        let remote = match self.remote().await? {
            Ok(r) => r,
            Err(_) => return Err(Error::MissingField("provider")),
        };
        let result = remote.delete_file(id).await;
        let state = self.settle(result, LedgerState::Deleted).await?;
        plan::set_state(
            &mut self.status.ledger,
            RemoteKind::File,
            id,
            state,
            Timestamp::now(),
        );
        Ok(())
    }

    /// The spec with the retention its provider config allows (see
    /// `tenancy::policy::governed_spec`): a job author who switches to `trainingFiles: Retain` or
    /// `deletionPolicy: Orphan` after admission gets the config's policy and a Warning. Without a
    /// usable config nothing can be cleaned up anyway, so the spec stands.
    async fn governed_spec(
        &mut self,
        action: &str,
    ) -> Result<tunegate_api::FineTuneJobSpec, Error> {
        let spec = &self.obj.spec;
        let asks_to_keep = spec.retention.training_files == tunegate_api::FileRetention::Retain
            || spec.deletion_policy == tunegate_api::DeletionPolicy::Orphan;
        if !asks_to_keep || self.remote().await?.is_err() {
            return Ok(spec.clone());
        }
        let Some(resolved) = &self.resolved else {
            return Ok(spec.clone());
        };
        let allowed = &resolved.settings.retention;
        let excess = crate::tenancy::policy::retention_excess(spec, allowed);
        if excess.is_empty() {
            return Ok(spec.clone());
        }
        let governed = crate::tenancy::policy::governed_spec(spec, allowed);
        let msg = format!(
            "not applied, {} does not allow it: {}",
            resolved.name,
            excess.join("; ")
        );
        self.event(
            EventType::Warning,
            Reason::RetentionNotAllowed.as_str(),
            action,
            msg,
        )
        .await;
        Ok(governed)
    }

    /// A Warning that the status named an object this resource did not create (left alone).
    async fn warn_not_owned(&self, kind: &str, id: &str, action: &str) {
        let msg = format!(
            "the status names {kind} {id}, which this FineTuneJob did not create; it was left alone"
        );
        tracing::warn!(
            kind,
            id,
            "status names a remote object this resource did not create"
        );
        self.event(
            EventType::Warning,
            Reason::RemoteObjectNotOwned.as_str(),
            action,
            msg,
        )
        .await;
    }

    /// Stops work on an object the status names but this resource did not create: the ledger
    /// says so, Ready says why, and nothing is retried until the resource changes.
    async fn not_owned(
        &mut self,
        ledger_kind: RemoteKind,
        kind: &str,
        id: &str,
        action: &str,
    ) -> Result<Option<Action>, Error> {
        plan::set_state(
            &mut self.status.ledger,
            ledger_kind,
            id,
            LedgerState::NotOwned,
            Timestamp::now(),
        );
        let was = tunegate_api::conditions::reason_of(&self.status.conditions, types::READY);
        if was != Some(Reason::RemoteObjectNotOwned) {
            self.warn_not_owned(kind, id, action).await;
        }
        let msg = format!("the status names {kind} {id}, which this FineTuneJob did not create");
        self.blocked(Reason::RemoteObjectNotOwned, msg, Duration::from_secs(3600))
            .await
    }

    /// The ledger state a clean-up call leaves: `done` on success, `NotFound` on a 404,
    /// `NotOwned` (with a Warning) for an object the status named but this resource did not
    /// create; other errors are retried.
    async fn settle(
        &self,
        result: Result<(), RemoteError>,
        done: LedgerState,
    ) -> Result<LedgerState, Error> {
        match result {
            Ok(()) => Ok(done),
            Err(RemoteError::NotFound) => Ok(LedgerState::NotFound),
            Err(RemoteError::NotOwned { kind, id }) => {
                self.warn_not_owned(kind, &id, "Delete").await;
                Ok(LedgerState::NotOwned)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn run_cleanup(&mut self, action: &Cleanup) -> Result<(), Error> {
        let remote = match self.remote().await? {
            Ok(r) => r,
            Err(_) => return Err(Error::MissingField("provider")),
        };
        let now = Timestamp::now();
        match action {
            Cleanup::CancelJob(id) => {
                let state = match remote.cancel_job(id).await {
                    Ok(_) | Err(RemoteError::NotFound) => LedgerState::Cancelled,
                    // Already terminal: the provider refuses to cancel; nothing is running.
                    Err(RemoteError::Terminal { .. }) => LedgerState::Cancelled,
                    Err(RemoteError::NotOwned { kind, id }) => {
                        self.warn_not_owned(kind, &id, "Delete").await;
                        LedgerState::NotOwned
                    }
                    Err(e) => return Err(e.into()),
                };
                plan::set_state(&mut self.status.ledger, RemoteKind::Job, id, state, now);
                Ok(())
            }
            Cleanup::DeleteFile(id) => self.delete_file(id).await,
            Cleanup::CancelUpload(id) => {
                // A provider that refuses to cancel has nothing open any more.
                let result = match remote.cancel_upload(id).await {
                    Err(RemoteError::Terminal { .. }) => Ok(()),
                    r => r,
                };
                let state = self.settle(result, LedgerState::Cancelled).await?;
                plan::set_state(&mut self.status.ledger, RemoteKind::Upload, id, state, now);
                Ok(())
            }
            Cleanup::DeleteOutput(id) => {
                let result = remote.delete_output(id).await;
                let state = self.settle(result, LedgerState::Deleted).await?;
                plan::set_state(&mut self.status.ledger, RemoteKind::Output, id, state, now);
                Ok(())
            }
            Cleanup::DeleteModel(id) => {
                let state = match remote.delete_model(id).await {
                    // Azure OpenAI (a resource from before the config-time refusal): its data
                    // plane cannot delete the model. Say so and let the resource go rather than
                    // hold it Terminating forever.
                    Err(RemoteError::Terminal { code, .. })
                        if code == "model_deletion_unsupported" =>
                    {
                        let msg = format!(
                            "model {id} is kept: the provider cannot delete it through its API; delete it (and its deployments) in the Azure control plane"
                        );
                        self.event(
                            EventType::Warning,
                            Reason::ModelDeletionUnsupported.as_str(),
                            "Delete",
                            msg,
                        )
                        .await;
                        LedgerState::Retained
                    }
                    result => self.settle(result, LedgerState::Deleted).await?,
                };
                plan::set_state(&mut self.status.ledger, RemoteKind::Model, id, state, now);
                Ok(())
            }
        }
    }

    /// Finds remote objects a crashed run created but never recorded, so deletion cleans them up.
    async fn adopt_unrecorded(&mut self) -> Result<(), Error> {
        let uid = self.uid.clone();
        let remote = match self.remote().await? {
            Ok(r) => r,
            Err(_) => return Ok(()),
        };
        let mut files = Vec::new();
        for role in [Role::Training, Role::Validation] {
            for f in remote.find_copies(&plan::copy_ref(&uid, role)).await? {
                files.push((role, f.id));
            }
        }
        let jobs = remote.find_jobs(plan::UID_METADATA_KEY, &uid).await?;
        // A multipart upload a crash left unfinished holds parts (and so data) without being an
        // object: abort it, and say so in the ledger.
        let aborted = remote.abort_unrecorded_uploads(&uid).await?;
        let now = Timestamp::now();
        let mut changed = false;
        for id in aborted {
            changed |= plan::record(
                &mut self.status.ledger,
                RemoteKind::Upload,
                &id,
                None,
                LedgerState::Cancelled,
                now,
            );
        }
        for j in &jobs {
            changed |= plan::record_outputs(&mut self.status.ledger, &j.outputs, now);
        }
        for (role, id) in files {
            if plan::ledger_id(&self.status.ledger, RemoteKind::File, Some(role))
                != Some(id.as_str())
            {
                changed |= plan::record(
                    &mut self.status.ledger,
                    RemoteKind::File,
                    &id,
                    Some(role),
                    LedgerState::Present,
                    now,
                );
            }
        }
        for j in jobs {
            if !self
                .status
                .ledger
                .iter()
                .any(|e| e.kind == RemoteKind::Job && e.id == j.id)
            {
                changed |= plan::record(
                    &mut self.status.ledger,
                    RemoteKind::Job,
                    &j.id,
                    None,
                    plan::job_state(&j.status),
                    now,
                );
            }
        }
        if changed {
            self.save().await?;
        }
        Ok(())
    }

    async fn cleanup(mut self) -> Result<Action, Error> {
        self.ctx.metrics.job_status(&self.uid, None);
        self.ctx.event_cursors.forget(&self.uid);
        let spec = self.governed_spec("Delete").await?;
        if spec.deletion_policy == tunegate_api::DeletionPolicy::Orphan {
            plan::mark_retained(&mut self.status.ledger);
            self.save().await?;
            self.release_slot();
            return Ok(Action::await_change());
        }
        // Objects may exist that a crash kept out of the ledger; only the credentials can tell.
        let in_flight = !plan::cleanup(&spec, &self.status.ledger, Phase::Deleting).is_empty()
            || !tunegate_api::conditions::is_true(&self.status.conditions, types::SUBMITTED);
        if in_flight {
            self.adopt_unrecorded().await?;
        }
        let actions = plan::cleanup(&spec, &self.status.ledger, Phase::Deleting);
        if !actions.is_empty() {
            if let Err((reason, msg)) = self.remote().await? {
                self.set(types::REMOTE_CLEANED_UP, false, reason.clone(), msg);
                self.save().await?;
                return Err(Error::Finalizer(
                    "cannot clean up without credentials".into(),
                ));
            }
            for a in &actions {
                self.run_cleanup(a).await?;
            }
            self.event(
                EventType::Normal,
                "CleanedUp",
                "Delete",
                format!("{} remote operations done", actions.len()),
            )
            .await;
        }
        plan::mark_retained(&mut self.status.ledger);
        self.set(
            types::REMOTE_CLEANED_UP,
            true,
            Reason::CleanedUp,
            "remote objects cleaned up".into(),
        );
        self.save().await?;
        self.release_slot();
        Ok(Action::await_change())
    }

    /// Frees this job's concurrency slot at its config (finished, or deleted).
    fn release_slot(&self) {
        self.ctx.slots.release(&self.uid);
    }

    /// Admission before any new remote work (upload, job creation): the config the job names must
    /// be usable for this namespace, allow the model, and every dataset must meet its redaction
    /// floor and limits. A refusal is a condition; nothing is sent.
    async fn admit(&mut self) -> Result<Option<Action>, Error> {
        let r = self.obj.spec.provider_ref.clone();
        let resolved = match admission::resolve(
            &self.ctx.client,
            &self.ctx.tenancy,
            &self.ns,
            &r,
            admission::Purpose::NewWork,
        )
        .await?
        {
            Ok(x) => x,
            Err(refusal) => {
                return self
                    .blocked(refusal.reason, refusal.message, Duration::from_secs(30))
                    .await;
            }
        };
        let mut datasets: Vec<(&'static str, &TrainingDataset)> = Vec::new();
        if let Some(t) = &self.training {
            datasets.push(("training", t));
        }
        if let Some(v) = &self.validation {
            datasets.push(("validation", v));
        }
        if r.kind == tunegate_api::ProviderConfigKind::ClusterProviderConfig
            && datasets
                .iter()
                .any(|(_, d)| source::has_volume(&d.spec.sources))
        {
            return self
                .blocked(
                    Reason::VolumeSourceNeedsProviderConfig,
                    "volume-source datasets upload through a worker in this namespace, which would need the ClusterProviderConfig's key here; use a namespaced ProviderConfig".into(),
                    Duration::from_secs(300),
                )
                .await;
        }
        if plan::model_deletion_impossible(&resolved.settings.type_, &self.obj.spec) {
            // Refused before anything leaves the cluster: otherwise deleting this resource would
            // wait forever for a deletion Azure's data plane cannot do. `retention` is mutable,
            // so changing it to Retain lets the job go on.
            let msg =
                "retention.model DeleteWithResource cannot be honoured: Azure OpenAI deletes \
                       fine-tuned models only in its control plane (after their deployments); \
                       set retention.model: Retain"
                    .to_string();
            return self
                .blocked(
                    Reason::ModelDeletionUnsupported,
                    msg,
                    Duration::from_secs(300),
                )
                .await;
        }
        let shapes: Vec<capabilities::DatasetShape> = datasets
            .iter()
            .map(|(_, d)| capabilities::DatasetShape {
                format: d.spec.format,
                from_volume: source::has_volume(&d.spec.sources),
            })
            .collect();
        if let Some(msg) = capabilities::refusal(resolved.settings.type_, &self.obj.spec, &shapes) {
            return self
                .blocked(Reason::UnsupportedByProvider, msg, Duration::from_secs(300))
                .await;
        }
        let limit = resolved.settings.limits.concurrent_jobs_per_namespace;
        let active = self
            .ctx
            .slots
            .acquire(&self.ctx.jobs.state(), &r, &self.ns, &self.uid, limit);
        let verdict = admission::admit(
            &resolved,
            &self.obj.spec,
            &self.ns,
            &datasets,
            active,
            Timestamp::now(),
        );
        if let Err(refusal) = verdict {
            self.release_slot();
            let wait = if matches!(
                refusal.reason,
                Reason::ConcurrentJobLimitReached | Reason::TrainedTokenBudgetExceeded
            ) {
                Duration::from_secs(30)
            } else {
                Duration::from_secs(300)
            };
            return self.blocked(refusal.reason, refusal.message, wait).await;
        }
        Ok(None)
    }
}

/// FineTuneJobs in `ns` that use dataset `name`: the watch mapper.
/// The jobs waiting for a provider config (refused at admission, or blocked on its
/// credentials): a change of the config (Ready, a freed concurrency slot in its status, a new
/// key) is worth a reconcile to them. Running and finished jobs are not woken: a config's status
/// changes with every job's usage, and waking them all each time would be a storm.
pub fn jobs_waiting_for_config(
    store: &[Arc<FineTuneJob>],
    kind: tunegate_api::ProviderConfigKind,
    ns: Option<&str>,
    name: &str,
) -> Vec<kube::runtime::reflector::ObjectRef<FineTuneJob>> {
    store
        .iter()
        .filter(|j| j.spec.provider_ref.kind == kind && j.spec.provider_ref.name == name)
        .filter(|j| ns.is_none_or(|ns| j.namespace().as_deref() == Some(ns)))
        .filter(|j| {
            let reason = j
                .status
                .as_ref()
                .and_then(|s| tunegate_api::conditions::reason_of(&s.conditions, types::READY));
            reason.is_some_and(|r| {
                r.is_admission_refusal()
                    || matches!(
                        r,
                        Reason::CredentialsNotFound
                            | Reason::CredentialsRejected
                            | Reason::InvalidProvider
                    )
            })
        })
        .map(|j| kube::runtime::reflector::ObjectRef::from_obj(j.as_ref()))
        .collect()
}

pub fn jobs_using_dataset(
    store: &[Arc<FineTuneJob>],
    ns: &str,
    name: &str,
) -> Vec<kube::runtime::reflector::ObjectRef<FineTuneJob>> {
    store
        .iter()
        .filter(|j| j.namespace().as_deref() == Some(ns))
        .filter(|j| {
            j.spec.training_dataset_ref.name == name
                || j.spec
                    .validation_dataset_ref
                    .as_ref()
                    .is_some_and(|r| r.name == name)
        })
        .map(|j| kube::runtime::reflector::ObjectRef::from_obj(j.as_ref()))
        .collect()
}

/// The datasets a FineTuneJob needs re-validated: those it reads, while its upload is refused
/// with `DatasetChanged`. The dataset controller maps FineTuneJob changes through this, so a digest
/// drift it cannot see itself (e.g. a rotated pseudonymization key in an unlabelled Secret) is
/// re-validated instead of leaving the job waiting forever.
pub fn datasets_to_revalidate(
    job: &FineTuneJob,
) -> Vec<kube::runtime::reflector::ObjectRef<TrainingDataset>> {
    let changed = job.status.as_ref().is_some_and(|s| {
        tunegate_api::conditions::find(&s.conditions, types::UPLOADED).is_some_and(|c| {
            c.status == "False" && Reason::parse(&c.reason) == Reason::DatasetChanged
        })
    });
    let Some(ns) = job.namespace().filter(|_| changed) else {
        return Vec::new();
    };
    std::iter::once(&job.spec.training_dataset_ref)
        .chain(job.spec.validation_dataset_ref.as_ref())
        .map(|r| kube::runtime::reflector::ObjectRef::new(&r.name).within(&ns))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_codes_become_camel_case_reasons() {
        assert_eq!(
            camel_reason("invalid_n_examples"),
            Reason::Provider("InvalidNExamples".into())
        );
        assert_eq!(
            camel_reason("rate_limit_exceeded"),
            Reason::Provider("RateLimitExceeded".into())
        );
        assert_eq!(camel_reason(""), Reason::ProviderError);
        assert_eq!(camel_reason("500"), Reason::ProviderError);
    }

    fn job_with_uploaded(status: &str, reason: &str) -> FineTuneJob {
        serde_yaml::from_str(&format!(
            r#"
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: bot, namespace: team-a}}
spec:
  trainingDatasetRef: {{name: chats}}
  validationDatasetRef: {{name: held-out}}
  model: gpt-4o-mini-2024-07-18
  providerRef: {{name: shared}}
status:
  conditions:
  - {{type: Uploaded, status: "{status}", reason: {reason}, message: m, lastTransitionTime: "2026-01-01T00:00:00Z"}}
"#
        ))
        .expect("fixture")
    }

    #[test]
    fn a_refused_upload_asks_both_datasets_for_revalidation() {
        let refs = datasets_to_revalidate(&job_with_uploaded("False", "DatasetChanged"));
        let names: Vec<_> = refs
            .iter()
            .map(|r| (r.name.as_str(), r.namespace.as_deref()))
            .collect();
        assert_eq!(
            names,
            [("chats", Some("team-a")), ("held-out", Some("team-a"))]
        );
    }

    #[test]
    fn other_upload_states_ask_nothing() {
        for (status, reason) in [("True", "Uploaded"), ("False", "UploadFailed")] {
            assert!(datasets_to_revalidate(&job_with_uploaded(status, reason)).is_empty());
        }
    }

    fn job_waiting(
        ns: &str,
        name: &str,
        kind: &str,
        config: &str,
        ready: &str,
    ) -> Arc<FineTuneJob> {
        Arc::new(
            serde_yaml::from_str(&format!(
                r#"
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: {name}, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: chats}}
  model: gpt-4o-mini-2024-07-18
  providerRef: {{kind: {kind}, name: {config}}}
status:
  conditions:
  - {{type: Ready, status: "False", reason: {ready}, message: m, lastTransitionTime: "2026-01-01T00:00:00Z"}}
"#
            ))
            .expect("fixture"),
        )
    }

    #[test]
    fn a_config_change_wakes_only_the_jobs_it_keeps_waiting() {
        use tunegate_api::ProviderConfigKind::{ClusterProviderConfig, ProviderConfig};
        let store = [
            job_waiting(
                "a",
                "refused",
                "ProviderConfig",
                "p",
                "ProviderConfigNotReady",
            ),
            job_waiting(
                "a",
                "limited",
                "ProviderConfig",
                "p",
                "ConcurrentJobLimitReached",
            ),
            job_waiting("a", "no-key", "ProviderConfig", "p", "CredentialsNotFound"),
            job_waiting("a", "running", "ProviderConfig", "p", "Running"),
            job_waiting(
                "a",
                "other-config",
                "ProviderConfig",
                "q",
                "ProviderConfigNotReady",
            ),
            job_waiting(
                "b",
                "other-ns",
                "ProviderConfig",
                "p",
                "ProviderConfigNotReady",
            ),
            job_waiting(
                "b",
                "cluster",
                "ClusterProviderConfig",
                "p",
                "NamespaceNotAllowed",
            ),
        ];
        let names = |refs: Vec<kube::runtime::reflector::ObjectRef<FineTuneJob>>| {
            refs.into_iter().map(|r| r.name).collect::<Vec<_>>()
        };
        assert_eq!(
            names(jobs_waiting_for_config(
                &store,
                ProviderConfig,
                Some("a"),
                "p"
            )),
            ["refused", "limited", "no-key"]
        );
        assert_eq!(
            names(jobs_waiting_for_config(
                &store,
                ClusterProviderConfig,
                None,
                "p"
            )),
            ["cluster"]
        );
        assert!(jobs_waiting_for_config(&store, ProviderConfig, Some("a"), "none").is_empty());
    }
}
