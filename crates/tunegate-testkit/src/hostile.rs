//! A real HTTP/1.1 listener on loopback that misbehaves on purpose: absurd `Retry-After`
//! values, bodies that never end, redirects, silence. Plain threads and `std::net`, so both
//! synchronous end-to-end tests and async tests can use it. Every request it receives is
//! recorded (method, path, headers) so a test can prove what did or did not arrive.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// Header names lowercased, values as sent.
    pub headers: Vec<(String, String)>,
    /// The first [`MAX_BODY`] bytes of the body (the rest is read and dropped).
    pub body: Vec<u8>,
}

/// How much of a request body is kept for the handler (bounded: the tests send large uploads).
pub const MAX_BODY: u64 = 64 * 1024;

/// Reads `n` bytes of `r`: keeps what fits in `body` up to [`MAX_BODY`], drops the rest.
fn take_body(r: &mut impl Read, n: u64, body: &mut Vec<u8>) -> std::io::Result<()> {
    let room = MAX_BODY.saturating_sub(body.len() as u64).min(n);
    r.by_ref().take(room).read_to_end(body)?;
    std::io::copy(&mut r.by_ref().take(n - room), &mut std::io::sink())?;
    Ok(())
}

impl Request {
    /// The first value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the listener answers.
pub enum Reply {
    /// A complete response with `Content-Length`.
    Full {
        /// HTTP status.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// A chunked 200 that starts with `prefix` and then sends 64 KiB chunks of `filler` until
    /// the client hangs up (or `limit` bytes, as a safety net for the machine running tests).
    Endless {
        /// HTTP status.
        status: u16,
        /// Sent first (e.g. the start of a JSON object).
        prefix: Vec<u8>,
        /// The byte repeated.
        filler: u8,
        /// Stop after this many bytes in total.
        limit: u64,
    },
    /// Reads the request and never answers; the connection stays open until the client gives up
    /// or the listener is dropped.
    Hang,
}

impl Reply {
    /// A JSON response.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::Full {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// Adds a header to a `Full` reply.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Full { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A running listener. Dropping it stops accepting and releases hanging connections.
pub struct Listener {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Starts a listener on `127.0.0.1:0` answering every request with `handler`.
pub fn serve(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Listener {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let requests = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let handler: Arc<Handler> = Arc::new(handler);
    {
        let (requests, stop) = (requests.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (requests, stop, handler) = (requests.clone(), stop.clone(), handler.clone());
                thread::spawn(move || {
                    let _ = handle(conn, &requests, &stop, &*handler);
                });
            }
        });
    }
    Listener {
        addr,
        requests,
        stop,
    }
}

fn handle(
    conn: TcpStream,
    requests: &Mutex<Vec<Request>>,
    stop: &AtomicBool,
    handler: &Handler,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut writer = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let mut request = Request {
            method,
            path,
            headers,
            body: Vec::new(),
        };
        let mut body = Vec::new();
        // Read the body (kept in part) so the client is not stuck writing it.
        if request
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let size = u64::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                    .unwrap_or(0);
                take_body(&mut reader, size, &mut body)?;
                // The chunk's CRLF (the last chunk is followed by an empty trailer line).
                std::io::copy(&mut (&mut reader).take(2), &mut std::io::sink())?;
                if size == 0 {
                    break;
                }
            }
        } else {
            let length: u64 = request
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            take_body(&mut reader, length, &mut body)?;
        }
        request.body = body;
        if let Ok(mut r) = requests.lock() {
            r.push(request.clone());
        }
        match handler(&request) {
            Reply::Full {
                status,
                headers,
                body,
            } => {
                let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                for (n, v) in headers {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                head.push_str("\r\n");
                writer.write_all(head.as_bytes())?;
                writer.write_all(&body)?;
                writer.flush()?;
            }
            Reply::Endless {
                status,
                prefix,
                filler,
                limit,
            } => {
                writer.write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                    )
                    .as_bytes(),
                )?;
                write_chunk(&mut writer, &prefix)?;
                let chunk = vec![filler; 64 * 1024];
                let mut sent = prefix.len() as u64;
                while sent < limit && !stop.load(Ordering::SeqCst) {
                    write_chunk(&mut writer, &chunk)?;
                    sent += chunk.len() as u64;
                }
                writer.write_all(b"0\r\n\r\n")?;
                return Ok(());
            }
            Reply::Hang => {
                let start = Instant::now();
                while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(600) {
                    thread::sleep(Duration::from_millis(100));
                    // A client that gave up closes the socket: a read returns 0.
                    writer.set_nonblocking(true)?;
                    let mut probe = [0u8; 1];
                    let gone = matches!(writer.peek(&mut probe), Ok(0));
                    writer.set_nonblocking(false)?;
                    if gone {
                        break;
                    }
                }
                return Ok(());
            }
        }
    }
}

fn write_chunk(w: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    w.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    w.write_all(data)?;
    w.write_all(b"\r\n")
}
