//! The operations guide and the security model stay true to the code: every condition reason and
//! every metric the code can produce is documented, the security model answers its five
//! questions, and every repository path the docs name exists.

use std::path::Path;

use tunegate_testkit::rust_files;

fn root() -> &'static Path {
    tunegate_testkit::repo_root()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// String literals that look like condition reasons: CamelCase, letters only, two humps or more
/// (or a known one-word reason). Test modules are skipped.
fn camel_literals(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    for (i, part) in code.split('"').enumerate() {
        if i % 2 == 0 || part.is_empty() || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
            continue;
        }
        let mut chars = part.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_uppercase()) {
            continue;
        }
        if part.chars().any(|c| c.is_ascii_lowercase()) {
            out.push(part.to_string());
        }
    }
    out
}

/// CamelCase literals in the controller that are not condition or event reasons.
const NOT_REASONS: &[&str] = &[
    "True",
    "False",
    "Unknown",
    "Secret",
    "ConfigMap",
    "RuntimeDefault",
    "Never",
    "Opaque",
    "Normal",
    "Warning",
    "TrainingDataset",
    "FineTuneJob",
    "File",
    "Complete",
    "FailureTarget",
    "SuccessCriteriaMet",
    "Upload",
    "Submit",
    "Poll",
    "Authenticate",
    "Finish",
    "Delete",
    "Validate",
    "Worker",
    "Ready",
    "Job",
    "Model",
    "PersistentVolumeClaim",
    "Pod",
    // Inside a message ("dataset x is not Ready (Pending)"), not a reason.
    "Pending",
    // Label-selector operators and provider type names, not reasons.
    "NotIn",
    "Exists",
    "DoesNotExist",
    "AzureOpenAI",
    "Bedrock",
];

#[test]
fn every_condition_reason_in_the_code_is_in_the_operations_guide() {
    let guide = read("docs/operations.md");
    let mut files = rust_files(&root().join("src/controller"));
    files.extend(rust_files(&root().join("src/source")));
    files.extend(rust_files(&root().join("src/tenancy")));
    files.push(root().join("src/cli/worker.rs"));
    let mut missing = Vec::new();
    let mut seen = 0;
    for f in files {
        for lit in camel_literals(&std::fs::read_to_string(&f).unwrap()) {
            if NOT_REASONS.contains(&lit.as_str()) {
                continue;
            }
            seen += 1;
            if !guide.contains(&format!("`{lit}`")) {
                missing.push(format!(
                    "{lit} ({})",
                    f.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    missing.sort();
    missing.dedup();
    for r in tunegate_api::conditions::Reason::ALL {
        seen += 1;
        if !guide.contains(&format!("`{}`", r.as_str())) {
            missing.push(format!("{r} (tunegate_api::conditions::Reason)"));
        }
    }
    assert!(seen > 20, "found only {seen} reasons: is the scan broken?");
    assert!(
        missing.is_empty(),
        "reasons missing from docs/operations.md (document them, or add non-reasons to NOT_REASONS): {missing:#?}"
    );
}

#[test]
fn every_metric_is_in_the_operations_guide() {
    let guide = read("docs/operations.md");
    let code = read("src/controller/metrics.rs");
    let mut names = Vec::new();
    for chunk in code.split("registry.register(").skip(1) {
        let name = chunk.split('"').nth(1).expect("metric name literal");
        names.push(name.to_string());
    }
    assert!(names.len() >= 5, "{names:?}");
    let counters = ["reconciles", "reconcile_errors", "provider_requests"];
    for n in names {
        let exported = if counters.contains(&n.as_str()) {
            format!("tunegate_{n}_total")
        } else {
            format!("tunegate_{n}")
        };
        assert!(
            guide.contains(&format!("`{exported}`")),
            "{exported} is not documented"
        );
    }
}

#[test]
fn security_model_answers_the_five_questions() {
    let doc = read("docs/security.md");
    for heading in [
        "## 1. What leaves the cluster, and in what form?",
        "## 2. How long does it live at the provider, and how does tunegate shorten that?",
        "## 3. How do I prove deletion?",
        "## 4. Which data produced which model?",
        "## 5. Who controls the resulting model?",
    ] {
        assert!(doc.contains(heading), "security.md lacks {heading}");
    }
    for term in [
        "redactedDigest",
        "sourceDigest",
        "trainingFile",
        "expires_after",
        "DeleteWhenFinished",
        "ledger",
        "RemoteCleanedUp",
        "configMapName",
        "tunegate.dev/training-data",
    ] {
        assert!(doc.contains(term), "security.md does not mention {term}");
    }
}

#[test]
fn paths_named_in_the_docs_exist() {
    let mut checked = 0;
    for doc in [
        "README.md",
        "docs/operations.md",
        "docs/security.md",
        "docs/controller.md",
        "docs/sandbox.md",
        "docs/redaction.md",
        "hack/README.md",
    ] {
        let text = read(doc);
        for (i, part) in text.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            let looks_like_path = [
                "deploy/", "charts/", "hack/", "tests/", "src/", "crds/", "docs/", "crates/",
            ]
            .iter()
            .any(|p| part.starts_with(p))
                && !part.contains(' ')
                && !part.contains('*')
                && !part.contains('<');
            if looks_like_path {
                assert!(
                    root().join(part).exists(),
                    "{doc} names {part}, which does not exist"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 5, "only {checked} paths found in the docs");
}
