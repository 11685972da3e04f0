//! Tenancy end to end, on a real control plane: provider configs owned by admins and namespace
//! owners, the endpoint allow-list, opted-in credentials. Each test has its own namespace and an
//! operator watching only it (ProviderConfig, the namespaced kind); see e2e_tenancy_cluster.rs for
//! ClusterProviderConfig.

use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e::*;

fn provider_config(ns: &str, name: &str, endpoint: &str, secret: &str) -> String {
    format!(
        r#"apiVersion: tunegate.dev/v1alpha1
kind: ProviderConfig
metadata: {{name: {name}, namespace: {ns}}}
spec:
  type: OpenAI
  endpoint: {endpoint}
  credentials: {{secretRef: {{name: {secret}, key: apiKey}}}}
"#
    )
}

fn secret(ns: &str, name: &str, labelled: bool, value: &str) -> String {
    let labels = if labelled {
        "labels: {tunegate.dev/credentials: \"true\"}"
    } else {
        "labels: {}"
    };
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}, {labels}}}\nstringData: {{apiKey: {value}}}\n"
    )
}

#[test]
fn provider_config_readiness_reasons() {
    let ns = support::namespace("tn-ready");
    let op = Operator::start(&ns, &[("TUNEGATE_ALLOWED_ENDPOINTS", "127.0.0.1:18999")]);
    apply(&secret(&ns, "opted-in", true, "sk-e2e"));
    apply(&secret(&ns, "app-db", false, "canary-db-password-551"));
    apply(&provider_config(
        &ns,
        "good",
        "http://127.0.0.1:18999/v1",
        "opted-in",
    ));
    apply(&provider_config(
        &ns,
        "unlabelled",
        "http://127.0.0.1:18999/v1",
        "app-db",
    ));
    apply(&provider_config(
        &ns,
        "missing",
        "http://127.0.0.1:18999/v1",
        "nope",
    ));
    apply(&provider_config(
        &ns,
        "elsewhere",
        "http://127.0.0.1:18998/v1",
        "opted-in",
    ));
    apply(&provider_config(
        &ns,
        "metadata",
        "http://169.254.169.254/latest",
        "opted-in",
    ));
    let good = wait_condition(
        &ns,
        "providerconfig",
        "good",
        "Ready",
        "True",
        Some("Ready"),
        60,
    );
    assert!(
        good["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "tunegate.dev/config-in-use")),
        "{good}"
    );
    for (name, reason) in [
        ("unlabelled", "CredentialsNotOptedIn"),
        ("missing", "CredentialsNotFound"),
        ("elsewhere", "EndpointNotAllowed"),
        ("metadata", "EndpointNotAllowed"),
    ] {
        let pc = wait_condition(
            &ns,
            "providerconfig",
            name,
            "Ready",
            "False",
            Some(reason),
            60,
        );
        assert!(!pc.to_string().contains("canary-db-password-551"));
    }
    // Printer columns show it.
    let table = support::kubectl(&["-n", &ns, "get", "providerconfig", "unlabelled"]).ok();
    assert!(
        table.stdout.contains("CredentialsNotOptedIn"),
        "{}",
        table.stdout
    );
    // Labelling the Secret makes the config Ready (timer re-check).
    support::kubectl(&[
        "-n",
        &ns,
        "label",
        "secret",
        "app-db",
        "tunegate.dev/credentials=true",
    ])
    .ok();
    wait_condition(
        &ns,
        "providerconfig",
        "unlabelled",
        "Ready",
        "True",
        None,
        60,
    );
    assert!(!op.logs().contains("canary-db-password-551"));
    // Nothing uses "good": deleting it completes (the finalizer goes).
    support::kubectl(&[
        "-n",
        &ns,
        "delete",
        "providerconfig",
        "good",
        "--wait=true",
        "--timeout=60s",
    ])
    .ok();
}

#[test]
fn the_api_server_refuses_incomplete_provider_configs() {
    let ns = support::namespace("tn-cel");
    let cases = [
        (
            "type: AzureOpenAI\n  endpoint: https://x.openai.azure.com\n  credentials: {secretRef: {name: k, key: k}}",
            "apiVersion is required",
        ),
        (
            "type: AzureOpenAI\n  apiVersion: 2024-10-21\n  credentials: {secretRef: {name: k, key: k}}",
            "endpoint (the Azure OpenAI resource endpoint) is required",
        ),
        ("type: Bedrock", "bedrock (region, s3, roleArn) is required"),
        ("type: OpenAI", "credentials are required"),
        (
            "type: OpenAI\n  credentials: {secretRef: {name: k, key: k}}\n  bedrock: {region: us-east-1, s3: {bucket: abc}, roleArn: 'arn:aws:iam::1:role/x'}",
            "bedrock is only valid",
        ),
        (
            "type: OpenAI\n  endpoint: ftp://x\n  credentials: {secretRef: {name: k, key: k}}",
            "spec.endpoint",
        ),
        (
            "type: OpenAI\n  credentials: {secretRef: {name: k, key: k}}\n  allowedModels: ['gpt 4']",
            "spec.allowedModels",
        ),
    ];
    for (i, (spec, want)) in cases.iter().enumerate() {
        let y = format!(
            "apiVersion: tunegate.dev/v1alpha1\nkind: ProviderConfig\nmetadata: {{name: bad-{i}, namespace: {ns}}}\nspec:\n  {spec}\n"
        );
        support::kubectl_stdin(&["apply", "-f", "-"], &y).fails_with(want);
    }
    let ok = "apiVersion: tunegate.dev/v1alpha1\nkind: ClusterProviderConfig\nmetadata: {name: tn-cel-bedrock}\nspec:\n  type: Bedrock\n  bedrock: {region: us-east-1, s3: {bucket: acme-ft, prefix: tunegate/}, roleArn: 'arn:aws:iam::123456789012:role/tunegate'}\n  namespaceSelector: {matchLabels: {team: a}}\n";
    support::kubectl_stdin(&["apply", "-f", "-"], ok).ok();
    support::kubectl(&["delete", "clusterproviderconfig", "tn-cel-bedrock"]).ok();
}

/// A server that answers every request with a redirect to `to`.
fn redirecting_server(to: &str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let to = to.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}/v1/files/file-1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    url
}

#[test]
fn the_provider_client_follows_no_redirect() {
    let tenant = RecordingListener::start();
    let redirector = redirecting_server(&tenant.url);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for type_ in [
        tunegate_api::ProviderType::OpenAI,
        tunegate_api::ProviderType::AzureOpenAI,
    ] {
        let target = tunegate::provider::Target {
            type_,
            endpoint: format!("{redirector}/v1"),
            organization: None,
            project: None,
            api_version: Some("2024-10-21".into()),
            bedrock: None,
        };
        let p = tunegate::provider::from_target(
            &target,
            b"sk-canary-redirect-4417",
            tunegate::provider::ProviderOptions::default(),
        )
        .expect("client");
        let r = rt.block_on(p.retrieve_file("file-1"));
        assert!(r.is_err(), "a redirect is not a file");
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        tenant.requests().is_empty(),
        "the redirect target received a request"
    );
}

const CANARY_KEY: &str = "canary-app-db-password-90210";
const CANARY_EMAIL: &str = "canary.tenant.4471@example.com";

/// A labelled data Secret, a dataset over it (with `redaction`), and a job through `config_ref`.
fn dataset_and_job(ns: &str, name: &str, redaction: &str, config_ref: &str, model: &str) -> String {
    let data = indent(&chat_lines(12, &format!("Mail me at {CANARY_EMAIL}")), 4);
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: {name}-data, namespace: {ns}, labels: {{tunegate.dev/training-data: "true"}}}}
stringData:
  train.jsonl: |
{data}---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: {name}, namespace: {ns}}}
spec:
  format: Chat
  sources: [{{secret: {{name: {name}-data, key: train.jsonl}}}}]
  redaction: {redaction}
---
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: {name}, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: {name}}}
  providerRef: {config_ref}
  model: {model}
"#
    )
}

fn ready_message(obj: &serde_json::Value) -> String {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Events of a namespace as one string (to check that nothing private is in them).
fn events_text(ns: &str) -> String {
    support::kubectl(&["-n", ns, "get", "events", "-o", "json"])
        .ok()
        .stdout
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

#[test]
fn unlabelled_credentials_never_reach_the_tenants_listener() {
    let ns = support::namespace("tn-creds");
    let tenant = RecordingListener::start();
    // Even with the tenant's listener on the allow-list, the unlabelled Secret is never sent.
    let op = Operator::start(
        &ns,
        &[("TUNEGATE_ALLOWED_ENDPOINTS", &host_port(&tenant.url))],
    );
    apply(&secret(&ns, "app-db", false, CANARY_KEY));
    apply(&provider_config(
        &ns,
        "mine",
        &format!("{}/v1", tenant.url),
        "app-db",
    ));
    apply(&dataset_and_job(
        &ns,
        "steal",
        "{}",
        "{kind: ProviderConfig, name: mine}",
        "gpt-4o-mini-2024-07-18",
    ));
    wait_condition(
        &ns,
        "providerconfig",
        "mine",
        "Ready",
        "False",
        Some("CredentialsNotOptedIn"),
        60,
    );
    let ftj = wait_condition(
        &ns,
        "ftj",
        "steal",
        "Ready",
        "False",
        Some("ProviderConfigNotReady"),
        90,
    );
    assert!(
        ready_message(&ftj).contains("CredentialsNotOptedIn"),
        "{}",
        ready_message(&ftj)
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        tenant.requests().is_empty(),
        "the tenant's listener got a request"
    );
    assert!(!tenant.saw(CANARY_KEY));
    for text in [ftj.to_string(), events_text(&ns), op.logs()] {
        assert!(!text.contains(CANARY_KEY), "the canary leaked");
    }
    // The old inline block cannot bring it back: the API server refuses the field.
    support::kubectl_stdin(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: tunegate.dev/v1alpha1\nkind: FineTuneJob\nmetadata: {{name: inline, namespace: {ns}}}\nspec:\n  trainingDatasetRef: {{name: steal}}\n  providerRef: {{kind: ProviderConfig, name: mine}}\n  model: gpt-4o-mini-2024-07-18\n  provider: {{baseURL: '{}/v1', credentialsSecretRef: {{name: app-db, key: apiKey}}}}\n",
            tenant.url
        ),
    )
    .fails_with("unknown field \"spec.provider\"");
    assert!(tenant.requests().is_empty());
}

#[test]
fn a_job_naming_a_non_allowed_endpoint_makes_no_request() {
    let ns = support::namespace("tn-endpoint");
    let tenant = RecordingListener::start();
    let sandbox = Sandbox::start(&[]);
    // Only the sandbox is allowed; the tenant's listener is not.
    let op = Operator::start(
        &ns,
        &[("TUNEGATE_ALLOWED_ENDPOINTS", &host_port(&sandbox.url))],
    );
    apply(&secret(&ns, "key", true, "sk-e2e"));
    apply(&provider_config(
        &ns,
        "exfil",
        &format!("{}/v1", tenant.url),
        "key",
    ));
    apply(&provider_config(
        &ns,
        "metadata",
        "http://169.254.169.254/latest",
        "key",
    ));
    apply(&dataset_and_job(
        &ns,
        "exfil",
        "{}",
        "{kind: ProviderConfig, name: exfil}",
        "gpt-4o-mini-2024-07-18",
    ));
    apply(&dataset_and_job(
        &ns,
        "meta",
        "{}",
        "{kind: ProviderConfig, name: metadata}",
        "gpt-4o-mini-2024-07-18",
    ));
    apply(&dataset_and_job(
        &ns,
        "ghost",
        "{}",
        "{kind: ProviderConfig, name: nope}",
        "gpt-4o-mini-2024-07-18",
    ));
    for name in ["exfil", "metadata"] {
        wait_condition(
            &ns,
            "providerconfig",
            name,
            "Ready",
            "False",
            Some("EndpointNotAllowed"),
            60,
        );
    }
    for name in ["exfil", "meta"] {
        let ftj = wait_condition(
            &ns,
            "ftj",
            name,
            "Ready",
            "False",
            Some("ProviderConfigNotReady"),
            90,
        );
        assert!(
            ready_message(&ftj).contains("EndpointNotAllowed"),
            "{}",
            ready_message(&ftj)
        );
        assert!(
            ftj["status"]["ledger"]
                .as_array()
                .is_none_or(|l| l.is_empty())
        );
    }
    wait_condition(
        &ns,
        "ftj",
        "ghost",
        "Ready",
        "False",
        Some("ProviderConfigNotFound"),
        60,
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        tenant.requests().is_empty(),
        "the tenant's listener got a request"
    );
    assert!(!op.logs().contains(CANARY_EMAIL));
    assert_eq!(sandbox.state()["counts"]["client_files"], 0);
}

#[test]
fn a_model_outside_allowed_models_makes_no_request() {
    let ns = support::namespace("tn-model");
    let tenant = RecordingListener::start();
    let _op = Operator::start(
        &ns,
        &[("TUNEGATE_ALLOWED_ENDPOINTS", &host_port(&tenant.url))],
    );
    apply(&secret(&ns, "key", true, "sk-e2e"));
    apply(&format!(
        "{}  allowedModels: ['gpt-4.1-mini-*']\n",
        provider_config(&ns, "narrow", &format!("{}/v1", tenant.url), "key")
    ));
    wait_condition(&ns, "providerconfig", "narrow", "Ready", "True", None, 60);
    apply(&dataset_and_job(
        &ns,
        "wide",
        "{}",
        "{kind: ProviderConfig, name: narrow}",
        "gpt-4o-mini-2024-07-18",
    ));
    wait_condition(&ns, "tds", "wide", "Ready", "True", None, 60);
    let ftj = wait_condition(
        &ns,
        "ftj",
        "wide",
        "Ready",
        "False",
        Some("ModelNotAllowed"),
        60,
    );
    assert!(ready_message(&ftj).contains("gpt-4o-mini-2024-07-18"));
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        tenant.requests().is_empty(),
        "a request was made for a refused model"
    );
}

#[test]
fn empty_entities_upload_nothing() {
    let ns = support::namespace("tn-floor");
    let sandbox = Sandbox::start(&["--job-seconds", "2"]);
    let _op = Operator::start(&ns, &[]);
    apply(&provider_config(
        &ns,
        "sandbox",
        &sandbox.base_url(),
        "sandbox-creds",
    ));
    apply(&secret(&ns, "sandbox-creds", true, "sk-e2e"));
    apply(&dataset_and_job(
        &ns,
        "raw",
        "{entities: []}",
        "{kind: ProviderConfig, name: sandbox}",
        "gpt-4o-mini-2024-07-18",
    ));
    let ftj = wait_condition(
        &ns,
        "ftj",
        "raw",
        "Ready",
        "False",
        Some("RedactionBelowFloor"),
        90,
    );
    let msg = ready_message(&ftj);
    assert!(msg.contains("entities not enabled: EMAIL_ADDRESS"), "{msg}");
    assert!(!msg.contains(CANARY_EMAIL));
    let uid = uid(&ns, "ftj", "raw");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        sandbox.received_for(&uid).is_empty(),
        "something was uploaded"
    );
    assert_eq!(sandbox.state()["counts"]["client_files"], 0);
    // Positive control: the same job proceeds once the dataset meets the floor.
    support::kubectl(&[
        "-n",
        &ns,
        "patch",
        "tds",
        "raw",
        "--type=json",
        "-p",
        r#"[{"op": "remove", "path": "/spec/redaction/entities"}]"#,
    ])
    .ok();
    wait_condition(&ns, "ftj", "raw", "Ready", "True", Some("Succeeded"), 120);
    let received = sandbox.received_for(&uid);
    assert_eq!(received.len(), 1);
    let id = received[0]["id"].as_str().unwrap();
    let bytes =
        String::from_utf8(sandbox.get_bytes(&format!("/_sandbox/files/{id}/received"))).unwrap();
    assert!(bytes.contains("[EMAIL_ADDRESS]") && !bytes.contains(CANARY_EMAIL));
}

#[test]
fn an_unlabelled_pvc_gets_no_worker() {
    let ns = support::namespace("tn-pvc");
    let _op = Operator::start(&ns, &[]);
    apply(&format!(
        r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: other-apps-data, namespace: {ns}}}
spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}
---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: grab, namespace: {ns}}}
spec:
  format: Chat
  sources: [{{volume: {{claimName: other-apps-data, path: db/dump.jsonl}}}}]
---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: ghost, namespace: {ns}}}
spec:
  format: Chat
  sources: [{{volume: {{claimName: no-such-claim, path: a.jsonl}}}}]
"#
    ));
    let tds = wait_condition(
        &ns,
        "tds",
        "grab",
        "Ready",
        "False",
        Some("SourceNotAllowed"),
        60,
    );
    assert!(
        ready_message(&tds).contains("PersistentVolumeClaim other-apps-data"),
        "{}",
        ready_message(&tds)
    );
    wait_condition(
        &ns,
        "tds",
        "ghost",
        "Ready",
        "False",
        Some("SourceNotFound"),
        60,
    );
    std::thread::sleep(std::time::Duration::from_secs(3));
    let jobs = support::kubectl(&["-n", &ns, "get", "jobs", "-o", "json"]).ok();
    let jobs: serde_json::Value = serde_json::from_str(&jobs.stdout).unwrap();
    assert_eq!(
        jobs["items"].as_array().map(Vec::len),
        Some(0),
        "a worker was created"
    );
}

#[test]
fn a_planted_key_secret_is_refused() {
    let ns = support::namespace("tn-key");
    let _op = Operator::start(&ns, &[]);
    apply(&format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: pseudo-pseudonymization-key, namespace: {ns}}}
stringData: {{key: a-key-the-tenant-knows}}
---
apiVersion: v1
kind: Secret
metadata: {{name: app-db, namespace: {ns}}}
stringData: {{password: {CANARY_KEY}}}
"#
    ));
    let planted = dataset_and_job(
        &ns,
        "pseudo",
        "{mode: Pseudonymize}",
        "{kind: ProviderConfig, name: x}",
        "m",
    );
    let referenced = dataset_and_job(
        &ns,
        "byref",
        "{mode: Pseudonymize, pseudonymizationKeyRef: {name: app-db, key: password}}",
        "{kind: ProviderConfig, name: x}",
        "m",
    );
    apply(&planted);
    apply(&referenced);
    let tds = wait_condition(
        &ns,
        "tds",
        "pseudo",
        "Ready",
        "False",
        Some("PseudonymizationKeyNotOwned"),
        60,
    );
    assert!(!tds.to_string().contains("a-key-the-tenant-knows"));
    let tds = wait_condition(
        &ns,
        "tds",
        "byref",
        "Ready",
        "False",
        Some("PseudonymizationKeyNotAllowed"),
        60,
    );
    assert!(!tds.to_string().contains(CANARY_KEY));
    // Positive control: without the planted Secret the operator generates and owns its own key.
    support::kubectl(&["-n", &ns, "delete", "secret", "pseudo-pseudonymization-key"]).ok();
    support::kubectl(&[
        "-n",
        &ns,
        "patch",
        "tds",
        "pseudo",
        "--type=merge",
        "-p",
        r#"{"spec":{"validation":{"minExamples":11}}}"#,
    ])
    .ok();
    wait_condition(&ns, "tds", "pseudo", "Ready", "True", None, 60);
    let key = get(&ns, "secret", "pseudo-pseudonymization-key").expect("generated key");
    assert_eq!(
        key["metadata"]["ownerReferences"][0]["uid"].as_str(),
        Some(uid(&ns, "tds", "pseudo").as_str())
    );
}

#[test]
fn a_job_starts_when_its_config_appears_not_on_a_timer() {
    let sandbox = Sandbox::start(&["--job-seconds", "2"]);
    let ns = support::namespace("tn-late");
    let _op = Operator::start(&ns, &[]);
    apply(&dataset_and_job(
        &ns,
        "late",
        "{}",
        "{kind: ProviderConfig, name: late}",
        "gpt-4o-mini-2024-07-18",
    ));
    wait_condition(
        &ns,
        "ftj",
        "late",
        "Ready",
        "False",
        Some("ProviderConfigNotFound"),
        90,
    );
    // The refusal requeues after 30 s; the config's own watch event must wake the job first.
    let started = std::time::Instant::now();
    apply(&tunegate_testkit::e2e::provider_config(
        &ns,
        "late",
        &sandbox.base_url(),
        "",
    ));
    wait_condition(&ns, "ftj", "late", "Submitted", "True", None, 20);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "submitted {:?} after the config appeared",
        started.elapsed()
    );
}
