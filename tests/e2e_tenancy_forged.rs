//! A tenant who can write its FineTuneJob's status (the `finetunejobs/status` subresource) names
//! another team's file, job and model in its own ledger, through a ClusterProviderConfig both
//! teams share (one key). The operator checks every id it takes from status at the provider:
//! it neither trains on the other team's file, nor cancels its job, nor deletes its file or
//! model, and the forging job can still be deleted. Real control plane, operator as a process.

use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e::*;

const CONFIG: &str = "tnf-shared";

/// Writes `status` (a JSON object) through the status subresource, as a tenant with that right
/// would, until the operator's own next write has not replaced it.
fn forge_status(ns: &str, name: &str, status: &serde_json::Value, must_contain: &str) {
    let patch = serde_json::json!({ "status": status }).to_string();
    wait_for("forged status to stick", 60, || {
        support::kubectl(&[
            "-n",
            ns,
            "patch",
            "ftj",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch,
        ])
        .ok();
        std::thread::sleep(std::time::Duration::from_secs(2));
        get(ns, "ftj", name)
            .filter(|o| o["status"]["ledger"].to_string().contains(must_contain))
            .map(|_| ())
    });
}

fn ledger_id(obj: &serde_json::Value, kind: &str) -> String {
    obj["status"]["ledger"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["kind"] == kind))
        .and_then(|e| e["id"].as_str())
        .unwrap_or_else(|| panic!("no {kind} in the ledger: {obj}"))
        .to_string()
}

#[test]
fn a_forged_ledger_cannot_touch_another_teams_objects() {
    let sandbox = Sandbox::start(&["--job-seconds", "2"]);
    let op = Operator::start_cluster_wide(&[]);
    let team_a = support::namespace("tnf-a");
    let team_b = support::namespace("tnf-b");
    for ns in [&team_a, &team_b] {
        support::kubectl(&["label", "namespace", ns, "tnf/tenant=yes"]).ok();
    }
    apply(&format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: tnf-openai, namespace: {OPERATOR_NAMESPACE}}}
stringData: {{apiKey: sk-e2e}}
---
apiVersion: tunegate.dev/v1alpha1
kind: ClusterProviderConfig
metadata: {{name: {CONFIG}}}
spec:
  type: OpenAI
  endpoint: {url}
  credentials: {{secretRef: {{name: tnf-openai, key: apiKey}}}}
  namespaceSelector: {{matchLabels: {{tnf/tenant: "yes"}}}}
"#,
        url = sandbox.base_url()
    ));
    wait_condition(
        "",
        "clusterproviderconfig",
        CONFIG,
        "Ready",
        "True",
        None,
        60,
    );

    // Team B trains a model and keeps its training file.
    apply(&secret_dataset(&team_b, "b"));
    apply(&cluster_job(
        &team_b,
        "b",
        CONFIG,
        "  retention: {trainingFiles: DeleteWithResource}\n",
    ));
    let b = wait_condition(&team_b, "ftj", "b", "Ready", "True", Some("Succeeded"), 120);
    let (b_file, b_job, b_model) = (
        ledger_id(&b, "File"),
        ledger_id(&b, "Job"),
        b["status"]["remote"]["fineTunedModel"]
            .as_str()
            .expect("B's model")
            .to_string(),
    );
    let b_uid = uid(&team_b, "ftj", "b");
    assert_eq!(sandbox.live_files_for(&b_uid), 1);

    // Team A, job 1: names B's file as its own training file before its dataset exists, so the
    // next step would be to create a job on it.
    apply(&cluster_job(&team_a, "a-train", CONFIG, ""));
    wait_condition(&team_a, "ftj", "a-train", "Ready", "False", None, 60);
    forge_status(
        &team_a,
        "a-train",
        &serde_json::json!({"ledger": [
            {"kind": "File", "id": b_file, "role": "training", "purpose": "fine-tune", "state": "Present"}
        ]}),
        &b_file,
    );
    apply(&secret_dataset(&team_a, "a-train"));
    let a_train = wait_condition(
        &team_a,
        "ftj",
        "a-train",
        "Ready",
        "False",
        Some("RemoteObjectNotOwned"),
        90,
    );
    let a_train_uid = uid(&team_a, "ftj", "a-train");
    assert!(
        sandbox.jobs_for(&a_train_uid).is_empty(),
        "a job was created on another team's file"
    );
    assert!(a_train["status"]["ledger"].to_string().contains("NotOwned"));

    // Team A, job 2: names B's file, job and model, asks for the model to go with the resource,
    // and is deleted.
    apply(&cluster_job(
        &team_a,
        "a-del",
        CONFIG,
        "  retention: {trainingFiles: DeleteWhenFinished, model: DeleteWithResource}\n",
    ));
    wait_condition(&team_a, "ftj", "a-del", "Ready", "False", None, 60);
    forge_status(
        &team_a,
        "a-del",
        &serde_json::json!({
            "ledger": [
                {"kind": "File", "id": b_file, "role": "training", "purpose": "fine-tune", "state": "Present"},
                {"kind": "Job", "id": b_job, "state": "Running"},
                {"kind": "Model", "id": b_model, "state": "Present"}
            ],
            "remote": {"jobID": b_job, "status": "running"}
        }),
        &b_model,
    );
    support::kubectl(&["-n", &team_a, "delete", "ftj", "a-del", "--timeout=90s"]).ok();
    support::kubectl(&["-n", &team_a, "delete", "ftj", "a-train", "--timeout=90s"]).ok();

    // B's objects are untouched.
    let state = sandbox.state();
    assert_eq!(sandbox.live_files_for(&b_uid), 1, "B's file was deleted");
    assert!(
        state["models"].to_string().contains(&b_model),
        "B's model was deleted"
    );
    let b_job_state = state["jobs"]
        .as_array()
        .and_then(|js| js.iter().find(|j| j["id"] == b_job.as_str()))
        .map(|j| j["status"].clone());
    assert_eq!(b_job_state, Some(serde_json::json!("succeeded")));
    let b_after = get(&team_b, "ftj", "b").expect("B's job");
    assert_eq!(
        condition(&b_after, "Ready"),
        Some(("True".to_string(), "Succeeded".to_string()))
    );
    // A sees why, as a Warning naming the kind and id (ids only, never content).
    let events = support::kubectl(&["-n", &team_a, "get", "events", "-o", "json"])
        .ok()
        .stdout;
    assert!(events.contains("RemoteObjectNotOwned"), "{events}");
    assert!(!op.logs().contains("sk-e2e"));
}
