//! What an fMP4 init segment tells of its tracks (`moov/trak`: `tkhd`
//! track_ID, `mdia/mdhd` timescale, `mdia/hdlr` handler `vide` or `soun`;
//! `moov/mvex/trex` default_sample_duration), and the length of a whole
//! merge's video or audio by its segments' [`Run`]s.
//!
//! A fragmented MP4's sample durations are exact: a segment lasts the sum
//! of its samples' durations, and the segments of a stream add up to the
//! stream. Where a segment's `tfdt` is not where the one before it ends
//! (a segment served twice, a jump), what ffmpeg makes of it is its own:
//! only the least holds, as for MPEG-TS.

use super::frag::Run;
use super::Kind;

/// One track of an init segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitTrack {
    pub id: u32,
    /// Ticks a second (`mdhd`); 0 when not told.
    pub timescale: u32,
    /// From the `hdlr` handler: `vide` or `soun`; None for any other.
    pub kind: Option<Kind>,
    /// The `trex` default_sample_duration, where there is one and it is
    /// not 0.
    pub default: Option<u32>,
}

/// The boxes chained in `b`, as (type, body); stops at the first that
/// does not fit.
fn boxes(mut b: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(b.get(..4)?.try_into().ok()?);
        let kind: [u8; 4] = b.get(4..8)?.try_into().ok()?;
        let (size, head) = match size {
            0 => (b.len() as u64, 8),
            1 => (u64::from_be_bytes(b.get(8..16)?.try_into().ok()?), 16),
            s => (u64::from(s), 8),
        };
        let size = usize::try_from(size).ok().filter(|&s| s >= head)?;
        let body = b.get(head..size)?;
        b = &b[size..];
        Some((kind, body))
    })
}

fn child<'a>(b: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(b).find(|(k, _)| k == kind).map(|(_, body)| body)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The value at `v0` in a full box of version 0, 8 bytes later in one of
/// version 1 (whose times before it are 64-bit).
fn versioned(b: &[u8], v0: usize, v1: usize) -> Option<u32> {
    be32(b, if *b.first()? == 1 { v1 } else { v0 })
}

/// The tracks of an init segment; none when it holds no `moov`.
pub fn init_tracks(init: &[u8]) -> Vec<InitTrack> {
    let Some(moov) = child(init, b"moov") else {
        return Vec::new();
    };
    let defaults: Vec<(u32, u32)> = child(moov, b"mvex")
        .into_iter()
        .flat_map(boxes)
        .filter(|(k, _)| k == b"trex")
        .filter_map(|(_, t)| Some((be32(t, 4)?, be32(t, 12)?)))
        .collect();
    boxes(moov)
        .filter(|(k, _)| k == b"trak")
        .filter_map(|(_, trak)| {
            let id = versioned(child(trak, b"tkhd")?, 12, 20)?;
            let mdia = child(trak, b"mdia")?;
            let timescale = child(mdia, b"mdhd").and_then(|m| versioned(m, 12, 20));
            let kind = match child(mdia, b"hdlr").and_then(|h| h.get(8..12)) {
                Some(b"vide") => Some(Kind::Video),
                Some(b"soun") => Some(Kind::Audio),
                _ => None,
            };
            let default = defaults.iter().find(|(t, _)| *t == id).map(|(_, d)| *d);
            Some(InitTrack {
                id,
                timescale: timescale.unwrap_or(0),
                kind,
                default: default.filter(|&d| d > 0),
            })
        })
        .collect()
}

/// How long a whole merge's `kind` stream is by its segments' runs, in
/// merge order, read with the init segment's `tracks`: at least the first,
/// at most the second where no segment jumps (see the module). None when
/// the init has no such track or a segment's samples' durations are not
/// all told.
pub fn expected(
    kind: Kind,
    tracks: &[InitTrack],
    segments: &[&[Run]],
) -> Option<(f64, Option<f64>)> {
    let track = tracks
        .iter()
        .find(|t| t.kind == Some(kind) && t.timescale > 0)?;
    let mut pieces = Vec::with_capacity(segments.len());
    for runs in segments {
        let piece = match runs.iter().find(|r| r.track() == track.id) {
            // The segment has no samples of the track.
            None => (None, 0),
            Some(r) => {
                let (told, untold) = r.ticks();
                let rest = match untold {
                    0 => 0,
                    n => n.checked_mul(u64::from(track.default?))?,
                };
                (r.first(), told.checked_add(rest)?)
            }
        };
        pieces.push(piece);
    }
    let (mut sum, mut jumped) = (0u64, false);
    for (i, (first, len)) in pieces.iter().enumerate() {
        sum = sum.saturating_add(*len);
        if let (Some(first), Some((Some(next), _))) = (first, pieces.get(i + 1)) {
            jumped |= first.checked_add(*len) != Some(*next);
        }
    }
    let secs = sum as f64 / f64::from(track.timescale);
    (!pieces.is_empty()).then_some((secs, (!jumped).then_some(secs)))
}
