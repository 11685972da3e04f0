//! A dataset larger than the operator's single-request limit goes through the Uploads API: the
//! controllers in-process against a real API server and the sandbox over real HTTP, with the
//! limits lowered by the operator's flags (as behind an egress proxy that caps request bodies) so
//! that a few MB of ConfigMap data is "multipart-sized". The upload is in the ledger, completes,
//! trains, and nothing is left at the provider afterwards.

mod inproc;

use inproc::{cond, sandbox_state, training_files, wait};
use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e::provider_config;

use kube::api::Api;
use serde_json::Value;
use tunegate_api::{FineTuneJob, LedgerState, RemoteKind};

const PART: u64 = 1 << 20;

/// About 900 KB of chat lines with an e-mail address each (a ConfigMap holds at most 1 MiB).
fn chats(part: usize) -> String {
    (0..2400)
        .map(|i| {
            format!(
                r#"    {{"messages":[{{"role":"user","content":"Order {part}-{i}: please change the delivery address, reply to buyer{i}@shop.example. The parcel is still at the depot and I would like it redirected."}},{{"role":"assistant","content":"Done: order {part}-{i} now goes to the new address; the confirmation follows by e-mail."}}]}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn manifests(ns: &str, base_url: &str) -> String {
    let mut out = String::new();
    for part in 0..3 {
        out.push_str(&format!(
            r#"
apiVersion: v1
kind: ConfigMap
metadata: {{name: chats-{part}, namespace: {ns}, labels: {{tunegate.dev/training-data: "true"}}}}
data:
  train.jsonl: |
{data}
---"#,
            data = chats(part)
        ));
    }
    out.push('\n');
    out.push_str(&provider_config(
        ns,
        "sandbox",
        &format!("{base_url}/v1"),
        "",
    ));
    out.push_str(&format!(
        r#"
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: big, namespace: {ns}}}
spec:
  sources:
  - configMap: {{name: chats-0, key: train.jsonl}}
  - configMap: {{name: chats-1, key: train.jsonl}}
  - configMap: {{name: chats-2, key: train.jsonl}}
---
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: big, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: big}}
  providerRef: {{kind: ProviderConfig, name: sandbox}}
  model: gpt-4o-mini-2024-07-18
"#
    ));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_over_the_single_request_limit_goes_up_in_parts() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cp = support::control_plane();
    let client = cp.client().await.unwrap();
    // The key provider_config puts in its Secret.
    let mut cfg = openai_sandbox::Config::new("sk-e2e");
    cfg.job_seconds = 2.0;
    cfg.spool_dir = Some(env!("CARGO_TARGET_TMPDIR").into());
    let sandbox = openai_sandbox::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = sandbox.base_url();
    let part = PART.to_string();
    let operator = inproc::spawn_operator(
        cp,
        "default",
        &[
            "--upload-single-request-max-bytes",
            &part,
            "--upload-part-bytes",
            &part,
        ],
    );

    let ns = support::namespace("multipart");
    support::kubectl_stdin(
        &["apply", "--server-side", "-f", "-"],
        &manifests(&ns, &base),
    )
    .ok();
    let jobs: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns);
    let done = wait("the job Succeeded", 180, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("big").await.ok()?;
            let (status, reason, _) = cond(&j, "Ready")?;
            (status == "True" && reason == "Succeeded").then_some(j)
        }
    })
    .await;
    let st = done.status.expect("status");
    // The ledger has the upload (recorded before its first part) and the file it became.
    let upload = st
        .ledger
        .iter()
        .find(|e| e.kind == RemoteKind::Upload)
        .unwrap_or_else(|| panic!("an Upload in the ledger: {:?}", st.ledger));
    assert_eq!(upload.state, LedgerState::Succeeded, "{:?}", st.ledger);
    let file = st
        .ledger
        .iter()
        .find(|e| e.kind == RemoteKind::File)
        .expect("the file");
    assert_eq!(file.state, LedgerState::Deleted, "{:?}", st.ledger);

    let sb = sandbox_state(&base).await;
    let uploads = sb["uploads"].as_array().expect("uploads");
    assert_eq!(uploads.len(), 1, "one upload: {uploads:?}");
    assert_eq!(uploads[0]["status"], "completed", "{uploads:?}");
    assert_eq!(uploads[0]["id"].as_str(), Some(upload.id.as_str()));
    let bytes = uploads[0]["bytes"].as_u64().expect("bytes");
    assert!(bytes > 2 * PART, "more than two parts' worth: {bytes}");
    assert_eq!(sb["counts"]["jobs"], 1, "exactly one job");
    assert_eq!(
        training_files(&sb),
        0,
        "no uploaded file left at the provider"
    );
    // What was received is the redacted data.
    let received = reqwest::get(format!("{base}/_sandbox/received"))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let id = received["data"][0]["id"]
        .as_str()
        .expect("a received file id");
    let body = reqwest::get(format!("{base}/_sandbox/files/{id}/received"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body.lines().count(), 7200);
    assert!(!body.contains("@shop.example"));
    operator.abort();
}
