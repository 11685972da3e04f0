//! Retry policy: jittered exponential backoff, server hints (`retry-after-ms`, `Retry-After` in
//! seconds or as an HTTP date, `x-should-retry`) and bounds on attempts and total time. Pure:
//! the clock and the random jitter come in as arguments.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// Bounds and shape of in-process retries.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (1 disables retries).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles each time.
    pub base_delay: Duration,
    /// Cap on one computed backoff.
    pub max_delay: Duration,
    /// No retry starts once this much time has passed since the first attempt began.
    pub max_elapsed: Duration,
    /// Server hints up to this long are honoured in-process. A longer hint ends the retries and
    /// is returned in the error (`ProviderError::retry_after`) for the controller to requeue.
    pub max_server_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_elapsed: Duration::from_secs(90),
            max_server_delay: Duration::from_secs(60),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Sleep this long, then try again.
    Retry(Duration),
    /// Return the error.
    GiveUp,
}

impl RetryPolicy {
    /// Backoff before retry number `retry` (1 for the first retry), with `jitter` in `[0, 1)`:
    /// `min(base * 2^(retry-1), max_delay)` reduced by up to 25%, so clients that failed together
    /// do not come back together.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let raw = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        raw.mul_f64(1.0 - 0.25 * jitter)
    }

    /// Decides after `attempts` attempts have failed, `elapsed` after the first one started.
    pub fn decide(
        &self,
        attempts: u32,
        elapsed: Duration,
        recoverable: bool,
        server_hint: Option<Duration>,
        jitter: f64,
    ) -> Decision {
        if !recoverable || attempts >= self.max_attempts {
            return Decision::GiveUp;
        }
        let delay = match server_hint {
            Some(hint) if hint > self.max_server_delay => return Decision::GiveUp,
            Some(hint) => hint,
            None => self.backoff(attempts, jitter),
        };
        if elapsed.saturating_add(delay) > self.max_elapsed {
            return Decision::GiveUp;
        }
        Decision::Retry(delay)
    }
}

/// Longest server-given delay believed. A hint is the server's wish, not an order: any value
/// (seconds, milliseconds or a date) is clamped to this before it is used or stored, so a
/// hostile or broken `Retry-After: 1e300` can neither overflow a `Duration` nor park a job for
/// years.
pub const MAX_RETRY_HINT: Duration = Duration::from_secs(3600);

/// The server's retry delay: `retry-after-ms` (milliseconds, OpenAI) first, then `Retry-After`
/// as seconds or as an HTTP date (relative to `now`; a date in the past means "now"). Negative,
/// non-numeric, NaN or infinite values are ignored; every result is at most [`MAX_RETRY_HINT`].
/// No arithmetic here can panic, whatever the header says.
pub fn retry_hint(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && let Some(delay) = clamp_secs(ms / 1000.0)
    {
        return Some(delay);
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return clamp_secs(secs);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_HINT),
    )
}

/// Seconds from the network as a `Duration` in `[0, MAX_RETRY_HINT]`; `None` for NaN, infinities
/// and negative values. The clamp comes before the conversion, so the conversion cannot fail.
fn clamp_secs(secs: f64) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    let secs = secs.min(MAX_RETRY_HINT.as_secs_f64());
    Duration::try_from_secs_f64(secs).ok()
}

/// The server's `x-should-retry: true|false`, which overrides the status-based classification.
pub fn should_retry_header(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get("x-should-retry")?.to_str().ok()?.trim();
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_seconds_and_ms() {
        let now = SystemTime::now();
        assert_eq!(
            retry_hint(&headers(&[("retry-after", "3")]), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            retry_hint(&headers(&[("retry-after", "1.5")]), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_hint(&headers(&[("retry-after-ms", "250")]), now),
            Some(Duration::from_millis(250))
        );
        // retry-after-ms wins over Retry-After.
        assert_eq!(
            retry_hint(
                &headers(&[("retry-after-ms", "20"), ("retry-after", "9")]),
                now
            ),
            Some(Duration::from_millis(20))
        );
        // A broken retry-after-ms falls back to Retry-After.
        assert_eq!(
            retry_hint(
                &headers(&[("retry-after-ms", "soon"), ("retry-after", "2")]),
                now
            ),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_hint(&headers(&[("retry-after", "-1")]), now), None);
        assert_eq!(retry_hint(&headers(&[("retry-after", "later")]), now), None);
        assert_eq!(retry_hint(&HeaderMap::new(), now), None);
    }

    #[test]
    fn absurd_hints_are_clamped_not_panicking() {
        let now = SystemTime::now();
        for value in [
            "1e300",
            "18446744073709551616",
            "99999999999999999999999999999999",
            "1.7976931348623157e308",
        ] {
            assert_eq!(
                retry_hint(&headers(&[("retry-after", value)]), now),
                Some(MAX_RETRY_HINT),
                "{value}"
            );
            assert_eq!(
                retry_hint(&headers(&[("retry-after-ms", value)]), now),
                Some(MAX_RETRY_HINT),
                "{value} ms"
            );
        }
        for value in ["NaN", "inf", "-inf", "-0.5", "-1e300", "infinity"] {
            assert_eq!(
                retry_hint(&headers(&[("retry-after", value)]), now),
                None,
                "{value}"
            );
            assert_eq!(
                retry_hint(&headers(&[("retry-after-ms", value)]), now),
                None,
                "{value} ms"
            );
        }
        // A date far in the future is clamped too.
        assert_eq!(
            retry_hint(
                &headers(&[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")]),
                now
            ),
            Some(MAX_RETRY_HINT)
        );
        assert_eq!(
            retry_hint(
                &headers(&[("retry-after", "Thu, 01 Jan 1970 00:00:00 GMT")]),
                now
            ),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_784_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        assert_eq!(
            retry_hint(&headers(&[("retry-after", &later)]), now),
            Some(Duration::from_secs(7))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            retry_hint(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_hint(
                &headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
                now
            ),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn x_should_retry() {
        assert_eq!(
            should_retry_header(&headers(&[("x-should-retry", "true")])),
            Some(true)
        );
        assert_eq!(
            should_retry_header(&headers(&[("x-should-retry", "FALSE")])),
            Some(false)
        );
        assert_eq!(
            should_retry_header(&headers(&[("x-should-retry", "maybe")])),
            None
        );
        assert_eq!(should_retry_header(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered_within_bounds() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(p.backoff(2, 0.0), Duration::from_secs(1));
        assert_eq!(p.backoff(3, 0.0), Duration::from_secs(2));
        assert_eq!(p.backoff(5, 0.0), Duration::from_secs(8));
        assert_eq!(p.backoff(50, 0.0), Duration::from_secs(8));
        assert_eq!(p.backoff(u32::MAX, 0.0), Duration::from_secs(8));
        for retry in 1..20 {
            for jitter in [0.0, 0.3, 0.999, 1.0, 7.0, -1.0] {
                let d = p.backoff(retry, jitter);
                let full = p.backoff(retry, 0.0);
                assert!(
                    d <= full && d >= full.mul_f64(0.75),
                    "{retry} {jitter} {d:?}"
                );
            }
        }
    }

    #[test]
    fn decisions() {
        let p = RetryPolicy::default();
        let zero = Duration::ZERO;
        assert_eq!(p.decide(1, zero, false, None, 0.0), Decision::GiveUp);
        assert_eq!(
            p.decide(1, zero, true, None, 0.0),
            Decision::Retry(Duration::from_millis(500))
        );
        // Server hint honoured exactly, even when it is longer than the computed backoff.
        assert_eq!(
            p.decide(1, zero, true, Some(Duration::from_secs(20)), 0.0),
            Decision::Retry(Duration::from_secs(20))
        );
        // Hint beyond what we wait in-process: give up, the caller requeues.
        assert_eq!(
            p.decide(1, zero, true, Some(Duration::from_secs(61)), 0.0),
            Decision::GiveUp
        );
        // Attempts bound.
        assert_eq!(p.decide(5, zero, true, None, 0.0), Decision::GiveUp);
        assert!(matches!(
            p.decide(4, zero, true, None, 0.0),
            Decision::Retry(_)
        ));
        // Total time bound.
        assert_eq!(
            p.decide(
                1,
                Duration::from_secs(89),
                true,
                Some(Duration::from_secs(2)),
                0.0
            ),
            Decision::GiveUp
        );
    }
}
