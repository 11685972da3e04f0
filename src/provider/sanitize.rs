//! The one place provider text is made safe to show. Every string a provider sends that can
//! reach a condition, an Event, a metric label or a log line (error messages and codes, status
//! words, event messages, file status details) goes through [`sanitize`] when it is decoded, so
//! no later caller can forget it; the controller uses the same function for anything it
//! composes from provider text. Identifiers, which are sent back to the provider and must stay
//! exact, are validated instead ([`check_id`]): a provider id that is not a short printable token
//! makes the whole response a decode error.

use serde::{Deserialize, Deserializer};

/// Longest provider message kept, in bytes. Fits a Kubernetes Event note (at most 1 KiB) and
/// keeps a condition message readable.
pub const MAX_TEXT_BYTES: usize = 1000;

/// Longest provider word kept (status words, error codes, event levels), in bytes.
pub const MAX_WORD_BYTES: usize = 64;

/// Longest identifier accepted from a provider (file, job, event ids, model names), in bytes.
/// Real ones are under 100.
pub const MAX_ID_BYTES: usize = 256;

/// Characters that are not control characters (`char::is_control` covers only Cc) but reorder,
/// hide or break text in terminals, logs and UIs: bidirectional overrides and isolates, zero-width
/// characters, the BOM, and the Unicode line and paragraph separators.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{061C}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Provider text made safe to display: every control or invisible formatting character becomes
/// a space, runs of whitespace collapse to one space, the ends are trimmed, and the result is cut
/// at a character boundary to at most `max_bytes` bytes (a cut is marked with `…`, counted in
/// the limit). Never panics, whatever the input and limit.
pub fn sanitize(text: &str, max_bytes: usize) -> String {
    const ELLIPSIS: char = '…';
    let mut out = String::with_capacity(text.len().min(max_bytes));
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() || is_invisible_format(c) {
            pending_space = !out.is_empty();
            continue;
        }
        let needed = c.len_utf8() + usize::from(pending_space);
        if out.len().saturating_add(needed) > max_bytes {
            // Make room for the ellipsis, cutting only at character boundaries.
            while out.len().saturating_add(ELLIPSIS.len_utf8()) > max_bytes {
                if out.pop().is_none() {
                    break;
                }
            }
            let trimmed = out.trim_end().len();
            out.truncate(trimmed);
            if out.len().saturating_add(ELLIPSIS.len_utf8()) <= max_bytes {
                out.push(ELLIPSIS);
            }
            return out;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Whether `id` is acceptable as a provider identifier: 1 to [`MAX_ID_BYTES`] bytes, no
/// whitespace, control or invisible formatting characters.
pub fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("empty identifier");
    }
    if id.len() > MAX_ID_BYTES {
        return Err("identifier longer than 256 bytes");
    }
    if id
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || is_invisible_format(c))
    {
        return Err("identifier with whitespace or control characters");
    }
    Ok(())
}

/// Serde: an optional free-text field, sanitized to [`MAX_TEXT_BYTES`].
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| sanitize(&s, MAX_TEXT_BYTES)))
}

/// Serde: an optional word (code, level, type), sanitized to [`MAX_WORD_BYTES`].
pub(crate) fn word<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(|s| sanitize(&s, MAX_WORD_BYTES)))
}

/// Serde: a required identifier, validated with [`check_id`].
pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_id(&s).map_err(serde::de::Error::custom)?;
    Ok(s)
}

/// Serde: an optional identifier, validated with [`check_id`].
pub(crate) fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    if let Some(s) = &s {
        check_id(s).map_err(serde::de::Error::custom)?;
    }
    Ok(s)
}

/// Serde: a list of identifiers, each validated, `null` as empty.
pub(crate) fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let list = Option::<Vec<String>>::deserialize(d)?.unwrap_or_default();
    for s in &list {
        check_id(s).map_err(serde::de::Error::custom)?;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strips_controls_and_invisible_characters() {
        assert_eq!(
            sanitize("bad\r\nInjected: line\x1b[31m red\u{202E}txt\u{200B}", 200),
            "bad Injected: line [31m red txt"
        );
        assert_eq!(sanitize("  \t\n ", 10), "");
        assert_eq!(sanitize("a\u{2028}b\u{0085}c", 10), "a b c");
        assert_eq!(sanitize("plain words", 100), "plain words");
    }

    #[test]
    fn truncates_at_a_char_boundary_within_the_limit() {
        let s = sanitize(&"é".repeat(5000), MAX_TEXT_BYTES);
        assert!(s.len() <= MAX_TEXT_BYTES, "{}", s.len());
        assert!(s.ends_with('…'));
        assert_eq!(sanitize("abcdef", 4), "a…");
        assert_eq!(sanitize("ab cdef", 6), "ab…");
        assert_eq!(sanitize("abcdef", 2), "");
        assert_eq!(sanitize("abcdef", 0), "");
    }

    #[test]
    fn ids_are_checked_not_rewritten() {
        assert!(check_id("ftjob-abc123").is_ok());
        assert!(check_id("ft:gpt-4o-mini-2024-07-18:org::abc").is_ok());
        assert!(check_id("").is_err());
        assert!(check_id("a b").is_err());
        assert!(check_id("a\u{202E}b").is_err());
        assert!(check_id(&"x".repeat(257)).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_and_is_bounded_and_clean(s in any::<String>(), max in 0usize..2000) {
            let out = sanitize(&s, max);
            prop_assert!(out.len() <= max);
            prop_assert!(!out.chars().any(|c| c.is_control() || is_invisible_format(c)));
            prop_assert!(!out.contains("  "));
        }
    }
}
