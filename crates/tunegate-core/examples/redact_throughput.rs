//! Redaction throughput on one core: `redact_throughput FILE [OUT]` prints MB/s of
//! `Redactor::redact_line` (Mask, every built-in detector) over the file's lines, best of 3, and
//! writes the redacted lines to OUT when given (to compare two builds' output byte for byte).

use std::process::ExitCode;
use std::time::Instant;

use tunegate_core::redact::{RedactionPolicy, RedactionReport, Redactor};

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: redact_throughput FILE");
        return ExitCode::from(2);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("redact_throughput: cannot read {path}");
        return ExitCode::from(2);
    };
    // REDACT_EXCLUDE=PERSON,POSTAL_ADDRESS leaves detectors out (to see what each costs).
    let mut policy = RedactionPolicy::default();
    if let Ok(ex) = std::env::var("REDACT_EXCLUDE") {
        policy
            .entities
            .retain(|e| !ex.split(',').any(|x| x == e.as_str()));
    }
    let Ok(r) = Redactor::new(&policy, None) else {
        eprintln!("redact_throughput: policy");
        return ExitCode::from(2);
    };
    let out_path = std::env::args().nth(2);
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut out = String::with_capacity(1 << 16);
    let mut report = RedactionReport::default();
    for _ in 0..3 {
        report = RedactionReport::default();
        let t = Instant::now();
        let c = thread_cpu_secs();
        for line in text.lines() {
            out.clear();
            if r.redact_line(line, &mut out, &mut report).is_err() {
                eprintln!("redact_throughput: invalid line");
                return ExitCode::from(2);
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (c, thread_cpu_secs()) {
            best_cpu = best_cpu.min(b - a);
        }
    }
    if let Some(p) = out_path {
        let mut all = String::with_capacity(text.len() + text.len() / 4);
        for line in text.lines() {
            let mut rep = RedactionReport::default();
            if r.redact_line(line, &mut all, &mut rep).is_ok() {
                all.push('\n');
            }
        }
        if std::fs::write(&p, all).is_err() {
            eprintln!("redact_throughput: cannot write {p}");
            return ExitCode::from(2);
        }
    }
    let mb = text.len() as f64 / 1e6;
    let found: u64 = report.findings.values().sum();
    println!(
        "redaction: {mb:.1} MB in {best:.3} s = {:.1} MB/s (one core, wall), {:.1} MB/s (cpu time), {} examples, {found} findings",
        mb / best,
        mb / best_cpu,
        report.examples
    );
    ExitCode::SUCCESS
}

/// CPU time of this thread (Linux: the first field of /proc/thread-self/schedstat, in ns). On a
/// shared host it is the fairer measure: waiting for a core is not counted.
fn thread_cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}
