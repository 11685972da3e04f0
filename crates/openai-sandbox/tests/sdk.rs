//! Runs `crates/openai-sandbox/tests/sdk/run.sh`: the official `openai` SDKs for Python and for Node
//! (OpenAI and Azure OpenAI clients) against the `openai-sandbox` binary. The first run installs the
//! pinned SDKs (`tests/sdk/.venv` from the Python package registry, `tests/sdk/node/node_modules`
//! from the npm registry), which takes a minute.

use std::process::Command;

fn run_sdk(client: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/tests/sdk/run.sh"))
        .arg(client)
        .env("OPENAI_SANDBOX_BIN", env!("CARGO_BIN_EXE_openai-sandbox"))
        .output()
        .expect("run tests/sdk/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{client} SDK script failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all SDK checks passed"), "{stdout}");
}

#[test]
fn official_python_sdk_drives_the_sandbox() {
    run_sdk("python");
}

#[test]
fn official_node_sdk_drives_the_sandbox() {
    run_sdk("node");
}
