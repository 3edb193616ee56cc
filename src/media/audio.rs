//! Audio bodies: AAC in ADTS frames, or MPEG audio (MP1/MP2/MP3) frames,
//! each frame's header exactly where the previous frame's length says it
//! ends, all frames of one kind; ID3v2 tags only before the first frame
//! (as HLS packed audio carries its timestamp). A whole body must hold a
//! frame: an ID3 tag whose size covers an HTML page is not audio.

use super::walk::{UnitHead, Units};
use super::{Flaw, Format, Lack};

/// The kind of frames a body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frames {
    Adts,
    Mpeg,
}

impl Frames {
    fn name(self) -> &'static str {
        match self {
            Frames::Adts => "ADTS",
            Frames::Mpeg => "MPEG audio",
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Audio {
    /// The kind of the first frame, once one was read.
    frames: Option<Frames>,
    /// The samples of the ADTS frames so far, and their sampling rate.
    samples: u64,
    rate: Option<u32>,
    /// A frame whose length in samples is not known (MPEG audio, a
    /// reserved or changing sampling rate).
    untimed: bool,
}

/// ADTS sampling_frequency_index to Hz (13 to 15 are reserved).
const ADTS_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

impl Audio {
    /// The samples of a body of ADTS frames and their sampling rate: its
    /// length is their quotient. None for any other body.
    pub(super) fn samples(&self) -> Option<(u64, u32)> {
        let rate = self.rate.filter(|_| !self.untimed)?;
        Some((self.samples, rate))
    }

    /// Counts a whole ADTS frame's samples: 1024 for each raw data block.
    fn count(&mut self, head: &[u8]) {
        let rate = ADTS_RATES.get(usize::from((head[2] >> 2) & 0x0F)).copied();
        let blocks = u64::from(head[6] & 0x03) + 1;
        match (rate, self.rate) {
            (Some(r), None) => self.rate = Some(r),
            (Some(r), Some(was)) if r == was => {}
            _ => self.untimed = true,
        }
        self.samples = self.samples.saturating_add(1024 * blocks);
    }
}

impl Units for Audio {
    const FORMAT: Format = Format::Audio;
    const UNIT: &'static str = "audio frame";

    fn head(&mut self, head: &[u8]) -> Result<UnitHead, Flaw> {
        if head.len() < 3 {
            return Ok(UnitHead::Need(3));
        }
        if head.starts_with(b"ID3") {
            return match self.frames {
                Some(_) => Err(Flaw::LateId3),
                None => id3_unit(head),
            };
        }
        let kind = if is_mpeg_audio(head) {
            Frames::Mpeg
        } else if is_adts(head) {
            Frames::Adts
        } else {
            return Err(Flaw::NoFrame);
        };
        if let Some(first) = self.frames.filter(|&f| f != kind) {
            let (now, first) = (kind.name(), first.name());
            return Err(Flaw::MixedFrames { now, first });
        }
        let unit = match kind {
            Frames::Mpeg => mpeg_audio_unit(head)?,
            Frames::Adts => adts_unit(head)?,
        };
        if let UnitHead::Len(_) = unit {
            self.frames = Some(kind);
            match kind {
                Frames::Adts => self.count(head),
                Frames::Mpeg => self.untimed = true,
            }
        }
        Ok(unit)
    }

    fn lack(&self) -> Option<Lack> {
        self.frames.is_none().then_some(Lack::NoFrame)
    }
}

/// An ID3v2 tag: a 10-byte header with a sync-safe size, a footer of 10
/// more when its flag says so.
fn id3_unit(head: &[u8]) -> Result<UnitHead, Flaw> {
    if head.len() < 10 {
        return Ok(UnitHead::Need(10));
    }
    let size = head[6..10]
        .iter()
        .try_fold(0u64, |acc, &b| (b < 0x80).then_some(acc << 7 | b as u64));
    let Some(size) = size else {
        return Err(Flaw::Id3Size);
    };
    let footer = if head[5] & 0x10 != 0 { 10 } else { 0 };
    Ok(UnitHead::Len(10 + size + footer))
}

/// An ADTS frame: its 13-bit length, header included (the header's 7th
/// byte, its count of raw data blocks, is gathered too).
fn adts_unit(head: &[u8]) -> Result<UnitHead, Flaw> {
    if head.len() < 6 {
        return Ok(UnitHead::Need(6));
    }
    let len = ((head[3] as u64 & 0x03) << 11) | ((head[4] as u64) << 3) | (head[5] as u64 >> 5);
    if len < 7 {
        return Err(Flaw::TinyFrame(len));
    }
    if head.len() < 7 {
        return Ok(UnitHead::Need(7));
    }
    Ok(UnitHead::Len(len))
}

/// An ADTS frame header: 12 sync bits, then layer 00.
pub(super) fn is_adts(head: &[u8]) -> bool {
    head.len() >= 2 && head[0] == 0xFF && head[1] & 0xF6 == 0xF0
}

/// An MPEG audio (MP1/MP2/MP3) frame header: 11 sync bits, a version that
/// is not reserved, a layer that is not 00 (that is ADTS).
pub(super) fn is_mpeg_audio(head: &[u8]) -> bool {
    head.len() >= 2
        && head[0] == 0xFF
        && head[1] & 0xE0 == 0xE0
        && (head[1] >> 3) & 3 != 1
        && (head[1] >> 1) & 3 != 0
}

/// An MPEG audio frame's length from its 4-byte header.
fn mpeg_audio_unit(head: &[u8]) -> Result<UnitHead, Flaw> {
    const KBPS: [[u32; 14]; 5] = [
        [
            32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448,
        ],
        [
            32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384,
        ],
        [
            32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ],
        [
            32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256,
        ],
        [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    ];
    const RATES: [[u32; 3]; 3] = [
        [11025, 12000, 8000],
        [22050, 24000, 16000],
        [44100, 48000, 32000],
    ];
    if head.len() < 4 {
        return Ok(UnitHead::Need(4));
    }
    let version = (head[1] >> 3) & 3; // 0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1
    let layer = 4 - ((head[1] >> 1) & 3); // 1, 2 or 3
    let rate_index = (head[2] >> 4) as usize;
    let freq_index = ((head[2] >> 2) & 3) as usize;
    if rate_index == 0 || rate_index == 15 || freq_index == 3 {
        return Err(Flaw::BadMpegHeader);
    }
    let table = match (version == 3, layer) {
        (true, l) => l as usize - 1,
        (false, 1) => 3,
        (false, _) => 4,
    };
    let bits = KBPS[table][rate_index - 1] as u64 * 1000;
    let freq = RATES[version.saturating_sub(1) as usize][freq_index] as u64;
    let pad = ((head[2] >> 1) & 1) as u64;
    let len = match layer {
        1 => (12 * bits / freq + pad) * 4,
        3 if version != 3 => 72 * bits / freq + pad,
        _ => 144 * bits / freq + pad,
    };
    Ok(UnitHead::Len(len))
}
