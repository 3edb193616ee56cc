//! One track's sample tables, built as the samples are written: a few
//! bytes per sample (its size), the rest run-length coded (`stts`, `ctts`,
//! `stsc`) or per chunk (`stco`) or per random access point (`stss`).

use mp4_atom::{CttsEntry, StscEntry, SttsEntry};

/// A track's samples so far.
#[derive(Debug, Default)]
pub(super) struct Track {
    /// Ticks per second of its timestamps.
    pub timescale: u32,
    pub sizes: Vec<u32>,
    pub stts: Vec<SttsEntry>,
    pub ctts: Vec<CttsEntry>,
    /// 1-based numbers of the random access samples (video).
    pub keys: Vec<u32>,
    pub chunks: Vec<u64>,
    pub stsc: Vec<StscEntry>,
    /// Samples of the chunk being written.
    open: u32,
    /// The first and last decoding time (track ticks).
    pub first_dts: i64,
    pub last_dts: i64,
    /// The earliest presentation time (track ticks).
    pub min_pts: i64,
    /// The earliest presentation time at 90 kHz: where the track starts.
    pub start_90k: i64,
}

/// Adds one to a run-length table whose runs are (count, value).
fn run<T, V: PartialEq>(
    table: &mut Vec<T>,
    v: V,
    get: impl Fn(&mut T) -> (&mut u32, &V),
    new: impl Fn(V) -> T,
) {
    if let Some(last) = table.last_mut() {
        let (count, value) = get(last);
        if *value == v {
            *count += 1;
            return;
        }
    }
    table.push(new(v));
}

impl Track {
    pub(super) fn new(timescale: u32) -> Track {
        Track {
            timescale,
            ..Track::default()
        }
    }

    /// Adds a sample of `size` bytes decoded at `dts` and shown at `pts`
    /// (track ticks; `dts` after the last one's), starting a chunk at
    /// `chunk` when it does not follow this track's last sample.
    pub(super) fn add(&mut self, size: u32, dts: i64, pts: i64, key: bool, chunk: Option<u64>) {
        if !self.sizes.is_empty() {
            // The caller keeps it within (0, 10 s]: it fits.
            self.delta((dts - self.last_dts) as u32);
        } else {
            self.first_dts = dts;
            self.min_pts = pts;
        }
        self.last_dts = dts;
        self.min_pts = self.min_pts.min(pts);
        self.sizes.push(size);
        run(
            &mut self.ctts,
            pts - dts,
            |e| (&mut e.sample_count, &e.sample_offset),
            |v| CttsEntry {
                sample_count: 1,
                sample_offset: v,
            },
        );
        if key {
            self.keys.push(self.sizes.len() as u32);
        }
        if let Some(at) = chunk {
            self.close_chunk();
            self.chunks.push(at);
        }
        self.open += 1;
    }

    fn delta(&mut self, d: u32) {
        run(
            &mut self.stts,
            d,
            |e| (&mut e.sample_count, &e.sample_delta),
            |v| SttsEntry {
                sample_count: 1,
                sample_delta: v,
            },
        );
    }

    /// Ends the chunk being written.
    pub(super) fn close_chunk(&mut self) {
        if self.open == 0 {
            return;
        }
        let n = std::mem::take(&mut self.open);
        if self.stsc.last().is_none_or(|e| e.samples_per_chunk != n) {
            self.stsc.push(StscEntry {
                first_chunk: self.chunks.len() as u32,
                samples_per_chunk: n,
                sample_description_index: 1,
            });
        }
    }

    /// Ends the track: its last sample lasts `last` ticks (or as long as
    /// the one before it). Its length in ticks.
    pub(super) fn end(&mut self, last: Option<u32>) -> u64 {
        self.close_chunk();
        if !self.sizes.is_empty() {
            let before = self.stts.last().map(|e| e.sample_delta);
            self.delta(last.or(before).unwrap_or(1).max(1));
        }
        self.stts
            .iter()
            .map(|e| u64::from(e.sample_count) * u64::from(e.sample_delta))
            .sum()
    }
}
