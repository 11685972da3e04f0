//! tunegate: a Kubernetes operator that fine-tunes hosted models on redacted, validated, tracked
//! training data.
//!
//! This crate is the operator's I/O edge: the controllers, the provider clients, source
//! resolution and the CLI. The CRD types live in `tunegate-api` and the pure redaction and
//! dataset logic in `tunegate-core`.

pub mod cli;
pub mod controller;
pub mod provider;
pub mod sharing;
pub mod source;
pub mod tenancy;
