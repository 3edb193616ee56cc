//! The segment index parser (`snatch::media::sidx`) on files ffmpeg 5.1
//! makes fresh: a DASH representation in one file with a global `sidx`
//! (`-f dash -single_file 1 -global_sidx 1`), whose subsegments must be
//! the byte ranges ffmpeg itself wrote in the MPD's `SegmentURL@mediaRange`,
//! and a fragmented MP4 (`-movflags +global_sidx`). In both the
//! subsegments tile the media after the index exactly, each a `moof` and
//! its `mdat`, and their durations add up to the file's 6 s.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use snatch::media::sidx::{self, Subsegment};

static LOCK: Mutex<()> = Mutex::new(());

/// Makes (once) `name` in a cached folder with these ffmpeg output options
/// on 6 s of 160x90 video at 10 fps (a keyframe a second) and mono AAC.
fn made(name: &str, out: &str, options: &[&str]) -> PathBuf {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sidx/{name}"));
    let done = dir.join(".complete");
    if done.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050"])
        .args(["-t", "6", "-c:v", "libx264", "-preset", "ultrafast"])
        .args(["-g", "10", "-keyint_min", "10", "-sc_threshold", "0"])
        .args(["-b:v", "100k", "-c:a", "aac", "-b:a", "32k", "-ac", "1"])
        .args(options)
        .arg(dir.join(out))
        .status()
        .expect("ffmpeg runs (install ffmpeg)");
    assert!(status.success(), "ffmpeg made no {name}");
    std::fs::write(&done, "").unwrap();
    dir
}

/// The top-level boxes of a file: (type, first byte, size).
fn boxes(file: &[u8]) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos + 8 <= file.len() {
        let size = u32::from_be_bytes(file[pos..pos + 4].try_into().unwrap()) as usize;
        assert!(size >= 8, "a box of {size} bytes at {pos}");
        let kind = String::from_utf8_lossy(&file[pos + 4..pos + 8]).into_owned();
        out.push((kind, pos as u64, size as u64));
        pos += size;
    }
    assert_eq!(pos, file.len(), "boxes end where the file does");
    out
}

/// The file's one `sidx` read from its bytes as an index range (the box
/// alone, at its place in the file), and the byte after it.
fn index_of(file: &[u8]) -> (Vec<Subsegment>, u64) {
    let all = boxes(file);
    let found: Vec<_> = all.iter().filter(|b| b.0 == "sidx").collect();
    assert_eq!(found.len(), 1, "one global sidx: {all:?}");
    let (_, at, size) = *found[0];
    let range = &file[at as usize..(at + size) as usize];
    (sidx::parse(range, at).unwrap(), at + size)
}

/// Subsegments that start right after the index, follow each other with
/// no gap and no overlap, end on the last byte of the last `mdat`, and
/// each hold one `moof` and then one `mdat`.
fn assert_tiles(file: &[u8], subs: &[Subsegment], after_index: u64) {
    assert_eq!(subs[0].first, after_index);
    for w in subs.windows(2) {
        assert_eq!(w[1].first, w[0].last + 1, "{subs:?}");
    }
    let all = boxes(file);
    let mdat = all.iter().rev().find(|b| b.0 == "mdat").unwrap();
    assert_eq!(subs.last().unwrap().last, mdat.1 + mdat.2 - 1);
    for s in subs {
        let inside: Vec<_> = all
            .iter()
            .filter(|b| b.1 >= s.first && b.1 <= s.last)
            .map(|b| b.0.as_str())
            .collect();
        assert_eq!(inside, ["moof", "mdat"], "{s:?}");
        assert!(s.starts_with_sap, "{s:?}");
    }
}

/// `(first, last)` of each `mediaRange="first-last"` in an MPD.
fn media_ranges(mpd: &str) -> Vec<(u64, u64)> {
    mpd.split("mediaRange=\"")
        .skip(1)
        .map(|rest| {
            let range = &rest[..rest.find('"').unwrap()];
            let (a, b) = range.split_once('-').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

fn total(subs: &[Subsegment]) -> f64 {
    subs.iter().map(|s| s.duration).sum()
}

#[test]
fn ffmpeg_dash_global_sidx_gives_the_ranges_of_its_mpd() {
    let options = ["-f", "dash", "-seg_duration", "2", "-single_file", "1"];
    let dir = made(
        "dash",
        "manifest.mpd",
        &[&options[..], &["-global_sidx", "1"]].concat(),
    );
    let mpd = std::fs::read_to_string(dir.join("manifest.mpd")).unwrap();
    let mut from_mpd = media_ranges(&mpd).into_iter();
    for stream in ["manifest-stream0.mp4", "manifest-stream1.mp4"] {
        let file = std::fs::read(dir.join(stream)).unwrap();
        let (subs, after) = index_of(&file);
        assert_eq!(subs.len(), 3, "{stream}: three 2 s segments");
        assert_tiles(&file, &subs, after);
        assert_eq!(subs[2].last, file.len() as u64 - 1, "{stream}: to the end");
        let ranges: Vec<_> = subs.iter().map(|s| (s.first, s.last)).collect();
        let written: Vec<_> = from_mpd.by_ref().take(3).collect();
        assert_eq!(ranges, written, "{stream}: the MPD's mediaRange values");
        assert!((total(&subs) - 6.0).abs() < 0.05, "{stream}: {subs:?}");
        assert_eq!(subs[0].start, 0.0);
        for w in subs.windows(2) {
            assert!((w[1].start - w[0].start - w[0].duration).abs() < 1e-9);
        }
    }
}

#[test]
fn ffmpeg_fragmented_mp4_global_sidx_tiles_the_file() {
    let flags = "+frag_keyframe+empty_moov+default_base_moof+global_sidx";
    let options = [
        "-map",
        "0:v",
        "-movflags",
        flags,
        "-frag_duration",
        "1000000",
    ];
    let dir = made("mp4", "video.mp4", &options);
    let file = std::fs::read(dir.join("video.mp4")).unwrap();
    let (subs, after) = index_of(&file);
    assert_eq!(subs.len(), 6, "a fragment a second: {subs:?}");
    assert_tiles(&file, &subs, after);
    // ffmpeg's mp4 muxer ends the file with an index of fragments.
    assert_eq!(boxes(&file).last().unwrap().0, "mfra");
    assert!((total(&subs) - 6.0).abs() < 0.05, "{subs:?}");
    // The same index read from a range that starts earlier (the moov
    // before it too) gives the same subsegments.
    let moov = boxes(&file).into_iter().find(|b| b.0 == "moov").unwrap();
    let wider = &file[moov.1 as usize..after as usize];
    assert_eq!(sidx::parse(wider, moov.1).unwrap(), subs);
}
