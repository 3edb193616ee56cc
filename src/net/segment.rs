//! One segment's download: check it by its bytes as it arrives (see
//! [`crate::media`]), save it in the job's spool (see [`crate::state::spool`]) and
//! record it in the ledger once whole. Retried by the job's one retry loop
//! ([`super::retry`]); a `Retry-After` pauses the whole host. Requests and
//! redirects are in [`super::http`].

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_RANGE};
use reqwest::StatusCode;
use tokio::io::AsyncReadExt;

use super::error::{HeaderError, RangeError};
use super::http::host_of;
use super::http::{Answer, Budget};
use super::outcome::{
    describe, gave_up, status_outcome, timed_out, Attempt, FailKind, Hint, SegmentFailure, Why,
};
use super::retry::{retrying, End, Failed};
use super::sent::Sent;
use super::throttle::Throttle;
use super::Fetcher;
use crate::common::Secret;
use crate::common::{RetryPolicy, Timeouts};
use crate::events::EventKind;
use crate::media::{Arrived, CheckError};
use crate::plan::source::{ByteRange, Segment, Target};
use crate::state::part::{spill_path, Part, PartError};
use crate::state::sealed::Intake;
use crate::state::spool::Saved;
use crate::state::Ledger;

/// The largest segment stored unless the job says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = crate::common::DEFAULT_MAX_SEGMENT_BYTES;

/// What one job asks of the fetcher, the same for all its segments.
pub struct JobFetch {
    pub job: String,
    pub headers: HeaderMap,
    pub retry: RetryPolicy,
    pub timeout: Timeouts,
    pub ledger: std::sync::Arc<Ledger>,
    /// The largest segment stored (`max_segment_bytes`): checked against
    /// `Content-Length` before reading and against the body while reading.
    pub max_bytes: u64,
    /// Redirects followed by the job's other requests (playlist, keys,
    /// init segments, probes): every [`super::Ask`] made from this adds to it.
    pub other_redirects: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Where its secrets may go.
    pub scope: Arc<super::Scope>,
    /// The job's own limit in bytes per second, shared by its segments.
    pub bytes: Option<Arc<super::ByteBucket>>,
}

impl JobFetch {
    /// The job's request settings; header values are checked here, and
    /// those from the environment are marked sensitive.
    pub fn new(
        job: &str,
        headers: &[(String, Secret)],
        retry: RetryPolicy,
        timeout: Timeouts,
        ledger: std::sync::Arc<Ledger>,
        scope: Arc<super::Scope>,
    ) -> Result<JobFetch, HeaderError> {
        let map = header_map(headers)?;
        Ok(JobFetch {
            job: job.to_string(),
            headers: map,
            retry,
            timeout,
            ledger,
            max_bytes: DEFAULT_MAX_BYTES,
            other_redirects: Default::default(),
            scope,
            bytes: None,
        })
    }
}

/// The job's headers for requests; values from the environment are marked
/// sensitive, so that no log of the HTTP library shows them.
pub(super) fn header_map(headers: &[(String, Secret)]) -> Result<HeaderMap, HeaderError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|error| HeaderError::Name {
            name: name.clone(),
            error,
        })?;
        let mut v = HeaderValue::from_str(value.expose())
            .map_err(|_| HeaderError::Value { name: name.clone() })?;
        v.set_sensitive(value.is_secret());
        map.insert(n, v);
    }
    Ok(map)
}

/// A segment that arrived whole and is saved.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub retries: u32,
    /// Redirect hops followed, over all attempts.
    pub redirects: u32,
    /// Where it is in the job's spool (and its size).
    pub saved: Saved,
    /// Its bytes, when they were still whole in memory.
    pub body: Option<Bytes>,
}

impl Fetcher {
    /// Fetches one segment, retrying as the job's policy says (see
    /// [`super::retry`]).
    pub async fn fetch(&self, req: &JobFetch, seg: &Segment) -> Result<Fetched, SegmentFailure> {
        let (redirects, attempts) = (AtomicU32::new(0), AtomicU32::new(0));
        let (this, counted, tried) = (self, &redirects, &attempts);
        let once = move || async move {
            // Where each attempt at a segment starts: before its
            // retried, saved or failed.
            this.pauses.events().tell(EventKind::SegmentStarted {
                job: req.job.clone(),
                index: seg.index,
                attempt: tried.fetch_add(1, Ordering::Relaxed) + 1,
            });
            let mut hops = 0;
            let outcome = this.attempt(req, seg, &mut hops).await;
            counted.fetch_add(hops, Ordering::Relaxed);
            if !matches!(outcome, Attempt::Done(_)) {
                let _ = tokio::fs::remove_file(spill_path(req.ledger.dir(), seg.index)).await;
            }
            outcome.verdict()
        };
        let on_retry = |why: &Why, attempt| {
            let reason = &why.reason;
            tracing::debug!(
                job = req.job,
                index = seg.index,
                attempt,
                "retrying: {reason}"
            );
            self.pauses.events().tell(EventKind::SegmentRetried {
                job: req.job.clone(),
                index: seg.index,
                attempt,
                reason: reason.clone(),
            });
        };
        let tried = retrying(&req.retry, once, on_retry).await;
        let redirects = redirects.into_inner();
        match tried {
            Ok((stored, attempts)) => Ok(Fetched {
                retries: attempts - 1,
                redirects,
                saved: stored.saved,
                body: stored.body,
            }),
            Err(failed) => Err(failure(req, seg, failed, redirects)),
        }
    }

    async fn attempt(&self, req: &JobFetch, seg: &Segment, redirects: &mut u32) -> Attempt {
        match &seg.target {
            Target::Http { url, .. } => self.attempt_http(req, url, seg, redirects).await,
            Target::File { path, shown } => {
                let _slot = self.limiter.acquire(None).await;
                let read = attempt_file(path, shown, seg.index, &req.ledger, req.max_bytes);
                tokio::time::timeout(req.timeout.segment, read)
                    .await
                    .unwrap_or_else(|_| timed_out(req.timeout.segment))
            }
        }
    }

    /// One attempt over HTTP: the request (redirects followed, each hop
    /// under the limits), then the body, with the last hop's slot held.
    async fn attempt_http(
        &self,
        req: &JobFetch,
        url: &Secret,
        seg: &Segment,
        redirects: &mut u32,
    ) -> Attempt {
        let (paid_host, mut throttle) = self.prepaid(req, url, seg).await;
        let mut budget = Budget::new(req.timeout.segment);
        let range = seg.range.map(|r| r.header());
        let Answer {
            resp,
            slot,
            host,
            shown,
            sent,
        } = match self
            .request(req.into(), url, range, &mut budget, redirects)
            .await
        {
            Ok(a) => a,
            Err(outcome) => return outcome,
        };
        let sent = Sent {
            job: &req.headers,
            sent: &sent,
        };
        if paid_host.is_some_and(|h| h != host) {
            throttle = throttle.moved_to(self.limiter.throttle(&host, req.bytes.as_ref()));
        }
        let body = receive(req, resp, (&shown, sent), seg, &throttle);
        let outcome = match budget.run_paced(body, &throttle).await {
            Some(outcome) => outcome,
            None => timed_out(req.timeout.segment),
        };
        if matches!(outcome, Attempt::Done(_)) {
            throttle.passed();
        }
        // Pause the host before this slot frees, so that no request slips
        // in between the answer and the pause.
        if let Attempt::Retry { after: Some(d), .. } = &outcome {
            self.pause_for(&host, &shown, *d, &req.retry);
        }
        drop(slot);
        outcome
    }
}

impl Fetcher {
    /// The byte limits an attempt at `seg` is charged to, paid up front
    /// for what it is expected to bring ([`Throttle::prepay`]), and the
    /// host they were taken for; no cost and no host when none is set.
    async fn prepaid(
        &self,
        req: &JobFetch,
        url: &Secret,
        seg: &Segment,
    ) -> (Option<String>, Throttle) {
        if req.bytes.is_none() && !self.limiter.limits_bytes() {
            return (None, Throttle::default());
        }
        let host = reqwest::Url::parse(url.expose())
            .map(|u| host_of(&u))
            .unwrap_or_default();
        let mut throttle = self.limiter.throttle(&host, req.bytes.as_ref());
        throttle.prepay(seg.range.map(|r| r.length)).await;
        (Some(host), throttle)
    }
}

/// A segment that could not be had: the last attempt's reason, and when
/// the retries ran out, how many were made and the next step.
fn failure(req: &JobFetch, seg: &Segment, failed: Failed<Why>, redirects: u32) -> SegmentFailure {
    let Failed {
        error: why,
        attempts,
        end,
    } = failed;
    let (kind, reason) = match end {
        End::Fatal => (why.kind, why.reason),
        End::GaveUp(over) => (
            FailKind::GaveUp,
            gave_up(why.reason, why.hint, over, attempts),
        ),
    };
    SegmentFailure {
        index: seg.index,
        kind,
        retries: attempts - 1,
        redirects,
        message: format!("job `{}`: segment {}: {reason}", req.job, seg.index),
    }
}

/// Takes the body of an answer into the job's spool, checked as it
/// arrives, capped at the job's `max_bytes` and paced by the byte limits.
async fn receive(
    req: &JobFetch,
    mut resp: reqwest::Response,
    (shown, sent): (&str, Sent<'_>),
    seg: &Segment,
    throttle: &Throttle,
) -> Attempt {
    if let Some(refused) = refused_head(req, &resp, (shown, sent), seg) {
        return refused;
    }
    let expected = resp.content_length();
    // A body that is not what it should be may be a passing fault of the
    // server (an error page, a cut connection): try again.
    let retry = |reason: String, hint| Attempt::Retry {
        reason: format!("{shown}: {reason}"),
        after: None,
        hint,
    };
    if let Some(Err(e)) = seg.range.map(|r| range_answered(&resp, r)) {
        return retry(e.to_string(), Hint::Nothing);
    }
    // An encrypted body is decrypted as it arrives, then checked.
    let key = seg.key.as_ref();
    let mut part = Intake::new(&req.ledger, (seg.index, key), req.max_bytes, expected);
    let mut received = 0u64;
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                received += chunk.len() as u64;
                if let Err(e) = part.write(&chunk).await {
                    return e.into_attempt(shown, retry);
                }
                if !throttle.is_empty() {
                    throttle.charge(chunk.len()).await;
                }
            }
            Ok(None) => break,
            Err(e) => {
                return retry(
                    format!("the body broke off after {received} bytes: {}", describe(e)),
                    Hint::Nothing,
                )
            }
        }
    }
    if let Some(n) = expected {
        if n != received {
            return retry(
                format!("sent {received} of {n} bytes (truncated)"),
                Hint::Nothing,
            );
        }
    }
    if let Some(r) = seg.range.filter(|r| r.length != received) {
        return retry(
            format!("sent {received} bytes for a byte range of {}", r.length),
            Hint::Nothing,
        );
    }
    match part.finish().await {
        Ok(stored) => Attempt::Done(stored),
        Err(e) => e.into_attempt(shown, retry),
    }
}

/// What an answer's status and length already refuse, before its body is
/// read: a byte-range request (`EXT-X-BYTERANGE`) wants 206, any other 200;
/// an announced length over the job's cap is never read.
fn refused_head(
    req: &JobFetch,
    resp: &reqwest::Response,
    (shown, sent): (&str, Sent<'_>),
    seg: &Segment,
) -> Option<Attempt> {
    let ranged = seg.range.is_some();
    if let Some(refused) = range_refused(ranged, resp.status(), shown) {
        return Some(refused);
    }
    let want = if ranged {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    if resp.status() != want {
        return Some(status_outcome(resp, shown, sent));
    }
    let n = resp.content_length().filter(|&n| n > req.max_bytes)?;
    let what = format!("announces {n} bytes, more than");
    Some(too_large(shown, req.max_bytes, &what, "not read"))
}

/// A `206` to a byte-range request holds the bytes asked for: a
/// `Content-Range` that names others (a server that sends the start of
/// the file whatever was asked) is refused before the body is read.
pub(super) fn range_answered(resp: &reqwest::Response, range: ByteRange) -> Result<(), RangeError> {
    let Some(given) = resp.headers().get(CONTENT_RANGE) else {
        return Ok(());
    };
    let last = range.offset.saturating_add(range.length.saturating_sub(1));
    let asked = format!("bytes {}-{last}/", range.offset);
    match given.to_str() {
        Ok(text) if text.trim().starts_with(&asked) => Ok(()),
        _ => Err(RangeError {
            given: crate::media::preview(given.as_bytes()),
            asked: range.header(),
        }),
    }
}

/// A ranged request (`EXT-X-BYTERANGE`) that got 200 got the whole
/// resource: never stored as the range. (A 206 to an unranged request is a
/// fault of the server, retried: see `status_outcome`.)
fn range_refused(ranged: bool, status: StatusCode, shown: &str) -> Option<Attempt> {
    (ranged && status == StatusCode::OK).then(|| Attempt::Fatal {
        kind: FailKind::Invalid,
        reason: format!(
            "{shown} answered 200 (the whole file) to a byte-range request: \
             the server does not serve byte ranges"
        ),
    })
}

fn too_large(shown: &str, max: u64, what: &str, done: &str) -> Attempt {
    Attempt::Fatal {
        kind: FailKind::TooLarge,
        reason: format!(
            "{shown} {what} `max_segment_bytes` ({}): {done}; raise \
             `max_segment_bytes` if segments really are this large",
            size_text(max)
        ),
    }
}

/// A byte count as a job file would write it.
fn size_text(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

async fn attempt_file(
    path: &Path,
    shown: &str,
    index: u64,
    ledger: &Arc<Ledger>,
    max: u64,
) -> Attempt {
    // A local file does not change between attempts: a bad one is final.
    let invalid = |reason: String, _: Hint| Attempt::Fatal {
        kind: FailKind::Invalid,
        reason: format!("{shown}: {reason}"),
    };
    let mut src = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Attempt::Fatal {
                kind: FailKind::NotFound,
                reason: format!("{shown} does not exist"),
            }
        }
        Err(e) => return invalid(format!("cannot be read: {e}"), Hint::Nothing),
    };
    let len = src.metadata().await.ok().map(|m| m.len());
    let mut part = Part::new(ledger, index, max, len);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match src.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return invalid(format!("cannot be read: {e}"), Hint::Nothing),
        };
        if let Err(e) = part.write(&buf[..n]).await {
            return e.into_attempt(shown, invalid);
        }
    }
    match part.finish().await {
        Ok(stored) => Attempt::Done(stored),
        Err(e) => e.into_attempt(shown, invalid),
    }
}

impl PartError {
    /// An invalid body becomes what `invalid` says; a storage error or a
    /// body past the cap is final.
    fn into_attempt(self, shown: &str, invalid: impl Fn(String, Hint) -> Attempt) -> Attempt {
        match self {
            PartError::Check(e) => {
                let login = matches!(
                    e,
                    CheckError::NotMedia {
                        arrived: Arrived::HtmlPage,
                        ..
                    }
                );
                let hint = if login {
                    Hint::LoginPage
                } else {
                    Hint::Nothing
                };
                invalid(e.to_string(), hint)
            }
            PartError::Invalid(reason) => invalid(reason, Hint::Nothing),
            PartError::TooLarge(max) => too_large(
                shown,
                max,
                "sent more than",
                "stopped there, nothing beyond it stored",
            ),
            PartError::Storage(reason) => Attempt::Fatal {
                kind: FailKind::Storage,
                reason,
            },
        }
    }
}
