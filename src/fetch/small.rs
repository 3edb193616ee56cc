//! Small bodies read into memory: playlists, AES keys, init segments. The
//! same limits, headers, timeouts and retries as segments; the body is
//! capped, and its final URL (after redirects) comes back for resolving
//! relative URIs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::header::HeaderMap;

use super::http::{Answer, Asking, Budget};
use super::segment::{backoff, describe, status_text, Attempt};
use super::{Fetcher, JobFetch};
use crate::manifest::env::Secret;
use crate::manifest::{RetryPolicy, Timeouts};
use crate::source::{ByteRange, Target};

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
}

impl Ask {
    /// Header values from the environment are marked sensitive.
    pub fn new(
        job: &str,
        headers: &[(String, Secret)],
        retry: RetryPolicy,
        timeout: Timeouts,
    ) -> Result<Ask, String> {
        let map = super::segment::header_map(headers)?;
        Ok(Ask {
            job: job.to_string(),
            headers: map,
            retry,
            timeout,
            redirects: Default::default(),
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
enum Try {
    Done(Small),
    Retry(String),
    Fatal(String),
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
    ) -> Result<Small, String> {
        match crate::source::target_of(url.clone(), std::path::Path::new("")) {
            Ok(Target::Http { .. }) => {}
            Ok(Target::File { .. }) => {
                return Err(format!("{what} {url} is not an http(s) URL"));
            }
            Err(e) => return Err(format!("{what}: {e}")),
        }
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = {
                // Each hop takes its host's slot and token in `request`.
                let once = self.small_once(req, url, range, max, what);
                tokio::time::timeout(req.timeout.segment, once)
                    .await
                    .unwrap_or_else(|_| {
                        Try::Retry(format!(
                            "{what} {url} took longer than the timeout of {:?}",
                            req.timeout.segment
                        ))
                    })
            };
            match outcome {
                Try::Done(s) => return Ok(s),
                Try::Fatal(e) => return Err(e),
                Try::Retry(e) if attempt >= req.retry.attempts => {
                    return Err(if attempt > 1 {
                        format!("{e} (gave up after {attempt} attempts)")
                    } else {
                        e
                    });
                }
                Try::Retry(e) => {
                    tracing::debug!(job = req.job, attempt, "retrying: {e}");
                    tokio::time::sleep(backoff(&req.retry, attempt)).await;
                }
            }
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
        };
        let range_header = range.map(|r| r.header());
        let answer = self
            .request(ask, url, range_header, &mut budget, &mut redirects)
            .await;
        req.redirects.fetch_add(redirects.into(), Ordering::Relaxed);
        let Answer { mut resp, slot, .. } = match answer {
            Ok(a) => a,
            Err(Attempt::Fatal { reason, .. }) => return Try::Fatal(format!("{what}: {reason}")),
            Err(Attempt::Retry { reason, .. }) => return Try::Retry(format!("{what}: {reason}")),
            Err(Attempt::Done(_)) => return Try::Retry(format!("{what} {url}: no answer")),
        };
        let status = resp.status();
        let wanted = if range.is_some() { 206 } else { 200 };
        if status.as_u16() != wanted {
            let msg = format!("{what} {url}: HTTP {}", status_text(status));
            return match status.as_u16() {
                408 | 429 | 500..=599 => Try::Retry(msg),
                200 => Try::Fatal(format!(
                    "{msg}: the server ignored the byte range snatch asked for"
                )),
                _ => Try::Fatal(msg),
            };
        }
        if let Some(Err(e)) = range.map(|r| super::segment::range_answered(&resp, r)) {
            return Try::Retry(format!("{what} {url}: {e}"));
        }
        let final_url = resp.url().to_string();
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    if (body.len() + c.len()) as u64 > max {
                        return Try::Fatal(format!("{what} {url} is larger than {max} bytes"));
                    }
                    body.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) => return Try::Retry(format!("{what} {url}: {}", describe(e))),
            }
        }
        if let Some(r) = range {
            if body.len() as u64 != r.length {
                return Try::Retry(format!(
                    "{what} {url}: sent {} of {} bytes",
                    body.len(),
                    r.length
                ));
            }
        }
        drop(slot);
        Try::Done(Small { body, final_url })
    }
}

impl Fetcher {
    /// Whether a segment exists, with as little transfer as can be: a GET
    /// of its first byte (`Range: bytes=0-0`). 200 or 206 with a body that
    /// is not an HTML page: yes; 404 or 410: no; other answers are errors
    /// (after the job's retries for passing faults).
    pub async fn exists(&self, req: &Ask, target: &Target) -> Result<bool, String> {
        let url = match target {
            Target::File { path, shown } => {
                return match tokio::fs::metadata(path).await {
                    Ok(m) => Ok(m.is_file()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    Err(e) => Err(format!("{shown}: {e}")),
                };
            }
            Target::Http { url, .. } => url,
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut budget = Budget::new(req.timeout.segment);
            let mut redirects = 0;
            let ask = Asking {
                headers: &req.headers,
                timeout: req.timeout,
            };
            let range = Some("bytes=0-0".to_string());
            let answer = self
                .request(ask, url, range, &mut budget, &mut redirects)
                .await;
            req.redirects.fetch_add(redirects.into(), Ordering::Relaxed);
            // Err((reason, worth retrying)).
            let failed = match answer {
                Err(Attempt::Retry { reason, .. }) => (format!("probing: {reason}"), true),
                Err(Attempt::Fatal { reason, .. }) => (format!("probing: {reason}"), false),
                Err(Attempt::Done(_)) => (format!("probing {url}: no answer"), true),
                Ok(Answer { resp, .. }) => {
                    let html = resp
                        .headers()
                        .get(reqwest::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|ct| ct.to_ascii_lowercase().contains("text/html"));
                    let status = resp.status();
                    let reason = format!("probing {url}: HTTP {}", status_text(status));
                    match status.as_u16() {
                        200 | 206 => return Ok(!html),
                        404 | 410 => return Ok(false),
                        408 | 429 | 500..=599 => (reason, true),
                        _ => (reason, false),
                    }
                }
            };
            match failed {
                (e, true) if attempt < req.retry.attempts => {
                    tracing::debug!(job = req.job, attempt, "retrying: {e}");
                    tokio::time::sleep(backoff(&req.retry, attempt)).await;
                }
                (e, _) => return Err(e),
            }
        }
    }
}
