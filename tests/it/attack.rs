//! Holes found by attacking issues 9 and 10 on the merged code, each shown
//! end to end: a hostile job file (a stranger's pull request, with links
//! and files committed into the output folder), a hostile server (the
//! project's test server on 127.0.0.1 and 127.0.0.2), real ffmpeg.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use support::cli::{ledger_lines, saved, snapshot, stderr, Job};
use support::hls::{copy_to, decode_errors, make, Hls};
use support::media::probe;
use support::server::{Fault, TestServer};

fn playlist_job(url: &str, extra: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 3, backoff: 50ms, max_backoff: 100ms }}\njobs:\n  - name: v\n    playlist: \"{url}\"\n{extra}"
    )
}

/// A served copy of a made playlist folder (and its sub-folders).
fn served(made: &Path, sub: &str) -> (tempfile::TempDir, TestServer) {
    let root = tempfile::tempdir().unwrap();
    copy_to(made, root.path(), sub);
    for e in std::fs::read_dir(made).unwrap().flatten() {
        if e.path().is_dir() {
            let name = e.file_name().to_string_lossy().into_owned();
            copy_to(&e.path(), root.path(), &format!("{sub}/{name}"));
        }
    }
    let server = TestServer::start(root.path());
    (root, server)
}

/// A pull request that commits, into the job's state folder, a ledger
/// naming the job's playlist (so nothing there is cleared as another
/// video's), one saved segment, and a dangling link at `link` that leads
/// to `victim/authorized_keys`. The server's init segment must not land
/// there.
#[cfg(unix)]
fn init_through_planted_link(made: &Path, playlist: &str, link: &str) {
    let (_root, server) = served(made, "f");
    let url = format!("{}/f/{playlist}", server.url());
    let job = Job::new(&playlist_job(&url, ""));
    let victim = job.path("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("notes.txt"), b"precious").unwrap();
    let state = job.path("out/.snatch/v");
    std::fs::create_dir_all(&state).unwrap();
    let header = format!("{{\"snatch_ledger\":2,\"identity\":\"{url}\"}}\n");
    std::fs::write(state.join("ledger.jsonl"), header).unwrap();
    std::fs::write(state.join("1000000.ts"), [0x47u8; 188]).unwrap();
    std::os::unix::fs::symlink(victim.join("authorized_keys"), state.join(link)).unwrap();
    let before = snapshot(&victim);
    let out = job.run(&[]);
    let after = snapshot(&victim);
    let changed: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert!(
        changed.is_empty(),
        "{link}: the victim changed: {changed:?}"
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = job.report()["jobs"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.contains(&format!("out/.snatch/v/{link}")) && err.contains("symbolic link"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn a_link_at_the_init_segment_receives_no_server_bytes() {
    let made = make(Hls {
        name: "fmp4",
        fmp4: true,
        ..Hls::default()
    });
    init_through_planted_link(&made, "index.m3u8", "init.mp4");
}

#[cfg(unix)]
#[test]
fn a_link_at_the_audio_init_segment_receives_no_server_bytes() {
    let made = support::hls::with_audio_rendition("audio-fmp4", true);
    init_through_planted_link(&made, "master.m3u8", "init-audio.mp4");
}

/// `snatch run jobs.yaml` from the job file's folder, as CI runs it.
fn run_here(job: &Job) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(job.dir.path())
        .args(["run", "jobs.yaml", "--report", "report.json"])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// A relative `output_dir` that reads as a URL (`http:/…`) passes the
/// workspace check; the paths below it go to ffmpeg and ffprobe, which
/// must read them as files, not fetch them from a host the job file names.
#[test]
fn ffmpeg_and_ffprobe_never_take_an_output_path_for_a_url() {
    let made = support::hls::with_audio_rendition("audio-ts", false);
    let (_root, server) = served(&made, "f");
    let elsewhere = tempfile::tempdir().unwrap();
    let second = TestServer::start_on("127.0.0.2", elsewhere.path(), Default::default());
    let dir = format!("http://{}/x", second.addr());
    let job = Job::new(&playlist_job(
        &format!("{}/f/master.m3u8", server.url()),
        &format!("    output_dir: \"{dir}\"\n"),
    ));
    let out = run_here(&job);
    assert_eq!(
        second.requests().len(),
        0,
        "ffmpeg or ffprobe fetched {:?}",
        second
            .requests()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = job.dir.path().join(&dir).join("v.mp4");
    let (duration, streams) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    assert_eq!(streams, ["video", "audio"]);
}

/// A byte-range segment answered with `206` and a `Content-Range` that is
/// not the one asked (here the first half of the whole file) is retried,
/// never stored as the segment.
#[test]
fn a_206_with_another_range_is_never_stored_as_the_segment() {
    let made = make(Hls {
        name: "single",
        single_file: true,
        ..Hls::default()
    });
    let (_root, server) = served(&made, "s");
    server.script("/s/all.ts", [Fault::Partial]);
    let job = Job::new(&playlist_job(&format!("{}/s/index.m3u8", server.url()), ""));
    let out = job.run(&["--keep-segments"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let file = job.path("out/v.mp4");
    let (duration, _) = probe(&file);
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    assert_eq!(decode_errors(&file), "");
    assert_eq!(job.report()["jobs"][0]["retries"], 1);
    // Each saved segment is its own range of the file, byte for byte.
    let whole = std::fs::read(made.join("all.ts")).unwrap();
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    let spooled = saved(&job.path("out/.snatch/v"));
    let mut offset = 0usize;
    let mut index = 0u64;
    for line in text.lines() {
        if let Some(r) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            let (len, at) = match r.split_once('@') {
                Some((l, a)) => (l.parse::<usize>().unwrap(), a.parse().unwrap()),
                None => (r.parse().unwrap(), offset),
            };
            let saved = &spooled[&index];
            assert!(
                saved[..] == whole[at..at + len],
                "segment {index} is not its range"
            );
            offset = at + len;
            index += 1;
        }
    }
    assert_eq!(index, 3);
}

/// Saved segments are keyed by index (a playlist's media sequence number);
/// those of another variant are another video. A rerun after `variant`
/// changed must not merge the old variant's segments as the new one's.
#[test]
fn segments_of_another_variant_are_never_merged_as_this_one() {
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
    let root = tempfile::tempdir().unwrap();
    copy_to(&low, root.path(), "m/low");
    copy_to(&high, root.path(), "m/high");
    std::fs::write(
        root.path().join("m/master.m3u8"),
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=160x90\nlow/index.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=320x180\nhigh/index.m3u8\n",
    )
    .unwrap();
    let server = TestServer::start(root.path());
    let url = format!("{}/m/master.m3u8", server.url());
    let job = Job::new(&playlist_job(&url, ""));
    let out = job.run(&["--keep-segments"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(support::hls::video_height(&job.path("out/v.mp4")), 180);
    let saved = snapshot(&job.path("out/.snatch/v"));

    std::fs::write(
        &job.file,
        playlist_job(&url, "    variant: { max_height: 100 }\n"),
    )
    .unwrap();
    let out = job.run(&[]);
    let height = support::hls::video_height(&job.path("out/v.mp4"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{} (height {height})",
        stderr(&out)
    );
    assert_eq!(height, 180, "the earlier output stays");
    let err = stderr(&out);
    assert!(
        err.contains("another video") && err.contains("--force"),
        "{err}"
    );
    let kept = snapshot(&job.path("out/.snatch/v"));
    let segments = |p: &&std::path::PathBuf| {
        p.extension().is_some_and(|e| e == "ts")
            || p.file_name()
                .is_some_and(|n| n == "segments.spool" || n == "ledger.jsonl")
    };
    assert!(saved.keys().filter(segments).count() > 2, "{saved:?}");
    for (p, bytes) in saved.iter().filter(|(p, _)| segments(p)) {
        assert_eq!(kept.get(p), Some(bytes), "{} was not kept", p.display());
    }

    let out = job.run(&["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(support::hls::video_height(&job.path("out/v.mp4")), 90);
}

/// An interrupted report counts every segment that landed: one whose task
/// was stopped just after its file was put in place, or whose outcome was
/// still on its way to the count, was fetched all the same.
#[cfg(unix)]
#[test]
fn an_interrupted_report_counts_every_segment_that_landed() {
    let media = support::media::segments(120, 1);
    let server = TestServer::start(&media);
    let (mut misses, mut interrupted) = (Vec::new(), 0);
    for round in 0..6 {
        let job = Job::new(&format!(
            "version: 1\njobs:\n  - name: v\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 120 }}\n    concurrency: 16\n",
            server.url()
        ));
        let landed = || saved(&job.path("out/.snatch/v")).len();
        let recorded = || ledger_lines(&job.path("out/.snatch/v"));
        let child = job.command(&[]).spawn().unwrap();
        while recorded() < 10 + round * 10 {
            std::thread::yield_now();
        }
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        if out.status.code() == Some(0) {
            continue; // it finished before the interrupt
        }
        assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
        interrupted += 1;
        let fetched = job.report()["jobs"][0]["segments"]["fetched"]
            .as_u64()
            .unwrap();
        if fetched != landed() as u64 {
            misses.push((fetched, landed()));
        }
    }
    assert!(misses.is_empty(), "(reported, on disk): {misses:?}");
    assert!(interrupted >= 3, "only {interrupted} runs were interrupted");
}

/// The tidy-up after a merge removes no segment that a wider range saved
/// earlier (the spool stays whole while it holds one): narrowing a long
/// job to try it, then widening it again, refetches nothing that was saved.
#[test]
fn the_tidy_up_keeps_segments_outside_the_merged_range() {
    let media = support::media::segments(6, 1);
    let server = TestServer::start(&media);
    let job_with = |end: u32| {
        format!(
            "version: 1\njobs:\n  - name: v\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: {end} }}\n",
            server.url()
        )
    };
    let job = Job::new(&job_with(6));
    let out = job.run(&["--keep-segments"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    std::fs::write(&job.file, job_with(2)).unwrap();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let kept = saved(&job.path("out/.snatch/v"));
    for i in 3..=6 {
        assert!(
            kept.contains_key(&i),
            "segment {i}, saved by the wider run, was deleted"
        );
    }
    server.clear_requests();
    std::fs::write(&job.file, job_with(6)).unwrap();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let asked: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(asked.is_empty(), "saved segments fetched again: {asked:?}");
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
}

/// A value from the environment that the URL parser writes otherwise (a
/// space or `<` percent-encoded) is still a secret: the playlist's URL,
/// as it answered, is neither saved nor shown with it.
#[test]
fn a_secret_the_url_parser_encodes_is_never_saved_or_shown() {
    let made = make(Hls::default());
    let (root, server) = served(&made, "f");
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    let live = text.replace("#EXT-X-ENDLIST", "");
    std::fs::write(root.path().join("f/live.m3u8"), live).unwrap();
    let secret = "tok en<1>";
    for (playlist, code) in [("index.m3u8", 0), ("live.m3u8", 1)] {
        let job = Job::new(&playlist_job(
            &format!("{}/f/{playlist}?t=${{SNATCH_T}}", server.url()),
            "",
        ));
        let out = job
            .command(&["--keep-segments"])
            .env("SNATCH_T", secret)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        let mut texts = vec![stderr(&out), String::from_utf8_lossy(&out.stdout).into()];
        texts.push(std::fs::read_to_string(job.path("report.json")).unwrap());
        for (path, bytes) in snapshot(&job.path("out")) {
            texts.push(format!(
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&bytes)
            ));
        }
        for t in texts {
            for form in ["tok en", "tok%20en", "tok+en"] {
                assert!(
                    !t.contains(form),
                    "{playlist}: the secret as {form} in {t:.300}"
                );
            }
        }
    }
}

/// The report counts a job's redirects, also those of its playlist, key
/// and init requests (which go through the same chain as segments).
#[test]
fn redirects_of_playlist_and_init_requests_are_counted() {
    let made = make(Hls {
        name: "fmp4",
        fmp4: true,
        ..Hls::default()
    });
    let (root, server) = served(&made, "f");
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    let moved = text.replace("URI=\"init.mp4\"", "URI=\"go-init.mp4\"");
    assert_ne!(moved, text);
    std::fs::write(root.path().join("f/moved.m3u8"), moved).unwrap();
    let to = |path: &str, location: &str| {
        let fault = Fault::Redirect {
            status: 302,
            location: location.into(),
        };
        server.always(path, fault);
    };
    to("/f/go.m3u8", "/f/moved.m3u8");
    to("/f/go-init.mp4", "/f/init.mp4");
    let job = Job::new(&playlist_job(&format!("{}/f/go.m3u8", server.url()), ""));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(job.report()["jobs"][0]["redirects"], 2);
}
