//! The resolved, plain values that later stages use: every default filled
//! in, every number checked. Limits are a value handed to the engine, never
//! a global.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A rate: `per_second` requests started per second, `burst` more at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

/// One set of limits after defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limit {
    pub concurrency: u32,
    pub rate: Option<Rate>,
    /// Segment body bytes per second (`bytes_per_second`), when limited.
    pub bytes_per_second: Option<u64>,
}

/// The limits of a run: the whole run, every host, and named hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLimits {
    pub global: Limit,
    pub per_host: Limit,
    pub hosts: BTreeMap<String, Limit>,
    /// Jobs in flight at once (`limits.global.jobs`).
    pub jobs: u32,
}

pub const DEFAULT_GLOBAL_CONCURRENCY: u32 = 64;
pub const DEFAULT_HOST_CONCURRENCY: u32 = 8;
pub const DEFAULT_JOB_CONCURRENCY: u32 = 8;
/// Jobs in flight at once unless `limits.global.jobs` says otherwise.
pub const DEFAULT_JOBS: u32 = 4;
/// The largest segment body unless `max_segment_bytes` says otherwise.
pub const DEFAULT_MAX_SEGMENT_BYTES: u64 = 256 * 1024 * 1024;

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            global: Limit {
                concurrency: DEFAULT_GLOBAL_CONCURRENCY,
                rate: None,
                bytes_per_second: None,
            },
            per_host: Limit {
                concurrency: DEFAULT_HOST_CONCURRENCY,
                rate: None,
                bytes_per_second: None,
            },
            hosts: BTreeMap::new(),
            jobs: DEFAULT_JOBS,
        }
    }
}

impl RunLimits {
    /// The limits that apply to `host` (case-insensitive, port ignored).
    pub fn for_host(&self, host: &str) -> Limit {
        let host = host.to_ascii_lowercase();
        self.hosts.get(&host).copied().unwrap_or(self.per_host)
    }
}

impl Limit {
    /// The stricter of two limits, value by value.
    pub fn stricter(self, other: Limit) -> Limit {
        Limit {
            concurrency: self.concurrency.min(other.concurrency),
            rate: match (self.rate, other.rate) {
                (Some(a), Some(b)) => Some(Rate {
                    per_second: a.per_second.min(b.per_second),
                    burst: a.burst.min(b.burst),
                }),
                (a, b) => a.or(b),
            },
            bytes_per_second: stricter_of(self.bytes_per_second, other.bytes_per_second),
        }
    }
}

/// The smaller of two optional limits; a limit wins over none.
pub fn stricter_of(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Retries of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetryPolicy {
    pub attempts: u32,
    #[serde(with = "secs")]
    pub backoff: Duration,
    #[serde(with = "secs")]
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Timeouts of one request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timeouts {
    #[serde(with = "secs")]
    pub connect: Duration,
    #[serde(with = "secs")]
    pub segment: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            segment: Duration::from_secs(120),
        }
    }
}

/// How far a merged file's length may be from the expected one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// A share of the expected length, in percent.
    Percent(f64),
    /// Seconds either way.
    Seconds(f64),
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance::Percent(2.0)
    }
}

impl Tolerance {
    /// The tolerance in seconds for a video expected to last `expected_s`.
    pub fn seconds_of(&self, expected_s: f64) -> f64 {
        match *self {
            Tolerance::Percent(p) => expected_s * p / 100.0,
            Tolerance::Seconds(s) => s,
        }
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tolerance::Percent(p) => write!(f, "{p}%"),
            Tolerance::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

impl Serialize for Tolerance {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How a merged file is checked.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Verify {
    pub duration_tolerance: Tolerance,
}

mod secs {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_in_seconds_and_words() {
        assert_eq!(Tolerance::default().seconds_of(100.0), 2.0);
        assert_eq!(Tolerance::Seconds(1.5).seconds_of(100.0), 1.5);
        assert_eq!(Tolerance::Percent(2.5).to_string(), "2.5%");
        assert_eq!(Tolerance::Seconds(1.5).to_string(), "1.5s");
    }

    #[test]
    fn stricter_takes_the_smaller_of_each() {
        let a = Limit {
            concurrency: 4,
            rate: None,
            bytes_per_second: Some(1000),
        };
        let b = Limit {
            concurrency: 8,
            rate: Some(Rate {
                per_second: 5.0,
                burst: 2,
            }),
            bytes_per_second: Some(500),
        };
        let s = a.stricter(b);
        assert_eq!(s.bytes_per_second, Some(500));
        assert_eq!(stricter_of(None, Some(7)), Some(7));
        assert_eq!(s.concurrency, 4);
        assert_eq!(s.rate.unwrap().per_second, 5.0);
    }
}
