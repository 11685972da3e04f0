//! The FineTuneJob controller in-process against a real API server and Amazon Bedrock emulated by
//! moto in server mode (loopback). One job runs end to end through a Bedrock ProviderConfig: the
//! redacted bytes are converted and written to the customer's bucket, the customization job is
//! created under the uid's name, polled to completion (moto's gap: the launcher completes it),
//! the custom model is recorded and published, the S3 objects are deleted when the job ends and
//! the model when the resource is deleted; the ledger records each, and the bucket ends empty.
//! A second job asks for what Bedrock cannot do and is refused before anything is sent.

mod inproc;

use inproc::{cond, wait};
use tunegate_testkit::cluster as support;
use tunegate_testkit::moto::Moto;

use std::time::Duration;

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use tunegate_api::{FineTuneJob, LedgerEntry, LedgerState, RemoteKind, TrainingDataset};

const BUCKET: &str = "acme-ft";
const HOLD: &str = "test.tunegate.dev/hold";

fn data(lines: usize) -> String {
    (0..lines)
        .map(|i| format!(r#"    {{"messages":[{{"role":"system","content":"Be brief."}},{{"role":"user","content":"hi {i} from a{i}@example.com"}},{{"role":"assistant","content":"hello"}}]}}"#))
        .collect::<Vec<_>>()
        .join("\n")
}

fn manifests(ns: &str, moto: &str, job_extra: &str) -> String {
    let creds = Moto::CREDENTIALS_FILE.replace('\n', "\\n");
    format!(
        r#"
apiVersion: v1
kind: Secret
metadata: {{name: chats, namespace: {ns}, labels: {{tunegate.dev/training-data: "true"}}}}
stringData:
  train.jsonl: |
{data}
---
apiVersion: v1
kind: Secret
metadata: {{name: aws, namespace: {ns}, labels: {{tunegate.dev/credentials: "true"}}}}
stringData: {{credentials: "{creds}"}}
---
apiVersion: tunegate.dev/v1alpha1
kind: ProviderConfig
metadata: {{name: bedrock, namespace: {ns}}}
spec:
  type: Bedrock
  endpoint: "{moto}"
  credentials: {{secretRef: {{name: aws, key: credentials}}}}
  bedrock: {{region: us-east-1, s3: {{bucket: {BUCKET}, prefix: "{ns}/"}}, roleArn: "arn:aws:iam::123456789012:role/bedrock-ft"}}
  allowedModels: ["amazon.nova-*"]
---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: chats, namespace: {ns}}}
spec:
  sources: [{{secret: {{name: chats, key: train.jsonl}}}}]
---
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: bot, namespace: {ns}, finalizers: ["{HOLD}"]}}
spec:
  trainingDatasetRef: {{name: chats}}
  providerRef: {{kind: ProviderConfig, name: bedrock}}
  model: amazon.nova-micro-v1:0:128k
  method: {{hyperparameters: {{nEpochs: 2, batchSize: auto}}}}
  retention: {{trainingFiles: DeleteWhenFinished, model: DeleteWithResource}}
  output: {{configMapName: bot-model}}
{job_extra}
"#,
        data = data(12)
    )
}

fn ledger(j: &FineTuneJob) -> Vec<LedgerEntry> {
    j.status
        .as_ref()
        .map(|s| s.ledger.clone())
        .unwrap_or_default()
}

fn entry(l: &[LedgerEntry], kind: RemoteKind) -> LedgerEntry {
    l.iter()
        .find(|e| e.kind == kind)
        .cloned()
        .unwrap_or_else(|| panic!("no {kind:?} in the ledger: {l:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bedrock_job_runs_end_to_end_and_leaves_an_empty_bucket() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cp = support::control_plane();
    // moto keeps jobs InProgress forever; the launcher completes them after 2 s.
    let moto = Moto::start_with(&["--complete-after", "2"]);
    moto.create_bucket(BUCKET, "us-east-1");
    let op = inproc::spawn_operator(cp, "tunegate-system", &[]);
    let client = cp.client().await.unwrap();

    let ns = support::namespace("bedrock");
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns, &moto.url, "")).ok();
    let jobs: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns);
    let done = wait("the Bedrock job Ready", 120, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("bot").await.ok()?;
            if let Some((s, reason, msg)) = cond(&j, "Ready")
                && s == "False"
                && !matches!(
                    reason.as_str(),
                    "Running" | "DatasetNotReady" | "ProviderConfigNotReady"
                )
            {
                panic!("the job is blocked: {reason}: {msg}");
            }
            let (s, reason, _) = cond(&j, "Ready")?;
            (s == "True" && reason == "Succeeded").then_some(j)
        }
    })
    .await;
    let uid = done.metadata.uid.clone().unwrap();
    let l = ledger(&done);

    // The file: the converted bytes in the customer's bucket, under the uid and digest prefix;
    // the ledger holds the digest of exactly those bytes (not the redacted JSONL's).
    let file = entry(&l, RemoteKind::File);
    assert!(
        file.id
            .starts_with(&format!("s3://{BUCKET}/{ns}/tunegate-{uid}-")),
        "{file:?}"
    );
    assert!(file.id.ends_with("-training.jsonl"), "{file:?}");
    assert_eq!(file.state, LedgerState::Deleted, "deleted when finished");
    let datasets: Api<TrainingDataset> = Api::namespaced(client.clone(), &ns);
    let redacted = datasets
        .get("chats")
        .await
        .unwrap()
        .status
        .unwrap()
        .redacted_digest
        .unwrap();
    let stored = file.digest.clone().expect("the stored digest");
    assert!(
        stored.starts_with("sha256:") && stored.len() == 71,
        "{stored}"
    );
    assert_ne!(stored, redacted, "Bedrock stores the converted records");
    assert!(file.bytes.unwrap() > 0);
    let short = &redacted["sha256:".len().."sha256:".len() + 12];
    assert!(
        file.id.contains(short),
        "the key carries the dataset digest"
    );

    // The job: named after the uid (its clientRequestToken too), succeeded.
    let job = entry(&l, RemoteKind::Job);
    assert_eq!(job.id, format!("tunegate-{uid}"));
    assert_eq!(job.state, LedgerState::Succeeded);
    // The output prefix was recorded with the job and deleted with the files.
    let output = entry(&l, RemoteKind::Output);
    assert_eq!(
        output.id,
        format!("s3://{BUCKET}/{ns}/tunegate-{uid}-output/")
    );
    assert_eq!(output.state, LedgerState::Deleted, "{l:?}");
    // The model: recorded and published, kept until the resource goes.
    let model = entry(&l, RemoteKind::Model);
    assert!(
        model.id.ends_with(&format!(":custom-model/tunegate-{uid}")),
        "{model:?}"
    );
    assert_eq!(model.state, LedgerState::Present);
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), &ns);
    let cm = cms.get("bot-model").await.unwrap();
    assert_eq!(cm.data.unwrap().get("model"), Some(&model.id));
    assert!(
        moto.objects(BUCKET).is_empty(),
        "nothing left in the bucket once the job ended: {:?}",
        moto.objects(BUCKET)
    );
    let (models, bedrock_jobs) = moto.bedrock_names();
    assert_eq!(
        bedrock_jobs,
        vec![format!("tunegate-{uid}")],
        "exactly one job"
    );
    assert_eq!(models, vec![format!("tunegate-{uid}")]);

    // Deleting the resource deletes the model (retention.model: DeleteWithResource). The test's
    // own finalizer keeps the object readable after tunegate's clean-up, for the final ledger.
    jobs.delete("bot", &DeleteParams::default()).await.unwrap();
    let cleaned = wait("clean-up on deletion", 60, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("bot").await.ok()?;
            let ours = j
                .metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f.starts_with("tunegate.dev/"));
            (!ours).then_some(j)
        }
    })
    .await;
    let l = ledger(&cleaned);
    assert_eq!(entry(&l, RemoteKind::Model).state, LedgerState::Deleted);
    assert_eq!(entry(&l, RemoteKind::File).state, LedgerState::Deleted);
    assert_eq!(entry(&l, RemoteKind::Output).state, LedgerState::Deleted);
    assert!(
        moto.bedrock_names().0.is_empty(),
        "the custom model is gone"
    );
    assert!(moto.objects(BUCKET).is_empty());
    jobs.patch(
        "bot",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();

    // What Bedrock cannot do is refused at admission: nothing reaches the bucket or Bedrock.
    let ns2 = support::namespace("bedrock-refused");
    support::kubectl_stdin(
        &["apply", "-f", "-"],
        &manifests(&ns2, &moto.url, "  paused: true\n  seed: 7"),
    )
    .ok();
    let jobs2: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns2);
    let (_, reason, msg) = wait("UnsupportedByProvider", 60, || {
        let jobs = jobs2.clone();
        async move {
            let j = jobs.get("bot").await.ok()?;
            cond(&j, "Ready").filter(|(_, r, _)| r == "UnsupportedByProvider")
        }
    })
    .await;
    assert_eq!(reason, "UnsupportedByProvider");
    assert!(msg.contains("paused") && msg.contains("seed"), "{msg}");
    let refused = jobs2.get("bot").await.unwrap();
    assert!(ledger(&refused).is_empty(), "nothing was sent");
    assert!(moto.objects(BUCKET).is_empty());
    assert!(
        moto.bedrock_names().1.len() == 1,
        "no second job at Bedrock"
    );
    jobs2
        .patch(
            "bot",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
        )
        .await
        .ok();
    op.abort();
    // Let the in-process operator's tasks wind down before another operator starts.
    tokio::time::sleep(Duration::from_secs(1)).await;

    crash_after_job_create_is_adopted_by_name(&client, &moto).await;
}

/// The operator (a process) aborts right after Bedrock created the job and before the ledger
/// recorded it. The next operator finds the job by its name, `tunegate-<uid>`, and records it:
/// one job at Bedrock, never a second, and the run ends as any other.
async fn crash_after_job_create_is_adopted_by_name(client: &kube::Client, moto: &Moto) {
    use tunegate_testkit::e2e::Operator;
    let ns = support::namespace("bedrock-crash");
    let mut op = Operator::start(&ns, &[("TUNEGATE_FAILPOINT", "after-job-create")]);
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns, &moto.url, "")).ok();
    let crashed = tokio::task::spawn_blocking(move || {
        let exited = op.wait_exit(120);
        (op, exited)
    });
    let (op, exited) = crashed.await.unwrap();
    assert!(exited, "the operator reached the failpoint");
    drop(op);
    let jobs: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns);
    let j = jobs.get("bot").await.unwrap();
    let uid = j.metadata.uid.clone().unwrap();
    let name = format!("tunegate-{uid}");
    assert!(
        !ledger(&j).iter().any(|e| e.kind == RemoteKind::Job),
        "the job is not recorded yet"
    );
    assert!(
        moto.bedrock_names().1.contains(&name),
        "the job exists at Bedrock"
    );

    let _op = Operator::start(&ns, &[]);
    let done = wait("the adopted job Ready", 120, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("bot").await.ok()?;
            let (s, reason, _) = cond(&j, "Ready")?;
            (s == "True" && reason == "Succeeded").then_some(j)
        }
    })
    .await;
    let l = ledger(&done);
    assert_eq!(entry(&l, RemoteKind::Job).id, name);
    let ours: Vec<_> = moto
        .bedrock_names()
        .1
        .into_iter()
        .filter(|n| n == &name)
        .collect();
    assert_eq!(ours.len(), 1, "exactly one job for the uid");
    assert!(
        !moto.objects(BUCKET).iter().any(|k| k.starts_with(&ns)),
        "the namespace's objects are gone: {:?}",
        moto.objects(BUCKET)
    );
    jobs.patch(
        "bot",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
    )
    .await
    .ok();
}
