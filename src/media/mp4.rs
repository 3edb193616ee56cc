//! Fragmented MP4 bodies: top-level boxes chained exactly to the end of
//! the body, each of a type a segment holds (`styp`, `moof`, `mdat`,
//! `sidx`, `prft`, `emsg`, `free`, `skip`; `ftyp` and `moov` for an init
//! segment), each at least as long as its header (a 64-bit size when the
//! 32-bit size is 1). A size of 0 ("to the end of the file") is refused: it
//! would take anything after the box header, an HTML page included. A
//! whole body must hold a `moov`, `moof` or `mdat` box.

use super::walk::{UnitHead, Units};
use super::{preview, Flaw, Format, Lack};

/// The box types a fragmented-MP4 media or init segment may hold.
const BOXES: [&[u8; 4]; 10] = [
    b"styp", b"moof", b"mdat", b"sidx", b"prft", b"emsg", b"free", b"skip", b"ftyp", b"moov",
];

/// The boxes that carry media or describe it.
const MEDIA: [&[u8; 4]; 3] = [b"moov", b"moof", b"mdat"];

/// Whether `kind` is a box type a segment may hold.
pub(super) fn known(kind: &[u8]) -> bool {
    BOXES.iter().any(|b| kind == *b)
}

#[derive(Debug, Default)]
pub(super) struct Mp4 {
    /// A `moov`, `moof` or `mdat` box has been seen.
    media: bool,
}

impl Units for Mp4 {
    const FORMAT: Format = Format::Mp4;
    const UNIT: &'static str = "MP4 box";

    /// A box: 32-bit size and a type; size 1 means a 64-bit size follows.
    fn head(&mut self, head: &[u8]) -> Result<UnitHead, Flaw> {
        if head.len() < 8 {
            return Ok(UnitHead::Need(8));
        }
        let kind = &head[4..8];
        if !known(kind) {
            let kind = preview(kind);
            return Err(Flaw::UnknownBox { kind });
        }
        let (size, header) = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            0 => {
                return Err(Flaw::OpenBox {
                    kind: preview(kind),
                })
            }
            1 if head.len() < 16 => return Ok(UnitHead::Need(16)),
            1 => (
                u64::from_be_bytes(head[8..16].try_into().unwrap_or_default()),
                16,
            ),
            s => (s as u64, 8),
        };
        if size < header {
            let kind = preview(kind);
            return Err(Flaw::TinyBox { kind, size, header });
        }
        self.media |= MEDIA.iter().any(|b| kind == *b);
        Ok(UnitHead::Len(size))
    }

    fn lack(&self) -> Option<Lack> {
        (!self.media).then_some(Lack::NoMedia)
    }
}
