//! Resolving TrainingDataset sources: same namespace only, opt-in label checked from metadata
//! before any data is fetched, and missing objects or keys reported by stable reasons.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::{Client, Resource};

use tunegate_api::conditions::Reason;
use tunegate_api::{DatasetSource, TRAINING_DATA_LABEL};

/// Why a source cannot be used. Names objects and keys, never their content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceProblem {
    #[error("source {index}: {kind} {name} lacks the label {TRAINING_DATA_LABEL}=\"true\"")]
    NotAllowed {
        index: usize,
        kind: &'static str,
        name: String,
    },
    #[error("source {index}: {kind} {name} not found")]
    NotFound {
        index: usize,
        kind: &'static str,
        name: String,
    },
    #[error("source {index}: {kind} {name} has no key {key}")]
    KeyNotFound {
        index: usize,
        kind: &'static str,
        name: String,
        key: String,
    },
    #[error("source {index}: invalid source (exactly one of secret, configMap, volume)")]
    Invalid { index: usize },
    #[error("cannot read source {index}: Kubernetes API error")]
    Api { index: usize, retryable: bool },
}

impl SourceProblem {
    /// The condition reason.
    pub fn reason(&self) -> Reason {
        match self {
            SourceProblem::NotAllowed { .. } => Reason::SourceNotAllowed,
            SourceProblem::NotFound { .. } => Reason::SourceNotFound,
            SourceProblem::KeyNotFound { .. } => Reason::KeyNotFound,
            SourceProblem::Invalid { .. } => Reason::InvalidSource,
            SourceProblem::Api { .. } => Reason::SourceUnreadable,
        }
    }
}

/// True when the labels opt the object in as training data.
pub fn label_allows(labels: Option<&BTreeMap<String, String>>) -> bool {
    labels
        .and_then(|l| l.get(TRAINING_DATA_LABEL))
        .is_some_and(|v| v == "true")
}

/// The bytes of `key` in a Secret (`data`, or `stringData` when a client left it unmerged).
pub fn secret_key_bytes(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    if let Some(v) = secret.data.as_ref().and_then(|d| d.get(key)) {
        return Some(v.0.clone());
    }
    secret
        .string_data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|s| s.as_bytes().to_vec())
}

/// The bytes of `key` in a ConfigMap (`data` or `binaryData`).
pub fn config_map_key_bytes(cm: &ConfigMap, key: &str) -> Option<Vec<u8>> {
    if let Some(v) = cm.data.as_ref().and_then(|d| d.get(key)) {
        return Some(v.as_bytes().to_vec());
    }
    cm.binary_data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
}

/// Whether any source lives on a volume (then a worker Job reads all of them).
pub fn has_volume(sources: &[DatasetSource]) -> bool {
    sources.iter().any(|s| s.volume.is_some())
}

fn api_problem(index: usize, e: &kube::Error) -> SourceProblem {
    let retryable = !matches!(e, kube::Error::Api(s) if s.code == 403);
    SourceProblem::Api { index, retryable }
}

async fn check_meta<K>(
    api: &Api<K>,
    index: usize,
    kind: &'static str,
    name: &str,
) -> Result<(), SourceProblem>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get_metadata_opt(name).await {
        Ok(Some(meta)) if label_allows(meta.metadata.labels.as_ref()) => Ok(()),
        Ok(Some(_)) => Err(SourceProblem::NotAllowed {
            index,
            kind,
            name: name.to_string(),
        }),
        Ok(None) => Err(SourceProblem::NotFound {
            index,
            kind,
            name: name.to_string(),
        }),
        Err(e) => Err(api_problem(index, &e)),
    }
}

/// Checks every Secret/ConfigMap source exists and is opted in, reading metadata only.
pub async fn check_allowed(
    client: &Client,
    namespace: &str,
    sources: &[DatasetSource],
) -> Result<(), SourceProblem> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    for (index, s) in sources.iter().enumerate() {
        match (&s.secret, &s.config_map, &s.volume) {
            (Some(r), None, None) => check_meta(&secrets, index, "Secret", &r.name).await?,
            (None, Some(r), None) => check_meta(&cms, index, "ConfigMap", &r.name).await?,
            (None, None, Some(_)) => {}
            _ => return Err(SourceProblem::Invalid { index }),
        }
    }
    Ok(())
}

/// Reads every Secret/ConfigMap source, in order, after checking the label from metadata. The
/// label is checked again on the fetched object, so a label removed in between still refuses.
pub async fn read_in_process(
    client: &Client,
    namespace: &str,
    sources: &[DatasetSource],
) -> Result<Vec<Vec<u8>>, SourceProblem> {
    check_allowed(client, namespace, sources).await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let mut out = Vec::with_capacity(sources.len());
    for (index, s) in sources.iter().enumerate() {
        if let Some(r) = &s.secret {
            let obj = secrets
                .get_opt(&r.name)
                .await
                .map_err(|e| api_problem(index, &e))?;
            let obj = obj.ok_or_else(|| SourceProblem::NotFound {
                index,
                kind: "Secret",
                name: r.name.clone(),
            })?;
            if !label_allows(obj.metadata.labels.as_ref()) {
                return Err(SourceProblem::NotAllowed {
                    index,
                    kind: "Secret",
                    name: r.name.clone(),
                });
            }
            out.push(
                secret_key_bytes(&obj, &r.key).ok_or_else(|| SourceProblem::KeyNotFound {
                    index,
                    kind: "Secret",
                    name: r.name.clone(),
                    key: r.key.clone(),
                })?,
            );
        } else if let Some(r) = &s.config_map {
            let obj = cms
                .get_opt(&r.name)
                .await
                .map_err(|e| api_problem(index, &e))?;
            let obj = obj.ok_or_else(|| SourceProblem::NotFound {
                index,
                kind: "ConfigMap",
                name: r.name.clone(),
            })?;
            if !label_allows(obj.metadata.labels.as_ref()) {
                return Err(SourceProblem::NotAllowed {
                    index,
                    kind: "ConfigMap",
                    name: r.name.clone(),
                });
            }
            out.push(config_map_key_bytes(&obj, &r.key).ok_or_else(|| {
                SourceProblem::KeyNotFound {
                    index,
                    kind: "ConfigMap",
                    name: r.name.clone(),
                    key: r.key.clone(),
                }
            })?);
        } else {
            return Err(SourceProblem::Invalid { index });
        }
    }
    Ok(out)
}

/// Names of the Secrets and ConfigMaps a source list refers to (for the watch mappers).
pub fn referenced(sources: &[DatasetSource]) -> (Vec<&str>, Vec<&str>) {
    let secrets = sources
        .iter()
        .filter_map(|s| s.secret.as_ref().map(|r| r.name.as_str()))
        .collect();
    let cms = sources
        .iter()
        .filter_map(|s| s.config_map.as_ref().map(|r| r.name.as_str()))
        .collect();
    (secrets, cms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    #[test]
    fn label_must_be_exactly_true() {
        let mut l = BTreeMap::new();
        assert!(!label_allows(None));
        assert!(!label_allows(Some(&l)));
        l.insert(TRAINING_DATA_LABEL.to_string(), "yes".to_string());
        assert!(!label_allows(Some(&l)));
        l.insert(TRAINING_DATA_LABEL.to_string(), "true".to_string());
        assert!(label_allows(Some(&l)));
    }

    #[test]
    fn secret_and_config_map_keys() {
        let s = Secret {
            data: Some(BTreeMap::from([(
                "a".to_string(),
                ByteString(b"x".to_vec()),
            )])),
            ..Default::default()
        };
        assert_eq!(secret_key_bytes(&s, "a"), Some(b"x".to_vec()));
        assert_eq!(secret_key_bytes(&s, "b"), None);
        let cm = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                "b".to_string(),
                ByteString(b"y".to_vec()),
            )])),
            ..Default::default()
        };
        assert_eq!(config_map_key_bytes(&cm, "b"), Some(b"y".to_vec()));
        assert_eq!(config_map_key_bytes(&cm, "a"), None);
    }

    #[test]
    fn problems_map_to_stable_reasons() {
        let p = SourceProblem::NotAllowed {
            index: 0,
            kind: "Secret",
            name: "s".into(),
        };
        assert_eq!(p.reason(), Reason::SourceNotAllowed);
        let k = SourceProblem::KeyNotFound {
            index: 0,
            kind: "Secret",
            name: "s".into(),
            key: "k".into(),
        };
        assert_eq!(k.reason(), Reason::KeyNotFound);
    }
}
