//! The in-process merge of MPEG-TS segments into an MP4: H.264 and AAC
//! (ADTS) copied from the TS packets into the file's `mdat` as they come,
//! the index (`moov`) written at the end; no ffmpeg process, no pipe. Used
//! for a TS job merged into MP4 without a separate audio rendition (see
//! [`super::Merge`]); a stream it does not copy as ffmpeg would (another
//! codec, a PMT that changes, a discontinuity) ends it with
//! [`RemuxError::Unsupported`], and the merge replays the job's segments
//! from the spool into ffmpeg.
//!
//! A thread does the work, fed like ffmpeg's pipe: bytes still in memory
//! (at most [`QUEUED_MAX`] waiting), else ranges of the job's spool.

mod aac;
mod fallback;
mod h264;
mod mp4w;
mod mux;
mod order;
#[cfg(test)]
mod tests;
mod track;
mod ts;

use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use super::pipe::{open_spool, Piece};
use super::Segment;
use crate::common::diag::display_path;
use crate::state::store;

/// At most this many bytes of segments wait in memory for the remuxer.
const QUEUED_MAX: usize = 8 * 1024 * 1024;

/// Why the remuxer stopped.
#[derive(Debug, thiserror::Error)]
pub enum RemuxError {
    /// The stream holds what the remuxer does not copy; ffmpeg merges it.
    #[error("the in-process merge does not take {0}")]
    Unsupported(String),
    /// Writing the merged file failed.
    #[error("{}", write_words(.file, .source))]
    Write { file: PathBuf, source: io::Error },
    /// Reading a segment back from the spool failed.
    #[error("cannot read the saved segments back: {0}")]
    Spool(io::Error),
    #[error(
        "the merged file would hold more than {0} pictures and sounds; set `merge: ffmpeg` \
         for this job"
    )]
    TooManySamples(usize),
    /// The merge was stopped (an interrupted run).
    #[error("the merge was stopped")]
    Stopped,
    #[error("the merging thread failed")]
    Panicked,
}

fn write_words(file: &Path, e: &io::Error) -> String {
    let what = "snatch could not write the merged file";
    match crate::common::disk::is_full(e) {
        true => crate::common::disk::full(what, file.parent().unwrap_or(file), e),
        false => format!(
            "{what} {}: {e}; every saved segment is kept",
            display_path(file)
        ),
    }
}

/// A running remux: its thread, its queue, the segments it was handed.
pub(super) struct Remux {
    pieces: Option<mpsc::Sender<Piece>>,
    queued: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<(), RemuxError>>>,
    /// Every segment's range of the spool, in order: what ffmpeg reads
    /// when the remux gives up.
    pub(super) ranges: Vec<(u64, u64)>,
    temp: PathBuf,
}

impl Remux {
    /// Starts the remux into `file` (just created at `temp`), reading
    /// ranges from `spool`.
    pub(super) fn start(file: std::fs::File, temp: &Path, spool: Option<PathBuf>) -> Remux {
        let (pieces, queue) = mpsc::channel::<Piece>();
        let queued = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (q, s, path) = (queued.clone(), stop.clone(), temp.to_path_buf());
        let thread = std::thread::spawn(move || {
            let mut muxer = mux::Muxer::new(file, path)?;
            run(&mut muxer, queue, &q, &s, spool.as_deref())?;
            muxer.finish()
        });
        Remux {
            pieces: Some(pieces),
            queued,
            stop,
            thread: Some(thread),
            ranges: Vec::new(),
            temp: temp.to_path_buf(),
        }
    }

    /// Queues one segment: its bytes when in memory and there is room,
    /// else its range of the spool. False when the thread has ended.
    pub(super) fn feed(&mut self, segment: Segment) -> bool {
        self.ranges.push((segment.offset, segment.len));
        let piece = match segment.body {
            Some(b) if self.has_room(b.len()) => Piece::Bytes(b),
            _ => Piece::Spool {
                offset: segment.offset,
                len: segment.len,
            },
        };
        self.pieces.as_ref().is_some_and(|p| p.send(piece).is_ok())
    }

    fn has_room(&self, len: usize) -> bool {
        let now = self.queued.fetch_add(len, Ordering::SeqCst);
        if now + len <= QUEUED_MAX || now == 0 {
            return true;
        }
        self.queued.fetch_sub(len, Ordering::SeqCst);
        false
    }

    /// Ends the input and waits for the thread: the file whole, or why
    /// not (the file then removed).
    pub(super) fn finish(&mut self) -> Result<PathBuf, RemuxError> {
        self.pieces = None;
        let done = match self.thread.take() {
            Some(t) => t.join().unwrap_or(Err(RemuxError::Panicked)),
            None => Err(RemuxError::Stopped),
        };
        match done {
            Ok(()) => Ok(self.temp.clone()),
            Err(e) => {
                let _ = store::remove_file(&self.temp);
                Err(e)
            }
        }
    }

    /// Stops the thread at its next piece (or MiB of one) and removes the
    /// file.
    pub(super) fn abort(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if self.thread.is_some() {
            let _ = self.finish();
            let _ = store::remove_file(&self.temp);
        }
    }
}

impl Drop for Remux {
    fn drop(&mut self) {
        self.abort();
    }
}

/// Remuxes the pieces that arrive until the queue closes.
fn run(
    muxer: &mut mux::Muxer,
    queue: mpsc::Receiver<Piece>,
    queued: &AtomicUsize,
    stop: &AtomicBool,
    spool: Option<&Path>,
) -> Result<(), RemuxError> {
    let mut spool_file: Option<std::fs::File> = None;
    let mut buf = Vec::new();
    for piece in queue {
        if stop.load(Ordering::SeqCst) {
            return Err(RemuxError::Stopped);
        }
        match piece {
            Piece::Bytes(b) => {
                let done = muxer.push(&b);
                queued.fetch_sub(b.len(), Ordering::SeqCst);
                done?;
            }
            Piece::Spool { offset, len } => {
                let file = open_spool(&mut spool_file, spool).map_err(RemuxError::Spool)?;
                read_range(muxer, file, offset, len, &mut buf, stop)?;
            }
            Piece::File(_) => return Err(RemuxError::Unsupported("an init segment".into())),
        }
    }
    match stop.load(Ordering::SeqCst) {
        true => Err(RemuxError::Stopped),
        false => Ok(()),
    }
}

/// Remuxes `len` bytes of the spool from `offset`, 1 MiB at a time.
fn read_range(
    muxer: &mut mux::Muxer,
    file: &mut std::fs::File,
    offset: u64,
    len: u64,
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
) -> Result<(), RemuxError> {
    file.seek(io::SeekFrom::Start(offset))
        .map_err(RemuxError::Spool)?;
    let mut left = len;
    while left > 0 {
        if stop.load(Ordering::SeqCst) {
            return Err(RemuxError::Stopped);
        }
        let n = left.min(1 << 20) as usize;
        buf.resize(n, 0);
        file.read_exact(buf).map_err(RemuxError::Spool)?;
        muxer.push(buf)?;
        left -= n as u64;
    }
    Ok(())
}
