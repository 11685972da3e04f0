//! The validation worker's memory, measured from outside: the real `tunegate` binary runs exactly
//! as the operator's worker Job manifest says (its arguments, its environment, its mounted spec
//! file), on files with one hostile line, while this test polls the child's peak RSS (`VmHWM`).
//! Like the kubelet, it kills the worker the moment it passes the Job's memory limit.
//!
//! Before this was fixed, one 50 MB line drove the worker to 2.5 GiB (its Job's limit is 256 MiB:
//! a real kubelet OOM-kills it, and the user saw `WorkerFailed` instead of the real cause).
//! Now a line over the cap is refused as `line_too_long` while it is read, and a line just under
//! the cap, of the shapes that cost most, stays inside the limit the cap was derived from.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use serde_json::Value;
use tunegate::controller::Config;
use tunegate::controller::worker;
use tunegate_api::TrainingDataset;

const MIB: u64 = 1024 * 1024;

fn dataset() -> TrainingDataset {
    serde_yaml::from_str(
        r#"
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {name: big, namespace: team, uid: 0b5e7a61-6d0c-4f52-9d5b-1c7c9d6a0e11, generation: 1}
spec:
  sources:
    - volume: {claimName: datasets, path: train.jsonl}
  validation: {minExamples: 1}
"#,
    )
    .expect("dataset")
}

/// Parses `256Mi`-style quantities (what the manifest carries).
fn quantity(q: &str) -> u64 {
    let (n, unit) = q.split_at(q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len()));
    let n: u64 = n.parse().expect("quantity");
    n * match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        other => panic!("unit {other}"),
    }
}

/// What the worker Job's pod would see: arguments, environment, mounted files. Paths under the
/// pod's mounts are mapped into `dir`.
struct Pod {
    args: Vec<String>,
    env: Vec<(String, String)>,
    memory_limit: u64,
}

fn pod_for(dir: &Path, source: &Path) -> Pod {
    let tds = dataset();
    let job: Job = worker::validate_job(&tds, &Config::default(), None).expect("manifest");
    let spec = job.spec.unwrap().template.spec.unwrap();
    let c = &spec.containers[0];
    let memory_limit =
        quantity(&c.resources.as_ref().unwrap().limits.as_ref().unwrap()["memory"].0);
    // Mounted files: the source, and any ConfigMap volume carrying the dataset spec.
    let mut mounts: Vec<(String, PathBuf)> = vec![("/sources/0/train.jsonl".into(), source.into())];
    for m in c.volume_mounts.iter().flatten() {
        let Some(v) = spec.volumes.iter().flatten().find(|v| v.name == m.name) else {
            continue;
        };
        if let Some(cm) = &v.config_map {
            for item in cm.items.iter().flatten() {
                let path = dir.join(format!("{}-{}", v.name, item.path));
                std::fs::write(&path, serde_json::to_string(&tds.spec).unwrap()).unwrap();
                mounts.push((format!("{}/{}", m.mount_path, item.path), path));
            }
        }
    }
    let log = dir.join("termination-log");
    mounts.push(("/dev/termination-log".into(), log));
    let args = c
        .args
        .clone()
        .unwrap()
        .into_iter()
        .map(|a| {
            mounts
                .iter()
                .find(|(pod_path, _)| *pod_path == a)
                .map_or(a, |(_, local)| local.display().to_string())
        })
        .collect();
    let env = c
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect();
    Pod {
        args,
        env,
        memory_limit,
    }
}

/// Runs `tunegate ARGS` and returns (peak RSS in bytes, exit status or None if it was killed
/// for passing `kill_above`).
fn run_measured(args: &[String], env: &[(String, String)], kill_above: u64) -> (u64, Option<i32>) {
    let mut child = Command::new(tunegate_testkit::bin("tunegate"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tunegate");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            for line in text.lines() {
                if let Some(kib) = line.strip_prefix("VmHWM:") {
                    let kib: u64 = kib
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse()
                        .unwrap_or(0);
                    peak = peak.max(kib * 1024);
                }
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, status.code());
        }
        if peak > kill_above || Instant::now() > deadline {
            // What the kubelet does at the limit.
            let _ = child.kill();
            let _ = child.wait();
            return (peak, None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

const SMALL: &str =
    r#"{"messages":[{"role":"user","content":"hello"},{"role":"assistant","content":"hi"}]}"#;

/// Ten small lines, then one line of `shape` padded to exactly `len` bytes.
fn write_file(path: &Path, shape: &str, len: usize) {
    let (head, unit, tail): (&str, &str, &str) = match shape {
        // One string without a space: a single tokenizer piece.
        "string" => (
            r#"{"messages":[{"role":"user","content":""#,
            "x",
            r#""},{"role":"assistant","content":"ok"}]}"#,
        ),
        // An e-mail address every 7 bytes of one string: findings and masks grow the output.
        "emails" => (
            r#"{"messages":[{"role":"user","content":""#,
            "a@b.cc ",
            r#""},{"role":"assistant","content":"ok"}]}"#,
        ),
        // Hundreds of thousands of small objects, each with a finding (was ~70x as a tree).
        "objects" => (
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"ok"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"x":[{"a":"a@b.cc"}"#,
            r#",{"a":"a@b.cc"}"#,
            "]}}}]}",
        ),
        other => panic!("shape {other}"),
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for _ in 0..10 {
        writeln!(f, "{SMALL}").unwrap();
    }
    let body = len - head.len() - tail.len();
    f.write_all(head.as_bytes()).unwrap();
    let units = body / unit.len();
    for _ in 0..units {
        f.write_all(unit.as_bytes()).unwrap();
    }
    // Pad inside the value without changing its shape.
    let pad = body - units * unit.len();
    let pad_byte = if shape == "objects" { " " } else { "x" };
    f.write_all(pad_byte.repeat(pad).as_bytes()).unwrap();
    f.write_all(tail.as_bytes()).unwrap();
    f.write_all(b"\n").unwrap();
    f.flush().unwrap();
}

fn result(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("termination-log")).expect("a result");
    serde_json::from_str(&text).expect("JSON result")
}

#[test]
fn a_50_mb_line_is_refused_without_being_buffered() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("train.jsonl");
    write_file(&source, "string", 50_000_000);
    let pod = pod_for(dir.path(), &source);
    let (peak, code) = run_measured(&pod.args, &pod.env, pod.memory_limit);
    eprintln!(
        "50 MB line: peak RSS {} MiB, Job limit {} MiB",
        peak / MIB,
        pod.memory_limit / MIB
    );
    assert!(
        code.is_some() && peak <= pod.memory_limit,
        "the worker passed its Job's memory limit of {} MiB (peak {} MiB): the kubelet would OOM-kill it",
        pod.memory_limit / MIB,
        peak / MIB
    );
    let r = result(dir.path());
    let errors = &r["summary"]["formatErrors"];
    assert_eq!(errors[0]["line"], 11, "{r}");
    assert_eq!(errors[0]["code"], "line_too_long", "{r}");
    // Refused while read: nowhere near the 50 MB.
    assert!(peak < 160 * MIB, "peak {} MiB", peak / MIB);
}

#[test]
fn lines_just_under_the_cap_fit_the_jobs_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("train.jsonl");
    let pod = pod_for(dir.path(), &source);
    let at = pod
        .args
        .iter()
        .position(|a| a == "--max-line-bytes")
        .expect("the Job passes the worker its line cap");
    let cap: usize = pod.args[at + 1].parse().unwrap();
    assert!(cap >= 4 * MIB as usize, "cap {cap}");
    for shape in ["string", "emails", "objects"] {
        write_file(&source, shape, cap - 64);
        let (peak, code) = run_measured(&pod.args, &pod.env, pod.memory_limit);
        eprintln!(
            "{shape}: line of {} bytes, peak RSS {} MiB, Job limit {} MiB",
            cap - 64,
            peak / MIB,
            pod.memory_limit / MIB
        );
        assert!(
            code.is_some() && peak <= pod.memory_limit,
            "{shape}: peak {} MiB passes the Job's limit of {} MiB",
            peak / MIB,
            pod.memory_limit / MIB
        );
        // The line was read and judged (not refused for its length).
        let r = result(dir.path());
        let codes: Vec<&str> = r["summary"]["formatErrors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["code"].as_str()).collect())
            .unwrap_or_default();
        assert!(!codes.contains(&"line_too_long"), "{shape}: {r}");
        assert!(
            r["summary"]["examples"].as_u64().unwrap_or(0) >= 10,
            "{shape}: {r}"
        );
    }
}

#[test]
fn the_cli_refuses_a_50_mb_line_within_its_documented_bound() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("train.jsonl");
    write_file(&source, "string", 50_000_000);
    // `tunegate check` at its default line cap (16 MiB): 128 MiB + 16 x the cap.
    let bound = 384 * MIB;
    let args = vec![
        "check".to_string(),
        source.display().to_string(),
        "--json".to_string(),
    ];
    let (peak, code) = run_measured(&args, &[], bound);
    eprintln!("tunegate check, 50 MB line: peak RSS {} MiB", peak / MIB);
    assert_eq!(
        code,
        Some(1),
        "invalid, not killed (peak {} MiB)",
        peak / MIB
    );
    assert!(peak < 160 * MIB, "peak {} MiB", peak / MIB);
}
