//! A `Write` that forwards the pipeline's output to async code in chunks, so an upload body can be
//! streamed while the pipeline runs in `spawn_blocking` and nothing is buffered whole.

use std::io::{self, Write};

use bytes::Bytes;
use tokio::sync::mpsc::Sender;

/// Default chunk size sent over the channel.
pub const DEFAULT_CHUNK_BYTES: usize = 256 * 1024;

/// Sends full chunks over a bounded channel, blocking while it is full (backpressure). Must be
/// used from a blocking thread (`spawn_blocking`), never from an async task. If the receiver is
/// gone, writes fail with `BrokenPipe`, which ends the pipeline with `PipelineError::Write`.
/// Bytes still buffered are sent only by `flush` (the pipeline flushes when it finishes); the
/// sender closes when the writer is dropped, which ends the stream.
///
/// To turn the receiver into a body stream:
/// `futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (Ok::<_, std::io::Error>(c), rx)) })`.
pub struct ChannelWriter {
    tx: Sender<Bytes>,
    buf: Vec<u8>,
    chunk: usize,
}

impl ChannelWriter {
    pub fn new(tx: Sender<Bytes>, chunk_bytes: usize) -> Self {
        let chunk = chunk_bytes.max(1);
        Self {
            tx,
            buf: Vec::with_capacity(chunk),
            chunk,
        }
    }

    fn send_buffered(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(self.chunk),
        ));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "upload stream closed"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.chunk - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= self.chunk {
            self.send_buffered()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffered()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_arrive_in_order_and_complete() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let writer = std::thread::spawn(move || {
            let mut w = ChannelWriter::new(tx, 10);
            for i in 0..25u8 {
                w.write_all(&[i; 3]).unwrap();
            }
            w.flush().unwrap();
        });
        let mut got = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
            assert!(chunk.len() <= 10);
            got.extend_from_slice(&chunk);
        }
        writer.join().unwrap();
        let expected: Vec<u8> = (0..25u8).flat_map(|i| [i; 3]).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn closed_receiver_is_broken_pipe() {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        drop(rx);
        let mut w = ChannelWriter::new(tx, 4);
        let err = w.write_all(b"12345678").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}
