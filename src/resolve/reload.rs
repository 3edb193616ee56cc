//! Links that expire: when a playlist job's segments start answering 403
//! or 410 after others arrived, the playlist is fetched again (same URL,
//! new tokens) and segments are mapped to their new locations by media
//! sequence number. A playlist that now lists another stream (another
//! path, count, `EXTINF`, sequence number…; see `identity`) is refused
//! before any of its links is used. Reloads are bounded per job and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::saved::store;
use super::Cause;
use super::{fetch_keys, fetch_media, identity, read, saved_key};
use crate::net::{Ask, Fetcher};
use crate::plan::source::SegmentSource;
use crate::plan::JobPlan;

/// The most times one job's playlist is fetched again.
pub const MAX_RELOADS: u64 = 16;

/// A job's reloads: one at a time; a task that saw a link expire before
/// another task's reload finished uses that reload instead of its own.
#[derive(Debug, Default)]
pub struct Reloads {
    generation: tokio::sync::Mutex<u64>,
    done: AtomicU64,
}

impl Reloads {
    /// Changes with every reload; read it before a request.
    pub fn generation(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }

    /// How many reloads there were.
    pub fn count(&self) -> u64 {
        self.done.load(Ordering::Acquire)
    }

    /// Makes sure the playlist was fetched again since `seen` (a value of
    /// [`Reloads::generation`]). `Ok(false)`: the bound is reached.
    pub async fn renew(
        &self,
        job: &JobPlan,
        fetcher: &Fetcher,
        ask: &Ask,
        seen: u64,
    ) -> Result<bool, Cause> {
        let mut generation = self.generation.lock().await;
        if *generation != seen {
            return Ok(true);
        }
        if *generation >= MAX_RELOADS {
            return Ok(false);
        }
        reload(job, fetcher, ask).await?;
        *generation += 1;
        self.done.store(*generation, Ordering::Release);
        tracing::info!(job = %job.name, reloads = *generation, "links expired; the playlist was fetched again");
        Ok(true)
    }
}

/// Fetches the job's playlist again and records where each of its
/// segments is now.
async fn reload(job: &JobPlan, fetcher: &Fetcher, ask: &Ask) -> Result<(), Cause> {
    let SegmentSource::Playlist(p) = &job.source else {
        return Ok(());
    };
    let Some(before) = &p.resolved else {
        return Ok(());
    };
    let got = fetch_media(p, fetcher, ask).await?;
    let mut now = read(&got.video, p.variant)?;
    if let Some(audio) = &got.audio {
        now.audio = Some(Arc::new(read(audio, p.variant)?));
    }
    super::index::fill(&mut now, fetcher, ask).await?;
    if let Some(change) = identity::change(before, &now, &p.env) {
        return Err(Cause::StreamChanged { change });
    }
    // A key URI the playlist now names (a rotated key, a new token) is
    // fetched; those it named before are not.
    now.keys = fetch_keys(&now, fetcher, ask, &before.keys).await?;
    // The next run starts from the newer links; a failure only costs a reload.
    if let Err(e) = store(&job.state_dir, &saved_key(p), &got, &p.env) {
        tracing::warn!(job = %job.name, "{e}");
    }
    // The same stream: the same segments at the same positions. Each is
    // fetched from where this playlist lists it, with its keys.
    let mut fresh = p.fresh.write().unwrap_or_else(|e| e.into_inner());
    *fresh = Some(Arc::new(now));
    Ok(())
}
