//! Random tokens standing alone: `jdkug4vyj84qglm4o0bw9jnaggfk48v`, `K8W2Q5ZT9M3XR7VD4N`,
//! `Jc9iRfRI6QIYL2nnPfS6ItQ3hFve9YhS4DlFBOfG`.
//!
//! Many providers issue keys with no prefix, as 16+ random letters and digits. Without a keyword
//! next to them nothing else finds them. Natural text, code and identifiers almost never hold such
//! a run: words have long letter runs made of common letter pairs, and identifiers are split by
//! `_`/`-`/case into word-like parts. Two signals tell random from written:
//! - letter/digit changes: random strings change between letters and digits often;
//! - letter pairs: inside random letters most pairs are rare in words (`kj`, `qe`, `zy`), inside
//!   words and identifiers most are common (`th`, `er`, `id`). `pairs.rs` holds the weights.
//!
//! The random-looking strings that real text does carry stay: hex (hashes, addresses, ids), mostly
//! digits (IBANs, tracking numbers) and base64 digests marked as such (`h1:…`, `sha512-…`).
//! Mixed-case tokens also need many case changes (`HXe8DGg1iJd2`, not `pbeWithSHA1And128BitRC4`).
//!
//! Measured on 300,000 lines of source code and documentation (Rust, Go, Markdown, go.sum): see
//! docs/redaction.md (mostly PEM bodies of test keys and certificates are masked).

use super::pairs::LETTER_PAIR_WEIGHT;
use super::structured::is_alnum as alnum;
use super::{ENT_SECRET, Finding};

/// Shortest run (or joined token) considered: at 16 random characters, a word or identifier is
/// vanishingly unlikely to pass the letter-pair, transition and entropy tests.
const MIN_LEN: usize = 16;
/// Longest run considered: longer single-case runs are data blobs (hex dumps are excluded anyway).
const MAX_LEN: usize = 256;

/// Appends a finding for each random token in `b` outside the findings from `from` on (sorted by
/// start, as the shaped rules push them). Out of line: whether it is inlined into
/// `Engine::find_with` changes with unrelated edits there, and inlined it cost about 2 M
/// instructions per dense MB (bounds checks in the walk loop no longer removed).
#[inline(never)]
pub(crate) fn scan(b: &[u8], out: &mut Vec<Finding>, from: usize) {
    let n = b.len();
    let mut next = from;
    let mut i = 0;
    // Public PEM/PGP blocks, looked for at the first random token only: most strings have no
    // random token and need no search.
    let mut public: Option<Vec<std::ops::Range<usize>>> = None;
    // Where the last joined token judged whole ends: its other runs are not judged whole again
    // (linear time on `1_1_1_...`).
    let mut joined_seen_to = 0;
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
        let long_run = (MIN_LEN..=MAX_LEN).contains(&(e - s));
        // Base64 splits into short runs at `-`/`_` (URL-safe) and `+`/`/` (standard):
        // `Xb1Mk2nEhe-4icrGOuegj57zMC`, `VST8yIozGB/kpCL9hgsbfK/38Y5oA1XTQ+zIvnHk`.
        let joiner = |c: u8| matches!(c, b'_' | b'-' | b'+' | b'/');
        let joined = (s > 0 && joiner(b[s - 1])) || (e < n && joiner(b[e]));
        if !long_run && !joined {
            i = e + 1;
            continue;
        }
        // Skip what the shaped rules already found (`AKIA…`, `ghp_…`).
        while out.get(next).is_some_and(|f| (f.end as usize) <= s) {
            next += 1;
        }
        if out.get(next).is_some_and(|f| (f.start as usize) < e) {
            i = e + 1;
            continue;
        }
        let run = &b[s..e];
        let (digits, lower, upper) = counts(run);
        let mut mixed = lower > 0 && upper > 0;
        let mut random = long_run
            && if mixed {
                is_random_mixed(run, digits, run.len())
            } else {
                is_random_single(run, digits, lower + upper)
            };
        // A joined token is judged from a run that could be part of random base64: one of both
        // letter cases or of six characters and more. Short one-case runs (`2024-05-01`, `x86_64`,
        // `utf-8`) leave it to the token's next run.
        let judge_joined = !random
            && joined
            && (mixed || (run.len() >= 6 && lower + upper > 0))
            && s >= joined_seen_to;
        let (mut ts, mut te) = if random || judge_joined {
            token_bounds(b, s, e)
        } else {
            (s, e)
        };
        // Mixed case is also judged over the joined parts; single case is not, as identifiers
        // join single-case parts (`aws_lc_0_47_0`).
        if judge_joined {
            let (bs, be) = base64_bounds(b, ts, te);
            joined_seen_to = be;
            let token = &b[bs..be];
            let (d, l, u) = counts(token);
            if (MIN_LEN..=MAX_LEN).contains(&(be - bs))
                && l > 0
                && u > 0
                && mostly_mixed_parts(token)
                && is_random_mixed(token, d, d + l + u)
                && longest_part_random(token)
            {
                random = true;
                mixed = true;
                (ts, te) = (bs, be);
            }
        }
        if random {
            let token = &b[ts..te];
            // Validators beat randomness: a token a shaped rule refused, a placeholder, a value
            // its key calls public, a digest or public key material stays.
            // A token that calls itself an example anywhere in the base64 bounds the finding
            // would take (`SAMPLE…/…`, whose runs look random one by one) stays, as does one
            // shown with its rest masked out (`MIIBOgIBAAJB****…`, `…****Xme/ovcDeM1`).
            let (fs, fe) = if mixed {
                base64_bounds(b, ts, te)
            } else {
                (ts, te)
            };
            let keep = super::secrets::has_shaped_prefix(token)
                || super::secrets::placeholder_token(token)
                || super::secrets::marked_example(&b[fs..fe])
                || super::secrets::masked_tail(b, fe)
                || (fs >= 3 && b[fs - 3..fs] == *b"***")
                || super::secrets::public_client_token(token)
                || public
                    .get_or_insert_with(|| public_armor(b))
                    .iter()
                    .any(|r| r.contains(&ts))
                || named_no_secret(b, ts)
                || (mixed && (after_digest_label(b, s) || wallet_shaped(run) || dotted(b, ts, te)));
            if !keep && out.get(next).is_none_or(|f| (f.start as usize) >= te) {
                let (ts, te) = (fs, fe);
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
    // At most MAX_LEN bytes each way: a longer token is no candidate, and the bound keeps the
    // scan linear on endless joined text.
    let mut ts = s;
    while ts > 0 && s - ts < MAX_LEN && part(b[ts - 1]) {
        ts -= 1;
    }
    let mut te = e;
    while te < b.len() && te - e < MAX_LEN && part(b[te]) {
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

/// Most public armor blocks looked at in one string; later ones are scanned as text.
const MAX_ARMOR_BLOCKS: usize = 64;

/// The bodies of the PEM/PGP armor blocks holding public material (certificates, public keys,
/// signatures): random base64 that is not secret. Private keys are found by their own rule. No
/// allocation unless the string has such a block.
fn public_armor(b: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut blocks = Vec::new();
    let mut at = 0;
    while blocks.len() < MAX_ARMOR_BLOCKS {
        let Some(k) = memchr::memmem::find(&b[at..], b"-----BEGIN ") else {
            break;
        };
        let label_start = at + k + 11;
        let Some(l) = memchr::memmem::find(&b[label_start..], b"-----") else {
            break;
        };
        let label_end = label_start + l;
        let label = &b[label_start..label_end];
        let end =
            memchr::memmem::find(&b[label_end..], b"-----END ").map_or(b.len(), |k| label_end + k);
        let public = [
            &b"CERTIFICATE"[..],
            b"PUBLIC KEY",
            b"SIGNATURE",
            b"SIGNED MESSAGE",
        ]
        .iter()
        .any(|w| memchr::memmem::find(label, w).is_some());
        if public && memchr::memmem::find(label, b"PRIVATE").is_none() {
            blocks.push(label_end..end);
        }
        at = end.max(label_end);
    }
    blocks
}

/// Digit, lower-case and upper-case letter counts of a run.
fn counts(token: &[u8]) -> (usize, usize, usize) {
    let (mut digits, mut lower, mut upper) = (0usize, 0usize, 0usize);
    for &c in token {
        match c {
            b'0'..=b'9' => digits += 1,
            b'a'..=b'z' => lower += 1,
            b'A'..=b'Z' => upper += 1,
            _ => {}
        }
    }
    (digits, lower, upper)
}

/// Hex, with or without one leading character or `0x`: hashes, addresses, ids.
fn hex_like(run: &[u8]) -> bool {
    is_hex(run)
        || is_hex(&run[1..])
        || (run.len() > 2 && matches!(&run[..2], b"0x" | b"0X") && is_hex(&run[2..]))
}

/// Letters of both cases and digits (joiners aside; `chars` counts the rest) that look like
/// random base64 (`Jc9iRfRI6QIYL2nnPfS6ItQ3hFve9YhS`), not like an identifier.
fn is_random_mixed(run: &[u8], digits: usize, chars: usize) -> bool {
    if digits == 0 || digits * 10 > chars * 7 || hex_like(run) {
        return false;
    }
    if counting(run) || iso_duration(run) {
        return false;
    }
    let (pair_sum, pairs) = letter_pairs(run);
    // Identifiers have word-like parts of three or more characters (`pbeWithSHA1And128Bit`);
    // random base64 changes class every 1.6 characters on average.
    let segs = segments(run);
    // Digit-heavy tokens have few letter pairs to judge; they need even shorter parts.
    let shaped = if pairs >= 4 {
        pair_sum < 0 && chars <= 3 * segs
    } else {
        pair_sum <= 0 && chars <= 2 * segs
    };
    shaped && entropy_ok(run, false)
}

/// Whether most characters of a joined token sit in parts of both letter cases: parts of random
/// base64 do (`Xb1Mk2nEhe-4iUcrGOuegj57zMC`), identifiers' parts are words and abbreviations
/// (`EVP_aes_192_cfb8`, `SN_id_HMACGostR3411_94`).
fn mostly_mixed_parts(token: &[u8]) -> bool {
    // Parts of four or fewer characters often miss a case in random text too: they do not count.
    let (mut mixed, mut long) = (0usize, 0usize);
    for p in token
        .split(|&c| matches!(c, b'_' | b'-' | b'+' | b'/' | b'='))
        .filter(|p| p.len() > 4)
    {
        long += p.len();
        if p.iter().any(u8::is_ascii_uppercase) && p.iter().any(u8::is_ascii_lowercase) {
            mixed += p.len();
        }
    }
    // Sixteen characters of mixed-case parts at least: enough randomness to judge, and more than
    // identifiers' parts hold (`id-GostR3410-94-a`).
    mixed >= MIN_LEN && mixed * 4 >= long * 3
}

/// The longest part of a joined token, from twelve characters on, must look random by itself:
/// `HMACGostR3411` in `SN_id_HMACGostR3411_94` does not.
fn longest_part_random(token: &[u8]) -> bool {
    let longest = token
        .split(|&c| matches!(c, b'_' | b'-' | b'+' | b'/' | b'='))
        .max_by_key(|p| p.len())
        .unwrap_or_default();
    if longest.len() < 12 {
        return true;
    }
    let (d, l, u) = counts(longest);
    if l == 0 || u == 0 {
        return true;
    }
    is_random_mixed(longest, d, longest.len())
}

/// A run of letters of one case and digits that looks machine-random.
fn is_random_single(run: &[u8], digits: usize, letters: usize) -> bool {
    let len = run.len();
    // Letters and digits both present, not mostly digits (IBANs, tracking and account numbers
    // are digit runs with a few letters).
    if digits == 0 || letters == 0 || digits * 10 > len * 7 {
        return false;
    }
    if hex_like(run) {
        return false;
    }
    // National ids with a fixed letter/digit layout have their own detectors, whose checksum
    // decides; one that fails it is a look-alike, not a key.
    if national_id_layout(run) {
        return false;
    }
    if iso_duration(run) {
        return false;
    }
    // Random strings change between letter and digit often, or their letters do not pair like
    // words (`95987l4x07loznc68uvkukjqedbmtwn8` has long letter runs, all of them unreadable);
    // words and versions do neither.
    let transitions = run
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    if counting(run) {
        return false;
    }
    // Mean pair weight below -1/2 bit (weights are in quarter bits).
    let unreadable = || {
        let (pair_sum, pairs) = letter_pairs(run);
        pairs >= 6 && pair_sum < -2 * i32::from(pairs)
    };
    (transitions * 10 >= len * 3 || unreadable()) && entropy_ok(run, true)
}

/// One part of a dotted token (`header.payload.signature`: JWTs, Discord bot tokens, SendGrid
/// keys, Fernet tokens): their own rules check the parts; one they refused is a look-alike.
fn dotted(b: &[u8], s: usize, e: usize) -> bool {
    let part = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    let long_part =
        |r: &mut dyn Iterator<Item = &u8>| r.take_while(|&&c| part(c)).take(2).count() >= 2;
    (e < b.len() && b[e] == b'.' && long_part(&mut b[e + 1..].iter()))
        || (s > 0 && b[s - 1] == b'.' && long_part(&mut b[..s - 1].iter().rev()))
}

/// A value whose key says it is no credential (`public_key = "…"`, `"credentialId": "…"`,
/// `authenticity_token=…`): the keyword rules refused it, and randomness does not overrule them.
fn named_no_secret(b: &[u8], ts: usize) -> bool {
    let mut k = ts;
    // Back over the quote and the assignment: `": "`, ` = '`, `=`.
    let mut steps = 0;
    while k > 0 && steps < 6 && matches!(b[k - 1], b'"' | b'\'' | b' ' | b'=' | b':' | b'\t') {
        k -= 1;
        steps += 1;
    }
    if k == ts || k == 0 {
        return false;
    }
    let end = k;
    while k > 0
        && end - k < 48
        && (b[k - 1].is_ascii_alphanumeric() || matches!(b[k - 1], b'_' | b'-'))
    {
        k -= 1;
    }
    super::secrets::name_refuses_secret(&b[k..end])
}

/// ISO 8601 durations in either case (`P23Y1M24DT12H5M29S`, `P1y2m3w4dT5h6m7s`).
fn iso_duration(run: &[u8]) -> bool {
    run.iter().all(|c| {
        c.is_ascii_digit()
            || matches!(
                c.to_ascii_uppercase(),
                b'P' | b'Y' | b'M' | b'W' | b'D' | b'T' | b'H' | b'S'
            )
    })
}

/// Alphabets and counting (`ABCDEFGHIJKLMNOPQRSTUVWXYZ234567`, `0123456789abcdef`): a quarter
/// or more of the neighbours are consecutive characters.
fn counting(run: &[u8]) -> bool {
    let steps = run
        .windows(2)
        .filter(|w| w[1].to_ascii_lowercase() == w[0].to_ascii_lowercase().wrapping_add(1))
        .count();
    steps * 4 >= run.len()
}

/// Bitcoin-style Base58Check addresses (`1…`/`3…`, 26-35 characters, no `0OIl`): the wallet
/// detector's checksum decides; one that fails it is a look-alike.
fn wallet_shaped(token: &[u8]) -> bool {
    (26..=35).contains(&token.len())
        && matches!(token[0], b'1' | b'3')
        && token
            .iter()
            .all(|c| c.is_ascii_alphanumeric() && !matches!(c, b'0' | b'O' | b'I' | b'l'))
}

/// Sum of the letter-pair weights inside the run's words, and how many pairs: words are split
/// at case changes as in identifiers (`getHTTPServer` is `get`, `http`, `server`).
pub(crate) fn letter_pairs(run: &[u8]) -> (i32, u16) {
    let (mut sum, mut pairs) = (0i32, 0u16);
    for (i, w) in run.windows(2).enumerate() {
        let (a, b) = (w[0], w[1]);
        if !a.is_ascii_alphabetic() || !b.is_ascii_alphabetic() {
            continue;
        }
        let same_word = match (a.is_ascii_uppercase(), b.is_ascii_uppercase()) {
            (false, true) => false,
            // The last capital before lower case starts the next word (`HTTPServer`).
            (true, true) => !run.get(i + 2).is_some_and(u8::is_ascii_lowercase),
            _ => true,
        };
        if same_word {
            let k = usize::from(a.to_ascii_lowercase() - b'a') * 26
                + usize::from(b.to_ascii_lowercase() - b'a');
            sum += i32::from(LETTER_PAIR_WEIGHT.get(k).copied().unwrap_or(0));
            pairs = pairs.saturating_add(1);
        }
    }
    (sum, pairs)
}

/// Identifier-like parts: digit runs, and words split at case changes.
fn segments(run: &[u8]) -> usize {
    let mut n = 0;
    for (i, &c) in run.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            continue;
        }
        let starts = match i.checked_sub(1).and_then(|p| run.get(p)) {
            None => true,
            Some(&p) if !p.is_ascii_alphanumeric() => true,
            Some(&p) => {
                p.is_ascii_digit() != c.is_ascii_digit()
                    || (p.is_ascii_lowercase() && c.is_ascii_uppercase())
                    || (p.is_ascii_uppercase()
                        && c.is_ascii_uppercase()
                        && run.get(i + 1).is_some_and(u8::is_ascii_lowercase))
            }
        };
        n += usize::from(starts);
    }
    n
}

/// Base64 digests say what they are: Go module sums (`h1:…`) and subresource integrity
/// (`sha512-…`). `s` is the start of a run inside the base64 text.
fn after_digest_label(b: &[u8], s: usize) -> bool {
    let mut j = s;
    while j > 0
        && s - j < MAX_LEN
        && (alnum(b[j - 1]) || matches!(b[j - 1], b'+' | b'/' | b'-' | b'_'))
    {
        j -= 1;
    }
    let starts = |label: &[u8]| {
        b.len() - j >= label.len() && b[j..j + label.len()].eq_ignore_ascii_case(label)
    };
    // `h1:` (Go checksums), `sha256:` (image and content digests).
    [
        &b"h1:"[..],
        b"sha1:",
        b"sha256:",
        b"sha384:",
        b"sha512:",
        b"md5:",
    ]
    .iter()
    .any(|l| j >= l.len() && b[j - l.len()..j].eq_ignore_ascii_case(l))
        || [&b"sha1-"[..], b"sha256-", b"sha384-", b"sha512-"]
            .iter()
            .any(|label| starts(label))
}

/// A mixed-case token spans the base64 text around it: `+`/`/`-joined parts that are not plain
/// lower-case words (path segments stay), and `=` padding.
fn base64_bounds(b: &[u8], mut ts: usize, mut te: usize) -> (usize, usize) {
    // At most MAX_LEN bytes each way (see `token_bounds`).
    let (s0, e0) = (ts, te);
    let part = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    // Any part after `+`; after `/` not a lower-case word (a path segment).
    let coded = |sep: u8, p: &[u8]| {
        !p.is_empty()
            && (sep == b'+'
                || p.iter()
                    .any(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    };
    while te < b.len() && te - e0 < MAX_LEN && matches!(b[te], b'+' | b'/') {
        // `//` and `++` occur inside base64 too.
        let mut j = te;
        while j < b.len() && j - e0 <= MAX_LEN && matches!(b[j], b'+' | b'/') {
            j += 1;
        }
        let mut k = j;
        while k < b.len() && k - e0 <= MAX_LEN && part(b[k]) {
            k += 1;
        }
        if !coded(b[j - 1], &b[j..k]) {
            break;
        }
        te = k;
    }
    let mut pad = 0;
    while pad < 2 && te < b.len() && b[te] == b'=' {
        te += 1;
        pad += 1;
    }
    while ts > 0 && s0 - ts < MAX_LEN && matches!(b[ts - 1], b'+' | b'/') {
        let mut j = ts;
        while j > 0 && s0 - j <= MAX_LEN && matches!(b[j - 1], b'+' | b'/') {
            j -= 1;
        }
        let mut k = j;
        while k > 0 && s0 - k <= MAX_LEN && part(b[k - 1]) {
            k -= 1;
        }
        if !coded(b[j], &b[k..j]) {
            break;
        }
        ts = k;
    }
    (ts, te)
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

/// Character entropy at least 3/4 of the most a run of this length can have over its alphabet:
/// 36 symbols when letter case is folded, 62 when it is not. Joiners (`_`, `-`) do not count.
fn entropy_ok(run: &[u8], fold_case: bool) -> bool {
    let mut counts = [0u16; 62];
    let mut total = 0u16;
    for &c in run {
        let k = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'z' => c - b'a' + 10,
            _ if fold_case => c.to_ascii_lowercase().wrapping_sub(b'a').wrapping_add(10),
            _ => c.wrapping_sub(b'A').wrapping_add(36),
        };
        if let Some(n) = counts.get_mut(usize::from(k)) {
            *n = n.saturating_add(1);
            total = total.saturating_add(1);
        }
    }
    let len = f64::from(total);
    let h: f64 = counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = f64::from(n) / len;
            -p * p.log2()
        })
        .sum();
    let alphabet = if fold_case { 36.0 } else { 62.0 };
    h >= 0.75 * len.min(alphabet).log2()
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
            // long letter runs whose pairs do not read as words
            (
                "gtaqanblavtf8zn342opiiap815sqiuh",
                "gtaqanblavtf8zn342opiiap815sqiuh",
            ),
            // mixed case: the run, its `_`/`-` parts, `+`/`/` base64 parts and padding
            (
                "use Jc9iRfRI6QIYL2nnPfS6ItQ3hFve9YhS4DlFBOfG now",
                "Jc9iRfRI6QIYL2nnPfS6ItQ3hFve9YhS4DlFBOfG",
            ),
            (
                "Bu0rrK-lerk6y0Suqo1qSqlDDajOk61wZchCkje4",
                "Bu0rrK-lerk6y0Suqo1qSqlDDajOk61wZchCkje4",
            ),
            (
                "x=am9obmRvZTpkMDY5NGIxYi1jMTcxLTQ4ODYt+TMyYS0wMmUwOWQ1/mIwNjc=;",
                "am9obmRvZTpkMDY5NGIxYi1jMTcxLTQ4ODYt+TMyYS0wMmUwOWQ1/mIwNjc=",
            ),
            // URL-safe base64 with short runs between its `-`/`_`, standard base64 with short
            // runs between `+`/`/` (doubled too) and its padding
            (
                "token QvH-H9D_Rhm0geB_pwb88-Gi8GUeOSEb ok",
                "QvH-H9D_Rhm0geB_pwb88-Gi8GUeOSEb",
            ),
            (
                "sent VST8yIozGB/kpCL9hgsbfK//38Y5oA1XTQ+zIvnHk= today",
                "VST8yIozGB/kpCL9hgsbfK//38Y5oA1XTQ+zIvnHk=",
            ),
            // digit-heavy: few letter pairs, very short parts
            ("0lCP2e4tIN55UqI4H42V6A", "0lCP2e4tIN55UqI4H42V6A"),
            // a path segment after `/` is not part of it
            (
                "https://example.com/d/1W7KCxOxP1Fy5EyF2lbJGE2WuKmu5v0suYqoHas1jRM/edit",
                "1W7KCxOxP1Fy5EyF2lbJGE2WuKmu5v0suYqoHas1jRM",
            ),
        ] {
            assert_eq!(found(text), vec![want], "{text}");
        }
    }

    #[test]
    fn public_key_material_stays_private_keys_do_not() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIBtjCCAVugAwIBAgITBmyf1XSXNmY/Owua2eiedgPySjAKBggqhkjOPQQDAjA5\n-----END CERTIFICATE-----";
        assert_eq!(found(cert), Vec::<&str>::new());
        // Every block, not only the first.
        let two = format!("{cert}\n{cert}");
        assert_eq!(found(&two), Vec::<&str>::new());
        // After the block, text is scanned again.
        let after = format!("{cert}\nkey Jc9iRfRI6QIYL2nnPfS6ItQ3hFve9YhS4DlFBOfG");
        assert_eq!(
            found(&after),
            vec!["Jc9iRfRI6QIYL2nnPfS6ItQ3hFve9YhS4DlFBOfG"]
        );
    }

    #[test]
    fn random_tokens_are_rare_in_words() {
        // Every English word and identifier part in this comment-like text stays: the letter
        // pair table knows them.
        let text = "The configuration2024 file lists transaction7identifiers, \
                    getHTTPServerResponse3Handler and Base64UrlEncoder256Variant values.";
        assert_eq!(found(text), Vec::<&str>::new());
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
            "P23Y1M24DT12H5M29S v1.37.2-etcdv3.6.16 P1y2m3w4dT5h6m7s",
            // national id layouts whose checksum failed
            "RSSMRA85T10A562T MORGA753116SM9IJ",
            // too short
            "abc123def456gh7",
            // identifiers in both cases, alphabets
            "pbeWithSHA1And128BitRC4 getUserAccountById2024Version XMLHttpRequest2Factory",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567 0123456789abcdefghijklmnopqrstuvwxyz",
            // labelled base64 digests: Go module sums, subresource integrity
            "golang.org/x/sync v0.22.0 h1:SZjpbeLmrCk4xhRSZFNZW5gFUeCeFgjekvI/+gfScek=",
            "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC",
            // a Base58 address whose checksum the wallet rule refused
            "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ2",
            // one part of a dotted token its own rule refused
            "MZ1yGvKTjE0rY0cV8i47CjAa.uRHQPq.Xb1Mk2nEhe-4iUcrGOuegj57zMC",
            // shaped prefixes decide (a Google key of the wrong length), placeholders stay
            "AIzaTesb6Tscfcni8vIpWZqNCXFDFslJtVSvFDqabcd123 ABSKQmVkcm9ja0FQSUtleS1EXAMPLE",
            // identifiers joined by `_`/`-` whose parts are words and abbreviations
            "EVP_aes_192_cfb8 SN_id_HMACGostR3411_94 aws_lc_0_47_0_EVP_PKEY_get1_tls_encodedpoint",
            // values named public or ids
            "public_key = \"9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit\"",
            "\"credentialId\": \"B9mTcFSck2LzJO2S3ols63\"",
            // words with few digit changes
            "transactionid2024",
            "configurationfile1234567",
        ] {
            assert_eq!(found(text), Vec::<&str>::new(), "{text}");
        }
    }
}
