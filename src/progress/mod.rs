//! Progress for a person: indicatif bars on a terminal, a plain line per
//! job every few seconds and at its end when stderr is not one (CI), or
//! nothing with `-q`. Fed by events from `run`. The bars' lines are
//! [`layout`]'s, fitted to the terminal; messages go above them whole.

pub mod layout;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::common::units::human_bytes;
use crate::events::{Event, EventKind, JobReport, JobStatus, Sink};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bars,
    Lines,
    Quiet,
}

/// Reports progress to stderr in the chosen mode.
pub struct Reporter {
    mode: Mode,
    multi: MultiProgress,
    total: ProgressBar,
    state: Mutex<BTreeMap<String, JobState>>,
    interval: Duration,
    started: Instant,
    bytes: std::sync::atomic::AtomicU64,
    /// Segments fetched in this run (reused ones aside): the observed rate.
    fetched: std::sync::atomic::AtomicU64,
    retries: std::sync::atomic::AtomicU64,
    /// `COLUMNS`, when set: the width instead of the terminal's.
    columns: Option<usize>,
    /// The run was interrupted: no more bars.
    stopped: std::sync::atomic::AtomicBool,
}

struct JobState {
    bar: Option<ProgressBar>,
    done: u64,
    fetched: u64,
    total: u64,
    bytes: u64,
    retries: u64,
    started: Instant,
    last_line: Instant,
}

impl JobState {
    /// `12.3 MiB · 4.1 MiB/s · 2 retries · ETA 1m 5s`
    fn text(&self) -> String {
        let mut s = rate_text(self.bytes, self.started.elapsed());
        if self.retries > 0 {
            s.push_str(&format!(" · {}", retries_text(self.retries)));
        }
        let eta = eta_text(self.left(), self.fetched, self.started.elapsed());
        format!("{s} · {eta}")
    }

    /// Segments not yet here.
    fn left(&self) -> u64 {
        self.total - self.done.min(self.total)
    }

    /// The job's bar as [`layout`] draws it.
    fn row(&self, name: &str) -> layout::Row {
        let elapsed = self.started.elapsed();
        layout::Row {
            name: name.to_string(),
            done: self.done,
            total: self.total,
            bytes: human_bytes(self.bytes),
            rate: rate_per_s(self.bytes, elapsed),
            retries: retries_column(self.retries),
            eta: eta_text(self.left(), self.fetched, elapsed),
        }
    }
}

fn retries_text(n: u64) -> String {
    format!("{n} retr{}", if n == 1 { "y" } else { "ies" })
}

/// `2 retries`, or nothing before the first.
fn retries_column(n: u64) -> String {
    match n {
        0 => String::new(),
        n => retries_text(n),
    }
}

/// The terminal's width: `COLUMNS` when set, else asked of the terminal,
/// else 80.
fn terminal_width(columns: Option<usize>) -> usize {
    columns
        .or_else(|| {
            let (_, cols) = console::Term::stderr().size_checked()?;
            Some(usize::from(cols))
        })
        .filter(|&w| w > 0)
        .unwrap_or(80)
}

/// Whether Ctrl-C made the terminal write `^C`: stderr is a terminal that
/// echoes control characters, and this process is in its foreground.
#[cfg(unix)]
pub fn terminal_echoes_ctrl_c() -> bool {
    let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr writes the whole struct when it returns 0, and
    // only then is it read.
    if unsafe { libc::tcgetattr(2, t.as_mut_ptr()) } != 0 {
        return false;
    }
    let flags = unsafe { t.assume_init() }.c_lflag;
    // SAFETY: plain queries of this process and its terminal.
    let foreground = unsafe { libc::tcgetpgrp(2) == libc::getpgrp() };
    foreground && flags & libc::ECHO != 0 && flags & libc::ECHOCTL != 0
}

/// Whether Ctrl-C made the terminal write `^C`: not on this system.
#[cfg(not(unix))]
pub fn terminal_echoes_ctrl_c() -> bool {
    false
}

/// The time left at the rate observed so far, waits (backoffs, pauses,
/// rate limits) included: `ETA 1m 5s`, or `ETA ?` before the first segment.
fn eta_text(remaining: u64, fetched: u64, elapsed: Duration) -> String {
    if remaining == 0 {
        return "ETA 0s".into();
    }
    if fetched == 0 {
        return "ETA ?".into();
    }
    let secs = elapsed.as_secs_f64() / fetched as f64 * remaining as f64;
    let secs = Duration::from_secs(secs.min(1e9).ceil() as u64);
    format!("ETA {}", humantime::format_duration(secs))
}

/// ` with gaps: segments 4, 7 missing (about 8.0 s lost)` for a job that
/// skipped missing segments; empty for a whole one.
fn gaps_text(r: &JobReport) -> String {
    let missing = &r.segments.missing;
    let trailing = match r.segments.trailing_missing {
        0 => String::new(),
        1 => " (the last planned segment was not there: the stream ends earlier)".into(),
        n => format!(" (the last {n} planned segments were not there: the stream ends earlier)"),
    };
    if missing.is_empty() {
        return trailing;
    }
    let shown: Vec<String> = missing.iter().take(10).map(u64::to_string).collect();
    let more = if missing.len() > 10 { ", …" } else { "" };
    // Stream-copied segments keep their timestamps, so the merged length
    // spans the gaps too.
    let spanned = r.segments.fetched + r.segments.reused + missing.len() as u64;
    let lost = r
        .media
        .as_ref()
        .map(|m| m.duration_s / spanned as f64 * missing.len() as f64)
        .map(|s| format!(" (about {s:.1} s lost)"))
        .unwrap_or_default();
    format!(
        " with gaps: segment{} {}{more} missing{lost}{trailing}",
        if missing.len() == 1 { "" } else { "s" },
        shown.join(", ")
    )
}

/// ` (no audio stream)` when ffprobe found streams in the merged file and
/// none of them is audio; empty otherwise.
fn no_audio_text(r: &JobReport) -> &'static str {
    match &r.media {
        Some(m) if !m.streams.is_empty() && !m.streams.iter().any(|s| s == "audio") => {
            " (no audio stream)"
        }
        _ => "",
    }
}

/// `interrupted (12 of 30 segments kept; a rerun resumes)`; a job the
/// interruption met before it started (no time spent) says so.
fn interrupted_text(r: &JobReport) -> String {
    let kept = r.segments.fetched + r.segments.reused;
    if kept == 0 && r.elapsed_s == 0.0 {
        return "interrupted before it started (a rerun starts it)".into();
    }
    format!(
        "interrupted ({kept} of {} segments kept; a rerun resumes)",
        r.segments.planned
    )
}

/// `12.3 MiB · 4.1 MiB/s`
fn rate_text(bytes: u64, elapsed: Duration) -> String {
    format!("{} · {}", human_bytes(bytes), rate_per_s(bytes, elapsed))
}

/// `4.1 MiB/s`
fn rate_per_s(bytes: u64, elapsed: Duration) -> String {
    let rate = bytes as f64 / elapsed.as_secs_f64().max(0.001);
    format!("{}/s", human_bytes(rate as u64))
}

impl Reporter {
    pub fn new(mode: Mode) -> Reporter {
        let multi = MultiProgress::with_draw_target(match mode {
            Mode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        let total = multi.add(ProgressBar::new(0));
        total.set_style(message_only());
        let reporter = Reporter {
            mode,
            multi,
            total,
            state: Mutex::new(BTreeMap::new()),
            interval: Duration::from_secs(5),
            started: Instant::now(),
            bytes: std::sync::atomic::AtomicU64::new(0),
            fetched: std::sync::atomic::AtomicU64::new(0),
            retries: std::sync::atomic::AtomicU64::new(0),
            columns: std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.trim().parse().ok()),
            stopped: std::sync::atomic::AtomicBool::new(false),
        };
        reporter.redraw(&BTreeMap::new());
        reporter
    }

    /// The run's bar: segments, bytes, rate, retries and the time left.
    fn total_row(&self) -> layout::Row {
        use std::sync::atomic::Ordering;
        let elapsed = self.started.elapsed();
        let bytes = self.bytes.load(Ordering::Relaxed);
        let (done, total) = (self.total.position(), self.total.length().unwrap_or(0));
        let remaining = total.saturating_sub(done);
        layout::Row {
            name: "run".into(),
            done,
            total,
            bytes: human_bytes(bytes),
            rate: rate_per_s(bytes, elapsed),
            retries: retries_column(self.retries.load(Ordering::Relaxed)),
            eta: eta_text(remaining, self.fetched.load(Ordering::Relaxed), elapsed),
        }
    }

    /// Draws every bar again, fitted to the terminal as it is now: one
    /// job's figures can change the widths all bars share.
    fn redraw(&self, state: &BTreeMap<String, JobState>) {
        if !self.drawing() {
            return;
        }
        let jobs = state
            .iter()
            .filter_map(|(name, s)| Some((s.bar.as_ref()?, s.row(name))));
        let (bars, rows): (Vec<&ProgressBar>, Vec<layout::Row>) =
            std::iter::once((&self.total, self.total_row()))
                .chain(jobs)
                .unzip();
        let lines = layout::lines(&rows, terminal_width(self.columns));
        for (bar, line) in bars.into_iter().zip(lines) {
            bar.set_message(line);
        }
    }

    fn line(&self, s: &str) {
        let s = &*crate::common::diag::terminal_text(s);
        if self.drawing() {
            let _ = self.multi.println(s);
        } else if self.mode != Mode::Quiet {
            eprintln!("{s}");
        }
    }

    /// Bars are on screen: a terminal, and no interrupt yet.
    fn drawing(&self) -> bool {
        self.mode == Mode::Bars && !self.stopped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The run was interrupted: the bars go at once, for good, and what
    /// follows (each job's last line) is printed plainly. `echoed`: the
    /// terminal wrote `^C` ([`terminal_echoes_ctrl_c`]), on a line of its
    /// own below the bars, as they fill their last line to the edge.
    pub fn interrupted(&self, echoed: bool) {
        use std::io::Write;
        let _state = self.state.lock().expect("lock");
        if self
            .stopped
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        if self.mode != Mode::Bars {
            return;
        }
        if echoed {
            // Clear the `^C` and go back up to the last bar.
            let _ = std::io::stderr().write_all(b"\r\x1b[2K\x1b[1A");
        }
        let _ = self.multi.clear();
        self.multi.set_draw_target(ProgressDrawTarget::hidden());
    }

    /// Clears the bars at the end of a run.
    pub fn finish(&self) {
        self.total.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// A bar drawn as the line [`layout`] made for it.
fn message_only() -> ProgressStyle {
    ProgressStyle::default_bar()
        .template("{msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// The run's events, as bars or lines.
impl Sink for Reporter {
    fn emit(&self, event: &Event) {
        match &event.kind {
            EventKind::JobStarted {
                job,
                segments,
                already_here,
            } => self.job_started(job, *segments, *already_here),
            EventKind::SegmentSaved { job, bytes, .. } => self.segment_done(job, *bytes),
            EventKind::SegmentRetried {
                job, index, reason, ..
            } => self.retrying(job, *index, reason),
            EventKind::HostPaused {
                host, wait_s, why, ..
            } => self.host_paused(
                host,
                Duration::try_from_secs_f64(*wait_s).unwrap_or_default(),
                why,
            ),
            EventKind::HostSlowed {
                host,
                per_second,
                why,
            } => self.host_slowed(host, *per_second, why),
            EventKind::JobFinished { report, .. } => self.job_finished(report),
            _ => {}
        }
    }
}

impl Reporter {
    /// A job starts: `total` segments, of which `reused` are already here.
    pub fn job_started(&self, job: &str, total: u64, reused: u64) {
        // Bars are drawn under the lock only: an interrupt clears them for
        // good.
        let mut state = self.state.lock().expect("lock");
        let bar = self.drawing().then(|| {
            let b = self.multi.add(ProgressBar::new(total));
            b.set_style(message_only());
            b
        });
        self.total.inc_length(total);
        self.total.inc(reused);
        if self.mode == Mode::Lines {
            eprintln!("{job}: started, {total} segments ({reused} already here)");
        }
        state.insert(
            job.to_string(),
            JobState {
                bar,
                done: reused,
                fetched: 0,
                total,
                bytes: 0,
                retries: 0,
                started: Instant::now(),
                last_line: Instant::now(),
            },
        );
        self.redraw(&state);
    }

    /// One more segment of `job` is complete.
    pub fn segment_done(&self, job: &str, bytes: u64) {
        use std::sync::atomic::Ordering;
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.fetched.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state.lock().expect("lock");
        self.total.inc(1);
        let Some(s) = state.get_mut(job) else { return };
        s.done += 1;
        s.fetched += 1;
        s.bytes += bytes;
        if self.mode == Mode::Lines && s.last_line.elapsed() >= self.interval {
            s.last_line = Instant::now();
            eprintln!("{job}: {}/{} segments, {}", s.done, s.total, s.text());
        }
        self.redraw(&state);
    }

    /// A job ended (ok, failed, up to date).
    pub fn job_finished(&self, r: &JobReport) {
        let mut state = self.state.lock().expect("lock");
        if let Some(s) = state.remove(&r.name) {
            // What a job that ended did not fetch (it failed, or went on
            // without missing segments) leaves the run's total, which then
            // reaches its end.
            let length = self.total.length().unwrap_or(0);
            self.total.set_length(length.saturating_sub(s.left()));
            if let Some(b) = s.bar {
                b.finish_and_clear();
                self.multi.remove(&b);
            }
        }
        self.redraw(&state);
        drop(state);
        let what = match r.status {
            JobStatus::Ok => format!(
                "ok{}{}, {} ({} segments, {} fetched) in {:.1} s",
                no_audio_text(r),
                gaps_text(r),
                r.output.as_deref().unwrap_or("-"),
                r.segments.fetched + r.segments.reused,
                human_bytes(r.bytes),
                r.elapsed_s
            ),
            JobStatus::UpToDate => format!("up to date, {}", r.output.as_deref().unwrap_or("-")),
            JobStatus::Skipped => "skipped".to_string(),
            JobStatus::Failed => {
                format!("FAILED: {}", r.error.as_deref().unwrap_or("unknown error"))
            }
            JobStatus::Interrupted => interrupted_text(r),
        };
        self.line(&format!("{}: {what}", r.name));
    }

    /// An attempt at segment `index` of `job` failed and is tried again.
    pub fn retrying(&self, job: &str, index: u64, reason: &str) {
        use std::sync::atomic::Ordering;
        self.retries.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state.lock().expect("lock");
        let Some(s) = state.get_mut(job) else { return };
        s.retries += 1;
        let first = s.retries == 1;
        self.redraw(&state);
        let Some(s) = state.get_mut(job) else { return };
        // The first retry of a job, then at most one line per interval.
        if first || s.last_line.elapsed() >= self.interval {
            s.last_line = Instant::now();
            drop(state);
            self.line(&format!("{job}: segment {index}: retrying: {reason}"));
        }
    }

    /// Requests to `host` wait `wait`, because of `why`.
    pub fn host_paused(&self, host: &str, wait: Duration, why: &str) {
        let wait = humantime::format_duration(Duration::from_secs(wait.as_secs().max(1)));
        self.line(&format!("{host} paused {wait}: {why}"));
    }

    /// Requests to `host` start at most `per_second` a second, because of `why`.
    pub fn host_slowed(&self, host: &str, per_second: f64, why: &str) {
        self.line(&format!(
            "{host} slowed to {per_second:.2} requests/s: {why}"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_comes_from_the_observed_rate_waits_included() {
        // 10 fetched in 20 s (a rate limit, backoffs): 30 more take 60 s.
        assert_eq!(eta_text(30, 10, Duration::from_secs(20)), "ETA 1m");
        assert_eq!(eta_text(30, 0, Duration::from_secs(20)), "ETA ?");
        assert_eq!(eta_text(0, 10, Duration::from_secs(20)), "ETA 0s");
        // Absurd figures are capped, not a panic.
        assert!(eta_text(u64::MAX, 1, Duration::from_secs(1_000_000)).starts_with("ETA 31years"));
    }

    #[test]
    fn a_job_line_counts_retries() {
        let s = JobState {
            bar: None,
            done: 5,
            fetched: 4,
            total: 9,
            bytes: 2048,
            retries: 2,
            started: Instant::now() - Duration::from_secs(8),
            last_line: Instant::now(),
        };
        let text = s.text();
        // 4 fetched in 8 s, 4 to go: 8 s (9 s once the clock moved on).
        assert!(
            text.ends_with("· 2 retries · ETA 8s") || text.ends_with("· 2 retries · ETA 9s"),
            "{text}"
        );
    }

    fn failed(name: &str) -> JobReport {
        JobReport {
            name: name.into(),
            status: JobStatus::Failed,
            output: None,
            segments: Default::default(),
            bytes: 0,
            retries: 0,
            redirects: 0,
            elapsed_s: 0.0,
            media: None,
            expected_duration_s: None,
            playlist_reloads: 0,
            end_found: None,
            error: Some("job `a`: segment 3: 500".into()),
            merge_tail_s: None,
            rate_adapted: None,
        }
    }

    #[test]
    fn a_failed_job_leaves_the_runs_total_with_what_it_fetched() {
        let r = Reporter::new(Mode::Quiet);
        r.job_started("a", 10, 2);
        r.job_started("b", 5, 0);
        r.segment_done("a", 100);
        r.segment_done("b", 100);
        r.job_finished(&failed("a"));
        // a: 2 reused + 1 fetched stay; its 7 unfetched leave the total.
        assert_eq!(r.total.length(), Some(3 + 5));
        assert_eq!(r.total.position(), 4);
        for _ in 0..4 {
            r.segment_done("b", 100);
        }
        r.job_finished(&failed("b"));
        assert_eq!(r.total.position(), r.total.length().unwrap_or(0));
    }
}
