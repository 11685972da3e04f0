//! Subcommand logic for the `tunegate` binary.

pub mod check;
pub mod run;
pub mod worker;
