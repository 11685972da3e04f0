//! Subcommand logic for the `tunegate` binary (kept out of the binary so it is testable).

pub mod check;
pub mod leader;
pub mod redact;
pub mod run;
pub mod worker;
