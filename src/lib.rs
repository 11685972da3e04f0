//! tunegate: a Kubernetes operator that fine-tunes hosted models on redacted, validated, tracked
//! training data.

pub mod api;
pub mod cli;
pub mod controller;
pub mod dataset;
pub mod provider;
pub mod redact;
pub mod sandbox;
pub mod source;
pub mod testenv;
