//! A job with a separate audio rendition and one period, on unix: ONE
//! ffmpeg reads the video segments on its stdin and the audio segments on
//! a pipe of their own (`pipe:N`), each fed by its own thread, and
//! stream-copies both into the job's temporary output as they arrive. No
//! hidden per-track files, no mux after the last segment.
//!
//! With several inputs, ffmpeg 5.1 reads each in a thread of its own and
//! takes packets in timestamp order: when one track runs ahead, ffmpeg
//! stops reading it until the other catches up (see [`QUEUE_PACKETS`]). Its feeding thread then
//! waits on a full pipe, and what arrives meanwhile waits in its queue
//! (bytes up to a bound, else ranges of the spool): the fetching never
//! waits for ffmpeg, and the lagging track's pipe is fed on its own.
//! The audio's pipe is given to ffmpeg under its own descriptor number
//! (at least 3, close-on-exec cleared in the child only): nothing of the
//! child's set-up is written over, and no other process snatch starts
//! inherits it.

use std::io;
use std::path::PathBuf;

use super::pipe::Feeder;
use super::{Merge, MergeError, Segment};
use crate::state::store;

#[cfg(unix)]
use {
    super::audio::AudioInput,
    super::pipe::Piece,
    super::{input_format, temp_path, Input, Tools},
    crate::common::Container,
    crate::plan::source::SegmentFormat,
    std::path::Path,
};

/// How many packets each input's reading thread may hold for ffmpeg
/// (`-thread_queue_size`; 8 by default). ffmpeg 5.1 takes packets in
/// timestamp order and, when the input it needs next has none queued,
/// sleeps 10 ms: with 8 a sleep, reading both tracks of 300 MB already in
/// the pipes took 31 s instead of 0.7 s. 256 packets (at most some MB of
/// video) make it 0.73 s; 1024 no faster, and ffmpeg bigger by 20 MB.
#[cfg(unix)]
const QUEUE_PACKETS: &str = "256";

/// The audio input of a joint merge: its feeding thread, and whether a
/// segment of it was fed.
pub(super) struct AudioPipe {
    feeder: Option<Feeder>,
    /// The outcome of its feeding thread, once closed.
    ended: Option<io::Result<()>>,
    fed: bool,
}

impl Merge {
    /// Starts the one ffmpeg that muxes video (`input`, on stdin) and the
    /// audio rendition (`audio`, on its own pipe) into `output`'s
    /// temporary file; the audio's init segment is queued first.
    #[cfg(unix)]
    pub(super) fn spawn_joint(
        tools: &Tools,
        root: &Path,
        output: &Path,
        container: Container,
        input: Input,
        audio: AudioInput,
    ) -> io::Result<Merge> {
        let (reader, writer) = io::pipe()?;
        let fd = audio_fd(reader)?;
        let mut cmd = super::ffmpeg(tools);
        cmd.args(["-thread_queue_size", QUEUE_PACKETS])
            .args(["-f", input_format(input.format), "-i", "pipe:0"])
            .args(["-thread_queue_size", QUEUE_PACKETS])
            .args(["-f", input_format(audio.format), "-i"])
            .arg(format!("pipe:{}", raw(&fd)))
            .args(["-map", "0:v", "-map", "1:a", "-c", "copy"]);
        super::output_args(&mut cmd, container, audio.format == SegmentFormat::Ts);
        inherit(&mut cmd, fd);
        let spool = input.spool.clone();
        let mut merge = Merge::launch(cmd, root, temp_path(output), input.spool, None)?;
        let feeder = Feeder::start(writer, spool);
        if let Some(init) = audio.init {
            feeder.send(Piece::File(init))?;
        }
        merge.joint = Some(AudioPipe {
            feeder: Some(feeder),
            ended: None,
            fed: false,
        });
        Ok(merge)
    }

    /// Queues one complete segment of the audio rendition on its pipe.
    pub(super) fn feed_joint_audio(&mut self, segment: Segment) -> io::Result<()> {
        let Some(pipe) = &mut self.joint else {
            return Err(io::Error::other("this merge has no audio input"));
        };
        let Some(feeder) = &pipe.feeder else {
            return Err(io::Error::other("the audio input is closed"));
        };
        pipe.fed = true;
        feeder
            .send(super::piece_of(segment, feeder))
            .map_err(|e| io::Error::new(e.kind(), format!("the audio rendition: {e}")))
    }

    /// Closes the audio input along with the video's (see
    /// [`Feeder::close_both`]); the video's outcome.
    pub(super) fn close_inputs(&mut self) -> io::Result<()> {
        let audio = self.joint.as_mut().and_then(|j| j.feeder.take());
        let (video, audio) = Feeder::close_both(self.feeder.take(), audio);
        if let Some(j) = &mut self.joint {
            j.ended = Some(audio);
        }
        video
    }
}

impl AudioPipe {
    /// What the joint ffmpeg's end (`done`, its file or its failure) comes
    /// to, the track at fault named. ffmpeg failed: its last words name the
    /// video's pipe, else no audio came at all, else its words name the
    /// audio (its pipe, input #1, `1:a`), else the mux of both failed.
    /// ffmpeg ended well: no audio came, or the audio's feeding failed.
    pub(super) fn blame(self, done: Result<PathBuf, MergeError>) -> Result<PathBuf, MergeError> {
        let audio_error = match (self.fed, self.ended) {
            (false, _) => Some(MergeError::NoAudio),
            (true, Some(Err(e))) => Some(MergeError::Audio(Box::new(MergeError::Feed(e)))),
            _ => None,
        };
        match (done, audio_error) {
            (Ok(file), None) => Ok(file),
            (Ok(file), Some(e)) => {
                let _ = store::remove_file(&file);
                Err(e)
            }
            (Err(MergeError::Failed { status, last }), audio) => Err(if last.contains("pipe:0") {
                MergeError::Failed { status, last }
            } else if matches!(audio, Some(MergeError::NoAudio)) {
                MergeError::NoAudio
            } else if names_audio(&last) {
                MergeError::Audio(Box::new(MergeError::Failed { status, last }))
            } else {
                MergeError::Mux { status, last }
            }),
            (Err(e), _) => Err(e),
        }
    }
}

/// Whether ffmpeg's line names the audio's input: its pipe, its input
/// number, or its streams (`-map 1:a`).
fn names_audio(line: &str) -> bool {
    line.contains("Input #1")
        || line.contains("'1:a'")
        || (line.contains("pipe:") && !line.contains("pipe:0"))
}

/// The read end of the audio's pipe under a descriptor of at least 3
/// (close-on-exec): the child's 0-2 are set up before [`inherit`]'s hook
/// runs, and a process started with one of them closed could have been
/// given that number for the pipe.
#[cfg(unix)]
fn audio_fd(reader: io::PipeReader) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: fcntl on a descriptor this process owns.
    let n = unsafe { libc::fcntl(reader.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `n` was just returned by fcntl: open, and owned by no one else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(n) })
}

#[cfg(unix)]
fn raw(fd: &std::os::fd::OwnedFd) -> i32 {
    std::os::fd::AsRawFd::as_raw_fd(fd)
}

/// Lets the child (and it alone) keep `fd` open across exec: its
/// close-on-exec flag is cleared after the fork. The descriptor is closed
/// in snatch when `cmd` is dropped, after the spawn.
#[cfg(unix)]
fn inherit(cmd: &mut std::process::Command, fd: std::os::fd::OwnedFd) {
    use std::os::unix::process::CommandExt;
    let n = raw(&fd);
    // SAFETY: the hook calls only fcntl, which is async-signal-safe, on a
    // descriptor the closure keeps open.
    unsafe {
        cmd.pre_exec(move || {
            let _open = &fd;
            if libc::fcntl(n, libc::F_SETFD, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn failed(last: &str) -> Result<PathBuf, MergeError> {
        let status = std::process::ExitStatus::from_raw(256);
        let last = last.to_string();
        Err(MergeError::Failed { status, last })
    }

    fn pipe(fed: bool, ended: io::Result<()>) -> AudioPipe {
        let ended = Some(ended);
        AudioPipe {
            feeder: None,
            ended,
            fed,
        }
    }

    fn text(r: Result<PathBuf, MergeError>) -> String {
        r.expect_err("a failure").to_string()
    }

    #[test]
    fn a_failure_of_the_joint_ffmpeg_names_the_track_its_words_name() {
        let broken = || Err(io::Error::from(io::ErrorKind::BrokenPipe));
        let video = "pipe:0: Invalid data found when processing input";
        assert_eq!(
            text(pipe(true, broken()).blame(failed(video))),
            format!("ffmpeg failed (exit status: 1): {video}")
        );
        let audio = "pipe:7: Invalid data found when processing input";
        assert_eq!(
            text(pipe(true, broken()).blame(failed(audio))),
            format!("the audio rendition: ffmpeg failed (exit status: 1): {audio}")
        );
        let map = "Stream map '1:a' matches no streams.";
        assert!(text(pipe(true, Ok(())).blame(failed(map))).starts_with("the audio rendition: "));
        assert_eq!(
            text(pipe(false, Ok(())).blame(failed(audio))),
            "no segment of the audio rendition was merged"
        );
        let other = "Conversion failed!";
        assert_eq!(
            text(pipe(true, Ok(())).blame(failed(other))),
            format!("ffmpeg could not add the audio rendition (exit status: 1): {other}")
        );
    }

    #[test]
    fn a_joint_ffmpeg_that_ended_well_is_not_whole_without_all_its_audio() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.mp4");
        std::fs::write(&file, b"x").unwrap();
        let r = pipe(false, Ok(())).blame(Ok(file.clone()));
        assert_eq!(text(r), "no segment of the audio rendition was merged");
        assert!(!file.exists(), "the file of a failed merge is removed");
        std::fs::write(&file, b"x").unwrap();
        let broken = io::Error::from(io::ErrorKind::BrokenPipe);
        let r = pipe(true, Err(broken)).blame(Ok(file.clone()));
        assert!(text(r).starts_with("the audio rendition: feeding ffmpeg failed"));
        assert!(!file.exists());
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(pipe(true, Ok(())).blame(Ok(file.clone())).unwrap(), file);
    }
}
