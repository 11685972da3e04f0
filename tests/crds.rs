//! The committed CRDs must be exactly what the code generates (`tunegate crds`).

use std::path::Path;

#[test]
fn committed_crds_match_generated() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/tunegate.dev.yaml");
    let committed = std::fs::read_to_string(&path).expect("crds/tunegate.dev.yaml is readable");
    let generated = tunegate_api::crds_yaml().expect("CRDs render");
    assert!(
        committed == generated,
        "crds/tunegate.dev.yaml is stale: run `cargo run -- crds > crds/tunegate.dev.yaml`"
    );
}

#[test]
fn tunegate_crds_command_prints_the_committed_file() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tunegate"))
        .arg("crds")
        .output()
        .expect("run tunegate crds");
    assert!(out.status.success());
    let committed =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/tunegate.dev.yaml"))
            .expect("read crds");
    assert_eq!(out.stdout, committed);
}

#[test]
fn every_crd_has_status_subresource_and_printer_columns() {
    let crds = tunegate_api::crds();
    let names: Vec<String> = crds.iter().map(|c| c.spec.names.kind.clone()).collect();
    assert_eq!(
        names,
        [
            "TrainingDataset",
            "FineTuneJob",
            "ClusterProviderConfig",
            "ProviderConfig"
        ]
    );
    for crd in crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let kind = crd.spec.names.kind.clone();
        assert_eq!(crd.spec.group, "tunegate.dev");
        let want_scope = if kind == "ClusterProviderConfig" {
            "Cluster"
        } else {
            "Namespaced"
        };
        assert_eq!(crd.spec.scope, want_scope, "{name}");
        let categories = crd.spec.names.categories.clone().unwrap_or_default();
        assert_eq!(categories, vec!["tunegate".to_string()], "{name}");
        let want_cols: &[&str] = if kind.ends_with("ProviderConfig") {
            &["Type", "Ready", "Reason", "Age"]
        } else {
            &["Ready", "Model", "Age"]
        };
        for v in &crd.spec.versions {
            assert!(
                v.subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some(),
                "{name} has no status subresource"
            );
            let cols: Vec<String> = v
                .additional_printer_columns
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.name)
                .collect();
            for want in want_cols {
                assert!(cols.iter().any(|c| c == want), "{name} lacks column {want}");
            }
        }
    }
}
