//! Tenancy end to end, on a real control plane: provider configs owned by admins and namespace
//! owners, the endpoint allow-list, opted-in credentials. Each test has its own namespace and an
//! operator watching only it (ProviderConfig, the namespaced kind); see e2e_tenancy_cluster.rs for
//! ClusterProviderConfig.

use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e::*;

fn provider_config(ns: &str, name: &str, endpoint: &str, secret: &str) -> String {
    format!(
        r#"apiVersion: tunegate.dev/v1alpha1
kind: ProviderConfig
metadata: {{name: {name}, namespace: {ns}}}
spec:
  type: OpenAI
  endpoint: {endpoint}
  credentials: {{secretRef: {{name: {secret}, key: apiKey}}}}
"#
    )
}

fn secret(ns: &str, name: &str, labelled: bool, value: &str) -> String {
    let labels = if labelled {
        "labels: {tunegate.dev/credentials: \"true\"}"
    } else {
        "labels: {}"
    };
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}, {labels}}}\nstringData: {{apiKey: {value}}}\n"
    )
}

#[test]
fn provider_config_readiness_reasons() {
    let ns = support::namespace("tn-ready");
    let op = Operator::start(&ns, &[("TUNEGATE_ALLOWED_ENDPOINTS", "127.0.0.1:18999")]);
    apply(&secret(&ns, "opted-in", true, "sk-e2e"));
    apply(&secret(&ns, "app-db", false, "canary-db-password-551"));
    apply(&provider_config(
        &ns,
        "good",
        "http://127.0.0.1:18999/v1",
        "opted-in",
    ));
    apply(&provider_config(
        &ns,
        "unlabelled",
        "http://127.0.0.1:18999/v1",
        "app-db",
    ));
    apply(&provider_config(
        &ns,
        "missing",
        "http://127.0.0.1:18999/v1",
        "nope",
    ));
    apply(&provider_config(
        &ns,
        "elsewhere",
        "http://127.0.0.1:18998/v1",
        "opted-in",
    ));
    apply(&provider_config(
        &ns,
        "metadata",
        "http://169.254.169.254/latest",
        "opted-in",
    ));
    let good = wait_condition(
        &ns,
        "providerconfig",
        "good",
        "Ready",
        "True",
        Some("Ready"),
        60,
    );
    assert!(
        good["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f == "tunegate.dev/config-in-use")),
        "{good}"
    );
    for (name, reason) in [
        ("unlabelled", "CredentialsNotOptedIn"),
        ("missing", "CredentialsNotFound"),
        ("elsewhere", "EndpointNotAllowed"),
        ("metadata", "EndpointNotAllowed"),
    ] {
        let pc = wait_condition(
            &ns,
            "providerconfig",
            name,
            "Ready",
            "False",
            Some(reason),
            60,
        );
        assert!(!pc.to_string().contains("canary-db-password-551"));
    }
    // Printer columns show it.
    let table = support::kubectl(&["-n", &ns, "get", "providerconfig", "unlabelled"]).ok();
    assert!(
        table.stdout.contains("CredentialsNotOptedIn"),
        "{}",
        table.stdout
    );
    // Labelling the Secret makes the config Ready (timer re-check).
    support::kubectl(&[
        "-n",
        &ns,
        "label",
        "secret",
        "app-db",
        "tunegate.dev/credentials=true",
    ])
    .ok();
    wait_condition(
        &ns,
        "providerconfig",
        "unlabelled",
        "Ready",
        "True",
        None,
        60,
    );
    assert!(!op.logs().contains("canary-db-password-551"));
    // Nothing uses "good": deleting it completes (the finalizer goes).
    support::kubectl(&[
        "-n",
        &ns,
        "delete",
        "providerconfig",
        "good",
        "--wait=true",
        "--timeout=60s",
    ])
    .ok();
}

#[test]
fn the_api_server_refuses_incomplete_provider_configs() {
    let ns = support::namespace("tn-cel");
    let cases = [
        (
            "type: AzureOpenAI\n  endpoint: https://x.openai.azure.com\n  credentials: {secretRef: {name: k, key: k}}",
            "apiVersion is required",
        ),
        (
            "type: AzureOpenAI\n  apiVersion: 2024-10-21\n  credentials: {secretRef: {name: k, key: k}}",
            "endpoint (the Azure OpenAI resource endpoint) is required",
        ),
        ("type: Bedrock", "bedrock (region, s3, roleArn) is required"),
        ("type: OpenAI", "credentials are required"),
        (
            "type: OpenAI\n  credentials: {secretRef: {name: k, key: k}}\n  bedrock: {region: us-east-1, s3: {bucket: abc}, roleArn: 'arn:aws:iam::1:role/x'}",
            "bedrock is only valid",
        ),
        (
            "type: OpenAI\n  endpoint: ftp://x\n  credentials: {secretRef: {name: k, key: k}}",
            "spec.endpoint",
        ),
        (
            "type: OpenAI\n  credentials: {secretRef: {name: k, key: k}}\n  allowedModels: ['gpt 4']",
            "spec.allowedModels",
        ),
    ];
    for (i, (spec, want)) in cases.iter().enumerate() {
        let y = format!(
            "apiVersion: tunegate.dev/v1alpha1\nkind: ProviderConfig\nmetadata: {{name: bad-{i}, namespace: {ns}}}\nspec:\n  {spec}\n"
        );
        support::kubectl_stdin(&["apply", "-f", "-"], &y).fails_with(want);
    }
    let ok = "apiVersion: tunegate.dev/v1alpha1\nkind: ClusterProviderConfig\nmetadata: {name: tn-cel-bedrock}\nspec:\n  type: Bedrock\n  bedrock: {region: us-east-1, s3: {bucket: acme-ft, prefix: tunegate/}, roleArn: 'arn:aws:iam::123456789012:role/tunegate'}\n  namespaceSelector: {matchLabels: {team: a}}\n";
    support::kubectl_stdin(&["apply", "-f", "-"], ok).ok();
    support::kubectl(&["delete", "clusterproviderconfig", "tn-cel-bedrock"]).ok();
}

/// A server that answers every request with a redirect to `to`.
fn redirecting_server(to: &str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let to = to.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}/v1/files/file-1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    url
}

#[test]
fn the_provider_client_follows_no_redirect() {
    let tenant = RecordingListener::start();
    let redirector = redirecting_server(&tenant.url);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for type_ in [
        tunegate_api::ProviderType::OpenAI,
        tunegate_api::ProviderType::AzureOpenAI,
    ] {
        let target = tunegate::provider::Target {
            type_,
            endpoint: format!("{redirector}/v1"),
            organization: None,
            project: None,
            api_version: Some("2024-10-21".into()),
        };
        let p = tunegate::provider::from_target(
            &target,
            b"sk-canary-redirect-4417",
            tunegate::provider::ProviderOptions::default(),
        )
        .expect("client");
        let r = rt.block_on(p.retrieve_file("file-1"));
        assert!(r.is_err(), "a redirect is not a file");
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        tenant.requests().is_empty(),
        "the redirect target received a request"
    );
}
