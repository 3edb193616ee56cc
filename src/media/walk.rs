//! A streamed walk over length-prefixed units (MP4 boxes, audio frames,
//! ID3 tags): each unit's header is gathered where the previous unit
//! ends, judged, and the walk skips to the end of the unit it announces.
//! The units must chain exactly to the end of the body.

use super::{malformed, CheckError, Flaw, Format, Lack};

/// Reads a unit's header from the bytes gathered so far.
pub(super) trait Units: Default {
    const FORMAT: Format;
    /// How a cut unit is named: "MP4 box", "audio frame".
    const UNIT: &'static str;
    /// Asks for more header bytes, or gives the unit's whole length.
    fn head(&mut self, head: &[u8]) -> Result<UnitHead, Flaw>;
    /// What a body whose units all chained lacks, if anything.
    fn lack(&self) -> Option<Lack>;
}

pub(super) enum UnitHead {
    /// Gather this many header bytes first.
    Need(usize),
    /// The unit's length in bytes, header included.
    Len(u64),
}

/// Where the walk stands: the header of the unit that starts at `next -
/// head.len()` is being gathered.
#[derive(Debug, Default)]
pub(super) struct Walk<U> {
    next: u64,
    head: Vec<u8>,
    units: U,
}

impl<U: Units> Walk<U> {
    /// Takes the bytes of the body from offset `start`.
    pub(super) fn feed(&mut self, start: u64, chunk: &[u8]) -> Result<(), CheckError> {
        let end = start + chunk.len() as u64;
        loop {
            let unit_start = self.next - self.head.len() as u64;
            let fail = |head: &[u8], flaw| {
                let from = self.next.saturating_sub(start) as usize;
                let rest = chunk.get(from..).unwrap_or_default();
                malformed(U::FORMAT, unit_start, flaw, (head, rest))
            };
            match self.units.head(&self.head) {
                Err(flaw) => return Err(fail(&self.head, flaw)),
                Ok(UnitHead::Need(n)) => {
                    if self.next >= end {
                        return Ok(());
                    }
                    let at = (self.next - start) as usize;
                    let take = (n - self.head.len()).min(chunk.len() - at);
                    self.head.extend_from_slice(&chunk[at..at + take]);
                    self.next += take as u64;
                }
                Ok(UnitHead::Len(len)) => {
                    let Some(next) = unit_start.checked_add(len) else {
                        return Err(fail(&self.head, Flaw::TooLong(len)));
                    };
                    self.head.clear();
                    self.next = next;
                }
            }
        }
    }

    /// What the units read so far tell.
    pub(super) fn units(&self) -> &U {
        &self.units
    }

    /// The body has ended after `len` bytes: at a unit's end.
    pub(super) fn finish(&self, len: u64) -> Result<Option<Lack>, CheckError> {
        if self.head.is_empty() && self.next == len {
            return Ok(self.units.lack());
        }
        Err(CheckError::CutInside { what: U::UNIT, len })
    }
}
