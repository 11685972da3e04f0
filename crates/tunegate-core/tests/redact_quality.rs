//! Recall per entity type and look-alike keep rate on the labelled synthetic corpus.
//! Print the table: `cargo test --release -p tunegate-core --test redact_quality -- --nocapture`

use std::collections::BTreeMap;

use tunegate_api::RedactionPolicy;
use tunegate_core::redact::corpus::generate;
use tunegate_core::redact::{RedactionReport, Redactor};

/// Every decoded string value, recursing into strings that hold JSON.
fn strings(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::String(s) => {
            out.push_str(s);
            out.push('\u{1}');
            if let Ok(inner) = serde_json::from_str::<serde_json::Value>(s)
                && (inner.is_object() || inner.is_array())
            {
                strings(&inner, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn recall_and_lookalike_keep_rate() {
    let corpus = generate(0x7E57_C0DE, 8000);
    let redactor = Redactor::new(&RedactionPolicy::default(), None).unwrap();
    let mut report = RedactionReport::default();
    // kind -> (hits, total)
    let mut recall: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut kept: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut misses = Vec::new();
    for ex in &corpus {
        let mut out = String::new();
        redactor
            .redact_line(&ex.line, &mut out, &mut report)
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).expect("output is JSON");
        let mut text = String::new();
        strings(&v, &mut text);
        for l in &ex.entities {
            let e = recall.entry(l.kind.clone()).or_default();
            e.1 += 1;
            if !text.contains(&l.value) {
                e.0 += 1;
            } else if misses.len() < 20 {
                misses.push(format!("missed {}: {:?}", l.kind, l.value));
            }
        }
        for l in &ex.lookalikes {
            let e = kept.entry(l.kind.clone()).or_default();
            e.1 += 1;
            if text.contains(&l.value) {
                e.0 += 1;
            } else if misses.len() < 40 {
                misses.push(format!("lost look-alike {}: {:?}", l.kind, l.value));
            }
        }
    }
    println!(
        "\n{:<16} {:>7} {:>7} {:>8}",
        "entity", "found", "total", "recall"
    );
    let (mut fh, mut ft) = (0, 0);
    for (k, (h, t)) in &recall {
        println!("{k:<16} {h:>7} {t:>7} {:>8.4}", *h as f64 / *t as f64);
        fh += h;
        ft += t;
    }
    println!(
        "{:<16} {fh:>7} {ft:>7} {:>8.4}",
        "ALL",
        fh as f64 / ft as f64
    );
    println!(
        "\n{:<16} {:>7} {:>7} {:>8}",
        "look-alike", "kept", "total", "rate"
    );
    let (mut kh, mut kt) = (0, 0);
    for (k, (h, t)) in &kept {
        println!("{k:<16} {h:>7} {t:>7} {:>8.4}", *h as f64 / *t as f64);
        kh += h;
        kt += t;
    }
    println!(
        "{:<16} {kh:>7} {kt:>7} {:>8.4}",
        "ALL",
        kh as f64 / kt as f64
    );
    for m in &misses {
        println!("{m}");
    }
    // Every entity type and look-alike kind the corpus is built from was measured.
    assert_eq!(recall.len(), 8, "{:?}", recall.keys());
    assert_eq!(kept.len(), 10, "{:?}", kept.keys());
    for (k, (h, t)) in &recall {
        assert!(*h as f64 / *t as f64 >= 0.99, "recall for {k} is {h}/{t}");
    }
    for (k, (h, t)) in &kept {
        assert!(
            *h as f64 / *t as f64 >= 0.99,
            "look-alike keep rate for {k} is {h}/{t}"
        );
    }
}
