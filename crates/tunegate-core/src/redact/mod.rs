//! The redaction engine: removes personal data and secrets from JSONL training data, JSON-aware,
//! driven by a [`RedactionPolicy`].
//!
//! ```
//! use tunegate_core::redact::RedactionPolicy;
//! use tunegate_core::redact::{LineOutcome, RedactionReport, Redactor};
//!
//! let redactor = Redactor::new(&RedactionPolicy::default(), None).unwrap();
//! let mut out = String::new();
//! let mut report = RedactionReport::default();
//! let line = r#"{"messages":[{"role":"user","content":"mail me: jane\u0040example.com"}]}"#;
//! let outcome = redactor.redact_line(line, &mut out, &mut report).unwrap();
//! assert_eq!(outcome, LineOutcome::Redacted);
//! assert_eq!(out, r#"{"messages":[{"role":"user","content":"mail me: [EMAIL_ADDRESS]"}]}"#);
//! assert_eq!(report.findings["EMAIL_ADDRESS"], 1);
//! assert_eq!(report.findings_by_role["user"]["EMAIL_ADDRESS"], 1);
//! ```
//!
//! Guarantees:
//! - Only decoded string values are examined (escapes hide nothing), including strings that hold
//!   JSON themselves (tool-call `arguments`), which are redacted recursively and re-encoded.
//!   Keys, `role` values, numbers, booleans, nulls, key order and the bytes of untouched strings
//!   are copied verbatim.
//! - Idempotent: mask tokens of this policy are never findings, and each changed string is
//!   re-scanned until nothing is found, so redacting the output changes nothing.
//! - Deterministic for a given policy and key; one output line per input line, except dropped or
//!   rejected examples.
//! - Errors carry a code and a byte offset, never content.

mod codes;
mod context;
mod echo;
mod engine;
mod ids;
pub(crate) mod json;
mod keyed;
mod manifest;
mod names;
mod obfuscated;
mod pairs;
mod random_token;
mod report;
mod secrets;
mod structured;
mod swar;
mod validate;
mod walk;

pub mod corpus;

/// Byte offset of the first repeated key in any object of a valid JSON document (keys compared
/// decoded), or `None`. Parsers disagree on which copy wins, so a duplicate is refused, not chosen.
pub fn first_duplicate_key(text: &str) -> Option<usize> {
    json::first_duplicate_key(text).ok().flatten()
}

use std::cell::RefCell;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use report::RedactionReport;
pub use tunegate_api::{EntityType, ImagePolicy, RedactionMode, RedactionPolicy};

use engine::Engine;

pub(crate) const ENT_EMAIL: u16 = 0;
pub(crate) const ENT_PHONE: u16 = 1;
pub(crate) const ENT_CARD: u16 = 2;
pub(crate) const ENT_SSN: u16 = 3;
pub(crate) const ENT_IBAN: u16 = 4;
pub(crate) const ENT_IP: u16 = 5;
pub(crate) const ENT_MAC: u16 = 6;
pub(crate) const ENT_SECRET: u16 = 7;
pub(crate) const ENT_UK_NINO: u16 = 8;
pub(crate) const ENT_UK_NHS: u16 = 9;
pub(crate) const ENT_DE_TAX_ID: u16 = 10;
pub(crate) const ENT_FR_NIR: u16 = 11;
pub(crate) const ENT_NL_BSN: u16 = 12;
pub(crate) const ENT_ES_NIF: u16 = 13;
pub(crate) const ENT_IT_FISCAL_CODE: u16 = 14;
pub(crate) const ENT_PL_PESEL: u16 = 15;
pub(crate) const ENT_IN_AADHAAR: u16 = 16;
pub(crate) const ENT_CA_SIN: u16 = 17;
pub(crate) const ENT_AU_TFN: u16 = 18;
pub(crate) const ENT_US_ITIN: u16 = 19;
pub(crate) const ENT_US_BANK_ROUTING: u16 = 20;
pub(crate) const ENT_PASSPORT: u16 = 21;
pub(crate) const ENT_DRIVER_LICENSE: u16 = 22;
pub(crate) const ENT_DATE_OF_BIRTH: u16 = 23;
pub(crate) const ENT_CRYPTO_WALLET: u16 = 24;
pub(crate) const ENT_PERSON: u16 = 25;
pub(crate) const ENT_POSTAL_ADDRESS: u16 = 26;
pub(crate) const ENT_FI_HETU: u16 = 27;
pub(crate) const ENT_SE_PERSONNUMMER: u16 = 28;
pub(crate) const ENT_TR_NATIONAL_ID: u16 = 29;
pub(crate) const ENT_KR_RRN: u16 = 30;
pub(crate) const ENT_US_NPI: u16 = 31;
pub(crate) const ENT_US_MBI: u16 = 32;

/// One detected span in a decoded string (byte offsets) and its entity index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub start: u32,
    pub end: u32,
    pub entity: u16,
}

impl Finding {
    pub(crate) fn new(start: usize, end: usize, entity: u16) -> Self {
        Self {
            start: start as u32,
            end: end as u32,
            entity,
        }
    }
}

/// A policy that cannot be compiled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// A custom pattern is not a valid regular expression (or is too large).
    #[error("custom pattern {name}: invalid regular expression: {reason}")]
    InvalidPattern { name: String, reason: String },
    /// A custom pattern matches the empty string, which would match everywhere.
    #[error("custom pattern {name}: the regular expression matches the empty string")]
    EmptyMatch { name: String },
    /// A deny-list has an empty term.
    #[error("deny list {name}: empty term")]
    EmptyDenyTerm { name: String },
    /// An entity name is not upper snake case.
    #[error("invalid entity name {0:?}: use upper snake case such as EMPLOYEE_ID")]
    InvalidName(String),
    /// Pseudonymize mode without a key.
    #[error("Pseudonymize mode needs a non-empty pseudonymization key")]
    MissingKey,
    /// Too many custom entities.
    #[error("too many custom patterns and deny lists")]
    TooMany,
    /// A policy limit is exceeded; `limit` names it (e.g. `customPatterns`, `regexCompiledSize`).
    #[error("redaction policy exceeds the limit {limit} (at most {max})")]
    LimitExceeded { limit: &'static str, max: usize },
    /// A matcher could not be built.
    #[error("cannot build matcher: {0}")]
    Matcher(String),
}

/// A line that is not valid JSON. Carries a stable code and a byte offset, never content.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
#[error("{code} at byte {offset}")]
pub struct LineError {
    /// `invalid_json` or `nesting_too_deep`.
    pub code: &'static str,
    /// Byte offset in the line (of the innermost string, for errors inside nested JSON).
    pub offset: usize,
}

impl LineError {
    pub(crate) fn syntax(offset: usize) -> Self {
        Self {
            code: "invalid_json",
            offset,
        }
    }
    fn too_deep(offset: usize) -> Self {
        Self {
            code: "nesting_too_deep",
            offset,
        }
    }
}

/// What happened to one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome {
    /// Nothing found; the line was appended unchanged.
    Unchanged,
    /// Findings were masked or pseudonymized; the rewritten line was appended.
    Redacted,
    /// DropExample mode found something; nothing was appended.
    Dropped,
    /// Reject mode found something; nothing was appended and the dataset must fail.
    Rejected,
}

/// Compile-time and per-line limits of a policy. The CRD schema carries the count limits too, so
/// the API server refuses most oversized policies before they reach the operator.
pub mod limits {
    /// Custom patterns per policy.
    pub const CUSTOM_PATTERNS: usize = 32;
    /// Deny lists per policy.
    pub const DENY_LISTS: usize = 64;
    /// Deny-list terms over all lists, and allow-list entries.
    pub const TERMS: usize = 20_000;
    /// Bytes of one term.
    pub const TERM_BYTES: usize = 256;
    /// Bytes of all custom regular expressions together.
    pub const REGEX_BYTES: usize = 64 * 1024;
    /// Compiled size of one regular expression and of its lazy DFA cache (regex's size_limit and
    /// dfa_size_limit), in bytes. With `CUSTOM_PATTERNS` this bounds all custom automata together
    /// at 32 x 2 MiB = 64 MiB, inside the worker's memory limit.
    pub const REGEX_COMPILED: usize = 1 << 20;
    /// A redacted line may be at most this many times its input length (plus `GROWTH_SLACK`): a
    /// one-letter pattern with a long entity name must not blow a line up 65 times.
    pub const GROWTH_FACTOR: usize = 4;
    pub const GROWTH_SLACK: usize = 4096;
    /// A string may have at most one candidate finding per this many bytes (plus 64); more is
    /// `redaction_too_many_findings` (see `engine::max_findings`).
    pub const BYTES_PER_FINDING: usize = 2;
    /// Bytes of token-count cache entries per thread.
    pub const TOKEN_CACHE_BYTES: usize = 1 << 20;
}

/// Scratch capacity (bytes) kept between strings; larger buffers are freed after use.
const SCRATCH_KEEP: usize = 1 << 20;

/// Re-scans of a changed string. Real text converges in one or two; only adversarial chains of
/// findings that each unlock the next need more.
const MAX_FIXPOINT_ROUNDS: usize = 32;

const ROLES: [&str; 7] = [
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
    "other",
];
const NO_ROLE: u8 = u8::MAX;
const ROLE_ASSISTANT: u8 = 3;
const _: () = assert!(matches!(
    ROLES[ROLE_ASSISTANT as usize].as_bytes(),
    b"assistant"
));

#[derive(Clone, Copy)]
struct Frame {
    parent: u32,
    role: u8,
}

#[derive(Default)]
struct Scratch {
    frames: Vec<Frame>,
    hits: Vec<(u16, u32)>,
    /// `hits` as (role, entity) pairs, sorted to count each pair once (`count_hits`).
    hit_pairs: Vec<(u8, u16)>,
    findings: Vec<Finding>,
    dec: String,
    red_a: String,
    red_b: String,
    edits: Vec<Edit>,
    repl: String,
    tokens_removed: u64,
    tokens_added: u64,
    /// The next value sits under an object key that names a secret or a personal-data type.
    pending_key: Option<KeyCtx>,
    /// The type of value the last chat message asked for, which the next one answers.
    asked: Option<u16>,
    /// Image content parts seen in this line, and how deep inside one the walk is.
    images: u32,
    in_image: u32,
    /// The next value is the `data`/`stringData` map of a Kubernetes Secret: every member of
    /// it is a secret, whatever its key.
    secret_map: bool,
    key_norm: Vec<u8>,
    /// Token counts of recent post-redaction windows: in Mask mode they repeat (`[EMAIL_ADDRESS].`).
    token_cache: std::collections::HashMap<String, u64>,
    token_cache_bytes: usize,
    /// Longest output this line may grow to (`GROWTH_FACTOR`); set per line. Rewrites stop as
    /// soon as they pass it, so an exploding policy costs at most this much memory, not the
    /// whole blow-up before a check at the end.
    out_cap: usize,
    /// A rewrite passed `out_cap`: the line fails with `redaction_output_too_large`.
    too_large: bool,
    /// A string had more findings than `engine::max_findings`: `redaction_too_many_findings`.
    too_many: bool,
    /// `engine::max_findings` of the line: no scan of this line (not even of a rewrite, which
    /// can be longer than the line) may collect more candidates.
    findings_cap: usize,
    /// Secret values masked in this line's first pass, and the seeds of a second pass that
    /// masks their other copies (see `echo`).
    seeds_found: echo::Seeds,
    seeds: echo::Seeds,
    clean: CleanCache,
}

/// Strings a redactor found nothing in, remembered per thread once seen twice: a dataset repeats
/// its system prompt and instructions in every example, and scanning them again would find
/// nothing again. Only plain text outside a keyed value is remembered (the outcome then depends
/// on the text and the redactor alone); a hit is confirmed by comparing the whole text.
/// Bounded like the token-count cache: it forgets everything past its limits.
#[derive(Default)]
struct CleanCache {
    /// `Redactor::id` of the entries: another redactor on this thread starts afresh.
    owner: u64,
    /// Keys of clean strings seen once.
    seen: std::collections::HashSet<u64, KeyIsHash>,
    clean: std::collections::HashMap<u64, Box<str>, KeyIsHash>,
    bytes: usize,
}

/// The keys are hashes already.
type KeyIsHash = std::hash::BuildHasherDefault<IdentityHasher>;

#[derive(Default)]
struct IdentityHasher(u64);

impl std::hash::Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

// A string the lone-identifier rule would mask is never short-cut as clean.
const _: () = assert!(context::LONE_MAX_LEN < CleanCache::MIN_LEN);

impl CleanCache {
    /// Shorter strings cost less to scan than to remember; longer ones are rarely repeated.
    const MIN_LEN: usize = 32;
    const MAX_LEN: usize = 16 * 1024;
    const MAX_BYTES: usize = 1 << 20;
    const MAX_SEEN: usize = 4096;

    /// The key of `text`, or None when it is not cacheable: a multiplicative hash of the length
    /// and of the first and last 64 bytes, a few dozen instructions per string whatever its
    /// length. Collisions only cost a miss: `clean` holds the text, compared in full.
    fn key(text: &str) -> Option<u64> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&text.len()) {
            return None;
        }
        let b = text.as_bytes();
        let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
        let mut h = mix(0, b.len() as u64);
        // Eight bytes at a time from both ends (which overlap in strings under 128 bytes).
        for part in [&b[..b.len().min(64)], &b[b.len().saturating_sub(64)..]] {
            let mut words = part.chunks_exact(8);
            for c in &mut words {
                let mut w = [0u8; 8];
                w.copy_from_slice(c);
                h = mix(h, u64::from_le_bytes(w));
            }
            for &x in words.remainder() {
                h = mix(h, u64::from(x));
            }
        }
        Some(h)
    }

    fn holds(&mut self, owner: u64, key: u64, text: &str) -> bool {
        if self.owner != owner {
            self.clear(owner);
            return false;
        }
        self.clean.get(&key).is_some_and(|t| **t == *text)
    }

    /// Records that `text` (with `key`) holds nothing; stores it the second time.
    fn record(&mut self, key: u64, text: &str) {
        if self.seen.insert(key) {
            if self.seen.len() > Self::MAX_SEEN {
                self.seen.clear();
            }
            return;
        }
        if self.bytes.saturating_add(text.len()) > Self::MAX_BYTES {
            self.clean.clear();
            self.bytes = 0;
        }
        if let Some(old) = self.clean.insert(key, text.into()) {
            self.bytes = self.bytes.saturating_sub(old.len());
        }
        self.bytes = self.bytes.saturating_add(text.len());
    }

    fn clear(&mut self, owner: u64) {
        self.owner = owner;
        self.seen.clear();
        self.clean.clear();
        self.bytes = 0;
    }
}

/// Identifies a `Redactor` for the per-thread `CleanCache` (0 is never used).
static NEXT_REDACTOR_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A compiled redaction policy. Build it once per dataset; it is `Send + Sync` and can be shared
/// across threads (per-call buffers live in thread-local scratch space).
pub struct Redactor {
    engine: Engine,
    mode: RedactionMode,
    images: ImagePolicy,
    hmac: Option<Hmac<Sha256>>,
    /// Count `tokens_removed` / `tokens_added` (off unless a caller reads them: see
    /// [`Redactor::with_token_report`]).
    token_report: bool,
    /// Unique per redactor: the key of its entries in the per-thread `CleanCache`.
    id: u64,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("mode", &self.mode)
            .field("entities", &self.engine.names)
            .finish()
    }
}

impl Redactor {
    /// What the normalised object key `norm` says about the value under it. `json_depth` is 0 in
    /// the line itself and 1+ inside strings that hold JSON (tool-call arguments).
    #[inline]
    fn key_ctx(&self, norm: &[u8], json_depth: u32) -> Option<KeyCtx> {
        if self.engine.secrets_on() && secrets::is_secret_name(norm) {
            return Some(KeyCtx::Secret { generic: false });
        }
        if self.engine.secrets_on() && secrets::is_hint_name(norm) {
            return Some(KeyCtx::Secret { generic: true });
        }
        // In the line itself `id` and `tool_call_id` are generated identifiers that link a tool
        // call to its result: random by design, so the random-token rule does not judge them.
        if json_depth == 0 && matches!(norm, b"id" | b"toolcallid") {
            return Some(KeyCtx::GeneratedId);
        }
        // In the line itself `name` is a chat message's participant name or a function's name,
        // which the provider requires to match `[A-Za-z0-9_-]{1,64}`: a mask would break it.
        if json_depth == 0 && norm == b"name" {
            return None;
        }
        if json_depth == 0 && matches!(norm, b"content" | b"text" | b"prompt" | b"completion") {
            return Some(KeyCtx::Message);
        }
        keyed::key_entity(norm)
            .filter(|&ent| self.engine.entity_on(ent))
            .map(|ent| KeyCtx::Personal {
                ent,
                generic: keyed::generic_person_key(norm),
            })
    }

    /// The key a pair's name member gives its value member: the name's string at `p`, read as a
    /// key name, when that names a credential.
    fn pair_name_ctx(&self, b: &[u8], p: usize, norm: &mut Vec<u8>) -> Option<KeyCtx> {
        if b.get(p) != Some(&b'"') {
            return None;
        }
        let (end, escaped) = json::string_end(b, p).ok()?;
        // A name of up to 64 bytes between its quotes; longer strings name no setting.
        if escaped || end - p > 66 {
            return None;
        }
        let raw = &b[p + 1..end - 1];
        secrets::normalise_name(raw, norm);
        if self.engine.secrets_on() && secrets::pass_part_name(raw) {
            return Some(KeyCtx::Secret { generic: false });
        }
        self.key_ctx(norm, 1)
            .filter(|k| matches!(k, KeyCtx::Secret { .. }))
    }

    /// Compiles `policy`. `pseudonym_key` is required (non-empty) in Pseudonymize mode and ignored
    /// otherwise.
    pub fn new(
        policy: &RedactionPolicy,
        pseudonym_key: Option<&[u8]>,
    ) -> Result<Redactor, PolicyError> {
        let engine = Engine::new(policy)?;
        let hmac = match (policy.mode, pseudonym_key) {
            (RedactionMode::Pseudonymize, Some(k)) if !k.is_empty() => {
                Some(Hmac::<Sha256>::new_from_slice(k).map_err(|_| PolicyError::MissingKey)?)
            }
            (RedactionMode::Pseudonymize, _) => return Err(PolicyError::MissingKey),
            _ => None,
        };
        Ok(Redactor {
            engine,
            mode: policy.mode,
            images: policy.images,
            hmac,
            token_report: false,
            id: NEXT_REDACTOR_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// Also count the token change of every rewrite into the report's `tokens_removed` and
    /// `tokens_added` (o200k_base, over the words around each change). Off by default: the
    /// dataset pipeline and the worker never read these counts, and counting is the costliest
    /// part of redacting dense data. `tunegate redact --report` turns it on.
    pub fn with_token_report(mut self, on: bool) -> Self {
        self.token_report = on;
        self
    }

    /// The policy mode.
    pub fn mode(&self) -> RedactionMode {
        self.mode
    }

    /// Redacts one JSONL line (without its terminator). Appends the output line (without
    /// terminator) to `out` unless the example is dropped or rejected, and adds counts to `report`.
    /// On error nothing is appended and `report` is untouched.
    pub fn redact_line(
        &self,
        line: &str,
        out: &mut String,
        report: &mut RedactionReport,
    ) -> Result<LineOutcome, LineError> {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut st) => self.redact_with(line, out, report, &mut st),
            Err(_) => self.redact_with(line, out, report, &mut Scratch::default()),
        })
    }

    /// Resets the per-line state of `st` for `line`.
    fn begin_line(line: &str, st: &mut Scratch) {
        st.frames.clear();
        st.frames.push(Frame {
            parent: 0,
            role: NO_ROLE,
        });
        st.hits.clear();
        st.tokens_removed = 0;
        st.tokens_added = 0;
        st.images = 0;
        st.in_image = 0;
        st.pending_key = None;
        st.asked = None;
        st.too_large = false;
        st.too_many = false;
        st.findings_cap = engine::max_findings(line.len());
        st.out_cap = line
            .len()
            .saturating_mul(limits::GROWTH_FACTOR)
            .saturating_add(limits::GROWTH_SLACK);
    }

    fn redact_with(
        &self,
        line: &str,
        out: &mut String,
        report: &mut RedactionReport,
        st: &mut Scratch,
    ) -> Result<LineOutcome, LineError> {
        st.seeds.clear();
        st.seeds_found.clear();
        Self::begin_line(line, st);
        let mut edits = std::mem::take(&mut st.edits);
        let mut repl = std::mem::take(&mut st.repl);
        edits.clear();
        repl.clear();
        let mut res = self.document(line, 0, 0, st, &mut edits, &mut repl);
        // A secret masked once may have copies elsewhere in the line that nothing around them
        // marks: run the line again, masking every copy of the values found.
        if res.is_ok()
            && self.rewriting()
            && !st.seeds_found.is_empty()
            && echo::may_have_copies(line, &st.seeds_found)
        {
            std::mem::swap(&mut st.seeds, &mut st.seeds_found);
            st.seeds_found.clear();
            Self::begin_line(line, st);
            edits.clear();
            repl.clear();
            res = self.document(line, 0, 0, st, &mut edits, &mut repl);
        }
        st.seeds.clear();
        let outcome = match res {
            Err(e) => Err(e),
            Ok(()) if st.images > 0 && self.images == ImagePolicy::Reject => Err(LineError {
                code: "image_content_rejected",
                offset: 0,
            }),
            Ok(()) if st.images > 0 && self.images == ImagePolicy::Drop => {
                report.examples += 1;
                report.dropped_examples += 1;
                Ok(LineOutcome::Dropped)
            }
            Ok(()) => {
                report.examples += 1;
                if st.hits.is_empty() {
                    out.push_str(line);
                    Ok(LineOutcome::Unchanged)
                } else {
                    report.examples_with_findings += 1;
                    self.count_hits(st, report);
                    match self.mode {
                        RedactionMode::Mask | RedactionMode::Pseudonymize => {
                            report.redacted_examples += 1;
                            report.tokens_removed += st.tokens_removed;
                            let grown = line.len() - edits_removed(&edits) + repl.len();
                            if grown
                                > line
                                    .len()
                                    .saturating_mul(limits::GROWTH_FACTOR)
                                    .saturating_add(limits::GROWTH_SLACK)
                            {
                                Err(LineError {
                                    code: "redaction_output_too_large",
                                    offset: 0,
                                })
                            } else {
                                report.tokens_added += st.tokens_added;
                                apply_edits(line, &edits, &repl, out);
                                Ok(LineOutcome::Redacted)
                            }
                        }
                        RedactionMode::DropExample => {
                            report.dropped_examples += 1;
                            Ok(LineOutcome::Dropped)
                        }
                        RedactionMode::Reject => {
                            report.rejected_examples += 1;
                            Ok(LineOutcome::Rejected)
                        }
                    }
                }
            }
        };
        st.edits = edits;
        st.repl = repl;
        outcome
    }

    fn count_hits(&self, st: &mut Scratch, report: &mut RedactionReport) {
        // Each map update compares entity names as strings: count equal (entity, role) pairs of
        // the line first and update each map once per pair.
        let mut pairs = std::mem::take(&mut st.hit_pairs);
        pairs.clear();
        for &(ent, frame) in &st.hits {
            pairs.push((role_of(&st.frames, frame), ent));
        }
        // By role, then entity: each role's map is looked up once.
        pairs.sort_unstable();
        let mut k = 0;
        while let Some(&(role, _)) = pairs.get(k) {
            let len = pairs[k..].iter().take_while(|p| p.0 == role).count();
            let group = &pairs[k..k + len];
            k += len;
            let mut by_role = match ROLES.get(role as usize) {
                Some(r) => {
                    if !report.findings_by_role.contains_key(*r) {
                        report
                            .findings_by_role
                            .insert(r.to_string(), std::collections::BTreeMap::new());
                    }
                    report.findings_by_role.get_mut(*r)
                }
                None => None,
            };
            let mut j = 0;
            while let Some(&(_, ent)) = group.get(j) {
                let n = group[j..].iter().take_while(|p| p.1 == ent).count();
                j += n;
                let n = n as u64;
                let name = &self.engine.names[ent as usize];
                RedactionReport::bump(&mut report.findings, name, n);
                if let Some(m) = by_role.as_mut() {
                    RedactionReport::bump(m, name, n);
                }
            }
        }
        // Kept for the next line unless a huge line grew it.
        if pairs.capacity() <= SCRATCH_KEEP / 4 {
            st.hit_pairs = pairs;
        }
    }

    fn rewriting(&self) -> bool {
        matches!(self.mode, RedactionMode::Mask | RedactionMode::Pseudonymize)
    }

    /// A whole JSON document in `text`; records edits (byte ranges of `text` and their
    /// replacements in `repl`).
    fn document(
        &self,
        text: &str,
        json_depth: u32,
        frame: u32,
        st: &mut Scratch,
        edits: &mut Vec<Edit>,
        repl: &mut String,
    ) -> Result<(), LineError> {
        let b = text.as_bytes();
        let p = json::skip_ws(b, 0);
        let p = self.value(text, p, frame, json_depth, 0, st, edits, repl)?;
        let p = json::skip_ws(b, p);
        if p != b.len() {
            return Err(LineError::syntax(p));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn value(
        &self,
        text: &str,
        p: usize,
        frame: u32,
        json_depth: u32,
        depth: u32,
        st: &mut Scratch,
        edits: &mut Vec<Edit>,
        repl: &mut String,
    ) -> Result<usize, LineError> {
        let b = text.as_bytes();
        let key = st.pending_key.take();
        let secret_map = std::mem::take(&mut st.secret_map);
        if depth > json::MAX_DEPTH {
            return Err(LineError::too_deep(p));
        }
        match b.get(p) {
            Some(b'{') => {
                st.frames.push(Frame {
                    parent: frame,
                    role: NO_ROLE,
                });
                let me = (st.frames.len() - 1) as u32;
                // An object without findings needs no frame once it is closed (frames are for
                // attributing findings to roles): dropping it keeps the stack as deep as the JSON,
                // not as long as the number of objects in the line.
                let hits_before = st.hits.len();
                let close = |st: &mut Scratch| {
                    if st.frames.len() == me as usize + 1 && st.hits.len() == hits_before {
                        st.frames.pop();
                    }
                };
                let mut q = json::skip_ws(b, p + 1);
                if b.get(q) == Some(&b'}') {
                    close(st);
                    return Ok(q + 1);
                }
                // A credential named by an earlier member (`"name": "DB_PASSWORD"`,
                // `"ParameterKey": "DbPassword"`): the value member of the pair is keyed by it.
                let mut pair_ctx: Option<KeyCtx> = None;
                // Whether this object is a Kubernetes Secret: looked up once, at its first
                // `data` member (every such member asking again would make a line of them
                // quadratic).
                let mut k8s_secret: Option<bool> = None;
                loop {
                    if b.get(q) != Some(&b'"') {
                        return Err(LineError::syntax(q));
                    }
                    let q0 = q;
                    let (kend, kesc) = json::string_end(b, q)?;
                    // Image parts (`"image_url": {...}` or a data URL string) are never text.
                    let image = !kesc && &b[q + 1..kend - 1] == b"image_url";
                    let is_role = !kesc && &b[q + 1..kend - 1] == b"role";
                    q = json::skip_ws(b, kend);
                    if b.get(q) != Some(&b':') {
                        return Err(LineError::syntax(q));
                    }
                    q = json::skip_ws(b, q + 1);
                    if is_role && b.get(q) == Some(&b'"') {
                        let (vend, vesc) = json::string_end(b, q)?;
                        let raw = &text[q + 1..vend - 1];
                        let role = if vesc {
                            json::decode(raw, q + 1, &mut st.dec)?;
                            role_id(&st.dec)
                        } else {
                            role_id(raw)
                        };
                        st.frames[me as usize].role = role;
                        q = vend;
                    } else {
                        let mut pair_name = false;
                        let raw_key = &b[q0 + 1..kend - 1];
                        let manifest_data = !kesc
                            && (raw_key == b"data" || raw_key == b"stringData")
                            && b.get(q) == Some(&b'{')
                            && *k8s_secret.get_or_insert_with(|| json::object_is_k8s_secret(b, p));
                        st.pending_key = {
                            let mut norm = std::mem::take(&mut st.key_norm);
                            secrets::normalise_name(raw_key, &mut norm);
                            let mut key = self.key_ctx(&norm, json_depth).or_else(|| {
                                (self.engine.secrets_on() && secrets::pass_part_name(raw_key))
                                    .then_some(KeyCtx::Secret { generic: false })
                            });
                            // Every pair key starts with one of these letters.
                            let maybe_pair =
                                matches!(norm.first(), Some(b'n' | b'k' | b'p' | b'v'));
                            if maybe_pair && secrets::PAIR_VALUE_KEYS.contains(&norm.as_slice()) {
                                key = pair_ctx.or(key);
                            } else if maybe_pair
                                && secrets::PAIR_NAME_KEYS.contains(&norm.as_slice())
                            {
                                pair_name = true;
                            }
                            st.key_norm = norm;
                            key
                        };
                        if pair_name {
                            pair_ctx = self.pair_name_ctx(b, q, &mut st.key_norm);
                        }
                        // Set only with secrets on (below, for this object's parent).
                        if secret_map {
                            st.pending_key = Some(KeyCtx::Secret { generic: false });
                        }
                        st.secret_map = manifest_data && self.engine.secrets_on();
                        if image {
                            st.images += 1;
                            st.in_image += 1;
                        }
                        let r = self.value(text, q, me, json_depth, depth + 1, st, edits, repl);
                        if image {
                            st.in_image -= 1;
                        }
                        q = r?;
                    }
                    q = json::skip_ws(b, q);
                    match b.get(q) {
                        Some(b',') => q = json::skip_ws(b, q + 1),
                        Some(b'}') => {
                            close(st);
                            return Ok(q + 1);
                        }
                        _ => return Err(LineError::syntax(q)),
                    }
                }
            }
            Some(b'[') => {
                let mut q = json::skip_ws(b, p + 1);
                if b.get(q) == Some(&b']') {
                    return Ok(q + 1);
                }
                // A list under a credential or personal-data key (`"api_tokens": ["…", "…"]`):
                // each item is such a value.
                let item_key = key.filter(|k| {
                    matches!(
                        k,
                        KeyCtx::Secret { generic: false } | KeyCtx::Personal { generic: false, .. }
                    )
                });
                loop {
                    st.pending_key = item_key;
                    q = self.value(text, q, frame, json_depth, depth + 1, st, edits, repl)?;
                    q = json::skip_ws(b, q);
                    match b.get(q) {
                        Some(b',') => q = json::skip_ws(b, q + 1),
                        Some(b']') => return Ok(q + 1),
                        _ => return Err(LineError::syntax(q)),
                    }
                }
            }
            Some(b'"') => self.string_value(text, p, frame, json_depth, key, st, edits, repl),
            Some(b't') if b[p..].starts_with(b"true") => Ok(p + 4),
            Some(b'f') if b[p..].starts_with(b"false") => Ok(p + 5),
            Some(b'n') if b[p..].starts_with(b"null") => Ok(p + 4),
            Some(b'-' | b'0'..=b'9') => {
                let end = json::number_end(b, p)?;
                if is_long_integer(&text[p..end]) {
                    let raw = &text[p..end];
                    self.rewrite(raw, p, end, frame, json_depth, key, st, edits, repl)?;
                }
                Ok(end)
            }
            _ => Err(LineError::syntax(p)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn string_value(
        &self,
        text: &str,
        p: usize,
        frame: u32,
        json_depth: u32,
        key: Option<KeyCtx>,
        st: &mut Scratch,
        edits: &mut Vec<Edit>,
        repl: &mut String,
    ) -> Result<usize, LineError> {
        let (end, escaped) = json::string_end(text.as_bytes(), p)?;
        let raw = &text[p + 1..end - 1];
        // Inside an image part, or a base64 data URL anywhere: validated as JSON, never scanned.
        if st.in_image > 0 || is_data_url(raw) {
            if escaped {
                json::decode(raw, p + 1, &mut st.dec)?;
            }
            return Ok(end);
        }
        let mut dec = std::mem::take(&mut st.dec);
        let decoded: &str = if escaped {
            if let Err(e) = json::decode(raw, p + 1, &mut dec) {
                st.dec = dec;
                return Err(e);
            }
            &dec
        } else {
            raw
        };
        let rewritten = self.rewrite(decoded, p, end, frame, json_depth, key, st, edits, repl);
        st.dec = dec;
        rewritten?;
        // Scratch buffers that grew with a huge string are not kept for the next one: they
        // would sit beside the line's output (`repl`, and the pipeline's copy) until the end of
        // the run, adding to the peak instead of being reused.
        for buf in [&mut st.red_a, &mut st.red_b, &mut st.dec] {
            if buf.capacity() > SCRATCH_KEEP {
                *buf = String::new();
            }
        }
        Ok(end)
    }

    /// Scans `text`, the decoded value at `p..end` of the line; when it changes, records the
    /// re-encoded string as an edit. Then holds the line to its finding and growth bounds.
    #[allow(clippy::too_many_arguments)]
    fn rewrite(
        &self,
        text: &str,
        p: usize,
        end: usize,
        frame: u32,
        json_depth: u32,
        key: Option<KeyCtx>,
        st: &mut Scratch,
        edits: &mut Vec<Edit>,
        repl: &mut String,
    ) -> Result<(), LineError> {
        if let Some(new_text) = self.scan_text(text, frame, json_depth, key, st) {
            let rs = repl.len();
            json::encode(&new_text, repl);
            edits.push((p as u32, end as u32, rs as u32, repl.len() as u32));
            // Keep the buffer for reuse.
            st.red_a = new_text;
        }
        if st.too_many {
            return Err(LineError {
                code: "redaction_too_many_findings",
                offset: p,
            });
        }
        if st.too_large || repl.len() > st.out_cap {
            st.too_large = true;
            return Err(LineError {
                code: "redaction_output_too_large",
                offset: p,
            });
        }
        Ok(())
    }

    /// Scans one decoded string. Returns the rewritten text when rewriting and something changed.
    fn scan_text(
        &self,
        text: &str,
        frame: u32,
        json_depth: u32,
        key: Option<KeyCtx>,
        st: &mut Scratch,
    ) -> Option<String> {
        // Strings that hold JSON (tool-call arguments) are redacted structurally.
        let first = text
            .as_bytes()
            .iter()
            .find(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'));
        if matches!(first, Some(b'{' | b'[')) && json_depth < 4 {
            let (hits, frames, tr, ta, images) = (
                st.hits.len(),
                st.frames.len(),
                st.tokens_removed,
                st.tokens_added,
                st.images,
            );
            let mut edits = Vec::new();
            let mut repl = String::new();
            let saved_dec = std::mem::take(&mut st.dec);
            let res = self.document(text, json_depth + 1, frame, st, &mut edits, &mut repl);
            st.dec = saved_dec;
            match res {
                Ok(()) => {
                    if edits.is_empty() || !self.rewriting() {
                        return None;
                    }
                    let mut s = String::with_capacity(text.len());
                    apply_edits(text, &edits, &repl, &mut s);
                    return Some(s);
                }
                Err(_) => {
                    st.hits.truncate(hits);
                    st.frames.truncate(frames);
                    st.tokens_removed = tr;
                    st.tokens_added = ta;
                    st.images = images;
                }
            }
        }
        if st.too_large || st.too_many {
            return None;
        }
        // A chat message answers the one before it, and the assistant's (or a prompt's, whose
        // role is unknown) may ask the next one for a value.
        let asked = if key == Some(KeyCtx::Message) {
            let asked = st.asked.take();
            let role = role_of(&st.frames, frame);
            st.asked = if role == ROLE_ASSISTANT || role == NO_ROLE {
                self.engine.asks_for(text)
            } else {
                None
            };
            asked
        } else {
            None
        };
        // Plain text (not JSON, not under a key, not an answer) in a line's first pass: a repeat
        // of a clean string is clean. In the second pass (copies of masked values) every string
        // is scanned.
        let plain = matches!(key, None | Some(KeyCtx::Message)) && asked.is_none();
        let clean_key = if plain && st.seeds.is_empty() && !matches!(first, Some(b'{' | b'[')) {
            CleanCache::key(text)
        } else {
            None
        };
        if let Some(k) = clean_key
            && st.clean.holds(self.id, k, text)
        {
            return None;
        }
        let mut findings = std::mem::take(&mut st.findings);
        let fcap = st.findings_cap;
        let generated_id = key == Some(KeyCtx::GeneratedId);
        let complete = match key {
            Some(KeyCtx::GeneratedId) => self.engine.find_generated_id(text, &mut findings, fcap),
            Some(KeyCtx::Secret { generic }) => {
                self.engine.find_keyed(text, generic, &mut findings, fcap)
            }
            Some(KeyCtx::Personal { ent, generic }) => {
                self.engine
                    .find_pii_keyed(text, ent, generic, &mut findings, fcap)
            }
            Some(KeyCtx::Message) => self.engine.find_message(text, asked, &mut findings, fcap),
            None => self.engine.find(text, &mut findings, fcap),
        };
        // A generated id is not masked for being a copy of a random token masked elsewhere.
        if !complete
            || (!st.seeds.is_empty()
                && !generated_id
                && !echo::add_copies(text, &st.seeds, &mut findings, fcap))
        {
            st.too_many = true;
            st.findings = findings;
            return None;
        }
        if findings.is_empty() {
            st.findings = findings;
            if let Some(k) = clean_key {
                st.clean.record(k, text);
            }
            return None;
        }
        if self.rewriting() && st.seeds.is_empty() {
            st.seeds_found.collect(text, &findings);
        }
        for f in &findings {
            st.hits.push((f.entity, frame));
        }
        if !self.rewriting() {
            st.findings = findings;
            return None;
        }
        let mut cur = std::mem::take(&mut st.red_a);
        let mut next = std::mem::take(&mut st.red_b);
        let cap = st.out_cap;
        if !self.apply_bounded(text, &findings, &mut cur, cap) {
            st.too_large = true;
            st.findings = findings;
            st.red_a = cur;
            st.red_b = next;
            return None;
        }
        if self.token_report {
            self.count_tokens(text, &findings, st);
        }
        // Masking changes the neighbours of a finding (boundaries), which can expose a new one;
        // repeat until a fixpoint so the output is stable under a second run. Each round only runs
        // when the previous one found something, and masked text is never found again.
        for _ in 0..MAX_FIXPOINT_ROUNDS {
            let complete = if generated_id {
                self.engine.find_generated_id(&cur, &mut findings, fcap)
            } else {
                self.engine.find(&cur, &mut findings, fcap)
            };
            if !complete {
                st.too_many = true;
                break;
            }
            if findings.is_empty() {
                break;
            }
            for f in &findings {
                st.hits.push((f.entity, frame));
            }
            if !self.apply_bounded(&cur, &findings, &mut next, cap) {
                st.too_large = true;
                break;
            }
            if self.token_report {
                self.count_tokens(&cur, &findings, st);
            }
            std::mem::swap(&mut cur, &mut next);
        }
        st.findings = if findings.capacity() > SCRATCH_KEEP / 12 {
            Vec::new()
        } else {
            findings
        };
        st.red_b = next;
        if st.too_large || st.too_many {
            st.red_a = cur;
            return None;
        }
        Some(cur)
    }

    fn apply(&self, text: &str, findings: &[Finding], out: &mut String) {
        self.apply_bounded(text, findings, out, usize::MAX);
    }

    /// `apply`, giving up (false) as soon as `out` passes `cap` bytes.
    fn apply_bounded(
        &self,
        text: &str,
        findings: &[Finding],
        out: &mut String,
        cap: usize,
    ) -> bool {
        out.clear();
        let mut last = 0usize;
        for f in findings {
            let (s, e) = (f.start as usize, f.end as usize);
            let Some(value) = text.get(s..e) else {
                continue;
            };
            if s < last {
                continue;
            }
            out.push_str(&text[last..s]);
            self.replacement(f.entity, value, out);
            last = e;
            if out.len() > cap {
                return false;
            }
        }
        out.push_str(&text[last..]);
        out.len() <= cap
    }

    fn replacement(&self, entity: u16, value: &str, out: &mut String) {
        let name = &self.engine.names[entity as usize];
        out.push('[');
        out.push_str(name);
        if let Some(mac) = &self.hmac {
            let mut m = mac.clone();
            m.update(name.as_bytes());
            m.update(b"\0");
            normalise(entity, value, &mut m);
            let tag = m.finalize().into_bytes();
            out.push('_');
            out.push_str(&hex::encode(&tag[..4]));
        }
        out.push(']');
    }

    /// Token change over the words around each finding. BPE pre-tokenisation never merges across a
    /// space followed by a non-space, so windows bounded by spaces count exactly what the whole
    /// string would, at a fraction of the cost (windows reach at most 64 bytes for a space, so text
    /// without spaces gets a close estimate in linear time).
    fn count_tokens(&self, text: &str, findings: &[Finding], st: &mut Scratch) {
        // The same copy the dataset pipeline counts with; without it there is no token change to
        // report, which must not stop redaction.
        let Ok(bpe) = crate::dataset::tokens::load(crate::dataset::tokens::Encoding::O200kBase)
        else {
            return;
        };
        let mut new_w = String::new();
        let mut i = 0;
        while i < findings.len() {
            let s0 = findings[i].start as usize;
            let ws = window_start(text, s0);
            let mut we = window_end(text, findings[i].end as usize);
            let mut j = i + 1;
            while j < findings.len() && (findings[j].start as usize) < we {
                we = window_end(text, findings[j].end as usize);
                j += 1;
            }
            let old_w = &text[ws..we];
            let rel: Vec<Finding> = findings[i..j]
                .iter()
                .map(|f| Finding::new(f.start as usize - ws, f.end as usize - ws, f.entity))
                .collect();
            self.apply(old_w, &rel, &mut new_w);
            // Windows of adjacent findings can span a whole string without spaces: count in
            // bounded parts (BPE state is ~56 bytes per byte of one piece).
            st.tokens_removed += crate::dataset::tokens::count_chunked(
                bpe,
                old_w,
                crate::dataset::tokens::CHUNK_BYTES,
                u64::MAX,
            );
            st.tokens_added += match st.token_cache.get(new_w.as_str()) {
                Some(&n) => n,
                None => {
                    let n = crate::dataset::tokens::count_chunked(
                        bpe,
                        &new_w,
                        crate::dataset::tokens::CHUNK_BYTES,
                        u64::MAX,
                    );
                    // Bounded in bytes, not entries: windows can be long.
                    if st.token_cache_bytes + new_w.len() > limits::TOKEN_CACHE_BYTES {
                        st.token_cache.clear();
                        st.token_cache_bytes = 0;
                    }
                    if self.hmac.is_none() && new_w.len() <= 4096 {
                        st.token_cache_bytes += new_w.len();
                        st.token_cache.insert(new_w.clone(), n);
                    }
                    n
                }
            };
            i = j;
        }
    }
}

/// Furthest a token window reaches for a space; text without spaces (CJK, blobs) stays linear.
const WINDOW_REACH: usize = 64;

/// Integers shorter than this are counts, amounts or ids, never one of the detected entities.
const MIN_SCANNED_NUMBER_DIGITS: usize = 6;

/// What the object key above a value says about it. `generic`: the key only hints at the type,
/// so the value must show it on its own (`cosmosKey`-like names for secrets; `name`, which also
/// names tools, products and files, for persons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyCtx {
    /// A credential key (`api_key`, `password`).
    Secret { generic: bool },
    /// A personal-data key (`phone`): `ent` is its type.
    Personal { ent: u16, generic: bool },
    /// A generated identifier that links a tool call to its result (`id`, `tool_call_id`).
    GeneratedId,
    /// A chat message's text (`content`, a content part's `text`, `prompt`, `completion`): plain
    /// text, where a message that is nothing but an identifier is one (`context::lone_identifier`).
    Message,
}

/// A long integer is scanned like text: a card, phone or account number written as a JSON number
/// (the fields a reinforcement grader reads can hold any JSON) is PII all the same. When something
/// is found the number becomes the redacted string, a different JSON type, which is the point: the
/// digits must not survive.
fn is_long_integer(raw: &str) -> bool {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    digits.len() >= MIN_SCANNED_NUMBER_DIGITS && digits.bytes().all(|c| c.is_ascii_digit())
}

fn window_start(text: &str, before: usize) -> usize {
    let mut lo = before.saturating_sub(WINDOW_REACH);
    while !text.is_char_boundary(lo) {
        lo -= 1;
    }
    text[lo..before].rfind(' ').map_or(lo, |k| lo + k)
}

fn window_end(text: &str, from: usize) -> usize {
    let mut hi = (from + WINDOW_REACH).min(text.len());
    while !text.is_char_boundary(hi) {
        hi += 1;
    }
    text[from..hi].find(' ').map_or(hi, |k| from + k)
}

/// `data:<media type>;base64,<payload>`: binary content, not text.
fn is_data_url(raw: &str) -> bool {
    raw.len() > 5
        && raw.as_bytes()[..5].eq_ignore_ascii_case(b"data:")
        && raw[..raw.len().min(128)].contains(";base64,")
}

/// The role of the message that holds `frame`: its own, or its nearest ancestor's.
fn role_of(frames: &[Frame], frame: u32) -> u8 {
    let mut f = frame as usize;
    let mut hops = 0;
    while frames[f].role == NO_ROLE && f != 0 && hops < 256 {
        f = frames[f].parent as usize;
        hops += 1;
    }
    frames[f].role
}

fn role_id(s: &str) -> u8 {
    ROLES[..6]
        .iter()
        .position(|r| *r == s)
        .map_or(6, |k| k as u8)
}

/// Feeds the normalised form of a value into the HMAC, so that formatting variants of the same
/// value get the same pseudonym.
fn normalise(entity: u16, value: &str, m: &mut Hmac<Sha256>) {
    match entity {
        ENT_EMAIL => m.update(value.to_ascii_lowercase().as_bytes()),
        ENT_PHONE | ENT_CARD | ENT_SSN | ENT_US_NPI | ENT_KR_RRN | ENT_TR_NATIONAL_ID => {
            let digits: Vec<u8> = value.bytes().filter(u8::is_ascii_digit).collect();
            m.update(&digits);
        }
        ENT_IBAN | ENT_US_MBI => {
            let v: Vec<u8> = value
                .bytes()
                .filter(u8::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_uppercase())
                .collect();
            m.update(&v);
        }
        ENT_IP => match value.parse::<std::net::IpAddr>() {
            Ok(ip) => m.update(ip.to_string().as_bytes()),
            Err(_) => m.update(value.as_bytes()),
        },
        ENT_MAC => {
            let v: Vec<u8> = value
                .bytes()
                .filter(u8::is_ascii_hexdigit)
                .map(|c| c.to_ascii_lowercase())
                .collect();
            m.update(&v);
        }
        ENT_SECRET => m.update(value.as_bytes()),
        // Custom and deny-list values: deny terms match case-insensitively, so fold case.
        _ => m.update(value.to_lowercase().as_bytes()),
    }
}

impl crate::dataset::pipeline::LineRedactor for Redactor {
    type Report = RedactionReport;

    fn redact_line(
        &self,
        line: &str,
        out: &mut String,
        report: &mut RedactionReport,
    ) -> Result<crate::dataset::pipeline::RedactOutcome, crate::dataset::pipeline::RedactLineError>
    {
        use crate::dataset::pipeline::RedactOutcome;
        match Redactor::redact_line(self, line, out, report) {
            Ok(LineOutcome::Unchanged) => Ok(RedactOutcome::Unchanged),
            Ok(LineOutcome::Redacted) => Ok(RedactOutcome::Redacted),
            Ok(LineOutcome::Dropped) => Ok(RedactOutcome::Dropped),
            Ok(LineOutcome::Rejected) => Ok(RedactOutcome::Rejected),
            Err(e) => Err(crate::dataset::pipeline::RedactLineError { code: e.code }),
        }
    }

    fn findings(report: &RedactionReport) -> std::collections::BTreeMap<String, u64> {
        report.findings.clone()
    }

    fn merge_reports(into: &mut RedactionReport, from: RedactionReport) {
        into.merge(&from);
    }
}

/// A replaced string: its byte range in the text, and its replacement's range in `repl`. Four
/// `u32`s (16 bytes, where `usize`s took 32): a line of short strings that all change holds one
/// per string, and findings are `u32`-offset already (lines are far below 4 GiB).
type Edit = (u32, u32, u32, u32);

/// Bytes of `text` that the edits replace.
fn edits_removed(edits: &[Edit]) -> usize {
    edits.iter().map(|&(s, e, _, _)| (e - s) as usize).sum()
}

fn apply_edits(text: &str, edits: &[Edit], repl: &str, out: &mut String) {
    let mut last = 0;
    for &(s, e, rs, re) in edits {
        let (s, e, rs, re) = (s as usize, e as usize, rs as usize, re as usize);
        out.push_str(&text[last..s]);
        out.push_str(&repl[rs..re]);
        last = e;
    }
    out.push_str(&text[last..]);
}

#[cfg(test)]
mod samples;
#[cfg(test)]
mod tests;
