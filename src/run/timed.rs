//! How long a job's merged video and audio must be by their segments' own
//! timestamps: each merged segment's timing from the ledger, read (for
//! fragmented MP4) with the tracks of the init segment it was fetched with.

use super::feed::{Fed, Slot};
use crate::media::clock::moov::{init_tracks, InitTrack};
use crate::media::clock::{self, Kind, Timing};
use crate::merge::Within;
use crate::plan::JobPlan;
use crate::resolve::Inits;
use crate::state::Ledger;

/// The timings of a job's merged segments.
pub(super) struct Timings {
    /// Each merged segment's timing in merge order, and whether it is of
    /// the separate audio rendition.
    segments: Vec<(bool, Option<Timing>)>,
    /// The tracks of the main init segment and of the audio rendition's
    /// (none where there is none or it cannot be read).
    main: Vec<InitTrack>,
    rendition: Vec<InitTrack>,
}

/// The timing of each merged segment, in merge order, and the init
/// segments' tracks.
pub(super) async fn merged(job: &JobPlan, fed: &Fed, ledger: &Ledger, inits: &Inits) -> Timings {
    let segments = (0..fed.slots.len())
        .filter(|&p| fed.slots[p] == Slot::Ready)
        .map(|p| {
            let index = job.source.index_at(p as u64);
            (job.source.is_audio(p as u64), ledger.timing(index))
        })
        .collect();
    let tracks = |file: Option<std::path::PathBuf>| async move {
        match file {
            Some(file) => tokio::fs::read(file)
                .await
                .map(|b| init_tracks(&b))
                .unwrap_or_default(),
            None => Vec::new(),
        }
    };
    Timings {
        segments,
        main: tracks(inits.video.clone()).await,
        rendition: tracks(inits.audio.clone()).await,
    }
}

/// How long the merged video and audio must be by their segments' own
/// timestamps: with a separate audio rendition, the video from the main
/// segments and the audio from the rendition's.
pub(super) fn by_timestamps(job: &JobPlan, t: &Timings) -> (Option<Within>, Option<Within>) {
    let separate = job.audio.is_some();
    let of = |kind: Kind| {
        let audio = kind == Kind::Audio;
        let timings: Vec<Option<&Timing>> = (t.segments.iter())
            .filter(|(rendition, _)| !separate || *rendition == audio)
            .map(|(_, timing)| timing.as_ref())
            .collect();
        let tracks = match separate && audio {
            true => &t.rendition,
            false => &t.main,
        };
        let (least, most) = clock::expected_of(kind, &timings, tracks)?;
        Some(Within { least, most })
    };
    (of(Kind::Video), of(Kind::Audio))
}
