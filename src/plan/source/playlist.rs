//! Segments listed by an HLS playlist: the second kind of segment source,
//! beside numbered URL templates. Before the run resolves it (a request),
//! a playlist source knows only its URL; afterwards it holds the media
//! playlist's segments in order, indexed by media sequence number.

mod segments;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

pub use segments::{Added, Base, JoinError, KeyTag, Segments, TooLong};

use super::segment::{ByteRange, Segment, SegmentFormat, SegmentKey, Target};
use crate::common::Secret;
use crate::manifest::Variant;

/// A separate audio rendition's format and init segment, merged on its own
/// and muxed in.
#[derive(Debug, Clone)]
pub struct AudioTrack {
    pub format: SegmentFormat,
    pub init: Option<Segment>,
}

/// Where a playlist job's segments come from.
#[derive(Debug, Clone)]
pub struct PlaylistSource {
    /// The playlist as the job names it.
    pub url: Secret,
    pub host: String,
    pub variant: Variant,
    /// The values of the variables the job reads, to keep them out of
    /// what is saved.
    pub env: Arc<BTreeMap<String, String>>,
    /// `Some` once the run (or `plan --probe`) fetched the playlist.
    pub resolved: Option<Arc<Resolved>>,
    /// The playlist fetched again after links expired (the same stream:
    /// the same segments at the same positions), its keys fetched: newer
    /// locations and keys of every segment. Shared by clones.
    pub fresh: Arc<RwLock<Option<Arc<Resolved>>>>,
}

/// A media playlist, read.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub segments: Segments,
    /// `EXT-X-MAP`: the init segment, fed to the merge first.
    pub init: Option<Part>,
    /// The media playlist's URL, secrets as `***`.
    pub media_shown: String,
    /// What the master playlist offered and which was chosen, if there was one.
    pub variant_note: Option<String>,
    /// A separate audio rendition (`EXT-X-MEDIA TYPE=AUDIO`) of the chosen
    /// variant: its own segments and init segment. Its keys are in `keys`.
    pub audio: Option<Arc<Resolved>>,
    /// Read from the job's state folder (an earlier run), not fetched now:
    /// its links may have expired.
    pub from_saved: bool,
    /// AES-128 keys by the key's URL (the real one); in memory only.
    pub keys: Keys,
    /// Read from an MPEG-DASH manifest (its durations are the MPD's).
    pub dash: bool,
    /// A DASH MPD's periods after the first: where each starts in
    /// `segments`, and its own init segment. The merge starts afresh there.
    pub periods: Vec<PeriodStart>,
    /// A DASH `SegmentBase`: the file and its index range (`sidx`), read
    /// by resolve into `segments` (byte ranges of the file) before anything
    /// else is done with them.
    pub index: Option<Part>,
}

/// A DASH period after the first: the position of its first segment in
/// its track, and its init segment.
#[derive(Debug, Clone)]
pub struct PeriodStart {
    pub position: usize,
    pub init: Option<Part>,
    /// The duration of the period before it, in seconds, when the MPD
    /// says: the merge cuts that period's part there (a packager's audio
    /// runs a frame or two past a period's end).
    pub after: Option<f64>,
}

/// The positions of two tracks (`video`'s from 0, `audio`'s after them),
/// each given by its segments' start times, merged by start time; a tie
/// (or a start that is not a number) goes to the video.
fn interleave(video: &[f64], audio: &[f64]) -> Vec<u64> {
    let (mut v, mut a) = (0usize, 0usize);
    let mut order = Vec::with_capacity(video.len() + audio.len());
    while v < video.len() || a < audio.len() {
        let audio_first = match (video.get(v), audio.get(a)) {
            (Some(vs), Some(at)) => at < vs,
            (None, _) => true,
            (Some(_), None) => false,
        };
        match audio_first {
            true => {
                order.push((video.len() + a) as u64);
                a += 1;
            }
            false => {
                order.push(v as u64);
                v += 1;
            }
        }
    }
    order
}

/// AES-128 keys by URL. `Debug` shows only how many.
#[derive(Clone, Default)]
pub struct Keys(pub HashMap<String, [u8; 16]>);

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keys({} ***)", self.0.len())
    }
}

/// Audio segments are indexed from here on (their media sequence number
/// added), so that they never meet the video's indices.
pub const AUDIO_BASE: u64 = 1 << 48;

impl Resolved {
    /// The segment at `position` (the video's first, then the audio's),
    /// with its index.
    fn at(&self, position: u64) -> Option<(PlaylistSegment, u64)> {
        let p = usize::try_from(position).ok()?;
        match p.checked_sub(self.segments.len()) {
            None => {
                let s = self.segments.get(p)?;
                let index = s.sequence;
                Some((s, index))
            }
            Some(p) => {
                let s = self.audio.as_ref()?.segments.get(p)?;
                let index = AUDIO_BASE + s.sequence;
                Some((s, index))
            }
        }
    }

    fn len(&self) -> usize {
        self.segments.len() + self.audio.as_ref().map_or(0, |a| a.segments.len())
    }

    /// The index of the segment at `position`, as [`Resolved::at`] gives
    /// it, without resolving its URL.
    fn index(&self, position: u64) -> Option<u64> {
        let p = usize::try_from(position).ok()?;
        match p.checked_sub(self.segments.len()) {
            None => self.segments.sequence(p),
            Some(p) => Some(AUDIO_BASE + self.audio.as_ref()?.segments.sequence(p)?),
        }
    }
}

/// A resource and an optional byte range of it.
#[derive(Debug, Clone)]
pub struct Part {
    pub url: Secret,
    pub range: Option<ByteRange>,
}

/// One entry of a media playlist.
#[derive(Debug, Clone)]
pub struct PlaylistSegment {
    pub sequence: u64,
    pub part: Part,
    /// `EXTINF`, in seconds.
    pub duration: f64,
    /// `EXT-X-DISCONTINUITY` before this segment.
    pub discontinuity: bool,
    /// `EXT-X-KEY` METHOD=AES-128: the key's URL and the IV.
    pub key: Option<KeyRef>,
}

#[derive(Debug, Clone)]
pub struct KeyRef {
    pub url: Secret,
    pub iv: [u8; 16],
}

impl KeyRef {
    /// The key and IV of the segment `sequence`, from the keys fetched.
    pub fn with(&self, keys: &Keys, sequence: u64) -> Result<SegmentKey, PositionError> {
        let key = keys
            .0
            .get(self.url.expose())
            .ok_or_else(|| PositionError::KeyNotFetched {
                key: self.url.clone(),
                sequence,
            })?;
        Ok(SegmentKey {
            key: *key,
            iv: self.iv,
        })
    }
}

/// Why a resolved playlist gives no segment for a position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("the playlist has no segment at position {0}")]
    NoSegmentAt(u64),
    /// `key` is shown redacted.
    #[error("the key {key} of segment {sequence} was not fetched")]
    KeyNotFetched { key: Secret, sequence: u64 },
}

impl PlaylistSource {
    pub fn len(&self) -> u64 {
        self.resolved.as_ref().map_or(0, |r| r.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn index_at(&self, position: u64) -> u64 {
        self.resolved
            .as_ref()
            .and_then(|r| r.index(position))
            .unwrap_or(position)
    }

    /// The segment at `position`; before resolving, the playlist itself
    /// stands for every position (so a plan can show it).
    pub fn segment(&self, position: u64) -> Result<Segment, PositionError> {
        let Some(r) = &self.resolved else {
            return Ok(Segment {
                index: 0,
                target: self.target(&self.url),
                range: None,
                key: None,
            });
        };
        let fresh = self.fresh.read().unwrap_or_else(|e| e.into_inner()).clone();
        let r = fresh.as_deref().unwrap_or(r);
        let (s, index) = r.at(position).ok_or(PositionError::NoSegmentAt(position))?;
        let key = s.key.as_ref().map(|k| k.with(&r.keys, s.sequence));
        let (part, key) = (&s.part, key.transpose()?);
        Ok(Segment {
            index,
            target: self.target(&part.url),
            range: part.range,
            key,
        })
    }

    /// An http(s) target for a URL of this playlist.
    pub fn target(&self, url: &Secret) -> Target {
        let host = reqwest::Url::parse(url.expose())
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .unwrap_or_else(|| self.host.clone());
        Target::http(url.clone(), host)
    }

    /// The sum of `EXTINF`, once resolved.
    pub fn expected_duration(&self) -> Option<f64> {
        Some(self.resolved.as_ref()?.segments.duration())
    }

    /// Whether the segment at `position` is of the audio rendition.
    pub fn is_audio(&self, position: u64) -> bool {
        self.resolved
            .as_ref()
            .is_some_and(|r| position as usize >= r.segments.len())
    }

    /// How many positions, from the first, are of the video (or only)
    /// track.
    pub fn video_len(&self) -> u64 {
        self.resolved
            .as_ref()
            .map_or(0, |r| r.segments.len() as u64)
    }

    /// With a separate audio rendition, every position in the order to
    /// fetch it: the two tracks' segments by start time (a tie goes to the
    /// video), so that both reach the merge together (one ffmpeg reads both
    /// in timestamp order, and waits for the one behind).
    pub fn fetch_order(&self) -> Option<Vec<u64>> {
        let r = self.resolved.as_ref()?;
        let audio = r.audio.as_ref()?;
        let starts = |s: &Segments| -> Vec<f64> {
            let mut at = 0.0;
            let mut starts = Vec::with_capacity(s.len());
            for d in s.durations() {
                starts.push(at);
                at += d;
            }
            starts
        };
        Some(interleave(&starts(&r.segments), &starts(&audio.segments)))
    }

    /// The audio rendition's init segment and format, if there is one.
    pub fn audio(&self) -> Option<(Option<&Part>, SegmentFormat)> {
        let audio = self.resolved.as_ref()?.audio.as_ref()?;
        let format = match audio.init {
            Some(_) => SegmentFormat::Fmp4,
            None => SegmentFormat::Ts,
        };
        Some((audio.init.as_ref(), format))
    }

    pub fn format(&self) -> SegmentFormat {
        match self.resolved.as_ref().and_then(|r| r.init.as_ref()) {
            Some(_) => SegmentFormat::Fmp4,
            None => SegmentFormat::Ts,
        }
    }

    pub fn describe(&self) -> String {
        match &self.resolved {
            None => format!("segments from playlist {}", self.url),
            Some(r) => {
                let total = r.segments.duration();
                let mut s = format!(
                    "{} {} ({:.1} s {}, {})",
                    if r.dash { "MPD" } else { "playlist" },
                    r.media_shown,
                    total,
                    if r.dash { "listed" } else { "from EXTINF" },
                    match self.format() {
                        SegmentFormat::Ts => "ts",
                        SegmentFormat::Fmp4 => "fmp4 + init",
                    }
                );
                if let Some(a) = &r.audio {
                    s.push_str(&format!(
                        "; {} of them from the audio playlist {}",
                        a.segments.len(),
                        a.media_shown
                    ));
                }
                if let Some(note) = &r.variant_note {
                    s.push_str("; ");
                    s.push_str(note);
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::interleave;

    #[test]
    fn two_tracks_are_fetched_by_start_time_the_video_first_on_a_tie() {
        // Video of 4 s segments at positions 0-2; audio of 2 s at 3-8.
        let video = [0.0, 4.0, 8.0];
        let audio = [0.0, 2.0, 4.0, 6.0, 8.0, 10.0];
        assert_eq!(interleave(&video, &audio), [0, 3, 4, 1, 5, 6, 2, 7, 8]);
        assert_eq!(interleave(&[], &[0.0, 1.0]), [0, 1]);
        assert_eq!(interleave(&[0.0], &[]), [0]);
        // A start that is not a number never loses a position.
        assert_eq!(interleave(&[f64::NAN, 1.0], &[0.5]), [0, 2, 1]);
    }
}
