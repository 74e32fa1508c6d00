//! HTTP/2 without TLS (h2c, prior knowledge) on both sides of Envoy, with the `h2` crate: a
//! server that answers the same [`Handler`]s as the HTTP/1.1 one (so [`crate::upstream`] can
//! replay recordings over HTTP/2), and a client that can do what curl cannot on demand: send a
//! large body in pieces under flow control, read slowly, read trailers, and reset its stream
//! (RST_STREAM) mid-request or mid-response while the connection stays up.
//!
//! Each server connection and each client call runs its own single-threaded tokio runtime on
//! its own thread, so nothing here needs the caller to be async. Every wait is bounded.

use crate::http::{Handler, Reply, Request, Response, Server};
use bytes::Bytes;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The window both peers advertise: small enough that a body of a few MiB needs many
/// WINDOW_UPDATEs, as HTTP/2 clients and servers see in practice (65,535 is the default).
const WINDOW: u32 = 65_535;
/// The most a sender queues at once before waiting for window.
const PIECE: usize = 16 * 1024;
/// A bound on every client call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// Starts an h2c server on 127.0.0.1:`port` (0 for any free port) that answers with `handler`.
/// [`Reply::Chunked`] chunks become DATA frames sent as the peer's window allows, `reset_after`
/// resets the stream (RST_STREAM INTERNAL_ERROR) after that many body bytes,
/// [`Reply::Trailed`] ends the body with a trailers HEADERS frame, and [`Reply::Close`] resets
/// the stream without answering. A stream's request body is read whole before `handler` runs.
pub fn serve(port: u16, handler: Handler) -> std::io::Result<Server> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    std::thread::spawn(move || {
        while !stop2.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let h = handler.clone();
                    std::thread::spawn(move || {
                        if let Ok(rt) = runtime() {
                            rt.block_on(serve_connection(stream, h));
                        }
                    });
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Ok(Server::from_parts(port, stop))
}

async fn serve_connection(stream: std::net::TcpStream, handler: Handler) {
    let _ = stream.set_nodelay(true);
    let Ok(socket) = stream.set_nonblocking(true).and_then(|_| tokio::net::TcpStream::from_std(stream)) else { return };
    let Ok(mut conn) = h2::server::Builder::new().initial_window_size(WINDOW).handshake::<_, Bytes>(socket).await else { return };
    // accepting drives the connection; each stream answers on its own task
    while let Some(Ok((request, respond))) = conn.accept().await {
        tokio::spawn(serve_stream(request, respond, handler.clone()));
    }
}

async fn serve_stream(request: http::Request<h2::RecvStream>, mut respond: h2::server::SendResponse<Bytes>, handler: Handler) {
    let (parts, mut body) = request.into_parts();
    let mut headers: Vec<(String, String)> =
        parts.headers.iter().map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
    if let Some(a) = parts.uri.authority() {
        headers.push((":authority".to_owned(), a.as_str().to_owned()));
        headers.push(("host".to_owned(), a.as_str().to_owned()));
    }
    let mut bytes = Vec::new();
    while let Some(piece) = body.data().await {
        let Ok(piece) = piece else { return };
        let _ = body.flow_control().release_capacity(piece.len());
        bytes.extend_from_slice(&piece);
    }
    let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".to_owned());
    let req = Request { method: parts.method.as_str().to_owned(), path, headers, body: bytes };
    // handlers may sleep (`x-delay-ms`): keep them off the connection's thread
    let Ok(reply) = tokio::task::spawn_blocking(move || handler(&req)).await else { return };
    answer(&mut respond, reply).await;
}

async fn answer(respond: &mut h2::server::SendResponse<Bytes>, reply: Reply) {
    let (reply, trailers) = match reply {
        Reply::Trailed { reply, trailers } => (*reply, trailers),
        other => (other, Vec::new()),
    };
    let (status, headers, chunks, delay, reset_after) = match reply {
        Reply::Full { status, mut headers, body } => {
            headers.push(("content-length".to_owned(), body.len().to_string()));
            (status, headers, vec![body], Duration::ZERO, None)
        }
        Reply::Chunked { status, headers, chunks, delay, reset_after } => (status, headers, chunks, delay, reset_after),
        Reply::Trailed { .. } | Reply::Close => {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            return;
        }
    };
    let mut head = http::Response::builder().status(status);
    for (k, v) in &headers {
        // connection-specific headers are illegal in HTTP/2
        if !matches!(k.as_str(), "connection" | "transfer-encoding" | "keep-alive") {
            head = head.header(k.as_str(), v.as_str());
        }
    }
    let Ok(head) = head.body(()) else { return };
    let empty = chunks.iter().all(Vec::is_empty) && trailers.is_empty();
    let Ok(mut send) = respond.send_response(head, empty) else { return };
    if empty {
        return;
    }
    let mut sent = 0usize;
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 && !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut chunk = &chunk[..];
        if let Some(limit) = reset_after {
            if sent + chunk.len() > limit {
                let _ = send_windowed(&mut send, &chunk[..limit - sent], false).await;
                send.send_reset(h2::Reason::INTERNAL_ERROR);
                return;
            }
        }
        sent += chunk.len();
        let last = i + 1 == chunks.len() && trailers.is_empty();
        if last {
            // the END_STREAM flag goes on the last DATA frame
            if send_windowed(&mut send, chunk, true).await.is_err() {
                return;
            }
            chunk = &[];
        }
        if !chunk.is_empty() && send_windowed(&mut send, chunk, false).await.is_err() {
            return;
        }
    }
    if chunks.is_empty() && trailers.is_empty() {
        let _ = send.send_data(Bytes::new(), true);
    }
    if !trailers.is_empty() {
        let mut map = http::HeaderMap::new();
        for (k, v) in trailers {
            if let (Ok(k), Ok(v)) = (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(&v)) {
                map.append(k, v);
            }
        }
        let _ = send.send_trailers(map);
    }
}

/// Sends `data` as the peer's flow-control window allows (never more than [`PIECE`] queued),
/// so a large body waits for WINDOW_UPDATEs instead of piling up in the sender.
async fn send_windowed(send: &mut h2::SendStream<Bytes>, data: &[u8], end: bool) -> Result<(), h2::Error> {
    let mut rest = data;
    if rest.is_empty() {
        return send.send_data(Bytes::new(), end);
    }
    while !rest.is_empty() {
        send.reserve_capacity(rest.len().min(PIECE));
        let granted = match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(Ok(n)) => n,
            Some(Err(e)) => return Err(e),
            None => return Err(h2::Error::from(h2::Reason::STREAM_CLOSED)),
        };
        if granted == 0 {
            continue;
        }
        let n = granted.min(rest.len());
        let last = n == rest.len();
        send.send_data(Bytes::copy_from_slice(&rest[..n]), end && last)?;
        rest = &rest[n..];
    }
    Ok(())
}

/// One h2c call as [`call`] makes it.
#[derive(Debug, Clone, Default)]
pub struct H2Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// `host` becomes `:authority`; names are sent lowercase.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// Request trailers: the body's last DATA frame goes without END_STREAM and a trailers
    /// HEADERS frame ends the stream.
    pub trailers: &'a [(&'a str, &'a str)],
    /// Reset the stream (RST_STREAM CANCEL) after sending this many request body bytes.
    pub reset_request_after: Option<usize>,
    /// Reset the stream (RST_STREAM CANCEL) once this many response body bytes arrived.
    pub reset_response_after: Option<usize>,
    /// Wait this long after the response headers before reading the body, so that the
    /// response fills the windows on the way (Envoy's and the upstream's) and has to wait.
    pub read_delay: Duration,
}

/// What the client saw.
#[derive(Debug, Clone, Default)]
pub struct H2Response {
    /// 0 when no response head arrived.
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    /// The body ended with END_STREAM (false after a reset from either side).
    pub complete: bool,
    /// Why the call failed, when it did (the peer's reset reason, a timeout, an I/O error).
    pub error: Option<String>,
    /// Response body frames received (more than one when the body came in pieces).
    pub data_frames: usize,
}

impl H2Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// As the HTTP/1.1 client's [`Response`], for helpers that take one.
    pub fn into_response(self) -> Response {
        Response { status: self.status, headers: self.headers, body: self.body, first_byte: None, total: Duration::ZERO, complete: self.complete }
    }
}

/// Makes one call over a new h2c connection to 127.0.0.1:`port`. After a reset the connection
/// stays open a moment, so the peer sees RST_STREAM on a live connection, not a close.
pub fn call(port: u16, c: &H2Call<'_>) -> H2Response {
    let fail = |e: String| H2Response { error: Some(e), ..Default::default() };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(e.to_string()),
    };
    rt.block_on(async {
        match tokio::time::timeout(CALL_TIMEOUT, call_async(port, c)).await {
            Ok(r) => r,
            Err(_) => fail(format!("no answer in {CALL_TIMEOUT:?}")),
        }
    })
}

fn header_pairs(map: &http::HeaderMap) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect()
}

async fn call_async(port: u16, c: &H2Call<'_>) -> H2Response {
    let mut out = H2Response::default();
    let socket = match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        Ok(s) => s,
        Err(e) => return H2Response { error: Some(e.to_string()), ..out },
    };
    let _ = socket.set_nodelay(true);
    let (client, connection) = match h2::client::Builder::new().initial_window_size(WINDOW).handshake::<_, Bytes>(socket).await {
        Ok(x) => x,
        Err(e) => return H2Response { error: Some(e.to_string()), ..out },
    };
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let authority = c.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("host")).map_or("localhost", |(_, v)| *v);
    let mut req = http::Request::builder().method(c.method).uri(format!("http://{authority}{}", c.path));
    for (k, v) in c.headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case("host")) {
        req = req.header(k.to_ascii_lowercase(), *v);
    }
    let Ok(req) = req.body(()) else { return H2Response { error: Some("bad request head".into()), ..out } };
    let mut client = match client.ready().await {
        Ok(cl) => cl,
        Err(e) => return H2Response { error: Some(e.to_string()), ..out },
    };
    let (response, mut send) = match client.send_request(req, c.body.is_empty() && c.trailers.is_empty()) {
        Ok(x) => x,
        Err(e) => return H2Response { error: Some(e.to_string()), ..out },
    };
    // the body goes out on its own task, so a response that starts early is read as it comes
    let body = c.body.to_vec();
    let reset_request_after = c.reset_request_after;
    let trailers: Vec<(String, String)> = c.trailers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect();
    let sender = tokio::spawn(async move {
        if body.is_empty() && trailers.is_empty() {
            return send;
        }
        match reset_request_after {
            Some(n) => {
                let n = n.min(body.len());
                let _ = send_windowed(&mut send, &body[..n], false).await;
                // let the sent part reach the peer before the reset
                tokio::time::sleep(Duration::from_millis(100)).await;
                send.send_reset(h2::Reason::CANCEL);
            }
            None => {
                let _ = send_windowed(&mut send, &body, trailers.is_empty()).await;
                if !trailers.is_empty() {
                    let mut map = http::HeaderMap::new();
                    for (k, v) in &trailers {
                        if let (Ok(k), Ok(v)) = (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(v)) {
                            map.append(k, v);
                        }
                    }
                    let _ = send.send_trailers(map);
                }
            }
        }
        send
    });
    let response = match response.await {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e.to_string());
            linger(driver).await;
            return out;
        }
    };
    out.status = response.status().as_u16();
    out.headers = header_pairs(response.headers());
    let mut recv = response.into_body();
    if !c.read_delay.is_zero() {
        tokio::time::sleep(c.read_delay).await;
    }
    loop {
        match recv.data().await {
            Some(Ok(piece)) => {
                let _ = recv.flow_control().release_capacity(piece.len());
                out.data_frames += 1;
                out.body.extend_from_slice(&piece);
                if c.reset_response_after.is_some_and(|n| out.body.len() >= n) {
                    if let Ok(mut send) = sender.await {
                        send.send_reset(h2::Reason::CANCEL);
                    }
                    out.error = Some("reset by the client".into());
                    drop(recv);
                    linger(driver).await;
                    return out;
                }
            }
            Some(Err(e)) => {
                out.error = Some(e.to_string());
                linger(driver).await;
                return out;
            }
            None => break,
        }
    }
    match recv.trailers().await {
        Ok(t) => {
            out.trailers = t.as_ref().map(header_pairs).unwrap_or_default();
            out.complete = true;
        }
        Err(e) => out.error = Some(e.to_string()),
    }
    linger(driver).await;
    out
}

/// Keeps the connection up a moment so the last frames (a reset, a WINDOW_UPDATE) leave
/// before the socket closes.
async fn linger(driver: tokio::task::JoinHandle<()>) {
    let until = Instant::now() + Duration::from_millis(300);
    tokio::time::sleep_until(until.into()).await;
    driver.abort();
}
