//! The chart's RBAC is sufficient: the real `tunegate run` binary, started with exactly the
//! arguments of the chart's Deployment (single-namespace mode) and authenticated as the chart's
//! ServiceAccount through a TokenRequest token, runs the happy path of deploy/examples against a
//! real kube-apiserver and openai-sandbox: the dataset becomes Ready, the job Succeeded, the output
//! ConfigMap is written, the uploaded file is deleted, and no API call was ever Forbidden.

use tunegate_testkit::cluster as support;
use tunegate_testkit::packaging;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use packaging::{one, parse_docs, repo_root, template_text};
use serde_json::{Value, json};
use support::{Kubectl, control_plane, kubectl, kubectl_stdin, namespace};

const SANDBOX_KEY: &str = "sk-sandbox-demo-key";

/// The operator process; killed when dropped, so a failing test leaves nothing running.
struct Operator {
    child: Child,
    log: PathBuf,
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Operator {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The port the operator's metrics server bound (it is started with port 0 and logs the address),
/// so no other process can take the port between choosing it and binding it.
fn bound_metrics_port(log: &str) -> Option<u16> {
    let line = log.lines().find(|l| l.contains("serving /healthz"))?;
    let at = line.find("127.0.0.1:")? + "127.0.0.1:".len();
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A plain HTTP/1.1 GET on loopback (no curl needed): (status, body).
fn http(url: &str, bearer: Option<&str>) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let auth = bearer
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn http_status(url: &str) -> Option<u16> {
    http(url, None).map(|(s, _)| s)
}

fn http_get(url: &str, bearer: Option<&str>) -> String {
    match http(url, bearer) {
        Some((200, body)) => body,
        other => panic!("GET {url}: {other:?}"),
    }
}

/// A kubeconfig that authenticates as `system:serviceaccount:<ns>:<sa>` with a TokenRequest token.
fn service_account_kubeconfig(ns: &str, sa: &str) -> PathBuf {
    let token = kubectl(&["create", "token", sa, "-n", ns, "--duration=1h"])
        .ok()
        .stdout;
    let admin: Value =
        serde_yaml::from_str(&std::fs::read_to_string(control_plane().kubeconfig()).unwrap())
            .unwrap();
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "local", "cluster": admin["clusters"][0]["cluster"]}],
        "users": [{"name": "sa", "user": {"token": token.trim()}}],
        "contexts": [{"name": "sa", "context": {"cluster": "local", "user": "sa"}}],
        "current-context": "sa",
    });
    let path = control_plane()
        .dir()
        .join(format!("e2e-{ns}-{sa}.kubeconfig"));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

fn get_json(args: &[&str]) -> Option<Value> {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    let out: Kubectl = kubectl(&full);
    if !out.success {
        return None;
    }
    serde_json::from_str(&out.stdout).ok()
}

fn condition(obj: &Value, type_: &str) -> Option<(String, String)> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
}

async fn wait_for<T>(what: &str, secs: u64, op: &Operator, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; operator log:\n{}",
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The chart's Deployment arguments, with the metrics address moved to an ephemeral loopback port and
/// the kubeconfig of the ServiceAccount added (in a cluster the token is mounted instead).
fn operator_args(deployment: &Value, kubeconfig: &Path) -> Vec<String> {
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    let mut args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .map(|a| {
            if a.starts_with("--metrics-addr=") {
                "--metrics-addr=127.0.0.1:0".to_string()
            } else {
                a
            }
        })
        .collect();
    args.push(format!("--kubeconfig={}", kubeconfig.display()));
    // Faster polling than production, so the test does not wait 15 s per poll.
    args.push("--poll-seconds=0.5".into());
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operator_as_the_chart_service_account_runs_the_happy_path() {
    let _ = control_plane();
    let mut cfg = openai_sandbox::Config::new(SANDBOX_KEY);
    cfg.job_seconds = 2.0;
    let sandbox = openai_sandbox::start(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox starts");
    let base = sandbox.base_url();

    // The chart in single-namespace mode: the operator's namespace and the team's namespace.
    let team = namespace("e2e");
    let release = format!("{team}-op");
    // The sandbox is plain http on loopback: the chart's insecure switch and an allow-list of
    // exactly its address (Helm values, rendered into the Deployment's arguments).
    let sandbox_host = base.trim_start_matches("http://").to_string();
    let text = template_text(&[
        "--namespace",
        &release,
        "--set",
        &format!("watchNamespace={team}"),
        "--set",
        "providerEndpoints.allowInsecure=true",
        "--set",
        &format!("providerEndpoints.allowed={{{sandbox_host}}}"),
    ]);
    kubectl(&["create", "namespace", &release]).ok();
    kubectl_stdin(&["apply", "--server-side", "-f", "-"], &text).ok();
    let docs = parse_docs(&text);
    let deployment = one(&docs, "Deployment");
    let sa = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        .as_str()
        .unwrap();
    let kubeconfig = service_account_kubeconfig(&release, sa);

    let log = control_plane().dir().join(format!("operator-{team}.log"));
    let log_file = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tunegate"))
        .args(operator_args(deployment, &kubeconfig))
        // What the Deployment sets from the downward API.
        .env("TUNEGATE_LEASE_NAMESPACE", &release)
        .env("POD_NAME", format!("tunegate-{team}"))
        .env("RUST_LOG", "info")
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("start tunegate run");
    let op = Operator { child, log };
    let metrics_port = wait_for("the metrics server", 60, &op, || {
        bound_metrics_port(&op.log())
    })
    .await;
    let readyz = format!("http://127.0.0.1:{metrics_port}/readyz");
    wait_for("/readyz", 60, &op, || {
        (http_status(&readyz) == Some(200)).then_some(())
    })
    .await;

    // The examples, as a user applies them, in the team's namespace and against the sandbox. A
    // single-namespace release serves namespaced ProviderConfigs only: the namespace owner's
    // config and opted-in key stand in for the cluster admin's.
    kubectl_stdin(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: openai, namespace: {team}, labels: {{tunegate.dev/credentials: \"true\"}}}}\nstringData: {{apiKey: {SANDBOX_KEY}}}\n---\napiVersion: tunegate.dev/v1alpha1\nkind: ProviderConfig\nmetadata: {{name: openai, namespace: {team}}}\nspec:\n  endpoint: {base}/v1\n  credentials: {{secretRef: {{name: openai, key: apiKey}}}}\n"
        ),
    )
    .ok();
    for file in [
        "10-training-data-secret.yaml",
        "20-trainingdataset.yaml",
        "40-finetunejob.yaml",
    ] {
        let yaml = std::fs::read_to_string(repo_root().join("deploy/examples").join(file))
            .unwrap()
            .replace("namespace: tunegate-demo", &format!("namespace: {team}"))
            .replace(
                "providerRef: {kind: ClusterProviderConfig, name: openai}",
                "providerRef: {kind: ProviderConfig, name: openai}",
            );
        kubectl_stdin(&["apply", "-f", "-"], &yaml).ok();
    }

    let tds = wait_for("TrainingDataset Ready", 90, &op, || {
        let tds = get_json(&["trainingdataset", "support-chats", "-n", &team])?;
        (condition(&tds, "Ready")? == ("True".into(), "Valid".into())).then_some(tds)
    })
    .await;
    let ftj = wait_for("FineTuneJob Succeeded and cleaned up", 180, &op, || {
        let ftj = get_json(&["finetunejob", "support-bot", "-n", &team])?;
        let ready = condition(&ftj, "Ready")?;
        let cleaned = condition(&ftj, "RemoteCleanedUp")?;
        (ready.0 == "True" && cleaned.0 == "True").then_some(ftj)
    })
    .await;
    assert_eq!(condition(&ftj, "Succeeded").unwrap().0, "True");

    // The uploaded bytes are the dataset's redacted bytes, and the file is gone from the provider.
    let file = &ftj["status"]["remote"]["trainingFile"];
    assert_eq!(file["digest"], tds["status"]["redactedDigest"]);
    let file_id = file["id"].as_str().unwrap();
    let ledger = ftj["status"]["ledger"].as_array().unwrap();
    assert!(
        ledger
            .iter()
            .any(|e| e["kind"] == "File" && e["id"] == file_id && e["state"] == "Deleted"),
        "{ledger:#?}"
    );
    let listing: Value =
        serde_json::from_str(&http_get(&format!("{base}/v1/files"), Some(SANDBOX_KEY))).unwrap();
    assert!(
        listing["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["id"] != file_id),
        "file still listed at the provider: {listing}"
    );

    // The output ConfigMap (create/patch), the Events (create) and the credentials finalizer
    // released again (patch) all went through.
    let model = ftj["status"]["remote"]["fineTunedModel"].as_str().unwrap();
    let cm = get_json(&["configmap", "support-bot-model", "-n", &team]).expect("output ConfigMap");
    assert_eq!(cm["data"]["model"], model);
    // The Succeeded Event and the finalizer release follow the final status write: poll.
    let reasons_of = |events: &Value| -> Vec<String> {
        events["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|e| e["reason"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    wait_for(
        "the Succeeded Event and the finalizer released",
        30,
        &op,
        || {
            let events = get_json(&["events.events.k8s.io", "-n", &team])?;
            // The config's finalizer stays (it is on every config); no job needs it any more.
            let config = get_json(&["providerconfig", "openai", "-n", &team])?;
            let released = config["status"]["jobsInUse"] == 0;
            (released && reasons_of(&events).iter().any(|r| r == "Succeeded")).then_some(())
        },
    )
    .await;
    let reasons = reasons_of(&get_json(&["events.events.k8s.io", "-n", &team]).unwrap());
    for want in ["Uploaded", "Submitted", "Succeeded"] {
        assert!(
            reasons.iter().any(|r| r == want),
            "no {want} event: {reasons:?}"
        );
    }
    // Leader election took the chart's Lease in the release namespace.
    kubectl(&["get", "lease", "tunegate-leader", "-n", &release]).ok();

    let metrics = http_get(&format!("http://127.0.0.1:{metrics_port}/metrics"), None);
    assert!(
        metrics.contains("tunegate_reconciles_total{controller=\"finetunejob\"}"),
        "{metrics}"
    );

    // Nothing was refused along the way (a refused Event is only logged, so look at the log).
    let log = op.log();
    for bad in ["forbidden", "Forbidden", "code: 403"] {
        assert!(!log.contains(bad), "the operator hit {bad}:\n{log}");
    }
}
