//! `tunegate redact INPUT [-o OUTPUT] [--policy FILE] [--format chat|completion|preference]
//! [--report FILE]`
//!
//! Streams JSONL one line at a time through the redaction engine. Exit codes (a contract other
//! tools rely on): 0 success; 2 unreadable or invalid input, policy or output (one line on stderr
//! naming the cause and the line number, never content); 3 in Reject mode when anything was found
//! (the report is still written).
//!
//! Pseudonymize mode reads its HMAC key from the environment variable
//! `TUNEGATE_PSEUDONYMIZATION_KEY` (the operator uses the Secret named in the policy instead).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::check::FormatArg;
use tunegate_api::{RedactionMode, RedactionPolicy};
use tunegate_core::dataset::jsonl::{DEFAULT_MAX_LINE_BYTES, JsonlReader};
use tunegate_core::dataset::validate_raw::validate_line_raw;
use tunegate_core::redact::{LineOutcome, RedactionReport, Redactor};

/// Environment variable holding the Pseudonymize key for the CLI.
pub const KEY_ENV: &str = "TUNEGATE_PSEUDONYMIZATION_KEY";

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: unreadable or invalid input.
pub const EXIT_INVALID: u8 = 2;
/// Exit code: Reject mode found something.
pub const EXIT_REJECTED: u8 = 3;

/// Arguments of `tunegate redact`.
#[derive(Args, Debug, Clone)]
pub struct RedactArgs {
    /// Input JSONL file, or `-` for stdin.
    pub input: String,
    /// Output file (default, or `-`: stdout). A regular file is written to a temporary file and
    /// renamed on success; a device or FIFO is written in place, never replaced.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Redaction policy (YAML or JSON; the `redaction` section of a TrainingDataset). Default: Mask
    /// with every built-in detector.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Also validate every line against this training format; format errors are invalid input.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Write the JSON report (counts only) to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// The JSON report file.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct ReportFile<'a> {
    /// Policy mode.
    pub mode: RedactionMode,
    #[serde(flatten)]
    pub report: &'a RedactionReport,
}

/// A failure that ends the run with exit code 2. The message names no content.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot read policy: {0}")]
    PolicyRead(io::Error),
    #[error("invalid policy: {0}")]
    PolicyParse(String),
    #[error("invalid policy: {0}")]
    Policy(#[from] tunegate_core::redact::PolicyError),
    #[error("Pseudonymize mode needs the key in the environment variable {KEY_ENV}")]
    MissingKey,
    #[error("cannot open input: {0}")]
    InputOpen(io::Error),
    #[error("line {line}: {cause} ({code})")]
    Line {
        line: u64,
        cause: &'static str,
        code: String,
    },
    #[error("cannot read input at line {line}: {source}")]
    Read { line: u64, source: io::Error },
    #[error("cannot write output: {0}")]
    Write(io::Error),
    #[error("cannot write report: {0}")]
    Report(io::Error),
}

const POLICY_FIELDS: [&str; 6] = [
    "mode",
    "entities",
    "customPatterns",
    "denyList",
    "allowList",
    "pseudonymizationKeyRef",
];

/// Loads a policy file (YAML; JSON is YAML too). Unknown top-level fields are errors: a misspelt
/// `entites` must not silently fall back to the defaults.
pub fn load_policy(path: &Path) -> Result<RedactionPolicy, RunError> {
    let text = std::fs::read_to_string(path).map_err(RunError::PolicyRead)?;
    parse_policy(&text)
}

/// Parses a policy document (see [`load_policy`]).
pub fn parse_policy(text: &str) -> Result<RedactionPolicy, RunError> {
    // serde_yaml errors may quote the offending YAML; the policy is configuration, not data.
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| RunError::PolicyParse(e.to_string()))?;
    if value.is_null() {
        return Ok(RedactionPolicy::default());
    }
    let map = value
        .as_mapping()
        .ok_or_else(|| RunError::PolicyParse("the policy must be a mapping".into()))?;
    for k in map.keys() {
        let known = k.as_str().is_some_and(|k| POLICY_FIELDS.contains(&k));
        if !known {
            return Err(RunError::PolicyParse(format!(
                "unknown field {}; expected one of {}",
                serde_yaml::to_string(k).unwrap_or_default().trim(),
                POLICY_FIELDS.join(", ")
            )));
        }
    }
    serde_yaml::from_value(value).map_err(|e| RunError::PolicyParse(e.to_string()))
}

/// Runs the command; returns the process exit code. Errors are printed as one line on stderr.
pub fn run(args: &RedactArgs) -> u8 {
    match execute(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tunegate redact: {e}");
            EXIT_INVALID
        }
    }
}

fn execute(args: &RedactArgs) -> Result<u8, RunError> {
    let policy = match &args.policy {
        Some(p) => load_policy(p)?,
        None => RedactionPolicy::default(),
    };
    let key = std::env::var_os(KEY_ENV).map(|k| k.into_encoded_bytes());
    if policy.mode == RedactionMode::Pseudonymize && key.as_ref().is_none_or(|k| k.is_empty()) {
        return Err(RunError::MissingKey);
    }
    // The token change is only counted for a report file that shows it.
    let redactor = Redactor::new(&policy, key.as_deref())?.with_token_report(args.report.is_some());

    let input: Box<dyn BufRead> = if args.input == "-" {
        Box::new(BufReader::with_capacity(1 << 20, io::stdin()))
    } else {
        Box::new(BufReader::with_capacity(
            1 << 20,
            File::open(&args.input).map_err(RunError::InputOpen)?,
        ))
    };

    let mut report = RedactionReport::default();
    let output = args.output.as_ref().filter(|p| p.as_os_str() != "-");
    match output {
        None => {
            let stdout = io::stdout();
            let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
            stream(input, &mut w, &redactor, args.format, &mut report)?;
            w.flush().map_err(RunError::Write)?;
        }
        Some(path) if is_special(path) => {
            // Devices, FIFOs, /dev/stdout: written in place. A rename would replace the device
            // node with a regular file (fatal for /dev/null when run as root).
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(RunError::Write)?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            stream(input, &mut w, &redactor, args.format, &mut report)?;
            w.flush().map_err(RunError::Write)?;
        }
        Some(path) => {
            // A symlink to a regular file: replace the target, not the link.
            let path = &match std::fs::symlink_metadata(path) {
                Ok(m) if m.file_type().is_symlink() => {
                    std::fs::canonicalize(path).map_err(RunError::Write)?
                }
                _ => path.clone(),
            };
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(RunError::Write)?;
            let mut w = BufWriter::with_capacity(1 << 20, tmp);
            stream(input, &mut w, &redactor, args.format, &mut report)?;
            let tmp = w
                .into_inner()
                .map_err(|e| RunError::Write(e.into_error()))?;
            tmp.as_file().sync_all().map_err(RunError::Write)?;
            tmp.persist(path).map_err(|e| RunError::Write(e.error))?;
        }
    }
    if let Some(path) = &args.report {
        let file = ReportFile {
            mode: policy.mode,
            report: &report,
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| RunError::Report(e.into()))?;
        std::fs::write(path, json).map_err(RunError::Report)?;
    }
    if policy.mode == RedactionMode::Reject && report.rejected_examples > 0 {
        eprintln!(
            "tunegate redact: Reject mode: {} example(s) contain findings",
            report.rejected_examples
        );
        return Ok(EXIT_REJECTED);
    }
    Ok(EXIT_OK)
}

/// True when `path` exists and (after following symlinks) is not a regular file.
fn is_special(path: &std::path::Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file())
}

/// The line loop, output lines LF-terminated and in input order. Lines are read into batches
/// (bounded in bytes and lines) that every core redacts in parallel; memory is bounded by the
/// batches in flight. The first bad line ends the run with its line number, after every line
/// before it has been written, as a one-line-at-a-time loop would.
pub fn stream<R: BufRead, W: Write>(
    input: R,
    out: &mut W,
    redactor: &Redactor,
    format: Option<FormatArg>,
    report: &mut RedactionReport,
) -> Result<(), RunError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    stream_with(input, out, redactor, format, report, threads)
}

/// Lines read and not yet redacted: their text back to back, and each line's number and range.
#[derive(Default)]
struct InBatch {
    text: String,
    lines: Vec<(u64, usize, usize)>,
    /// The read error that ended the input, after the lines of this batch.
    error: Option<RunError>,
}

/// A redacted batch: output lines (each with its `\n`), the report of the batch, and the first
/// error (after whose line nothing was processed).
struct OutBatch {
    text: String,
    report: RedactionReport,
    error: Option<RunError>,
}

const BATCH_BYTES: usize = 1024 * 1024;
/// Small in tests, so that a test input spans many batches.
const BATCH_LINES: usize = if cfg!(test) { 7 } else { 4096 };
/// Input bytes in flight before the reader waits (one batch always goes, however long its line).
const IN_FLIGHT_BYTES: usize = 8 * 1024 * 1024;

/// [`stream`] with a given number of worker threads (1: everything on the calling thread).
pub fn stream_with<R: BufRead, W: Write>(
    input: R,
    out: &mut W,
    redactor: &Redactor,
    format: Option<FormatArg>,
    report: &mut RedactionReport,
    threads: usize,
) -> Result<(), RunError> {
    let mut reader = JsonlReader::new(input, DEFAULT_MAX_LINE_BYTES);
    let mut ended = false;
    let produce = || -> Result<Option<InBatch>, RunError> {
        if ended {
            return Ok(None);
        }
        let mut batch = InBatch::default();
        while batch.text.len() < BATCH_BYTES && batch.lines.len() < BATCH_LINES {
            let Some(next) = reader.next_line() else {
                ended = true;
                break;
            };
            match next {
                Ok(l) => {
                    let start = batch.text.len();
                    batch.text.push_str(l.text);
                    batch.lines.push((l.number, start, batch.text.len()));
                }
                Err(e) => {
                    let line = e.line;
                    let code = e.code();
                    batch.error = Some(match e.kind {
                        tunegate_core::dataset::jsonl::ReadErrorKind::Io(source) => {
                            RunError::Read { line, source }
                        }
                        _ => RunError::Line {
                            line,
                            cause: "unreadable line",
                            code: code.to_string(),
                        },
                    });
                    ended = true;
                    break;
                }
            }
        }
        Ok((!batch.lines.is_empty() || batch.error.is_some()).then_some(batch))
    };
    let work = |(): &mut (), batch: InBatch| -> OutBatch {
        let mut done = OutBatch {
            text: String::with_capacity(batch.text.len() + batch.text.len() / 8),
            report: RedactionReport::default(),
            error: None,
        };
        for &(number, start, end) in &batch.lines {
            if let Err(e) = redact_one(redactor, format, number, &batch.text[start..end], &mut done)
            {
                done.error = Some(e);
                return done;
            }
        }
        done.error = batch.error;
        done
    };
    let consume = |done: OutBatch| -> Result<(), RunError> {
        out.write_all(done.text.as_bytes())
            .map_err(RunError::Write)?;
        report.merge(&done.report);
        match done.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    };
    tunegate_core::dataset::parallel::ordered(
        tunegate_core::dataset::parallel::Bounds::new(threads, IN_FLIGHT_BYTES),
        produce,
        |b: &InBatch| b.text.len(),
        || (),
        work,
        consume,
    )
}

fn redact_one(
    redactor: &Redactor,
    format: Option<FormatArg>,
    number: u64,
    line: &str,
    done: &mut OutBatch,
) -> Result<(), RunError> {
    if let Some(f) = format
        && let Err(code) = validate_line_raw(f.into(), line)
    {
        return Err(RunError::Line {
            line: number,
            cause: "format error",
            code: code.as_str().to_string(),
        });
    }
    let start = done.text.len();
    match redactor.redact_line(line, &mut done.text, &mut done.report) {
        Ok(LineOutcome::Unchanged | LineOutcome::Redacted) => {
            done.text.push('\n');
            Ok(())
        }
        Ok(LineOutcome::Dropped | LineOutcome::Rejected) => {
            done.text.truncate(start);
            Ok(())
        }
        Err(e) => {
            done.text.truncate(start);
            Err(RunError::Line {
                line: number,
                cause: "invalid JSON",
                code: e.code.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_files() {
        assert_eq!(parse_policy("").unwrap(), RedactionPolicy::default());
        assert_eq!(parse_policy("{}").unwrap(), RedactionPolicy::default());
        let p = parse_policy("mode: Reject\nentities: [EMAIL_ADDRESS]\n").unwrap();
        assert_eq!(p.mode, RedactionMode::Reject);
        assert!(parse_policy("entites: [EMAIL_ADDRESS]").is_err());
        assert!(parse_policy("mode: Shred").is_err());
        assert!(parse_policy("[1, 2]").is_err());
        assert!(parse_policy(r#"{"mode": "DropExample"}"#).is_ok());
    }

    fn run_stream(
        redactor: &Redactor,
        input: &str,
        threads: usize,
    ) -> (Result<(), RunError>, String, RedactionReport) {
        let mut out = Vec::new();
        let mut rep = RedactionReport::default();
        let r = stream_with(
            input.as_bytes(),
            &mut out,
            redactor,
            None,
            &mut rep,
            threads,
        );
        (r, String::from_utf8(out).unwrap(), rep)
    }

    #[test]
    fn parallel_stream_keeps_order_and_error_lines() {
        let redactor = Redactor::new(&RedactionPolicy::default(), None).unwrap();
        let lines: Vec<String> = (0..200)
            .map(|i| {
                if i % 3 == 0 {
                    format!(
                        r#"{{"messages":[{{"role":"user","content":"line {i}: jane{i}@example.com"}}]}}"#
                    )
                } else {
                    format!(r#"{{"c":"line {i}"}}"#)
                }
            })
            .collect();
        let input = lines.join("\n");
        let (r1, one, rep1) = run_stream(&redactor, &input, 1);
        let (r3, three, rep3) = run_stream(&redactor, &input, 3);
        r1.unwrap();
        r3.unwrap();
        assert_eq!(one, three);
        assert_eq!(rep1, rep3);
        assert_eq!(rep1.findings["EMAIL_ADDRESS"], 67);
        let out: Vec<&str> = one.lines().collect();
        assert_eq!(out.len(), 200);
        for (k, l) in out.iter().enumerate() {
            assert!(
                l.contains(&format!("line {k}")),
                "line {k} out of order: {l}"
            );
            assert_eq!(l.contains("[EMAIL_ADDRESS]"), k % 3 == 0);
        }
        // The first bad line ends the run with its number, after every line before it.
        for (bad_line, text, code) in [
            (150usize, "{not json", "invalid_json"),
            (61, "  ", "blank_line"),
        ] {
            let mut bad = lines.clone();
            bad[bad_line - 1] = text.to_string();
            bad[bad_line + 20] = "{also bad".to_string();
            for threads in [1, 2, 4] {
                let (r, out, _) = run_stream(&redactor, &bad.join("\n"), threads);
                match r {
                    Err(RunError::Line { line, code: c, .. }) => {
                        assert_eq!((line, c.as_str()), (bad_line as u64, code));
                    }
                    other => panic!("{other:?}"),
                }
                assert_eq!(out.lines().count(), bad_line - 1, "threads {threads}");
            }
        }
    }
}
