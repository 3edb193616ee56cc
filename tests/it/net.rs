//! Where a request may lead, through the library's own fetcher: a job on
//! a public host is never sent to an internal address, not by a redirect,
//! not by a URL its playlist names, not by a name that answers otherwise
//! when connecting. Real HTTP from the project's test server on 127.0.0.1
//! and 127.0.0.2; the tests' resolver makes public-looking names lead
//! there, and 127.0.0.2 stands for a public address, so that no test
//! connects anywhere but loopback.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use snatch::common::{RetryPolicy, RunLimits, Secret, Timeouts};
use snatch::net::{is_internal, Ask, FailKind, Fetcher, JobFetch, Scope};
use snatch::net::{Fetched, SegmentFailure, Small, SmallError};
use snatch::plan::source::{target_of, Segment};
use snatch::state::Ledger;
use support::server::{Fault, TestServer};

/// A resolver the test controls: each name's answers, in turn (the last
/// one repeats), as a rebinding DNS would give them. A name it was not
/// given resolves to no address.
struct TestDns {
    answers: HashMap<&'static str, Vec<&'static str>>,
    asked: Mutex<HashMap<String, usize>>,
}

impl TestDns {
    fn new(answers: impl IntoIterator<Item = (&'static str, Vec<&'static str>)>) -> Arc<TestDns> {
        Arc::new(TestDns {
            answers: answers.into_iter().collect(),
            asked: Default::default(),
        })
    }
}

impl Resolve for TestDns {
    fn resolve(&self, name: Name) -> Resolving {
        let mut asked = self.asked.lock().unwrap();
        let times = asked.entry(name.as_str().to_string()).or_default();
        let answers = self.answers.get(name.as_str()).cloned().unwrap_or_default();
        let ip = answers.get(*times).or(answers.last()).copied();
        *times += 1;
        let addrs = ip.map(|ip| SocketAddr::new(ip.parse().unwrap(), 0));
        Box::pin(async move { Ok(Box::new(addrs.into_iter()) as Addrs) })
    }
}

/// A name's first look-up answers a public address (8.8.8.8, looked up
/// only: the job's own host is looked up before any request); every later
/// one is the system's answer.
#[derive(Default)]
struct FirstPublic(Mutex<HashSet<String>>);

impl Resolve for FirstPublic {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let first = self.0.lock().unwrap().insert(host.clone());
        Box::pin(async move {
            if first {
                let public = SocketAddr::from(([8, 8, 8, 8], 0));
                return Ok(Box::new(std::iter::once(public)) as Addrs);
            }
            let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Internal as snatch judges it, except 127.0.0.2, which stands for a
/// public address.
fn internal(ip: IpAddr) -> bool {
    ip != IpAddr::from([127, 0, 0, 2]) && is_internal(ip)
}

/// The "internal" server on 127.0.0.1 and the "public" one on 127.0.0.2,
/// on the same port (a wrong request reaches one of them), both serving
/// `root`.
fn servers(root: &Path) -> (TestServer, TestServer, u16) {
    for _ in 0..20 {
        let inner = TestServer::start_on("127.0.0.1", root, Duration::ZERO);
        let port = inner.addr().port();
        let at = SocketAddr::from(([127, 0, 0, 2], port));
        if let Ok(outer) = TestServer::bind(at, root, Duration::ZERO) {
            return (inner, outer, port);
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

/// One attempt (or `attempts`), no long waits.
fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        attempts,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
    }
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        segment: Duration::from_secs(5),
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Runtime::new().unwrap().block_on(f)
}

/// A small body (as a playlist's or a key's) of a job in `scope`, asked
/// once.
fn small(fetcher: &Fetcher, scope: Scope, url: &str) -> Result<Small, SmallError> {
    let ask = Ask::new("net", &[], policy(1), timeouts(), Arc::new(scope)).unwrap();
    let url = Secret::plain(url);
    block_on(fetcher.fetch_small(&ask, &url, None, 1 << 20, "the segment"))
}

/// A segment of a template job (its URL the job's own), up to three
/// attempts, saved below a folder of its own.
fn segment(fetcher: &Fetcher, url: &str) -> Result<Fetched, SegmentFailure> {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path(), &dir.path().join("state"), "net", false).unwrap();
    let scope = Arc::new(Scope::own_urls(Vec::new()));
    let req = JobFetch::new("net", &[], policy(3), timeouts(), Arc::new(ledger), scope).unwrap();
    let seg = Segment {
        index: 1,
        target: target_of(Secret::plain(url), dir.path()).unwrap(),
        range: None,
        key: None,
    };
    block_on(fetcher.fetch(&req, &seg))
}

#[test]
fn a_guarded_client_never_connects_inward_whatever_dns_says() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(dir.path());
    let port = server.addr().port();
    // A playlist job whose home answered public when the job began: its
    // requests are guarded, and the system's resolver says `localhost` is
    // loopback when connecting.
    let home = format!("http://localhost:{port}/v/index.m3u8");
    let url = format!("http://localhost:{port}/x.ts");
    let guarded =
        Fetcher::new(&RunLimits::default()).with_dns(Arc::new(FirstPublic::default()), is_internal);
    let scope = Scope::playlist(&Secret::plain(&home), Vec::new());
    let e = small(&guarded, scope, &url).unwrap_err().to_string();
    assert!(e.contains("loopback, private or link-local"), "{e}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    // The same request unguarded (a template job's) reaches the server.
    let plain = Fetcher::new(&RunLimits::default());
    let e = small(&plain, Scope::own_urls(Vec::new()), &url).unwrap_err();
    assert!(
        matches!(&e, SmallError::Status { status, .. } if status.as_u16() == 404),
        "{e}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_redirect_from_a_public_job_to_an_internal_address_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let (inner, outer, port) = servers(root.path());
    let to = |server: &TestServer, path: &str, location: String| {
        server.always(
            path,
            Fault::Redirect {
                status: 302,
                location,
            },
        );
    };
    let admin = format!("http://localhost:{port}/admin.ts");
    to(&outer, "/local.ts", admin.clone());
    to(&inner, "/local.ts", admin);
    let meta = "http://169.254.169.254/latest/meta-data/";
    to(&outer, "/meta.ts", meta.into());
    to(
        &outer,
        "/public.ts",
        format!("http://127.0.0.2:{port}/seg.ts"),
    );
    let dns = TestDns::new([
        ("tv.public.example", vec!["127.0.0.2"]),
        ("localhost", vec!["127.0.0.1"]),
    ]);
    let fetcher = Fetcher::new(&RunLimits::default()).with_dns(dns, internal);
    let public = |path: &str| format!("http://tv.public.example:{port}{path}");
    // `/local.ts` first: should the rule break, its hop stays on loopback.
    for path in ["/local.ts", "/meta.ts"] {
        let failed = segment(&fetcher, &public(path)).unwrap_err();
        assert_eq!(failed.kind, FailKind::Redirect, "{failed}");
        assert_eq!(failed.retries, 0, "an inward hop is retried: {failed}");
        assert_eq!(failed.redirects, 0, "{failed}");
        let e = &failed.message;
        assert!(e.contains("loopback, private or link-local"), "{e}");
        assert_eq!(outer.requests_to(path).len(), 1);
    }
    assert!(inner.requests().is_empty(), "{:?}", inner.requests());
    let e = segment(&fetcher, &public("/meta.ts")).unwrap_err().message;
    assert!(e.contains("169.254.169.254"), "{e}");
    // A job on an internal host may.
    let local = format!("http://127.0.0.1:{port}/local.ts");
    let failed = segment(&fetcher, &local).unwrap_err();
    assert_eq!(failed.redirects, 1, "{failed}");
    assert_eq!(inner.requests_to("/admin.ts").len(), 1);
    // A redirect from a public job to a public address is followed.
    let failed = segment(&fetcher, &public("/public.ts")).unwrap_err();
    assert_eq!(failed.redirects, 1, "{failed}");
    assert_eq!(outer.requests_to("/seg.ts").len(), 1);
}

/// A request of a playlist job whose playlist is at `home`, to `url` (a
/// URI its playlist named), through `dns`.
fn named_by_server(home: &str, url: &str, dns: Arc<TestDns>) -> Result<(), String> {
    let fetcher = Fetcher::new(&RunLimits::default()).with_dns(dns, internal);
    let scope = Scope::playlist(&Secret::plain(home), Vec::new());
    small(&fetcher, scope, url)
        .map(drop)
        .map_err(|e| e.to_string())
}

#[test]
fn a_url_a_playlist_names_never_leads_a_public_job_inward() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("v")).unwrap();
    for file in ["seg1.ts", "v/seg1.ts"] {
        std::fs::write(root.path().join(file), b"segment").unwrap();
    }
    let (inner, outer, port) = servers(root.path());
    let dns = |cdn: Vec<&'static str>| {
        TestDns::new([
            ("tv.public.example", vec!["127.0.0.2"]),
            ("cdn.public.example", cdn),
        ])
    };
    let home = format!("http://tv.public.example:{port}/v/index.m3u8");
    // A public-looking name that resolves to an internal address.
    let cdn = format!("http://cdn.public.example:{port}/seg1.ts");
    let e = named_by_server(&home, &cdn, dns(vec!["127.0.0.1"])).unwrap_err();
    assert!(
        e.contains("loopback, private or link-local address, named by the server"),
        "{e}"
    );
    // An address written in the URI.
    let literal = format!("http://127.0.0.1:{port}/seg1.ts");
    let e = named_by_server(&home, &literal, dns(vec![])).unwrap_err();
    assert!(e.contains("named by the server"), "{e}");
    // A name that passes the first look-up and leads inward when
    // connecting (a rebinding DNS) is refused by the guarded client.
    let e = named_by_server(&home, &cdn, dns(vec!["127.0.0.2", "127.0.0.1"])).unwrap_err();
    assert!(e.contains("loopback, private or link-local"), "{e}");
    assert!(!e.contains("named by the server"), "{e}");
    // A URL on the playlist's own origin, whose name answered public
    // when the job began and leads inward now, is refused as well.
    let rebinding = TestDns::new([("tv.public.example", vec!["127.0.0.2", "127.0.0.1"])]);
    let own = format!("http://tv.public.example:{port}/v/seg1.ts");
    let e = named_by_server(&home, &own, rebinding).unwrap_err();
    assert!(e.contains("loopback, private or link-local"), "{e}");
    assert!(inner.requests().is_empty(), "{:?}", inner.requests());
    assert!(outer.requests().is_empty(), "{:?}", outer.requests());
    // A public URL the playlist names is fetched.
    assert_eq!(named_by_server(&home, &cdn, dns(vec!["127.0.0.2"])), Ok(()));
    assert_eq!(outer.requests().len(), 1);
    // A job whose own host is internal (a test server) may go inward.
    let local = format!("http://127.0.0.1:{port}/v/index.m3u8");
    assert_eq!(
        named_by_server(&local, &cdn, dns(vec!["127.0.0.1"])),
        Ok(())
    );
    assert_eq!(inner.requests().len(), 1);
}
