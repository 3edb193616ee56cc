//! One retry loop for every request a job makes: segments, playlists, keys,
//! init segments and `end: auto` probes. An attempt says what it came to
//! ([`Verdict`]); [`retrying`] waits (the job's backoff, or a server's
//! `Retry-After` cut to [`retry_after_cap`]) and tries again until the
//! job's attempts are used up. One list of statuses is retried
//! ([`retryable`]), and a `Retry-After` pauses the host for every request
//! ([`Fetcher::pause_for`]).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::outcome::backoff;
use super::{Fetcher, Slot};
use crate::common::RetryPolicy;
use crate::events::EventKind;

/// What one attempt came to.
pub(super) enum Verdict<T, E> {
    Done(T),
    /// Worth another attempt; `after` is the server's `Retry-After` as
    /// asked (not yet cut to the cap).
    Retry {
        error: E,
        after: Option<Duration>,
    },
    Fatal(E),
}

impl<T, E> Verdict<T, E> {
    /// A failure worth another attempt, with no `Retry-After`.
    pub(super) fn retry(error: E) -> Verdict<T, E> {
        Verdict::Retry { error, after: None }
    }
}

/// Why the loop stopped without a result.
pub(super) struct Failed<E> {
    /// The last attempt's error.
    pub error: E,
    pub attempts: u32,
    pub end: End,
}

/// Whether the last error was final, or the attempts ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Fatal,
    /// Retries used up; a server asked for a longer wait than the cap.
    GaveUp(Option<Overlong>),
}

/// A `Retry-After` longer than the job lets snatch wait: what the server
/// asked (the longest of the request's attempts) and the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlong {
    pub asked: Duration,
    pub cap: Duration,
}

impl fmt::Display for Overlong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server asked to wait {} s (Retry-After) and snatch waited at most {} s \
             (`retry`: `max_backoff` × (`attempts` − 1)): lower `requests_per_second` or \
             `concurrency`, or raise `retry` (`attempts`, `max_backoff`) to wait longer",
            self.asked.as_secs_f64().round(),
            self.cap.as_secs_f64()
        )
    }
}

/// `; ` and the overlong wait, or nothing: for the end of a message.
pub(super) fn overlong_text(o: &Option<Overlong>) -> String {
    o.map(|o| format!("; {o}")).unwrap_or_default()
}

/// The statuses worth another attempt: timeouts, rate limits and faults
/// of the server.
pub(super) fn retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The longest wait for one `Retry-After`: the most the job's own backoff
/// could wait over all of one request's retries, `max_backoff` ×
/// (`attempts` − 1). Defaults: 30 s × 4 = 2 min.
pub(super) fn retry_after_cap(p: &RetryPolicy) -> Duration {
    p.max_backoff.saturating_mul(p.attempts.saturating_sub(1))
}

/// Runs `once` until it is done, fails for good, or the policy's attempts
/// are used up; `on_retry` hears of each retry (the error and the attempt
/// that failed). Between attempts: a server's `Retry-After` cut to the
/// cap, else the backoff. `Ok` holds the number of attempts made.
pub(super) async fn retrying<T, E, Fut>(
    policy: &RetryPolicy,
    mut once: impl FnMut() -> Fut,
    mut on_retry: impl FnMut(&E, u32),
) -> Result<(T, u32), Failed<E>>
where
    Fut: Future<Output = Verdict<T, E>>,
{
    let _working = super::job_slot::Working::start();
    let cap = retry_after_cap(policy);
    let mut overlong: Option<Overlong> = None;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let (error, after) = match once().await {
            Verdict::Done(v) => return Ok((v, attempt)),
            Verdict::Fatal(error) => {
                let end = End::Fatal;
                return Err(Failed {
                    error,
                    attempts: attempt,
                    end,
                });
            }
            Verdict::Retry { error, after } => (error, after),
        };
        if let Some(asked) = after.filter(|&a| a > cap) {
            let asked = overlong.map_or(asked, |o| o.asked.max(asked));
            overlong = Some(Overlong { asked, cap });
        }
        if attempt >= policy.attempts {
            let end = End::GaveUp(overlong);
            return Err(Failed {
                error,
                attempts: attempt,
                end,
            });
        }
        on_retry(&error, attempt);
        match after {
            // The host is paused as long: the job's slot may go meanwhile.
            Some(a) => super::job_slot::aside(tokio::time::sleep(a.min(cap))).await,
            None => tokio::time::sleep(backoff(policy, attempt)).await,
        }
    }
}

impl Fetcher {
    /// Pauses `host` for a server's `Retry-After`, cut to the job's cap,
    /// and says so. Called while the answer's slot is still held, so that
    /// no request slips in between the answer and the pause.
    pub(super) fn pause_for(&self, host: &str, shown: &str, after: Duration, p: &RetryPolicy) {
        let d = after.min(retry_after_cap(p));
        if d.is_zero() {
            return;
        }
        self.limiter.pause(host, d);
        let why = match after > d {
            true => format!(
                "Retry-After (asked {}, cut to the job's cap)",
                humantime::format_duration(Duration::from_secs(after.as_secs()))
            ),
            false => "Retry-After".to_string(),
        };
        self.pauses.begin(host, &shown_host(shown), d, &why);
    }
}

impl Fetcher {
    /// Hears an answer of `host` to a request of `slot`: a 429 without
    /// `Retry-After` may halve the host's rate (and says so), a 429 with
    /// one pauses the host elsewhere, any other answer counts in the rate
    /// the host lets through.
    pub(super) fn heard(&self, host: &str, shown: &str, resp: &reqwest::Response, slot: &Slot) {
        let too_many = resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS;
        match (too_many, super::outcome::retry_after(resp).is_some()) {
            (false, _) => self.limiter.answered(host),
            (true, true) => {}
            (true, false) => {
                if let Some(rate) = self.limiter.refused(host, slot.given) {
                    self.events().tell(EventKind::HostSlowed {
                        host: shown_host(shown),
                        per_second: rate,
                        why: "429 without Retry-After".to_string(),
                    });
                }
            }
        }
    }
}

/// The host of a URL fit for messages (already without secrets), or the
/// text itself when it is no URL.
fn shown_host(shown: &str) -> String {
    reqwest::Url::parse(shown)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| shown.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(100),
        }
    }

    #[test]
    fn the_cap_is_max_backoff_times_the_retries() {
        assert_eq!(retry_after_cap(&policy(2)), Duration::from_millis(100));
        assert_eq!(retry_after_cap(&policy(5)), Duration::from_millis(400));
        assert_eq!(retry_after_cap(&policy(1)), Duration::ZERO);
        assert!(retryable(503) && retryable(408) && retryable(429));
        assert!(!retryable(404) && !retryable(403) && !retryable(206));
    }

    /// A server asking for a day is waited on no longer than the cap, and
    /// the failure says what it asked. (Tokio's paused clock.)
    #[tokio::test(start_paused = true)]
    async fn an_overlong_retry_after_is_cut_to_the_cap() {
        let start = tokio::time::Instant::now();
        let day = Duration::from_secs(86_400);
        let once = || async move {
            Verdict::<(), &str>::Retry {
                error: "busy",
                after: Some(day),
            }
        };
        let mut retries = 0;
        let failed = retrying(&policy(3), once, |_, _| retries += 1)
            .await
            .err()
            .unwrap();
        assert_eq!(retries, 2);
        assert_eq!(failed.attempts, 3);
        let cap = Duration::from_millis(200);
        let over = Overlong { asked: day, cap };
        assert_eq!(failed.end, End::GaveUp(Some(over)));
        assert_eq!(start.elapsed(), cap * 2);
        let text = over.to_string();
        assert!(text.contains("asked to wait 86400 s"), "{text}");
        assert!(text.contains("at most 0.2 s"), "{text}");
    }
}
