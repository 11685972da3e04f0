//! The crate boundaries that carry the architecture (README "Layout"), enforced: the domain core
//! and the API types pick up no Kubernetes client, network or async runtime, and nothing that only
//! serves tests ships in the operator. Reads the resolved graph with `cargo tree`.

use std::process::Command;

/// The normal (non-dev, non-build) dependency names of `package`, deduplicated.
fn normal_deps(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(tunegate_testkit::repo_root())
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn assert_none_of(package: &str, forbidden: &[&str]) {
    let deps = normal_deps(package);
    assert!(
        deps.len() > 3,
        "{package}: only {deps:?}: is the scan broken?"
    );
    let found: Vec<&String> = deps
        .iter()
        .filter(|d| forbidden.contains(&d.as_str()))
        .collect();
    assert!(found.is_empty(), "{package} depends on {found:?}");
}

#[test]
fn the_core_has_no_kubernetes_client_network_or_runtime() {
    assert_none_of(
        "tunegate-core",
        &[
            "tokio",
            "kube-client",
            "kube-runtime",
            "reqwest",
            "hyper",
            "axum",
            "tower",
        ],
    );
}

#[test]
fn the_api_types_are_derive_only() {
    assert_none_of(
        "tunegate-api",
        &[
            "tokio",
            "kube-client",
            "kube-runtime",
            "reqwest",
            "hyper",
            "axum",
        ],
    );
}

#[test]
fn the_operator_ships_no_test_server_or_certificate_generator() {
    assert_none_of(
        "tunegate",
        &[
            "axum",
            "rcgen",
            "openai-sandbox",
            "tunegate-testenv",
            "tunegate-testkit",
        ],
    );
}

#[test]
fn the_scan_sees_what_the_operator_really_uses() {
    // Positive control: the same scan finds the operator's client stack.
    let deps = normal_deps("tunegate");
    for want in ["kube-client", "reqwest", "tokio", "tunegate-core", "hyper"] {
        assert!(deps.iter().any(|d| d == want), "{want} not in {deps:?}");
    }
}

#[test]
fn the_sandbox_does_not_depend_on_the_operator() {
    assert_none_of("openai-sandbox", &["tunegate", "tunegate-core", "kube"]);
}
