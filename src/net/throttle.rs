//! What one attempt at a segment pays to the byte limits ([`super::bytes`]).
//!
//! A server sends a body as fast as the kernel's buffers take it in, and
//! they take in much of a segment at once: a limit charged only as the
//! body is read would let every connection's server run a segment ahead.
//! So a request pays before it is sent, for the bytes it is expected to
//! bring: the length of its byte range when the plan knows it, else the
//! average body its limits have seen. While none has been seen, one
//! request of unknown size at a time goes through each limit (it is
//! charged as it is read), and the others wait until its size is known.
//!
//! When the body is read, bytes beyond what was paid are charged as they
//! arrive (the reader waits out the debt), and what was paid and not sent
//! is given back when the attempt ends (a bucket never holds more than its
//! capacity). So the server sends no more than the limit allows plus the
//! bucket and one body's difference from the estimate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

use super::bytes::ByteBucket;

/// The buckets one attempt at a segment is charged to: its job's, its
/// host's and the run's, those that are limited. Also counts the time its
/// body waited for them, which the segment's timeout does not count.
#[derive(Debug, Default)]
pub struct Throttle {
    buckets: Vec<Arc<ByteBucket>>,
    /// Bytes paid before the request was sent.
    prepaid: u64,
    /// Body bytes arrived so far.
    arrived: AtomicU64,
    waited_ns: AtomicU64,
    /// The buckets' gates, held while this request is the one of unknown
    /// size.
    gates: Vec<OwnedMutexGuard<()>>,
}

impl Throttle {
    pub fn new(buckets: Vec<Arc<ByteBucket>>) -> Throttle {
        Throttle {
            buckets,
            prepaid: 0,
            arrived: AtomicU64::new(0),
            waited_ns: AtomicU64::new(0),
            gates: Vec::new(),
        }
    }

    /// No byte limit applies.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Before the request is sent: pays for `size` bytes (a byte range's
    /// length) or the bytes its limits expect, and waits out the debt.
    /// With no size known yet, waits to be the one request of unknown size
    /// (holding no slot: its job's slot is given back if all its requests
    /// wait) and pays nothing.
    pub async fn prepay(&mut self, size: Option<u64>) {
        if self.is_empty() {
            return;
        }
        let expected = match size.or_else(|| self.estimate()) {
            Some(n) => n,
            None => {
                let gates = self.buckets.iter().map(|b| b.gate.clone()).collect();
                self.gates = super::job_slot::aside(lock_in_order(gates)).await;
                // The one before may have made a size known meanwhile.
                match self.estimate() {
                    Some(n) => {
                        self.gates.clear();
                        n
                    }
                    None => return,
                }
            }
        };
        self.prepaid = expected;
        let wait = self.charge_all(expected);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The average body of the first limit that has seen one: the job's,
    /// the host's, then the run's.
    fn estimate(&self) -> Option<u64> {
        self.buckets.iter().find_map(|b| b.estimate())
    }

    fn charge_all(&self, n: u64) -> Duration {
        self.buckets
            .iter()
            .map(|b| b.charge(n))
            .max()
            .unwrap_or_default()
    }

    /// `n` bytes of the body arrived: those beyond what was paid are
    /// charged to every bucket, and the reader waits as long as the most
    /// indebted one asks.
    pub async fn charge(&self, n: usize) {
        let n = n as u64;
        let before = self.arrived.fetch_add(n, Ordering::Relaxed);
        let over = before
            .saturating_add(n)
            .saturating_sub(self.prepaid.max(before));
        if over == 0 {
            return;
        }
        let wait = self.charge_all(over);
        if !wait.is_zero() {
            let ns = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
            self.waited_ns.fetch_add(ns, Ordering::Relaxed);
            tokio::time::sleep(wait).await;
        }
    }

    /// The body arrived whole: its size teaches the buckets what to expect.
    pub fn passed(&self) {
        let n = self.arrived.load(Ordering::Relaxed);
        for b in &self.buckets {
            b.passed(n);
        }
    }

    /// The request was redirected to a host with other limits (`to`, a
    /// throttle that paid nothing): what was paid moves with it, given
    /// back to the buckets left behind and charged to the new ones (the
    /// request is under way: the debt delays those after it).
    pub fn moved_to(mut self, mut to: Throttle) -> Throttle {
        let has =
            |list: &[Arc<ByteBucket>], b: &Arc<ByteBucket>| list.iter().any(|x| Arc::ptr_eq(x, b));
        for b in self.buckets.iter().filter(|b| !has(&to.buckets, b)) {
            b.credit(self.prepaid);
        }
        for b in to.buckets.iter().filter(|b| !has(&self.buckets, b)) {
            b.charge(self.prepaid);
        }
        to.prepaid = std::mem::take(&mut self.prepaid);
        to.gates = std::mem::take(&mut self.gates);
        to
    }

    /// The time the body spent waiting so far.
    pub fn waited(&self) -> Duration {
        Duration::from_nanos(self.waited_ns.load(Ordering::Relaxed))
    }
}

impl Drop for Throttle {
    /// What was paid and not sent goes back to the buckets.
    fn drop(&mut self) {
        let unsent = self
            .prepaid
            .saturating_sub(self.arrived.load(Ordering::Relaxed));
        if unsent > 0 {
            for b in &self.buckets {
                b.credit(unsent);
            }
        }
    }
}

/// Every gate, one after the other in the order given (the job's, the
/// host's, the run's: the same order for every request, so none waits for
/// a gate held by one that waits for its own).
async fn lock_in_order(gates: Vec<Arc<tokio::sync::Mutex<()>>>) -> Vec<OwnedMutexGuard<()>> {
    let mut held = Vec::with_capacity(gates.len());
    for g in gates {
        held.push(g.lock_owned().await);
    }
    held
}

#[cfg(test)]
mod tests;
