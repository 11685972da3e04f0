//! When a volume dataset must be read again although its verdict for this generation stands
//! (pure).
//!
//! Volumes send no change notifications, so a volume dataset is read once per generation. When
//! its files change afterwards, the upload worker's digest gate refuses the upload and the
//! FineTuneJob says so (`Uploaded=False`, reason `DatasetChanged`, the message naming the digest
//! it found stale). That request is what re-reads the volume: the validation worker Job for it is
//! named after the stale digest, so each stale digest is re-read once (a finished Job stands for
//! its TTL), never in a loop, and a re-read that finds new data gives the job a new digest to
//! upload under.

use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;

use crate::controller::worker;

use tunegate_api::conditions::{Reason, types};
use tunegate_api::{FineTuneJob, TrainingDataset};

/// The dataset's current redacted digest, when a FineTuneJob in its namespace that reads it
/// found that digest stale; `None` otherwise.
pub fn stale_digest(tds: &TrainingDataset, jobs: &[Arc<FineTuneJob>]) -> Option<String> {
    let digest = tds.status.as_ref()?.redacted_digest.as_deref()?;
    let ns = tds.namespace();
    let name = tds.name_any();
    let refused = jobs.iter().any(|j| {
        j.namespace() == ns
            && (j.spec.training_dataset_ref.name == name
                || j.spec
                    .validation_dataset_ref
                    .as_ref()
                    .is_some_and(|r| r.name == name))
            && j.status.as_ref().is_some_and(|s| {
                tunegate_api::conditions::find(&s.conditions, types::UPLOADED).is_some_and(|c| {
                    c.status == "False"
                        && Reason::parse(&c.reason) == Reason::DatasetChanged
                        && c.message.contains(digest)
                })
            })
    });
    refused.then(|| digest.to_string())
}

/// Which validation worker Job gives this reconcile its verdict.
#[derive(Debug, PartialEq)]
pub enum WorkerChoice<'a> {
    /// This existing Job.
    Use(&'a Job),
    /// None yet: create one with this name.
    Create(String),
}

/// The worker Job for `tds`, among `jobs` (its validation Jobs of this generation, from the
/// `DATASET_UID_LABEL`/`GENERATION_LABEL` selector). A re-read for a stale digest has its own
/// Job; otherwise the newest Job of the generation (a re-read under way, while the status shows
/// `WorkerRunning` and no digest) or, if none, the generation's first.
pub fn choose<'a>(tds: &TrainingDataset, stale: Option<&str>, jobs: &'a [Job]) -> WorkerChoice<'a> {
    let live = || {
        jobs.iter()
            .filter(|j| j.metadata.deletion_timestamp.is_none())
    };
    if let Some(d) = stale {
        let name = worker::job_name_for(tds, Some(d));
        return match live().find(|j| j.metadata.name.as_deref() == Some(name.as_str())) {
            Some(j) => WorkerChoice::Use(j),
            None => WorkerChoice::Create(name),
        };
    }
    match live().max_by(|a, b| {
        a.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0)
            .cmp(&b.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    }) {
        Some(j) => WorkerChoice::Use(j),
        None => WorkerChoice::Create(worker::job_name(tds)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn dataset(digest: Option<&str>) -> TrainingDataset {
        let mut d: TrainingDataset = serde_yaml::from_str(
            r#"
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {name: chats, namespace: team-a, uid: u1, generation: 2}
spec:
  sources: [{volume: {claimName: data, path: train.jsonl}}]
"#,
        )
        .unwrap();
        d.status = Some(tunegate_api::TrainingDatasetStatus {
            observed_generation: Some(2),
            redacted_digest: digest.map(str::to_string),
            ..Default::default()
        });
        d
    }

    fn job(ns: &str, dataset: &str, status: &str, reason: &str, message: &str) -> Arc<FineTuneJob> {
        Arc::new(
            serde_yaml::from_str(&format!(
                r#"
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: bot, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: other}}
  validationDatasetRef: {{name: {dataset}}}
  model: gpt-4o-mini-2024-07-18
  providerRef: {{name: shared}}
status:
  conditions:
  - {{type: Uploaded, status: "{status}", reason: {reason}, message: "{message}", lastTransitionTime: "2026-01-01T00:00:00Z"}}
"#
            ))
            .unwrap(),
        )
    }

    fn changed(digest: &str) -> String {
        format!("the data of dataset chats no longer hashes to {digest}; waiting for re-validation")
    }

    #[test]
    fn a_job_refused_for_the_current_digest_asks_for_a_re_read() {
        let jobs = vec![job(
            "team-a",
            "chats",
            "False",
            "DatasetChanged",
            &changed(DIGEST),
        )];
        assert_eq!(
            stale_digest(&dataset(Some(DIGEST)), &jobs).as_deref(),
            Some(DIGEST)
        );
    }

    #[test]
    fn nothing_else_asks_for_a_re_read() {
        let d = dataset(Some(DIGEST));
        let other = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
        for jobs in [
            // Another namespace, or a job reading other datasets.
            vec![job(
                "team-b",
                "chats",
                "False",
                "DatasetChanged",
                &changed(DIGEST),
            )],
            vec![job(
                "team-a",
                "logs",
                "False",
                "DatasetChanged",
                &changed(DIGEST),
            )],
            // A refusal of an older digest: the re-read already happened, the job has yet to
            // try the new one (asking again would re-read in a loop).
            vec![job(
                "team-a",
                "chats",
                "False",
                "DatasetChanged",
                &changed(other),
            )],
            // Other upload states.
            vec![job("team-a", "chats", "True", "Uploaded", DIGEST)],
            vec![job("team-a", "chats", "False", "WorkerUploading", DIGEST)],
            vec![],
        ] {
            assert_eq!(stale_digest(&d, &jobs), None);
        }
        // No digest yet (never valid): nothing to re-read for.
        let jobs = vec![job(
            "team-a",
            "chats",
            "False",
            "DatasetChanged",
            &changed(DIGEST),
        )];
        assert_eq!(stale_digest(&dataset(None), &jobs), None);
    }

    fn worker_job(name: &str, created: &str) -> Job {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "creationTimestamp": created}
        }))
        .unwrap()
    }

    #[test]
    fn a_re_read_has_its_own_job_and_is_found_again_while_it_runs() {
        let d = dataset(Some(DIGEST));
        let first = worker::job_name(&d);
        let reread = worker::job_name_for(&d, Some(DIGEST));
        assert_ne!(first, reread);
        let jobs = vec![worker_job(&first, "2026-01-01T00:00:00Z")];
        // The refusal asks for the re-read's Job, which does not exist yet.
        assert_eq!(
            choose(&d, Some(DIGEST), &jobs),
            WorkerChoice::Create(reread.clone())
        );
        // While it runs the status has no digest (no stale one either): the newest Job, the
        // re-read, still gives the verdict, not the generation's first Job.
        let jobs = vec![
            worker_job(&first, "2026-01-01T00:00:00Z"),
            worker_job(&reread, "2026-01-01T00:05:00Z"),
        ];
        let running = dataset(None);
        assert_eq!(choose(&running, None, &jobs), WorkerChoice::Use(&jobs[1]));
        // Asked again for the same digest: the same Job (one re-read per stale digest).
        assert_eq!(choose(&d, Some(DIGEST), &jobs), WorkerChoice::Use(&jobs[1]));
        // A new generation starts with its first Job.
        assert_eq!(choose(&running, None, &[]), WorkerChoice::Create(first));
    }
}
