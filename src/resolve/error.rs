//! Every error of the resolve step, in one place. A [`ResolveError`] names
//! the job and the step (the playlist, its audio rendition, `end: auto`,
//! the init segment, a probed segment); what went wrong inside it is a
//! [`Cause`], a [`PlaylistError`] (pure reading), an [`EndError`] or an
//! [`InitError`]. Each renders the sentence the run, `plan --probe` and the
//! reports show.

use std::path::PathBuf;

use super::identity::Change;
use crate::common::Secret;
use crate::manifest::MAX_SEGMENTS;
use crate::media::decrypt::DecryptError;
use crate::net::{ProbeError, SmallError};
use crate::plan::source::playlist::{PositionError, AUDIO_BASE};
use crate::plan::source::SegmentError;

/// A job that could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Its playlist (or a key) could not be fetched, read or saved.
    #[error("job `{job}`: {cause}")]
    Playlist { job: String, cause: Cause },
    #[error("job `{job}`: the audio rendition: {error}")]
    Audio { job: String, error: PlaylistError },
    #[error("job `{job}`: end: auto: {error}")]
    EndAuto { job: String, error: EndError },
    #[error("job `{job}`: init segment: {error}")]
    Init { job: String, error: InitError },
    /// Its headers cannot be sent (see `Ask::new`).
    #[error("job `{job}`: {reason}")]
    Headers {
        job: String,
        reason: crate::net::HeaderError,
    },
    /// `plan --probe`: the first or last segment has no target.
    #[error("job `{job}`: {which} segment: {error}")]
    ProbeTarget {
        job: String,
        which: &'static str,
        error: SegmentError,
    },
    /// `plan --probe`: asking whether it exists failed.
    #[error("job `{job}`: {which} segment {index}: {error}")]
    ProbeFailed {
        job: String,
        which: &'static str,
        index: u64,
        error: ProbeError,
    },
    #[error("job `{job}`: the {which} segment ({index}, {shown}) does not exist")]
    ProbeMissing {
        job: String,
        which: &'static str,
        index: u64,
        shown: String,
    },
}

/// What fetching, reading or saving a job's playlist (or reloading it) met.
#[derive(Debug, thiserror::Error)]
pub enum Cause {
    #[error(transparent)]
    Fetch(#[from] SmallError),
    #[error(transparent)]
    Read(#[from] PlaylistError),
    #[error("{}", save_text(.dir, .error))]
    Save { dir: PathBuf, error: std::io::Error },
    /// `url` is shown redacted.
    #[error("the AES-128 key {url} is {len} bytes, not 16")]
    KeyLength { url: Secret, len: usize },
    /// The playlist fetched afresh (a rerun, or a reload after links
    /// expired) lists another stream than the one the job started on.
    #[error(
        "the stream changed since this job started: {change}. Nothing was fetched from the \
         changed playlist and the saved segments are kept; run with --force to discard them \
         and start the job anew"
    )]
    StreamChanged { change: Change },
    /// A file of the state folder that is a link or not a regular file
    /// (the error names it).
    #[error(transparent)]
    Refused(std::io::Error),
    #[error("cannot record the stream's identity in {}: {error}", .dir.display())]
    Record { dir: PathBuf, error: std::io::Error },
    /// A segment names a key that was not fetched.
    #[error(transparent)]
    Key(#[from] PositionError),
    /// A DASH `SegmentBase`'s index range (`shown`: the file).
    #[error("the segment index (sidx) of {shown}: {error}")]
    Index {
        shown: String,
        error: super::index::IndexError,
    },
}

/// What snatch reads instead of DASH.
pub const DASH_NOT_YET: &str =
    "snatch reads an MPD as a job's own `playlist:`, not where an HLS playlist is expected";

/// What to do with a DASH stream, and where the page on it is.
pub const DASH_NEXT: &str = "give the MPD's URL as the job's `playlist:` (see \
     docs/jobfile.md#dash-manifests-mpd)";

/// Why a playlist's text is not one a job can download. `shown` names the
/// playlist (secrets as `***`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlaylistError {
    #[error("{0} is not an HLS playlist (it does not start with #EXTM3U)")]
    NotHls(String),
    /// XML with an `MPD` root element (see `dash`).
    #[error("{0} is an MPEG-DASH manifest (MPD); {DASH_NOT_YET}: {DASH_NEXT}")]
    Dash(String),
    /// An MPD that cannot be downloaded (see `mpd`).
    #[error("the MPD {shown}: {error}")]
    Mpd {
        shown: String,
        error: super::mpd::MpdError,
    },
    #[error("{0} is not a valid HLS playlist")]
    Invalid(String),
    #[error("{0} is not UTF-8 text")]
    NotUtf8(String),
    #[error("{0} is a master playlist, not a media one")]
    MasterNotMedia(String),
    #[error(
        "the master playlist {shown} has no variant that fits `variant: {want}` (it offers {})",
        offered_text(.offered)
    )]
    NoVariantFits {
        shown: String,
        want: String,
        offered: Vec<String>,
    },
    #[error(
        "{0} is a live playlist (no #EXT-X-ENDLIST): it is still growing; \
         snatch downloads finished (VOD) playlists only for now"
    )]
    Live(String),
    #[error("{0} is an I-frame playlist, not one to download")]
    IFramesOnly(String),
    #[error("{0} lists no segment")]
    NoSegment(String),
    #[error("{shown} lists {count} segments, more than the {MAX_SEGMENTS} a job may have")]
    TooManySegments { shown: String, count: usize },
    #[error(
        "the master playlist {shown} lists {count} variants and renditions, more than the {} snatch reads",
        super::hls::MAX_VARIANTS
    )]
    TooManyVariants { shown: String, count: usize },
    #[error(
        "{shown} starts at media sequence number {sequence}, beyond the {} snatch indexes",
        AUDIO_BASE - MAX_SEGMENTS
    )]
    SequenceTooHigh { shown: String, sequence: u64 },
    /// A line whose tag's value is not one the tag takes.
    #[error("{shown}, line {line}: {tag} `{value}` is not {want}")]
    BadValue {
        shown: String,
        line: usize,
        tag: &'static str,
        value: String,
        want: &'static str,
    },
    /// A variant's URI in a master playlist.
    #[error(transparent)]
    Uri(#[from] UriError),
    /// A tag of one segment.
    #[error("{shown}, segment {sequence}: {error}")]
    AtSegment {
        shown: String,
        sequence: u64,
        error: TagError,
    },
}

fn offered_text(offered: &[String]) -> String {
    if offered.is_empty() {
        "none".into()
    } else {
        crate::common::units::listed(offered, crate::common::units::LISTED)
    }
}

/// A URI a playlist names that snatch will not fetch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("the URI `{uri}` is not valid: {reason}")]
    Invalid {
        uri: String,
        reason: crate::plan::source::playlist::JoinError,
    },
    #[error("the URI `{0}` is not http or https; a playlist may only name web resources")]
    NotWeb(String),
}

/// A segment's tags that cannot be followed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TagError {
    #[error("a second EXT-X-MAP (a new init segment mid-stream) is not supported")]
    SecondMap,
    #[error(transparent)]
    Uri(#[from] UriError),
    #[error("the key format `{0}` is DRM, which snatch does not decrypt")]
    Drm(String),
    #[error("EXT-X-KEY METHOD=AES-128 has no URI")]
    KeyWithoutUri,
    #[error(transparent)]
    Iv(#[from] DecryptError),
    #[error(
        "the segments are encrypted with SAMPLE-AES, which snatch does not decrypt \
         (only METHOD=AES-128); nothing was downloaded"
    )]
    SampleAes,
    #[error(
        "the segments are encrypted with METHOD={0}, which snatch does not decrypt \
         (only AES-128); nothing was downloaded"
    )]
    Method(String),
    #[error("EXT-X-BYTERANGE has no offset and follows no range of the same URI")]
    RangeWithoutOffset,
    #[error("EXT-X-BYTERANGE of 0 bytes")]
    EmptyRange,
    #[error("EXT-X-BYTERANGE beyond 2^64 bytes")]
    RangeOverflow,
    /// The tag's text, cut.
    #[error("{0} cannot be read")]
    Unreadable(String),
    #[error("EXTINF {0} is not a duration")]
    Extinf(f32),
}

/// Why `end: auto` found no end.
#[derive(Debug, thiserror::Error)]
pub enum EndError {
    #[error("segment {index}: {error}")]
    Target { index: u64, error: SegmentError },
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error(
        "segment {0}, the range's start, does not exist, so `end: auto` has nothing to probe from"
    )]
    NoStart(u64),
    #[error("segments {start} to {last} all exist: more than the {MAX_SEGMENTS} a job may have")]
    TooMany { start: u64, last: u64 },
}

/// Why a job's init segment is not in its state folder.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Fetch(#[from] SmallError),
    #[error("{shown}: {error}")]
    Read {
        shown: String,
        error: std::io::Error,
    },
    #[error("it is not an MP4 init segment (no ftyp or moov box at its start)")]
    NotMp4,
    #[error("cannot store it: {0}")]
    Store(std::io::Error),
}

/// Why the playlist could not be saved in the state folder `dir`; a full
/// disk says so and names the folder to free.
fn save_text(dir: &std::path::Path, error: &std::io::Error) -> String {
    match crate::common::disk::is_full(error) {
        true => crate::common::disk::full("the playlist could not be saved", dir, error),
        false => format!("cannot save the playlist in {}: {error}", dir.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_names_the_job_and_the_step() {
        let e = ResolveError::EndAuto {
            job: "a".into(),
            error: EndError::NoStart(1),
        };
        assert_eq!(
            e.to_string(),
            "job `a`: end: auto: segment 1, the range's start, does not exist, \
             so `end: auto` has nothing to probe from"
        );
        let e = ResolveError::Playlist {
            job: "b".into(),
            cause: Cause::Read(PlaylistError::AtSegment {
                shown: "pl".into(),
                sequence: 7,
                error: TagError::EmptyRange,
            }),
        };
        assert_eq!(
            e.to_string(),
            "job `b`: pl, segment 7: EXT-X-BYTERANGE of 0 bytes"
        );
        let none = PlaylistError::NoVariantFits {
            shown: "m".into(),
            want: "best".into(),
            offered: vec![],
        };
        assert!(none.to_string().ends_with("(it offers none)"), "{none}");
        let many = PlaylistError::NoVariantFits {
            shown: "m".into(),
            want: "best".into(),
            offered: (0..10_000).map(|i| format!("{i} bit/s")).collect(),
        };
        let many = many.to_string();
        assert!(many.ends_with("8 bit/s, 9 bit/s and 9,990 more)"), "{many}");
        assert!(many.len() < 200, "{many}");
    }
}
