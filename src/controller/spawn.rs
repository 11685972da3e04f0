//! Starting worker Jobs: the Job, then the ConfigMap with its dataset spec, owned by the Job.
//!
//! The ConfigMap needs the Job's uid for its owner reference (so it is garbage-collected with
//! the Job), so it is created second; the Job's pod waits for its volume until it exists. A crash
//! in between is repaired by [`ensure_spec`], which every reconcile that finds the Job still
//! running calls.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::api::{Api, PostParams};

use super::Error;
use super::worker;
use tunegate_api::TrainingDatasetSpec;

/// Creates the worker Job `manifest` in `ns` and its spec ConfigMap; returns the created Job.
pub async fn create_worker(
    client: &Client,
    ns: &str,
    manifest: &Job,
    spec: &TrainingDatasetSpec,
) -> Result<Job, Error> {
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let job = jobs.create(&PostParams::default(), manifest).await?;
    ensure_spec(client, &job, spec).await?;
    Ok(job)
}

/// Creates the spec ConfigMap of `job` if it is missing (an existing one is left alone: the
/// Job's spec never changes, and neither does what its ConfigMap must say).
pub async fn ensure_spec(
    client: &Client,
    job: &Job,
    spec: &TrainingDatasetSpec,
) -> Result<(), Error> {
    let ns = job
        .metadata
        .namespace
        .as_deref()
        .ok_or(Error::MissingField("namespace"))?;
    let cm = worker::spec_config_map(job, spec)?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    match api.create(&PostParams::default(), &cm).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
