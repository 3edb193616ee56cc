//! Requests: the run's shared limits, redirects followed under its rules,
//! one retry loop, the origin rule for secrets, the refusal of internal
//! addresses, and one segment's download, whose bytes go through the byte
//! checks ([`crate::media`]) into the part and spool [`crate::state`]
//! provides. Knows HTTP, not ffmpeg.

mod adapt;
mod address;
mod bytes;
mod dns;
mod error;
mod exists;
mod http;
mod job_slot;
mod limits;
mod outcome;
mod pauses;
mod retry;
mod scope;
mod segment;
mod sent;
mod small;
mod throttle;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub use address::is_internal;
pub use bytes::ByteBucket;
pub use error::{ClientError, HeaderError, RangeError};
pub use exists::{Look, ProbeError, START_BYTES};
pub use http::{hop_allowed, MAX_REDIRECTS};
pub use job_slot::JobSlot;
pub use limits::{Limiter, Slot};
pub use outcome::{FailKind, SegmentFailure};
pub use scope::Scope;
pub use segment::{Fetched, JobFetch, DEFAULT_MAX_BYTES};
pub use small::{Ask, Small, SmallError};

use crate::common::RunLimits;
use crate::events::Stream;

/// The HTTP clients and limits of a run, shared by all its jobs.
pub struct Fetcher {
    limiter: Limiter,
    /// Where retries and pauses are told.
    pauses: pauses::Pauses,
    /// One client per connect timeout and guard (see [`dns::PublicOnly`]);
    /// each keeps its connections alive.
    clients: Mutex<HashMap<(Duration, bool), Built>>,
    /// Names to addresses, for every client and the internal-address rule.
    dns: dns::Resolver,
}

impl Fetcher {
    pub fn new(limits: &RunLimits) -> Fetcher {
        Fetcher {
            limiter: Limiter::new(limits),
            pauses: pauses::Pauses::new(std::sync::Arc::new(Stream::silent())),
            clients: Mutex::new(HashMap::new()),
            dns: dns::Resolver::system(),
        }
    }

    /// Resolves names with `names` instead of the system's resolver, and
    /// judges addresses with `internal`: for a test that makes a
    /// public-looking name lead to a loopback server, and counts another
    /// loopback address as public.
    pub fn with_dns(
        mut self,
        names: std::sync::Arc<dyn reqwest::dns::Resolve>,
        internal: fn(std::net::IpAddr) -> bool,
    ) -> Fetcher {
        self.dns = dns::Resolver { names, internal };
        self
    }

    /// How `host`'s rate was adapted to its 429s without `Retry-After`,
    /// the host shown as `shown`; `None` if it never was.
    pub fn rate_adapted(&self, host: &str, shown: &str) -> Option<crate::events::RateAdapted> {
        self.limiter.rate_adapted(host, shown)
    }

    /// Tells retries and pauses to `events`.
    pub fn with_events(mut self, events: std::sync::Arc<Stream>) -> Fetcher {
        self.pauses = pauses::Pauses::new(events);
        self
    }

    /// Where retries and pauses are told: the run's stream.
    pub fn events(&self) -> &std::sync::Arc<Stream> {
        self.pauses.events()
    }

    /// The run ends: a host still paused is told resumed, so that every
    /// `host_paused` has its `host_resumed` before `run_finished`.
    pub fn pauses_over(&self) {
        self.pauses.end_all();
    }

    /// The client for a connect timeout; a `guarded` one connects to
    /// public addresses only, whatever a name resolves to at connect time.
    /// On a machine without CA certificates (a minimal container) plain
    /// http still works; for an https `url` the error says why it cannot.
    fn client(
        &self,
        connect: Duration,
        guarded: bool,
        url: &reqwest::Url,
    ) -> Result<reqwest::Client, ClientError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let built = clients
            .entry((connect, guarded))
            .or_insert_with(|| Built::new(connect, guarded, &self.dns));
        match &built.no_roots {
            Some(why) if url.scheme() == "https" => Err(why.clone()),
            _ => built.client.clone(),
        }
    }
}

/// A client, and why it cannot check https certificates when it cannot.
struct Built {
    client: Result<reqwest::Client, ClientError>,
    no_roots: Option<ClientError>,
}

impl Built {
    fn new(connect: Duration, guarded: bool, dns: &dns::Resolver) -> Built {
        // rustls with the ring provider; installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = || {
            // Redirects are followed by snatch (see `http`), each hop
            // under the limits and the rules for credentials.
            let b = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(connect)
                .pool_max_idle_per_host(256)
                .tcp_nodelay(true)
                .user_agent(sent::USER_AGENT_DEFAULT);
            match guarded {
                true => b.dns_resolver(std::sync::Arc::new(dns::PublicOnly(dns.clone()))),
                false => b.dns_resolver(dns.names.clone()),
            }
        };
        let failed = match builder().build() {
            Ok(client) => {
                return Built {
                    client: Ok(client),
                    no_roots: None,
                }
            }
            Err(e) => outcome::describe(e),
        };
        // The system's roots could not be loaded: a client that trusts no
        // certificate serves plain http, and https is refused before it
        // is tried.
        let no_roots = ClientError::NoRoots { failed };
        let client = builder()
            .tls_certs_only(std::iter::empty())
            .build()
            .map_err(|e| ClientError::Setup {
                reason: outcome::describe(e),
            });
        Built {
            client,
            no_roots: Some(no_roots),
        }
    }
}
