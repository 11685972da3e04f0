//! The API key, held so that it cannot leak through `Debug`, `Display` or logs.

use std::fmt;

use reqwest::header::HeaderValue;

use super::error::ProviderError;

/// A provider API key. `Debug` and `Display` print `[REDACTED]`; the bytes are only ever turned
/// into a header value marked sensitive (so hyper/h2 never log or index it).
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Builds a key from Secret bytes. Surrounding whitespace (the trailing newline of
    /// `echo key > file`) is removed; the rest must be visible ASCII, since it goes into a header.
    /// Errors never contain the key, not even a part of it.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, ProviderError> {
        let text = std::str::from_utf8(raw)
            .map_err(|_| ProviderError::InvalidKey("the API key is not valid UTF-8"))?
            .trim();
        if text.is_empty() {
            return Err(ProviderError::InvalidKey("the API key is empty"));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ProviderError::InvalidKey(
                "the API key contains spaces, control or non-ASCII characters",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The header value for `Authorization: Bearer <key>` (OpenAI).
    pub(crate) fn bearer_header(&self) -> Result<HeaderValue, ProviderError> {
        sensitive(&format!("Bearer {}", self.0))
    }

    /// The header value for `api-key: <key>` (Azure OpenAI).
    pub(crate) fn raw_header(&self) -> Result<HeaderValue, ProviderError> {
        sensitive(&self.0)
    }
}

fn sensitive(value: &str) -> Result<HeaderValue, ProviderError> {
    let mut header = HeaderValue::from_str(value)
        .map_err(|_| ProviderError::InvalidKey("the API key is not a valid header value"))?;
    header.set_sensitive(true);
    Ok(header)
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let key = ApiKey::from_bytes(b"sk-test-SECRET123\n").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey([REDACTED])");
        assert_eq!(format!("{key}"), "[REDACTED]");
        assert!(!format!("{key:?} {key}").contains("SECRET"));
    }

    #[test]
    fn trims_and_builds_sensitive_headers() {
        let key = ApiKey::from_bytes(b"  sk-abc \r\n").unwrap();
        let bearer = key.bearer_header().unwrap();
        assert_eq!(bearer.to_str().unwrap(), "Bearer sk-abc");
        assert!(bearer.is_sensitive());
        assert!(key.raw_header().unwrap().is_sensitive());
    }

    #[test]
    fn rejects_bad_keys_without_echoing_them() {
        for raw in [&b""[..], b"  \n", b"sk abc", b"sk-\x01", b"\xff\xfe"] {
            let err = ApiKey::from_bytes(raw).unwrap_err();
            assert_eq!(err.code(), "invalid_api_key");
            assert!(!err.to_string().contains("sk"));
        }
    }
}
