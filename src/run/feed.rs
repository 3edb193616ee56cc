//! One job's segments: fetched `concurrency` at a time, each its own task,
//! and fed to the merge in index order within each track (the video's, a
//! separate audio rendition's) as soon as each and all before it in its
//! track are resolved. The two tracks are fetched interleaved by start
//! time, so that both reach the merge together. ffmpeg starts when the
//! first segment is ready to feed.
//! A segment task that panics is a failure of its position, never a
//! position left pending.

use std::collections::HashMap;

use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::error::JobError;
use super::renew::Renew;
use crate::common::failpoint;
use crate::events::{EventKind, Stream};
use crate::manifest::OnMissing;
use crate::merge::{Merge, Tools};
use crate::net::{self, FailKind, Fetcher, JobFetch, JobSlot, SegmentFailure};
use crate::plan::JobPlan;
use crate::state::{Ledger, Saved};

/// What became of one position of the segment list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    Pending,
    Ready,
    NotFound,
    Failed,
}

#[derive(Debug, Default)]
pub(super) struct Tally {
    pub fetched: u64,
    pub reused: u64,
    pub bytes: u64,
    pub retries: u64,
    pub redirects: u64,
}

/// What fetching and feeding a job came to.
pub(super) struct Fed {
    pub slots: Vec<Slot>,
    pub tally: Tally,
    /// A failure that ends the job at once.
    pub fatal: Option<JobError>,
    /// The segment whose failure ended the job, when one did: its message
    /// gets its next step once every position is known.
    pub ended_by: Option<SegmentFailure>,
    pub first_failure: Option<SegmentFailure>,
    pub last_landed: Option<Instant>,
    /// The running merge, once a segment was ready to feed.
    pub merge: Option<Merge>,
    /// Where each position's segment is in the spool, once saved.
    places: Vec<Option<Saved>>,
    /// Bodies still in memory, by position, until their turn to be fed.
    held: Held,
    /// The run was cancelled before every position resolved.
    pub interrupted: bool,
}

/// At most this many bytes of bodies that arrived before their turn wait
/// in memory; the others are read back from the spool.
const HELD_MAX: usize = 8 * 1024 * 1024;

/// Bodies that arrived before their turn.
#[derive(Default)]
struct Held {
    bodies: HashMap<usize, Bytes>,
    bytes: usize,
}

impl Held {
    /// Keeps `body` for position `p` if there is room.
    fn keep(&mut self, p: usize, body: Bytes) {
        if self.bytes + body.len() <= HELD_MAX {
            self.bytes += body.len();
            self.bodies.insert(p, body);
        }
    }

    fn take(&mut self, p: usize) -> Option<Bytes> {
        let body = self.bodies.remove(&p)?;
        self.bytes -= body.len();
        Some(body)
    }
}

/// What arrives from the fetching side for one position.
enum Arrival {
    Reused,
    Fetched(net::Fetched),
    Failed(SegmentFailure),
    /// The position's task panicked: the job cannot be trusted to be whole.
    Panicked(String),
}

/// The state of a job's run, shared by its fetching and its feeding.
pub(super) struct JobRun<'a> {
    pub job: &'a JobPlan,
    /// The init segments (fMP4), fed before the first segment.
    pub inits: &'a crate::resolve::Inits,
    pub tools: &'a Tools,
    pub cancel: &'a CancellationToken,
    /// Where segments saved and failed, and the merge's start, are told.
    pub events: &'a Stream,
    /// Expired links renewed; segments that arrived counted.
    pub renew: Arc<Renew>,
    /// Set when the job cannot succeed: no new request starts.
    pub stop: Arc<AtomicBool>,
}

/// Whether a failed segment ends its job at once. With duration math a
/// 404 may be a trailing miss, and a 404 of index 0 may mean the stream
/// starts at 1: both decided at the end. With `on_missing: skip` nothing
/// does.
pub(super) fn ends_job(job: &JobPlan, e: &SegmentFailure) -> bool {
    let maybe_trailing = e.kind == FailKind::NotFound && job.source.trailing_misses_expected();
    let deferred = maybe_trailing || super::advice::leading_zero(job, e);
    !deferred && job.on_missing == OnMissing::Fail
}

impl JobRun<'_> {
    /// Fetches what is missing and feeds the merge; returns when every
    /// position resolved, the job was stopped, or the run was cancelled.
    pub async fn fetch_and_feed(
        &self,
        fetcher: &Arc<Fetcher>,
        req: Arc<JobFetch>,
        ledger: &Ledger,
    ) -> Fed {
        let (tx, rx) = mpsc::unbounded_channel();
        let fed = tokio::join!(self.fetch_all(fetcher, req, tx), self.feed(ledger, rx)).1;
        // Requests stopped while waiting out a pause leave the slot given
        // back: the merge's end and the checks wait for one.
        if let Some(slot) = JobSlot::current() {
            slot.hold().await;
        }
        fed
    }

    /// Fetches every position not already complete, in ascending order of
    /// start (a separate audio rendition's interleaved with the video's),
    /// and sends each outcome. The tasks end with this future (a
    /// dropped JoinSet aborts them).
    async fn fetch_all(
        &self,
        fetcher: &Arc<Fetcher>,
        req: Arc<JobFetch>,
        tx: mpsc::UnboundedSender<(u64, Arrival)>,
    ) {
        let job = Arc::new(self.job.clone());
        let slots = Arc::new(Semaphore::new(job.concurrency as usize));
        let mut tasks = JoinSet::new();
        let mut positions = HashMap::new();
        let order: Box<dyn Iterator<Item = u64> + Send> = match job.source.fetch_order() {
            Some(order) => Box::new(order.into_iter()),
            None => Box::new(0..job.source.len()),
        };
        for p in order {
            if req.ledger.complete.contains_key(&job.source.index_at(p)) {
                let _ = tx.send((p, Arrival::Reused));
                continue;
            }
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("never closed"),
                _ = self.cancel.cancelled() => return,
            };
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            while let Some(joined) = tasks.try_join_next_with_id() {
                report_panic(joined, &mut positions, &tx);
            }
            let (job, req, fetcher, tx2, stop, renew) = (
                job.clone(),
                req.clone(),
                fetcher.clone(),
                tx.clone(),
                self.stop.clone(),
                self.renew.clone(),
            );
            let slot = JobSlot::current();
            let task = tasks.spawn(async move {
                let fetching = fetch_one(&job, &fetcher, &req, p, &stop, &renew);
                let arrival = match slot {
                    Some(slot) => slot.scope(fetching).await,
                    None => fetching.await,
                };
                drop(permit);
                let _ = tx2.send((p, arrival));
            });
            positions.insert(task.id(), p);
        }
        loop {
            let joined = tokio::select! {
                joined = tasks.join_next_with_id() => joined,
                _ = self.cancel.cancelled() => return,
            };
            let Some(joined) = joined else { break };
            report_panic(joined, &mut positions, &tx);
        }
    }

    /// Receives outcomes and feeds complete segments to ffmpeg in index
    /// order, as soon as each and all before it are resolved.
    async fn feed(&self, ledger: &Ledger, mut rx: mpsc::UnboundedReceiver<(u64, Arrival)>) -> Fed {
        let n = self.job.source.len() as usize;
        let mut fed = Fed {
            slots: vec![Slot::Pending; n],
            tally: Tally::default(),
            fatal: None,
            ended_by: None,
            first_failure: None,
            last_landed: None,
            merge: None,
            places: vec![None; n],
            held: Held::default(),
            interrupted: false,
        };
        // Each track's first position not yet resolved, and its end.
        let video = (self.job.source.video_len() as usize).min(n);
        let mut tracks = [(0usize, video), (video, n)];
        loop {
            let arrived = tokio::select! {
                arrived = rx.recv() => arrived,
                _ = self.cancel.cancelled() => {
                    fed.interrupted = true;
                    None
                }
            };
            if fed.interrupted {
                // Outcomes already sent count in the report all the same.
                while let Ok((p, arrival)) = rx.try_recv() {
                    self.record(&mut fed, ledger, p as usize, arrival);
                }
            }
            let Some((p, arrival)) = arrived else { break };
            fed.last_landed = Some(Instant::now());
            self.record(&mut fed, ledger, p as usize, arrival);
            for (next, end) in &mut tracks {
                if fed.fatal.is_none() {
                    *next = self.feed_ready(&mut fed, *next, *end, ledger).await;
                }
            }
        }
        fed
    }

    /// Counts one outcome; a failure that ends the job stops new requests.
    fn record(&self, fed: &mut Fed, ledger: &Ledger, p: usize, arrival: Arrival) {
        let job = self.job;
        match arrival {
            Arrival::Reused => {
                fed.tally.reused += 1;
                fed.slots[p] = Slot::Ready;
                let index = job.source.index_at(p as u64);
                fed.places[p] = ledger.complete.get(&index).copied();
            }
            Arrival::Fetched(f) => {
                fed.places[p] = Some(f.saved);
                if let Some(body) = f.body {
                    fed.held.keep(p, body);
                }
                fed.tally.fetched += 1;
                fed.tally.bytes += f.saved.size;
                fed.tally.retries += f.retries as u64;
                fed.tally.redirects += f.redirects as u64;
                fed.slots[p] = Slot::Ready;
                self.events.tell(EventKind::SegmentSaved {
                    job: job.name.clone(),
                    index: job.source.index_at(p as u64),
                    bytes: f.saved.size,
                    attempt: f.retries.saturating_add(1),
                });
            }
            Arrival::Failed(e) => {
                fed.tally.retries += e.retries as u64;
                fed.tally.redirects += e.redirects as u64;
                fed.slots[p] = match e.kind {
                    FailKind::NotFound => Slot::NotFound,
                    _ => Slot::Failed,
                };
                tracing::debug!(job = %job.name, "{}", e.message);
                self.events.tell(EventKind::SegmentFailed {
                    job: job.name.clone(),
                    index: e.index,
                    attempt: e.retries.saturating_add(1),
                    reason: e.message.clone(),
                });
                if ends_job(job, &e) {
                    if fed.fatal.is_none() {
                        fed.ended_by = Some(e.clone());
                    }
                    self.fail(fed, JobError::Segments(e.message.clone()));
                }
                fed.first_failure.get_or_insert(e);
            }
            Arrival::Panicked(text) => {
                fed.slots[p] = Slot::Failed;
                let index = job.source.index_at(p as u64);
                let job = job.name.clone();
                self.events.tell(EventKind::SegmentFailed {
                    job: job.clone(),
                    index,
                    attempt: 1,
                    reason: format!("snatch failed internally ({text})"),
                });
                self.fail(fed, JobError::Panicked { job, index, text });
            }
        }
    }

    fn fail(&self, fed: &mut Fed, error: JobError) {
        fed.fatal.get_or_insert(error);
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Feeds every resolved position of a track from `next` on, up to
    /// `end`; returns the first position not yet resolved. Starts ffmpeg
    /// for the first ready one.
    async fn feed_ready(
        &self,
        fed: &mut Fed,
        mut next: usize,
        end: usize,
        ledger: &Ledger,
    ) -> usize {
        while next < end && fed.slots[next] != Slot::Pending {
            if fed.slots[next] == Slot::Ready {
                if let Err(e) = self.feed_one(fed, ledger, next).await {
                    self.fail(fed, e);
                    break;
                }
            }
            next += 1;
        }
        next
    }

    /// Feeds the segment at position `p` (ready), starting the merge for
    /// the first.
    async fn feed_one(&self, fed: &mut Fed, ledger: &Ledger, p: usize) -> Result<(), JobError> {
        let job = self.job;
        let index = job.source.index_at(p as u64);
        if fed.merge.is_none() {
            let input = crate::merge::Input {
                format: job.format,
                spool: Some(ledger.spool().path().to_path_buf()),
                remux: job.merge == crate::manifest::MergeWith::Auto,
            };
            let (tools, root, output, container) = (
                self.tools.clone(),
                job.output_dir.clone(),
                job.output.clone(),
                job.container,
            );
            let init = self.inits.video.clone();
            let audio = job.audio.as_ref().map(|a| crate::merge::AudioInput {
                format: a.format,
                init: self.inits.audio.clone(),
                one_period: self.inits.periods.is_empty(),
            });
            let started = tokio::task::spawn_blocking(move || {
                let mut merge =
                    Merge::start_with_audio(&tools, &root, &output, container, input, audio)?;
                if let Some(init) = init {
                    merge.feed_file(&init)?;
                }
                Ok(merge)
            })
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
            fed.merge = Some(started.map_err(|error| JobError::MergeStart {
                job: job.name.clone(),
                error,
            })?);
            self.events.tell(EventKind::MergeStarted {
                job: job.name.clone(),
            });
        }
        self.next_period(fed, p).await?;
        let saved = fed.places[p].ok_or_else(|| JobError::NotSpooled {
            job: job.name.clone(),
            index,
        })?;
        let segment = crate::merge::Segment {
            offset: saved.offset,
            len: saved.size,
            body: fed.held.take(p),
        };
        let merge = fed.merge.as_mut().expect("started above");
        let fed_one = match job.source.is_audio(p as u64) {
            true => merge.feed_audio(segment),
            false => merge.feed(segment),
        };
        let Err(error) = fed_one else { return Ok(()) };
        // ffmpeg stopped reading: its own words say why, when it has some.
        let merge = fed.merge.take().expect("started above");
        Err(match merge.stopped().await {
            Some(said) => JobError::merge(&job.name, said),
            None => JobError::MergeStopped {
                job: job.name.clone(),
                index,
                error,
            },
        })
    }
}

impl JobRun<'_> {
    /// At the first segment of a DASH period after the first, the merge
    /// finishes the period before (a part of its own) and starts the next
    /// on its init segment.
    async fn next_period(&self, fed: &mut Fed, p: usize) -> Result<(), JobError> {
        let Some(period) = self.inits.periods.iter().find(|i| i.position == p as u64) else {
            return Ok(());
        };
        let (job, init, after) = (self.job, period.file.clone(), period.after);
        let audio = job.source.is_audio(p as u64);
        let mut merge = fed.merge.take().expect("started before");
        let switched = tokio::task::spawn_blocking(move || {
            let done = match audio {
                true => merge.next_audio_period(&init, after),
                false => merge.next_period(&init, after),
            };
            (merge, done)
        })
        .await;
        let (merge, done) = switched.map_err(|e| JobError::Panicked {
            job: job.name.clone(),
            index: job.source.index_at(p as u64),
            text: e.to_string(),
        })?;
        fed.merge = Some(merge);
        done.map_err(|error| JobError::MergePeriod {
            job: job.name.clone(),
            index: job.source.index_at(p as u64),
            error,
        })
    }
}

/// Fetches the segment at position `p`.
async fn fetch_one(
    job: &JobPlan,
    fetcher: &Fetcher,
    req: &JobFetch,
    p: u64,
    stop: &AtomicBool,
    renew: &Renew,
) -> Arrival {
    let index = job.source.index_at(p);
    if failpoint::hit("segment-panic", &index.to_string()) {
        panic!("failpoint segment-panic:{index}");
    }
    match renew.fetch(job, fetcher, req, p).await {
        Ok(f) => Arrival::Fetched(f),
        Err(e) => {
            if ends_job(job, &e) {
                stop.store(true, Ordering::Relaxed);
            }
            Arrival::Failed(e)
        }
    }
}

/// Turns a segment task that ended without sending (a panic) into an
/// outcome of its position.
fn report_panic(
    joined: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
    positions: &mut HashMap<tokio::task::Id, u64>,
    tx: &mpsc::UnboundedSender<(u64, Arrival)>,
) {
    match joined {
        Ok((id, ())) => {
            positions.remove(&id);
        }
        Err(e) => {
            if let Some(p) = positions.remove(&e.id()) {
                let _ = tx.send((p, Arrival::Panicked(super::join_error_text(e))));
            }
        }
    }
}
