//! One segment's fetch, renewing expired links: a playlist job whose
//! segments answer 403 or 410 after others arrived fetches its playlist
//! again and tries the segment's new location; a template job says that
//! its token has probably expired. The first 403 or 410 pauses the job's
//! requests and waits for those in flight before it decides, so the
//! decision is the same at any concurrency. A reload that finds another
//! stream stops the job's requests for good.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use tokio::sync::RwLock;

use crate::events::EventKind;
use crate::net::{Ask, FailKind, Fetched, Fetcher, JobFetch, SegmentFailure};
use crate::plan::source::{Segment, SegmentSource};
use crate::plan::JobPlan;
use crate::resolve::{Cause, Reloads, ResolveError, MAX_RELOADS};

/// What a job's segment tasks share to renew links.
pub(super) struct Renew {
    pub reloads: Reloads,
    pub ask: Ask,
    /// Segments that arrived, in this run or an earlier one.
    pub landed: AtomicU64,
    /// Each request holds it shared; a task that met an expired link takes
    /// it alone, which waits for the requests in flight and holds back new
    /// ones (tokio's lock is fair) while it decides and reloads.
    gate: RwLock<()>,
    /// Set when a reload found another stream: the job's message. No
    /// request starts after it.
    changed: OnceLock<String>,
}

impl Renew {
    pub fn new(req: &JobFetch, reused: u64) -> Renew {
        Renew {
            reloads: Reloads::default(),
            ask: Ask::from(req),
            landed: AtomicU64::new(reused),
            gate: RwLock::new(()),
            changed: OnceLock::new(),
        }
    }

    /// The job's message when a reload found that the stream changed.
    pub fn stream_changed(&self) -> Option<&str> {
        self.changed.get().map(String::as_str)
    }

    /// Fetches the segment at position `p`, renewing expired links.
    pub async fn fetch(
        &self,
        job: &JobPlan,
        fetcher: &Fetcher,
        req: &JobFetch,
        p: u64,
    ) -> Result<Fetched, SegmentFailure> {
        loop {
            let e = match self.request(job, fetcher, req, p).await? {
                Ok(f) => return Ok(f),
                Err(e) => e,
            };
            self.renewed(job, fetcher, e).await?;
        }
    }

    /// One request, holding the gate shared: `Ok(Err(_))` is a 403 or 410
    /// with the generation of the links it used.
    async fn request(
        &self,
        job: &JobPlan,
        fetcher: &Fetcher,
        req: &JobFetch,
        p: u64,
    ) -> Result<Result<Fetched, Expired>, SegmentFailure> {
        let _shared = self.gate.read().await;
        let seen = self.reloads.generation();
        let seg = segment(job, p)?;
        if let Some(message) = self.changed.get() {
            return Err(failure(seg.index, message.clone()));
        }
        match fetcher.fetch(req, &seg).await {
            Ok(f) => {
                self.landed.fetch_add(1, Ordering::Relaxed);
                Ok(Ok(f))
            }
            Err(e) if matches!(e.kind, FailKind::Status(403 | 410)) => {
                Ok(Err(Expired { failure: e, seen }))
            }
            Err(e) => Err(e),
        }
    }

    /// After a 403 or 410: once no request is in flight, either the links
    /// were renewed (by this task or another) or the failure stands.
    async fn renewed(
        &self,
        job: &JobPlan,
        fetcher: &Fetcher,
        e: Expired,
    ) -> Result<(), SegmentFailure> {
        let _alone = self.gate.write().await;
        if let Some(message) = self.changed.get() {
            return Err(failure(e.failure.index, message.clone()));
        }
        if self.reloads.generation() != e.seen {
            return Ok(());
        }
        let (seen, e) = (e.seen, e.failure);
        if !self.expired(job) {
            return Err(e);
        }
        if let SegmentSource::Numbered(_) = job.source {
            return Err(token_expired(e));
        }
        let outcome = self.reloads.renew(job, fetcher, &self.ask, seen).await;
        if let (Ok(true), FailKind::Status(status)) = (&outcome, &e.kind) {
            fetcher.events().tell(EventKind::PlaylistReloaded {
                job: job.name.clone(),
                reloads: self.reloads.count(),
                why: format!("segment {} answered {status}: its link expired", e.index),
            });
        }
        self.after_reload(job, e, outcome)
    }

    /// `Ok` when the reload renewed the links; else `e`, saying why not.
    /// A reload that found another stream stops the job's requests.
    fn after_reload(
        &self,
        job: &JobPlan,
        e: SegmentFailure,
        outcome: Result<bool, Cause>,
    ) -> Result<(), SegmentFailure> {
        let why = match outcome {
            Ok(true) => return Ok(()),
            Ok(false) => {
                format!(" (the playlist was fetched again {MAX_RELOADS} times, the most a job may)")
            }
            Err(why @ Cause::StreamChanged { .. }) => {
                let job = job.name.clone();
                let message = ResolveError::Playlist { job, cause: why }.to_string();
                let message = self.changed.get_or_init(|| message);
                return Err(failure(e.index, message.clone()));
            }
            Err(why) => format!("; fetching the playlist again for new links failed: {why}"),
        };
        Err(SegmentFailure {
            message: format!("{}{why}", e.message),
            ..e
        })
    }

    /// Whether a 403 or 410 is an expired link: other segments arrived (in
    /// this run, the requests in flight ended, or an earlier one), or the
    /// links are those an earlier run saved.
    fn expired(&self, job: &JobPlan) -> bool {
        let old_links = match &job.source {
            SegmentSource::Playlist(p) => p.resolved.as_ref().is_some_and(|r| r.from_saved),
            SegmentSource::Numbered(_) => false,
        };
        old_links || self.landed.load(Ordering::Relaxed) > 0
    }
}

/// A 403 or 410, and the generation of the links that met it.
struct Expired {
    failure: SegmentFailure,
    seen: u64,
}

/// A template job's 403 or 410 after other segments arrived.
fn token_expired(e: SegmentFailure) -> SegmentFailure {
    SegmentFailure {
        message: format!(
            "{}; other segments arrived, so its token has probably expired: \
             update it in the job file and rerun (saved segments are reused)",
            e.message
        ),
        ..e
    }
}

/// The segment at position `p`, with its newest link.
fn segment(job: &JobPlan, p: u64) -> Result<Segment, SegmentFailure> {
    job.source.segment(p).map_err(|e| {
        let index = job.source.index_at(p);
        failure(index, format!("job `{}`: segment {index}: {e}", job.name))
    })
}

/// A failure that no request could mend.
fn failure(index: u64, message: String) -> SegmentFailure {
    SegmentFailure {
        index,
        kind: FailKind::Invalid,
        retries: 0,
        redirects: 0,
        message,
    }
}
