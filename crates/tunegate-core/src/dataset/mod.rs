//! Training data: streaming JSONL reading, OpenAI format validation, token counting and the
//! read -> validate -> redact -> digest pipeline shared by the operator, the worker and the CLI.

pub mod jsonl;
pub mod memory;
pub mod parallel;
pub mod pipeline;
mod pretok;
pub mod rawjson;
pub mod tokens;
pub mod validate;
pub mod validate_raw;
