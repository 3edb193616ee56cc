//! The segment lines of `ledger.jsonl`, and the checks a line must pass to
//! count. A line of format 4 carries a checksum of its own fields
//! (`line`), so that a flipped digit in its index, offset or size is found
//! rather than merging the wrong bytes; format 3 lines (an older snatch)
//! have none and are read with the checks that remain. Every ledger is
//! hostile input: a line counts only when its size is not 0, its range
//! lies inside the spool and overlaps no other kept range, and its bytes
//! match its CRC-32. A line that fails costs only its segment.
//!
//! A line may also carry the *path* its segment was fetched from (scheme,
//! host and path of the URL, secrets as `***`, no query), covered by its
//! checksum: a rerun reuses the segment only where the job still renders
//! that path for its index. Lines without one (older snatches, playlist
//! jobs) say nothing about it.

use std::collections::HashSet;
use std::io;

use serde::{Deserialize, Serialize};

use super::super::spool::{Saved, Spool};
use crate::media::clock::Timing;

/// How much a ledger's lines can vouch for themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seal {
    /// Format 4: a line without its own checksum, or with a wrong one, is
    /// damaged.
    Required,
    /// Format 3: lines have no checksum of their own.
    Absent,
}

/// One saved segment: its bytes are `size` bytes at `offset` in the spool.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct Entry {
    pub index: u64,
    pub offset: u64,
    pub size: u64,
    pub crc32: u32,
    /// The path identity of the URL the segment was fetched from; `None`
    /// when not recorded (unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What the segment's own timestamps tell of its length; `None` when
    /// not recorded (unknown: an older snatch, a format without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// The CRC-32 of the fields above, as `index|offset|size|crc32`, then
    /// `|path` and `|t:` and the timing (see [`Timing::text`]) when there
    /// are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl Entry {
    /// A line for a segment saved at `saved`, with its own checksum.
    pub fn new(index: u64, saved: Saved, crc32: u32, path: Option<String>) -> Entry {
        Entry {
            index,
            offset: saved.offset,
            size: saved.size,
            crc32,
            path,
            timing: None,
            line: None,
        }
        .sealed()
    }

    /// The same line with the segment's timing, sealed anew.
    pub fn timed(self, timing: Option<Timing>) -> Entry {
        Entry { timing, ..self }.sealed()
    }

    /// The same line with its own checksum (an old line's is added).
    pub fn sealed(&self) -> Entry {
        Entry {
            line: Some(self.own_crc()),
            ..self.clone()
        }
    }

    fn own_crc(&self) -> u32 {
        let mut fields = format!(
            "{}|{}|{}|{}",
            self.index, self.offset, self.size, self.crc32
        );
        if let Some(path) = &self.path {
            fields.push('|');
            fields.push_str(path);
        }
        if let Some(timing) = &self.timing {
            fields.push_str("|t:");
            fields.push_str(&timing.text());
        }
        crc32fast::hash(fields.as_bytes())
    }

    pub fn saved(&self) -> Saved {
        Saved {
            offset: self.offset,
            size: self.size,
        }
    }

    /// Whether the line itself is intact, as far as `seal` can tell.
    fn intact(&self, seal: Seal) -> bool {
        let sealed = match (self.line, seal) {
            (Some(c), _) => c == self.own_crc(),
            (None, Seal::Required) => false,
            (None, Seal::Absent) => true,
        };
        sealed && self.size > 0
    }

    /// The line as written, a newline after it.
    pub fn text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default() + "\n"
    }
}

/// The whole lines after the header (a line a kill cut short is not one).
pub(super) fn whole_lines(text: &str) -> impl Iterator<Item = &str> {
    let whole = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    whole.lines().skip(1)
}

/// The entries of the whole lines that are intact (see [`Entry::intact`]).
pub(super) fn entries(text: &str, seal: Seal) -> Vec<Entry> {
    whole_lines(text)
        .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
        .filter(|e| e.intact(seal))
        .collect()
}

/// Of `listed` (in the order written), the last entry of each index whose
/// range lies inside `len` bytes and that `whole` accepts, without those
/// that overlap another such entry; by offset.
fn kept(
    listed: &[Entry],
    len: u64,
    mut whole: impl FnMut(&Entry) -> io::Result<bool>,
) -> io::Result<Vec<Entry>> {
    let mut seen = HashSet::new();
    let mut last = Vec::new();
    for e in listed.iter().rev() {
        let inside = e.saved().end() <= len && e.offset < len;
        if !seen.contains(&e.index) && inside && whole(e)? {
            seen.insert(e.index);
            last.push(e.clone());
        }
    }
    last.sort_by_key(|e| (e.offset, e.index));
    let overlapping = overlaps(&last);
    Ok(last
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !overlapping.contains(i))
        .map(|(_, e)| e)
        .collect())
}

/// [`kept`] without reading the spool: the entries a spool of `len` bytes
/// can hold.
pub(super) fn placed(listed: &[Entry], len: u64) -> Vec<Entry> {
    kept(listed, len, |_| Ok(true)).unwrap_or_default()
}

/// The positions in `sorted` (by offset) of entries whose range overlaps
/// another's: both are damaged, and neither can be told the good one.
fn overlaps(sorted: &[Entry]) -> HashSet<usize> {
    let mut bad = HashSet::new();
    let mut reach: Option<(u64, usize)> = None;
    for (i, e) in sorted.iter().enumerate() {
        match reach {
            Some((end, holder)) if e.offset < end => {
                bad.insert(i);
                bad.insert(holder);
                if e.saved().end() > end {
                    reach = Some((e.saved().end(), i));
                }
            }
            _ => reach = Some((e.saved().end(), i)),
        }
    }
    bad
}

/// The entries [`kept`] whose bytes in the spool still match their
/// checksum, by offset.
pub(super) fn still_whole(spool: &Spool, listed: &[Entry]) -> io::Result<Vec<Entry>> {
    let mut buf = Vec::new();
    kept(listed, spool.end(), |e| {
        Ok(spool.crc(e.saved(), &mut buf)? == e.crc32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, offset: u64, size: u64) -> Entry {
        Entry::new(index, Saved { offset, size }, 7, None)
    }

    fn indices(kept: &[Entry]) -> Vec<u64> {
        kept.iter().map(|e| e.index).collect()
    }

    #[test]
    fn a_line_whose_fields_changed_is_damaged() {
        let e = entry(3, 10, 5);
        let text = format!("{{}}\n{}", e.text());
        assert_eq!(entries(&text, Seal::Required), [e]);
        let flipped = text.replace("\"index\":3", "\"index\":5");
        assert!(entries(&flipped, Seal::Required).is_empty());
        let unsealed = "{}\n{\"index\":3,\"offset\":10,\"size\":5,\"crc32\":7}\n";
        assert!(entries(unsealed, Seal::Required).is_empty());
        assert_eq!(entries(unsealed, Seal::Absent).len(), 1);
    }

    #[test]
    fn the_path_is_covered_by_the_line_checksum() {
        let saved = Saved { offset: 0, size: 5 };
        let e = Entry::new(3, saved, 7, Some("http://h/a/000003.ts".into()));
        let text = format!("{{}}\n{}", e.text());
        assert_eq!(entries(&text, Seal::Required), std::slice::from_ref(&e));
        let moved = text.replace("/a/", "/b/");
        assert!(entries(&moved, Seal::Required).is_empty());
        let json = e.text();
        let start = json.find(",\"path\"").unwrap();
        let end = json.find(",\"line\"").unwrap();
        let dropped = format!("{{}}\n{}{}", &json[..start], &json[end..]);
        assert!(entries(&dropped, Seal::Required).is_empty());
    }

    #[test]
    fn the_timing_is_covered_by_the_line_checksum_and_may_be_absent() {
        use crate::media::clock::Span;
        let timing = Timing {
            video: Some(Span(90_000, 81_000, 9_000)),
            ..Timing::default()
        };
        let e = entry(3, 0, 5).timed(Some(timing));
        let text = format!("{{}}\n{}", e.text());
        assert_eq!(entries(&text, Seal::Required), std::slice::from_ref(&e));
        let shorter = text.replace("[90000,81000,", "[90000,41000,");
        assert!(entries(&shorter, Seal::Required).is_empty());
        // A line without one (an older snatch's) reads as unknown.
        let old = entry(3, 0, 5);
        let text = format!("{{}}\n{}", old.text());
        assert_eq!(entries(&text, Seal::Required)[0].timing, None);
    }

    #[test]
    fn fmp4_runs_and_aac_samples_are_covered_by_the_line_checksum() {
        use crate::media::clock::{Aac, Run};
        let timing = Timing {
            tracks: vec![Run(1, Some(0), 20_480, 0), Run(2, None, 44_032, 3)],
            ..Timing::default()
        };
        let e = entry(3, 0, 5).timed(Some(timing));
        let text = format!("{{}}\n{}", e.text());
        assert!(
            text.contains("\"tracks\":[[1,0,20480,0],[2,null,44032,3]]"),
            "{text}"
        );
        assert_eq!(entries(&text, Seal::Required), std::slice::from_ref(&e));
        let shorter = text.replace("[1,0,20480,", "[1,0,10240,");
        assert!(entries(&shorter, Seal::Required).is_empty());
        let untold = text.replace("44032,3]", "44032,0]");
        assert!(entries(&untold, Seal::Required).is_empty());
        let aac = Timing {
            aac: Some(Aac(44_032, 22_050)),
            ..Timing::default()
        };
        let text = format!("{{}}\n{}", entry(3, 0, 5).timed(Some(aac)).text());
        assert_eq!(entries(&text, Seal::Required).len(), 1, "{text}");
        let fewer = text.replace("[44032,", "[43008,");
        assert!(entries(&fewer, Seal::Required).is_empty(), "{fewer}");
    }

    #[test]
    fn size_zero_is_refused_even_when_sealed() {
        let text = format!("{{}}\n{}", entry(3, 0, 0).text());
        assert!(entries(&text, Seal::Required).is_empty());
        let old = "{}\n{\"index\":3,\"offset\":0,\"size\":0,\"crc32\":0}\n";
        assert!(entries(old, Seal::Absent).is_empty());
    }

    #[test]
    fn overlapping_ranges_are_both_dropped_and_others_kept() {
        let listed = [
            entry(1, 0, 10),
            entry(2, 10, 10),
            entry(3, 15, 10),
            entry(4, 30, 5),
            entry(5, 40, 20),
            entry(6, 45, 2),
            entry(7, 50, 2),
        ];
        assert_eq!(indices(&placed(&listed, 100)), [1, 4]);
    }

    #[test]
    fn ranges_past_the_end_are_dropped_without_overflow() {
        let listed = [
            entry(1, 0, 10),
            entry(2, 10, 1),
            entry(3, u64::MAX - 1, 5),
            entry(4, 5, u64::MAX),
        ];
        // 4 lies past the end, so it overlaps nothing that is kept.
        assert_eq!(indices(&placed(&listed, 10)), [1]);
    }

    #[test]
    fn the_last_line_of_an_index_wins() {
        let listed = [entry(1, 0, 3), entry(1, 3, 4)];
        assert_eq!(placed(&listed, 7), [entry(1, 3, 4)]);
    }
}
