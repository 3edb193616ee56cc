//! DASH content made by ffmpeg 5.1 (`-f dash`) and hand-written MPDs
//! derived from it, each in its own folder under the target folder,
//! cached like the HLS playlists (made once, then reused; a folder is
//! complete once it is in place: it is made beside and renamed).
//!
//! Every fixture is 6 s of 10 fps H.264 video (a keyframe a second) and
//! mono AAC, in 2 s segments, and returns a [`Dash`]: the folder, the MPD
//! file name in it, and what a download of it must give. Made by ffmpeg:
//! [`timeline`], [`duration`], [`time`], [`single_file`], [`two_videos`];
//! hand-written from those ([`hand`]): [`segment_list`], [`segment_base`],
//! [`base_urls`], [`two_periods`], [`protected`], [`dynamic`]. [`xml`]
//! reads an MPD's elements, to check a fixture is what it claims.
//!
//! What ffmpeg 5.1 writes, and the fixtures keep or mend:
//! - `-use_timeline 0` writes a fourth audio segment of one AAC frame
//!   that the MPD's `@duration` never addresses (three segments of 2 s).
//! - With `$Time$`, ffmpeg names the first audio segment by its decode
//!   time, `-1024` (the AAC priming), while the timeline says `t="0"`:
//!   [`time`] renames that file to the name the MPD addresses.
//! - `-single_file 1` writes a `SegmentList` of `SegmentURL@mediaRange`
//!   (with an `@indexRange` each) on one file per representation, not a
//!   `SegmentBase`; `-global_sidx 1` puts one `sidx` for the whole file
//!   after the `moov`, from which [`segment_base`] is written.

pub mod hand;
pub mod xml;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

// Not every test binary calls them.
#[allow(unused_imports)]
pub use hand::{base_urls, dynamic, protected, segment_base, segment_list, two_periods};

static LOCK: Mutex<()> = Mutex::new(());

/// The key ID written in [`protected`]'s `cenc:default_KID`.
pub const KID: &str = "10000000-1000-1000-1000-100000000001";

/// A folder of DASH content.
#[derive(Debug, Clone)]
pub struct Dash {
    pub dir: PathBuf,
    /// The MPD's file name in `dir`.
    pub mpd: &'static str,
    /// Seconds a whole download lasts (all periods).
    pub secs: f64,
    /// The stream types of a whole download, as ffprobe names them:
    /// the chosen video and the audio.
    pub streams: &'static [&'static str],
    /// The heights of the video representations, in MPD order.
    pub heights: &'static [u64],
}

impl Dash {
    /// The MPD's path.
    pub fn mpd_path(&self) -> PathBuf {
        self.dir.join(self.mpd)
    }

    /// The MPD's text.
    pub fn mpd_text(&self) -> String {
        std::fs::read_to_string(self.mpd_path()).unwrap()
    }
}

/// What every fixture but [`two_videos`] gives.
fn plain(dir: PathBuf) -> Dash {
    Dash {
        dir,
        mpd: "manifest.mpd",
        secs: 6.0,
        streams: &["video", "audio"],
        heights: &[90],
    }
}

/// The lock every fixture takes while it makes or reads its folder.
pub(crate) fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `target/tmp/dash/name`, made by `make` into a fresh folder beside it
/// unless it is there already. The caller holds [`lock`].
pub(crate) fn cached(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dash");
    let dir = root.join(name);
    if dir.exists() {
        return dir;
    }
    let fresh = root.join(format!(".{name}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    std::fs::create_dir_all(&fresh).unwrap();
    make(&fresh);
    if std::fs::rename(&fresh, &dir).is_err() {
        // Made by another test binary meanwhile.
        let _ = std::fs::remove_dir_all(&fresh);
    }
    dir
}

/// The source of every fixture: `secs` seconds of a test pattern (video)
/// and a tone (audio).
pub(crate) struct Source<'a> {
    pub pattern: &'a str,
    pub size: &'a str,
    pub tone: u32,
    pub secs: u32,
}

impl Default for Source<'_> {
    fn default() -> Self {
        Source {
            pattern: "testsrc2",
            size: "160x90",
            tone: 440,
            secs: 6,
        }
    }
}

/// Runs ffmpeg in `dir` on `source` with these options, then `-f dash
/// -seg_duration 2` and the DASH options, writing `mpd`.
pub(crate) fn ffmpeg(dir: &Path, source: &Source, options: &[&str], dash: &[&str], mpd: &str) {
    let status = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .arg("-i")
        .arg(format!("{}=size={}:rate=10", source.pattern, source.size))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency={}:sample_rate=22050", source.tone))
        .args(["-t", &source.secs.to_string()])
        .args(options)
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "10"])
        .args([
            "-keyint_min",
            "10",
            "-sc_threshold",
            "0",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-b:a", "32k", "-ac", "1"])
        .args(["-f", "dash", "-seg_duration", "2"])
        .args(dash)
        .arg(mpd)
        .status()
        .expect("ffmpeg runs (install ffmpeg)");
    assert!(
        status.success(),
        "ffmpeg made no {mpd} in {}",
        dir.display()
    );
}

/// One video and one audio stream at 100 kb/s.
const ONE: [&str; 2] = ["-b:v", "100k"];

/// `SegmentTemplate` with a `SegmentTimeline` (`r` repeats for the video),
/// `$Number%05d$` names: `init-stream0.m4s`, `chunk-stream0-00001.m4s`, …
/// (representation 0 is the video, 1 the audio).
pub fn timeline() -> Dash {
    let _guard = lock();
    plain(made_timeline())
}

pub(crate) fn made_timeline() -> PathBuf {
    cached("timeline", |dir| {
        ffmpeg(dir, &Source::default(), &ONE, &[], "manifest.mpd")
    })
}

/// `SegmentTemplate@duration` (no timeline), `$Number%05d$` names.
pub fn duration() -> Dash {
    let _guard = lock();
    plain(cached("duration", |dir| {
        let dash = ["-use_timeline", "0"];
        ffmpeg(dir, &Source::default(), &ONE, &dash, "manifest.mpd")
    }))
}

/// `SegmentTemplate` with a `SegmentTimeline` and `$Time$` names:
/// `chunk-0-0.m4s`, `chunk-0-20480.m4s`, … (video, timescale 10240) and
/// `chunk-1-0.m4s`, `chunk-1-44032.m4s`, … (audio, 22050).
pub fn time() -> Dash {
    let _guard = lock();
    plain(cached("time", |dir| {
        let dash = ["-media_seg_name", "chunk-$RepresentationID$-$Time$.$ext$"];
        ffmpeg(dir, &Source::default(), &ONE, &dash, "manifest.mpd");
        // The name of the time the MPD says, not of the decode time.
        std::fs::rename(dir.join("chunk-1--1024.m4s"), dir.join("chunk-1-0.m4s"))
            .expect("ffmpeg 5.1 names the first audio segment -1024");
    }))
}

/// One file per representation (`manifest-stream0.mp4`, video, and
/// `manifest-stream1.mp4`, audio) addressed by a `SegmentList` of
/// `SegmentURL@mediaRange` (each with an `@indexRange`: a `sidx` per
/// segment) and `Initialization@range`, below a `BaseURL` of the file.
pub fn single_file() -> Dash {
    let _guard = lock();
    plain(cached("single_file", |dir| {
        let dash = ["-single_file", "1"];
        ffmpeg(dir, &Source::default(), &ONE, &dash, "manifest.mpd")
    }))
}

/// As [`single_file`], with one `sidx` for the whole file after the
/// `moov` (`-global_sidx 1`), included in `Initialization@range`.
pub(crate) fn made_global_sidx() -> PathBuf {
    cached("global_sidx", |dir| {
        let dash = ["-single_file", "1", "-global_sidx", "1"];
        ffmpeg(dir, &Source::default(), &ONE, &dash, "manifest.mpd")
    })
}

/// Two video representations in one adaptation set (`0`: 160x90 at
/// 100 kb/s, `1`: 320x180 at 300 kb/s) and the audio (`2`) in a second
/// one, timeline and `$Number%05d$` names. A download of the best video
/// is 180 high.
pub fn two_videos() -> Dash {
    let _guard = lock();
    let dir = cached("two_videos", |dir| {
        let source = Source {
            size: "320x180",
            ..Source::default()
        };
        let options = [
            "-map", "0:v", "-map", "0:v", "-map", "1:a", "-s:v:0", "160x90", "-b:v:0", "100k",
            "-s:v:1", "320x180", "-b:v:1", "300k",
        ];
        let dash = ["-adaptation_sets", "id=0,streams=v id=1,streams=a"];
        ffmpeg(dir, &source, &options, &dash, "manifest.mpd")
    });
    Dash {
        heights: &[90, 180],
        ..plain(dir)
    }
}

/// The top-level boxes of an MP4 file: (type, first byte, size).
pub fn boxes(file: &[u8]) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= file.len() {
        let size = u32::from_be_bytes(file[pos..pos + 4].try_into().unwrap()) as usize;
        assert!(size >= 8, "a box of {size} bytes at {pos}");
        let kind = String::from_utf8_lossy(&file[pos + 4..pos + 8]).into_owned();
        out.push((kind, pos as u64, size as u64));
        pos += size;
    }
    assert_eq!(pos, file.len(), "the boxes end where the file does");
    out
}

/// The one `kind` box of a file: (first byte, last byte).
pub fn the_box(file: &[u8], kind: &str) -> (u64, u64) {
    let found: Vec<_> = boxes(file).into_iter().filter(|b| b.0 == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} box");
    (found[0].1, found[0].1 + found[0].2 - 1)
}
