//! Subcommand logic for the `tunegate` binary.

pub mod check;
