//! The next step for a failed job, from what became of all its segments:
//! a fetch knows one segment's answer; only the job knows that index 0 is
//! missing while 1, 2, … arrived (the stream starts at 1), or that segments
//! on both sides of a 404 arrived (a hole: `on_missing: skip`).

use super::feed::Slot;
use crate::common::diag::display_path;
use crate::common::Tolerance;
use crate::manifest::IndexSource;
use crate::merge::{Mismatch, Within};
use crate::net::{FailKind, SegmentFailure};
use crate::plan::source::SegmentSource;
use crate::plan::JobPlan;

/// A failed segment's sentence, with the next step that the job's other
/// segments suggest for a 404.
pub(super) fn failed_segment(job: &JobPlan, slots: &[Slot], e: &SegmentFailure) -> String {
    if e.kind != FailKind::NotFound {
        return e.message.clone();
    }
    match position_of(job, e.index) {
        Some(p) if p < slots.len() => format!("{}{}", e.message, not_found(job, slots, p)),
        _ => e.message.clone(),
    }
}

/// Whether a 404 of the segment at position 0 waits for the others before
/// it fails the job: a template job from index 0 (most streams number from
/// 1, and the segments after it tell).
pub(super) fn leading_zero(job: &JobPlan, e: &SegmentFailure) -> bool {
    e.kind == FailKind::NotFound && e.index == 0 && start_key(job).is_some()
}

fn position_of(job: &JobPlan, index: u64) -> Option<usize> {
    let p = match &job.source {
        SegmentSource::Numbered(n) => index.checked_sub(n.indices.first())?,
        SegmentSource::Playlist(_) => {
            (0..job.source.len()).find(|&p| job.source.index_at(p) == index)?
        }
    };
    usize::try_from(p).ok()
}

/// How the job file sets the first index to 1, for a template job from 0.
fn start_key(job: &JobPlan) -> Option<&'static str> {
    let SegmentSource::Numbered(n) = &job.source else {
        return None;
    };
    match n.indices {
        _ if n.indices.first() != 0 => None,
        IndexSource::Range { .. } => Some("`range: { start: 1, … }`"),
        IndexSource::Count { .. } | IndexSource::Duration { .. } => Some("`start: 1`"),
    }
}

/// The next step for a 404 at position `p`.
fn not_found(job: &JobPlan, slots: &[Slot], p: usize) -> String {
    let arrived = |s: &[Slot]| s.contains(&Slot::Ready);
    let (before, after) = (arrived(&slots[..p]), arrived(&slots[p + 1..]));
    if p == 0 {
        if let Some(key) = start_key(job) {
            return if after {
                format!(
                    "; segments after it arrived, so the stream probably starts at 1: \
                     set {key} and rerun (saved segments are reused)"
                )
            } else {
                format!("; check the job's URL, and if the stream numbers from 1, set {key}")
            };
        }
    }
    let skip = "`on_missing: skip` accepts holes (the merged file then lacks those seconds)";
    match (before, after) {
        (true, true) => {
            format!("; segments before and after it arrived: a hole in the stream. {skip}")
        }
        (true, false) if p + 1 == slots.len() => end_advice(job, p),
        (true, false) => format!(
            "; the segments before it arrived: if this is a hole in the stream, {skip}; \
             if the stream ends here, end the job's range earlier"
        ),
        _ => "; check the job's URL and its index range".into(),
    }
}

/// The next step for a 404 of the last segment when those before arrived.
fn end_advice(job: &JobPlan, p: usize) -> String {
    let SegmentSource::Numbered(n) = &job.source else {
        return "; the playlist lists a segment its server does not have: rerun later, \
                or set `on_missing: skip` to merge without it"
            .into();
    };
    let last = n.indices.first() + p as u64 - 1;
    match n.indices {
        IndexSource::Count { .. } => format!(
            "; the segments before it arrived, so the stream probably ends at {last}: \
             set `count: {p}`"
        ),
        _ => format!(
            "; the segments before it arrived, so the stream probably ends at {last}: \
             set the range's `end: {last}`, or `end: auto` to find it"
        ),
    }
}

/// A merged file whose length is not what the job implies, with the key
/// that would match for this kind of job.
pub(super) fn mismatch(job: &JobPlan, m: &Mismatch, trailing: u64) -> String {
    let mut s = format!(
        "the merged file is {:.1} s long, {:.1} s ({:.1} %) off the {:.1} s {} \
         (duration_tolerance {})",
        m.got,
        m.off(),
        m.off() / m.want * 100.0,
        m.want,
        expected_from(job),
        m.tolerance
    );
    if trailing > 0 {
        s.push_str(&format!(
            "; the last {trailing} planned segment{} answered 404: the stream ends earlier",
            if trailing == 1 { "" } else { "s" }
        ));
    }
    s.push_str("; every segment is kept. ");
    match &job.source {
        SegmentSource::Numbered(_) => s.push_str(&format!(
            "If the video is {:.1} s long, set `length: {}` (or widen \
             `verify: {{ duration_tolerance: … }}`) and rerun: the saved segments are \
             merged again, not fetched",
            m.got,
            clock(m.got)
        )),
        SegmentSource::Playlist(_) => s.push_str(
            "The playlist's EXTINF durations do not match its segments: if the file \
             plays whole, widen `verify: { duration_tolerance: … }` and rerun: the saved \
             segments are merged again, not fetched",
        ),
    }
    s
}

/// A merged file whose `kind` stream (the file's `number`th, from 0) is
/// not the length the job implies, though the file as a whole is.
pub(super) fn stream_mismatch(job: &JobPlan, kind: &str, number: usize, m: &Mismatch) -> String {
    let which = if m.got < m.want { "short of" } else { "over" };
    format!(
        "the merged file's {kind} stream (stream #{number}) is {:.1} s long, {:.1} s ({:.1} %) \
         {which} the {:.1} s {} (duration_tolerance {}); every segment is kept. {}: if the \
         file plays whole, widen `verify: {{ duration_tolerance: … }}` and rerun: the saved \
         segments are merged again, not fetched",
        m.got,
        m.off(),
        m.off() / m.want * 100.0,
        m.want,
        expected_from(job),
        m.tolerance,
        stream_advice(job, kind)
    )
}

/// A merged file without a stream the job should have.
pub(super) fn missing_stream(kind: &str) -> String {
    let from = if kind == "audio" {
        "the job's audio rendition"
    } else {
        "the variant chosen"
    };
    format!("the merged file has no {kind} stream, though {from} should give one; every segment is kept")
}

fn stream_advice(job: &JobPlan, kind: &str) -> &'static str {
    match (&job.source, job.audio.is_some() && kind == "audio") {
        (SegmentSource::Playlist(_), true) => {
            "The audio rendition's segments do not span the playlist's EXTINF durations"
        }
        (SegmentSource::Playlist(_), false) => {
            "The playlist's segments do not match its EXTINF durations"
        }
        (SegmentSource::Numbered(_), _) => "The segments do not match the job's `duration`",
    }
}

/// Where the expected length came from, in words.
fn expected_from(job: &JobPlan) -> &'static str {
    match job.source {
        SegmentSource::Numbered(_) => "the job's `duration` implies",
        SegmentSource::Playlist(_) => "the playlist's EXTINF durations add up to",
    }
}

/// Seconds as `H:MM:SS.s`, as a job file's `length` takes them.
fn clock(secs: f64) -> String {
    let tenths = (secs * 10.0).round() as u64;
    let (h, rest) = (tenths / 36_000, tenths % 36_000);
    let (m, rest) = (rest / 600, rest % 600);
    format!("{h}:{m:02}:{:02}.{}", rest / 10, rest % 10)
}

/// A merged file whose `kind` stream (the file's `number`th) is not as
/// long as its segments' own timestamps add up to.
pub(super) fn timestamps(
    job: &JobPlan,
    (kind, number): (&str, usize),
    got: f64,
    within: Within,
    tolerance: Tolerance,
) -> String {
    let want = match within.most {
        Some(most) if most - within.least >= 0.05 => {
            format!("{:.2}–{:.2} s", within.least, most)
        }
        _ => format!("{:.2} s", within.least),
    };
    let folder = job.output.parent().unwrap_or(&job.output);
    let (which, why) = match got < within.least {
        true => (
            "short of",
            format!(
                "the merged file lost part of them (a disk that fills as ffmpeg writes \
                 does this: check the room in {})",
                display_path(folder)
            ),
        ),
        false => (
            "over",
            "their timestamps overlap or jump (a server that sent one segment for \
             another does this)"
                .to_string(),
        ),
    };
    format!(
        "the merged file's {kind} stream (stream #{number}) is {got:.2} s long, {which} the \
         {want} its segments' own timestamps add up to (duration_tolerance {tolerance}): \
         {why}; every segment is kept and nothing was marked done. Rerun once that is \
         fixed: the saved segments are merged again, not fetched"
    )
}
