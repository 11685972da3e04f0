//! Subcommand implementations; the binary only parses and dispatches.

pub mod run;
pub mod worker;
