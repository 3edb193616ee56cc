//! One segment's download: stream to `<index>.ts.part`, check it, rename it
//! to `<index>.ts`, record it in the ledger. Retries with exponential
//! backoff and jitter; `Retry-After` pauses the whole host.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use tokio::io::AsyncReadExt;

use super::ledger::{part_path, segment_path, Ledger};
use super::Fetcher;
use crate::manifest::env::Secret;
use crate::manifest::{RetryPolicy, Timeouts};
use crate::source::{Segment, Target};

/// The MPEG-TS packet size and sync byte.
const TS_PACKET: u64 = 188;
const TS_SYNC: u8 = 0x47;
/// The longest `Retry-After` honoured; longer ones are cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// What one job asks of the fetcher, the same for all its segments.
pub struct JobFetch {
    pub job: String,
    pub headers: HeaderMap,
    pub retry: RetryPolicy,
    pub timeout: Timeouts,
    pub ledger: std::sync::Arc<Ledger>,
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
    ) -> Result<JobFetch, String> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| format!("header {name}: {e}"))?;
            let mut v = HeaderValue::from_str(value.expose())
                .map_err(|_| format!("header {name} is not valid"))?;
            v.set_sensitive(value.is_secret());
            map.insert(n, v);
        }
        Ok(JobFetch {
            job: job.to_string(),
            headers: map,
            retry,
            timeout,
            ledger,
        })
    }
}

/// A segment that arrived whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    pub size: u64,
    pub retries: u32,
}

/// Why a segment could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailKind {
    /// 404, or a local file that does not exist: with duration math, after
    /// the last segment, this is expected.
    NotFound,
    /// Another status that is not retried (403, 410, …).
    Status(u16),
    /// A local file that is not a valid segment, or a template that does
    /// not render.
    Invalid,
    /// Retries used up; the last reason.
    GaveUp,
    /// The segment could not be stored (disk full, permissions).
    Storage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFailure {
    pub index: u64,
    pub kind: FailKind,
    pub retries: u32,
    /// One sentence naming the job, the index and what was wrong.
    pub message: String,
}

impl fmt::Display for SegmentFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// One attempt's outcome.
enum Attempt {
    Done(u64),
    /// Try again; `after` is a server's Retry-After.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    Fatal {
        kind: FailKind,
        reason: String,
    },
}

impl Fetcher {
    /// Fetches one segment, retrying as the job's policy says.
    pub async fn fetch(&self, req: &JobFetch, seg: &Segment) -> Result<Fetched, SegmentFailure> {
        let dir = req.ledger.dir();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = {
                let _slot = self.limiter.acquire(seg.target.host()).await;
                let attempted =
                    tokio::time::timeout(req.timeout.segment, self.attempt(req, seg, dir));
                let outcome = attempted.await.unwrap_or_else(|_| Attempt::Retry {
                    reason: format!(
                        "took longer than the segment timeout of {:?}",
                        req.timeout.segment
                    ),
                    after: None,
                });
                // Pause the host before this slot frees, so that no request
                // slips in between the answer and the pause.
                if let (Attempt::Retry { after: Some(d), .. }, Some(host)) =
                    (&outcome, seg.target.host())
                {
                    self.limiter.pause(host, (*d).min(MAX_RETRY_AFTER));
                }
                outcome
            };
            let retries = attempt - 1;
            let fail = |kind, reason: String| SegmentFailure {
                index: seg.index,
                kind,
                retries,
                message: format!("job `{}`: segment {}: {reason}", req.job, seg.index),
            };
            match outcome {
                Attempt::Done(size) => {
                    // The file is in place under its final name.
                    return match req.ledger.record(seg.index, size) {
                        Ok(()) => Ok(Fetched { size, retries }),
                        Err(e) => Err(fail(FailKind::Storage, format!("cannot store it: {e}"))),
                    };
                }
                Attempt::Fatal { kind, reason } => {
                    let _ = tokio::fs::remove_file(part_path(dir, seg.index)).await;
                    return Err(fail(kind, reason));
                }
                Attempt::Retry { reason, after } => {
                    let _ = tokio::fs::remove_file(part_path(dir, seg.index)).await;
                    if attempt >= req.retry.attempts {
                        let reason = if attempt > 1 {
                            format!("{reason} (gave up after {attempt} attempts)")
                        } else {
                            reason
                        };
                        return Err(fail(FailKind::GaveUp, reason));
                    }
                    tracing::debug!(
                        job = req.job,
                        index = seg.index,
                        attempt,
                        "retrying: {reason}"
                    );
                    // After a Retry-After, the host's pause is the wait.
                    if after.is_none() || seg.target.host().is_none() {
                        tokio::time::sleep(backoff(&req.retry, attempt)).await;
                    }
                }
            }
        }
    }

    async fn attempt(&self, req: &JobFetch, seg: &Segment, dir: &Path) -> Attempt {
        match &seg.target {
            Target::Http { url, .. } => self.attempt_http(req, url, seg, dir).await,
            Target::File { path, shown } => attempt_file(path, shown, seg.index, dir).await,
        }
    }

    async fn attempt_http(
        &self,
        req: &JobFetch,
        url: &Secret,
        seg: &Segment,
        dir: &Path,
    ) -> Attempt {
        let (shown, index) = (url.shown(), seg.index);
        let url = url.expose();
        let client = self.client(req.timeout.connect);
        let mut get = client.get(url).headers(req.headers.clone());
        if let Some(r) = seg.range {
            get = get.header(reqwest::header::RANGE, r.header());
        }
        let resp = match get.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    reason: format!("request to {shown} failed: {}", describe(e)),
                    after: None,
                }
            }
        };
        let status = resp.status();
        if let Some(refused) = range_refused(seg, status, shown) {
            return refused;
        }
        if !status.is_success() {
            let after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let reason = format!("HTTP {} from {shown}", status_text(status));
            return match status.as_u16() {
                404 => Attempt::Fatal {
                    kind: FailKind::NotFound,
                    reason,
                },
                408 | 429 | 500..=599 => Attempt::Retry { reason, after },
                code => Attempt::Fatal {
                    kind: FailKind::Status(code),
                    reason,
                },
            };
        }
        let html = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("text/html"));
        if html {
            return Attempt::Retry {
                reason: format!("{shown} answered 200 with an HTML page, not a video segment"),
                after: None,
            };
        }
        let expected = resp.content_length();
        // A body that is not what it should be may be a passing fault of the
        // server (an error page, a cut connection): try again.
        let retry = |reason: String| Attempt::Retry {
            reason: format!("{shown}: {reason}"),
            after: None,
        };
        let mut part = Part::new(dir, index, is_ts(url));
        // An encrypted body is checked once decrypted, as a whole.
        let mut sealed = seg.key.as_ref().map(|_| Vec::new());
        let mut received = 0u64;
        let mut resp = resp;
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    received += chunk.len() as u64;
                    let written = match &mut sealed {
                        Some(buf) => sealed_push(buf, &chunk),
                        None => part.write(&chunk).await,
                    };
                    if let Err(e) = written {
                        return e.into_attempt(retry);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    return retry(format!(
                        "the body broke off after {received} bytes: {}",
                        describe(e)
                    ))
                }
            }
        }
        if let Some(n) = expected {
            if n != received {
                return retry(format!("sent {received} of {n} bytes (truncated)"));
            }
        }
        if let (Some(mut buf), Some(key)) = (sealed, &seg.key) {
            if let Err(e) = crate::decrypt::decrypt(key, &mut buf) {
                return retry(e);
            }
            if let Err(e) = part.write(&buf).await {
                return e.into_attempt(retry);
            }
        }
        match part.finish().await {
            Ok(size) => Attempt::Done(size),
            Err(e) => e.into_attempt(retry),
        }
    }
}

/// The largest encrypted segment held in memory to be decrypted.
const MAX_SEALED: usize = 256 * 1024 * 1024;

fn sealed_push(buf: &mut Vec<u8>, chunk: &[u8]) -> Result<(), PartError> {
    if buf.len() + chunk.len() > MAX_SEALED {
        return Err(PartError::Invalid(format!(
            "an encrypted segment larger than {MAX_SEALED} bytes"
        )));
    }
    buf.extend_from_slice(chunk);
    Ok(())
}

/// A ranged request (`EXT-X-BYTERANGE`) wants 206; a 200 would be the
/// whole resource, a 206 to an unranged one only part of it.
fn range_refused(seg: &Segment, status: StatusCode, shown: &str) -> Option<Attempt> {
    let ranged = seg.range.is_some();
    let reason = match status.as_u16() {
        200 if ranged => "answered 200 (the whole file) to a byte-range request",
        206 if !ranged => "answered 206 (part of the file) to a request for all of it",
        _ => return None,
    };
    Some(Attempt::Fatal {
        kind: FailKind::Invalid,
        reason: format!("{shown} {reason}"),
    })
}

async fn attempt_file(path: &Path, shown: &str, index: u64, dir: &Path) -> Attempt {
    // A local file does not change between attempts: a bad one is final.
    let invalid = |reason: String| Attempt::Fatal {
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
        Err(e) => return invalid(format!("cannot be read: {e}")),
    };
    let mut part = Part::new(dir, index, is_ts(&path.to_string_lossy()));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match src.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return invalid(format!("cannot be read: {e}")),
        };
        if let Err(e) = part.write(&buf[..n]).await {
            return e.into_attempt(invalid);
        }
    }
    match part.finish().await {
        Ok(size) => Attempt::Done(size),
        Err(e) => e.into_attempt(invalid),
    }
}

/// Bodies up to this size are kept in memory and stored with one trip to
/// the blocking pool (create, write, rename); larger ones spill to their
/// `.part` file in pieces of this size.
const SPILL: usize = 512 * 1024;

/// A segment on its way into its `.part` file, checked as it arrives, and
/// renamed to its final name only once whole and checked.
struct Part {
    buf: Vec<u8>,
    file: Option<std::fs::File>,
    check: Check,
    path: std::path::PathBuf,
    done: std::path::PathBuf,
}

/// Why a `.part` file could not be completed.
enum PartError {
    /// The body is not a valid segment.
    Invalid(String),
    /// The disk refused it.
    Storage(String),
}

impl PartError {
    /// An invalid body becomes what `invalid` says; a storage error is final.
    fn into_attempt(self, invalid: impl Fn(String) -> Attempt) -> Attempt {
        match self {
            PartError::Invalid(reason) => invalid(reason),
            PartError::Storage(reason) => Attempt::Fatal {
                kind: FailKind::Storage,
                reason,
            },
        }
    }
}

impl Part {
    /// Nothing touches the disk until the first spill.
    fn new(dir: &Path, index: u64, ts: bool) -> Part {
        Part {
            buf: Vec::new(),
            file: None,
            check: Check::new(ts),
            path: part_path(dir, index),
            done: segment_path(dir, index),
        }
    }

    async fn write(&mut self, chunk: &[u8]) -> Result<(), PartError> {
        self.check.feed(chunk).map_err(PartError::Invalid)?;
        self.buf.extend_from_slice(chunk);
        if self.buf.len() >= SPILL {
            self.spill(false).await?;
        }
        Ok(())
    }

    /// Writes what is buffered to the `.part` file (creating it), and with
    /// `rename` moves the file to its final name.
    async fn spill(&mut self, rename: bool) -> Result<(), PartError> {
        let buf = std::mem::take(&mut self.buf);
        let file = self.file.take();
        let (path, done) = (self.path.clone(), self.done.clone());
        let stored = tokio::task::spawn_blocking(move || {
            use std::io::Write;
            let mut file = match file {
                Some(f) => f,
                None => std::fs::File::create(&path)?,
            };
            file.write_all(&buf)?;
            if rename {
                drop(file);
                std::fs::rename(&path, &done)?;
                return Ok((None, buf));
            }
            Ok::<_, std::io::Error>((Some(file), buf))
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        match stored {
            Ok((file, mut buf)) => {
                buf.clear();
                self.file = file;
                self.buf = buf;
                Ok(())
            }
            Err(e) => Err(PartError::Storage(format!(
                "cannot write {}: {e}",
                self.path.display()
            ))),
        }
    }

    /// Checks the whole, stores it under its final name; returns the size.
    async fn finish(mut self) -> Result<u64, PartError> {
        self.check.finish().map_err(PartError::Invalid)?;
        self.spill(true).await?;
        Ok(self.check.len)
    }
}

/// Checks a body as it streams: every 188th byte is the TS sync byte, and
/// the length is a whole number of packets.
struct Check {
    ts: bool,
    len: u64,
}

impl Check {
    fn new(ts: bool) -> Check {
        Check { ts, len: 0 }
    }

    fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        if self.ts {
            let first = (TS_PACKET - self.len % TS_PACKET) % TS_PACKET;
            let mut i = first as usize;
            while i < chunk.len() {
                if chunk[i] != TS_SYNC {
                    let at = self.len + i as u64;
                    return Err(if at == 0 {
                        format!("not an MPEG-TS segment (starts with {})", preview(chunk))
                    } else {
                        format!("not a valid MPEG-TS segment (no sync byte at byte {at})")
                    });
                }
                i += TS_PACKET as usize;
            }
        }
        self.len += chunk.len() as u64;
        Ok(())
    }

    fn finish(&self) -> Result<(), String> {
        if self.len == 0 {
            return Err("the body is empty".into());
        }
        if self.ts && !self.len.is_multiple_of(TS_PACKET) {
            return Err(format!(
                "{} bytes is not a whole number of 188-byte MPEG-TS packets",
                self.len
            ));
        }
        Ok(())
    }
}

fn preview(chunk: &[u8]) -> String {
    let head: String = String::from_utf8_lossy(&chunk[..chunk.len().min(24)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("`{}`", head.trim())
}

/// Whether the URL's path (query and fragment aside) ends in `.ts`.
fn is_ts(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.to_ascii_lowercase().ends_with(".ts")
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
    fn ts_check_finds_html_and_truncation() {
        let mut c = Check::new(true);
        assert!(c
            .feed(b"<!DOCTYPE html><html>")
            .unwrap_err()
            .contains("<!DOCTYPE html>"));
        let mut packet = vec![0u8; 188];
        packet[0] = TS_SYNC;
        let mut c = Check::new(true);
        c.feed(&packet[..100]).unwrap();
        c.feed(&packet[100..]).unwrap();
        c.feed(&packet).unwrap();
        assert!(c.finish().is_ok());
        c.feed(&packet[..50]).unwrap();
        assert!(c.finish().unwrap_err().contains("188-byte"));
        let mut bad = packet.clone();
        bad.extend_from_slice(&[0u8; 188]);
        assert!(Check::new(true)
            .feed(&bad)
            .unwrap_err()
            .contains("byte 188"));
    }

    #[tokio::test]
    async fn a_part_appears_under_its_final_name_only_whole_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let mut packet = [0u8; 188];
        packet[0] = TS_SYNC;
        // Three spills' worth and a bit: written in pieces, renamed at the end.
        let body: Vec<u8> = packet.repeat(SPILL * 3 / 188 + 7);
        let mut part = Part::new(dir.path(), 9, true);
        for chunk in body.chunks(10_000) {
            part.write(chunk).await.ok().unwrap();
            assert!(!segment_path(dir.path(), 9).exists());
        }
        assert!(part_path(dir.path(), 9).exists(), "a large body spills");
        assert_eq!(part.finish().await.ok(), Some(body.len() as u64));
        assert_eq!(std::fs::read(segment_path(dir.path(), 9)).unwrap(), body);
        assert!(!part_path(dir.path(), 9).exists());

        // A body cut mid-packet is refused and never renamed.
        let mut part = Part::new(dir.path(), 10, true);
        part.write(&body[..1000]).await.ok().unwrap();
        assert!(matches!(part.finish().await, Err(PartError::Invalid(_))));
        assert!(!segment_path(dir.path(), 10).exists());
    }

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
        assert!(is_ts("https://h/a/1.ts?x=y.mp4"));
        assert!(!is_ts("https://h/a/1.m4s"));
    }
}
