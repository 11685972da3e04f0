//! Every example in deploy/examples/ and deploy/examples/more/ is valid against the CRDs' OpenAPI
//! v3.0 schemas, checked with JSON Schema draft 4 semantics as Kubernetes does (a boolean
//! `exclusiveMinimum`), offline (tests/chart_cluster.rs also applies them to a real API server,
//! which checks the CEL rules too), and the Secrets/ConfigMaps used as training data carry the
//! opt-in label.

use tunegate_testkit::packaging;

use std::collections::BTreeMap;

use packaging::{kind, name, parse_docs, repo_root};
use serde_json::Value;

fn crd_schemas() -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(repo_root().join("crds/tunegate.dev.yaml")).unwrap();
    parse_docs(&text)
        .into_iter()
        .map(|crd| {
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap().to_string();
            let schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
            (kind, schema)
        })
        .collect()
}

fn example_docs() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for dir in ["deploy/examples", "deploy/examples/more"] {
        let mut files: Vec<_> = std::fs::read_dir(repo_root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for doc in parse_docs(&text) {
                out.push((f.display().to_string(), doc));
            }
        }
    }
    out
}

#[test]
fn every_example_matches_its_crd_schema() {
    let schemas = crd_schemas();
    let docs = example_docs();
    let mut checked = BTreeMap::<String, usize>::new();
    for (file, doc) in &docs {
        let Some(schema) = schemas.get(kind(doc)) else {
            continue;
        };
        assert_eq!(doc["apiVersion"], "tunegate.dev/v1alpha1", "{file}");
        let validator = jsonschema::draft4::new(schema).expect("CRD schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(doc)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{file} {}: {errors:#?}", name(doc));
        *checked.entry(kind(doc).to_string()).or_default() += 1;
    }
    assert!(checked["TrainingDataset"] >= 4, "{checked:?}");
    assert!(checked["FineTuneJob"] >= 3, "{checked:?}");
}

#[test]
fn the_schema_check_catches_a_broken_example() {
    let schemas = crd_schemas();
    let (_, mut doc) = example_docs()
        .into_iter()
        .find(|(_, d)| kind(d) == "FineTuneJob")
        .unwrap();
    doc["spec"]["retention"]["trainingFiles"] = Value::from("KeepForever");
    let validator = jsonschema::draft4::new(&schemas["FineTuneJob"]).unwrap();
    assert!(!validator.is_valid(&doc));
}

#[test]
fn examples_cover_the_documented_cases() {
    let docs = example_docs();
    let datasets: Vec<&Value> = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| kind(d) == "TrainingDataset")
        .collect();
    let jobs: Vec<&Value> = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| kind(d) == "FineTuneJob")
        .collect();
    let has_source = |k: &str| {
        datasets.iter().any(|d| {
            d["spec"]["sources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| !s[k].is_null())
        })
    };
    assert!(has_source("secret") && has_source("configMap") && has_source("volume"));
    assert!(
        datasets
            .iter()
            .any(|d| d["spec"]["redaction"]["mode"] == "Pseudonymize"
                && !d["spec"]["redaction"]["pseudonymizationKeyRef"].is_null())
    );
    let configs: Vec<&Value> = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| kind(d).ends_with("ProviderConfig"))
        .collect();
    for t in ["OpenAI", "AzureOpenAI", "Bedrock"] {
        assert!(
            configs.iter().any(|c| c["spec"]["type"] == t),
            "no {t} config"
        );
    }
    assert!(configs.iter().any(|c| kind(c) == "ClusterProviderConfig"));
    assert!(configs.iter().any(|c| kind(c) == "ProviderConfig"));
    // Every job names a config in the examples (a ProviderConfig in its own namespace).
    for j in &jobs {
        let r = &j["spec"]["providerRef"];
        let want_kind = r["kind"].as_str().unwrap_or("ClusterProviderConfig");
        assert!(
            configs.iter().any(|c| kind(c) == want_kind
                && c["metadata"]["name"] == r["name"]
                && (want_kind == "ClusterProviderConfig"
                    || c["metadata"]["namespace"] == j["metadata"]["namespace"])),
            "{} names {want_kind} {}, not in the examples",
            name(j),
            r["name"]
        );
    }
    // Namespaced configs' credentials are opted in.
    for c in configs.iter().filter(|c| kind(c) == "ProviderConfig") {
        let secret = c["spec"]["credentials"]["secretRef"]["name"]
            .as_str()
            .unwrap();
        let ns = &c["metadata"]["namespace"];
        let obj = docs
            .iter()
            .map(|(_, o)| o)
            .find(|o| kind(o) == "Secret" && name(o) == secret && &o["metadata"]["namespace"] == ns)
            .unwrap_or_else(|| panic!("Secret {secret} of {} not in the examples", name(c)));
        assert_eq!(
            obj["metadata"]["labels"]["tunegate.dev/credentials"], "true",
            "{secret}"
        );
    }

    // Every Secret/ConfigMap a dataset reads is in the same file set, same namespace, labelled.
    for d in &datasets {
        let ns = d["metadata"]["namespace"].as_str().unwrap();
        for s in d["spec"]["sources"].as_array().unwrap() {
            for (field, want_kind) in [("secret", "Secret"), ("configMap", "ConfigMap")] {
                let Some(src) = s[field]["name"].as_str() else {
                    continue;
                };
                let obj = docs
                    .iter()
                    .map(|(_, o)| o)
                    .find(|o| {
                        kind(o) == want_kind && name(o) == src && o["metadata"]["namespace"] == ns
                    })
                    .unwrap_or_else(|| {
                        panic!(
                            "{want_kind} {ns}/{src} used by {} is not in the examples",
                            name(d)
                        )
                    });
                assert_eq!(
                    obj["metadata"]["labels"]["tunegate.dev/training-data"], "true",
                    "{ns}/{src}"
                );
            }
        }
    }
}
