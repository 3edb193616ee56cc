//! The boxes of the index in the order ffmpeg writes them (and ISO/IEC
//! 14496-12 recommends): `mp4-atom` encodes a container's required boxes
//! before its optional ones (`mdia` before `edts`, `stbl` before `vmhd`),
//! which readers that look boxes up by type do not mind, and a strict
//! player might.

/// Each container's children in order; others keep their place after.
const ORDER: [(&[u8; 4], &[&[u8; 4]]); 4] = [
    (b"trak", &[b"tkhd", b"edts", b"mdia"]),
    (b"mdia", &[b"mdhd", b"hdlr", b"minf"]),
    (b"minf", &[b"vmhd", b"smhd", b"dinf", b"stbl"]),
    (
        b"stbl",
        &[
            b"stsd", b"stts", b"stss", b"ctts", b"stsc", b"stsz", b"stco", b"co64",
        ],
    ),
];

/// The boxes in `bytes`, each whole (header included) with its type.
fn boxes(mut bytes: &[u8]) -> Option<Vec<([u8; 4], &[u8])>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let size = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        if size < 8 || size > bytes.len() {
            return None;
        }
        out.push((bytes[4..8].try_into().ok()?, &bytes[..size]));
        bytes = &bytes[size..];
    }
    Some(out)
}

/// `moov` (whole) with the boxes inside it in order; as it was where it
/// does not read as expected.
pub(super) fn tidy(moov: Vec<u8>) -> Vec<u8> {
    tidy_box(&moov).unwrap_or(moov)
}

fn tidy_box(whole: &[u8]) -> Option<Vec<u8>> {
    let kind: [u8; 4] = whole.get(4..8)?.try_into().ok()?;
    let containers = [b"moov", b"trak", b"mdia", b"minf", b"stbl"];
    if !containers.contains(&&kind) {
        return Some(whole.to_vec());
    }
    let mut children = boxes(whole.get(8..)?)?;
    if let Some((_, order)) = ORDER.iter().find(|(k, _)| **k == kind) {
        let rank = |k: &[u8; 4]| order.iter().position(|o| *o == k).unwrap_or(order.len());
        children.sort_by_key(|(k, _)| rank(k));
    }
    let mut out = whole[..8].to_vec();
    for (_, child) in children {
        out.extend(tidy_box(child)?);
    }
    Some(out)
}
