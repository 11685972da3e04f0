//! The `tunegate.dev/v1alpha1` custom resources.
//!
//! The Rust types here are the single source of the CRD schemas (`tunegate crds`), so every field
//! carries the doc comment that `kubectl explain` shows.

pub mod common;
pub mod conditions;
pub mod dataset;
pub mod finetunejob;
pub mod providerconfig;
pub mod redaction;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub use common::*;
pub use dataset::*;
pub use finetunejob::*;
pub use providerconfig::*;
pub use redaction::*;

/// API group of every tunegate resource.
pub const GROUP: &str = "tunegate.dev";

/// Label a source Secret or ConfigMap must carry before tunegate reads it (confused-deputy guard).
pub const TRAINING_DATA_LABEL: &str = "tunegate.dev/training-data";

/// Every CRD, in the order they are printed and installed.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        TrainingDataset::crd(),
        FineTuneJob::crd(),
        ClusterProviderConfig::crd(),
        ProviderConfig::crd(),
    ]
}

/// Every CRD as one multi-document YAML stream, exactly what `crds/` holds.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}
