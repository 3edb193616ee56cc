//! Whether a segment is there, with as little transfer as can be, under
//! the job's headers, limits and retries. Two looks: the first byte and
//! its answer's status (`plan --probe`, whose segments may be encrypted or
//! byte ranges of a larger file), and the start of the body, judged by the
//! segment check (`end: auto`: a server that answers a missing segment
//! with a login page, whatever its `Content-Type`, has no segment there).

use std::path::Path;
use std::sync::atomic::Ordering;

use reqwest::StatusCode;

use super::check::Check;
use super::http::{Answer, Asking, Budget};
use super::outcome::{backoff, describe, status_text, Attempt};
use super::{Ask, Fetcher};
use crate::manifest::env::Secret;
use crate::source::Target;

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
}

/// A probe's outcome: there or not, or an error worth retrying or not.
type Probed = Result<bool, (ProbeError, bool)>;

impl Fetcher {
    /// Whether the segment at `target` is there, by `look`: 404 or 410 is
    /// not; answers other than 200 and 206 are errors (after the job's
    /// retries for passing faults).
    pub async fn exists(&self, req: &Ask, target: &Target, look: Look) -> Result<bool, ProbeError> {
        let url = match target {
            Target::File { path, shown } => return file_exists(path, shown, look).await,
            Target::Http { url, .. } => url,
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.probe_once(req, url, look).await {
                Ok(there) => return Ok(there),
                Err((e, true)) if attempt < req.retry.attempts => {
                    tracing::debug!(job = req.job, attempt, "retrying: {e}");
                    tokio::time::sleep(backoff(&req.retry, attempt)).await;
                }
                Err((e, _)) => return Err(e),
            }
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
        let (resp, slot) = match answer {
            Err(Attempt::Retry { reason, .. }) => return Err((ProbeError::Request(reason), true)),
            Err(Attempt::Fatal { reason, .. }) => return Err((ProbeError::Request(reason), false)),
            Err(Attempt::Done(_)) => return Err((ProbeError::NoAnswer(url.clone()), true)),
            Ok(Answer { resp, slot, .. }) => (resp, slot),
        };
        let status = resp.status();
        match status.as_u16() {
            200 | 206 => {}
            404 | 410 => return Ok(false),
            code => {
                let retry = matches!(code, 408 | 429 | 500..=599);
                return Err((
                    ProbeError::Status {
                        url: url.clone(),
                        status,
                    },
                    retry,
                ));
            }
        }
        let there = match look {
            Look::FirstByte => Ok(!html(&resp)),
            Look::Start => {
                let after = req.timeout.segment;
                let timeout = (
                    ProbeError::Timeout {
                        url: url.clone(),
                        after,
                    },
                    true,
                );
                let start = budget.run(read_start(resp, url)).await.ok_or(timeout)?;
                Ok(judged(&start?, url))
            }
        };
        drop(slot);
        there
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
async fn read_start(
    mut resp: reqwest::Response,
    url: &Secret,
) -> Result<Vec<u8>, (ProbeError, bool)> {
    let mut start = Vec::new();
    while (start.len() as u64) < START_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => start.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => {
                let (url, reason) = (url.clone(), describe(e));
                return Err((ProbeError::BrokeOff { url, reason }, true));
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
