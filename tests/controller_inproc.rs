//! The controllers in-process against a real API server, with in-memory pipeline and provider
//! fakes: finalizers, status writes, ledger, adoption, deletion, confused-deputy refusal.

mod fakes;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use tunegate::api::{FineTuneJob, TrainingDataset};
use tunegate::cli::run::{RunArgs, run_with};
use tunegate::controller::metrics::Metrics;

#[derive(Parser)]
struct Wrap {
    #[command(flatten)]
    args: RunArgs,
}

fn data(lines: usize) -> String {
    (0..lines)
        .map(|i| format!(r#"    {{"messages":[{{"role":"user","content":"hi {i} from a{i}@example.com"}},{{"role":"assistant","content":"hello"}}]}}"#))
        .collect::<Vec<_>>()
        .join("\n")
}

fn manifests(ns: &str, label: bool, paused: bool, name: &str) -> String {
    let label = if label {
        "labels: {tunegate.dev/training-data: \"true\"}"
    } else {
        "labels: {}"
    };
    format!(
        r#"
apiVersion: v1
kind: Secret
metadata: {{name: {name}-data, namespace: {ns}, {label}}}
stringData:
  train.jsonl: |
{data}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {ns}}}
stringData: {{apiKey: sk-test}}
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
  provider: {{credentialsSecretRef: {{name: creds, key: apiKey}}}}
  model: gpt-4o-mini-2024-07-18
  paused: {paused}
  output: {{configMapName: {name}-model}}
"#,
        data = data(12)
    )
}

async fn wait<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn cond(
    conds: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    t: &str,
) -> Option<(String, String)> {
    conds
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_with_fakes() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cp = support::control_plane();
    let client = cp.client().await.unwrap();
    let provider = fakes::FakeProvider::default();
    let kubeconfig = cp.kubeconfig().display().to_string();
    let args = Wrap::parse_from([
        "run",
        "--kubeconfig",
        &kubeconfig,
        "--metrics-addr",
        "127.0.0.1:0",
        "--poll-seconds",
        "0.2",
        "--no-leader-election",
    ])
    .args;
    let operator = tokio::spawn(run_with(
        args,
        Arc::new(tunegate::controller::adapters::RealPipeline),
        Arc::new(provider.clone()),
        Arc::new(Metrics::new()),
    ));

    // Happy path.
    let ns = support::namespace("inproc");
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns, true, false, "happy")).ok();
    let jobs: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns);
    let done = wait("happy job Ready", 60, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("happy").await.ok()?;
            let st = j.status.clone()?;
            (cond(&st.conditions, "Ready")? == ("True".into(), "Succeeded".into())).then_some(j)
        }
    })
    .await;
    let st = done.status.unwrap();
    let model = st
        .remote
        .as_ref()
        .and_then(|r| r.fine_tuned_model.clone())
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let cm = cms.get("happy-model").await.unwrap();
    assert_eq!(cm.data.unwrap()["model"], model);
    let kinds: Vec<(String, String)> = st
        .ledger
        .iter()
        .map(|e| (format!("{:?}", e.kind), format!("{:?}", e.state)))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("File".into(), "Deleted".into()),
            ("Job".into(), "Succeeded".into()),
            ("Model".into(), "Present".into())
        ]
    );
    {
        let s = provider.state.lock().unwrap();
        assert_eq!((s.created_files, s.created_jobs), (1, 1));
        assert!(s.files.is_empty(), "training file deleted at the provider");
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let creds = wait("credentials finalizer released", 20, || {
        let secrets = secrets.clone();
        async move {
            let s = secrets.get("creds").await.ok()?;
            s.metadata
                .finalizers
                .clone()
                .unwrap_or_default()
                .is_empty()
                .then_some(s)
        }
    })
    .await;
    assert!(creds.metadata.deletion_timestamp.is_none());
    let ds: Api<TrainingDataset> = Api::namespaced(client.clone(), &ns);
    let tds = ds.get("happy").await.unwrap().status.unwrap();
    assert_eq!(tds.examples, Some(12));
    assert_eq!(tds.findings.get("EMAIL_ADDRESS"), Some(&12));

    // Deleting a paused (live) job cancels it and deletes its file.
    let ns2 = support::namespace("inproc");
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns2, true, true, "del")).ok();
    let jobs2: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns2);
    wait("del job paused", 60, || {
        let jobs2 = jobs2.clone();
        async move {
            let j = jobs2.get("del").await.ok()?;
            (j.status?.remote?.status.as_deref() == Some("paused")).then_some(())
        }
    })
    .await;
    let secrets2: Api<Secret> = Api::namespaced(client.clone(), &ns2);
    let fins = secrets2
        .get("creds")
        .await
        .unwrap()
        .metadata
        .finalizers
        .unwrap_or_default();
    assert_eq!(fins, vec!["tunegate.dev/credentials-in-use".to_string()]);
    support::kubectl(&[
        "-n",
        &ns2,
        "delete",
        "finetunejob",
        "del",
        "--wait=true",
        "--timeout=60s",
    ])
    .ok();
    {
        let s = provider.state.lock().unwrap();
        let job = s
            .jobs
            .values()
            .find(|(j, _)| j.id == "ftjob-2")
            .map(|(j, _)| j.status.clone());
        assert_eq!(job.as_deref(), Some("cancelled"));
        assert!(s.files.is_empty(), "no file left at the provider");
    }
    wait("credentials finalizer released after deletion", 20, || {
        let secrets2 = secrets2.clone();
        async move {
            let s = secrets2.get("creds").await.ok()?;
            s.metadata
                .finalizers
                .clone()
                .unwrap_or_default()
                .is_empty()
                .then_some(())
        }
    })
    .await;

    // Confused deputy: an unlabelled Secret is refused and never read.
    let ns3 = support::namespace("inproc");
    support::kubectl_stdin(
        &["apply", "-f", "-"],
        &manifests(&ns3, false, false, "deputy"),
    )
    .ok();
    let ds3: Api<TrainingDataset> = Api::namespaced(client.clone(), &ns3);
    wait("SourceNotAllowed", 30, || {
        let ds3 = ds3.clone();
        async move {
            let d = ds3.get("deputy").await.ok()?;
            (cond(&d.status?.conditions, "Ready")? == ("False".into(), "SourceNotAllowed".into()))
                .then_some(())
        }
    })
    .await;
    let jobs3: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns3);
    wait("deputy job waits for its dataset", 30, || {
        let jobs3 = jobs3.clone();
        async move {
            let j = jobs3.get("deputy").await.ok()?;
            (cond(&j.status?.conditions, "DatasetReady")?
                == ("False".into(), "DatasetNotReady".into()))
                .then_some(())
        }
    })
    .await;
    // Labelling it later re-validates (the labelled-Secret watch triggers the dataset).
    support::kubectl(&[
        "-n",
        &ns3,
        "label",
        "secret",
        "deputy-data",
        "tunegate.dev/training-data=true",
    ])
    .ok();
    wait("deputy dataset Ready after labelling", 30, || {
        let ds3 = ds3.clone();
        async move {
            let d = ds3.get("deputy").await.ok()?;
            (cond(&d.status?.conditions, "Ready")?.0 == "True").then_some(())
        }
    })
    .await;
    // ... and the waiting job goes on to succeed.
    wait("deputy job Succeeded", 60, || {
        let jobs3 = jobs3.clone();
        async move {
            let j = jobs3.get("deputy").await.ok()?;
            (cond(&j.status?.conditions, "Succeeded")?.0 == "True").then_some(())
        }
    })
    .await;
    assert_eq!(provider.state.lock().unwrap().created_jobs, 3);
    operator.abort();
}
