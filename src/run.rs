//! One job end to end — fetch, feed the merge in order, verify, produce a
//! result — and the run of many jobs side by side under shared limits.
//! This is where fetching (HTTP, files) and merging (ffmpeg) meet.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::diag::display_path;
use crate::fetch::{self, FailKind, Fetcher, JobFetch, Ledger, SegmentFailure};
use crate::manifest::OnMissing;
use crate::merge::{self, Merge, Tools};
use crate::plan::{JobPlan, Plan};
use crate::progress::Progress;
use crate::report::{JobReport, JobStatus, Media, RunReport, SegmentCounts};

/// Choices of the command line that change how a run behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Fetch every segment and merge again, even when the output is complete.
    pub force: bool,
    /// Keep segments after a verified merge.
    pub keep_segments: bool,
}

/// Runs every runnable job of the plan side by side and reports on all of
/// them (skipped ones included). Cancelling `cancel` stops new requests;
/// the ledger keeps what arrived, and the report says the run was
/// interrupted.
pub async fn run(
    plan: &Plan,
    tools: &Tools,
    opts: RunOptions,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
) -> RunReport {
    let started_at = chrono::Utc::now();
    let started = Instant::now();
    let fetcher = Arc::new(Fetcher::new(&plan.limits));
    let mut tasks = Vec::new();
    for job in plan.runnable() {
        let job = job.clone();
        let (fetcher, tools, progress, cancel) = (
            fetcher.clone(),
            tools.clone(),
            progress.clone(),
            cancel.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let report = run_job(&job, &fetcher, &tools, opts, progress.as_ref(), &cancel).await;
            progress.job_finished(&report);
            report
        }));
    }
    let mut finished = Vec::new();
    for t in tasks {
        if let Ok(r) = t.await {
            finished.push(r);
        }
    }
    let mut jobs = Vec::new();
    for j in &plan.jobs {
        match j.skipped {
            Some(reason) => jobs.push(JobReport {
                name: j.name.clone(),
                status: JobStatus::Skipped,
                output: None,
                segments: SegmentCounts {
                    planned: j.source.len(),
                    ..SegmentCounts::default()
                },
                bytes: 0,
                retries: 0,
                redirects: 0,
                elapsed_s: 0.0,
                media: None,
                error: Some(reason.to_string()),
                merge_tail_s: None,
            }),
            None => {
                if let Some(pos) = finished.iter().position(|r| r.name == j.name) {
                    jobs.push(finished.swap_remove(pos));
                }
            }
        }
    }
    RunReport::new(
        started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        started.elapsed().as_secs_f64(),
        cancel.is_cancelled(),
        jobs,
    )
}

/// What became of one position of the segment list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Pending,
    Ready,
    NotFound,
    Failed,
}

struct Tally {
    fetched: u64,
    reused: u64,
    bytes: u64,
    retries: u64,
    redirects: u64,
}

/// The state of a job's run, shared by its fetching and its feeding.
struct JobRun<'a> {
    job: &'a JobPlan,
    /// Set when the job cannot succeed: no new request starts.
    stop: Arc<AtomicBool>,
}

fn fingerprint(job: &JobPlan) -> String {
    format!(
        "{}|{}|{}|{:?}",
        job.first_url,
        job.last_url,
        job.source.len(),
        job.container
    )
}

/// Runs one job: fetches what is missing, feeds the merge in index order as
/// segments complete, verifies the result and puts it in place.
pub async fn run_job(
    job: &JobPlan,
    fetcher: &Arc<Fetcher>,
    tools: &Tools,
    opts: RunOptions,
    progress: &dyn Progress,
    cancel: &CancellationToken,
) -> JobReport {
    let started = Instant::now();
    let total = job.source.len();
    let mut report = JobReport {
        name: job.name.clone(),
        status: JobStatus::Failed,
        output: Some(display_path(&job.output)),
        segments: SegmentCounts {
            planned: total,
            ..SegmentCounts::default()
        },
        bytes: 0,
        retries: 0,
        redirects: 0,
        elapsed_s: 0.0,
        media: None,
        error: None,
        merge_tail_s: None,
    };
    let fp = fingerprint(job);
    if !opts.force {
        if let Some(done) = fetch::read_done(&job.state_dir, &fp, &job.output) {
            report.status = JobStatus::UpToDate;
            report.media = Some(Media {
                duration_s: done.duration_s,
                streams: done.streams,
            });
            return report;
        }
    }
    let failed = |mut r: JobReport, e: String| {
        r.error = Some(e);
        r.elapsed_s = started.elapsed().as_secs_f64();
        r
    };
    let ledger = match Ledger::open(&job.state_dir, &fp, opts.force) {
        Ok(l) => l,
        Err(e) => {
            let msg = format!(
                "job `{}`: cannot use {}: {e}",
                job.name,
                display_path(&job.state_dir)
            );
            return failed(report, msg);
        }
    };
    let ledger = Arc::new(ledger);
    let req = match JobFetch::new(
        &job.name,
        &job.headers,
        job.retry,
        job.timeout,
        ledger.clone(),
    ) {
        Ok(r) => Arc::new(r),
        Err(e) => return failed(report, format!("job `{}`: {e}", job.name)),
    };
    let mut merge = match Merge::start(tools, &job.output, job.container) {
        Ok(m) => m,
        Err(e) => {
            return failed(
                report,
                format!("job `{}`: cannot start ffmpeg: {e}", job.name),
            )
        }
    };
    let reused_now = (0..total)
        .filter(|&p| ledger.complete.contains_key(&job.source.index_at(p)))
        .count() as u64;
    progress.job_started(&job.name, total, reused_now);

    let state = JobRun {
        job,
        stop: Arc::new(AtomicBool::new(false)),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let work = async {
        tokio::join!(
            state.fetch_all(fetcher, req, tx),
            state.feed(&mut merge, &ledger, rx, progress)
        )
        .1
    };
    let fed = tokio::select! {
        r = work => Some(r),
        _ = cancel.cancelled() => None,
    };
    let _ = ledger.sync();
    let Some(fed) = fed else {
        merge.abort().await;
        return failed(
            report,
            format!(
                "job `{}`: interrupted; a rerun resumes where it stopped",
                job.name
            ),
        );
    };
    report.segments.fetched = fed.tally.fetched;
    report.segments.reused = fed.tally.reused;
    report.bytes = fed.tally.bytes;
    report.retries = fed.tally.retries;
    report.redirects = fed.tally.redirects;

    // Misses after the last segment that answered are trailing; others are gaps.
    let last_ready = fed.slots.iter().rposition(|s| *s == Slot::Ready);
    let mut missing = Vec::new();
    let mut trailing = 0;
    for (p, s) in fed.slots.iter().enumerate() {
        match s {
            Slot::NotFound | Slot::Failed | Slot::Pending => {
                let trailing_miss = *s == Slot::NotFound
                    && job.source.trailing_misses_expected()
                    && last_ready.is_none_or(|l| p > l)
                    && last_ready.is_some();
                if trailing_miss {
                    trailing += 1;
                } else if *s != Slot::Pending {
                    missing.push(job.source.index_at(p as u64));
                }
            }
            Slot::Ready => {}
        }
    }
    report.segments.missing = missing.clone();
    report.segments.trailing_missing = trailing;

    let error = if let Some(e) = fed.fatal {
        Some(e)
    } else if last_ready.is_none() {
        Some(format!("job `{}`: no segment could be had", job.name))
    } else if !missing.is_empty() && job.on_missing == OnMissing::Fail {
        Some(missing_sentence(&job.name, &missing, &fed.first_failure))
    } else {
        None
    };
    if let Some(e) = error {
        merge.abort().await;
        return failed(report, e);
    }
    let temp = match merge.finish().await {
        Ok(t) => t,
        Err(e) => return failed(report, format!("job `{}`: {e}", job.name)),
    };
    let media = match merge::probe(tools, &temp).await {
        Ok(m) => m,
        Err(e) => {
            let _ = tokio::fs::remove_file(&temp).await;
            return failed(report, format!("job `{}`: {e}", job.name));
        }
    };
    let expected = missing
        .is_empty()
        .then(|| job.source.expected_duration())
        .flatten();
    if let Err(e) = merge::verify(&media, expected) {
        let _ = tokio::fs::remove_file(&temp).await;
        report.media = Some(media);
        return failed(report, format!("job `{}`: {e}", job.name));
    }
    if let Err(e) = tokio::fs::rename(&temp, &job.output).await {
        let _ = tokio::fs::remove_file(&temp).await;
        return failed(
            report,
            format!(
                "job `{}`: cannot move the merged file into place: {e}",
                job.name
            ),
        );
    }
    let size = std::fs::metadata(&job.output).map(|m| m.len()).unwrap_or(0);
    let done = fetch::Done {
        fingerprint: fp,
        output_size: size,
        duration_s: media.duration_s,
        streams: media.streams.clone(),
    };
    drop(ledger);
    if let Err(e) = fetch::write_done(&job.state_dir, &done, opts.keep_segments) {
        tracing::warn!(job = %job.name, "could not tidy {}: {e}", display_path(&job.state_dir));
    }
    let tail = fed.last_landed.map(|t| t.elapsed().as_secs_f64());
    tracing::info!(job = %job.name, merge_tail_s = tail, "merged and verified");
    report.merge_tail_s = tail;
    report.status = JobStatus::Ok;
    report.media = Some(media);
    report.elapsed_s = started.elapsed().as_secs_f64();
    report
}

fn missing_sentence(job: &str, missing: &[u64], first: &Option<SegmentFailure>) -> String {
    match (missing, first) {
        ([_], Some(f)) => f.message.clone(),
        (_, Some(f)) => {
            let list: Vec<String> = missing.iter().take(10).map(u64::to_string).collect();
            let more = if missing.len() > 10 { ", …" } else { "" };
            format!(
                "job `{job}`: segments {}{more} could not be had; the first: {}",
                list.join(", "),
                f.message
            )
        }
        _ => format!("job `{job}`: {} segments could not be had", missing.len()),
    }
}

/// Whether a failed segment ends its job at once. With duration math a
/// 404 may be a trailing miss, decided at the end; with `on_missing: skip`
/// nothing does.
fn ends_job(job: &JobPlan, e: &SegmentFailure) -> bool {
    let maybe_trailing = e.kind == FailKind::NotFound && job.source.trailing_misses_expected();
    !maybe_trailing && job.on_missing == OnMissing::Fail
}

/// What arrives from the fetching side for one position.
enum Arrival {
    Reused,
    Fetched(fetch::Fetched),
    Failed(SegmentFailure),
}

struct Fed {
    slots: Vec<Slot>,
    tally: Tally,
    /// A failure that ends the job at once.
    fatal: Option<String>,
    first_failure: Option<SegmentFailure>,
    last_landed: Option<Instant>,
}

impl JobRun<'_> {
    /// Fetches every position not already complete, `concurrency` at a
    /// time, in ascending order of start, and sends each outcome. Each
    /// segment is its own task, so bodies are taken in on every core; the
    /// tasks end with this future (a dropped JoinSet aborts them).
    async fn fetch_all(
        &self,
        fetcher: &Arc<Fetcher>,
        req: Arc<JobFetch>,
        tx: mpsc::UnboundedSender<(u64, Arrival)>,
    ) {
        let job = Arc::new(self.job.clone());
        let slots = Arc::new(Semaphore::new(job.concurrency as usize));
        let mut tasks = JoinSet::new();
        for p in 0..job.source.len() {
            let index = job.source.index_at(p);
            if req.ledger.complete.contains_key(&index) {
                let _ = tx.send((p, Arrival::Reused));
                continue;
            }
            let permit = slots.clone().acquire_owned().await.expect("never closed");
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            while tasks.try_join_next().is_some() {}
            let (job, req, fetcher, tx, stop) = (
                job.clone(),
                req.clone(),
                fetcher.clone(),
                tx.clone(),
                self.stop.clone(),
            );
            tasks.spawn(async move {
                let arrival = match job.source.segment(p) {
                    Ok(seg) => match fetcher.fetch(&req, &seg).await {
                        Ok(f) => Arrival::Fetched(f),
                        Err(e) => {
                            if ends_job(&job, &e) {
                                stop.store(true, Ordering::Relaxed);
                            }
                            Arrival::Failed(e)
                        }
                    },
                    Err(e) => Arrival::Failed(SegmentFailure {
                        index,
                        kind: FailKind::Invalid,
                        retries: 0,
                        redirects: 0,
                        message: format!("job `{}`: segment {index}: {e}", job.name),
                    }),
                };
                drop(permit);
                let _ = tx.send((p, arrival));
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Receives outcomes and feeds complete segments to ffmpeg in index
    /// order, as soon as each and all before it are resolved.
    async fn feed(
        &self,
        merge: &mut Merge,
        ledger: &Ledger,
        mut rx: mpsc::UnboundedReceiver<(u64, Arrival)>,
        progress: &dyn Progress,
    ) -> Fed {
        let job = self.job;
        let n = job.source.len() as usize;
        let mut fed = Fed {
            slots: vec![Slot::Pending; n],
            tally: Tally {
                fetched: 0,
                reused: 0,
                bytes: 0,
                retries: 0,
                redirects: 0,
            },
            fatal: None,
            first_failure: None,
            last_landed: None,
        };
        let mut next = 0usize;
        let mut merge_ok = true;
        while let Some((p, arrival)) = rx.recv().await {
            let p = p as usize;
            fed.last_landed = Some(Instant::now());
            match arrival {
                Arrival::Reused => {
                    fed.tally.reused += 1;
                    fed.slots[p] = Slot::Ready;
                }
                Arrival::Fetched(f) => {
                    fed.tally.fetched += 1;
                    fed.tally.bytes += f.size;
                    fed.tally.retries += f.retries as u64;
                    fed.tally.redirects += f.redirects as u64;
                    fed.slots[p] = Slot::Ready;
                    progress.segment_done(&job.name, f.size);
                }
                Arrival::Failed(e) => {
                    fed.tally.retries += e.retries as u64;
                    fed.tally.redirects += e.redirects as u64;
                    let not_found = e.kind == FailKind::NotFound;
                    fed.slots[p] = if not_found {
                        Slot::NotFound
                    } else {
                        Slot::Failed
                    };
                    tracing::debug!(job = %job.name, "{}", e.message);
                    if ends_job(job, &e) && fed.fatal.is_none() {
                        fed.fatal = Some(e.message.clone());
                        self.stop.store(true, Ordering::Relaxed);
                    }
                    if fed.first_failure.is_none() {
                        fed.first_failure = Some(e);
                    }
                }
            }
            if fed.fatal.is_some() || !merge_ok {
                continue;
            }
            while next < n && fed.slots[next] != Slot::Pending {
                if fed.slots[next] == Slot::Ready {
                    let path = fetch::segment_path(ledger.dir(), job.source.index_at(next as u64));
                    if let Err(e) = merge.feed_file(&path) {
                        merge_ok = false;
                        fed.fatal = Some(format!(
                            "job `{}`: the merge stopped at segment {}: {e}",
                            job.name,
                            job.source.index_at(next as u64)
                        ));
                        self.stop.store(true, Ordering::Relaxed);
                        break;
                    }
                }
                next += 1;
            }
        }
        fed
    }
}
