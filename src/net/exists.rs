//! Whether a segment is there, with as little transfer as can be, under
//! the job's headers, limits and retries (the one loop of [`super::retry`],
//! `Retry-After` included). Two looks: the first byte and
//! its answer's status (`plan --probe`, whose segments may be encrypted or
//! byte ranges of a larger file), and the start of the body, judged by the
//! segment check (`end: auto`: a server that answers a missing segment
//! with a login page, whatever its `Content-Type`, has no segment there).

use std::path::Path;
use std::sync::atomic::Ordering;

use reqwest::StatusCode;

use super::http::{Answer, Asking, Budget};
use super::outcome::{describe, retry_after, status_text, Attempt};
use super::retry::{retryable, retrying, End, Failed, Overlong, Verdict};
use super::{Ask, Fetcher};
use crate::common::Secret;
use crate::media::Check;
use crate::plan::source::Target;

/// The bytes [`Look::Start`] asks for and checks: 21 whole MPEG-TS
/// packets and more, the first boxes of an MP4 segment, the ID3 tag and
/// first frames of an audio one.
pub const START_BYTES: u64 = 4096;

/// How much of a segment a probe reads, and how it judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// The first byte (`Range: bytes=0-0`): 200 or 206 is there, unless its
    /// `Content-Type` says HTML.
    FirstByte,
    /// The first [`START_BYTES`] bytes: 200 or 206 is there when they pass
    /// the start of the segment check ([`Check::start`]).
    Start,
}

/// Why a probe could not tell whether a segment is there.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{shown}: {error}")]
    Local {
        shown: String,
        error: std::io::Error,
    },
    /// No answer came: the shared request's reason.
    #[error("probing: {0}")]
    Request(String),
    #[error("probing {0}: no answer")]
    NoAnswer(Secret),
    #[error("probing {url}: HTTP {}", status_text(*.status))]
    Status { url: Secret, status: StatusCode },
    #[error("probing {url}: the body broke off: {reason}")]
    BrokeOff { url: Secret, reason: String },
    #[error("probing {url}: no whole answer within {after:?}")]
    Timeout {
        url: Secret,
        after: std::time::Duration,
    },
    /// Retries used up while the server asked for a longer wait than the
    /// job lets snatch make.
    #[error("{error} (gave up after {attempts} attempts); {overlong}")]
    Overlong {
        error: Box<ProbeError>,
        attempts: u32,
        overlong: Overlong,
    },
}

/// A probe's outcome: there or not, or an error worth retrying or not.
type Probed = Verdict<bool, ProbeError>;

impl Fetcher {
    /// Whether the segment at `target` is there, by `look`: 404 or 410 is
    /// not; answers other than 200 and 206 are errors (after the job's
    /// retries for passing faults).
    pub async fn exists(&self, req: &Ask, target: &Target, look: Look) -> Result<bool, ProbeError> {
        let url = match target {
            Target::File { path, shown } => return file_exists(path, shown, look).await,
            Target::Http { url, .. } => url,
        };
        let this = self;
        let once = move || this.probe_once(req, url, look);
        let on_retry = |e: &ProbeError, attempt| {
            tracing::debug!(job = req.job, attempt, "retrying: {e}");
        };
        match retrying(&req.retry, once, on_retry).await {
            Ok((there, _)) => Ok(there),
            Err(Failed {
                error,
                attempts,
                end: End::GaveUp(Some(overlong)),
            }) => Err(ProbeError::Overlong {
                error: Box::new(error),
                attempts,
                overlong,
            }),
            Err(failed) => Err(failed.error),
        }
    }

    async fn probe_once(&self, req: &Ask, url: &Secret, look: Look) -> Probed {
        let mut budget = Budget::new(req.timeout.segment);
        let mut redirects = 0;
        let ask = Asking {
            headers: &req.headers,
            timeout: req.timeout,
            scope: &req.scope,
        };
        let last = if look == Look::Start {
            START_BYTES - 1
        } else {
            0
        };
        let range = Some(format!("bytes=0-{last}"));
        let answer = self
            .request(ask, url, range, &mut budget, &mut redirects)
            .await;
        req.redirects.fetch_add(redirects.into(), Ordering::Relaxed);
        let answer = match answer {
            Err(Attempt::Retry { reason, .. }) => {
                return Probed::retry(ProbeError::Request(reason))
            }
            Err(Attempt::Fatal { reason, .. }) => {
                return Probed::Fatal(ProbeError::Request(reason))
            }
            Err(Attempt::Done(_)) => return Probed::retry(ProbeError::NoAnswer(url.clone())),
            Ok(answer) => answer,
        };
        let status = answer.resp.status();
        match status.as_u16() {
            200 | 206 => {}
            404 | 410 => return Probed::Done(false),
            _ => return self.refused(req, answer, url),
        }
        let Answer { resp, slot, .. } = answer;
        let there = match look {
            Look::FirstByte => Probed::Done(!html(&resp)),
            Look::Start => match budget.run(read_start(resp, url)).await {
                Some(Ok(start)) => Probed::Done(judged(&start, url)),
                Some(Err(e)) => Probed::retry(e),
                None => Probed::retry(ProbeError::Timeout {
                    url: url.clone(),
                    after: req.timeout.segment,
                }),
            },
        };
        drop(slot);
        there
    }

    /// A status that says neither there nor missing: retried when it is
    /// worth it, and its `Retry-After` pauses the host (before the slot
    /// frees, as for segments).
    fn refused(&self, req: &Ask, answer: Answer, url: &Secret) -> Probed {
        let status = answer.resp.status();
        let error = ProbeError::Status {
            url: url.clone(),
            status,
        };
        if !retryable(status.as_u16()) {
            return Probed::Fatal(error);
        }
        let after = retry_after(&answer.resp);
        if let Some(d) = after {
            self.pause_for(&answer.host, &answer.shown, d, &req.retry);
        }
        Probed::Retry { error, after }
    }
}

/// Whether an answer's `Content-Type` says HTML.
fn html(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("text/html"))
}

/// The first [`START_BYTES`] of a body (fewer if it is shorter); the rest,
/// if a server sent more than asked, is never read.
async fn read_start(mut resp: reqwest::Response, url: &Secret) -> Result<Vec<u8>, ProbeError> {
    let mut start = Vec::new();
    while (start.len() as u64) < START_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => start.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                let (url, reason) = (url.clone(), describe(e));
                return Err(ProbeError::BrokeOff { url, reason });
            }
        }
    }
    start.truncate(START_BYTES as usize);
    Ok(start)
}

/// Whether a body's first bytes start a segment; why not is logged.
fn judged(start: &[u8], url: &Secret) -> bool {
    match Check::start(start) {
        Ok(_) => true,
        Err(e) => {
            tracing::debug!("probing {url}: not a segment: {e}");
            false
        }
    }
}

/// A local file is there when it is a file (and, for [`Look::Start`],
/// when its first bytes start a segment).
async fn file_exists(path: &Path, shown: &str, look: Look) -> Result<bool, ProbeError> {
    use tokio::io::AsyncReadExt;
    let local = |error| ProbeError::Local {
        shown: shown.to_string(),
        error,
    };
    let meta = match tokio::fs::metadata(path).await {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(local(e)),
    };
    if !meta.is_file() || look == Look::FirstByte {
        return Ok(meta.is_file());
    }
    let file = tokio::fs::File::open(path).await.map_err(local)?;
    let mut start = Vec::new();
    file.take(START_BYTES)
        .read_to_end(&mut start)
        .await
        .map_err(local)?;
    Ok(Check::start(&start).is_ok())
}
