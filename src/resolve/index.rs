//! A DASH `SegmentBase`'s segment list: the index range of the file
//! fetched (at most a `sidx` box's largest size) and read by
//! [`crate::media::sidx`] into byte ranges of that file, each a segment.

use std::sync::Arc;

use crate::media::sidx;
use crate::net::{Ask, Fetcher};
use crate::plan::source::playlist::{Added, Resolved};
use crate::plan::source::ByteRange;

use super::Cause;

/// Fills the segments of the track, and of its audio track, that are
/// read from a segment index; a track that has none is left as it is.
pub async fn fill(r: &mut Resolved, fetcher: &Fetcher, req: &Ask) -> Result<(), Cause> {
    fill_one(r, fetcher, req).await?;
    if let Some(audio) = r.audio.as_mut() {
        if audio.index.is_some() {
            fill_one(Arc::make_mut(audio), fetcher, req).await?;
        }
    }
    Ok(())
}

async fn fill_one(r: &mut Resolved, fetcher: &Fetcher, req: &Ask) -> Result<(), Cause> {
    let Some(index) = r.index.take() else {
        return Ok(());
    };
    let Some(range) = index.range else {
        return Ok(());
    };
    let shown = index.url.shown().to_string();
    let named = |error| Cause::Index {
        shown: shown.clone(),
        error,
    };
    if range.length > sidx::MAX_BOX {
        return Err(named(IndexError::TooLong(range.length)));
    }
    let got = fetcher
        .fetch_small(
            req,
            &index.url,
            Some(range),
            sidx::MAX_BOX,
            "the segment index",
        )
        .await?;
    let subsegments = sidx::parse(&got.body, range.offset).map_err(|e| named(e.into()))?;
    for s in subsegments {
        let added = Added {
            uri: "",
            duration: s.duration as f32,
            range: Some(ByteRange {
                offset: s.first,
                length: s.bytes(),
            }),
            discontinuity: false,
        };
        r.segments
            .push(added)
            .map_err(|_| named(IndexError::TooLong(range.length)))?;
    }
    r.segments.shrink();
    Ok(())
}

/// Why a segment index gives no segments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("an index range of {0} bytes, more than a sidx box takes")]
    TooLong(u64),
    #[error(transparent)]
    Sidx(#[from] sidx::SidxError),
}
