//! An MPEG-DASH manifest (MPD) read into the same segment lists an HLS
//! playlist becomes: parsed into types by `dash-mpd-core`, refused when it
//! is live (`type="dynamic"`), protected by DRM (`ContentProtection`) or
//! past the caps below; otherwise the video representation the job's
//! `variant:` picks and the audio of the default (else first) audio
//! adaptation set are chosen ([`choose`]), and each becomes a track: its
//! `BaseURL`s resolved MPD → Period → AdaptationSet → Representation
//! against the URL that served the MPD, its addressing inherited down the
//! same levels and expanded by [`crate::plan::source::dash`]. Pure: no
//! request.

mod choose;
mod track;

use std::sync::Arc;

use dash_mpd_core::{Period, MPD};

use crate::common::Secret;
use crate::manifest::Variant;
use crate::plan::source::dash::AddressError;
use crate::plan::source::playlist::{Added, Base, PeriodStart, Resolved};

use super::error::UriError;

/// The largest MPD read (a long `SegmentList` of 1,000,000 URLs is ~60 MB;
/// templates and timelines are far smaller).
pub const MAX_MPD: u64 = 64 * 1024 * 1024;
/// The most periods an MPD may have.
pub const MAX_PERIODS: usize = 64;
/// The most representations an MPD may list, all periods counted.
pub const MAX_REPRESENTATIONS: usize = 2_000;
/// The most `S` and `SegmentURL` elements an MPD may hold, all counted:
/// what the parser builds for each (~100 bytes) stays near 200 MB at
/// worst, and no job has more segments than [`crate::manifest::MAX_SEGMENTS`].
pub const MAX_ENTRIES: usize = 2 * crate::manifest::MAX_SEGMENTS as usize;

/// Why an MPD is not one a job can download.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MpdError {
    #[error("it is not a valid MPD: {0}")]
    Parse(String),
    #[error(
        "it is a live MPD (type=\"dynamic\"): it is still growing; snatch downloads \
         finished (static) ones only for now"
    )]
    Dynamic,
    #[error(
        "it is protected by DRM ({0}), which snatch does not decrypt; nothing was downloaded \
         (see docs/troubleshooting.md#dash)"
    )]
    Drm(String),
    #[error("it has no period")]
    NoPeriod,
    #[error("it has {0} periods, more than the {MAX_PERIODS} snatch reads")]
    TooManyPeriods(usize),
    #[error("it lists {0} representations, more than the {MAX_REPRESENTATIONS} snatch reads")]
    TooManyRepresentations(usize),
    #[error(
        "it holds {0} timeline and segment URL entries, more than the {MAX_ENTRIES} snatch reads"
    )]
    TooManyEntries(usize),
    #[error("its periods are addressed by SegmentBase; snatch reads that in an MPD of one period")]
    SegmentBasePeriods,
    #[error("some of its periods have audio and some have not")]
    AudioInSomePeriods,
    #[error(
        "more than the {} segments a job may have",
        crate::manifest::MAX_SEGMENTS
    )]
    TooManySegments,
    #[error("{0} is a remote element (xlink:href), which snatch does not follow")]
    Remote(&'static str),
    #[error("it has no video or audio representation")]
    NoMedia,
    #[error("no video representation fits `variant: {want}` (it offers {offered})")]
    NoVariantFits { want: String, offered: String },
    #[error("representation `{rep}`: {error}")]
    Address { rep: String, error: AddressError },
    #[error("representation `{0}` has no SegmentTemplate, SegmentList or SegmentBase")]
    NoAddressing(String),
    #[error("representation `{0}` has a SegmentBase without @indexRange")]
    NoIndexRange(String),
    #[error("representation `{0}` has no media segment")]
    NoSegment(String),
    #[error("representation `{rep}`: {error}")]
    Uri { rep: String, error: UriError },
}

/// The chosen tracks of an MPD as one resolved source: the video (or only)
/// track's segments, the audio track beside it, period after period.
pub fn read(text: &str, base: &Secret, want: Variant) -> Result<Resolved, MpdError> {
    precount(text)?;
    let mpd = dash_mpd_core::parse(text)
        .map_err(|e| MpdError::Parse(e.to_string().chars().take(300).collect()))?;
    refused(&mpd)?;
    if mpd.periods.is_empty() {
        return Err(MpdError::NoPeriod);
    }
    let base = Base::new(base.clone());
    let mut periods = Vec::with_capacity(mpd.periods.len());
    for (i, period) in mpd.periods.iter().enumerate() {
        let seconds = period_seconds(&mpd, i);
        periods.push((read_period(&mpd, i, period, &base, want)?, seconds));
    }
    joined(periods)
}

/// A video representation as offered (`snatch new`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Video {
    pub text: String,
    pub height: Option<u64>,
    pub bandwidth: u64,
}

/// The video representations of the MPD's first period.
pub fn videos(text: &str) -> Result<Vec<Video>, MpdError> {
    precount(text)?;
    let mpd = dash_mpd_core::parse(text)
        .map_err(|e| MpdError::Parse(e.to_string().chars().take(300).collect()))?;
    let period = mpd.periods.first().ok_or(MpdError::NoPeriod)?;
    Ok(choose::videos(period))
}

/// One period's tracks, its note on the video.
fn read_period(
    mpd: &MPD,
    i: usize,
    period: &Period,
    base: &Base,
    want: Variant,
) -> Result<Resolved, MpdError> {
    let chosen = choose::choose(period, want)?;
    let seconds = period_seconds(mpd, i);
    let levels = track::Levels { mpd, period };
    let main = track::read(&levels, base, chosen.main, seconds)?;
    let audio = match chosen.audio {
        Some(a) => Some(Arc::new(track::read(&levels, base, a, seconds)?)),
        None => None,
    };
    Ok(Resolved {
        audio,
        variant_note: Some(chosen.note),
        dash: true,
        ..main
    })
}

/// The periods one after the other: each later one's segments added under
/// its own base, where it starts and its init segment noted.
fn joined(periods: Vec<(Resolved, Option<f64>)>) -> Result<Resolved, MpdError> {
    let mut all = periods.into_iter();
    let (mut out, mut before) = all.next().ok_or(MpdError::NoPeriod)?;
    let mut count = 1;
    for (next, seconds) in all {
        count += 1;
        if out.index.is_some() || next.index.is_some() {
            return Err(MpdError::SegmentBasePeriods);
        }
        if out.audio.is_some() != next.audio.is_some() {
            return Err(MpdError::AudioInSomePeriods);
        }
        append(&mut out, &next, before)?;
        if let (Some(a), Some(b)) = (out.audio.as_mut(), next.audio.as_ref()) {
            append(Arc::make_mut(a), b, before)?;
        }
        before = seconds;
    }
    if count > 1 {
        let note = out.variant_note.take().unwrap_or_default();
        out.variant_note = Some(format!("{count} periods; in the first: {note}"));
    }
    Ok(out)
}

/// `next`'s segments after `out`'s, a period of their own.
fn append(out: &mut Resolved, next: &Resolved, after: Option<f64>) -> Result<(), MpdError> {
    let too_many = || MpdError::TooManySegments;
    if (out.segments.len() + next.segments.len()) as u64 > crate::manifest::MAX_SEGMENTS {
        return Err(too_many());
    }
    out.periods.push(PeriodStart {
        position: out.segments.len(),
        init: next.init.clone(),
        after,
    });
    out.segments
        .set_base(next.segments.base().clone())
        .map_err(|_| too_many())?;
    for (i, s) in next.segments.iter().enumerate() {
        let added = Added {
            uri: next.segments.uri(i).unwrap_or(""),
            duration: s.duration as f32,
            range: s.part.range,
            discontinuity: i == 0,
        };
        out.segments.push(added).map_err(|_| too_many())?;
    }
    Ok(())
}

/// Caps counted in the text before it is parsed: what the parser builds
/// is bounded by them and the body's size.
fn precount(text: &str) -> Result<(), MpdError> {
    let count = |tag: &str| {
        text.match_indices(tag)
            .filter(|(at, _)| {
                let next = text.as_bytes().get(at + tag.len());
                next.is_some_and(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
            })
            .count()
    };
    let periods = count("<Period");
    if periods > MAX_PERIODS {
        return Err(MpdError::TooManyPeriods(periods));
    }
    let reps = count("<Representation");
    if reps > MAX_REPRESENTATIONS {
        return Err(MpdError::TooManyRepresentations(reps));
    }
    let entries = count("<S") + count("<SegmentURL");
    if entries > MAX_ENTRIES {
        return Err(MpdError::TooManyEntries(entries));
    }
    Ok(())
}

/// Live MPDs, DRM, remote periods.
fn refused(mpd: &MPD) -> Result<(), MpdError> {
    if mpd.mpdtype.as_deref() == Some("dynamic") {
        return Err(MpdError::Dynamic);
    }
    for period in &mpd.periods {
        if period.href.is_some() {
            return Err(MpdError::Remote("a Period"));
        }
        if let Some(scheme) = drm_of(period) {
            return Err(MpdError::Drm(scheme));
        }
    }
    Ok(())
}

/// The first `ContentProtection` of a period (its own, an adaptation
/// set's or a representation's), named.
fn drm_of(period: &Period) -> Option<String> {
    let sets = period.adaptations.iter();
    let of_sets = sets.clone().flat_map(|a| a.ContentProtection.iter());
    let of_reps = sets.flat_map(|a| a.representations.iter().flat_map(|r| &r.ContentProtection));
    period
        .ContentProtection
        .iter()
        .chain(of_sets)
        .chain(of_reps)
        .find(|cp| {
            !cp.value
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("none"))
        })
        .map(|cp| drm_name(&cp.schemeIdUri, cp.value.as_deref()))
}

/// A DRM scheme as people know it, with its URI.
pub fn drm_name(scheme: &str, value: Option<&str>) -> String {
    let uuid = scheme.to_ascii_lowercase();
    let uuid = uuid.strip_prefix("urn:uuid:").unwrap_or(&uuid);
    let known = match uuid {
        "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed" => Some("Widevine"),
        "9a04f079-9840-4286-ab92-e65be0885f95" => Some("PlayReady"),
        "94ce86fb-07ff-4f43-adb8-93d2fa968ca2" => Some("FairPlay"),
        "e2719d58-a985-b3c9-781a-b030af78d30e" | "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b" => {
            Some("ClearKey")
        }
        "urn:mpeg:dash:mp4protection:2011" => Some("Common Encryption"),
        _ => None,
    };
    let scheme: String = scheme.chars().take(100).collect();
    let value = value.map(|v| format!(" {}", v.chars().take(20).collect::<String>()));
    match known {
        Some(name) => format!("{name}{}, {scheme}", value.unwrap_or_default()),
        None => format!("{scheme}{}", value.unwrap_or_default()),
    }
}

/// The period's duration in seconds: its `@duration`, else up to the next
/// period's start, else up to the presentation's end.
fn period_seconds(mpd: &MPD, i: usize) -> Option<f64> {
    let period = mpd.periods.get(i)?;
    if let Some(d) = period.duration {
        return Some(d.as_secs_f64());
    }
    let start = period.start.map_or(0.0, |s| s.as_secs_f64());
    let end = match mpd.periods.get(i + 1).and_then(|p| p.start) {
        Some(next) => next.as_secs_f64(),
        None => mpd.mediaPresentationDuration?.as_secs_f64(),
    };
    (end > start).then_some(end - start)
}

#[cfg(test)]
mod tests;
