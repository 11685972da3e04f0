//! Pure decisions of the FineTuneJob state machine: which step comes next, what to clean up, how
//! the ledger changes, how long to wait. No Kubernetes or network I/O here.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use tunegate_api::conditions::{self, Reason};
use tunegate_api::{
    DatasetFormat, DeletionPolicy, FileRetention, FineTuneJobSpec, FineTuneJobStatus, LedgerEntry,
    LedgerState, MethodType, ModelRetention, RemoteKind, TrainingDataset,
};

/// Metadata key tagging remote jobs with the resource uid, for adoption after a crash.
pub const UID_METADATA_KEY: &str = "tunegate-uid";

/// A training or validation file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Training,
    Validation,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Training => "training",
            Role::Validation => "validation",
        }
    }
}

/// The upload filename: unique per resource and role, so a restarted controller can find it.
pub fn upload_filename(uid: &str, role: Role) -> String {
    format!("tunegate-{uid}-{}.jsonl", role.as_str())
}

/// The upload filename of one dataset version: `tunegate-<uid>-<digest12>-<role>.jsonl`. The
/// dataset digest's prefix lets adoption after a crash compare content, not only a length.
/// Falls back to [`upload_filename`] for a digest that is not sha256 hex.
pub fn copy_filename(uid: &str, role: Role, dataset_digest: &str) -> String {
    let hex = dataset_digest
        .strip_prefix("sha256:")
        .unwrap_or(dataset_digest);
    match hex.get(..12) {
        Some(short) if short.chars().all(|c| c.is_ascii_hexdigit()) => {
            format!("tunegate-{uid}-{short}-{}.jsonl", role.as_str())
        }
        _ => upload_filename(uid, role),
    }
}

/// The digest prefix in a copy's filename of this uid and role (see [`copy_filename`]), or `None`
/// for the older `tunegate-<uid>-<role>.jsonl` and anything else.
pub fn filename_digest_prefix(uid: &str, role: &str, filename: &str) -> Option<String> {
    filename
        .strip_prefix(&format!("tunegate-{uid}-"))?
        .strip_suffix(&format!("-{role}.jsonl"))
        .filter(|d| d.len() == 12 && d.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_string)
}

/// Which copy of a dataset a role of this resource is, for the provider port (the filename is
/// the older digest-less one; adapters find every version of the uid and role).
pub fn copy_ref(uid: &str, role: Role) -> crate::controller::ports::CopyRef {
    crate::controller::ports::CopyRef {
        uid: uid.to_string(),
        role: role.as_str(),
        filename: upload_filename(uid, role),
    }
}

/// Whether a copy found at the provider holds this dataset version and can be adopted: by the
/// digest prefix its name carries where it has one (content), else by length.
pub fn adoptable(f: &crate::controller::ports::RemoteFile, facts: &DatasetFacts) -> bool {
    match &f.dataset_digest_prefix {
        Some(prefix) => {
            let hex = facts
                .redacted_digest
                .strip_prefix("sha256:")
                .unwrap_or(&facts.redacted_digest);
            !prefix.is_empty() && hex.starts_with(prefix.as_str())
        }
        None => f.bytes == facts.redacted_bytes,
    }
}

/// Records what was stored for a file: the size and digest of the exact bytes at the provider.
pub fn set_stored(ledger: &mut [LedgerEntry], id: &str, bytes: u64, digest: &str) -> bool {
    match ledger
        .iter_mut()
        .find(|e| e.kind == RemoteKind::File && e.id == id)
    {
        Some(e) if e.bytes != Some(bytes) || e.digest.as_deref() != Some(digest) => {
            e.bytes = Some(bytes);
            e.digest = Some(digest.to_string());
            true
        }
        _ => false,
    }
}

/// Records the copies a provider makes for a job (output prefix, result files, checkpoints) that
/// the ledger does not hold yet. Returns true on change.
pub fn record_outputs(
    ledger: &mut Vec<LedgerEntry>,
    outputs: &[crate::controller::ports::RemoteOutput],
    now: Timestamp,
) -> bool {
    let mut changed = false;
    for o in outputs {
        if ledger.iter().any(|e| e.kind == o.kind && e.id == o.id) {
            continue;
        }
        ledger.push(LedgerEntry {
            kind: o.kind,
            id: o.id.clone(),
            purpose: None,
            role: Some(o.role.to_string()),
            bytes: None,
            digest: None,
            state: LedgerState::Present,
            created_at: Some(Time(now)),
            deleted_at: None,
        });
        changed = true;
    }
    changed
}

/// What the controller knows about a Ready dataset and needs for the upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetFacts {
    pub name: String,
    pub redacted_digest: String,
    pub redacted_bytes: u64,
}

/// Whether the referenced datasets can be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatasetCheck {
    Ready {
        training: DatasetFacts,
        validation: Option<DatasetFacts>,
    },
    NotReady {
        reason: Reason,
        message: String,
    },
}

fn facts(ds: &TrainingDataset) -> Result<DatasetFacts, (Reason, String)> {
    let name = ds.metadata.name.clone().unwrap_or_default();
    let Some(st) = ds.status.as_ref() else {
        return Err((
            Reason::DatasetNotReady,
            format!("dataset {name} has not been validated yet"),
        ));
    };
    let current = st.observed_generation == ds.metadata.generation;
    if !current || !conditions::is_true(&st.conditions, conditions::types::READY) {
        let why = conditions::find(&st.conditions, conditions::types::READY)
            .map(|c| c.reason.clone())
            .unwrap_or_else(|| "Pending".to_string());
        return Err((
            Reason::DatasetNotReady,
            format!("dataset {name} is not Ready ({why})"),
        ));
    }
    match (&st.redacted_digest, st.redacted_bytes) {
        (Some(d), Some(b)) => Ok(DatasetFacts {
            name,
            redacted_digest: d.clone(),
            redacted_bytes: b,
        }),
        _ => Err((
            Reason::DatasetNotReady,
            format!("dataset {name} has no digest yet"),
        )),
    }
}

/// Why a dataset of `format` cannot train with `method`, or `None`: DPO takes Preference data,
/// Reinforcement takes Reinforcement prompts, Supervised takes Chat or Completion examples.
pub fn method_format_mismatch(method: MethodType, format: DatasetFormat) -> Option<&'static str> {
    match (method, format) {
        (MethodType::Dpo, DatasetFormat::Preference)
        | (MethodType::Reinforcement, DatasetFormat::Reinforcement)
        | (MethodType::Supervised, DatasetFormat::Chat | DatasetFormat::Completion) => None,
        (MethodType::Dpo, _) => Some("the DPO method needs a Preference dataset"),
        (MethodType::Reinforcement, _) => {
            Some("the Reinforcement method needs a Reinforcement dataset")
        }
        (MethodType::Supervised, DatasetFormat::Preference) => {
            Some("a Preference dataset needs the DPO method")
        }
        (MethodType::Supervised, _) => {
            Some("a Reinforcement dataset needs the Reinforcement method")
        }
    }
}

/// Checks the datasets a job refers to (`None` = not found) against its method.
pub fn check_datasets(
    spec: &FineTuneJobSpec,
    training: Option<&TrainingDataset>,
    validation: Option<Option<&TrainingDataset>>,
) -> DatasetCheck {
    let not_ready = |reason, message| DatasetCheck::NotReady { reason, message };
    let Some(training) = training else {
        return not_ready(
            Reason::DatasetNotFound,
            format!(
                "TrainingDataset {} not found",
                spec.training_dataset_ref.name
            ),
        );
    };
    let datasets: Vec<&TrainingDataset> = std::iter::once(training)
        .chain(validation.flatten())
        .collect();
    for ds in &datasets {
        if let Some(msg) = method_format_mismatch(spec.method.type_, ds.spec.format) {
            return not_ready(Reason::MethodFormatMismatch, msg.to_string());
        }
    }
    let training = match facts(training) {
        Ok(f) => f,
        Err((r, m)) => return not_ready(r, m),
    };
    let validation = match validation {
        None => None,
        Some(None) => {
            let name = spec
                .validation_dataset_ref
                .as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_default();
            return not_ready(
                Reason::DatasetNotFound,
                format!("TrainingDataset {name} not found"),
            );
        }
        Some(Some(v)) => match facts(v) {
            Ok(f) => Some(f),
            Err((r, m)) => return not_ready(r, m),
        },
    };
    DatasetCheck::Ready {
        training,
        validation,
    }
}

/// True for the provider's terminal job states.
pub fn is_terminal(status: &str) -> bool {
    matches!(status, "succeeded" | "failed" | "cancelled")
}

/// The next thing the controller does for a live (not deleting) resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Datasets are missing or not Ready; wait for them.
    WaitForDatasets,
    /// Upload (or adopt) a file.
    Upload(Role),
    /// Create (or adopt) the remote job.
    CreateJob,
    /// Poll the remote job.
    Poll { job_id: String },
    /// The job is terminal: record the model, write output, apply retention.
    Finish { job_id: String },
}

/// The id of the newest ledger entry of a kind (and role for files) that was not deleted.
pub fn ledger_id(ledger: &[LedgerEntry], kind: RemoteKind, role: Option<Role>) -> Option<&str> {
    ledger
        .iter()
        .rev()
        .filter(|e| e.state != LedgerState::Deleted)
        .find(|e| e.kind == kind && role.is_none_or(|r| e.role.as_deref() == Some(r.as_str())))
        .map(|e| e.id.as_str())
}

/// Decides the next step. Once a job exists, dataset readiness no longer matters.
pub fn next_step(spec: &FineTuneJobSpec, status: &FineTuneJobStatus, datasets_ready: bool) -> Step {
    if let Some(job_id) = ledger_id(&status.ledger, RemoteKind::Job, None) {
        let terminal = status
            .remote
            .as_ref()
            .and_then(|r| r.status.as_deref())
            .is_some_and(is_terminal);
        let job_id = job_id.to_string();
        return if terminal {
            Step::Finish { job_id }
        } else {
            Step::Poll { job_id }
        };
    }
    if !datasets_ready {
        return Step::WaitForDatasets;
    }
    if ledger_id(&status.ledger, RemoteKind::File, Some(Role::Training)).is_none() {
        return Step::Upload(Role::Training);
    }
    if spec.validation_dataset_ref.is_some()
        && ledger_id(&status.ledger, RemoteKind::File, Some(Role::Validation)).is_none()
    {
        return Step::Upload(Role::Validation);
    }
    Step::CreateJob
}

/// A remote operation that retention or deletion calls for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cleanup {
    CancelJob(String),
    DeleteFile(String),
    /// An output location (Bedrock's S3 output prefix) or result file: follows the files.
    DeleteOutput(String),
    /// A multipart upload left open (a crash mid-upload): cancelled whatever the retention.
    CancelUpload(String),
    DeleteModel(String),
}

/// When cleanup is being decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The job reached a terminal state; the resource lives on.
    Finished,
    /// The resource is being deleted.
    Deleting,
}

/// What to clean up remotely now, in order (cancel before deleting the files it reads).
pub fn cleanup(spec: &FineTuneJobSpec, ledger: &[LedgerEntry], phase: Phase) -> Vec<Cleanup> {
    let mut out = Vec::new();
    if phase == Phase::Deleting && spec.deletion_policy == DeletionPolicy::Orphan {
        return out;
    }
    if phase == Phase::Deleting {
        for e in ledger {
            if e.kind == RemoteKind::Job && e.state == LedgerState::Running {
                out.push(Cleanup::CancelJob(e.id.clone()));
            }
        }
    }
    // An open upload holds parts of the data without being a file anyone can use.
    for e in ledger {
        if e.kind == RemoteKind::Upload && e.state == LedgerState::Present {
            out.push(Cleanup::CancelUpload(e.id.clone()));
        }
    }
    let delete_files = matches!(
        (spec.retention.training_files, phase),
        (FileRetention::DeleteWhenFinished, _)
            | (FileRetention::DeleteWithResource, Phase::Deleting)
    );
    for e in ledger {
        if e.kind == RemoteKind::File && e.state == LedgerState::Present && delete_files {
            out.push(Cleanup::DeleteFile(e.id.clone()));
        }
    }
    // Outputs only once no job can still write them: after it ended, or after the cancel above
    // (Bedrock stops writing when stopped).
    for e in ledger {
        if e.kind == RemoteKind::Output && e.state == LedgerState::Present && delete_files {
            out.push(Cleanup::DeleteOutput(e.id.clone()));
        }
    }
    if phase == Phase::Deleting && spec.retention.model == ModelRetention::DeleteWithResource {
        for e in ledger {
            if e.kind == RemoteKind::Model && e.state == LedgerState::Present {
                out.push(Cleanup::DeleteModel(e.id.clone()));
            }
        }
    }
    out
}

/// True while deleting this resource could still require provider calls, i.e. while the
/// credentials Secret must not disappear.
pub fn needs_credentials(spec: &FineTuneJobSpec, ledger: &[LedgerEntry]) -> bool {
    !cleanup(spec, ledger, Phase::Deleting).is_empty()
}

/// Whether another job keeps a shared credentials Secret in use: until its clean-up has
/// finished (RemoteCleanedUp=True and nothing left to delete). A job mid-upload has an empty
/// ledger but may create remote objects any moment, so an empty ledger alone proves nothing.
pub fn holds_credentials(
    spec: &FineTuneJobSpec,
    status: Option<&tunegate_api::FineTuneJobStatus>,
) -> bool {
    match status {
        None => true,
        Some(s) => {
            needs_credentials(spec, &s.ledger)
                || !conditions::is_true(&s.conditions, conditions::types::REMOTE_CLEANED_UP)
        }
    }
}

/// Whether a job holds its provider config (and the config's credentials Secret): it may have
/// remote objects, or be about to (mid-upload with an empty ledger), and has not finished
/// clean-up. A job refused at admission has sent nothing and holds nothing.
pub fn holds_config(
    spec: &FineTuneJobSpec,
    status: Option<&tunegate_api::FineTuneJobStatus>,
) -> bool {
    let refused = status.is_some_and(|s| {
        s.ledger.is_empty()
            && conditions::reason_of(&s.conditions, conditions::types::READY)
                .is_some_and(|r| r.is_admission_refusal())
    });
    !refused && holds_credentials(spec, status)
}

/// Marks objects that stay at the provider on purpose once the resource is deleted.
pub fn mark_retained(ledger: &mut [LedgerEntry]) {
    for e in ledger {
        if matches!(e.state, LedgerState::Present | LedgerState::Running) {
            e.state = LedgerState::Retained;
        }
    }
}

/// Records a remote object (idempotent by kind and id).
pub fn record(
    ledger: &mut Vec<LedgerEntry>,
    kind: RemoteKind,
    id: &str,
    role: Option<Role>,
    state: LedgerState,
    now: Timestamp,
) -> bool {
    if ledger.iter().any(|e| e.kind == kind && e.id == id) {
        return set_state(ledger, kind, id, state, now);
    }
    ledger.push(LedgerEntry {
        kind,
        id: id.to_string(),
        purpose: (kind == RemoteKind::File).then(|| "fine-tune".to_string()),
        role: role.map(|r| r.as_str().to_string()),
        bytes: None,
        digest: None,
        state,
        created_at: Some(Time(now)),
        deleted_at: None,
    });
    true
}

/// Updates an entry's state; sets `deletedAt` when it becomes Deleted. Returns true on change.
pub fn set_state(
    ledger: &mut [LedgerEntry],
    kind: RemoteKind,
    id: &str,
    state: LedgerState,
    now: Timestamp,
) -> bool {
    match ledger.iter_mut().find(|e| e.kind == kind && e.id == id) {
        Some(e) if e.state != state => {
            e.state = state;
            if state == LedgerState::Deleted {
                e.deleted_at = Some(Time(now));
            }
            true
        }
        _ => false,
    }
}

/// The ledger state of a job for a provider status word.
/// Whether the spec asks for a model deletion the provider's API cannot do: Azure OpenAI's data
/// plane has no operation to delete a fine-tuned model.
pub fn model_deletion_impossible(
    provider: &tunegate_api::ProviderType,
    spec: &tunegate_api::FineTuneJobSpec,
) -> bool {
    *provider == tunegate_api::ProviderType::AzureOpenAI
        && spec.retention.model == tunegate_api::ModelRetention::DeleteWithResource
}

pub fn job_state(status: &str) -> LedgerState {
    match status {
        "succeeded" => LedgerState::Succeeded,
        "failed" => LedgerState::Failed,
        "cancelled" => LedgerState::Cancelled,
        _ => LedgerState::Running,
    }
}

/// How long to wait before polling a job again, by provider status.
pub fn poll_interval(status: &str, base: Duration) -> Duration {
    let factor = match status {
        "running" => 1,
        "validating_files" | "queued" => 2,
        "paused" => 6,
        _ => 3,
    };
    (base * factor).min(Duration::from_secs(300))
}

/// Metadata for the remote job: the resource uid, so that it can be adopted after a crash.
pub fn job_metadata(uid: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(UID_METADATA_KEY.to_string(), uid.to_string())])
}

/// What to do with the output ConfigMap, given what exists under its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputPlan {
    /// Nothing by that name: create it (create, not apply: a ConfigMap made meanwhile by
    /// someone else makes the create fail instead of being taken over).
    Create,
    /// Ours (controller owner reference with this job's uid), with other data: update it.
    Update,
    /// Ours, already right.
    Unchanged,
    /// Someone else's (no owner reference, or another owner): leave it alone.
    Conflict,
}

/// Decides [`OutputPlan`]. Only an owner reference naming this job's uid as controller makes an
/// existing ConfigMap ours: a name or a label can be copied, a uid cannot be chosen.
pub fn output_plan(
    existing: Option<&k8s_openapi::api::core::v1::ConfigMap>,
    job_uid: &str,
    data: &BTreeMap<String, String>,
) -> OutputPlan {
    let Some(cm) = existing else {
        return OutputPlan::Create;
    };
    let ours = cm
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == job_uid && o.controller == Some(true) && o.kind == "FineTuneJob");
    match (ours, cm.data.as_ref() == Some(data)) {
        (false, _) => OutputPlan::Conflict,
        (true, true) => OutputPlan::Unchanged,
        (true, false) => OutputPlan::Update,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_refused_at_admission_holds_no_config() {
        let spec: FineTuneJobSpec = serde_json::from_value(serde_json::json!({
            "trainingDatasetRef": {"name": "d"},
            "providerRef": {"kind": "ClusterProviderConfig", "name": "p"},
            "model": "gpt-4o-mini-2024-07-18"
        }))
        .unwrap();
        let refused: tunegate_api::FineTuneJobStatus = serde_yaml::from_str(
            "conditions: [{type: Ready, status: \"False\", reason: NamespaceNotAllowed, message: m, lastTransitionTime: \"2026-01-01T00:00:00Z\"}]",
        )
        .unwrap();
        assert!(!holds_config(&spec, Some(&refused)));
        // Without a status it may be mid-upload: it holds.
        assert!(holds_config(&spec, None));
        let uploading: tunegate_api::FineTuneJobStatus = serde_yaml::from_str(
            "conditions: [{type: Ready, status: \"False\", reason: DatasetNotReady, message: m, lastTransitionTime: \"2026-01-01T00:00:00Z\"}]",
        )
        .unwrap();
        assert!(holds_config(&spec, Some(&uploading)));
    }

    #[test]
    fn a_job_mid_upload_keeps_the_shared_credentials() {
        let spec: FineTuneJobSpec = serde_json::from_value(serde_json::json!({
            "trainingDatasetRef": {"name": "d"},
            "providerRef": {"kind": "ProviderConfig", "name": "p"},
            "model": "gpt-4o-mini-2024-07-18"
        }))
        .unwrap();
        // Empty ledger, clean-up not finished: today's ledger-only check let the finalizer go.
        let uploading = tunegate_api::FineTuneJobStatus::default();
        assert!(holds_credentials(&spec, Some(&uploading)));
        assert!(holds_credentials(&spec, None));
        let mut done = tunegate_api::FineTuneJobStatus::default();
        done.conditions.push(
            serde_json::from_value(serde_json::json!({
                "type": "RemoteCleanedUp", "status": "True", "reason": "CleanedUp",
                "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"
            }))
            .unwrap(),
        );
        assert!(!holds_credentials(&spec, Some(&done)));
    }

    #[test]
    fn output_configmaps_of_others_are_never_taken_over() {
        use k8s_openapi::api::core::v1::ConfigMap;
        let data = BTreeMap::from([("model".to_string(), "ft:m".to_string())]);
        let cm = |owner: Option<&str>, d: &BTreeMap<String, String>| -> ConfigMap {
            let mut v = serde_json::json!({"metadata": {"name": "out"}, "data": d});
            if let Some(uid) = owner {
                v["metadata"]["ownerReferences"] = serde_json::json!([{"apiVersion": "tunegate.dev/v1alpha1",
                    "kind": "FineTuneJob", "name": "j", "uid": uid, "controller": true}]);
            }
            serde_json::from_value(v).unwrap()
        };
        let other = BTreeMap::from([("team".to_string(), "config".to_string())]);
        assert_eq!(output_plan(None, "u1", &data), OutputPlan::Create);
        // Today's code force-applied into the team's ConfigMap and made itself its owner.
        assert_eq!(
            output_plan(Some(&cm(None, &other)), "u1", &data),
            OutputPlan::Conflict
        );
        assert_eq!(
            output_plan(Some(&cm(None, &data)), "u1", &data),
            OutputPlan::Conflict
        );
        assert_eq!(
            output_plan(Some(&cm(Some("u2"), &other)), "u1", &data),
            OutputPlan::Conflict
        );
        assert_eq!(
            output_plan(Some(&cm(Some("u1"), &other)), "u1", &data),
            OutputPlan::Update
        );
        assert_eq!(
            output_plan(Some(&cm(Some("u1"), &data)), "u1", &data),
            OutputPlan::Unchanged
        );
    }
    use pretty_assertions::assert_eq;

    fn spec(extra: &str) -> FineTuneJobSpec {
        serde_yaml::from_str(&format!(
            r#"
trainingDatasetRef: {{name: d}}
providerRef: {{name: openai}}
model: gpt-4o-mini-2024-07-18
{extra}
"#
        ))
        .unwrap()
    }

    fn status(y: &str) -> FineTuneJobStatus {
        serde_yaml::from_str(y).unwrap()
    }

    fn dataset(y: &str) -> TrainingDataset {
        serde_yaml::from_str(y).unwrap()
    }

    const READY_DS: &str = r#"
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {name: d, namespace: n, generation: 2}
spec: {format: Chat, sources: [{secret: {name: s, key: k}}]}
status:
  observedGeneration: 2
  redactedDigest: "sha256:ab"
  redactedBytes: 100
  conditions: [{type: Ready, status: "True", reason: Valid, message: ok, lastTransitionTime: "2026-01-01T00:00:00Z"}]
"#;

    #[test]
    fn steps_follow_the_ledger() {
        let s = spec("");
        assert_eq!(next_step(&s, &status("{}"), false), Step::WaitForDatasets);
        assert_eq!(
            next_step(&s, &status("{}"), true),
            Step::Upload(Role::Training)
        );
        let uploaded = status(
            "ledger: [{kind: File, id: file-1, role: training, purpose: fine-tune, state: Present}]",
        );
        assert_eq!(next_step(&s, &uploaded, true), Step::CreateJob);
        // A file deleted before any job existed (the dataset changed mid-upload) is uploaded again.
        let deleted = status(
            "ledger: [{kind: File, id: file-1, role: training, purpose: fine-tune, state: Deleted}]",
        );
        assert_eq!(next_step(&s, &deleted, true), Step::Upload(Role::Training));
        let with_val = spec("validationDatasetRef: {name: v}");
        assert_eq!(
            next_step(&with_val, &uploaded, true),
            Step::Upload(Role::Validation)
        );
        let running = status(
            r#"
remote: {jobID: ftjob-1, status: running}
ledger:
- {kind: File, id: file-1, role: training, state: Present}
- {kind: Job, id: ftjob-1, state: Running}
"#,
        );
        // Once the job exists the dataset no longer gates anything.
        assert_eq!(
            next_step(&s, &running, false),
            Step::Poll {
                job_id: "ftjob-1".into()
            }
        );
        let done = status(
            r#"
remote: {jobID: ftjob-1, status: succeeded}
ledger: [{kind: Job, id: ftjob-1, state: Succeeded}]
"#,
        );
        assert_eq!(
            next_step(&s, &done, true),
            Step::Finish {
                job_id: "ftjob-1".into()
            }
        );
    }

    #[test]
    fn dataset_checks() {
        let s = spec("");
        assert!(matches!(
            check_datasets(&s, None, None),
            DatasetCheck::NotReady {
                reason: Reason::DatasetNotFound,
                ..
            }
        ));
        let ds = dataset(READY_DS);
        assert_eq!(
            check_datasets(&s, Some(&ds), None),
            DatasetCheck::Ready {
                training: DatasetFacts {
                    name: "d".into(),
                    redacted_digest: "sha256:ab".into(),
                    redacted_bytes: 100
                },
                validation: None
            }
        );
        let mut stale = ds.clone();
        stale.metadata.generation = Some(3);
        assert!(matches!(
            check_datasets(&s, Some(&stale), None),
            DatasetCheck::NotReady {
                reason: Reason::DatasetNotReady,
                ..
            }
        ));
        let dpo = spec("method: {type: DPO}");
        assert!(matches!(
            check_datasets(&dpo, Some(&ds), None),
            DatasetCheck::NotReady {
                reason: Reason::MethodFormatMismatch,
                ..
            }
        ));
        let with_val = spec("validationDatasetRef: {name: v}");
        assert!(matches!(
            check_datasets(&with_val, Some(&ds), Some(None)),
            DatasetCheck::NotReady {
                reason: Reason::DatasetNotFound,
                ..
            }
        ));
    }

    #[test]
    fn each_method_takes_its_own_formats() {
        use DatasetFormat as F;
        use MethodType as M;
        for (method, format, ok) in [
            (M::Supervised, F::Chat, true),
            (M::Supervised, F::Completion, true),
            (M::Supervised, F::Preference, false),
            (M::Supervised, F::Reinforcement, false),
            (M::Dpo, F::Preference, true),
            (M::Dpo, F::Chat, false),
            (M::Dpo, F::Reinforcement, false),
            (M::Reinforcement, F::Reinforcement, true),
            (M::Reinforcement, F::Chat, false),
            (M::Reinforcement, F::Preference, false),
        ] {
            assert_eq!(
                method_format_mismatch(method, format).is_none(),
                ok,
                "{method:?} with {format:?}"
            );
        }
    }

    const LEDGER: &str = r#"
ledger:
- {kind: File, id: file-1, role: training, state: Present}
- {kind: Job, id: ftjob-1, state: Running}
- {kind: Model, id: "ft:m", state: Present}
"#;

    #[test]
    fn cleanup_on_finish_deletes_files_only_by_default() {
        let st = status(LEDGER);
        assert_eq!(
            cleanup(&spec(""), &st.ledger, Phase::Finished),
            vec![Cleanup::DeleteFile("file-1".into())]
        );
        let keep = spec("retention: {trainingFiles: DeleteWithResource}");
        assert_eq!(cleanup(&keep, &st.ledger, Phase::Finished), vec![]);
    }

    #[test]
    fn cleanup_on_delete_cancels_first_and_honours_policies() {
        let st = status(LEDGER);
        let all = spec("retention: {model: DeleteWithResource}");
        assert_eq!(
            cleanup(&all, &st.ledger, Phase::Deleting),
            vec![
                Cleanup::CancelJob("ftjob-1".into()),
                Cleanup::DeleteFile("file-1".into()),
                Cleanup::DeleteModel("ft:m".into())
            ]
        );
        let retain = spec("retention: {trainingFiles: Retain}");
        assert_eq!(
            cleanup(&retain, &st.ledger, Phase::Deleting),
            vec![Cleanup::CancelJob("ftjob-1".into())]
        );
        let orphan = spec("deletionPolicy: Orphan");
        assert_eq!(cleanup(&orphan, &st.ledger, Phase::Deleting), vec![]);
        assert!(!needs_credentials(&orphan, &st.ledger));
        assert!(needs_credentials(&spec(""), &st.ledger));
    }

    #[test]
    fn credentials_released_when_only_retained_objects_remain() {
        let st = status(
            r#"
ledger:
- {kind: File, id: file-1, role: training, state: Deleted}
- {kind: Job, id: ftjob-1, state: Succeeded}
- {kind: Model, id: "ft:m", state: Present}
"#,
        );
        assert!(!needs_credentials(&spec(""), &st.ledger));
        assert!(needs_credentials(
            &spec("retention: {model: DeleteWithResource}"),
            &st.ledger
        ));
    }

    #[test]
    fn ledger_records_are_idempotent_and_track_deletion() {
        let now = Timestamp::from_second(5).unwrap();
        let mut l = Vec::new();
        assert!(record(
            &mut l,
            RemoteKind::File,
            "f",
            Some(Role::Training),
            LedgerState::Present,
            now
        ));
        assert!(!record(
            &mut l,
            RemoteKind::File,
            "f",
            Some(Role::Training),
            LedgerState::Present,
            now
        ));
        assert_eq!(l.len(), 1);
        assert!(set_state(
            &mut l,
            RemoteKind::File,
            "f",
            LedgerState::Deleted,
            now
        ));
        assert_eq!(l[0].deleted_at, Some(Time(now)));
        assert!(!set_state(
            &mut l,
            RemoteKind::File,
            "f",
            LedgerState::Deleted,
            now
        ));
        assert_eq!(l[0].role.as_deref(), Some("training"));
    }

    #[test]
    fn polling_backs_off_by_status() {
        let b = Duration::from_secs(10);
        assert_eq!(poll_interval("running", b), b);
        assert_eq!(poll_interval("queued", b), b * 2);
        assert_eq!(poll_interval("something_new", b), b * 3);
        assert_eq!(
            poll_interval("paused", Duration::from_secs(100)),
            Duration::from_secs(300)
        );
        assert!(is_terminal("cancelled") && !is_terminal("paused"));
        assert_eq!(
            upload_filename("u1", Role::Training),
            "tunegate-u1-training.jsonl"
        );
        let name = copy_filename("u1", Role::Validation, "sha256:0123456789abcdef");
        assert_eq!(name, "tunegate-u1-0123456789ab-validation.jsonl");
        assert_eq!(
            filename_digest_prefix("u1", "validation", &name).as_deref(),
            Some("0123456789ab")
        );
        assert_eq!(filename_digest_prefix("u1", "training", &name), None);
        assert_eq!(
            filename_digest_prefix("u1", "training", "tunegate-u1-training.jsonl"),
            None
        );
        assert_eq!(
            copy_filename("u1", Role::Training, "md5:zz"),
            "tunegate-u1-training.jsonl"
        );
    }

    #[test]
    fn adoption_compares_content_where_the_name_carries_it() {
        use crate::controller::ports::RemoteFile;
        let facts = DatasetFacts {
            name: "d".into(),
            redacted_digest: "sha256:0123456789abcdef".into(),
            redacted_bytes: 100,
        };
        let named = |p: &str, bytes| RemoteFile {
            bytes,
            dataset_digest_prefix: Some(p.into()),
            ..RemoteFile::default()
        };
        assert!(adoptable(&named("0123456789ab", 7), &facts));
        // Same length, other content: not adopted.
        assert!(!adoptable(&named("ffffffffffff", 100), &facts));
        assert!(!adoptable(&named("", 100), &facts));
        // An older name without a digest: by length.
        let legacy = |bytes| RemoteFile {
            bytes,
            ..RemoteFile::default()
        };
        assert!(adoptable(&legacy(100), &facts));
        assert!(!adoptable(&legacy(99), &facts));
    }

    #[test]
    fn outputs_and_stored_bytes_are_recorded_once() {
        use crate::controller::ports::RemoteOutput;
        let now = Timestamp::from_second(5).unwrap();
        let mut l = Vec::new();
        record(
            &mut l,
            RemoteKind::File,
            "s3://b/k",
            Some(Role::Training),
            LedgerState::Present,
            now,
        );
        assert!(set_stored(&mut l, "s3://b/k", 10, "sha256:aa"));
        assert!(!set_stored(&mut l, "s3://b/k", 10, "sha256:aa"));
        assert_eq!(l[0].digest.as_deref(), Some("sha256:aa"));
        let outs = [
            RemoteOutput {
                kind: RemoteKind::Output,
                id: "s3://b/p/".into(),
                role: "output",
            },
            RemoteOutput {
                kind: RemoteKind::Model,
                id: "ft:m:ckpt-step-1".into(),
                role: "checkpoint",
            },
        ];
        assert!(record_outputs(&mut l, &outs, now));
        assert!(!record_outputs(&mut l, &outs, now));
        assert_eq!(l.len(), 3);
        // Outputs follow the files; checkpoint models the model.
        let s = spec("retention: {model: DeleteWithResource}");
        assert_eq!(
            cleanup(&s, &l, Phase::Finished),
            vec![
                Cleanup::DeleteFile("s3://b/k".into()),
                Cleanup::DeleteOutput("s3://b/p/".into())
            ]
        );
        assert_eq!(
            cleanup(&s, &l, Phase::Deleting),
            vec![
                Cleanup::DeleteFile("s3://b/k".into()),
                Cleanup::DeleteOutput("s3://b/p/".into()),
                Cleanup::DeleteModel("ft:m:ckpt-step-1".into())
            ]
        );
        let keep = spec("retention: {trainingFiles: Retain}");
        assert_eq!(cleanup(&keep, &l, Phase::Deleting), vec![]);
    }

    #[test]
    fn open_uploads_are_cancelled_whatever_the_retention() {
        let st = status(
            r#"
ledger:
- {kind: Upload, id: upload_1, role: training, state: Present}
- {kind: Upload, id: upload_0, role: training, state: Succeeded}
- {kind: File, id: file-1, role: training, state: Present}
"#,
        );
        let keep = spec("retention: {trainingFiles: Retain}");
        assert_eq!(
            cleanup(&keep, &st.ledger, Phase::Finished),
            vec![Cleanup::CancelUpload("upload_1".into())]
        );
        assert!(needs_credentials(&keep, &st.ledger));
        // Orphan leaves everything, open uploads included.
        assert_eq!(
            cleanup(&spec("deletionPolicy: Orphan"), &st.ledger, Phase::Deleting),
            vec![]
        );
    }

    #[test]
    fn azure_cannot_promise_model_deletion() {
        use tunegate_api::ProviderType::{AzureOpenAI, OpenAI};
        let spec = |model: &str| -> FineTuneJobSpec {
            serde_yaml::from_str(&format!(
                "trainingDatasetRef: {{name: d}}\nproviderRef: {{kind: ClusterProviderConfig, name: p}}\nmodel: gpt-4o-mini\nretention: {{model: {model}}}\n"
            ))
            .unwrap()
        };
        assert!(model_deletion_impossible(
            &AzureOpenAI,
            &spec("DeleteWithResource")
        ));
        assert!(!model_deletion_impossible(&AzureOpenAI, &spec("Retain")));
        assert!(!model_deletion_impossible(
            &OpenAI,
            &spec("DeleteWithResource")
        ));
    }
}
