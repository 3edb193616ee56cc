//! A job's files before and after its fetch: take the job's lock and claim
//! its output, find an earlier verified merge, sweep a killed run's hidden
//! files, open the ledger of saved segments (prepare); record the merge,
//! put the output in place, tidy up (finish). The order
//! of `finish` makes a `kill -9` at any instant safe: `done.json` is
//! written before the output is moved into place and before any segment
//! goes, so a rerun either finds the verified file or still has every
//! segment.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{ClaimError, JobError};
use crate::common::diag::display_path;
use crate::manifest::Variant;
use crate::merge;
use crate::merge::Probed;
use crate::plan::source::{SegmentSource, Target};
use crate::plan::JobPlan;
use crate::resolve::hls::variant_text;
use crate::state::lock::{self, JobLock, LockError};
use crate::state::{self, store, Done, Ledger, PathOf};

/// What a job finds on disk before it fetches.
pub(super) enum Prepared {
    /// The output is complete and matches the job (its lock is released).
    UpToDate(Done),
    /// The job runs: its lock and its output's claim are held until
    /// these are dropped.
    Ready {
        lock: JobLock,
        claim: JobLock,
        ledger: Ledger,
    },
}

/// Everything that decides whether a merged output still matches the job.
/// Secrets appear as `***`. `done.json` records it, so a page can tell a
/// job's merged output from one of an older version of the job.
pub fn fingerprint(job: &JobPlan) -> String {
    let mut fp = format!(
        "{}|{}|{}|{:?}",
        job.first_url,
        job.last_url,
        job.source.len(),
        job.container
    );
    // A playlist job is its playlist and variant, whatever segments the
    // playlist lists today; a template job's init segment is part of it.
    if let SegmentSource::Playlist(p) = &job.source {
        fp.push_str(&format!("|{:?}", p.variant));
    }
    if let Some(init) = &job.init {
        fp.push_str(&format!("|init {}", init.target.shown()));
    }
    fp
}

/// Which video the saved segments belong to: scheme, host and path of the
/// URL template rendered at index 0, secrets as `***`, without the query or
/// fragment. The range, the `length`, a token in the query or a `${…}`
/// value do not change it.
pub(super) fn identity(source: &SegmentSource) -> String {
    let seg = match source {
        SegmentSource::Numbered(n) => n.segment(0).or_else(|_| source.segment(0)),
        // A playlist job's segments belong to its playlist (its tokens
        // aside) and its variant: another variant's segments have the same
        // indices (media sequence numbers) but are another video.
        SegmentSource::Playlist(p) => {
            let shown = p.url.shown();
            let path = shown.split(['?', '#']).next().unwrap_or(shown);
            return match p.variant {
                Variant::Best => path.to_string(),
                v => format!("{path} (variant {})", variant_text(v)),
            };
        }
    };
    seg.map(|s| shown_path(&s.target)).unwrap_or_default()
}

/// A segment target's path identity: scheme, host and path of its URL,
/// secrets as `***`, without the query or fragment; a local file's shown
/// path.
fn shown_path(target: &Target) -> String {
    match target {
        Target::Http { url, .. } => {
            let shown = url.shown();
            shown.split(['?', '#']).next().unwrap_or(shown).to_string()
        }
        Target::File { shown, .. } => shown.clone(),
    }
}

/// The path identity a template job renders for each index, recorded on
/// every ledger line and compared on reuse. A playlist job records none:
/// its segments belong to the stream `stream.json` pins (the playlist
/// and its variant), and a CDN may name the same segment by another path
/// (a session in it) at each reload.
fn paths(source: &SegmentSource) -> Option<PathOf> {
    match source {
        SegmentSource::Numbered(n) => {
            let n = n.clone();
            Some(Arc::new(move |index| {
                n.segment(index).ok().map(|s| shown_path(&s.target))
            }))
        }
        SegmentSource::Playlist(_) => None,
    }
}

/// Locks the job, and either finds it up to date or opens its ledger, on
/// the blocking pool.
pub(super) async fn prepare(job: &JobPlan, fp: &str, force: bool) -> Result<Prepared, JobError> {
    let (owned, fp) = (job.clone(), fp.to_string());
    tokio::task::spawn_blocking(move || prepare_blocking(&owned, &fp, force))
        .await
        .unwrap_or_else(|error| {
            let job = job.name.clone();
            Err(JobError::Task { job, error })
        })
}

fn prepare_blocking(job: &JobPlan, fp: &str, force: bool) -> Result<Prepared, JobError> {
    let (root, dir) = (&job.output_dir, &job.state_dir);
    let name = &job.name;
    let lock = lock::lock_job(root, dir).map_err(|error| JobError::Lock {
        job: name.clone(),
        dir: dir.clone(),
        error,
    })?;
    let claim = claim(job)?;
    let before = match force {
        true => None,
        false => merged_before(job, fp).map_err(|e| JobError::cannot_use(name, &job.output, e))?,
    };
    // With the output claimed, any other hidden merge file of it is a
    // stopped process's (the verified one was just put in place).
    sweep(job);
    if let Some(done) = before {
        tidy(job, &done);
        return Ok(Prepared::UpToDate(done));
    }
    // The job runs again: an earlier merge's marker no longer applies.
    state::remove_done(dir).map_err(|e| JobError::cannot_use(name, dir, e))?;
    // And an earlier failure is no longer its last word.
    state::remove_failed(dir).map_err(|e| JobError::cannot_use(name, dir, e))?;
    let now = identity(&job.source);
    let ledger = match Ledger::open(root, dir, &now, force) {
        Ok(l) => l.with_paths(paths(&job.source)),
        Err(error) => {
            let (job, dir) = (name.clone(), dir.clone());
            return Err(JobError::Ledger {
                job,
                dir,
                now,
                error,
            });
        }
    };
    if ledger.other_paths > 0 {
        tracing::info!(
            job = %name,
            "{} saved segment{} belong{} to other URLs; they are fetched again",
            ledger.other_paths,
            if ledger.other_paths == 1 { "" } else { "s" },
            if ledger.other_paths == 1 { "s" } else { "" },
        );
    }
    Ok(Prepared::Ready {
        lock,
        claim,
        ledger,
    })
}

/// Records that the job failed with `message` (its report's, masked and
/// escaped) in its state folder, for a page to show; called with the
/// job's lock held. A record that cannot be written is logged, and the
/// job's outcome stays what it was.
pub(super) async fn record_failure(job: &JobPlan, message: String) {
    let failed = state::Failed {
        status: "failed".into(),
        message,
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    let dir = job.state_dir.clone();
    let written = tokio::task::spawn_blocking(move || state::write_failed(&dir, &failed)).await;
    if let Err(e) = written.map_err(io::Error::other).and_then(|r| r) {
        tracing::warn!(job = %job.name, "could not record the failure in {}: {e}", display_path(&job.state_dir));
    }
}

/// Claims the job's output: only one process may write it at a time.
fn claim(job: &JobPlan) -> Result<JobLock, ClaimError> {
    let (name, output) = (job.name.clone(), job.output.clone());
    lock::claim_output(&job.output_dir, &job.output).map_err(|e| match e {
        LockError::Busy { pid } => ClaimError::Busy {
            job: name,
            pid,
            output,
        },
        LockError::Io(error) => ClaimError::Io {
            job: name,
            output,
            error,
        },
    })
}

/// Removes the hidden merge files a killed snatch left beside the output
/// (the output is claimed: nobody else writes them now).
fn sweep(job: &JobPlan) {
    match merge::temp::sweep(&job.output_dir, &job.output, None) {
        Ok(gone) => {
            for p in gone {
                tracing::info!(job = %job.name, "removed {}, left by a stopped snatch", display_path(&p));
            }
        }
        Err(e) => {
            tracing::warn!(job = %job.name, "could not tidy beside {}: {e}", display_path(&job.output))
        }
    }
}

/// The earlier verified merge, if `done.json` matches the job and its file
/// is there. A kill after `done.json` but before the rename left the
/// verified file under its hidden name: it is moved into place now.
fn merged_before(job: &JobPlan, fp: &str) -> io::Result<Option<Done>> {
    let Some(done) = state::read_done(&job.state_dir, fp) else {
        return Ok(None);
    };
    let temp = recorded_temp(&job.output, &done);
    if let Some(temp) = temp.filter(|t| file_size(t) == Some(done.output_size)) {
        store::rename(&job.output_dir, &temp, &job.output)?;
    }
    Ok((file_size(&job.output) == Some(done.output_size)).then_some(done))
}

/// Finishes the tidy-up of a merged job stopped after its output was in
/// place (its size checked) but before its segments went: the spool and
/// the ledger go now, when `done.json` says they were to.
fn tidy(job: &JobPlan, done: &Done) {
    let dir = &job.state_dir;
    if !done.drop_segments || !state::has_segments(dir) {
        return;
    }
    match state::clear_segments(&job.output_dir, dir) {
        Ok(()) => {
            tracing::info!(job = %job.name, "removed the segments a stopped run left in {}", display_path(dir))
        }
        Err(e) => tracing::warn!(job = %job.name, "could not tidy {}: {e}", display_path(dir)),
    }
}

/// The hidden file `done.json` names, beside the output: a name of the
/// merge's own form only; an older snatch's `.NAME.snatch-part` when it
/// names none.
fn recorded_temp(output: &Path, done: &Done) -> Option<PathBuf> {
    match done.temp.as_deref() {
        None => Some(merge::temp::legacy_temp(output)),
        Some(n) if merge::temp::is_temp_of(output, std::ffi::OsStr::new(n)) => {
            Some(output.with_file_name(n))
        }
        Some(_) => None,
    }
}

/// The size of the regular file at `path` (a link is no file here).
fn file_size(path: &Path) -> Option<u64> {
    std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// Puts a verified merge in place, on the blocking pool: `done.json` first,
/// then the rename, then the segments go (unless kept).
pub(super) async fn finish(
    job: &JobPlan,
    fp: String,
    temp: &Path,
    media: &Probed,
    keep_segments: bool,
) -> Result<(), JobError> {
    let (owned, temp, media) = (job.clone(), temp.to_path_buf(), media.clone());
    tokio::task::spawn_blocking(move || finish_blocking(&owned, fp, &temp, &media, keep_segments))
        .await
        .unwrap_or_else(|error| {
            let job = job.name.clone();
            Err(JobError::Task { job, error })
        })
}

fn finish_blocking(
    job: &JobPlan,
    fp: String,
    temp: &Path,
    media: &Probed,
    keep_segments: bool,
) -> Result<(), JobError> {
    let merged: std::collections::HashSet<u64> = (0..job.source.len())
        .map(|p| job.source.index_at(p))
        .collect();
    let merged = |index| merged.contains(&index);
    // Without a record, the segments are what a rerun has: they stay.
    let drop_segments =
        !keep_segments && state::all_merged(&job.state_dir, &merged).unwrap_or(false);
    let done = Done {
        fingerprint: fp,
        output_size: file_size(temp).unwrap_or(0),
        duration_s: media.duration_s,
        streams: media.streams.clone(),
        temp: temp.file_name().map(|n| n.to_string_lossy().into_owned()),
        drop_segments,
    };
    let recorded = state::write_done(&job.state_dir, &done);
    if let Err(e) = &recorded {
        tracing::warn!(job = %job.name, "could not record the merge in {}: {e}", display_path(&job.state_dir));
    }
    if let Err(e) = store::rename(&job.output_dir, temp, &job.output) {
        let _ = store::remove_file(temp);
        let _ = state::remove_done(&job.state_dir);
        let job = job.name.clone();
        return Err(JobError::Place { job, error: e });
    }
    if keep_segments {
        return export(job, &merged).map(|_| ()).map_err(|error| {
            let segments = job.state_dir.join("segments");
            let job = job.name.clone();
            JobError::Export {
                job,
                segments,
                error,
            }
        });
    }
    // Without a record, the segments are what a rerun has: keep them.
    if recorded.is_ok() && drop_segments {
        if let Err(e) = state::clear_segments(&job.output_dir, &job.state_dir) {
            tracing::warn!(job = %job.name, "could not tidy {}: {e}", display_path(&job.state_dir));
        }
    }
    Ok(())
}

/// Writes each merged segment as a file of its own (`--keep-segments`).
fn export(job: &JobPlan, merged: &dyn Fn(u64) -> bool) -> io::Result<usize> {
    let ext = match job.format {
        crate::plan::source::SegmentFormat::Ts => "ts",
        crate::plan::source::SegmentFormat::Fmp4 => "m4s",
    };
    state::export(&job.output_dir, &job.state_dir, merged, ext)
}
