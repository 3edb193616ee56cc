//! The run's shared limits, built once from [`RunLimits`] and handed to every
//! job: global and per-host concurrency (tokio semaphores), global and
//! per-host rates (governor: a direct limiter for the run and each named
//! host, a keyed one for all other hosts), per-host pauses from
//! `Retry-After`, each host's rate adapted to its 429s without one
//! ([`super::adapt`]), and the run's and each host's limit in bytes per
//! second ([`super::bytes`]).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::adapt::Adaptive;
use super::bytes::ByteBucket;
use super::throttle::Throttle;
use crate::common::{Rate, RunLimits};
use crate::events::RateAdapted;

fn quota(rate: Rate) -> Quota {
    let period = Duration::from_secs_f64(1.0 / rate.per_second);
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(rate.burst.max(1)).expect("non-zero"))
}

struct Host {
    slots: Arc<Semaphore>,
    /// A named host's own rate; other hosts share the keyed limiter.
    rate: Option<DefaultDirectRateLimiter>,
    paused_until: Mutex<Option<Instant>>,
    /// The host's own limit in bytes per second (named, or `per_host`).
    bytes: Option<Arc<ByteBucket>>,
    /// Its rate as adapted to 429s without `Retry-After`.
    adaptive: Adaptive,
}

/// Shared by all jobs of a run.
pub struct Limiter {
    limits: RunLimits,
    global_slots: Arc<Semaphore>,
    global_rate: Option<DefaultDirectRateLimiter>,
    host_rate: Option<DefaultKeyedRateLimiter<String>>,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    global_bytes: Option<Arc<ByteBucket>>,
    /// Some host has a limit in bytes per second.
    host_bytes: bool,
}

/// Held while one request is in flight.
pub struct Slot {
    _global: OwnedSemaphorePermit,
    _host: Option<OwnedSemaphorePermit>,
    /// When it was given: a 429 to a request sent before its host's rate
    /// was last halved belongs to that storm.
    pub(super) given: Instant,
}

impl Limiter {
    pub fn new(limits: &RunLimits) -> Limiter {
        Limiter {
            global_slots: Arc::new(Semaphore::new(limits.global.concurrency as usize)),
            global_rate: limits.global.rate.map(|r| RateLimiter::direct(quota(r))),
            host_rate: limits.per_host.rate.map(|r| RateLimiter::keyed(quota(r))),
            hosts: Mutex::new(HashMap::new()),
            global_bytes: limits
                .global
                .bytes_per_second
                .map(|b| Arc::new(ByteBucket::new(b))),
            host_bytes: limits.per_host.bytes_per_second.is_some()
                || limits.hosts.values().any(|l| l.bytes_per_second.is_some()),
            limits: limits.clone(),
        }
    }

    fn host(&self, name: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().expect("lock");
        hosts
            .entry(name.to_string())
            .or_insert_with(|| {
                let named = self.limits.hosts.get(name);
                let limit = self.limits.for_host(name);
                Arc::new(Host {
                    slots: Arc::new(Semaphore::new(limit.concurrency as usize)),
                    rate: named
                        .and_then(|l| l.rate)
                        .map(|r| RateLimiter::direct(quota(r))),
                    paused_until: Mutex::new(None),
                    bytes: limit.bytes_per_second.map(|b| Arc::new(ByteBucket::new(b))),
                    adaptive: Adaptive::new(limit.rate.map(|r| r.per_second)),
                })
            })
            .clone()
    }

    /// Waits until one more request may start: the host's pause over, a
    /// slot for the host and a token from its rate, then a slot for the run
    /// and a token from the run's rate. A request waits out its host's
    /// pause holding no slot (nor its job's slot, when every request of
    /// the job waits: [`super::JobSlot`]), and waits for its host before it
    /// takes a slot of the run, so a paused or rate-limited host never
    /// holds the run's slots while other hosts could go on. Every attempt
    /// and every redirect hop goes through here, retries included.
    pub async fn acquire(&self, host: Option<&str>) -> Slot {
        // Local files (no host): only the run's concurrency applies.
        let Some(name) = host else {
            return Slot {
                _global: self.global_slot().await,
                _host: None,
                given: Instant::now(),
            };
        };
        let h = self.host(name);
        loop {
            Self::wait_pause(&h).await;
            let host_slot = h.slots.clone().acquire_owned().await.expect("open");
            self.host_rate(name, &h).await;
            // A pause may have begun while this request waited for its
            // host's slot, its token or the run's slot: give the slots back
            // and wait again.
            if Self::paused(&h) {
                continue;
            }
            let global = self.global_slot().await;
            if Self::paused(&h) {
                continue;
            }
            if let Some(r) = &self.global_rate {
                r.until_ready().await;
            }
            return Slot {
                _global: global,
                _host: Some(host_slot),
                given: Instant::now(),
            };
        }
    }

    async fn global_slot(&self) -> OwnedSemaphorePermit {
        self.global_slots
            .clone()
            .acquire_owned()
            .await
            .expect("open")
    }

    /// Takes a token from the host's rate, and a turn from its adapted
    /// rate once it has one.
    async fn host_rate(&self, name: &str, h: &Host) {
        if let Some(r) = &h.rate {
            r.until_ready().await;
        } else if let (Some(r), false) = (&self.host_rate, self.limits.hosts.contains_key(name)) {
            r.until_key_ready(&name.to_string()).await;
        }
        if let Some(at) = h.adaptive.turn() {
            tokio::time::sleep_until(at).await;
        }
    }

    /// An answer from `host` other than a 429 without `Retry-After`.
    pub fn answered(&self, host: &str) {
        self.host(host).adaptive.answered();
    }

    /// A 429 without `Retry-After` from `host` to a request sent at
    /// `sent`: the host's new rate when this halves it.
    pub fn refused(&self, host: &str, sent: Instant) -> Option<f64> {
        self.host(host).adaptive.refused(sent)
    }

    /// How `host`'s rate was adapted, shown as `shown`; `None` if it never was.
    pub fn rate_adapted(&self, host: &str, shown: &str) -> Option<RateAdapted> {
        let hosts = self.hosts.lock().expect("lock");
        hosts.get(host)?.adaptive.report(shown)
    }

    fn paused(h: &Host) -> bool {
        h.paused_until
            .lock()
            .expect("lock")
            .is_some_and(|t| t > Instant::now())
    }

    async fn wait_pause(h: &Host) {
        loop {
            let until = *h.paused_until.lock().expect("lock");
            match until {
                Some(t) if t > Instant::now() => {
                    super::job_slot::aside(tokio::time::sleep_until(t)).await
                }
                _ => return,
            }
        }
    }

    /// Some limit in bytes per second applies to a host or the run.
    pub fn limits_bytes(&self) -> bool {
        self.host_bytes || self.global_bytes.is_some()
    }

    /// The byte limits a segment's body from `host` is charged to: `job`'s
    /// own, the host's and the run's; empty when none is set.
    pub fn throttle(&self, host: &str, job: Option<&Arc<ByteBucket>>) -> Throttle {
        let mut buckets: Vec<Arc<ByteBucket>> = job.into_iter().cloned().collect();
        if self.host_bytes {
            buckets.extend(self.host(host).bytes.clone());
        }
        buckets.extend(self.global_bytes.clone());
        Throttle::new(buckets)
    }

    /// Pauses every request to `host` for `d` (from `Retry-After`).
    pub fn pause(&self, host: &str, d: Duration) {
        let h = self.host(host);
        let mut p = h.paused_until.lock().expect("lock");
        let until = Instant::now() + d;
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run has one slot. Host a is paused; a request to a waits for the
    /// pause without that slot, so a request to b goes at once. (Tokio's
    /// paused clock: timers fire in order, no wall-clock time is read.)
    #[tokio::test(start_paused = true)]
    async fn a_paused_host_holds_no_slot_of_the_run() {
        let mut limits = RunLimits::default();
        limits.global.concurrency = 1;
        let limiter = Arc::new(Limiter::new(&limits));
        limiter.pause("a", Duration::from_secs(60));
        let waiting = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let _slot = limiter.acquire(Some("a")).await;
                Instant::now()
            })
        };
        tokio::task::yield_now().await;
        let start = Instant::now();
        let b = tokio::time::timeout(Duration::from_secs(1), limiter.acquire(Some("b"))).await;
        assert!(b.is_ok(), "b waited behind a's pause");
        drop(b);
        let a_went = waiting.await.unwrap();
        assert!(a_went >= start + Duration::from_secs(59), "a's pause held");
    }
}
