//! The segment index (`sidx`, ISO/IEC 14496-12 §8.16.3) that a DASH
//! `SegmentBase@indexRange` points to: one file holds a representation's
//! media, and its `sidx` box lists the subsegments (moof + mdat runs) as
//! sizes and durations. [`parse`] turns the bytes of the index range into
//! subsegments with absolute byte ranges, ready to be fetched as ranges.
//!
//! Pure and bounded: the parser reads only the bytes it is given, keeps
//! nothing of them, and refuses (never panics on) anything that does not
//! hold together: a box cut short, a size that does not match its fields,
//! a version other than 0 or 1, a timescale of 0, a subsegment of 0 bytes,
//! offsets past 2^64. The count of references is a 16-bit field, so one
//! index lists at most [`MAX_REFERENCES`] subsegments; a box is at most
//! [`MAX_BOX`] bytes, the most the index of one range takes.
//!
//! A reference to another `sidx` (reference_type 1: a hierarchical or
//! daisy-chained index) is refused, not followed: the box it points to
//! lies outside the index range, and following it would mean fetching
//! more of the file than the MPD declared. Packagers of on-demand DASH
//! (ffmpeg's `-global_sidx`, MP4Box, Shaka Packager) write one flat index.

use super::preview;

/// The most references one `sidx` box can hold (reference_count is 16 bits).
pub const MAX_REFERENCES: usize = u16::MAX as usize;

/// The longest `sidx` box: a 64-bit size, a version 1 header and [`MAX_REFERENCES`]
/// references of 12 bytes.
pub const MAX_BOX: u64 = 16 + 32 + 12 * MAX_REFERENCES as u64;

/// How many box types before the `sidx` a message names.
const NAMED: usize = 4;

/// One subsegment the index lists: a byte range of the file and the time
/// it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Subsegment {
    /// Absolute offset of its first byte in the file.
    pub first: u64,
    /// Absolute offset of its last byte (inclusive, as in an HTTP range).
    pub last: u64,
    /// Seconds from time 0 of the media timeline to its earliest
    /// presentation time (the index's earliest_presentation_time plus the
    /// durations before it).
    pub start: f64,
    /// Seconds it lasts (its subsegment_duration over the timescale).
    pub duration: f64,
    /// It starts with a stream access point (starts_with_SAP).
    pub starts_with_sap: bool,
}

impl Subsegment {
    /// Its length in bytes.
    pub fn bytes(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// Why the bytes of an index range are not a segment index snatch can use.
/// Byte offsets are absolute (in the file, not in the range).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SidxError {
    /// The range holds whole boxes, none of them a `sidx`; `found` names
    /// the first of them ("no box" when the range is empty).
    #[error("the index range holds no sidx box (it holds {found})")]
    NoSidx { found: String },
    #[error("the index range ends inside {what} at byte {at}: {need} bytes needed, {have} there (cut short?)")]
    Cut {
        what: String,
        at: u64,
        need: u64,
        have: u64,
    },
    #[error("a {kind} box of size 0 (\"to the end of the file\") at byte {at}, which an index range may not hold")]
    OpenBox { kind: String, at: u64 },
    #[error("a {kind} box of {size} bytes at byte {at}, smaller than its {header}-byte header")]
    TinyBox {
        kind: String,
        at: u64,
        size: u64,
        header: u64,
    },
    #[error("a sidx box of version {0}; only versions 0 and 1 exist")]
    Version(u8),
    #[error("a sidx box of {size} bytes at byte {at}, where its fields take {need}")]
    Size { at: u64, size: u64, need: u64 },
    #[error("a sidx box with a timescale of 0")]
    ZeroTimescale,
    #[error("a sidx box that lists no subsegment")]
    NoReference,
    #[error("reference {index} of the sidx box points to another sidx box (a hierarchical or chained index), which snatch does not follow")]
    Nested { index: usize },
    #[error("reference {index} of the sidx box is a subsegment of 0 bytes")]
    EmptyReference { index: usize },
    #[error("reference {index} of the sidx box ends past the largest byte offset (2^64 - 1)")]
    Overflow { index: usize },
    /// The range itself: `offset` plus its length overflows.
    #[error("an index range at byte {offset} that ends past the largest byte offset (2^64 - 1)")]
    RangeOverflow { offset: u64 },
}

/// The subsegments listed by the first `sidx` box in `bytes`, the bytes of
/// an index range whose first byte is at `offset` in the file. Whole boxes
/// before the `sidx` (a `styp`, a `free`) are passed over; bytes after it
/// are not read. The first subsegment starts `first_offset` bytes after the
/// end of the `sidx` box, each next one where the previous ends.
pub fn parse(bytes: &[u8], offset: u64) -> Result<Vec<Subsegment>, SidxError> {
    let (pos, header, size) = find(bytes, offset)?;
    let at = absolute(offset, pos)?;
    let body = &bytes[pos + header..pos + size];
    let end = absolute(offset, pos + size)?;
    let index = Index::read(body, at, size as u64)?;
    index.subsegments(end)
}

/// `offset + pos`: where byte `pos` of the range is in the file.
fn absolute(offset: u64, pos: usize) -> Result<u64, SidxError> {
    offset
        .checked_add(pos as u64)
        .ok_or(SidxError::RangeOverflow { offset })
}

/// Where the first `sidx` box starts in `bytes`, its header length and its
/// size (all within `bytes`).
fn find(bytes: &[u8], offset: u64) -> Result<(usize, usize, usize), SidxError> {
    let mut pos = 0;
    let mut seen: Vec<String> = Vec::new();
    while pos < bytes.len() {
        let (kind, header, size) = head(&bytes[pos..], absolute(offset, pos)?)?;
        if kind == *b"sidx" {
            return Ok((pos, header, size));
        }
        if seen.len() < NAMED {
            seen.push(preview(&kind));
        }
        pos += size;
    }
    let found = match seen.len() {
        0 => "no box".to_string(),
        n if n < NAMED => format!("the boxes {}", seen.join(", ")),
        _ => format!("the boxes {}, …", seen.join(", ")),
    };
    Err(SidxError::NoSidx { found })
}

/// The type, header length and size of the box at the start of `rest`
/// (at absolute byte `at`), all of which `rest` holds.
fn head(rest: &[u8], at: u64) -> Result<([u8; 4], usize, usize), SidxError> {
    let have = rest.len() as u64;
    let cut = |need: u64, what: String| SidxError::Cut {
        what,
        at,
        need,
        have,
    };
    if rest.len() < 8 {
        return Err(cut(8, "a box header".into()));
    }
    let kind = [rest[4], rest[5], rest[6], rest[7]];
    let (size, header) = match be32(&rest[0..4]) {
        0 => {
            let kind = preview(&kind);
            return Err(SidxError::OpenBox { kind, at });
        }
        1 if rest.len() < 16 => return Err(cut(16, "a box header".into())),
        1 => (be64(&rest[8..16]), 16u64),
        s => (u64::from(s), 8),
    };
    if size < header {
        let kind = preview(&kind);
        return Err(SidxError::TinyBox {
            kind,
            at,
            size,
            header,
        });
    }
    if size > have {
        return Err(cut(size, format!("a {} box", preview(&kind))));
    }
    // size ≤ rest.len(), so it fits a usize.
    Ok((kind, header as usize, size as usize))
}

/// The fields of a `sidx` box.
#[derive(Debug)]
struct Index<'a> {
    timescale: u32,
    earliest: u64,
    first_offset: u64,
    /// reference_count entries of 12 bytes.
    references: &'a [u8],
}

impl<'a> Index<'a> {
    /// Reads the body (after the box header) of the `sidx` box of `size`
    /// bytes at absolute byte `at`.
    fn read(body: &'a [u8], at: u64, size: u64) -> Result<Index<'a>, SidxError> {
        let header = size - body.len() as u64;
        let version = *body.first().ok_or(SidxError::Size {
            at,
            size,
            need: header + 4,
        })?;
        let fixed = match version {
            0 => 24,
            1 => 32,
            v => return Err(SidxError::Version(v)),
        };
        if body.len() < fixed {
            let need = header + fixed as u64;
            return Err(SidxError::Size { at, size, need });
        }
        let count = usize::from(u16::from_be_bytes([body[fixed - 2], body[fixed - 1]]));
        let need = fixed + 12 * count;
        if body.len() != need {
            let need = header + need as u64;
            return Err(SidxError::Size { at, size, need });
        }
        let (earliest, first_offset) = match version {
            0 => (
                u64::from(be32(&body[12..16])),
                u64::from(be32(&body[16..20])),
            ),
            _ => (be64(&body[12..20]), be64(&body[20..28])),
        };
        Ok(Index {
            timescale: be32(&body[8..12]),
            earliest,
            first_offset,
            references: &body[fixed..],
        })
    }

    /// The subsegments, the first `first_offset` bytes after `anchor` (the
    /// first byte after the `sidx` box).
    fn subsegments(&self, anchor: u64) -> Result<Vec<Subsegment>, SidxError> {
        if self.timescale == 0 {
            return Err(SidxError::ZeroTimescale);
        }
        if self.references.is_empty() {
            return Err(SidxError::NoReference);
        }
        let scale = f64::from(self.timescale);
        let mut next = u128::from(anchor) + u128::from(self.first_offset);
        let mut time = u128::from(self.earliest);
        let mut out = Vec::with_capacity(self.references.len() / 12);
        for (index, r) in self.references.chunks_exact(12).enumerate() {
            let word = be32(&r[0..4]);
            if word >> 31 == 1 {
                return Err(SidxError::Nested { index });
            }
            let len = u128::from(word & 0x7FFF_FFFF);
            if len == 0 {
                return Err(SidxError::EmptyReference { index });
            }
            let overflow = SidxError::Overflow { index };
            let first = u64::try_from(next).map_err(|_| overflow.clone())?;
            let last = u64::try_from(next + len - 1).map_err(|_| overflow)?;
            let ticks = be32(&r[4..8]);
            out.push(Subsegment {
                first,
                last,
                start: time as f64 / scale,
                duration: f64::from(ticks) / scale,
                starts_with_sap: be32(&r[8..12]) >> 31 == 1,
            });
            next += len;
            time += u128::from(ticks);
        }
        Ok(out)
    }
}

/// A big-endian u32 from 4 bytes.
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// A big-endian u64 from 8 bytes.
fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

#[cfg(test)]
mod tests;
