//! Quiet when idle: after a job succeeded, the operator makes no API writes for 60 s. Writes are
//! counted from kube-apiserver's own `apiserver_request_total` (its binary of its own, so that no
//! other test writes meanwhile). Lease renewals (leader election) are excluded: they are the one
//! write an idle, healthy operator is expected to make.

use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e as e2e_support;

use std::collections::BTreeMap;
use std::time::Duration;

use e2e_support::*;

/// Write requests by resource, from the apiserver's metrics.
fn writes_by_resource() -> BTreeMap<String, f64> {
    let text = support::kubectl(&["get", "--raw", "/metrics"]).ok().stdout;
    let mut out = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
    {
        let Some((labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let label = |k: &str| {
            labels
                .split(&format!("{k}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string()
        };
        if !matches!(
            label("verb").as_str(),
            "POST" | "PUT" | "PATCH" | "DELETE" | "APPLY"
        ) {
            continue;
        }
        let resource = label("resource");
        if resource == "leases" {
            continue;
        }
        let key = format!("{resource}/{}", label("subresource"));
        *out.entry(key).or_insert(0.0) += value.parse::<f64>().unwrap_or(0.0);
    }
    out
}

#[test]
fn no_writes_while_idle() {
    let ns = support::namespace("e2e-idle");
    let sandbox = Sandbox::start(&["--job-seconds", "2"]);
    let _op = Operator::start(&ns, &[]);
    apply(&scenario(
        &ns,
        "quiet",
        &sandbox.base_url(),
        &chat_lines(10, ""),
        "  output: {configMapName: quiet-model}\n",
    ));
    wait_condition(&ns, "ftj", "quiet", "Ready", "True", Some("Succeeded"), 120);
    // The last writes of a finished job (the Succeeded Event, the credentials finalizer release)
    // follow the final status write: wait for them, then let their watch events settle.
    wait_for("credentials finalizer released", 60, || {
        let s = get(&ns, "secret", "quiet-creds")?;
        s["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty())
            .then_some(())
    });
    std::thread::sleep(Duration::from_secs(5));
    let before = writes_by_resource();
    // The counter does see this operator's writes (else the assertion below would prove nothing).
    assert!(
        before.get("finetunejobs/status").copied().unwrap_or(0.0) > 0.0,
        "status writes are counted: {before:?}"
    );
    std::thread::sleep(Duration::from_secs(60));
    let after = writes_by_resource();
    let mut delta: BTreeMap<String, f64> = BTreeMap::new();
    for (k, v) in &after {
        let d = v - before.get(k).copied().unwrap_or(0.0);
        if d > 0.0 {
            delta.insert(k.clone(), d);
        }
    }
    eprintln!("writes during 60 s idle (excluding leases): {delta:?}");
    for resource in [
        "finetunejobs",
        "trainingdatasets",
        "secrets",
        "configmaps",
        "events",
        "jobs",
        "pods",
    ] {
        let n: f64 = delta
            .iter()
            .filter(|(k, _)| k.split('/').next() == Some(resource))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(n, 0.0, "{resource} written while idle: {delta:?}");
    }
}
