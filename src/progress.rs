//! Progress for a person: indicatif bars on a terminal, a plain line per
//! job every few seconds and at its end when stderr is not one (CI), or
//! nothing with `-q`. Fed by events from `run`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::markdown::human_bytes;
use crate::report::{JobReport, JobStatus};

/// What `run` tells about its progress.
pub trait Progress: Send + Sync {
    /// A job starts: `total` segments, of which `reused` are already here.
    fn job_started(&self, job: &str, total: u64, reused: u64);
    /// One more segment of `job` is complete.
    fn segment_done(&self, job: &str, bytes: u64);
    /// A job ended (ok, failed, up to date).
    fn job_finished(&self, report: &JobReport);
}

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
}

struct JobState {
    bar: Option<ProgressBar>,
    done: u64,
    total: u64,
    bytes: u64,
    started: Instant,
    last_line: Instant,
}

/// ` with gaps: segments 4, 7 missing (about 8.0 s lost)` for a job that
/// skipped missing segments; empty for a whole one.
fn gaps_text(r: &JobReport) -> String {
    let missing = &r.segments.missing;
    if missing.is_empty() {
        return String::new();
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
        " with gaps: segment{} {}{more} missing{lost}",
        if missing.len() == 1 { "" } else { "s" },
        shown.join(", ")
    )
}

/// `12.3 MiB · 4.1 MiB/s`
fn rate_text(bytes: u64, elapsed: Duration) -> String {
    let rate = bytes as f64 / elapsed.as_secs_f64().max(0.001);
    format!("{} · {}/s", human_bytes(bytes), human_bytes(rate as u64))
}

impl Reporter {
    pub fn new(mode: Mode) -> Reporter {
        let multi = MultiProgress::with_draw_target(match mode {
            Mode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        let total = multi.add(ProgressBar::new(0));
        total.set_style(
            ProgressStyle::with_template(
                "{prefix:>12.bold} [{bar:30.cyan/blue}] {pos}/{len} segments · {msg} · ETA {eta}",
            )
            .expect("template")
            .progress_chars("=> "),
        );
        total.set_prefix("run");
        Reporter {
            mode,
            multi,
            total,
            state: Mutex::new(BTreeMap::new()),
            interval: Duration::from_secs(5),
            started: Instant::now(),
            bytes: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn line(&self, s: &str) {
        if self.mode == Mode::Lines {
            eprintln!("{s}");
        } else if self.mode == Mode::Bars {
            let _ = self.multi.println(s);
        }
    }

    /// Clears the bars at the end of a run.
    pub fn finish(&self) {
        self.total.finish_and_clear();
        let _ = self.multi.clear();
    }
}

impl Progress for Reporter {
    fn job_started(&self, job: &str, total: u64, reused: u64) {
        let bar = (self.mode == Mode::Bars).then(|| {
            let b = self.multi.add(ProgressBar::new(total));
            b.set_style(
                ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} · {msg}")
                    .expect("template")
                    .progress_chars("=> "),
            );
            b.set_prefix(job.to_string());
            b.set_position(reused);
            b
        });
        self.total.inc_length(total);
        self.total.inc(reused);
        if self.mode == Mode::Lines {
            eprintln!("{job}: started, {total} segments ({reused} already here)");
        }
        self.state.lock().expect("lock").insert(
            job.to_string(),
            JobState {
                bar,
                done: reused,
                total,
                bytes: 0,
                started: Instant::now(),
                last_line: Instant::now(),
            },
        );
    }

    fn segment_done(&self, job: &str, bytes: u64) {
        use std::sync::atomic::Ordering;
        let all = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.total.inc(1);
        self.total
            .set_message(rate_text(all, self.started.elapsed()));
        let mut state = self.state.lock().expect("lock");
        let Some(s) = state.get_mut(job) else { return };
        s.done += 1;
        s.bytes += bytes;
        if let Some(b) = &s.bar {
            b.inc(1);
            b.set_message(rate_text(s.bytes, s.started.elapsed()));
        }
        if self.mode == Mode::Lines && s.last_line.elapsed() >= self.interval {
            s.last_line = Instant::now();
            eprintln!(
                "{job}: {}/{} segments, {}",
                s.done,
                s.total,
                rate_text(s.bytes, s.started.elapsed())
            );
        }
    }

    fn job_finished(&self, r: &JobReport) {
        if let Some(s) = self.state.lock().expect("lock").remove(&r.name) {
            if let Some(b) = s.bar {
                b.finish_and_clear();
                self.multi.remove(&b);
            }
        }
        let what = match r.status {
            JobStatus::Ok => format!(
                "ok{}, {} ({} segments, {} fetched) in {:.1} s",
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
        };
        self.line(&format!("{}: {what}", r.name));
    }
}
