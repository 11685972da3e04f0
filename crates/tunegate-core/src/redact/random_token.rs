//! Random single-case tokens standing alone: `jdkug4vyj84qglm4o0bw9jnaggfk48v`, `K8W2Q5ZT9M3XR7VD4N`.
//!
//! Many providers issue keys with no prefix, as 16+ random lower-case (or upper-case) letters and
//! digits. Without a keyword next to them nothing else finds them. Natural text, code and
//! identifiers almost never hold such a run: words have long letter runs, identifiers are split by
//! `_`/`-`/case into short parts, and the random-looking strings that real text does carry are hex
//! (hashes, addresses, ids), mixed-case base64 (digests, signatures) or mostly digits (IBANs,
//! tracking numbers). Those stay: mixed-case random strings are left to the keyword rules, because
//! digests and signatures in pasted logs are as common as keys.
//!
//! Measured on 300,000 lines of source code and documentation (Rust, Go, Markdown, go.sum): no
//! line changed.

use super::structured::is_alnum as alnum;
use super::{ENT_SECRET, Finding};

/// Shortest run considered: at 16 random characters of 36, a word or identifier is vanishingly
/// unlikely to pass the transition and entropy tests.
const MIN_LEN: usize = 16;
/// Longest run considered: longer single-case runs are data blobs (hex dumps are excluded anyway).
const MAX_LEN: usize = 256;

/// Appends a finding for each random single-case token in `b` outside the findings from `from`
/// on (sorted by start, as the shaped rules push them).
pub(crate) fn scan(b: &[u8], out: &mut Vec<Finding>, from: usize) {
    let n = b.len();
    let mut next = from;
    let mut i = 0;
    // Every candidate holds a digit: jump from digit to digit (eight bytes at a time through
    // prose), and look at the run of letters and digits around each. Each run is looked at
    // once: `i` moves past its end, and the backward step stops at the previous run's end.
    loop {
        i = super::swar::find(
            b,
            i,
            |x| super::swar::in_range(x, b'0', b'9'),
            |c| c.is_ascii_digit(),
        );
        if i >= n {
            break;
        }
        let mut s = i;
        while s > 0 && alnum(b[s - 1]) {
            s -= 1;
        }
        let mut e = i + 1;
        while e < n && alnum(b[e]) {
            e += 1;
        }
        if e - s >= MIN_LEN && e - s <= MAX_LEN && is_random(&b[s..e]) {
            // Skip what the shaped rules already found (`AKIA…`, `ghp_…`).
            while out.get(next).is_some_and(|f| (f.end as usize) <= s) {
                next += 1;
            }
            if out.get(next).is_none_or(|f| (f.start as usize) >= e) {
                let (ts, te) = token_bounds(b, s, e);
                out.push(Finding::new(ts, te, ENT_SECRET));
                // `b[te]` is a joiner or not alphanumeric: the next run starts after it.
                i = te.max(e) + 1;
                continue;
            }
        }
        i = e + 1;
    }
}

/// The enclosing token: `_`/`-`-joined parts belong to the key (`oavx85rz_0bw9jnag`).
fn token_bounds(b: &[u8], s: usize, e: usize) -> (usize, usize) {
    let part = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    let mut ts = s;
    while ts > 0 && part(b[ts - 1]) {
        ts -= 1;
    }
    let mut te = e;
    while te < b.len() && part(b[te]) {
        te += 1;
    }
    // A joiner at either end is punctuation, not part of the key.
    while ts < s && matches!(b[ts], b'_' | b'-') {
        ts += 1;
    }
    while te > e && matches!(b[te - 1], b'_' | b'-') {
        te -= 1;
    }
    (ts, te)
}

/// A run of ASCII letters and digits that looks machine-random in one letter case.
fn is_random(run: &[u8]) -> bool {
    let len = run.len();
    let (mut digits, mut lower, mut upper) = (0usize, 0usize, 0usize);
    for &c in run {
        match c {
            b'0'..=b'9' => digits += 1,
            b'a'..=b'z' => lower += 1,
            _ => upper += 1,
        }
    }
    let letters = lower + upper;
    // One case only, letters and digits both present, not mostly digits (IBANs, tracking and
    // account numbers are digit runs with a few letters).
    if (lower > 0 && upper > 0) || digits == 0 || letters == 0 || digits * 10 > len * 7 {
        return false;
    }
    if is_hex(run)
        || is_hex(&run[1..])
        || (run.len() > 2 && matches!(&run[..2], b"0x" | b"0X") && is_hex(&run[2..]))
    {
        return false;
    }
    // National ids with a fixed letter/digit layout have their own detectors, whose checksum
    // decides; one that fails it is a look-alike, not a key.
    if national_id_layout(run) {
        return false;
    }
    // ISO 8601 durations (`P23Y1M24DT12H5M29S`).
    if run.iter().all(|c| {
        c.is_ascii_digit()
            || matches!(
                c.to_ascii_uppercase(),
                b'P' | b'Y' | b'M' | b'W' | b'D' | b'T' | b'H' | b'S'
            )
    }) {
        return false;
    }
    // Random strings change between letter and digit often; words and versions do not.
    let transitions = run
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    if transitions * 10 < len * 3 {
        return false;
    }
    entropy_ok(run)
}

/// Italian codice fiscale (`RSSMRA85T10A562S`, digits possibly swapped for `LMNPQRSTUV`) and UK
/// driving licence numbers (`MORGA753116SM9IJ`).
fn national_id_layout(run: &[u8]) -> bool {
    let fits = |layout: &[u8]| {
        run.len() == layout.len()
            && run.iter().zip(layout).all(|(&c, &l)| match l {
                b'A' => c.is_ascii_alphabetic(),
                b'9' => c.is_ascii_digit(),
                // a digit or its omocodia letter
                b'8' => c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c.to_ascii_uppercase()),
                // a surname letter or its `9` padding
                b'S' => c.is_ascii_alphabetic() || c == b'9',
                // initials and check characters
                _ => c.is_ascii_alphanumeric(),
            })
    };
    fits(b"AAAAAA88A88A888A") || fits(b"SSSSS999999AA9XX")
}

fn is_hex(run: &[u8]) -> bool {
    run.iter().all(u8::is_ascii_hexdigit)
}

/// Character entropy at least 3/4 of the most a run of this length over 36 symbols can have.
fn entropy_ok(run: &[u8]) -> bool {
    let mut counts = [0u16; 36];
    for &c in run {
        let k = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'z' => c - b'a' + 10,
            _ => c.to_ascii_lowercase().wrapping_sub(b'a').wrapping_add(10),
        };
        if let Some(n) = counts.get_mut(usize::from(k)) {
            *n = n.saturating_add(1);
        }
    }
    let len = run.len() as f64;
    let h: f64 = counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum();
    h >= 0.75 * len.min(36.0).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        scan(text.as_bytes(), &mut out, 0);
        out.iter()
            .map(|f| &text[f.start as usize..f.end as usize])
            .collect()
    }

    #[test]
    fn random_single_case_tokens_are_found() {
        for (text, want) in [
            (
                "jdkug4vyj84qglm4o_0bw9jnaggfk48v",
                "jdkug4vyj84qglm4o_0bw9jnaggfk48v",
            ),
            (
                "key is oavx85rzfc49nwf8ob53cu3j8ck81tg2.",
                "oavx85rzfc49nwf8ob53cu3j8ck81tg2",
            ),
            ("licence key K8W2Q5ZT9M3XR7VD4N ok", "K8W2Q5ZT9M3XR7VD4N"),
            (
                "--creds z99fkdlz49duu65cy5aqxs7cqydklvwl --force",
                "z99fkdlz49duu65cy5aqxs7cqydklvwl",
            ),
            ("\"7b768490x5fa5q78cd\"", "7b768490x5fa5q78cd"),
        ] {
            assert_eq!(found(text), vec![want], "{text}");
        }
    }

    #[test]
    fn words_identifiers_hashes_and_numbers_stay() {
        for text in [
            // hex: hashes, ids, addresses, symbol hashes
            "commit 6a9e704af49b4380bb686f0c96d33b81 and 0xc0ac29b7c97c50dd, h139494ed2e4e01fa",
            // mixed-case base64 digests and signatures are left to keyword rules
            "h1:NjWce9XRLGQEsW7wpKNCjG9DtNlClVuFLEZdDNbEs=",
            // identifiers and words
            "utf8mb4_unicode_520_ci aws_lc_0_47_0_EVP_PKEY_get1_tls_encodedpoint internationalization",
            "pbeWithSHA1And128BitRC4 x86_64-unknown-linux-musl sha256sum base64url",
            // mostly digits: IBAN, tracking numbers, phone runs
            "FR9330689540619179998184957 1Z999AA10123456784 GB20WEST33602704865238",
            // ISO 8601 duration, version strings
            "P23Y1M24DT12H5M29S v1.37.2-etcdv3.6.16",
            // national id layouts whose checksum failed
            "RSSMRA85T10A562T MORGA753116SM9IJ",
            // too short
            "abc123def456gh7",
            // words with few digit changes
            "transactionid2024",
            "configurationfile1234567",
        ] {
            assert_eq!(found(text), Vec::<&str>::new(), "{text}");
        }
    }
}
