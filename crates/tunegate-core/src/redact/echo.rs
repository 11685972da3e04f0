//! Copies of a finding. Once a value is found as a secret (after its keyword, under its key, or
//! by its shape), every other copy of it in the same line is that secret too, even where nothing
//! around the copy says so: `token = 'k3y…' | 'k3y…'`, or a key pasted in one message and quoted
//! back in the next. The same holds for personal data found with its context: a full name after
//! `my name is`, a number after `SSN` or `call me at`, repeated later in the chat without it.
//!
//! The first pass over a line collects the values it masked ([`Seeds`]). Only when a copy is
//! still in the output (or could hide behind a JSON escape) does the line run again with the
//! seeds, so lines without findings, or whose findings occur once, cost nothing extra.

use super::{
    ENT_AU_TFN, ENT_CA_SIN, ENT_DE_TAX_ID, ENT_DRIVER_LICENSE, ENT_IN_AADHAAR, ENT_KR_RRN,
    ENT_NL_BSN, ENT_PASSPORT, ENT_PERSON, ENT_PHONE, ENT_PL_PESEL, ENT_SECRET, ENT_SSN,
    ENT_TR_NATIONAL_ID, ENT_UK_NHS, ENT_US_BANK_ROUTING, ENT_US_ITIN, ENT_US_NPI, Finding,
};

/// Most seeds kept per line; later ones are ignored (their copies stay unmasked unless found by
/// the detectors themselves).
pub(crate) const MAX_SEEDS: usize = 16;
/// Longest seed in bytes: longer secrets (PEM blocks) are not searched for again.
pub(crate) const MAX_SEED_BYTES: usize = 512;
/// Shortest seed: shorter values (PINs, codes) occur by chance.
const MIN_SEED_BYTES: usize = 8;
/// Copies of a seed shorter than this must stand alone (no letter or digit on either side).
const SHORT_SEED_BYTES: usize = 16;

/// The values found in one line and their entities, in one buffer (no allocation per value).
#[derive(Default)]
pub(crate) struct Seeds {
    buf: String,
    ranges: Vec<(u32, u32, u16)>,
}

impl Seeds {
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.ranges.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, u16)> {
        self.ranges
            .iter()
            .filter_map(|&(s, e, ent)| Some((self.buf.get(s as usize..e as usize)?, ent)))
    }

    /// Keeps the values of the findings in `text` that qualify.
    pub(crate) fn collect(&mut self, text: &str, findings: &[Finding]) {
        for f in findings {
            if self.ranges.len() >= MAX_SEEDS {
                return;
            }
            let Some(v) = text.get(f.start as usize..f.end as usize) else {
                continue;
            };
            let ok = match f.entity {
                ENT_SECRET => qualifies(v),
                ENT_PERSON => full_name(v),
                // Types whose copies the detectors may miss because they need a context word
                // (shapes such as e-mail, IBAN, card or `+` phone are found everywhere anyway).
                ENT_PHONE => !v.starts_with('+') && numbered(v),
                ENT_SSN | ENT_US_ITIN | ENT_US_BANK_ROUTING | ENT_NL_BSN | ENT_CA_SIN
                | ENT_AU_TFN | ENT_UK_NHS | ENT_DE_TAX_ID | ENT_PL_PESEL | ENT_IN_AADHAAR
                | ENT_PASSPORT | ENT_DRIVER_LICENSE | ENT_US_NPI | ENT_KR_RRN
                | ENT_TR_NATIONAL_ID => numbered(v),
                _ => false,
            };
            if !ok {
                continue;
            }
            self.push(v, f.entity);
            // The person's given and family names alone (`Nice to meet you, John!` after `my
            // name is John Doe`), unless one is also an ordinary word (`Will`, `Grace`).
            if f.entity == ENT_PERSON {
                for part in v.split(' ') {
                    if super::names::echo_part(part) {
                        self.push(part, ENT_PERSON);
                    }
                }
            }
        }
    }

    fn push(&mut self, v: &str, entity: u16) {
        if self.ranges.len() >= MAX_SEEDS || self.iter().any(|(s, _)| s == v) {
            return;
        }
        let s = self.buf.len();
        self.buf.push_str(v);
        self.ranges.push((s as u32, self.buf.len() as u32, entity));
    }
}

/// A person's name worth searching for again: two to four capitalised words of letters (a lone
/// given name such as `Will` or `Grace` is also an ordinary word).
fn full_name(v: &str) -> bool {
    (2..=4).contains(&v.split(' ').count())
        && v.len() >= MIN_SEED_BYTES
        && v.len() <= 64
        && v.split(' ').all(|w| {
            w.chars().next().is_some_and(char::is_uppercase)
                && w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '\'' | '-' | '.'))
        })
}

/// A number worth searching for again (phones, identifiers): 6+ bytes with six or more digits.
fn numbered(v: &str) -> bool {
    (6..=64).contains(&v.len()) && v.bytes().filter(u8::is_ascii_digit).count() >= 6
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
    for (seed, ent) in seeds.iter() {
        // Personal data must stand alone (a name inside a longer name is another name);
        // secrets too when short.
        let short = ent != ENT_SECRET || seed.len() < SHORT_SEED_BYTES;
        for s in memchr::memmem::find_iter(b, seed.as_bytes()) {
            let e = s + seed.len();
            if short && (alnum_at(b, s.checked_sub(1)) || alnum_at(b, Some(e))) {
                continue;
            }
            // The engine's findings are sorted and do not overlap: only the last one starting
            // at or before `s` can cover the copy (a scan of all of them was quadratic).
            let k = findings[..before].partition_point(|f| (f.start as usize) <= s);
            if k > 0 && e <= findings[k - 1].end as usize {
                continue;
            }
            if findings.len() >= cap {
                return false;
            }
            findings.push(Finding::new(s, e, ent));
        }
    }
    if findings.len() > before {
        findings.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
        super::engine::resolve_overlaps(findings);
    }
    true
}

/// Whether the input line may hold another copy of a seed than the one the first pass masked:
/// a seed occurs twice or more in it, a seed has a character JSON writes escaped (so its copies
/// cannot be counted in the raw line), or the line has a `\u` or `\/` escape that could spell
/// one. Counting in the raw line needs no copy of the output.
pub(crate) fn may_have_copies(line: &str, seeds: &Seeds) -> bool {
    let b = line.as_bytes();
    memchr::memchr_iter(b'\\', b).any(|i| matches!(b.get(i + 1), Some(b'u' | b'/')))
        || seeds.iter().any(|(s, _)| {
            s.bytes().any(|c| c == b'"' || c == b'\\' || c < 0x20) || twice(b, s.as_bytes())
        })
}

/// `needle` (not empty) occurs at least twice in `hay`. A `memmem` searcher per seed and line
/// cost more to build than the search (short lines, a few seeds each).
fn twice(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return false;
    };
    memchr::memchr_iter(first, hay)
        .filter(|&i| hay[i..].starts_with(needle))
        .nth(1)
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeds collected from `values` found as secrets.
    fn seeds(values: &[&str]) -> Seeds {
        let found: Vec<(&str, u16)> = values.iter().map(|&v| (v, ENT_SECRET)).collect();
        seeds_of(&found)
    }

    /// Seeds collected from a text of `values` joined by spaces, each one found as its entity.
    fn seeds_of(values: &[(&str, u16)]) -> Seeds {
        let mut s = Seeds::default();
        let text = values.iter().map(|(v, _)| *v).collect::<Vec<_>>().join(" ");
        let mut findings = Vec::new();
        let mut at = 0;
        for &(v, ent) in values {
            findings.push(Finding::new(at, at + v.len(), ent));
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
            s.iter().map(|(v, _)| v).collect::<Vec<_>>(),
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
    fn personal_data_seeds_are_full_names_and_numbers() {
        let s = seeds_of(&[
            ("Will", ENT_PERSON),
            ("Zorbek Quintaval", ENT_PERSON),
            ("536-22-1234", super::super::ENT_SSN),
            ("12345", super::super::ENT_PHONE),
            ("jane@example.com", super::super::ENT_EMAIL),
            ("zorbek quintaval", ENT_PERSON),
        ]);
        assert_eq!(
            s.iter().map(|(v, _)| v).collect::<Vec<_>>(),
            ["Zorbek Quintaval", "Zorbek", "Quintaval", "536-22-1234"]
        );
        // Copies of personal data must stand alone, and keep their entity.
        let mut f = Vec::new();
        assert!(add_copies(
            "Zorbek Quintavalo, Zorbek Quintaval. 536-22-12345",
            &s,
            &mut f,
            100
        ));
        assert_eq!(
            f,
            [
                Finding::new(0, 6, ENT_PERSON),
                Finding::new(19, 35, ENT_PERSON)
            ]
        );
    }

    #[test]
    fn name_parts_that_are_also_words_are_no_seeds() {
        let s = seeds_of(&[("Will Smith", ENT_PERSON), ("Grace Kowalczyk", ENT_PERSON)]);
        assert_eq!(
            s.iter().map(|(v, _)| v).collect::<Vec<_>>(),
            ["Will Smith", "Smith", "Grace Kowalczyk", "Kowalczyk"]
        );
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
        assert!(!may_have_copies(r#"{"a":"Zq8vK2mPx7LwR4tN \n \"x\""}"#, &s));
        assert!(may_have_copies(
            r#"{"a":"Zq8vK2mPx7LwR4tN \u005aq8vK2mPx7LwR4tN"}"#,
            &s
        ));
        assert!(may_have_copies(r#"{"a":"Zq8vK2mPx7LwR4tN a\/b"}"#, &s));
        assert!(may_have_copies(
            r#"{"a":"Zq8vK2mPx7LwR4tN","b":"Zq8vK2mPx7LwR4tN"}"#,
            &s
        ));
    }
}
