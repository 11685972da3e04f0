//! Token counts of tunegate's counter (`TokenCounter::text`: the hand-written pre-tokenizer in
//! `dataset/pretok.rs` + `bpe-openai`'s BPE), `bpe-openai`'s own `count` (regex split) and
//! `tiktoken-rs`, on every line of JSONL files: each line whole, and every string value in it,
//! for o200k_base and cl100k_base; plus built-in adversarial strings (digit, whitespace and
//! line-break runs, contractions, CJK, emoji, combining marks, Unicode spaces and digits).
//! Prints mismatches (line numbers only), totals and the one-core speed of the counters.
//!
//!   cargo run --release -p tunegate-core --example token_compare -- FILE...

use std::process::ExitCode;
use std::time::Instant;

use serde_json::Value;
use tunegate_core::dataset::tokens::{Encoding, TokenCounter};

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Deterministic adversarial strings.
fn adversarial() -> Vec<String> {
    let atoms = [
        "1",
        "12",
        "123",
        "1234",
        "12345678901234567890",
        "٣",
        "²",
        "①",
        " ",
        "  ",
        "   ",
        "\t",
        "\n",
        "\r\n",
        "\n\n",
        " \n",
        "\u{a0}",
        "\u{2003}",
        "\u{2028}",
        "\u{3000}",
        "'s",
        "'S",
        "'t",
        "'re",
        "'RE",
        "'ve",
        "'m",
        "'ll",
        "'LL",
        "'d",
        "'",
        "'x",
        "'ſ",
        "ſ",
        "don",
        "DON",
        "Hello",
        "HELLO",
        "hello",
        "CamelCase",
        "aBC",
        "Ǆ",
        "ǅ",
        "é",
        "e\u{301}",
        "\u{301}",
        "\u{300}\u{301}",
        "naïve",
        "Straße",
        "заказ",
        "Заказ",
        "订单",
        "東京",
        "ありがとう",
        "한국어",
        "العربية",
        "עברית",
        "हिन्दी",
        "😊",
        "👍🏽",
        "👨‍👩‍👧",
        "🇩🇪",
        ".",
        "...",
        "!!",
        "?",
        "/",
        "//",
        "://",
        "-",
        "--",
        "_",
        "__",
        "@",
        "#",
        "$",
        "%",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        "\"",
        "\\",
        "|",
        "~",
        "`",
        "^",
        "&",
        "*",
        "+",
        "=",
        "<",
        ">",
        ",",
        ";",
        ":",
        "\u{200b}",
        "\u{feff}",
        "\u{7f}",
        "\u{1}",
        "\u{85}",
        "\u{2019}",
    ];
    let mut seed = 0x5eed_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut out: Vec<String> = atoms.iter().map(|a| a.to_string()).collect();
    for a in atoms {
        for b in atoms {
            out.push(format!("{a}{b}"));
        }
    }
    for _ in 0..20_000 {
        let mut s = String::new();
        let n = 1 + next() % 12;
        for _ in 0..n {
            let k = (next() % atoms.len() as u64) as usize;
            let rep = if next() % 8 == 0 { 1 + next() % 40 } else { 1 };
            for _ in 0..rep {
                s.push_str(atoms[k]);
            }
        }
        out.push(s);
    }
    out
}

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let encodings = [
        (
            "o200k_base",
            tiktoken_rs::o200k_base().expect("o200k"),
            bpe_openai::o200k_base(),
            TokenCounter::new(Encoding::O200kBase).expect("o200k"),
        ),
        (
            "cl100k_base",
            tiktoken_rs::cl100k_base().expect("cl100k"),
            bpe_openai::cl100k_base(),
            TokenCounter::new(Encoding::Cl100kBase).expect("cl100k"),
        ),
    ];
    let mut inputs: Vec<(String, Vec<String>)> = Vec::new();
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("token_compare: cannot read {path}");
            return ExitCode::from(2);
        };
        inputs.push((path.clone(), text.lines().map(str::to_string).collect()));
    }
    inputs.push(("adversarial".to_string(), adversarial()));
    let mut bad = 0u64;
    let mut compared = 0u64;
    for (path, lines) in &inputs {
        let mut pieces: Vec<&str> = Vec::new();
        let values: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect();
        for v in &values {
            strings(v, &mut pieces);
        }
        for (name, tk, bpe, ours) in &encodings {
            let (mut tk_total, mut ours_total, mut mismatches) = (0u64, 0u64, 0u64);
            for (k, l) in lines
                .iter()
                .chain(
                    pieces
                        .iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .iter(),
                )
                .enumerate()
            {
                let a = tk.encode_ordinary(l).len() as u64;
                let b = bpe.count(l.as_str()) as u64;
                let c = ours.text(l);
                tk_total += a;
                ours_total += c;
                compared += 1;
                if a != b || b != c {
                    mismatches += 1;
                    if mismatches <= 5 {
                        println!(
                            "  {path}:{}: {name} tiktoken {a} bpe-openai {b} tunegate {c}{}",
                            k + 1,
                            if path == "adversarial" {
                                format!(" {l:?}")
                            } else {
                                String::new()
                            }
                        );
                    }
                }
            }
            // Speed over the string values (what the pipeline counts), best of 3 each.
            let time = |f: &dyn Fn(&str) -> u64| {
                (0..3)
                    .map(|_| {
                        let t = Instant::now();
                        let n: u64 = pieces.iter().map(|s| f(s)).sum();
                        std::hint::black_box(n);
                        t.elapsed().as_secs_f64()
                    })
                    .fold(f64::MAX, f64::min)
            };
            let bytes: usize = pieces.iter().map(|s| s.len()).sum();
            let mb = bytes as f64 / 1e6;
            if bytes > 0 {
                let t_tk = time(&|s| tk.encode_ordinary(s).len() as u64);
                let t_bpe = time(&|s| bpe.count(s) as u64);
                let t_ours = time(&|s| ours.text(s));
                println!(
                    "{path} {name}: {} lines + {} strings, tokens tiktoken {tk_total} tunegate {ours_total}, \
                     {mismatches} mismatches; string values {mb:.1} MB: tiktoken {:.1} MB/s, bpe-openai {:.1} MB/s, tunegate {:.1} MB/s",
                    lines.len(),
                    pieces.len(),
                    mb / t_tk,
                    mb / t_bpe,
                    mb / t_ours,
                );
            } else {
                println!(
                    "{path} {name}: {} strings, tokens tiktoken {tk_total} tunegate {ours_total}, {mismatches} mismatches",
                    lines.len()
                );
            }
            bad += mismatches;
        }
    }
    println!(
        "compared {compared} texts (lines, string values and adversarial strings, per encoding)"
    );
    if bad > 0 {
        println!("MISMATCH: {bad}");
        return ExitCode::from(1);
    }
    println!("all counts agree");
    ExitCode::SUCCESS
}
