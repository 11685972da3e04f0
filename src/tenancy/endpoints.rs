//! The operator-level endpoint allow-list: which provider endpoints any config may name. Pure.
//!
//! A pattern is `host[:port]`; in the host, `*` stands for exactly one DNS label
//! (`*.openai.azure.com` matches `acme.openai.azure.com`, not `a.b.openai.azure.com`). Without a
//! port the scheme's default port is required; `:*` allows any. Only `https` is accepted, and IP
//! literals or names that are not public (loopback, private, link-local, `localhost`) are refused,
//! unless the operator runs with `--allow-insecure-endpoints` (the demo and the tests, against the
//! loopback sandbox); the host must match the list either way.

use std::net::IpAddr;

use reqwest::Url;

use tunegate_api::ProviderType;

/// Public endpoints of the supported providers, the default list.
pub const DEFAULT_ALLOWED: &[&str] = &[
    "api.openai.com",
    "*.openai.azure.com",
    "*.cognitiveservices.azure.com",
    "bedrock.*.amazonaws.com",
    "s3.*.amazonaws.com",
    "*.s3.*.amazonaws.com",
];

/// OpenAI's public API, the default endpoint of an OpenAI config.
pub const OPENAI_DEFAULT_ENDPOINT: &str = "https://api.openai.com/v1";

/// Why an endpoint is refused. Names the host, never credentials (URLs with userinfo are refused
/// without echoing them).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointProblem {
    #[error("endpoint is not a valid URL")]
    Invalid,
    #[error("endpoint must use https (plain http needs the operator's --allow-insecure-endpoints)")]
    NotHttps,
    #[error("endpoint must not contain credentials, a query or a fragment")]
    Unclean,
    #[error(
        "endpoint host {0} is loopback, private or link-local (only with the operator's --allow-insecure-endpoints)"
    )]
    NotPublic(String),
    #[error("endpoint {0} is not on the operator's endpoint allow-list")]
    NotAllowed(String),
    #[error("provider type {0} needs an endpoint")]
    Missing(&'static str),
}

/// An invalid allow-list entry (a flag or Helm value).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint allow-list entry {0:?}: expected host[:port], `*` for one label")]
pub struct PatternError(pub String);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Pattern {
    labels: Vec<String>,
    /// None: the scheme's default port; Some(None): any port.
    port: Option<Option<u16>>,
}

impl Pattern {
    fn parse(s: &str) -> Result<Self, PatternError> {
        let err = || PatternError(s.to_string());
        let s = s.trim();
        let (host, port) = match s.rsplit_once(':') {
            // An IPv6 literal is written in brackets: [::1]:8080.
            Some((h, _)) if !h.ends_with(']') && h.contains(':') => (s, None),
            Some((h, "*")) => (h, Some(None)),
            Some((h, p)) => (h, Some(Some(p.parse::<u16>().map_err(|_| err())?))),
            None => (s, None),
        };
        let host = host.trim_matches(['[', ']']).trim_end_matches('.');
        if host.is_empty() {
            return Err(err());
        }
        let labels: Vec<String> = host.split('.').map(|l| l.to_ascii_lowercase()).collect();
        let label_ok = |l: &String| {
            l == "*"
                || (!l.is_empty()
                    && l.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b':'))
        };
        if !labels.iter().all(label_ok) {
            return Err(err());
        }
        Ok(Self { labels, port })
    }

    fn matches(&self, host: &str, port: u16, default_port: u16) -> bool {
        let port_ok = match self.port {
            None => port == default_port,
            Some(None) => true,
            Some(Some(p)) => p == port,
        };
        let labels: Vec<&str> = host.split('.').collect();
        port_ok
            && labels.len() == self.labels.len()
            && self
                .labels
                .iter()
                .zip(&labels)
                .all(|(p, l)| (p == "*" && !l.is_empty()) || p.eq_ignore_ascii_case(l))
    }
}

/// The allow-list and the insecure switch, from the operator's flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointPolicy {
    patterns: Vec<Pattern>,
    insecure: bool,
}

impl Default for EndpointPolicy {
    fn default() -> Self {
        Self::new(&[], false).unwrap_or(Self {
            patterns: Vec::new(),
            insecure: false,
        })
    }
}

fn public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                // 100.64.0.0/10, carrier-grade NAT (also used by some cluster networks).
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_ip(IpAddr::V4(v4));
            }
            let seg0 = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local
                || (seg0 & 0xffc0) == 0xfe80) // link-local
        }
    }
}

impl EndpointPolicy {
    /// `allowed` empty means the default list.
    pub fn new(allowed: &[String], insecure: bool) -> Result<Self, PatternError> {
        let patterns = if allowed.is_empty() {
            DEFAULT_ALLOWED
                .iter()
                .map(|p| Pattern::parse(p))
                .collect::<Result<_, _>>()?
        } else {
            allowed
                .iter()
                .flat_map(|a| a.split(','))
                .filter(|a| !a.trim().is_empty())
                .map(Pattern::parse)
                .collect::<Result<_, _>>()?
        };
        Ok(Self { patterns, insecure })
    }

    pub fn insecure(&self) -> bool {
        self.insecure
    }

    /// Checks one endpoint URL.
    pub fn check(&self, endpoint: &str) -> Result<(), EndpointProblem> {
        let url = Url::parse(endpoint.trim()).map_err(|_| EndpointProblem::Invalid)?;
        match url.scheme() {
            "https" => {}
            "http" if self.insecure => {}
            "http" => return Err(EndpointProblem::NotHttps),
            _ => return Err(EndpointProblem::Invalid),
        }
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(EndpointProblem::Unclean);
        }
        let host = url
            .host_str()
            .ok_or(EndpointProblem::Invalid)?
            .trim_matches(['[', ']'])
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let ip: Option<IpAddr> = host.parse().ok();
        let local_name = host == "localhost" || host.ends_with(".localhost");
        if !self.insecure && (local_name || ip.is_some_and(|ip| !public_ip(ip))) {
            return Err(EndpointProblem::NotPublic(host));
        }
        let default_port = if url.scheme() == "https" { 443 } else { 80 };
        let port = url.port_or_known_default().unwrap_or(default_port);
        if self
            .patterns
            .iter()
            .any(|p| p.matches(&host, port, default_port))
        {
            Ok(())
        } else {
            Err(EndpointProblem::NotAllowed(match url.port() {
                Some(p) if host.contains(':') => format!("[{host}]:{p}"),
                Some(p) => format!("{host}:{p}"),
                None => host,
            }))
        }
    }
}

/// The endpoint a config talks to: its own, or the provider's default.
pub fn effective_endpoint(
    type_: ProviderType,
    endpoint: Option<&str>,
    bedrock_region: Option<&str>,
) -> Result<String, EndpointProblem> {
    match (type_, endpoint) {
        (_, Some(e)) => Ok(e.to_string()),
        (ProviderType::OpenAI, None) => Ok(OPENAI_DEFAULT_ENDPOINT.to_string()),
        (ProviderType::AzureOpenAI, None) => Err(EndpointProblem::Missing("AzureOpenAI")),
        (ProviderType::Bedrock, None) => bedrock_region
            .map(|r| format!("https://bedrock.{r}.amazonaws.com"))
            .ok_or(EndpointProblem::Missing("Bedrock")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_policy() -> EndpointPolicy {
        EndpointPolicy::new(&[], false).expect("defaults parse")
    }

    #[test]
    fn defaults_allow_the_public_provider_endpoints() {
        let p = default_policy();
        for ok in [
            "https://api.openai.com/v1",
            "https://API.OpenAI.com./v1",
            "https://api.openai.com:443/v1",
            "https://acme.openai.azure.com",
            "https://acme.cognitiveservices.azure.com/",
            "https://bedrock.eu-central-1.amazonaws.com",
            "https://s3.us-east-1.amazonaws.com",
            "https://my-bucket.s3.us-east-1.amazonaws.com",
        ] {
            assert_eq!(p.check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn defaults_refuse_everything_else() {
        let p = default_policy();
        let cases = [
            ("http://api.openai.com/v1", EndpointProblem::NotHttps),
            (
                "https://api.openai.com:8443/v1",
                EndpointProblem::NotAllowed("api.openai.com:8443".into()),
            ),
            (
                "https://api.openai.com.evil.example/v1",
                EndpointProblem::NotAllowed("api.openai.com.evil.example".into()),
            ),
            (
                "https://evilapi.openai.com/v1",
                EndpointProblem::NotAllowed("evilapi.openai.com".into()),
            ),
            (
                "https://a.b.openai.azure.com",
                EndpointProblem::NotAllowed("a.b.openai.azure.com".into()),
            ),
            (
                "https://openai.azure.com",
                EndpointProblem::NotAllowed("openai.azure.com".into()),
            ),
            (
                "https://127.0.0.1:8080/v1",
                EndpointProblem::NotPublic("127.0.0.1".into()),
            ),
            (
                "https://169.254.169.254/latest",
                EndpointProblem::NotPublic("169.254.169.254".into()),
            ),
            (
                "https://10.0.0.5",
                EndpointProblem::NotPublic("10.0.0.5".into()),
            ),
            (
                "https://[::1]:8080",
                EndpointProblem::NotPublic("::1".into()),
            ),
            (
                "https://[::ffff:127.0.0.1]/",
                EndpointProblem::NotPublic("::ffff:7f00:1".into()),
            ),
            (
                "https://localhost/v1",
                EndpointProblem::NotPublic("localhost".into()),
            ),
            (
                "https://user:pw@api.openai.com/v1",
                EndpointProblem::Unclean,
            ),
            ("https://api.openai.com/v1?x=1", EndpointProblem::Unclean),
            ("ftp://api.openai.com", EndpointProblem::Invalid),
            ("not a url", EndpointProblem::Invalid),
            (
                "https://8.8.8.8",
                EndpointProblem::NotAllowed("8.8.8.8".into()),
            ),
        ];
        for (url, want) in cases {
            assert_eq!(p.check(url), Err(want), "{url}");
        }
        // The refusal never echoes credentials.
        let e = p.check("https://user:hunter2@api.openai.com").unwrap_err();
        assert!(!e.to_string().contains("hunter2"));
    }

    #[test]
    fn insecure_allows_http_and_loopback_but_still_only_listed_hosts() {
        let p = EndpointPolicy::new(&["127.0.0.1:18080".into()], true).expect("parse");
        assert_eq!(p.check("http://127.0.0.1:18080/v1"), Ok(()));
        assert_eq!(
            p.check("http://127.0.0.1:18081/v1"),
            Err(EndpointProblem::NotAllowed("127.0.0.1:18081".into()))
        );
        assert_eq!(
            p.check("https://api.openai.com/v1"),
            Err(EndpointProblem::NotAllowed("api.openai.com".into())),
            "an explicit list replaces the defaults"
        );
        let any_port = EndpointPolicy::new(&["127.0.0.1:*,sandbox.demo.svc:8080".into()], true)
            .expect("parse");
        assert_eq!(any_port.check("http://127.0.0.1:5/v1"), Ok(()));
        assert_eq!(any_port.check("http://sandbox.demo.svc:8080/v1"), Ok(()));
        // Without the insecure flag the same list is refused for http and loopback.
        let strict = EndpointPolicy::new(&["127.0.0.1:*".into()], false).expect("parse");
        assert_eq!(
            strict.check("http://127.0.0.1:5/v1"),
            Err(EndpointProblem::NotHttps)
        );
        assert_eq!(
            strict.check("https://127.0.0.1:5/v1"),
            Err(EndpointProblem::NotPublic("127.0.0.1".into()))
        );
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["", "a..b", "host:99999", "ho st", "https://x"] {
            assert!(
                EndpointPolicy::new(&[bad.to_string()], false).is_err() || bad.is_empty(),
                "{bad}"
            );
        }
        assert!(EndpointPolicy::new(&["[::1]:8080".into()], true).is_ok());
    }

    #[test]
    fn effective_endpoints() {
        assert_eq!(
            effective_endpoint(ProviderType::OpenAI, None, None).as_deref(),
            Ok(OPENAI_DEFAULT_ENDPOINT)
        );
        assert!(effective_endpoint(ProviderType::AzureOpenAI, None, None).is_err());
        assert_eq!(
            effective_endpoint(ProviderType::Bedrock, None, Some("us-west-2")).as_deref(),
            Ok("https://bedrock.us-west-2.amazonaws.com")
        );
    }
}
