//! Tenancy: provider configs (who may send what, where, with which key), the redaction floor, the
//! endpoint allow-list, and the reconciler that tells whether a config is usable.

pub mod admission;
pub mod endpoints;
pub mod policy;
pub mod reconcile;
