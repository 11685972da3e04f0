//! Streaming JSONL reader with bounded memory.
//!
//! One line at a time into a reusable buffer. A line longer than the limit is skipped without
//! being buffered (its bytes are still consumed, so line numbers and digests stay right) and
//! reported as `line_too_long`. Errors carry a 1-based line number and a stable code, never content.

use std::io::{self, BufRead, Read};

use memchr::memchr;
use sha2::{Digest, Sha256};

/// Default maximum line length: 16 MiB. The pipeline's memory grows with the longest line it
/// accepts (see `memory`: about 128 MiB + 16 x this, so ~384 MiB for the CLI at the default);
/// the worker Job derives its own cap from its memory limit.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One line of the input, without its line terminator (and without the BOM on line 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: u64,
    /// The decoded line.
    pub text: &'a str,
    /// The exact source bytes of this line, including any BOM and its `\n` / `\r\n` terminator.
    pub raw: &'a [u8],
}

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadErrorKind {
    #[error("blank line")]
    BlankLine,
    #[error("line is not valid UTF-8")]
    InvalidUtf8,
    #[error("line is longer than {max} bytes")]
    LineTooLong { max: usize },
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
}

/// A read problem at a line. The message names the line and the cause, never the content.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {kind} ({})", self.code())]
pub struct ReadError {
    /// 1-based line number.
    pub line: u64,
    pub kind: ReadErrorKind,
}

impl ReadError {
    /// Stable error code: `blank_line`, `invalid_utf8`, `line_too_long` or `io_error`.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ReadErrorKind::BlankLine => "blank_line",
            ReadErrorKind::InvalidUtf8 => "invalid_utf8",
            ReadErrorKind::LineTooLong { .. } => "line_too_long",
            ReadErrorKind::Io(_) => "io_error",
        }
    }

    /// An I/O error means the input is unreadable; the others are format errors of one line.
    pub fn is_io(&self) -> bool {
        matches!(self.kind, ReadErrorKind::Io(_))
    }
}

/// Streaming JSONL reader over any `BufRead`.
pub struct JsonlReader<R> {
    inner: R,
    buf: Vec<u8>,
    max_line_bytes: usize,
    line_no: u64,
    bytes_consumed: u64,
    done: bool,
}

impl<R: BufRead> JsonlReader<R> {
    /// A reader that rejects lines longer than `max_line_bytes` (terminator excluded).
    pub fn new(inner: R, max_line_bytes: usize) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            max_line_bytes,
            line_no: 0,
            bytes_consumed: 0,
            done: false,
        }
    }

    /// Total source bytes consumed so far, including terminators, BOM and skipped over-long lines.
    pub fn bytes_consumed(&self) -> u64 {
        self.bytes_consumed
    }

    /// Number of lines seen so far (the number of the last line returned).
    pub fn lines_read(&self) -> u64 {
        self.line_no
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The next line, or `None` at end of input. After an I/O error the reader stops.
    pub fn next_line(&mut self) -> Option<Result<Line<'_>, ReadError>> {
        if self.done {
            return None;
        }
        self.buf.clear();
        // The buffer may hold one byte past the limit: a `\r` that turns out to be part of `\r\n`.
        let cap = self.max_line_bytes.saturating_add(1);
        let mut too_long = false;
        let mut saw_any = false;
        let mut terminated = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(ReadError {
                        line: self.line_no + 1,
                        kind: ReadErrorKind::Io(e),
                    }));
                }
            };
            if available.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk_len, found_newline) = match memchr(b'\n', available) {
                Some(i) => (i + 1, true),
                None => (available.len(), false),
            };
            if !too_long {
                let content_len = if found_newline {
                    chunk_len - 1
                } else {
                    chunk_len
                };
                if self.buf.len() + content_len > cap {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&available[..chunk_len]);
                }
            }
            self.inner.consume(chunk_len);
            self.bytes_consumed += chunk_len as u64;
            if found_newline {
                terminated = true;
                break;
            }
        }
        if !saw_any {
            self.done = true;
            return None;
        }
        if !terminated {
            self.done = true;
        }
        self.line_no += 1;
        let number = self.line_no;
        if too_long {
            return Some(Err(ReadError {
                line: number,
                kind: ReadErrorKind::LineTooLong {
                    max: self.max_line_bytes,
                },
            }));
        }
        let raw = &self.buf[..];
        let mut content = raw;
        if number == 1 && content.starts_with(BOM) {
            content = &content[BOM.len()..];
        }
        if let Some(rest) = content.strip_suffix(b"\n") {
            content = rest;
        }
        if let Some(rest) = content.strip_suffix(b"\r") {
            content = rest;
        }
        if content.len() > self.max_line_bytes {
            return Some(Err(ReadError {
                line: number,
                kind: ReadErrorKind::LineTooLong {
                    max: self.max_line_bytes,
                },
            }));
        }
        if content.iter().all(u8::is_ascii_whitespace) {
            return Some(Err(ReadError {
                line: number,
                kind: ReadErrorKind::BlankLine,
            }));
        }
        match std::str::from_utf8(content) {
            Ok(text) => Some(Ok(Line { number, text, raw })),
            Err(_) => Some(Err(ReadError {
                line: number,
                kind: ReadErrorKind::InvalidUtf8,
            })),
        }
    }
}

/// A `BufRead` adapter that hashes (SHA-256) and counts every byte consumed through it, so the
/// pipeline can digest the exact source bytes, including lines the reader skips.
pub struct DigestingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: BufRead> DigestingReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Bytes consumed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// `sha256:<hex>` of every byte consumed.
    pub fn finish(self) -> (String, u64) {
        (
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.bytes,
        )
    }
}

impl<R: BufRead> Read for DigestingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for DigestingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(available) = self.inner.fill_buf() {
            let n = amt.min(available.len());
            self.hasher.update(&available[..n]);
            self.bytes += n as u64;
        }
        self.inner.consume(amt);
    }
}

/// Concatenates sources into one JSONL stream, in order, so that no two sources share a line:
/// a `\n` is inserted between a source whose last byte is not `\n` and the next non-empty source,
/// and a UTF-8 BOM at the start of any source after the first is dropped (a BOM only means
/// something at the start of the stream). With one source the stream is exactly its bytes.
/// The output of this reader is what `sourceDigest` covers.
pub struct ConcatSources<R> {
    sources: std::vec::IntoIter<R>,
    current: Option<R>,
    index: usize,
    /// Bytes read from the current source but not yet emitted (BOM detection, separator).
    pending: Vec<u8>,
    pending_pos: usize,
    needs_separator: bool,
    last_byte: Option<u8>,
}

impl<R: Read> ConcatSources<R> {
    pub fn new(sources: Vec<R>) -> Self {
        Self {
            sources: sources.into_iter(),
            current: None,
            index: 0,
            pending: Vec::new(),
            pending_pos: 0,
            needs_separator: false,
            last_byte: None,
        }
    }

    /// Reads the first bytes of a newly opened source: drops a BOM (after the first source) and
    /// queues a separator if the source is non-empty and the stream so far lacks a final `\n`.
    fn open_head(reader: &mut R, strip_bom: bool) -> io::Result<Vec<u8>> {
        let mut head = Vec::with_capacity(BOM.len());
        let mut byte = [0u8; 1];
        while head.len() < BOM.len() {
            match reader.read(&mut byte) {
                Ok(0) => break,
                Ok(_) => {
                    head.push(byte[0]);
                    if head[..] != BOM[..head.len()] {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if strip_bom && head[..] == *BOM {
            head.clear();
        }
        Ok(head)
    }

    fn emit_pending(&mut self, out: &mut [u8]) -> usize {
        let rest = &self.pending[self.pending_pos..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pending_pos += n;
        if self.pending_pos == self.pending.len() {
            self.pending.clear();
            self.pending_pos = 0;
        }
        n
    }
}

impl<R: Read> Read for ConcatSources<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pending_pos < self.pending.len() {
                let n = self.emit_pending(out);
                self.last_byte = Some(out[n - 1]);
                return Ok(n);
            }
            let Some(reader) = self.current.as_mut() else {
                match self.sources.next() {
                    Some(mut r) => {
                        self.index += 1;
                        let mut head = Self::open_head(&mut r, self.index > 1)?;
                        if !head.is_empty() && self.needs_separator {
                            self.needs_separator = false;
                            head.insert(0, b'\n');
                        }
                        self.current = Some(r);
                        self.pending = head;
                        self.pending_pos = 0;
                    }
                    None => return Ok(0),
                }
                continue;
            };
            // Leave room for a separator in front of the data if one is owed.
            let start = usize::from(self.needs_separator);
            let n = if out.len() > start {
                read_retrying(reader, &mut out[start..])?
            } else {
                let mut byte = [0u8; 1];
                let n = read_retrying(reader, &mut byte)?;
                if n > 0 {
                    self.needs_separator = false;
                    self.pending = vec![b'\n', byte[0]];
                    self.pending_pos = 0;
                    continue;
                }
                0
            };
            if n == 0 {
                self.current = None;
                self.needs_separator = matches!(self.last_byte, Some(b) if b != b'\n');
                continue;
            }
            if start == 1 {
                out[0] = b'\n';
                self.needs_separator = false;
            }
            let total = start + n;
            self.last_byte = Some(out[total - 1]);
            return Ok(total);
        }
    }
}

fn read_retrying<R: Read>(reader: &mut R, out: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(out) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::{BufReader, Cursor};

    /// Reads everything, as (line, Ok(text) | Err(code)).
    fn read_all(input: &[u8], max: usize) -> Vec<(u64, Result<String, &'static str>)> {
        read_all_from(Cursor::new(input.to_vec()), max)
    }

    fn read_all_from<R: BufRead>(r: R, max: usize) -> Vec<(u64, Result<String, &'static str>)> {
        let mut reader = JsonlReader::new(r, max);
        let mut out = Vec::new();
        while let Some(item) = reader.next_line() {
            out.push(match item {
                Ok(line) => (line.number, Ok(line.text.to_string())),
                Err(e) => (e.line, Err(e.code())),
            });
        }
        out
    }

    fn ok(n: u64, s: &str) -> (u64, Result<String, &'static str>) {
        (n, Ok(s.to_string()))
    }

    #[test]
    fn lf_crlf_and_no_trailing_newline() {
        let got = read_all(b"{\"a\":1}\r\n{\"b\":2}\n{\"c\":3}", 1024);
        assert_eq!(
            got,
            vec![ok(1, "{\"a\":1}"), ok(2, "{\"b\":2}"), ok(3, "{\"c\":3}")]
        );
    }

    #[test]
    fn empty_input_has_no_lines() {
        assert!(read_all(b"", 1024).is_empty());
    }

    #[test]
    fn bom_is_stripped_on_first_line_only() {
        let got = read_all(b"\xEF\xBB\xBF{}\n\xEF\xBB\xBF{}\n", 1024);
        assert_eq!(got[0], ok(1, "{}"));
        // A BOM elsewhere is kept as text; JSON parsing will reject it later.
        assert_eq!(got[1], ok(2, "\u{FEFF}{}"));
    }

    #[test]
    fn blank_and_whitespace_lines_are_errors() {
        let got = read_all(b"{}\n\n  \r\n\r\n{}\n", 1024);
        assert_eq!(
            got,
            vec![
                ok(1, "{}"),
                (2, Err("blank_line")),
                (3, Err("blank_line")),
                (4, Err("blank_line")),
                ok(5, "{}"),
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_and_reading_continues() {
        let got = read_all(b"{\"a\":\"\xff\xfe\"}\n{}\n", 1024);
        assert_eq!(got, vec![(1, Err("invalid_utf8")), ok(2, "{}")]);
    }

    #[test]
    fn error_messages_do_not_echo_content() {
        let mut r = JsonlReader::new(Cursor::new(b"secret\xff\n".to_vec()), 1024);
        let err = r.next_line().unwrap().unwrap_err();
        let msg = err.to_string();
        assert!(!msg.contains("secret"), "{msg}");
        assert!(msg.contains("line 1"), "{msg}");
        assert!(msg.contains("invalid_utf8"), "{msg}");
    }

    #[test]
    fn over_long_line_is_skipped_not_buffered() {
        let mut input = b"{}\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"\n{\"z\":1}\n");
        // A tiny BufReader capacity forces the long line across many fill_buf calls.
        let mut reader = JsonlReader::new(BufReader::with_capacity(16, Cursor::new(input)), 100);
        assert_eq!(reader.next_line().unwrap().unwrap().text, "{}");
        let err = reader.next_line().unwrap().unwrap_err();
        assert_eq!((err.line, err.code()), (2, "line_too_long"));
        assert!(
            reader.buf.capacity() <= 200,
            "buffered {}",
            reader.buf.capacity()
        );
        let line = reader.next_line().unwrap().unwrap();
        assert_eq!((line.number, line.text), (3, "{\"z\":1}"));
        assert!(reader.next_line().is_none());
    }

    #[test]
    fn limit_is_on_content_not_terminator() {
        let got = read_all(b"12345\r\n123456\r\n12345", 5);
        assert_eq!(
            got,
            vec![ok(1, "12345"), (2, Err("line_too_long")), ok(3, "12345")]
        );
        let got = read_all(b"123456", 5);
        assert_eq!(got, vec![(1, Err("line_too_long"))]);
    }

    #[test]
    fn raw_bytes_and_consumed_count_cover_the_source() {
        let input = b"\xEF\xBB\xBF{}\r\n{\"a\":1}";
        let mut reader = JsonlReader::new(Cursor::new(input.to_vec()), 1024);
        let mut raw = Vec::new();
        while let Some(Ok(line)) = reader.next_line() {
            raw.extend_from_slice(line.raw);
        }
        assert_eq!(raw, input);
        assert_eq!(reader.bytes_consumed(), input.len() as u64);
    }

    struct FailingReader;
    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }

    #[test]
    fn io_error_stops_the_reader() {
        let mut r = JsonlReader::new(BufReader::new(FailingReader), 1024);
        let err = r.next_line().unwrap().unwrap_err();
        assert_eq!((err.line, err.code()), (1, "io_error"));
        assert!(err.is_io());
        assert!(r.next_line().is_none());
    }

    #[test]
    fn digesting_reader_hashes_everything_consumed_including_skipped_lines() {
        let mut input = b"{}\n".to_vec();
        input.extend(std::iter::repeat_n(b'y', 5000));
        input.extend_from_slice(b"\n{}");
        let digesting =
            DigestingReader::new(BufReader::with_capacity(64, Cursor::new(input.clone())));
        let mut reader = JsonlReader::new(digesting, 10);
        while reader.next_line().is_some() {}
        let (digest, bytes) = reader.into_inner().finish();
        assert_eq!(bytes, input.len() as u64);
        assert_eq!(
            digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&input)))
        );
    }

    fn concat(parts: &[&[u8]]) -> Vec<u8> {
        let sources: Vec<Cursor<Vec<u8>>> = parts.iter().map(|p| Cursor::new(p.to_vec())).collect();
        let mut out = Vec::new();
        ConcatSources::new(sources).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn concat_separates_sources_without_trailing_newline() {
        assert_eq!(concat(&[b"{}\n{}", b"{}\n"]), b"{}\n{}\n{}\n");
        assert_eq!(concat(&[b"{}\n", b"{}"]), b"{}\n{}");
        assert_eq!(concat(&[b"{}", b"", b"", b"{}"]), b"{}\n{}");
        assert_eq!(concat(&[b"{}"]), b"{}");
        assert_eq!(concat(&[b"", b"{}"]), b"{}");
        assert_eq!(concat(&[]), b"");
    }

    #[test]
    fn concat_keeps_first_bom_and_drops_later_ones() {
        assert_eq!(
            concat(&[b"\xEF\xBB\xBF{}", b"\xEF\xBB\xBF{}\r\n", b"\xEF\xBB"]),
            b"\xEF\xBB\xBF{}\n{}\r\n\xEF\xBB"
        );
        assert_eq!(concat(&[b"{}", b"\xEF\xBB\xBF"]), b"{}");
        assert_eq!(concat(&[b"{}", b"\xEF"]), b"{}\n\xEF");
    }

    #[test]
    fn concat_works_with_one_byte_reads() {
        let sources = vec![Cursor::new(b"{}".to_vec()), Cursor::new(b"{}".to_vec())];
        let mut c = ConcatSources::new(sources);
        let mut out = Vec::new();
        let mut byte = [0u8; 1];
        while c.read(&mut byte).unwrap() == 1 {
            out.push(byte[0]);
        }
        assert_eq!(out, b"{}\n{}");
    }

    proptest! {
        #[test]
        fn reader_never_panics_and_yields_one_result_per_line(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'{'), Just(b' '), Just(0xEFu8), Just(0xBBu8), Just(0xBFu8), any::<u8>()],
                0..400),
            max in 1usize..40,
            cap in 1usize..32,
        ) {
            let expected_lines = if input.is_empty() {
                0
            } else {
                input.iter().filter(|&&b| b == b'\n').count() + usize::from(input.last() != Some(&b'\n'))
            };
            let got = read_all_from(BufReader::with_capacity(cap, Cursor::new(input.clone())), max);
            prop_assert_eq!(got.len(), expected_lines);
            for (i, (n, _)) in got.iter().enumerate() {
                prop_assert_eq!(*n, i as u64 + 1);
            }
        }

        #[test]
        fn concat_never_merges_lines(parts in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a')], 0..10), 0..6)) {
            let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
            let out = concat(&refs);
            let nonempty: Vec<&Vec<u8>> = parts.iter().filter(|p| !p.is_empty()).collect();
            let mut expected = Vec::new();
            for p in &nonempty {
                if expected.last().is_some_and(|&b| b != b'\n') {
                    expected.push(b'\n');
                }
                expected.extend_from_slice(p);
            }
            prop_assert_eq!(out, expected);
        }
    }
}
