//! A fragmented-MP4 segment's own sample durations, read as its bytes
//! stream past (no second pass, a few dozen bytes held): in each
//! `moof/traf`, the track (`tfhd` track_ID), where its samples start
//! (`tfdt` baseMediaDecodeTime) and how long they last (each `trun`
//! sample's duration, else the `tfhd` default_sample_duration). Samples
//! that take their duration from neither are counted: theirs is the init
//! segment's `trex` default, known only where the init segment is (see
//! [`super::moov`]). Sums are made as the sample tables pass, however
//! long they are.
//!
//! Boxes inside `moof` are not judged by the byte check: any that does not
//! hold together (a box past its parent's end, a `trun` longer than its
//! box, a `tfdt` outside a `traf` with a `tfhd`) leaves the segment's
//! timing unknown, never refused.

use serde::{Deserialize, Serialize};

/// The most tracks a segment's timing keeps; with more, it is unknown.
const TRACKS: usize = 8;
/// The largest `tfhd` or `tfdt` body read (a `tfhd` with every optional
/// field is 32 bytes).
const SMALL: u64 = 64;

/// One track's samples in one segment, in the track's own ticks: its
/// track_ID, its first `tfdt` (None: the segment gives none), the sum of
/// the durations the segment gives, and how many samples it gives none
/// for (each lasts the init segment's `trex` default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run(pub u32, pub Option<u64>, pub u64, pub u64);

impl Run {
    pub fn track(&self) -> u32 {
        self.0
    }
    pub fn first(&self) -> Option<u64> {
        self.1
    }
    /// The ticks the segment gives, and the samples it gives none for.
    pub fn ticks(&self) -> (u64, u64) {
        (self.2, self.3)
    }
}

/// What the bytes being gathered are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// A box header (8 bytes, 16 with a 64-bit size).
    Head,
    Tfhd,
    Tfdt,
    /// A `trun`'s version, flags and sample_count.
    Trun,
    /// Its data_offset and first_sample_flags, passed over.
    TrunExtra {
        flags: u32,
        count: u32,
    },
    /// One sample record of `size` bytes, `left` of them to come with it.
    Sample {
        left: u32,
        size: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Gather this many bytes into `buf`, then read them as said.
    Gather(usize, Then),
    /// Pass over the bytes up to this offset.
    Skip(u64),
}

/// Reads the `moof` boxes of a body as it streams.
#[derive(Debug)]
pub(in crate::media) struct Fragments {
    /// The offset of the next byte.
    at: u64,
    want: Want,
    buf: Vec<u8>,
    /// The ends of the `moof` and `traf` being read, outermost first.
    open: Vec<u64>,
    /// The end of the `tfhd`, `tfdt` or `trun` being read.
    end: u64,
    /// The current `traf`'s run (an index into `runs`) and its `tfhd`
    /// default_sample_duration.
    traf: Option<(usize, Option<u32>)>,
    runs: Vec<Run>,
    /// Something did not hold together: the timing is unknown.
    spoiled: bool,
}

impl Default for Fragments {
    fn default() -> Self {
        Fragments {
            at: 0,
            want: Want::Gather(8, Then::Head),
            buf: Vec::new(),
            open: Vec::new(),
            end: 0,
            traf: None,
            runs: Vec::new(),
            spoiled: false,
        }
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl Fragments {
    /// Takes the next chunk of a body whose boxes start at byte 0.
    pub(in crate::media) fn feed(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() && !self.spoiled {
            let n = match self.want {
                Want::Skip(until) => {
                    let n = until.saturating_sub(self.at).min(chunk.len() as u64) as usize;
                    if self.at + n as u64 == until {
                        self.want = Want::Gather(8, Then::Head);
                    }
                    n
                }
                Want::Gather(need, _) => {
                    let n = (need - self.buf.len()).min(chunk.len());
                    self.buf.extend_from_slice(&chunk[..n]);
                    n
                }
            };
            chunk = &chunk[n..];
            self.at += n as u64;
            match self.want {
                Want::Gather(need, then) if self.buf.len() == need => self.gathered(then),
                Want::Gather(8, Then::Head) if self.buf.is_empty() => self.close(),
                _ => {}
            }
        }
    }

    /// Each track's run, once the whole body told them; None when it told
    /// none or did not hold together.
    pub(in crate::media) fn runs(&self) -> Option<Vec<Run>> {
        let whole = self.want == Want::Gather(8, Then::Head) && self.buf.is_empty();
        let told = !self.spoiled && whole && self.open.is_empty() && !self.runs.is_empty();
        told.then(|| self.runs.clone())
    }

    fn gather(&mut self, n: usize, then: Then) {
        self.buf.clear();
        self.want = Want::Gather(n, then);
    }

    /// Passes over the rest of the box that ends at `end`.
    fn skip_to(&mut self, end: u64) {
        self.buf.clear();
        if end > self.at {
            self.want = Want::Skip(end);
        } else {
            self.want = Want::Gather(8, Then::Head);
            self.close();
        }
    }

    /// At a box boundary: leaves the `moof` and `traf` that end here.
    fn close(&mut self) {
        while self.open.last() == Some(&self.at) {
            if self.open.len() == 2 {
                self.traf = None;
            }
            self.open.pop();
        }
        if self
            .open
            .last()
            .is_some_and(|&end| end.saturating_sub(self.at) < 8)
        {
            self.spoiled = true;
        }
    }

    fn gathered(&mut self, then: Then) {
        let done = match then {
            Then::Head => self.header(),
            Then::Tfhd => self.tfhd(),
            Then::Tfdt => self.tfdt(),
            Then::Trun => self.trun(),
            Then::TrunExtra { flags, count } => self.samples(flags, count),
            Then::Sample { left, size } => self.sample(left, size),
        };
        self.spoiled |= done.is_none();
    }

    fn header(&mut self) -> Option<()> {
        let kind: [u8; 4] = self.buf.get(4..8)?.try_into().ok()?;
        let (size, len) = match be32(&self.buf, 0)? {
            1 if self.buf.len() < 16 => {
                self.want = Want::Gather(16, Then::Head);
                return Some(());
            }
            1 => (be64(&self.buf, 8)?, 16),
            s => (u64::from(s), 8),
        };
        let body = size.checked_sub(len).filter(|_| size != 0)?;
        let end = (self.at - len).checked_add(size)?;
        if self.open.last().is_some_and(|&parent| end > parent) {
            return None;
        }
        self.end = end;
        match (self.open.len(), &kind) {
            (0, b"moof") | (1, b"traf") => {
                self.open.push(end);
                self.skip_to(self.at);
            }
            (2, b"tfhd") if (8..=SMALL).contains(&body) => self.gather(body as usize, Then::Tfhd),
            (2, b"tfdt") if (8..=SMALL).contains(&body) => self.gather(body as usize, Then::Tfdt),
            (2, b"trun") if body >= 8 && self.traf.is_some() => self.gather(8, Then::Trun),
            (2, b"tfhd" | b"tfdt" | b"trun") => return None,
            _ => self.skip_to(end),
        }
        Some(())
    }

    /// Starts the traf's run: its track and default duration.
    fn tfhd(&mut self) -> Option<()> {
        let b = &self.buf;
        let flags = be32(b, 0)? & 0xFF_FFFF;
        let track = be32(b, 4)?;
        let mut at = 8;
        at += if flags & 0x01 != 0 { 8 } else { 0 };
        at += if flags & 0x02 != 0 { 4 } else { 0 };
        let default = match flags & 0x08 != 0 {
            true => Some(be32(b, at)?),
            false => None,
        };
        let run = match self.runs.iter().position(|r| r.0 == track) {
            Some(i) => i,
            None if self.runs.len() < TRACKS => {
                self.runs.push(Run(track, None, 0, 0));
                self.runs.len() - 1
            }
            None => return None,
        };
        self.traf = Some((run, default));
        self.skip_to(self.end);
        Some(())
    }

    /// Where the traf's samples start: kept for the track's first traf.
    fn tfdt(&mut self) -> Option<()> {
        let (run, _) = self.traf?;
        let time = match self.buf[0] {
            1 => be64(&self.buf, 4)?,
            _ => u64::from(be32(&self.buf, 4)?),
        };
        self.runs[run].1.get_or_insert(time);
        self.skip_to(self.end);
        Some(())
    }

    fn trun(&mut self) -> Option<()> {
        let flags = be32(&self.buf, 0)? & 0xFF_FFFF;
        let count = be32(&self.buf, 4)?;
        let extra = 4 * (u32::from(flags & 0x01 != 0) + u32::from(flags & 0x04 != 0));
        let record = 4 * (flags & 0xF00).count_ones();
        let table = u64::from(extra) + u64::from(count) * u64::from(record);
        if table > self.end.saturating_sub(self.at) {
            return None;
        }
        match extra {
            0 => self.samples(flags, count),
            n => {
                self.gather(n as usize, Then::TrunExtra { flags, count });
                Some(())
            }
        }
    }

    /// At a trun's sample table: sums its durations, or counts samples at
    /// the traf's default (or the init's).
    fn samples(&mut self, flags: u32, count: u32) -> Option<()> {
        let (run, default) = self.traf?;
        let record = 4 * (flags & 0xF00).count_ones() as usize;
        if flags & 0x100 != 0 && count > 0 {
            self.gather(
                record,
                Then::Sample {
                    left: count,
                    size: record,
                },
            );
            return Some(());
        }
        let r = &mut self.runs[run];
        match default {
            Some(d) => r.2 = r.2.saturating_add(u64::from(count) * u64::from(d)),
            None => r.3 = r.3.saturating_add(u64::from(count)),
        }
        self.skip_to(self.end);
        Some(())
    }

    fn sample(&mut self, left: u32, size: usize) -> Option<()> {
        let (run, _) = self.traf?;
        let r = &mut self.runs[run];
        r.2 = r.2.saturating_add(u64::from(be32(&self.buf, 0)?));
        match left - 1 {
            0 => self.skip_to(self.end),
            left => self.gather(size, Then::Sample { left, size }),
        }
        Some(())
    }
}

#[cfg(test)]
mod tests;
