//! MPEG-DASH addressing (ISO/IEC 23009-1 §5.3.9), pure: a
//! representation's `SegmentTemplate` (with `@duration` or a
//! `SegmentTimeline`) or `SegmentList` turned into its media segments in
//! order, each a URI (relative to the representation's `BaseURL`), an
//! optional byte range and a duration. The MPD is read, and these inputs
//! taken from it, in `resolve`; the segments become a playlist source's
//! [`Segments`](super::playlist::Segments), as an HLS playlist's do.

use super::segment::ByteRange;
use crate::manifest::MAX_SEGMENTS;

/// One media segment: its URI as the MPD makes it, a byte range of it,
/// its duration in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct DashSegment {
    pub uri: String,
    pub range: Option<ByteRange>,
    pub duration: f64,
}

/// An `S` of a `SegmentTimeline`: `@t`, `@d`, `@r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineEntry {
    pub t: Option<u64>,
    pub d: u64,
    pub r: i64,
}

/// What names a representation in a template: `$RepresentationID$`,
/// `$Bandwidth$`.
#[derive(Debug, Clone, Copy)]
pub struct Ids<'a> {
    pub id: &'a str,
    pub bandwidth: u64,
}

/// A `SegmentTemplate`, its attributes inherited down to one
/// representation.
#[derive(Debug, Clone, Default)]
pub struct Template {
    pub media: String,
    pub timescale: u64,
    /// `@duration`, in `timescale` units (without a timeline).
    pub duration: Option<f64>,
    pub start_number: u64,
    pub presentation_time_offset: u64,
    pub timeline: Option<Vec<TimelineEntry>>,
}

/// Why a representation's segments cannot be listed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AddressError {
    #[error("the template `{template}` has an unknown or unclosed identifier `{at}`")]
    Identifier { template: String, at: String },
    #[error("`$Time$` in `{0}` needs a SegmentTimeline")]
    TimeWithoutTimeline(String),
    #[error("a SegmentTemplate has neither @duration nor a SegmentTimeline")]
    NoDuration,
    #[error("the period's duration is not known, so the number of segments is not")]
    NoPeriodDuration,
    #[error("a duration or timescale of 0")]
    Zero,
    #[error("more than the {MAX_SEGMENTS} segments a job may have")]
    TooMany,
    #[error("the byte range `{0}` is not `first-last`")]
    Range(String),
    #[error("a time past 2^64")]
    Overflow,
}

/// `template` with its identifiers replaced (§5.3.9.4.4): `$$`, and
/// `$RepresentationID$`, `$Number$`, `$Bandwidth$`, `$Time$`, each of the
/// last three with an optional `%0Nd` width. `number` and `time` are
/// `None` where they have no value (an init segment's template).
pub fn fill(
    template: &str,
    ids: Ids,
    number: Option<u64>,
    time: Option<u64>,
) -> Result<String, AddressError> {
    let bad = |at: &str| AddressError::Identifier {
        template: template.into(),
        at: at.chars().take(24).collect(),
    };
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('$').ok_or_else(|| bad(&rest[start..]))?;
        let name = &after[..end];
        let (ident, width) = match name.split_once('%') {
            Some((i, f)) => (i, Some(width_of(f).ok_or_else(|| bad(name))?)),
            None => (name, None),
        };
        let value = match ident {
            "" if width.is_none() => Some("$".to_string()),
            "RepresentationID" if width.is_none() => Some(ids.id.to_string()),
            "Number" => number.map(|n| padded(n, width)),
            "Bandwidth" => Some(padded(ids.bandwidth, width)),
            "Time" => time.map(|t| padded(t, width)),
            _ => None,
        };
        out.push_str(&value.ok_or_else(|| bad(name))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `0Nd` (or `Nd`) of a `%0Nd` format tag: N.
fn width_of(format: &str) -> Option<usize> {
    let digits = format.strip_suffix('d')?;
    let digits = digits.strip_prefix('0').unwrap_or(digits);
    let width = if digits.is_empty() {
        1
    } else {
        digits.parse().ok()?
    };
    (width <= 32).then_some(width)
}

fn padded(n: u64, width: Option<usize>) -> String {
    format!("{n:0w$}", w = width.unwrap_or(0))
}

/// The media segments of a template, for a period of `period` seconds
/// (needed by `@duration`, and by a timeline's `r="-1"`).
pub fn template_segments(
    t: &Template,
    ids: Ids,
    period: Option<f64>,
) -> Result<Vec<DashSegment>, AddressError> {
    if t.timescale == 0 {
        return Err(AddressError::Zero);
    }
    match (&t.timeline, t.duration) {
        (Some(timeline), _) => timeline_segments(t, timeline, ids, period),
        (None, Some(d)) => duration_segments(t, d, ids, period),
        (None, None) => Err(AddressError::NoDuration),
    }
}

/// `@duration`: as many segments as fill the period, the last one cut
/// to what is left of it.
fn duration_segments(
    t: &Template,
    d: f64,
    ids: Ids,
    period: Option<f64>,
) -> Result<Vec<DashSegment>, AddressError> {
    if t.media.contains("$Time") {
        return Err(AddressError::TimeWithoutTimeline(t.media.clone()));
    }
    let period = period.ok_or(AddressError::NoPeriodDuration)?;
    let seconds = d / t.timescale as f64;
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(AddressError::Zero);
    }
    let count = (period / seconds - 1e-9).ceil().max(0.0);
    if count > MAX_SEGMENTS as f64 {
        return Err(AddressError::TooMany);
    }
    (0..count as u64)
        .map(|i| {
            let number = t
                .start_number
                .checked_add(i)
                .ok_or(AddressError::Overflow)?;
            let left = period - i as f64 * seconds;
            Ok(DashSegment {
                uri: fill(&t.media, ids, Some(number), None)?,
                range: None,
                duration: seconds.min(left),
            })
        })
        .collect()
}

/// A `SegmentTimeline`: each `S` from its `@t` (a gap before it when that
/// is later than the previous end), `@r` more of the same duration, `-1`
/// up to the period's end.
fn timeline_segments(
    t: &Template,
    timeline: &[TimelineEntry],
    ids: Ids,
    period: Option<f64>,
) -> Result<Vec<DashSegment>, AddressError> {
    let scale = t.timescale as f64;
    let end = period.map(|p| t.presentation_time_offset as f64 + p * scale);
    let mut out = Vec::new();
    let mut time = 0u64;
    let mut number = t.start_number;
    for (i, s) in timeline.iter().enumerate() {
        if s.d == 0 {
            return Err(AddressError::Zero);
        }
        time = s.t.unwrap_or(time);
        let repeats = match s.r {
            r if r >= 0 => r as u64 + 1,
            _ => {
                // Up to the next S's @t, else the period's end.
                let until = match timeline.get(i + 1).and_then(|n| n.t) {
                    Some(next) => next as f64,
                    None => end.ok_or(AddressError::NoPeriodDuration)?,
                };
                ((until - time as f64) / s.d as f64 - 1e-9).ceil().max(0.0) as u64
            }
        };
        if out.len() as u64 + repeats > MAX_SEGMENTS {
            return Err(AddressError::TooMany);
        }
        for _ in 0..repeats {
            out.push(DashSegment {
                uri: fill(&t.media, ids, Some(number), Some(time))?,
                range: None,
                duration: s.d as f64 / scale,
            });
            time = time.checked_add(s.d).ok_or(AddressError::Overflow)?;
            number = number.checked_add(1).ok_or(AddressError::Overflow)?;
        }
    }
    Ok(out)
}

/// A `SegmentURL` of a `SegmentList`: `@media` (else the `BaseURL`
/// itself, `""`) and `@mediaRange`; every one lasts `duration` seconds.
pub fn list_segment(
    media: Option<&str>,
    range: Option<&str>,
    duration: f64,
) -> Result<DashSegment, AddressError> {
    Ok(DashSegment {
        uri: media.unwrap_or("").to_string(),
        range: range.map(parse_range).transpose()?,
        duration,
    })
}

/// `first-last` (both included), as DASH writes byte ranges.
pub fn parse_range(text: &str) -> Result<ByteRange, AddressError> {
    let bad = || AddressError::Range(text.chars().take(40).collect());
    let (first, last) = text.trim().split_once('-').ok_or_else(bad)?;
    let first: u64 = first.trim().parse().map_err(|_| bad())?;
    let last: u64 = last.trim().parse().map_err(|_| bad())?;
    let length = last
        .checked_sub(first)
        .and_then(|l| l.checked_add(1))
        .ok_or_else(bad)?;
    Ok(ByteRange {
        offset: first,
        length,
    })
}

#[cfg(test)]
mod tests;
