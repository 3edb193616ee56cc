//! What the Run panel shows while a run works, built from what the run
//! tells: per job its segments, bytes, rate, ETA and retries; per host its
//! limit, its requests in flight, the segments it gave and the pause it is
//! in; when the run ends,
//! its report. Every tab reads the same [`Live`], so a tab opened late
//! sees the run as it is.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::events::{Event, EventKind};

use serde::Serialize;

use crate::common::mask;
use crate::events::{JobReport, RunReport};
use crate::plan::Plan;

/// The run as the page shows it. Every text is masked.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Live {
    pub running: bool,
    /// A stop was asked for.
    pub stopping: bool,
    pub jobs: Vec<JobLive>,
    pub hosts: BTreeMap<String, HostLive>,
    pub report: Option<ReportView>,
    /// Why the last run could not start.
    pub error: Option<String>,
    /// Segment attempts started and not yet retried, saved or failed:
    /// (job, index) to the attempt.
    #[serde(skip)]
    attempts: BTreeMap<(String, u64), u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobLive {
    pub name: String,
    pub host: Option<String>,
    /// `waiting`, `running`, then the report's status.
    pub status: String,
    pub done: u64,
    pub total: u64,
    pub bytes: u64,
    pub retries: u64,
    pub rate_bytes_s: f64,
    /// Seconds left at the rate so far; `None` before the first segment.
    pub eta_s: Option<f64>,
    pub error: Option<String>,
    /// ffmpeg has started on the segments (it takes them as they come).
    pub merging: bool,
    #[serde(skip)]
    fetched: u64,
    #[serde(skip)]
    started: Option<Instant>,
    #[serde(skip)]
    ended: Option<Instant>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HostLive {
    /// `4 in flight, 10 req/s`: the host's limit as the plan says it.
    pub limit: String,
    /// Segment requests started and not yet answered (those waiting for
    /// the host's limits included).
    pub in_flight: u64,
    pub segments: u64,
    /// Segments per second over the run so far.
    pub rate_segments_s: f64,
    /// RFC 3339, while requests to it wait.
    pub paused_until: Option<String>,
    pub why: Option<String>,
    /// Requests a second the host was last slowed to (429 answers
    /// without `Retry-After`).
    pub slowed_per_second: Option<f64>,
    #[serde(skip)]
    started: Option<Instant>,
    #[serde(skip)]
    paused: Option<Instant>,
}

/// The report, as the Markdown summary says it, and each output.
#[derive(Debug, Clone, Serialize)]
pub struct ReportView {
    pub markdown: String,
    pub outputs: Vec<OutputView>,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputView {
    pub job: String,
    pub status: String,
    pub path: Option<String>,
    pub duration_s: Option<f64>,
    pub streams: Vec<String>,
}

fn shown(s: &str) -> String {
    mask::text(s).into_owned()
}

impl JobLive {
    /// A job of the run, before its first event: nothing done of `total`.
    fn waiting(name: String, host: Option<String>, total: u64) -> JobLive {
        JobLive {
            name,
            host,
            status: "waiting".into(),
            done: 0,
            total,
            bytes: 0,
            retries: 0,
            rate_bytes_s: 0.0,
            eta_s: None,
            error: None,
            merging: false,
            fetched: 0,
            started: None,
            ended: None,
        }
    }
}

impl Live {
    /// A run of `plan`'s runnable jobs begins.
    pub fn begin(plan: &Plan) -> Live {
        let jobs = plan
            .runnable()
            .map(|j| {
                let host = j.shown_host.as_deref().map(shown);
                JobLive::waiting(shown(&j.name), host, j.source.len())
            })
            .collect();
        let mut hosts = BTreeMap::new();
        for j in plan.runnable() {
            if let (Some(h), Some(l)) = (&j.shown_host, &j.host_limit) {
                let mut limit = format!("{} in flight", l.concurrency);
                if let Some(r) = l.rate {
                    limit.push_str(&format!(", {} req/s", r.per_second));
                }
                hosts.entry(shown(h)).or_insert(HostLive {
                    limit,
                    ..HostLive::default()
                });
            }
        }
        Live {
            running: true,
            jobs,
            hosts,
            ..Live::default()
        }
    }

    fn job(&mut self, name: &str) -> Option<&mut JobLive> {
        let name = shown(name);
        self.jobs.iter_mut().find(|j| j.name == name)
    }

    /// One event of the run.
    pub fn apply(&mut self, event: &Event) {
        use EventKind::*;
        match &event.kind {
            JobStarted {
                job,
                segments,
                already_here,
            } => self.job_started(job, *segments, *already_here),
            SegmentStarted {
                job,
                index,
                attempt,
            } => {
                self.attempts.insert((shown(job), *index), *attempt);
            }
            SegmentSaved {
                job, index, bytes, ..
            } => {
                self.attempt_over(job, *index);
                self.segment_done(job, *bytes);
            }
            SegmentRetried { job, index, .. } => {
                self.attempt_over(job, *index);
                self.retrying(job);
            }
            SegmentFailed { job, index, .. } => self.attempt_over(job, *index),
            HostPaused {
                host,
                until,
                wait_s,
                why,
            } => self.host_paused(host, until, Duration::from_secs_f64(wait_s.max(0.0)), why),
            HostResumed { host, .. } => self.host_resumed(host),
            HostSlowed {
                host, per_second, ..
            } => {
                let h = self.hosts.entry(shown(host)).or_default();
                h.slowed_per_second = Some(*per_second);
            }
            MergeStarted { job } => {
                if let Some(j) = self.job(job) {
                    j.merging = true;
                }
            }
            JobFinished { report, .. } => self.job_finished(report),
            RunStarted { .. } | PlaylistReloaded { .. } | RunFinished { .. } => {}
        }
    }

    pub fn job_started(&mut self, name: &str, total: u64, reused: u64) {
        if let Some(j) = self.job(name) {
            j.status = "running".into();
            j.total = total;
            j.done = reused;
            j.started = Some(Instant::now());
        }
    }

    pub fn segment_done(&mut self, name: &str, bytes: u64) {
        let Some(j) = self.job(name) else { return };
        j.done += 1;
        j.fetched += 1;
        j.bytes += bytes;
        let host = j.host.clone();
        if let Some(h) = host.and_then(|h| self.hosts.get_mut(&h)) {
            h.segments += 1;
            h.started.get_or_insert_with(Instant::now);
        }
    }

    /// The attempt at `index` of job `name` got its answer.
    fn attempt_over(&mut self, name: &str, index: u64) {
        self.attempts.remove(&(shown(name), index));
    }

    pub fn retrying(&mut self, name: &str) {
        if let Some(j) = self.job(name) {
            j.retries += 1;
        }
    }

    pub fn host_paused(&mut self, host: &str, until: &str, wait: Duration, why: &str) {
        let h = self.hosts.entry(shown(host)).or_default();
        h.paused_until = Some(shown(until));
        h.why = Some(shown(why));
        h.paused = Instant::now().checked_add(wait);
    }

    pub fn host_resumed(&mut self, host: &str) {
        if let Some(h) = self.hosts.get_mut(&shown(host)) {
            h.paused_until = None;
            h.why = None;
            h.paused = None;
        }
    }

    pub fn job_finished(&mut self, r: &JobReport) {
        // An attempt a stop cut short gets no answer.
        let name = shown(&r.name);
        self.attempts.retain(|(job, _), _| *job != name);
        if let Some(j) = self.job(&r.name) {
            j.status = crate::report::markdown::status_word(r.status).to_string();
            j.error = r.error.as_deref().map(shown);
            j.retries = j.retries.max(r.retries);
            j.ended = Some(Instant::now());
            if r.segments.planned > 0 {
                j.total = r.segments.planned;
                j.done = r.segments.fetched + r.segments.reused;
            }
        }
    }

    /// The run ended with `report`.
    pub fn finish(&mut self, report: &RunReport) {
        for r in &report.jobs {
            self.job_finished(r);
        }
        self.running = false;
        self.stopping = false;
        self.report = Some(ReportView {
            markdown: shown(&crate::report::markdown::render(report)),
            outputs: report.jobs.iter().map(output_view).collect(),
            interrupted: report.interrupted,
        });
    }

    /// The state with rates, ETAs and pauses as of now.
    pub fn now(&self) -> Live {
        let mut out = self.clone();
        let now = Instant::now();
        for j in &mut out.jobs {
            let Some(started) = j.started else { continue };
            let elapsed = j.ended.unwrap_or(now).duration_since(started).as_secs_f64();
            if elapsed > 0.0 {
                j.rate_bytes_s = j.bytes as f64 / elapsed;
            }
            let left = j.total.saturating_sub(j.done);
            j.eta_s = match (left, j.fetched) {
                (0, _) => Some(0.0),
                (_, 0) => None,
                (left, fetched) => Some(elapsed / fetched as f64 * left as f64),
            };
        }
        for (job, _) in self.attempts.keys() {
            let host = self.jobs.iter().find(|j| j.name == *job);
            if let Some(h) = host.and_then(|j| j.host.as_ref()) {
                out.hosts.entry(h.clone()).or_default().in_flight += 1;
            }
        }
        for h in out.hosts.values_mut() {
            if let Some(started) = h.started {
                let elapsed = now.duration_since(started).as_secs_f64().max(1.0);
                h.rate_segments_s = h.segments as f64 / elapsed;
            }
            if h.paused.is_some_and(|until| until <= now) {
                h.paused_until = None;
                h.why = None;
            }
        }
        out
    }
}

fn output_view(r: &JobReport) -> OutputView {
    OutputView {
        job: shown(&r.name),
        status: crate::report::markdown::status_word(r.status).to_string(),
        path: r.output.as_deref().map(shown),
        duration_s: r.media.as_ref().map(|m| m.duration_s),
        streams: r
            .media
            .as_ref()
            .map_or_else(Vec::new, |m| m.streams.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{JobStatus, SegmentCounts};

    fn live() -> Live {
        let job = |name: &str| JobLive::waiting(name.into(), Some("cdn.example".into()), 4);
        let mut hosts = BTreeMap::new();
        hosts.insert("cdn.example".to_string(), HostLive::default());
        Live {
            running: true,
            jobs: vec![job("a"), job("b")],
            hosts,
            ..Live::default()
        }
    }

    fn tell(l: &mut Live, kind: EventKind) {
        l.apply(&Event::now(kind));
    }

    /// A failed job's report: `planned` segments, two fetched and one
    /// reused, 200 bytes, three retries, and `error`.
    fn failed_report(name: &str, planned: u64, error: &str) -> JobReport {
        JobReport {
            name: name.into(),
            status: JobStatus::Failed,
            output: None,
            segments: SegmentCounts {
                planned,
                fetched: 2,
                reused: 1,
                ..SegmentCounts::default()
            },
            bytes: 200,
            retries: 3,
            redirects: 0,
            elapsed_s: 1.0,
            media: None,
            expected_duration_s: None,
            rate_adapted: None,
            playlist_reloads: 0,
            end_found: None,
            error: Some(error.into()),
            merge_tail_s: None,
        }
    }

    fn started(job: &str, index: u64, attempt: u32) -> EventKind {
        EventKind::SegmentStarted {
            job: job.into(),
            index,
            attempt,
        }
    }

    /// Job `a` (4 segments, 1 already here) and job `b` start; a's 2, 3,
    /// 4 and b's 1 go out.
    fn under_way(l: &mut Live) {
        let job = EventKind::JobStarted {
            job: "a".into(),
            segments: 4,
            already_here: 1,
        };
        tell(l, job);
        for (job, index) in [("a", 2), ("a", 3), ("a", 4), ("b", 1)] {
            tell(l, started(job, index, 1));
        }
    }

    /// a's 2 and 3 are saved (100 bytes each) and its 4 is retried.
    fn saves_and_a_retry(l: &mut Live) {
        for index in [2, 3] {
            let saved = EventKind::SegmentSaved {
                job: "a".into(),
                index,
                bytes: 100,
                attempt: 1,
            };
            tell(l, saved);
        }
        let retried = EventKind::SegmentRetried {
            job: "a".into(),
            index: 4,
            attempt: 1,
            reason: "503".into(),
        };
        tell(l, retried);
    }

    #[test]
    fn events_move_the_bars_and_the_host_lines() {
        let mut l = live();
        under_way(&mut l);
        assert_eq!(l.now().hosts["cdn.example"].in_flight, 4);
        saves_and_a_retry(&mut l);
        let paused = EventKind::HostPaused {
            host: "cdn.example".into(),
            until: "2026-12-07T12:00:00.000Z".into(),
            wait_s: 60.0,
            why: "Retry-After".into(),
        };
        tell(&mut l, paused);
        let now = l.now();
        let a = &now.jobs[0];
        assert_eq!(
            (a.status.as_str(), a.done, a.bytes, a.retries),
            ("running", 3, 200, 1)
        );
        assert!(a.eta_s.is_some());
        assert_eq!(now.jobs[1].status, "waiting");
        let host = &now.hosts["cdn.example"];
        assert_eq!(host.segments, 2);
        // a's 4 was answered (retried); b's 1 is still out.
        assert_eq!(host.in_flight, 1);
        tell(&mut l, started("a", 4, 2));
        assert_eq!(l.now().hosts["cdn.example"].in_flight, 2);
        assert_eq!(
            host.paused_until.as_deref(),
            Some("2026-12-07T12:00:00.000Z")
        );
        let resumed = EventKind::HostResumed {
            host: "cdn.example".into(),
            why: "pause over".into(),
        };
        tell(&mut l, resumed);
        assert_eq!(l.now().hosts["cdn.example"].paused_until, None);
    }

    #[test]
    fn a_job_that_ends_takes_its_attempts_out_of_flight_and_its_error_is_masked() {
        let mut l = live();
        under_way(&mut l);
        saves_and_a_retry(&mut l);
        tell(&mut l, started("a", 4, 2));
        assert_eq!(l.now().hosts["cdn.example"].in_flight, 2);
        let report = failed_report(
            "a",
            4,
            "job `a`: segment 4: 503 from http://cdn.example/4.ts?token=abcdef99",
        );
        let finished = EventKind::JobFinished {
            job: "a".into(),
            report: Box::new(report),
        };
        tell(&mut l, finished);
        // a's attempt the end cut short is no longer in flight.
        assert_eq!(l.now().hosts["cdn.example"].in_flight, 1);
        let failed = EventKind::SegmentFailed {
            job: "b".into(),
            index: 1,
            attempt: 1,
            reason: "404".into(),
        };
        tell(&mut l, failed);
        assert_eq!(l.now().hosts["cdn.example"].in_flight, 0);
        let a = &l.now().jobs[0];
        assert_eq!((a.status.as_str(), a.retries), ("failed", 3));
        let error = a.error.as_deref().unwrap();
        assert!(
            error.contains("token=***") && !error.contains("abcdef99"),
            "{error}"
        );
    }
}
