//! Self-test of the test HTTP server in tests/support/server.rs, driven by a
//! raw `std::net::TcpStream` client.

use crate::support;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use support::server::{Fault, TestServer};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A parsed response head plus whatever body could be read.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> usize {
        self.header("content-length")
            .expect("Content-Length header")
            .parse()
            .expect("numeric Content-Length")
    }
}

/// One client connection.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// Sends `METHOD path HTTP/1.1` with a Host header and `extra` header lines.
    fn send(&mut self, method: &str, path: &str, extra: &[&str]) {
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        for line in extra {
            req.push_str(line);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        self.writer.write_all(req.as_bytes()).unwrap();
    }

    fn read_head(&mut self) -> io::Result<Resp> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let mut parts = line.trim_end().splitn(3, ' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"), "status line {line:?}");
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("header line");
            headers.push((name.to_string(), value.trim().to_string()));
        }
        Ok(Resp {
            status,
            headers,
            body: Vec::new(),
        })
    }

    /// Reads a complete response (body of Content-Length bytes unless HEAD).
    fn response(&mut self, head_request: bool) -> Resp {
        let mut resp = self.read_head().expect("response head");
        if !head_request {
            let mut body = vec![0; resp.content_length()];
            self.reader.read_exact(&mut body).expect("full body");
            resp.body = body;
        }
        resp
    }

    fn get(&mut self, path: &str, extra: &[&str]) -> Resp {
        self.send("GET", path, extra);
        self.response(false)
    }

    /// Reads until EOF or error; returns the bytes and the error, if any.
    fn read_rest(&mut self) -> (Vec<u8>, Option<io::Error>) {
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match self.reader.read(&mut buf) {
                Ok(0) => return (got, None),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (got, Some(e)),
            }
        }
    }
}

fn get(server: &TestServer, path: &str) -> Resp {
    Client::connect(server.addr()).get(path, &[])
}

/// Deterministic pseudo-random bytes.
fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A temp root with /seg/000001.ts .. /seg/000003.ts (10 kB each), a playlist
/// and a 3 MB /big.ts.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 1..=3 {
        write(dir.path(), &format!("seg/{i:06}.ts"), &data(10_000, i));
    }
    write(dir.path(), "index.m3u8", b"#EXTM3U\n#EXT-X-ENDLIST\n");
    write(dir.path(), "key.bin", &[7; 16]);
    write(dir.path(), "big.ts", &data(3 * 1024 * 1024 + 17, 99));
    dir
}

#[test]
fn serves_files_with_length_type_and_body() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    assert_eq!(server.url(), format!("http://{}", server.addr()));
    assert!(server.url().starts_with("http://127.0.0.1:"));

    let resp = get(&server, "/seg/000002.ts");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_length(), 10_000);
    assert_eq!(resp.header("content-type"), Some("video/mp2t"));
    assert_eq!(resp.body, data(10_000, 2));

    let resp = get(&server, "/index.m3u8");
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(resp.body, b"#EXTM3U\n#EXT-X-ENDLIST\n");

    let resp = get(&server, "/key.bin");
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(resp.body, [7; 16]);
}

#[test]
fn streams_a_file_bigger_than_the_chunk_size() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let resp = get(&server, "/big.ts");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_length(), 3 * 1024 * 1024 + 17);
    assert!(resp.body == data(3 * 1024 * 1024 + 17, 99), "body differs");
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let mut client = Client::connect(server.addr());

    let first = client.get("/seg/000001.ts", &[]);
    let second = client.get("/seg/000002.ts", &[]);
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(first.body, data(10_000, 1));
    assert_eq!(second.body, data(10_000, 2));

    // Pipelined: both requests written before reading either response.
    client.send("GET", "/seg/000003.ts", &[]);
    client.send("GET", "/seg/000001.ts", &[]);
    assert_eq!(client.response(false).body, data(10_000, 3));
    assert_eq!(client.response(false).body, data(10_000, 1));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 4);
    assert!(
        reqs.iter().all(|r| r.conn == reqs[0].conn),
        "all on one connection: {reqs:?}"
    );

    // `Connection: close` is honoured: answered, then the server closes.
    let last = client.get("/seg/000002.ts", &["Connection: close"]);
    assert_eq!(last.status, 200);
    assert_eq!(last.header("connection"), Some("close"));
    let (rest, err) = client.read_rest();
    assert!(rest.is_empty() && err.is_none(), "expected clean EOF");

    // A new connection gets a different connection number.
    get(&server, "/seg/000001.ts");
    let reqs = server.requests();
    assert_ne!(reqs.last().unwrap().conn, reqs[0].conn);
}

#[test]
fn http10_closes_unless_keep_alive_requested() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let mut client = Client::connect(server.addr());
    client
        .writer
        .write_all(b"GET /seg/000001.ts HTTP/1.0\r\n\r\n")
        .unwrap();
    let resp = client.response(false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 10_000);
    let (rest, err) = client.read_rest();
    assert!(rest.is_empty() && err.is_none(), "expected clean EOF");
}

#[test]
fn request_arriving_byte_by_byte() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let mut client = Client::connect(server.addr());
    client.writer.set_nodelay(true).unwrap();
    let req = b"\r\nGET /seg/000001.ts HTTP/1.1\r\nHost: slow.test\r\n\r\n";
    for byte in req {
        client.writer.write_all(std::slice::from_ref(byte)).unwrap();
    }
    let resp = client.response(false);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, data(10_000, 1));
    assert_eq!(server.requests()[0].host, "slow.test");
}

#[test]
fn head_sends_length_but_no_body() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let mut client = Client::connect(server.addr());
    client.send("HEAD", "/seg/000001.ts", &[]);
    let head = client.response(true);
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), 10_000);
    assert_eq!(head.header("content-type"), Some("video/mp2t"));
    // If HEAD had sent a body, this response would be garbled.
    let resp = client.get("/seg/000002.ts", &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, data(10_000, 2));
    let methods: Vec<String> = server.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["HEAD", "GET"]);
}

#[test]
fn missing_file_and_directory_are_404() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let mut client = Client::connect(server.addr());
    let resp = client.get("/seg/999999.ts", &[]);
    assert_eq!(resp.status, 404);
    assert_eq!(resp.body.len(), resp.content_length());
    assert_eq!(client.get("/seg", &[]).status, 404);
    // The connection survives a 404.
    assert_eq!(client.get("/seg/000001.ts", &[]).status, 200);
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [404, 404, 200]);
}

#[test]
fn dot_dot_is_rejected_with_403() {
    let outer = tempfile::tempdir().unwrap();
    write(outer.path(), "secret.txt", b"top secret");
    write(outer.path(), "root/seg/000001.ts", b"segment");
    let server = TestServer::start(outer.path().join("root"));
    for path in [
        "/../secret.txt",
        "/seg/../../secret.txt",
        "/seg/%2e%2e/%2E%2E/secret.txt",
        "/seg/..%2F..%2Fsecret.txt",
    ] {
        let resp = get(&server, path);
        assert_eq!(resp.status, 403, "{path}");
        assert!(
            !String::from_utf8_lossy(&resp.body).contains("top secret"),
            "{path}"
        );
    }
    assert_eq!(get(&server, "/seg/./000001.ts").body, b"segment");
}

#[test]
fn paths_are_url_decoded_and_query_is_split_off() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a b/ü.ts", b"decoded");
    let server = TestServer::start(dir.path());
    let resp = get(&server, "/a%20b/%C3%BC.ts?token=abc&x=1");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"decoded");
    let req = &server.requests_to("/a b/ü.ts")[0];
    assert_eq!(req.path, "/a b/ü.ts");
    assert_eq!(req.query.as_deref(), Some("token=abc&x=1"));
    assert_eq!(get(&server, "/bad%zz.ts").status, 400);
}

#[test]
fn fault_status_is_scripted_in_order_then_served_normally() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    server.script(
        "/seg/000001.ts",
        [Fault::Status(503), Fault::Status(404), Fault::Status(500)],
    );
    let mut client = Client::connect(server.addr());
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let resp = client.get("/seg/000001.ts", &[]);
        assert_eq!(resp.body.len(), resp.content_length());
        statuses.push(resp.status);
        if resp.status != 200 {
            assert!(resp
                .header("content-type")
                .unwrap()
                .starts_with("text/plain"));
            assert!(!resp.body.is_empty());
        } else {
            assert_eq!(resp.body, data(10_000, 1));
        }
    }
    assert_eq!(statuses, [503, 404, 500, 200]);
    // Other paths are unaffected.
    assert_eq!(client.get("/seg/000002.ts", &[]).status, 200);

    let faults: Vec<Option<Fault>> = server
        .requests_to("/seg/000001.ts")
        .into_iter()
        .map(|r| r.fault)
        .collect();
    assert_eq!(
        faults,
        [
            Some(Fault::Status(503)),
            Some(Fault::Status(404)),
            Some(Fault::Status(500)),
            None
        ]
    );
}

#[test]
fn fault_always_applies_forever() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    server.always("/seg/000002.ts", Fault::Status(403));
    for _ in 0..5 {
        assert_eq!(get(&server, "/seg/000002.ts").status, 403);
    }
    // Scripted faults take precedence while they last.
    server.script("/seg/000002.ts", [Fault::Status(500)]);
    assert_eq!(get(&server, "/seg/000002.ts").status, 500);
    assert_eq!(get(&server, "/seg/000002.ts").status, 403);
    server.clear_faults();
    assert_eq!(get(&server, "/seg/000002.ts").status, 200);
}

#[test]
fn fault_retry_after_sends_header() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let date = "Wed, 21 Oct 2015 07:28:00 GMT";
    server.script(
        "/seg/000001.ts",
        [
            Fault::RetryAfter {
                status: 429,
                value: "7".into(),
            },
            Fault::RetryAfter {
                status: 503,
                value: date.into(),
            },
        ],
    );
    let mut client = Client::connect(server.addr());
    let first = client.get("/seg/000001.ts", &[]);
    assert_eq!(first.status, 429);
    assert_eq!(first.header("retry-after"), Some("7"));
    let second = client.get("/seg/000001.ts", &[]);
    assert_eq!(second.status, 503);
    assert_eq!(second.header("retry-after"), Some(date));
    let third = client.get("/seg/000001.ts", &[]);
    assert_eq!(third.status, 200);
    assert_eq!(third.header("retry-after"), None);
}

#[test]
fn fault_delay_waits_then_serves_normally() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let delay = Duration::from_millis(300);
    server.script("/seg/000001.ts", [Fault::Delay(delay)]);
    let start = Instant::now();
    let resp = get(&server, "/seg/000001.ts");
    assert!(
        start.elapsed() >= delay,
        "answered after {:?}",
        start.elapsed()
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, data(10_000, 1));
    assert_eq!(
        server.requests()[0].fault,
        Some(Fault::Delay(delay)),
        "fault recorded"
    );
}

#[test]
fn fault_reset_sends_headers_and_some_bytes_then_resets() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    server.script("/big.ts", [Fault::Reset { after_bytes: 1000 }]);
    let mut client = Client::connect(server.addr());
    client.send("GET", "/big.ts", &[]);
    let head = client.read_head().expect("headers arrive before the reset");
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), 3 * 1024 * 1024 + 17, "full length");
    let (body, err) = client.read_rest();
    assert!(body.len() <= 1000, "got {} body bytes", body.len());
    assert_eq!(body, data(3 * 1024 * 1024 + 17, 99)[..body.len()]);
    match err {
        Some(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
        // Some platforms may report the reset as EOF; then the read is short.
        None => assert!(body.len() < head.content_length()),
    }
    // The next request (new connection) is served normally.
    assert_eq!(get(&server, "/big.ts").status, 200);
}

#[test]
fn fault_truncate_sends_partial_body_then_clean_eof() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    server.script("/seg/000003.ts", [Fault::Truncate { bytes: 1234 }]);
    let mut client = Client::connect(server.addr());
    client.send("GET", "/seg/000003.ts", &[]);
    let head = client.read_head().unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), 10_000);
    let (body, err) = client.read_rest();
    assert!(err.is_none(), "clean close expected, got {err:?}");
    assert_eq!(body.len(), 1234);
    assert_eq!(body, data(10_000, 3)[..1234]);
    assert_eq!(get(&server, "/seg/000003.ts").body.len(), 10_000);
}

#[test]
fn fault_html200_and_body() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    server.script(
        "/seg/000001.ts",
        [
            Fault::Html200,
            Fault::Body(b"garbage, not MPEG-TS".to_vec()),
        ],
    );
    let mut client = Client::connect(server.addr());
    let html = client.get("/seg/000001.ts", &[]);
    assert_eq!(html.status, 200);
    assert!(html
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(String::from_utf8_lossy(&html.body).contains("Access denied"));

    let body = client.get("/seg/000001.ts", &[]);
    assert_eq!(body.status, 200);
    assert_eq!(body.header("content-type"), Some("video/mp2t"));
    assert_eq!(body.body, b"garbage, not MPEG-TS");

    assert_eq!(client.get("/seg/000001.ts", &[]).body, data(10_000, 1));
}

#[test]
fn latency_delays_every_response() {
    let dir = fixture();
    let latency = Duration::from_millis(200);
    let server = TestServer::with_latency(dir.path(), latency);
    let mut client = Client::connect(server.addr());
    for path in ["/seg/000001.ts", "/missing.ts"] {
        let start = Instant::now();
        client.get(path, &[]);
        assert!(
            start.elapsed() >= latency,
            "{path} answered after {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn start_on_other_loopback_address() {
    let dir = fixture();
    let latency = Duration::from_millis(50);
    let server = TestServer::start_on("127.0.0.2", dir.path(), latency);
    assert_eq!(server.addr().ip().to_string(), "127.0.0.2");
    assert!(server.url().starts_with("http://127.0.0.2:"));
    let start = Instant::now();
    let resp = get(&server, "/seg/000001.ts");
    assert!(start.elapsed() >= latency);
    assert_eq!(resp.status, 200);
}

#[test]
fn requests_are_recorded_with_host_and_headers() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let before = Instant::now();
    let mut client = Client::connect(server.addr());
    client
        .writer
        .write_all(
            b"GET /seg/000001.ts?sig=1 HTTP/1.1\r\nHost: cdn.example.test:8443\r\n\
              Referer: https://site.example/watch\r\nCookie: session=abc\r\n\r\n",
        )
        .unwrap();
    assert_eq!(client.response(false).status, 200);
    client.get("/nope.ts", &["User-Agent: selftest"]);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let r = &reqs[0];
    assert!(r.at >= before && r.at <= reqs[1].at);
    assert_eq!(r.method, "GET");
    assert_eq!(r.host, "cdn.example.test");
    assert_eq!(r.path, "/seg/000001.ts");
    assert_eq!(r.query.as_deref(), Some("sig=1"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("referer"), Some("https://site.example/watch"));
    assert_eq!(r.header("COOKIE"), Some("session=abc"));
    assert!(r
        .headers
        .contains(&("Cookie".to_string(), "session=abc".to_string())));
    assert_eq!(r.fault, None);
    assert_eq!(reqs[1].host, "localhost");
    assert_eq!(reqs[1].status, 404);
    assert_eq!(reqs[1].header("user-agent"), Some("selftest"));

    assert_eq!(server.requests_to("/nope.ts").len(), 1);
    assert_eq!(server.requests_to("seg/000001.ts").len(), 1);
    server.clear_requests();
    assert!(server.requests().is_empty());
    client.get("/seg/000002.ts", &[]);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn single_byte_ranges() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let full = data(10_000, 1);
    let mut client = Client::connect(server.addr());

    let resp = client.get("/seg/000001.ts", &["Range: bytes=100-199"]);
    assert_eq!(resp.status, 206);
    assert_eq!(resp.header("content-range"), Some("bytes 100-199/10000"));
    assert_eq!(resp.body, full[100..200]);

    let resp = client.get("/seg/000001.ts", &["Range: bytes=9000-"]);
    assert_eq!(resp.status, 206);
    assert_eq!(resp.body, full[9000..]);

    let resp = client.get("/seg/000001.ts", &["Range: bytes=-10"]);
    assert_eq!(resp.body, full[9990..]);

    let resp = client.get("/seg/000001.ts", &["Range: bytes=10000-"]);
    assert_eq!(resp.status, 416);
    assert_eq!(resp.header("content-range"), Some("bytes */10000"));

    server.set_range_support(false);
    let resp = client.get("/seg/000001.ts", &["Range: bytes=100-199"]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("accept-ranges"), None);
    assert_eq!(resp.body, full);
}

#[test]
fn unsupported_method_and_malformed_requests() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let mut client = Client::connect(server.addr());
    client.send("POST", "/seg/000001.ts", &["Content-Length: 0"]);
    let resp = client.response(false);
    assert_eq!(resp.status, 405);
    assert_eq!(resp.header("allow"), Some("GET, HEAD"));

    let mut client = Client::connect(server.addr());
    client.writer.write_all(b"NONSENSE\r\n\r\n").unwrap();
    assert_eq!(client.response(false).status, 400);
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [405, 400]);
}

#[test]
fn concurrent_clients() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let addr = server.addr();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            std::thread::spawn(move || {
                let mut client = Client::connect(addr);
                for i in 0..5u32 {
                    let n = (t + i) % 3 + 1;
                    let resp = client.get(&format!("/seg/{n:06}.ts"), &[]);
                    assert_eq!(resp.body, data(10_000, n));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(server.requests().len(), 30);
}

#[test]
fn drop_shuts_down_and_closes_connections() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    let mut client = Client::connect(server.addr());
    assert_eq!(client.get("/seg/000001.ts", &[]).status, 200);
    drop(server);
    let (rest, err) = client.read_rest();
    assert!(rest.is_empty(), "no data after shutdown");
    if let Some(e) = err {
        let timed_out = matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        );
        assert!(!timed_out, "connection was not closed by the shutdown");
    }
}

// ---- Hostile-server answers ----

#[test]
fn fault_redirect_typed_and_partial() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    server.script(
        "/seg/000001.ts",
        [
            Fault::Redirect {
                status: 307,
                location: "/seg/000002.ts".into(),
            },
            Fault::Typed {
                content_type: "video/mp2t".into(),
                body: b"<html>no</html>".to_vec(),
            },
            Fault::Partial,
        ],
    );
    let mut client = Client::connect(server.addr());
    let moved = client.get("/seg/000001.ts", &[]);
    assert_eq!(moved.status, 307);
    assert_eq!(moved.header("location"), Some("/seg/000002.ts"));

    let typed = client.get("/seg/000001.ts", &[]);
    assert_eq!(typed.header("content-type"), Some("video/mp2t"));
    assert_eq!(typed.body, b"<html>no</html>");

    // Half the file's 188-byte packets, though no range was asked.
    let half = client.get("/seg/000001.ts", &[]);
    assert_eq!(half.status, 206);
    let len = 10_000 / 188 / 2 * 188;
    assert_eq!(half.body, data(10_000, 1)[..len]);
    let range = format!("bytes 0-{}/10000", len - 1);
    assert_eq!(half.header("content-range"), Some(range.as_str()));
}

#[test]
fn fault_endless_streams_the_file_until_the_client_goes() {
    let dir = fixture();
    let server = TestServer::start(dir.path());
    server.script(
        "/seg/000001.ts",
        [
            Fault::Endless { announce: None },
            Fault::Endless {
                announce: Some(1 << 40),
            },
        ],
    );
    for announce in [None, Some("1099511627776")] {
        let mut client = Client::connect(server.addr());
        client.send("GET", "/seg/000001.ts", &[]);
        let head = client.read_head().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-length"), announce);
        assert_eq!(head.header("connection"), Some("close"));
        // Far more than the file, and still coming: the file over and over.
        let mut body = vec![0u8; 35_000];
        client.reader.read_exact(&mut body).unwrap();
        assert_eq!(body, data(10_000, 1).repeat(4)[..35_000]);
    }
    assert_eq!(server.requests_to("/seg/000001.ts").len(), 2);
}
