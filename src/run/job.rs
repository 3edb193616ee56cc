//! One job end to end, in named steps: [`prepare`] (is it up to date? the
//! ledger, the request settings), fetch and feed ([`super::feed`]),
//! [`classify`] (which positions are missing, whether the job can succeed),
//! and [`finish`] (close the merge, probe, verify, put the output in place,
//! mark the job done). File work runs on the blocking pool.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::error::{list, JobError};
use super::feed::{Fed, JobRun, Slot};
use super::timed::Timings;
use super::{files, RunOptions};
use crate::common::failpoint;
use crate::events::{EventKind, JobReport, JobStatus, Media, Stream};
use crate::manifest::OnMissing;
use crate::merge::{self, Tools, Unverified};
use crate::net::{self, Fetcher, JobFetch};
use crate::plan::JobPlan;
use crate::state::{self, Ledger};

/// Runs one job: fetches what is missing, feeds the merge in index order as
/// segments complete, verifies the result and puts it in place.
pub async fn run_job(
    job: &JobPlan,
    fetcher: &Arc<Fetcher>,
    tools: &Tools,
    opts: RunOptions,
    events: &Stream,
    cancel: &CancellationToken,
) -> JobReport {
    if failpoint::hit("job-panic", &job.name) {
        panic!("failpoint job-panic:{}", job.name);
    }
    let started = Instant::now();
    let mut report = super::begun(job);
    let fp = files::fingerprint(job);
    // The job's lock and the output's claim, held until the job's end.
    let mut held = None;
    let result = match prepare(job, &fp, opts).await {
        Ok(Prepared::UpToDate(done)) => {
            report.status = JobStatus::UpToDate;
            report.media = Some(Media {
                duration_s: done.duration_s,
                streams: done.streams,
            });
            Ok(())
        }
        Ok(Prepared::Ready {
            lock,
            claim,
            ledger,
            req,
        }) => {
            held = Some((lock, claim));
            match resolved(job, fetcher, &req, &mut report).await {
                Ok((job, inits)) => {
                    let steps = Steps {
                        job: &job,
                        inits,
                        tools,
                        opts,
                        fp,
                    };
                    steps
                        .run(fetcher, ledger, req, events, cancel, &mut report)
                        .await
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    // Whoever got the signal first (a terminal's Ctrl-C reaches a tool
    // run in the foreground too), a cancelled run's failures are its
    // interruption.
    let result = result.map_err(|e| match cancel.is_cancelled() {
        true => JobError::interrupted(&job.name),
        false => e,
    });
    if let Err(e) = result {
        failure(job, &mut report, &e, cancel.is_cancelled(), held.is_some()).await;
    }
    drop(held);
    report.elapsed_s = started.elapsed().as_secs_f64();
    report
}

/// Puts the job's failure (or interruption) in its report, and records a
/// failure when this process holds the job (`held`), for a page to show.
async fn failure(job: &JobPlan, report: &mut JobReport, e: &JobError, cancelled: bool, held: bool) {
    report.status = match cancelled {
        true => JobStatus::Interrupted,
        false => JobStatus::Failed,
    };
    report.error = Some(message(e));
    if held && !cancelled {
        files::record_failure(job, message(e)).await;
    }
    // A report names only a file that is there (a good output from an
    // earlier run stays when a rerun fails).
    if !tokio::fs::try_exists(&job.output).await.unwrap_or(false) {
        report.output = None;
    }
}

/// A job's failure as reports and terminals get it: the message may quote
/// a server, so it is escaped, here, once.
fn message(e: &JobError) -> String {
    crate::common::diag::terminal_text(&e.to_string()).into_owned()
}

/// The job with its segment list resolved (a playlist fetched, or read
/// from the state folder) and its init segment fetched, if it has one.
async fn resolved(
    job: &JobPlan,
    fetcher: &Fetcher,
    req: &JobFetch,
    report: &mut JobReport,
) -> Result<(JobPlan, crate::resolve::Inits), JobError> {
    let ask = net::Ask::from(req);
    let job = crate::resolve::resolve_job(job, fetcher, &ask, true).await?;
    report.segments.planned = job.source.len();
    report.expected_duration_s = job.source.expected_duration();
    if let crate::plan::source::SegmentSource::Numbered(n) = &job.source {
        if let crate::plan::source::EndSource::Found { requests } = n.end {
            report.end_found = Some(crate::events::EndFound {
                last_index: job.last_index,
                requests,
            });
        }
    }
    let init = crate::resolve::fetch_init(&job, fetcher, &ask).await?;
    Ok((job, init))
}

/// What a job's saved state says before any request.
enum Prepared {
    /// The output is complete from an earlier run.
    UpToDate(state::Done),
    Ready {
        /// Held until the job ends: one snatch per job.
        lock: state::lock::JobLock,
        /// Held until the job ends: one writer per output.
        claim: state::lock::JobLock,
        ledger: Arc<Ledger>,
        req: Arc<JobFetch>,
    },
}

/// Takes the job's lock, finds an earlier verified merge or opens the
/// ledger of saved segments, and makes the request settings.
async fn prepare(job: &JobPlan, fp: &str, opts: RunOptions) -> Result<Prepared, JobError> {
    let (lock, claim, ledger) = match files::prepare(job, fp, opts.force).await? {
        files::Prepared::UpToDate(done) => return Ok(Prepared::UpToDate(done)),
        files::Prepared::Ready {
            lock,
            claim,
            ledger,
        } => (lock, claim, Arc::new(ledger)),
    };
    let mut req = JobFetch::new(
        &job.name,
        &job.headers,
        job.retry,
        job.timeout,
        ledger.clone(),
        crate::resolve::scope(job),
    )
    .map_err(|error| JobError::Headers {
        job: job.name.clone(),
        error,
    })?;
    req.max_bytes = job.max_segment_bytes;
    req.bytes = job
        .bytes_per_second
        .map(|b| Arc::new(crate::net::ByteBucket::new(b)));
    Ok(Prepared::Ready {
        lock,
        claim,
        ledger,
        req: Arc::new(req),
    })
}

/// The steps after `prepare`, sharing what they need.
struct Steps<'a> {
    job: &'a JobPlan,
    /// The init segments' files, fed to the merges first.
    inits: crate::resolve::Inits,
    tools: &'a Tools,
    opts: RunOptions,
    fp: String,
}

impl Steps<'_> {
    async fn run(
        &self,
        fetcher: &Arc<Fetcher>,
        ledger: Arc<Ledger>,
        req: Arc<JobFetch>,
        events: &Stream,
        cancel: &CancellationToken,
        report: &mut JobReport,
    ) -> Result<(), JobError> {
        let job = self.job;
        let total = job.source.len();
        let reused = (0..total)
            .filter(|&p| ledger.complete.contains_key(&job.source.index_at(p)))
            .count() as u64;
        events.tell(EventKind::JobStarted {
            job: job.name.clone(),
            segments: total,
            already_here: reused,
        });
        let renew = Arc::new(super::renew::Renew::new(&req, reused));
        let other_redirects = req.other_redirects.clone();
        let run = JobRun {
            job,
            renew: renew.clone(),
            inits: &self.inits,
            tools: self.tools,
            cancel,
            events,
            stop: Arc::new(AtomicBool::new(false)),
        };
        let mut fed = run.fetch_and_feed(fetcher, req, &ledger).await;
        report.segments.fetched = fed.tally.fetched;
        report.segments.reused = fed.tally.reused;
        report.bytes = fed.tally.bytes;
        report.retries = fed.tally.retries;
        report.redirects = fed.tally.redirects + other_redirects.load(Ordering::Relaxed);
        report.playlist_reloads = renew.reloads.count();
        let merge = fed.merge.take();
        if fed.interrupted {
            abort(merge).await;
            crate::state::stores_settled(std::time::Duration::from_secs(5)).await;
            let _ = ledger.sync();
            let (landed, bytes) = ledger.landed();
            report.segments.fetched = report.segments.fetched.max(landed);
            report.bytes = report.bytes.max(bytes);
            return Err(JobError::interrupted(&job.name));
        }
        if let Some(changed) = renew.stream_changed() {
            abort(merge).await;
            let _ = ledger.sync();
            return Err(JobError::Segments(changed.to_string()));
        }
        let mut verdict = classify(job, &mut fed);
        // A 404 ended the job: where the stream really ends is asked of
        // the server, not read off whichever answers came first.
        let some_arrived = fed.slots.contains(&Slot::Ready);
        if verdict.error.is_some() && some_arrived && fed.slots.contains(&Slot::NotFound) {
            if let Some(e) = super::tail::ends_early(job, fetcher, &renew.ask).await {
                verdict.error = Some(JobError::Segments(e));
            }
        }
        report.segments.missing = verdict.missing.clone();
        report.segments.trailing_missing = verdict.trailing;
        if let Some(e) = verdict.error {
            abort(merge).await;
            let _ = ledger.sync();
            return Err(e);
        }
        let merge = merge.ok_or_else(|| JobError::NothingMerged {
            job: job.name.clone(),
        })?;
        let timings = super::timed::merged(job, &fed, &ledger, &self.inits).await;
        drop(ledger);
        // Nothing left to fetch: the next job takes this one's place while
        // its ffmpeg finishes and the output is checked.
        if let Some(slot) = net::JobSlot::current() {
            slot.fetched();
        }
        self.finish(merge, &fed, &verdict, &timings, report).await
    }

    /// Closes the merge, probes and verifies the file, puts it in place and
    /// marks the job done.
    async fn finish(
        &self,
        merge: merge::Merge,
        fed: &Fed,
        verdict: &Verdict,
        timings: &Timings,
        report: &mut JobReport,
    ) -> Result<(), JobError> {
        let job = self.job;
        // An MP4 is checked in-process; for other containers ffprobe
        // loads while ffmpeg finishes, and reads the file once whole.
        let early = match job.container {
            crate::common::Container::Mp4 => None,
            _ => merge::EarlyProbe::start(self.tools),
        };
        let temp = merge
            .finish()
            .await
            .map_err(|e| JobError::merge(&job.name, e))?;
        let media = match merge::probe_file(self.tools, early, &temp).await {
            Ok(m) => m,
            Err(e) => {
                let _ = state::store::remove_file(&temp);
                return Err(JobError::probe(&job.name, e));
            }
        };
        if let Err(e) = merge::verify(&media, expected(job, verdict, timings)) {
            let _ = state::store::remove_file(&temp);
            report.media = Some(reported(&media));
            let why = unverified(job, e, verdict);
            let job = job.name.clone();
            return Err(JobError::Unverified { job, why });
        }
        files::finish(job, self.fp.clone(), &temp, &media, self.opts.keep_segments).await?;
        let tail = fed.last_landed.map(|t| t.elapsed().as_secs_f64());
        tracing::info!(job = %job.name, merge_tail_s = tail, "merged and verified");
        report.merge_tail_s = tail;
        report.status = JobStatus::Ok;
        report.media = Some(reported(&media));
        Ok(())
    }
}

/// What the job implies of its merged file: a job with a separate audio
/// rendition has video and audio; its length is known when nothing is
/// missing and the job tells it (a `duration`, a playlist's `EXTINF`);
/// with nothing missing, each stream's length by its segments' own
/// timestamps.
fn expected(job: &JobPlan, verdict: &Verdict, timings: &Timings) -> merge::Expected {
    let length = verdict
        .missing
        .is_empty()
        .then(|| job.source.expected_duration())
        .flatten()
        .map(|want| (want, job.verify.duration_tolerance));
    let streams: &'static [&'static str] = match job.audio {
        Some(_) => &["video", "audio"],
        None => &[],
    };
    let (video, audio) = match verdict.missing.is_empty() {
        true => super::timed::by_timestamps(job, timings),
        false => (None, None),
    };
    merge::Expected {
        streams,
        length,
        video,
        audio,
        tolerance: job.verify.duration_tolerance,
    }
}

/// Why a merged file did not pass, in words.
fn unverified(job: &JobPlan, e: Unverified, verdict: &Verdict) -> String {
    match e {
        Unverified::NoStreams => "the merged file has no audio or video stream".into(),
        Unverified::Missing(kind) => super::advice::missing_stream(kind),
        Unverified::Length(m) => super::advice::mismatch(job, &m, verdict.trailing),
        Unverified::Stream {
            kind,
            number,
            mismatch,
        } => super::advice::stream_mismatch(job, &kind, number, &mismatch),
        Unverified::Timestamps {
            kind,
            number,
            got,
            within,
            tolerance,
        } => super::advice::timestamps(job, (&kind, number), got, within, tolerance),
    }
}

/// What the merge measured, as the report shows it.
fn reported(p: &merge::Probed) -> Media {
    Media {
        duration_s: p.duration_s,
        streams: p.streams.clone(),
    }
}

async fn abort(merge: Option<merge::Merge>) {
    if let Some(m) = merge {
        m.abort().await;
    }
}

/// Which positions are missing, and whether the job can still succeed.
struct Verdict {
    /// Gaps: indices that could not be had (trailing misses excluded).
    missing: Vec<u64>,
    /// 404s after the last segment that answered, with duration math.
    trailing: u64,
    error: Option<JobError>,
}

fn classify(job: &JobPlan, fed: &mut Fed) -> Verdict {
    // Misses after the last segment that answered are trailing; others are
    // gaps. A position that never reported (the job stopped early aside)
    // is a gap too.
    let last_ready = fed.slots.iter().rposition(|s| *s == Slot::Ready);
    let mut missing = Vec::new();
    let mut trailing = 0;
    for (p, s) in fed.slots.iter().enumerate() {
        let trailing_miss = *s == Slot::NotFound
            && job.source.trailing_misses_expected()
            && last_ready.is_some_and(|l| p > l);
        match s {
            Slot::Ready => {}
            _ if trailing_miss => trailing += 1,
            Slot::Pending if fed.fatal.is_some() => {}
            _ => missing.push(job.source.index_at(p as u64)),
        }
    }
    let never_reported = fed.fatal.is_none() && fed.slots.contains(&Slot::Pending);
    let name = job.name.clone();
    let error = if let Some(e) = &fed.ended_by {
        let advised = super::advice::failed_segment(job, &fed.slots, e);
        Some(JobError::Segments(advised))
    } else if let Some(e) = fed.fatal.take() {
        Some(e)
    } else if never_reported {
        let missing = missing.clone();
        Some(JobError::NeverReported { job: name, missing })
    } else if last_ready.is_none() {
        Some(JobError::NoSegment { job: name })
    } else if !missing.is_empty() && job.on_missing == OnMissing::Fail {
        let first = fed.first_failure.as_ref();
        let first = first.map(|f| super::advice::failed_segment(job, &fed.slots, f));
        Some(JobError::Segments(missing_sentence(&name, &missing, first)))
    } else {
        None
    };
    Verdict {
        missing,
        trailing,
        error,
    }
}

/// Why a job with gaps failed; `first` is the first failure's sentence.
fn missing_sentence(job: &str, missing: &[u64], first: Option<String>) -> String {
    match (missing, first) {
        ([_], Some(f)) => f,
        (_, Some(f)) => format!(
            "job `{job}`: segments {} could not be had; the first: {f}",
            list(missing),
        ),
        _ => format!("job `{job}`: {} segments could not be had", missing.len()),
    }
}
