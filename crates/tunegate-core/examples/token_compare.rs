//! Token counts of `bpe-openai` against `tiktoken-rs`, on every line of JSONL files: each line
//! whole, and every string value in it, for o200k_base and cl100k_base. Prints mismatches (line
//! numbers only), totals and the one-core speed of both counters.
//!
//!   cargo run --release -p tunegate-core --example token_compare -- FILE...

use std::process::ExitCode;
use std::time::Instant;

use serde_json::Value;

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: token_compare FILE...");
        return ExitCode::from(2);
    }
    let encodings = [
        (
            "o200k_base",
            tiktoken_rs::o200k_base().expect("o200k"),
            bpe_openai::o200k_base(),
        ),
        (
            "cl100k_base",
            tiktoken_rs::cl100k_base().expect("cl100k"),
            bpe_openai::cl100k_base(),
        ),
    ];
    let mut bad = 0u64;
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("token_compare: cannot read {path}");
            return ExitCode::from(2);
        };
        let lines: Vec<&str> = text.lines().collect();
        let mut pieces: Vec<&str> = Vec::new();
        let values: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect();
        for v in &values {
            strings(v, &mut pieces);
        }
        for (name, tk, bpe) in &encodings {
            let (mut tk_total, mut bpe_total, mut mismatches) = (0u64, 0u64, 0u64);
            for (k, l) in lines.iter().enumerate() {
                let a = tk.encode_ordinary(l).len();
                let b = bpe.count(*l);
                tk_total += a as u64;
                bpe_total += b as u64;
                if a != b {
                    mismatches += 1;
                    if mismatches <= 5 {
                        println!(
                            "  {path}:{}: {name} line tiktoken {a} bpe-openai {b}",
                            k + 1
                        );
                    }
                }
            }
            for s in &pieces {
                if tk.encode_ordinary(s).len() != bpe.count(*s) {
                    mismatches += 1;
                }
            }
            // Speed over the string values (what the pipeline counts), best of 3 each.
            let time = |f: &dyn Fn(&str) -> usize| {
                (0..3)
                    .map(|_| {
                        let t = Instant::now();
                        let n: usize = pieces.iter().map(|s| f(s)).sum();
                        std::hint::black_box(n);
                        t.elapsed().as_secs_f64()
                    })
                    .fold(f64::MAX, f64::min)
            };
            let bytes: usize = pieces.iter().map(|s| s.len()).sum();
            let t_tk = time(&|s| tk.encode_ordinary(s).len());
            let t_bpe = time(&|s| bpe.count(s));
            println!(
                "{path} {name}: {} lines, {} strings, tokens tiktoken {tk_total} bpe-openai {bpe_total}, \
                 {mismatches} mismatches; string values {:.1} MB: tiktoken {:.1} MB/s, bpe-openai {:.1} MB/s",
                lines.len(),
                pieces.len(),
                bytes as f64 / 1e6,
                bytes as f64 / 1e6 / t_tk,
                bytes as f64 / 1e6 / t_bpe,
            );
            bad += mismatches;
        }
    }
    if bad > 0 {
        println!("MISMATCH: {bad}");
        return ExitCode::from(1);
    }
    println!("all counts agree");
    ExitCode::SUCCESS
}
