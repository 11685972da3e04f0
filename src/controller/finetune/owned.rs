//! Ownership checks before the controller acts on a remote object that its own status names.
//!
//! A FineTuneJob's status (its ledger, `remote.jobID`, `remote.trainingFile`) is writable by
//! anyone granted `finetunejobs/status`, and one provider config (one key) is often shared by
//! several namespaces. Trusting status would let a tenant write another team's file id, job id or
//! model into its own ledger and have the operator train on that file, cancel that job, or delete
//! that model with the shared key. So every id that came from status is checked at the provider
//! against what only this resource can have created: files (or S3 objects) named
//! `tunegate-<uid>-...`, jobs with metadata `tunegate-uid: <uid>` (on Bedrock: named
//! `tunegate-<uid>`), and models and outputs (result files, checkpoints, output prefixes) that such
//! a job produced.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;

use super::plan;
use crate::controller::ports::{
    CopyRef, DatasetCopy, JobRequest, Remote, RemoteError, RemoteEvent, RemoteFile, RemoteJob,
    UploadBody, UploadCreated,
};

/// Whether a provider filename (or the last segment of an S3 key) is one this resource's
/// uploads use.
pub fn owns_filename(uid: &str, filename: &str) -> bool {
    // The uid is a UUID, so `tunegate-<uid>-` is never a prefix of another resource's name.
    let base = filename.rsplit('/').next().unwrap_or(filename);
    !uid.is_empty()
        && base
            .strip_prefix("tunegate-")
            .and_then(|rest| rest.strip_prefix(uid))
            .is_some_and(|rest| rest.starts_with('-'))
}

/// Whether a provider job was created by this resource (its creation metadata).
pub fn owns_job(uid: &str, job: &RemoteJob) -> bool {
    !uid.is_empty()
        && job
            .metadata
            .get(plan::UID_METADATA_KEY)
            .is_some_and(|v| v == uid)
}

/// Whether `model` was produced by one of `jobs` (each already known to be this resource's): the
/// job's model, or one of its checkpoint models.
pub fn model_from_jobs(model: &str, jobs: &[RemoteJob]) -> bool {
    jobs.iter().any(|j| {
        j.fine_tuned_model.as_deref() == Some(model)
            || j.outputs
                .iter()
                .any(|o| o.kind == tunegate_api::RemoteKind::Model && o.id == model)
    })
}

/// Whether an output (result file, output prefix) belongs to one of `jobs`.
pub fn output_from_jobs(id: &str, jobs: &[RemoteJob]) -> bool {
    jobs.iter().any(|j| j.outputs.iter().any(|o| o.id == id))
}

/// A `Remote` that refuses (`RemoteError::NotOwned`) to act on objects this resource did not
/// create. Lives for one reconcile, so what it has verified is not trusted for longer.
pub struct OwnedRemote {
    inner: Arc<dyn Remote>,
    uid: String,
    // Ids verified during this reconcile; bounded by the objects one resource creates (a few),
    // and capped anyway so that a hostile status cannot grow them.
    files: Mutex<HashSet<String>>,
    jobs: Mutex<HashSet<String>>,
    // This resource's jobs as the provider describes them (with outputs), read once.
    lineage: tokio::sync::OnceCell<Vec<RemoteJob>>,
}

const MAX_VERIFIED: usize = 64;

fn remember(set: &Mutex<HashSet<String>>, id: &str) {
    if let Ok(mut s) = set.lock()
        && s.len() < MAX_VERIFIED
    {
        s.insert(id.to_string());
    }
}

fn known(set: &Mutex<HashSet<String>>, id: &str) -> bool {
    set.lock().map(|s| s.contains(id)).unwrap_or(false)
}

impl OwnedRemote {
    pub fn new(inner: Arc<dyn Remote>, uid: &str) -> Self {
        Self {
            inner,
            uid: uid.to_string(),
            files: Mutex::default(),
            jobs: Mutex::default(),
            lineage: tokio::sync::OnceCell::new(),
        }
    }

    /// This resource's jobs, found by what only its jobs carry (metadata, or the name derived
    /// from the uid), each read whole (a listing may omit checkpoints).
    async fn lineage(&self) -> Result<&[RemoteJob], RemoteError> {
        let jobs = self
            .lineage
            .get_or_try_init(|| async {
                let mut full = Vec::new();
                for j in self.find_jobs(plan::UID_METADATA_KEY, &self.uid).await? {
                    match self.get_job(&j.id).await {
                        Ok(j) => full.push(j),
                        Err(RemoteError::NotFound) => full.push(j),
                        Err(e) => return Err(e),
                    }
                }
                Ok::<_, RemoteError>(full)
            })
            .await?;
        Ok(jobs)
    }

    async fn check_file(&self, id: &str) -> Result<(), RemoteError> {
        if known(&self.files, id) {
            return Ok(());
        }
        let f = self.inner.get_file(id).await?;
        if !owns_filename(&self.uid, &f.filename) {
            return Err(RemoteError::NotOwned {
                kind: "file",
                id: id.to_string(),
            });
        }
        remember(&self.files, id);
        Ok(())
    }

    fn check_job(&self, job: RemoteJob) -> Result<RemoteJob, RemoteError> {
        if !owns_job(&self.uid, &job) {
            return Err(RemoteError::NotOwned {
                kind: "job",
                id: job.id,
            });
        }
        remember(&self.jobs, &job.id);
        Ok(job)
    }

    async fn check_job_id(&self, id: &str) -> Result<(), RemoteError> {
        if known(&self.jobs, id) {
            return Ok(());
        }
        let job = self.inner.get_job(id).await?;
        self.check_job(job).map(|_| ())
    }
}

impl Remote for OwnedRemote {
    fn find_files(&self, filename: &str) -> BoxFuture<'_, Result<Vec<RemoteFile>, RemoteError>> {
        let filename = filename.to_string();
        Box::pin(async move {
            let files = self.inner.find_files(&filename).await?;
            Ok(files
                .into_iter()
                .filter(|f| owns_filename(&self.uid, &f.filename))
                .inspect(|f| remember(&self.files, &f.id))
                .collect())
        })
    }

    fn upload_file(
        &self,
        filename: String,
        purpose: String,
        len: u64,
        expires_after_secs: u64,
        body: UploadBody,
    ) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        Box::pin(async move {
            let f = self
                .inner
                .upload_file(filename, purpose, len, expires_after_secs, body)
                .await?;
            if owns_filename(&self.uid, &f.filename) {
                remember(&self.files, &f.id);
            }
            Ok(f)
        })
    }

    fn delete_file(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            self.check_file(&id).await?;
            self.inner.delete_file(&id).await
        })
    }

    fn get_file(&self, id: &str) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            self.check_file(&id).await?;
            self.inner.get_file(&id).await
        })
    }

    fn validate_grader(
        &self,
        grader: &serde_json::Value,
    ) -> BoxFuture<'_, Result<(), RemoteError>> {
        // Names no remote object: nothing to check.
        self.inner.validate_grader(grader)
    }

    fn wait_file_ready(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            self.check_file(&id).await?;
            self.inner.wait_file_ready(&id).await
        })
    }

    fn create_job(&self, req: JobRequest) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        Box::pin(async move {
            // Training on another team's (redacted) file would copy their data into our model.
            self.check_file(&req.training_file).await?;
            if let Some(v) = &req.validation_file {
                self.check_file(v).await?;
            }
            let job = self.inner.create_job(req).await?;
            remember(&self.jobs, &job.id);
            Ok(job)
        })
    }

    fn find_jobs(
        &self,
        key: &str,
        value: &str,
    ) -> BoxFuture<'_, Result<Vec<RemoteJob>, RemoteError>> {
        let (key, value) = (key.to_string(), value.to_string());
        Box::pin(async move {
            let jobs = self.inner.find_jobs(&key, &value).await?;
            Ok(jobs
                .into_iter()
                .filter(|j| owns_job(&self.uid, j))
                .inspect(|j| remember(&self.jobs, &j.id))
                .collect())
        })
    }

    fn get_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            let job = self.inner.get_job(&id).await?;
            self.check_job(job)
        })
    }

    fn cancel_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            self.check_job_id(&id).await?;
            self.inner.cancel_job(&id).await
        })
    }

    fn pause_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            self.check_job_id(&id).await?;
            self.inner.pause_job(&id).await
        })
    }

    fn resume_job(&self, id: &str) -> BoxFuture<'_, Result<RemoteJob, RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            self.check_job_id(&id).await?;
            self.inner.resume_job(&id).await
        })
    }

    fn events_after(
        &self,
        job_id: &str,
        after: Option<&str>,
    ) -> BoxFuture<'_, Result<Vec<RemoteEvent>, RemoteError>> {
        let (job_id, after) = (job_id.to_string(), after.map(str::to_string));
        Box::pin(async move {
            self.check_job_id(&job_id).await?;
            self.inner.events_after(&job_id, after.as_deref()).await
        })
    }

    fn delete_model(&self, model: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let model = model.to_string();
        Box::pin(async move {
            // Only a model one of this resource's own jobs produced (found at the provider, not
            // by anything status says).
            if !model_from_jobs(&model, self.lineage().await?) {
                return Err(RemoteError::NotOwned {
                    kind: "model",
                    id: model,
                });
            }
            self.inner.delete_model(&model).await
        })
    }

    fn find_copies(&self, at: &CopyRef) -> BoxFuture<'_, Result<Vec<RemoteFile>, RemoteError>> {
        let mut at = at.clone();
        at.uid = self.uid.clone();
        Box::pin(async move {
            let files = self.inner.find_copies(&at).await?;
            Ok(files
                .into_iter()
                .filter(|f| owns_filename(&self.uid, &f.filename))
                .inspect(|f| remember(&self.files, &f.id))
                .collect())
        })
    }

    fn store_copy(
        &self,
        copy: &DatasetCopy,
        len: u64,
        expires_after_secs: u64,
        body: UploadBody,
        on_upload_created: Option<UploadCreated>,
    ) -> BoxFuture<'_, Result<RemoteFile, RemoteError>> {
        let copy = copy.clone();
        Box::pin(async move {
            let f = self
                .inner
                .store_copy(&copy, len, expires_after_secs, body, on_upload_created)
                .await?;
            if owns_filename(&self.uid, &f.filename) {
                remember(&self.files, &f.id);
            }
            Ok(f)
        })
    }

    fn cancel_upload(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            // A multipart upload to S3 names its key (`key#uploadId`). OpenAI's Uploads API has
            // no call that tells whose an upload is; cancelling one only makes it start over.
            if let Some((key, _)) = id.rsplit_once('#')
                && !owns_filename(&self.uid, key)
            {
                return Err(RemoteError::NotOwned { kind: "upload", id });
            }
            self.inner.cancel_upload(&id).await
        })
    }

    fn delete_output(&self, id: &str) -> BoxFuture<'_, Result<(), RemoteError>> {
        let id = id.to_string();
        Box::pin(async move {
            if !output_from_jobs(&id, self.lineage().await?) {
                return Err(RemoteError::NotOwned { kind: "output", id });
            }
            self.inner.delete_output(&id).await
        })
    }

    fn abort_unrecorded_uploads(
        &self,
        _uid: &str,
    ) -> BoxFuture<'_, Result<Vec<String>, RemoteError>> {
        Box::pin(async move { self.inner.abort_unrecorded_uploads(&self.uid).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const UID: &str = "0d9f3c1e-4b7a-4c2e-9f10-6a5b4c3d2e1f";
    const OTHER: &str = "7e1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";

    fn job(meta: Option<&str>, model: Option<&str>) -> RemoteJob {
        RemoteJob {
            id: "ftjob-1".into(),
            metadata: meta
                .map(|uid| BTreeMap::from([(plan::UID_METADATA_KEY.to_string(), uid.to_string())]))
                .unwrap_or_default(),
            fine_tuned_model: model.map(str::to_string),
            ..RemoteJob::default()
        }
    }

    #[test]
    fn files_are_ours_only_under_our_uid() {
        assert!(owns_filename(
            UID,
            &plan::upload_filename(UID, plan::Role::Training)
        ));
        assert!(owns_filename(
            UID,
            &plan::upload_filename(UID, plan::Role::Validation)
        ));
        assert!(!owns_filename(
            UID,
            &plan::upload_filename(OTHER, plan::Role::Training)
        ));
        // A prefix of our uid, our uid without the separator, or a look-alike name.
        assert!(!owns_filename(
            UID,
            &format!("tunegate-{}-x.jsonl", &UID[..8])
        ));
        assert!(!owns_filename(UID, &format!("tunegate-{UID}.jsonl")));
        assert!(!owns_filename(
            UID,
            &format!("x-tunegate-{UID}-training.jsonl")
        ));
        assert!(!owns_filename(UID, "training.jsonl"));
        assert!(!owns_filename("", "tunegate--training.jsonl"));
        // S3 keys (Bedrock): the last segment decides, whatever the config's prefix.
        assert!(owns_filename(
            UID,
            &format!("team/tunegate-{UID}-0123456789ab-training.jsonl")
        ));
        assert!(!owns_filename(
            UID,
            &format!("team/tunegate-{OTHER}-0123456789ab-training.jsonl")
        ));
        assert!(!owns_filename(
            UID,
            &format!("tunegate-{UID}-x/other.jsonl")
        ));
    }

    #[test]
    fn jobs_are_ours_only_with_our_metadata() {
        assert!(owns_job(UID, &job(Some(UID), None)));
        assert!(!owns_job(UID, &job(Some(OTHER), None)));
        assert!(!owns_job(UID, &job(None, None)));
        assert!(!owns_job("", &job(Some(""), None)));
    }

    #[test]
    fn models_are_ours_only_when_our_job_produced_them() {
        let ours = [job(Some(UID), Some("ft:gpt-4o-mini:acme:a:1"))];
        assert!(model_from_jobs("ft:gpt-4o-mini:acme:a:1", &ours));
        assert!(!model_from_jobs("ft:gpt-4o-mini:acme:b:2", &ours));
        assert!(!model_from_jobs("ft:gpt-4o-mini:acme:a:1", &[]));
        assert!(!model_from_jobs("", &[job(Some(UID), None)]));
        let mut with_outputs = job(Some(UID), Some("ft:m:a:1"));
        with_outputs.outputs = vec![
            crate::controller::ports::RemoteOutput {
                kind: tunegate_api::RemoteKind::Model,
                id: "ft:m:a:1:ckpt-step-10".into(),
                role: "checkpoint",
            },
            crate::controller::ports::RemoteOutput {
                kind: tunegate_api::RemoteKind::Output,
                id: "file-results".into(),
                role: "result",
            },
        ];
        let jobs = [with_outputs];
        assert!(model_from_jobs("ft:m:a:1:ckpt-step-10", &jobs));
        // A result file is an output, not a model.
        assert!(!model_from_jobs("file-results", &jobs));
        assert!(output_from_jobs("file-results", &jobs));
        assert!(!output_from_jobs("file-other", &jobs));
    }
}
