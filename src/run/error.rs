//! Every way a job can fail in the run stage, in one place: its lock,
//! claim and ledger (state), its request settings (net), its resolve step,
//! the merge (ffmpeg, ffprobe) and putting the output in place. Each
//! variant carries what the message needs (the job, the segment, the path,
//! the state or merge error) and renders the one sentence the job's report
//! and the terminal show.

use std::io;
use std::path::{Path, PathBuf};

use crate::common::diag::display_path;
use crate::merge::{MergeError, ProbeError};
use crate::net::HeaderError;
use crate::resolve::ResolveError;
use crate::state::lock::{self, LockError};
use crate::state::{store, OpenError};

/// Why a job did not end with its output in place.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Boxed: the largest error of the stage, and the rarest.
    #[error(transparent)]
    Resolve(Box<ResolveError>),
    /// The job's lock (one snatch per job) could not be had.
    #[error("{}", lock_text(.job, .dir, .error))]
    Lock {
        job: String,
        dir: PathBuf,
        error: LockError,
    },
    #[error(transparent)]
    Claim(#[from] ClaimError),
    /// The ledger of saved segments in `dir` could not be opened; `now` is
    /// the identity of the job's video (see `files::identity`).
    #[error("{}", ledger_text(.job, .dir, .now, .error))]
    Ledger {
        job: String,
        dir: PathBuf,
        now: String,
        error: OpenError,
    },
    /// A file or folder of the job (the output, the state folder) could not
    /// be used.
    #[error("{}", cannot_use(.job, .path, .error))]
    CannotUse {
        job: String,
        path: PathBuf,
        error: io::Error,
    },
    /// A header of the job cannot be sent.
    #[error("job `{job}`: {error}")]
    Headers { job: String, error: HeaderError },
    /// A step on the blocking pool ended without answering (a panic).
    #[error("job `{job}`: {error}")]
    Task {
        job: String,
        error: tokio::task::JoinError,
    },
    #[error("job `{job}`: interrupted; a rerun resumes where it stopped")]
    Interrupted { job: String },
    /// ffmpeg could not be started, or its init segment not fed.
    #[error("job `{job}`: {error}")]
    MergeStart { job: String, error: io::Error },
    #[error("job `{job}`: segment {index} is not in the spool")]
    NotSpooled { job: String, index: u64 },
    #[error("job `{job}`: the merge stopped at segment {index}: {error}")]
    MergeStopped {
        job: String,
        index: u64,
        error: io::Error,
    },
    /// The merge of a DASH period could not end or the next start.
    #[error("job `{job}`: the merge of the period before segment {index}: {error}")]
    MergePeriod {
        job: String,
        index: u64,
        error: crate::merge::MergeError,
    },
    /// A segment's task panicked; `text` is what it said.
    #[error(
        "job `{job}`: segment {index}: snatch failed internally ({text}); \
         saved segments are kept and a rerun resumes"
    )]
    Panicked {
        job: String,
        index: u64,
        text: String,
    },
    #[error("job `{job}`: segments {} never reported; a rerun fetches them", list(.missing))]
    NeverReported { job: String, missing: Vec<u64> },
    #[error("job `{job}`: no segment could be had")]
    NoSegment { job: String },
    #[error("job `{job}`: nothing was merged")]
    NothingMerged { job: String },
    #[error("job `{job}`: {error}")]
    Merge { job: String, error: MergeError },
    #[error("job `{job}`: {error}")]
    Probe { job: String, error: ProbeError },
    /// The merged file did not pass; `why` is the advice of
    /// `run/advice.rs` (what was off, and what to change).
    #[error("job `{job}`: {why}")]
    Unverified { job: String, why: String },
    /// The merged file could not be moved into place.
    #[error("{}", place_text(.job, .error))]
    Place { job: String, error: io::Error },
    /// Merged and verified, but `--keep-segments` could not write the
    /// segments into `segments`.
    #[error("{}", export_text(.job, .segments, .error))]
    Export {
        job: String,
        segments: PathBuf,
        error: io::Error,
    },
    /// A sentence composed where the failure was seen, job named: a
    /// segment's failure with its next step (`net`, `run/advice.rs`), a
    /// stream that ends before the job's range (`run/tail.rs`), a reload
    /// that found another stream (`run/renew.rs`).
    #[error("{0}")]
    Segments(String),
}

impl From<ResolveError> for JobError {
    fn from(e: ResolveError) -> JobError {
        JobError::Resolve(Box::new(e))
    }
}

impl JobError {
    /// A merge that did not leave a file.
    pub(super) fn merge(job: &str, error: MergeError) -> JobError {
        let job = job.to_string();
        JobError::Merge { job, error }
    }

    /// ffprobe could not read the merged file.
    pub(super) fn probe(job: &str, error: ProbeError) -> JobError {
        let job = job.to_string();
        JobError::Probe { job, error }
    }

    /// A file or folder of the job that could not be used.
    pub(super) fn cannot_use(job: &str, path: &Path, error: io::Error) -> JobError {
        let (job, path) = (job.to_string(), path.to_path_buf());
        JobError::CannotUse { job, path, error }
    }

    pub(super) fn interrupted(job: &str) -> JobError {
        let job = job.to_string();
        JobError::Interrupted { job }
    }
}

/// Why a job's output could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another process holds the claim: a job of another job file (another
    /// state folder) names the same output.
    #[error(
        "job `{job}`: {} is writing {} (it holds {}): another job names the same output; \
         wait for it to finish, or give one of the two jobs another `output`",
        holder(*.pid), display_path(.output), display_path(&lock::claim_path(.output))
    )]
    Busy {
        job: String,
        pid: Option<u32>,
        output: PathBuf,
    },
    #[error("{}", cannot_use(.job, &lock::claim_path(.output), .error))]
    Io {
        job: String,
        output: PathBuf,
        error: io::Error,
    },
}

/// The process a lock file names.
fn holder(pid: Option<u32>) -> String {
    pid.map_or("another snatch".to_string(), |p| {
        format!("another snatch (pid {p})")
    })
}

fn lock_text(job: &str, dir: &Path, e: &LockError) -> String {
    match e {
        LockError::Busy { pid } => format!(
            "job `{job}`: {} is running this job (it holds {}); wait for it to finish, or stop it",
            holder(*pid),
            display_path(&dir.join(lock::LOCK))
        ),
        LockError::Io(e) => cannot_use(job, dir, e),
    }
}

fn ledger_text(job: &str, dir: &Path, now: &str, e: &OpenError) -> String {
    match e {
        OpenError::Io(e) => cannot_use(job, dir, e),
        OpenError::File { path, error } => cannot_use(job, path, error),
        OpenError::Unreadable { path, newer } => {
            let why = match newer {
                Some(v) => format!("was written by a newer snatch (format {v})"),
                None => "has a damaged header".to_string(),
            };
            format!(
                "job `{job}`: {} {why}; its saved segments are kept. Run the snatch that wrote it, \
                 or move {} aside to fetch this job afresh",
                display_path(path),
                display_path(dir)
            )
        }
        OpenError::OtherVideo { saved, was } => format!(
            "job `{job}`: {saved} segment{} saved in {} belong{} to another video: the url's path was {}, now {now}. \
             Nothing was deleted; run with --force to discard them and fetch this job afresh",
            if *saved == 1 { "" } else { "s" },
            display_path(dir),
            if *saved == 1 { "s" } else { "" },
            was.as_deref().unwrap_or("not recorded"),
        ),
    }
}

fn cannot_use(job: &str, path: &Path, e: &io::Error) -> String {
    // An error that names its file speaks of that file.
    let (path, e) = match store::named(e) {
        Some(at) => (at.path.as_path(), &at.source),
        None => (path, e),
    };
    if crate::common::disk::is_full(e) {
        let folder = match path.is_dir() {
            true => path,
            false => path.parent().unwrap_or(path),
        };
        let what = format!("{} could not be written", display_path(path));
        return format!(
            "job `{job}`: {}",
            crate::common::disk::full(&what, folder, e)
        );
    }
    match store::is_refusal(e) {
        true => format!("job `{job}`: {e}"),
        false => format!("job `{job}`: cannot use {}: {e}", display_path(path)),
    }
}

fn place_text(job: &str, e: &io::Error) -> String {
    match store::refused_link(e) {
        Some(_) => format!("job `{job}`: {e}"),
        None => format!("job `{job}`: cannot move the merged file into place: {e}"),
    }
}

fn export_text(job: &str, segments: &Path, e: &io::Error) -> String {
    if crate::common::disk::is_full(e) {
        let what = "merged and verified, but its segments could not be written";
        return format!(
            "job `{job}`: {}",
            crate::common::disk::full(what, segments, e)
        );
    }
    format!(
        "job `{job}`: merged and verified, but its segments could not be written to {}: {e}",
        display_path(segments)
    )
}

/// Indices for a message: the first ten, then `…`.
pub(super) fn list(indices: &[u64]) -> String {
    let shown: Vec<String> = indices.iter().take(10).map(u64::to_string).collect();
    let more = if indices.len() > 10 { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}
