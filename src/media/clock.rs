//! A segment's own timestamps, read as its bytes are checked (no second
//! pass): for MPEG-TS, the PTS of each PES header of its first video PID
//! (stream ids 0xE0–0xEF) and its first audio PID (0xC0–0xDF). Per kind it
//! keeps a [`Span`]: the smallest PTS (the first in time: B-frames put
//! PTS out of byte order, so it is the minimum, not the first seen), the
//! span to the largest, and the *step*, the smallest positive gap between
//! two PTS in a row (a frame for video; one PES, which may carry several
//! audio frames, for audio). PTS are 33-bit and wrap: each is read
//! relative to the first seen, within ±2^32 ticks.
//!
//! What is exact and what is not: a segment's true length for a kind lies
//! in `[span, span + step]` (its last unit lasts at most the step). For two
//! segments in a row of one stream, the next one's first PTS minus this
//! one's first PTS is this one's length exactly; [`expected`] uses that
//! start-to-start gap where the next segment starts where this one ends
//! (within one step), and the `[span, span + step]` bound elsewhere (the
//! last segment, a jump in the timestamps). The sum is a range in which a
//! whole merge's stream length must lie.
//!
//! A fragmented MP4 segment's timing is its tracks' [`Run`]s, read by
//! [`frag`] and told in seconds with its init segment's tracks by
//! [`moov`]. An ADTS (AAC) segment's is its samples, 1024 a frame, and
//! their sampling rate ([`Aac`]); MPEG audio (MP2/MP3) has no timing
//! here: its length is unknown, and nothing is checked against it.

pub mod frag;
pub mod moov;

use serde::{Deserialize, Serialize};

use super::ts::{TS_PACKET, TS_SYNC};
pub use frag::Run;
use moov::InitTrack;

/// MPEG-TS timestamps count 90 000 ticks a second, modulo 2^33.
pub const TICKS_PER_SECOND: f64 = 90_000.0;
const WRAP: u64 = 1 << 33;

/// One kind's timestamps in one segment, in 90 kHz ticks: the first PTS
/// (modulo 2^33), the span to the last, and the step (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span(pub u64, pub u64, pub u64);

impl Span {
    fn first(self) -> u64 {
        self.0
    }
    fn span(self) -> u64 {
        self.1
    }
    fn step(self) -> u64 {
        self.2
    }
}

/// A segment's timing: an MPEG-TS segment's video and audio span, where
/// it has them; a fragmented MP4 segment's tracks' runs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<Span>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<Span>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracks: Vec<Run>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aac: Option<Aac>,
}

/// An ADTS segment's samples and their sampling rate: it lasts their
/// quotient exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aac(pub u64, pub u32);

impl Timing {
    /// The fields as a ledger line's checksum covers them.
    pub fn text(&self) -> String {
        let one = |s: Option<Span>| s.map_or("-".into(), |s| format!("{},{},{}", s.0, s.1, s.2));
        let mut text = format!("v={};a={}", one(self.video), one(self.audio));
        for r in &self.tracks {
            let first = r.1.map_or("-".into(), |f| f.to_string());
            text.push_str(&format!(";m={},{first},{},{}", r.0, r.2, r.3));
        }
        if let Some(Aac(samples, rate)) = self.aac {
            text.push_str(&format!(";aac={samples},{rate}"));
        }
        text
    }

    fn span(&self, kind: Kind) -> Option<Span> {
        match kind {
            Kind::Video => self.video,
            Kind::Audio => self.audio,
        }
    }
}

/// The PTS of one PID seen so far.
#[derive(Debug, Clone, Copy)]
struct Track {
    pid: u16,
    /// The first PTS seen; the others are read relative to it.
    origin: u64,
    min: i64,
    max: i64,
    last: i64,
    /// The smallest positive gap between two PTS in a row; 0: none yet.
    step: u64,
}

impl Track {
    fn new(pid: u16, pts: u64) -> Track {
        Track {
            pid,
            origin: pts,
            min: 0,
            max: 0,
            last: 0,
            step: 0,
        }
    }

    fn add(&mut self, pts: u64) {
        let mut at = ((pts + WRAP - self.origin) % WRAP) as i64;
        if at >= (WRAP / 2) as i64 {
            at -= WRAP as i64;
        }
        let gap = at - self.last;
        if gap > 0 && (self.step == 0 || (gap as u64) < self.step) {
            self.step = gap as u64;
        }
        (self.min, self.max, self.last) = (self.min.min(at), self.max.max(at), at);
    }

    /// The span, once two PTS told a step.
    fn span(&self) -> Option<Span> {
        let first = (self.origin as i64 + self.min).rem_euclid(WRAP as i64) as u64;
        (self.step > 0).then_some(Span(first, (self.max - self.min) as u64, self.step))
    }
}

/// Reads the PES timestamps of an MPEG-TS body as it streams.
#[derive(Debug, Default)]
pub(super) struct Clock {
    /// The bytes of a packet split over chunks.
    partial: Vec<u8>,
    video: Option<Track>,
    audio: Option<Track>,
}

impl Clock {
    /// Takes the next chunk of a body whose packets start at byte 0 (the
    /// walk has judged their headers).
    pub(super) fn feed(&mut self, mut chunk: &[u8]) {
        let size = TS_PACKET as usize;
        if !self.partial.is_empty() {
            let take = (size - self.partial.len()).min(chunk.len());
            self.partial.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.partial.len() < size {
                return;
            }
            let packet = std::mem::take(&mut self.partial);
            self.packet(&packet);
        }
        let mut packets = chunk.chunks_exact(size);
        for packet in &mut packets {
            self.packet(packet);
        }
        self.partial.extend_from_slice(packets.remainder());
    }

    /// A whole packet: the PTS of a PES that starts in it.
    fn packet(&mut self, p: &[u8]) {
        if p.first() != Some(&TS_SYNC) || p[1] & 0x40 == 0 {
            return;
        }
        let pid = u16::from_be_bytes([p[1] & 0x1F, p[2]]);
        let control = (p[3] >> 4) & 3;
        let start = match control {
            1 => 4,
            3 => 5 + p[4] as usize,
            _ => return,
        };
        let Some((kind, pts)) = p.get(start..).and_then(pes_pts) else {
            return;
        };
        let track = match kind {
            Kind::Video => &mut self.video,
            Kind::Audio => &mut self.audio,
        };
        match track {
            None => *track = Some(Track::new(pid, pts)),
            Some(t) if t.pid == pid => t.add(pts),
            Some(_) => {}
        }
    }

    /// What the body's timestamps told; None when they told nothing.
    pub(super) fn timing(&self) -> Option<Timing> {
        let timing = Timing {
            video: self.video.and_then(|t| t.span()),
            audio: self.audio.and_then(|t| t.span()),
            ..Timing::default()
        };
        (timing != Timing::default()).then_some(timing)
    }
}

/// A kind of stream whose length is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Video,
    Audio,
}

/// The range, in seconds, a whole merge's `kind` stream must lie in, from
/// its segments' timings in merge order: their MPEG-TS spans (see
/// [`expected`]) or their fMP4 runs, read with the init segment's
/// `tracks` (see [`moov::expected`]), or for audio their ADTS samples.
/// None when a segment's timing does not tell it.
pub fn expected_of(
    kind: Kind,
    timings: &[Option<&Timing>],
    tracks: &[InitTrack],
) -> Option<(f64, Option<f64>)> {
    let spans: Vec<_> = timings.iter().map(|t| (*t)?.span(kind)).collect();
    expected(&spans)
        .or_else(|| {
            let runs: Vec<&[Run]> = (timings.iter())
                .map(|t| Some((*t)?.tracks.as_slice()).filter(|r| !r.is_empty()))
                .collect::<Option<_>>()?;
            moov::expected(kind, tracks, &runs)
        })
        .or_else(|| (kind == Kind::Audio).then(|| samples(timings)).flatten())
}

/// How long a whole merge of ADTS segments is: their samples' sum over
/// their rate, exact.
fn samples(timings: &[Option<&Timing>]) -> Option<(f64, Option<f64>)> {
    let mut secs = 0.0;
    for t in timings {
        let Aac(samples, rate) = (*t)?.aac?;
        secs += samples as f64 / f64::from(rate);
    }
    (!timings.is_empty()).then_some((secs, Some(secs)))
}

/// The stream kind and PTS of a PES header at the start of `pes`.
fn pes_pts(pes: &[u8]) -> Option<(Kind, u64)> {
    if pes.len() < 14 || pes[..3] != [0, 0, 1] {
        return None;
    }
    let kind = match pes[3] {
        0xE0..=0xEF => Kind::Video,
        0xC0..=0xDF => Kind::Audio,
        _ => return None,
    };
    // '10' marker bits, then PTS_DTS_flags with a PTS.
    if pes[6] & 0xC0 != 0x80 || pes[7] & 0x80 == 0 {
        return None;
    }
    let b = &pes[9..14];
    let pts = (u64::from(b[0] >> 1) & 7) << 30
        | u64::from(b[1]) << 22
        | u64::from(b[2] >> 1) << 15
        | u64::from(b[3]) << 7
        | u64::from(b[4] >> 1);
    Some((kind, pts))
}

/// The range, in seconds, that a whole merge's stream of one kind must
/// lie in, from the spans of its segments in merge order (see the
/// module): at least the first, at most the second. Where the timestamps
/// jump from one segment to the next, what ffmpeg makes of the jump is its
/// own (it closes a large one, not a small one): only the least holds.
/// None when one of the segments has no span of that kind.
pub fn expected(spans: &[Option<Span>]) -> Option<(f64, Option<f64>)> {
    let spans: Vec<Span> = spans.iter().copied().collect::<Option<_>>()?;
    let (mut lo, mut hi, mut jumped) = (0u64, 0u64, false);
    for (i, s) in spans.iter().enumerate() {
        let next = spans
            .get(i + 1)
            .map(|n| (n.first() + WRAP - s.first()) % WRAP);
        let ends_here = s.span()..=s.span() + s.step() + s.step() / 2;
        match next {
            Some(gap) if ends_here.contains(&gap) => {
                lo += gap;
                hi += gap;
            }
            _ => {
                jumped |= next.is_some();
                lo += s.span();
                hi += s.span() + s.step();
            }
        }
    }
    let secs = |t: u64| t as f64 / TICKS_PER_SECOND;
    (!spans.is_empty()).then(|| (secs(lo), (!jumped).then(|| secs(hi))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TS packet on `pid` starting a PES of `stream_id` with `pts`.
    fn pes_packet(pid: u16, stream_id: u8, pts: u64) -> Vec<u8> {
        let mut p = vec![TS_SYNC, 0x40 | (pid >> 8) as u8, pid as u8, 0x10];
        p.extend_from_slice(&[0, 0, 1, stream_id, 0, 0, 0x80, 0x80, 5]);
        p.extend_from_slice(&[
            0x21 | ((pts >> 29) & 0x0E) as u8,
            (pts >> 22) as u8,
            0x01 | ((pts >> 14) & 0xFE) as u8,
            (pts >> 7) as u8,
            0x01 | ((pts << 1) & 0xFE) as u8,
        ]);
        p.resize(188, 0xFF);
        p
    }

    fn clock_of(packets: &[Vec<u8>], piece: usize) -> Clock {
        let body = packets.concat();
        let mut c = Clock::default();
        for chunk in body.chunks(piece) {
            c.feed(chunk);
        }
        c
    }

    #[test]
    fn b_frames_wrap_and_chunking_are_read_right() {
        // Decode order I P B B: PTS 0, 3, 1, 2 frames of 3600 ticks, from
        // just below the 33-bit wrap.
        let base = WRAP - 3600;
        let video: Vec<Vec<u8>> = [0, 3, 1, 2]
            .iter()
            .map(|f| pes_packet(0x100, 0xE0, (base + f * 3600) % WRAP))
            .collect();
        let audio = [pes_packet(0x101, 0xC0, 5), pes_packet(0x101, 0xC0, 1005)];
        let all: Vec<Vec<u8>> = video.into_iter().chain(audio).collect();
        for piece in [1, 7, 188, 1000] {
            let t = clock_of(&all, piece).timing().unwrap();
            assert_eq!(t.video, Some(Span(base, 3 * 3600, 3600)), "{piece}");
            assert_eq!(t.audio, Some(Span(5, 1000, 1000)), "{piece}");
        }
        // One PTS tells no step: no span.
        let one = clock_of(&[pes_packet(0x100, 0xE0, 9)], 188);
        assert_eq!(one.timing(), None);
    }

    #[test]
    fn start_to_start_gaps_are_exact_and_jumps_fall_back_to_the_bounds() {
        let s = |first, span, step| Some(Span(first, span, step));
        // Three contiguous 1 s segments of 0.1 s frames: 2 s exact, then
        // the last within [0.9, 1.0].
        let run = [
            s(0, 81_000, 9_000),
            s(90_000, 81_000, 9_000),
            s(180_000, 81_000, 9_000),
        ];
        assert_eq!(expected(&run), Some((2.9, Some(3.0))));
        // Across the wrap too.
        let wrapped = [s(WRAP - 90_000, 81_000, 9_000), s(0, 81_000, 9_000)];
        assert_eq!(expected(&wrapped), Some((1.9, Some(2.0))));
        // A segment served twice: no gap is trusted where the next
        // starts elsewhere than where this ends, and past a jump only the
        // least holds.
        let twice = [
            s(0, 81_000, 9_000),
            s(0, 81_000, 9_000),
            s(180_000, 81_000, 9_000),
        ];
        assert_eq!(expected(&twice), Some((2.7, None)));
        assert_eq!(expected(&[s(0, 1, 1), None]), None);
        assert_eq!(expected(&[]), None);
    }
}
