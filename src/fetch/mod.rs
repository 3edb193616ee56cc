//! Fetching: the shared limits, one segment's download with its checks and
//! retries, and the ledger that makes a rerun resume. Knows HTTP and files,
//! not ffmpeg.

mod ledger;
mod limits;
mod segment;
mod small;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub use ledger::{part_path, read_done, segment_path, write_done, Done, Ledger};
pub use limits::{Limiter, Slot};
pub use segment::{FailKind, Fetched, JobFetch, SegmentFailure};
pub use small::{Ask, Small};

use crate::manifest::RunLimits;

/// The HTTP clients and limits of a run, shared by all its jobs.
pub struct Fetcher {
    limiter: Limiter,
    /// One client per connect timeout; each keeps its connections alive.
    clients: Mutex<HashMap<Duration, reqwest::Client>>,
}

impl Fetcher {
    pub fn new(limits: &RunLimits) -> Fetcher {
        Fetcher {
            limiter: Limiter::new(limits),
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self, connect: Duration) -> reqwest::Client {
        let mut clients = self.clients.lock().expect("lock");
        clients
            .entry(connect)
            .or_insert_with(|| {
                // rustls with the ring provider; installing twice is harmless.
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::builder()
                    .connect_timeout(connect)
                    .pool_max_idle_per_host(256)
                    .tcp_nodelay(true)
                    .user_agent(concat!("snatch/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .expect("an HTTP client")
            })
            .clone()
    }
}
