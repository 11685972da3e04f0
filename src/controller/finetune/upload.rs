//! The bridge between the synchronous pipeline and the asynchronous upload body, with the digest
//! gate: the last chunk is held back until the streamed bytes are known to hash to the dataset's
//! `redactedDigest`, and the stream is aborted otherwise, so a changed dataset never creates a file.

use std::io::{self, Write};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::controller::ports::UploadBody;

const CHUNK: usize = 256 * 1024;

/// Why the gate refused to release the final chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error("redacted bytes differ from the dataset's digest")]
    DigestMismatch,
    #[error("redacted bytes differ in length from the dataset ({actual} != {expected})")]
    LengthMismatch { expected: u64, actual: u64 },
    #[error("the upload stopped reading")]
    Closed,
}

/// A `Write` that feeds an upload body and verifies what went through it.
pub struct DigestGate {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    hasher: Sha256,
    buf: Vec<u8>,
    held: Option<Bytes>,
    written: u64,
    expected_len: u64,
}

/// A gate and the body stream it feeds.
pub fn gate(expected_len: u64) -> (DigestGate, UploadBody) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(4);
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        DigestGate {
            tx,
            hasher: Sha256::new(),
            buf: Vec::with_capacity(CHUNK),
            held: None,
            written: 0,
            expected_len,
        },
        Box::pin(body),
    )
}

impl DigestGate {
    fn send(&self, item: Result<Bytes, io::Error>) -> io::Result<()> {
        self.tx
            .blocking_send(item)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "upload closed"))
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        if let Some(prev) = self.held.replace(chunk) {
            self.send(Ok(prev))?;
        }
        Ok(())
    }

    /// Releases the final chunk if the bytes match, or aborts the body. Must run on a blocking
    /// thread (it uses `blocking_send`).
    pub fn finish(mut self, expected_digest: &str) -> Result<u64, GateError> {
        if self.rotate().is_err() {
            return Err(GateError::Closed);
        }
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize_reset()));
        let verdict = if self.written != self.expected_len {
            Err(GateError::LengthMismatch {
                expected: self.expected_len,
                actual: self.written,
            })
        } else if digest != expected_digest {
            Err(GateError::DigestMismatch)
        } else {
            Ok(self.written)
        };
        match &verdict {
            Ok(_) => {
                if let Some(last) = self.held.take() {
                    self.send(Ok(last)).map_err(|_| GateError::Closed)?;
                }
            }
            Err(e) => {
                // The body ends in an error: the HTTP request fails, the provider creates nothing.
                let _ = self.send(Err(io::Error::other(e.to_string())));
            }
        }
        verdict
    }

    /// Aborts the body (the pipeline failed).
    pub fn abort(self) {
        let _ = self.send(Err(io::Error::other("upload aborted")));
    }
}

impl Write for DigestGate {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.written += data.len() as u64;
        if self.written > self.expected_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "more bytes than the dataset",
            ));
        }
        self.hasher.update(data);
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.rotate()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn digest(b: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(b)))
    }

    async fn drain(mut body: UploadBody) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut failed = false;
        while let Some(item) = body.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(_) => failed = true,
            }
        }
        (out, failed)
    }

    #[tokio::test]
    async fn matching_bytes_flow_through() {
        let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        let (mut g, body) = gate(data.len() as u64);
        let d = digest(&data);
        let input = data.clone();
        let writer = tokio::task::spawn_blocking(move || {
            g.write_all(&input).unwrap();
            g.finish(&d)
        });
        let (got, failed) = drain(body).await;
        assert_eq!(writer.await.unwrap(), Ok(data.len() as u64));
        assert!(!failed);
        assert_eq!(got, data);
    }

    #[tokio::test]
    async fn mismatch_withholds_the_last_chunk_and_fails_the_body() {
        let data = vec![7u8; 600_000];
        let (mut g, body) = gate(data.len() as u64);
        let input = data.clone();
        let writer = tokio::task::spawn_blocking(move || {
            g.write_all(&input).unwrap();
            g.finish("sha256:00")
        });
        let (got, failed) = drain(body).await;
        assert_eq!(writer.await.unwrap(), Err(GateError::DigestMismatch));
        assert!(failed);
        assert!(got.len() < data.len());
    }

    #[tokio::test]
    async fn too_many_bytes_is_refused() {
        let (mut g, body) = gate(3);
        let writer = tokio::task::spawn_blocking(move || g.write_all(b"abcd"));
        drop(body);
        let err = writer.await.unwrap().expect_err("a fourth byte is refused");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }
}

/// How one streamed upload ended.
#[derive(Debug)]
pub enum Streamed {
    /// The bytes matched the dataset and the provider created the file.
    Uploaded(crate::controller::ports::RemoteFile),
    /// The bytes differ from the dataset's digest; the body was aborted. A provider that created
    /// a file anyway returns it here, so it can be recorded and deleted.
    Changed(Option<crate::controller::ports::RemoteFile>),
    /// The pipeline itself failed (I/O, policy); same caveat.
    PipelineFailed(Option<crate::controller::ports::RemoteFile>),
}

/// What one upload streams, and what it must hash to.
pub struct StreamRequest {
    pub spec: tunegate_api::TrainingDatasetSpec,
    pub input: Box<dyn std::io::Read + Send>,
    pub key: Option<Vec<u8>>,
    /// The copy to store (controller); `None`: a plain file named `filename` (upload worker).
    pub copy: Option<crate::controller::ports::DatasetCopy>,
    /// Hears of a multipart upload before its first part (the controller records it).
    pub on_upload_created: Option<crate::controller::ports::UploadCreated>,
    pub filename: String,
    pub expected_bytes: u64,
    pub expected_digest: String,
    pub expires_after_secs: u64,
}

/// Re-runs the pipeline straight into the provider's upload body through the digest gate. Used
/// in-process by the controller and inside the upload worker Job.
pub async fn stream(
    remote: &dyn crate::controller::ports::Remote,
    req: StreamRequest,
) -> Result<Streamed, crate::controller::ports::RemoteError> {
    let StreamRequest {
        spec,
        mut input,
        key,
        copy,
        on_upload_created,
        filename,
        expected_bytes,
        expected_digest,
        expires_after_secs,
    } = req;
    let (mut gate, body) = gate(expected_bytes);
    let writer = tokio::task::spawn_blocking(move || {
        match crate::controller::pipeline::run(&spec, &mut input, key.as_deref(), &mut gate) {
            Ok(_) => gate.finish(&expected_digest).map_err(Some),
            Err(_) => {
                gate.abort();
                Err(None)
            }
        }
    });
    let sent = match &copy {
        Some(copy) => remote.store_copy(
            copy,
            expected_bytes,
            expires_after_secs,
            body,
            on_upload_created,
        ),
        None => remote.upload_file(
            filename,
            "fine-tune".into(),
            expected_bytes,
            expires_after_secs,
            body,
        ),
    };
    let (sent, gate) = futures::join!(sent, writer);
    let gate = gate.unwrap_or(Err(None));
    match (sent, gate) {
        (Ok(file), Ok(_)) => Ok(Streamed::Uploaded(file)),
        (sent, Err(Some(GateError::DigestMismatch | GateError::LengthMismatch { .. }))) => {
            Ok(Streamed::Changed(sent.ok()))
        }
        (Err(e), _) => Err(e),
        (Ok(file), Err(_)) => Ok(Streamed::PipelineFailed(Some(file))),
    }
}
