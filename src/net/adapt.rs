//! The rate snatch adapts to a host that answers 429 (Too Many Requests)
//! without `Retry-After`: additive increase, multiplicative decrease.
//!
//! - A storm of 429s halves the host's rate once: a 429 to a request sent
//!   before the last halving is part of the storm that caused it.
//! - The first halving starts from the rate the host let through: the
//!   answers other than 429 in the last second (a sliding count), or the
//!   job file's rate for the host when that is lower; at least
//!   [`FLOOR`] × 2.
//! - The rate then grows by a twentieth of its ceiling each second without
//!   a new storm: the job file's rate for the host, or, with none, the
//!   rate the host let through at the first storm. Without a rate in the
//!   job file it may grow past that, until the next storm.
//! - Never below [`FLOOR`]: one request in ten seconds.
//!
//! A 429 with `Retry-After` pauses the host instead (see
//! [`super::Limiter::pause`]).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::events::RateAdapted;

/// The lowest adapted rate, in requests per second.
pub const FLOOR: f64 = 0.1;

/// A host's adapted rate and what it is built from.
#[derive(Debug)]
pub struct Adaptive {
    /// The job file's rate for the host, if it sets one.
    ceiling: Option<f64>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Answers other than 429 in the current whole second since `origin`,
    /// and in the one before.
    origin: Instant,
    second: u64,
    this_second: u32,
    last_second: u32,
    adapted: Option<Adapted>,
}

#[derive(Debug, Clone, Copy)]
struct Adapted {
    /// The rate at `since`, growing by `step` each second after.
    per_second: f64,
    since: Instant,
    step: f64,
    /// When the next request may start.
    next: Instant,
    halvings: u32,
    lowest: f64,
}

impl Adapted {
    fn rate(&self, ceiling: Option<f64>, now: Instant) -> f64 {
        let grown = self.per_second + self.step * now.duration_since(self.since).as_secs_f64();
        ceiling.map_or(grown, |c| grown.min(c))
    }
}

impl Adaptive {
    pub fn new(ceiling: Option<f64>) -> Adaptive {
        Adaptive {
            ceiling,
            state: Mutex::new(State {
                origin: Instant::now(),
                second: 0,
                this_second: 0,
                last_second: 0,
                adapted: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An answer other than 429: counted for the rate the host lets through.
    pub fn answered(&self) {
        let mut s = self.lock();
        s.roll(Instant::now());
        s.this_second = s.this_second.saturating_add(1);
    }

    /// A 429 without `Retry-After` to a request sent at `sent`: the new
    /// rate when it halves the host's, `None` when it belongs to the storm
    /// of the last halving.
    pub fn refused(&self, sent: Instant) -> Option<f64> {
        let mut s = self.lock();
        let now = Instant::now();
        if s.adapted.is_some_and(|a| sent < a.since) {
            return None;
        }
        let from = match s.adapted {
            Some(a) => a.rate(self.ceiling, now),
            None => {
                let seen = s.seen(now).max(2.0 * FLOOR);
                self.ceiling.map_or(seen, |c| c.min(seen))
            }
        };
        let rate = (from / 2.0).max(FLOOR);
        let step = s
            .adapted
            .map_or_else(|| self.ceiling.unwrap_or(from) / 20.0, |a| a.step);
        let lowest = s.adapted.map_or(rate, |a| a.lowest.min(rate));
        let halvings = s.adapted.map_or(1, |a| a.halvings.saturating_add(1));
        s.adapted = Some(Adapted {
            per_second: rate,
            since: now,
            step: step.max(FLOOR / 20.0),
            next: now,
            halvings,
            lowest,
        });
        Some(rate)
    }

    /// When the next request to the host may start, taking that turn;
    /// `None` while the host's rate was never adapted.
    pub fn turn(&self) -> Option<Instant> {
        let mut s = self.lock();
        let ceiling = self.ceiling;
        let a = s.adapted.as_mut()?;
        let now = Instant::now();
        let at = a.next.max(now);
        let gap = Duration::from_secs_f64(1.0 / a.rate(ceiling, at));
        a.next = at + gap;
        Some(at)
    }

    /// What the adaptation did, for the report; `None` if it never began.
    pub fn report(&self, host: &str) -> Option<RateAdapted> {
        let s = self.lock();
        let a = s.adapted?;
        Some(RateAdapted {
            host: host.to_string(),
            halvings: a.halvings,
            lowest_per_second: round(a.lowest),
            last_per_second: round(a.rate(self.ceiling, Instant::now())),
        })
    }
}

/// Rates in reports: two decimals.
fn round(r: f64) -> f64 {
    (r * 100.0).round() / 100.0
}

impl State {
    /// Moves the count on to the second `now` falls in.
    fn roll(&mut self, now: Instant) {
        let second = now.duration_since(self.origin).as_secs();
        if second == self.second {
            return;
        }
        self.last_second = if second == self.second + 1 {
            self.this_second
        } else {
            0
        };
        self.this_second = 0;
        self.second = second;
    }

    /// Answers other than 429 in the second before `now`: this second's
    /// and the part of the last one that second still covers.
    fn seen(&mut self, now: Instant) -> f64 {
        self.roll(now);
        let into = now.duration_since(self.origin).as_secs_f64().fract();
        f64::from(self.this_second) + f64::from(self.last_second) * (1.0 - into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20 answers, then a storm: the rate halves once (10/s), later 429s
    /// of requests sent before the halving change nothing, one sent after
    /// halves it again, and it grows back by 1/s each second.
    #[tokio::test(start_paused = true)]
    async fn a_storm_halves_the_rate_once_and_it_grows_back() {
        let a = Adaptive::new(None);
        assert_eq!(a.turn(), None);
        let before = Instant::now();
        for _ in 0..20 {
            a.answered();
        }
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(a.refused(before), Some(10.0));
        assert_eq!(a.refused(before), None, "the same storm");
        tokio::time::advance(Duration::from_secs(2)).await;
        // 10/s + 2 s × 1/s (a twentieth of the 20/s seen).
        assert!((a.report("h").unwrap().last_per_second - 12.0).abs() < 0.01);
        assert_eq!(a.refused(Instant::now()), Some(6.0));
        let r = a.report("h").unwrap();
        assert_eq!((r.halvings, r.lowest_per_second), (2, 6.0));
    }

    /// With a rate in the job file the adapted rate starts from it (when
    /// lower than what was seen) and never grows past it.
    #[tokio::test(start_paused = true)]
    async fn the_job_files_rate_is_the_ceiling() {
        let a = Adaptive::new(Some(8.0));
        for _ in 0..50 {
            a.answered();
        }
        assert_eq!(a.refused(Instant::now()), Some(4.0));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(a.report("h").unwrap().last_per_second, 8.0);
    }

    /// Turns are spaced by the rate: 4/s, one each 250 ms.
    #[tokio::test(start_paused = true)]
    async fn turns_follow_the_adapted_rate() {
        let a = Adaptive::new(Some(8.0));
        for _ in 0..8 {
            a.answered();
        }
        a.refused(Instant::now());
        let t0 = a.turn().unwrap();
        let t1 = a.turn().unwrap();
        let gap = t1.duration_since(t0).as_secs_f64();
        assert!((gap - 0.25).abs() < 0.01, "{gap}");
    }

    /// A host that refuses everything: from the floor's double, and never
    /// below the floor.
    #[tokio::test(start_paused = true)]
    async fn never_below_the_floor() {
        let a = Adaptive::new(None);
        let mut last = None;
        for _ in 0..10 {
            last = a.refused(Instant::now());
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        assert_eq!(last, Some(FLOOR));
    }
}
