//! Copies of a secret. Once a value is found as a secret (after its keyword, under its key, or by
//! its shape), every other copy of it in the same line is that secret too, even where nothing
//! around the copy says so: `token = 'k3y…' | 'k3y…'`, or a key pasted in one message and quoted
//! back in the next.
//!
//! The first pass over a line collects the secret values it masked ([`Seeds`]). Only when a copy
//! is still in the output (or could hide behind a JSON escape) does the line run again with the
//! seeds, so lines without secrets, or whose secrets occur once, cost nothing extra.

use super::{ENT_SECRET, Finding};

/// Most seeds kept per line; later ones are ignored (their copies stay unmasked unless found by
/// the detectors themselves).
pub(crate) const MAX_SEEDS: usize = 16;
/// Longest seed in bytes: longer secrets (PEM blocks) are not searched for again.
pub(crate) const MAX_SEED_BYTES: usize = 512;
/// Shortest seed: shorter values (PINs, codes) occur by chance.
const MIN_SEED_BYTES: usize = 8;
/// Copies of a seed shorter than this must stand alone (no letter or digit on either side).
const SHORT_SEED_BYTES: usize = 16;

/// The secret values found in one line, in one buffer (no allocation per value).
#[derive(Default)]
pub(crate) struct Seeds {
    buf: String,
    ranges: Vec<(u32, u32)>,
}

impl Seeds {
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.ranges.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.ranges
            .iter()
            .filter_map(|&(s, e)| self.buf.get(s as usize..e as usize))
    }

    /// Keeps the values of the secret findings in `text` that qualify.
    pub(crate) fn collect(&mut self, text: &str, findings: &[Finding]) {
        for f in findings.iter().filter(|f| f.entity == ENT_SECRET) {
            if self.ranges.len() >= MAX_SEEDS {
                return;
            }
            let Some(v) = text.get(f.start as usize..f.end as usize) else {
                continue;
            };
            if !qualifies(v) || self.iter().any(|s| s == v) {
                continue;
            }
            let s = self.buf.len();
            self.buf.push_str(v);
            self.ranges.push((s as u32, self.buf.len() as u32));
        }
    }
}

/// A value worth searching for again: long enough, no whitespace, not one repeated character,
/// and two character classes unless it is long (short one-class values, a lower-case word or a
/// number, occur by chance).
fn qualifies(v: &str) -> bool {
    let b = v.as_bytes();
    if !(MIN_SEED_BYTES..=MAX_SEED_BYTES).contains(&b.len())
        || b.iter()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return false;
    }
    let lower = b.iter().any(u8::is_ascii_lowercase);
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let digits = b.iter().any(u8::is_ascii_digit);
    let other = b.iter().any(|c| !c.is_ascii_alphanumeric());
    let classes = lower as u8 + upper as u8 + digits as u8 + other as u8;
    let first = b[0];
    (classes >= 2 || b.len() >= SHORT_SEED_BYTES) && b.iter().any(|&c| c != first)
}

fn alnum_at(b: &[u8], i: Option<usize>) -> bool {
    i.and_then(|i| b.get(i))
        .is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Adds a secret finding for every copy of a seed in `text` that no finding covers yet, then
/// restores the engine's order and overlap rule. `false` when that would pass `cap` findings.
pub(crate) fn add_copies(
    text: &str,
    seeds: &Seeds,
    findings: &mut Vec<Finding>,
    cap: usize,
) -> bool {
    let b = text.as_bytes();
    let before = findings.len();
    for seed in seeds.iter() {
        let short = seed.len() < SHORT_SEED_BYTES;
        for s in memchr::memmem::find_iter(b, seed.as_bytes()) {
            let e = s + seed.len();
            if short && (alnum_at(b, s.checked_sub(1)) || alnum_at(b, Some(e))) {
                continue;
            }
            if findings[..before]
                .iter()
                .any(|f| (f.start as usize) <= s && e <= f.end as usize)
            {
                continue;
            }
            if findings.len() >= cap {
                return false;
            }
            findings.push(Finding::new(s, e, ENT_SECRET));
        }
    }
    if findings.len() > before {
        findings.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        super::engine::resolve_overlaps(findings);
    }
    true
}

/// Whether the output line may still hold a copy of a seed: a seed occurs in it, or it has a
/// `\u` or `\/` escape that could spell one (strings copied unchanged keep their escapes).
pub(crate) fn copies_left(out: &str, seeds: &Seeds) -> bool {
    let b = out.as_bytes();
    memchr::memchr_iter(b'\\', b).any(|i| matches!(b.get(i + 1), Some(b'u' | b'/')))
        || seeds
            .iter()
            .any(|s| memchr::memmem::find(b, s.as_bytes()).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds(values: &[&str]) -> Seeds {
        let mut s = Seeds::default();
        let text = values.join(" ");
        let mut findings = Vec::new();
        let mut at = 0;
        for v in values {
            findings.push(Finding::new(at, at + v.len(), ENT_SECRET));
            at += v.len() + 1;
        }
        s.collect(&text, &findings);
        s
    }

    #[test]
    fn only_values_that_do_not_occur_by_chance_are_seeds() {
        let s = seeds(&[
            "k3yZ9qLmP0aB",
            "1234",
            "password",
            "aaaaaaaaaaaa",
            "12345678901",
            "1234567890123456",
            "vZrEclFwOqeA",
            "two words1",
            "k3yZ9qLmP0aB",
        ]);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            ["k3yZ9qLmP0aB", "1234567890123456", "vZrEclFwOqeA"]
        );
    }

    #[test]
    fn seeds_are_bounded() {
        let values: Vec<String> = (0..40).map(|i| format!("tok3n-{i:04}-abc")).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let s = seeds(&refs);
        assert_eq!(s.iter().count(), MAX_SEEDS);
        let long = format!("a1{}", "b".repeat(MAX_SEED_BYTES));
        assert_eq!(seeds(&[&long]).iter().count(), 0);
    }

    #[test]
    fn copies_become_findings_once() {
        let s = seeds(&["Zq8vK2mPx7LwR4tN"]);
        let text = "token = 'Zq8vK2mPx7LwR4tN' | 'Zq8vK2mPx7LwR4tN'";
        let mut f = vec![Finding::new(9, 25, ENT_SECRET)];
        assert!(add_copies(text, &s, &mut f, 100));
        assert_eq!(
            f,
            [
                Finding::new(9, 25, ENT_SECRET),
                Finding::new(30, 46, ENT_SECRET)
            ]
        );
    }

    #[test]
    fn short_seeds_must_stand_alone() {
        let s = seeds(&["ab12cd34"]);
        let mut f = Vec::new();
        assert!(add_copies(
            "xab12cd34 ab12cd34y (ab12cd34)",
            &s,
            &mut f,
            100
        ));
        assert_eq!(f, [Finding::new(21, 29, ENT_SECRET)]);
        // Long ones are a leak anywhere.
        let s = seeds(&["Zq8vK2mPx7LwR4tN"]);
        let mut f = Vec::new();
        assert!(add_copies("xZq8vK2mPx7LwR4tNy", &s, &mut f, 100));
        assert_eq!(f, [Finding::new(1, 17, ENT_SECRET)]);
    }

    #[test]
    fn copies_respect_the_cap() {
        let s = seeds(&["Zq8vK2mPx7LwR4tN"]);
        let text = "Zq8vK2mPx7LwR4tN ".repeat(10);
        let mut f = Vec::new();
        assert!(!add_copies(&text, &s, &mut f, 5));
    }

    #[test]
    fn escapes_may_hide_copies() {
        let s = seeds(&["Zq8vK2mPx7LwR4tN"]);
        assert!(!copies_left(r#"{"a":"[SECRET] \n \"x\""}"#, &s));
        assert!(copies_left(r#"{"a":"\u005aq8vK2mPx7LwR4tN"}"#, &s));
        assert!(copies_left(r#"{"a":"a\/b"}"#, &s));
        assert!(copies_left(r#"{"a":"Zq8vK2mPx7LwR4tN"}"#, &s));
    }
}
