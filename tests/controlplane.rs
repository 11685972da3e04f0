//! The CRDs and examples against a real kube-apiserver (built by hack/build-controlplane.sh),
//! driven through kubectl with the generated kubeconfig, as a user would.

use tunegate_testkit::cluster as support;

use serde_json::{Value, json};
use support::{control_plane, kubectl, kubectl_stdin, namespace, pinned_version, repo_root};

fn apply(manifest: &Value) -> support::Kubectl {
    kubectl_stdin(&["apply", "-f", "-"], &manifest.to_string())
}

fn dataset(ns: &str, name: &str, sources: Value) -> Value {
    json!({
        "apiVersion": "tunegate.dev/v1alpha1",
        "kind": "TrainingDataset",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"format": "Chat", "sources": sources},
    })
}

fn finetunejob(ns: &str, name: &str) -> Value {
    json!({
        "apiVersion": "tunegate.dev/v1alpha1",
        "kind": "FineTuneJob",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "trainingDatasetRef": {"name": "support-chats"},
            "provider": {
                "type": "OpenAI",
                "credentialsSecretRef": {"name": "openai", "key": "apiKey"},
            },
            "model": "gpt-4o-mini-2024-07-18",
            "method": {"type": "Supervised", "hyperparameters": {"nEpochs": 3}},
        },
    })
}

#[test]
fn both_crds_are_established_and_discoverable() {
    control_plane();
    kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd/trainingdatasets.tunegate.dev",
        "crd/finetunejobs.tunegate.dev",
    ])
    .ok();
    let resources = kubectl(&["api-resources", "--api-group=tunegate.dev", "--no-headers"]).ok();
    for (plural, short) in [("trainingdatasets", "tds"), ("finetunejobs", "ftj")] {
        assert!(
            resources
                .stdout
                .lines()
                .any(|l| l.split_whitespace().take(2).eq([plural, short])),
            "{plural} ({short}) not served:\n{}",
            resources.stdout
        );
    }
}

#[test]
fn every_example_is_accepted() {
    // The top-level examples (the demo's) and the extra ones under more/ (another namespace).
    for sub in ["deploy/examples", "deploy/examples/more"] {
        let path = repo_root().join(sub);
        let yaml_files = std::fs::read_dir(&path)
            .expect("examples dir")
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
            .count();
        let out = kubectl(&["apply", "-f", &path.to_string_lossy()]).ok();
        let applied = out.stdout.lines().filter(|l| !l.trim().is_empty()).count();
        assert!(
            yaml_files > 0 && applied >= yaml_files,
            "expected at least one applied object per example file in {sub} ({yaml_files}), got:\n{}",
            out.stdout
        );
    }
}

#[test]
fn finetunejob_spec_is_immutable_except_paused_retention_and_deletion_policy() {
    let ns = namespace("immutable");
    apply(&finetunejob(&ns, "job")).ok();
    let msg = "spec is immutable after creation";
    for patch in [
        json!({"spec": {"model": "gpt-4.1-mini-2025-04-14"}}),
        json!({"spec": {"trainingDatasetRef": {"name": "other"}}}),
        json!({"spec": {"suffix": "added-later"}}),
        json!({"spec": {"method": {"hyperparameters": {"nEpochs": 4}}}}),
        json!({"spec": {"method": {"hyperparameters": {"learningRateMultiplier": 2.0}}}}),
    ] {
        kubectl(&[
            "patch",
            "-n",
            &ns,
            "ftj",
            "job",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ])
        .fails_with(msg);
    }
    for patch in [
        json!({"spec": {"paused": true}}),
        json!({"spec": {"retention": {"trainingFiles": "Retain", "model": "DeleteWithResource"}}}),
        json!({"spec": {"deletionPolicy": "Orphan"}}),
    ] {
        kubectl(&[
            "patch",
            "-n",
            &ns,
            "ftj",
            "job",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ])
        .ok();
    }
    let paused = kubectl(&[
        "get",
        "-n",
        &ns,
        "ftj",
        "job",
        "-o",
        "jsonpath={.spec.paused}",
    ])
    .ok();
    assert_eq!(paused.stdout.trim(), "true");
}

#[test]
fn a_source_names_exactly_one_kind() {
    let ns = namespace("sources");
    let msg = "each source must name exactly one of secret, configMap or volume";
    let two = json!([{
        "secret": {"name": "s", "key": "train.jsonl"},
        "configMap": {"name": "c", "key": "train.jsonl"},
    }]);
    apply(&dataset(&ns, "two-kinds", two)).fails_with(msg);
    apply(&dataset(&ns, "no-kind", json!([{}]))).fails_with(msg);
    let one = json!([{"configMap": {"name": "c", "key": "train.jsonl"}}]);
    apply(&dataset(&ns, "one-kind", one)).ok();
}

#[test]
fn a_volume_path_is_relative_without_dot_dot() {
    let ns = namespace("paths");
    let msg = "volume path must be relative and must not contain '..'";
    for (i, path) in ["../etc/passwd", "team/../../x", "/abs/train.jsonl", ".."]
        .iter()
        .enumerate()
    {
        let sources = json!([{"volume": {"claimName": "datasets", "path": path}}]);
        apply(&dataset(&ns, &format!("bad-{i}"), sources)).fails_with(msg);
    }
    let sources =
        json!([{"volume": {"claimName": "datasets", "path": "team-a/2026-11/train..v2.jsonl"}}]);
    apply(&dataset(&ns, "good", sources)).ok();
}

#[test]
fn azure_requires_api_version() {
    let ns = namespace("azure");
    let mut job = finetunejob(&ns, "azure");
    job["spec"]["provider"]["type"] = json!("AzureOpenAI");
    job["spec"]["provider"]["baseURL"] = json!("https://acme.openai.azure.com/openai");
    apply(&job).fails_with("apiVersion is required when type is AzureOpenAI");
    job["spec"]["provider"]["apiVersion"] = json!("2024-10-21");
    apply(&job).ok();
}

#[test]
fn hyperparameters_are_positive_or_auto() {
    let ns = namespace("hyper");
    for (i, (field, value, msg)) in [
        (
            "nEpochs",
            json!(0),
            "must be a positive integer or \"auto\"",
        ),
        (
            "nEpochs",
            json!(-2),
            "must be a positive integer or \"auto\"",
        ),
        (
            "nEpochs",
            json!("many"),
            "must be a positive integer or \"auto\"",
        ),
        (
            "batchSize",
            json!(0),
            "must be a positive integer or \"auto\"",
        ),
        (
            "batchSize",
            json!("auto-ish"),
            "must be a positive integer or \"auto\"",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut job = finetunejob(&ns, &format!("bad-{i}"));
        job["spec"]["method"]["hyperparameters"] = json!({ field: value });
        apply(&job).fails_with(msg);
    }
    // Floats cannot carry a CEL rule (see crates/tunegate-api/src/finetunejob.rs); OpenAPI value validations
    // reject them instead, naming the field.
    for (i, (field, value)) in [
        ("learningRateMultiplier", json!(-0.5)),
        ("learningRateMultiplier", json!(0)),
        ("learningRateMultiplier", json!("fast")),
        ("learningRateMultiplier", json!(true)),
        ("beta", json!(-1)),
        ("beta", json!({"a": 1})),
        ("learningRateMultiplier", json!([0.1])),
    ]
    .into_iter()
    .enumerate()
    {
        let mut job = finetunejob(&ns, &format!("bad-float-{i}"));
        job["spec"]["method"]["type"] = json!("DPO");
        job["spec"]["method"]["hyperparameters"] = json!({ field: value });
        apply(&job).fails_with(&format!("spec.method.hyperparameters.{field}"));
    }
    let mut job = finetunejob(&ns, "good");
    job["spec"]["method"]["hyperparameters"] =
        json!({"nEpochs": "auto", "batchSize": 8, "learningRateMultiplier": 0.1});
    apply(&job).ok();
    let mut job = finetunejob(&ns, "good-auto");
    job["spec"]["method"]["hyperparameters"] =
        json!({"learningRateMultiplier": "auto", "nEpochs": 2});
    apply(&job).ok();
    let mut job = finetunejob(&ns, "good-dpo");
    job["spec"]["method"] = json!({"type": "DPO", "hyperparameters":
        {"beta": "auto", "learningRateMultiplier": 2, "nEpochs": 1}});
    apply(&job).ok();
}

#[test]
fn get_shows_the_printer_columns() {
    let ns = namespace("columns");
    let sources = json!([{"secret": {"name": "s", "key": "train.jsonl"}}]);
    apply(&dataset(&ns, "support-chats", sources)).ok();
    apply(&finetunejob(&ns, "support-bot")).ok();
    let out = kubectl(&["get", "-n", &ns, "tds,ftj"]).ok();
    let wide = kubectl(&["get", "-n", &ns, "tds,ftj", "-o", "wide"]).ok();
    for crd in tunegate_api::crds() {
        let kind = crd.spec.names.kind.clone();
        for version in &crd.spec.versions {
            for column in version.additional_printer_columns.iter().flatten() {
                let header = column.name.to_uppercase();
                let listing = if column.priority.unwrap_or(0) == 0 {
                    &out.stdout
                } else {
                    &wide.stdout
                };
                assert!(
                    listing
                        .lines()
                        .any(|l| l.split_whitespace().any(|w| w == header)),
                    "{kind} column {header} missing from `kubectl get tds,ftj`:\n{listing}"
                );
            }
        }
    }
    assert!(out.stdout.contains("support-chats") && out.stdout.contains("support-bot"));
}

#[test]
fn explain_prints_the_doc_comment() {
    control_plane();
    let crd = tunegate_api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == "FineTuneJob")
        .expect("FineTuneJob CRD");
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("schema as JSON");
    let doc =
        schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["retention"]["description"]
            .as_str()
            .expect("spec.retention has a description")
            .to_owned();
    let out = kubectl(&["explain", "finetunejob.spec.retention"]).ok();
    let flat = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat(&out.stdout).contains(&flat(&doc)),
        "kubectl explain lacks the doc comment {doc:?}:\n{}",
        out.stdout
    );
    // The fields below it are documented too.
    for field in ["trainingFiles", "model"] {
        assert!(
            out.stdout.contains(field),
            "{field} missing:\n{}",
            out.stdout
        );
    }
}

#[test]
fn server_reports_the_built_version() {
    control_plane();
    let want = pinned_version("K8S_VERSION");
    let raw = kubectl(&["get", "--raw", "/version"]).ok();
    let v: Value = serde_json::from_str(&raw.stdout).expect("/version is JSON");
    assert_eq!(v["gitVersion"], json!(want), "{}", raw.stdout);
    let minor = want
        .trim_start_matches("v1.")
        .split('.')
        .next()
        .unwrap_or_default();
    assert_eq!(v["major"], json!("1"));
    assert_eq!(v["minor"], json!(minor));
    let client = kubectl(&["version", "-o", "json"]).ok();
    let v: Value = serde_json::from_str(&client.stdout).expect("kubectl version JSON");
    assert_eq!(v["serverVersion"]["gitVersion"], json!(want));
}

#[test]
fn rbac_is_enforced_for_other_users() {
    control_plane();
    // Impersonating a user without bindings must be denied: the server runs RBAC, not AlwaysAllow.
    let out = kubectl(&["get", "tds", "-A", "--as=nobody@example.com"]);
    assert!(!out.success, "unbound user could list: {}", out.stdout);
    assert!(out.stderr.contains("forbidden"), "{}", out.stderr);
}
