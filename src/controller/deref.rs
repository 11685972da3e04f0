//! The dereference step, shared by the TrainingDataset controller (validation), the FineTuneJob
//! controller (upload) and the worker manifests: resolve a dataset's sources and its
//! pseudonymization key once, into either the inputs the pipeline needs or a typed problem.
//!
//! Sources are checked for the opt-in label from metadata before any data is read. Secret and
//! ConfigMap sources are read in-process; volume sources are only checked here, because a worker
//! Job reads them (it mounts the claims and the key Secret itself).

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, Resource, ResourceExt};

use super::Error;
use crate::source::{self, SourceProblem};
use tunegate_api::conditions::Reason;
use tunegate_api::{RedactionMode, TrainingDataset};

/// Key (within the generated Secret) of a generated pseudonymization key.
pub const GENERATED_KEY: &str = "key";

/// Name of the Secret the controller generates for Pseudonymize mode without a key reference:
/// `<dataset>-pseudonymization-key`, hashed and cut to fit 253 characters for a long dataset
/// name (an over-long name would be refused with 422 on every reconcile).
pub fn generated_key_secret(dataset: &str) -> String {
    crate::sharing::bounded_name(dataset, "-pseudonymization-key", crate::sharing::MAX_NAME)
}

/// The (Secret, key) holding a dataset's pseudonymization key, when its mode needs one.
pub fn key_secret(ds: &TrainingDataset) -> Option<(String, String)> {
    if ds.spec.redaction.mode != RedactionMode::Pseudonymize {
        return None;
    }
    Some(match &ds.spec.redaction.pseudonymization_key_ref {
        Some(r) => (r.name.clone(), r.key.clone()),
        None => (
            generated_key_secret(&ds.name_any()),
            GENERATED_KEY.to_string(),
        ),
    })
}

/// Where the dataset's bytes come from.
#[derive(Debug)]
pub enum Data {
    /// Every source is a Secret or ConfigMap: their bytes, in order.
    InProcess(InProcessData),
    /// At least one source is on a volume: a worker Job reads all of them. The label checks of
    /// the Secret/ConfigMap sources passed.
    Volume,
}

/// In-process source bytes and the memory reserved for them and their pipeline run. The
/// reservation goes back to the budget when this (or the reader `dataset::concat` makes of it)
/// is dropped.
#[derive(Default)]
pub struct InProcessData {
    pub bytes: source::SourceBytes,
    pub reservation: Option<crate::sharing::Reservation>,
}

impl std::fmt::Debug for InProcessData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(std::any::type_name::<Self>())
            .field("parts", &self.bytes.parts.len())
            .field("held", &self.bytes.held)
            .field("reserved", &self.reservation.as_ref().map(|r| r.bytes()))
            .finish()
    }
}

impl From<Vec<Vec<u8>>> for InProcessData {
    fn from(parts: Vec<Vec<u8>>) -> Self {
        let held = parts.iter().map(|p| p.len() as u64).sum();
        Self {
            bytes: source::SourceBytes {
                longest_line: parts
                    .iter()
                    .map(|p| source::longest_line(p))
                    .max()
                    .unwrap_or(0),
                parts: parts.into_iter().map(std::sync::Arc::from).collect(),
                held,
                total: held,
            },
            reservation: None,
        }
    }
}

/// Memory one in-process run needs: its bytes, plus the pipeline's per-line multiple of the
/// longest line (`tunegate_core::dataset::memory`).
pub fn memory_needed(bytes: &source::SourceBytes) -> u64 {
    bytes.held.saturating_add(
        bytes
            .longest_line
            .saturating_mul(tunegate_core::dataset::memory::BYTES_PER_LINE_BYTE),
    )
}

/// A dataset's resolved inputs.
#[derive(Debug)]
pub struct Inputs {
    pub data: Data,
    /// The pseudonymization key's bytes, when the mode needs one.
    pub key: Option<Vec<u8>>,
    /// The (Secret, key) the key came from, for worker Jobs that mount it.
    pub key_secret: Option<(String, String)>,
}

/// Whether the dereference may create the generated pseudonymization key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAccess {
    /// The dataset controller: generate the key Secret when the spec names none and it is absent.
    CreateIfMissing,
    /// The upload path: the key must already exist (it was used to compute the digest).
    ReadOnly,
}

/// Why a dataset's inputs cannot be resolved. Names objects and keys, never their content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{0}")]
    Source(SourceProblem),
    #[error("Secret {secret} has no non-empty key {key}")]
    KeyNotFound { secret: String, key: String },
    #[error("{0}")]
    Key(source::KeyProblem),
    #[error(
        "reading these sources in-process needs {need} bytes of memory (their {held} bytes plus 16 x their longest line), more than the operator's whole budget of {limit} bytes (--source-memory-budget-bytes); put the data on a volume source"
    )]
    OverBudget { need: u64, held: u64, limit: u64 },
}

impl Problem {
    /// The condition reason.
    pub fn reason(&self) -> Reason {
        match self {
            Problem::Source(p) => p.reason(),
            Problem::KeyNotFound { .. } => Reason::PseudonymizationKeyNotFound,
            Problem::Key(k) => Reason::parse(k.reason()),
            Problem::OverBudget { .. } => Reason::SourcesTooLarge,
        }
    }
}

/// Reserves the memory of an in-process run: `Err(problem)` when it can never fit the budget,
/// `Ok(Err(Busy))` when the budget is taken by other reconciles now.
fn reserve(
    bytes: source::SourceBytes,
    budget: Option<&std::sync::Arc<crate::sharing::ByteBudget>>,
) -> Result<Result<InProcessData, Error>, Problem> {
    let Some(budget) = budget else {
        return Ok(Ok(InProcessData {
            bytes,
            reservation: None,
        }));
    };
    let need = memory_needed(&bytes);
    if need > budget.limit() {
        return Err(Problem::OverBudget {
            need,
            held: bytes.held,
            limit: budget.limit(),
        });
    }
    Ok(match budget.try_reserve(need) {
        Some(r) => Ok(InProcessData {
            bytes,
            reservation: Some(r),
        }),
        None => Err(Error::Busy("source memory budget")),
    })
}

/// A retryable API error is the reconcile's error (requeued with backoff); every other source
/// problem is a verdict on the spec or the cluster's objects.
fn source_problem(p: SourceProblem) -> Result<Problem, Error> {
    match p {
        SourceProblem::Api {
            retryable: true, ..
        } => Err(Error::Source(p)),
        p => Ok(Problem::Source(p)),
    }
}

/// Resolves `ds`'s sources and key. `Ok(Err(problem))` is a verdict to report; `Err` is a
/// transient failure to retry. In-process sources are capped at the default per-dataset size;
/// nothing is reserved (the controllers use [`resolve_in`]).
pub async fn resolve(
    client: &Client,
    ds: &TrainingDataset,
    access: KeyAccess,
) -> Result<Result<Inputs, Problem>, Error> {
    resolve_with(
        client,
        ds,
        access,
        super::DEFAULT_MAX_IN_PROCESS_SOURCE_BYTES,
        None,
    )
    .await
}

/// [`resolve`] for a reconcile: in-process sources are capped at the operator's per-dataset
/// limit, and their memory (bytes and pipeline) is reserved from the process-wide budget shared
/// by every concurrent reconcile. When the budget is taken by others the reconcile fails with
/// [`Error::Busy`], which requeues shortly without counting as a failure of the object.
pub async fn resolve_in(
    ctx: &super::Context,
    ds: &TrainingDataset,
    access: KeyAccess,
) -> Result<Result<Inputs, Problem>, Error> {
    resolve_with(
        &ctx.client,
        ds,
        access,
        ctx.config.max_in_process_source_bytes,
        Some(&ctx.source_budget),
    )
    .await
}

async fn resolve_with(
    client: &Client,
    ds: &TrainingDataset,
    access: KeyAccess,
    max_bytes: u64,
    budget: Option<&std::sync::Arc<crate::sharing::ByteBudget>>,
) -> Result<Result<Inputs, Problem>, Error> {
    let ns = ds.namespace().ok_or(Error::MissingField("namespace"))?;
    let sources = &ds.spec.sources;
    let data = if source::has_volume(sources) {
        match source::check_allowed(client, &ns, sources).await {
            Ok(()) => Data::Volume,
            Err(p) => return Ok(Err(source_problem(p)?)),
        }
    } else {
        match source::read_in_process_bounded(client, &ns, sources, max_bytes).await {
            Ok(bytes) => match reserve(bytes, budget) {
                Ok(data) => Data::InProcess(data?),
                Err(problem) => return Ok(Err(problem)),
            },
            Err(p) => return Ok(Err(source_problem(p)?)),
        }
    };
    let key = match pseudonymization_key(client, ds, &ns, access).await? {
        Ok(k) => k,
        Err(p) => return Ok(Err(p)),
    };
    Ok(Ok(Inputs {
        data,
        key,
        key_secret: key_secret(ds),
    }))
}

/// The pseudonymization key, if the mode needs one: the referenced Secret, or the generated
/// Secret (created owned by the dataset under `CreateIfMissing`).
async fn pseudonymization_key(
    client: &Client,
    ds: &TrainingDataset,
    ns: &str,
    access: KeyAccess,
) -> Result<Result<Option<Vec<u8>>, Problem>, Error> {
    let Some((secret_name, key)) = key_secret(ds) else {
        return Ok(Ok(None));
    };
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let existing = secrets.get_opt(&secret_name).await?;
    let generated = ds.spec.redaction.pseudonymization_key_ref.is_none();
    // A referenced key needs the opt-in label (its value is not read otherwise); a generated key
    // counts only if this dataset (by uid) owns it, so a Secret planted under that name with a
    // key someone knows is refused.
    let found = if generated {
        match &existing {
            Some(s) => {
                let uid = ds.uid().ok_or(Error::MissingField("uid"))?;
                match source::generated_key(s, &secret_name, &key, &uid) {
                    Ok(k) => k,
                    Err(p) => return Ok(Err(Problem::Key(p))),
                }
            }
            None => None,
        }
    } else {
        match source::referenced_key(existing.as_ref(), &secret_name, &key) {
            Ok(k) => Some(k),
            Err(source::KeyProblem::NotFound { .. }) => None,
            Err(p) => return Ok(Err(Problem::Key(p))),
        }
    };
    if let Some(k) = found {
        return Ok(Ok(Some(k)));
    }
    if !generated || access == KeyAccess::ReadOnly || existing.is_some() {
        return Ok(Err(Problem::KeyNotFound {
            secret: secret_name,
            key,
        }));
    }
    let bytes: [u8; 32] = rand::random();
    let owner = ds
        .controller_owner_ref(&())
        .ok_or(Error::MissingField("uid"))?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name),
            namespace: Some(ns.to_string()),
            owner_references: Some(vec![owner]),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "tunegate".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        data: Some([(GENERATED_KEY.to_string(), ByteString(bytes.to_vec()))].into()),
        type_: Some("Opaque".into()),
        ..Default::default()
    };
    secrets.create(&PostParams::default(), &secret).await?;
    Ok(Ok(Some(bytes.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_secret_names_always_fit() {
        assert_eq!(generated_key_secret("ds"), "ds-pseudonymization-key");
        let long = "d".repeat(253);
        let name = generated_key_secret(&long);
        assert!(name.len() <= 253, "{}", name.len());
        assert!(name.ends_with("-pseudonymization-key"));
        assert_ne!(name, generated_key_secret(&"d".repeat(252)));
    }

    fn ds(yaml: &str) -> TrainingDataset {
        serde_yaml::from_str(yaml).expect("dataset")
    }

    #[test]
    fn key_secret_follows_the_mode_and_the_reference() {
        let masked = ds(r#"
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {name: d, namespace: a}
spec: {sources: [{secret: {name: s, key: k}}]}
"#);
        assert_eq!(key_secret(&masked), None);
        let generated = ds(r#"
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {name: d, namespace: a}
spec: {sources: [{secret: {name: s, key: k}}], redaction: {mode: Pseudonymize}}
"#);
        assert_eq!(
            key_secret(&generated),
            Some(("d-pseudonymization-key".into(), GENERATED_KEY.into()))
        );
        let referenced = ds(r#"
apiVersion: tunegate.dev/v1alpha1
kind: TrainingDataset
metadata: {name: d, namespace: a}
spec:
  sources: [{secret: {name: s, key: k}}]
  redaction: {mode: Pseudonymize, pseudonymizationKeyRef: {name: hmac, key: k2}}
"#);
        assert_eq!(key_secret(&referenced), Some(("hmac".into(), "k2".into())));
    }

    #[test]
    fn problems_have_typed_reasons() {
        let p = Problem::KeyNotFound {
            secret: "s".into(),
            key: "k".into(),
        };
        assert_eq!(p.reason(), Reason::PseudonymizationKeyNotFound);
        let s = Problem::Source(SourceProblem::Invalid { index: 0 });
        assert_eq!(s.reason(), Reason::InvalidSource);
    }

    fn bytes(held: u64, longest_line: u64) -> source::SourceBytes {
        source::SourceBytes {
            parts: Vec::new(),
            held,
            total: held,
            longest_line,
        }
    }

    #[test]
    fn in_process_memory_is_reserved_from_the_shared_budget() {
        let budget = crate::sharing::ByteBudget::new(1000);
        // 100 bytes whose longest line is 10: 100 + 16 x 10.
        assert_eq!(memory_needed(&bytes(100, 10)), 260);
        let a = reserve(bytes(100, 10), Some(&budget)).unwrap().unwrap();
        assert_eq!(budget.used(), 260);
        let b = reserve(bytes(400, 20), Some(&budget)).unwrap().unwrap();
        assert_eq!(budget.used(), 980);
        // Taken by the others now: wait (Busy), not a verdict on the dataset.
        let busy = reserve(bytes(10, 1), Some(&budget)).unwrap().unwrap_err();
        assert_eq!(busy.category(), "busy");
        drop(a);
        assert_eq!(budget.used(), 720);
        assert!(reserve(bytes(10, 1), Some(&budget)).unwrap().is_ok());
        drop(b);
        // More than the whole budget can never fit: a verdict naming the limit.
        let problem = reserve(bytes(900, 100), Some(&budget)).unwrap_err();
        assert_eq!(problem.reason(), Reason::SourcesTooLarge);
        assert!(
            problem.to_string().contains("budget of 1000 bytes"),
            "{problem}"
        );
        // The reservation lives in the reader the pipeline consumes, and ends with it.
        let data = reserve(bytes(100, 10), Some(&budget)).unwrap().unwrap();
        assert_eq!(budget.used(), 260);
        let reader = super::super::dataset::concat(data);
        drop(reader);
        assert_eq!(budget.used(), 0);
    }
}
