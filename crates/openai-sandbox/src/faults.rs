//! Fault injection: per-route rules (429 with Retry-After, 5xx, latency, dropped connections) and
//! forced job failures. Decisions come from a seeded RNG, so a run is reproducible.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    #[serde(rename = "429")]
    RateLimited,
    #[serde(rename = "500")]
    Internal,
    #[serde(rename = "502")]
    BadGateway,
    #[serde(rename = "503")]
    Unavailable,
    #[serde(rename = "drop")]
    Drop,
    /// The request is processed, then the connection is closed instead of answering: the client
    /// cannot tell whether its create happened (tests adoption after a lost response).
    #[serde(rename = "drop_after")]
    DropAfter,
}

impl FaultKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "429" => Some(Self::RateLimited),
            "500" => Some(Self::Internal),
            "502" => Some(Self::BadGateway),
            "503" => Some(Self::Unavailable),
            "drop" => Some(Self::Drop),
            "drop_after" => Some(Self::DropAfter),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::RateLimited => "429",
            Self::Internal => "500",
            Self::BadGateway => "502",
            Self::Unavailable => "503",
            Self::Drop => "drop",
            Self::DropAfter => "drop_after",
        }
    }
}

fn default_route() -> String {
    "*".into()
}
fn default_kinds() -> Vec<FaultKind> {
    vec![FaultKind::RateLimited]
}
fn default_retry_after_ms() -> u64 {
    1000
}

/// One rule. `route` is `"[METHOD ]PATH_GLOB"` where `*` matches any run of characters, e.g.
/// `"POST /v1/files"`, `"/v1/fine_tuning/jobs/*"`, `"*"`. `/_sandbox/` paths are never faulted.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    #[serde(default = "default_route")]
    pub route: String,
    /// Probability (0..=1) that a matching request gets a fault.
    #[serde(default)]
    pub rate: f64,
    /// Exactly the next `count` matching requests get a fault (cycling through `kinds`); after
    /// that the rule only adds latency. Takes precedence over `rate`.
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default = "default_kinds")]
    pub kinds: Vec<FaultKind>,
    /// Added before every matching request.
    #[serde(default)]
    pub latency_ms: u64,
    /// Advertised in `retry-after-ms` and (rounded up) `Retry-After` on 429 and 503.
    #[serde(default = "default_retry_after_ms")]
    pub retry_after_ms: u64,
    /// Faults injected so far by this rule (reported back by `GET /_sandbox/faults`).
    #[serde(default)]
    pub injected: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    pub seed: u64,
    pub rules: Vec<FaultRule>,
    /// The next N created jobs fail while running.
    pub fail_next_jobs: u32,
    /// Jobs whose metadata contains this key fail while running.
    pub fail_jobs_with_metadata: Option<String>,
}

pub struct Faults {
    pub config: FaultConfig,
    rng: StdRng,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub latency_ms: u64,
    pub fault: Option<(FaultKind, u64)>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        let rng = StdRng::seed_from_u64(config.seed);
        Self { config, rng }
    }

    pub fn decide(&mut self, method: &str, path: &str) -> Decision {
        let mut d = Decision {
            latency_ms: 0,
            fault: None,
        };
        for rule in &mut self.config.rules {
            if !route_matches(&rule.route, method, path) {
                continue;
            }
            d.latency_ms += rule.latency_ms;
            if d.fault.is_some() || rule.kinds.is_empty() {
                continue;
            }
            let kind = match rule.count {
                Some(c) if rule.injected < c => {
                    Some(rule.kinds[rule.injected as usize % rule.kinds.len()])
                }
                Some(_) => None,
                None if rule.rate > 0.0 && self.rng.random::<f64>() < rule.rate => {
                    Some(rule.kinds[self.rng.random_range(0..rule.kinds.len())])
                }
                None => None,
            };
            if let Some(k) = kind {
                rule.injected += 1;
                d.fault = Some((k, rule.retry_after_ms));
            }
        }
        d
    }

    /// Whether a newly created job must fail (consumes one of `fail_next_jobs`).
    pub fn job_must_fail(
        &mut self,
        metadata: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> bool {
        if let (Some(key), Some(md)) = (&self.config.fail_jobs_with_metadata, metadata)
            && md.contains_key(key)
        {
            return true;
        }
        if self.config.fail_next_jobs > 0 {
            self.config.fail_next_jobs -= 1;
            return true;
        }
        false
    }
}

pub fn route_matches(pattern: &str, method: &str, path: &str) -> bool {
    let (m, p) = match pattern.split_once(' ') {
        Some((m, p)) => (Some(m), p.trim()),
        None => (None, pattern.trim()),
    };
    if let Some(m) = m
        && !m.eq_ignore_ascii_case(method)
    {
        return false;
    }
    glob(p.as_bytes(), path.as_bytes())
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    // Iterative wildcard match with single backtrack point (classic, linear in practice).
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = si;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(route_matches("*", "GET", "/v1/files"));
        assert!(route_matches("POST /v1/files", "post", "/v1/files"));
        assert!(!route_matches("POST /v1/files", "GET", "/v1/files"));
        assert!(route_matches(
            "/v1/fine_tuning/jobs/*",
            "GET",
            "/v1/fine_tuning/jobs/ftjob-1/events"
        ));
        assert!(!route_matches("/v1/fine_tuning/jobs/*", "GET", "/v1/files"));
        assert!(route_matches(
            "*/cancel",
            "POST",
            "/v1/fine_tuning/jobs/x/cancel"
        ));
    }

    #[test]
    fn count_rules_are_exact_and_rate_rules_are_seeded() {
        let rule = |count, rate| FaultRule {
            route: "*".into(),
            rate,
            count,
            kinds: vec![FaultKind::RateLimited, FaultKind::Unavailable],
            latency_ms: 0,
            retry_after_ms: 10,
            injected: 0,
        };
        let mut f = Faults::new(FaultConfig {
            rules: vec![rule(Some(2), 0.0)],
            ..Default::default()
        });
        let kinds: Vec<_> = (0..4)
            .map(|_| f.decide("GET", "/v1/files").fault.map(|x| x.0))
            .collect();
        assert_eq!(
            kinds,
            vec![
                Some(FaultKind::RateLimited),
                Some(FaultKind::Unavailable),
                None,
                None
            ]
        );

        let run = |seed| {
            let mut f = Faults::new(FaultConfig {
                seed,
                rules: vec![rule(None, 0.5)],
                ..Default::default()
            });
            (0..64)
                .map(|_| f.decide("GET", "/x").fault.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        let hits = run(9).iter().filter(|x| **x).count();
        assert!(hits > 10 && hits < 54, "{hits}");
    }

    #[test]
    fn forced_job_failures() {
        let mut f = Faults::new(FaultConfig {
            fail_next_jobs: 1,
            fail_jobs_with_metadata: Some("fail".into()),
            ..Default::default()
        });
        assert!(f.job_must_fail(None));
        assert!(!f.job_must_fail(None));
        let mut md = serde_json::Map::new();
        md.insert("fail".into(), "yes".into());
        assert!(f.job_must_fail(Some(&md)));
    }
}
