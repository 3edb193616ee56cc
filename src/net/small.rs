//! Small bodies read into memory: playlists, AES keys, init segments. The
//! same limits, headers, timeouts and retry loop ([`super::retry`]) as
//! segments, `Retry-After` included; the body is
//! capped, and its final URL (after redirects) comes back for resolving
//! relative URIs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use super::http::{Answer, Asking, Budget};
use super::outcome::{describe, retry_after, status_text, Attempt};
use super::retry::{overlong_text, retryable, retrying, End, Failed, Overlong, Verdict};
use super::{Fetcher, JobFetch};
use crate::common::Secret;
use crate::common::{RetryPolicy, Timeouts};
use crate::plan::source::{ByteRange, Target, TargetError};

/// Why a small body did not arrive. `what` names it (`the playlist`, `the
/// AES-128 key`), `url` shows it with its secrets as `***`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SmallError {
    #[error("{what} {url} is not an http(s) URL")]
    NotHttp { what: String, url: Secret },
    #[error("{what}: {error}")]
    Target { what: String, error: TargetError },
    #[error("{what} {url} took longer than the timeout of {after:?}")]
    Timeout {
        what: String,
        url: Secret,
        after: std::time::Duration,
    },
    /// No answer came: the shared request's reason (connect, TLS, a
    /// redirect refused), in its words.
    #[error("{what}: {reason}")]
    Request { what: String, reason: String },
    #[error("{what} {url}: no answer")]
    NoAnswer { what: String, url: Secret },
    #[error("{what} {url}: HTTP {}", status_text(*.status))]
    Status {
        what: String,
        url: Secret,
        status: StatusCode,
    },
    /// A 200 to a byte-range request: the whole resource, not the range.
    #[error(
        "{what} {url}: HTTP {}: the server ignored the byte range snatch asked for",
        status_text(StatusCode::OK)
    )]
    RangeIgnored { what: String, url: Secret },
    /// A 206 with other bytes than asked for.
    #[error("{what} {url}: {reason}")]
    WrongRange {
        what: String,
        url: Secret,
        reason: super::RangeError,
    },
    #[error("{what} {url} is larger than {max} bytes")]
    TooLarge { what: String, url: Secret, max: u64 },
    #[error("{what} {url}: {reason}")]
    BrokeOff {
        what: String,
        url: Secret,
        reason: String,
    },
    #[error("{what} {url}: sent {got} of {want} bytes")]
    Short {
        what: String,
        url: Secret,
        got: usize,
        want: u64,
    },
    #[error("{error} (gave up after {attempts} attempts){}", overlong_text(.overlong))]
    GaveUp {
        error: Box<SmallError>,
        attempts: u32,
        /// A `Retry-After` longer than the job lets snatch wait.
        overlong: Option<Overlong>,
    },
}

/// What a job's small requests carry: its name (for logs), its headers,
/// retry policy and timeouts. No ledger: nothing is stored.
#[derive(Clone)]
pub struct Ask {
    pub job: String,
    pub headers: HeaderMap,
    pub retry: RetryPolicy,
    pub timeout: Timeouts,
    /// Every redirect these requests follow is counted here (shared with
    /// the job's [`JobFetch`], for its report).
    pub redirects: Arc<AtomicU64>,
    /// Where its secrets may go.
    pub scope: Arc<super::Scope>,
}

impl Ask {
    /// Header values from the environment are marked sensitive.
    pub fn new(
        job: &str,
        headers: &[(String, Secret)],
        retry: RetryPolicy,
        timeout: Timeouts,
        scope: Arc<super::Scope>,
    ) -> Result<Ask, super::HeaderError> {
        let map = super::segment::header_map(headers)?;
        Ok(Ask {
            job: job.to_string(),
            headers: map,
            retry,
            timeout,
            redirects: Default::default(),
            scope,
        })
    }
}

impl From<&JobFetch> for Ask {
    fn from(req: &JobFetch) -> Ask {
        Ask {
            job: req.job.clone(),
            headers: req.headers.clone(),
            retry: req.retry,
            timeout: req.timeout,
            redirects: req.other_redirects.clone(),
            scope: req.scope.clone(),
        }
    }
}

/// A body that arrived whole.
#[derive(Debug)]
pub struct Small {
    pub body: Vec<u8>,
    /// The URL that answered, after redirects (the real one).
    pub final_url: String,
}

/// One attempt's outcome.
type Try = Verdict<Small, SmallError>;

/// Small bodies come from web servers only.
fn http_only(url: &Secret, what: &str) -> Result<(), SmallError> {
    let what = what.to_string();
    match crate::plan::source::target_of(url.clone(), std::path::Path::new("")) {
        Ok(Target::Http { .. }) => Ok(()),
        Ok(Target::File { .. }) => Err(SmallError::NotHttp {
            what,
            url: url.clone(),
        }),
        Err(error) => Err(SmallError::Target { what, error }),
    }
}

impl Fetcher {
    /// GETs `url` (only `range` of it, if given) under the run's limits,
    /// retrying as the job's policy says. `what` names it in messages
    /// (`the playlist`, `the key`); no message holds the real URL.
    pub async fn fetch_small(
        &self,
        req: &Ask,
        url: &Secret,
        range: Option<ByteRange>,
        max: u64,
        what: &str,
    ) -> Result<Small, SmallError> {
        http_only(url, what)?;
        let this = self;
        let once = move || async move {
            // Each hop takes its host's slot and token in `request`.
            let once = this.small_once(req, url, range, max, what);
            tokio::time::timeout(req.timeout.segment, once)
                .await
                .unwrap_or_else(|_| {
                    Try::retry(SmallError::Timeout {
                        what: what.to_string(),
                        url: url.clone(),
                        after: req.timeout.segment,
                    })
                })
        };
        let on_retry = |e: &SmallError, attempt| {
            tracing::debug!(job = req.job, attempt, "retrying: {e}");
        };
        match retrying(&req.retry, once, on_retry).await {
            Ok((small, _)) => Ok(small),
            Err(failed) => Err(given_up(failed)),
        }
    }

    async fn small_once(
        &self,
        req: &Ask,
        url: &Secret,
        range: Option<ByteRange>,
        max: u64,
        what: &str,
    ) -> Try {
        let mut budget = Budget::new(req.timeout.segment);
        let mut redirects = 0;
        let ask = Asking {
            headers: &req.headers,
            timeout: req.timeout,
            scope: &req.scope,
        };
        let range_header = range.map(|r| r.header());
        let answer = self
            .request(ask, url, range_header, &mut budget, &mut redirects)
            .await;
        req.redirects.fetch_add(redirects.into(), Ordering::Relaxed);
        let (what, url) = (what.to_string(), url.clone());
        let Answer {
            mut resp,
            slot,
            host,
            shown,
            ..
        } = match answer {
            Ok(a) => a,
            Err(Attempt::Fatal { reason, .. }) => {
                return Try::Fatal(SmallError::Request { what, reason })
            }
            Err(Attempt::Retry { reason, .. }) => {
                return Try::retry(SmallError::Request { what, reason })
            }
            Err(Attempt::Done(_)) => return Try::retry(SmallError::NoAnswer { what, url }),
        };
        let status = resp.status();
        let wanted = if range.is_some() { 206 } else { 200 };
        if status.as_u16() != wanted {
            return match status.as_u16() {
                200 => Try::Fatal(SmallError::RangeIgnored { what, url }),
                code if retryable(code) => {
                    let after = retry_after(&resp);
                    if let Some(d) = after {
                        // Before the slot frees, as for segments.
                        self.pause_for(&host, &shown, d, &req.retry);
                    }
                    let error = SmallError::Status { what, url, status };
                    Try::Retry { error, after }
                }
                _ => Try::Fatal(SmallError::Status { what, url, status }),
            };
        }
        if let Some(Err(reason)) = range.map(|r| super::segment::range_answered(&resp, r)) {
            return Try::retry(SmallError::WrongRange { what, url, reason });
        }
        let final_url = resp.url().to_string();
        let body = match read_body(&mut resp, range, max).await {
            Ok(body) => body,
            Err(e) => return e.into_try(what, url, max),
        };
        drop(slot);
        Try::Done(Small { body, final_url })
    }
}

/// Why a body read did not give the whole body.
enum BodyError {
    TooLarge,
    BrokeOff(String),
    Short { got: usize, want: u64 },
}

impl BodyError {
    /// The attempt's outcome, naming `what` came from `url`.
    fn into_try(self, what: String, url: Secret, max: u64) -> Try {
        match self {
            BodyError::TooLarge => Try::Fatal(SmallError::TooLarge { what, url, max }),
            BodyError::BrokeOff(reason) => Try::retry(SmallError::BrokeOff { what, url, reason }),
            BodyError::Short { got, want } => Try::retry(SmallError::Short {
                what,
                url,
                got,
                want,
            }),
        }
    }
}

/// Reads an answer's body whole: at most `max` bytes, and for a byte range
/// exactly its length.
async fn read_body(
    resp: &mut reqwest::Response,
    range: Option<ByteRange>,
    max: u64,
) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) if (body.len() + c.len()) as u64 > max => return Err(BodyError::TooLarge),
            Ok(Some(c)) => body.extend_from_slice(&c),
            Ok(None) => break,
            Err(e) => return Err(BodyError::BrokeOff(describe(e))),
        }
    }
    match range {
        Some(r) if body.len() as u64 != r.length => Err(BodyError::Short {
            got: body.len(),
            want: r.length,
        }),
        _ => Ok(body),
    }
}

/// A small body that could not be had: the last error, and after more
/// than one attempt, how many and what a server asked to wait.
fn given_up(failed: Failed<SmallError>) -> SmallError {
    match failed.end {
        End::GaveUp(overlong) if failed.attempts > 1 || overlong.is_some() => SmallError::GaveUp {
            error: Box::new(failed.error),
            attempts: failed.attempts,
            overlong,
        },
        _ => failed.error,
    }
}
