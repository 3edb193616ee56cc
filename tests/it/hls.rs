//! Playlist jobs end to end: HLS playlists made by ffmpeg (TS, fMP4, byte
//! ranges, AES-128), served over real HTTP by the project's test server,
//! merged by real ffmpeg and checked with ffprobe and a full decode.

use crate::support;

use std::path::Path;

use support::cli::{stderr, Job};
use support::hls::{copy_to, decode_errors, make, video_height, Hls, KEY};
use support::media::probe;
use support::server::{Fault, TestServer};

fn playlist_job(url: &str, extra: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 2, backoff: 50ms, max_backoff: 100ms }}\njobs:\n  - name: v\n    playlist: \"{url}\"\n{extra}"
    )
}

/// Runs the job; asserts it succeeded and the output decodes cleanly.
fn run_ok(job: &Job, env: &[(&str, &str)]) -> std::path::PathBuf {
    let mut cmd = job.command(&[]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = job.path("out/v.mp4");
    assert_eq!(
        decode_errors(&file),
        "",
        "the output decodes without errors"
    );
    file
}

fn served(sub_dirs: &[(&Path, &str)]) -> (tempfile::TempDir, TestServer) {
    let root = tempfile::tempdir().unwrap();
    for (made, sub) in sub_dirs {
        copy_to(made, root.path(), sub);
    }
    let server = TestServer::start(root.path());
    (root, server)
}

#[test]
fn a_merged_file_without_audio_says_so_on_its_ok_line() {
    let mute = make(Hls {
        name: "video-only",
        audio: false,
        ..Hls::default()
    });
    let sound = make(Hls::default());
    let (_root, server) = served(&[(&mute, "mute"), (&sound, "sound")]);
    let ok_line = |sub: &str| {
        let job = Job::new(&playlist_job(
            &format!("{}/{sub}/index.m3u8", server.url()),
            "",
        ));
        let out = job.run(&[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let streams = job.report()["jobs"][0]["media"]["streams"].clone();
        let line = err
            .lines()
            .find(|l| l.starts_with("v: ok"))
            .unwrap_or_default();
        (line.to_string(), streams)
    };

    let (line, streams) = ok_line("mute");
    assert_eq!(streams, serde_json::json!(["video"]));
    assert!(line.starts_with("v: ok (no audio stream), "), "{line}");
    assert!(line.contains("out/v.mp4 (3 segments, "), "{line}");

    let (line, streams) = ok_line("sound");
    assert_eq!(streams, serde_json::json!(["video", "audio"]));
    assert!(line.starts_with("v: ok, "), "{line}");
}

#[test]
fn a_ts_media_playlist_is_fetched_in_order_and_merged() {
    let made = make(Hls::default());
    let (_root, server) = served(&[(&made, "vod/a")]);
    let job = Job::new(&playlist_job(
        &format!("{}/vod/a/index.m3u8", server.url()),
        "    headers:\n      Referer: \"https://tv.example.com/\"\n",
    ));
    let file = run_ok(&job, &[]);
    let (duration, streams) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    assert_eq!(streams, ["video", "audio"]);
    let mut paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    // The playlist first; segments in any order (they are fetched side by side).
    paths[1..].sort();
    assert_eq!(
        paths,
        [
            "/vod/a/index.m3u8",
            "/vod/a/seg0.ts",
            "/vod/a/seg1.ts",
            "/vod/a/seg2.ts"
        ]
    );
    for r in server.requests() {
        assert_eq!(
            r.header("referer"),
            Some("https://tv.example.com/"),
            "{}",
            r.path
        );
    }
    let j = &job.report()["jobs"][0];
    assert_eq!(j["status"], "ok");
    assert_eq!(j["segments"]["planned"], 3);
    assert_eq!(j["segments"]["fetched"], 3);
}

#[test]
fn plan_shows_the_playlist_and_makes_no_request() {
    let made = make(Hls::default());
    let (_root, server) = served(&[(&made, "vod/a")]);
    let job = Job::new(&playlist_job(
        &format!("{}/vod/a/index.m3u8?t=${{SNATCH_T_TOKEN}}", server.url()),
        "",
    ));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
        .arg("plan")
        .arg(&job.file)
        .env("SNATCH_T_TOKEN", "tok-123")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(text.contains("segments from playlist"), "{text}");
    assert!(text.contains("index.m3u8?t=***"), "{text}");
    assert!(!text.contains("tok-123"), "{text}");
    assert!(server.requests().is_empty());
    // Its segments are not counted as none: the plan says when they are
    // known, and how to know them now.
    let later = "resolved at run time (`snatch plan --probe` resolves them now)";
    assert!(text.contains(&format!("  segments {later}\n")), "{text}");
    assert!(!text.contains("  first "), "{text}");
    assert!(
        text.contains(&format!(
            "1 job to run (0 skipped), 0 segments, and those of 1 playlist job {later};"
        )),
        "{text}"
    );
}

#[test]
fn a_master_playlist_picks_its_variant() {
    let low = make(Hls {
        name: "low",
        size: "160x90",
        ..Hls::default()
    });
    let high = make(Hls {
        name: "high",
        size: "320x180",
        ..Hls::default()
    });
    let (root, server) = served(&[(&low, "m/low"), (&high, "m/high")]);
    std::fs::write(
        root.path().join("m/master.m3u8"),
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=160x90\nlow/index.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=320x180\nhigh/index.m3u8\n",
    )
    .unwrap();
    let url = format!("{}/m/master.m3u8", server.url());
    let best = Job::new(&playlist_job(&url, ""));
    assert_eq!(video_height(&run_ok(&best, &[])), 180);
    let small = Job::new(&playlist_job(&url, "    variant: { max_height: 100 }\n"));
    assert_eq!(video_height(&run_ok(&small, &[])), 90);
    let worst = Job::new(&playlist_job(&url, "    variant: worst\n"));
    assert_eq!(video_height(&run_ok(&worst, &[])), 90);
    let none = Job::new(&playlist_job(&url, "    variant: { max_height: 50 }\n"));
    let out = none.run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no variant that fits `variant: {max_height: 50}`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn fmp4_playlists_merge_with_their_init_segment() {
    let made = make(Hls {
        name: "fmp4",
        fmp4: true,
        ..Hls::default()
    });
    let (_root, server) = served(&[(&made, "f")]);
    let job = Job::new(&playlist_job(&format!("{}/f/index.m3u8", server.url()), ""));
    let file = run_ok(&job, &[]);
    let (duration, streams) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    assert_eq!(streams, ["video", "audio"]);
    assert_eq!(server.requests_to("/f/init.mp4").len(), 1);
}

#[test]
fn a_template_job_with_init_merges_fmp4_segments() {
    let made = make(Hls {
        name: "fmp4",
        fmp4: true,
        ..Hls::default()
    });
    let (_root, server) = served(&[(&made, "f")]);
    let base = format!("{}/f", server.url());
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{base}/seg{{{{index}}}}.m4s\"\n    init: \"{base}/init.mp4\"\n    range: {{ start: 0, end: 2 }}\n"
    ));
    let file = run_ok(&job, &[]);
    let (duration, _) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
}

#[test]
fn byte_ranges_of_one_file_are_fetched_as_ranges() {
    let made = make(Hls {
        name: "single",
        single_file: true,
        ..Hls::default()
    });
    let (_root, server) = served(&[(&made, "s")]);
    let job = Job::new(&playlist_job(&format!("{}/s/index.m3u8", server.url()), ""));
    let file = run_ok(&job, &[]);
    let (duration, _) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    let ranged = server.requests_to("/s/all.ts");
    assert_eq!(ranged.len(), 3);
    assert!(ranged.iter().all(|r| r.header("range").is_some()));
}

fn encrypted(name: &str, iv: Option<&str>, start: u32) {
    let made = make(Hls {
        name,
        encrypt: Some(iv),
        start_number: start,
        ..Hls::default()
    });
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    assert!(text.contains("METHOD=AES-128"), "{text}");
    let (root, server) = served(&[(&made, "e")]);
    if iv.is_none() {
        // ffmpeg writes the IV it used (the sequence number) even when the
        // key info names none; without it, the playlist says the same.
        let stated = format!(",IV=0x{:032x}", start);
        assert!(text.contains(&stated), "{text}");
        std::fs::write(root.path().join("e/index.m3u8"), text.replace(&stated, "")).unwrap();
    }
    std::fs::create_dir_all(root.path().join("keys")).unwrap();
    std::fs::write(root.path().join(format!("keys/{name}.key")), KEY).unwrap();
    let job = Job::new(&playlist_job(
        &format!("{}/e/index.m3u8", server.url()),
        "    headers:\n      Authorization: \"Bearer ${SNATCH_T_AUTH}\"\n",
    ));
    let file = run_ok(&job, &[("SNATCH_T_AUTH", "sesame")]);
    let (duration, streams) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    assert_eq!(streams, ["video", "audio"]);
    let keys = server.requests_to(&format!("/keys/{name}.key"));
    assert_eq!(keys.len(), 1, "the key is fetched once");
    assert_eq!(keys[0].header("authorization"), Some("Bearer sesame"));
    let report = std::fs::read_to_string(job.path("report.json")).unwrap();
    assert!(!report.contains("sesame"));
}

#[test]
fn aes_128_with_an_explicit_iv_is_decrypted() {
    encrypted("aes-iv", Some("00112233445566778899aabbccddeeff"), 0);
}

#[test]
fn aes_128_without_an_iv_uses_the_media_sequence_number() {
    encrypted("aes-seq7", None, 7);
}

/// The `aes-iv` playlist served under `/e/`, its key at `/keys/aes-iv.key`
/// holding `key` (the right one, or another).
fn served_encrypted(key: &[u8]) -> (std::path::PathBuf, tempfile::TempDir, TestServer) {
    let made = make(Hls {
        name: "aes-iv",
        encrypt: Some(Some("00112233445566778899aabbccddeeff")),
        ..Hls::default()
    });
    let (root, server) = served(&[(&made, "e")]);
    std::fs::create_dir_all(root.path().join("keys")).unwrap();
    std::fs::write(root.path().join("keys/aes-iv.key"), key).unwrap();
    (made, root, server)
}

#[test]
fn method_none_ends_encryption_and_the_clear_segments_are_not_decrypted() {
    let (made, root, server) = served_encrypted(&KEY);
    let clear = make(Hls::default());
    std::fs::copy(clear.join("seg2.ts"), root.path().join("e/clear2.ts")).unwrap();
    // Two encrypted segments, then the third clear, CR-only line endings.
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    let (head, last) = text.rsplit_once("#EXTINF").unwrap();
    let mixed = format!("{head}#EXT-X-KEY:METHOD=NONE\n#EXTINF{last}")
        .replace("seg2.ts", "clear2.ts")
        .replace('\n', "\r");
    std::fs::write(root.path().join("e/mixed.m3u8"), mixed).unwrap();
    let job = Job::new(&playlist_job(&format!("{}/e/mixed.m3u8", server.url()), ""));
    let file = run_ok(&job, &[]);
    let (duration, streams) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    assert_eq!(streams, ["video", "audio"]);
    assert_eq!(server.requests_to("/e/clear2.ts").len(), 1);
    assert_eq!(server.requests_to("/keys/aes-iv.key").len(), 1);
}

#[test]
fn a_bad_extinf_fails_the_job_before_any_segment_naming_its_line() {
    let made = make(Hls::default());
    let (root, server) = served(&[(&made, "a")]);
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    let bad = text
        .replacen("#EXTINF:2.000000,", "#EXTINF:-2,", 2)
        .replacen("#EXTINF:-2,", "#EXTINF:2,", 1);
    std::fs::write(root.path().join("a/bad.m3u8"), bad).unwrap();
    let job = Job::new(&playlist_job(&format!("{}/a/bad.m3u8", server.url()), ""));
    let out = job.run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("/a/bad.m3u8, line 8: #EXTINF `-2` is not a duration (decimal seconds)"),
        "{err}"
    );
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/a/bad.m3u8"]);
}

#[test]
fn ten_thousand_variants_none_fitting_give_a_short_message() {
    let root = tempfile::tempdir().unwrap();
    let mut master = String::from("#EXTM3U\n");
    for i in 0..10_000 {
        master.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION=1920x1080\nv{i}.m3u8\n",
            1_000_000 + i
        ));
    }
    std::fs::write(root.path().join("master.m3u8"), master).unwrap();
    let server = TestServer::start(root.path());
    let job = Job::new(&playlist_job(
        &format!("{}/master.m3u8", server.url()),
        "    variant: { max_height: 720 }\n",
    ));
    let out = job.run(&["--junit", "junit.xml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no variant that fits `variant: {max_height: 720}` (it offers 1920x1080 at 1000000 bit/s,"),
        "{err}"
    );
    assert!(
        err.contains("1920x1080 at 1000009 bit/s and 9,990 more)"),
        "{err}"
    );
    assert!(err.len() < 2_000, "{} bytes of stderr", err.len());
    let junit = std::fs::metadata(job.path("junit.xml")).unwrap().len();
    assert!(junit < 4_000, "{junit} bytes of JUnit");
    let error = job.report()["jobs"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.ends_with("and 9,990 more)"), "{error}");
}

#[test]
fn sample_aes_and_live_playlists_are_refused_before_any_segment() {
    let made = make(Hls::default());
    let (root, server) = served(&[(&made, "a")]);
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    let sample = text.replace(
        "#EXTINF",
        "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"k.key\"\n#EXTINF",
    );
    std::fs::write(root.path().join("a/sample.m3u8"), sample).unwrap();
    std::fs::write(
        root.path().join("a/live.m3u8"),
        text.replace("#EXT-X-ENDLIST\n", "")
            .replace("#EXT-X-PLAYLIST-TYPE:VOD\n", ""),
    )
    .unwrap();
    for (file, words) in [
        ("sample.m3u8", "SAMPLE-AES, which snatch does not decrypt"),
        ("live.m3u8", "is a live playlist (no #EXT-X-ENDLIST)"),
    ] {
        server.clear_requests();
        let job = Job::new(&playlist_job(&format!("{}/a/{file}", server.url()), ""));
        let out = job.run(&[]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(words), "{}", stderr(&out));
        assert_eq!(server.requests().len(), 1, "only the playlist was fetched");
    }
}

#[test]
fn a_rerun_resumes_against_the_saved_playlist_which_holds_no_secret() {
    let made = make(Hls::default());
    let (root, server) = served(&[(&made, "r")]);
    server.always("/r/seg2.ts", Fault::Status(404));
    let job = Job::new(&playlist_job(
        &format!("{}/r/index.m3u8?token=${{SNATCH_T_TOKEN}}", server.url()),
        "",
    ));
    let env = [("SNATCH_T_TOKEN", "tok-9f8e")];
    let out = job.command(&[]).envs(env).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let saved = std::fs::read_to_string(job.path("out/.snatch/v/playlist.json")).unwrap();
    assert!(saved.contains("${SNATCH_T_TOKEN}"), "{saved}");
    assert!(!saved.contains("tok-9f8e"), "{saved}");
    assert!(!stderr(&out).contains("tok-9f8e"));

    // The server's playlist changes; the rerun keeps to the saved one and
    // fetches only what is missing.
    std::fs::write(root.path().join("r/index.m3u8"), "#EXTM3U\n").unwrap();
    server.clear_faults();
    server.clear_requests();
    run_ok(&job, &env);
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/r/seg2.ts"]);
    let j = &job.report()["jobs"][0];
    assert_eq!(j["segments"]["reused"], 2);
}

#[test]
fn the_expected_duration_is_the_sum_of_extinf() {
    let made = make(Hls::default());
    let (root, server) = served(&[(&made, "d")]);
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    assert!(text.contains("#EXTINF:2.000000,"), "{text}");
    std::fs::write(
        root.path().join("d/long.m3u8"),
        text.replace("#EXTINF:2.000000,", "#EXTINF:4.000000,"),
    )
    .unwrap();
    let good = Job::new(&playlist_job(&format!("{}/d/index.m3u8", server.url()), ""));
    run_ok(&good, &[]);
    assert_eq!(good.report()["jobs"][0]["expected_duration_s"], 6.0);

    // A playlist that claims 12 s of what is 6 s is not a good merge.
    let long = Job::new(&playlist_job(&format!("{}/d/long.m3u8", server.url()), ""));
    let out = long.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the 12.0 s the playlist's EXTINF durations add up to"),
        "{}",
        stderr(&out)
    );
    assert_eq!(long.report()["jobs"][0]["expected_duration_s"], 12.0);
}

#[test]
fn plan_probe_resolves_playlists_to_real_counts_and_durations() {
    let low = make(Hls {
        name: "low",
        size: "160x90",
        ..Hls::default()
    });
    let high = make(Hls {
        name: "high-start3",
        size: "320x180",
        secs: 8,
        start_number: 3,
        ..Hls::default()
    });
    let (root, server) = served(&[(&low, "m/low"), (&high, "m/high")]);
    std::fs::write(
        root.path().join("m/master.m3u8"),
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=160x90\nlow/index.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=320x180\nhigh/index.m3u8\n",
    )
    .unwrap();
    let job = Job::new(&playlist_job(
        &format!("{}/m/master.m3u8", server.url()),
        "",
    ));
    let plan = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
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
    assert_eq!(j["source"], "playlist");
    assert_eq!(j["segments"], 4);
    assert_eq!(j["first_index"], 3);
    assert_eq!(j["last_index"], 6);
    assert_eq!(j["expected_duration_s"], 8.0);
    assert!(j["last_url"].as_str().unwrap().ends_with("/m/high/seg6.ts"));
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    // The playlists, then the first and last segment, one byte each.
    assert_eq!(
        paths,
        [
            "/m/master.m3u8",
            "/m/high/index.m3u8",
            "/m/high/seg3.ts",
            "/m/high/seg6.ts"
        ]
    );
    assert_eq!(server.requests()[3].header("range"), Some("bytes=0-0"));
    assert!(!job.path("out").exists(), "a probe saves nothing");

    let out = plan(&["--probe"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("8.0 s from EXTINF"), "{text}");
    assert!(text.contains("4 segments, indices 3–6"), "{text}");
    assert!(text.contains("variant 320x180 at 900000 bit/s"), "{text}");

    std::fs::write(root.path().join("m/master.m3u8"), "not a playlist").unwrap();
    let out = plan(&["--probe"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not an HLS playlist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn links_that_expire_are_renewed_from_the_playlist() {
    let made = make(Hls {
        name: "long",
        secs: 20,
        ..Hls::default()
    });
    let (root, server) = served(&[(&made, "t")]);
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    let tokened: String = text
        .lines()
        .map(|l| {
            if l.ends_with(".ts") {
                format!("{l}?tok={{TOKEN}}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(root.path().join("t/index.m3u8"), tokened).unwrap();
    server.expire_tokens("/t/", 3);
    let job = Job::new(&playlist_job(
        &format!("{}/t/index.m3u8", server.url()),
        "    concurrency: 2\n",
    ));
    let file = run_ok(&job, &[]);
    let (duration, _) = probe(&file);
    assert!((duration - 20.0).abs() < 0.3, "duration {duration}");
    let j = &job.report()["jobs"][0];
    let reloads = j["playlist_reloads"].as_u64().unwrap();
    assert!((3..=16).contains(&reloads), "{reloads} reloads");
    eprintln!("{reloads} playlist reloads for 10 segments, tokens expiring every 3");
    assert_eq!(
        server.requests_to("/t/index.m3u8").len() as u64,
        reloads + 1
    );
    assert_eq!(j["segments"]["fetched"], 10);
}

/// The playlist at `made`, its segment links given a `tok={TOKEN}` query.
fn tokened(made: &Path) -> String {
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    text.replace(".ts\n", ".ts?tok={TOKEN}\n")
}

#[test]
fn links_that_expire_are_renewed_at_any_concurrency() {
    let made = make(Hls {
        name: "sixteen",
        secs: 16,
        ..Hls::default()
    });
    for concurrency in [1, 2, 16] {
        let (root, server) = served(&[(&made, "t")]);
        std::fs::write(root.path().join("t/index.m3u8"), tokened(&made)).unwrap();
        // Every segment served expires the token, and is answered after
        // 150 ms: the others' 403s arrive while it is on its way.
        server.expire_tokens_slowly("/t/", 1, std::time::Duration::from_millis(150));
        let job = Job::new(&playlist_job(
            &format!("{}/t/index.m3u8", server.url()),
            &format!("    concurrency: {concurrency}\n"),
        ));
        let out = job.run(&[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "concurrency {concurrency}: {}",
            stderr(&out)
        );
        let file = job.path("out/v.mp4");
        assert_eq!(decode_errors(&file), "", "concurrency {concurrency}");
        let (duration, _) = probe(&file);
        assert!((duration - 16.0).abs() < 0.3, "duration {duration}");
        let j = &job.report()["jobs"][0];
        assert_eq!(j["status"], "ok");
        assert_eq!(j["segments"]["fetched"], 8);
        // One reload per token, however many tasks met its expiry.
        assert_eq!(j["playlist_reloads"], 7, "concurrency {concurrency}");
        assert_eq!(server.requests_to("/t/index.m3u8").len(), 8);
    }
}

/// `plain` encrypted with AES-128-CBC (PKCS#7) under `key` and `iv`.
fn encrypt(plain: &[u8], key: [u8; 16], iv: [u8; 16]) -> Vec<u8> {
    use aes::cipher::{block_padding::Pkcs7, BlockModeEncrypt, KeyIvInit};
    let mut buf = vec![0u8; plain.len() + 16];
    cbc::Encryptor::<aes::Aes128>::new(&key.into(), &iv.into())
        .encrypt_padded_b2b::<Pkcs7>(plain, &mut buf)
        .unwrap()
        .to_vec()
}

#[test]
fn a_reload_that_names_a_new_key_uri_fetches_that_key() {
    let clear = make(Hls::default());
    let iv = [0x42; 16];
    let new_key = *b"the rotated key!";
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("t")).unwrap();
    std::fs::create_dir_all(root.path().join("keys")).unwrap();
    // The first segment under the first key; the others, served after
    // the links expired, under the key the renewed playlist names.
    for (i, key) in [(0, KEY), (1, new_key), (2, new_key)] {
        let plain = std::fs::read(clear.join(format!("seg{i}.ts"))).unwrap();
        let to = root.path().join(format!("t/seg{i}.ts"));
        std::fs::write(to, encrypt(&plain, key, iv)).unwrap();
    }
    std::fs::write(root.path().join("keys/k.key"), new_key).unwrap();
    let text = std::fs::read_to_string(clear.join("index.m3u8")).unwrap();
    let keyed = text.replacen(
        "#EXTINF",
        &format!(
            "#EXT-X-KEY:METHOD=AES-128,URI=\"/keys/k.key?v={{TOKEN}}\",IV=0x{}\n#EXTINF",
            "42".repeat(16)
        ),
        1,
    );
    std::fs::write(
        root.path().join("t/index.m3u8"),
        keyed.replace(".ts\n", ".ts?tok={TOKEN}\n"),
    )
    .unwrap();
    let server = TestServer::start(root.path());
    server.expire_tokens("/t/", 1);
    // The key's first answer is the first key; the file holds the new one.
    server.script("/keys/k.key", [Fault::Body(KEY.to_vec())]);
    let job = Job::new(&playlist_job(
        &format!("{}/t/index.m3u8", server.url()),
        "    concurrency: 1\n",
    ));
    let file = run_ok(&job, &[]);
    let (duration, _) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    let j = &job.report()["jobs"][0];
    assert_eq!(j["playlist_reloads"], 2);
    let keys: Vec<String> = server
        .requests_to("/keys/k.key")
        .iter()
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(keys, ["v=k0", "v=k1", "v=k2"]);
}

/// Two videos of the same segment names and EXTINF: 160x90 and 320x180.
fn two_videos() -> (std::path::PathBuf, std::path::PathBuf) {
    let a = make(Hls::default());
    let b = make(Hls {
        name: "high",
        size: "320x180",
        ..Hls::default()
    });
    (a, b)
}

/// `text` (a playlist of relative segment names) listing them in `dir`.
fn listing_in(text: &str, dir: &str) -> String {
    text.replace("\nseg", &format!("\n{dir}/seg"))
}

#[test]
fn a_reload_that_lists_another_stream_fails_the_job_and_keeps_its_segments() {
    let (a, b) = two_videos();
    let (root, server) = served(&[(&a, "t/a"), (&b, "t/b")]);
    let index = root.path().join("t/index.m3u8");
    std::fs::write(&index, listing_in(&tokened(&a), "a")).unwrap();
    server.expire_tokens_slowly("/t/", 2, std::time::Duration::from_millis(100));
    let job = Job::new(&playlist_job(
        &format!("{}/t/index.m3u8", server.url()),
        "    concurrency: 1\n",
    ));
    let child = job.command(&[]).spawn().unwrap();
    // Once the playlist was served, the server's files are another video
    // under the same media sequence numbers; the links expire after two
    // segments, and the reload meets it.
    while server.requests_to("/t/index.m3u8").is_empty() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    std::fs::write(&index, listing_in(&tokened(&a), "b")).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the stream changed since this job started: segment 0: /t/a/seg0.ts became /t/b/seg0.ts"),
        "{err}"
    );
    assert!(
        err.contains("run with --force to discard them and start the job anew"),
        "{err}"
    );
    assert_eq!(server.requests_to("/t/index.m3u8").len(), 2);
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(!paths.iter().any(|p| p.starts_with("/t/b/")), "{paths:?}");
    let state = job.path("out/.snatch/v");
    assert_eq!(support::cli::saved(&state).len(), 2, "{paths:?}");
    let j = &job.report()["jobs"][0];
    assert_eq!(j["status"], "failed");
    assert!(
        j["error"].as_str().unwrap().contains("became /t/b/seg0.ts"),
        "{j}"
    );
    assert!(!job.path("out/v.mp4").exists());
}

#[test]
fn a_rerun_that_finds_another_stream_fetches_nothing_and_force_starts_anew() {
    let (a, b) = two_videos();
    let (root, server) = served(&[(&a, "q7z/a"), (&b, "q7z/b")]);
    let index = root.path().join("q7z/index.m3u8");
    let text = std::fs::read_to_string(a.join("index.m3u8")).unwrap();
    std::fs::write(&index, listing_in(&text, "a")).unwrap();
    server.always("/q7z/a/seg1.ts", Fault::Status(404));
    // The folder comes from the environment: a value this short keeps the
    // playlist from being saved, so the rerun fetches it afresh.
    let job = Job::new(&playlist_job(
        &format!("{}/${{SNATCH_T_DIR}}/index.m3u8", server.url()),
        "    concurrency: 1\n",
    ));
    let run = |extra: &[&str]| {
        let mut cmd = job.command(extra);
        cmd.env("SNATCH_T_DIR", "q7z").output().unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let state = job.path("out/.snatch/v");
    assert_eq!(support::cli::saved(&state).len(), 1);
    assert!(!state.join("playlist.json").exists());
    let recorded = std::fs::read_to_string(state.join("stream.json")).unwrap();
    assert!(!recorded.contains("q7z"), "{recorded}");
    assert!(
        recorded.contains("/${SNATCH_T_DIR}/a/seg0.ts"),
        "{recorded}"
    );

    // The server now lists another video, encrypted with a key of its own:
    // the rerun stops before any segment or key.
    server.clear_faults();
    let other = listing_in(&text, "b").replacen(
        "#EXTINF",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"/keys/other.key\"\n#EXTINF",
        1,
    );
    std::fs::write(&index, other).unwrap();
    server.clear_requests();
    let out = run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("segment 0: /${SNATCH_T_DIR}/a/seg0.ts became /${SNATCH_T_DIR}/b/seg0.ts"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/q7z/index.m3u8"]);
    assert_eq!(support::cli::saved(&state).len(), 1);
    assert_eq!(job.report()["jobs"][0]["status"], "failed");

    std::fs::write(&index, listing_in(&text, "b")).unwrap();
    let out = run(&["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = job.path("out/v.mp4");
    assert_eq!(decode_errors(&file), "");
    assert_eq!(video_height(&file), 180);
    let (duration, _) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    // Done: the tidy-up leaves no record of the stream behind.
    assert!(!state.join("stream.json").exists());
}

#[test]
fn a_template_job_whose_token_expired_says_so() {
    let made = make(Hls::default());
    let (_root, server) = served(&[(&made, "x")]);
    server.always("/x/seg2.ts", Fault::Status(403));
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{}/x/seg{{{{index}}}}.ts?tok=abc\"\n    range: {{ start: 0, end: 2 }}\n    concurrency: 1\n",
        server.url()
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("its token has probably expired: update it in the job file and rerun"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_rerun_renews_the_expired_links_of_its_saved_playlist() {
    let made = make(Hls::default());
    let (root, server) = served(&[(&made, "t")]);
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    std::fs::write(
        root.path().join("t/index.m3u8"),
        text.replace(".ts\n", ".ts?tok={TOKEN}\n"),
    )
    .unwrap();
    server.expire_tokens("/t/", 1000);
    server.always("/t/seg0.ts", Fault::Status(404));
    let job = Job::new(&playlist_job(
        &format!("{}/t/index.m3u8", server.url()),
        "    concurrency: 1\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(job.report()["jobs"][0]["segments"]["fetched"], 0);

    // Nothing arrived, and the saved links have expired since.
    server.clear_faults();
    server.rotate_tokens();
    run_ok(&job, &[]);
    let j = &job.report()["jobs"][0];
    assert_eq!(j["playlist_reloads"], 1);
    assert_eq!(j["segments"]["fetched"], 3);
}

#[test]
fn a_live_playlist_is_not_saved_and_the_rerun_fetches_it_finished() {
    let made = make(Hls::default());
    let (root, server) = served(&[(&made, "l")]);
    let index = root.path().join("l/index.m3u8");
    let finished = std::fs::read_to_string(&index).unwrap();
    assert!(finished.contains("#EXT-X-ENDLIST\n"), "{finished}");
    std::fs::write(&index, finished.replace("#EXT-X-ENDLIST\n", "")).unwrap();
    let job = Job::new(&playlist_job(&format!("{}/l/index.m3u8", server.url()), ""));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("still growing"), "{}", stderr(&out));
    assert!(!job.path("out/.snatch/v/playlist.json").exists());

    // The stream ended: the rerun reads the finished playlist, not a copy
    // of the live one.
    std::fs::write(&index, finished).unwrap();
    let file = run_ok(&job, &[]);
    let (duration, _) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    assert_eq!(server.requests_to("/l/index.m3u8").len(), 2);
    assert_eq!(job.report()["jobs"][0]["status"], "ok");
}

#[test]
fn a_discontinuity_keeps_its_place_and_the_merge_decodes() {
    let made = make(Hls::default());
    let (root, server) = served(&[(&made, "a"), (&made, "b")]);
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    let body = |dir: &str| -> String {
        text.lines()
            .filter(|l| l.starts_with("#EXTINF") || l.ends_with(".ts"))
            .map(|l| match l.ends_with(".ts") {
                true => format!("{dir}/{l}\n"),
                false => format!("{l}\n"),
            })
            .collect()
    };
    std::fs::write(
        root.path().join("joined.m3u8"),
        format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n{}#EXT-X-DISCONTINUITY\n{}#EXT-X-ENDLIST\n",
            body("a"),
            body("b")
        ),
    )
    .unwrap();
    let job = Job::new(&playlist_job(&format!("{}/joined.m3u8", server.url()), ""));
    let file = run_ok(&job, &[]);
    let (duration, _) = probe(&file);
    assert!((duration - 12.0).abs() < 0.3, "duration {duration}");
    assert_eq!(job.report()["jobs"][0]["segments"]["planned"], 6);
}

fn audio_rendition(name: &str, fmp4: bool) {
    let made = support::hls::with_audio_rendition(name, fmp4);
    let master = std::fs::read_to_string(made.join("master.m3u8")).unwrap();
    assert!(master.contains("TYPE=AUDIO"), "{master}");
    let root = tempfile::tempdir().unwrap();
    copy_to(&made, root.path(), "r");
    for s in ["stream_0", "stream_1"] {
        copy_to(&made.join(s), root.path(), &format!("r/{s}"));
    }
    let server = TestServer::start(root.path());
    let job = Job::new(&playlist_job(
        &format!("{}/r/master.m3u8", server.url()),
        "",
    ));
    let file = run_ok(&job, &[]);
    let (duration, streams) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    assert_eq!(streams, ["video", "audio"]);
    assert_eq!(video_height(&file), 90);
    assert_eq!(server.requests_to("/r/stream_1/index.m3u8").len(), 1);
    let j = &job.report()["jobs"][0];
    let audio_segments = std::fs::read_dir(made.join("stream_1"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("seg")
        })
        .count();
    assert_eq!(j["segments"]["planned"], 3 + audio_segments as u64);
    // Nothing hidden is left beside the output.
    let left: Vec<_> = std::fs::read_dir(job.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("snatch-part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_separate_audio_rendition_is_fetched_and_muxed_in_fmp4() {
    audio_rendition("audio-fmp4", true);
}

#[test]
fn a_separate_audio_rendition_is_fetched_and_muxed_in_ts() {
    audio_rendition("audio-ts", false);
}

/// The playlist `text` cut after its first segment, still ended.
fn first_segment_only(text: &str) -> String {
    let first = text.find(".ts\n").or_else(|| text.find(".m4s\n")).unwrap();
    let end = text[first..].find('\n').unwrap() + first + 1;
    format!("{}#EXT-X-ENDLIST\n", &text[..end])
}

#[test]
fn an_audio_rendition_shorter_than_the_video_fails_the_job_naming_it() {
    let made = support::hls::with_audio_rendition_of("audio-ts-8s", false, 8);
    let root = tempfile::tempdir().unwrap();
    copy_to(&made, root.path(), "r");
    for s in ["stream_0", "stream_1"] {
        copy_to(&made.join(s), root.path(), &format!("r/{s}"));
    }
    // 8 s of video; the audio playlist keeps its first 2 s segment.
    let audio = root.path().join("r/stream_1/index.m3u8");
    let text = std::fs::read_to_string(&audio).unwrap();
    std::fs::write(&audio, first_segment_only(&text)).unwrap();
    let server = TestServer::start(root.path());
    let job = Job::new(&playlist_job(
        &format!("{}/r/master.m3u8", server.url()),
        "",
    ));
    let out = job.run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the merged file's audio stream (stream #1) is 2.0 s long")
            || err.contains("the merged file's audio stream (stream #1) is 2.1 s long"),
        "{err}"
    );
    assert!(
        err.contains("short of the 8.0 s the playlist's EXTINF durations add up to"),
        "{err}"
    );
    assert!(err.contains("every segment is kept"), "{err}");
    let j = &job.report()["jobs"][0];
    assert_eq!(j["status"], "failed");
    assert_eq!(j["segments"]["planned"], 5);
    assert_eq!(j["media"]["streams"], serde_json::json!(["video", "audio"]));
    assert_eq!(support::cli::saved(&job.path("out/.snatch/v")).len(), 5);
    assert!(!job.path("out/v.mp4").exists());
}

#[test]
fn a_server_that_ignores_byte_ranges_is_refused() {
    let made = make(Hls {
        name: "single",
        single_file: true,
        ..Hls::default()
    });
    let (_root, server) = served(&[(&made, "s")]);
    server.set_range_support(false);
    let job = Job::new(&playlist_job(&format!("{}/s/index.m3u8", server.url()), ""));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("answered 200 (the whole file) to a byte-range request"),
        "{}",
        stderr(&out)
    );
    assert!(!job.path("out/v.mp4").exists());
}

#[test]
fn a_wrong_key_never_merges_garbage() {
    let (_made, _root, server) = served_encrypted(&[9u8; 16]);
    let job = Job::new(&playlist_job(&format!("{}/e/index.m3u8", server.url()), ""));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("does not decrypt") || err.contains("not an MPEG-TS segment"),
        "{err}"
    );
    assert!(!job.path("out/v.mp4").exists());
}

#[test]
fn what_a_hostile_playlist_says_is_shown_escaped() {
    let made = make(Hls::default());
    let (root, server) = served(&[(&made, "a")]);
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    // A title change, a bell and a screen wipe, in two places a message
    // quotes: a key format, and a segment URI that is no web address.
    let wipe = "\u{1b}]0;owned\u{7}\u{1b}[2J";
    let drm = text.replacen(
        "#EXTINF",
        &format!("#EXT-X-KEY:METHOD=AES-128,URI=\"k.key\",KEYFORMAT=\"{wipe}\"\n#EXTINF"),
        1,
    );
    std::fs::write(root.path().join("a/drm.m3u8"), drm).unwrap();
    let first = text
        .lines()
        .find(|l| l.ends_with(".ts"))
        .expect("a segment line")
        .to_string();
    let local = text.replacen(&first, &format!("file:/etc/{wipe}"), 1);
    std::fs::write(root.path().join("a/local.m3u8"), local).unwrap();
    for (file, words) in [
        ("drm.m3u8", "is DRM"),
        ("local.m3u8", "is not http or https"),
    ] {
        let job = Job::new(&playlist_job(&format!("{}/a/{file}", server.url()), ""));
        let out = job.run(&["--junit", "junit.xml"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(words), "{err}");
        assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
        assert!(err.contains("\\u{1b}]0;owned\\u{7}\\u{1b}[2J"), "{err}");
        let junit = std::fs::read_to_string(job.path("junit.xml")).unwrap();
        assert!(
            !junit.contains('\u{1b}'),
            "JUnit XML 1.0 cannot hold ESC: {junit}"
        );
        let error = job.report()["jobs"][0]["error"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            error.contains(words) && !error.contains('\u{1b}'),
            "{error}"
        );
    }
}

/// 503 with `Retry-After: 1`, twice, then the file: the job is ok, the
/// server saw three requests for `path`, snatch paused the host for each
/// answer, and the retries came no sooner than the server asked.
fn retried_after_the_servers_wait(server: &TestServer, job: &Job, path: &str) {
    let busy = Fault::RetryAfter {
        status: 503,
        value: "1".into(),
    };
    server.script(path, [busy.clone(), busy]);
    let out = job.run_env(&[("SNATCH_T_AUTH", "sesame")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(job.report()["jobs"][0]["status"], "ok");
    let asked = server.requests_to(path);
    assert_eq!(asked.len(), 3, "{asked:?}");
    let paused = err.matches("127.0.0.1 paused 1s: Retry-After").count();
    assert_eq!(paused, 2, "{err}");
    // A lower bound only: the server's own clock, one request to the next.
    for pair in asked.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= std::time::Duration::from_millis(900), "{gap:?}");
    }
}

const THREE_ATTEMPTS: &str = "    retry: { attempts: 3, backoff: 50ms, max_backoff: 1s }\n";

#[test]
fn a_playlist_answering_retry_after_is_asked_again_after_the_wait() {
    let made = make(Hls::default());
    let (_root, server) = served(&[(&made, "vod/a")]);
    let url = format!("{}/vod/a/index.m3u8", server.url());
    let job = Job::new(&playlist_job(&url, THREE_ATTEMPTS));
    retried_after_the_servers_wait(&server, &job, "/vod/a/index.m3u8");
}

#[test]
fn a_key_answering_retry_after_is_asked_again_after_the_wait() {
    let (_made, _root, server) = served_encrypted(&KEY);
    let url = format!("{}/e/index.m3u8", server.url());
    let job = Job::new(&playlist_job(&url, THREE_ATTEMPTS));
    retried_after_the_servers_wait(&server, &job, "/keys/aes-iv.key");
}
