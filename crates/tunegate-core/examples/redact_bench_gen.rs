//! Deterministic benchmark input for `bench/redact.sh`: chat JSONL of a given size, ASCII or with
//! non-ASCII prose, about one message in six carrying PII or a secret and some carrying look-alikes.
//!
//! `cargo run --release -p tunegate-core --example redact_bench_gen -- BYTES [ascii|nonascii] > file.jsonl`

use std::io::{BufWriter, Write};

use serde_json::json;
use tunegate_core::redact::EntityType;
use tunegate_core::redact::corpus::{LOOKALIKE_KINDS, Rng, entity_value, lookalike};

const WORDS: &[&str] = &[
    "the",
    "order",
    "account",
    "please",
    "update",
    "shipping",
    "address",
    "thanks",
    "for",
    "your",
    "help",
    "with",
    "my",
    "subscription",
    "invoice",
    "was",
    "charged",
    "twice",
    "can",
    "you",
    "check",
    "status",
    "of",
    "refund",
    "delivery",
    "arrived",
    "damaged",
    "and",
    "I",
    "would",
    "like",
    "to",
    "return",
    "it",
    "password",
    "reset",
    "link",
    "does",
    "not",
    "work",
    "on",
    "mobile",
    "app",
    "version",
    "after",
    "upgrade",
    "customer",
    "support",
    "team",
    "replied",
];
const WORDS_NON_ASCII: &[&str] = &[
    "la",
    "commande",
    "été",
    "expédiée",
    "déjà",
    "reçu",
    "Straße",
    "Bestellung",
    "übermorgen",
    "Grüße",
    "заказ",
    "доставка",
    "спасибо",
    "пожалуйста",
    "您的",
    "订单",
    "已经",
    "发货",
    "请",
    "确认",
    "地址",
    "注文",
    "ありがとう",
    "配送",
    "確認",
    "お願いします",
    "pedido",
    "envío",
    "mañana",
    "naïve",
    "café",
    "Zürich",
    "😊",
    "ok",
    "and",
    "the",
    "account",
];

fn sentence(rng: &mut Rng, words: &[&str], n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(words[rng.below(words.len())]);
    }
    s.push('.');
    s
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100 << 20);
    let non_ascii = args.get(2).is_some_and(|s| s == "nonascii");
    let words = if non_ascii { WORDS_NON_ASCII } else { WORDS };
    let mut rng = Rng::new(if non_ascii { 0xB0B } else { 0xA11CE });
    let stdout = std::io::stdout();
    let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut written = 0u64;
    let mut i = 0u64;
    while written < target {
        i += 1;
        let mut user = String::new();
        for _ in 0..rng.range(2, 6) {
            let n = rng.range(6, 18) as usize;
            user.push_str(&sentence(&mut rng, words, n));
            user.push(' ');
        }
        if rng.chance(0.17) {
            let t = *rng.pick(&EntityType::ALL);
            user.push_str("My details: ");
            user.push_str(&entity_value(&mut rng, t));
            user.push_str(". ");
        }
        if rng.chance(0.2) {
            let k = *rng.pick(LOOKALIKE_KINDS);
            user.push_str("Ref ");
            user.push_str(&lookalike(&mut rng, k));
            user.push('.');
        }
        let mut assistant = String::new();
        for _ in 0..rng.range(2, 5) {
            let n = rng.range(8, 20) as usize;
            assistant.push_str(&sentence(&mut rng, words, n));
            assistant.push(' ');
        }
        let line = json!({"messages": [
            {"role": "system", "content": "You are a helpful customer support assistant for Acme."},
            {"role": "user", "content": user.trim_end()},
            {"role": "assistant", "content": assistant.trim_end()},
        ]})
        .to_string();
        if w.write_all(line.as_bytes())
            .and_then(|_| w.write_all(b"\n"))
            .is_err()
        {
            return;
        }
        written += line.len() as u64 + 1;
    }
    let _ = w.flush();
    eprintln!("{i} examples, {written} bytes");
}
