//! ClusterProviderConfig end to end: one cluster-wide operator (the cluster kind is served only
//! then) against a real control plane; its credentials live in the operator's namespace; a
//! namespace it does not select is refused; usage is accounted; it cannot be deleted while a job
//! using it still has remote objects.

use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e::*;

#[test]
fn cluster_provider_configs_select_namespaces_and_hold_while_in_use() {
    let sandbox = Sandbox::start(&["--job-seconds", "2"]);
    let op = Operator::start_cluster_wide(&[]);
    let tenant = support::namespace("tnc-tenant");
    let outsider = support::namespace("tnc-outsider");
    support::kubectl(&["label", "namespace", &tenant, "tnc/tenant=yes"]).ok();
    apply(&format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: shared-openai, namespace: {OPERATOR_NAMESPACE}}}
stringData: {{apiKey: sk-e2e}}
---
apiVersion: tunegate.dev/v1alpha1
kind: ClusterProviderConfig
metadata: {{name: tnc-shared}}
spec:
  type: OpenAI
  endpoint: {url}
  credentials: {{secretRef: {{name: shared-openai, key: apiKey}}}}
  namespaceSelector: {{matchLabels: {{tnc/tenant: "yes"}}}}
  limits: {{concurrentJobsPerNamespace: 1}}
"#,
        url = sandbox.base_url()
    ));
    wait_condition(
        "",
        "clusterproviderconfig",
        "tnc-shared",
        "Ready",
        "True",
        Some("Ready"),
        60,
    );
    let job = |ns: &str, name: &str, extra: &str| {
        secret_dataset(ns, name) + "---\n" + &cluster_job(ns, name, "tnc-shared", extra)
    };
    // Not selected: refused, nothing sent.
    apply(&job(&outsider, "out", ""));
    let out = wait_condition(
        &outsider,
        "ftj",
        "out",
        "Ready",
        "False",
        Some("NamespaceNotAllowed"),
        90,
    );
    let out_uid = uid(&outsider, "ftj", "out");
    assert!(
        out.to_string()
            .contains(&format!("does not select namespace {outsider}"))
    );
    // Selected: runs; the file is kept until the job is deleted, so the config is in use.
    apply(&job(
        &tenant,
        "in",
        "  retention: {trainingFiles: DeleteWithResource}\n",
    ));
    wait_condition(
        &tenant,
        "ftj",
        "in",
        "Ready",
        "True",
        Some("Succeeded"),
        120,
    );
    let in_uid = uid(&tenant, "ftj", "in");
    assert_eq!(sandbox.received_for(&in_uid).len(), 1);
    assert!(
        sandbox.received_for(&out_uid).is_empty(),
        "the outsider's data was sent"
    );
    // Usage per namespace per month, from the provider's trained_tokens.
    let cpc = wait_for("usage accounted", 60, || {
        let c = get("", "clusterproviderconfig", "tnc-shared")?;
        let u = c["status"]["usage"]
            .as_array()?
            .iter()
            .find(|u| u["namespace"] == tenant.as_str())?
            .clone();
        (u["trainedTokens"].as_u64()? > 0).then_some(c)
    });
    assert_eq!(cpc["status"]["jobsInUse"], 1);
    // Deleting the config while the job still has a file at the provider waits.
    support::kubectl(&[
        "delete",
        "clusterproviderconfig",
        "tnc-shared",
        "--wait=false",
    ])
    .ok();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let held =
        get("", "clusterproviderconfig", "tnc-shared").expect("config held by its finalizer");
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    // Deleting the job cleans up with the config's credentials, then the config goes.
    support::kubectl(&["-n", &tenant, "delete", "ftj", "in", "--timeout=60s"]).ok();
    assert_eq!(sandbox.live_files_for(&in_uid), 0);
    wait_for("config gone", 60, || {
        get("", "clusterproviderconfig", "tnc-shared")
            .is_none()
            .then_some(())
    });
    assert!(!op.logs().contains("sk-e2e"));
}
