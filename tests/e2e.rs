//! End to end: the operator (`tunegate run`) and `openai-sandbox` as processes against a real
//! control plane, resources applied with kubectl. One control plane for this binary; each test has
//! its own namespace, sandbox and operator (watching only that namespace).

use tunegate_testkit::cluster as support;
use tunegate_testkit::e2e as e2e_support;

use e2e_support::*;

const CANARY_EMAIL: &str = "canary.person.7731@example.com";
const CANARY_PHONE: &str = "+1 415 555 0199";
const CANARY_CARD: &str = "4111 1111 1111 1111";
const CANARY_AWS: &str = "AKIAZ7QK4M2N8P3R5T6W";
const CANARY_OPENAI: &str = "sk-proj-Zq8Xb3N7kLm2Vt9Rw4Yp6Hs1Jd5Gf0AcQe7Uy2Io";

#[test]
fn happy_path_with_canaries() {
    let ns = support::namespace("e2e-happy");
    let sandbox = Sandbox::start(&["--job-seconds", "3"]);
    let op = Operator::start(&ns, &[]);
    let canaries = format!(
        "Reach me at {CANARY_EMAIL} or {CANARY_PHONE}, card {CANARY_CARD}, key {CANARY_AWS}, token {CANARY_OPENAI}"
    );
    let data = chat_lines(12, &canaries);
    apply(&scenario(
        &ns,
        "happy",
        &sandbox.base_url(),
        &data,
        "  output: {configMapName: happy-model}\n",
    ));
    let ftj = wait_condition(&ns, "ftj", "happy", "Ready", "True", Some("Succeeded"), 120);
    let uid = uid(&ns, "ftj", "happy");
    let model = ftj["status"]["remote"]["fineTunedModel"]
        .as_str()
        .expect("model")
        .to_string();
    assert!(model.starts_with("ft:gpt-4o-mini-2024-07-18:"));
    let cm = get(&ns, "configmap", "happy-model").expect("output ConfigMap");
    assert_eq!(cm["data"]["model"], model.as_str());
    assert_eq!(cm["metadata"]["ownerReferences"][0]["kind"], "FineTuneJob");

    // Exactly one file received, deleted since; one job; the ledger says so.
    let received = sandbox.received_for(&uid);
    assert_eq!(received.len(), 1, "one upload");
    assert_eq!(
        sandbox.live_files_for(&uid),
        0,
        "training file deleted at the sandbox"
    );
    assert_eq!(sandbox.jobs_for(&uid).len(), 1);
    let ledger = ftj["status"]["ledger"].as_array().expect("ledger");
    // The provider's own copies: the result file (deleted like the training file) and the
    // checkpoint models (kept like the model).
    let provider_made = |e: &&serde_json::Value| e["kind"] == "Output" || e["role"] == "checkpoint";
    assert!(
        ledger
            .iter()
            .any(|e| e["kind"] == "Output" && e["state"] == "Deleted"),
        "{ledger:?}"
    );
    assert!(
        ledger
            .iter()
            .any(|e| e["role"] == "checkpoint" && e["state"] == "Present"),
        "{ledger:?}"
    );
    let states: Vec<String> = ledger
        .iter()
        .filter(|e| !provider_made(e))
        .map(|e| {
            format!(
                "{}={}",
                e["kind"].as_str().unwrap(),
                e["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(states, ["File=Deleted", "Job=Succeeded", "Model=Present"]);

    // The uploaded bytes hash to the dataset's redactedDigest.
    let tds = get(&ns, "tds", "happy").expect("dataset");
    let digest = tds["status"]["redactedDigest"].as_str().expect("digest");
    assert_eq!(
        format!("sha256:{}", received[0]["sha256"].as_str().unwrap()),
        digest
    );

    // Canaries never leave or leak.
    let id = received[0]["id"].as_str().unwrap();
    let bytes =
        String::from_utf8(sandbox.get_bytes(&format!("/_sandbox/files/{id}/received"))).unwrap();
    assert!(
        bytes.contains("Question 3."),
        "the sandbox did receive the data"
    );
    let events = support::kubectl(&["-n", &ns, "get", "events", "-o", "json"])
        .ok()
        .stdout;
    assert!(
        events.contains("\"Succeeded\""),
        "the operator's Events are there: {events}"
    );
    let statuses = format!("{tds}{ftj}");
    let logs = op.logs();
    assert!(logs.contains("controllers started"));
    for canary in [
        CANARY_EMAIL,
        CANARY_PHONE,
        CANARY_CARD,
        CANARY_AWS,
        CANARY_OPENAI,
        "sk-e2e",
    ] {
        assert!(
            !bytes.contains(canary),
            "canary {canary} reached the provider"
        );
        assert!(!logs.contains(canary), "canary {canary} in operator logs");
        assert!(!events.contains(canary), "canary {canary} in events");
        assert!(!statuses.contains(canary), "canary {canary} in status");
    }
    assert!(bytes.contains("[EMAIL_ADDRESS]"));

    // The credentials finalizer is gone once nothing remote needs deleting.
    wait_for("credentials finalizer released", 30, || {
        let s = get(&ns, "secret", "happy-creds")?;
        s["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty())
            .then_some(())
    });
}

/// Waits until the job exists at the sandbox, then moves the sandbox clock into its `running`
/// span (a 300 s job runs from 75 s on): a busy machine cannot make the test miss it.
fn running_at_the_sandbox(ns: &str, name: &str, sandbox: &Sandbox) {
    wait_for("job submitted", 120, || {
        let f = get(ns, "ftj", name)?;
        f["status"]["remote"]["jobID"].as_str().map(|_| ())
    });
    sandbox.advance(80.0);
    wait_for("job running", 60, || {
        let f = get(ns, "ftj", name)?;
        (f["status"]["remote"]["status"] == "running").then_some(())
    });
}

#[test]
fn deleting_a_running_job_cancels_it_and_deletes_its_files() {
    let ns = support::namespace("e2e-delete");
    let sandbox = Sandbox::start(&["--job-seconds", "300"]);
    let _op = Operator::start(&ns, &[]);
    apply(&scenario(
        &ns,
        "victim",
        &sandbox.base_url(),
        &chat_lines(10, ""),
        "",
    ));
    running_at_the_sandbox(&ns, "victim", &sandbox);
    let uid = uid(&ns, "ftj", "victim");
    let config = get(&ns, "providerconfig", "victim").unwrap();
    assert_eq!(
        config["metadata"]["finalizers"][0],
        "tunegate.dev/config-in-use"
    );
    // In use: deleting the config now must wait for the job's clean-up.
    support::kubectl(&[
        "-n",
        &ns,
        "delete",
        "providerconfig",
        "victim",
        "--wait=false",
    ])
    .ok();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        get(&ns, "providerconfig", "victim").is_some(),
        "a config in use was deleted"
    );
    support::kubectl(&["-n", &ns, "delete", "ftj", "victim", "--timeout=60s"]).ok();
    let jobs = sandbox.jobs_for(&uid);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["status"], "cancelled");
    assert_eq!(sandbox.live_files_for(&uid), 0, "zero files at the sandbox");
    wait_for("config finalizer released and the config gone", 60, || {
        get(&ns, "providerconfig", "victim").is_none().then_some(())
    });
}

#[test]
fn bad_input_gives_clear_conditions() {
    let ns = support::namespace("e2e-bad");
    let sandbox = Sandbox::start(&["--job-seconds", "3"]);
    let op = Operator::start(&ns, &[]);
    let url = sandbox.base_url();
    let ds = |name: &str, format: &str, source: &str| {
        format!(
            "---\napiVersion: tunegate.dev/v1alpha1\nkind: TrainingDataset\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  format: {format}\n  sources: [{source}]\n"
        )
    };
    let secret = |name: &str, labelled: bool, key: &str, data: &str| {
        let labels = if labelled {
            "{tunegate.dev/training-data: \"true\"}"
        } else {
            "{}"
        };
        format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}, labels: {labels}}}\nstringData:\n  {key}: |\n{}",
            indent(data, 4)
        )
    };
    let completion: String = (0..12)
        .map(|i| format!("{{\"prompt\": \"p{i}\", \"completion\": \"c{i}\"}}\n"))
        .collect();
    let mut invalid = chat_lines(11, "");
    invalid.push_str(
        "{\"messages\": [{\"role\": \"user\", \"content\": \"no answer\"}]}\n{not json\n",
    );
    let yaml = [
        secret("unlabelled", false, "train.jsonl", &chat_lines(12, "")),
        ds("deputy", "Chat", "{secret: {name: unlabelled, key: train.jsonl}}"),
        ds("missing-secret", "Chat", "{secret: {name: nowhere, key: train.jsonl}}"),
        secret("good", true, "train.jsonl", &chat_lines(12, "")),
        ds("missing-key", "Chat", "{secret: {name: good, key: other.jsonl}}"),
        secret("invalid", true, "train.jsonl", &invalid),
        ds("invalid-jsonl", "Chat", "{secret: {name: invalid, key: train.jsonl}}"),
        secret("few", true, "train.jsonl", &chat_lines(3, "")),
        ds("too-few", "Chat", "{secret: {name: few, key: train.jsonl}}"),
        secret("completion", true, "train.jsonl", &completion),
        ds("wrong-format", "Chat", "{secret: {name: completion, key: train.jsonl}}"),
        ds("chat-for-dpo", "Chat", "{secret: {name: good, key: train.jsonl}}"),
        format!(
            "---\n{config}apiVersion: tunegate.dev/v1alpha1\nkind: FineTuneJob\nmetadata: {{name: dpo, namespace: {ns}}}\nspec:\n  trainingDatasetRef: {{name: chat-for-dpo}}\n  providerRef: {{kind: ProviderConfig, name: creds}}\n  model: gpt-4o-mini-2024-07-18\n  method: {{type: DPO}}\n",
            config = provider_config(&ns, "creds", &url, "")
        ),
    ]
    .concat();
    apply(&yaml);
    for (name, reason) in [
        ("deputy", "SourceNotAllowed"),
        ("missing-secret", "SourceNotFound"),
        ("missing-key", "KeyNotFound"),
        ("invalid-jsonl", "InvalidFormat"),
        ("too-few", "TooFewExamples"),
        ("wrong-format", "InvalidFormat"),
    ] {
        wait_condition(&ns, "tds", name, "Ready", "False", Some(reason), 60);
    }
    let invalid = get(&ns, "tds", "invalid-jsonl").unwrap();
    let lines: Vec<u64> = invalid["status"]["formatErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [12, 13], "format errors by line, codes only");
    wait_condition(
        &ns,
        "ftj",
        "dpo",
        "DatasetReady",
        "False",
        Some("MethodFormatMismatch"),
        60,
    );
    // Nothing was uploaded for any of it, and the operator is still alive.
    assert_eq!(sandbox.state()["counts"]["received"], 0);
    let mut op = op;
    assert!(
        op.proc.child.try_wait().unwrap().is_none(),
        "operator still running"
    );
    // The refused Secret was never read: opting it in makes the dataset valid.
    support::kubectl(&[
        "-n",
        &ns,
        "label",
        "secret",
        "unlabelled",
        "tunegate.dev/training-data=true",
    ])
    .ok();
    wait_condition(&ns, "tds", "deputy", "Ready", "True", Some("Valid"), 60);
}

fn crash_at(failpoint: &str) {
    let ns = support::namespace(&format!("e2e-crash-{failpoint}"));
    let sandbox = Sandbox::start(&["--job-seconds", "3"]);
    let mut op = Operator::start(&ns, &[("TUNEGATE_FAILPOINT", failpoint)]);
    apply(&scenario(
        &ns,
        "crashy",
        &sandbox.base_url(),
        &chat_lines(10, ""),
        "",
    ));
    assert!(
        op.wait_exit(90),
        "the operator reached the failpoint {failpoint}"
    );
    let uid = uid(&ns, "ftj", "crashy");
    // The object exists remotely but the ledger does not know it yet.
    let ftj = get(&ns, "ftj", "crashy").unwrap();
    let ledger = ftj["status"]["ledger"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    match failpoint {
        "after-upload" => {
            assert_eq!(sandbox.received_for(&uid).len(), 1);
            assert!(ledger.is_empty());
        }
        _ => {
            assert_eq!(sandbox.jobs_for(&uid).len(), 1);
            assert!(!ledger.iter().any(|e| e["kind"] == "Job"));
        }
    }
    drop(op);
    let _op = Operator::start(&ns, &[]);
    wait_condition(
        &ns,
        "ftj",
        "crashy",
        "Ready",
        "True",
        Some("Succeeded"),
        120,
    );
    assert_eq!(sandbox.received_for(&uid).len(), 1, "exactly one file");
    assert_eq!(sandbox.jobs_for(&uid).len(), 1, "exactly one job");
    assert_eq!(sandbox.live_files_for(&uid), 0);
}

#[test]
fn crash_right_after_upload_adopts_the_file() {
    crash_at("after-upload");
}

#[test]
fn crash_right_after_job_creation_adopts_the_job() {
    crash_at("after-job-create");
}

#[test]
fn twenty_percent_faults_still_succeed_without_duplicates() {
    let ns = support::namespace("e2e-faults");
    let sandbox = Sandbox::start(&[
        "--job-seconds",
        "3",
        "--fault-rate",
        "0.2",
        "--fault-kinds",
        "429,500,503,drop",
        "--retry-after-ms",
        "200",
        "--seed",
        "7",
    ]);
    let _op = Operator::start(&ns, &[]);
    let names = ["f1", "f2", "f3", "f4"];
    for n in names {
        apply(&scenario(
            &ns,
            n,
            &sandbox.base_url(),
            &chat_lines(10, n),
            "",
        ));
    }
    for n in names {
        wait_condition(&ns, "ftj", n, "Ready", "True", Some("Succeeded"), 240);
        let uid = uid(&ns, "ftj", n);
        let received = sandbox.received_for(&uid);
        let complete = received.iter().filter(|r| r["via"] == "files").count();
        assert_eq!(complete, 1, "{n}: one file");
        assert_eq!(sandbox.jobs_for(&uid).len(), 1, "{n}: one job");
        assert_eq!(sandbox.live_files_for(&uid), 0, "{n}: files deleted");
    }
}

/// A rotated pseudonymization key (in a Secret opted in with the training-data label, which a
/// referenced key needs) changes the dataset's digest. Whether the labelled-Secret watch or the
/// upload's digest gate (`DatasetChanged`, nothing uploaded) notices first, the dataset is
/// re-validated and the job uploads the bytes of the new digest: one file, pseudonymized with the
/// new key. The job's config allows Pseudonymize explicitly (the default floor does not).
#[test]
fn a_rotated_pseudonymization_key_is_revalidated_before_upload() {
    let ns = support::namespace("e2e-rotate");
    let sandbox = Sandbox::start(&["--job-seconds", "2"]);
    let _op = Operator::start(&ns, &[]);
    let docs: Vec<String> = scenario(
        &ns,
        "rot",
        &sandbox.base_url(),
        &chat_lines(10, "mail me at rotate.canary@example.com"),
        "",
    )
    .split("---\n")
    .filter(|d| !d.trim().is_empty())
    .map(|d| {
        let d = d.replace(
            "  format: Chat\n",
            "  format: Chat\n  redaction: {mode: Pseudonymize, pseudonymizationKeyRef: {name: rot-hmac, key: key}}\n",
        );
        if d.contains("\nkind: ProviderConfig\n") {
            d + "  redactionFloor: {modes: [Mask, Pseudonymize]}\n"
        } else {
            d
        }
    })
    .collect();
    let n = docs.len();
    assert_eq!(n, 5, "data, credentials, config, dataset, job");
    let (setup, job) = (docs[..n - 1].join("---\n"), docs[n - 1].clone());
    let hmac = |k: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: rot-hmac, namespace: {ns}, labels: {{tunegate.dev/training-data: \"true\"}}}}\nstringData: {{key: {k}}}\n"
        )
    };
    apply(&format!("{}---\n{setup}", hmac("first-key-0123456789")));
    let tds = wait_condition(&ns, "tds", "rot", "Ready", "True", None, 60);
    let first = tds["status"]["redactedDigest"]
        .as_str()
        .expect("digest")
        .to_string();

    apply(&hmac("second-key-9876543210"));
    apply(&job);
    let ftj = wait_condition(&ns, "ftj", "rot", "Ready", "True", Some("Succeeded"), 120);
    let tds = get(&ns, "tds", "rot").expect("dataset");
    let second = tds["status"]["redactedDigest"].as_str().expect("digest");
    assert_ne!(
        second, first,
        "the dataset was re-validated with the new key"
    );
    let received = sandbox.received_for(&uid(&ns, "ftj", "rot"));
    assert_eq!(received.len(), 1, "the refused attempt uploaded nothing");
    assert_eq!(
        format!("sha256:{}", received[0]["sha256"].as_str().unwrap()),
        second
    );
    assert_eq!(
        ftj["status"]["remote"]["trainingFile"]["digest"].as_str(),
        Some(second)
    );
}
