//! `helm install` of charts/tunegate into the full single-node cluster: the operator runs as a
//! pod of the operator image (hack/images/build-operator-image.sh), with the chart's security
//! context, ServiceAccount and RBAC, becomes Ready through its real probes (the kubelet calls
//! /readyz and /healthz), reaches the API server through the `kubernetes` Service address and
//! completes the happy path. Two replicas elect one leader. This node enforces no
//! NetworkPolicy (no policy controller), so the chart's policies are applied but not exercised.

use std::process::{Command, Stdio};

use serde_json::Value;
use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e::*;
use tunegate_testkit::packaging;

fn helm(args: &[&str]) -> packaging::Run {
    let cp = support::control_plane();
    let out = Command::new(packaging::helm())
        .args(args)
        .env("KUBECONFIG", cp.kubeconfig())
        .env("HELM_CACHE_HOME", cp.dir().join("helm-cache"))
        .env("HELM_CONFIG_HOME", cp.dir().join("helm-config"))
        .env("HELM_DATA_HOME", cp.dir().join("helm-data"))
        .stdin(Stdio::null())
        .output()
        .expect("run helm");
    packaging::Run {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Installs the chart as release `name` into `release_ns`, watching `team` only, and waits
/// (helm --wait: the Deployment's pods Ready).
fn install(name: &str, release_ns: &str, team: &str, extra: &[&str]) {
    let chart = packaging::chart_dir();
    let watch = format!("watchNamespace={team}");
    // INSECURE on purpose: the sandbox is plain http on the node's bridge address.
    let allowed = format!(
        "providerEndpoints.allowed={{{}:*}}",
        support::full_cluster().network().node_ip
    );
    let mut args = vec![
        "install",
        name,
        chart.to_str().unwrap(),
        "-n",
        release_ns,
        "--create-namespace",
        "--set",
        &watch,
        "--set",
        "providerEndpoints.allowInsecure=true",
        "--set",
        &allowed,
        "--wait",
        "--timeout",
        "5m",
    ];
    args.extend(extra);
    let r = helm(&args);
    if !r.success {
        let pods = support::kubectl(&["-n", release_ns, "get", "pods", "-o", "wide"]);
        let events = support::kubectl(&["-n", release_ns, "get", "events"]);
        panic!(
            "helm install failed:\n{}{}\npods:\n{}\nevents:\n{}",
            r.stdout, r.stderr, pods.stdout, events.stdout
        );
    }
}

fn operator_pods(release_ns: &str) -> Vec<Value> {
    let out = support::kubectl(&[
        "-n",
        release_ns,
        "get",
        "pods",
        "-l",
        "app.kubernetes.io/name=tunegate",
        "-o",
        "json",
    ])
    .ok();
    serde_json::from_str::<Value>(&out.stdout).unwrap()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

#[test]
fn helm_install_runs_the_operator_pod_ready_through_its_probes_and_it_completes_the_happy_path() {
    let cluster = support::use_full_cluster();
    let team = support::namespace("chart-team");
    let release_ns = format!("{team}-system");
    install("tg", &release_ns, &team, &[]);
    let pods = operator_pods(&release_ns);
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert!(is_ready(pod), "Ready through the readiness probe: {pod:#}");
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(pod["spec"]["nodeName"], "tunegate-node");
    let status = &pod["status"]["containerStatuses"][0];
    assert_eq!(status["restartCount"], 0, "the liveness probe never failed");
    assert_eq!(
        status["image"],
        format!("docker.io/{}", support::operator_image_ref())
    );
    let c = &pod["spec"]["containers"][0];
    assert!(c["readinessProbe"]["httpGet"]["path"] == "/readyz");
    assert_eq!(c["securityContext"]["runAsUser"], 65532);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(pod["spec"]["serviceAccountName"], "tg-tunegate");
    // `kubectl logs` works through the API server and the kubelet (the node has a real address).
    let logs = support::kubectl(&[
        "-n",
        &release_ns,
        "logs",
        pod["metadata"]["name"].as_str().unwrap(),
    ])
    .ok();
    assert!(
        !logs.stdout.trim().is_empty(),
        "operator logs via the kubelet"
    );

    // The happy path, reconciled by the pod (the sandbox listens on the node address).
    let sandbox = Sandbox::start_on(
        &format!("{}:0", cluster.network().node_ip),
        &["--job-seconds", "2"],
    );
    apply(&scenario(
        &team,
        "happy",
        &sandbox.base_url(),
        &chat_lines(12, "mail x@example.com"),
        "  output: {configMapName: happy-model}\n",
    ));
    let ftj = wait_condition(
        &team,
        "ftj",
        "happy",
        "Ready",
        "True",
        Some("Succeeded"),
        240,
    );
    assert!(
        ftj["status"]["remote"]["fineTunedModel"]
            .as_str()
            .is_some_and(|m| m.starts_with("ft:")),
        "{ftj:#}"
    );
    let uid = uid(&team, "ftj", "happy");
    assert_eq!(sandbox.received_for(&uid).len(), 1);
    assert_eq!(sandbox.live_files_for(&uid), 0);
    assert!(get(&team, "configmap", "happy-model").is_some());
}

#[test]
fn two_replicas_run_as_pods_and_elect_one_leader() {
    support::use_full_cluster();
    let team = support::namespace("chart-ha");
    let release_ns = format!("{team}-system");
    install("ha", &release_ns, &team, &["--set", "replicaCount=2"]);
    let pods = wait_for("two operator pods Ready", 180, || {
        let pods = operator_pods(&release_ns);
        (pods.len() == 2 && pods.iter().all(is_ready)).then_some(pods)
    });
    let names: Vec<String> = pods
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let holder = wait_for("a leader holds the Lease", 120, || {
        let lease = get(&release_ns, "lease", "ha-tunegate-leader")?;
        lease["spec"]["holderIdentity"].as_str().map(str::to_string)
    });
    assert!(
        names.contains(&holder),
        "leader {holder} is one of {names:?}"
    );
    // Kill the leader's pod: the other replica takes over (the Deployment starts a new one).
    support::kubectl(&["-n", &release_ns, "delete", "pod", &holder, "--wait=false"]).ok();
    let next = wait_for("the other replica leads", 180, || {
        let lease = get(&release_ns, "lease", "ha-tunegate-leader")?;
        let h = lease["spec"]["holderIdentity"].as_str()?.to_string();
        (h != holder && !h.is_empty()).then_some(h)
    });
    let now: Vec<String> = operator_pods(&release_ns)
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        now.contains(&next),
        "new leader {next} is a running pod: {now:?}"
    );
}
