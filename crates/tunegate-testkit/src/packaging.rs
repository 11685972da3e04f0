//! Helpers shared by the chart and manifest tests: the Helm binary (built from Go modules by
//! hack/build-helm.sh and cached) and rendering the chart into parsed documents.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

/// The Kubernetes version the chart is rendered for (the control plane's).
pub const KUBE_VERSION: &str = "1.37.2";
/// The namespace the tests install the operator into.
pub const RELEASE_NS: &str = "tunegate-system";

pub fn repo_root() -> &'static Path {
    crate::repo_root()
}

pub fn chart_dir() -> PathBuf {
    repo_root().join("charts/tunegate")
}

/// The path of the helm binary, building it on first use (several minutes on a cold cache).
pub fn helm() -> &'static Path {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        let out = Command::new(repo_root().join("hack/build-helm.sh"))
            .output()
            .expect("run hack/build-helm.sh");
        assert!(
            out.status.success(),
            "hack/build-helm.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).expect("utf-8 path");
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("build-helm.sh prints the path")
                .trim(),
        )
    })
}

/// Output of one helm run.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

pub fn helm_run(args: &[&str]) -> Run {
    let out = Command::new(helm())
        .args(args)
        // Keep Helm away from the developer's own repositories and plugins.
        .env(
            "HELM_CACHE_HOME",
            std::env::temp_dir().join("tunegate-helm-cache"),
        )
        .env(
            "HELM_CONFIG_HOME",
            std::env::temp_dir().join("tunegate-helm-config"),
        )
        .env(
            "HELM_DATA_HOME",
            std::env::temp_dir().join("tunegate-helm-data"),
        )
        .output()
        .expect("run helm");
    Run {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `helm template` of the chart with extra `--set` style args; panics on failure.
pub fn template_text(extra: &[&str]) -> String {
    let chart = chart_dir();
    let mut args = vec![
        "template",
        "tunegate",
        chart.to_str().expect("utf-8 path"),
        "--namespace",
        RELEASE_NS,
        "--kube-version",
        KUBE_VERSION,
    ];
    args.extend_from_slice(extra);
    let run = helm_run(&args);
    assert!(
        run.success,
        "helm template {extra:?} failed:\n{}",
        run.stderr
    );
    run.stdout
}

/// Parses multi-document YAML into JSON values, skipping empty documents.
pub fn parse_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("valid YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

pub fn template(extra: &[&str]) -> Vec<Value> {
    parse_docs(&template_text(extra))
}

pub fn kind(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

pub fn name(doc: &Value) -> &str {
    doc["metadata"]["name"].as_str().unwrap_or_default()
}

/// Every document of `kind`.
pub fn of_kind<'a>(docs: &'a [Value], want: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| kind(d) == want).collect()
}

/// The only document of `kind`; panics if there is not exactly one.
pub fn one<'a>(docs: &'a [Value], want: &str) -> &'a Value {
    let found = of_kind(docs, want);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {want}, found {}",
        found.len()
    );
    found[0]
}
