//! Runs `crates/openai-sandbox/tests/sdk/run.sh`: the official `openai` Python SDK (OpenAI and AzureOpenAI clients)
//! against the `openai-sandbox` binary. The first run creates `crates/openai-sandbox/tests/sdk/.venv` (pip install from
//! PyPI), which takes a minute.

use std::process::Command;

#[test]
fn official_python_sdk_drives_the_sandbox() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/tests/sdk/run.sh"))
        .env("OPENAI_SANDBOX_BIN", env!("CARGO_BIN_EXE_openai-sandbox"))
        .output()
        .expect("run tests/sdk/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK script failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all SDK checks passed"), "{stdout}");
}
