//! Helpers for end-to-end tests: the operator and openai-sandbox as processes against the shared
//! control plane, each test in namespaces of its own (the operator watches only those).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster as support;

/// A child process killed (SIGKILL) on drop.
pub struct Proc {
    pub child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running openai-sandbox. Its spool directory lives in a directory the test owns, removed on
/// drop after the process is killed: a SIGKILLed sandbox cannot remove it itself.
pub struct Sandbox {
    pub url: String,
    _proc: Proc,
    _spool: tempfile::TempDir,
}

impl Sandbox {
    pub fn start(extra: &[&str]) -> Sandbox {
        Self::start_on("127.0.0.1:0", extra)
    }

    /// A sandbox listening on `listen` (the full cluster's node address, for pods).
    pub fn start_on(listen: &str, extra: &[&str]) -> Sandbox {
        let spool = tempfile::Builder::new()
            .prefix("tunegate-test-spool-")
            .tempdir()
            .expect("a spool directory for the sandbox");
        let mut cmd = Command::new(crate::bin("openai-sandbox"));
        cmd.args(["--listen", listen, "--api-key", "sk-e2e"])
            .arg("--spool-dir")
            .arg(spool.path())
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn openai-sandbox");
        let stdout = child.stdout.take().expect("sandbox stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("sandbox address");
        let addr = line.trim().rsplit(' ').next().expect("address").to_string();
        Sandbox {
            url: addr,
            _proc: Proc { child },
            _spool: spool,
        }
    }

    pub fn base_url(&self) -> String {
        format!("{}/v1", self.url)
    }

    pub fn get(&self, path: &str) -> Value {
        let out = Command::new("curl")
            .args(["-fsS", &format!("{}{}", self.url, path)])
            .output()
            .expect("curl");
        assert!(out.status.success(), "GET {path} failed");
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// Moves the sandbox's clock forward (jobs progress by it as well as by wall time).
    pub fn advance(&self, seconds: f64) {
        let out = Command::new("curl")
            .args([
                "-fsS",
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
                "-d",
                &format!(r#"{{"seconds": {seconds}}}"#),
                &format!("{}/_sandbox/clock/advance", self.url),
            ])
            .output()
            .expect("curl");
        assert!(out.status.success(), "clock advance failed");
    }

    pub fn get_bytes(&self, path: &str) -> Vec<u8> {
        let out = Command::new("curl")
            .args(["-fsS", &format!("{}{}", self.url, path)])
            .output()
            .expect("curl");
        assert!(out.status.success(), "GET {path} failed");
        out.stdout
    }

    pub fn state(&self) -> Value {
        self.get("/_sandbox/state")
    }

    /// Every file the sandbox ever received for this resource uid.
    pub fn received_for(&self, uid: &str) -> Vec<Value> {
        let all = self.get("/_sandbox/received");
        all["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r["filename"].as_str().is_some_and(|f| f.contains(uid)))
            .collect()
    }

    /// Every job (any state) tagged with this resource uid.
    pub fn jobs_for(&self, uid: &str) -> Vec<Value> {
        self.state()["jobs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|j| j["metadata"]["tunegate-uid"].as_str() == Some(uid))
            .collect()
    }

    /// Files (uploaded by a client) that still exist for this uid.
    pub fn live_files_for(&self, uid: &str) -> usize {
        self.state()["files"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter(|f| f["filename"].as_str().is_some_and(|n| n.contains(uid)))
                    .count()
            })
            .unwrap_or(0)
    }
}

/// A running operator (`tunegate run`) watching one namespace.
pub struct Operator {
    pub proc: Proc,
    pub log: PathBuf,
}

/// The namespace where tests put ClusterProviderConfig credentials (the operator's own).
pub const OPERATOR_NAMESPACE: &str = "tunegate-system";

impl Operator {
    /// The operator watching `namespace` only. INSECURE on purpose: the sandbox is plain http on
    /// loopback, so tests run with `--allow-insecure-endpoints` and an allow-list of
    /// `127.0.0.1:*` (override with `TUNEGATE_ALLOWED_ENDPOINTS` in `env`).
    pub fn start(namespace: &str, env: &[(&str, &str)]) -> Operator {
        Self::start_scoped(Some(namespace), env, &[])
    }

    /// [`Operator::start`] with extra `tunegate run` arguments.
    pub fn start_with(namespace: &str, env: &[(&str, &str)], args: &[&str]) -> Operator {
        Self::start_scoped(Some(namespace), env, args)
    }

    /// The operator watching every namespace (ClusterProviderConfigs are served only then), with
    /// `tunegate-system` as its own namespace.
    pub fn start_cluster_wide(env: &[(&str, &str)]) -> Operator {
        support::kubectl(&["create", "namespace", OPERATOR_NAMESPACE]);
        Self::start_scoped(None, env, &[])
    }

    fn start_scoped(namespace: Option<&str>, env: &[(&str, &str)], args: &[&str]) -> Operator {
        let cp = support::control_plane();
        let log = cp.dir().join(format!(
            "operator-{}-{}.log",
            namespace.unwrap_or("all"),
            Instant::now().elapsed().as_nanos() + u128::from(std::process::id()) + rand_suffix()
        ));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(crate::bin("tunegate"));
        cmd.args([
            "run",
            "--kubeconfig",
            &cp.kubeconfig().display().to_string(),
            "--metrics-addr",
            "127.0.0.1:0",
            "--poll-seconds",
            "0.5",
            "--log-format",
            "json",
            "--operator-namespace",
            OPERATOR_NAMESPACE,
            "--allow-insecure-endpoints",
        ])
        .args(args)
        .env("RUST_LOG", "info")
        .env("TUNEGATE_ALLOWED_ENDPOINTS", "127.0.0.1:*")
        .stdout(Stdio::null())
        .stderr(file.try_clone().expect("log"));
        if let Some(ns) = namespace {
            cmd.args(["--namespace", ns]);
        } else {
            // Several cluster-wide operators in one test binary would fight; one lease decides.
            cmd.args(["--lease-namespace", OPERATOR_NAMESPACE]);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn tunegate run");
        Operator {
            proc: Proc { child },
            log,
        }
    }

    /// Waits for the process to exit (e.g. at a failpoint); returns whether it did.
    pub fn wait_exit(&mut self, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.proc.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn rand_suffix() -> u128 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    u128::from(N.fetch_add(1, Ordering::Relaxed))
}

/// `kubectl get -o json` of one object, or None.
pub fn get(ns: &str, kind: &str, name: &str) -> Option<Value> {
    let out = support::kubectl(&["-n", ns, "get", kind, name, "-o", "json"]);
    if !out.success {
        return None;
    }
    serde_json::from_str(&out.stdout).ok()
}

/// The (status, reason) of a condition.
pub fn condition(obj: &Value, type_: &str) -> Option<(String, String)> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find_map(|c| {
            (c["type"] == type_).then(|| {
                (
                    c["status"].as_str().unwrap_or_default().to_string(),
                    c["reason"].as_str().unwrap_or_default().to_string(),
                )
            })
        })
}

/// Polls `f` until it returns Some, or panics after `secs`.
#[track_caller]
pub fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits until a condition has the given status (and reason, if given).
#[track_caller]
pub fn wait_condition(
    ns: &str,
    kind: &str,
    name: &str,
    type_: &str,
    status: &str,
    reason: Option<&str>,
    secs: u64,
) -> Value {
    wait_for(
        &format!("{kind}/{name} {type_}={status} {reason:?}"),
        secs,
        || {
            let obj = get(ns, kind, name)?;
            let (s, r) = condition(&obj, type_)?;
            (s == status && reason.is_none_or(|want| want == r)).then_some(obj)
        },
    )
}

/// A chat dataset of `n` valid examples, one JSONL line each, with optional extra text.
pub fn chat_lines(n: usize, extra: &str) -> String {
    (0..n)
        .map(|i| {
            serde_json::json!({"messages": [
                {"role": "system", "content": "You are a support assistant."},
                {"role": "user", "content": format!("Question {i}. {extra}")},
                {"role": "assistant", "content": format!("Answer {i}.")}
            ]})
            .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Indents a block for a YAML literal scalar.
pub fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// A namespaced ProviderConfig `name` at `endpoint` with the labelled credentials Secret
/// `{name}-creds` (key `apiKey` = `sk-e2e`, the sandbox's key), and `extra` spec lines.
pub fn provider_config(ns: &str, name: &str, endpoint: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: {name}-creds
  namespace: {ns}
  labels: {{tunegate.dev/credentials: "true"}}
stringData: {{apiKey: sk-e2e}}
---
apiVersion: tunegate.dev/v1alpha1
kind: ProviderConfig
metadata: {{name: {name}, namespace: {ns}}}
spec:
  type: OpenAI
  endpoint: {endpoint}
  credentials: {{secretRef: {{name: {name}-creds, key: apiKey}}}}
{extra}---
"#
    )
}

/// Manifests: a labelled data Secret, a ProviderConfig (with its labelled credentials) at
/// `base_url`, a dataset and a FineTuneJob through that config.
pub fn scenario(ns: &str, name: &str, base_url: &str, data: &str, ftj_extra: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: {name}-data
  namespace: {ns}
  labels: {{tunegate.dev/training-data: "true"}}
stringData:
  train.jsonl: |
{data}---
{config}apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: {name}, namespace: {ns}}}
spec:
  format: Chat
  sources: [{{secret: {{name: {name}-data, key: train.jsonl}}}}]
  validation: {{model: gpt-4o-mini-2024-07-18, minExamples: 10}}
---
apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: {name}, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: {name}}}
  providerRef: {{kind: ProviderConfig, name: {name}}}
  model: gpt-4o-mini-2024-07-18
  suffix: e2e
{ftj_extra}"#,
        data = indent(data, 4),
        config = provider_config(ns, name, base_url, "")
    )
}

/// Manifests: a labelled data Secret of 12 valid chat examples and a TrainingDataset reading it,
/// both named after `name`.
pub fn secret_dataset(ns: &str, name: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: {name}-data, namespace: {ns}, labels: {{tunegate.dev/training-data: "true"}}}}
stringData:
  train.jsonl: |
{data}---
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {{name: {name}, namespace: {ns}}}
spec:
  sources: [{{secret: {{name: {name}-data, key: train.jsonl}}}}]
"#,
        data = indent(&chat_lines(12, ""), 4)
    )
}

/// A FineTuneJob training on the dataset `name` through the ClusterProviderConfig `config`;
/// `extra` is more of its spec, indented by two spaces.
pub fn cluster_job(ns: &str, name: &str, config: &str, extra: &str) -> String {
    format!(
        r#"apiVersion: tunegate.dev/v1alpha1
kind: FineTuneJob
metadata: {{name: {name}, namespace: {ns}}}
spec:
  trainingDatasetRef: {{name: {name}}}
  providerRef: {{kind: ClusterProviderConfig, name: {config}}}
  model: gpt-4o-mini-2024-07-18
{extra}"#
    )
}

/// kubectl apply -f - of a manifest string.
#[track_caller]
pub fn apply(yaml: &str) {
    support::kubectl_stdin(&["apply", "-f", "-"], yaml).ok();
}

/// The uid of an object.
pub fn uid(ns: &str, kind: &str, name: &str) -> String {
    get(ns, kind, name).expect("object")["metadata"]["uid"]
        .as_str()
        .expect("uid")
        .to_string()
}

/// A plain HTTP listener on loopback that records every request it receives and answers each
/// with `200 {}`: stands for a server a tenant controls, to prove what reached it (or nothing).
pub struct RecordingListener {
    pub url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl RecordingListener {
    pub fn start() -> RecordingListener {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind recorder");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let received: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>> = Default::default();
        let sink = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let sink = sink.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    // Read what arrives (headers and any body) until the client pauses.
                    while let Ok(n) = stream.read(&mut chunk) {
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if buf.len() > 64 << 20 {
                            break;
                        }
                    }
                    if let Ok(mut s) = sink.lock() {
                        s.push(buf);
                    }
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                    );
                });
            }
        });
        RecordingListener { url, received }
    }

    /// Every request received so far, raw.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Whether `needle` appeared in any request.
    pub fn saw(&self, needle: &str) -> bool {
        self.requests()
            .iter()
            .any(|r| r.windows(needle.len()).any(|w| w == needle.as_bytes()))
    }
}
