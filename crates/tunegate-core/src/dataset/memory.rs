//! The pipeline's memory model: what one process running it needs, as a function of the longest
//! line it accepts. The worker Job's memory limit and its line cap are derived from each other
//! with it, so a line the cap lets through cannot get the worker OOM-killed.
//!
//! Peak memory = [`BASE_BYTES`] + [`BYTES_PER_LINE_BYTE`] x the line cap.
//!
//! - `BASE_BYTES` (128 MiB): the process, the tokenizer vocabulary (one encoding, ~40 MB), the
//!   built-in detectors, up to 64 MiB of custom-pattern automata (`redact::limits`: 32 patterns
//!   x 2 MiB), the token-count caches (8 MiB per counting thread, at most 4 threads in the
//!   operator and the worker) and the pipeline's 2 MiB batch.
//! - `BYTES_PER_LINE_BYTE` (16): everything that grows with one line is bounded by a multiple
//!   of it: the line itself (1x), a decoded string (at most 1x), candidate findings (12 bytes per
//!   2 bytes of text, `redact::limits::BYTES_PER_FINDING`), one 16-byte edit per rewritten
//!   string, and the rewritten output (at most 4x, `redact::limits::GROWTH_FACTOR`, checked as it
//!   grows). Validation and token counting read the text in place (no `serde_json::Value`,
//!   which costs up to ~70x for a line of small objects), and the tokenizer sees at most 64 KiB
//!   at a time (`tokens::CHUNK_BYTES`). Measured on adversarial shapes (one huge string, a
//!   million small objects, an e-mail address every 7 bytes, a pattern matching every other
//!   byte): at most 10x; 16 leaves a margin.
//!
//! A line over the cap is refused as `line_too_long` while it is read, without being buffered.

/// Memory of a pipeline process before any line: see the module documentation.
pub const BASE_BYTES: u64 = 128 * MIB;

/// Memory per byte of the longest accepted line: see the module documentation.
pub const BYTES_PER_LINE_BYTE: u64 = 16;

/// The smallest line cap a memory limit may imply (below this the limit is refused).
pub const MIN_LINE_BYTES: u64 = MIB;

const MIB: u64 = 1024 * 1024;

/// The worker's default memory limit (the chart's `worker.resources.limits.memory`).
pub const DEFAULT_WORKER_MEMORY: u64 = 256 * MIB;

/// The longest line a process with `memory` bytes can accept, rounded down to a whole MiB;
/// `None` when `memory` leaves less than [`MIN_LINE_BYTES`].
pub fn max_line_for_memory(memory: u64) -> Option<u64> {
    let cap = memory.checked_sub(BASE_BYTES)? / BYTES_PER_LINE_BYTE;
    let cap = cap / MIB * MIB;
    (cap >= MIN_LINE_BYTES).then_some(cap)
}

/// The memory a process needs to accept lines of `line_bytes`, rounded up to a whole MiB.
pub fn memory_for_max_line(line_bytes: u64) -> u64 {
    BASE_BYTES
        .saturating_add(line_bytes.saturating_mul(BYTES_PER_LINE_BYTE))
        .div_ceil(MIB)
        .saturating_mul(MIB)
}

/// The worker's default line cap: what [`DEFAULT_WORKER_MEMORY`] allows (8 MiB).
pub const DEFAULT_WORKER_MAX_LINE: u64 = (DEFAULT_WORKER_MEMORY - BASE_BYTES) / BYTES_PER_LINE_BYTE;

/// A worker memory limit and line cap that fit each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerMemory {
    /// The container's memory limit, in bytes.
    pub limit: u64,
    /// The longest line the worker accepts, in bytes.
    pub max_line: u64,
}

/// The limit and the cap contradict each other, or the limit is too small.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorkerMemoryError {
    #[error(
        "a worker memory limit of {limit} bytes leaves no room for lines: at least {needed} bytes are needed ({BASE_BYTES} + {BYTES_PER_LINE_BYTE} x {MIN_LINE_BYTES})"
    )]
    LimitTooSmall { limit: u64, needed: u64 },
    #[error(
        "lines of {max_line} bytes need a worker memory limit of {needed} bytes ({BASE_BYTES} + {BYTES_PER_LINE_BYTE} x the line cap), more than the {limit} given: raise the limit or lower the line cap"
    )]
    CapExceedsLimit {
        max_line: u64,
        limit: u64,
        needed: u64,
    },
}

impl WorkerMemory {
    /// Derives whichever of the two is not given from the other (both absent: the defaults).
    /// Both given must fit: `limit >= memory_for_max_line(max_line)`.
    pub fn resolve(limit: Option<u64>, max_line: Option<u64>) -> Result<Self, WorkerMemoryError> {
        let too_small = |limit| WorkerMemoryError::LimitTooSmall {
            limit,
            needed: memory_for_max_line(MIN_LINE_BYTES),
        };
        match (limit, max_line) {
            (None, None) => Ok(Self {
                limit: DEFAULT_WORKER_MEMORY,
                max_line: DEFAULT_WORKER_MAX_LINE,
            }),
            (Some(limit), None) => Ok(Self {
                limit,
                max_line: max_line_for_memory(limit).ok_or_else(|| too_small(limit))?,
            }),
            (None, Some(max_line)) => Ok(Self {
                limit: memory_for_max_line(max_line),
                max_line,
            }),
            (Some(limit), Some(max_line)) => {
                let needed = memory_for_max_line(max_line);
                if needed > limit {
                    return Err(WorkerMemoryError::CapExceedsLimit {
                        max_line,
                        limit,
                        needed,
                    });
                }
                Ok(Self { limit, max_line })
            }
        }
    }

    /// The limit as a Kubernetes quantity (`256Mi`, or plain bytes when not whole MiB).
    pub fn limit_quantity(&self) -> String {
        if self.limit.is_multiple_of(MIB) {
            format!("{}Mi", self.limit / MIB)
        } else {
            self.limit.to_string()
        }
    }
}

/// Parses a Kubernetes memory quantity (`256Mi`, `1Gi`, `512M`, `268435456`) into bytes.
pub fn parse_quantity(q: &str) -> Option<u64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, unit) = q.split_at(split);
    let mult: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        _ => return None,
    };
    if num.contains('.') {
        let v: f64 = num.parse().ok()?;
        let bytes = v * mult as f64;
        return (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64)
            .then_some(bytes as u64);
    }
    num.parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limit_and_cap_fit_each_other() {
        assert_eq!(DEFAULT_WORKER_MAX_LINE, 8 * MIB);
        assert_eq!(
            max_line_for_memory(DEFAULT_WORKER_MEMORY),
            Some(DEFAULT_WORKER_MAX_LINE)
        );
        assert_eq!(
            memory_for_max_line(DEFAULT_WORKER_MAX_LINE),
            DEFAULT_WORKER_MEMORY
        );
        assert_eq!(
            WorkerMemory::resolve(None, None).unwrap(),
            WorkerMemory {
                limit: DEFAULT_WORKER_MEMORY,
                max_line: DEFAULT_WORKER_MAX_LINE
            }
        );
    }

    #[test]
    fn either_derives_the_other_and_both_must_fit() {
        let gib = WorkerMemory::resolve(Some(1 << 30), None).unwrap();
        assert_eq!(gib.max_line, 56 * MIB);
        assert!(memory_for_max_line(gib.max_line) <= gib.limit);
        let lines = WorkerMemory::resolve(None, Some(32 * MIB)).unwrap();
        assert_eq!(lines.limit, 640 * MIB);
        assert_eq!(lines.limit_quantity(), "640Mi");
        assert!(WorkerMemory::resolve(Some(256 * MIB), Some(8 * MIB)).is_ok());
        let e = WorkerMemory::resolve(Some(256 * MIB), Some(64 * MIB)).unwrap_err();
        assert!(e.to_string().contains("raise the limit"), "{e}");
        assert!(matches!(
            WorkerMemory::resolve(Some(130 * MIB), None),
            Err(WorkerMemoryError::LimitTooSmall { .. })
        ));
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("256Mi"), Some(256 * MIB));
        assert_eq!(parse_quantity("1Gi"), Some(1 << 30));
        assert_eq!(parse_quantity("1.5Gi"), Some(3 << 29));
        assert_eq!(parse_quantity("500M"), Some(500_000_000));
        assert_eq!(parse_quantity("1048576"), Some(MIB));
        assert_eq!(parse_quantity("12Qi"), None);
        assert_eq!(parse_quantity("-1Mi"), None);
        assert_eq!(parse_quantity("99999999999999999999Gi"), None);
    }
}
