//! Limits in bytes per second (`bytes_per_second`): a small token bucket
//! per limit (the run's, each host's, each job's). A request pays up front
//! for the bytes it is expected to bring before it is sent, and settles the
//! difference when its body is done ([`super::throttle`]); bytes beyond
//! what was paid are charged as they arrive, chunk by chunk.
//!
//! A charge is taken whole and the payer then waits until the bucket is
//! out of debt: a charge larger than the bucket is never refused or stuck,
//! it only makes the next one wait longer. The bucket holds at most
//! [`capacity`] bytes (a twentieth of a second's worth, at least 16 KiB or
//! one second's worth when that is less), so a burst above the limit is
//! one charge and that share, and a run's average keeps to the limit.
//! Requests that share a limit share its debt.
//!
//! Each bucket also learns the size of the bodies that passed it whole
//! (the estimate a request pays for when its size is not known), and has
//! a gate that lets one request of unknown size at a time through while no
//! size is known yet.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// One limit in bytes per second.
#[derive(Debug)]
pub struct ByteBucket {
    per_second: f64,
    capacity: f64,
    state: Mutex<Fill>,
    /// Held by the one request in flight while no body size is known.
    pub(super) gate: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
struct Fill {
    /// Bytes that may pass now; below zero, the debt to wait out.
    tokens: f64,
    at: Instant,
    /// Bodies that passed whole, and their bytes.
    bodies: u64,
    body_bytes: u64,
}

impl Fill {
    fn refill(&mut self, per_second: f64, capacity: f64) {
        let now = Instant::now();
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * per_second;
        self.tokens = (self.tokens + refill).min(capacity);
        self.at = now;
    }
}

/// The most a bucket of `per_second` holds: 1/20 s's worth, or 16 KiB
/// (but no more than one second's worth) when that is more.
pub fn capacity(per_second: u64) -> u64 {
    (per_second / 20).max(per_second.min(16 * 1024))
}

impl ByteBucket {
    /// A full bucket for `per_second` bytes each second (at least 1).
    pub fn new(per_second: u64) -> ByteBucket {
        let per_second = per_second.max(1);
        let capacity = capacity(per_second) as f64;
        ByteBucket {
            per_second: per_second as f64,
            capacity,
            state: Mutex::new(Fill {
                tokens: capacity,
                at: Instant::now(),
                bodies: 0,
                body_bytes: 0,
            }),
            gate: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    fn fill(&self) -> std::sync::MutexGuard<'_, Fill> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Charges `n` bytes; how long the payer waits before it goes on.
    pub fn charge(&self, n: u64) -> Duration {
        let mut s = self.fill();
        s.refill(self.per_second, self.capacity);
        s.tokens -= n as f64;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / self.per_second)
        }
    }

    /// Gives back `n` bytes paid for and not sent; the bucket never holds
    /// more than its capacity.
    pub fn credit(&self, n: u64) {
        let mut s = self.fill();
        s.refill(self.per_second, self.capacity);
        s.tokens = (s.tokens + n as f64).min(self.capacity);
    }

    /// A body of `n` bytes passed whole.
    pub fn passed(&self, n: u64) {
        let mut s = self.fill();
        s.bodies += 1;
        s.body_bytes = s.body_bytes.saturating_add(n);
    }

    /// The average size of the bodies that passed whole; `None` before one.
    pub fn estimate(&self) -> Option<u64> {
        let s = self.fill();
        (s.bodies > 0).then(|| s.body_bytes / s.bodies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_holds_a_twentieth_of_a_second_or_16_kib() {
        assert_eq!(capacity(100_000_000), 5_000_000);
        assert_eq!(capacity(100_000), 16 * 1024);
        assert_eq!(capacity(1000), 1000);
    }

    /// A credit pays a debt back, but never fills the bucket past its
    /// capacity. (Tokio's paused clock: no refill in between.)
    #[tokio::test(start_paused = true)]
    async fn a_credit_never_fills_the_bucket_past_its_capacity() {
        let b = ByteBucket::new(100_000);
        let full = capacity(100_000);
        assert_eq!(b.charge(full + 50_000), Duration::from_millis(500));
        b.credit(30_000);
        assert_eq!(b.charge(0), Duration::from_millis(200));
        b.credit(10_000_000);
        assert_eq!(b.charge(full), Duration::ZERO);
        assert_eq!(b.charge(1000), Duration::from_millis(10));
    }

    #[test]
    fn the_estimate_is_the_average_body_passed_whole() {
        let b = ByteBucket::new(1000);
        assert_eq!(b.estimate(), None);
        b.passed(1000);
        b.passed(3000);
        assert_eq!(b.estimate(), Some(2000));
    }
}
