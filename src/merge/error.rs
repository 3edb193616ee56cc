//! What can go wrong in the merge stage, each with the words a job's
//! message carries.

use std::process::ExitStatus;

/// ffmpeg or ffprobe could not be found.
#[derive(Debug, thiserror::Error)]
pub enum ToolsError {
    #[error("{var} names {path}, which is not a file")]
    NotAFile { var: &'static str, path: String },
    #[error(
        "{name} was not found on the PATH; snatch merges with ffmpeg and checks with ffprobe. \
         Install ffmpeg (Debian/Ubuntu: `sudo apt-get install -y ffmpeg`; macOS: `brew install ffmpeg`) \
         or set {var} to the {name} binary"
    )]
    Missing {
        name: &'static str,
        var: &'static str,
    },
}

/// A merge that did not leave a file.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Waiting for ffmpeg failed (or the thread that waited did).
    #[error("ffmpeg: {0}")]
    Wait(std::io::Error),
    /// ffmpeg ended well, but not all of its input reached it.
    #[error("feeding ffmpeg failed: {0}")]
    Feed(std::io::Error),
    /// ffmpeg failed; `last` is the last line it wrote.
    #[error("ffmpeg failed ({status}): {last}")]
    Failed { status: ExitStatus, last: String },
    #[error("no segment of the audio rendition was merged")]
    NoAudio,
    #[error("the audio rendition: {0}")]
    Audio(Box<MergeError>),
    /// The file to mux the audio into could not be made.
    #[error("{0}")]
    Output(std::io::Error),
    #[error("cannot start ffmpeg to add the audio: {0}")]
    MuxStart(std::io::Error),
    #[error("ffmpeg could not add the audio rendition ({status}): {last}")]
    Mux { status: ExitStatus, last: String },
}

/// ffprobe could not tell what the merged file holds.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("ffprobe: {0}")]
    Start(std::io::Error),
    /// ffprobe's own words (its stderr, trimmed).
    #[error("ffprobe could not read the merged file: {0}")]
    Unreadable(String),
    #[error("ffprobe: {0}")]
    Output(serde_json::Error),
}
