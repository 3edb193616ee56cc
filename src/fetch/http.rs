//! One GET of a segment, with redirects followed by snatch rather than by
//! the HTTP library, so that every hop is under the run's rules:
//! - at most [`MAX_REDIRECTS`] hops, `http`/`https` only;
//! - each hop takes its host's slot and rate token (through the limiter);
//! - the job's own headers, its `Referer` included, are sent as written;
//! - on a hop to another origin (scheme, host, port), headers whose values
//!   came from `${…}`, and `Cookie`/`Authorization`, are dropped for the
//!   rest of the chain;
//! - a hop to a loopback, private or link-local address (by what the name
//!   resolves to) is refused, unless the job's own host is one.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, COOKIE, LOCATION, PROXY_AUTHORIZATION,
};
use reqwest::{StatusCode, Url};
use tokio::time::Instant;

use super::outcome::{describe, status_text, timed_out, Attempt, FailKind};
use super::segment::JobFetch;
use super::{Fetcher, Slot};
use crate::manifest::env::Secret;
use crate::manifest::Timeouts;

/// The most redirect hops one request follows.
pub const MAX_REDIRECTS: u32 = 10;

/// What is left of the segment timeout: it counts time spent with a
/// request in flight, not time spent waiting for the limits.
pub(super) struct Budget {
    left: Duration,
}

impl Budget {
    pub fn new(total: Duration) -> Budget {
        Budget { left: total }
    }

    /// Runs `f` against what is left; `None` when the time ran out.
    pub async fn run<T>(&mut self, f: impl std::future::Future<Output = T>) -> Option<T> {
        let started = Instant::now();
        let out = tokio::time::timeout(self.left, f).await.ok();
        self.left = self.left.saturating_sub(started.elapsed());
        out
    }
}

/// The final answer of a chain of hops, with the slot it still holds.
pub(super) struct Answer {
    pub resp: reqwest::Response,
    pub slot: Slot,
    /// The host that answered (for a `Retry-After` pause).
    pub host: String,
    /// Where the answer came from, fit for messages.
    pub shown: String,
    /// The job's headers as sent to the host that answered (a redirect to
    /// another origin drops some), for messages.
    pub sent: HeaderMap,
}

/// What a request carries whatever it fetches: the job's headers and
/// timeouts (a segment's [`JobFetch`], a playlist's or key's `Ask`).
#[derive(Clone, Copy)]
pub(super) struct Asking<'a> {
    pub headers: &'a HeaderMap,
    pub timeout: Timeouts,
}

impl<'a> From<&'a JobFetch> for Asking<'a> {
    fn from(req: &'a JobFetch) -> Asking<'a> {
        Asking {
            headers: &req.headers,
            timeout: req.timeout,
        }
    }
}

/// A chain of hops in progress.
struct Chain<'a> {
    job_url: &'a Secret,
    first: Url,
    current: Url,
    headers: HeaderMap,
    /// Whether the job's own host resolves to an internal address; looked
    /// up at the first redirect.
    job_internal: Option<bool>,
}

/// Why a redirect is not followed. The request's outcome is an
/// [`Attempt`] (whose reason is text); [`HopError::into_attempt`] decides by
/// the variant whether it is worth retrying.
#[derive(Debug, thiserror::Error)]
enum HopError {
    #[error("HTTP {status} from {shown} without a Location")]
    NoLocation { status: String, shown: String },
    #[error("HTTP {status} from {shown} to a Location that is not a URL ({reason})")]
    BadLocation {
        status: String,
        shown: String,
        reason: String,
    },
    #[error("HTTP {status} from {shown} to a `{scheme}:` URL; only http and https are followed")]
    Scheme {
        status: String,
        shown: String,
        scheme: String,
    },
    #[error(
        "HTTP {status} from {shown} to {target}, a loopback, private or link-local \
         address; a job on a public host is never sent there"
    )]
    Inward {
        status: String,
        shown: String,
        target: String,
    },
    /// The name the hop leads to did not resolve: perhaps for now.
    #[error("a redirect from {shown} leads to a host that {error}")]
    Unresolved { shown: String, error: LookupError },
    #[error(
        "more than {MAX_REDIRECTS} redirects, the last from {shown}: \
         check the job's URL, or the server redirects in a loop"
    )]
    TooMany { shown: String },
}

impl HopError {
    fn into_attempt(self) -> Attempt {
        match self {
            HopError::Unresolved { .. } => Attempt::retry(self.to_string()),
            refused => Attempt::Fatal {
                kind: FailKind::Redirect,
                reason: refused.to_string(),
            },
        }
    }
}

/// Why a host's addresses are not known.
#[derive(Debug, thiserror::Error)]
enum LookupError {
    #[error("cannot be resolved ({0})")]
    Failed(std::io::Error),
    #[error("resolves to no address")]
    NoAddress,
}

impl Fetcher {
    /// Sends the GET for `url`, following redirects; every hop counts in
    /// `redirects`, also when the chain then fails.
    pub(super) async fn request(
        &self,
        ask: Asking<'_>,
        url: &Secret,
        range: Option<String>,
        budget: &mut Budget,
        redirects: &mut u32,
    ) -> Result<Answer, Attempt> {
        let req = ask;
        let first = Url::parse(url.expose()).map_err(|e| Attempt::Fatal {
            kind: FailKind::Invalid,
            reason: format!("`{}` is not a valid URL: {e}", url.shown()),
        })?;
        let mut chain = Chain {
            job_url: url,
            current: first.clone(),
            first,
            headers: req.headers.clone(),
            job_internal: None,
        };
        let mut shown = url.shown().to_string();
        let mut hops = 0u32;
        loop {
            let host = host_of(&chain.current);
            let slot = self.limiter.acquire(Some(&host)).await;
            // Once a public job is redirected, names are also checked when
            // connecting, so that a second answer of the DNS cannot lead
            // inward after the first passed the check.
            let guarded = chain.job_internal == Some(false);
            let client = self
                .client(req.timeout.connect, guarded, &chain.current)
                .map_err(|reason| Attempt::Fatal {
                    kind: FailKind::Invalid,
                    reason: format!("{shown}: {reason}"),
                })?;
            let mut get = client
                .get(chain.current.clone())
                .headers(chain.headers.clone());
            if let Some(r) = &range {
                get = get.header(reqwest::header::RANGE, r.as_str());
            }
            let send = get.send();
            let resp = match budget.run(send).await {
                None => return Err(timed_out(req.timeout.segment)),
                Some(Err(e)) => {
                    return Err(Attempt::retry(format!(
                        "request to {shown} failed: {}",
                        describe(e)
                    )))
                }
                Some(Ok(r)) => r,
            };
            if !is_redirect(resp.status()) {
                return Ok(Answer {
                    resp,
                    slot,
                    host,
                    shown,
                    sent: chain.headers,
                });
            }
            let status = resp.status();
            let location = resp.headers().get(LOCATION).cloned();
            // Read a small body to its end, so that the connection is reused.
            budget.run(drain(resp)).await;
            drop(slot);
            if hops >= MAX_REDIRECTS {
                return Err(HopError::TooMany { shown }.into_attempt());
            }
            let next = chain
                .next_hop(status, location, &shown)
                .await
                .map_err(HopError::into_attempt)?;
            hops += 1;
            *redirects += 1;
            shown = shown_hop(&next, url, &chain.first);
            chain.current = next;
        }
    }
}

impl Chain<'_> {
    /// Where a redirect leads, once every rule allows the hop; the headers
    /// of the hop are set.
    async fn next_hop(
        &mut self,
        status: StatusCode,
        location: Option<HeaderValue>,
        shown: &str,
    ) -> Result<Url, HopError> {
        let status = status_text(status);
        let shown = shown.to_string();
        let Some(location) = location.as_ref().and_then(|v| v.to_str().ok()) else {
            return Err(HopError::NoLocation { status, shown });
        };
        let next = match self.current.join(location) {
            Ok(next) => next,
            Err(e) => {
                let reason = e.to_string();
                return Err(HopError::BadLocation {
                    status,
                    shown,
                    reason,
                });
            }
        };
        if !matches!(next.scheme(), "http" | "https") {
            let scheme = next.scheme().to_string();
            return Err(HopError::Scheme {
                status,
                shown,
                scheme,
            });
        }
        if self.job_internal.is_none() {
            self.job_internal = Some(resolves_internal(&self.first).await.unwrap_or(false));
        }
        let target_internal = match resolves_internal(&next).await {
            Ok(internal) => internal,
            Err(error) => return Err(HopError::Unresolved { shown, error }),
        };
        if !hop_allowed(self.job_internal == Some(true), target_internal) {
            let target = shown_hop(&next, self.job_url, &self.first);
            return Err(HopError::Inward {
                status,
                shown,
                target,
            });
        }
        if next.origin() != self.first.origin() {
            strip_credentials(&mut self.headers);
        }
        Ok(next)
    }
}

/// Reads what is left of a redirect's body, up to 64 KiB.
async fn drain(mut resp: reqwest::Response) {
    let mut left = 64 * 1024usize;
    while let Ok(Some(chunk)) = resp.chunk().await {
        left = left.saturating_sub(chunk.len());
        if left == 0 {
            return;
        }
    }
}

/// The statuses that redirect a GET.
fn is_redirect(s: StatusCode) -> bool {
    matches!(s.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// A URL's host as the limiter keys it: lower case, no port, no brackets.
pub(super) fn host_of(url: &Url) -> String {
    url.host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// Drops what must not leave the job's own origin: every header whose
/// value came from `${…}` (marked sensitive), and `Cookie`,
/// `Authorization` and `Proxy-Authorization` whatever their source.
pub(super) fn strip_credentials(headers: &mut HeaderMap) {
    for name in [COOKIE, AUTHORIZATION, PROXY_AUTHORIZATION] {
        headers.remove(name);
    }
    let secret: Vec<_> = headers
        .iter()
        .filter(|(_, v)| v.is_sensitive())
        .map(|(n, _)| n.clone())
        .collect();
    for name in secret {
        headers.remove(name);
    }
}

/// A hop's URL for messages: no query, no user info; when the job's URL
/// holds a secret, only the scheme and host (a host from a secret masked).
fn shown_hop(next: &Url, job: &Secret, job_url: &Url) -> String {
    let host = next.host_str().unwrap_or("");
    let job_host = job_url.host_str().unwrap_or("");
    let host = if host == job_host && !job.shown().contains(job_host) {
        "***"
    } else {
        host
    };
    let port = next.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = if job.is_secret() { "/…" } else { next.path() };
    format!("{}://{host}{port}{path}", next.scheme())
}

/// Whether a redirect may go to a target: always from a job whose own host
/// is internal (a test or intranet server), else only to public addresses.
pub fn hop_allowed(job_internal: bool, target_internal: bool) -> bool {
    job_internal || !target_internal
}

/// A resolver that refuses a name when any of its addresses is internal:
/// the client of a public job's redirect hops uses it. (An IP address in
/// the URL is not resolved; [`resolves_internal`] judges it before the hop.)
pub(super) struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| is_internal(a.ip())) {
                let e = format!("{host} resolves to a loopback, private or link-local address");
                return Err(e.into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether any address the URL's host resolves to is internal.
async fn resolves_internal(url: &Url) -> Result<bool, LookupError> {
    let host = host_of(url);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(is_internal(ip));
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(LookupError::Failed)?;
    let mut any = false;
    for a in addrs {
        if is_internal(a.ip()) {
            return Ok(true);
        }
        any = true;
    }
    if any {
        Ok(false)
    } else {
        Err(LookupError::NoAddress)
    }
}

/// Loopback, private, link-local, unspecified, shared (CGNAT) or broadcast
/// addresses, IPv6 unique-local ones, and IPv4 ones mapped into IPv6.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
#[path = "../../tests/support/server.rs"]
mod server;

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::REFERER;

    #[test]
    fn a_guarded_client_never_connects_inward_whatever_dns_says() {
        let dir = tempfile::tempdir().unwrap();
        let server = super::server::TestServer::start(dir.path());
        let fetcher = Fetcher::new(&crate::manifest::RunLimits::default());
        let url = Url::parse(&format!("http://localhost:{}/x.ts", server.addr().port())).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let get = |guarded: bool| {
            let client = fetcher.client(Duration::from_secs(5), guarded, &url);
            rt.block_on(client.unwrap().get(url.clone()).send())
        };
        let e = describe(get(true).unwrap_err());
        assert!(e.contains("loopback, private or link-local"), "{e}");
        assert!(server.requests().is_empty());
        // The same request from an unguarded client reaches the server.
        assert_eq!(get(false).unwrap().status(), 404);
    }

    /// A chain from `job` whose own host counts as public or internal, as
    /// the job's DNS would say (not something a test can arrange offline).
    fn chain(job: &Secret, internal: bool) -> Chain<'_> {
        let first = Url::parse(job.expose()).unwrap();
        Chain {
            job_url: job,
            current: first.clone(),
            first,
            headers: HeaderMap::new(),
            job_internal: Some(internal),
        }
    }

    #[test]
    fn a_redirect_from_a_public_job_to_an_internal_address_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let server = super::server::TestServer::start(dir.path());
        let to = |path: &str, location: &str| {
            let fault = super::server::Fault::Redirect {
                status: 302,
                location: location.into(),
            };
            server.always(path, fault);
        };
        to("/meta.ts", "http://169.254.169.254/latest/meta-data/");
        to("/local.ts", "http://localhost:8080/admin");
        to("/public.ts", "https://8.8.8.8/seg.ts");
        let fetcher = Fetcher::new(&crate::manifest::RunLimits::default());
        let rt = tokio::runtime::Runtime::new().unwrap();
        let hop = |path: &str, internal: bool| {
            let job = Secret::plain(format!("{}{path}", server.url()));
            let url = Url::parse(job.expose()).unwrap();
            let client = fetcher.client(Duration::from_secs(5), false, &url).unwrap();
            rt.block_on(async {
                let resp = client.get(job.expose()).send().await.unwrap();
                assert_eq!(resp.status(), 302);
                let location = resp.headers().get(LOCATION).cloned();
                let mut chain = chain(&job, internal);
                match chain
                    .next_hop(resp.status(), location, "the job's URL")
                    .await
                {
                    Ok(url) => Ok(url.to_string()),
                    Err(e @ HopError::Inward { .. }) => match e.into_attempt() {
                        Attempt::Fatal { kind, reason } => {
                            assert_eq!(kind, FailKind::Redirect);
                            Err(reason)
                        }
                        _ => panic!("an inward hop is retried"),
                    },
                    Err(e) => panic!("neither followed nor refused inward: {e}"),
                }
            })
        };
        for path in ["/meta.ts", "/local.ts"] {
            let e = hop(path, false).unwrap_err();
            assert!(e.contains("loopback, private or link-local"), "{e}");
            assert!(hop(path, true).is_ok(), "a job on an internal host may");
        }
        assert!(hop("/meta.ts", false)
            .unwrap_err()
            .contains("169.254.169.254"));
        assert_eq!(hop("/public.ts", false).unwrap(), "https://8.8.8.8/seg.ts");
    }

    // Only a name that did not resolve is worth another attempt.
    #[test]
    fn an_unresolved_hop_is_retried_a_refused_one_is_not() {
        let shown = || "the job's URL".to_string();
        let unresolved = HopError::Unresolved {
            shown: shown(),
            error: LookupError::NoAddress,
        };
        match unresolved.into_attempt() {
            Attempt::Retry { reason, .. } => assert_eq!(
                reason,
                "a redirect from the job's URL leads to a host that resolves to no address"
            ),
            _ => panic!("not retried"),
        }
        let scheme = HopError::Scheme {
            status: "302 Found".into(),
            shown: shown(),
            scheme: "file".into(),
        };
        assert!(matches!(
            scheme.into_attempt(),
            Attempt::Fatal {
                kind: FailKind::Redirect,
                ..
            }
        ));
    }

    #[test]
    fn internal_addresses() {
        for a in [
            "127.0.0.1",
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_internal(a.parse().unwrap()), "{a}");
        }
        for a in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn a_public_job_never_hops_inward() {
        assert!(!hop_allowed(false, true), "public -> internal is refused");
        assert!(hop_allowed(false, false));
        assert!(hop_allowed(true, true), "a job on a test server may");
        assert!(hop_allowed(true, false));
    }

    #[tokio::test]
    async fn addresses_are_judged_by_what_the_name_resolves_to() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(resolves_internal(&u("http://169.254.169.254/latest/"))
            .await
            .unwrap());
        assert!(resolves_internal(&u("http://[::1]:8080/")).await.unwrap());
        assert!(resolves_internal(&u("http://localhost/")).await.unwrap());
        assert!(!resolves_internal(&u("https://8.8.8.8/")).await.unwrap());
    }

    #[test]
    fn credentials_stay_on_their_origin() {
        let mut h = HeaderMap::new();
        h.insert(REFERER, HeaderValue::from_static("https://tv.example/v/1"));
        h.insert(COOKIE, HeaderValue::from_static("sid=1"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        let mut key = HeaderValue::from_static("k");
        key.set_sensitive(true);
        h.insert("x-api-key", key);
        h.insert("x-plain", HeaderValue::from_static("p"));
        strip_credentials(&mut h);
        let names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["referer", "x-plain"]);
    }

    #[test]
    fn hops_are_shown_without_query_or_secret() {
        let job = Secret::plain("https://cdn.example/a/1.ts");
        let first = Url::parse(job.expose()).unwrap();
        let next = Url::parse("https://u:p@edge.example:8443/b/1.ts?token=abc").unwrap();
        assert_eq!(
            shown_hop(&next, &job, &first),
            "https://edge.example:8443/b/1.ts"
        );
    }
}
