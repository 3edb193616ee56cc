//! One event of a run's stream ([`Event`]): a version, a type, a time, and
//! the fields of its type ([`EventKind`]). The format, with an example of
//! each type, is `docs/events.md`; a test reads a real run's stream
//! against it.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::report::{JobReport, Totals};
use crate::common::{mask, RunLimits};

/// The format's version: `"v"` of every event. It changes when a field
/// changes meaning or goes; a new type or a new field keeps it.
pub const VERSION: u32 = 1;

/// One line of the stream: `{"v":1,"type":"…",<fields>,"time":"…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub v: u32,
    #[serde(flatten)]
    pub kind: EventKind,
    /// RFC 3339, UTC, milliseconds: `2026-12-07T11:04:36.123Z`.
    pub time: String,
}

impl Event {
    /// `kind` stamped with the time now, every text in it masked.
    pub fn now(kind: EventKind) -> Event {
        Event {
            v: VERSION,
            kind: kind.masked(),
            time: now_text(),
        }
    }

    /// The event as one line of JSON, without the newline. (Only a map
    /// whose keys are no strings could fail, and no event has one.)
    pub fn json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    /// The job this event is about, if it is about one.
    pub fn job(&self) -> Option<&str> {
        use EventKind::*;
        match &self.kind {
            JobStarted { job, .. }
            | SegmentStarted { job, .. }
            | SegmentSaved { job, .. }
            | SegmentRetried { job, .. }
            | SegmentFailed { job, .. }
            | PlaylistReloaded { job, .. }
            | MergeStarted { job }
            | JobFinished { job, .. } => Some(job),
            RunStarted { .. }
            | HostPaused { .. }
            | HostResumed { .. }
            | HostSlowed { .. }
            | RunFinished { .. } => None,
        }
    }
}

/// The time now as events write it.
pub fn now_text() -> String {
    time_text(chrono::Utc::now())
}

/// `t` as events write it: RFC 3339, UTC, milliseconds.
pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What happened, by type (`"type"`, snake case).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The run begins: every job of the plan (skipped ones with why) and
    /// the run's limits.
    RunStarted {
        jobs: Vec<PlannedJob>,
        limits: RunLimits,
    },
    /// A job begins fetching: `segments` planned, `already_here` of them
    /// complete from an earlier run.
    JobStarted {
        job: String,
        segments: u64,
        already_here: u64,
    },
    /// Attempt `attempt` at segment `index` begins (it may wait for the
    /// host's limits first); its `segment_retried`, `segment_saved` or
    /// `segment_failed` comes after.
    SegmentStarted {
        job: String,
        index: u64,
        attempt: u32,
    },
    /// Segment `index` arrived whole and is saved: `bytes` long, on its
    /// `attempt`th attempt.
    SegmentSaved {
        job: String,
        index: u64,
        bytes: u64,
        attempt: u32,
    },
    /// Attempt `attempt` at segment `index` failed for `reason`; it is
    /// tried again.
    SegmentRetried {
        job: String,
        index: u64,
        attempt: u32,
        reason: String,
    },
    /// Segment `index` could not be had after `attempt` attempts.
    SegmentFailed {
        job: String,
        index: u64,
        attempt: u32,
        reason: String,
    },
    /// No request goes to `host` until `until` (`wait_s` from now),
    /// because of `why`.
    HostPaused {
        host: String,
        until: String,
        wait_s: f64,
        why: String,
    },
    /// Requests to `host` may go again: `why` is `the pause ended` or
    /// `the run ended`.
    HostResumed { host: String, why: String },
    /// Requests to `host` start at most `per_second` a second from now on,
    /// because of `why` (429 answers without `Retry-After`); the rate
    /// grows back slowly up to the job file's limit.
    HostSlowed {
        host: String,
        per_second: f64,
        why: String,
    },
    /// A playlist job fetched its playlist again (`reloads` times so far in
    /// this run), because of `why`.
    PlaylistReloaded {
        job: String,
        reloads: u64,
        why: String,
    },
    /// ffmpeg started on the job's segments (fed in index order as they
    /// arrive).
    MergeStarted { job: String },
    /// A job ended: its entry of the JSON report.
    JobFinished { job: String, report: Box<JobReport> },
    /// The run ended: the JSON report's totals and the exit code.
    RunFinished {
        totals: Totals,
        interrupted: bool,
        elapsed_s: f64,
        exit_code: u8,
    },
}

/// One job of the plan as `run_started` tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedJob {
    pub name: String,
    pub segments: u64,
    /// The output file, as the user would type it.
    pub output: String,
    /// Why the run leaves it out (not selected, disabled, …), or `null`.
    pub skipped: Option<String>,
}

/// `s` masked in place.
fn masked(s: &mut String) {
    if let Cow::Owned(m) = mask::text(s) {
        *s = m;
    }
}

impl PlannedJob {
    fn mask(&mut self) {
        masked(&mut self.name);
        masked(&mut self.output);
        self.skipped.as_mut().map(masked);
    }
}

fn mask_report(r: &mut JobReport) {
    masked(&mut r.name);
    r.output.as_mut().map(masked);
    r.error.as_mut().map(masked);
}

impl EventKind {
    /// Every text a server, a job file or a secret could have put in it,
    /// through the one masking function.
    fn masked(mut self) -> EventKind {
        use EventKind::*;
        match &mut self {
            RunStarted { jobs, limits } => {
                jobs.iter_mut().for_each(PlannedJob::mask);
                let hosts = std::mem::take(&mut limits.hosts);
                limits.hosts = hosts
                    .into_iter()
                    .map(|(h, l)| (mask::text(&h).into_owned(), l))
                    .collect();
            }
            JobStarted { job, .. }
            | SegmentStarted { job, .. }
            | SegmentSaved { job, .. }
            | MergeStarted { job } => masked(job),
            SegmentRetried { job, reason, .. }
            | SegmentFailed { job, reason, .. }
            | PlaylistReloaded {
                job, why: reason, ..
            } => {
                masked(job);
                masked(reason);
            }
            HostPaused { host, why, .. }
            | HostResumed { host, why }
            | HostSlowed { host, why, .. } => {
                masked(host);
                masked(why);
            }
            JobFinished { job, report } => {
                masked(job);
                mask_report(report);
            }
            RunFinished { .. } => {}
        }
        self
    }

    /// The type as the stream writes it: `segment_saved`, …
    pub fn name(&self) -> &'static str {
        use EventKind::*;
        match self {
            RunStarted { .. } => "run_started",
            JobStarted { .. } => "job_started",
            SegmentStarted { .. } => "segment_started",
            SegmentSaved { .. } => "segment_saved",
            SegmentRetried { .. } => "segment_retried",
            SegmentFailed { .. } => "segment_failed",
            HostPaused { .. } => "host_paused",
            HostResumed { .. } => "host_resumed",
            HostSlowed { .. } => "host_slowed",
            PlaylistReloaded { .. } => "playlist_reloaded",
            MergeStarted { .. } => "merge_started",
            JobFinished { .. } => "job_finished",
            RunFinished { .. } => "run_finished",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_v_type_fields_and_time() {
        let e = Event::now(EventKind::SegmentSaved {
            job: "a".into(),
            index: 3,
            bytes: 100,
            attempt: 2,
        });
        let line = e.json().unwrap();
        assert!(
            line.starts_with(r#"{"v":1,"type":"segment_saved","job":"a","index":3,"bytes":100,"attempt":2,"time":""#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<Event>(&line).unwrap(), e);
        assert_eq!(e.kind.name(), "segment_saved");
        // 2026-12-07T11:04:36.123Z
        assert_eq!(e.time.len(), 24, "{}", e.time);
        assert!(e.time.ends_with('Z') && e.time.as_bytes()[19] == b'.');
    }

    #[test]
    fn a_reason_with_a_signed_url_is_masked() {
        let e = Event::now(EventKind::SegmentRetried {
            job: "a".into(),
            index: 1,
            attempt: 1,
            reason: "503 from http://h/s1.ts?token=abcdef123".into(),
        });
        let line = e.json().unwrap();
        assert!(!line.contains("abcdef123"), "{line}");
        assert!(line.contains("token=***"), "{line}");
    }
}
