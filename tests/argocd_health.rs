//! The Argo CD health checks in deploy/argocd/, run by real Lua interpreters (Debian's lua5.1, the
//! dialect of Argo CD's gopher-lua, and lua5.4; hack/ensure-lua.sh installs them if missing)
//! against sample objects for every health state.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

fn repo_root() -> &'static Path {
    tunegate_testkit::repo_root()
}

fn interpreters() -> &'static [&'static str] {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let out = Command::new(repo_root().join("hack/ensure-lua.sh"))
            .output()
            .expect("run ensure-lua.sh");
        assert!(
            out.status.success(),
            "hack/ensure-lua.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    &["lua5.1", "lua5.4"]
}

/// A JSON value as a Lua expression, as Argo CD hands objects to health scripts (tables, strings,
/// numbers, booleans; JSON null becomes nil).
fn lua_literal(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => lua_string(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(lua_literal).collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("[{}] = {}", lua_string(k), lua_literal(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

fn lua_string(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

/// Runs the health script for `obj` under every interpreter; returns (status, message) after
/// checking that all interpreters agree.
fn health(script: &str, obj: &Value) -> (String, String) {
    let path: PathBuf = repo_root().join("deploy/argocd").join(script);
    let harness = format!(
        "obj = {}\nlocal hs = assert(loadfile({}))()\nio.write(hs.status, \"\\n\", hs.message or \"\", \"\\n\")\n",
        lua_literal(obj),
        lua_string(path.to_str().unwrap())
    );
    let mut results = Vec::new();
    for lua in interpreters() {
        let out = Command::new(lua)
            .arg("-e")
            .arg(&harness)
            .output()
            .expect("run lua");
        assert!(
            out.status.success(),
            "{lua} {script} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let status = lines.next().unwrap_or_default().to_string();
        let message = lines.next().unwrap_or_default().to_string();
        results.push((status, message));
    }
    assert!(
        results.windows(2).all(|w| w[0] == w[1]),
        "interpreters disagree: {results:?}"
    );
    results.remove(0)
}

fn cond(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "observedGeneration": 2, "lastTransitionTime": "2026-11-29T10:00:00Z"})
}

fn dataset(status: Option<Value>) -> Value {
    let mut obj = json!({
        "apiVersion": "tunegate.dev/v1alpha1", "kind": "TrainingDataset",
        "metadata": {"name": "support-chats", "namespace": "team-a", "generation": 2},
        "spec": {"format": "Chat", "sources": [{"secret": {"name": "s", "key": "k"}}]}
    });
    if let Some(s) = status {
        obj["status"] = s;
    }
    obj
}

fn job(paused: bool, status: Option<Value>) -> Value {
    let mut obj = json!({
        "apiVersion": "tunegate.dev/v1alpha1", "kind": "FineTuneJob",
        "metadata": {"name": "support-bot", "namespace": "team-a", "generation": 2},
        "spec": {"trainingDatasetRef": {"name": "support-chats"}, "paused": paused,
                 "provider": {"type": "OpenAI", "credentialsSecretRef": {"name": "openai", "key": "apiKey"}},
                 "model": "gpt-4o-mini-2024-07-18"}
    });
    if let Some(s) = status {
        obj["status"] = s;
    }
    obj
}

const TDS: &str = "health-trainingdataset.lua";
const FTJ: &str = "health-finetunejob.lua";

#[test]
fn dataset_ready_is_healthy() {
    let s = json!({"observedGeneration": 2, "examples": 1200, "conditions": [
        cond("SourcesResolved", "True", "Resolved", "all sources resolved"),
        cond("Validated", "True", "Valid", "1200 examples are valid"),
        cond("Redacted", "True", "Redacted", "316 findings redacted"),
        cond("Ready", "True", "Valid", "1200 examples ready to upload")]});
    assert_eq!(
        health(TDS, &dataset(Some(s))),
        ("Healthy".into(), "1200 examples ready".into())
    );
}

#[test]
fn dataset_with_a_problem_is_degraded_with_the_reason() {
    let s = json!({"observedGeneration": 2, "conditions": [
        cond("SourcesResolved", "False", "SourceNotAllowed", "Secret support-chats lacks the label tunegate.dev/training-data=true"),
        cond("Ready", "False", "SourceNotAllowed", "Secret support-chats lacks the label tunegate.dev/training-data=true")]});
    let (status, message) = health(TDS, &dataset(Some(s)));
    assert_eq!(status, "Degraded");
    assert!(
        message.starts_with("SourceNotAllowed: Secret support-chats"),
        "{message}"
    );
    let s = json!({"observedGeneration": 2, "conditions": [cond("Ready", "False", "InvalidFormat", "3 format errors")]});
    assert_eq!(health(TDS, &dataset(Some(s))).0, "Degraded");
}

#[test]
fn dataset_in_progress_or_without_status_is_progressing() {
    assert_eq!(
        health(TDS, &dataset(None)),
        (
            "Progressing".into(),
            "Waiting for tunegate to report status".into()
        )
    );
    assert_eq!(health(TDS, &dataset(Some(json!({})))).0, "Progressing");
    assert_eq!(
        health(TDS, &dataset(Some(json!({"conditions": []})))).0,
        "Progressing"
    );
    let stale =
        json!({"observedGeneration": 1, "conditions": [cond("Ready", "True", "Valid", "ok")]});
    assert_eq!(
        health(TDS, &dataset(Some(stale))),
        (
            "Progressing".into(),
            "Waiting for tunegate to process generation 2".into()
        )
    );
    let unknown = json!({"observedGeneration": 2, "conditions": [cond("Ready", "Unknown", "WorkerRunning", "reading volume")]});
    assert_eq!(health(TDS, &dataset(Some(unknown))).0, "Progressing");
    let worker = json!({"observedGeneration": 2, "conditions": [cond("Ready", "False", "WorkerRunning", "reading volume")]});
    assert_eq!(health(TDS, &dataset(Some(worker))).0, "Progressing");
}

#[test]
fn paused_job_is_suspended() {
    let s = json!({"observedGeneration": 2, "remote": {"status": "paused"},
                   "conditions": [cond("Ready", "False", "Paused", "paused at the provider")]});
    assert_eq!(health(FTJ, &job(true, Some(s))).0, "Suspended");
    assert_eq!(health(FTJ, &job(true, None)).0, "Suspended");
}

#[test]
fn succeeded_job_is_healthy_and_names_the_model() {
    let s = json!({"observedGeneration": 2,
        "remote": {"jobID": "ftjob-abc", "status": "succeeded", "fineTunedModel": "ft:gpt-4o-mini-2024-07-18:acme:support-bot:abc123"},
        "conditions": [cond("Succeeded", "True", "Succeeded", "fine-tuned model created"),
                       cond("Ready", "True", "Succeeded", "model ready")]});
    assert_eq!(
        health(FTJ, &job(false, Some(s))),
        (
            "Healthy".into(),
            "Fine-tuned model ft:gpt-4o-mini-2024-07-18:acme:support-bot:abc123".into()
        )
    );
}

#[test]
fn failed_job_is_degraded() {
    let s = json!({"observedGeneration": 2,
        "remote": {"jobID": "ftjob-abc", "status": "failed", "error": {"code": "invalid_n_examples", "message": "m"}},
        "conditions": [cond("Succeeded", "False", "InvalidNExamples", "job failed: invalid_n_examples: too few"),
                       cond("Ready", "False", "Failed", "the job ended failed")]});
    assert_eq!(
        health(FTJ, &job(false, Some(s))),
        (
            "Degraded".into(),
            "InvalidNExamples: job failed: invalid_n_examples: too few".into()
        )
    );
    // The provider's word alone is enough, before the conditions catch up.
    let s = json!({"observedGeneration": 2, "remote": {"status": "cancelled"},
                   "conditions": [cond("Submitted", "True", "Submitted", "ftjob-abc")]});
    assert_eq!(
        health(FTJ, &job(false, Some(s))),
        ("Degraded".into(), "Remote job cancelled".into())
    );
    // A problem that needs a person, before anything was submitted.
    let s = json!({"observedGeneration": 2,
                   "conditions": [cond("Ready", "False", "CredentialsNotFound", "Secret openai has no key apiKey")]});
    assert_eq!(health(FTJ, &job(false, Some(s))).0, "Degraded");
}

#[test]
fn running_or_new_job_is_progressing() {
    assert_eq!(
        health(FTJ, &job(false, None)),
        (
            "Progressing".into(),
            "Waiting for tunegate to report status".into()
        )
    );
    let s = json!({"observedGeneration": 2, "remote": {"jobID": "ftjob-abc", "status": "running"},
        "conditions": [cond("Uploaded", "True", "Uploaded", "file-abc"),
                       cond("Submitted", "True", "Submitted", "ftjob-abc"),
                       cond("Succeeded", "Unknown", "Running", "running"),
                       cond("Ready", "False", "Running", "the provider is training")]});
    assert_eq!(
        health(FTJ, &job(false, Some(s))),
        (
            "Progressing".into(),
            "Running: the provider is training".into()
        )
    );
    let s = json!({"observedGeneration": 2, "conditions": [cond("DatasetReady", "False", "DatasetNotReady", "x"),
                                                           cond("Ready", "False", "DatasetNotReady", "x")]});
    assert_eq!(health(FTJ, &job(false, Some(s))).0, "Progressing");
    let stale =
        json!({"observedGeneration": 1, "conditions": [cond("Ready", "True", "Succeeded", "ok")]});
    assert_eq!(health(FTJ, &job(false, Some(stale))).0, "Progressing");
}

#[test]
fn scripts_never_fail_on_odd_objects() {
    // Argo CD shows a script error as an unknown health: every shape must yield a status.
    let odd = [
        json!({"metadata": {}}),
        json!({"metadata": {"generation": 1}, "status": {"conditions": [{"type": "Ready"}]}}),
        json!({"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "False"}], "remote": {}}}),
        json!({"metadata": {}, "spec": {}, "status": {"conditions": [{}], "remote": {"status": "failed", "error": {}}}}),
    ];
    for obj in &odd {
        for script in [TDS, FTJ] {
            let (status, _) = health(script, obj);
            assert!(
                ["Healthy", "Progressing", "Degraded", "Suspended"].contains(&status.as_str()),
                "{script} on {obj}: {status}"
            );
        }
    }
}

#[test]
fn progressing_reasons_are_reasons_the_controller_really_sets() {
    // The scripts treat a few Ready=False reasons as "not yet"; each must exist in the code, so a
    // renamed reason cannot silently turn a running job Degraded.
    let known: Vec<&str> = tunegate_api::conditions::Reason::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    for script in [TDS, FTJ] {
        let text = std::fs::read_to_string(repo_root().join("deploy/argocd").join(script)).unwrap();
        let start = text.find("local progressing_reasons = {").unwrap();
        let end = start + text[start..].find('}').unwrap();
        let reasons: Vec<&str> = text[start..end]
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
            .collect();
        assert!(!reasons.is_empty(), "{script}");
        for r in reasons {
            assert!(
                known.contains(&r),
                "{script}: reason {r} is not a tunegate_api::conditions::Reason"
            );
        }
    }
}
