//! E-mail addresses written out to dodge harvesters: `jane(at)example.com`, `jane [at] example
//! [dot] com`, `jane dot doe at gmail dot com`. People paste them so in support chats and forums.
//!
//! The `at` must be bracketed, or the domain must spell at least one dot out (`dot`): a plain
//! `at` before a dotted name is ordinary English (`we met at example.com`). The address ends in a
//! known top-level domain, so `look at this dot product` stays.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};

use super::{ENT_EMAIL, Finding};

/// Top-level domains an obfuscated address must end in (lower case).
const TLDS: &[&[u8]] = &[
    b"com", b"net", b"org", b"edu", b"gov", b"mil", b"int", b"io", b"co", b"uk", b"de", b"fr",
    b"es", b"it", b"nl", b"be", b"ch", b"at", b"se", b"no", b"dk", b"fi", b"pl", b"ru", b"ua",
    b"cz", b"sk", b"hu", b"ro", b"gr", b"pt", b"ie", b"us", b"ca", b"au", b"nz", b"jp", b"cn",
    b"kr", b"in", b"br", b"mx", b"ar", b"cl", b"za", b"tr", b"il", b"ae", b"sg", b"hk", b"tw",
    b"my", b"id", b"th", b"vn", b"ph", b"info", b"biz", b"me", b"tv", b"app", b"dev", b"ai", b"eu",
    b"email", b"mail",
];

/// Words before a plain ` at ` that make it English, not an address.
const LOCAL_STOP: &[&[u8]] = &[
    b"us",
    b"me",
    b"you",
    b"him",
    b"her",
    b"them",
    b"we",
    b"it",
    b"is",
    b"was",
    b"be",
    b"are",
    b"look",
    b"looking",
    b"find",
    b"visit",
    b"meet",
    b"see",
    b"stay",
    b"here",
    b"there",
    b"available",
    b"online",
    b"arrive",
    b"live",
    b"work",
    b"works",
    b"working",
    b"value",
    b"one",
    b"site",
    b"page",
    b"home",
    b"write",
    b"reach",
    b"call",
    b"message",
];

/// A bracketed `at` or a spelled dot (lower case): where an address may be. The secret walk
/// has them as anchors (in three cases); `scan` searches for them without it.
pub(crate) const MARKERS: &[&str] = &[
    "(at)", "[at]", "{at}", "<at>", " dot ", "(dot)", "[dot]", "{dot}",
];

fn markers() -> &'static AhoCorasick {
    static M: OnceLock<AhoCorasick> = OnceLock::new();
    M.get_or_init(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(MARKERS)
            .expect("obfuscated e-mail markers build")
    })
}

fn local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn label_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// A spelled or bracketed dot at `p` (with spaces around it): its end and whether it was
/// spelled out. A plain `.` counts (not spelled) when a label follows it.
fn dot_at(b: &[u8], p: usize) -> Option<(usize, bool)> {
    if b.get(p) == Some(&b'.') && b.get(p + 1).is_some_and(|&c| label_char(c)) {
        return Some((p + 1, false));
    }
    let mut q = p;
    while b.get(q) == Some(&b' ') && q - p < 2 {
        q += 1;
    }
    let rest = &b[q.min(b.len())..];
    for form in [&b"(dot)"[..], b"[dot]", b"{dot}", b"<dot>", b"dot"] {
        if rest.len() >= form.len() && rest[..form.len()].eq_ignore_ascii_case(form) {
            let mut e = q + form.len();
            // A bare `dot` needs spaces on both sides; bracketed ones may be glued.
            let bare = form.len() == 3;
            if bare && (q == p || b.get(e) != Some(&b' ')) {
                return None;
            }
            while b.get(e) == Some(&b' ') && e - q - form.len() < 2 {
                e += 1;
            }
            return b
                .get(e)
                .is_some_and(|&c| label_char(c))
                .then_some((e, true));
        }
    }
    None
}

/// The domain after the `at` marker ending at `p`: labels joined by dots, the last a known
/// top-level domain. Returns its end and whether a dot was spelled out.
fn domain(b: &[u8], p: usize) -> Option<(usize, bool)> {
    let mut q = p;
    let mut spelled = false;
    let mut labels = 0;
    let mut end = None;
    while labels < 6 {
        let s = q;
        while q < b.len() && q - s < 63 && label_char(b[q]) {
            q += 1;
        }
        if q == s {
            break;
        }
        labels += 1;
        if labels >= 2 && TLDS.iter().any(|t| b[s..q].eq_ignore_ascii_case(t)) {
            end = Some((q, spelled));
        }
        match dot_at(b, q) {
            Some((e, sp)) => {
                spelled |= sp;
                q = e;
            }
            None => break,
        }
    }
    let (e, sp) = end?;
    // The address ends at the top-level domain (a word may not go on after it).
    b.get(e)
        .is_none_or(|c| !c.is_ascii_alphanumeric())
        .then_some((e, sp))
}

/// The local part before the `at` marker starting at `p`: local characters, possibly joined by
/// spelled dots (`jane dot doe`).
fn local(b: &[u8], p: usize) -> Option<(usize, bool)> {
    let mut s = p;
    let mut spelled = false;
    loop {
        let e = s;
        while s > 0 && e - s < 64 && local_char(b[s - 1]) {
            s -= 1;
        }
        if s == e {
            return None;
        }
        // ` dot ` before this piece joins another piece.
        let before = &b[..s];
        if before.len() >= 6 && before[before.len() - 5..].eq_ignore_ascii_case(b" dot ") {
            let k = before.len() - 5;
            if k > 0 && local_char(b[k - 1]) {
                s = k;
                spelled = true;
                continue;
            }
        }
        break;
    }
    // A word, not the tail of something else (`x@y at z`).
    if s > 0 && (b[s - 1] == b'@' || b[s - 1].is_ascii_alphanumeric()) {
        return None;
    }
    Some((s, spelled))
}

/// The last plain ` at ` (any case) that ends at or before `before`, within 80 bytes.
fn plain_at_before(b: &[u8], before: usize) -> Option<(usize, usize)> {
    let from = before.saturating_sub(80);
    let hay = &b[from..before];
    (0..hay.len().saturating_sub(3))
        .rev()
        .find(|&k| hay[k..k + 4].eq_ignore_ascii_case(b" at "))
        .map(|k| (from + k, from + k + 4))
}

/// The address around the marker found at `ms..me` (a bracketed `at`, or a spelled dot that a
/// plain ` at ` may precede), if it is one.
pub(crate) fn at_marker(b: &[u8], ms: usize, me: usize) -> Option<(usize, usize)> {
    let inner = b.get(ms + 1..me.checked_sub(1)?)?;
    let (ms, me) = if inner.eq_ignore_ascii_case(b"dot") {
        plain_at_before(b, ms + 1)?
    } else {
        (ms, me)
    };
    let bracketed = b[ms] != b' ';
    // Spaces around a bracketed marker are allowed (`jane (at) example.com`).
    let mut ls = ms;
    if bracketed && ls > 0 && b[ls - 1] == b' ' {
        ls -= 1;
    }
    let mut de = me;
    if bracketed && b.get(de) == Some(&b' ') {
        de += 1;
    }
    let (s, local_spelled) = local(b, ls)?;
    let (e, domain_spelled) = domain(b, de)?;
    // After a plain `at`, words that English puts before `at` are not a mailbox (`find us at
    // example dot com` names a web site).
    let plain_word =
        !bracketed && !local_spelled && LOCAL_STOP.iter().any(|w| b[s..ls].eq_ignore_ascii_case(w));
    (ls - s >= 2 && (bracketed || domain_spelled) && !plain_word).then_some((s, e))
}

/// Pushes every obfuscated address in `text` as an e-mail finding: the search the secret walk
/// does, for policies without SECRET.
pub(crate) fn scan(text: &str, out: &mut Vec<Finding>) {
    let b = text.as_bytes();
    let mut done = 0;
    for m in markers().find_iter(b) {
        if m.start() < done {
            continue;
        }
        if let Some((s, e)) = at_marker(b, m.start(), m.end()) {
            out.push(Finding::new(s, e, ENT_EMAIL));
            done = e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(t: &str) -> Vec<&str> {
        let mut v = Vec::new();
        scan(t, &mut v);
        v.iter()
            .map(|f| &t[f.start as usize..f.end as usize])
            .collect()
    }

    #[test]
    fn written_out_addresses() {
        assert_eq!(
            found("reach me at jane(at)gmail.com ok"),
            ["jane(at)gmail.com"]
        );
        assert_eq!(
            found("mail jane.doe [at] example [dot] co [dot] uk please"),
            ["jane.doe [at] example [dot] co [dot] uk"]
        );
        assert_eq!(
            found("it is jane dot doe at gmail dot com, thanks"),
            ["jane dot doe at gmail dot com"]
        );
        assert_eq!(
            found("JOHN AT EXAMPLE DOT ORG"),
            ["JOHN AT EXAMPLE DOT ORG"]
        );
        assert_eq!(
            found("xy {at} mail.example.de"),
            ["xy {at} mail.example.de"]
        );
        assert_eq!(
            found("write to support at acme dot com"),
            ["support at acme dot com"]
        );
    }

    #[test]
    fn ordinary_english_stays() {
        for t in [
            "we met at example.com last week",
            "look at this dot product",
            "meet me at noon dot",
            "I'm at home dot com is a site",
            "arrive at gate dot 5",
            "jane at gmail.com",
            "the value at index dot com",
            "find us at example dot com",
        ] {
            assert!(found(t).is_empty(), "{t}");
        }
        // A spelled dot, but no known top-level domain.
        assert!(found("jane at acme dot internal").is_empty());
        assert!(found("see x(at)y").is_empty());
    }
}
