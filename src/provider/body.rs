//! Upload bodies: the stream adapters that make "an aborted stream never produces a file" hold.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

use super::error::ProviderError;
use super::metrics::Operation;
use super::types::ByteStream;

/// Why an upload stream was abandoned.
#[derive(Debug)]
pub(crate) enum StreamFailure {
    /// The caller's stream returned an error.
    Source(io::Error),
    /// The stream produced a different number of bytes than declared.
    Length { declared: u64, actual: u64 },
}

impl StreamFailure {
    pub(crate) fn into_error(self, operation: Operation) -> ProviderError {
        match self {
            Self::Source(source) => ProviderError::StreamAborted { operation, source },
            Self::Length { declared, actual } => ProviderError::LengthMismatch { declared, actual },
        }
    }
}

/// Shared slot where [`HoldBack`] leaves the real reason it failed (the HTTP client only sees a
/// generic body error).
pub(crate) type FailureSlot = Arc<Mutex<Option<StreamFailure>>>;

/// Passes a stream through, always keeping its latest chunk back until the source has ended
/// cleanly with exactly the declared length. If the source fails, or runs long or short, the
/// held chunk is dropped and an error ends the body: the request body is then necessarily
/// shorter than its `Content-Length` (and misses the multipart closing boundary), so the server
/// cannot accept it as a file, however late in the stream the failure comes.
pub(crate) struct HoldBack {
    inner: ByteStream,
    declared: u64,
    seen: u64,
    held: Option<Bytes>,
    failure: FailureSlot,
    done: bool,
}

impl HoldBack {
    pub(crate) fn new(inner: ByteStream, declared: u64, failure: FailureSlot) -> Self {
        Self {
            inner,
            declared,
            seen: 0,
            held: None,
            failure,
            done: false,
        }
    }

    fn fail(&mut self, failure: StreamFailure) -> Poll<Option<Result<Bytes, io::Error>>> {
        self.done = true;
        self.held = None;
        if let Ok(mut slot) = self.failure.lock() {
            *slot = Some(failure);
        }
        Poll::Ready(Some(Err(io::Error::other("upload source stream aborted"))))
    }
}

impl Stream for HoldBack {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    this.seen += chunk.len() as u64;
                    if this.seen > this.declared {
                        let (declared, actual) = (this.declared, this.seen);
                        return this.fail(StreamFailure::Length { declared, actual });
                    }
                    if let Some(previous) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(previous)));
                    }
                }
                Poll::Ready(Some(Err(e))) => return this.fail(StreamFailure::Source(e)),
                Poll::Ready(None) => {
                    if this.seen != this.declared {
                        let (declared, actual) = (this.declared, this.seen);
                        return this.fail(StreamFailure::Length { declared, actual });
                    }
                    this.done = true;
                    return Poll::Ready(this.held.take().map(Ok));
                }
            }
        }
    }
}

/// Cuts a stream into parts of `part_size` bytes (the last one shorter) for the Uploads API,
/// checking the declared length. After the last part, `next_part` returns `Ok(None)` only once
/// the source has ended cleanly with exactly the declared length: that is the only state in
/// which the caller may complete the upload.
pub(crate) struct PartReader {
    inner: ByteStream,
    declared: u64,
    seen: u64,
    part_size: usize,
    leftover: Bytes,
    ended: bool,
}

impl PartReader {
    pub(crate) fn new(inner: ByteStream, declared: u64, part_size: usize) -> Self {
        Self {
            inner,
            declared,
            seen: 0,
            part_size: part_size.max(1),
            leftover: Bytes::new(),
            ended: false,
        }
    }

    pub(crate) async fn next_part(&mut self) -> Result<Option<Bytes>, StreamFailure> {
        let mut buf: Option<BytesMut> = None;
        loop {
            let filled = buf.as_ref().map_or(0, BytesMut::len);
            let want = self.part_size - filled;
            if !self.leftover.is_empty() {
                if filled == 0 && self.leftover.len() >= want {
                    // A whole part inside one chunk: no copy.
                    return Ok(Some(self.leftover.split_to(want)));
                }
                let take = want.min(self.leftover.len());
                let pending = self.leftover.len() as u64;
                let buf = buf.get_or_insert_with(|| {
                    let remaining = self.declared.saturating_sub(self.seen) + pending;
                    BytesMut::with_capacity(self.part_size.min(remaining_usize(remaining)))
                });
                buf.extend_from_slice(&self.leftover.split_to(take));
                if buf.len() == self.part_size {
                    break;
                }
            }
            if self.ended {
                break;
            }
            match self.inner.next().await {
                Some(Ok(chunk)) => {
                    self.seen += chunk.len() as u64;
                    if self.seen > self.declared {
                        return Err(StreamFailure::Length {
                            declared: self.declared,
                            actual: self.seen,
                        });
                    }
                    self.leftover = chunk;
                }
                Some(Err(e)) => return Err(StreamFailure::Source(e)),
                None => {
                    self.ended = true;
                    if self.seen != self.declared {
                        return Err(StreamFailure::Length {
                            declared: self.declared,
                            actual: self.seen,
                        });
                    }
                }
            }
        }
        Ok(buf.filter(|b| !b.is_empty()).map(BytesMut::freeze))
    }
}

fn remaining_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::stream;

    fn chunks(parts: Vec<Result<&'static [u8], &'static str>>) -> ByteStream {
        Box::pin(stream::iter(
            parts
                .into_iter()
                .map(|p| p.map(Bytes::from_static).map_err(io::Error::other)),
        ))
    }

    async fn drain(s: HoldBack) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut errored = false;
        let mut s = Box::pin(s);
        while let Some(item) = s.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(_) => errored = true,
            }
        }
        (out, errored)
    }

    #[tokio::test]
    async fn hold_back_passes_a_clean_stream_through() {
        let slot = FailureSlot::default();
        let s = HoldBack::new(
            chunks(vec![Ok(b"ab"), Ok(b""), Ok(b"cd"), Ok(b"e")]),
            5,
            slot.clone(),
        );
        assert_eq!(drain(s).await, (b"abcde".to_vec(), false));
        assert!(slot.lock().unwrap().is_none());
    }

    #[tokio::test]
    async fn hold_back_never_releases_the_last_chunk_of_a_failing_stream() {
        // The error comes after every declared byte was produced (a digest mismatch at the end).
        let slot = FailureSlot::default();
        let s = HoldBack::new(
            chunks(vec![Ok(b"ab"), Ok(b"cd"), Err("digest mismatch")]),
            4,
            slot.clone(),
        );
        let (bytes, errored) = drain(s).await;
        assert!(errored);
        assert_eq!(bytes, b"ab", "the final chunk must not be released");
        assert!(matches!(
            *slot.lock().unwrap(),
            Some(StreamFailure::Source(_))
        ));
    }

    #[tokio::test]
    async fn hold_back_checks_length() {
        for (input, declared) in [
            (vec![Ok(&b"abc"[..])], 2u64),
            (vec![Ok(&b"abc"[..])], 4),
            (vec![], 1),
        ] {
            let slot = FailureSlot::default();
            let (bytes, errored) =
                drain(HoldBack::new(chunks(input), declared, slot.clone())).await;
            assert!(errored);
            assert!(bytes.len() < 3);
            assert!(matches!(
                *slot.lock().unwrap(),
                Some(StreamFailure::Length { .. })
            ));
        }
    }

    async fn parts(mut r: PartReader) -> Result<Vec<Vec<u8>>, StreamFailure> {
        let mut out = Vec::new();
        while let Some(p) = r.next_part().await? {
            out.push(p.to_vec());
        }
        Ok(out)
    }

    #[tokio::test]
    async fn part_reader_splits_across_chunk_boundaries() {
        let r = PartReader::new(chunks(vec![Ok(b"abcde"), Ok(b"f"), Ok(b"ghijklm")]), 13, 4);
        let got = parts(r).await.unwrap();
        assert_eq!(
            got,
            vec![
                b"abcd".to_vec(),
                b"efgh".to_vec(),
                b"ijkl".to_vec(),
                b"m".to_vec()
            ]
        );
        let r = PartReader::new(chunks(vec![Ok(b"abcdefgh")]), 8, 4);
        assert_eq!(
            parts(r).await.unwrap(),
            vec![b"abcd".to_vec(), b"efgh".to_vec()]
        );
    }

    #[tokio::test]
    async fn part_reader_reports_late_errors_and_length_mismatch() {
        let r = PartReader::new(chunks(vec![Ok(b"abcd"), Err("late")]), 4, 4);
        assert!(matches!(parts(r).await, Err(StreamFailure::Source(_))));
        let r = PartReader::new(chunks(vec![Ok(b"abc")]), 4, 4);
        assert!(matches!(
            parts(r).await,
            Err(StreamFailure::Length {
                declared: 4,
                actual: 3
            })
        ));
        let r = PartReader::new(chunks(vec![Ok(b"abcde")]), 4, 2);
        assert!(matches!(parts(r).await, Err(StreamFailure::Length { .. })));
    }
}
