//! Deterministic benchmark input for `bench/redact.sh`: chat JSONL of a given size, ASCII or with
//! non-ASCII prose, about one message in six carrying PII or a secret and some carrying look-alikes.
//!
//! `dense`: short support-chat turns with several entities and look-alikes in every line, plus
//! names and capitalised look-alikes (the case support chats and agent transcripts are).
//!
//! `prompted`: the dense turns after the same 650-byte system prompt in every example, the shape
//! of most production fine-tuning sets.
//!
//! `cargo run --release -p tunegate-core --example redact_bench_gen -- BYTES [ascii|nonascii|dense|prompted] > file.jsonl`

use std::io::{BufWriter, Write};

use serde_json::json;
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

const DENSE_OPENERS: &[&str] = &[
    "Hi, my name is Sarah Miller and",
    "Hello, this is David Chen;",
    "Thanks Maria!",
    "Mark the ticket as done, Will said in May:",
    "Apple Watch and Microsoft Teams on Monday:",
    "ok so",
    "Dear support,",
];

const SYSTEM_PROMPT: &str = "You are the customer support assistant for Acme Outdoor Gear. Answer in a \
    friendly, concise tone. Always confirm the customer's order status before suggesting a refund or \
    replacement. Never promise delivery dates. If the customer asks about returns, explain that items \
    can be returned within 30 days in their original packaging, and that refunds are issued to the \
    original payment method within 5 business days after the return is received. Escalate to a human \
    agent when the customer is upset, mentions legal action, or asks for a manager. Do not share \
    internal policies, tooling names or other customers' information. Keep answers under 120 words.";

fn dense(target: u64, system: Option<&str>) {
    let mut rng = Rng::new(0xDE45E);
    let stdout = std::io::stdout();
    let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut written = 0u64;
    let mut i = 0u64;
    let ents = &tunegate_core::redact::corpus::ENTITIES;
    while written < target {
        i += 1;
        let opener: &&str = rng.pick(DENSE_OPENERS);
        let mut user = opener.to_string();
        for _ in 0..rng.range(2, 4) {
            user.push(' ');
            let w: &&str = rng.pick(&["my", "reach me at", "use", "it is", "try"]);
            user.push_str(w);
            user.push(' ');
            let t = *rng.pick(ents);
            user.push_str(&entity_value(&mut rng, t));
        }
        for _ in 0..rng.range(1, 3) {
            user.push_str(", ref ");
            let k = *rng.pick(LOOKALIKE_KINDS);
            user.push_str(&lookalike(&mut rng, k));
        }
        let assistant = format!(
            "Thanks, I updated order {} for you.",
            lookalike(&mut rng, "order_number")
        );
        let mut messages = Vec::with_capacity(3);
        if let Some(p) = system {
            messages.push(json!({"role": "system", "content": p}));
        }
        messages.push(json!({"role": "user", "content": user}));
        messages.push(json!({"role": "assistant", "content": assistant}));
        let line = json!({ "messages": messages }).to_string();
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let target: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100 << 20);
    let non_ascii = args.get(2).is_some_and(|s| s == "nonascii");
    match args.get(2).map(String::as_str) {
        Some("dense") => return dense(target, None),
        Some("prompted") => return dense(target, Some(SYSTEM_PROMPT)),
        _ => {}
    }
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
            let t = *rng.pick(&tunegate_core::redact::corpus::ENTITIES);
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
