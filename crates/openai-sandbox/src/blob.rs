//! Received bytes. Small bodies stay in memory; anything past a threshold spills to a temporary
//! file, so a 600 MB upload costs disk, not RAM. A completed Upload becomes a File whose blob is
//! the list of its parts' segments: no copy, no second 600 MB.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::Stream;
use md5::Md5;
use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;

#[derive(Clone)]
enum Segment {
    Mem(Bytes),
    Disk { file: Arc<NamedTempFile>, len: u64 },
}

/// Digests of a blob's bytes, computed on first use: hashing while receiving would cap upload
/// throughput (notably in debug builds), and most blobs are never asked for theirs.
#[derive(Clone, Debug)]
pub struct Digests {
    pub sha256: String,
    pub md5: String,
}

/// Immutable bytes, cheap to clone.
#[derive(Clone)]
pub struct Blob {
    segments: Arc<Vec<Segment>>,
    len: u64,
    digests: Arc<OnceLock<Digests>>,
}

impl Blob {
    pub fn from_bytes(bytes: Bytes) -> Self {
        Self::from_segments(vec![Segment::Mem(bytes.clone())], bytes.len() as u64)
    }

    fn from_segments(segments: Vec<Segment>, len: u64) -> Self {
        Self {
            segments: Arc::new(segments),
            len,
            digests: Arc::new(OnceLock::new()),
        }
    }

    /// Concatenate blobs without copying any bytes.
    pub fn concat(parts: &[Blob]) -> Self {
        let segments: Vec<Segment> = parts
            .iter()
            .flat_map(|b| b.segments.iter().cloned())
            .collect();
        Self::from_segments(segments, parts.iter().map(|b| b.len).sum())
    }

    /// SHA-256 and MD5 of the bytes; reads them all the first time (call off the async threads).
    pub fn digests_blocking(&self) -> io::Result<Digests> {
        if let Some(d) = self.digests.get() {
            return Ok(d.clone());
        }
        let mut sha = Sha256::new();
        let mut md5 = Md5::new();
        let mut reader = self.reader()?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sha.update(&buf[..n]);
            md5.update(&buf[..n]);
        }
        let d = Digests {
            sha256: hex::encode(sha.finalize()),
            md5: hex::encode(md5.finalize()),
        };
        Ok(self.digests.get_or_init(|| d).clone())
    }

    pub async fn digests(&self) -> io::Result<Digests> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.digests_blocking())
            .await
            .map_err(io::Error::other)?
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// A blocking reader over all segments (for validation in `spawn_blocking`).
    pub fn reader(&self) -> io::Result<Box<dyn Read + Send>> {
        let mut chain: Box<dyn Read + Send> = Box::new(io::empty());
        for seg in self.segments.iter() {
            let next: Box<dyn Read + Send> = match seg {
                Segment::Mem(b) => Box::new(io::Cursor::new(b.clone())),
                Segment::Disk { file, len } => Box::new(file.reopen()?.take(*len)),
            };
            chain = Box::new(chain.chain(next));
        }
        Ok(chain)
    }

    /// The bytes as a stream of chunks, for response bodies.
    pub fn stream(&self) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let segments = self.segments.clone();
        async_stream_segments(segments)
    }
}

fn async_stream_segments(
    segments: Arc<Vec<Segment>>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    use futures::StreamExt;
    futures::stream::iter((0..segments.len()).map(move |i| segments[i].clone()))
        .then(|seg| async move {
            let s: futures::stream::BoxStream<'static, io::Result<Bytes>> = match seg {
                Segment::Mem(b) => futures::stream::once(async move { Ok(b) }).boxed(),
                Segment::Disk { file, len } => match file.reopen() {
                    Ok(f) => {
                        let f = tokio::fs::File::from_std(f);
                        use tokio::io::AsyncReadExt;
                        tokio_util::io::ReaderStream::new(f.take(len)).boxed()
                    }
                    Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
                },
            };
            s
        })
        .flatten()
}

/// Accumulates a body chunk by chunk, spilling to `dir` past `spill_at` bytes.
pub struct BlobWriter {
    dir: PathBuf,
    spill_at: usize,
    buf: Vec<u8>,
    disk: Option<(NamedTempFile, tokio::fs::File)>,
    len: u64,
}

impl BlobWriter {
    pub fn new(dir: PathBuf, spill_at: usize) -> Self {
        Self {
            dir,
            spill_at,
            buf: Vec::new(),
            disk: None,
            len: 0,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.len += chunk.len() as u64;
        if self.disk.is_none() && self.buf.len() + chunk.len() > self.spill_at {
            // Recreate the spool if something cleaned /tmp under a running sandbox.
            std::fs::create_dir_all(&self.dir)?;
            let tmp = NamedTempFile::new_in(&self.dir)?;
            let mut f = tokio::fs::File::from_std(tmp.reopen()?);
            f.write_all(&self.buf).await?;
            self.buf = Vec::new();
            self.disk = Some((tmp, f));
        }
        match &mut self.disk {
            Some((_, f)) => f.write_all(chunk).await,
            None => {
                self.buf.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    pub async fn finish(self) -> io::Result<Blob> {
        let segment = match self.disk {
            Some((tmp, mut f)) => {
                // A scratch spool: flushed for readers, no fsync needed.
                f.flush().await?;
                Segment::Disk {
                    file: Arc::new(tmp),
                    len: self.len,
                }
            }
            None => Segment::Mem(Bytes::from(self.buf)),
        };
        Ok(Blob::from_segments(vec![segment], self.len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    async fn collect(b: &Blob) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = Box::pin(b.stream());
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn spills_and_concatenates_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = BlobWriter::new(dir.path().to_path_buf(), 10);
        w.write(b"hello ").await.unwrap();
        w.write(b"world, this spills").await.unwrap();
        let a = w.finish().await.unwrap();
        let b = Blob::from_bytes(Bytes::from_static(b"!"));
        let c = Blob::concat(&[a, b]);
        let expect = b"hello world, this spills!".to_vec();
        assert_eq!(collect(&c).await, expect);
        assert_eq!(c.len(), expect.len() as u64);
        assert_eq!(
            c.digests().await.unwrap().sha256,
            hex::encode(Sha256::digest(&expect))
        );
        assert_eq!(
            c.digests_blocking().unwrap().md5,
            hex::encode(Md5::digest(&expect))
        );
        let mut r = String::new();
        c.reader().unwrap().read_to_string(&mut r).unwrap();
        assert_eq!(r.as_bytes(), expect);
    }
}
