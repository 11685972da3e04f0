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
    let redactor = Redactor::new(&policy, key.as_deref())?;

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

/// The line loop: bounded memory (one line plus buffers), output lines LF-terminated.
pub fn stream<R: BufRead, W: Write>(
    input: R,
    out: &mut W,
    redactor: &Redactor,
    format: Option<FormatArg>,
    report: &mut RedactionReport,
) -> Result<(), RunError> {
    let mut reader = JsonlReader::new(input, DEFAULT_MAX_LINE_BYTES);
    let mut buf = String::new();
    while let Some(next) = reader.next_line() {
        let line = match next {
            Ok(l) => l,
            Err(e) => {
                let line = e.line;
                let code = e.code();
                return Err(match e.kind {
                    tunegate_core::dataset::jsonl::ReadErrorKind::Io(source) => {
                        RunError::Read { line, source }
                    }
                    _ => RunError::Line {
                        line,
                        cause: "unreadable line",
                        code: code.to_string(),
                    },
                });
            }
        };
        if let Some(f) = format
            && let Err(code) = validate_line_raw(f.into(), line.text)
        {
            return Err(RunError::Line {
                line: line.number,
                cause: "format error",
                code: code.as_str().to_string(),
            });
        }
        buf.clear();
        match redactor.redact_line(line.text, &mut buf, report) {
            Ok(LineOutcome::Unchanged | LineOutcome::Redacted) => {
                out.write_all(buf.as_bytes()).map_err(RunError::Write)?;
                out.write_all(b"\n").map_err(RunError::Write)?;
            }
            Ok(LineOutcome::Dropped | LineOutcome::Rejected) => {}
            Err(e) => {
                return Err(RunError::Line {
                    line: line.number,
                    cause: "invalid JSON",
                    code: e.code.to_string(),
                });
            }
        }
    }
    Ok(())
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
}
