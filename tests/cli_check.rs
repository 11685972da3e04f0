//! Contract tests for `tunegate check INPUT [--format F] [--model M] [--json]`:
//! exit 0 valid, 1 invalid, 2 unreadable; errors by line and code, never content.

use assert_cmd::Command;
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/check");

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

fn tunegate() -> Command {
    Command::cargo_bin("tunegate").unwrap()
}

fn json_report(args: &[&str]) -> (i32, Value) {
    let out = tunegate()
        .arg("check")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    (out.status.code().unwrap(), report)
}

#[test]
fn valid_chat_file_exits_zero_with_statistics() {
    let (code, r) = json_report(&[&fixture("chat_valid.jsonl")]);
    assert_eq!(code, 0);
    assert_eq!(r["valid"], true);
    assert_eq!(r["examples"], 12);
    assert_eq!(r["lines"], 12);
    assert_eq!(r["encoding"], "o200k_base");
    assert_eq!(r["model"], "gpt-4o-mini");
    assert_eq!(r["messagesPerExample"]["min"], 3);
    assert_eq!(r["messagesPerExample"]["max"], 3);
    let total = r["totalTokens"].as_u64().unwrap();
    let min = r["tokensPerExample"]["min"].as_u64().unwrap();
    let max = r["tokensPerExample"]["max"].as_u64().unwrap();
    assert!(min > 10 && min <= max && total >= 12 * min, "{r}");
    assert!(r["sourceDigest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(r["errorCount"], 0);
}

#[test]
fn text_output_is_the_default() {
    let (code, out) = run(tunegate().args(["check", &fixture("chat_valid.jsonl")]));
    assert_eq!(code, 0);
    assert!(out.starts_with("valid\n"), "{out}");
    assert!(out.contains("tokens per example: min"), "{out}");
}

/// Exit code and stdout.
fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn invalid_chat_file_exits_one_with_codes_and_lines() {
    let (code, r) = json_report(&[&fixture("chat_invalid.jsonl")]);
    assert_eq!(code, 1);
    assert_eq!(r["valid"], false);
    let errors: Vec<(u64, String)> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (3, "example_missing_assistant_message".to_string()),
            (6, "unrecognized_role".to_string()),
            (8, "invalid_weight".to_string()),
            (10, "blank_line".to_string()),
            (11, "invalid_json".to_string()),
        ]
    );
    assert_eq!(r["examples"], 8);
    // Content never appears in the report.
    let text = r.to_string();
    assert!(!text.contains("no answer") && !text.contains("human") && !text.contains("truncated"));
}

#[test]
fn invalid_text_output_names_lines() {
    let (code, out) = run(tunegate().args(["check", &fixture("chat_invalid.jsonl")]));
    assert_eq!(code, 1);
    assert!(out.starts_with("invalid\n"), "{out}");
    assert!(out.contains("line 6: unrecognized_role"), "{out}");
}

#[test]
fn too_few_examples_exits_one() {
    let (code, r) = json_report(&[&fixture("chat_too_few.jsonl")]);
    assert_eq!(code, 1);
    assert_eq!(r["errors"][0]["code"], "too_few_examples");
    let (code, _) = json_report(&[&fixture("chat_too_few.jsonl"), "--min-examples", "3"]);
    assert_eq!(code, 0);
}

#[test]
fn completion_and_preference_formats() {
    let (code, r) = json_report(&[
        &fixture("completion_valid.jsonl"),
        "--format",
        "completion",
        "--model",
        "babbage-002",
    ]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["encoding"], "cl100k_base");
    assert!(r["messagesPerExample"].is_null());
    let (code, r) = json_report(&[&fixture("preference_valid.jsonl"), "--format", "preference"]);
    assert_eq!(code, 0, "{r}");
    // The wrong format is invalid, not unreadable.
    let (code, r) = json_report(&[&fixture("preference_valid.jsonl"), "--format", "chat"]);
    assert_eq!(code, 1);
    assert_eq!(r["errorCounts"]["unrecognized_key"], 10);
}

#[test]
fn model_selects_tokenizer_and_limit() {
    let (code, r) = json_report(&[
        &fixture("chat_valid.jsonl"),
        "--model",
        "gpt-3.5-turbo-0125",
    ]);
    assert_eq!(code, 0);
    assert_eq!(r["encoding"], "cl100k_base");
    assert_eq!(r["maxExampleTokens"], 16385);
}

#[test]
fn stdin_is_dash() {
    let input = std::fs::read(fixture("chat_valid.jsonl")).unwrap();
    let (code, out) = run(tunegate().args(["check", "-", "--json"]).write_stdin(input));
    assert_eq!(code, 0);
    assert!(out.contains("\"examples\": 12"), "{out}");
    let (code, out) = run(tunegate()
        .args(["check", "-"])
        .write_stdin(&b"\xff\xfe\n"[..]));
    assert_eq!(code, 1);
    assert!(out.contains("line 1: invalid_utf8"), "{out}");
}

#[test]
fn missing_file_exits_two_with_one_line() {
    let out = tunegate()
        .args(["check", "/nonexistent/train.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot open /nonexistent/train.jsonl"),
        "{stderr}"
    );
}

#[test]
fn directory_input_exits_two() {
    let out = tunegate().args(["check", FIXTURES]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);
}

#[test]
fn unknown_model_exits_two() {
    let out = tunegate()
        .args([
            "check",
            &fixture("chat_valid.jsonl"),
            "--model",
            "mystery-1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("unknown model")
    );
}
