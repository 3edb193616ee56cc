//! `snatch new` on HLS playlists, fMP4 segments and `--range N-auto`,
//! through the binary: playlists made by ffmpeg, served by the project's
//! test server; the job written is then run and its output decoded.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use support::cli::stderr;
use support::hls::{copy_to, decode_errors, make, two_variants, video_height, Hls};
use support::server::{Fault, TestServer};

/// `snatch ARGS` in `dir`, with `env`.
fn snatch(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

/// `snatch run` on `dir/jobs.yaml`; the output `out/v.mp4` decodes cleanly.
fn run_ok(dir: &Path, env: &[(&str, &str)]) -> std::path::PathBuf {
    let out = snatch(dir, &["run", "jobs.yaml"], env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = dir.join("out/v.mp4");
    assert_eq!(
        decode_errors(&file),
        "",
        "the output decodes without errors"
    );
    file
}

fn served(made: &Path, sub: &str) -> (tempfile::TempDir, TestServer) {
    let root = tempfile::tempdir().unwrap();
    copy_to(made, root.path(), sub);
    for s in ["stream_0", "stream_1"] {
        if made.join(s).is_dir() {
            copy_to(&made.join(s), root.path(), &format!("{sub}/{s}"));
        }
    }
    let server = TestServer::start(root.path());
    (root, server)
}

#[test]
fn a_master_playlist_gives_a_playlist_job_that_lists_its_variants() {
    let made = two_variants("two-variants");
    let (_root, server) = served(&made, "m");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/m/master.m3u8?token=tok-5e3a9f&lang=en", server.url());
    let out = snatch(
        dir.path(),
        &[
            "new",
            &url,
            "--name",
            "v",
            "--referer",
            "https://tv.example.com/",
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");

    // One request: the master playlist, with the job's headers and token.
    let asked = server.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].path, "/m/master.m3u8");
    assert_eq!(asked[0].query.as_deref(), Some("token=tok-5e3a9f&lang=en"));
    assert_eq!(asked[0].header("referer"), Some("https://tv.example.com/"));

    // The variants, each with the `variant:` that takes it.
    assert!(
        err.contains("created jobs.yaml with playlist job `v`"),
        "{err}"
    );
    assert!(
        err.contains("the master playlist offers 2 variants"),
        "{err}"
    );
    let rows: Vec<&str> = err.lines().filter(|l| l.contains(" bit/s")).collect();
    assert_eq!(rows.len(), 2, "{err}");
    assert!(rows[0].contains("320x180 at") && rows[0].ends_with("variant: best"));
    assert!(rows[1].contains("160x90 at") && rows[1].ends_with("variant: { max_height: 90 }"));
    assert!(err.contains("export SNATCH_V_TOKEN='tok-5e3a9f'"), "{err}");

    // The job: the playlist with its token as a placeholder, `variant: best`.
    let text = std::fs::read_to_string(dir.path().join("jobs.yaml")).unwrap();
    let wanted = format!(
        "playlist: \"{}/m/master.m3u8?token=${{SNATCH_V_TOKEN}}&lang=en\"",
        server.url()
    );
    assert!(text.contains(&wanted), "{text}");
    assert!(text.contains("    variant: best\n"), "{text}");
    assert!(!text.contains("tok-5e3a9f"), "{text}");

    // It runs: best is the larger variant; as printed, max_height the smaller.
    let env = [("SNATCH_V_TOKEN", "tok-5e3a9f")];
    assert_eq!(video_height(&run_ok(dir.path(), &env)), 180);
    std::fs::write(
        dir.path().join("jobs.yaml"),
        text.replace("variant: best", "variant: { max_height: 90 }"),
    )
    .unwrap();
    std::fs::remove_dir_all(dir.path().join("out")).unwrap();
    assert_eq!(video_height(&run_ok(dir.path(), &env)), 90);
}

#[test]
fn a_media_playlist_gives_a_job_without_variant_and_its_counts() {
    let made = make(Hls {
        name: "fmp4",
        fmp4: true,
        ..Hls::default()
    });
    let (_root, server) = served(&made, "f");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/f/index.m3u8", server.url());
    let out = snatch(dir.path(), &["new", &url, "--name", "v"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "the playlist lists 3 segments (6.0 s from EXTINF), fragmented MP4 with an init segment"
        ),
        "{err}"
    );
    let text = std::fs::read_to_string(dir.path().join("jobs.yaml")).unwrap();
    assert!(!text.contains("variant"), "{text}");
    run_ok(dir.path(), &[]);
}

#[test]
fn a_playlist_that_cannot_be_read_still_gives_a_job_and_one_that_cannot_be_downloaded_none() {
    let made = make(Hls::default());
    let (root, server) = served(&made, "a");
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    std::fs::write(
        root.path().join("a/live.m3u8"),
        text.replace("#EXT-X-ENDLIST\n", ""),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Refused: nothing written.
    let live = format!("{}/a/live.m3u8", server.url());
    let out = snatch(dir.path(), &["new", &live], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("snatch cannot download this playlist, so no job was added"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("is a live playlist"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("jobs.yaml").exists());

    // Segment options make no sense beside a playlist.
    let media = format!("{}/a/index.m3u8", server.url());
    let out = snatch(dir.path(), &["new", &media, "--range", "1-3"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--range cannot be used with a playlist"),
        "{}",
        stderr(&out)
    );

    // Not readable now (403): written, with a note on choosing a variant;
    // the signed value only in the export line.
    server.always("/a/index.m3u8", Fault::Status(403));
    let signed = format!("{media}?sig=sig-403a77");
    let out = snatch(dir.path(), &["new", &signed, "--name", "v"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("note: the playlist was not read ("), "{err}");
    assert!(err.contains("index.m3u8?sig=***: HTTP 403"), "{err}");
    assert!(err.contains("`snatch plan --probe`"), "{err}");
    assert_eq!(err.matches("sig-403a77").count(), 1, "{err}");
    assert!(err.contains("export SNATCH_V_SIG='sig-403a77'"), "{err}");
    let text = std::fs::read_to_string(dir.path().join("jobs.yaml")).unwrap();
    assert!(
        text.contains(&format!("playlist: \"{media}?sig=${{SNATCH_V_SIG}}\"")),
        "{text}"
    );
    assert!(!text.contains("variant"), "{text}");
    server.clear_faults();
    run_ok(dir.path(), &[("SNATCH_V_SIG", "sig-403a77")]);
}

#[test]
fn fmp4_segments_with_init_give_a_job_that_runs_and_without_it_a_note() {
    let made = make(Hls {
        name: "fmp4",
        fmp4: true,
        ..Hls::default()
    });
    let (_root, server) = served(&made, "f");
    let base = format!("{}/f", server.url());
    let dir = tempfile::tempdir().unwrap();

    // Without --init: the job is written, and a note says what it lacks.
    let seg = format!("{base}/seg1.m4s?token=tok-77aa01");
    let out = snatch(
        dir.path(),
        &["new", &seg, "--range", "0-2", "--name", "bare", "--dry-run"],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("note: the segments look like fragmented MP4 (CMAF), which cannot be merged without their init segment: add `init: URL`"),
        "{err}"
    );

    // With --init: `init:` written, the shared token one variable; it runs.
    let init = format!("{base}/init.mp4?token=tok-77aa01");
    let out = snatch(
        dir.path(),
        &[
            "new", &seg, "--range", "0-2", "--name", "v", "--init", &init,
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("fragmented MP4"), "{err}");
    assert_eq!(err.matches("export ").count(), 1, "{err}");
    let text = std::fs::read_to_string(dir.path().join("jobs.yaml")).unwrap();
    assert!(
        text.contains(&format!(
            "    init: \"{base}/init.mp4?token=${{SNATCH_V_TOKEN}}\"\n"
        )),
        "{text}"
    );
    assert!(!text.contains("tok-77aa01"), "{text}");
    let file = run_ok(dir.path(), &[("SNATCH_V_TOKEN", "tok-77aa01")]);
    let (duration, streams) = support::media::probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    assert_eq!(streams, ["video", "audio"]);
    assert_eq!(server.requests_to("/f/init.mp4").len(), 1);
}

#[test]
fn range_first_auto_gives_an_end_auto_job_that_finds_its_end() {
    let media = support::media::segments(5, 1);
    let server = TestServer::start(&media);
    let dir = tempfile::tempdir().unwrap();
    let seg = format!("{}/000002.ts", server.url());
    let out = snatch(
        dir.path(),
        &["new", &seg, "--range", "1-auto", "--name", "v"],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("job `v` (segments up to the last found by probing)"),
        "{err}"
    );
    assert!(server.requests().is_empty(), "snatch new probes nothing");
    let text = std::fs::read_to_string(dir.path().join("jobs.yaml")).unwrap();
    assert!(
        text.contains("    range: { start: 1, end: auto }\n"),
        "{text}"
    );
    let out = snatch(
        dir.path(),
        &["run", "jobs.yaml", "--report", "report.json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["jobs"][0]["end_found"]["last_index"], 5);
    assert_eq!(decode_errors(&dir.path().join("out/v.mp4")), "");
}

/// A DASH manifest as packagers write it (shortened).
const MPD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- Created with a packager -->
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT6S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period id="0">
    <AdaptationSet mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate media="chunk-$Number%05d$.m4s" initialization="init.m4s" startNumber="1" duration="2" timescale="1"/>
      <Representation id="v0" bandwidth="100000" codecs="avc1.64000c" width="160" height="90"/>
    </AdaptationSet>
  </Period>
</MPD>
"#;

fn mpd() -> Fault {
    Fault::Typed {
        content_type: "application/dash+xml".into(),
        body: MPD.as_bytes().to_vec(),
    }
}

/// The error of a refused `snatch new`, once it wrote nothing.
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = snatch(dir, args, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!dir.join("jobs.yaml").exists(), "{err}");
    err
}

#[test]
fn a_dash_manifest_gives_a_playlist_job_that_lists_its_representations() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(root.path());
    server.always("/d/manifest.mpd", mpd());
    server.always("/d/index.m3u8", mpd());
    let drm = MPD.replace(
        "<Representation",
        "<ContentProtection schemeIdUri=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\"/><Representation",
    );
    server.always(
        "/d/drm.mpd",
        Fault::Typed {
            content_type: "application/dash+xml".into(),
            body: drm.into_bytes(),
        },
    );

    // Segment options are refused beside it, as beside any playlist.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/d/manifest.mpd", server.url());
    let err = refused(dir.path(), &["new", &url, "--range", "1-3"]);
    assert!(
        err.contains("--range cannot be used with a playlist"),
        "{err}"
    );

    // `….mpd`, or a playlist's URL that answers an MPD: read once, by its body.
    for (i, path) in ["/d/manifest.mpd", "/d/index.m3u8"].iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        server.clear_requests();
        let url = format!("{}{path}", server.url());
        let out = snatch(dir.path(), &["new", &url, "--name", &format!("v{i}")], &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert_eq!(server.requests().len(), 1, "{err}");
        assert!(
            err.contains("the MPEG-DASH manifest (MPD) lists 6.0 s in 1 period: 3 segments of the best video"),
            "{err}"
        );
        assert!(
            err.contains("160x90 at 100000 bit/s  variant: best"),
            "{err}"
        );
        let yaml = std::fs::read_to_string(dir.path().join("jobs.yaml")).unwrap();
        assert!(
            yaml.contains(&format!("playlist: {url}"))
                || yaml.contains(&format!("playlist: \"{url}\"")),
            "{yaml}"
        );
        assert!(yaml.contains("variant: best"), "{yaml}");
    }

    // One a job could not download: nothing written, and why.
    let url = format!("{}/d/drm.mpd", server.url());
    let err = refused(dir.path(), &["new", &url]);
    assert!(
        err.contains("snatch cannot download this MPEG-DASH manifest"),
        "{err}"
    );
    assert!(err.contains("protected by DRM (Widevine"), "{err}");
}

#[test]
fn a_url_named_mpd_that_answers_an_hls_playlist_gives_a_playlist_job() {
    let made = make(Hls::default());
    let (root, server) = served(&made, "a");
    std::fs::copy(made.join("index.m3u8"), root.path().join("a/stream.mpd")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/a/stream.mpd", server.url());

    let err = refused(dir.path(), &["new", &url, "--count", "3"]);
    assert!(
        err.contains("--count cannot be used with a playlist"),
        "{err}"
    );

    let out = snatch(dir.path(), &["new", &url, "--name", "v"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("the playlist lists 3 segments"), "{err}");
    run_ok(dir.path(), &[]);
}
