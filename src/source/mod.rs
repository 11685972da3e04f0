//! Resolving TrainingDataset sources: same namespace only, opt-in label checked from metadata
//! before any data is fetched, and missing objects or keys reported by stable reasons.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
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
    #[error(
        "the Secret and ConfigMap sources hold {bytes} bytes or more, over the limit of {limit} bytes the operator reads in-process for one dataset (--max-in-process-source-bytes); put larger data on a volume source"
    )]
    TooLarge { bytes: u64, limit: u64 },
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
            SourceProblem::TooLarge { .. } => Reason::SourcesTooLarge,
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

/// Checks every source exists and is opted in, reading metadata only: Secrets, ConfigMaps and
/// the PersistentVolumeClaims of volume sources (before any worker mounts one).
pub async fn check_allowed(
    client: &Client,
    namespace: &str,
    sources: &[DatasetSource],
) -> Result<(), SourceProblem> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    // One look per object, however many sources name it.
    let mut checked = std::collections::HashSet::new();
    for (index, s) in sources.iter().enumerate() {
        let object = match (&s.secret, &s.config_map, &s.volume) {
            (Some(r), None, None) => ("Secret", r.name.as_str()),
            (None, Some(r), None) => ("ConfigMap", r.name.as_str()),
            (None, None, Some(v)) => ("PersistentVolumeClaim", v.claim_name.as_str()),
            _ => return Err(SourceProblem::Invalid { index }),
        };
        if !checked.insert(object) {
            continue;
        }
        match (&s.secret, &s.config_map, &s.volume) {
            (Some(r), None, None) => check_meta(&secrets, index, "Secret", &r.name).await?,
            (None, Some(r), None) => check_meta(&cms, index, "ConfigMap", &r.name).await?,
            (None, None, Some(v)) => {
                check_meta(&pvcs, index, "PersistentVolumeClaim", &v.claim_name).await?
            }
            _ => return Err(SourceProblem::Invalid { index }),
        }
    }
    Ok(())
}

/// Why a pseudonymization key Secret cannot be used. Names the Secret, never its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    #[error("pseudonymization key Secret {name} lacks the label {TRAINING_DATA_LABEL}=\"true\"")]
    NotAllowed { name: String },
    #[error("pseudonymization key Secret {name} has no non-empty key {key}")]
    NotFound { name: String, key: String },
    #[error(
        "Secret {name} has the generated key's name but is not owned by this dataset; delete it or reference a key explicitly"
    )]
    NotOwned { name: String },
}

impl KeyProblem {
    /// CamelCase condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            KeyProblem::NotAllowed { .. } => "PseudonymizationKeyNotAllowed",
            KeyProblem::NotFound { .. } => "PseudonymizationKeyNotFound",
            KeyProblem::NotOwned { .. } => "PseudonymizationKeyNotOwned",
        }
    }
}

/// Whether `secret` is controlled by the object with `owner_uid` (a planted Secret with the
/// generated key's name is not: ownerReferences carry the uid, which nobody can choose).
pub fn owned_by(secret: &Secret, owner_uid: &str) -> bool {
    secret
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == owner_uid && o.controller == Some(true))
}

/// Checks a referenced pseudonymization key Secret (opt-in label, non-empty key) and returns the
/// key bytes. The value is looked at only after the label check.
pub fn referenced_key(
    secret: Option<&Secret>,
    name: &str,
    key: &str,
) -> Result<Vec<u8>, KeyProblem> {
    let not_found = || KeyProblem::NotFound {
        name: name.to_string(),
        key: key.to_string(),
    };
    let secret = secret.ok_or_else(not_found)?;
    if !label_allows(secret.metadata.labels.as_ref()) {
        return Err(KeyProblem::NotAllowed {
            name: name.to_string(),
        });
    }
    secret_key_bytes(secret, key)
        .filter(|k| !k.is_empty())
        .ok_or_else(not_found)
}

/// Checks a generated key Secret (owned by the dataset with `owner_uid`) and returns the key
/// bytes; `Ok(None)` when it has no key yet.
pub fn generated_key(
    secret: &Secret,
    name: &str,
    key: &str,
    owner_uid: &str,
) -> Result<Option<Vec<u8>>, KeyProblem> {
    if !owned_by(secret, owner_uid) {
        return Err(KeyProblem::NotOwned {
            name: name.to_string(),
        });
    }
    Ok(secret_key_bytes(secret, key).filter(|k| !k.is_empty()))
}

/// The bytes of a dataset's Secret and ConfigMap sources, in source order. A key referenced
/// several times is held once (the parts share it), and every object is fetched once however
/// many sources name it.
#[derive(Clone, Debug, Default)]
pub struct SourceBytes {
    /// One entry per source, in order; repeats share their bytes.
    pub parts: Vec<std::sync::Arc<[u8]>>,
    /// Bytes held in memory (each distinct key once).
    pub held: u64,
    /// Bytes of the stream the pipeline reads (repeats counted again).
    pub total: u64,
    /// Longest line of any part (bytes between newlines), which bounds the pipeline's memory.
    pub longest_line: u64,
}

/// The longest run of bytes without a newline in `b`.
pub fn longest_line(b: &[u8]) -> u64 {
    let mut longest = 0usize;
    let mut start = 0usize;
    for nl in memchr::memchr_iter(b'\n', b) {
        longest = longest.max(nl - start);
        start = nl + 1;
    }
    longest.max(b.len() - start) as u64
}

/// The keys a dataset reads from one object, and their bytes once fetched.
type KeysOf<'a> = std::collections::HashMap<&'a str, Option<std::sync::Arc<[u8]>>>;

/// Reads every Secret/ConfigMap source, in order, bounded: each object is fetched once however
/// many sources name it, a key named several times is held once, and reading stops with
/// [`SourceProblem::TooLarge`] as soon as the sources add up to more than `max_bytes` (the
/// pipeline would read them all, so repeats count).
pub async fn read_in_process_bounded(
    client: &Client,
    namespace: &str,
    sources: &[DatasetSource],
    max_bytes: u64,
) -> Result<SourceBytes, SourceProblem> {
    use std::collections::HashMap;
    use std::sync::Arc;
    check_allowed(client, namespace, sources).await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    // (kind, name) -> the keys this dataset reads from it, fetched on first use.
    let mut objects: HashMap<(bool, &str), KeysOf<'_>> = HashMap::new();
    for s in sources {
        let (secret, name, key) = match (&s.secret, &s.config_map) {
            (Some(r), _) => (true, r.name.as_str(), r.key.as_str()),
            (None, Some(r)) => (false, r.name.as_str(), r.key.as_str()),
            _ => continue,
        };
        objects.entry((secret, name)).or_default().insert(key, None);
    }
    let mut out = SourceBytes::default();
    for (index, s) in sources.iter().enumerate() {
        let (secret, name, key) = match (&s.secret, &s.config_map) {
            (Some(r), _) => (true, r.name.as_str(), r.key.as_str()),
            (None, Some(r)) => (false, r.name.as_str(), r.key.as_str()),
            _ => return Err(SourceProblem::Invalid { index }),
        };
        let kind = if secret { "Secret" } else { "ConfigMap" };
        let keys = objects
            .get_mut(&(secret, name))
            .ok_or(SourceProblem::Invalid { index })?;
        if keys.get(key).is_some_and(Option::is_none) {
            // First use of this object: fetch it once, take every key the dataset reads from
            // it, drop the rest.
            let (labels, mut taken): (_, HashMap<&str, Option<Vec<u8>>>) = if secret {
                let obj = secrets
                    .get_opt(name)
                    .await
                    .map_err(|e| api_problem(index, &e))?
                    .ok_or_else(|| SourceProblem::NotFound {
                        index,
                        kind,
                        name: name.to_string(),
                    })?;
                let taken = keys
                    .keys()
                    .map(|k| (*k, secret_key_bytes(&obj, k)))
                    .collect();
                (obj.metadata.labels, taken)
            } else {
                let obj = cms
                    .get_opt(name)
                    .await
                    .map_err(|e| api_problem(index, &e))?
                    .ok_or_else(|| SourceProblem::NotFound {
                        index,
                        kind,
                        name: name.to_string(),
                    })?;
                let taken = keys
                    .keys()
                    .map(|k| (*k, config_map_key_bytes(&obj, k)))
                    .collect();
                (obj.metadata.labels, taken)
            };
            if !label_allows(labels.as_ref()) {
                return Err(SourceProblem::NotAllowed {
                    index,
                    kind,
                    name: name.to_string(),
                });
            }
            for (k, slot) in keys.iter_mut() {
                if let Some(Some(bytes)) = taken.remove(k) {
                    out.held += bytes.len() as u64;
                    out.longest_line = out.longest_line.max(longest_line(&bytes));
                    *slot = Some(Arc::from(bytes));
                }
            }
        }
        let bytes = keys
            .get(key)
            .cloned()
            .flatten()
            .ok_or_else(|| SourceProblem::KeyNotFound {
                index,
                kind,
                name: name.to_string(),
                key: key.to_string(),
            })?;
        out.total = out.total.saturating_add(bytes.len() as u64);
        if out.total > max_bytes {
            return Err(SourceProblem::TooLarge {
                bytes: out.total,
                limit: max_bytes,
            });
        }
        out.parts.push(bytes);
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

    fn secret_yaml(y: &str) -> Secret {
        serde_yaml::from_str(y).expect("secret fixture")
    }

    #[test]
    fn referenced_keys_need_the_label() {
        let unlabelled = secret_yaml("metadata: {name: db}\nstringData: {password: hunter2}");
        let e = referenced_key(Some(&unlabelled), "db", "password").unwrap_err();
        assert_eq!(e.reason(), "PseudonymizationKeyNotAllowed");
        assert!(!e.to_string().contains("hunter2"));
        let labelled = secret_yaml(
            "metadata: {name: k, labels: {tunegate.dev/training-data: 'true'}}\nstringData: {key: abc}",
        );
        assert_eq!(
            referenced_key(Some(&labelled), "k", "key"),
            Ok(b"abc".to_vec())
        );
        assert_eq!(
            referenced_key(Some(&labelled), "k", "other")
                .unwrap_err()
                .reason(),
            "PseudonymizationKeyNotFound"
        );
        assert_eq!(
            referenced_key(None, "k", "key").unwrap_err().reason(),
            "PseudonymizationKeyNotFound"
        );
    }

    #[test]
    fn generated_keys_must_be_owned_by_the_dataset() {
        let planted = secret_yaml("metadata: {name: ds-hmac}\nstringData: {key: chosen-by-tenant}");
        assert_eq!(
            generated_key(&planted, "ds-hmac", "key", "uid-1")
                .unwrap_err()
                .reason(),
            "PseudonymizationKeyNotOwned"
        );
        let foreign_owner = secret_yaml(
            "metadata: {name: ds-hmac, ownerReferences: [{apiVersion: tunegate.dev/v1alpha1, kind: TrainingDataset, name: ds, uid: uid-2, controller: true}]}\nstringData: {key: k}",
        );
        assert!(generated_key(&foreign_owner, "ds-hmac", "key", "uid-1").is_err());
        let not_controller = secret_yaml(
            "metadata: {name: ds-hmac, ownerReferences: [{apiVersion: tunegate.dev/v1alpha1, kind: TrainingDataset, name: ds, uid: uid-1}]}\nstringData: {key: k}",
        );
        assert!(generated_key(&not_controller, "ds-hmac", "key", "uid-1").is_err());
        let owned = secret_yaml(
            "metadata: {name: ds-hmac, ownerReferences: [{apiVersion: tunegate.dev/v1alpha1, kind: TrainingDataset, name: ds, uid: uid-1, controller: true}]}\nstringData: {key: k}",
        );
        assert_eq!(
            generated_key(&owned, "ds-hmac", "key", "uid-1"),
            Ok(Some(b"k".to_vec()))
        );
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

    #[test]
    fn longest_lines() {
        assert_eq!(longest_line(b""), 0);
        assert_eq!(longest_line(b"abc"), 3);
        assert_eq!(longest_line(b"a\nbcd\nef"), 3);
        assert_eq!(longest_line(b"abcd\n"), 4);
    }

    #[test]
    fn too_large_names_the_limit() {
        let p = SourceProblem::TooLarge {
            bytes: 9_000_000,
            limit: 8_388_608,
        };
        assert_eq!(p.reason(), Reason::SourcesTooLarge);
        let m = p.to_string();
        assert!(
            m.contains("8388608") && m.contains("--max-in-process-source-bytes"),
            "{m}"
        );
    }
}
