//! AAC frames in ADTS: each frame's header read for the stream's
//! AudioSpecificConfig (profile, sample rate, channels), its raw payload
//! copied as one MP4 sample (what ffmpeg's `aac_adtstoasc` does).

use super::RemuxError;

/// ADTS sample rates by index.
const RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// The stream's setup, as the first frame tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Setup {
    /// MPEG-4 audio object type (ADTS profile + 1).
    pub object: u8,
    pub rate_index: u8,
    pub channels: u8,
}

impl Setup {
    pub(super) fn rate(&self) -> u32 {
        RATES[usize::from(self.rate_index)]
    }

    /// The two-byte AudioSpecificConfig.
    pub(super) fn config(&self) -> Vec<u8> {
        vec![
            self.object << 3 | self.rate_index >> 1,
            (self.rate_index & 1) << 7 | self.channels << 3,
        ]
    }
}

fn unsupported(what: &str) -> RemuxError {
    RemuxError::Unsupported(format!("AAC in ADTS: {what}"))
}

/// The frames of one PES's payload: each frame's setup and raw payload.
pub(super) fn frames(mut data: &[u8]) -> Result<Vec<(Setup, &[u8])>, RemuxError> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let h = data
            .get(..7)
            .ok_or_else(|| unsupported("a header cut short"))?;
        if h[0] != 0xFF || h[1] & 0xF6 != 0xF0 {
            return Err(unsupported("a frame without its sync word"));
        }
        let crc = h[1] & 1 == 0;
        let setup = Setup {
            object: (h[2] >> 6) + 1,
            rate_index: (h[2] >> 2) & 0x0F,
            channels: (h[2] & 1) << 2 | h[3] >> 6,
        };
        if usize::from(setup.rate_index) >= RATES.len() || setup.channels == 0 {
            return Err(unsupported(
                "a sample rate or channel layout MP4 cannot name here",
            ));
        }
        if h[6] & 3 != 0 {
            return Err(unsupported("more than one raw block in a frame"));
        }
        let len = usize::from(h[3] & 3) << 11 | usize::from(h[4]) << 3 | usize::from(h[5] >> 5);
        let head = if crc { 9 } else { 7 };
        if len <= head || len > data.len() {
            return Err(unsupported("a frame cut short"));
        }
        out.push((setup, &data[head..len]));
        data = &data[len..];
    }
    Ok(out)
}
