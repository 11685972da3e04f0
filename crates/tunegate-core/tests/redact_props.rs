//! Properties: output is valid JSON, structure is preserved (same keys, types and non-string
//! values, except that a long integer with a finding becomes its mask), and redaction is
//! idempotent.

use proptest::prelude::*;
use serde_json::Value;
use tunegate_api::RedactionPolicy;
use tunegate_core::redact::corpus::{LOOKALIKE_KINDS, Rng, entity_value, lookalike};
use tunegate_core::redact::{RedactionReport, Redactor};

/// Text mixing prose, non-ASCII, escapes-worthy characters, PII and look-alikes.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z ]{0,12}",
        "[ -~]{0,8}",
        Just("é中文🙂".to_string()),
        Just("\n\t\"\\".to_string()),
        Just("{\"k\": \"".to_string()),
        (0u64..1000, 0usize..8).prop_map(|(s, t)| entity_value(
            &mut Rng::new(s),
            tunegate_core::redact::corpus::ENTITIES[t]
        )),
        (0u64..1000, 0usize..10).prop_map(|(s, k)| lookalike(&mut Rng::new(s), LOOKALIKE_KINDS[k])),
        "[0-9 .:+()-]{0,20}",
    ];
    prop::collection::vec(piece, 0..6).prop_map(|v| v.concat())
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((text(), inner.clone()), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            // A string that holds JSON (tool-call arguments).
            inner.prop_map(|v| Value::String(v.to_string())),
        ]
    })
}

/// Same shape: same keys in the same order, same types, same non-string values. The one change
/// allowed: an integer of 6+ digits that holds an entity (a card or phone number written as a
/// number) becomes its mask string.
fn same_shape(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && same_shape(va, vb))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_shape(p, q))
        }
        (Value::String(_), Value::String(_)) => true,
        (Value::Number(n), Value::String(masked)) => {
            let digits = n.to_string().trim_start_matches('-').len();
            (n.is_i64() || n.is_u64()) && digits >= 6 && masked.contains('[')
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn valid_json_same_shape_idempotent(v in value(), pretty in any::<bool>()) {
        let line = if pretty { serde_json::to_string_pretty(&v).unwrap().replace('\n', " ") } else { v.to_string() };
        // Compare against the line as the same parser reads it (float parsing is not an exact
        // round trip without serde_json's float_roundtrip feature).
        let v: Value = serde_json::from_str(&line).unwrap();
        let r = Redactor::new(&RedactionPolicy::default(), None).unwrap();
        let mut rep = RedactionReport::default();
        let mut once = String::new();
        r.redact_line(&line, &mut once, &mut rep).unwrap();
        let parsed: Value = serde_json::from_str(&once).expect("output is valid JSON");
        prop_assert!(same_shape(&v, &parsed), "shape changed: {} -> {}", line, once);
        let mut twice = String::new();
        r.redact_line(&once, &mut twice, &mut rep).unwrap();
        prop_assert_eq!(&once, &twice);
    }

    #[test]
    fn arbitrary_bytes_never_panic(s in "\\PC{0,64}") {
        let r = Redactor::new(&RedactionPolicy::default(), None).unwrap();
        let mut out = String::new();
        let mut rep = RedactionReport::default();
        let _ = r.redact_line(&s, &mut out, &mut rep);
    }
}
