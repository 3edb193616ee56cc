//! One GET of a segment, with redirects followed by snatch rather than by
//! the HTTP library, so that every hop is under the run's rules:
//! - at most [`MAX_REDIRECTS`] hops, `http`/`https` only;
//! - each hop takes its host's slot and rate token (through the limiter);
//! - the job's own headers, its `Referer` included, are sent as written,
//!   but its secrets only where [`Scope::secrets_go_to`] says: once a hop
//!   leaves the job's origins they are dropped for the rest of the chain;
//! - a URL a server named (a playlist's URI, a redirect) that leads to an
//!   internal address (by what the name resolves to, also at connect time)
//!   is refused, unless the job's own host is internal too.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, LOCATION};
use reqwest::{StatusCode, Url};
use tokio::time::Instant;

use super::dns::{resolves_internal, LookupError};
use super::outcome::{describe, status_text, timed_out, Attempt, FailKind};
use super::scope::Scope;
use super::segment::JobFetch;
use super::throttle::Throttle;
use super::{Fetcher, Slot};
use crate::common::Secret;
use crate::common::Timeouts;

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

    /// As [`Budget::run`], but the time `f` waits for the byte limits
    /// (counted by `throttle`) is not spent from the budget.
    pub async fn run_paced<T>(
        &mut self,
        f: impl std::future::Future<Output = T>,
        throttle: &Throttle,
    ) -> Option<T> {
        if throttle.is_empty() {
            return self.run(f).await;
        }
        let started = Instant::now();
        let left = self.left;
        let spent = |throttle: &Throttle| started.elapsed().saturating_sub(throttle.waited());
        tokio::pin!(f);
        loop {
            let deadline = started + left + throttle.waited();
            tokio::select! {
                out = &mut f => {
                    self.left = left.saturating_sub(spent(throttle));
                    return Some(out);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if spent(throttle) >= left {
                        self.left = Duration::ZERO;
                        return None;
                    }
                }
            }
        }
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
    /// Where the job's secrets may go, and its own host.
    pub scope: &'a Scope,
}

impl<'a> From<&'a JobFetch> for Asking<'a> {
    fn from(req: &'a JobFetch) -> Asking<'a> {
        Asking {
            headers: &req.headers,
            timeout: req.timeout,
            scope: &req.scope,
        }
    }
}

/// A chain of hops in progress.
struct Chain<'a> {
    job_url: &'a Secret,
    scope: &'a Scope,
    dns: &'a super::dns::Resolver,
    first: Url,
    current: Url,
    /// The job's headers as the current hop carries them.
    headers: HeaderMap,
    /// Whether the job's own host resolves to an internal address; looked
    /// up when a server-named URL first needs it.
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
    #[error(
        "{shown} is a loopback, private or link-local address, named by the \
         server; a job on a public host is never sent there"
    )]
    NamedInward { shown: String },
    /// The host of a URL the server named did not resolve: perhaps for now.
    #[error("{shown}, named by the server: its host {error}")]
    NamedUnresolved { shown: String, error: LookupError },
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
            HopError::Unresolved { .. } | HopError::NamedUnresolved { .. } => {
                Attempt::retry(self.to_string())
            }
            refused => Attempt::Fatal {
                kind: FailKind::Redirect,
                reason: refused.to_string(),
            },
        }
    }
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
        let mut chain = self.start_chain(req, url).await?;
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
                self.heard(&host, &shown, &resp, &slot);
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

impl Fetcher {
    /// A chain at its first URL, once the rules for where it may lead let
    /// it start: a playlist job's home is looked up at once, and when it is
    /// public every request is guarded (no answer of the DNS leads one
    /// inward, on the playlist's own origin too); a URL a server named is
    /// judged before it is asked.
    async fn start_chain<'a>(
        &'a self,
        req: Asking<'a>,
        url: &'a Secret,
    ) -> Result<Chain<'a>, Attempt> {
        let first = Url::parse(url.expose()).map_err(|e| Attempt::Fatal {
            kind: FailKind::Invalid,
            reason: format!("`{}` is not a valid URL: {e}", url.shown()),
        })?;
        let mut chain = Chain {
            job_url: url,
            scope: req.scope,
            dns: &self.dns,
            headers: req.scope.headers_for(&first, &first, req.headers),
            current: first.clone(),
            first,
            job_internal: None,
        };
        if req.scope.has_one_home() {
            chain.look_up_home().await;
        }
        if !req.scope.named_by_job(&chain.first) {
            chain
                .server_named(url.shown())
                .await
                .map_err(HopError::into_attempt)?;
        }
        Ok(chain)
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
        self.look_up_home().await;
        let target_internal = match resolves_internal(self.dns, &next).await {
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
        if !self.scope.secrets_go_to(&self.first, &next) {
            super::scope::strip_secrets(&mut self.headers);
        }
        Ok(next)
    }

    /// Whether the job's own host is internal, once known.
    async fn look_up_home(&mut self) {
        if self.job_internal.is_none() {
            let home = self.scope.home(&self.first).cloned();
            let dns = self.dns.clone();
            let look = async move {
                match home {
                    Some(home) => resolves_internal(&dns, &home).await.unwrap_or(false),
                    None => false,
                }
            };
            self.job_internal = Some(self.scope.home_internal(look).await);
        }
    }

    /// The first URL came from a server (a playlist named it): it may not
    /// lead inward from a public job, as a redirect may not.
    async fn server_named(&mut self, shown: &str) -> Result<(), HopError> {
        self.look_up_home().await;
        if self.job_internal == Some(true) {
            return Ok(());
        }
        let shown = shown.to_string();
        let host = host_of(&self.first);
        let known = self.scope.known_inward(&host);
        let look = match known {
            Some(internal) => Ok(internal),
            None => resolves_internal(self.dns, &self.first).await,
        };
        if let (None, Ok(internal)) = (known, &look) {
            self.scope.learn_inward(host, *internal);
        }
        // Connecting checks again (a guarded client): a second answer of
        // the DNS cannot lead inward after this one passed.
        match look {
            Ok(false) => Ok(()),
            Ok(true) => Err(HopError::NamedInward { shown }),
            Err(error) => Err(HopError::NamedUnresolved { shown, error }),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_public_job_never_hops_inward() {
        assert!(!hop_allowed(false, true), "public -> internal is refused");
        assert!(hop_allowed(false, false));
        assert!(hop_allowed(true, true), "a job on a test server may");
        assert!(hop_allowed(true, false));
    }

    #[tokio::test]
    async fn addresses_are_judged_by_what_the_name_resolves_to() {
        let system = super::super::dns::Resolver::system();
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(
            resolves_internal(&system, &u("http://169.254.169.254/latest/"))
                .await
                .unwrap()
        );
        assert!(resolves_internal(&system, &u("http://[::1]:8080/"))
            .await
            .unwrap());
        assert!(resolves_internal(&system, &u("http://localhost/"))
            .await
            .unwrap());
        assert!(!resolves_internal(&system, &u("https://8.8.8.8/"))
            .await
            .unwrap());
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
