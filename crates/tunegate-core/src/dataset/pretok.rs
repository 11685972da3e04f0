//! A hand-written pre-tokenizer for o200k_base and cl100k_base: the same pieces as the
//! split regexes in `bpe-openai` (and tiktoken), without running a regex for ASCII text.
//!
//! Why: counting tokens of chat text spent most of its time in the regex split, not in BPE.
//!
//! How it stays exact: `bpe-openai` splits by an *anchored* search at the end of the previous
//! piece, over the rest of the text; a piece depends only on the text from its start onwards. So
//! each piece can be decided either here or by the regex, independently. Here a piece is decided
//! only when every byte the decision looks at is ASCII (where the Unicode classes `\p{L}`,
//! `\p{N}`, `\s` reduce to plain byte tests); as soon as a non-ASCII byte could matter, that one
//! piece is taken from the tokenizer's own regex. `examples/token_compare.rs` and the tests below
//! compare the counts with `Tokenizer::count` and tiktoken.
//!
//! The patterns, in priority order (leftmost-first, as a backtracking engine would choose):
//!
//! o200k_base: `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?`
//! | `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|...)?`
//! | `\p{N}{1,3}` | ` ?[^\s\p{L}\p{N}]+[\r\n/]*` | `\s*[\r\n]+` | `\s+$` | `\s+(?!\S)` | `\s+`
//!
//! cl100k_base: `(?i:'s|'t|'re|'ve|'m|'ll|'d)` | `[^\r\n\p{L}\p{N}]?\p{L}+` | `\p{N}{1,3}`
//! | ` ?[^\s\p{L}\p{N}]+[\r\n]*` | `\s*[\r\n]+` | `\s+$` | `\s+(?!\S)` | `\s+`

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use bpe_openai::Tokenizer;

/// Which split rule a tokenizer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    O200k = 0,
    Cl100k = 1,
}

/// Addresses of the two process-wide tokenizers, recorded by `tokens::load`. Asking
/// `bpe_openai::o200k_base()` here instead would load a vocabulary nobody asked for.
static KNOWN: [AtomicUsize; 2] = [AtomicUsize::new(0), AtomicUsize::new(0)];

pub(crate) fn register(tok: &'static Tokenizer, rule: Rule) {
    KNOWN[rule as usize].store(std::ptr::from_ref(tok) as usize, Ordering::Relaxed);
}

fn rule_of(tok: &Tokenizer) -> Option<Rule> {
    let addr = std::ptr::from_ref(tok) as usize;
    if KNOWN[0].load(Ordering::Relaxed) == addr {
        Some(Rule::O200k)
    } else if KNOWN[1].load(Ordering::Relaxed) == addr {
        Some(Rule::Cl100k)
    } else {
        None
    }
}

/// Tokens of `text`: exactly `tok.count(text)`, faster for the two known tokenizers.
pub(crate) fn count(tok: &Tokenizer, text: &str) -> usize {
    let Some(rule) = rule_of(tok) else {
        return tok.count(text);
    };
    CACHE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut cache) => count_with(tok, rule, text, &mut cache),
        Err(_) => count_with(tok, rule, text, &mut PieceCache::default()),
    })
}

fn count_with(tok: &Tokenizer, rule: Rule, text: &str, cache: &mut PieceCache) -> usize {
    let b = text.as_bytes();
    let mut p = 0;
    let mut n = 0usize;
    while p < b.len() {
        let end = match piece_end(rule, b, p) {
            Some(e) => e,
            // A non-ASCII byte takes part in the decision: the regex decides this piece.
            None => match tok.split(&text[p..]).next() {
                Some(piece) if !piece.is_empty() => p + piece.len(),
                // `Tokenizer::count` stops where its split stops (never, for these patterns).
                _ => break,
            },
        };
        let piece = &b[p..end];
        n = n.saturating_add(cache.count(tok, rule, piece));
        p = end;
    }
    n
}

/// Pieces up to this many bytes are remembered: short words repeat ("the", " order").
const CACHED_PIECE: usize = 15;
/// Entries per thread (direct-mapped; 8192 x 24 bytes = 192 KiB per thread).
const CACHE_SLOTS: usize = 8192;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// Piece bytes 0..8 and 8..15, zero-padded; the top byte of `hi` is the tag (length + 1 and
    /// the rule), 0 for an empty slot.
    lo: u64,
    hi: u64,
    count: u32,
}

/// BPE counts of short pieces, per thread. A miss costs one BPE run, as before; a hit skips it.
struct PieceCache {
    slots: Vec<Slot>,
}

impl Default for PieceCache {
    fn default() -> Self {
        Self {
            slots: vec![Slot::default(); CACHE_SLOTS],
        }
    }
}

thread_local! {
    static CACHE: RefCell<PieceCache> = RefCell::new(PieceCache::default());
}

impl PieceCache {
    fn count(&mut self, tok: &Tokenizer, rule: Rule, piece: &[u8]) -> usize {
        match piece {
            // Byte-level vocabularies hold every single byte as a token (tested below).
            [c] if *c < 0x80 => return 1,
            _ if piece.len() > CACHED_PIECE => return tok.bpe.count(piece),
            _ => {}
        }
        // The key in two words, built in registers (no memcpy call per piece).
        let (mut lo, mut hi) = (0u64, 0u64);
        for (i, &c) in piece.iter().enumerate() {
            if i < 8 {
                lo |= u64::from(c) << (8 * i);
            } else {
                hi |= u64::from(c) << (8 * (i - 8));
            }
        }
        // At most 15 bytes: length + 1 fits in 5 bits, the rule goes above it.
        let tag = (piece.len() as u64 + 1) | ((rule as u64) << 5);
        hi |= tag << 56;
        let h = (lo ^ hi.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let slot = (h >> 40) as usize & (CACHE_SLOTS - 1);
        let s = &mut self.slots[slot];
        if s.lo == lo && s.hi == hi {
            return s.count as usize;
        }
        let n = tok.bpe.count(piece);
        *s = Slot {
            lo,
            hi,
            count: u32::try_from(n).unwrap_or(u32::MAX),
        };
        n
    }
}

/// A byte seen by a decision: the end of the text, an ASCII byte, or something else (then the
/// decision is left to the regex).
#[derive(Clone, Copy, PartialEq, Eq)]
enum At {
    End,
    Ascii(u8),
    Other,
}

fn at(b: &[u8], i: usize) -> At {
    match b.get(i) {
        None => At::End,
        Some(&c) if c < 0x80 => At::Ascii(c),
        Some(_) => At::Other,
    }
}

/// `\s` on ASCII.
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `[^\r\n\p{L}\p{N}]` on ASCII: the optional first character of a word piece.
fn is_prefix(c: u8) -> bool {
    !c.is_ascii_alphanumeric() && c != b'\r' && c != b'\n'
}

/// `[^\s\p{L}\p{N}]` on ASCII: punctuation and symbols.
fn is_punct(c: u8) -> bool {
    !c.is_ascii_alphanumeric() && !is_ws(c)
}

/// End of the piece that starts at `p` (`p < b.len()`), or `None` when a non-ASCII byte takes
/// part in the decision.
fn piece_end(rule: Rule, b: &[u8], p: usize) -> Option<usize> {
    let At::Ascii(c0) = at(b, p) else {
        return None;
    };
    if rule == Rule::Cl100k
        && c0 == b'\''
        && let Some(e) = contraction(b, p)?
    {
        return Some(e);
    }
    // Word pieces: an optional prefix character, then letters.
    let q = if is_prefix(c0) { p + 1 } else { p };
    if q > p || c0.is_ascii_alphabetic() {
        match at(b, q) {
            At::Other => return None,
            At::Ascii(c) if c.is_ascii_alphabetic() => {
                return match rule {
                    Rule::O200k => {
                        // Upper-case run, then lower-case run; with no lower case the second
                        // alternative takes the upper-case run alone. Either way the piece
                        // ends after both runs.
                        let i = run(b, q, |c| c.is_ascii_uppercase())?;
                        let j = run(b, i, |c| c.is_ascii_lowercase())?;
                        contraction_after(b, j)
                    }
                    Rule::Cl100k => run(b, q, |c| c.is_ascii_alphabetic()),
                };
            }
            _ => {}
        }
    }
    if c0.is_ascii_digit() {
        // `\p{N}{1,3}`: a fourth character is never looked at.
        let mut e = p + 1;
        while e < p + 3 {
            match at(b, e) {
                At::Ascii(c) if c.is_ascii_digit() => e += 1,
                At::Other => return None,
                _ => break,
            }
        }
        return Some(e);
    }
    // Punctuation, optionally after one space.
    let s = if c0 == b' ' { p + 1 } else { p };
    let first = at(b, s);
    if first == At::Other {
        return None;
    }
    if matches!(first, At::Ascii(c) if is_punct(c)) {
        let mut e = run(b, s, is_punct)?;
        while let At::Ascii(c) = at(b, e) {
            if c == b'\r' || c == b'\n' || (rule == Rule::O200k && c == b'/') {
                e += 1;
            } else {
                break;
            }
        }
        return Some(e);
    }
    // Whitespace.
    if !is_ws(c0) {
        // Unreachable for ASCII (every byte is a letter, digit, punctuation or space); the regex
        // decides.
        return None;
    }
    let w = run(b, p, is_ws)?;
    // `\s*[\r\n]+`: up to the last line break in the run.
    if let Some(k) = b[p..w].iter().rposition(|&c| c == b'\r' || c == b'\n') {
        return Some(p + k + 1);
    }
    // `\s+$`
    if w == b.len() {
        return Some(w);
    }
    // `\s+(?!\S)`: all but the last space, which goes with the next piece; else `\s+`.
    if w - p >= 2 { Some(w - 1) } else { Some(w) }
}

/// End of the run of bytes matching `f` from `i`; `None` if it stops at a non-ASCII byte (which
/// might belong to the run).
fn run(b: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> Option<usize> {
    loop {
        match at(b, i) {
            At::Ascii(c) if f(c) => i += 1,
            At::Other => return None,
            _ => return Some(i),
        }
    }
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` at `p` (which holds `'`): its end, `None` (no match), or the
/// outer `None` when a non-ASCII byte decides (`ſ` folds to `s`).
fn contraction(b: &[u8], p: usize) -> Option<Option<usize>> {
    let second = |want: u8| match at(b, p + 2) {
        At::Ascii(c) if c.eq_ignore_ascii_case(&want) => Some(Some(p + 3)),
        At::Other => None,
        _ => Some(None),
    };
    match at(b, p + 1) {
        At::Other => None,
        At::Ascii(c) => match c.to_ascii_lowercase() {
            b's' | b't' | b'm' | b'd' => Some(Some(p + 2)),
            b'r' | b'v' => second(b'e'),
            b'l' => second(b'l'),
            _ => Some(None),
        },
        At::End => Some(None),
    }
}

/// The optional contraction after a word piece that ends at `e`.
fn contraction_after(b: &[u8], e: usize) -> Option<usize> {
    if at(b, e) == At::Ascii(b'\'') {
        return Some(contraction(b, e)?.unwrap_or(e));
    }
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::tokens::{Encoding, load};

    fn pieces(tok: &Tokenizer, rule: Rule, text: &str) -> Vec<String> {
        let b = text.as_bytes();
        let mut p = 0;
        let mut v = Vec::new();
        while p < b.len() {
            let e = piece_end(rule, b, p)
                .unwrap_or_else(|| p + tok.split(&text[p..]).next().unwrap().len());
            v.push(text[p..e].to_string());
            p = e;
        }
        v
    }

    /// Pieces equal the regex's on hand-picked edge cases and on random mixes of them.
    #[test]
    fn pieces_equal_the_regex() {
        let cases = [
            "Hello world",
            "HELLO world",
            "HELLOworld",
            "don't DON'T they'll we'RE I'm you've he'd it's 'sup 'll '",
            "x'",
            "x's",
            "x'r",
            "x're",
            "x'l",
            "x'll",
            "'",
            "'s",
            "'S",
            "'re",
            "'r",
            "1234567 12 1 3.14159 $4,847.63",
            "  leading",
            "trailing  ",
            "a  b",
            "a \t b",
            "\t\tx",
            "a\n\nb",
            " \n  \n  x",
            "\r\n",
            "x\r\n",
            " \r\n ",
            "end \n",
            "  ",
            " ",
            "\n",
            "\x0b\x0cx",
            "!!abc",
            " !!abc",
            " .a",
            "...",
            "a/b//c\n/",
            "://x",
            "(c)",
            "--",
            "x_y",
            "_x",
            "#tag @user",
            "e-mail: a.b@c.de",
            "[EMAIL_ADDRESS].",
            "\"quoted\"",
            "CamelCase ABCdef aBC",
            "x\x00y\x7f",
            "naïve café",
            "Straße",
            "заказ 订单",
            "😊👍🏽 ok",
            "é\u{301}x",
            "ſ",
            "'ſ",
            "x'ſ",
            "a\u{a0}b",
            " \u{a0}b",
            "1²3",
            "٣4",
            "\u{2028}x",
            "Ǆx",
            "K\u{212a}",
        ];
        let mut rng = crate::redact::corpus::Rng::new(7);
        let mut texts: Vec<String> = cases.iter().map(|s| s.to_string()).collect();
        for _ in 0..3000 {
            let mut t = String::new();
            for _ in 0..rng.range(1, 8) {
                t.push_str(rng.pick::<&str>(&cases));
            }
            texts.push(t);
        }
        for (enc, rule) in [
            (Encoding::O200kBase, Rule::O200k),
            (Encoding::Cl100kBase, Rule::Cl100k),
        ] {
            let tok = load(enc).unwrap();
            for t in &texts {
                let want: Vec<String> = tok.split(t).map(str::to_string).collect();
                assert_eq!(pieces(tok, rule, t), want, "{rule:?} {t:?}");
                assert_eq!(count(tok, t), tok.count(t.as_str()), "{rule:?} {t:?}");
            }
        }
    }

    #[test]
    fn every_ascii_byte_is_one_token() {
        for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
            let tok = load(enc).unwrap();
            for c in 0u8..0x80 {
                assert_eq!(tok.bpe.count(&[c]), 1, "{enc:?} {c}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn counts_equal_the_regex_split(text in "[ a-zA-Z0-9'\\-./:@\\[\\]_\t\r\n!?,;é😊\u{a0}\u{300}ſ٣]{0,64}") {
            for enc in [Encoding::O200kBase, Encoding::Cl100kBase] {
                let tok = load(enc).unwrap();
                proptest::prop_assert_eq!(count(tok, &text), tok.count(text.as_str()));
            }
        }
    }
}
