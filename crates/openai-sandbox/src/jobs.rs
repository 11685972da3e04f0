//! Fine-tuning jobs: the state machine validating_files -> queued -> running -> succeeded | failed
//! | cancelled (plus `paused`), laid out at creation as a timeline of milestones over
//! `--job-seconds` of un-paused time, and applied lazily as time passes.

use serde_json::{Map, Value, json};

use super::blob::Blob;
use super::error::Flavor;
use super::state::{FileRec, ModelRec, State};
use super::validate::FormatFailure;

/// Fractions of the job's duration at which the stages end.
const VALIDATED_AT: f64 = 0.15;
const STARTED_AT: f64 = 0.25;
const TRAINING_SPAN: f64 = 0.70;
const FORCED_FAILURE_AT: f64 = 0.6;
/// OpenAI keeps the checkpoints of the last three epochs.
const KEPT_CHECKPOINT_EPOCHS: u64 = 3;

pub struct JobCtx {
    pub job_seconds: f64,
    pub org_name: String,
    pub org_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodType {
    Supervised,
    Dpo,
    Reinforcement,
}

impl MethodType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Supervised => "supervised",
            Self::Dpo => "dpo",
            Self::Reinforcement => "reinforcement",
        }
    }
}

#[derive(Clone, Debug)]
enum Milestone {
    Validated,
    Started,
    Metric(u64),
    Checkpoint(u64),
    ForcedFailure,
    Succeeded,
}

#[derive(Clone, Debug)]
pub struct EventRec {
    pub id: String,
    pub created_at: i64,
    pub level: &'static str,
    pub message: String,
    pub metrics: Option<Value>,
}

impl EventRec {
    pub fn json(&self) -> Value {
        json!({
            "object": "fine_tuning.job.event",
            "id": self.id,
            "created_at": self.created_at,
            "level": self.level,
            "message": self.message,
            "type": if self.metrics.is_some() { "metrics" } else { "message" },
            "data": self.metrics.clone().unwrap_or_else(|| json!({})),
        })
    }
}

#[derive(Clone, Debug)]
pub struct CheckpointRec {
    pub id: String,
    pub created_at: i64,
    pub model: String,
    pub step: u64,
    pub metrics: Value,
    pub job_id: String,
}

impl CheckpointRec {
    pub fn json(&self) -> Value {
        json!({
            "object": "fine_tuning.job.checkpoint",
            "id": self.id,
            "created_at": self.created_at,
            "fine_tuned_model_checkpoint": self.model,
            "step_number": self.step,
            "metrics": self.metrics,
            "fine_tuning_job_id": self.job_id,
        })
    }
}

/// What a job was asked to do, validated by the route handler.
pub struct JobSpec {
    pub model: String,
    pub training_file: String,
    pub training_bytes: u64,
    pub validation_file: Option<String>,
    pub method: MethodType,
    /// Requested hyperparameters of the method (values may be "auto").
    pub hyperparameters: Map<String, Value>,
    /// The rest of `method.<type>` (e.g. the grader), echoed back.
    pub method_extra: Map<String, Value>,
    pub suffix: Option<String>,
    pub seed: i64,
    pub metadata: Option<Map<String, Value>>,
    pub integrations: Value,
    pub force_failure: bool,
    /// Azure's `trainingType` (standard, globalstandard, developer), echoed back when given.
    pub training_type: Option<String>,
}

pub type Validation = Result<u64, (FormatFailure, &'static str)>;

pub struct JobRec {
    pub id: String,
    pub flavor: Flavor,
    pub seq: u64,
    pub created: f64,
    pub spec: JobSpec,
    /// Outcome of validating the files (computed in the background, revealed at the end of the
    /// `validating_files` stage): Ok(examples) or the failure and the parameter it concerns.
    validation: Option<Validation>,
    /// When the validation outcome became known (virtual time).
    validation_ready_at: f64,
    pub status: String,
    pub resolved: Option<Map<String, Value>>,
    pub paused_since: Option<f64>,
    pub paused_total: f64,
    pub finished_at: Option<i64>,
    pub error: Option<Value>,
    pub fine_tuned_model: Option<String>,
    planned_model: String,
    pub result_files: Vec<String>,
    pub trained_tokens: Option<u64>,
    pub events: Vec<EventRec>,
    pub checkpoints: Vec<CheckpointRec>,
    milestones: Vec<(f64, Milestone)>,
    next: usize,
    total_steps: u64,
    n_epochs: u64,
    organization_id: String,
    span: f64,
}

fn is_terminal_status(s: &str) -> bool {
    matches!(s, "succeeded" | "failed" | "cancelled")
}

impl JobRec {
    pub fn is_terminal(&self) -> bool {
        is_terminal_status(&self.status)
    }

    pub fn create(st: &mut State, flavor: Flavor, spec: JobSpec, now: f64, ctx: &JobCtx) -> String {
        let id = match flavor {
            Flavor::OpenAI => format!("ftjob-{}", st.ids.random(24)),
            Flavor::Azure => format!("ftjob-{}", st.ids.hex(32)),
        };
        let seq = st.ids.next_seq();
        let suffix = spec.suffix.clone().unwrap_or_default();
        let planned_model = match flavor {
            Flavor::OpenAI => {
                let base = spec
                    .model
                    .strip_prefix("ft:")
                    .and_then(|m| m.split(':').next())
                    .unwrap_or(&spec.model);
                format!("ft:{base}:{}:{suffix}:{}", ctx.org_name, st.ids.random(8))
            }
            Flavor::Azure => {
                let hex = id.trim_start_matches("ftjob-");
                if suffix.is_empty() {
                    format!("{}.ft-{hex}", spec.model)
                } else {
                    format!("{}.ft-{hex}-{suffix}", spec.model)
                }
            }
        };
        let mut job = JobRec {
            id: id.clone(),
            flavor,
            seq,
            created: now,
            status: "validating_files".into(),
            resolved: None,
            paused_since: None,
            paused_total: 0.0,
            finished_at: None,
            error: None,
            fine_tuned_model: None,
            planned_model,
            result_files: Vec::new(),
            trained_tokens: None,
            events: Vec::new(),
            checkpoints: Vec::new(),
            milestones: Vec::new(),
            next: 0,
            total_steps: 0,
            n_epochs: 0,
            organization_id: ctx.org_id.clone(),
            span: ctx.job_seconds.max(0.0),
            spec,
            validation: None,
            validation_ready_at: now,
        };
        job.milestones = vec![(VALIDATED_AT, Milestone::Validated)];
        let ts = now as i64;
        job.event(
            st,
            ts,
            "info",
            format!("Created fine-tuning job: {id}"),
            None,
        );
        let msg = match &job.spec.validation_file {
            Some(v) => format!(
                "Validating training file: {} and validation file: {v}",
                job.spec.training_file
            ),
            None => format!("Validating training file: {}", job.spec.training_file),
        };
        job.event(st, ts, "info", msg, None);
        st.jobs.insert(id.clone(), job);
        id
    }

    /// Lay out training once the files are validated.
    fn plan_training(&mut self, examples: u64) {
        let mut ms = Vec::new();
        let hp = &self.spec.hyperparameters;
        let n_epochs = hp
            .get("n_epochs")
            .and_then(Value::as_u64)
            .unwrap_or(3)
            .max(1);
        let batch = hp
            .get("batch_size")
            .and_then(Value::as_u64)
            .unwrap_or_else(|| ((examples as f64 * 0.002).ceil() as u64).clamp(1, 256))
            .max(1);
        let steps_per_epoch = examples.div_ceil(batch).max(1);
        let total = steps_per_epoch * n_epochs;
        let mut resolved = Map::new();
        resolved.insert("n_epochs".into(), json!(n_epochs));
        resolved.insert("batch_size".into(), json!(batch));
        let lr = hp
            .get("learning_rate_multiplier")
            .filter(|v| v.is_number())
            .cloned()
            .unwrap_or(json!(1.8));
        resolved.insert("learning_rate_multiplier".into(), lr);
        if self.spec.method == MethodType::Dpo {
            let beta = hp
                .get("beta")
                .filter(|v| v.is_number())
                .cloned()
                .unwrap_or(json!(0.1));
            resolved.insert("beta".into(), beta);
        }
        for (k, v) in hp {
            resolved.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self.resolved = Some(resolved);
        self.total_steps = total;
        self.n_epochs = n_epochs;
        ms.push((STARTED_AT, Milestone::Started));
        let mut steps: Vec<u64> = (1..=n_epochs).map(|e| e * steps_per_epoch).collect();
        steps.extend((1..=8).map(|k| (total * k / 8).max(1)));
        steps.sort_unstable();
        steps.dedup();
        for s in steps {
            let at = STARTED_AT + TRAINING_SPAN * s as f64 / total as f64;
            ms.push((at, Milestone::Metric(s)));
            if s % steps_per_epoch == 0 && s / steps_per_epoch + KEPT_CHECKPOINT_EPOCHS > n_epochs {
                ms.push((at, Milestone::Checkpoint(s)));
            }
        }
        if self.spec.force_failure {
            ms.push((FORCED_FAILURE_AT, Milestone::ForcedFailure));
        }
        ms.push((1.0, Milestone::Succeeded));
        ms.sort_by(|a, b| a.0.total_cmp(&b.0));
        self.milestones.extend(ms);
    }

    fn event(
        &mut self,
        st: &mut State,
        ts: i64,
        level: &'static str,
        message: String,
        metrics: Option<Value>,
    ) {
        let id = st.ids.ordered("ftevent-", 16);
        self.events.push(EventRec {
            id,
            created_at: ts,
            level,
            message,
            metrics,
        });
    }

    pub fn set_validation(&mut self, outcome: Validation, now: f64) {
        self.validation = Some(outcome);
        self.validation_ready_at = now.max(self.created);
    }

    /// Seconds of un-paused time since creation.
    fn active_elapsed(&self, now: f64) -> f64 {
        let paused_now = self.paused_since.map_or(0.0, |p| now - p);
        now - self.created - self.paused_total - paused_now
    }

    fn metrics_at(&self, step: u64) -> (f64, f64) {
        // Deterministic pseudo-noise from the seed and the step (splitmix64).
        let mut z = (self.spec.seed as u64) ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let noise = (z % 1000) as f64 / 1000.0 * 0.1;
        let progress = step as f64 / self.total_steps.max(1) as f64;
        let loss = 2.0 * (-3.0 * progress).exp() + 0.1 + noise;
        let acc = (1.0 - loss / 2.5).clamp(0.0, 1.0);
        (
            (loss * 10000.0).round() / 10000.0,
            (acc * 10000.0).round() / 10000.0,
        )
    }

    pub fn pause(&mut self, st: &mut State, now: f64) -> bool {
        if self.status != "running" {
            return false;
        }
        self.status = "paused".into();
        self.paused_since = Some(now);
        self.event(
            st,
            now as i64,
            "info",
            "Fine-tuning job paused".into(),
            None,
        );
        true
    }

    pub fn resume(&mut self, st: &mut State, now: f64) -> bool {
        let Some(since) = self.paused_since.take() else {
            return false;
        };
        self.paused_total += now - since;
        self.status = "running".into();
        self.event(
            st,
            now as i64,
            "info",
            "Fine-tuning job resumed".into(),
            None,
        );
        true
    }

    pub fn cancel(&mut self, st: &mut State, now: f64) -> bool {
        if self.is_terminal() {
            return false;
        }
        if let Some(since) = self.paused_since.take() {
            self.paused_total += now - since;
        }
        self.status = "cancelled".into();
        self.event(
            st,
            now as i64,
            "info",
            "Fine-tuning job cancelled".into(),
            None,
        );
        true
    }

    pub fn json(&self) -> Value {
        let requested = |k: &str| {
            self.spec
                .hyperparameters
                .get(k)
                .cloned()
                .unwrap_or(json!("auto"))
        };
        let hp_source = self
            .resolved
            .as_ref()
            .filter(|_| self.status != "validating_files" && self.status != "queued");
        let pick = |k: &str| {
            hp_source
                .and_then(|r| r.get(k).cloned())
                .unwrap_or_else(|| requested(k))
        };
        let top = json!({
            "n_epochs": pick("n_epochs"),
            "batch_size": pick("batch_size"),
            "learning_rate_multiplier": pick("learning_rate_multiplier"),
        });
        let mut method_hp = Map::new();
        let keys: &[&str] = match self.spec.method {
            MethodType::Supervised => &["n_epochs", "batch_size", "learning_rate_multiplier"],
            MethodType::Dpo => &["n_epochs", "batch_size", "learning_rate_multiplier", "beta"],
            MethodType::Reinforcement => &["n_epochs", "batch_size", "learning_rate_multiplier"],
        };
        for k in keys {
            method_hp.insert((*k).into(), pick(k));
        }
        for (k, v) in &self.spec.hyperparameters {
            method_hp.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let mut inner = self.spec.method_extra.clone();
        inner.insert("hyperparameters".into(), Value::Object(method_hp));
        let mut method = Map::new();
        method.insert("type".into(), json!(self.spec.method.as_str()));
        method.insert(self.spec.method.as_str().into(), Value::Object(inner));
        let running = matches!(
            self.status.as_str(),
            "running" | "queued" | "validating_files"
        );
        let estimated_finish =
            running.then(|| (self.created + self.paused_total + self.span).ceil() as i64);
        let mut out = json!({
            "object": "fine_tuning.job",
            "id": self.id,
            "model": self.spec.model,
            "created_at": self.created as i64,
            "finished_at": self.finished_at,
            "fine_tuned_model": self.fine_tuned_model,
            "organization_id": self.organization_id,
            "result_files": self.result_files,
            "status": self.status,
            "validation_file": self.spec.validation_file,
            "training_file": self.spec.training_file,
            "hyperparameters": top,
            "trained_tokens": self.trained_tokens,
            "error": self.error,
            "user_provided_suffix": self.spec.suffix,
            "seed": self.spec.seed,
            "estimated_finish": estimated_finish,
            "integrations": self.spec.integrations,
            "metadata": self.spec.metadata,
            "method": Value::Object(method),
        });
        if let (Some(t), Some(obj)) = (&self.spec.training_type, out.as_object_mut()) {
            obj.insert("trainingType".into(), json!(t));
        }
        out
    }
}

/// Apply every milestone the job has reached by `now`.
pub fn advance(st: &mut State, id: &str, now: f64, ctx: &JobCtx) {
    let Some(mut job) = st.jobs.remove(id) else {
        return;
    };
    let span = ctx.job_seconds.max(0.0);
    while job.next < job.milestones.len() && !job.is_terminal() && job.paused_since.is_none() {
        let (at, m) = job.milestones[job.next].clone();
        let elapsed = job.active_elapsed(now);
        if elapsed < at * span {
            break;
        }
        if matches!(m, Milestone::Validated) {
            if job.validation.is_none() {
                // Still reading the file (large files take longer): the job waits.
                break;
            }
            // Time spent validating beyond the planned stage does not shorten training.
            let ready = job.validation_ready_at - job.created - job.paused_total;
            job.paused_total += (ready - at * span).max(0.0);
        }
        job.next += 1;
        let ts = (job.created + job.paused_total + at * span) as i64;
        apply(st, &mut job, m, ts, ctx);
    }
    st.jobs.insert(id.to_owned(), job);
}

fn apply(st: &mut State, job: &mut JobRec, m: Milestone, ts: i64, ctx: &JobCtx) {
    match m {
        Milestone::Validated => match job.validation.clone().unwrap_or(Ok(0)) {
            Err((failure, param)) => {
                job.status = "failed".into();
                job.finished_at = Some(ts);
                job.error =
                    Some(json!({"code": failure.code, "message": failure.message, "param": param}));
                job.event(st, ts, "error", failure.message, None);
            }
            Ok(examples) => {
                job.plan_training(examples);
                job.status = "queued".into();
                job.event(
                    st,
                    ts,
                    "info",
                    "Files validated, moving job to queued state".into(),
                    None,
                );
            }
        },
        Milestone::Started => {
            job.status = "running".into();
            job.event(st, ts, "info", "Fine-tuning job started".into(), None);
        }
        Milestone::Metric(step) => {
            let (loss, acc) = job.metrics_at(step);
            let total = job.total_steps;
            let data = json!({"step": step, "train_loss": loss, "train_mean_token_accuracy": acc, "total_steps": total});
            job.event(
                st,
                ts,
                "info",
                format!("Step {step}/{total}: training loss={loss:.2}"),
                Some(data),
            );
        }
        Milestone::Checkpoint(step) => {
            let (loss, acc) = job.metrics_at(step);
            let ck = CheckpointRec {
                id: format!("ftckpt_{}", st.ids.random(24)),
                created_at: ts,
                model: format!("{}:ckpt-step-{step}", job.planned_model),
                step,
                metrics: json!({"step": step as f64, "train_loss": loss, "train_mean_token_accuracy": acc}),
                job_id: job.id.clone(),
            };
            job.checkpoints.push(ck);
            job.event(
                st,
                ts,
                "info",
                format!("Checkpoint created at step {step}"),
                None,
            );
        }
        Milestone::ForcedFailure => {
            job.status = "failed".into();
            job.finished_at = Some(ts);
            let message = "The job failed due to an internal error.";
            job.error = Some(json!({"code": "server_error", "message": message, "param": null}));
            job.event(st, ts, "error", message.into(), None);
        }
        Milestone::Succeeded => {
            let mut csv = String::from(
                "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n",
            );
            for s in 1..=job.total_steps.min(10_000) {
                let (loss, acc) = job.metrics_at(s);
                csv.push_str(&format!("{s},{loss},{acc},,\n"));
            }
            let file_id = st.new_file_id(job.flavor);
            let seq = st.ids.next_seq();
            st.insert_file(
                FileRec {
                    id: file_id.clone(),
                    flavor: job.flavor,
                    seq,
                    filename: "step_metrics.csv".into(),
                    purpose: "fine-tune-results".into(),
                    created: ts as f64,
                    expires_at: None,
                    blob: Blob::from_bytes(csv.into_bytes().into()),
                    azure_check: Some(None),
                },
                None,
            );
            let model = job.planned_model.clone();
            st.models.insert(
                model.clone(),
                ModelRec {
                    id: model.clone(),
                    flavor: job.flavor,
                    created: ts,
                    owned_by: ctx.org_id.clone(),
                    job_id: job.id.clone(),
                },
            );
            job.result_files = vec![file_id];
            job.fine_tuned_model = Some(model);
            job.trained_tokens = Some(job.spec.training_bytes.div_ceil(4) * job.n_epochs);
            job.finished_at = Some(ts);
            job.status = "succeeded".into();
            job.event(st, ts, "info", "New fine-tuned model created".into(), None);
            job.event(
                st,
                ts,
                "info",
                "The job has successfully completed".into(),
                None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{FaultConfig, Faults};

    fn ctx() -> JobCtx {
        JobCtx {
            job_seconds: 100.0,
            org_name: "acme".into(),
            org_id: "org-acme".into(),
        }
    }

    fn spec(force_failure: bool, suffix: Option<&str>) -> JobSpec {
        let mut hp = Map::new();
        hp.insert("n_epochs".into(), json!(2));
        JobSpec {
            model: "gpt-4o-mini-2024-07-18".into(),
            training_file: "file-t".into(),
            training_bytes: 4000,
            validation_file: None,
            method: MethodType::Supervised,
            hyperparameters: hp,
            method_extra: Map::new(),
            suffix: suffix.map(str::to_owned),
            seed: 3,
            metadata: None,
            integrations: json!([]),
            force_failure,
            training_type: None,
        }
    }

    fn new_job(st: &mut State, force_failure: bool, validation: Option<Validation>) -> String {
        let id = JobRec::create(
            st,
            Flavor::OpenAI,
            spec(force_failure, Some("bot")),
            1000.0,
            &ctx(),
        );
        if let Some(v) = validation {
            st.jobs.get_mut(&id).unwrap().set_validation(v, 1000.0);
        }
        id
    }

    fn status_at(st: &mut State, id: &str, now: f64) -> String {
        advance(st, id, now, &ctx());
        st.jobs[id].status.clone()
    }

    fn state() -> State {
        State::new(1, Faults::new(FaultConfig::default()))
    }

    #[test]
    fn timeline_from_validation_to_success() {
        let mut st = state();
        let id = new_job(&mut st, false, Some(Ok(20)));
        assert_eq!(status_at(&mut st, &id, 1010.0), "validating_files");
        assert_eq!(status_at(&mut st, &id, 1016.0), "queued");
        assert_eq!(status_at(&mut st, &id, 1030.0), "running");
        assert_eq!(status_at(&mut st, &id, 1100.0), "succeeded");
        let job = &st.jobs[&id];
        let model = job.fine_tuned_model.clone().unwrap();
        assert!(
            model.starts_with("ft:gpt-4o-mini-2024-07-18:acme:bot:"),
            "{model}"
        );
        assert!(st.models.contains_key(&model));
        assert_eq!(job.trained_tokens, Some(1000 * 2));
        assert_eq!(job.finished_at, Some(1100));
        assert_eq!(job.checkpoints.len(), 2, "one per epoch, last three kept");
        assert_eq!(st.files[&job.result_files[0]].purpose, "fine-tune-results");
        let ids: Vec<&str> = job.events.iter().map(|e| e.id.as_str()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "event ids increase");
    }

    #[test]
    fn pause_stops_the_clock_and_resume_continues() {
        let mut st = state();
        let id = new_job(&mut st, false, Some(Ok(20)));
        assert_eq!(status_at(&mut st, &id, 1050.0), "running");
        let mut job = st.jobs.remove(&id).unwrap();
        assert!(job.pause(&mut st, 1050.0));
        assert!(!job.pause(&mut st, 1050.0));
        st.jobs.insert(id.clone(), job);
        assert_eq!(status_at(&mut st, &id, 5000.0), "paused");
        let mut job = st.jobs.remove(&id).unwrap();
        assert!(job.resume(&mut st, 5000.0));
        st.jobs.insert(id.clone(), job);
        assert_eq!(status_at(&mut st, &id, 5049.0), "running");
        assert_eq!(status_at(&mut st, &id, 5050.0), "succeeded");
    }

    #[test]
    fn validation_failures_and_forced_failures() {
        let mut st = state();
        let failure = FormatFailure {
            code: "invalid_n_examples",
            message: "Training file has 5 example(s)".into(),
        };
        let bad = new_job(&mut st, false, Some(Err((failure, "training_file"))));
        assert_eq!(status_at(&mut st, &bad, 1016.0), "failed");
        let job = &st.jobs[&bad];
        assert_eq!(
            job.error.as_ref().unwrap()["code"],
            json!("invalid_n_examples")
        );
        assert!(job.fine_tuned_model.is_none() && job.result_files.is_empty());

        let forced = new_job(&mut st, true, Some(Ok(20)));
        assert_eq!(status_at(&mut st, &forced, 1100.0), "failed");
        assert_eq!(
            st.jobs[&forced].error.as_ref().unwrap()["code"],
            json!("server_error")
        );
        assert!(st.models.is_empty());
    }

    #[test]
    fn slow_validation_delays_the_job_without_shortening_training() {
        let mut st = state();
        let id = new_job(&mut st, false, None);
        assert_eq!(
            status_at(&mut st, &id, 1050.0),
            "validating_files",
            "waits for the outcome"
        );
        st.jobs.get_mut(&id).unwrap().set_validation(Ok(20), 1060.0);
        assert_eq!(status_at(&mut st, &id, 1061.0), "queued");
        // Validation ended 45 s late (planned at 15 s): training still takes its share.
        assert_eq!(status_at(&mut st, &id, 1144.0), "running");
        assert_eq!(status_at(&mut st, &id, 1145.0), "succeeded");
    }

    #[test]
    fn cancel_is_final() {
        let mut st = state();
        let id = new_job(&mut st, false, Some(Ok(20)));
        let mut job = st.jobs.remove(&id).unwrap();
        assert!(job.cancel(&mut st, 1001.0));
        assert!(!job.cancel(&mut st, 1002.0));
        assert!(!job.resume(&mut st, 1002.0));
        st.jobs.insert(id.clone(), job);
        assert_eq!(status_at(&mut st, &id, 2000.0), "cancelled");
        assert!(st.models.is_empty());
    }
}
