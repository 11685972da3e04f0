//! Every JSON body the provider client sends validates against the request schemas of the
//! official OpenAPI spec (`../shared/reference/openai-openapi.yaml`, OpenAPI 3.1, so its schemas
//! are JSON Schema 2020-12).
//!
//! Two adjustments to the spec, both stricter or neutral:
//! - OpenAPI 3.0 leftovers `exclusiveMinimum: true` + `minimum: x` become 2020-12's
//!   `exclusiveMinimum: x` (the boolean form is not valid 2020-12).
//! - The request schemas we send get `additionalProperties: false`, so a misspelt or invented
//!   field fails here instead of being silently ignored by the provider.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use tunegate::provider::JobCreate;
use tunegate::provider::types::{complete_upload_body, create_upload_body};
use tunegate_api::{AutoOr, FineTuneMethod, Hyperparameters, MethodType};

const STRICT: &[&str] = &[
    "CreateFineTuningJobRequest",
    "FineTuneMethod",
    "FineTuneSupervisedMethod",
    "FineTuneDPOMethod",
    "FineTuneSupervisedHyperparameters",
    "FineTuneDPOHyperparameters",
    "CreateUploadRequest",
    "CompleteUploadRequest",
    "FileExpirationAfter",
];

fn spec() -> Value {
    let path = tunegate_testkit::reference_dir().join("openai-openapi.yaml");
    let text = std::fs::read_to_string(path).expect("read the OpenAPI spec");
    // The spec has integer bounds beyond 64 bits (seed: -9223372036854776000) that no YAML
    // value type holds; make them floats before parsing.
    let huge = regex::Regex::new(r"(?m)^(\s*(?:minimum|maximum):\s*-?\d{19,})\s*$").unwrap();
    let text = huge.replace_all(&text, "${1}.0");
    let mut spec: Value = serde_yaml::from_str(&text).expect("parse the OpenAPI spec");
    fix_exclusive_minimum(&mut spec);
    let schemas = spec["components"]["schemas"]
        .as_object_mut()
        .expect("components.schemas");
    for name in STRICT {
        let schema = schemas.get_mut(*name).expect(name);
        schema["additionalProperties"] = json!(false);
    }
    spec
}

fn fix_exclusive_minimum(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("exclusiveMinimum") == Some(&Value::Bool(true))
                && let Some(min) = map.remove("minimum")
            {
                map.insert("exclusiveMinimum".into(), min);
            }
            if map.get("exclusiveMinimum") == Some(&Value::Bool(false)) {
                map.remove("exclusiveMinimum");
            }
            map.values_mut().for_each(fix_exclusive_minimum);
        }
        Value::Array(items) => items.iter_mut().for_each(fix_exclusive_minimum),
        _ => {}
    }
}

struct Schemas {
    spec: Value,
}

impl Schemas {
    fn new() -> Self {
        Self { spec: spec() }
    }

    fn validator(&self, name: &str) -> jsonschema::Validator {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/components/schemas/{name}"),
            "components": self.spec["components"],
        });
        jsonschema::draft202012::new(&schema).expect("compile schema")
    }

    fn assert_valid(&self, name: &str, body: &Value) {
        let validator = self.validator(name);
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name} rejects {body}: {errors:#?}");
    }

    fn assert_invalid(&self, name: &str, body: &Value) {
        assert!(
            !self.validator(name).is_valid(body),
            "{name} should reject {body}"
        );
    }
}

fn job(method: FineTuneMethod) -> JobCreate {
    JobCreate {
        model: "gpt-4o-mini-2024-07-18".into(),
        training_file: "file-abc".into(),
        method,
        ..JobCreate::default()
    }
}

#[test]
fn job_create_bodies_validate() {
    let schemas = Schemas::new();
    let mut full = job(FineTuneMethod {
        type_: MethodType::Supervised,
        hyperparameters: Some(Hyperparameters {
            n_epochs: Some(AutoOr::Value(3)),
            batch_size: Some(AutoOr::Auto),
            learning_rate_multiplier: Some(AutoOr::Value(1.8)),
            beta: None,
            ..Hyperparameters::default()
        }),
        grader: None,
    });
    full.validation_file = Some("file-val".into());
    full.suffix = Some("support-bot".into());
    full.seed = Some(42);
    full.metadata = BTreeMap::from([
        (
            "tunegate-uid".into(),
            "5f1c0b7e-0000-4000-8000-000000000000".into(),
        ),
        ("tunegate-namespace".into(), "team-a".into()),
    ]);
    let dpo = job(FineTuneMethod {
        type_: MethodType::Dpo,
        hyperparameters: Some(Hyperparameters {
            n_epochs: Some(AutoOr::Auto),
            batch_size: Some(AutoOr::Value(256)),
            learning_rate_multiplier: Some(AutoOr::Auto),
            beta: Some(AutoOr::Value(2.0)),
            ..Hyperparameters::default()
        }),
        grader: None,
    });
    let dpo_auto = job(FineTuneMethod {
        type_: MethodType::Dpo,
        hyperparameters: Some(Hyperparameters {
            beta: Some(AutoOr::Auto),
            ..Hyperparameters::default()
        }),
        grader: None,
    });
    let minimal = job(FineTuneMethod::default());
    // Reinforcement with each grader shape the spec defines.
    let graders = [
        serde_json::json!({"type": "string_check", "name": "exact", "input": "{{sample.output_text}}", "reference": "{{item.label}}", "operation": "eq"}),
        serde_json::json!({"type": "text_similarity", "name": "sim", "input": "{{sample.output_text}}", "reference": "{{item.answer}}", "evaluation_metric": "fuzzy_match"}),
        serde_json::json!({"type": "python", "name": "py", "source": "def grade(sample, item):\n    return 1.0"}),
    ];
    let rft: Vec<_> = graders
        .into_iter()
        .map(|g| tunegate::provider::JobCreate {
            model: "o4-mini-2025-04-16".into(),
            ..job(FineTuneMethod {
                type_: MethodType::Reinforcement,
                hyperparameters: Some(Hyperparameters {
                    n_epochs: Some(AutoOr::Value(2)),
                    reasoning_effort: Some(tunegate_api::ReasoningEffort::Medium),
                    compute_multiplier: Some(AutoOr::Value(2.0)),
                    eval_interval: Some(AutoOr::Value(5)),
                    eval_samples: Some(AutoOr::Auto),
                    ..Hyperparameters::default()
                }),
                grader: Some(tunegate_api::Grader(g)),
            })
        })
        .collect();
    for j in rft {
        let body = j.to_body().unwrap();
        assert_eq!(body["method"]["type"], "reinforcement");
        schemas.assert_valid("CreateFineTuningJobRequest", &body);
        schemas.assert_valid(
            "ValidateGraderRequest",
            &serde_json::json!({"grader": body["method"]["reinforcement"]["grader"]}),
        );
    }
    for j in [full, dpo, dpo_auto, minimal] {
        schemas.assert_valid("CreateFineTuningJobRequest", &j.to_body().unwrap());
    }
}

#[test]
fn upload_bodies_validate() {
    let schemas = Schemas::new();
    for expires in [
        None,
        Some(Duration::from_secs(3600)),
        Some(Duration::from_secs(2_592_000)),
    ] {
        let body = create_upload_body("tunegate-uid-training.jsonl", 600_000_000, expires).unwrap();
        schemas.assert_valid("CreateUploadRequest", &body);
    }
    schemas.assert_valid(
        "CompleteUploadRequest",
        &complete_upload_body(&["part_a".into(), "part_b".into()]),
    );
    schemas.assert_valid("CompleteUploadRequest", &complete_upload_body(&[]));
}

/// The same validators reject bodies that are wrong, so the tests above can fail.
#[test]
fn validators_catch_mistakes() {
    let schemas = Schemas::new();
    let good = job(FineTuneMethod::default()).to_body().unwrap();
    let mut misspelt = good.clone();
    misspelt["trainingFile"] = json!("file-x");
    schemas.assert_invalid("CreateFineTuningJobRequest", &misspelt);
    let mut no_model = good.clone();
    no_model.as_object_mut().unwrap().remove("model");
    schemas.assert_invalid("CreateFineTuningJobRequest", &no_model);
    let mut bad_hp = good.clone();
    bad_hp["method"] =
        json!({"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 0}}});
    schemas.assert_invalid("CreateFineTuningJobRequest", &bad_hp);
    let mut bad_lr = good.clone();
    bad_lr["method"] = json!({"type": "supervised", "supervised": {"hyperparameters": {"learning_rate_multiplier": 0}}});
    schemas.assert_invalid("CreateFineTuningJobRequest", &bad_lr);
    let mut bad_type = good;
    bad_type["method"] = json!({"type": "Supervised"});
    schemas.assert_invalid("CreateFineTuningJobRequest", &bad_type);
    schemas.assert_invalid(
        "CreateUploadRequest",
        &json!({"filename": "a", "purpose": "fine-tune", "bytes": 1}),
    );
    schemas.assert_invalid(
        "CreateUploadRequest",
        &json!({"filename": "a", "purpose": "fine-tune", "bytes": 1, "mime_type": "text/jsonl",
                "expires_after": {"anchor": "created_at", "seconds": 60}}),
    );
    schemas.assert_invalid("CompleteUploadRequest", &json!({"part_ids": "p1"}));
}
