//! Reading one JSONL line in place, without building a `serde_json::Value` tree.
//!
//! A `Value` costs far more memory than the text it was parsed from: every object is a B-tree
//! node of several hundred bytes, every value 32 bytes, so a line of small objects (`{},{},...`)
//! takes about 70 times its length as a tree. Validation and token counting only need a few facts
//! per object (which keys, the kinds of their values, a few short strings), so they read the text
//! where it lies: [`syntax_ok`] checks the whole line with serde_json's own parser (the same
//! acceptance as `Value`, allocating at most one string's decoding), and [`Raw`] then walks the
//! text by byte offsets. Memory is the line itself plus what a caller decodes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::redact::json as lexer;

/// A value that is parsed and thrown away: `deserialize_any`, exactly as `Value` is parsed (same
/// number range checks, escapes, surrogates and recursion limit), but nothing is kept.
struct Syntax;

impl<'de> Deserialize<'de> for Syntax {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SyntaxVisitor)
    }
}

struct SyntaxVisitor;

impl<'de> Visitor<'de> for SyntaxVisitor {
    type Value = Syntax;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_none<E: de::Error>(self) -> Result<Syntax, E> {
        Ok(Syntax)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Syntax, A::Error> {
        while seq.next_element::<Syntax>()?.is_some() {}
        Ok(Syntax)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Syntax, A::Error> {
        while map.next_key::<Syntax>()?.is_some() {
            map.next_value::<Syntax>()?;
        }
        Ok(Syntax)
    }
}

/// Whether `text` is one JSON value (surrounding whitespace allowed) that `serde_json::Value`
/// would accept.
pub fn syntax_ok(text: &str) -> bool {
    serde_json::from_str::<Syntax>(text).is_ok()
}

/// What a JSON value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
    /// Not a value (only on text that failed [`syntax_ok`]).
    Invalid,
}

/// A syntax-checked JSON text read by byte offsets. Every method is total: on text that is not
/// JSON it gives some answer rather than panicking, but answers are only meaningful after
/// [`syntax_ok`].
#[derive(Clone, Copy)]
pub struct Raw<'a> {
    text: &'a str,
}

impl<'a> Raw<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { text }
    }

    fn b(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Offset of the top-level value.
    pub fn root(&self) -> usize {
        lexer::skip_ws(self.b(), 0)
    }

    /// The kind of the value starting at `p`.
    pub fn kind(&self, p: usize) -> Kind {
        match self.b().get(p) {
            Some(b'n') => Kind::Null,
            Some(b't' | b'f') => Kind::Bool,
            Some(b'-' | b'0'..=b'9') => Kind::Number,
            Some(b'"') => Kind::String,
            Some(b'[') => Kind::Array,
            Some(b'{') => Kind::Object,
            _ => Kind::Invalid,
        }
    }

    /// The offset just past the value starting at `p`.
    pub fn end(&self, p: usize) -> usize {
        let b = self.b();
        match self.kind(p) {
            Kind::Null => p + 4,
            Kind::Bool => p + if b.get(p) == Some(&b't') { 4 } else { 5 },
            Kind::Number => {
                let mut q = p;
                while q < b.len() && matches!(b[q], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    q += 1;
                }
                q
            }
            Kind::String => lexer::string_end(b, p).map_or(b.len(), |(e, _)| e),
            Kind::Array | Kind::Object => {
                let mut depth = 0usize;
                let mut q = p;
                while q < b.len() {
                    match b[q] {
                        b'"' => {
                            q = lexer::string_end(b, q).map_or(b.len(), |(e, _)| e);
                            continue;
                        }
                        b'[' | b'{' => depth += 1,
                        b']' | b'}' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                return q + 1;
                            }
                        }
                        _ => {}
                    }
                    q += 1;
                }
                b.len()
            }
            Kind::Invalid => (p + 1).min(b.len()).max(p),
        }
        .min(b.len())
    }

    /// The raw text of the value at `p`.
    pub fn slice(&self, p: usize) -> &'a str {
        let end = self.end(p);
        self.text.get(p..end).unwrap_or("")
    }

    /// The decoded string at `p` (borrowed when it has no escapes); `None` if not a string.
    pub fn str(&self, p: usize) -> Option<Cow<'a, str>> {
        if self.kind(p) != Kind::String {
            return None;
        }
        let (end, escaped) = lexer::string_end(self.b(), p).ok()?;
        let body = self.text.get(p + 1..end - 1)?;
        if !escaped {
            return Some(Cow::Borrowed(body));
        }
        let mut out = String::new();
        lexer::decode(body, p + 1, &mut out).ok()?;
        Some(Cow::Owned(out))
    }

    /// Whether the string at `p` decodes to exactly `want` (without allocating when it has no
    /// escapes).
    pub fn str_is(&self, p: usize, want: &str) -> bool {
        self.str(p).is_some_and(|s| s == want)
    }

    /// The elements of the array at `p` (none if it is not an array).
    pub fn items(&self, p: usize) -> Items<'a> {
        let b = self.b();
        let start = if self.kind(p) == Kind::Array {
            lexer::skip_ws(b, p + 1)
        } else {
            b.len()
        };
        Items {
            raw: *self,
            p: start,
            pending: None,
        }
    }

    /// The members of the object at `p` as (key start offset, value start offset).
    pub fn members(&self, p: usize) -> Members<'a> {
        let b = self.b();
        let start = if self.kind(p) == Kind::Object {
            lexer::skip_ws(b, p + 1)
        } else {
            b.len()
        };
        Members {
            raw: *self,
            p: start,
            pending: None,
        }
    }
}

/// Iterator over array element offsets.
pub struct Items<'a> {
    raw: Raw<'a>,
    p: usize,
    /// The element returned last, not yet stepped over.
    pending: Option<usize>,
}

impl Iterator for Items<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let b = self.raw.b();
        // Step over the element returned last only now: a caller that stops early (`find`)
        // never pays for scanning past it.
        if let Some(v) = self.pending.take() {
            let end = self.raw.end(v);
            let q = lexer::skip_ws(b, end);
            self.p = match b.get(q) {
                Some(b',') => lexer::skip_ws(b, q + 1),
                _ => b.len(),
            };
            // A value that does not advance would loop forever on broken text.
            if end <= v {
                self.p = b.len();
            }
        }
        match b.get(self.p) {
            None | Some(b']') => None,
            Some(_) => {
                self.pending = Some(self.p);
                Some(self.p)
            }
        }
    }
}

/// Iterator over object members.
pub struct Members<'a> {
    raw: Raw<'a>,
    p: usize,
    /// The value returned last, not yet stepped over.
    pending: Option<usize>,
}

impl Iterator for Members<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let b = self.raw.b();
        // Step over the value returned last only now (see `Items::next`): looking up the first
        // key of an object no longer scans its whole value.
        if let Some(v) = self.pending.take() {
            let end = self.raw.end(v);
            let q = lexer::skip_ws(b, end);
            self.p = match b.get(q) {
                Some(b',') if end > v => lexer::skip_ws(b, q + 1),
                _ => b.len(),
            };
        }
        if b.get(self.p) != Some(&b'"') {
            return None;
        }
        let k = self.p;
        let kend = self.raw.end(k);
        let colon = lexer::skip_ws(b, kend);
        if b.get(colon) != Some(&b':') {
            self.p = b.len();
            return None;
        }
        let v = lexer::skip_ws(b, colon + 1);
        self.pending = Some(v);
        Some((k, v))
    }
}

/// Appends the compact rendering of the value at `p` to `out`, as `serde_json` writes a value
/// (no whitespace, minimal string escapes, numbers normalised), but in the order of the text:
/// keys are not sorted.
pub fn compact(raw: &Raw<'_>, p: usize, out: &mut String) {
    compact_with(raw, p, out, usize::MAX, &mut |_| {});
}

/// `compact`, calling `flush` whenever `out` holds `high_water` bytes or more, so that a caller
/// can consume a prefix of the rendering (and drain it) instead of holding all of it.
pub fn compact_with(
    raw: &Raw<'_>,
    p: usize,
    out: &mut String,
    high_water: usize,
    flush: &mut dyn FnMut(&mut String),
) {
    let b = raw.b();
    let end = raw.end(p);
    let mut q = p;
    let mut dec = String::new();
    while q < end {
        match b[q] {
            b' ' | b'\t' | b'\n' | b'\r' => q += 1,
            b'"' => {
                let e = raw.end(q);
                match raw.text.get(q + 1..e.saturating_sub(1)) {
                    Some(body) if lexer::decode(body, q + 1, &mut dec).is_ok() => {
                        lexer::encode(&dec, out)
                    }
                    _ => out.push_str(raw.text.get(q..e).unwrap_or("")),
                }
                q = e.max(q + 1);
            }
            b'-' | b'0'..=b'9' => {
                let e = raw.end(q);
                let token = raw.text.get(q..e).unwrap_or("");
                match token.parse::<serde_json::Number>() {
                    Ok(n) => out.push_str(&n.to_string()),
                    Err(_) => out.push_str(token),
                }
                q = e.max(q + 1);
            }
            c => {
                // Structural characters and the letters of true/false/null: ASCII, copied.
                out.push(c as char);
                q += 1;
            }
        }
        if out.len() >= high_water {
            flush(out);
        }
    }
}

/// Whether any object in `text` (a syntax-checked JSON text) repeats a key, comparing keys
/// decoded (`"a"` and `"\u0061"` are the same). Runs in O(n log n) and keeps one 8-byte hash per
/// key of the objects still open, so a line of a million keys costs megabytes, not a quadratic
/// scan. Equal hashes are confirmed by comparing the keys themselves, so the answer is exact.
pub fn has_duplicate_key(text: &str) -> bool {
    use std::hash::{BuildHasher, Hasher};
    static SEED: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    // Random keys: nobody can choose keys that collide on purpose.
    let seed = SEED.get_or_init(Default::default);
    let b = text.as_bytes();
    let raw = Raw::new(text);
    // Hashes of the keys of every open object on one flat stack; `open` holds, per open
    // container, (is_object, start offset, first hash index).
    let mut hashes: Vec<u64> = Vec::new();
    let mut open: Vec<(bool, usize, usize)> = Vec::new();
    let mut expect_key = false;
    let mut p = 0;
    while p < b.len() {
        match b[p] {
            b'{' => {
                open.push((true, p, hashes.len()));
                expect_key = true;
            }
            b'[' => {
                open.push((false, p, hashes.len()));
                expect_key = false;
            }
            b'}' | b']' => {
                if let Some((is_object, start, first)) = open.pop() {
                    if is_object && hashes.len() - first > 1 {
                        let keys = &mut hashes[first..];
                        keys.sort_unstable();
                        let collided = keys.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
                        if let Some(h) = collided
                            && confirm_duplicate(&raw, start, h, seed)
                        {
                            return true;
                        }
                    }
                    hashes.truncate(first);
                }
                expect_key = false;
            }
            b',' => expect_key = open.last().is_some_and(|o| o.0),
            b'"' => {
                let end = raw.end(p);
                if expect_key {
                    let mut h = seed.build_hasher();
                    match raw.str(p) {
                        Some(key) => h.write(key.as_bytes()),
                        // Not decodable (only on text that is not JSON): hash the raw bytes.
                        None => h.write(b.get(p..end).unwrap_or(&[])),
                    }
                    hashes.push(h.finish());
                    expect_key = false;
                }
                p = end.max(p + 1);
                continue;
            }
            _ => {}
        }
        p += 1;
    }
    false
}

/// Whether two keys of the object at `start` with hash `h` are really equal (not a collision).
fn confirm_duplicate(
    raw: &Raw<'_>,
    start: usize,
    h: u64,
    seed: &std::collections::hash_map::RandomState,
) -> bool {
    use std::hash::{BuildHasher, Hasher};
    let mut same: Vec<Cow<'_, str>> = Vec::new();
    for (k, _) in raw.members(start) {
        let Some(key) = raw.str(k) else { continue };
        let mut hasher = seed.build_hasher();
        hasher.write(key.as_bytes());
        if hasher.finish() == h {
            if same.contains(&key) {
                return true;
            }
            same.push(key);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn syntax_matches_value() {
        for (text, ok) in [
            (r#"{"a":[1,2.5,-0,"x\u00e9",true,null]}"#, true),
            ("  {}  ", true),
            ("{} x", false),
            ("1e400", false),
            (r#""\ud800""#, false),
            ("[1,]", false),
            ("", false),
        ] {
            assert_eq!(syntax_ok(text), ok, "{text}");
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(text).is_ok(),
                ok,
                "{text}"
            );
        }
        // serde_json's recursion limit applies as for Value.
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(!syntax_ok(&deep));
    }

    #[test]
    fn walks_objects_and_arrays_by_offset() {
        let text = r#" {"a" : [1, {"b":"x\"y"}, [] ], "c\u0064":null} "#;
        let raw = Raw::new(text);
        let root = raw.root();
        assert_eq!(raw.kind(root), Kind::Object);
        let members: Vec<(String, Kind)> = raw
            .members(root)
            .map(|(k, v)| (raw.str(k).unwrap().into_owned(), raw.kind(v)))
            .collect();
        assert_eq!(
            members,
            vec![("a".into(), Kind::Array), ("cd".into(), Kind::Null)]
        );
        let (_, a) = raw.members(root).next().unwrap();
        let kinds: Vec<Kind> = raw.items(a).map(|i| raw.kind(i)).collect();
        assert_eq!(kinds, vec![Kind::Number, Kind::Object, Kind::Array]);
        let obj = raw.items(a).nth(1).unwrap();
        let (_, bv) = raw.members(obj).next().unwrap();
        assert_eq!(raw.str(bv).as_deref(), Some("x\"y"));
        assert_eq!(raw.slice(obj), r#"{"b":"x\"y"}"#);
        assert_eq!(raw.items(raw.items(a).nth(2).unwrap()).count(), 0);
    }

    #[test]
    fn compact_renders_like_serde_json_for_sorted_keys() {
        let text = r#"[ {"a" : 1.0, "b":"\/\u00e9\n" , "c": [ 1E2, -0, true ] } ]"#;
        let raw = Raw::new(text);
        let mut out = String::new();
        compact(&raw, raw.root(), &mut out);
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(out, value.to_string());
    }

    #[test]
    fn duplicate_keys_are_found_exactly() {
        assert!(!has_duplicate_key(r#"{"a":1,"b":{"a":2}}"#));
        assert!(!has_duplicate_key(r#"{"a":[{"x":1},{"x":2}]}"#));
        assert!(has_duplicate_key(r#"{"m":1, "m":2}"#));
        assert!(has_duplicate_key(r#"{"m":{"k":"v","\u006b":"w"}}"#));
        assert!(!has_duplicate_key(r#"{"s":"{\"a\":1,\"a\":2}"}"#));
        assert!(has_duplicate_key(r#"[{"a":1},{"b":1,"c":2,"b":3}]"#));
        assert!(!has_duplicate_key(r#"{"a":{"b":1},"b":{"a":1}}"#));
    }

    #[test]
    fn a_million_keys_is_linear_not_quadratic() {
        let n = 1_000_000;
        let mut text = String::from("{");
        for i in 0..n {
            text.push_str(&format!("\"k{i}\":1,"));
        }
        text.push_str("\"k7\":2}");
        let started = std::time::Instant::now();
        assert!(has_duplicate_key(&text));
        assert!(!has_duplicate_key(&text.replace("\"k7\":2", "\"z\":2")));
        // The old pairwise scan took minutes here.
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    proptest! {
        #[test]
        fn duplicate_check_agrees_with_a_naive_one(keys in proptest::collection::vec("[ab]{0,2}", 0..8)) {
            let body: Vec<String> = keys.iter().map(|k| format!("{k:?}:1")).collect();
            let text = format!("{{{}}}", body.join(","));
            let mut sorted = keys.clone();
            sorted.sort();
            sorted.dedup();
            prop_assert_eq!(has_duplicate_key(&text), sorted.len() != keys.len());
        }

        #[test]
        fn walking_never_panics(text in "[\\[\\]{}\",:a0-9 tfn\\\\-]{0,40}") {
            let raw = Raw::new(&text);
            let root = raw.root();
            let _ = raw.kind(root);
            let _ = raw.end(root);
            for i in raw.items(root) { let _ = raw.end(i); }
            for (k, v) in raw.members(root) { let _ = raw.str(k); let _ = raw.end(v); }
            let mut out = String::new();
            compact(&raw, root, &mut out);
            let _ = has_duplicate_key(&text);
        }
    }
}
