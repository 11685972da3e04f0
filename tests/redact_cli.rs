//! Contract tests for `tunegate redact` (exit codes 0, 2, 3; stdin/stdout; report; BOM/CRLF).

use assert_cmd::Command;

fn tunegate() -> Command {
    let mut c = Command::cargo_bin("tunegate").unwrap();
    c.env_remove("TUNEGATE_PSEUDONYMIZATION_KEY");
    c
}

const CHAT_PII: &str = r#"{"messages":[{"role":"user","content":"I am jane@example.com, card 4111 1111 1111 1111"},{"role":"assistant","content":"Noted."}]}"#;
const CHAT_CLEAN: &str = r#"{"messages":[{"role":"user","content":"Order 4111 1111 1111 1112 is late"},{"role":"assistant","content":"Sorry!"}]}"#;

#[test]
fn stdin_to_stdout_mask_by_default() {
    let input = format!("\u{feff}{CHAT_PII}\r\n{CHAT_CLEAN}\n");
    let out = tunegate()
        .args(["redact", "-"])
        .write_stdin(input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        r#"{"messages":[{"role":"user","content":"I am [EMAIL_ADDRESS], card [CREDIT_CARD]"},{"role":"assistant","content":"Noted."}]}"#
    );
    assert_eq!(lines[1], CHAT_CLEAN);
    assert!(!out.contains('\r'));
}

#[test]
fn files_report_and_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, format!("{CHAT_PII}\n{CHAT_CLEAN}\n")).unwrap();
    let output = dir.path().join("out.jsonl");
    let report = dir.path().join("report.json");
    tunegate()
        .arg("redact")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["--format", "chat", "--report"])
        .arg(&report)
        .assert()
        .success()
        .stdout("");
    let out = std::fs::read_to_string(&output).unwrap();
    assert_eq!(out.lines().count(), 2);
    assert!(!out.contains("jane@example.com"));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["mode"], "Mask");
    assert_eq!(r["examples"], 2);
    assert_eq!(r["findings"]["EMAIL_ADDRESS"], 1);
    assert_eq!(r["findings"]["CREDIT_CARD"], 1);
    assert_eq!(r["findingsByRole"]["user"]["EMAIL_ADDRESS"], 1);
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(!text.contains("jane") && !text.contains("4111"));
}

#[test]
fn invalid_json_exits_2_naming_the_line_not_the_content() {
    let input = format!("{CHAT_CLEAN}\n{{\"secret\": jane@example.com}}\n");
    let a = tunegate()
        .args(["redact", "-"])
        .write_stdin(input)
        .assert()
        .code(2);
    let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("line 2") && err.contains("invalid_json"),
        "{err}"
    );
    assert!(!err.contains("jane"));
}

#[test]
fn unreadable_input_exits_2() {
    // Invalid UTF-8 on line 2, blank line, missing file, bad policy, format error.
    let mut bytes = format!("{CHAT_CLEAN}\n").into_bytes();
    bytes.extend_from_slice(b"{\"a\":\"\xff\"}\n");
    let a = tunegate()
        .args(["redact", "-"])
        .write_stdin(bytes)
        .assert()
        .code(2);
    let err = String::from_utf8(a.get_output().stderr.clone()).unwrap();
    assert!(
        err.contains("line 2") && err.contains("invalid_utf8"),
        "{err}"
    );
    tunegate()
        .args(["redact", "-"])
        .write_stdin(format!("{CHAT_CLEAN}\n\n{CHAT_CLEAN}\n"))
        .assert()
        .code(2);
    tunegate()
        .args(["redact", "/nonexistent/in.jsonl"])
        .assert()
        .code(2);
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.yaml");
    std::fs::write(&policy, "customPatterns: [{name: BAD, regex: '('}]\n").unwrap();
    tunegate()
        .args(["redact", "-", "--policy"])
        .arg(&policy)
        .write_stdin(CHAT_CLEAN)
        .assert()
        .code(2);
    let a = tunegate()
        .args(["redact", "-", "--format", "completion"])
        .write_stdin(format!("{CHAT_CLEAN}\n"))
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("line 1"));
}

#[test]
fn reject_mode_exits_3_and_still_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("p.yaml");
    std::fs::write(&policy, "mode: Reject\n").unwrap();
    let report = dir.path().join("r.json");
    let a = tunegate()
        .args(["redact", "-", "--policy"])
        .arg(&policy)
        .arg("--report")
        .arg(&report)
        .write_stdin(format!("{CHAT_CLEAN}\n{CHAT_PII}\n"))
        .assert()
        .code(3);
    assert!(!String::from_utf8_lossy(&a.get_output().stdout).contains("jane"));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["rejectedExamples"], 1);
    // Clean input in Reject mode succeeds.
    tunegate()
        .args(["redact", "-", "--policy"])
        .arg(&policy)
        .write_stdin(format!("{CHAT_CLEAN}\n"))
        .assert()
        .code(0);
}

#[test]
fn drop_and_pseudonymize_modes() {
    let dir = tempfile::tempdir().unwrap();
    let drop = dir.path().join("d.yaml");
    std::fs::write(&drop, "mode: DropExample\n").unwrap();
    tunegate()
        .args(["redact", "-", "--policy"])
        .arg(&drop)
        .write_stdin(format!("{CHAT_PII}\n{CHAT_CLEAN}\n"))
        .assert()
        .success()
        .stdout(format!("{CHAT_CLEAN}\n"));
    let pseudo = dir.path().join("p.yaml");
    std::fs::write(&pseudo, "mode: Pseudonymize\nentities: [EMAIL_ADDRESS]\n").unwrap();
    tunegate()
        .args(["redact", "-", "--policy"])
        .arg(&pseudo)
        .write_stdin(CHAT_PII)
        .assert()
        .code(2);
    let run = |key: &str| {
        let out = tunegate()
            .args(["redact", "-", "--policy"])
            .arg(&pseudo)
            .env("TUNEGATE_PSEUDONYMIZATION_KEY", key)
            .write_stdin(format!("{CHAT_PII}\n"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    let a = run("k1");
    assert_eq!(a, run("k1"));
    assert_ne!(a, run("k2"));
    assert!(a.contains("[EMAIL_ADDRESS_") && a.contains("4111 1111 1111 1111"));
}

#[test]
fn output_is_idempotent() {
    let first = tunegate()
        .args(["redact", "-"])
        .write_stdin(format!("{CHAT_PII}\n"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    tunegate()
        .args(["redact", "-"])
        .write_stdin(first.clone())
        .assert()
        .success()
        .stdout(first);
}

/// `-o` naming a device or a FIFO writes into it in place; the node is never replaced by a
/// regular file (a rename onto /dev/null, run as root, used to do exactly that).
#[test]
fn output_to_fifo_and_character_device_is_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, format!("{CHAT_PII}\n")).unwrap();

    // FIFO: a reader on the other end receives the redacted line.
    let fifo = dir.path().join("out.fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success(), "mkfifo failed");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(&fifo).unwrap())
    };
    tunegate()
        .arg("redact")
        .arg(&input)
        .arg("-o")
        .arg(&fifo)
        .assert()
        .success();
    let got = reader.join().unwrap();
    assert!(got.contains("[EMAIL_ADDRESS]"), "{got}");
    assert!(!got.contains("jane@example.com"));
    let ft = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(ft.is_fifo(), "the FIFO was replaced");

    // Character device: a null device node made in the temp dir (needs root, as here).
    let dev = dir.path().join("null");
    let st = std::process::Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    if !st.success() {
        eprintln!("mknod not permitted: skipping the character-device half");
        return;
    }
    tunegate()
        .arg("redact")
        .arg(&input)
        .arg("-o")
        .arg(&dev)
        .assert()
        .success();
    let ft = std::fs::symlink_metadata(&dev).unwrap().file_type();
    assert!(ft.is_char_device(), "the device node was replaced");
    // No temporary file was left behind either.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");

    // A regular file is still replaced atomically, and a symlink to it keeps being a symlink.
    let real = dir.path().join("real.jsonl");
    std::fs::write(&real, "old\n").unwrap();
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    tunegate()
        .arg("redact")
        .arg(&input)
        .arg("-o")
        .arg(&link)
        .assert()
        .success();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("[EMAIL_ADDRESS]")
    );
}
