//! Where a template job's stream really ends, when one of its segments
//! answered 404: found by probing (the first bytes of a segment, checked
//! as `end: auto` checks them), so that the verdict is the same whatever
//! arrived first. Without it, the 404 that happened to end the job named
//! the segment, and the segments "before it" were whichever were in flight.

use crate::manifest::IndexSource;
use crate::net::{Ask, Fetcher};
use crate::plan::source::{Numbered, SegmentSource};
use crate::plan::JobPlan;

/// The job's failure when its stream ends inside its range: the indices
/// that are not there, where it ends and the key that fits; `None` when it
/// does not end there (a hole, a stream that starts later, a probe that
/// failed), and the first answer's advice stands.
pub(super) async fn ends_early(job: &JobPlan, fetcher: &Fetcher, ask: &Ask) -> Option<String> {
    let SegmentSource::Numbered(n) = &job.source else {
        return None;
    };
    let (first, end, key) = match n.indices {
        IndexSource::Range { start, end } => (start, end, "the range's `end`"),
        IndexSource::Count { start, count } => (start, start + count.checked_sub(1)?, "`count`"),
        IndexSource::Duration { .. } => return None,
    };
    let last = last_there(n, first, end, fetcher, ask).await?;
    let fix = match n.indices {
        IndexSource::Count { .. } => format!("`count: {}`", last - first + 1),
        _ => format!("`end: {last}`, or `end: auto` to find it at each run"),
    };
    let gone = match last + 1 == end {
        true => format!("index {end} is"),
        false => format!("indices {}–{end} are", last + 1),
    };
    Some(format!(
        "job `{}`: {gone} not there: the stream ends at {last} (found by probing), \
         before {key}; set {fix}",
        job.name
    ))
}

/// The last index from `first` that exists, when `first` does and `end`
/// does not (a binary search between them); `None` otherwise.
async fn last_there(
    n: &Numbered,
    first: u64,
    end: u64,
    fetcher: &Fetcher,
    ask: &Ask,
) -> Option<u64> {
    let there = async |index: u64| -> Option<bool> {
        let seg = n.segment(index).ok()?;
        let look = crate::net::Look::Start;
        fetcher.exists(ask, &seg.target, look).await.ok()
    };
    if end <= first || there(end).await? || !there(first).await? {
        return None;
    }
    let (mut found, mut missing) = (first, end);
    while missing - found > 1 {
        let mid = found + (missing - found) / 2;
        match there(mid).await? {
            true => found = mid,
            false => missing = mid,
        }
    }
    Some(found)
}
