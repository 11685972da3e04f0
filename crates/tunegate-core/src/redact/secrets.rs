//! SECRET detection: provider key prefixes, JWTs, PEM private keys, passwords in URLs, and
//! high-entropy values right after words such as key, token, secret or password.
//!
//! One case-sensitive Aho-Corasick searcher finds every anchor (prefixes and keywords) in a single
//! pass; each anchor then gets a small hand-written check. Keywords are listed in lower, Title and
//! UPPER case rather than matched case-insensitively: that keeps the pattern set small enough for
//! the SIMD (Teddy) prefilter, which is several times faster than an automaton over every byte.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::structured::is_word;
use super::validate::{is_uuid, shannon_entropy};
use super::{ENT_SECRET, Finding};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchor {
    /// A literal prefix followed by a body of `min..=max` bytes from `class`.
    Prefix {
        min: usize,
        max: usize,
        class: BodyClass,
        needs_digit: bool,
    },
    Jwt,
    Pem,
    UrlCreds,
    Keyword {
        password: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyClass {
    /// `[A-Za-z0-9]`
    Alnum,
    /// `[A-Z0-9]`
    UpperAlnum,
    /// `[A-Za-z0-9_-]`
    UrlSafe,
    /// `[A-Za-z0-9_]`
    Word,
    /// `[A-Za-z0-9-]`
    AlnumDash,
}

impl BodyClass {
    fn accepts(self, c: u8) -> bool {
        match self {
            BodyClass::Alnum => c.is_ascii_alphanumeric(),
            BodyClass::UpperAlnum => c.is_ascii_uppercase() || c.is_ascii_digit(),
            BodyClass::UrlSafe => c.is_ascii_alphanumeric() || c == b'_' || c == b'-',
            BodyClass::Word => c.is_ascii_alphanumeric() || c == b'_',
            BodyClass::AlnumDash => c.is_ascii_alphanumeric() || c == b'-',
        }
    }
}

const fn prefix(min: usize, max: usize, class: BodyClass, needs_digit: bool) -> Anchor {
    Anchor::Prefix {
        min,
        max,
        class,
        needs_digit,
    }
}

const ANCHORS: &[(&str, Anchor)] = &[
    // OpenAI: sk-..., sk-proj-..., sk-svcacct-..., sk-admin-...
    ("sk-", prefix(20, 256, BodyClass::UrlSafe, true)),
    // Stripe secret and restricted keys.
    ("sk_live_", prefix(16, 256, BodyClass::Alnum, false)),
    ("sk_test_", prefix(16, 256, BodyClass::Alnum, false)),
    ("rk_live_", prefix(16, 256, BodyClass::Alnum, false)),
    ("rk_test_", prefix(16, 256, BodyClass::Alnum, false)),
    // AWS access key ids.
    ("AKIA", prefix(16, 16, BodyClass::UpperAlnum, false)),
    ("ASIA", prefix(16, 16, BodyClass::UpperAlnum, false)),
    // GitHub tokens.
    ("ghp_", prefix(30, 255, BodyClass::Alnum, false)),
    ("gho_", prefix(30, 255, BodyClass::Alnum, false)),
    ("ghu_", prefix(30, 255, BodyClass::Alnum, false)),
    ("ghs_", prefix(30, 255, BodyClass::Alnum, false)),
    ("ghr_", prefix(30, 255, BodyClass::Alnum, false)),
    ("github_pat_", prefix(22, 255, BodyClass::Word, false)),
    // Slack tokens.
    ("xoxb-", prefix(10, 255, BodyClass::AlnumDash, true)),
    ("xoxa-", prefix(10, 255, BodyClass::AlnumDash, true)),
    ("xoxp-", prefix(10, 255, BodyClass::AlnumDash, true)),
    ("xoxr-", prefix(10, 255, BodyClass::AlnumDash, true)),
    ("xoxs-", prefix(10, 255, BodyClass::AlnumDash, true)),
    ("xoxe-", prefix(10, 255, BodyClass::AlnumDash, true)),
    // Google API keys.
    ("AIza", prefix(35, 35, BodyClass::UrlSafe, false)),
    ("eyJ", Anchor::Jwt),
    ("-----BEGIN", Anchor::Pem),
    ("://", Anchor::UrlCreds),
    ("password", Anchor::Keyword { password: true }),
    ("passwd", Anchor::Keyword { password: true }),
    ("passphrase", Anchor::Keyword { password: true }),
    ("pwd", Anchor::Keyword { password: true }),
    ("secret", Anchor::Keyword { password: false }),
    ("token", Anchor::Keyword { password: false }),
    ("key", Anchor::Keyword { password: false }),
    ("bearer", Anchor::Keyword { password: false }),
    ("credential", Anchor::Keyword { password: false }),
    ("auth", Anchor::Keyword { password: false }),
];

pub(crate) struct SecretScanner {
    ac: AhoCorasick,
    kinds: Vec<Anchor>,
}

impl SecretScanner {
    pub(crate) fn new() -> Result<Self, aho_corasick::BuildError> {
        let mut pats = Vec::new();
        let mut kinds = Vec::new();
        for (lit, anchor) in ANCHORS {
            if let Anchor::Keyword { .. } = anchor {
                let title = format!("{}{}", lit[..1].to_ascii_uppercase(), &lit[1..]);
                for v in [lit.to_string(), title, lit.to_ascii_uppercase()] {
                    pats.push(v);
                    kinds.push(*anchor);
                }
            } else {
                pats.push(lit.to_string());
                kinds.push(*anchor);
            }
        }
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&pats)?;
        Ok(Self { ac, kinds })
    }

    pub(crate) fn scan(&self, text: &str, out: &mut Vec<Finding>) {
        let b = text.as_bytes();
        let mut skip_to = 0usize;
        for m in self.ac.find_iter(b) {
            if m.start() < skip_to {
                continue;
            }
            let found = match self.kinds[m.pattern().as_usize()] {
                Anchor::Prefix {
                    min,
                    max,
                    class,
                    needs_digit,
                } => prefixed(b, m.start(), m.end(), min, max, class, needs_digit),
                Anchor::Jwt => match jwt(b, m.start()) {
                    Ok(found) => Some(found),
                    Err(run_end) => {
                        // Every later `eyJ` in the same run fails the same way: skip it (linear).
                        skip_to = run_end;
                        None
                    }
                },
                Anchor::Pem => pem(b, m.start()),
                Anchor::UrlCreds => url_password(b, m.start()),
                Anchor::Keyword { password } => keyword_value(b, m.end(), password),
            };
            if let Some((s, e)) = found {
                out.push(Finding::new(s, e, ENT_SECRET));
                skip_to = e;
            }
        }
    }
}

fn prefixed(
    b: &[u8],
    s: usize,
    body: usize,
    min: usize,
    max: usize,
    class: BodyClass,
    needs_digit: bool,
) -> Option<(usize, usize)> {
    if s > 0 && is_word(b[s - 1]) {
        return None;
    }
    let mut e = body;
    while e < b.len() && e - body < max + 1 && class.accepts(b[e]) {
        e += 1;
    }
    let len = e - body;
    if len < min || len > max || (e < b.len() && is_word(b[e])) {
        return None;
    }
    let tail = &b[body..e];
    if needs_digit
        && !(tail.iter().any(u8::is_ascii_digit) && tail.iter().any(u8::is_ascii_alphabetic))
    {
        return None;
    }
    Some((s, e))
}

fn b64url_run(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && (b[p].is_ascii_alphanumeric() || b[p] == b'_' || b[p] == b'-') {
        p += 1;
    }
    p
}

/// `header.payload.signature`; on failure, the end of the header run.
fn jwt(b: &[u8], s: usize) -> Result<(usize, usize), usize> {
    let h = b64url_run(b, s);
    if s > 0 && is_word(b[s - 1]) {
        return Err(s + 3);
    }
    if h - s < 10 || h >= b.len() || b[h] != b'.' {
        return Err(h);
    }
    let p = b64url_run(b, h + 1);
    if p - h - 1 < 10 || p >= b.len() || b[p] != b'.' {
        return Err(h);
    }
    Ok((s, b64url_run(b, p + 1)))
}

fn pem(b: &[u8], s: usize) -> Option<(usize, usize)> {
    if !b[s..].starts_with(b"-----BEGIN ") {
        return None;
    }
    let head_end = memchr::memmem::find(&b[s + 11..(s + 80).min(b.len())], b"-----")? + s + 11;
    let label = &b[s + 11..head_end];
    if !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")) {
        return None;
    }
    let body = head_end + 5;
    let Some(end) = memchr::memmem::find(&b[body..], b"-----END ") else {
        // Truncated key: everything after the header goes.
        return Some((s, b.len()));
    };
    let end = body + end + 9;
    match memchr::memmem::find(&b[end..(end + 80).min(b.len())], b"-----") {
        Some(k) => Some((s, end + k + 5)),
        None => Some((s, b.len())),
    }
}

/// `scheme://user:password@host`: only the password goes.
fn url_password(b: &[u8], colon_slash: usize) -> Option<(usize, usize)> {
    // Scheme must be letters right before "://".
    if colon_slash == 0 || !b[colon_slash - 1].is_ascii_alphabetic() {
        return None;
    }
    let stop = |c: u8| {
        c.is_ascii_whitespace()
            || matches!(c, b'/' | b'@' | b'"' | b'\'' | b'<' | b'>' | b'?' | b'#')
    };
    let mut p = colon_slash + 3;
    while p < b.len() && !stop(b[p]) && b[p] != b':' {
        p += 1;
    }
    if p >= b.len() || b[p] != b':' {
        return None;
    }
    let pw_start = p + 1;
    let mut q = pw_start;
    while q < b.len() && !stop(b[q]) {
        q += 1;
    }
    if q == pw_start
        || q >= b.len()
        || b[q] != b'@'
        || q + 1 >= b.len()
        || !b[q + 1].is_ascii_alphanumeric()
    {
        return None;
    }
    Some((pw_start, q))
}

fn token_char(c: u8, password: bool) -> bool {
    if password {
        c.is_ascii_graphic() && !matches!(c, b'"' | b'\'' | b',' | b';' | b'`')
    } else {
        c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'_' | b'-' | b'.' | b'~')
    }
}

/// A value right after a keyword (`api_key = "..."`, `token: ...`, `password is ...`).
fn keyword_value(b: &[u8], kw_end: usize, password: bool) -> Option<(usize, usize)> {
    let n = b.len();
    let mut p = kw_end;
    // Identifier suffix: api_key_id, token_value, secretAccessKey ...
    let mut k = 0;
    while p < n && k < 24 && (b[p].is_ascii_alphabetic() || b[p] == b'_' || b[p] == b'-') {
        p += 1;
        k += 1;
    }
    // Separator: quotes, whitespace, ':' or '=' (at least one byte), optionally "is"/"was".
    let sep_start = p;
    let mut assign = false;
    while p < n
        && p - sep_start < 8
        && matches!(b[p], b' ' | b'\t' | b'"' | b'\'' | b':' | b'=' | b'>')
    {
        assign |= matches!(b[p], b':' | b'=');
        p += 1;
    }
    if p == sep_start {
        return None;
    }
    if !assign {
        for w in [&b"is "[..], b"was ", b"of "] {
            if b[p..].starts_with(w) {
                p += w.len();
                while p < n && matches!(b[p], b' ' | b'"' | b'\'' | b':') {
                    p += 1;
                }
                break;
            }
        }
    }
    let s = p;
    while p < n && p - s <= 512 && token_char(b[p], password) {
        p += 1;
    }
    // A sentence-ending dot is not part of the value.
    while p > s && matches!(b[p - 1], b'.' | b'-') {
        p -= 1;
    }
    let v = &b[s..p];
    let lower = v.iter().any(u8::is_ascii_lowercase) as u8;
    let upper = v.iter().any(u8::is_ascii_uppercase) as u8;
    let digit = v.iter().any(u8::is_ascii_digit) as u8;
    let other = v.iter().any(|c| !c.is_ascii_alphanumeric()) as u8;
    let classes = lower + upper + digit;
    if is_uuid(v) || v.len() > 512 {
        return None;
    }
    let ok = if password {
        v.len() >= 8 && (classes + other) >= 2 && digit + other >= 1
    } else {
        v.len() >= 16 && classes >= 2 && digit == 1 && shannon_entropy(v) >= 3.0
    };
    ok.then_some((s, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let s = SecretScanner::new().unwrap();
        let mut v = Vec::new();
        s.scan(text, &mut v);
        v.iter()
            .map(|f| &text[f.start as usize..f.end as usize])
            .collect()
    }

    #[test]
    fn provider_keys() {
        let openai = "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z";
        assert_eq!(found(&format!("key {openai} here")), vec![openai]);
        assert_eq!(found("AKIAIOSFODNN7EXAMPLE,"), vec!["AKIAIOSFODNN7EXAMPLE"]);
        let gh = "ghp_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0dF3gH6";
        assert_eq!(found(gh), vec![gh]);
        let slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
        assert_eq!(found(slack), vec![slack]);
        let stripe = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
        assert_eq!(found(stripe), vec![stripe]);
        let google = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q";
        assert_eq!(found(google), vec![google]);
    }

    #[test]
    fn structured_secrets() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(found(&format!("Bearer {jwt}")), vec![jwt]);
        let pem =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
        assert_eq!(found(&format!("x {pem} y")), vec![pem]);
        assert_eq!(
            found("postgres://admin:S3cr3t!@db.internal:5432/app"),
            vec!["S3cr3t!"]
        );
        assert_eq!(
            found("api_key = \"Zx8Qp2Lm9Rt4Vb7Nc1Kd\""),
            vec!["Zx8Qp2Lm9Rt4Vb7Nc1Kd"]
        );
        assert_eq!(found("my password is hunter22!"), vec!["hunter22!"]);
    }

    #[test]
    fn look_alikes_stay() {
        assert!(found("the task-force met; sk-learn rocks; EURASIA").is_empty());
        assert!(
            found("the key point is clear; token: 550e8400-e29b-41d4-a716-446655440000").is_empty()
        );
        assert!(found("see https://example.com/a:b and -----BEGIN CERTIFICATE-----").is_empty());
        assert!(found("keyboard shortcuts, password reset link").is_empty());
    }
}
