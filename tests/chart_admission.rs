//! The chart's ValidatingAdmissionPolicies on a real kube-apiserver: the operator's
//! ServiceAccount (impersonated, with the chart's RBAC) may change only tunegate.dev/ finalizers
//! on Secrets and may create only Jobs shaped like its worker; the same requests from anyone
//! else, and the operator's real requests, pass.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tunegate_testkit::cluster::{Kubectl, kubectl, kubectl_stdin, namespace};
use tunegate_testkit::packaging::{RELEASE_NS, one, parse_docs, template_text};

const SA: &str = "system:serviceaccount:tunegate-system:tunegate";

fn install() -> Vec<Value> {
    kubectl_stdin(
        &["apply", "--server-side", "-f", "-"],
        &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {RELEASE_NS}\n"),
    )
    .ok();
    let text = template_text(&[]);
    kubectl_stdin(&["apply", "--server-side", "-f", "-"], &text).ok();
    parse_docs(&text)
}

fn as_operator(args: &[&str]) -> Kubectl {
    let mut all = vec!["--as", SA];
    all.extend_from_slice(args);
    kubectl(&all)
}

fn as_operator_stdin(args: &[&str], stdin: &str) -> Kubectl {
    let mut all = vec!["--as", SA];
    all.extend_from_slice(args);
    kubectl_stdin(&all, stdin)
}

/// Policies take effect once the API server's admission informers have them: wait until a
/// request the policy forbids is refused by it.
fn wait_until_enforced(ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = as_operator(&[
            "-n",
            ns,
            "patch",
            "secret",
            "creds",
            "--type=merge",
            "-p",
            r#"{"data":{"apiKey":"cHJvYmU="}}"#,
        ]);
        if !out.success && out.stderr.contains("ValidatingAdmissionPolicy") {
            return;
        }
        assert!(
            !out.success || Instant::now() < deadline,
            "the policy was not enforced within 60 s: {out:?}"
        );
        if out.success {
            // Undo the probe's write so later assertions see the original value.
            kubectl(&[
                "-n",
                ns,
                "patch",
                "secret",
                "creds",
                "--type=merge",
                "-p",
                r#"{"data":{"apiKey":"c2stb3JpZ2luYWw="}}"#,
            ])
            .ok();
        }
        assert!(Instant::now() < deadline, "policy not enforced: {out:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn operator_may_change_only_tunegate_finalizers_on_secrets() {
    let docs = install();
    assert_eq!(
        docs.iter()
            .filter(|d| d["kind"] == "ValidatingAdmissionPolicyBinding")
            .count(),
        2
    );
    let ns = namespace("vap-secrets");
    kubectl(&[
        "-n",
        &ns,
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=apiKey=sk-original",
    ])
    .ok();
    kubectl(&[
        "-n",
        &ns,
        "patch",
        "secret",
        "creds",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/keep"]}}"#,
    ])
    .ok();
    wait_until_enforced(&ns);

    // Allowed: adding and removing its own finalizer.
    as_operator(&[
        "-n",
        &ns,
        "patch",
        "secret",
        "creds",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/keep","tunegate.dev/credentials-in-use"]}}"#,
    ])
    .ok();
    as_operator(&[
        "-n",
        &ns,
        "patch",
        "secret",
        "creds",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/keep"]}}"#,
    ])
    .ok();

    // Refused: the value, the type, labels, annotations, owners, someone else's finalizer.
    for patch in [
        r#"{"data":{"apiKey":"c3RvbGVu"}}"#,
        r#"{"stringData":{"extra":"x"}}"#,
        r#"{"metadata":{"labels":{"tunegate.dev/training-data":"true"}}}"#,
        r#"{"metadata":{"annotations":{"a":"b"}}}"#,
        r#"{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"x","uid":"0000-1"}]}}"#,
        r#"{"metadata":{"finalizers":["tunegate.dev/credentials-in-use"]}}"#,
    ] {
        as_operator(&[
            "-n",
            &ns,
            "patch",
            "secret",
            "creds",
            "--type=merge",
            "-p",
            patch,
        ])
        .fails_with("ValidatingAdmissionPolicy");
    }
    // Nothing changed.
    let secret: Value = serde_json::from_str(
        &kubectl(&["-n", &ns, "get", "secret", "creds", "-o", "json"])
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(secret["data"], json!({"apiKey": "c2stb3JpZ2luYWw="}));
    assert_eq!(
        secret["metadata"]["finalizers"],
        json!(["example.com/keep"])
    );

    // The admin is not bound by the operator's policy.
    kubectl(&[
        "-n",
        &ns,
        "patch",
        "secret",
        "creds",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"team":"a"},"finalizers":null}}"#,
    ])
    .ok();

    // Creating: only a Secret a TrainingDataset controls (the generated pseudonymization key).
    let secret = |owner: Value| {
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "ds-pseudonymization-key", "namespace": ns, "ownerReferences": owner},
               "data": {"key": "a2V5"}})
        .to_string()
    };
    as_operator_stdin(
        &["create", "--dry-run=server", "-f", "-"],
        &secret(json!([])),
    )
    .fails_with("controlled by a TrainingDataset");
    as_operator_stdin(
        &["create", "--dry-run=server", "-f", "-"],
        &secret(
            json!([{"apiVersion": "tunegate.dev/v1alpha1", "kind": "TrainingDataset",
                        "name": "ds", "uid": "0d6f-1", "controller": true}]),
        ),
    )
    .ok();
}

fn worker_job(ns: &str, image: &str) -> Value {
    let tds: tunegate_api::TrainingDataset = serde_yaml::from_str(&format!(
        "apiVersion: tunegate.dev/v1alpha1\nkind: TrainingDataset\nmetadata: {{name: vol, namespace: {ns}, uid: 0d6f-1, generation: 1}}\n\
         spec:\n  format: Chat\n  sources:\n    - volume: {{claimName: datasets, path: a/train.jsonl}}\n"
    ))
    .unwrap();
    let config = tunegate::controller::Config {
        worker_image: image.to_string(),
        ..tunegate::controller::Config::default()
    };
    let job = tunegate::controller::worker::validate_job(&tds, &config, None).unwrap();
    serde_json::to_value(&job).unwrap()
}

#[test]
fn operator_may_create_only_jobs_shaped_like_its_worker() {
    let docs = install();
    let dep = one(&docs, "Deployment");
    let args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    let image = args
        .iter()
        .find_map(|a| a.as_str()?.strip_prefix("--worker-image="))
        .expect("the operator's --worker-image")
        .to_string();
    let ns = namespace("vap-jobs");
    let good = worker_job(&ns, &image);
    let create = |job: &Value| {
        as_operator_stdin(&["create", "--dry-run=server", "-f", "-"], &job.to_string())
    };
    // Wait for enforcement with a job the policy must refuse.
    let mut foreign = good.clone();
    foreign["spec"]["template"]["spec"]["containers"][0]["image"] = json!("attacker/miner:1");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = create(&foreign);
        if !out.success && out.stderr.contains("ValidatingAdmissionPolicy") {
            break;
        }
        assert!(Instant::now() < deadline, "policy not enforced: {out:?}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // The operator's real worker Job passes.
    create(&good).ok();

    let pod = |f: &dyn Fn(&mut Value)| {
        let mut job = good.clone();
        f(&mut job["spec"]["template"]["spec"]);
        job
    };
    let refused: Vec<(&str, Value)> = vec![
        ("another image", foreign.clone()),
        (
            "the dataset spec in the environment",
            pod(&|p| {
                p["containers"][0]["env"] =
                    json!([{"name": "TUNEGATE_DATASET_SPEC", "value": "{}"}]);
            }),
        ),
        (
            "environment from a ConfigMap",
            pod(&|p| p["containers"][0]["envFrom"] = json!([{"configMapRef": {"name": "x"}}])),
        ),
        (
            "no memory limit",
            pod(&|p| {
                p["containers"][0]["resources"]
                    .as_object_mut()
                    .unwrap()
                    .remove("limits");
            }),
        ),
        (
            "a token",
            pod(&|p| p["automountServiceAccountToken"] = json!(true)),
        ),
        (
            "no automount setting",
            pod(&|p| {
                p.as_object_mut()
                    .unwrap()
                    .remove("automountServiceAccountToken");
            }),
        ),
        (
            "another ServiceAccount",
            pod(&|p| p["serviceAccountName"] = json!("tunegate")),
        ),
        (
            "a projected token",
            pod(&|p| {
                p["volumes"].as_array_mut().unwrap().push(json!({"name": "tok", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}));
            }),
        ),
        (
            "a hostPath",
            pod(&|p| {
                p["volumes"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "root", "hostPath": {"path": "/"}}));
            }),
        ),
        (
            "a command",
            pod(&|p| p["containers"][0]["command"] = json!(["/bin/sh"])),
        ),
        (
            "other arguments",
            pod(&|p| p["containers"][0]["args"] = json!(["run"])),
        ),
        (
            "a second container",
            pod(&|p| {
                let c = p["containers"][0].clone();
                let mut c2 = c.clone();
                c2["name"] = json!("second");
                p["containers"] = json!([c, c2]);
            }),
        ),
        (
            "an init container",
            pod(&|p| {
                let mut c = p["containers"][0].clone();
                c["name"] = json!("init");
                p["initContainers"] = json!([c]);
            }),
        ),
        (
            "privileged",
            pod(&|p| {
                let sc = &mut p["containers"][0]["securityContext"];
                sc["privileged"] = json!(true);
                // The API server itself refuses privileged with allowPrivilegeEscalation=false.
                sc.as_object_mut()
                    .unwrap()
                    .remove("allowPrivilegeEscalation");
            }),
        ),
        (
            "privilege escalation",
            pod(&|p| {
                p["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true)
            }),
        ),
        (
            "a writable root",
            pod(&|p| {
                p["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = json!(false)
            }),
        ),
        (
            "a capability",
            pod(&|p| {
                p["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["NET_RAW"])
            }),
        ),
        (
            "root",
            pod(&|p| p["containers"][0]["securityContext"]["runAsUser"] = json!(0)),
        ),
        ("host network", pod(&|p| p["hostNetwork"] = json!(true))),
        ("no owner", {
            let mut j = good.clone();
            j["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("ownerReferences");
            j
        }),
        ("no worker role", {
            let mut j = good.clone();
            j["spec"]["template"]["metadata"]["labels"]
                .as_object_mut()
                .unwrap()
                .remove("tunegate.dev/worker-role");
            j
        }),
        ("not a worker", {
            let mut j = good.clone();
            j["metadata"]["labels"]["app.kubernetes.io/component"] = json!("operator");
            j
        }),
    ];
    for (what, job) in &refused {
        let out = create(job);
        assert!(
            !out.success && out.stderr.contains("ValidatingAdmissionPolicy"),
            "{what}: not refused by the policy: {out:?}"
        );
    }
    // The admin may create any of them: the policy binds only the operator.
    kubectl_stdin(
        &["create", "--dry-run=server", "-f", "-"],
        &foreign.to_string(),
    )
    .ok();
}
