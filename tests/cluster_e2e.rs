//! End to end on the full single-node cluster (tunegate-testenv's full mode): real
//! kube-controller-manager (Job, TTL, garbage-collector, namespace and PV controllers), real
//! kube-scheduler, real kubelet with containerd and runc. Worker Jobs run as pods of the operator
//! image (hack/images/build-operator-image.sh), the same static binary the Dockerfile ships.
//! Nothing here acts out a Kubernetes component. The operator itself runs on the host here;
//! tests/cluster_chart.rs runs it as a pod from the chart.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;
use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e::*;

/// Lists objects of `kind` in `ns` with an optional label selector.
fn list(ns: &str, kind: &str, selector: Option<&str>) -> Vec<Value> {
    let mut args = vec!["-n", ns, "get", kind, "-o", "json"];
    if let Some(s) = selector {
        args.extend(["-l", s]);
    }
    let out = support::kubectl(&args);
    serde_json::from_str::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v["items"].as_array().cloned())
        .unwrap_or_default()
}

fn worker_jobs(ns: &str) -> Vec<Value> {
    list(ns, "jobs", Some("app.kubernetes.io/component=worker"))
}

/// A directory the node serves as a hostPath PersistentVolume, bound to PVC `datasets` in `ns`
/// by the real PV controller.
fn datasets_volume(ns: &str, dir: &Path) {
    apply(&format!(
        r#"apiVersion: v1
kind: PersistentVolume
metadata: {{name: {ns}-datasets}}
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadOnlyMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: tunegate-test
  claimRef: {{namespace: {ns}, name: datasets}}
  hostPath: {{path: {dir}, type: Directory}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: datasets, namespace: {ns}, labels: {{tunegate.dev/training-data: "true"}}}}
spec:
  accessModes: [ReadOnlyMany]
  storageClassName: tunegate-test
  volumeName: {ns}-datasets
  resources: {{requests: {{storage: 1Gi}}}}
"#,
        dir = dir.display()
    ));
    wait_for("PVC Bound by the PV controller", 60, || {
        let pvc = get(ns, "pvc", "datasets")?;
        (pvc["status"]["phase"] == "Bound").then_some(())
    });
}

/// A world-traversable directory for the volume (the worker runs as 65532).
fn volume_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("tunegate-pv-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn write_file(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::set_permissions(
        path.parent().unwrap(),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn volume_dataset(ns: &str, name: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: extra, namespace: {ns}, labels: {{tunegate.dev/training-data: "true"}}}}
stringData:
  more.jsonl: |
{extra}---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: {name}, namespace: {ns}}}
spec:
  format: Chat
  sources:
    - volume: {{claimName: datasets, path: team-a/train.jsonl}}
    - secret: {{name: extra, key: more.jsonl}}
"#,
        extra = indent(&chat_lines(2, "from the secret"), 4)
    )
}

fn operator(ns: &str, args: &[&str]) -> Operator {
    let image = support::operator_image_ref();
    // INSECURE on purpose: the sandbox is plain http on the node's bridge address.
    let allowed = format!("{}:*", support::full_cluster().network().node_ip);
    Operator::start_with(
        ns,
        &[
            ("TUNEGATE_WORKER_IMAGE", image.as_str()),
            ("TUNEGATE_ALLOWED_ENDPOINTS", allowed.as_str()),
        ],
        args,
    )
}

/// A namespaced ProviderConfig `p` at `url` with its opted-in credentials Secret `creds`.
fn provider(ns: &str, url: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {ns}, labels: {{tunegate.dev/credentials: "true"}}}}
stringData: {{apiKey: sk-e2e}}
---
apiVersion: tunegate.dev/v1alpha1
kind: ProviderConfig
metadata: {{name: p, namespace: {ns}}}
spec:
  type: OpenAI
  endpoint: {url}
  credentials: {{secretRef: {{name: creds, key: apiKey}}}}
"#
    )
}

/// The sandbox on the node address, where pods (upload workers) reach it over the bridge.
fn node_sandbox(extra: &[&str]) -> Sandbox {
    let ip = support::full_cluster().network().node_ip.clone();
    Sandbox::start_on(&format!("{ip}:0"), extra)
}

#[test]
fn volume_dataset_is_validated_and_uploaded_by_real_worker_pods_then_ttl_collects_them() {
    support::use_full_cluster();
    let ns = support::namespace("node-volume");
    let dir = volume_dir();
    write_file(
        &dir.path().join("team-a/train.jsonl"),
        &chat_lines(10, "mail x@example.com"),
        0o644,
    );
    datasets_volume(&ns, dir.path());
    let sandbox = node_sandbox(&["--job-seconds", "2"]);
    let _op = operator(&ns, &["--worker-ttl-seconds", "15"]);
    apply(&volume_dataset(&ns, "vol"));
    let tds = wait_condition(&ns, "tds", "vol", "Ready", "True", Some("Valid"), 240);
    assert_eq!(tds["status"]["examples"], 12);
    assert_eq!(tds["status"]["findings"]["EMAIL_ADDRESS"], 10);
    let digest = tds["status"]["redactedDigest"]
        .as_str()
        .unwrap()
        .to_string();

    // The Job controller made the pod, the kubelet ran it on the node, the container wrote its
    // result to /dev/termination-log and the kubelet put it in the pod's status.
    let pods = list(&ns, "pods", Some("app.kubernetes.io/component=worker"));
    assert_eq!(pods.len(), 1, "one validation pod: {pods:#?}");
    let pod = &pods[0];
    assert_eq!(pod["spec"]["nodeName"], "tunegate-node");
    assert_eq!(
        pod["metadata"]["ownerReferences"][0]["kind"], "Job",
        "created by the Job controller"
    );
    assert_eq!(pod["status"]["phase"], "Succeeded");
    let term = &pod["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 0);
    let message = term["message"].as_str().expect("termination message");
    assert!(!message.is_empty() && message.len() < 4096);
    assert!(!message.contains("x@example.com"));
    assert!(
        pod["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["persistentVolumeClaim"]["readOnly"] == true)
    );

    // The upload worker reaches the provider (the sandbox on the node address) from its pod.
    apply(&format!(
        r#"{provider}---
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: volftj, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: vol}}
  providerRef: {{kind: ProviderConfig, name: p}}
  model: gpt-4o-mini-2024-07-18
"#,
        provider = provider(&ns, &sandbox.base_url())
    ));
    wait_condition(
        &ns,
        "ftj",
        "volftj",
        "Ready",
        "True",
        Some("Succeeded"),
        240,
    );
    let uid = uid(&ns, "ftj", "volftj");
    let received = sandbox.received_for(&uid);
    assert_eq!(received.len(), 1);
    assert_eq!(
        format!("sha256:{}", received[0]["sha256"].as_str().unwrap()),
        digest
    );
    assert_eq!(sandbox.live_files_for(&uid), 0);

    // The TTL-after-finished controller deletes both finished Jobs, the garbage collector their
    // pods.
    wait_for("finished worker Jobs and pods deleted by TTL", 120, || {
        (worker_jobs(&ns).is_empty()
            && list(&ns, "pods", Some("app.kubernetes.io/component=worker")).is_empty())
        .then_some(())
    });
}

#[test]
fn a_0600_file_of_another_user_fails_with_a_clear_condition() {
    // The worker runs as 65532 (the image's user); a file only its owner may read cannot be
    // read by it, whatever fsGroup says (fsGroup does not change a read-only hostPath or
    // local volume, and group bits of 0600 are zero). docs/operations.md says what to do.
    support::use_full_cluster();
    let ns = support::namespace("node-private");
    let dir = volume_dir();
    let file = dir.path().join("team-a/train.jsonl");
    write_file(&file, &chat_lines(3, ""), 0o600);
    std::os::unix::fs::chown(&file, Some(1000), Some(1000)).unwrap();
    datasets_volume(&ns, dir.path());
    let _op = operator(&ns, &[]);
    apply(&volume_dataset(&ns, "private"));
    let failed = wait_condition(
        &ns,
        "tds",
        "private",
        "Ready",
        "False",
        Some("WorkerFailed"),
        240,
    );
    let msg = failed["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("SourceFilePermissionDenied"),
        "the condition names the cause: {msg}"
    );
}

#[test]
fn a_file_missing_on_the_volume_fails_with_source_file_not_found() {
    support::use_full_cluster();
    let ns = support::namespace("node-missing");
    let dir = volume_dir();
    datasets_volume(&ns, dir.path());
    let _op = operator(&ns, &[]);
    apply(&volume_dataset(&ns, "missing"));
    let failed = wait_condition(
        &ns,
        "tds",
        "missing",
        "Ready",
        "False",
        Some("WorkerFailed"),
        240,
    );
    let msg = failed["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msg.contains("SourceFileNotFound"), "{msg}");
}

#[test]
fn garbage_collector_deletes_worker_jobs_and_the_output_config_map_with_their_owners() {
    support::use_full_cluster();
    let ns = support::namespace("node-gc");
    let dir = volume_dir();
    write_file(
        &dir.path().join("team-a/train.jsonl"),
        &chat_lines(10, ""),
        0o644,
    );
    datasets_volume(&ns, dir.path());
    let sandbox = node_sandbox(&["--job-seconds", "2"]);
    // Long TTL: only the garbage collector may remove the Jobs here.
    let _op = operator(&ns, &["--worker-ttl-seconds", "3600"]);
    apply(&volume_dataset(&ns, "owned"));
    wait_condition(&ns, "tds", "owned", "Ready", "True", Some("Valid"), 240);
    apply(&format!(
        r#"{provider}---
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: owner, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: owned}}
  providerRef: {{kind: ProviderConfig, name: p}}
  model: gpt-4o-mini-2024-07-18
  output: {{configMapName: owner-model}}
"#,
        provider = provider(&ns, &sandbox.base_url())
    ));
    wait_condition(&ns, "ftj", "owner", "Ready", "True", Some("Succeeded"), 240);
    assert!(get(&ns, "configmap", "owner-model").is_some());
    let kinds: Vec<String> = worker_jobs(&ns)
        .iter()
        .map(|j| {
            j["metadata"]["ownerReferences"][0]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(
        kinds.contains(&"TrainingDataset".to_string())
            && kinds.contains(&"FineTuneJob".to_string()),
        "positive control: a validation and an upload Job exist: {kinds:?}"
    );

    support::kubectl(&["-n", &ns, "delete", "ftj", "owner", "--wait=true"]).ok();
    wait_for(
        "output ConfigMap and upload Job collected with the FineTuneJob",
        120,
        || {
            (get(&ns, "configmap", "owner-model").is_none()
                && worker_jobs(&ns)
                    .iter()
                    .all(|j| j["metadata"]["ownerReferences"][0]["kind"] != "FineTuneJob"))
            .then_some(())
        },
    );
    support::kubectl(&["-n", &ns, "delete", "tds", "owned", "--wait=true"]).ok();
    wait_for("validation Job and its pod collected", 120, || {
        (worker_jobs(&ns).is_empty()
            && list(&ns, "pods", Some("app.kubernetes.io/component=worker")).is_empty())
        .then_some(())
    });
}

#[test]
fn the_namespace_controller_deletes_a_namespace_with_a_running_job_and_nothing_stays_remote() {
    support::use_full_cluster();
    let ns = support::namespace("node-nsdel");
    let sandbox = node_sandbox(&["--job-seconds", "300"]);
    let _op = operator(&ns, &[]);
    apply(&scenario(
        &ns,
        "doomed",
        &sandbox.base_url(),
        &chat_lines(10, ""),
        "",
    ));
    wait_for("job submitted", 180, || {
        let f = get(&ns, "ftj", "doomed")?;
        f["status"]["remote"]["jobID"].as_str().map(|_| ())
    });
    sandbox.advance(80.0);
    wait_for("job running", 60, || {
        let f = get(&ns, "ftj", "doomed")?;
        (f["status"]["remote"]["status"] == "running").then_some(())
    });
    let uid = uid(&ns, "ftj", "doomed");
    // Only the request: the real namespace controller deletes the contents, the operator's
    // finalizers hold the FineTuneJob and its credentials until the remote copies are gone.
    support::kubectl(&["delete", "namespace", &ns, "--wait=false"]).ok();
    wait_for("namespace gone", 180, || {
        let out = support::kubectl(&["get", "namespace", &ns, "-o", "name"]);
        (!out.success && out.stderr.contains("NotFound")).then_some(())
    });
    let jobs = sandbox.jobs_for(&uid);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["status"], "cancelled");
    assert_eq!(sandbox.live_files_for(&uid), 0, "zero files at the sandbox");
}
