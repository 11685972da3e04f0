//! The controllers in-process (so a debugger and the test share one process) against a real API
//! server and an in-process `openai-sandbox` over real HTTP: finalizers, status writes, ledger,
//! deletion of a paused job, confused-deputy refusal and re-validation after labelling.

mod inproc;

use inproc::{sandbox_state, training_files, wait};
use tunegate_testkit::cluster as support;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use tunegate_api::{FineTuneJob, TrainingDataset};

fn data(lines: usize) -> String {
    (0..lines)
        .map(|i| format!(r#"    {{"messages":[{{"role":"user","content":"hi {i} from a{i}@example.com"}},{{"role":"assistant","content":"hello"}}]}}"#))
        .collect::<Vec<_>>()
        .join("\n")
}

fn manifests(ns: &str, label: bool, paused: bool, name: &str, base_url: &str) -> String {
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
metadata: {{name: creds, namespace: {ns}, labels: {{tunegate.dev/credentials: "true"}}}}
stringData: {{apiKey: sk-test}}
---
apiVersion: tunegate.dev/v1alpha1
kind: ProviderConfig
metadata: {{name: sandbox, namespace: {ns}}}
spec:
  endpoint: "{base_url}/v1"
  credentials: {{secretRef: {{name: creds, key: apiKey}}}}
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
  providerRef: {{kind: ProviderConfig, name: sandbox}}
  model: gpt-4o-mini-2024-07-18
  paused: {paused}
  output: {{configMapName: {name}-model}}
"#,
        data = data(12)
    )
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
async fn controllers_against_the_sandbox() {
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

    // Happy path.
    let ns = support::namespace("inproc");
    support::kubectl_stdin(
        &["apply", "-f", "-"],
        &manifests(&ns, true, false, "happy", &base),
    )
    .ok();
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
    // The provider's own copies are in the ledger too: the result file (deleted with the
    // training file) and the checkpoint models (kept, like the model, by retention.model).
    let provider_made = |e: &&tunegate_api::LedgerEntry| {
        e.kind == tunegate_api::RemoteKind::Output || e.role.as_deref() == Some("checkpoint")
    };
    let made: Vec<_> = st.ledger.iter().filter(provider_made).collect();
    assert!(
        made.iter()
            .any(|e| e.kind == tunegate_api::RemoteKind::Output
                && e.state == tunegate_api::LedgerState::Deleted),
        "the result file is recorded and deleted: {:?}",
        st.ledger
    );
    assert!(
        made.iter().any(|e| e.role.as_deref() == Some("checkpoint")
            && e.state == tunegate_api::LedgerState::Present),
        "checkpoint models are recorded: {:?}",
        st.ledger
    );
    let kinds: Vec<(String, String)> = st
        .ledger
        .iter()
        .filter(|e| !provider_made(e))
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
    let st_sb = sandbox_state(&base).await;
    assert_eq!(st_sb["counts"]["received"], 1, "exactly one upload");
    assert_eq!(st_sb["counts"]["jobs"], 1, "exactly one job");
    assert_eq!(
        training_files(&st_sb),
        0,
        "training file deleted at the provider"
    );
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

    // Deleting a paused (live) job cancels it and deletes its file. The sandbox accepts a pause
    // only while a job is running, so this one gets a sandbox whose jobs run for 30 s (a 2 s job
    // runs for 1.5 s: one slow reconcile on a busy machine and it would finish unpaused).
    let mut slow_cfg = openai_sandbox::Config::new("sk-test");
    slow_cfg.job_seconds = 40.0;
    let slow = openai_sandbox::start(slow_cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let slow_base = slow.base_url();
    let ns2 = support::namespace("inproc");
    support::kubectl_stdin(
        &["apply", "-f", "-"],
        &manifests(&ns2, true, true, "del", &slow_base),
    )
    .ok();
    let jobs2: Api<FineTuneJob> = Api::namespaced(client.clone(), &ns2);
    wait("del job paused", 60, || {
        let jobs2 = jobs2.clone();
        async move {
            let j = jobs2.get("del").await.ok()?;
            (j.status?.remote?.status.as_deref() == Some("paused")).then_some(())
        }
    })
    .await;
    let configs2: Api<tunegate_api::ProviderConfig> = Api::namespaced(client.clone(), &ns2);
    let fins = configs2
        .get("sandbox")
        .await
        .unwrap()
        .metadata
        .finalizers
        .unwrap_or_default();
    assert_eq!(fins, vec!["tunegate.dev/config-in-use".to_string()]);
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
    let st_sb = sandbox_state(&slow_base).await;
    let statuses: Vec<&str> = st_sb["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "cancelled").count(), 1);
    assert_eq!(training_files(&st_sb), 0, "no file left at the provider");
    wait("the config no longer in use after deletion", 20, || {
        let configs2 = configs2.clone();
        async move {
            let c = configs2.get("sandbox").await.ok()?;
            (c.status?.jobs_in_use == Some(0)).then_some(())
        }
    })
    .await;

    // Confused deputy: an unlabelled Secret is refused and never read.
    let ns3 = support::namespace("inproc");
    support::kubectl_stdin(
        &["apply", "-f", "-"],
        &manifests(&ns3, false, false, "deputy", &base),
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
    assert_eq!(sandbox_state(&base).await["counts"]["jobs"], 2);
    operator.abort();
}
