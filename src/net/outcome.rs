//! What one attempt at a segment came to, and the words for it: the
//! outcome of an attempt (done, retry, fatal), why a segment failed, the
//! next step a retried failure suggests, statuses, `Retry-After` and the
//! backoff between attempts. Shared by segment fetches ([`super::segment`])
//! and the job's other requests ([`super::small`], [`super::http`]); the
//! loop that retries them all is [`super::retry`].

use std::fmt;
use std::time::Duration;

use reqwest::header::RETRY_AFTER;
use reqwest::StatusCode;

use super::retry::{overlong_text, retryable, Overlong, Verdict};
use super::sent::Sent;
use crate::common::RetryPolicy;
use crate::state::part::Stored;

/// Why a segment could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailKind {
    /// 404, or a local file that does not exist: with duration math, after
    /// the last segment, this is expected.
    NotFound,
    /// Another status that is not retried (403, 410, …).
    Status(u16),
    /// A request that cannot be made or an answer that can never do: a
    /// URL that is not valid, a template that does not render, a local
    /// file that is not a valid segment, a 200 to a byte-range request,
    /// https on a machine without CA certificates.
    Invalid,
    /// Retries used up; the last reason.
    GaveUp,
    /// The segment could not be stored (disk full, permissions).
    Storage,
    /// A redirect that is not followed: too many hops, another scheme, an
    /// internal address.
    Redirect,
    /// Larger than the job's `max_segment_bytes`.
    TooLarge,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFailure {
    pub index: u64,
    pub kind: FailKind,
    pub retries: u32,
    /// Redirect hops followed, over all attempts.
    pub redirects: u32,
    /// One sentence naming the job, the index and what was wrong.
    pub message: String,
}

impl fmt::Display for SegmentFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a retried failure suggests the user do, should the retries run
/// out: chosen where the failure is known, never from its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Hint {
    #[default]
    Nothing,
    /// 429 or 503: fewer requests.
    Busy,
    /// An HTML page where a segment should be: a fresh session.
    LoginPage,
    /// The segment timeout passed: a longer one.
    Slow,
}

impl Hint {
    pub(super) fn advice(self) -> &'static str {
        match self {
            Hint::Nothing => "",
            Hint::Busy => {
                "; the server is busy: lower `requests_per_second` or `concurrency`, or try later"
            }
            Hint::LoginPage => {
                "; an HTML page where a segment should be is mostly a login or error page: \
                 the session has probably expired. Copy the request again from the browser \
                 (a fresh Cookie, a fresh signed URL) into the job, or paste it into \
                 `snatch new`, and rerun: saved segments are reused"
            }
            Hint::Slow => {
                "; raise `timeout: { segment: … }` if the server is slow or segments are large"
            }
        }
    }
}

/// One attempt's outcome.
pub(super) enum Attempt {
    Done(Stored),
    /// Try again; `after` is a server's Retry-After, `hint` the next step
    /// should the retries run out.
    Retry {
        reason: String,
        after: Option<Duration>,
        hint: Hint,
    },
    Fatal {
        kind: FailKind,
        reason: String,
    },
}

impl Attempt {
    /// A failure worth another attempt, with no particular next step.
    pub(super) fn retry(reason: String) -> Attempt {
        Attempt::Retry {
            reason,
            after: None,
            hint: Hint::Nothing,
        }
    }
}

pub(super) fn timed_out(limit: Duration) -> Attempt {
    Attempt::Retry {
        reason: format!("took longer than the segment timeout of {limit:?}"),
        after: None,
        hint: Hint::Slow,
    }
}

/// Why an attempt at a segment failed, for the retry loop: its kind
/// should it be final, its reason and the next step should the retries run
/// out.
pub(super) struct Why {
    pub kind: FailKind,
    pub reason: String,
    pub hint: Hint,
}

impl Attempt {
    /// The retry loop's view of this outcome.
    pub(super) fn verdict(self) -> Verdict<Stored, Why> {
        match self {
            Attempt::Done(stored) => Verdict::Done(stored),
            Attempt::Retry {
                reason,
                after,
                hint,
            } => Verdict::Retry {
                error: Why {
                    kind: FailKind::GaveUp,
                    reason,
                    hint,
                },
                after,
            },
            Attempt::Fatal { kind, reason } => Verdict::Fatal(Why {
                kind,
                reason,
                hint: Hint::Nothing,
            }),
        }
    }
}

/// The message of a segment whose retries are used up, with a next step
/// where the reason suggests one (also after a single attempt); a server
/// that asked for a longer wait than the job allows is told of instead.
pub(super) fn gave_up(reason: String, hint: Hint, over: Option<Overlong>, attempts: u32) -> String {
    let tries = match attempts {
        0 | 1 => String::new(),
        n => format!(" (gave up after {n} attempts)"),
    };
    let next = match over {
        Some(_) => overlong_text(&over),
        None => hint.advice().to_string(),
    };
    format!("{reason}{tries}{next}")
}

/// What a status that is not a success means for the attempt. A 404 says
/// only what happened: the next step depends on the job's other segments
/// (see `run`).
pub(super) fn status_outcome(resp: &reqwest::Response, shown: &str, sent: Sent<'_>) -> Attempt {
    let status = resp.status();
    let after = retry_after(resp);
    let reason = format!("HTTP {} from {shown}", status_text(status));
    let fatal = |kind, next: String| Attempt::Fatal {
        kind,
        reason: format!("{reason}{next}"),
    };
    match status.as_u16() {
        206 => Attempt::retry(format!(
            "{reason}, though no range was asked: part of a segment is never stored"
        )),
        404 => fatal(FailKind::NotFound, ": not there".into()),
        401 => fatal(
            FailKind::Status(401),
            format!(": the server wants credentials{}", sent.refused_advice(401)),
        ),
        403 => fatal(
            FailKind::Status(403),
            format!(": the server refused it{}", sent.refused_advice(403)),
        ),
        410 => fatal(
            FailKind::Status(410),
            ": gone: a signed URL may have expired; refresh it in the job".into(),
        ),
        code if retryable(code) => Attempt::Retry {
            reason,
            after,
            hint: match status.as_u16() {
                429 | 503 => Hint::Busy,
                _ => Hint::Nothing,
            },
        },
        code => fatal(FailKind::Status(code), String::new()),
    }
}

pub(super) fn status_text(s: StatusCode) -> String {
    match s.canonical_reason() {
        Some(r) => format!("{} {r}", s.as_u16()),
        None => s.as_u16().to_string(),
    }
}

/// A reqwest error in a few words, without its URL (which may hold a secret).
pub(super) fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// An answer's `Retry-After`, if it has one that can be read.
pub(super) fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The wait before attempt `attempt + 1`: doubling from `backoff`, capped at
/// `max_backoff`, with equal jitter (half fixed, half random).
pub(super) fn backoff(p: &RetryPolicy, attempt: u32) -> Duration {
    let base = p.backoff.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
    let capped = base.min(p.max_backoff.as_secs_f64());
    Duration::from_secs_f64(capped * (0.5 + rand::random::<f64>() * 0.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_and_backoff() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(60));
        let d = parse_retry_after(&later).unwrap();
        assert!(
            d > Duration::from_secs(55) && d <= Duration::from_secs(60),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
        let p = RetryPolicy {
            attempts: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        };
        let b1 = backoff(&p, 1);
        assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
        let b5 = backoff(&p, 5);
        assert!(b5 >= Duration::from_millis(150) && b5 <= Duration::from_millis(300));
    }
}
