//! The Jobs list: every job of the job files, what it fetches and where
//! it writes, its plan (first and last URL, headers with secrets as
//! `***`), and its state as a run left it on disk: never run, partial
//! (segments saved of planned), done (the output `done.json` vouches
//! for), or failed with its last message (a run of this page, or the
//! `failed.json` a run left: see [`failed_on_disk`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::common::diag::display_path;
use crate::common::mask;
use crate::events::{JobReport, JobStatus};
use crate::plan::source::SegmentSource;
use crate::plan::{JobPlan, Plan};

/// One job as the page lists it. Every text is masked.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct JobRow {
    pub name: String,
    pub source: String,
    /// Planned segments; `None` for a playlist not read yet.
    pub segments: Option<u64>,
    pub output: String,
    /// Why the job is not run (`enabled: false`), if it is not.
    pub skipped: Option<String>,
    pub state: State,
    pub first_url: Option<String>,
    pub last_url: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// Where a job stands.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum State {
    NeverRun,
    /// `total`: `None` for a playlist not read yet.
    Partial {
        saved: u64,
        total: Option<u64>,
    },
    Done {
        duration_s: f64,
        streams: Vec<String>,
    },
    Failed {
        message: String,
    },
    Running,
}

/// The rows of `plan`; `last` holds the reports of this page's runs,
/// `running` the jobs of the run in progress.
pub fn rows(plan: &Plan, last: &BTreeMap<String, JobReport>, running: &[String]) -> Vec<JobRow> {
    plan.jobs
        .iter()
        .map(|j| {
            let state = match running.contains(&j.name) {
                true => State::Running,
                false => state_of(j, last.get(&j.name)),
            };
            row(j, state)
        })
        .collect()
}

/// A playlist job whose playlist was not read yet: its segments are
/// unknown.
fn unread(j: &JobPlan) -> bool {
    matches!(&j.source, SegmentSource::Playlist(p) if p.resolved.is_none())
}

fn row(j: &JobPlan, state: State) -> JobRow {
    let unread = unread(j);
    let shown = |s: &str| mask::text(s).into_owned();
    JobRow {
        name: shown(&j.name),
        source: shown(&j.source.describe()),
        segments: (!unread).then(|| j.source.len()),
        output: shown(&display_path(&j.output)),
        skipped: j.skipped.map(|r| r.to_string()),
        state,
        first_url: (!unread).then(|| shown(&j.first_url)),
        last_url: (!unread).then(|| shown(&j.last_url)),
        headers: j
            .headers
            .iter()
            .map(|(n, v)| (shown(n), shown(v.shown())))
            .collect(),
    }
}

/// The state a job's files tell, or the last report of this page's run
/// when it failed or was interrupted.
pub fn state_of(job: &JobPlan, last: Option<&JobReport>) -> State {
    if let Some(done) = done_on_disk(job) {
        return done;
    }
    if let Some(r) = last.filter(|r| matches!(r.status, JobStatus::Failed | JobStatus::Interrupted))
    {
        let message = r.error.clone().unwrap_or_else(|| "failed".into());
        return State::Failed {
            message: mask::text(&message).into_owned(),
        };
    }
    if let Some(message) = failed_on_disk(job) {
        return State::Failed {
            message: mask::text(&message).into_owned(),
        };
    }
    let saved = crate::state::listed_indices(&job.state_dir).map_or(0, |v| v.len() as u64);
    match saved {
        0 => State::NeverRun,
        saved => State::Partial {
            saved,
            total: (!unread(job)).then(|| job.source.len()),
        },
    }
}

/// Done: `done.json` matches the job as it is now, and the output is
/// there with the size it recorded.
fn done_on_disk(job: &JobPlan) -> Option<State> {
    let done = crate::state::read_done(&job.state_dir, &crate::run::fingerprint(job))?;
    let meta = std::fs::symlink_metadata(&job.output).ok()?;
    (meta.is_file() && meta.len() == done.output_size).then_some(State::Done {
        duration_s: done.duration_s,
        streams: done.streams,
    })
}

/// The message of the failure a run recorded (`failed.json`), unless
/// something newer stands: `done.json` current wins before this is asked,
/// and a failure older than the ledger's newest save (a later run saved
/// segments, then stopped without a word) is not the job's state any
/// more. A run removes the record when it starts the job again. The text
/// is the report's; it is masked again and the page escapes it.
fn failed_on_disk(job: &JobPlan) -> Option<String> {
    let failed = crate::state::read_failed(&job.state_dir)?;
    let at = chrono::DateTime::parse_from_rfc3339(&failed.time).ok()?;
    let saved = crate::state::saved_at(&job.state_dir)
        .map(|t| chrono::DateTime::<chrono::Utc>::from(t).timestamp_millis());
    (failed.status == "failed" && saved.is_none_or(|s| at.timestamp_millis() >= s))
        .then_some(failed.message)
}
