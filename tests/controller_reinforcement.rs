//! Reinforcement fine-tuning end to end: the controllers in-process against a real API server and
//! the sandbox over real HTTP. A Reinforcement dataset (prompts plus the fields a grader reads) is
//! redacted in full, the grader is validated by the provider before anything is uploaded, and a
//! grader the provider refuses ends in `GraderInvalid` with nothing left at the provider. Then the
//! same against the sandbox's Azure flavour, which needs validation data for reinforcement.

mod inproc;

use inproc::{cond, sandbox_state, training_files, wait};
use tunegate_testkit::cluster as support;

use kube::api::Api;
use serde_json::Value;
use tunegate_api::FineTuneJob;

/// Prompts whose last message is the user's, with the grader's reference answer beside them. The
/// answers are e-mail addresses: the part of a reinforcement line most likely to hold PII.
fn prompts(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                r#"    {{"messages":[{{"role":"developer","content":"Answer with the owner's e-mail address only."}},{{"role":"user","content":"Who owns ticket {i}?"}}],"reference_answer":"owner{i}@corp-mail.example","case":{{"id":"c{i}","notes":["call +1 415 555 01{i:02}"]}}}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn manifests(ns: &str, name: &str, base_url: &str, grader: &str) -> String {
    let provider = format!(
        r#"{{endpoint: "{base_url}/v1", credentials: {{secretRef: {{name: creds, key: apiKey}}}}}}"#
    );
    manifests_for(ns, name, &provider, grader, "")
}

/// `provider` is the ProviderConfig's spec; `job_extra` goes into the FineTuneJob's spec. A second
/// dataset, `<name>-val`, reads the same prompts (for providers that need validation data).
fn manifests_for(ns: &str, name: &str, provider: &str, grader: &str, job_extra: &str) -> String {
    let data = prompts(12);
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
metadata: {{name: sandbox, namespace: {ns}}}
spec: {provider}
---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: {name}, namespace: {ns}}}
spec:
  format: Reinforcement
  sources: [{{secret: {{name: {name}-data, key: train.jsonl}}}}]
---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: {name}-val, namespace: {ns}}}
spec:
  format: Reinforcement
  sources: [{{secret: {{name: {name}-data, key: train.jsonl}}}}]
---
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: {name}, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: {name}}}
  providerRef: {{kind: ProviderConfig, name: sandbox}}
  model: o4-mini-2025-04-16
  retention: {{trainingFiles: DeleteWithResource}}
  method:
    type: Reinforcement
    hyperparameters: {{nEpochs: 1, reasoningEffort: Low, evalSamples: 2}}
    grader: {grader}
{job_extra}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reinforcement_job_is_graded_redacted_and_cleaned_up() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cp = support::control_plane();
    let client = cp.client().await.unwrap();
    let mut cfg = openai_sandbox::Config::new("sk-test");
    cfg.job_seconds = 2.0;
    let sandbox = openai_sandbox::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = sandbox.base_url();
    let operator = inproc::spawn_operator(cp, "default", &[]);
    let http = reqwest::Client::new();

    // The happy path: the grader compares the model's answer with the (redacted) reference.
    let ns = support::namespace("rft");
    let grader = r#"{type: string_check, name: exact, input: "{{sample.output_text}}", reference: "{{item.reference_answer}}", operation: eq}"#;
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns, "rft", &base, grader)).ok();
    let jobs: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns);
    let done = wait("the reinforcement job Succeeded", 90, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("rft").await.ok()?;
            let (status, reason, _) = cond(&j, "Ready")?;
            (status == "True" && reason == "Succeeded").then_some(j)
        }
    })
    .await;
    let st = sandbox_state(&base).await;
    let job = &st["jobs"][0];
    assert_eq!(job["method"]["type"], "reinforcement", "{job}");
    let rft = &job["method"]["reinforcement"];
    assert_eq!(rft["grader"]["reference"], "{{item.reference_answer}}");
    assert_eq!(rft["hyperparameters"]["reasoning_effort"], "low");
    assert_eq!(rft["hyperparameters"]["eval_samples"], 2);
    // The uploaded prompts: every line kept, the grader's fields redacted like the messages.
    let file_id = done
        .status
        .as_ref()
        .and_then(|s| {
            s.ledger
                .iter()
                .find(|e| e.role.as_deref() == Some("training"))
        })
        .map(|e| e.id.clone())
        .expect("the training file is in the ledger");
    let content = http
        // Fine-tune files cannot be downloaded from the API; the sandbox keeps what it received.
        .get(format!("{base}/_sandbox/files/{file_id}/received"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(content.lines().count(), 12);
    for line in content.lines() {
        let v: Value = serde_json::from_str(line).expect("each uploaded line is JSON");
        assert!(v["reference_answer"].is_string());
        assert_eq!(
            v["messages"]
                .as_array()
                .and_then(|m| m.last())
                .map(|m| &m["role"]),
            Some(&Value::from("user"))
        );
    }
    assert!(!content.contains("corp-mail.example"), "{content}");
    assert!(!content.contains("555 01"), "{content}");
    // Deleting the resource deletes the file it kept.
    support::kubectl(&[
        "-n",
        &ns,
        "delete",
        "finetunejob",
        "rft",
        "--wait=true",
        "--timeout=60s",
    ])
    .ok();
    let st = sandbox_state(&base).await;
    assert_eq!(training_files(&st), 0, "no uploaded file left");

    // A grader tunegate's shape check passes but the provider's validation refuses (an unknown
    // operation): refused before any upload, with the provider's reason, and nothing sent.
    let received_before = sandbox_state(&base).await["counts"]["received"].clone();
    let ns2 = support::namespace("rft");
    let bad = r#"{type: string_check, name: exact, input: "{{sample.output_text}}", reference: "{{item.reference_answer}}", operation: contains}"#;
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns2, "bad", &base, bad)).ok();
    let jobs2: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns2);
    let (_, _, message) = wait("the bad grader refused", 60, || {
        let jobs2 = jobs2.clone();
        async move {
            let j = jobs2.get("bad").await.ok()?;
            let c = cond(&j, "Ready")?;
            (c.1 == "GraderInvalid").then_some(c)
        }
    })
    .await;
    assert!(message.contains("grader"), "{message}");
    let st = sandbox_state(&base).await;
    assert_eq!(
        st["counts"]["received"], received_before,
        "nothing uploaded"
    );
    assert_eq!(st["counts"]["jobs"], 1, "no second job");

    // The API server refuses a Reinforcement method without a grader, and a grader elsewhere.
    let no_grader = format!(
        r#"
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: nograder, namespace: {ns2}}}
spec:
  trainingDatasetRef: {{name: bad}}
  providerRef: {{kind: ProviderConfig, name: sandbox}}
  model: o4-mini-2025-04-16
  method: {{type: Reinforcement}}
"#
    );
    support::kubectl_stdin(&["apply", "-f", "-"], &no_grader).fails_with("needs a grader");
    let stray = no_grader.replace("nograder", "stray").replace(
        "{type: Reinforcement}",
        "{type: Supervised, grader: {type: python, name: p, source: x}}",
    );
    support::kubectl_stdin(&["apply", "-f", "-"], &stray).fails_with("needs a grader");
    let effort = no_grader.replace("nograder", "effort").replace(
        "{type: Reinforcement}",
        "{type: Supervised, hyperparameters: {reasoningEffort: High}}",
    );
    support::kubectl_stdin(&["apply", "-f", "-"], &effort).fails_with("reasoningEffort");

    azure_reinforcement(&client).await;
    operator.abort();
}

/// Azure OpenAI: reinforcement needs a validation dataset (refused before anything is sent
/// without one); with one, the job waits for both imports and trains. Azure has no grader
/// validation call, so the shape check runs and Azure judges the grader at creation.
async fn azure_reinforcement(client: &kube::Client) {
    let mut cfg = openai_sandbox::Config::new("sk-test");
    cfg.job_seconds = 2.0;
    cfg.azure_file_seconds = 1.0;
    let sandbox = openai_sandbox::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = sandbox.base_url();
    let provider = format!(
        r#"{{type: AzureOpenAI, endpoint: "{base}", apiVersion: "2025-04-01-preview", credentials: {{secretRef: {{name: creds, key: apiKey}}}}}}"#
    );
    let grader = r#"{type: string_check, name: exact, input: "{{sample.output_text}}", reference: "{{item.reference_answer}}", operation: eq}"#;

    let ns = support::namespace("rft-azure");
    support::kubectl_stdin(
        &["apply", "-f", "-"],
        &manifests_for(&ns, "noval", &provider, grader, ""),
    )
    .ok();
    let jobs: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns);
    let (_, _, message) = wait(
        "Azure refuses reinforcement without validation data",
        60,
        || {
            let jobs = jobs.clone();
            async move {
                let j = jobs.get("noval").await.ok()?;
                let c = cond(&j, "Ready")?;
                (c.1 == "UnsupportedByProvider").then_some(c)
            }
        },
    )
    .await;
    assert!(message.contains("validationDatasetRef"), "{message}");
    assert_eq!(sandbox_state(&base).await["counts"]["received"], 0);

    let ns2 = support::namespace("rft-azure");
    support::kubectl_stdin(
        &["apply", "-f", "-"],
        &manifests_for(
            &ns2,
            "withval",
            &provider,
            grader,
            "  validationDatasetRef: {name: withval-val}\n",
        ),
    )
    .ok();
    let jobs2: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns2);
    wait("the Azure reinforcement job Succeeded", 120, || {
        let jobs2 = jobs2.clone();
        async move {
            let j = jobs2.get("withval").await.ok()?;
            let (status, reason, _) = cond(&j, "Ready")?;
            (status == "True" && reason == "Succeeded").then_some(())
        }
    })
    .await;
    let st = sandbox_state(&base).await;
    assert_eq!(st["counts"]["received"], 2, "training and validation files");
    assert_eq!(st["jobs"][0]["method"]["type"], "reinforcement");
    assert!(st["jobs"][0]["validation_file"].is_string());
}
