//! The project's own HTTP/1.1 test server, written on raw tokio TCP so that
//! faults can be injected at the byte level.
//!
//! It serves files below a root folder (GET and HEAD, keep-alive, single
//! byte ranges), records every request it answers, and can be told to answer
//! particular paths with scripted faults (error statuses, `Retry-After`,
//! delays, connection resets, truncated bodies, HTML "access denied" pages,
//! arbitrary bodies) and hostile answers (redirects, bodies of any type,
//! `206` without a range, bodies that never end).
//!
//! The API is synchronous: the server runs on its own thread with its own
//! tokio runtime, so plain `#[test]` functions (which typically spawn the
//! `snatch` binary with `std::process`) can use it. It shuts down on drop.
//!
//! Integration tests reach it as `support::server` (see
//! `tests/support/mod.rs`); the example `segment-server` includes this
//! file with `#[path]`. Code in `src/` never does (`tests/it/layout.rs`
//! checks): a test that needs a server belongs in `tests/it/`.
//! Depends only on std, tokio (feature "full") and libc (a small send
//! buffer while bytes are logged).

// Every test binary uses only part of this module.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;

/// Largest request head (request line + headers) accepted; larger gets 431.
const MAX_HEAD: usize = 64 * 1024;
/// Size of the chunks files are streamed in.
const CHUNK: usize = 128 * 1024;
/// Size of the chunks while bytes are logged (`set_byte_log`): small, so
/// that the log tells when the bytes went.
pub const LOGGED_CHUNK: usize = 8 * 1024;
/// The send buffer of a connection while bytes are logged.
pub const LOGGED_SEND_BUFFER: usize = 16 * 1024;
/// Pause between writing the last bytes and resetting, so the bytes already
/// written reach the peer before the RST does.
const RESET_PAUSE: Duration = Duration::from_millis(10);
/// How long a closing connection waits for the peer to close its side.
const LINGER_DRAIN: Duration = Duration::from_secs(2);

/// What to do instead of (or on top of) serving a request normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and a small `text/plain` body, e.g. 403, 404, 500, 503.
    Status(u16),
    /// Answer with `status` (typically 429 or 503) and `Retry-After: <value>`
    /// (delay in seconds, or an HTTP date), with a small `text/plain` body.
    RetryAfter { status: u16, value: String },
    /// Wait this long (on top of the server latency), then serve normally.
    Delay(Duration),
    /// Send the normal headers (with the full `Content-Length`) and at most
    /// this many body bytes, then reset the connection (`SO_LINGER` 0, then
    /// close), so the client sees ECONNRESET / a short read.
    Reset { after_bytes: usize },
    /// Send the normal headers (with the full `Content-Length`) but at most
    /// this many body bytes, then close the connection cleanly (FIN).
    Truncate { bytes: usize },
    /// 200 with `Content-Type: text/html` and an "Access denied" HTML page.
    Html200,
    /// 200 with exactly this body; `Content-Type` is chosen from the path as
    /// for a normal response (so garbage can pose as a `.ts` segment).
    Body(Vec<u8>),

    // ---- Hostile-server answers (see the block "Hostile servers" below) ----
    /// `status` (301, 302, 303, 307, 308, …) with `Location: location`
    /// (absolute or relative, sent as given).
    Redirect { status: u16, location: String },
    /// 200 with exactly this body and this `Content-Type`, whatever the
    /// path (an HTML page posing as `video/mp2t`).
    Typed { content_type: String, body: Vec<u8> },
    /// `206 Partial Content` (with a `Content-Range`) holding the first half
    /// of the file's 188-byte packets, whether a range was asked or not.
    Partial,
    /// 200 `video/mp2t` whose body is the file's bytes over and over until
    /// the client goes away (or [`ENDLESS_LIMIT`] bytes, a safety stop);
    /// `announce` is the `Content-Length` sent, none when `None`.
    Endless { announce: Option<u64> },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Status(s) => write!(f, "status {s}"),
            Fault::RetryAfter { status, value } => {
                write!(f, "status {status}, Retry-After {value}")
            }
            Fault::Delay(d) => write!(f, "delay {d:?}"),
            Fault::Reset { after_bytes } => write!(f, "reset after {after_bytes} bytes"),
            Fault::Truncate { bytes } => write!(f, "truncate to {bytes} bytes"),
            Fault::Html200 => write!(f, "HTML 200"),
            Fault::Body(b) => write!(f, "body of {} bytes", b.len()),
            Fault::Redirect { status, location } => write!(f, "{status} to {location}"),
            Fault::Typed { content_type, body } => {
                write!(f, "{} bytes as {content_type}", body.len())
            }
            Fault::Partial => write!(f, "206 with half the file"),
            Fault::Endless { announce } => write!(f, "endless body ({announce:?} announced)"),
        }
    }
}

/// One request as the server saw and answered it.
#[derive(Clone, Debug)]
pub struct Request {
    /// When the request head had arrived and been parsed.
    pub at: Instant,
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// `Host` header without `:port` (empty if absent).
    pub host: String,
    /// URL-decoded path, without the query string (for requests that could
    /// not be parsed: the raw request target, or empty).
    pub path: String,
    /// The raw query string (after `?`), if any.
    pub query: Option<String>,
    /// Status the server answered with (the status line actually sent, also
    /// for `Reset`/`Truncate`, which send 200/206 headers).
    pub status: u16,
    /// Request headers in arrival order, names as sent by the client.
    pub headers: Vec<(String, String)>,
    /// The fault applied to this request, if any.
    pub fault: Option<Fault>,
    /// Per-server connection number (0, 1, 2, ...): requests on the same
    /// keep-alive connection share it.
    pub conn: u64,
    /// Client address of the connection.
    pub peer: SocketAddr,
}

impl Request {
    /// First value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

#[derive(Default)]
struct PathFaults {
    queue: VecDeque<Fault>,
    always: Option<Fault>,
}

struct State {
    root: PathBuf,
    latency_nanos: AtomicU64,
    faults: Mutex<HashMap<String, PathFaults>>,
    requests: Mutex<Vec<Request>>,
    ranges: AtomicBool,
    record: AtomicBool,
    log: AtomicBool,
    next_conn: AtomicU64,
    /// Links that expire (see `expire_tokens`).
    tokens: Mutex<Option<Tokens>>,
    /// The answer to a request for a file that does not exist (see
    /// `when_missing`).
    missing: Mutex<Option<Fault>>,
    /// File body bytes written, with when (see `set_byte_log`).
    byte_log: ByteLog,
    /// Requests allowed per second, 429 above (see `cap_rate`).
    rate_cap: Mutex<Option<RateCap>>,
}

/// A token bucket of `per_second` requests, holding as many.
struct RateCap {
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl RateCap {
    /// Whether one more request is allowed now (taking its token).
    fn allows(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.per_second);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// File body bytes written and when, while logged (`set_byte_log`).
type ByteLog = Mutex<Option<Vec<(Instant, u64)>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding a lock must not take the others down.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency_nanos.load(Ordering::Relaxed))
    }

    fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let pf = faults.get_mut(path)?;
        pf.queue.pop_front().or_else(|| pf.always.clone())
    }

    fn record(&self, req: Request) {
        if self.log.load(Ordering::Relaxed) {
            let query = req
                .query
                .as_deref()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            let fault = req
                .fault
                .as_ref()
                .map(|f| format!(" [{f}]"))
                .unwrap_or_default();
            eprintln!(
                "{} {} {}{} -> {}{} (conn {})",
                req.peer, req.method, req.path, query, req.status, fault, req.conn
            );
        }
        if self.record.load(Ordering::Relaxed) {
            lock(&self.requests).push(req);
        }
    }
}

/// An HTTP/1.1 server for tests, running on its own thread; shuts down on drop.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `root` on 127.0.0.1 (random port).
    pub fn start(root: impl Into<PathBuf>) -> TestServer {
        Self::start_on("127.0.0.1", root, Duration::ZERO)
    }

    /// Serves `root` on 127.0.0.1 (random port); every response is delayed by
    /// `latency` before its headers are sent.
    pub fn with_latency(root: impl Into<PathBuf>, latency: Duration) -> TestServer {
        Self::start_on("127.0.0.1", root, latency)
    }

    /// Serves `root` on `ip` (e.g. "127.0.0.2"; random port) with `latency`
    /// before every response. Panics if `ip` is invalid or binding fails.
    pub fn start_on(ip: &str, root: impl Into<PathBuf>, latency: Duration) -> TestServer {
        let ip: IpAddr = ip
            .parse()
            .unwrap_or_else(|e| panic!("TestServer: invalid IP address {ip:?}: {e}"));
        Self::bind(SocketAddr::new(ip, 0), root, latency)
            .unwrap_or_else(|e| panic!("TestServer: cannot listen on {ip}: {e}"))
    }

    /// Serves `root` on `addr` (port 0 = random) with `latency` before every
    /// response; returns the error instead of panicking.
    pub fn bind(
        addr: SocketAddr,
        root: impl Into<PathBuf>,
        latency: Duration,
    ) -> io::Result<TestServer> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-server-worker")
            .enable_all()
            .build()?;
        let listener = rt.block_on(async {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            if addr.port() != 0 {
                // Allow restarting on a fixed port while old connections linger.
                socket.set_reuseaddr(true)?;
            }
            socket.bind(addr)?;
            socket.listen(1024)
        })?;
        let local = listener.local_addr()?;
        let state = Arc::new(State {
            root: root.into(),
            latency_nanos: AtomicU64::new(latency.as_nanos().min(u64::MAX as u128) as u64),
            faults: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            ranges: AtomicBool::new(true),
            record: AtomicBool::new(true),
            log: AtomicBool::new(false),
            next_conn: AtomicU64::new(0),
            tokens: Mutex::new(None),
            missing: Mutex::new(None),
            byte_log: Mutex::new(None),
            rate_cap: Mutex::new(None),
        });
        let (tx, rx) = oneshot::channel::<()>();
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("test-server {local}"))
            .spawn(move || {
                rt.block_on(async move {
                    tokio::select! {
                        _ = accept_loop(listener, thread_state) => {}
                        _ = rx => {}
                    }
                });
                // Drops every connection task (closing its socket).
                rt.shutdown_timeout(Duration::from_millis(500));
            })?;
        Ok(TestServer {
            addr: local,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "http://IP:PORT", without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The folder being served.
    pub fn root(&self) -> &Path {
        &self.state.root
    }

    /// Faults for requests to `path` (URL-decoded, without query, e.g.
    /// "/seg/000003.ts"), consumed one per request (GET or HEAD) in order,
    /// after any still queued for that path. Once used up the path is served
    /// normally (or with its `always` fault, if any).
    pub fn script(&self, path: &str, faults: impl IntoIterator<Item = Fault>) {
        let mut map = lock(&self.state.faults);
        map.entry(normalize_key(path))
            .or_default()
            .queue
            .extend(faults);
    }

    /// The same fault for every request to `path`, forever (scripted faults
    /// for the path, if any, are used first).
    pub fn always(&self, path: &str, fault: Fault) {
        let mut map = lock(&self.state.faults);
        map.entry(normalize_key(path)).or_default().always = Some(fault);
    }

    /// The same fault for every request to a file that does not exist
    /// (after any fault for its path), instead of 404: a server that answers
    /// a missing segment with a login page.
    pub fn when_missing(&self, fault: Fault) {
        *lock(&self.state.missing) = Some(fault);
    }

    /// Forgets all scripted and `always` faults.
    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    /// Changes the delay applied before every response from now on.
    pub fn set_latency(&self, latency: Duration) {
        let nanos = latency.as_nanos().min(u64::MAX as u128) as u64;
        self.state.latency_nanos.store(nanos, Ordering::Relaxed);
    }

    /// Whether `Range: bytes=...` requests get 206 (default: true). When
    /// off, `Range` is ignored (full 200) and no `Accept-Ranges` is sent.
    pub fn set_range_support(&self, enabled: bool) {
        self.state.ranges.store(enabled, Ordering::Relaxed);
    }

    /// Whether requests are recorded (default: true). Turn off for
    /// long-running benchmark servers.
    pub fn set_recording(&self, enabled: bool) {
        self.state.record.store(enabled, Ordering::Relaxed);
    }

    /// Whether every request is logged to stderr (default: false).
    pub fn set_log(&self, enabled: bool) {
        self.state.log.store(enabled, Ordering::Relaxed);
    }

    /// Allows `per_second` requests a second (up to as many at once) and
    /// answers 429 without `Retry-After` above that, as a server with a
    /// rate limit that does not say when to come back; `None` lifts it.
    pub fn cap_rate(&self, per_second: Option<f64>) {
        *lock(&self.state.rate_cap) = per_second.map(|per_second| RateCap {
            per_second,
            tokens: per_second,
            at: Instant::now(),
        });
    }

    /// Starts (or stops) logging the file body bytes written: each write
    /// of at most [`LOGGED_CHUNK`] bytes, with the time it was taken in by
    /// the socket. Starting clears the log.
    pub fn set_byte_log(&self, enabled: bool) {
        *lock(&self.state.byte_log) = enabled.then(Vec::new);
    }

    /// The body bytes written since `set_byte_log(true)`, in order.
    pub fn bytes_sent(&self) -> Vec<(Instant, u64)> {
        lock(&self.state.byte_log).clone().unwrap_or_default()
    }

    /// Everything recorded so far, in arrival order. A request is recorded
    /// before any byte of its response is sent.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.state.requests).clone()
    }

    /// Recorded requests whose (decoded, query-less) path is `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Request> {
        let key = normalize_key(path);
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.path == key)
            .cloned()
            .collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.state.requests).clear();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("root", &self.state.root)
            .finish()
    }
}

fn normalize_key(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let conn = state.next_conn.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(handle_conn(state.clone(), stream, peer, conn));
            }
            // E.g. EMFILE: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// What to do with the connection after a response.
enum Next {
    KeepAlive,
    Close,
    Reset,
}

async fn handle_conn(state: Arc<State>, mut stream: TcpStream, peer: SocketAddr, conn: u64) {
    let _ = stream.set_nodelay(true);
    if lock(&state.byte_log).is_some() {
        small_send_buffer(&stream);
    }
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    loop {
        let head = match read_head(&mut stream, &mut buf).await {
            Ok(Head::Complete(head)) => head,
            Ok(Head::Eof) => return,
            Ok(Head::TooLarge) => {
                let resp = Response::text(431);
                let _ = write_response(&mut stream, resp, false, Ending::Normal, false).await;
                close_gracefully(stream).await;
                return;
            }
            Err(_) => return,
        };
        let next = serve_one(&state, &mut stream, &mut buf, &head, peer, conn).await;
        match next {
            Ok(Next::KeepAlive) => continue,
            Ok(Next::Close) => {
                close_gracefully(stream).await;
                return;
            }
            Ok(Next::Reset) => {
                tokio::time::sleep(RESET_PAUSE).await;
                let _ = stream.set_zero_linger();
                drop(stream);
                return;
            }
            Err(_) => return,
        }
    }
}

/// While bytes are logged, a connection's send buffer is kept small
/// ([`LOGGED_SEND_BUFFER`]), so that a write is taken in when the client
/// reads rather than when the kernel has room for megabytes.
fn small_send_buffer(stream: &TcpStream) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let size = LOGGED_SEND_BUFFER as libc::c_int;
        // SAFETY: a valid socket, and a pointer to an int of the size given.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

enum Head {
    Complete(Vec<u8>),
    Eof,
    TooLarge,
}

/// Reads one request head (up to and including the blank line) from `buf`
/// plus the stream; leaves any bytes after it in `buf`.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Head> {
    let mut scanned = 0usize;
    loop {
        // Tolerate empty lines before a request line (RFC 9112 2.2).
        let blank = buf
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if blank > 0 {
            buf.drain(..blank);
            scanned = 0;
        }
        if let Some(end) = find_head_end(buf, scanned.saturating_sub(3)) {
            let head: Vec<u8> = buf.drain(..end).collect();
            return Ok(Head::Complete(head));
        }
        scanned = buf.len();
        if buf.len() > MAX_HEAD {
            return Ok(Head::TooLarge);
        }
        let mut tmp = [0u8; 8 * 1024];
        let n = stream.read(&mut tmp).await?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(Head::Eof)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

/// Index just past the blank line ending the head, searching from `from`.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let from = from.min(buf.len());
    buf[from..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| from + i + 4)
}

struct ParsedHead {
    method: String,
    target: String,
    http11: bool,
    headers: Vec<(String, String)>,
}

fn parse_head(head: &[u8]) -> Result<ParsedHead, u16> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().ok_or(400u16)?;
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => (m, t, v),
        _ => return Err(400),
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        v if v.starts_with("HTTP/") => return Err(505),
        _ => return Err(400),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or(400u16)?;
        if name.is_empty() || name.contains(' ') || name.contains('\t') {
            return Err(400);
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(ParsedHead {
        method: method.to_string(),
        target: target.to_string(),
        http11,
        headers,
    })
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn has_token(headers: &[(String, String)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn strip_port(host: &str) -> String {
    let host = host.trim();
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => host[..=end].to_string(),
            None => host.to_string(),
        };
    }
    match host.rfind(':') {
        Some(i) if !host[..i].contains(':') => host[..i].to_string(),
        _ => host.to_string(),
    }
}

/// Splits an origin-form (or absolute-form) target into raw path and query.
fn split_target(target: &str) -> Option<(&str, Option<&str>)> {
    let t = match target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        Some(rest) => match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => &rest[i..],
            _ => "/",
        },
        None => target,
    };
    if !t.starts_with('/') {
        return None;
    }
    let t = t.split('#').next().unwrap_or(t);
    Some(match t.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (t, None),
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

enum Resolved {
    File(PathBuf),
    Forbidden,
    Bad,
}

/// Maps a decoded URL path to a file below `root`; any `..` is forbidden.
fn resolve(root: &Path, path: &str) -> Resolved {
    let mut file = root.to_path_buf();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Resolved::Forbidden,
            s if s.contains('\0') => return Resolved::Bad,
            s if s.contains('\\') => return Resolved::Forbidden,
            s => file.push(s),
        }
    }
    Resolved::File(file)
}

fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or("");
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if ext.eq_ignore_ascii_case("ts") {
        "video/mp2t"
    } else if ext.eq_ignore_ascii_case("m3u8") {
        "application/vnd.apple.mpegurl"
    } else {
        "application/octet-stream"
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        416 => "Range Not Satisfiable",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

const ACCESS_DENIED_HTML: &str =
    "<!DOCTYPE html>\n<html>\n<head><title>Access denied</title></head>\n\
<body>\n<h1>Access denied</h1>\n<p>You don't have permission to access this resource.</p>\n\
</body>\n</html>\n";

enum Body {
    Bytes(Vec<u8>),
    File {
        file: tokio::fs::File,
        start: u64,
        len: u64,
    },
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Response {
    /// `status` with a small text/plain body (empty for bodyless statuses).
    fn text(status: u16) -> Response {
        let body = if status < 200 || status == 204 || status == 304 {
            Vec::new()
        } else {
            format!("{status} {}\n", reason(status)).into_bytes()
        };
        Response::bytes(status, "text/plain; charset=utf-8", body)
    }

    fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Body::Bytes(body),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn len(&self) -> u64 {
        match &self.body {
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }
}

#[derive(Clone, Copy)]
enum Ending {
    Normal,
    Reset(usize),
    Truncate(usize),
}

enum RangeSpec {
    /// Serve the whole file.
    Whole,
    /// Serve `start..=end`.
    Part(u64, u64),
    Unsatisfiable,
}

/// Single `bytes=` ranges only; anything else is ignored (whole file).
fn parse_range(value: &str, total: u64) -> RangeSpec {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeSpec::Whole;
    };
    if spec.contains(',') {
        return RangeSpec::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return RangeSpec::Whole;
        };
        if n == 0 || total == 0 {
            return RangeSpec::Unsatisfiable;
        }
        return RangeSpec::Part(total.saturating_sub(n), total - 1);
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeSpec::Whole;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(end) if end >= start => end,
            _ => return RangeSpec::Whole,
        }
    };
    if start >= total {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Part(start, end.min(total - 1))
}

/// Opens `file` and builds the normal response for it (200, 206, 416, 404...).
async fn file_response(state: &State, file: &Path, url_path: &str, req: &ParsedHead) -> Response {
    let opened = match tokio::fs::File::open(file).await {
        Ok(f) => f,
        Err(e) => {
            return match e.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Response::text(404),
                io::ErrorKind::PermissionDenied => Response::text(403),
                _ => Response::text(500),
            }
        }
    };
    let meta = match opened.metadata().await {
        Ok(m) => m,
        Err(_) => return Response::text(500),
    };
    if !meta.is_file() {
        return Response::text(404);
    }
    let total = meta.len();
    let ranges = state.ranges.load(Ordering::Relaxed);
    let range = match find_header(&req.headers, "range") {
        Some(v) if ranges => parse_range(v, total),
        _ => RangeSpec::Whole,
    };
    let ctype = content_type(url_path);
    let mut resp = match range {
        RangeSpec::Whole => Response {
            status: 200,
            headers: vec![("Content-Type".into(), ctype.into())],
            body: Body::File {
                file: opened,
                start: 0,
                len: total,
            },
        },
        RangeSpec::Part(start, end) => Response {
            status: 206,
            headers: vec![
                ("Content-Type".into(), ctype.into()),
                (
                    "Content-Range".into(),
                    format!("bytes {start}-{end}/{total}"),
                ),
            ],
            body: Body::File {
                file: opened,
                start,
                len: end - start + 1,
            },
        },
        RangeSpec::Unsatisfiable => {
            Response::text(416).header("Content-Range", format!("bytes */{total}"))
        }
    };
    if ranges {
        resp = resp.header("Accept-Ranges", "bytes");
    }
    resp
}

/// Answers one request whose head is `raw_head`; any request body is
/// consumed from `buf`/`stream`.
async fn serve_one(
    state: &State,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    raw_head: &[u8],
    peer: SocketAddr,
    conn: u64,
) -> io::Result<Next> {
    let at = Instant::now();
    let mut record = Request {
        at,
        method: String::new(),
        host: String::new(),
        path: String::new(),
        query: None,
        status: 0,
        headers: Vec::new(),
        fault: None,
        conn,
        peer,
    };
    let head = match parse_head(raw_head) {
        Ok(h) => h,
        Err(status) => {
            return finish_early(state, stream, record, Response::text(status)).await;
        }
    };
    record.method = head.method.clone();
    record.host = find_header(&head.headers, "host")
        .map(strip_port)
        .unwrap_or_default();
    record.headers = head.headers.clone();

    let Some((raw_path, query)) = split_target(&head.target) else {
        record.path = head.target.clone();
        return finish_early(state, stream, record, Response::text(400)).await;
    };
    record.query = query.map(str::to_string);
    let Some(path) = percent_decode(raw_path) else {
        record.path = raw_path.to_string();
        return finish_early(state, stream, record, Response::text(400)).await;
    };
    record.path = path.clone();

    if find_header(&head.headers, "transfer-encoding").is_some() {
        return finish_early(state, stream, record, Response::text(501)).await;
    }
    let is_head = head.method == "HEAD";
    if head.method != "GET" && !is_head {
        let resp = Response::text(405).header("Allow", "GET, HEAD");
        return finish_early(state, stream, record, resp).await;
    }
    // A GET/HEAD with a body is odd but legal: skip it to stay in sync.
    let body_len = match find_header(&head.headers, "content-length") {
        None => 0,
        Some(v) => match v.parse::<u64>() {
            Ok(n) => n,
            Err(_) => return finish_early(state, stream, record, Response::text(400)).await,
        },
    };
    discard_body(stream, buf, body_len).await?;

    let keep_alive = if head.http11 {
        !has_token(&head.headers, "connection", "close")
    } else {
        has_token(&head.headers, "connection", "keep-alive")
    };

    let file = match resolve(&state.root, &path) {
        Resolved::File(f) => f,
        Resolved::Forbidden => {
            return finish(
                state,
                stream,
                record,
                Response::text(403),
                keep_alive,
                is_head,
            )
            .await;
        }
        Resolved::Bad => {
            return finish(
                state,
                stream,
                record,
                Response::text(400),
                keep_alive,
                is_head,
            )
            .await;
        }
    };

    let capped = lock(&state.rate_cap).as_mut().is_some_and(|c| !c.allows());
    let fault = capped
        .then_some(Fault::Status(429))
        .or_else(|| state.take_fault(&path))
        .or_else(|| token_fault(state, &path, query, &file))
        .or_else(|| lock(&state.missing).clone().filter(|_| !file.is_file()));
    if let Some(f) = fault.as_ref().filter(|f| f.is_hostile()) {
        record.fault = Some(f.clone());
        return serve_hostile(state, stream, record, f.clone(), &file, keep_alive, is_head).await;
    }
    let mut delay = Duration::ZERO;
    let mut ending = Ending::Normal;
    let resp = match &fault {
        Some(Fault::Status(s)) => Response::text(*s),
        Some(Fault::RetryAfter { status, value }) => {
            Response::text(*status).header("Retry-After", value.clone())
        }
        Some(Fault::Html200) => Response::bytes(
            200,
            "text/html; charset=utf-8",
            ACCESS_DENIED_HTML.as_bytes().to_vec(),
        ),
        Some(Fault::Body(b)) => Response::bytes(200, content_type(&path), b.clone()),
        Some(
            Fault::Redirect { .. } | Fault::Typed { .. } | Fault::Partial | Fault::Endless { .. },
        ) => unreachable!("served above"),
        Some(Fault::Delay(d)) => {
            delay = *d;
            file_response(state, &file, &path, &head).await
        }
        Some(Fault::Reset { after_bytes }) => {
            ending = Ending::Reset(*after_bytes);
            file_response(state, &file, &path, &head).await
        }
        Some(Fault::Truncate { bytes }) => {
            ending = Ending::Truncate(*bytes);
            file_response(state, &file, &path, &head).await
        }
        None => file_response(state, &file, &path, &head).await,
    };
    record.fault = fault;
    record.status = resp.status;
    state.record(record);

    let wait = state.latency() + delay;
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let log = lock(&state.byte_log).is_some().then_some(&state.byte_log);
    write_response_logged(stream, resp, keep_alive, ending, is_head, log).await?;
    Ok(match ending {
        Ending::Reset(_) => Next::Reset,
        Ending::Truncate(_) => Next::Close,
        Ending::Normal if keep_alive => Next::KeepAlive,
        Ending::Normal => Next::Close,
    })
}

/// Records and sends an error response, then closes the connection.
async fn finish_early(
    state: &State,
    stream: &mut TcpStream,
    record: Request,
    resp: Response,
) -> io::Result<Next> {
    finish(state, stream, record, resp, false, false).await
}

async fn finish(
    state: &State,
    stream: &mut TcpStream,
    mut record: Request,
    resp: Response,
    keep_alive: bool,
    is_head: bool,
) -> io::Result<Next> {
    record.status = resp.status;
    state.record(record);
    let latency = state.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    write_response(stream, resp, keep_alive, Ending::Normal, is_head).await?;
    Ok(if keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    })
}

async fn discard_body(stream: &mut TcpStream, buf: &mut Vec<u8>, len: u64) -> io::Result<()> {
    let from_buf = (len.min(buf.len() as u64)) as usize;
    buf.drain(..from_buf);
    let mut left = len - from_buf as u64;
    let mut tmp = [0u8; 8 * 1024];
    while left > 0 {
        let want = left.min(tmp.len() as u64) as usize;
        let n = stream.read(&mut tmp[..want]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= n as u64;
    }
    Ok(())
}

/// Writes status line, headers and (unless `is_head`) the body, cut short
/// per `ending`.
async fn write_response(
    stream: &mut TcpStream,
    resp: Response,
    keep_alive: bool,
    ending: Ending,
    is_head: bool,
) -> io::Result<()> {
    write_response_logged(stream, resp, keep_alive, ending, is_head, None).await
}

/// As `write_response`; a file body's writes go to `log` when given.
async fn write_response_logged(
    stream: &mut TcpStream,
    resp: Response,
    keep_alive: bool,
    ending: Ending,
    is_head: bool,
    log: Option<&ByteLog>,
) -> io::Result<()> {
    let len = resp.len();
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes(),
    );
    out.extend_from_slice(b"Server: snatch-test-server\r\n");
    for (name, value) in &resp.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
    if keep_alive {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    } else {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");

    let send = if is_head {
        0
    } else {
        match ending {
            Ending::Normal => len,
            Ending::Reset(n) | Ending::Truncate(n) => len.min(n as u64),
        }
    };
    match resp.body {
        Body::Bytes(bytes) => {
            out.extend_from_slice(&bytes[..send as usize]);
            stream.write_all(&out).await?;
        }
        Body::File {
            mut file,
            start,
            len: _,
        } => {
            stream.write_all(&out).await?;
            if send > 0 {
                if start > 0 {
                    file.seek(io::SeekFrom::Start(start)).await?;
                }
                let size = if log.is_some() { LOGGED_CHUNK } else { CHUNK };
                let mut chunk = vec![0u8; size.min(send as usize)];
                let mut left = send;
                while left > 0 {
                    let want = left.min(chunk.len() as u64) as usize;
                    let n = file.read(&mut chunk[..want]).await?;
                    if n == 0 {
                        // The file shrank under us; the promised length can't be met.
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    stream.write_all(&chunk[..n]).await?;
                    if let Some(log) = log {
                        if let Some(v) = lock(log).as_mut() {
                            v.push((Instant::now(), n as u64));
                        }
                    }
                    left -= n as u64;
                }
            }
        }
    }
    stream.flush().await
}

/// Sends FIN, then waits (briefly) for the peer to close, so unread request
/// bytes don't turn the close into a reset.
async fn close_gracefully(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4 * 1024];
    let _ = tokio::time::timeout(LINGER_DRAIN, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// Hostile servers: redirects, bodies posing as segments, 206 without a range,
// bodies that never end. Kept apart from the rest so that additions merge.
// ---------------------------------------------------------------------------

/// The most an `Endless` body sends before the server gives up on the client.
pub const ENDLESS_LIMIT: u64 = 320 * 1024 * 1024;

impl Fault {
    fn is_hostile(&self) -> bool {
        matches!(
            self,
            Fault::Redirect { .. } | Fault::Typed { .. } | Fault::Partial | Fault::Endless { .. }
        )
    }
}

async fn serve_hostile(
    state: &State,
    stream: &mut TcpStream,
    record: Request,
    fault: Fault,
    file: &Path,
    keep_alive: bool,
    is_head: bool,
) -> io::Result<Next> {
    let resp = match fault {
        Fault::Redirect { status, location } => Response::text(status).header("Location", location),
        Fault::Typed { content_type, body } => Response::bytes(200, &content_type, body),
        Fault::Partial => {
            let bytes = tokio::fs::read(file).await.unwrap_or_default();
            let half = (bytes.len() / 188 / 2 * 188).max(1).min(bytes.len());
            let range = format!("bytes 0-{}/{}", half.saturating_sub(1), bytes.len());
            Response::bytes(206, "video/mp2t", bytes[..half].to_vec())
                .header("Content-Range", range)
        }
        Fault::Endless { announce } => {
            return serve_endless(state, stream, record, file, announce).await;
        }
        _ => unreachable!("not a hostile fault"),
    };
    finish(state, stream, record, resp, keep_alive, is_head).await
}

/// Sends the file's bytes over and over, then closes.
async fn serve_endless(
    state: &State,
    stream: &mut TcpStream,
    mut record: Request,
    file: &Path,
    announce: Option<u64>,
) -> io::Result<Next> {
    let bytes = tokio::fs::read(file)
        .await
        .unwrap_or_else(|_| vec![0x47; 188]);
    record.status = 200;
    state.record(record);
    let mut head = String::from("HTTP/1.1 200 OK\r\nServer: snatch-test-server\r\n");
    head.push_str("Content-Type: video/mp2t\r\n");
    if let Some(n) = announce {
        head.push_str(&format!("Content-Length: {n}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut sent = 0u64;
    while sent < ENDLESS_LIMIT {
        if stream.write_all(&bytes).await.is_err() {
            break;
        }
        sent += bytes.len() as u64;
    }
    Ok(Next::Close)
}

// ---------------------------------------------------------------------------
// Links that expire (HLS and DASH tests): below a prefix, a playlist's or
// an MPD's `{TOKEN}` is
// served as the current token, segments are served only with the current
// token in their query (`tok=…`; old ones answer 403), and the token
// changes after every `every` segments served (`expire_tokens_slowly`: the
// segments served take a while).
// ---------------------------------------------------------------------------

struct Tokens {
    prefix: String,
    every: u64,
    served: u64,
    /// How long a segment with the current token takes to be answered (a
    /// 403 is at once).
    slow: Duration,
}

impl Tokens {
    fn current(&self) -> String {
        format!("k{}", self.served / self.every)
    }
}

impl TestServer {
    /// Below `prefix`, tokens in links expire after every `every` segments.
    pub fn expire_tokens(&self, prefix: &str, every: u64) {
        *lock(&self.state.tokens) = Some(Tokens {
            prefix: prefix.to_string(),
            every: every.max(1),
            served: 0,
            slow: Duration::ZERO,
        });
    }

    /// As `expire_tokens`, and a segment with the current token is answered
    /// only after `slow`, while an expired one gets its 403 at once: a 403
    /// arrives while segments that were served are still on their way.
    pub fn expire_tokens_slowly(&self, prefix: &str, every: u64, slow: Duration) {
        self.expire_tokens(prefix, every);
        if let Some(t) = lock(&self.state.tokens).as_mut() {
            t.slow = slow;
        }
    }
}

impl TestServer {
    /// The current token expires now.
    pub fn rotate_tokens(&self) {
        if let Some(t) = lock(&self.state.tokens).as_mut() {
            t.served = (t.served / t.every + 1) * t.every;
        }
    }
}

fn token_fault(state: &State, path: &str, query: Option<&str>, file: &Path) -> Option<Fault> {
    let mut tokens = lock(&state.tokens);
    let t = tokens.as_mut().filter(|t| path.starts_with(&t.prefix))?;
    if path.ends_with(".m3u8") || path.ends_with(".mpd") {
        let text = std::fs::read_to_string(file).ok()?;
        return Some(Fault::Body(
            text.replace("{TOKEN}", &t.current()).into_bytes(),
        ));
    }
    let given = query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("tok=")));
    if given != Some(t.current().as_str()) {
        return Some(Fault::Status(403));
    }
    t.served += 1;
    (!t.slow.is_zero()).then_some(Fault::Delay(t.slow))
}
