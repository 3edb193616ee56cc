//! What can go wrong in the merge stage, each with the words a job's
//! message carries.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use crate::common::diag::display_path;
use crate::common::disk::FULL_WORDS;

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
    /// ffmpeg could not write the merged file `file` for lack of room,
    /// whatever its exit status (ffmpeg 5.1 exits 0 after its last writes
    /// failed); `said` is the system's words.
    #[error("{}", crate::common::disk::full("ffmpeg could not write the merged file", folder_of(.file), .said))]
    DiskFull { file: PathBuf, said: String },
    /// ffmpeg said a write of `file` failed, whatever its exit status.
    #[error("ffmpeg could not write the merged file {}: {said}; every saved segment is kept", display_path(.file))]
    WriteFailed { file: PathBuf, said: String },
    #[error("no segment of the audio rendition was merged")]
    NoAudio,
    #[error("the audio rendition: {0}")]
    Audio(Box<MergeError>),
    /// The file to mux the audio into could not be made.
    #[error("{0}")]
    Output(std::io::Error),
    #[error("cannot start ffmpeg to add the audio: {0}")]
    MuxStart(std::io::Error),
    /// The in-process merge failed (not for a stream it does not take:
    /// ffmpeg merges those).
    #[error("{0}")]
    Remux(super::RemuxError),
    #[error("ffmpeg could not add the audio rendition ({status}): {last}")]
    Mux { status: ExitStatus, last: String },
}

/// ffprobe (or the in-process reading of an MP4) could not tell what the
/// merged file holds.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("ffprobe: {0}")]
    Start(std::io::Error),
    /// ffprobe's own words (its stderr, trimmed).
    #[error("ffprobe could not read the merged file: {0}")]
    Unreadable(String),
    #[error("ffprobe: {0}")]
    Output(serde_json::Error),
    /// The in-process reading of an MP4 found it broken: cut short, or
    /// without an index.
    #[error("the merged file cannot be read: {0}")]
    NotWhole(String),
}

/// The folder a file is in.
fn folder_of(file: &Path) -> &Path {
    file.parent().unwrap_or(file)
}

/// What ffmpeg says when writing its output failed (at `-loglevel error`):
/// a packet that could not be written, the trailer, the file's close.
const WRITE_ERRORS: [&str; 5] = [
    "Error writing trailer",
    "Error closing file",
    "av_interleaved_write_frame()",
    "Error muxing a packet",
    "Error submitting a packet to the muxer",
];

/// What a finished ffmpeg that wrote `out` in one pass (a mux, a join of
/// parts) says: a write fault on its stderr whatever its status, else its
/// failure with the last line it wrote.
pub(super) fn mux_verdict(done: &std::process::Output, out: &Path) -> Result<(), MergeError> {
    let stderr = String::from_utf8_lossy(&done.stderr);
    if let Some(fault) = write_fault(&stderr, out) {
        return Err(fault);
    }
    if done.status.success() {
        return Ok(());
    }
    Err(MergeError::Mux {
        status: done.status,
        last: last_words(&stderr),
    })
}

/// The last line ffmpeg wrote that says what went wrong: its hint after
/// a `-map` that matched nothing ("To ignore this, add a trailing '?'")
/// is passed over for the line before it, which names the stream.
pub(super) fn last_words(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("To ignore this"))
        .unwrap_or("no message")
        .to_string()
}

/// A failed write of `file` that ffmpeg's `stderr` reports, whatever its
/// exit status: a full disk, or another write error. ffmpeg writes to its
/// stdout (`file:/dev/stdout`); the words name `file` instead.
pub(super) fn write_fault(stderr: &str, file: &Path) -> Option<MergeError> {
    let file = file.to_path_buf();
    let full = FULL_WORDS.iter().find(|w| stderr.contains(*w));
    if let Some(words) = full {
        let said = words.to_string();
        return Some(MergeError::DiskFull { file, said });
    }
    let line = stderr
        .lines()
        .find(|l| WRITE_ERRORS.iter().any(|w| l.contains(w)))?;
    let said = line
        .trim()
        .replace("file:/dev/stdout", &display_path(&file));
    Some(MergeError::WriteFailed { file, said })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpeg_s_write_errors_are_found_whatever_its_status() {
        let file = Path::new("out/.v.mp4.1.snatch-part");
        let full = "Error writing trailer of file:/dev/stdout: No space left on device\n\
                    Error closing file file:/dev/stdout: No space left on device\n";
        let e = write_fault(full, file).expect("a full disk");
        assert!(matches!(e, MergeError::DiskFull { .. }));
        let text = e.to_string();
        assert!(
            text.contains("the disk is full") && text.contains("Free space in out,"),
            "{text}"
        );
        assert!(!text.contains("/dev/stdout"), "{text}");
        let io = "Error writing trailer of file:/dev/stdout: Input/output error\n";
        let e = write_fault(io, file).expect("a write error");
        assert_eq!(
            e.to_string(),
            "ffmpeg could not write the merged file out/.v.mp4.1.snatch-part: Error writing \
             trailer of out/.v.mp4.1.snatch-part: Input/output error; every saved segment is kept"
        );
        assert!(write_fault("[mpegts @ 0x1] Packet corrupt (stream = 0)\n", file).is_none());
        assert!(write_fault("", file).is_none());
    }
}
