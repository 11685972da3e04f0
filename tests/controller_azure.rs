//! The FineTuneJob controller in-process against a real API server and the sandbox's Azure
//! flavour: Azure imports an uploaded file asynchronously (`pending` -> `processed`) and answers
//! 400 to a job that names a file not yet processed, so the controller must wait for the import
//! before it creates the job. The import here takes 3 s, longer than the controller needs to
//! upload and submit, so creating at once would fail. Also: an OpenAI organisation that lost
//! fine-tuning gets the terminal `ProviderRefused` condition with the provider's code, and no
//! retry.

mod inproc;

use inproc::{cond, sandbox_state, wait};
use tunegate_testkit::cluster as support;

use std::time::Duration;

use kube::api::Api;
use serde_json::Value;
use tunegate_api::FineTuneJob;

fn data(lines: usize) -> String {
    (0..lines)
        .map(|i| format!(r#"    {{"messages":[{{"role":"user","content":"hi {i} from a{i}@example.com"}},{{"role":"assistant","content":"hello"}}]}}"#))
        .collect::<Vec<_>>()
        .join("\n")
}

fn manifests(ns: &str, name: &str, provider: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Secret
metadata: {{name: {name}-data, namespace: {ns}, labels: {{tunegate.dev/training-data: "true"}}}}
stringData:
  train.jsonl: |
{data}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {ns}, labels: {{tunegate.dev/credentials: "true"}}}}
stringData: {{apiKey: sk-test}}
---
apiVersion: tunegate.dev/v1alpha1
kind: ProviderConfig
metadata: {{name: {name}, namespace: {ns}}}
spec: {provider}
---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: {name}, namespace: {ns}}}
spec:
  sources: [{{secret: {{name: {name}-data, key: train.jsonl}}}}]
---
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: {name}, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: {name}}}
  providerRef: {{kind: ProviderConfig, name: {name}}}
  model: gpt-4o-mini-2024-07-18
"#,
        data = data(12)
    )
}

/// (method, path, status) of every request the sandbox answered.
async fn requests(base: &str) -> Vec<(String, String, u64)> {
    let v: Value = reqwest::get(format!("{base}/_sandbox/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]
        .as_array()
        .expect("request log")
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap_or("").to_owned(),
                r["path"].as_str().unwrap_or("").to_owned(),
                r["status"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn job_creates(log: &[(String, String, u64)]) -> Vec<u64> {
    log.iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/fine_tuning/jobs"))
        .map(|(_, _, s)| *s)
        .collect()
}

/// One operator for both scenarios: two operators without leader election would both act on
/// every FineTuneJob in the shared cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_against_azure_and_a_refusing_openai() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cp = support::control_plane();
    let op = inproc::spawn_operator(cp, "tunegate-system", &[]);
    azure_job_waits_for_the_file_import_then_succeeds(cp).await;
    refused_organisation_is_a_terminal_provider_refused_condition(cp).await;
    op.abort();
}

async fn azure_job_waits_for_the_file_import_then_succeeds(cp: &tunegate_testenv::ControlPlane) {
    let client = cp.client().await.unwrap();
    let mut cfg = openai_sandbox::Config::new("sk-test");
    cfg.job_seconds = 2.0;
    cfg.azure_file_seconds = 3.0;
    let sandbox = openai_sandbox::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = sandbox.base_url();

    let ns = support::namespace("azure");
    let provider = format!(
        r#"{{type: AzureOpenAI, endpoint: "{base}", apiVersion: "2024-10-21", credentials: {{secretRef: {{name: creds, key: apiKey}}}}}}"#
    );
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns, "az", &provider)).ok();
    let jobs: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns);
    let done = wait("Azure job Ready", 90, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("az").await.ok()?;
            if let Some((s, reason, msg)) = cond(&j, "Submitted")
                && s == "False"
            {
                panic!("the job was refused: {reason}: {msg}");
            }
            let (s, reason, _) = cond(&j, "Ready")?;
            (s == "True" && reason == "Succeeded").then_some(j)
        }
    })
    .await;
    let model = done
        .status
        .as_ref()
        .and_then(|s| s.remote.as_ref())
        .and_then(|r| r.fine_tuned_model.clone())
        .unwrap();
    assert!(model.contains(".ft-"), "an Azure model id: {model}");
    let st = sandbox_state(&base).await;
    assert_eq!(
        st["counts"]["jobs"],
        1,
        "exactly one job: {:?}",
        requests(&base).await
    );
    // The controller never asked for a job on a pending file: one create, answered 201.
    assert_eq!(job_creates(&requests(&base).await), vec![201]);
}

async fn refused_organisation_is_a_terminal_provider_refused_condition(
    cp: &tunegate_testenv::ControlPlane,
) {
    let client = cp.client().await.unwrap();
    let mut cfg = openai_sandbox::Config::new("sk-test");
    cfg.fine_tuning_refused = true;
    let sandbox = openai_sandbox::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = sandbox.base_url();

    let ns = support::namespace("refused");
    let provider = format!(
        r#"{{type: OpenAI, endpoint: "{base}/v1", credentials: {{secretRef: {{name: creds, key: apiKey}}}}}}"#
    );
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns, "ref", &provider)).ok();
    let jobs: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns);
    let (_, reason, msg) = wait("ProviderRefused", 60, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("ref").await.ok()?;
            cond(&j, "Submitted").filter(|(s, _, _)| s == "False")
        }
    })
    .await;
    assert_eq!(reason, "ProviderRefused");
    assert!(
        msg.contains("http_403"),
        "the provider's code is carried: {msg}"
    );
    // No retry storm: a few seconds later, still exactly one create was attempted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        job_creates(&requests(&base).await),
        vec![403],
        "one create, not retried"
    );
}
