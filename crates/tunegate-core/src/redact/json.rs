//! A small JSON tokenizer that copies every byte verbatim and only decodes string values, so
//! numbers, key order, whitespace and untouched strings keep their exact bytes. Only string values
//! with findings are re-encoded.

use super::LineError;

pub(crate) const MAX_DEPTH: u32 = 128;

#[inline]
pub(crate) fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && matches!(b[p], b' ' | b'\t' | b'\n' | b'\r') {
        p += 1;
    }
    p
}

/// Finds the end of the string whose opening quote is at `start`. Returns the index just past the
/// closing quote and whether the body contains escapes.
pub(crate) fn string_end(b: &[u8], start: usize) -> Result<(usize, bool), LineError> {
    let mut p = start + 1;
    let mut escaped = false;
    loop {
        match memchr::memchr2(b'"', b'\\', &b[p..]) {
            None => return Err(LineError::syntax(b.len())),
            Some(k) => {
                let q = p + k;
                if b[q] == b'"' {
                    let body = &b[start + 1..q];
                    if has_control(body) {
                        return Err(LineError::syntax(start));
                    }
                    return Ok((q + 1, escaped));
                }
                escaped = true;
                p = q + 2;
                if p > b.len() {
                    return Err(LineError::syntax(q));
                }
            }
        }
    }
}

/// Whether `body` holds a byte below 0x20 (a raw control character, invalid inside a JSON
/// string). Every string of every line passes here, often several times: the fold over a chunk
/// has no early exit, so it compiles to vector compares, and the chunks still stop early.
fn has_control(body: &[u8]) -> bool {
    body.chunks(64)
        .any(|c| c.iter().fold(false, |acc, &x| acc | (x < 0x20)))
}

fn hex4(b: &[u8], p: usize) -> Result<u32, LineError> {
    let s = b.get(p..p + 4).ok_or(LineError::syntax(p))?;
    let mut v = 0u32;
    for &c in s {
        let d = (c as char).to_digit(16).ok_or(LineError::syntax(p))?;
        v = v * 16 + d;
    }
    Ok(v)
}

/// Decodes a string body (between the quotes) with escapes into `out`. Lone surrogates become
/// U+FFFD: they cannot be represented in UTF-8, and hiding nothing matters more than round-tripping
/// invalid text.
pub(crate) fn decode(body: &str, base: usize, out: &mut String) -> Result<(), LineError> {
    out.clear();
    let b = body.as_bytes();
    let mut last = 0;
    let mut p = 0;
    while let Some(k) = memchr::memchr(b'\\', &b[p..]) {
        let q = p + k;
        out.push_str(&body[last..q]);
        let esc = *b.get(q + 1).ok_or(LineError::syntax(base + q))?;
        p = q + 2;
        match esc {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hi = hex4(b, p).map_err(|_| LineError::syntax(base + q))?;
                p += 4;
                let c = if (0xD800..0xDC00).contains(&hi) {
                    if b.get(p) == Some(&b'\\') && b.get(p + 1) == Some(&b'u') {
                        let lo = hex4(b, p + 2).map_err(|_| LineError::syntax(base + q))?;
                        if (0xDC00..0xE000).contains(&lo) {
                            p += 6;
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        } else {
                            None
                        }
                    } else {
                        None
                    }
                } else {
                    char::from_u32(hi)
                };
                out.push(c.unwrap_or('\u{FFFD}'));
            }
            _ => return Err(LineError::syntax(base + q)),
        }
        last = p;
    }
    out.push_str(&body[last..]);
    Ok(())
}

/// Appends `s` as a JSON string literal with minimal escaping (raw UTF-8 stays raw).
pub(crate) fn encode(s: &str, out: &mut String) {
    out.push('"');
    let b = s.as_bytes();
    let mut last = 0;
    let mut i = 0;
    loop {
        // Escapes are rare: jump to the next byte that needs one, eight bytes at a time.
        i = super::swar::find(
            b,
            i,
            |x| {
                use super::swar::{eq, in_range};
                in_range(x, 0, 0x1f) | eq(x, b'"') | eq(x, b'\\')
            },
            |c| c < 0x20 || c == b'"' || c == b'\\',
        );
        let Some(&c) = b.get(i) else {
            break;
        };
        let esc: &str = match c {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[last..i]);
        if esc.is_empty() {
            out.push_str(&format!("\\u{:04x}", c));
        } else {
            out.push_str(esc);
        }
        last = i + 1;
        i += 1;
    }
    out.push_str(&s[last..]);
    out.push('"');
}

/// Strict JSON number; returns the index after it.
pub(crate) fn number_end(b: &[u8], mut p: usize) -> Result<usize, LineError> {
    let start = p;
    if b.get(p) == Some(&b'-') {
        p += 1;
    }
    match b.get(p) {
        Some(b'0') => p += 1,
        Some(b'1'..=b'9') => {
            while p < b.len() && b[p].is_ascii_digit() {
                p += 1;
            }
        }
        _ => return Err(LineError::syntax(start)),
    }
    if b.get(p) == Some(&b'.') {
        p += 1;
        let d = p;
        while p < b.len() && b[p].is_ascii_digit() {
            p += 1;
        }
        if p == d {
            return Err(LineError::syntax(start));
        }
    }
    if matches!(b.get(p), Some(b'e' | b'E')) {
        p += 1;
        if matches!(b.get(p), Some(b'+' | b'-')) {
            p += 1;
        }
        let d = p;
        while p < b.len() && b[p].is_ascii_digit() {
            p += 1;
        }
        if p == d {
            return Err(LineError::syntax(start));
        }
    }
    Ok(p)
}

/// Byte offset of the first object key that repeats a key of the same object, if any. Keys are
/// compared decoded (`"a"` and `"\u0061"` are the same key). `text` must be valid JSON.
pub(crate) fn first_duplicate_key(text: &str) -> Result<Option<usize>, LineError> {
    use std::borrow::Cow;
    let b = text.as_bytes();
    // Keys of every open object on one flat stack; `open` holds (is_object, first key index).
    let mut keys: Vec<Cow<'_, str>> = Vec::new();
    let mut open: Vec<(bool, usize)> = Vec::new();
    let mut dec = String::new();
    let mut p = 0;
    let mut expect_key = false;
    while p < b.len() {
        match b[p] {
            b'{' => {
                open.push((true, keys.len()));
                expect_key = true;
                p += 1;
            }
            b'[' => {
                open.push((false, keys.len()));
                expect_key = false;
                p += 1;
            }
            b'}' | b']' => {
                if let Some((_, first)) = open.pop() {
                    keys.truncate(first);
                }
                p += 1;
            }
            b',' => {
                expect_key = open.last().is_some_and(|o| o.0);
                p += 1;
            }
            b'"' => {
                let (end, esc) = string_end(b, p)?;
                if expect_key {
                    let raw = &text[p + 1..end - 1];
                    let key: Cow<'_, str> = if esc {
                        decode(raw, p + 1, &mut dec)?;
                        Cow::Owned(dec.clone())
                    } else {
                        Cow::Borrowed(raw)
                    };
                    let first = open.last().map_or(0, |o| o.1);
                    if keys[first..].contains(&key) {
                        return Ok(Some(p));
                    }
                    keys.push(key);
                    expect_key = false;
                }
                p = end;
            }
            _ => p += 1,
        }
    }
    Ok(None)
}

/// The object opening at `open` (`{`) is a Kubernetes Secret: a member `"kind": "Secret"` at its
/// own level, before or after its `data`. Malformed input answers false (the walk reports it).
pub(crate) fn object_is_k8s_secret(b: &[u8], open: usize) -> bool {
    let mut p = open + 1;
    let mut depth = 1usize;
    // At depth 1: whether the last string was a key named `kind`, awaiting its value.
    let mut kind_key = false;
    let mut after_colon = false;
    while p < b.len() {
        match b[p] {
            b'"' => {
                let Ok((end, _)) = string_end(b, p) else {
                    return false;
                };
                if depth == 1 {
                    let s = &b[p + 1..end - 1];
                    if after_colon {
                        if kind_key && s == b"Secret" {
                            return true;
                        }
                        kind_key = false;
                        after_colon = false;
                    } else {
                        kind_key = s == b"kind";
                    }
                }
                p = end;
                continue;
            }
            b':' if depth == 1 => after_colon = true,
            b',' if depth == 1 => {
                after_colon = false;
                kind_key = false;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return false;
                }
            }
            _ => {}
        }
        p += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys() {
        assert_eq!(first_duplicate_key(r#"{"a":1,"b":{"a":2}}"#).unwrap(), None);
        assert_eq!(
            first_duplicate_key(r#"{"a":[{"x":1},{"x":2}]}"#).unwrap(),
            None
        );
        assert_eq!(first_duplicate_key(r#"{"m":1, "m":2}"#).unwrap(), Some(8));
        assert!(
            first_duplicate_key(r#"{"m":{"k":"v","\u006b":"w"}}"#)
                .unwrap()
                .is_some()
        );
        assert_eq!(
            first_duplicate_key(r#"{"s":"{\"a\":1,\"a\":2}"}"#).unwrap(),
            None
        );
    }

    #[test]
    fn decode_escapes() {
        let mut s = String::new();
        decode(r#"a\u0040b\n\"\\\/\ud83d\ude00\ud800x"#, 0, &mut s).unwrap();
        assert_eq!(s, "a@b\n\"\\/😀\u{FFFD}x");
        assert!(decode(r"\q", 0, &mut s).is_err());
        assert!(decode(r"\u12", 0, &mut s).is_err());
    }

    #[test]
    fn encode_roundtrip() {
        let mut o = String::new();
        encode("a\"b\\c\nd\u{1}é", &mut o);
        assert_eq!(o, "\"a\\\"b\\\\c\\nd\\u0001é\"");
        let back: String = serde_json::from_str(&o).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
        // The copy-through path, and an escape past the first 64-byte chunk.
        let mut o = String::new();
        encode("plain é [EMAIL_ADDRESS] text", &mut o);
        assert_eq!(o, "\"plain é [EMAIL_ADDRESS] text\"");
        let long = format!("{}\t", "x".repeat(70));
        let mut o = String::new();
        encode(&long, &mut o);
        assert_eq!(o, format!("\"{}\\t\"", "x".repeat(70)));
    }

    #[test]
    fn encode_matches_serde_json_at_every_position() {
        // Every escape class at every offset of strings longer than the eight-byte steps.
        let specials = [
            '"', '\\', '\n', '\r', '\t', '\u{8}', '\u{c}', '\u{1}', '\u{1f}', 'é', ' ',
        ];
        for len in 0..20 {
            for at in 0..len {
                for c in specials {
                    let mut t: String = "ab[CD]xy0123456789z~".chars().take(len).collect();
                    t.replace_range(at..at + 1, &c.to_string());
                    t.push(c);
                    let mut o = String::new();
                    encode(&t, &mut o);
                    assert_eq!(o, serde_json::to_string(&t).unwrap(), "{t:?}");
                }
            }
        }
    }

    #[test]
    fn raw_control_bytes_are_refused_in_any_chunk() {
        for at in [0, 63, 64, 70, 200] {
            let mut body = "y".repeat(210);
            body.replace_range(at..at + 1, "\u{1}");
            let text = format!("\"{body}\"");
            assert!(string_end(text.as_bytes(), 0).is_err(), "{at}");
        }
        assert_eq!(string_end(b"\"abc\"x", 0).unwrap(), (5, false));
    }

    #[test]
    fn numbers() {
        assert_eq!(number_end(b"-12.5e+3,", 0).unwrap(), 8);
        assert!(number_end(b"01", 0).map(|e| e == 1).unwrap());
        assert!(number_end(b"1.", 0).is_err());
        assert!(number_end(b"-", 0).is_err());
    }
}
