//! Reader + redactor: arbitrary bytes through the JSONL reader, every line through the redactor.
//! Checks: no panic; every emitted line is valid JSON; redacting it again changes nothing.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tunegate_api::{CustomPattern, DenyList, RedactionMode, RedactionPolicy};
use tunegate_core::dataset::jsonl::JsonlReader;
use tunegate_core::redact::{LineOutcome, RedactionReport, Redactor};

fn redactors() -> &'static [Redactor; 2] {
    static R: OnceLock<[Redactor; 2]> = OnceLock::new();
    R.get_or_init(|| {
        let mask = RedactionPolicy {
            custom_patterns: vec![CustomPattern {
                name: "EMPLOYEE_ID".into(),
                regex: r"EMP-\d{6}".into(),
            }],
            deny_list: vec![DenyList {
                name: "CUSTOMER".into(),
                terms: vec!["Globex".into()],
            }],
            allow_list: vec!["support@acme.example".into()],
            ..Default::default()
        };
        let pseudo = RedactionPolicy {
            mode: RedactionMode::Pseudonymize,
            ..mask.clone()
        };
        [
            Redactor::new(&mask, None).expect("mask policy"),
            Redactor::new(&pseudo, Some(b"fuzz-key")).expect("pseudo policy"),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let r = &redactors()[usize::from(sel & 1)];
    let mut reader = JsonlReader::new(rest, 1 << 16);
    let mut report = RedactionReport::default();
    while let Some(line) = reader.next_line() {
        let Ok(line) = line else { continue };
        let mut out = String::new();
        match r.redact_line(line.text, &mut out, &mut report) {
            Ok(LineOutcome::Unchanged | LineOutcome::Redacted) => {
                if serde_json::from_str::<serde_json::Value>(line.text).is_ok() {
                    assert!(
                        serde_json::from_str::<serde_json::Value>(&out).is_ok(),
                        "output is not JSON"
                    );
                }
                let mut again = String::new();
                r.redact_line(&out, &mut again, &mut report)
                    .expect("output must parse");
                assert_eq!(out, again, "not idempotent");
            }
            Ok(_) | Err(_) => {}
        }
    }
});
