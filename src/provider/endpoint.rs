//! Where requests go and how they authenticate, for each provider flavour. Pure.

use reqwest::Url;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::error::ProviderError;
use super::key::ApiKey;

/// OpenAI's public API.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The differences between OpenAI and Azure OpenAI that are not about status words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI: `Authorization: Bearer`, `{base}/files`, optional organization and project.
    OpenAi {
        /// Sent as `OpenAI-Organization`.
        organization: Option<String>,
        /// Sent as `OpenAI-Project`.
        project: Option<String>,
    },
    /// Azure OpenAI: `api-key`, `{endpoint}/openai/files?api-version=...` (dated versions), or
    /// the v1 data plane `{endpoint}/openai/v1/files` with no `api-version` (version `v1`).
    Azure {
        /// The data-plane API version, e.g. `2024-10-21` or `2025-04-01-preview`; `v1` selects
        /// the v1 data plane (`/openai/v1/...`, no `api-version` query).
        api_version: String,
    },
}

impl Dialect {
    /// A short name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OpenAi { .. } => "OpenAI",
            Self::Azure { .. } => "Azure OpenAI",
        }
    }

    /// Whether this is Azure's v1 data plane (`/openai/v1/...`).
    pub fn is_azure_v1(&self) -> bool {
        matches!(self, Self::Azure { api_version } if api_version.trim() == AZURE_V1)
    }

    /// Whether uploaded files must reach `processed` before a job may use them.
    pub fn files_need_processing(&self) -> bool {
        matches!(self, Self::Azure { .. })
    }
}

/// The `apiVersion` that selects Azure OpenAI's v1 data plane.
pub const AZURE_V1: &str = "v1";

/// A base URL plus a dialect: builds every URL and the authentication headers.
#[derive(Clone, Debug)]
pub struct Endpoint {
    base: Url,
    dialect: Dialect,
}

impl Endpoint {
    /// Validates the base URL: http(s), no query, no fragment, no credentials. For Azure the
    /// resource endpoint is expected (`https://x.openai.azure.com`); a trailing `/openai` is
    /// accepted and not doubled.
    pub fn new(base_url: &str, dialect: Dialect) -> Result<Self, ProviderError> {
        let mut base = Url::parse(base_url.trim())
            .map_err(|e| ProviderError::InvalidConfig(format!("base URL is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ProviderError::InvalidConfig(
                "base URL must use http or https".into(),
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(ProviderError::InvalidConfig(
                "base URL must not have a query or fragment".into(),
            ));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(ProviderError::InvalidConfig(
                "base URL must not contain credentials".into(),
            ));
        }
        if let Dialect::Azure { api_version } = &dialect
            && api_version.trim().is_empty()
        {
            return Err(ProviderError::InvalidConfig(
                "Azure OpenAI needs an apiVersion".into(),
            ));
        }
        let mut path = base.path().trim_end_matches('/').to_owned();
        if matches!(dialect, Dialect::Azure { .. }) {
            // Accept the resource endpoint with or without `/openai` or `/openai/v1`.
            for suffix in ["/openai/v1", "/openai"] {
                if let Some(p) = path.strip_suffix(suffix) {
                    path = p.to_owned();
                    break;
                }
            }
            path.push_str(if dialect.is_azure_v1() {
                "/openai/v1"
            } else {
                "/openai"
            });
        }
        base.set_path(&path);
        Ok(Self { base, dialect })
    }

    /// The dialect.
    pub fn dialect(&self) -> &Dialect {
        &self.dialect
    }

    /// `{base}/{segments...}?{query}` (+ `api-version` for Azure). Segments are percent-encoded,
    /// so ids with `:` or `/` cannot change the path.
    pub fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
        }
        {
            let mut pairs = url.query_pairs_mut();
            if let Dialect::Azure { api_version } = &self.dialect
                && !self.dialect.is_azure_v1()
            {
                pairs.append_pair("api-version", api_version);
            }
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        url
    }

    /// Authentication and routing headers for every request.
    pub fn headers(&self, key: &ApiKey) -> Result<HeaderMap, ProviderError> {
        let mut headers = HeaderMap::new();
        match &self.dialect {
            Dialect::OpenAi {
                organization,
                project,
            } => {
                headers.insert(reqwest::header::AUTHORIZATION, key.bearer_header()?);
                for (name, value) in [
                    ("openai-organization", organization),
                    ("openai-project", project),
                ] {
                    if let Some(value) = value {
                        let value = HeaderValue::from_str(value.trim()).map_err(|_| {
                            ProviderError::InvalidConfig(format!("{name} is not a valid header"))
                        })?;
                        headers.insert(HeaderName::from_static(name), value);
                    }
                }
            }
            Dialect::Azure { .. } => {
                headers.insert(HeaderName::from_static("api-key"), key.raw_header()?);
            }
        }
        Ok(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openai() -> Dialect {
        Dialect::OpenAi {
            organization: Some("org-1".into()),
            project: None,
        }
    }

    fn azure() -> Dialect {
        Dialect::Azure {
            api_version: "2024-10-21".into(),
        }
    }

    #[test]
    fn openai_urls() {
        let e = Endpoint::new("https://api.openai.com/v1/", openai()).unwrap();
        assert_eq!(
            e.url(&["files"], &[]).as_str(),
            "https://api.openai.com/v1/files"
        );
        assert_eq!(
            e.url(
                &["fine_tuning", "jobs"],
                &[("metadata[tunegate-uid]", "abc"), ("limit", "100")]
            )
            .as_str(),
            "https://api.openai.com/v1/fine_tuning/jobs?metadata%5Btunegate-uid%5D=abc&limit=100"
        );
        assert_eq!(
            e.url(&["models", "ft:gpt-4o-mini:org:sfx:AbC"], &[])
                .as_str(),
            "https://api.openai.com/v1/models/ft:gpt-4o-mini:org:sfx:AbC"
        );
        // An id cannot escape its segment.
        assert_eq!(
            e.url(&["files", "../models?x=1#y"], &[]).as_str(),
            "https://api.openai.com/v1/files/..%2Fmodels%3Fx=1%23y"
        );
    }

    #[test]
    fn azure_urls() {
        let e = Endpoint::new("https://res.openai.azure.com", azure()).unwrap();
        assert_eq!(
            e.url(&["fine_tuning", "jobs", "ftjob-1", "cancel"], &[])
                .as_str(),
            "https://res.openai.azure.com/openai/fine_tuning/jobs/ftjob-1/cancel?api-version=2024-10-21"
        );
        assert_eq!(
            e.url(&["files"], &[("purpose", "fine-tune")]).as_str(),
            "https://res.openai.azure.com/openai/files?api-version=2024-10-21&purpose=fine-tune"
        );
        let e = Endpoint::new("http://127.0.0.1:8080/openai/", azure()).unwrap();
        assert_eq!(
            e.url(&["files", "file-1"], &[]).as_str(),
            "http://127.0.0.1:8080/openai/files/file-1?api-version=2024-10-21"
        );
    }

    #[test]
    fn azure_v1_urls() {
        let v1 = || Dialect::Azure {
            api_version: "v1".into(),
        };
        for base in [
            "https://res.openai.azure.com",
            "https://res.openai.azure.com/openai",
            "https://res.openai.azure.com/openai/v1/",
        ] {
            let e = Endpoint::new(base, v1()).unwrap();
            assert_eq!(
                e.url(&["fine_tuning", "jobs", "ftjob-1", "pause"], &[])
                    .as_str(),
                "https://res.openai.azure.com/openai/v1/fine_tuning/jobs/ftjob-1/pause",
                "{base}"
            );
            assert_eq!(
                e.url(&["files"], &[("purpose", "fine-tune")]).as_str(),
                "https://res.openai.azure.com/openai/v1/files?purpose=fine-tune"
            );
        }
        // A dated version given a v1 base URL goes back to the dated paths.
        let e = Endpoint::new("https://res.openai.azure.com/openai/v1", azure()).unwrap();
        assert_eq!(
            e.url(&["files"], &[]).as_str(),
            "https://res.openai.azure.com/openai/files?api-version=2024-10-21"
        );
        assert!(v1().is_azure_v1() && !azure().is_azure_v1() && !openai().is_azure_v1());
    }

    #[test]
    fn rejects_bad_base_urls() {
        for bad in [
            "api.openai.com",
            "ftp://x/v1",
            "https://x/v1?a=b",
            "https://u:p@x/v1",
            "https://x/#f",
        ] {
            assert!(Endpoint::new(bad, openai()).is_err(), "{bad}");
        }
        let no_version = Dialect::Azure {
            api_version: " ".into(),
        };
        assert!(Endpoint::new("https://x", no_version).is_err());
    }

    #[test]
    fn auth_headers() {
        let key = ApiKey::from_bytes(b"sk-1").unwrap();
        let h = Endpoint::new(OPENAI_DEFAULT_BASE_URL, openai())
            .unwrap()
            .headers(&key)
            .unwrap();
        assert_eq!(h["authorization"], "Bearer sk-1");
        assert_eq!(h["openai-organization"], "org-1");
        assert!(h.get("openai-project").is_none());
        assert!(h.get("api-key").is_none());
        let h = Endpoint::new("https://x", azure())
            .unwrap()
            .headers(&key)
            .unwrap();
        assert_eq!(h["api-key"], "sk-1");
        assert!(h.get("authorization").is_none());
    }
}
