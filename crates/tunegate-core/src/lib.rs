//! tunegate's domain core: the redaction engine and the training-data pipeline (streaming JSONL,
//! format validation, token counts, digests). Pure logic: no Kubernetes client, no network, no
//! async runtime. The operator, the volume worker, the CLI, the fuzzers and the benchmarks all run
//! this same code.

pub mod dataset;
pub mod redact;
