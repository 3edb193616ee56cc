//! The run of many jobs side by side under shared limits: at most
//! `limits.global.jobs` jobs at once (a job that only waits out paused
//! hosts does not count: [`crate::net::JobSlot`]), every job in the report whatever became
//! of it (a job that panicked is a failed job, never a missing one). One job
//! end to end is [`job`]; fetching its segments and feeding the merge is
//! [`feed`]. This is where fetching (HTTP, files) and merging (ffmpeg) meet.

mod advice;
mod error;
mod feed;
mod files;
mod job;
mod renew;
mod tail;
mod timed;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::common::diag::display_path;
use crate::events::{
    EventKind, JobReport, JobStatus, PlannedJob, RunReport, SegmentCounts, Stream,
};
use crate::merge::Tools;
use crate::net::{Fetcher, JobSlot};
use crate::plan::{JobPlan, Plan};

pub use files::fingerprint;
pub use job::run_job;

/// Choices of the command line that change how a run behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Fetch every segment and merge again, even when the output is complete.
    pub force: bool,
    /// Keep segments after a verified merge.
    pub keep_segments: bool,
}

/// Runs every runnable job of the plan, a bounded number at a time, and
/// reports on all of them (skipped ones included), telling `events` what
/// happens from `run_started` to `run_finished`. Cancelling `cancel`
/// stops new requests; the ledger keeps what arrived, and the report says
/// the run was interrupted.
pub async fn run(
    plan: &Plan,
    tools: &Tools,
    opts: RunOptions,
    events: Arc<Stream>,
    cancel: CancellationToken,
) -> RunReport {
    let started_at = chrono::Utc::now();
    let started = Instant::now();
    events.tell(run_started(plan));
    let shared = Shared {
        fetcher: Arc::new(Fetcher::new(&plan.limits).with_events(events.clone())),
        tools: tools.clone(),
        opts,
        events: events.clone(),
        cancel: cancel.clone(),
        // Each job in flight has its own ffmpeg and feeding threads.
        in_flight: Arc::new(Semaphore::new(plan.limits.jobs as usize)),
        tails: Arc::new(Semaphore::new(plan.limits.jobs as usize)),
    };
    let mut tasks = JoinSet::new();
    let mut names = HashMap::new();
    for job in plan.runnable() {
        let task = tasks.spawn(shared.clone().run(job.clone()));
        names.insert(task.id(), job.name.clone());
    }
    let mut finished = HashMap::new();
    while let Some(joined) = tasks.join_next_with_id().await {
        let report = match joined {
            Ok((_, report)) => report,
            Err(e) => {
                let name = names.remove(&e.id()).unwrap_or_default();
                let report = panicked(plan, &name, e);
                events.tell(job_finished(&report));
                report
            }
        };
        finished.insert(report.name.clone(), report);
    }
    let jobs = plan
        .jobs
        .iter()
        .map(|j| match j.skipped {
            Some(reason) => JobReport {
                error: Some(reason.to_string()),
                ..blank(&j.name, JobStatus::Skipped, j.source.len())
            },
            None => finished.remove(&j.name).unwrap_or_else(|| {
                failed(j, format!("job `{}`: never reported; rerun it", j.name))
            }),
        })
        .collect();
    let report = RunReport::new(
        started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        started.elapsed().as_secs_f64(),
        cancel.is_cancelled(),
        jobs,
    );
    shared.fetcher.pauses_over();
    events.tell(EventKind::RunFinished {
        totals: report.totals.clone(),
        interrupted: report.interrupted,
        elapsed_s: report.elapsed_s,
        exit_code: report.exit_code(),
    });
    report
}

/// `run_started`: every job of the plan, and the run's limits.
fn run_started(plan: &Plan) -> EventKind {
    let jobs = plan.jobs.iter().map(|j| PlannedJob {
        name: j.name.clone(),
        segments: j.source.len(),
        output: display_path(&j.output),
        skipped: j.skipped.map(|r| r.to_string()),
    });
    EventKind::RunStarted {
        jobs: jobs.collect(),
        limits: plan.limits.clone(),
    }
}

fn job_finished(report: &JobReport) -> EventKind {
    EventKind::JobFinished {
        job: report.name.clone(),
        report: Box::new(report.clone()),
    }
}

/// What every job of a run shares.
#[derive(Clone)]
struct Shared {
    fetcher: Arc<Fetcher>,
    tools: Tools,
    opts: RunOptions,
    events: Arc<Stream>,
    cancel: CancellationToken,
    /// At most `limits.global.jobs` permits: one per job fetching or
    /// merging, none for a job that only waits out paused hosts.
    in_flight: Arc<Semaphore>,
    /// As many permits: one per job that merges and checks after giving
    /// its place to the next job.
    tails: Arc<Semaphore>,
}

impl Shared {
    /// One job, once a place among the jobs in flight is free.
    async fn run(self, job: JobPlan) -> JobReport {
        let mut report = tokio::select! {
            permit = self.in_flight.clone().acquire_owned() => {
                // Given back while the job only waits out paused hosts.
                let permit = permit.expect("never closed");
                let slot = JobSlot::new(self.in_flight.clone(), self.tails.clone(), permit);
                let events = self.events.as_ref();
                let ran = run_job(&job, &self.fetcher, &self.tools, self.opts, events, &self.cancel);
                slot.scope(ran).await
            }
            _ = self.cancel.cancelled() => JobReport {
                status: JobStatus::Interrupted,
                ..failed(
                    &job,
                    format!("job `{}`: interrupted before it started; a rerun starts it", job.name),
                )
            },
        };
        if let (Some(host), Some(shown)) = (&job.host, &job.shown_host) {
            report.rate_adapted = self.fetcher.rate_adapted(host, shown);
        }
        self.events.tell(job_finished(&report));
        report
    }
}

/// The report of a job whose task panicked.
fn panicked(plan: &Plan, name: &str, e: tokio::task::JoinError) -> JobReport {
    let msg = format!(
        "job `{name}`: snatch failed internally ({}); saved segments are kept and a rerun resumes",
        join_error_text(e)
    );
    match plan.jobs.iter().find(|j| j.name == name) {
        Some(j) => failed(j, msg),
        None => JobReport {
            error: Some(msg),
            ..blank(name, JobStatus::Failed, 0)
        },
    }
}

/// A report with nothing done yet.
fn blank(name: &str, status: JobStatus, planned: u64) -> JobReport {
    JobReport {
        name: name.to_string(),
        status,
        output: None,
        segments: SegmentCounts {
            planned,
            ..SegmentCounts::default()
        },
        bytes: 0,
        retries: 0,
        redirects: 0,
        elapsed_s: 0.0,
        media: None,
        expected_duration_s: None,
        playlist_reloads: 0,
        end_found: None,
        error: None,
        merge_tail_s: None,
        rate_adapted: None,
    }
}

/// A runnable job's report before any segment was counted: failed until
/// the job says otherwise.
fn begun(job: &JobPlan) -> JobReport {
    JobReport {
        output: Some(display_path(&job.output)),
        expected_duration_s: job.source.expected_duration(),
        ..blank(&job.name, JobStatus::Failed, job.source.len())
    }
}

fn failed(job: &JobPlan, error: String) -> JobReport {
    JobReport {
        error: Some(error),
        ..begun(job)
    }
}

/// A task's panic or cancellation in a few words.
fn join_error_text(e: tokio::task::JoinError) -> String {
    if !e.is_panic() {
        return "its task was cancelled".into();
    }
    let payload = e.into_panic();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("a panic: {text}")
}
