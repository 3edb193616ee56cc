//! MPEG-DASH jobs end to end: MPDs made by ffmpeg's dash muxer (two video
//! representations and an audio adaptation set, with a SegmentTimeline or
//! `@duration`, `$Number$` or `$Time$` names) and small hand edits of
//! them, served over real HTTP by the project's test server, merged by
//! real ffmpeg and checked with ffprobe and a full decode.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::cli::{stderr, Job};
use support::hls::{decode_errors, video_height};
use support::media::probe;
use support::server::TestServer;

/// How an MPD is made.
#[derive(Clone, Copy)]
struct Dash<'a> {
    timeline: bool,
    /// `-media_seg_name`, else ffmpeg's `$Number%05d$` names.
    media_name: Option<&'a str>,
    secs: u32,
}

const DEFAULT: Dash = Dash {
    timeline: true,
    media_name: None,
    secs: 6,
};

/// A folder with `out.mpd` (video at 320x180 and 160x90, audio beside)
/// made by ffmpeg.
fn make(into: &Path, d: Dash) -> PathBuf {
    std::fs::create_dir_all(into).unwrap();
    let mut cmd = Command::new("ffmpeg");
    cmd.current_dir(into)
        .args(["-hide_banner", "-v", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc=size=320x180:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &d.secs.to_string()])
        .args(["-map", "0:v", "-map", "0:v", "-map", "1:a"])
        .args(["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p"])
        .args(["-s:v:0", "320x180", "-b:v:0", "300k"])
        .args(["-s:v:1", "160x90", "-b:v:1", "100k"])
        .args(["-c:a", "aac", "-b:a", "64k"])
        .args(["-adaptation_sets", "id=0,streams=v id=1,streams=a"])
        .args(["-seg_duration", "2", "-use_template", "1"])
        .args(["-use_timeline", if d.timeline { "1" } else { "0" }]);
    if let Some(name) = d.media_name {
        cmd.args(["-media_seg_name", name]);
    }
    let out = cmd.args(["-f", "dash", "out.mpd"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    into.join("out.mpd")
}

fn job_text(url: &str, extra: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 2, backoff: 50ms, max_backoff: 100ms }}\n\
         jobs:\n  - name: v\n    playlist: \"{url}\"\n{extra}"
    )
}

/// Runs the job; asserts it succeeded and the output decodes cleanly.
fn run_ok(job: &Job) -> PathBuf {
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = job.path("out/v.mp4");
    assert_eq!(
        decode_errors(&file),
        "",
        "the output decodes without errors"
    );
    file
}

fn served() -> (tempfile::TempDir, TestServer) {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(root.path());
    (root, server)
}

fn assert_whole(file: &Path, secs: f64) {
    let (duration, streams) = probe(file);
    assert!((duration - secs).abs() < 0.3, "{duration} s, not {secs}");
    assert_eq!(streams, ["video", "audio"], "video and audio muxed");
}

#[test]
fn a_timeline_mpd_is_merged_with_its_audio_and_the_best_video() {
    let (root, server) = served();
    make(&root.path().join("tl"), DEFAULT);
    let job = Job::new(&job_text(&format!("{}/tl/out.mpd", server.url()), ""));
    let file = run_ok(&job);
    assert_whole(&file, 6.0);
    assert_eq!(video_height(&file), 180, "the best representation");
}

#[test]
fn a_duration_template_and_time_names_are_merged() {
    let (root, server) = served();
    let duration = Dash {
        timeline: false,
        ..DEFAULT
    };
    make(&root.path().join("dur"), duration);
    let time = Dash {
        media_name: Some("t-$RepresentationID$-$Time$.m4s"),
        ..DEFAULT
    };
    make(&root.path().join("time"), time);
    // ffmpeg 5.1 names the first audio segment by its time before the AAC
    // priming is taken off (`-1024`) while its MPD says `t="0"`: the
    // server is made to serve what the MPD names.
    let time_dir = root.path().join("time");
    for entry in std::fs::read_dir(&time_dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.starts_with("t-2--") {
            std::fs::rename(time_dir.join(&name), time_dir.join("t-2-0.m4s")).unwrap();
        }
    }
    for sub in ["dur", "time"] {
        let job = Job::new(&job_text(&format!("{}/{sub}/out.mpd", server.url()), ""));
        let file = run_ok(&job);
        assert_whole(&file, 6.0);
    }
    let requested: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        requested
            .iter()
            .any(|p| p.starts_with("/time/t-0-") && p.ends_with(".m4s")),
        "{requested:?}"
    );
}

#[test]
fn variant_picks_the_video_representation() {
    let (root, server) = served();
    make(&root.path().join("a"), DEFAULT);
    let url = format!("{}/a/out.mpd", server.url());
    for (variant, height) in [("worst", 90), ("{ max_height: 100 }", 90), ("best", 180)] {
        let job = Job::new(&job_text(&url, &format!("    variant: {variant}\n")));
        let file = run_ok(&job);
        assert_eq!(video_height(&file), height, "variant: {variant}");
    }
    let job = Job::new(&job_text(&url, "    variant: { max_height: 50 }\n"));
    let out = job.run(&[]);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("no video representation fits"), "{err}");
    assert!(err.contains("160x90"), "{err}");
}

fn paths(server: &TestServer) -> Vec<String> {
    server.requests().iter().map(|r| r.path.clone()).collect()
}

#[test]
fn drm_and_live_mpds_are_refused_at_resolve_and_nothing_else_is_fetched() {
    let (root, server) = served();
    let mpd = make(&root.path().join("p"), DEFAULT);
    let text = std::fs::read_to_string(&mpd).unwrap();
    let drm = text.replacen(
        "<Representation id=\"0\"",
        "<ContentProtection schemeIdUri=\"urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95\"/>\n\
         <Representation id=\"0\"",
        1,
    );
    std::fs::write(root.path().join("p/drm.mpd"), drm).unwrap();
    let live = text.replacen("type=\"static\"", "type=\"dynamic\"", 1);
    std::fs::write(root.path().join("p/live.mpd"), live).unwrap();
    for (name, says) in [
        (
            "drm",
            "protected by DRM (PlayReady, urn:uuid:9a04f079-9840-4286-ab92-e65be0885f95)",
        ),
        ("live", "is a live MPD (type=\"dynamic\")"),
    ] {
        server.clear_requests();
        let job = Job::new(&job_text(&format!("{}/p/{name}.mpd", server.url()), ""));
        let out = job.run(&[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(says), "{err}");
        assert_eq!(
            paths(&server),
            [format!("/p/{name}.mpd")],
            "nothing else fetched"
        );
        assert_eq!(job.report()["jobs"][0]["status"], "failed");
    }
}

#[test]
fn plan_probe_reads_the_mpd_and_counts_its_segments() {
    let (root, server) = served();
    make(&root.path().join("p"), DEFAULT);
    let job = Job::new(&job_text(&format!("{}/p/out.mpd", server.url()), ""));
    let plan = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_snatch"))
            .arg("plan")
            .arg(&job.file)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = plan(&["--probe", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let j = &v["jobs"][0];
    // Three video segments of 2 s, four audio ones.
    assert_eq!(j["segments"], 7);
    assert_eq!(j["expected_duration_s"], 6.0);
    assert!(j["first_url"]
        .as_str()
        .unwrap()
        .ends_with("/p/chunk-stream0-00001.m4s"));
    assert_eq!(
        paths(&server),
        [
            "/p/out.mpd",
            "/p/chunk-stream0-00001.m4s",
            "/p/chunk-stream2-00004.m4s"
        ]
    );
    assert!(!job.path("out").exists(), "a probe saves nothing");
    let text = String::from_utf8_lossy(&plan(&["--probe"]).stdout).into_owned();
    assert!(text.contains("6.0 s listed, fmp4 + init"), "{text}");
    assert!(
        text.contains("representation `0` 320x180 at 300000 bit/s"),
        "{text}"
    );
    assert!(text.contains("audio `2`"), "{text}");
}

#[test]
fn a_killed_run_resumes_from_its_saved_mpd() {
    let (root, server) = served();
    make(
        &root.path().join("k"),
        Dash {
            secs: 20,
            ..DEFAULT
        },
    );
    server.set_latency(std::time::Duration::from_millis(150));
    let job = Job::new(&job_text(
        &format!("{}/k/out.mpd", server.url()),
        "    concurrency: 1\n",
    ));
    let mut child = job.command(&[]).spawn().unwrap();
    let landed = |s: &TestServer| {
        s.requests()
            .iter()
            .filter(|r| r.path.ends_with(".m4s"))
            .count()
    };
    while landed(&server) < 6 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    server.set_latency(std::time::Duration::ZERO);
    server.clear_requests();
    let file = run_ok(&job);
    assert_whole(&file, 20.0);
    let j = &job.report()["jobs"][0];
    assert!(j["segments"]["reused"].as_u64().unwrap() >= 3, "{j:#}");
    assert!(
        !paths(&server).contains(&"/k/out.mpd".to_string()),
        "the rerun reads the saved MPD"
    );
}

#[test]
fn a_rerun_whose_mpd_lists_another_stream_fetches_nothing() {
    let (root, server) = served();
    let mpd = make(&root.path().join("q7z"), DEFAULT);
    let text = std::fs::read_to_string(&mpd).unwrap();
    server.always(
        "/q7z/chunk-stream0-00002.m4s",
        support::server::Fault::Status(404),
    );
    // A value this short keeps the MPD from being saved: the rerun
    // fetches it afresh.
    let job = Job::new(&job_text(
        &format!("{}/${{SNATCH_T_DIR}}/out.mpd", server.url()),
        "    concurrency: 1\n",
    ));
    let run = |extra: &[&str]| {
        let mut cmd = job.command(extra);
        cmd.env("SNATCH_T_DIR", "q7z").output().unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    server.clear_faults();
    // Another stream: the video's segments are now numbered from 11.
    let other = text.replacen("startNumber=\"1\"", "startNumber=\"11\"", 1);
    std::fs::write(&mpd, other).unwrap();
    server.clear_requests();
    let out = run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the stream changed since this job started"),
        "{err}"
    );
    assert!(err.contains("chunk-stream0-00001.m4s became"), "{err}");
    assert_eq!(paths(&server), ["/q7z/out.mpd"]);
    std::fs::write(&mpd, text).unwrap();
    let file = {
        let out = run(&[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        job.path("out/v.mp4")
    };
    assert_whole(&file, 6.0);
}

/// A fixture of `tests/support/dash.rs`, served and downloaded.
fn download(d: &support::dash::Dash, extra: &str) -> (Job, std::process::Output, TestServer) {
    let server = TestServer::start(&d.dir);
    let job = Job::new(&job_text(&format!("{}/{}", server.url(), d.mpd), extra));
    let out = job.run(&[]);
    (job, out, server)
}

/// Each shape downloaded whole: the duration of all its periods, its
/// streams, a clean decode.
fn assert_downloads(d: support::dash::Dash) {
    let (job, out, _server) = download(&d, "");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{}: {err}", d.dir.display());
    let file = job.path("out/v.mp4");
    assert_eq!(decode_errors(&file), "", "{}", d.dir.display());
    let (duration, streams) = probe(&file);
    assert!(
        (duration - d.secs).abs() < 0.3,
        "{}: {duration} s, not {}",
        d.dir.display(),
        d.secs
    );
    assert_eq!(streams, d.streams, "{}", d.dir.display());
    assert_eq!(
        video_height(&file),
        *d.heights.iter().max().unwrap(),
        "{}",
        d.dir.display()
    );
}

#[test]
fn every_single_period_shape_is_merged_whole() {
    use support::dash;
    for d in [
        dash::timeline(),
        dash::duration(),
        dash::time(),
        dash::single_file(),
        dash::two_videos(),
        dash::segment_list(),
        dash::base_urls(),
        dash::segment_base(),
    ] {
        assert_downloads(d);
    }
}

#[test]
fn the_fixtures_protected_and_dynamic_mpds_are_refused() {
    use support::dash;
    for (d, says) in [
        (
            dash::protected(),
            "protected by DRM (Common Encryption cenc",
        ),
        (dash::dynamic(), "is a live MPD"),
    ] {
        let (job, out, server) = download(&d, "");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(says), "{err}");
        assert_eq!(paths(&server), [format!("/{}", d.mpd)]);
        assert!(!job.path("out/v.mp4").exists());
    }
}

#[test]
fn two_periods_are_one_output_each_merged_on_its_own_init_segment() {
    let d = support::dash::two_periods();
    assert_downloads(d.clone());
    let (job, out, server) = download(&d, "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = paths(&server);
    for init in [
        "/p0-init-0.m4s",
        "/p1-init-0.m4s",
        "/p0-init-1.m4s",
        "/p1-init-1.m4s",
    ] {
        assert!(got.contains(&init.to_string()), "{init}: {got:?}");
    }
    let j = &job.report()["jobs"][0];
    assert_eq!(j["status"], "ok", "{j:#}");
    let left: Vec<_> = support::cli::files_below(&job.path("out"))
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("snatch-part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn expired_links_are_renewed_by_fetching_the_mpd_again() {
    let d = support::dash::timeline();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("t");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&d.dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let text = d.mpd_text().replace(".m4s\"", ".m4s?tok={TOKEN}\"");
    std::fs::write(dir.join(d.mpd), text).unwrap();
    let server = TestServer::start(root.path());
    server.expire_tokens("/t/", 3);
    let job = Job::new(&job_text(
        &format!("{}/t/{}", server.url(), d.mpd),
        "    concurrency: 1\n",
    ));
    let file = run_ok(&job);
    assert_whole(&file, d.secs);
    let j = &job.report()["jobs"][0];
    assert!(j["playlist_reloads"].as_u64().unwrap() >= 1, "{j:#}");
    let mpds = server.requests_to(&format!("/t/{}", d.mpd)).len();
    assert!(mpds >= 2, "fetched {mpds} times");
}

#[test]
fn a_base_url_on_another_host_gets_no_secret_headers() {
    let d = support::dash::timeline();
    // The MPD on 127.0.0.1; its BaseURL points at 127.0.0.2, which holds
    // the segments.
    let segments = TestServer::start_on("127.0.0.2", &d.dir, Default::default());
    let root = tempfile::tempdir().unwrap();
    let text = d.mpd_text().replacen(
        "<Period",
        &format!("<BaseURL>{}/</BaseURL>\n\t<Period", segments.url()),
        1,
    );
    std::fs::write(root.path().join("m.mpd"), text).unwrap();
    let server = TestServer::start(root.path());
    let job = Job::new(&job_text(
        &format!("{}/m.mpd", server.url()),
        "    headers:\n      Authorization: \"Bearer ${SNATCH_T_TOKEN}\"\n      Referer: \"https://tv.example.com/v/1\"\n",
    ));
    let mut cmd = job.command(&[]);
    let out = cmd.env("SNATCH_T_TOKEN", "s3cr3t-t0k3n").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_whole(&job.path("out/v.mp4"), d.secs);
    let mpd = server.requests();
    assert_eq!(mpd.len(), 1);
    assert_eq!(mpd[0].header("authorization"), Some("Bearer s3cr3t-t0k3n"));
    let elsewhere = segments.requests();
    assert!(elsewhere.len() >= 5, "{}", elsewhere.len());
    for r in &elsewhere {
        assert_eq!(r.header("authorization"), None, "{}", r.path);
        assert_eq!(r.header("referer"), Some("https://tv.example.com/v/1"));
    }
}
