//! One segment's fetch, renewing expired links: a playlist job whose
//! segments answer 403 or 410 after others arrived fetches its playlist
//! again and tries the segment's new location; a template job says that
//! its token has probably expired.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::fetch::{Ask, FailKind, Fetched, Fetcher, JobFetch, SegmentFailure};
use crate::plan::JobPlan;
use crate::resolve::{Reloads, MAX_RELOADS};
use crate::source::SegmentSource;

/// What a job's segment tasks share to renew links.
pub(super) struct Renew {
    pub reloads: Reloads,
    pub ask: Ask,
    /// Segments that arrived, in this run or an earlier one.
    pub landed: AtomicU64,
}

impl Renew {
    pub fn new(req: &JobFetch, reused: u64) -> Renew {
        Renew {
            reloads: Reloads::default(),
            ask: Ask::from(req),
            landed: AtomicU64::new(reused),
        }
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
            let seen = self.reloads.generation();
            let seg = job.source.segment(p).map_err(|e| {
                let index = job.source.index_at(p);
                SegmentFailure {
                    index,
                    kind: FailKind::Invalid,
                    retries: 0,
                    redirects: 0,
                    message: format!("job `{}`: segment {index}: {e}", job.name),
                }
            })?;
            let e = match fetcher.fetch(req, &seg).await {
                Ok(f) => {
                    self.landed.fetch_add(1, Ordering::Relaxed);
                    return Ok(f);
                }
                Err(e) => e,
            };
            if !self.expired(job, &e) {
                return Err(e);
            }
            if let SegmentSource::Numbered(_) = job.source {
                return Err(SegmentFailure {
                    message: format!(
                        "{}; other segments arrived, so its token has probably expired: \
                         update it in the job file and rerun (saved segments are reused)",
                        e.message
                    ),
                    ..e
                });
            }
            match self.reloads.renew(job, fetcher, &self.ask, seen).await {
                Ok(true) => continue,
                Ok(false) => {
                    return Err(SegmentFailure {
                        message: format!(
                            "{} (the playlist was fetched again {MAX_RELOADS} times, the most a job may)",
                            e.message
                        ),
                        ..e
                    })
                }
                Err(why) => {
                    return Err(SegmentFailure {
                        message: format!(
                            "{}; fetching the playlist again for new links failed: {why}",
                            e.message
                        ),
                        ..e
                    })
                }
            }
        }
    }

    /// A 403 or 410 after other segments arrived, or from links an
    /// earlier run saved.
    fn expired(&self, job: &JobPlan, e: &SegmentFailure) -> bool {
        let old_links = match &job.source {
            SegmentSource::Playlist(p) => p.resolved.as_ref().is_some_and(|r| r.from_saved),
            SegmentSource::Numbered(_) => false,
        };
        matches!(e.kind, FailKind::Status(403 | 410))
            && (old_links || self.landed.load(Ordering::Relaxed) > 0)
    }
}
