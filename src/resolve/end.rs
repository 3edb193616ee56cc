//! `range: {start, end: auto}`: the last index found by probing. From the
//! start, indices `start + 1, 2, 4, 8, …` are probed until one is missing
//! (the last step capped at `start + MAX_SEGMENTS`, one past the last index
//! a job may have), then a binary search between the last found and the
//! first missing: about 2·log2(N) small requests under the job's limits.
//! Each asks for the segment's first bytes and runs the start of the
//! segment check on them ([`Look::Start`]): a body that fails it (a login
//! page served for a missing segment, whatever its `Content-Type`) is not
//! there. Assumes the indices from `start` to the end all exist.

use crate::manifest::{IndexSource, MAX_SEGMENTS};
use crate::net::{Ask, Fetcher, Look};
use crate::plan::source::Numbered;

use super::EndError;

/// The last index that exists, and the number of requests it took.
pub async fn find_end(n: &Numbered, fetcher: &Fetcher, ask: &Ask) -> Result<(u64, u32), EndError> {
    let mut search = Search::new(n.indices.first());
    let mut requests = 0u32;
    while let Some(index) = search.next() {
        requests += 1;
        let seg = n
            .segment(index)
            .map_err(|error| EndError::Target { index, error })?;
        let there = fetcher.exists(ask, &seg.target, Look::Start).await?;
        search.answer(index, there)?;
    }
    Ok((search.found.unwrap_or(search.start), requests))
}

/// Where the search stands: the last index found and the first found
/// missing, once known. No index past `start + MAX_SEGMENTS` is ever asked
/// about: a job has at most [`MAX_SEGMENTS`] segments.
#[derive(Debug)]
struct Search {
    start: u64,
    found: Option<u64>,
    missing: Option<u64>,
    step: u64,
}

impl Search {
    fn new(start: u64) -> Search {
        Search {
            start,
            found: None,
            missing: None,
            step: 1,
        }
    }

    /// The index to probe next; `None` once the end is found.
    fn next(&self) -> Option<u64> {
        match (self.found, self.missing) {
            (None, _) => Some(self.start),
            (Some(u64::MAX), None) => None,
            (Some(_), None) => Some(self.start.saturating_add(self.step.min(MAX_SEGMENTS))),
            (Some(found), Some(missing)) => {
                (missing - found > 1).then(|| found + (missing - found) / 2)
            }
        }
    }

    /// Takes whether `index` (the one [`Search::next`] gave) is there.
    fn answer(&mut self, index: u64, there: bool) -> Result<(), EndError> {
        let start = self.start;
        match (self.found, there) {
            (None, false) => return Err(EndError::NoStart(start)),
            (_, false) => self.missing = Some(index),
            (Some(_), true) if self.missing.is_none() && index - start >= MAX_SEGMENTS => {
                return Err(EndError::TooMany { start, last: index })
            }
            (_, true) => {
                self.found = Some(index);
                if self.missing.is_none() && index != start {
                    self.step = self.step.saturating_mul(2);
                }
            }
        }
        Ok(())
    }
}

/// The range a probe found.
pub fn found_range(start: u64, end: u64) -> IndexSource {
    IndexSource::Range { start, end }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end found when indices `start..=last` exist, the probes made,
    /// and the highest index probed.
    fn found(start: u64, last: u64) -> (Result<u64, EndError>, u32, u64) {
        let mut search = Search::new(start);
        let (mut probes, mut highest) = (0u32, 0u64);
        while let Some(i) = search.next() {
            probes += 1;
            highest = highest.max(i);
            if let Err(e) = search.answer(i, i >= start && i <= last) {
                return (Err(e), probes, highest);
            }
        }
        (Ok(search.found.unwrap_or(start)), probes, highest)
    }

    #[test]
    fn every_end_up_to_the_most_segments_a_job_may_have_is_found() {
        let half = 1 << 19; // the last step before the cap: 524,288
        for start in [0u64, 1, 7, 1_000_000] {
            let most = start + MAX_SEGMENTS - 1;
            for last in [
                start,
                start + 1,
                start + 2,
                start + 3,
                start + half,
                start + half + 1,
                most - 1,
                most,
            ] {
                let (end, probes, highest) = found(start, last);
                assert_eq!(end.ok(), Some(last), "{start}..={last}");
                let n = (last - start + 1) as f64;
                assert!(
                    probes as f64 <= 2.0 * n.log2() + 4.0,
                    "{probes} probes for {n}"
                );
                assert!(highest <= start + MAX_SEGMENTS, "probed {highest}");
            }
        }
    }

    #[test]
    fn more_than_the_most_segments_is_refused_without_probing_further() {
        for last in [MAX_SEGMENTS + 1, MAX_SEGMENTS + 5, u64::MAX] {
            let (end, _, highest) = found(1, last);
            match end {
                Err(EndError::TooMany { start: 1, last }) => assert_eq!(last, 1 + MAX_SEGMENTS),
                other => panic!("{other:?}"),
            }
            assert_eq!(highest, 1 + MAX_SEGMENTS);
        }
        assert!(matches!(found(5, 4).0, Err(EndError::NoStart(5))));
        // Near the top of the index space the search still ends.
        assert_eq!(found(u64::MAX - 3, u64::MAX).0.ok(), Some(u64::MAX));
        assert_eq!(found(u64::MAX - 3, u64::MAX - 1).0.ok(), Some(u64::MAX - 1));
    }
}
