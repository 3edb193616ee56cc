//! ffprobe's check of a merged file, and what it must show.
//!
//! Starting ffprobe costs about 0.1 s before it reads a byte (the dynamic
//! loader binding its libraries), and that used to come after ffmpeg, at
//! the end of every job. An [`EarlyProbe`] is started while ffmpeg still
//! works: it loads, opens FFmpeg's `concatf:` protocol on its stdin and
//! waits there. Once the merged file is whole, snatch writes its name to
//! that pipe and closes it; ffprobe then reads the file itself, through a
//! one-file list that reads and seeks as the file does. Should it fail for
//! any reason (an FFmpeg older than 5.0 has no `concatf:`), a direct
//! ffprobe of the file decides, as before.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::Ordering;

use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::{file_arg, ProbeError, Tools};
use crate::common::Tolerance;

/// What ffprobe is asked for, before the input: the file's length, and
/// each stream's type and own length (Matroska keeps a stream's length
/// in its `DURATION` tag only).
const ASK: [&str; 6] = [
    "-v",
    "error",
    "-show_entries",
    "format=duration:stream=codec_type,duration:stream_tags=DURATION",
    "-of",
    "json",
];

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Deserialize)]
struct ProbeStream {
    codec_type: Option<String>,
    duration: Option<String>,
    #[serde(default)]
    tags: ProbeTags,
}

#[derive(Deserialize, Default)]
struct ProbeTags {
    #[serde(rename = "DURATION")]
    duration: Option<String>,
}

impl ProbeStream {
    /// The stream's own length: its `duration`, else its `DURATION` tag.
    fn length(&self) -> Option<f64> {
        let seconds = self.duration.as_deref().and_then(|d| d.parse().ok());
        seconds
            .or_else(|| self.tags.duration.as_deref().and_then(clock_seconds))
            .filter(|s: &f64| s.is_finite() && *s >= 0.0)
    }
}

/// `H:MM:SS.fraction`, as Matroska's `DURATION` tag writes a length.
fn clock_seconds(text: &str) -> Option<f64> {
    let mut parts = text.trim().splitn(3, ':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let s: f64 = s.parse().ok()?;
    Some(f64::from(h) * 3600.0 + f64::from(m) * 60.0 + s)
}

#[derive(Deserialize)]
struct ProbeFormat {
    duration: Option<String>,
}

/// What ffprobe found in a merged file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    pub duration_s: f64,
    /// Stream types in file order: "video", "audio", …
    pub streams: Vec<String>,
    /// Each stream's own length, in the order of `streams`; None where the
    /// container gives none.
    pub stream_durations: Vec<Option<f64>>,
}

/// What ffprobe says of a file: duration and stream types.
pub async fn probe(tools: &Tools, file: &Path) -> Result<Probed, ProbeError> {
    let mut cmd = Command::new(&tools.ffprobe);
    cmd.args(ASK).arg(file_arg(file)).stdin(Stdio::null());
    super::own_group(cmd.as_std_mut());
    let out = cmd.output().await.map_err(ProbeError::Start)?;
    read_output(out)
}

/// ffprobe's answer: its JSON, or its own words when it failed.
fn read_output(out: std::process::Output) -> Result<Probed, ProbeError> {
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(ProbeError::Unreadable(said));
    }
    let p: Probe = serde_json::from_slice(&out.stdout).map_err(ProbeError::Output)?;
    let typed: Vec<&ProbeStream> = p
        .streams
        .iter()
        .filter(|s| s.codec_type.is_some())
        .collect();
    Ok(Probed {
        duration_s: p
            .format
            .and_then(|f| f.duration)
            .and_then(|d| d.parse().ok())
            .unwrap_or(0.0),
        streams: typed.iter().filter_map(|s| s.codec_type.clone()).collect(),
        stream_durations: typed.iter().map(|s| s.length()).collect(),
    })
}

/// An ffprobe started before the file it is to read is whole; it waits on
/// its stdin for the file's name. Dropped unused, it is killed; if snatch
/// dies, the pipe closes and ffprobe ends on the empty list.
pub struct EarlyProbe {
    child: tokio::process::Child,
}

impl EarlyProbe {
    /// Starts ffprobe reading a list of one file from its stdin. None when
    /// it cannot start, outside a Tokio runtime, or when an early probe
    /// already failed in this run where a direct one worked.
    pub fn start(tools: &Tools) -> Option<EarlyProbe> {
        if tools.early_refused.load(Ordering::Relaxed) {
            return None;
        }
        // Tokio's child processes need its runtime (spawning would panic).
        tokio::runtime::Handle::try_current().ok()?;
        let mut cmd = Command::new(&tools.ffprobe);
        super::own_group(cmd.as_std_mut());
        let child = cmd
            .args(ASK)
            // The list comes from the pipe and names a file; ffprobe may
            // open nothing else.
            .args(["-protocol_whitelist", "concatf,pipe,file"])
            .args(["-i", "concatf:pipe:0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        Some(EarlyProbe { child })
    }

    /// Tells ffprobe which file to read and waits for its answer.
    pub async fn read(self, file: &Path) -> Result<Probed, ProbeError> {
        let line = list_line(file).ok_or_else(|| {
            ProbeError::Unreadable("the path cannot be written in a concatf list".into())
        })?;
        self.read_listed(&line).await
    }

    async fn read_listed(mut self, line: &[u8]) -> Result<Probed, ProbeError> {
        let mut stdin = self.child.stdin.take().expect("piped");
        let told = stdin.write_all(line).await;
        if told.is_err() {
            // Never let ffprobe read a part of the line as a name.
            let _ = self.child.start_kill();
        }
        drop(stdin);
        let out = self
            .child
            .wait_with_output()
            .await
            .map_err(ProbeError::Start)?;
        let probed = read_output(out)?;
        told.map_err(ProbeError::Start)?;
        Ok(probed)
    }
}

/// Reads `file` in-process when it is an MP4 [`super::mp4`] covers; else
/// probes it with the early ffprobe if there is one, else (or if it
/// failed) with a direct one, whose answer then stands. An early probe
/// that failed where the direct one worked is not started again.
pub async fn probe_file(
    tools: &Tools,
    early: Option<EarlyProbe>,
    file: &Path,
) -> Result<Probed, ProbeError> {
    // An MP4 is read in-process; ffprobe only for what that does not cover.
    let path = file.to_path_buf();
    let read = tokio::task::spawn_blocking(move || super::mp4::read(&path))
        .await
        .map_err(|e| ProbeError::Start(std::io::Error::other(e)))?;
    if let Some(probed) = read? {
        return Ok(probed);
    }
    // A path the list cannot hold is probed directly; that says nothing
    // of this ffprobe.
    let (Some(early), Some(line)) = (early, list_line(file)) else {
        return probe(tools, file).await;
    };
    let why = match early.read_listed(&line).await {
        Ok(p) => return Ok(p),
        Err(e) => e,
    };
    let direct = probe(tools, file).await;
    if direct.is_ok() {
        tracing::debug!(
            file = %crate::common::diag::display_path(file),
            "ffprobe through concatf failed ({why}); probing directly from now on"
        );
        tools.early_refused.store(true, Ordering::Relaxed);
    }
    direct
}

/// The one line of the list: `file:` and the path, quoted as FFmpeg reads
/// a token (inside `'…'` every byte stands for itself, a `'` is written
/// `'\''`), so spaces, backslashes and line breaks in a name survive.
/// None for a path that has a NUL (the list is read as a C string) or
/// makes a line longer than the pipe writes at once: a line is never seen
/// in part.
fn list_line(file: &Path) -> Option<Vec<u8>> {
    const ATOMIC_PIPE_WRITE: usize = 4096;
    let name = path_bytes(file)?;
    let mut line = b"'file:".to_vec();
    for &b in name {
        match b {
            0 => return None,
            b'\'' => line.extend_from_slice(b"'\\''"),
            _ => line.push(b),
        }
    }
    line.extend_from_slice(b"'\n");
    (line.len() <= ATOMIC_PIPE_WRITE).then_some(line)
}

#[cfg(unix)]
fn path_bytes(file: &Path) -> Option<&[u8]> {
    use std::os::unix::ffi::OsStrExt;
    Some(file.as_os_str().as_bytes())
}

#[cfg(not(unix))]
fn path_bytes(file: &Path) -> Option<&[u8]> {
    file.to_str().map(str::as_bytes)
}

/// A merged file whose length is further from what the job implies than
/// its tolerance allows. The words (and the key that would match) are the
/// run's, which knows the kind of job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mismatch {
    /// Measured by ffprobe, in seconds.
    pub got: f64,
    /// What the job implies, in seconds.
    pub want: f64,
    pub tolerance: Tolerance,
}

impl Mismatch {
    /// Seconds off, either way.
    pub fn off(&self) -> f64 {
        (self.got - self.want).abs()
    }
}

/// Why a merged file did not pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Unverified {
    NoStreams,
    /// The file is missing a stream the job should have: "video", "audio".
    Missing(&'static str),
    /// The file as a whole is not the length the job implies.
    Length(Mismatch),
    /// One stream (the `number`th of the file, from 0) is not.
    Stream {
        kind: String,
        number: usize,
        mismatch: Mismatch,
    },
    /// One stream is shorter (or longer) than its segments' own
    /// timestamps add up to.
    Timestamps {
        kind: String,
        number: usize,
        got: f64,
        within: Within,
        tolerance: Tolerance,
    },
}

/// How long a stream must be, in seconds, from what its segments' own
/// timestamps add up to: at least `least`, and at most `most` where that
/// is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Within {
    pub least: f64,
    pub most: Option<f64>,
}

impl Within {
    /// Whether `got` lies within, widened by `tolerance`.
    fn holds(&self, got: f64, tolerance: Tolerance) -> bool {
        let short = got < self.least - tolerance.seconds_of(self.least);
        let long = self.most.is_some_and(|m| got > m + tolerance.seconds_of(m));
        !short && !long
    }
}

/// What a job implies of its merged file: the streams it must have, and
/// (when the job knows it) its length and how far off it may be, and how
/// long its video and audio streams must be by their segments' own
/// timestamps (where every segment told them), within `tolerance`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Expected {
    pub streams: &'static [&'static str],
    pub length: Option<(f64, Tolerance)>,
    pub video: Option<Within>,
    pub audio: Option<Within>,
    pub tolerance: Tolerance,
}

/// Checks what ffprobe found against what the job implies: every stream
/// it must have is there, and the file and each of its video and audio
/// streams (where the container tells their own length) are the length
/// expected.
pub fn verify(media: &Probed, expected: Expected) -> Result<(), Unverified> {
    if media.streams.is_empty() {
        return Err(Unverified::NoStreams);
    }
    if let Some(kind) = expected
        .streams
        .iter()
        .find(|k| !media.streams.contains(&k.to_string()))
    {
        return Err(Unverified::Missing(kind));
    }
    timestamps(media, &expected)?;
    let Some((want, tolerance)) = expected.length else {
        return Ok(());
    };
    let off = |got: f64| {
        let fits = (got - want).abs() <= tolerance.seconds_of(want);
        (!fits).then_some(Mismatch {
            got,
            want,
            tolerance,
        })
    };
    if let Some(m) = off(media.duration_s) {
        return Err(Unverified::Length(m));
    }
    let timed = media
        .streams
        .iter()
        .zip(&media.stream_durations)
        .enumerate();
    for (number, (kind, length)) in timed {
        let checked = kind == "video" || kind == "audio";
        if let Some(mismatch) = length.filter(|_| checked).and_then(off) {
            let kind = kind.clone();
            return Err(Unverified::Stream {
                kind,
                number,
                mismatch,
            });
        }
    }
    Ok(())
}

/// Checks each video and audio stream (where the container tells its
/// length) against what its segments' own timestamps add up to.
fn timestamps(media: &Probed, expected: &Expected) -> Result<(), Unverified> {
    let timed = media.streams.iter().zip(&media.stream_durations);
    for (number, (kind, length)) in timed.enumerate() {
        let within = match kind.as_str() {
            "video" => expected.video,
            "audio" => expected.audio,
            _ => None,
        };
        let (Some(within), Some(got)) = (within, *length) else {
            continue;
        };
        if !within.holds(got, expected.tolerance) {
            return Err(Unverified::Timestamps {
                kind: kind.clone(),
                number,
                got,
                within,
                tolerance: expected.tolerance,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probed(streams: &[(&str, Option<f64>)]) -> Probed {
        Probed {
            duration_s: 8.0,
            streams: streams.iter().map(|(k, _)| k.to_string()).collect(),
            stream_durations: streams.iter().map(|(_, d)| *d).collect(),
        }
    }

    const EIGHT: Option<(f64, Tolerance)> = Some((8.0, Tolerance::Percent(2.0)));

    #[test]
    fn each_stream_is_checked_against_the_length_expected() {
        let both = Expected {
            streams: &["video", "audio"],
            length: EIGHT,
            ..Expected::default()
        };
        let good = probed(&[("video", Some(8.0)), ("audio", Some(7.95))]);
        assert_eq!(verify(&good, both), Ok(()));
        let short = probed(&[("video", Some(8.0)), ("audio", Some(2.0))]);
        let Err(Unverified::Stream {
            kind,
            number,
            mismatch,
        }) = verify(&short, both)
        else {
            panic!("the short audio passed");
        };
        assert_eq!(
            (kind.as_str(), number, mismatch.got, mismatch.want),
            ("audio", 1, 2.0, 8.0)
        );
        // A stream whose length the container does not tell is not judged.
        assert_eq!(
            verify(&probed(&[("video", None), ("audio", None)]), both),
            Ok(())
        );
        let video_only = probed(&[("video", Some(8.0))]);
        assert_eq!(verify(&video_only, both), Err(Unverified::Missing("audio")));
        let anything = Expected::default();
        assert_eq!(verify(&short, anything), Ok(()));
    }

    #[test]
    fn each_stream_must_hold_what_its_segments_timestamps_add_up_to() {
        let timed = Expected {
            video: Some(Within {
                least: 7.9,
                most: Some(8.0),
            }),
            audio: Some(Within {
                least: 7.9,
                most: None,
            }),
            tolerance: Tolerance::Percent(2.0),
            ..Expected::default()
        };
        let good = probed(&[("video", Some(8.1)), ("audio", Some(9.0))]);
        assert_eq!(verify(&good, timed), Ok(()));
        let short = probed(&[("video", Some(8.0)), ("audio", Some(6.0))]);
        let Err(Unverified::Timestamps { kind, number, .. }) = verify(&short, timed) else {
            panic!("the short audio passed");
        };
        assert_eq!((kind.as_str(), number), ("audio", 1));
        let long = probed(&[("video", Some(8.5)), ("audio", Some(8.0))]);
        assert!(matches!(
            verify(&long, timed),
            Err(Unverified::Timestamps { number: 0, .. })
        ));
    }

    #[test]
    fn a_matroska_duration_tag_is_read_as_seconds() {
        assert_eq!(clock_seconds("00:00:02.089000000"), Some(2.089));
        assert_eq!(clock_seconds("01:02:03.5"), Some(3723.5));
        assert_eq!(clock_seconds("garbage"), None);
        assert_eq!(clock_seconds("1:2"), None);
    }

    #[test]
    fn a_list_line_quotes_the_path_as_ffmpeg_reads_a_token() {
        let line = list_line(Path::new("out/it's a \\ name.mp4")).unwrap();
        assert_eq!(line, b"'file:out/it'\\''s a \\ name.mp4'\n".to_vec());
    }

    #[test]
    fn a_path_the_list_cannot_hold_whole_has_no_line() {
        assert_eq!(list_line(&Path::new("out").join("a".repeat(4096))), None);
    }
}
