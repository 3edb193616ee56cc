//! H.264 access units from Annex B (start codes) to MP4's form (each NAL
//! unit behind its 4-byte length), the stream's SPS and PPS kept for
//! `avcC`, its picture size read from the SPS by `h264-reader`.

use super::RemuxError;

const IDR: u8 = 5;
const SEI: u8 = 6;
const SPS: u8 = 7;
const PPS: u8 = 8;
const AUD: u8 = 9;

/// What the video stream told so far.
#[derive(Debug, Default)]
pub(super) struct Video {
    pub sps: Option<Vec<u8>>,
    pub pps: Option<Vec<u8>>,
}

/// The NAL units of an Annex B byte stream (start codes and the zero bytes
/// before them left out).
fn nals(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|&s| s - 3)
        .chain(std::iter::once(data.len()))
        .collect();
    starts.into_iter().zip(ends).filter_map(move |(s, e)| {
        let mut nal = &data[s..e];
        while let [rest @ .., 0] = nal {
            nal = rest;
        }
        (!nal.is_empty()).then_some(nal)
    })
}

impl Video {
    /// One access unit in MP4's form, appended to `out`; whether it is a
    /// random access point (an IDR picture, or a recovery point).
    pub(super) fn sample(&mut self, au: &[u8], out: &mut Vec<u8>) -> Result<bool, RemuxError> {
        let mut key = false;
        for nal in nals(au) {
            match nal[0] & 0x1F {
                AUD => continue,
                IDR => key = true,
                SEI => key |= recovery_point(nal),
                SPS => keep(&mut self.sps, nal, "SPS")?,
                PPS => keep(&mut self.pps, nal, "PPS")?,
                _ => {}
            }
            let len = u32::try_from(nal.len())
                .map_err(|_| RemuxError::Unsupported("a NAL unit over 4 GiB".into()))?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(nal);
        }
        Ok(key)
    }

    /// The picture's width and height as the SPS tells them, cropping
    /// applied.
    pub(super) fn size(&self) -> Result<(u32, u32), RemuxError> {
        use h264_reader::nal::sps::SeqParameterSet;
        let bad = |e: &dyn std::fmt::Debug| RemuxError::Unsupported(format!("an SPS: {e:?}"));
        let sps = self.sps.as_deref().ok_or_else(|| bad(&"none"))?;
        let rbsp = h264_reader::rbsp::decode_nal(sps).map_err(|e| bad(&e))?;
        let sps = SeqParameterSet::from_bits(h264_reader::rbsp::BitReader::new(&rbsp[..]))
            .map_err(|e| bad(&e))?;
        sps.pixel_dimensions().map_err(|e| bad(&e))
    }
}

/// Whether an SEI NAL unit holds a recovery point (a random access point
/// without IDR) among its messages, wherever it comes among them, as
/// ffmpeg's parser finds it.
fn recovery_point(nal: &[u8]) -> bool {
    use h264_reader::nal::sei::{HeaderType, SeiReader};
    let Ok(rbsp) = h264_reader::rbsp::decode_nal(nal) else {
        return false;
    };
    let mut scratch = Vec::new();
    let mut messages = SeiReader::from_rbsp_bytes(&rbsp[..], &mut scratch);
    while let Ok(Some(m)) = messages.next() {
        if m.payload_type == HeaderType::RecoveryPoint {
            return true;
        }
    }
    false
}

/// Keeps the first SPS or PPS; another that differs ends the remux (the
/// index has room for one).
fn keep(slot: &mut Option<Vec<u8>>, nal: &[u8], what: &str) -> Result<(), RemuxError> {
    match slot {
        Some(s) if s != nal => Err(RemuxError::Unsupported(format!("the {what} changes"))),
        Some(_) => Ok(()),
        None => {
            *slot = Some(nal.to_vec());
            Ok(())
        }
    }
}
