//! The thread that feeds one input of an ffmpeg: it writes the pieces of
//! that input into its pipe (ffmpeg's stdin, or the audio's own pipe of a
//! joint mux) in the order they are handed over: bytes
//! still in memory (at most [`QUEUED_MAX`] of them waiting), ranges of the
//! job's spool (spliced into the pipe on Linux, else copied 1 MiB at a
//! time) and whole files (init segments).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use crate::state::store;

/// One piece of ffmpeg's input, in the order it is handed over.
#[derive(Debug)]
pub(super) enum Piece {
    /// Bytes still in memory: written as they are.
    Bytes(bytes::Bytes),
    /// A byte range of the job's spool file.
    Spool { offset: u64, len: u64 },
    /// A whole file (an init segment).
    File(PathBuf),
}

/// At most this many bytes of segments wait in memory for ffmpeg; past
/// it, a segment is read back from the spool when its turn comes.
const QUEUED_MAX: usize = 8 * 1024 * 1024;

/// The writing end of a pipe into ffmpeg: a descriptor on unix (for
/// `splice` and the pipe's size).
#[cfg(unix)]
pub(super) trait PipeEnd: io::Write + std::os::fd::AsRawFd + Send + 'static {}
#[cfg(unix)]
impl<T: io::Write + std::os::fd::AsRawFd + Send + 'static> PipeEnd for T {}
#[cfg(not(unix))]
pub(super) trait PipeEnd: io::Write + Send + 'static {}
#[cfg(not(unix))]
impl<T: io::Write + Send + 'static> PipeEnd for T {}

/// The thread that feeds one input of ffmpeg, and its queue.
pub(super) struct Feeder {
    pieces: mpsc::Sender<Piece>,
    /// Bytes of [`Piece::Bytes`] queued and not yet written.
    queued: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<io::Result<()>>,
}

/// Copies exactly `len` bytes in pieces of up to 1 MiB: ffmpeg's pipe is
/// fed in few large writes (`io::copy` would make 8 KiB ones).
fn copy_big(
    from: &mut impl io::Read,
    to: &mut impl io::Write,
    buf: &mut Vec<u8>,
    len: u64,
) -> io::Result<()> {
    const PIECE: usize = 1 << 20;
    let mut left = len;
    while left > 0 {
        let n = left.min(PIECE as u64) as usize;
        buf.resize(n, 0);
        from.read_exact(buf)?;
        to.write_all(buf)?;
        left -= n as u64;
    }
    Ok(())
}

/// Moves `len` bytes at `offset` of `file` into ffmpeg's pipe inside the
/// kernel (`splice`: the spool's cached pages go to the pipe without a
/// copy through snatch). `Ok(false)` when the kernel cannot splice these
/// two, before any byte moved: the caller copies instead.
#[cfg(target_os = "linux")]
fn splice_range(
    file: &std::fs::File,
    offset: u64,
    len: u64,
    pipe: &impl PipeEnd,
) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut off = libc::loff_t::try_from(offset).map_err(io::Error::other)?;
    let mut left = len;
    while left > 0 {
        let want = left.min(1 << 30) as usize;
        // SAFETY: both descriptors are open for the duration of the call,
        // `off` is a valid loff_t the kernel updates, and the pipe's own
        // offset is null as splice requires.
        let n = unsafe {
            libc::splice(
                file.as_raw_fd(),
                &mut off,
                pipe.as_raw_fd(),
                std::ptr::null_mut(),
                want,
                libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EINVAL | libc::ENOSYS) if left == len => return Ok(false),
                _ => return Err(e),
            }
        }
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        left -= n as u64;
    }
    Ok(true)
}

#[cfg(not(target_os = "linux"))]
fn splice_range(
    _file: &std::fs::File,
    _offset: u64,
    _len: u64,
    _pipe: &impl PipeEnd,
) -> io::Result<bool> {
    Ok(false)
}

/// Gives the pipe into ffmpeg room for 1 MiB (Linux; 64 KiB by default), so
/// that the feeding thread and ffmpeg wake each other less often.
#[cfg(target_os = "linux")]
fn widen_pipe(stdin: &impl PipeEnd) {
    // SAFETY: fcntl on a pipe descriptor this process owns; failure only
    // leaves the default size.
    unsafe {
        libc::fcntl(stdin.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
}

#[cfg(not(target_os = "linux"))]
fn widen_pipe(_stdin: &impl PipeEnd) {}

impl Feeder {
    /// Starts the thread that writes the pieces it is sent into `stdin`
    /// (a pipe ffmpeg reads), ranges read from `spool`.
    pub(super) fn start(mut stdin: impl PipeEnd, spool: Option<PathBuf>) -> Feeder {
        widen_pipe(&stdin);
        let (pieces, queue) = mpsc::channel::<Piece>();
        let queued = Arc::new(AtomicUsize::new(0));
        let counted = queued.clone();
        let thread =
            std::thread::spawn(move || feed_pieces(queue, &counted, spool.as_deref(), &mut stdin));
        Feeder {
            pieces,
            queued,
            thread,
        }
    }

    /// Queues one piece. An error means ffmpeg stopped reading.
    pub(super) fn send(&self, piece: Piece) -> io::Result<()> {
        self.pieces
            .send(piece)
            .map_err(|_| io::Error::other("ffmpeg stopped reading"))
    }

    /// Ends the input once everything queued is written; the thread's
    /// outcome.
    pub(super) fn close(self) -> io::Result<()> {
        drop(self.pieces);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the feeding thread panicked")))
    }

    /// Ends the inputs of one ffmpeg that has two: both queues close
    /// before either thread is waited for. ffmpeg reads its inputs in
    /// timestamp order, so one input left open while the other's thread is
    /// waited for could keep ffmpeg from reading that other: a deadlock.
    pub(super) fn close_both(
        a: Option<Feeder>,
        b: Option<Feeder>,
    ) -> (io::Result<()>, io::Result<()>) {
        let join = |f: Option<std::thread::JoinHandle<io::Result<()>>>| {
            f.map_or(Ok(()), |t| {
                t.join()
                    .unwrap_or_else(|_| Err(io::Error::other("the feeding thread panicked")))
            })
        };
        let (a, b) = (a.map(|f| f.thread), b.map(|f| f.thread));
        (join(a), join(b))
    }

    /// Takes `len` more bytes into the memory queue if they fit.
    pub(super) fn has_room(&self, len: usize) -> bool {
        let now = self.queued.fetch_add(len, Ordering::SeqCst);
        if now + len <= QUEUED_MAX || now == 0 {
            return true;
        }
        self.queued.fetch_sub(len, Ordering::SeqCst);
        false
    }
}

/// The job's spool, opened for reading the first time a piece needs it.
pub(super) fn open_spool<'a>(
    file: &'a mut Option<std::fs::File>,
    spool: Option<&Path>,
) -> io::Result<&'a mut std::fs::File> {
    match file {
        Some(f) => Ok(f),
        None => {
            let path = spool.ok_or_else(|| io::Error::other("no spool"))?;
            Ok(file.insert(store::open_read(path)?))
        }
    }
}

/// Writes the pieces that arrive into ffmpeg's stdin; ranges are read
/// from `spool`, opened on the first that needs it.
fn feed_pieces(
    queue: mpsc::Receiver<Piece>,
    queued: &AtomicUsize,
    spool: Option<&Path>,
    stdin: &mut impl PipeEnd,
) -> io::Result<()> {
    use std::io::{Read, Seek};
    let mut spool_file: Option<std::fs::File> = None;
    let mut buf = Vec::new();
    for piece in queue {
        match piece {
            Piece::Bytes(b) => {
                let written = stdin.write_all(&b);
                queued.fetch_sub(b.len(), Ordering::SeqCst);
                written?;
            }
            Piece::Spool { offset, len } => {
                let file = open_spool(&mut spool_file, spool)?;
                if !splice_range(file, offset, len, stdin)? {
                    file.seek(io::SeekFrom::Start(offset))?;
                    copy_big(&mut Read::by_ref(file).take(len), stdin, &mut buf, len)?;
                }
            }
            Piece::File(path) => {
                let mut file = store::open_read(&path)?;
                io::copy(&mut file, stdin)?;
            }
        }
    }
    Ok(())
}
