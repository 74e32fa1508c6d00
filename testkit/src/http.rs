//! A small HTTP/1.1 server and client on std, enough for loopback tests: keep-alive,
//! content-length and chunked bodies, bounded reads, and timeouts on every socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A parsed request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Lowercase names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// How a handler answers.
pub enum Reply {
    /// Status, headers and a body sent with content-length.
    Full { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    /// Status, headers and body chunks sent with chunked encoding, `delay` between chunks;
    /// `reset_after` closes the socket after that many body bytes.
    Chunked {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<Vec<u8>>,
        delay: Duration,
        reset_after: Option<usize>,
    },
    /// Close the connection without answering.
    Close,
    /// `reply` followed by trailers: a trailers HEADERS frame over HTTP/2 (gRPC-style), the
    /// chunked body's trailer section over HTTP/1.1 (dropped after a `Full` body).
    Trailed { reply: Box<Reply>, trailers: Vec<(String, String)> },
}

pub type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A running server; stops when dropped.
pub struct Server {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Listens on 127.0.0.1:`port` (0 for any free port).
    pub fn start(port: u16, handler: Handler) -> std::io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let h = handler.clone();
                        let stop3 = stop2.clone();
                        thread::spawn(move || serve(stream, h, stop3));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Server { port, stop })
    }

    /// A server whose accept loop runs elsewhere (the h2c server) and stops with `stop`.
    pub(crate) fn from_parts(port: u16, stop: Arc<AtomicBool>) -> Server {
        Server { port, stop }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, handler: Handler, stop: Arc<AtomicBool>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut out = write_half;
    while !stop.load(Ordering::Relaxed) {
        let Some(req) = read_request(&mut reader) else { return };
        let (reply, trailers) = match handler(&req) {
            Reply::Trailed { reply, trailers } => (*reply, trailers),
            other => (other, Vec::new()),
        };
        match reply {
            Reply::Full { status, headers, body } => {
                let mut head = format!("HTTP/1.1 {status} {}\r\ncontent-length: {}\r\n", reason(status), body.len());
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if out.write_all(head.as_bytes()).and_then(|_| out.write_all(&body)).is_err() {
                    return;
                }
            }
            Reply::Chunked { status, headers, chunks, delay, reset_after } => {
                let mut head = format!("HTTP/1.1 {status} {}\r\ntransfer-encoding: chunked\r\n", reason(status));
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if out.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let mut sent = 0usize;
                for (i, c) in chunks.iter().enumerate() {
                    if i > 0 && !delay.is_zero() {
                        thread::sleep(delay);
                    }
                    if let Some(limit) = reset_after {
                        if sent + c.len() > limit {
                            let part = &c[..limit - sent];
                            let _ = out.write_all(format!("{:x}\r\n", c.len()).as_bytes());
                            let _ = out.write_all(part);
                            let _ = out.flush();
                            let _ = out.shutdown(Shutdown::Both);
                            return;
                        }
                    }
                    sent += c.len();
                    let frame = [format!("{:x}\r\n", c.len()).as_bytes(), c, b"\r\n"].concat();
                    if out.write_all(&frame).and_then(|_| out.flush()).is_err() {
                        return;
                    }
                }
                let mut end = String::from("0\r\n");
                for (k, v) in &trailers {
                    end.push_str(&format!("{k}: {v}\r\n"));
                }
                end.push_str("\r\n");
                if out.write_all(end.as_bytes()).is_err() {
                    return;
                }
            }
            Reply::Close | Reply::Trailed { .. } => {
                let _ = out.shutdown(Shutdown::Both);
                return;
            }
        }
        if req.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

pub(crate) fn read_head<R: BufRead>(r: &mut R) -> Option<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    loop {
        first.clear();
        if r.read_line(&mut first).ok()? == 0 {
            return None;
        }
        if !first.trim().is_empty() {
            break;
        }
    }
    let mut headers = Vec::new();
    loop {
        // header values may carry bytes that are not UTF-8 (HTTP's obs-text), which Envoy
        // forwards: read them as U+FFFD rather than drop the connection
        let mut raw = Vec::new();
        if r.read_until(b'\n', &mut raw).ok()? == 0 {
            return None;
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    Some((first.trim_end().to_owned(), headers))
}

pub(crate) fn read_body<R: BufRead>(r: &mut R, headers: &[(String, String)]) -> Option<Vec<u8>> {
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    if get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            if n == 0 {
                let mut end = String::new();
                r.read_line(&mut end).ok()?;
                return Some(body);
            }
            let mut chunk = vec![0; n];
            r.read_exact(&mut chunk).ok()?;
            body.extend_from_slice(&chunk);
            let mut crlf = [0; 2];
            r.read_exact(&mut crlf).ok()?;
        }
    }
    let n: usize = get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; n];
    r.read_exact(&mut body).ok()?;
    Some(body)
}

fn read_request<R: BufRead>(r: &mut R) -> Option<Request> {
    let (line, headers) = read_head(r)?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let body = read_body(r, &headers)?;
    Some(Request { method, path, headers, body })
}

/// A response as a client saw it.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Time from sending the request to the first body byte.
    pub first_byte: Option<Duration>,
    pub total: Duration,
    /// The body ended cleanly (false when the connection was cut mid-body).
    pub complete: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a new connection (`connection: close`) and reads the answer.
/// `abort_after`: stop reading after that many body bytes and drop the connection.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    abort_after: Option<usize>,
) -> std::io::Result<Response> {
    let start = Instant::now();
    let mut s = connect(port)?;
    s.write_all(&request_bytes(method, path, headers, body, true))?;
    let mut r = BufReader::new(s);
    read_response(&mut r, start, abort_after).map(|(resp, _)| resp)
}

/// A loopback connection as the test clients use it: no Nagle delay, a 20 s read timeout.
pub(crate) fn connect(port: u16) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// One HTTP/1.1 request, head and body; `host: localhost` unless the caller names a host.
fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8], close: bool) -> Vec<u8> {
    let close = if close { "connection: close\r\n" } else { "" };
    let mut head = format!("{method} {path} HTTP/1.1\r\n{close}content-length: {}\r\n", body.len());
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str("host: localhost\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut msg = head.into_bytes();
    msg.extend_from_slice(body);
    msg
}

/// Reads one response; also says whether the connection may carry another request.
pub(crate) fn read_response<R: BufRead>(r: &mut R, start: Instant, abort_after: Option<usize>) -> std::io::Result<(Response, bool)> {
    let (line, headers) = read_head(r).ok_or_else(|| std::io::Error::other("no response head"))?;
    let status = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let mut body = Vec::new();
    let mut first_byte = None;
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let length: Option<usize> = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok());
    let mut complete = true;
    if chunked {
        loop {
            let mut size = String::new();
            if r.read_line(&mut size).unwrap_or(0) == 0 {
                complete = false;
                break;
            }
            let Ok(n) = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16) else {
                complete = false;
                break;
            };
            if n == 0 {
                // the blank line that ends a chunked body (no trailers here)
                let mut end = String::new();
                if r.read_line(&mut end).unwrap_or(0) == 0 {
                    complete = false;
                }
                break;
            }
            first_byte.get_or_insert_with(|| start.elapsed());
            // keep whatever part of the chunk arrives before a cut: the client did receive it
            let got = std::io::Read::by_ref(r).take(n as u64).read_to_end(&mut body).unwrap_or(0);
            let mut crlf = [0u8; 2];
            if got < n || r.read_exact(&mut crlf).is_err() {
                complete = false;
                break;
            }
            if abort_after.is_some_and(|a| body.len() >= a) {
                complete = false;
                break;
            }
        }
    } else {
        let mut buf = [0u8; 8192];
        while length != Some(body.len()) {
            let want = length.map_or(buf.len(), |n| (n - body.len()).min(buf.len()));
            match r.read(&mut buf[..want]) {
                Ok(0) => break,
                Ok(k) => {
                    first_byte.get_or_insert_with(|| start.elapsed());
                    body.extend_from_slice(&buf[..k]);
                    if abort_after.is_some_and(|a| body.len() >= a) {
                        complete = false;
                        break;
                    }
                }
                Err(_) => {
                    complete = false;
                    break;
                }
            }
        }
        if let Some(n) = length {
            complete = complete && body.len() == n;
        }
    }
    let close = headers.iter().any(|(k, v)| k == "connection" && v.eq_ignore_ascii_case("close"));
    let reusable = complete && !close && (chunked || length.is_some());
    Ok((Response { status, headers, body, first_byte, total: start.elapsed(), complete }, reusable))
}

/// A keep-alive HTTP/1.1 client connection: requests go one after another on one socket, and
/// a new socket is opened only when the last response could not leave it reusable (the server
/// closed it, the body was cut, or the caller aborted). Nothing is ever retried.
pub struct Conn {
    port: u16,
    stream: Option<BufReader<TcpStream>>,
    /// Sockets opened so far.
    pub connects: u64,
}

impl Conn {
    pub fn new(port: u16) -> Conn {
        Conn { port, stream: None, connects: 0 }
    }

    /// Sends one request and reads its response. `abort_after`: stop reading after that many
    /// body bytes and close the socket (a client that goes away mid-stream).
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        abort_after: Option<usize>,
    ) -> std::io::Result<Response> {
        let start = Instant::now();
        if self.stream.is_none() {
            self.stream = Some(BufReader::new(connect(self.port)?));
            self.connects += 1;
        }
        let mut r = self.stream.take().ok_or_else(|| std::io::Error::other("no connection"))?;
        r.get_mut().write_all(&request_bytes(method, path, headers, body, false))?;
        let (resp, reusable) = read_response(&mut r, start, abort_after)?;
        if reusable {
            self.stream = Some(r);
        } else {
            let _ = r.get_ref().shutdown(Shutdown::Both);
        }
        Ok(resp)
    }
}

/// One request over h2c (HTTP/2 with prior knowledge, no TLS) to 127.0.0.1:`port`, sent by
/// `curl --http2-prior-knowledge`: the testkit's own client speaks only HTTP/1.1, and curl's
/// nghttp2 is a real HTTP/2 stack (framing, HPACK, flow control). The response's headers are
/// those of the final response; `first_byte` is not measured. Status 0 on any failure.
pub fn request_h2c(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let started = std::time::Instant::now();
    let fail = |e: String| Response { status: 0, headers: Vec::new(), body: e.into_bytes(), first_byte: None, total: started.elapsed(), complete: false };
    let dir = std::env::temp_dir().join(format!("genai-tap-h2c-{}-{}", std::process::id(), NEXT_H2C.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(e.to_string());
    }
    let (req_path, out_path, hdr_path) = (dir.join("req"), dir.join("out"), dir.join("hdr"));
    if let Err(e) = std::fs::write(&req_path, body) {
        return fail(e.to_string());
    }
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["--silent", "--show-error", "--http2-prior-knowledge", "--max-time", "30", "-X", method])
        .arg("--output").arg(&out_path)
        .arg("--dump-header").arg(&hdr_path)
        .args(["--write-out", "%{http_code} %{http_version}"]);
    for (k, v) in headers {
        // curl's own Host becomes :authority over HTTP/2
        cmd.arg("-H").arg(format!("{k}: {v}"));
    }
    if !body.is_empty() {
        cmd.arg("--data-binary").arg(format!("@{}", req_path.display()));
    }
    cmd.arg(format!("http://127.0.0.1:{port}{path}"));
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) => return fail(format!("curl: {e} (make deps installs it)")),
    };
    let write_out = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut parts = write_out.split_whitespace();
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let version = parts.next().unwrap_or("");
    let body = std::fs::read(&out_path).unwrap_or_default();
    let mut headers: Vec<(String, String)> = std::fs::read_to_string(&hdr_path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned())))
        .filter(|(k, _)| !k.is_empty())
        .collect();
    headers.push(("x-testkit-http-version".to_owned(), version.to_owned()));
    let _ = std::fs::remove_dir_all(&dir);
    if status == 0 {
        return fail(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Response { status, headers, body, first_byte: None, total: started.elapsed(), complete: out.status.success() }
}

static NEXT_H2C: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
