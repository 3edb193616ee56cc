//! Limits in bytes per second (`bytes_per_second`): a small token bucket
//! per limit (the run's, each host's, each job's), charged as a segment's
//! body arrives, chunk by chunk.
//!
//! A chunk is charged whole when it has arrived, and the reader then waits
//! until the bucket is out of debt before it reads the next one: a chunk
//! larger than the bucket is never refused or stuck, it only makes the
//! next read wait longer. The bucket holds at most [`capacity`] bytes (a
//! twentieth of a second's worth, at least 16 KiB or one second's worth
//! when that is less), so a burst above the limit is one chunk and that
//! share, and a run's average keeps to the limit. Requests that share a
//! limit share its debt: two bodies at once each read at about half.
//!
//! With no byte limit, a body's reading does no more than test that its
//! [`Throttle`] is empty.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// One limit in bytes per second.
#[derive(Debug)]
pub struct ByteBucket {
    per_second: f64,
    capacity: f64,
    state: Mutex<Fill>,
}

#[derive(Debug)]
struct Fill {
    /// Bytes that may pass now; below zero, the debt to wait out.
    tokens: f64,
    at: Instant,
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
            }),
        }
    }

    /// Charges `n` bytes that arrived; how long the reader waits before it
    /// reads more.
    pub fn charge(&self, n: usize) -> Duration {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let refill = now.saturating_duration_since(s.at).as_secs_f64() * self.per_second;
        s.tokens = (s.tokens + refill).min(self.capacity) - n as f64;
        s.at = now;
        if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / self.per_second)
        }
    }
}

/// The buckets one segment's body is charged to: its job's, its host's and
/// the run's, those that are limited. Also counts the time its body waited
/// for them, which the segment's timeout does not count.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Vec<Arc<ByteBucket>>,
    waited_ns: AtomicU64,
}

impl Throttle {
    pub fn new(buckets: Vec<Arc<ByteBucket>>) -> Throttle {
        Throttle {
            buckets,
            waited_ns: AtomicU64::new(0),
        }
    }

    /// No byte limit applies.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Charges `n` bytes that arrived to every bucket, and waits as long as
    /// the most indebted one asks.
    pub async fn charge(&self, n: usize) {
        let wait = self
            .buckets
            .iter()
            .map(|b| b.charge(n))
            .max()
            .unwrap_or_default();
        if !wait.is_zero() {
            let ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
            self.waited_ns.fetch_add(ns, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }

    /// The time spent waiting so far.
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited_ns.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 100 KB/s read in 64 KiB chunks (larger than the bucket's 16 KiB):
    /// no chunk is stuck, and 2 MB take 20 s, less the first bucketful.
    /// (Tokio's paused clock: the time is the bucket's alone.)
    #[tokio::test(start_paused = true)]
    async fn a_chunk_larger_than_the_bucket_passes_and_the_average_holds() {
        let throttle = Throttle::new(vec![Arc::new(ByteBucket::new(100_000))]);
        let start = Instant::now();
        let chunk = 64 * 1024;
        let mut sent = 0;
        while sent < 2_000_000 {
            throttle.charge(chunk).await;
            sent += chunk;
        }
        let took = start.elapsed().as_secs_f64();
        // The reader waits out each chunk's debt after it arrived: all
        // but the first bucketful took the time the limit gives them.
        let rate = (sent - capacity(100_000) as usize) as f64 / took;
        assert!((rate - 100_000.0).abs() < 500.0, "{rate} B/s over {took} s");
        assert!(throttle.waited() > Duration::from_secs(19));
    }

    /// Two bodies on one bucket share it: together they keep to the limit.
    #[tokio::test(start_paused = true)]
    async fn bodies_that_share_a_bucket_share_its_rate() {
        let bucket = Arc::new(ByteBucket::new(50_000));
        let start = Instant::now();
        let body = |b: Arc<ByteBucket>| async move {
            let t = Throttle::new(vec![b]);
            for _ in 0..50 {
                t.charge(10_000).await;
            }
        };
        tokio::join!(body(bucket.clone()), body(bucket.clone()));
        let took = start.elapsed().as_secs_f64();
        // 1 MB at 50 KB/s: 20 s, less what the full bucket let by at once.
        assert!((took - 20.0).abs() < 0.6, "{took} s");
    }

    #[test]
    fn the_bucket_holds_a_twentieth_of_a_second_or_16_kib() {
        assert_eq!(capacity(100_000_000), 5_000_000);
        assert_eq!(capacity(100_000), 16 * 1024);
        assert_eq!(capacity(1000), 1000);
        assert!(Throttle::default().is_empty());
    }
}
