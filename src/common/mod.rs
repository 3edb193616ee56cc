//! What every stage shares, importing nothing else of snatch: values that
//! may hold secrets ([`Secret`]) and the one masking function, the
//! resolved settings a run is given, the origins secrets may go to,
//! located problems ([`diag`]), header rules, numbers for people, the
//! output container, the form of a shard, and the test-only failpoints.

pub mod container;
pub mod diag;
pub mod disk;
pub mod failpoint;
pub mod headers;
pub mod mask;
pub mod origins;
pub mod secret;
pub mod settings;
pub mod shard;
pub mod units;

pub use container::Container;
pub use secret::Secret;
pub use settings::{
    Limit, Rate, RetryPolicy, RunLimits, Timeouts, Tolerance, Verify, DEFAULT_GLOBAL_CONCURRENCY,
    DEFAULT_HOST_CONCURRENCY, DEFAULT_JOBS, DEFAULT_JOB_CONCURRENCY, DEFAULT_MAX_SEGMENT_BYTES,
};
