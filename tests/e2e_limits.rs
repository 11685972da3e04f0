//! Input limits against a real API server, with the controllers in-process: a dataset whose
//! Secret sources add up to more than the per-dataset cap gets `SourcesTooLarge` naming the
//! limit; a Secret that a dataset names thirty times is fetched once per reconcile (counted by
//! the API server's own request counter), not thirty times; a volume dataset's worker Job reads
//! its (large) policy from a ConfigMap it owns, checked against a digest in its arguments.

mod inproc;

use tunegate_testkit::cluster as support;

use std::time::{Duration, Instant};

use kube::api::Api;
use tunegate_api::TrainingDataset;

fn line(i: usize) -> String {
    format!(
        r#"    {{"messages":[{{"role":"user","content":"question {i}"}},{{"role":"assistant","content":"answer"}}]}}"#
    )
}

fn manifests(ns: &str, name: &str, lines: usize, references: usize) -> String {
    let data: Vec<String> = (0..lines).map(line).collect();
    let sources: Vec<String> = (0..references)
        .map(|_| format!("{{secret: {{name: {name}-data, key: train.jsonl}}}}"))
        .collect();
    format!(
        r#"
apiVersion: v1
kind: Secret
metadata: {{name: {name}-data, namespace: {ns}, labels: {{tunegate.dev/training-data: "true"}}}}
stringData:
  train.jsonl: |
{data}
---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: {name}, namespace: {ns}}}
spec:
  sources: [{sources}]
  validation: {{minExamples: 1}}
"#,
        data = data.join("\n"),
        sources = sources.join(", ")
    )
}

async fn ready(api: &Api<TrainingDataset>, name: &str) -> Option<(String, String, String)> {
    let d = api.get(name).await.ok()?;
    let c = d
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")?;
    Some((c.status, c.reason, c.message))
}

/// GETs of Secrets the API server has answered so far (its `apiserver_request_total`).
async fn secret_gets(client: &kube::Client) -> u64 {
    let req = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let text = client.request_text(req).await.unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("apiserver_request_total{")
                && l.contains(r#"resource="secrets""#)
                && l.contains(r#"verb="GET""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_sources_are_capped_and_read_once() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cp = support::control_plane();
    let client = cp.client().await.unwrap();
    // Each Secret holds 12 lines (~1.1 KB): 3 references pass 3,000 bytes, 2 do not.
    let operator =
        inproc::spawn_operator(cp, "default", &["--max-in-process-source-bytes", "3000"]);

    let ns = support::namespace("limits");
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns, "big", 12, 3)).ok();
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns, "fits", 12, 2)).ok();
    let api: Api<TrainingDataset> = Api::namespaced(client.clone(), &ns);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (big, fits) = loop {
        if let (Some(b), Some(f)) = (ready(&api, "big").await, ready(&api, "fits").await) {
            break (b, f);
        }
        assert!(Instant::now() < deadline, "datasets not reconciled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        (big.0.as_str(), big.1.as_str()),
        ("False", "SourcesTooLarge")
    );
    assert!(
        big.2.contains("3000 bytes") && big.2.contains("--max-in-process-source-bytes"),
        "the message names the limit: {}",
        big.2
    );
    assert_eq!(
        (fits.0.as_str(), fits.1.as_str()),
        ("True", "Valid"),
        "{}",
        fits.2
    );

    // Thirty references to a one-line Secret (~90 bytes each: under the cap together): fetched
    // once (plus its metadata once) per reconcile, not thirty times each.
    let ns2 = support::namespace("limits");
    let before = secret_gets(&client).await;
    support::kubectl_stdin(&["apply", "-f", "-"], &manifests(&ns2, "many", 1, 30)).ok();
    let api2: Api<TrainingDataset> = Api::namespaced(client.clone(), &ns2);
    let deadline = Instant::now() + Duration::from_secs(60);
    let many = loop {
        if let Some(r) = ready(&api2, "many").await {
            break r;
        }
        assert!(Instant::now() < deadline, "dataset not reconciled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        (many.0.as_str(), many.1.as_str()),
        ("True", "Valid"),
        "{}",
        many.2
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gets = secret_gets(&client).await - before;
    assert!(
        gets <= 6,
        "{gets} Secret GETs for one dataset naming one Secret 30 times"
    );

    // A volume dataset's worker Job gets its spec (with a deny-list far over the kernel's 128 KiB
    // per environment variable) from a ConfigMap the Job owns, whose text hashes to the Job's
    // --spec-digest; nothing of the policy is in the pod spec.
    let ns3 = support::namespace("limits");
    let terms: Vec<String> = (0..8000).map(|i| format!("\"customer-{i:08}\"")).collect();
    // `create`, not `apply`: the last-applied annotation would be limited to 256 KiB.
    support::kubectl_stdin(
        &["create", "-f", "-"],
        &format!(
            r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: {ns3}, labels: {{tunegate.dev/training-data: "true"}}}}
spec: {{accessModes: [ReadOnlyMany], resources: {{requests: {{storage: 1Gi}}}}}}
---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: vol, namespace: {ns3}}}
spec:
  sources: [{{volume: {{claimName: data, path: train.jsonl}}}}]
  redaction: {{denyList: [{{name: CUSTOMER, terms: [{terms}]}}]}}
"#,
            terms = terms.join(", ")
        ),
    )
    .ok();
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(client.clone(), &ns3);
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), &ns3);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (job, cm) = loop {
        let listed = jobs.list(&Default::default()).await.unwrap();
        if let Some(job) = listed.items.into_iter().next() {
            let name = format!("{}-spec", job.metadata.name.clone().unwrap());
            if let Ok(Some(cm)) = cms.get_opt(&name).await {
                break (job, cm);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no worker Job with its spec ConfigMap"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let pod = serde_json::to_string(&job.spec.as_ref().unwrap().template).unwrap();
    assert!(
        !pod.contains("customer-00000001"),
        "the policy is not in the pod spec"
    );
    let owner = &cm.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), Some(owner.uid.as_str())),
        ("Job", job.metadata.uid.as_deref())
    );
    let text = &cm.data.as_ref().unwrap()["spec.json"];
    assert!(text.len() > 128 * 1024 && text.contains("customer-00000001"));
    let args = job.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    let at = args.iter().position(|a| a == "--spec-digest").unwrap();
    use sha2::Digest;
    assert_eq!(
        args[at + 1],
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        )
    );
    operator.abort();
}
