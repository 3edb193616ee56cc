//! A merged MP4 read in-process: what ffprobe would say of it (the file's
//! length, each stream's type and own length), from its index (`moov`),
//! decoded by `mp4-atom`; no process, no dynamic loader.
//!
//! ffprobe reads an MP4's lengths from the same boxes: the file's from
//! `mvhd` (duration / timescale), a stream's from its track's `mdhd`, its
//! type from the track's `hdlr`. Every top-level box must lie whole within
//! the file, so a file cut short fails here even where its index survived
//! (ffprobe would read that one). A file this reader does not cover (not
//! an ISO-BMFF file, a fragmented one, an index larger than
//! [`MOOV_CAP`], one `mp4-atom` cannot decode) is left to ffprobe.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use mp4_atom::{Decode, FourCC, Moov};

use super::{ProbeError, Probed};

/// The largest index read into memory: 64 MiB, the `stsz`, `stts` and
/// `stco` tables of days of video. A larger one is left to ffprobe.
pub const MOOV_CAP: u64 = 64 << 20;

/// What the file holds, or None when it is not an MP4 this reader covers
/// (ffprobe then decides). An error is a file that is not whole: a box
/// that runs past its end, or no index at all.
pub fn read(file: &Path) -> Result<Option<Probed>, ProbeError> {
    let mut f = std::fs::File::open(file).map_err(ProbeError::Start)?;
    let Some(moov) = index_of(&mut f)? else {
        return Ok(None);
    };
    let moov = match Moov::decode(&mut moov.as_slice()) {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(
                file = %crate::common::diag::display_path(file),
                "the MP4 index could not be decoded in-process ({e}); asking ffprobe"
            );
            return Ok(None);
        }
    };
    Ok(probed(&moov))
}

/// The top-level `moov` box's bytes. None for a file that does not open
/// with `ftyp`, is fragmented (`moof`, `mvex` is seen later), or whose
/// index is above the cap.
fn index_of(f: &mut std::fs::File) -> Result<Option<Vec<u8>>, ProbeError> {
    let len = f.metadata().map_err(ProbeError::Start)?.len();
    let mut at = 0u64;
    let mut moov = None;
    while at < len {
        let (kind, head, size) = header(f, at, len)?;
        if at == 0 && &kind != b"ftyp" {
            return Ok(None);
        }
        let end = at.checked_add(size).filter(|&e| e <= len);
        let Some(end) = end else {
            let kind = kind.escape_ascii();
            return Err(ProbeError::NotWhole(format!(
                "the box `{kind}` at byte {at} runs past the end of the file ({len} bytes): the file is cut short"
            )));
        };
        match &kind {
            b"moof" => return Ok(None),
            b"moov" if size > MOOV_CAP => return Ok(None),
            b"moov" => {
                let mut body = vec![0; size as usize];
                f.seek(SeekFrom::Start(at)).map_err(ProbeError::Start)?;
                f.read_exact(&mut body).map_err(ProbeError::Start)?;
                moov = Some(body);
            }
            _ => {}
        }
        debug_assert!(size >= head);
        at = end;
    }
    match moov {
        Some(m) => Ok(Some(m)),
        None if len == 0 => Err(ProbeError::NotWhole("the file is empty".into())),
        None => Err(ProbeError::NotWhole("moov atom not found".into())),
    }
}

/// The box at `at`: its type, header length and whole size (a size of 0
/// runs to the end of the file).
fn header(f: &mut std::fs::File, at: u64, len: u64) -> Result<([u8; 4], u64, u64), ProbeError> {
    let cut = |what: &str| {
        ProbeError::NotWhole(format!(
            "{what} at byte {at} of {len}: the file is cut short or not an MP4"
        ))
    };
    let mut h = [0u8; 16];
    let have = (len - at).min(16) as usize;
    if have < 8 {
        return Err(cut("a partial box header"));
    }
    f.seek(SeekFrom::Start(at)).map_err(ProbeError::Start)?;
    f.read_exact(&mut h[..have]).map_err(ProbeError::Start)?;
    let kind: [u8; 4] = h[4..8].try_into().expect("4 bytes");
    let (size, head) = match u32::from_be_bytes(h[..4].try_into().expect("4 bytes")) {
        0 => (len - at, 8),
        1 if have == 16 => (
            u64::from_be_bytes(h[8..16].try_into().expect("8 bytes")),
            16,
        ),
        1 => return Err(cut("a partial box header")),
        s => (u64::from(s), 8),
    };
    if size < head {
        return Err(cut("a box shorter than its header"));
    }
    Ok((kind, head, size))
}

/// The lengths and stream types, as ffprobe tells them; None for a
/// fragmented file or one without a movie timescale.
fn probed(moov: &Moov) -> Option<Probed> {
    if moov.mvex.is_some() || moov.mvhd.timescale == 0 || moov.mvhd.duration == 0 {
        return None;
    }
    let duration_s = moov.mvhd.duration as f64 / f64::from(moov.mvhd.timescale);
    let (streams, stream_durations) = moov
        .trak
        .iter()
        .map(|t| {
            let mdhd = &t.mdia.mdhd;
            let length =
                (mdhd.timescale > 0).then(|| mdhd.duration as f64 / f64::from(mdhd.timescale));
            (kind(t.mdia.hdlr.handler).to_string(), length)
        })
        .unzip();
    Some(Probed {
        duration_s,
        streams,
        stream_durations,
    })
}

/// A track's handler as ffprobe names the stream's type.
fn kind(handler: FourCC) -> &'static str {
    match &<[u8; 4]>::from(handler) {
        b"vide" => "video",
        b"soun" => "audio",
        b"sbtl" | b"subt" | b"text" | b"clcp" => "subtitle",
        _ => "data",
    }
}
