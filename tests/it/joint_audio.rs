//! A job with a separate audio rendition (one period) is merged by ONE
//! ffmpeg reading the video and the audio on two pipes as they arrive:
//! counted through a logging ffmpeg, the output checked with ffprobe and
//! decoded; and an audio served long after the video (the video's pipe
//! far ahead) still ends in a whole file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support;
use support::cli::{script, stderr, Job};
use support::hls::{copy_to, decode_errors};
use support::server::{Fault, TestServer};

/// Audio segments' indices start here (`AUDIO_BASE`, 2^48).
const AUDIO_BASE: u64 = 1 << 48;

fn playlist_job(url: &str, extra: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 2, backoff: 50ms, max_backoff: 100ms }}\n\
         jobs:\n  - name: v\n    playlist: \"{url}\"\n{extra}"
    )
}

/// An ffmpeg that writes `start` to its log for every process started.
fn logging_ffmpeg(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("ffmpeg.log");
    let body = format!(
        "echo start >> '{log}'\nexec ffmpeg \"$@\"\n",
        log = log.display()
    );
    (script(dir, "ffmpeg-logged", &body), log)
}

/// The rendition folder `made` served under `/r`.
fn serve(made: &Path) -> (tempfile::TempDir, TestServer) {
    let root = tempfile::tempdir().unwrap();
    copy_to(made, root.path(), "r");
    for s in ["stream_0", "stream_1"] {
        copy_to(&made.join(s), root.path(), &format!("r/{s}"));
    }
    let server = TestServer::start(root.path());
    (root, server)
}

/// Each stream's type and duration (seconds), as ffprobe reads them.
fn streams(file: &Path) -> Vec<(String, f64)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,duration"])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (kind, secs) = l.split_once(',').unwrap();
            (kind.to_string(), secs.parse().unwrap())
        })
        .collect()
}

/// The output is whole: a video and an audio stream, each `secs` long,
/// decoding without an error, nothing hidden left beside it.
fn assert_whole(job: &Job, secs: f64) {
    let file = job.path("out/v.mp4");
    let found = streams(&file);
    let kinds: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["video", "audio"], "{found:?}");
    for (kind, d) in &found {
        assert!((d - secs).abs() < 0.3, "{kind} is {d} s, not {secs}");
    }
    assert_eq!(decode_errors(&file), "", "the output decodes");
    let left: Vec<_> = std::fs::read_dir(job.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("snatch-part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn one_ffmpeg_for(name: &str, fmp4: bool) {
    let made = support::hls::with_audio_rendition(name, fmp4);
    let (_root, server) = serve(&made);
    let job = Job::new(&playlist_job(
        &format!("{}/r/master.m3u8", server.url()),
        "",
    ));
    let (ffmpeg, log) = logging_ffmpeg(&job.path(""));
    let out = job
        .command(&[])
        .env("SNATCH_FFMPEG", &ffmpeg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let started = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(
        started, 1,
        "ffmpeg processes started for one job with audio"
    );
    assert_whole(&job, 6.0);
}

#[test]
fn one_ffmpeg_muxes_a_separate_ts_audio_rendition() {
    one_ffmpeg_for("audio-ts", false);
}

#[test]
fn one_ffmpeg_muxes_a_separate_fmp4_audio_rendition() {
    one_ffmpeg_for("audio-fmp4", true);
}

/// The segment files of one track of `made`.
fn segment_names(made: &Path, track: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(made.join(track))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("seg"))
        .collect();
    names.sort();
    names
}

/// Every audio segment is answered seconds late, so the whole heavy video
/// (several MB, far more than ffmpeg's pipe holds) is fetched and queued
/// for ffmpeg before any audio reaches it: ffmpeg, reading both in
/// timestamp order, waits on the audio's pipe while the video's is full.
/// The job still ends, whole.
fn audio_long_after_the_video(name: &str, fmp4: bool) {
    let made = support::hls::with_heavy_video_and_audio(name, fmp4);
    let (_root, server) = serve(&made);
    for seg in segment_names(&made, "stream_1") {
        server.always(
            &format!("/r/stream_1/{seg}"),
            Fault::Delay(Duration::from_secs(3)),
        );
    }
    let job = Job::new(&playlist_job(
        &format!("{}/r/master.m3u8", server.url()),
        "",
    ));
    let (ffmpeg, log) = logging_ffmpeg(&job.path(""));
    let out = job
        .command(&["--events", "events.jsonl"])
        .env("SNATCH_FFMPEG", &ffmpeg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
    assert_whole(&job, 8.0);
    // The premise: every video segment (more than twice the 1 MiB the
    // pipe into ffmpeg holds) landed before the first audio one.
    let events = std::fs::read_to_string(job.path("events.jsonl")).unwrap();
    let saved: Vec<u64> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "segment_saved")
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    let video = segment_names(&made, "stream_0").len();
    let first_audio = saved.iter().position(|i| *i >= AUDIO_BASE);
    assert_eq!(first_audio, Some(video), "{saved:?}");
    let video_bytes: u64 = segment_names(&made, "stream_0")
        .iter()
        .map(|n| {
            std::fs::metadata(made.join("stream_0").join(n))
                .unwrap()
                .len()
        })
        .sum();
    assert!(
        video_bytes > 2 << 20,
        "the video is {video_bytes} bytes only"
    );
}

#[test]
fn audio_served_long_after_a_heavy_ts_video_is_still_muxed_whole() {
    audio_long_after_the_video("heavy-ts", false);
}

#[test]
fn audio_served_long_after_a_heavy_fmp4_video_is_still_muxed_whole() {
    audio_long_after_the_video("heavy-fmp4", true);
}

/// The audio rendition's segments are video (they pass the byte checks):
/// the one ffmpeg fails, and the job's error names the audio and what
/// ffmpeg said of it.
#[test]
fn an_audio_rendition_of_video_fails_the_job_naming_the_audio() {
    let made = support::hls::with_audio_rendition("audio-ts", false);
    let (_root, server) = serve(&made);
    let video = std::fs::read(made.join("stream_0/seg0.ts")).unwrap();
    for seg in segment_names(&made, "stream_1") {
        server.always(&format!("/r/stream_1/{seg}"), Fault::Body(video.clone()));
    }
    let job = Job::new(&playlist_job(
        &format!("{}/r/master.m3u8", server.url()),
        "",
    ));
    let out = job.run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "job `v`: the audio rendition: ffmpeg failed (exit status: 1): \
                      Stream map '1:a' matches no streams"
        ),
        "{err}"
    );
    assert!(!job.path("out/v.mp4").exists());
    // Every segment is kept for a rerun.
    assert_eq!(support::cli::saved(&job.path("out/.snatch/v")).len(), 7);
}
