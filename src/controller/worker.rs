//! The worker Job that reads volume sources: manifest building and result parsing (pure).
//!
//! The worker runs the operator's image as `tunegate worker validate`, with every source mounted
//! read-only (PVCs, and Secrets/ConfigMaps the controller already checked for the opt-in label),
//! no service-account token, a hardened securityContext, and reports a small JSON result (counts,
//! digests, codes; well under 4 KB) through its termination message.
//!
//! The dataset spec (with its redaction policy, whose deny-lists can be large) reaches the worker
//! as a file from a ConfigMap the Job owns ([`spec_config_map`]), not an environment variable:
//! one variable may not exceed the kernel's 128 KiB, and the pod spec would show the policy to
//! anyone who can read pods. The ConfigMap is garbage-collected with the Job. Unlike the Job's pod
//! template, a ConfigMap can be edited (or planted under its name) by anyone who may write
//! ConfigMaps in the namespace, so the Job's arguments carry the SHA-256 of the spec
//! (`--spec-digest`) and the worker refuses a file that does not hash to it: a tenant cannot
//! weaken the policy (below a provider config's redaction floor) between validation and upload.
//!
//! The container's memory limit and the worker's `--max-line-bytes` come from one
//! [`WorkerMemory`](tunegate_core::dataset::memory::WorkerMemory), so no line the worker accepts
//! can get it OOM-killed.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, KeyToPath, PersistentVolumeClaimVolumeSource,
    Pod, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile,
    SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use super::Config;
use crate::controller::pipeline::PipelineSummary;
use tunegate_api::TrainingDataset;

/// Where the worker reads the dataset spec (JSON): the `spec.json` key of the Job's spec
/// ConfigMap, mounted read-only.
pub const SPEC_FILE: &str = "/run/tunegate/spec/spec.json";
const SPEC_DIR: &str = "/run/tunegate/spec";
/// Key of the dataset spec in the spec ConfigMap.
pub const SPEC_KEY: &str = "spec.json";

/// The exact text of the spec file, and its `sha256:<hex>` (the worker's `--spec-digest`).
pub fn spec_text(
    spec: &tunegate_api::TrainingDatasetSpec,
) -> Result<(String, String), serde_json::Error> {
    let text = serde_json::to_string(spec)?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())));
    Ok((text, digest))
}

/// Name of the ConfigMap holding a worker Job's dataset spec.
pub fn spec_config_map_name(job_name: &str) -> String {
    crate::sharing::bounded_name(job_name, "-spec", crate::sharing::MAX_NAME)
}

/// The ConfigMap with the dataset spec the worker Job `job` reads, owned by that Job (by uid, so
/// it is deleted with it). Created right after the Job: its pod waits for the volume until then.
pub fn spec_config_map(
    job: &Job,
    spec: &tunegate_api::TrainingDatasetSpec,
) -> Result<k8s_openapi::api::core::v1::ConfigMap, super::Error> {
    let name = job
        .metadata
        .name
        .clone()
        .ok_or(super::Error::MissingField("name"))?;
    let uid = job
        .metadata
        .uid
        .clone()
        .ok_or(super::Error::MissingField("uid"))?;
    let (json, _) = spec_text(spec).map_err(|_| super::Error::MissingField("spec"))?;
    Ok(k8s_openapi::api::core::v1::ConfigMap {
        metadata: ObjectMeta {
            name: Some(spec_config_map_name(&name)),
            namespace: job.metadata.namespace.clone(),
            owner_references: Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
                    name,
                    uid,
                    controller: Some(false),
                    block_owner_deletion: Some(false),
                },
            ]),
            labels: Some(BTreeMap::from([
                (
                    "app.kubernetes.io/managed-by".to_string(),
                    "tunegate".to_string(),
                ),
                (
                    "app.kubernetes.io/component".to_string(),
                    "worker-spec".to_string(),
                ),
            ])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(SPEC_KEY.to_string(), json)])),
        ..Default::default()
    })
}
/// Where source `i` is mounted.
pub fn source_dir(i: usize) -> String {
    format!("/sources/{i}")
}
/// Where the pseudonymization key file is mounted.
pub const KEY_FILE: &str = "/run/tunegate/key/key";

/// The result the worker writes to its termination message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WorkerResult {
    Summary(PipelineSummary),
    Uploaded { id: String, bytes: u64 },
    Error { code: String },
}

impl WorkerResult {
    pub fn parse(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }
}

/// A stable name per dataset generation, so that re-reconciling finds the same Job.
pub fn job_name(tds: &TrainingDataset) -> String {
    job_name_for(tds, None)
}

/// The validation Job's name for this generation, or for re-reading it after an upload found the
/// digest `stale` out of date (one Job per stale digest, see `dataset::revalidate`).
pub fn job_name_for(tds: &TrainingDataset, stale: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(tds.uid().unwrap_or_default().as_bytes());
    h.update(tds.metadata.generation.unwrap_or(0).to_le_bytes());
    if let Some(d) = stale {
        h.update(b"\0stale\0");
        h.update(d.as_bytes());
    }
    let hash = hex::encode(&h.finalize()[..4]);
    let base: String = tds.name_any().chars().take(40).collect();
    format!("{}-validate-{hash}", base.trim_end_matches('-'))
}

fn hardened() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Env var carrying the provider target (JSON: type, endpoint, organization, ...) into the upload
/// worker.
pub const PROVIDER_ENV: &str = "TUNEGATE_PROVIDER_SPEC";
/// Where the upload worker finds the API key.
pub const CREDENTIALS_FILE: &str = "/run/tunegate/credentials/apiKey";

/// Label of validation Jobs: the dataset's uid (with [`GENERATION_LABEL`], how the dataset
/// controller lists the Jobs of one generation).
pub const DATASET_UID_LABEL: &str = "tunegate.dev/dataset-uid";
/// Label of validation Jobs: the dataset generation they read.
pub const GENERATION_LABEL: &str = "tunegate.dev/dataset-generation";

/// The label selector of `tds`'s validation Jobs of its current generation.
pub fn generation_selector(tds: &TrainingDataset) -> String {
    format!(
        "{DATASET_UID_LABEL}={},{GENERATION_LABEL}={}",
        tds.uid().unwrap_or_default(),
        tds.metadata.generation.unwrap_or(0)
    )
}

/// The worker Job that validates a dataset. `key` is the (Secret, key) of the pseudonymization key.
pub fn validate_job(
    tds: &TrainingDataset,
    config: &Config,
    key: Option<(String, String)>,
) -> Result<Job, serde_json::Error> {
    validate_job_named(tds, &job_name(tds), config, key)
}

/// [`validate_job`] under `name` (a re-read has its own, see `job_name_for`).
pub fn validate_job_named(
    tds: &TrainingDataset,
    name: &str,
    config: &Config,
    key: Option<(String, String)>,
) -> Result<Job, serde_json::Error> {
    let owner = tds.controller_owner_ref(&());
    let mut job = build(
        name,
        tds.namespace(),
        owner,
        tds,
        config,
        key,
        None,
        vec!["worker".into(), "validate".into()],
        Vec::new(),
    )?;
    let labels = job.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(DATASET_UID_LABEL.into(), tds.uid().unwrap_or_default());
    labels.insert(
        GENERATION_LABEL.into(),
        tds.metadata.generation.unwrap_or(0).to_string(),
    );
    Ok(job)
}

/// What an upload worker uploads.
#[derive(Clone, Debug)]
pub struct UploadSpec {
    /// Where to upload (no credentials in it).
    pub target: crate::provider::Target,
    /// The (Secret, key) of the config's credentials, mounted as a file.
    pub credentials: (String, String),
    pub filename: String,
    pub expected_bytes: u64,
    pub expected_digest: String,
    pub expires_after_secs: u64,
}

/// A stable upload Job name per resource, role and dataset digest.
pub fn upload_job_name(ftj: &str, uid: &str, role: &str, digest: &str) -> String {
    let mut h = Sha256::new();
    h.update(uid.as_bytes());
    h.update(role.as_bytes());
    h.update(digest.as_bytes());
    let hash = hex::encode(&h.finalize()[..4]);
    let base: String = ftj.chars().take(36).collect();
    format!("{}-upload-{hash}", base.trim_end_matches('-'))
}

/// The worker Job that uploads a volume-source dataset, owned by the FineTuneJob, with the
/// credentials Secret mounted as a file.
#[allow(clippy::too_many_arguments)]
pub fn upload_job(
    name: &str,
    namespace: &str,
    owner: k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    ds: &TrainingDataset,
    config: &Config,
    key: Option<(String, String)>,
    upload: &UploadSpec,
) -> Result<Job, serde_json::Error> {
    build(
        name,
        Some(namespace.to_string()),
        Some(owner),
        ds,
        config,
        key,
        Some(upload.credentials.clone()),
        vec![
            "worker".into(),
            "upload".into(),
            "--api-key-file".into(),
            CREDENTIALS_FILE.into(),
            "--filename".into(),
            upload.filename.clone(),
            "--expected-bytes".into(),
            upload.expected_bytes.to_string(),
            "--expected-digest".into(),
            upload.expected_digest.clone(),
            "--expires-after-secs".into(),
            upload.expires_after_secs.to_string(),
        ],
        vec![(
            PROVIDER_ENV.to_string(),
            serde_json::to_string(&upload.target)?,
        )],
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    name: &str,
    namespace: Option<String>,
    owner: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
    tds: &TrainingDataset,
    config: &Config,
    key: Option<(String, String)>,
    credentials: Option<(String, String)>,
    command: Vec<String>,
    extra_env: Vec<(String, String)>,
) -> Result<Job, serde_json::Error> {
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let mut args = command;
    for (i, s) in tds.spec.sources.iter().enumerate() {
        let vname = format!("source-{i}");
        let file = if let Some(v) = &s.volume {
            volumes.push(Volume {
                name: vname.clone(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: v.claim_name.clone(),
                    read_only: Some(true),
                }),
                ..Default::default()
            });
            format!("{}/{}", source_dir(i), v.path)
        } else if let Some(r) = &s.secret {
            volumes.push(Volume {
                name: vname.clone(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(r.name.clone()),
                    items: Some(vec![KeyToPath {
                        key: r.key.clone(),
                        path: "data".into(),
                        mode: None,
                        user: None,
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            });
            format!("{}/data", source_dir(i))
        } else if let Some(r) = &s.config_map {
            volumes.push(Volume {
                name: vname.clone(),
                config_map: Some(ConfigMapVolumeSource {
                    name: r.name.clone(),
                    items: Some(vec![KeyToPath {
                        key: r.key.clone(),
                        path: "data".into(),
                        mode: None,
                        user: None,
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            });
            format!("{}/data", source_dir(i))
        } else {
            continue;
        };
        mounts.push(VolumeMount {
            name: vname,
            mount_path: source_dir(i),
            read_only: Some(true),
            ..Default::default()
        });
        args.push("--source".into());
        args.push(file);
    }
    if let Some((secret, k)) = key {
        volumes.push(Volume {
            name: "pseudonymization-key".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret),
                items: Some(vec![KeyToPath {
                    key: k,
                    path: "key".into(),
                    mode: None,
                    user: None,
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name: "pseudonymization-key".into(),
            mount_path: "/run/tunegate/key".into(),
            read_only: Some(true),
            ..Default::default()
        });
        args.push("--key-file".into());
        args.push(KEY_FILE.into());
    }
    if let Some((secret, k)) = credentials {
        volumes.push(Volume {
            name: "credentials".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret),
                items: Some(vec![KeyToPath {
                    key: k,
                    path: "apiKey".into(),
                    mode: None,
                    user: None,
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
        mounts.push(VolumeMount {
            name: "credentials".into(),
            mount_path: "/run/tunegate/credentials".into(),
            read_only: Some(true),
            ..Default::default()
        });
    }
    volumes.push(Volume {
        name: "spec".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: spec_config_map_name(name),
            items: Some(vec![KeyToPath {
                key: SPEC_KEY.into(),
                path: SPEC_KEY.into(),
                mode: None,
                user: None,
            }]),
            ..Default::default()
        }),
        ..Default::default()
    });
    mounts.push(VolumeMount {
        name: "spec".into(),
        mount_path: SPEC_DIR.into(),
        read_only: Some(true),
        ..Default::default()
    });
    args.push("--spec-file".into());
    args.push(SPEC_FILE.into());
    args.push("--spec-digest".into());
    args.push(spec_text(&tds.spec)?.1);
    args.push("--max-line-bytes".into());
    args.push(config.worker_memory.max_line.to_string());
    let role = args.get(1).cloned().unwrap_or_default();
    if role == "validate" {
        args.push("--time-budget-seconds".into());
        args.push(config.pipeline_time_budget.as_secs().max(1).to_string());
    }
    args.push("--termination-log".into());
    args.push("/dev/termination-log".into());
    // The Job outlives the pipeline's own budget, so the worker reports the budget itself.
    let deadline = i64::try_from(config.pipeline_time_budget.as_secs())
        .unwrap_or(i64::MAX)
        .saturating_add(600)
        .max(3600);
    let labels = BTreeMap::from([
        (ROLE_LABEL.to_string(), role),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "tunegate".to_string(),
        ),
        (
            "app.kubernetes.io/component".to_string(),
            "worker".to_string(),
        ),
    ]);
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace,
            owner_references: owner.map(|o| vec![o]),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(config.worker_ttl_seconds),
            active_deadline_seconds: Some(deadline),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        run_as_group: Some(65532),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    containers: vec![Container {
                        name: "worker".into(),
                        image: Some(config.worker_image.clone()),
                        args: Some(args),
                        env: Some(
                            extra_env
                                .into_iter()
                                .map(|(name, value)| k8s_openapi::api::core::v1::EnvVar {
                                    name,
                                    value: Some(value),
                                    ..Default::default()
                                })
                                .collect(),
                        ),
                        volume_mounts: Some(mounts),
                        security_context: Some(hardened()),
                        termination_message_policy: Some("File".into()),
                        resources: Some(ResourceRequirements {
                            requests: Some(BTreeMap::from([
                                ("cpu".to_string(), Quantity("100m".into())),
                                ("memory".to_string(), Quantity("64Mi".into())),
                            ])),
                            limits: Some(BTreeMap::from([(
                                "memory".to_string(),
                                Quantity(config.worker_memory.limit_quantity()),
                            )])),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// `Some(true)` once the Job completed, `Some(false)` once it failed, `None` while running.
pub fn job_finished(job: &Job) -> Option<bool> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    for c in conds {
        if c.status == "True" && (c.type_ == "Complete" || c.type_ == "SuccessCriteriaMet") {
            return Some(true);
        }
        if c.status == "True" && (c.type_ == "Failed" || c.type_ == "FailureTarget") {
            return Some(false);
        }
    }
    None
}

/// The label selector of the pods the Job controller made for `job`: its uid, which nobody can
/// choose in advance (the `job-name` label can be put on any pod by anyone who may create pods).
pub fn pod_selector(job: &Job) -> Result<String, super::Error> {
    let uid = job
        .metadata
        .uid
        .as_deref()
        .ok_or(super::Error::MissingField("uid"))?;
    Ok(format!("batch.kubernetes.io/controller-uid={uid}"))
}

/// The worker's result from the pods of `job`: only a pod whose controller owner is that Job
/// (by uid) counts; a forged pod with copied labels is ignored.
pub fn job_result_message(job: &Job, pods: &[Pod]) -> Option<String> {
    let uid = job.metadata.uid.as_deref()?;
    pods.iter()
        .filter(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && o.uid == uid && o.kind == "Job")
        })
        .find_map(termination_message)
}

/// Whether a worker pod of `job` (by controller uid) was killed for exceeding its memory limit.
pub fn oom_killed(job: &Job, pods: &[Pod]) -> bool {
    let Some(uid) = job.metadata.uid.as_deref() else {
        return false;
    };
    pods.iter()
        .filter(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && o.uid == uid && o.kind == "Job")
        })
        .filter_map(|p| p.status.as_ref()?.container_statuses.as_ref())
        .flatten()
        .filter(|c| c.name == "worker")
        .any(|c| {
            [c.state.as_ref(), c.last_state.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(|s| s.terminated.as_ref())
                .any(|t| t.reason.as_deref() == Some("OOMKilled"))
        })
}

/// Label naming a worker's role (`validate` or `upload`): the chart's NetworkPolicies select on
/// it and its admission policy requires it.
pub const ROLE_LABEL: &str = "tunegate.dev/worker-role";

/// The worker container's termination message, if it terminated.
pub fn termination_message(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == "worker")?
        .state
        .as_ref()?
        .terminated
        .as_ref()?
        .message
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_pods_carry_their_role_for_network_policies() {
        let job = validate_job(&tds(), &Config::default(), None).unwrap();
        let labels = job.spec.unwrap().template.metadata.unwrap().labels.unwrap();
        assert_eq!(labels.get(ROLE_LABEL).map(String::as_str), Some("validate"));
    }

    #[test]
    fn results_come_only_from_pods_the_job_controls() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "w", "uid": "job-uid-1"}
        }))
        .unwrap();
        assert_eq!(
            pod_selector(&job).unwrap(),
            "batch.kubernetes.io/controller-uid=job-uid-1"
        );
        let pod = |owner_uid: &str, msg: &str| -> Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "p", "labels": {"job-name": "w"},
                    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "w",
                        "uid": owner_uid, "controller": true}]},
                "status": {"containerStatuses": [{"name": "worker", "image": "i", "imageID": "",
                    "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "message": msg}}}]}
            }))
            .unwrap()
        };
        // A tenant's pod with the Job's name label but not owned by it is not believed.
        let forged = pod("someone-else", r#"{"summary":{"examples":999}}"#);
        let real = pod("job-uid-1", r#"{"error":{"code":"X"}}"#);
        assert_eq!(
            job_result_message(&job, std::slice::from_ref(&forged)),
            None
        );
        assert_eq!(
            job_result_message(&job, &[forged, real]).as_deref(),
            Some(r#"{"error":{"code":"X"}}"#)
        );
    }

    fn tds() -> TrainingDataset {
        serde_yaml::from_str(
            r#"
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {name: vol, namespace: team, uid: 1234, generation: 3}
spec:
  sources:
    - volume: {claimName: datasets, path: team-a/train.jsonl}
    - secret: {name: extra, key: more.jsonl}
"#,
        )
        .unwrap()
    }

    #[test]
    fn worker_job_is_hardened_and_read_only() {
        let job =
            validate_job(&tds(), &Config::default(), Some(("k".into(), "key".into()))).unwrap();
        let v = serde_json::to_value(&job).unwrap();
        let pod = &v["spec"]["template"]["spec"];
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["restartPolicy"], "Never");
        let c = &pod["containers"][0];
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
        assert_eq!(c["securityContext"]["runAsNonRoot"], true);
        assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
        assert_eq!(
            c["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert!(
            c["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["readOnly"] == true)
        );
        assert_eq!(pod["volumes"][0]["persistentVolumeClaim"]["readOnly"], true);
        let (_, spec_digest) = spec_text(&tds().spec).unwrap();
        assert_eq!(
            c["args"],
            serde_json::json!([
                "worker",
                "validate",
                "--source",
                "/sources/0/team-a/train.jsonl",
                "--source",
                "/sources/1/data",
                "--key-file",
                KEY_FILE,
                "--spec-file",
                SPEC_FILE,
                "--spec-digest",
                spec_digest,
                "--max-line-bytes",
                "8388608",
                "--time-budget-seconds",
                "1800",
                "--termination-log",
                "/dev/termination-log"
            ])
        );
        assert!(v["spec"]["ttlSecondsAfterFinished"].as_i64().is_some());
        assert_eq!(
            v["metadata"]["ownerReferences"][0]["kind"],
            "TrainingDataset"
        );
        assert!(job_name(&tds()).starts_with("vol-validate-"));
    }

    #[test]
    fn results_round_trip_and_stay_small() {
        let r = WorkerResult::Summary(PipelineSummary {
            format_errors: (0..10)
                .map(|l| tunegate_api::FormatErrorRef {
                    line: l,
                    code: "missing_assistant_message".into(),
                })
                .collect(),
            source_digest: format!("sha256:{}", "a".repeat(64)),
            redacted_digest: format!("sha256:{}", "b".repeat(64)),
            ..Default::default()
        });
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.len() < 4096);
        assert_eq!(WorkerResult::parse(&s).unwrap(), r);
        assert!(WorkerResult::parse("not json").is_err());
    }

    #[test]
    fn the_memory_limit_and_the_line_cap_come_from_one_setting() {
        let config = Config {
            worker_memory: tunegate_core::dataset::memory::WorkerMemory::resolve(
                Some(1 << 30),
                None,
            )
            .unwrap(),
            ..Config::default()
        };
        let job = validate_job(&tds(), &config, None).unwrap();
        let c = &job.spec.unwrap().template.spec.unwrap().containers[0];
        let limit = &c.resources.as_ref().unwrap().limits.as_ref().unwrap()["memory"];
        assert_eq!(limit.0, "1024Mi");
        let args = c.args.as_ref().unwrap();
        let at = args.iter().position(|a| a == "--max-line-bytes").unwrap();
        let cap: u64 = args[at + 1].parse().unwrap();
        assert_eq!(cap, 56 * 1024 * 1024);
        assert!(tunegate_core::dataset::memory::memory_for_max_line(cap) <= 1 << 30);
    }

    #[test]
    fn the_spec_reaches_the_worker_as_a_file_never_in_the_environment() {
        let mut d = tds();
        // A deny-list larger than the kernel's 128 KiB limit for one environment variable.
        d.spec.redaction.deny_list = vec![tunegate_api::DenyList {
            name: "CUSTOMER".into(),
            terms: (0..20_000)
                .map(|i| format!("customer-name-{i:08}"))
                .collect(),
        }];
        let job = validate_job(&d, &Config::default(), None).unwrap();
        let v = serde_json::to_value(&job).unwrap();
        let pod = &v["spec"]["template"]["spec"];
        let text = serde_json::to_string(pod).unwrap();
        assert!(
            !text.contains("customer-name-"),
            "the policy is not in the pod spec"
        );
        assert!(pod["containers"][0]["env"].as_array().unwrap().is_empty());
        let spec_volume = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "spec")
            .unwrap();
        let cm_name = spec_config_map_name(&job_name(&d));
        assert_eq!(spec_volume["configMap"]["name"], cm_name.as_str());
        // The ConfigMap, owned by the created Job, holds exactly the text the digest covers.
        let mut created = job.clone();
        created.metadata.uid = Some("job-uid".into());
        let cm = spec_config_map(&created, &d.spec).unwrap();
        assert_eq!(cm.metadata.name.as_deref(), Some(cm_name.as_str()));
        let owner = &cm.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Job", "job-uid")
        );
        let text = &cm.data.as_ref().unwrap()[SPEC_KEY];
        assert!(text.len() > 128 * 1024);
        let (expected, digest) = spec_text(&d.spec).unwrap();
        assert_eq!(text, &expected);
        let args = pod["containers"][0]["args"].as_array().unwrap();
        let at = args.iter().position(|a| a == "--spec-digest").unwrap();
        assert_eq!(args[at + 1], digest.as_str());
    }

    #[test]
    fn an_oom_killed_worker_is_told_apart() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "w", "uid": "job-uid-1"}
        }))
        .unwrap();
        let pod = |owner: &str, reason: &str| -> Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "p", "ownerReferences": [{"apiVersion": "batch/v1",
                    "kind": "Job", "name": "w", "uid": owner, "controller": true}]},
                "status": {"containerStatuses": [{"name": "worker", "image": "i", "imageID": "",
                    "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 137, "reason": reason}}}]}
            }))
            .unwrap()
        };
        assert!(oom_killed(&job, &[pod("job-uid-1", "OOMKilled")]));
        assert!(!oom_killed(&job, &[pod("job-uid-1", "Error")]));
        assert!(!oom_killed(&job, &[pod("someone-else", "OOMKilled")]));
    }

    #[test]
    fn re_reads_have_their_own_job_names() {
        let d = tds();
        assert_eq!(job_name(&d), job_name_for(&d, None));
        let a = job_name_for(&d, Some("sha256:aa"));
        assert_ne!(a, job_name(&d));
        assert_ne!(a, job_name_for(&d, Some("sha256:bb")));
        assert!(a.starts_with("vol-validate-") && a.len() <= 63);
        let job = validate_job_named(&d, &a, &Config::default(), None).unwrap();
        let labels = job.metadata.labels.unwrap();
        assert_eq!(labels[DATASET_UID_LABEL], "1234");
        assert_eq!(labels[GENERATION_LABEL], "3");
        assert_eq!(
            generation_selector(&d),
            "tunegate.dev/dataset-uid=1234,tunegate.dev/dataset-generation=3"
        );
    }
}
