//! The settings of one file: every number in its accepted range
//! ([`super::bounds`]), located, and turned into the plain values of
//! [`crate::common::settings`].

use std::collections::BTreeMap;
use std::time::Duration;

use super::bounds;
use super::model::{self, Loc, Sp};
use super::validate::FileCheck;
use crate::common::settings::stricter_of;
use crate::common::{Limit, Rate, RetryPolicy, RunLimits, Timeouts, Verify};

#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PartialLimit {
    concurrency: Option<u32>,
    rate: Option<Rate>,
    bytes_per_second: Option<u64>,
}

impl PartialLimit {
    fn merge(&mut self, other: PartialLimit) {
        self.concurrency = min_of(self.concurrency, other.concurrency);
        let dummy = |r| Limit {
            concurrency: 1,
            rate: r,
            bytes_per_second: None,
        };
        self.rate = dummy(self.rate).stricter(dummy(other.rate)).rate;
        self.bytes_per_second = stricter_of(self.bytes_per_second, other.bytes_per_second);
    }
    fn resolve(self, default_concurrency: u32) -> Limit {
        Limit {
            concurrency: self.concurrency.unwrap_or(default_concurrency),
            rate: self.rate,
            bytes_per_second: self.bytes_per_second,
        }
    }
}

fn min_of(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The limits one or more files set; the stricter value wins.
#[derive(Debug, Default)]
pub(super) struct PartialLimits {
    global: PartialLimit,
    per_host: PartialLimit,
    hosts: BTreeMap<String, PartialLimit>,
    jobs: Option<u32>,
}

impl PartialLimits {
    pub(super) fn merge(&mut self, other: PartialLimits) {
        self.global.merge(other.global);
        self.per_host.merge(other.per_host);
        for (h, l) in other.hosts {
            self.hosts.entry(h).or_default().merge(l);
        }
        self.jobs = min_of(self.jobs, other.jobs);
    }

    pub(super) fn resolve(self) -> RunLimits {
        let d = RunLimits::default();
        let per_host = self.per_host.resolve(d.per_host.concurrency);
        RunLimits {
            global: self.global.resolve(d.global.concurrency),
            hosts: self
                .hosts
                .into_iter()
                .map(|(h, l)| (h, l.resolve(per_host.concurrency)))
                .collect(),
            per_host,
            jobs: self.jobs.unwrap_or(d.jobs),
        }
    }
}

/// The keys one set of limits has, whichever struct they came from.
struct LimitKeys<'a> {
    concurrency: Option<&'a Sp<i64>>,
    requests_per_second: Option<&'a Sp<f64>>,
    burst: Option<&'a Sp<i64>>,
    bytes_per_second: Option<&'a Sp<model::ByteRateValue>>,
}

impl FileCheck<'_> {
    /// A whole number within `range`; `None` (and a problem) outside it.
    pub(super) fn int_in(&mut self, v: &Sp<i64>, what: &str, range: (i64, i64)) -> Option<u32> {
        let (min, max) = range;
        if (min..=max).contains(&v.value) {
            u32::try_from(v.value).ok()
        } else {
            self.err(
                v.loc,
                format!("{what} must be from {min} to {max}, found {}", v.value),
                format!("set {what} to a whole number from {min} to {max}"),
            );
            None
        }
    }

    /// A length of time within `range`.
    pub(super) fn duration(
        &mut self,
        v: &Sp<model::TimeValue>,
        what: &str,
        range: (Duration, Duration),
    ) -> Option<Duration> {
        match bounds::duration_in(&v.value.0, range) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(
                    v.loc,
                    format!("{what} {e}"),
                    format!(
                        "expected seconds (`4`, `2.5`), H:MM:SS or MM:SS, or a humantime string (`500ms`, `1h2m3s`), from {} to {}",
                        bounds::show(range.0),
                        bounds::show(range.1)
                    ),
                );
                None
            }
        }
    }

    fn limit_keys(&mut self, l: LimitKeys, what: &str) -> PartialLimit {
        let concurrency = l
            .concurrency
            .and_then(|c| self.int_in(c, &format!("{what}.concurrency"), bounds::CONCURRENCY));
        let burst = l
            .burst
            .and_then(|b| self.int_in(b, &format!("{what}.burst"), bounds::BURST));
        let (min, max) = bounds::RATE;
        let rate = match l.requests_per_second {
            Some(r) if !(r.value >= min && r.value <= max) => {
                self.err(
                    r.loc,
                    format!(
                        "{what}.requests_per_second must be from {min} to {max}, found {:?}",
                        r.value
                    ),
                    "leave the key out for no rate limit; 0.001 is one request in 1000 s",
                );
                None
            }
            Some(r) => Some(Rate {
                per_second: r.value,
                burst: burst.unwrap_or(1),
            }),
            None => {
                if let Some(b) = l.burst {
                    self.err(
                        b.loc,
                        format!("{what}.burst is set without a rate"),
                        "burst goes with requests_per_second",
                    );
                }
                None
            }
        };
        let bytes_per_second = self.byte_rate(l.bytes_per_second, what);
        PartialLimit {
            concurrency,
            rate,
            bytes_per_second,
        }
    }

    /// `bytes_per_second` under `what` (`limits.global`, or empty for a
    /// job's own), in its range.
    pub(super) fn byte_rate(
        &mut self,
        v: Option<&Sp<model::ByteRateValue>>,
        what: &str,
    ) -> Option<u64> {
        let v = v?;
        let key = match what {
            "" => "bytes_per_second".to_string(),
            _ => format!("{what}.bytes_per_second"),
        };
        match bounds::parse_byte_rate(&v.value.0) {
            Ok(n) => Some(n),
            Err(e) => {
                self.err(
                    v.loc,
                    format!("{key} {e}"),
                    "expected bytes per second from 1K to 100G (`2M`, `500K`, `1.5MiB/s`; K = 1000); leave the key out for no limit",
                );
                None
            }
        }
    }

    fn limit(&mut self, l: &Sp<model::Limit>, what: &str) -> PartialLimit {
        let keys = LimitKeys {
            concurrency: l.concurrency.as_ref(),
            requests_per_second: l.requests_per_second.as_ref(),
            burst: l.burst.as_ref(),
            bytes_per_second: l.bytes_per_second.as_ref(),
        };
        self.limit_keys(keys, what)
    }

    pub(super) fn limits(&mut self, l: &Sp<model::Limits>) -> PartialLimits {
        let mut out = PartialLimits::default();
        if let Some(g) = &l.global {
            let keys = LimitKeys {
                concurrency: g.concurrency.as_ref(),
                requests_per_second: g.requests_per_second.as_ref(),
                burst: g.burst.as_ref(),
                bytes_per_second: g.bytes_per_second.as_ref(),
            };
            out.global = self.limit_keys(keys, "limits.global");
            out.jobs = g
                .jobs
                .as_ref()
                .and_then(|j| self.int_in(j, "limits.global.jobs", bounds::JOBS));
        }
        if let Some(p) = &l.per_host {
            out.per_host = self.limit(p, "limits.per_host");
        }
        for (h, v) in l.hosts.iter().flatten() {
            let limit = self.limit(v, &format!("limits.hosts.{h}"));
            out.hosts.insert(h.to_ascii_lowercase(), limit);
        }
        out
    }

    pub(super) fn retry(&mut self, base: RetryPolicy, r: Option<&Sp<model::Retry>>) -> RetryPolicy {
        let mut out = base;
        let Some(r) = r else { return out };
        if let Some(a) = &r.attempts {
            out.attempts = self
                .int_in(a, "retry.attempts", bounds::ATTEMPTS)
                .unwrap_or(out.attempts);
        }
        if let Some(b) = &r.backoff {
            out.backoff = self
                .duration(b, "retry.backoff", bounds::BACKOFF)
                .unwrap_or(out.backoff);
        }
        if let Some(b) = &r.max_backoff {
            out.max_backoff = self
                .duration(b, "retry.max_backoff", bounds::BACKOFF)
                .unwrap_or(out.max_backoff);
        }
        out
    }

    pub(super) fn timeout(&mut self, base: Timeouts, t: Option<&Sp<model::Timeout>>) -> Timeouts {
        let mut out = base;
        let Some(t) = t else { return out };
        if let Some(c) = &t.connect {
            out.connect = self
                .duration(c, "timeout.connect", bounds::CONNECT)
                .unwrap_or(out.connect);
        }
        if let Some(c) = &t.segment {
            out.segment = self
                .duration(c, "timeout.segment", bounds::SEGMENT_TIMEOUT)
                .unwrap_or(out.segment);
        }
        out
    }

    pub(super) fn verify(&mut self, base: Verify, v: Option<&Sp<model::Verify>>) -> Verify {
        let mut out = base;
        let Some(t) = v.and_then(|v| v.duration_tolerance.as_ref()) else {
            return out;
        };
        match bounds::parse_tolerance(&t.value.0) {
            Ok(tol) => out.duration_tolerance = tol,
            Err(e) => self.err(
                t.loc,
                format!("verify.duration_tolerance {e}"),
                "expected a percentage (`2%`) or seconds (`1.5s`, `1.5`)",
            ),
        }
        out
    }

    pub(super) fn max_segment_bytes(&mut self, base: u64, v: Option<&Sp<model::SizeValue>>) -> u64 {
        let Some(v) = v else { return base };
        match bounds::parse_size(&v.value.0) {
            Ok(n) => n,
            Err(e) => {
                self.err(
                    v.loc,
                    format!("max_segment_bytes {e}"),
                    "expected bytes or a size with a unit, from 1KiB to 16GiB (e.g. `256MiB`, `10MB`)",
                );
                base
            }
        }
    }

    /// A text no longer than `max` bytes.
    pub(super) fn text_len(&mut self, loc: Loc, text: &str, what: &str, max: usize) -> bool {
        if text.len() <= max {
            return true;
        }
        self.err(
            loc,
            format!(
                "{what} is {} bytes long, more than the {max} accepted",
                text.len()
            ),
            format!("keep {what} to at most {max} bytes"),
        );
        false
    }
}
