//! An upstream that keeps every byte it received, and a client that writes a body in spaced
//! pieces so that Envoy sees separate chunks.
//!
//! The fixture upstream (`upstream.rs`) records only requests it read whole; a request that the
//! guard refuses mid-body arrives cut (headers, a prefix of the body, then a reset), and a test
//! that proves a secret never reached the upstream must look at those bytes too.

use crate::http::{connect, read_body, read_head, read_response, Request, Response};
use std::io::{BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A chat completion, so that the filter's span is an ordinary one.
const ANSWER: &[u8] = br#"{"id":"chatcmpl-rec","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#;

/// Every byte of every connection, and each complete request.
#[derive(Default)]
struct Log {
    connections: Vec<Arc<Mutex<Vec<u8>>>>,
    requests: Vec<Request>,
}

/// The recording upstream; stops accepting when dropped.
pub struct Recorder {
    pub port: u16,
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
}

struct Tee {
    inner: std::net::TcpStream,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Read for Tee {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut s) = self.seen.lock() {
            s.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
}

impl Recorder {
    /// Listens on a free loopback port; answers every complete request with a chat completion.
    pub fn start() -> std::io::Result<Recorder> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let log: Arc<Mutex<Log>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let seen = Arc::new(Mutex::new(Vec::new()));
                        if let Ok(mut l) = log2.lock() {
                            l.connections.push(seen.clone());
                        }
                        let log3 = log2.clone();
                        thread::spawn(move || serve(stream, seen, log3));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Recorder { port, log, stop })
    }

    /// Every byte received, all connections, in the order connections were accepted.
    pub fn bytes(&self) -> Vec<u8> {
        let conns = self.log.lock().map(|l| l.connections.clone()).unwrap_or_default();
        conns.iter().flat_map(|c| c.lock().map(|b| b.clone()).unwrap_or_default()).collect()
    }

    /// Every request read whole.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().map(|l| l.requests.clone()).unwrap_or_default()
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        if let Ok(mut l) = self.log.lock() {
            for c in &l.connections {
                if let Ok(mut b) = c.lock() {
                    b.clear();
                }
            }
            l.requests.clear();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: std::net::TcpStream, seen: Arc<Mutex<Vec<u8>>>, log: Arc<Mutex<Log>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else { return };
    let mut r = BufReader::with_capacity(64 * 1024, Tee { inner: stream, seen });
    loop {
        let Some((line, headers)) = read_head(&mut r) else { return };
        let Some(body) = read_body(&mut r, &headers) else { return };
        let mut parts = line.split_whitespace();
        let req = Request {
            method: parts.next().unwrap_or("").to_owned(),
            path: parts.next().unwrap_or("").to_owned(),
            headers,
            body,
        };
        if let Ok(mut l) = log.lock() {
            l.requests.push(req);
        }
        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", ANSWER.len());
        if out.write_all(head.as_bytes()).and_then(|_| out.write_all(ANSWER)).is_err() {
            return;
        }
    }
}

/// How a spaced body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    ContentLength,
    Chunked,
}

/// Sends one request on a new connection, writing the body in `pieces` (sizes, in order; the
/// rest goes last) with `gap` between writes, and reads the answer. A server that answers
/// before the body is all sent (a local reply) is read as it comes; the writes that fail after
/// it are not errors.
pub fn send_spaced(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    framing: Framing,
    pieces: &[usize],
    gap: Duration,
) -> std::io::Result<Response> {
    let start = Instant::now();
    let mut s = connect(port)?;
    let mut head = format!("POST {path} HTTP/1.1\r\nconnection: close\r\n");
    match framing {
        Framing::ContentLength => head.push_str(&format!("content-length: {}\r\n", body.len())),
        Framing::Chunked => head.push_str("transfer-encoding: chunked\r\n"),
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    let mut at = 0;
    let mut sizes: Vec<usize> = pieces.to_vec();
    sizes.push(usize::MAX);
    for n in sizes {
        if at >= body.len() {
            break;
        }
        let end = at.saturating_add(n).min(body.len());
        let piece = &body[at..end];
        let ok = match framing {
            Framing::ContentLength => s.write_all(piece),
            Framing::Chunked => s.write_all(&[format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat()),
        };
        let _ = s.flush();
        if ok.is_err() {
            break;
        }
        at = end;
        if at < body.len() {
            thread::sleep(gap);
        }
    }
    if framing == Framing::Chunked && at >= body.len() {
        let _ = s.write_all(b"0\r\n\r\n");
    }
    let mut r = BufReader::new(s);
    read_response(&mut r, start, None).map(|(resp, _)| resp)
}
