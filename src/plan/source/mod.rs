//! Where a job's segments come from, one model: a [`SegmentSource`] is
//! either segments numbered by a URL template ([`numbered`]) or the
//! segments an HLS playlist or a DASH manifest lists ([`playlist`], the
//! latter's addressing in [`dash`]); both give each position
//! a [`Segment`] ([`segment`]).

pub mod dash;
mod error;
mod numbered;
pub mod playlist;
mod segment;

use crate::manifest::IndexSource;

pub use error::SegmentError;
pub use numbered::{EndSource, Numbered};
pub use playlist::PlaylistSource;
pub use segment::{
    iv_from_sequence, target_of, ByteRange, Segment, SegmentFormat, SegmentKey, Target, TargetError,
};

/// A job's segment list.
#[derive(Debug, Clone)]
pub enum SegmentSource {
    Numbered(Numbered),
    Playlist(PlaylistSource),
}

impl SegmentSource {
    pub fn len(&self) -> u64 {
        match self {
            SegmentSource::Numbered(n) => n.indices.count(),
            SegmentSource::Playlist(p) => p.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index of the segment at `position` (0-based).
    pub fn index_at(&self, position: u64) -> u64 {
        match self {
            SegmentSource::Numbered(n) => n.indices.first() + position,
            SegmentSource::Playlist(p) => p.index_at(position),
        }
    }

    /// The segment at `position` (0-based).
    pub fn segment(&self, position: u64) -> Result<Segment, SegmentError> {
        match self {
            SegmentSource::Numbered(n) => n.segment(self.index_at(position)),
            SegmentSource::Playlist(p) => Ok(p.segment(position)?),
        }
    }

    /// Whether the segment at `position` is of a separate audio rendition.
    pub fn is_audio(&self, position: u64) -> bool {
        match self {
            SegmentSource::Numbered(_) => false,
            SegmentSource::Playlist(p) => p.is_audio(position),
        }
    }

    /// How many positions, from the first, are of the video (or only)
    /// track: a separate audio rendition's follow.
    pub fn video_len(&self) -> u64 {
        match self {
            SegmentSource::Numbered(_) => self.len(),
            SegmentSource::Playlist(p) => p.video_len(),
        }
    }

    /// The positions in the order to fetch them, when not in order (a
    /// separate audio rendition's interleaved with the video's by start
    /// time): see [`PlaylistSource::fetch_order`].
    pub fn fetch_order(&self) -> Option<Vec<u64>> {
        match self {
            SegmentSource::Numbered(_) => None,
            SegmentSource::Playlist(p) => p.fetch_order(),
        }
    }

    /// Whether 404s after the last segment that answered are expected
    /// (the count came from duration math).
    pub fn trailing_misses_expected(&self) -> bool {
        match self {
            SegmentSource::Numbered(n) => matches!(n.indices, IndexSource::Duration { .. }),
            SegmentSource::Playlist(_) => false,
        }
    }

    /// `range`, `count` or `duration`: where the segment list came from.
    pub fn kind(&self) -> &'static str {
        match self {
            SegmentSource::Numbered(n) => match n.indices {
                IndexSource::Range { .. } => "range",
                IndexSource::Count { .. } => "count",
                IndexSource::Duration { .. } => "duration",
            },
            SegmentSource::Playlist(_) => "playlist",
        }
    }

    /// The kind in words, with the duration math where there is some.
    pub fn describe(&self) -> String {
        match self {
            SegmentSource::Numbered(n) => match (n.end, &n.indices) {
                (EndSource::Auto, i) => format!(
                    "range from {}, end: auto (found by probing when run)",
                    i.first()
                ),
                (EndSource::Found { requests }, _) => {
                    format!("range (end: auto, found with {requests} requests)")
                }
                (
                    EndSource::Given,
                    IndexSource::Duration {
                        length_s,
                        segment_s,
                        ..
                    },
                ) => format!("duration {length_s}s ÷ {segment_s}s"),
                _ => self.kind().to_string(),
            },
            SegmentSource::Playlist(p) => p.describe(),
        }
    }

    pub fn expected_duration(&self) -> Option<f64> {
        match self {
            SegmentSource::Numbered(n) => n.indices.expected_duration(),
            SegmentSource::Playlist(p) => p.expected_duration(),
        }
    }
}
