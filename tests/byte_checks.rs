//! The segment check on real media made by ffmpeg: every format snatch
//! accepts passes whole and in any chunking, and fails when cut short.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use snatch::fetch::{Check, Format};
use support::media::segments;

fn ffmpeg(dir: &Path, args: &[&str]) {
    let status = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args:?}");
}

const VIDEO: [&str; 4] = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10"];
const AUDIO: [&str; 4] = ["-f", "lavfi", "-i", "sine=frequency=440"];

/// Real segments of every accepted kind, with the format each must be.
fn samples(dir: &Path) -> Vec<(PathBuf, Format)> {
    let hls = [
        &VIDEO[..],
        &AUDIO[..],
        &["-t", "3", "-c:v", "libx264", "-g", "10", "-c:a", "aac"],
        &["-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "1"],
        &["-hls_fmp4_init_filename", "init.mp4", "v.m3u8"],
    ]
    .concat();
    ffmpeg(dir, &hls);
    let audio = |codec: &str, extra: &[&str], name: &str| {
        let args = [&AUDIO[..], &["-t", "2", "-c:a", codec], extra, &[name]].concat();
        ffmpeg(dir, &args);
    };
    audio("aac", &["-f", "adts"], "plain.aac");
    audio("aac", &["-f", "adts", "-write_id3v2", "1"], "tagged.aac");
    audio("libmp3lame", &["-f", "mp3"], "tagged.mp3");
    audio("mp2", &["-f", "mp2"], "plain.mp2");
    let ts = segments(2, 1).join("000001.ts");
    vec![
        (ts, Format::Ts),
        (dir.join("init.mp4"), Format::Mp4),
        (dir.join("v0.m4s"), Format::Mp4),
        (dir.join("v2.m4s"), Format::Mp4),
        (dir.join("plain.aac"), Format::Audio),
        (dir.join("tagged.aac"), Format::Audio),
        (dir.join("tagged.mp3"), Format::Audio),
        (dir.join("plain.mp2"), Format::Audio),
    ]
}

fn check(body: &[u8], chunk: usize) -> Result<Format, String> {
    let mut c = Check::new();
    for piece in body.chunks(chunk) {
        c.feed(piece).map_err(|e| e.to_string())?;
    }
    c.finish().map_err(|e| e.to_string())?;
    Ok(c.format().expect("told"))
}

#[test]
fn real_segments_of_every_accepted_kind_pass_and_fail_when_cut() {
    let dir = tempfile::tempdir().unwrap();
    for (file, format) in samples(dir.path()) {
        let body = std::fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        for chunk in [1, 3, 7, 188, 1000, 65536, body.len()] {
            assert_eq!(
                check(&body, chunk),
                Ok(format),
                "{name} in chunks of {chunk}"
            );
        }
        let cut = check(&body[..body.len() - 1], 4096);
        assert!(cut.is_err(), "{name} cut short by a byte passed");
    }
}
