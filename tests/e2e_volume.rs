//! Volume-source datasets. The control plane has no kubelet, so this test does what a kubelet
//! would: it runs the worker pod's command on the host (sources placed where the pod would mount
//! them), then reports the container's termination and the Job's completion through the API.

use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e as e2e_support;

use std::process::Command;

use e2e_support::*;
use serde_json::{Value, json};

fn worker_job(ns: &str) -> Value {
    worker_job_named(ns, "-validate-")
}

fn worker_job_named(ns: &str, part: &str) -> Value {
    wait_for("worker Job", 60, || {
        let out = support::kubectl(&[
            "-n",
            ns,
            "get",
            "jobs",
            "-l",
            "app.kubernetes.io/component=worker",
            "-o",
            "json",
        ]);
        let v: Value = serde_json::from_str(&out.stdout).ok()?;
        v["items"]
            .as_array()?
            .iter()
            .find(|j| {
                j["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.contains(part))
            })
            .cloned()
    })
}

/// Runs the worker container's command with mount paths mapped to `root`; returns the exit code
/// and the termination message.
fn run_worker_like_a_kubelet(job: &Value, root: &std::path::Path) -> (i32, String) {
    let pod = &job["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let map = |a: &str| -> String {
        if let Some(rest) = a.strip_prefix("/sources/") {
            root.join("sources").join(rest).display().to_string()
        } else if a == "/run/tunegate/credentials/apiKey" {
            root.join("credentials-apiKey").display().to_string()
        } else if a == "/dev/termination-log" {
            root.join("termination-log").display().to_string()
        } else {
            a.to_string()
        }
    };
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| map(a.as_str().unwrap()))
        .collect();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tunegate"));
    cmd.args(&args).env_clear();
    for e in c["env"].as_array().unwrap() {
        cmd.env(e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
    }
    let status = cmd.status().expect("run worker");
    let message = std::fs::read_to_string(root.join("termination-log")).unwrap_or_default();
    (status.code().unwrap_or(-1), message)
}

/// Reports the pod's and the Job's outcome as the kubelet and the Job controller would.
fn report(ns: &str, job: &Value, exit: i32, message: &str) {
    let name = job["metadata"]["name"].as_str().unwrap();
    let image = job["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap();
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{name}-x1"), "namespace": ns,
            "labels": {"job-name": name, "batch.kubernetes.io/controller-uid": job["metadata"]["uid"]},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                "uid": job["metadata"]["uid"], "controller": true}]},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "worker", "image": image}]}
    });
    support::kubectl_stdin(&["apply", "-f", "-"], &pod.to_string()).ok();
    let now = "2026-01-01T00:00:00Z";
    let pod_status = json!({"status": {
        "phase": if exit == 0 { "Succeeded" } else { "Failed" },
        "containerStatuses": [{
            "name": "worker", "image": image, "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": exit, "reason": if exit == 0 { "Completed" } else { "Error" },
                      "message": message, "startedAt": now, "finishedAt": now}}
        }]
    }});
    support::kubectl(&[
        "-n",
        ns,
        "patch",
        "pod",
        &format!("{name}-x1"),
        "--subresource=status",
        "--type=merge",
        "-p",
        &pod_status.to_string(),
    ])
    .ok();
    let conditions = if exit == 0 {
        json!([
            {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": now, "lastTransitionTime": now},
            {"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now}
        ])
    } else {
        json!([
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded", "lastProbeTime": now, "lastTransitionTime": now},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "lastProbeTime": now, "lastTransitionTime": now}
        ])
    };
    let mut status = json!({"status": {"startTime": now, "conditions": conditions}});
    if exit == 0 {
        status["status"]["completionTime"] = json!(now);
        status["status"]["succeeded"] = json!(1);
    } else {
        status["status"]["failed"] = json!(1);
    }
    support::kubectl(&[
        "-n",
        ns,
        "patch",
        "job",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ])
    .ok();
}

fn volume_dataset(ns: &str, name: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: extra, namespace: {ns}, labels: {{tunegate.dev/training-data: "true"}}}}
stringData:
  more.jsonl: |
{extra}---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: {name}, namespace: {ns}}}
spec:
  format: Chat
  sources:
    - volume: {{claimName: datasets, path: team-a/train.jsonl}}
    - secret: {{name: extra, key: more.jsonl}}
"#,
        extra = indent(&chat_lines(2, "from the secret"), 4)
    )
}

#[test]
fn volume_source_dataset_is_read_by_a_hardened_worker() {
    let ns = support::namespace("e2e-volume");
    let sandbox = Sandbox::start(&["--job-seconds", "2"]);
    let _op = Operator::start(&ns, &[]);
    apply(&volume_dataset(&ns, "vol"));
    let job = worker_job(&ns);
    // The worker Job: no API token, read-only mounts, hardened, owned, garbage-collected.
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false);
    let sc = &pod["containers"][0]["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert!(
        pod["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["readOnly"] == true)
    );
    assert_eq!(
        pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "datasets"
    );
    assert_eq!(pod["volumes"][0]["persistentVolumeClaim"]["readOnly"], true);
    assert_eq!(
        job["metadata"]["ownerReferences"][0]["kind"],
        "TrainingDataset"
    );
    assert!(job["spec"]["ttlSecondsAfterFinished"].as_i64().is_some());
    wait_condition(
        &ns,
        "tds",
        "vol",
        "Ready",
        "False",
        Some("WorkerRunning"),
        30,
    );

    // Be the kubelet: the volume's file and the Secret's key where the pod would see them.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("sources/0/team-a")).unwrap();
    std::fs::create_dir_all(root.path().join("sources/1")).unwrap();
    std::fs::write(
        root.path().join("sources/0/team-a/train.jsonl"),
        chat_lines(10, "mail x@example.com"),
    )
    .unwrap();
    std::fs::write(
        root.path().join("sources/1/data"),
        chat_lines(2, "from the secret"),
    )
    .unwrap();
    let (exit, message) = run_worker_like_a_kubelet(&job, root.path());
    assert_eq!(exit, 0, "worker result: {message}");
    assert!(message.len() < 4096);
    assert!(!message.contains("x@example.com"));
    report(&ns, &job, exit, &message);
    let tds = wait_condition(&ns, "tds", "vol", "Ready", "True", Some("Valid"), 60);
    assert_eq!(tds["status"]["examples"], 12);
    assert_eq!(tds["status"]["findings"]["EMAIL_ADDRESS"], 10);
    let digest = tds["status"]["redactedDigest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(digest.starts_with("sha256:"));

    // A FineTuneJob on it: the upload runs in a worker Job with the credentials as a file.
    apply(&format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {ns}}}
stringData: {{apiKey: sk-e2e}}
---
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: volftj, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: vol}}
  provider: {{baseURL: {url}, credentialsSecretRef: {{name: creds, key: apiKey}}}}
  model: gpt-4o-mini-2024-07-18
"#,
        url = sandbox.base_url()
    ));
    let up = worker_job_named(&ns, "-upload-");
    let upod = &up["spec"]["template"]["spec"];
    assert_eq!(upod["automountServiceAccountToken"], false);
    assert_eq!(up["metadata"]["ownerReferences"][0]["kind"], "FineTuneJob");
    let creds_volume = upod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "credentials")
        .expect("credentials volume");
    assert_eq!(creds_volume["secret"]["secretName"], "creds");
    std::fs::write(root.path().join("credentials-apiKey"), "sk-e2e").unwrap();
    let _ = std::fs::remove_file(root.path().join("termination-log"));
    let (uexit, umessage) = run_worker_like_a_kubelet(&up, root.path());
    assert_eq!(uexit, 0, "upload worker result: {umessage}");
    report(&ns, &up, uexit, &umessage);
    wait_condition(&ns, "ftj", "volftj", "Ready", "True", Some("Succeeded"), 90);
    let uid = uid(&ns, "ftj", "volftj");
    let received = sandbox.received_for(&uid);
    assert_eq!(received.len(), 1);
    assert_eq!(
        format!("sha256:{}", received[0]["sha256"].as_str().unwrap()),
        digest
    );
    assert_eq!(sandbox.live_files_for(&uid), 0);

    // A worker that fails (the file is missing on the volume) becomes a condition.
    let ns2 = support::namespace("e2e-volume");
    let _op2 = Operator::start(&ns2, &[]);
    apply(&volume_dataset(&ns2, "vol"));
    let job2 = worker_job(&ns2);
    let root2 = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root2.path().join("sources/1")).unwrap();
    std::fs::write(root2.path().join("sources/1/data"), chat_lines(2, "")).unwrap();
    let (exit2, message2) = run_worker_like_a_kubelet(&job2, root2.path());
    assert_ne!(exit2, 0);
    report(&ns2, &job2, exit2, &message2);
    let failed = wait_condition(
        &ns2,
        "tds",
        "vol",
        "Ready",
        "False",
        Some("WorkerFailed"),
        60,
    );
    let msg = failed["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("SourceFileNotFound"), "{msg}");
}
