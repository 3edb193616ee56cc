//! `range: {start, end: auto}`: the last index found by probing. From the
//! start, indices `start + 1, 2, 4, 8, …` are probed until one is missing,
//! then a binary search between the last found and the first missing:
//! about 2·log2(N) small requests (a GET of one byte each) under the job's
//! limits. Assumes the indices from `start` to the end all exist.

use crate::fetch::{Ask, Fetcher};
use crate::manifest::{IndexSource, MAX_SEGMENTS};
use crate::source::Numbered;

use super::EndError;

/// The last index that exists, and the number of requests it took.
pub async fn find_end(n: &Numbered, fetcher: &Fetcher, ask: &Ask) -> Result<(u64, u32), EndError> {
    let start = n.indices.first();
    let mut requests = 0u32;
    let mut exists = async |index: u64| -> Result<bool, EndError> {
        requests += 1;
        let seg = n
            .segment(index)
            .map_err(|error| EndError::Target { index, error })?;
        Ok(fetcher.exists(ask, &seg.target).await?)
    };
    if !exists(start).await? {
        return Err(EndError::NoStart(start));
    }
    let (mut found, mut step) = (start, 1u64);
    let mut missing = loop {
        if step >= MAX_SEGMENTS {
            let last = start + step / 2;
            return Err(EndError::TooMany { start, last });
        }
        let index = start + step;
        if !exists(index).await? {
            break index;
        }
        found = index;
        step *= 2;
    };
    while missing - found > 1 {
        let mid = found + (missing - found) / 2;
        if exists(mid).await? {
            found = mid;
        } else {
            missing = mid;
        }
    }
    Ok((found, requests))
}

/// The range a probe found.
pub fn found_range(start: u64, end: u64) -> IndexSource {
    IndexSource::Range { start, end }
}
