//! A separate audio rendition (HLS `EXT-X-MEDIA TYPE=AUDIO`, a DASH audio
//! adaptation set) where one ffmpeg cannot read it beside the video (a
//! DASH MPD of several periods, or not unix; else see `joint`): its
//! segments are merged by their own ffmpeg into a hidden file, and when
//! both merges finish, one more ffmpeg stream-copies the video of the one
//! and the audio of the other into the job's temporary output.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{file_arg, fresh_output, temp_path, Input, Merge, MergeError, Segment, Tools};
use crate::common::Container;
use crate::plan::source::SegmentFormat;
use crate::state::store;

/// The audio rendition's segment format and init segment (fMP4), and
/// whether it has one period only (then, on unix, the video's ffmpeg
/// reads it too: see `joint`).
#[derive(Debug, Clone)]
pub struct AudioInput {
    pub format: SegmentFormat,
    pub init: Option<PathBuf>,
    pub one_period: bool,
}

pub(super) struct Audio {
    tools: Tools,
    /// The output folder: every file below it is made through no link.
    root: PathBuf,
    output: PathBuf,
    container: Container,
    input: AudioInput,
    /// The spool the audio segments are in (the job's).
    spool: Option<PathBuf>,
    /// Started with the first audio segment.
    merge: Option<Merge>,
}

impl Audio {
    pub fn new(
        tools: &Tools,
        root: &Path,
        output: &Path,
        container: Container,
        input: AudioInput,
        spool: Option<PathBuf>,
    ) -> Audio {
        Audio {
            tools: tools.clone(),
            root: root.to_path_buf(),
            output: output.to_path_buf(),
            container,
            input,
            spool,
            merge: None,
        }
    }

    /// Where the video merge writes, beside the output.
    pub fn video_temp(&self) -> PathBuf {
        beside(&self.output, "video")
    }

    fn audio_temp(&self) -> PathBuf {
        beside(&self.output, "audio")
    }

    /// Queues an audio segment; the first starts the audio merge (and
    /// feeds its init segment).
    pub fn feed(&mut self, segment: Segment) -> std::io::Result<()> {
        if self.merge.is_none() {
            let input = Input {
                format: self.input.format,
                spool: self.spool.clone(),
                remux: false,
            };
            let mut merge = Merge::spawn(
                &self.tools,
                &self.root,
                self.audio_temp(),
                self.container,
                input,
                None,
            )?;
            if let Some(init) = &self.input.init {
                merge.feed_file(init)?;
            }
            self.merge = Some(merge);
        }
        self.merge.as_mut().expect("started above").feed(segment)
    }

    /// The next DASH period of the audio: see [`Merge::next_period`].
    pub fn next_period(&mut self, init: &Path, after: Option<f64>) -> Result<(), MergeError> {
        match &mut self.merge {
            Some(m) => m.next_period(init, after),
            None => Err(MergeError::NoAudio),
        }
    }

    /// Finishes the audio merge and muxes `video` (finished) with it into
    /// the job's temporary output; the two hidden files go.
    pub fn mux_into(&mut self, video: &Path) -> Result<PathBuf, MergeError> {
        let audio = match self.merge.take() {
            Some(mut m) => m.finish_blocking(),
            None => Err(MergeError::NoAudio),
        };
        let audio = match audio {
            Ok(a) => a,
            Err(e) => {
                let _ = store::remove_file(video);
                return Err(MergeError::Audio(Box::new(e)));
            }
        };
        let out = temp_path(&self.output);
        let muxed = self.mux(video, &audio, &out);
        let _ = store::remove_file(video);
        let _ = store::remove_file(&audio);
        if muxed.is_err() {
            let _ = store::remove_file(&out);
        }
        muxed.map(|()| out)
    }

    /// Muxes into `out`, a new file made through no link; ffmpeg writes it
    /// through its stdout, as in [`Merge::spawn`].
    fn mux(&self, video: &Path, audio: &Path, out: &Path) -> Result<(), MergeError> {
        let file = fresh_output(&self.root, out).map_err(MergeError::Output)?;
        let mut cmd = std::process::Command::new(&self.tools.ffmpeg);
        cmd.args(["-hide_banner", "-nostats", "-loglevel", "error", "-y"])
            .arg("-i")
            .arg(file_arg(video))
            .arg("-i")
            .arg(file_arg(audio))
            .args(["-map", "0:v", "-map", "1:a", "-c", "copy"])
            .args(["-f", muxer(self.container)]);
        #[cfg(unix)]
        cmd.arg("file:/dev/stdout").stdout(Stdio::from(file));
        #[cfg(not(unix))]
        {
            drop(file);
            cmd.arg(file_arg(out)).stdout(Stdio::null());
        }
        super::own_group(&mut cmd);
        let done = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(MergeError::MuxStart)?;
        super::error::mux_verdict(&done, out)
    }
}

/// A hidden name beside the output for one track.
fn beside(output: &Path, track: &str) -> PathBuf {
    super::temp::temp_of(output, Some(track))
}

pub(super) fn muxer(container: Container) -> &'static str {
    match container {
        Container::Mp4 => "mp4",
        Container::Mkv => "matroska",
        Container::Ts => "mpegts",
    }
}
