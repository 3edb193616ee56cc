//! The merge: one ffmpeg per job reads the segments, in index order, as one
//! MPEG-TS stream on its stdin and stream-copies them into the output's
//! container; the result is then checked ([`probe`]): an MP4 by reading its
//! index in-process ([`mp4`]), anything else by ffprobe. Knows ffmpeg, not HTTP.
//! ffmpeg writes to a hidden name beside the output, unique to the process
//! ([`temp`]); only a verified file is renamed to the final name.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::state::store;

mod audio;
mod error;
mod joint;
pub mod mp4;
mod periods;
mod pipe;
mod probe;
mod remux;
pub mod temp;
mod tools;

pub use audio::AudioInput;
pub use error::{MergeError, ProbeError, ToolsError};
use pipe::{Feeder, Piece};
pub use probe::{
    probe, probe_file, verify, EarlyProbe, Expected, Mismatch, Probed, Unverified, Within,
};
pub use remux::RemuxError;
pub use tools::Tools;

use crate::common::Container;
use crate::plan::source::SegmentFormat;

/// Creates a hidden output file as a new file reached through no link
/// below `root`; the error names it, or the link refused.
fn fresh_output(root: &Path, temp: &Path) -> std::io::Result<std::fs::File> {
    store::create_fresh(root, temp).map_err(|e| match store::refused_link(&e) {
        Some(_) => e,
        None => std::io::Error::new(e.kind(), format!("cannot create {}: {e}", temp.display())),
    })
}

/// A path as ffmpeg and ffprobe must read it: as a file. Without the
/// `file:` prefix they take a path whose first component looks like a
/// protocol (an `output_dir` of `http://host/x` or `concat:a|b`, which a
/// job file may write) for a URL, and fetch or read something else.
/// Starts a tool in a process group of its own: a terminal's Ctrl-C
/// signals the whole foreground group, and ffmpeg or ffprobe must not take
/// it as theirs (failing a job that is only interrupted); snatch stops
/// them itself.
fn own_group(cmd: &mut std::process::Command) {
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    #[cfg(not(unix))]
    let _ = cmd;
}

fn file_arg(path: &Path) -> std::ffi::OsString {
    let mut arg = std::ffi::OsString::from("file:");
    arg.push(path);
    arg
}

/// The hidden name this process's ffmpeg writes to, beside the output.
pub fn temp_path(output: &Path) -> PathBuf {
    temp::temp_of(output, None)
}

/// ffmpeg's name of the input format.
fn input_format(format: SegmentFormat) -> &'static str {
    match format {
        SegmentFormat::Ts => "mpegts",
        SegmentFormat::Fmp4 => "mp4",
    }
}

/// ffmpeg, quiet but for errors, to overwrite its output.
fn ffmpeg(tools: &Tools) -> std::process::Command {
    let mut cmd = std::process::Command::new(&tools.ffmpeg);
    cmd.args(["-hide_banner", "-nostats", "-loglevel", "error", "-y"]);
    cmd
}

/// The output's format; AAC from MPEG-TS (`ts_audio`) is ADTS, and MP4
/// wants the AudioSpecificConfig.
fn output_args(cmd: &mut std::process::Command, container: Container, ts_audio: bool) {
    match container {
        Container::Mp4 if ts_audio => cmd.args(["-bsf:a", "aac_adtstoasc", "-f", "mp4"]),
        Container::Mp4 => cmd.args(["-f", "mp4"]),
        Container::Mkv => cmd.args(["-f", "matroska"]),
        Container::Ts => cmd.args(["-f", "mpegts"]),
    };
}

/// A complete segment as a piece of `feeder`'s input: its bytes when they
/// are in memory and the queue has room for them, else its range of the
/// spool.
fn piece_of(segment: Segment, feeder: &Feeder) -> Piece {
    match segment.body {
        Some(b) if feeder.has_room(b.len()) => Piece::Bytes(b),
        _ => Piece::Spool {
            offset: segment.offset,
            len: segment.len,
        },
    }
}

/// What a merge reads: the segments' format, and the spool file their
/// ranges are in.
#[derive(Debug, Clone)]
pub struct Input {
    pub format: SegmentFormat,
    pub spool: Option<PathBuf>,
    /// TS into MP4 may be remuxed in-process ([`remux`]); false: by ffmpeg.
    pub remux: bool,
}

/// A complete segment for the merge: where it is in the spool, and its
/// bytes when they are still in memory.
#[derive(Debug, Clone)]
pub struct Segment {
    pub offset: u64,
    pub len: u64,
    pub body: Option<bytes::Bytes>,
}

/// A running merge: ffmpeg, and a thread that writes its input into its
/// stdin in the order it is handed over (see [`feed`]).
pub struct Merge {
    child: Option<std::process::Child>,
    feeder: Option<Feeder>,
    stderr: Option<std::thread::JoinHandle<String>>,
    temp: PathBuf,
    /// A separate audio rendition: merged on its own, muxed in at the end.
    audio: Option<Box<audio::Audio>>,
    /// A separate audio rendition read by this same ffmpeg, on its own
    /// pipe ([`joint`]).
    joint: Option<joint::AudioPipe>,
    /// How to start this merge's ffmpeg again, for another DASH period.
    again: Option<Again>,
    /// The finished parts of the periods before the current one, each
    /// with where it is cut (seconds).
    parts: Vec<(PathBuf, Option<f64>)>,
    /// The in-process remux, in ffmpeg's place until it gives up.
    remux: Option<remux::Remux>,
}

/// What [`Merge::spawn`] was given, to start another period's ffmpeg.
#[derive(Debug, Clone)]
struct Again {
    tools: Tools,
    root: PathBuf,
    container: Container,
    input: Input,
}

impl Merge {
    /// Starts ffmpeg for `output` (below the output folder `root`),
    /// reading MPEG-TS segments. Nothing appears under the output's name.
    pub fn start(
        tools: &Tools,
        root: &Path,
        output: &Path,
        container: Container,
    ) -> std::io::Result<Merge> {
        let input = Input {
            format: SegmentFormat::Ts,
            spool: None,
            remux: false,
        };
        Merge::start_with_audio(tools, root, output, container, input, None)
    }

    /// Starts ffmpeg reading segments of `input.format` (for fMP4, the
    /// init segment is to be fed first: init and fragments read as one
    /// MP4), with a separate audio rendition, if any, fed through
    /// [`Merge::feed_audio`]: of one period on unix, read by the same
    /// ffmpeg ([`joint`]); else merged on its own and muxed in when the
    /// merge finishes.
    pub fn start_with_audio(
        tools: &Tools,
        root: &Path,
        output: &Path,
        container: Container,
        input: Input,
        audio: Option<AudioInput>,
    ) -> std::io::Result<Merge> {
        #[cfg(unix)]
        if let Some(a) = audio.as_ref().filter(|a| a.one_period) {
            let a = a.clone();
            return Merge::spawn_joint(tools, root, output, container, input, a);
        }
        let audio = audio.map(|a| {
            let spool = input.spool.clone();
            Box::new(audio::Audio::new(tools, root, output, container, a, spool))
        });
        let temp = match &audio {
            Some(a) => a.video_temp(),
            None => temp_path(output),
        };
        let ts_to_mp4 = container == Container::Mp4 && input.format == SegmentFormat::Ts;
        if ts_to_mp4 && input.remux && audio.is_none() {
            return Merge::remuxing(tools, root, temp, input);
        }
        Merge::spawn(tools, root, temp, container, input, audio)
    }

    /// Starts one ffmpeg writing `temp`. snatch creates the hidden file
    /// itself, as a new file reached through no link, and ffmpeg writes to
    /// it through its stdout (`file:/dev/stdout` stays seekable, which MP4
    /// needs), so a link planted at that name cannot make ffmpeg write
    /// anywhere else. The error says which of the two failed.
    fn spawn(
        tools: &Tools,
        root: &Path,
        temp: PathBuf,
        container: Container,
        input: Input,
        audio: Option<Box<audio::Audio>>,
    ) -> std::io::Result<Merge> {
        let format = input.format;
        let again = Again {
            tools: tools.clone(),
            root: root.to_path_buf(),
            container,
            input: input.clone(),
        };
        let mut cmd = ffmpeg(tools);
        cmd.args(["-f", input_format(format), "-i", "pipe:0"])
            .args(["-map", "0:v?", "-map", "0:a?", "-c", "copy"]);
        output_args(&mut cmd, container, format == SegmentFormat::Ts);
        let mut merge = Merge::launch(cmd, root, temp, input.spool, Some(again))?;
        merge.audio = audio;
        Ok(merge)
    }

    /// Starts `cmd` writing `temp`, its input on stdin fed by a thread.
    fn launch(
        mut cmd: std::process::Command,
        root: &Path,
        temp: PathBuf,
        spool: Option<PathBuf>,
        again: Option<Again>,
    ) -> std::io::Result<Merge> {
        let file = fresh_output(root, &temp)?;
        #[cfg(unix)]
        cmd.arg("file:/dev/stdout").stdout(Stdio::from(file));
        #[cfg(not(unix))]
        {
            drop(file);
            cmd.arg(file_arg(&temp)).stdout(Stdio::null());
        }
        cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
        own_group(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start ffmpeg: {e}")))?;
        let stdin = child.stdin.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut s);
            s
        });
        Ok(Merge {
            child: Some(child),
            feeder: Some(Feeder::start(stdin, spool)),
            stderr: Some(stderr),
            temp,
            audio: None,
            joint: None,
            again,
            parts: Vec::new(),
            remux: None,
        })
    }

    /// Takes over `other`'s ffmpeg (started on this merge's file), which
    /// then holds nothing to stop.
    fn take_child_of(&mut self, mut other: Merge) {
        self.child = other.child.take();
        self.feeder = other.feeder.take();
        self.stderr = other.stderr.take();
    }

    /// Queues the init segment of the next DASH period of the audio
    /// rendition (see [`Merge::next_period`]).
    pub fn next_audio_period(&mut self, init: &Path, after: Option<f64>) -> Result<(), MergeError> {
        match &mut self.audio {
            Some(a) => a.next_period(init, after),
            None => Err(MergeError::NoAudio),
        }
    }

    /// Queues one complete segment of the audio rendition.
    pub fn feed_audio(&mut self, segment: Segment) -> std::io::Result<()> {
        if self.joint.is_some() {
            return self.feed_joint_audio(segment);
        }
        match &mut self.audio {
            Some(a) => a.feed(segment),
            None => Err(std::io::Error::other("this merge has no audio rendition")),
        }
    }

    /// Queues one whole file (an init segment); it is copied in order.
    pub fn feed_file(&mut self, path: &Path) -> std::io::Result<()> {
        if self.remux.is_some() {
            self.fall_back().map_err(std::io::Error::other)?;
        }
        self.send(Piece::File(path.to_path_buf()))
    }

    /// Queues one complete segment: its bytes when they are in memory and
    /// the queue has room for them, else its range of the spool.
    pub fn feed(&mut self, segment: Segment) -> std::io::Result<()> {
        if self.remux.is_some() {
            return self.remux_feed(segment);
        }
        let piece = match &self.feeder {
            Some(f) => piece_of(segment, f),
            None => return Err(std::io::Error::other("the merge input is closed")),
        };
        self.send(piece)
    }

    /// Hands one piece to the feeding thread. An error means ffmpeg
    /// stopped reading.
    fn send(&mut self, piece: Piece) -> std::io::Result<()> {
        match &self.feeder {
            Some(f) => f.send(piece),
            None => Err(std::io::Error::other("the merge input is closed")),
        }
    }

    /// Ends the input and waits for ffmpeg. Returns the temporary file.
    pub async fn finish(mut self) -> Result<PathBuf, MergeError> {
        tokio::task::spawn_blocking(move || self.finish_blocking())
            .await
            .map_err(|e| MergeError::Wait(std::io::Error::other(e)))?
    }

    fn finish_blocking(&mut self) -> Result<PathBuf, MergeError> {
        if self.remux.is_some() {
            return self.remux_finish();
        }
        let done = self.end_child();
        let done = match self.joint.take() {
            Some(audio) => audio.blame(done)?,
            None => done?,
        };
        let done = self.join_parts(done)?;
        match self.audio.take() {
            Some(mut a) => a.mux_into(&done),
            None => Ok(done),
        }
    }

    /// Ends the input and waits for the current ffmpeg: its file, whole.
    fn end_child(&mut self) -> Result<PathBuf, MergeError> {
        let fed = self.close_input();
        let status = self
            .child
            .take()
            .expect("running")
            .wait()
            .map_err(MergeError::Wait)?;
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        let last = error::last_words(&stderr);
        // ffmpeg 5.1 exits 0 after its last writes failed: its words
        // decide too.
        if let Some(fault) = error::write_fault(&stderr, &self.temp) {
            let _ = store::remove_file(&self.temp);
            return Err(fault);
        }
        match (status.success(), fed) {
            (true, Ok(())) => Ok(self.temp.clone()),
            (true, Err(e)) => {
                let _ = store::remove_file(&self.temp);
                Err(MergeError::Feed(e))
            }
            (false, _) => {
                let _ = store::remove_file(&self.temp);
                Err(MergeError::Failed { status, last })
            }
        }
    }

    /// Closes ffmpeg's input (inputs) once everything queued is copied.
    fn close_input(&mut self) -> std::io::Result<()> {
        match self.joint.is_some() {
            true => self.close_inputs(),
            false => self.feeder.take().map_or(Ok(()), Feeder::close),
        }
    }

    /// After a segment could not be fed (ffmpeg stopped reading: it is
    /// ending), what ffmpeg itself says once it ended. `None` when it does
    /// not end within a moment (its input failed on snatch's side), and
    /// for a merge with an audio merge of its own, whose video ffmpeg may
    /// be well: it is stopped, as by [`Merge::abort`].
    pub async fn stopped(mut self) -> Option<MergeError> {
        if self.audio.is_some() {
            self.abort().await;
            return None;
        }
        let said = tokio::task::spawn_blocking(move || {
            if let Some(child) = &mut self.child {
                let ended = (0..100).any(|_| {
                    let done = matches!(child.try_wait(), Ok(Some(_)) | Err(_));
                    if !done {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    done
                });
                if !ended {
                    return None;
                }
            }
            match self.finish_blocking() {
                Ok(file) => {
                    let _ = store::remove_file(&file);
                    None
                }
                Err(e) => Some(e),
            }
        });
        said.await.ok().flatten()
    }

    /// Stops ffmpeg and removes its file (a merge that was dropped
    /// unfinished does the same).
    pub async fn abort(mut self) {
        let _ = tokio::task::spawn_blocking(move || self.kill()).await;
    }

    fn kill(&mut self) {
        if let Some(mut r) = self.remux.take() {
            r.abort();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            // With ffmpeg gone, the feeding thread ends on a broken pipe.
            let _ = self.close_input();
            let _ = child.wait();
            let _ = store::remove_file(&self.temp);
        }
    }
}

impl Drop for Merge {
    fn drop(&mut self) {
        self.kill();
        for (p, _) in self.parts.drain(..) {
            let _ = store::remove_file(&p);
        }
    }
}
