//! MPEG-TS merged into MP4 by snatch itself (no ffmpeg process): real
//! segments made by ffmpeg (H.264 + AAC, with B-frames, video only, audio
//! only, timestamps far from 0 and across the 33-bit wrap) remuxed
//! in-process; each output read by ffprobe against ffmpeg's own remux of
//! the same bytes (streams, codecs, sizes, rates, frame counts, start
//! times and lengths within a frame) and decoded whole without a word.
//! A job whose streams the remuxer does not take (HEVC, a discontinuity)
//! is merged by ffmpeg and ends ok; `merge: ffmpeg` makes ffmpeg merge.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use support::cli::{files_below, script, stderr, Job};
use support::server::TestServer;

static LOCK: Mutex<()> = Mutex::new(());

/// A folder of three 2 s segments `000001.ts`… made by ffmpeg with
/// `args` (inputs: a 25 fps test picture and a 44.1 kHz tone), cached.
fn made(name: &str, args: &[&str]) -> PathBuf {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("remux/{name}"));
    if dir.join(".complete").exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=170x96:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args([
            "-t", "6", "-g", "25", "-c:a", "aac", "-b:a", "48k", "-ac", "2",
        ])
        .args(args)
        .args([
            "-f",
            "segment",
            "-segment_time",
            "2",
            "-segment_format",
            "mpegts",
        ])
        .args(["-segment_start_number", "1"])
        .arg(dir.join("%06d.ts"))
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made no segments for {name}");
    std::fs::write(dir.join(".complete"), "").unwrap();
    dir
}

const X264: [&str; 4] = ["-c:v", "libx264", "-preset", "ultrafast"];
const X264_B: [&str; 6] = ["-c:v", "libx264", "-preset", "fast", "-bf", "2"];

/// A job of segments `first..=last` from `url`, into `v.mp4`.
fn job_yaml(url: &str, first: u32, last: u32, extra: &str) -> String {
    format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n    \
         range: {{ start: {first}, end: {last} }}\n{extra}"
    )
}

/// An ffmpeg that logs its arguments, then runs the real one.
fn logging_ffmpeg(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("ffmpeg.log");
    let body = format!("echo \"$*\" >> '{}'\nexec ffmpeg \"$@\"\n", log.display());
    (script(dir, "ffmpeg-logged", &body), log)
}

fn ffmpeg_runs(log: &Path) -> usize {
    std::fs::read_to_string(log).map_or(0, |t| t.lines().count())
}

/// ffprobe's view of a file: its format and streams.
fn probed(file: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-of", "json"])
        .args(["-show_entries", "format=duration,start_time:stream=codec_type,codec_name,width,height,sample_rate,channels,start_time,duration,nb_read_packets"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn secs(v: &Value) -> f64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN)
}

/// Decodes `file` whole: ffmpeg must say nothing.
fn decodes_cleanly(file: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "{}",
        file.display()
    );
}

/// ffmpeg's own merge of segments `first..=last` of `media`, as snatch's
/// ffmpeg merge runs it.
fn ffmpeg_remux(media: &Path, first: u32, last: u32, out: &Path) {
    let mut bytes = Vec::new();
    for i in first..=last {
        bytes.extend(std::fs::read(media.join(format!("{i:06}.ts"))).unwrap());
    }
    let input = out.with_extension("ts");
    std::fs::write(&input, bytes).unwrap();
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "mpegts",
            "-i",
        ])
        .arg(&input)
        .args([
            "-map",
            "0:v?",
            "-map",
            "0:a?",
            "-c",
            "copy",
            "-bsf:a",
            "aac_adtstoasc",
        ])
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Our file against ffmpeg's: the same streams, codecs, sizes and rates,
/// as many packets, start times and lengths within a frame (a picture at
/// 25 fps, or 1024 samples of sound).
fn same_as_ffmpeg(ours: &Path, theirs: &Path, what: &str) {
    let (a, b) = (probed(ours), probed(theirs));
    let (sa, sb) = (
        a["streams"].as_array().unwrap(),
        b["streams"].as_array().unwrap(),
    );
    assert_eq!(sa.len(), sb.len(), "{what}: {a} / {b}");
    for (x, y) in sa.iter().zip(sb) {
        for key in [
            "codec_type",
            "codec_name",
            "width",
            "height",
            "sample_rate",
            "channels",
            "nb_read_packets",
        ] {
            assert_eq!(x[key], y[key], "{what}: {key}: {x} / {y}");
        }
        let frame = match x["codec_type"].as_str() {
            Some("video") => 0.04,
            _ => 1024.0 / secs(&x["sample_rate"]),
        };
        for key in ["start_time", "duration"] {
            let (p, q) = (secs(&x[key]), secs(&y[key]));
            assert!((p - q).abs() <= frame + 1e-3, "{what}: {key}: {p} / {q}");
        }
    }
    for key in ["start_time", "duration"] {
        let (p, q) = (secs(&a["format"][key]), secs(&b["format"][key]));
        assert!((p - q).abs() <= 0.041, "{what}: format {key}: {p} / {q}");
    }
}

/// Runs a job over segments `first..=last` of `media`: it must end ok with
/// no ffmpeg started, its file as ffmpeg's own remux would be.
fn remuxed_in_process(media: &Path, first: u32, last: u32, what: &str) {
    let server = TestServer::start(media);
    let job = Job::new(&job_yaml(&server.url(), first, last, ""));
    let (ffmpeg, log) = logging_ffmpeg(job.dir.path());
    let out = job.run_env(&[("SNATCH_FFMPEG", &ffmpeg)]);
    assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
    assert_eq!(ffmpeg_runs(&log), 0, "{what}: ffmpeg merged");
    let ours = job.path("out/v.mp4");
    let theirs = job.path("ffmpeg.mp4");
    ffmpeg_remux(media, first, last, &theirs);
    same_as_ffmpeg(&ours, &theirs, what);
    decodes_cleanly(&ours);
}

#[test]
fn h264_and_aac_are_merged_in_process_as_ffmpeg_would() {
    remuxed_in_process(&made("av", &X264), 1, 3, "H.264 + AAC");
}

#[test]
fn b_frames_keep_their_order_and_the_streams_their_sync() {
    remuxed_in_process(&made("bframes", &X264_B), 1, 3, "B-frames");
}

#[test]
fn video_alone_and_audio_alone_are_merged_in_process() {
    let video: Vec<&str> = X264.iter().copied().chain(["-an"]).collect();
    remuxed_in_process(&made("video", &video), 1, 3, "video only");
    remuxed_in_process(&made("audio", &["-vn"]), 1, 3, "audio only");
}

#[test]
fn segments_whose_timestamps_start_late_or_wrap_are_merged_in_process() {
    // The last two segments: their timestamps start 3.4 s in.
    remuxed_in_process(&made("bframes", &X264_B), 2, 3, "a late start");
    // 2^33 ticks of 90 kHz are 95443.7 s: the clock wraps in the middle.
    let wrap: Vec<&str> = X264_B
        .iter()
        .copied()
        .chain(["-output_ts_offset", "95441"])
        .collect();
    remuxed_in_process(&made("wrap", &wrap), 1, 3, "a wrapping clock");
}

/// Runs `job`, which must end ok with ffmpeg merging once; its file
/// decodes whole and holds `codec`.
fn merged_by_ffmpeg(job: &Job, codec: &str, what: &str) {
    let (ffmpeg, log) = logging_ffmpeg(job.dir.path());
    let out = job.run_env(&[("SNATCH_FFMPEG", &ffmpeg)]);
    assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
    assert_eq!(ffmpeg_runs(&log), 1, "{what}: ffmpeg did not merge");
    let file = job.path("out/v.mp4");
    let p = probed(&file);
    assert_eq!(p["streams"][0]["codec_name"], codec, "{what}: {p}");
    decodes_cleanly(&file);
}

#[test]
fn streams_the_remuxer_does_not_take_are_merged_by_ffmpeg() {
    let hevc = made(
        "hevc",
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
        ],
    );
    let server = TestServer::start(&hevc);
    let job = Job::new(&job_yaml(&server.url(), 1, 3, ""));
    merged_by_ffmpeg(&job, "hevc", "HEVC");

    // A discontinuity: the third segment is the first again, its clock
    // going back. The remuxer gives up at it; ffmpeg reads all three.
    let av = made("av", &X264);
    let dir = tempfile::tempdir().unwrap();
    for (to, from) in [(1, 1), (2, 2), (3, 1)] {
        let from = av.join(format!("{from:06}.ts"));
        std::fs::copy(from, dir.path().join(format!("{to:06}.ts"))).unwrap();
    }
    let server = TestServer::start(dir.path());
    let job = Job::new(&job_yaml(&server.url(), 1, 3, ""));
    merged_by_ffmpeg(&job, "h264", "a discontinuity");
}

#[test]
fn merge_ffmpeg_makes_ffmpeg_merge() {
    let server = TestServer::start(made("av", &X264));
    let job = Job::new(&job_yaml(&server.url(), 1, 3, "    merge: ffmpeg\n"));
    merged_by_ffmpeg(&job, "h264", "merge: ffmpeg");
    let defaults =
        job_yaml(&server.url(), 1, 3, "").replace("jobs:\n", "defaults:\n  merge: ffmpeg\njobs:\n");
    let job = Job::new(&defaults);
    merged_by_ffmpeg(&job, "h264", "defaults.merge: ffmpeg");
}

/// SIGTERM while the in-process merge runs: the run ends interrupted,
/// nothing is under the output's name nor left hidden beside it, and the
/// rerun resumes with what was saved.
#[test]
fn a_terminated_in_process_merge_leaves_no_output_and_the_rerun_resumes() {
    let media = support::media::segments(30, 1);
    let server = TestServer::with_latency(&media, Duration::from_millis(80));
    let job = Job::new(&(job_yaml(&server.url(), 1, 30, "    concurrency: 2\n")));
    let child = job.command(&[]).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.requests().len() < 8 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(!job.path("out/v.mp4").exists(), "an output after SIGTERM");
    let hidden: Vec<PathBuf> = files_below(&job.path("out"))
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".snatch-part"))
        .collect();
    assert!(hidden.is_empty(), "a merge left behind: {hidden:?}");
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reused = job.report()["jobs"][0]["segments"]["reused"]
        .as_u64()
        .unwrap();
    assert!(reused >= 4, "reused {reused}");
    decodes_cleanly(&job.path("out/v.mp4"));
}
