//! `--summary FILE` and `$GITHUB_STEP_SUMMARY`: a short GitHub-flavoured
//! Markdown summary for a person reading a CI page — a totals line, a table
//! of jobs, and why each failed or interrupted job did not finish.

use std::fmt::Write as _;

use super::{Exporter, RenderError};
use crate::common::units::human_bytes;
use crate::events::{JobReport, JobStatus, RunReport};

/// The Markdown summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Markdown;

impl Exporter for Markdown {
    fn kind(&self) -> &'static str {
        "Markdown summary"
    }

    fn render(&self, report: &RunReport) -> Result<Vec<u8>, RenderError> {
        Ok(render(report).into_bytes())
    }
}

/// The summary as text (ends with a newline).
pub fn render(report: &RunReport) -> String {
    let mut out = String::from("### snatch run\n\n");
    out.push_str(&totals_line(report));
    out.push_str("\n\n");

    if report.jobs.is_empty() {
        out.push_str("No jobs.\n");
    } else {
        out.push_str(
            "| job | status | segments (fetched+reused/planned) | size | duration | time |\n",
        );
        out.push_str("|---|---|---:|---:|---:|---:|\n");
        for job in &report.jobs {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                name(&job.name).replace('|', "\\|"),
                status_word(job.status),
                segments_cell(job),
                human_bytes(job.bytes),
                job.media
                    .as_ref()
                    .map_or_else(|| "–".to_string(), |m| clock(m.duration_s)),
                secs(job.elapsed_s),
            );
        }
    }

    out.push_str(&adapted_lines(report));
    let failed: Vec<&JobReport> = report
        .jobs
        .iter()
        .filter(|j| matches!(j.status, JobStatus::Failed | JobStatus::Interrupted))
        .collect();
    if !failed.is_empty() {
        out.push('\n');
        for job in failed {
            let why = job.error.as_deref().unwrap_or("failed without a message.");
            let _ = writeln!(out, "- **{}**: {}", name(&job.name), code_span(why));
        }
    }
    out
}

/// The jobs whose host's rate snatch lowered for its 429s without
/// `Retry-After`, one line each; empty when none was.
fn adapted_lines(report: &RunReport) -> String {
    let mut out = String::new();
    for job in &report.jobs {
        let Some(a) = &job.rate_adapted else { continue };
        if out.is_empty() {
            out.push_str("\nRates lowered for 429 without `Retry-After`:\n\n");
        }
        let _ = writeln!(
            out,
            "- **{}**: {} halved {}×, at least {}/s, {}/s at the end",
            name(&job.name),
            inline(&a.host),
            a.halvings,
            a.lowest_per_second,
            a.last_per_second
        );
    }
    out
}

/// `4 jobs: 1 ok, 1 failed · 120 segments · 1.2 MiB · 12.3 s`; counts that
/// are zero are left out.
fn totals_line(report: &RunReport) -> String {
    let t = &report.totals;
    let mut line = format!("{} {}", t.jobs, plural(t.jobs, "job", "jobs"));
    if let Some(shard) = &report.shard {
        let _ = write!(line, " (shard {})", inline(shard));
    }
    let counts: Vec<String> = [
        (t.ok, "ok"),
        (t.failed, "failed"),
        (t.interrupted, "interrupted"),
        (t.skipped, "skipped"),
        (t.up_to_date, "up to date"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, word)| format!("{n} {word}"))
    .collect();
    if !counts.is_empty() {
        let _ = write!(line, ": {}", counts.join(", "));
    }
    let _ = write!(
        line,
        " · {} {} · {}",
        t.segments,
        plural(t.segments, "segment", "segments"),
        human_bytes(t.bytes)
    );
    if t.retries > 0 {
        let _ = write!(
            line,
            " · {} {}",
            t.retries,
            plural(t.retries, "retry", "retries")
        );
    }
    let _ = write!(line, " · {}", secs(report.elapsed_s));
    if report.interrupted {
        line.push_str(" · **interrupted**");
    }
    line
}

/// `fetched+reused/planned`, plus `, N missing` when there are gaps.
fn segments_cell(job: &JobReport) -> String {
    let s = &job.segments;
    let mut cell = format!("{}+{}/{}", s.fetched, s.reused, s.planned);
    if !s.missing.is_empty() {
        let _ = write!(cell, ", {} missing", s.missing.len());
    }
    cell
}

/// The status as a plain word: ok, failed, skipped, up to date,
/// interrupted.
pub fn status_word(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Ok => "ok",
        JobStatus::Failed => "failed",
        JobStatus::Skipped => "skipped",
        JobStatus::UpToDate => "up to date",
        JobStatus::Interrupted => "interrupted",
    }
}

/// A media duration as `H:MM:SS`, or `M:SS` under an hour; `–` when it is
/// not a number of seconds.
pub fn clock(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".to_string();
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Seconds with one decimal: `12.3 s`.
fn secs(seconds: f64) -> String {
    if seconds.is_finite() {
        format!("{:.1} s", seconds.max(0.0))
    } else {
        "–".to_string()
    }
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// Text on one line: line breaks become spaces.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The most characters of a message the summary shows; longer ones are cut
/// and end in `…` (the JSON report keeps the whole message).
pub const MAX_MESSAGE_CHARS: usize = 300;

/// Text that may hold words from a server or from ffmpeg (a failure's
/// message quotes status lines, previews of bodies, tool output) as one
/// inline code span: on one line, control characters replaced, cut to
/// [`MAX_MESSAGE_CHARS`], fenced by one backtick more than the longest run
/// of backticks inside. Nothing inside a code span becomes a link, an
/// image, an autolink or HTML. For a list item or paragraph, not a table
/// cell (a cell would need `|` escaped).
pub fn code_span(s: &str) -> String {
    let text = cut(&printable_line(s), MAX_MESSAGE_CHARS);
    if text.is_empty() {
        return "(no message)".to_string();
    }
    let fence = "`".repeat(longest_backtick_run(&text) + 1);
    // A space keeps a backtick at either end from joining the fence;
    // CommonMark strips one space on each side again.
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// One line of printable text: line breaks, tabs, other control characters
/// and the invisible marks that reorder text (bidi controls) become spaces,
/// runs of spaces one space, ends trimmed.
fn printable_line(s: &str) -> String {
    let spaced: String = s
        .chars()
        .map(|c| {
            if crate::common::diag::invisible(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    spaced
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `max` characters; a cut text ends in `…`.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

fn longest_backtick_run(s: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// A job's name: as it is when it is one a job file allows (letters,
/// digits, `.`, `_`, `-`); else, as a report read back by `report merge`
/// may hold anything, as a code span, as a message is ([`code_span`]).
fn name(s: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if s.chars().all(crate::common::diag::invisible) {
        "(no name)".to_string()
    } else if s.chars().all(allowed) {
        s.to_string()
    } else {
        code_span(s)
    }
}

/// Text inside emphasis or a table: one line, Markdown's emphasis and code
/// characters and `|` escaped.
fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in one_line(s).chars() {
        if matches!(c, '\\' | '*' | '_' | '`' | '|' | '[' | ']' | '<' | '>') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
