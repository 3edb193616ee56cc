//! A failed job says what to do next, and says it alike on the terminal
//! (the job's `FAILED` line), in the JSON report (`error`) and in JUnit
//! (`<failure message>`): real runs against the project's test server,
//! the sentence snapshot-tested once all three agree.

use crate::support;

use support::cli::{stderr, Job};
use support::hls::{self, Hls};
use support::media::segments;
use support::server::{Fault, TestServer};

fn job_yaml(url: &str, extra: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 3, backoff: 20ms, max_backoff: 50ms }}\njobs:\n  - name: v\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n{extra}"
    )
}

/// Runs the job, which must fail; returns its error once the terminal,
/// the JSON report and JUnit say the same.
fn failure(job: &Job, env: &[(&str, &str)]) -> (String, String) {
    let mut cmd = job.command(&["--junit", "junit.xml"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let terminal = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{terminal}");
    let report = job.report();
    let err = report["jobs"][0]["error"].as_str().unwrap().to_string();
    assert!(
        terminal.contains(&format!("v: FAILED: {err}\n")),
        "{terminal}"
    );
    let junit = std::fs::read_to_string(job.path("junit.xml")).unwrap();
    assert_eq!(junit_failure(&junit), err);
    let all = format!(
        "{terminal}\n{}\n{junit}",
        std::fs::read_to_string(job.path("report.json")).unwrap()
    );
    (err, all)
}

/// The `message` of the first `<failure>`, unescaped.
fn junit_failure(xml: &str) -> String {
    let start = xml.find("<failure message=\"").expect("a failure") + 18;
    let end = start + xml[start..].find('"').unwrap();
    xml[start..end]
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn snapshot(name: &str, err: &str) {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"127\.0\.0\.(\d):\d+", "127.0.0.$1:[port]");
    s.add_filter(r"snatch/\d+\.\d+\.\d+", "snatch/[version]");
    s.bind(|| insta::assert_snapshot!(name, err));
}

#[test]
fn a_403_names_the_headers_that_were_sent_secrets_as_stars() {
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    server.always("/000003.ts", Fault::Status(403));
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 4 }\n    concurrency: 1\n    headers:\n      Referer: \"https://tv.example.com/v/1\"\n      Cookie: \"sid=${SNATCH_T_COOKIE}\"\n      X-Requested-With: \"player\"\n",
    ));
    let (err, all) = failure(&job, &[("SNATCH_T_COOKIE", "hunter2-secret")]);
    for sent in [
        "`Referer: https://tv.example.com/v/1`",
        "`Cookie: ***`",
        "`X-Requested-With: player`",
        "`User-Agent: snatch/",
    ] {
        assert!(err.contains(sent), "{sent} in {err}");
    }
    assert!(!all.contains("hunter2"), "{all}");
    snapshot("refused_with_headers", &err);
}

#[test]
fn a_403_without_referer_or_cookie_says_to_add_them() {
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    server.always("/000002.ts", Fault::Status(403));
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 4 }\n    concurrency: 1\n    headers: { User-Agent: \"Mozilla/5.0\" }\n",
    ));
    let (err, _) = failure(&job, &[]);
    assert!(
        err.contains("sent `User-Agent: Mozilla/5.0`, no Referer or Cookie"),
        "{err}"
    );
    snapshot("refused_without_headers", &err);
}

#[test]
fn index_0_missing_while_later_ones_arrive_says_the_stream_starts_at_1() {
    // The files are 000001.ts … 000004.ts: index 0 answers 404.
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 0, end: 4 }\n    concurrency: 1\n",
    ));
    let (err, _) = failure(&job, &[]);
    assert!(
        err.contains("probably starts at 1: set `range: { start: 1, … }`"),
        "{err}"
    );
    snapshot("starts_at_1_range", &err);
    // Every later index was still fetched, and is reused by the rerun.
    assert_eq!(job.report()["jobs"][0]["segments"]["fetched"], 4);
    assert_eq!(
        server.requests_to("/000000.ts").len(),
        1,
        "404 is not retried"
    );

    let job = Job::new(&job_yaml(&server.url(), "    count: 5\n"));
    let (err, _) = failure(&job, &[]);
    assert!(
        err.contains("probably starts at 1: set `start: 1`"),
        "{err}"
    );
}

#[test]
fn a_url_that_is_wrong_everywhere_stops_after_two_requests() {
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{}/nothing/{{{{index}}}}.ts\"\n    count: 50\n    concurrency: 1\n",
        server.url()
    ));
    let (err, _) = failure(&job, &[]);
    assert!(err.contains("segment 1: HTTP 404"), "{err}");
    assert!(
        err.ends_with("check the job's URL and its index range"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_404_gap_mid_stream_mentions_on_missing_skip() {
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    server.always("/000005.ts", Fault::Status(404));
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 10 }\n    concurrency: 1\n",
    ));
    let (err, _) = failure(&job, &[]);
    assert!(err.contains("`on_missing: skip` accepts holes"), "{err}");
    snapshot("gap_range", &err);

    // With duration math the job goes on past a 404; segments on both
    // sides arrived: a hole.
    let job = Job::new(&job_yaml(
        &server.url(),
        "    duration: { length: 10, segment: 1 }\n    start: 1\n",
    ));
    let (err, _) = failure(&job, &[]);
    assert!(
        err.contains("a hole in the stream. `on_missing: skip` accepts holes"),
        "{err}"
    );
    snapshot("gap_hole", &err);
}

#[test]
fn a_404_of_the_last_index_says_where_the_stream_ends() {
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 5 }\n    concurrency: 1\n",
    ));
    let (err, _) = failure(&job, &[]);
    assert!(
        err.contains("index 5 is not there: the stream ends at 4 (found by probing)"),
        "{err}"
    );
    assert!(err.contains("set `end: 4`, or `end: auto`"), "{err}");
}

/// A range past the stream's end gets the same verdict and the same
/// message whatever arrived first, at any concurrency.
#[test]
fn a_range_past_the_end_gets_one_verdict_at_any_concurrency() {
    let media = segments(11, 1);
    let server = TestServer::start(&media);
    let mut seen = Vec::new();
    for concurrency in [1, 4, 16] {
        let job = Job::new(&job_yaml(
            &server.url(),
            &format!("    range: {{ start: 1, end: 20 }}\n    concurrency: {concurrency}\n"),
        ));
        let (err, _) = failure(&job, &[]);
        seen.push(err);
    }
    assert_eq!(
        seen[0],
        "job `v`: indices 12–20 are not there: the stream ends at 11 (found by probing), \
         before the range's `end`; set `end: 11`, or `end: auto` to find it at each run"
    );
    assert!(seen.iter().all(|e| *e == seen[0]), "{seen:#?}");
    let job = Job::new(&job_yaml(
        &server.url(),
        "    count: 20\n    start: 1\n    concurrency: 8\n",
    ));
    let (err, _) = failure(&job, &[]);
    assert!(err.contains("the stream ends at 11"), "{err}");
    assert!(err.ends_with("set `count: 11`"), "{err}");
}

#[test]
fn an_html_page_suggests_an_expired_session_even_without_retries() {
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    server.always("/000002.ts", Fault::Html200);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 4 }\n    retry: { attempts: 1 }\n",
    ));
    let (err, _) = failure(&job, &[]);
    assert!(err.contains("the session has probably expired"), "{err}");
    assert!(!err.contains("gave up"), "{err}");
    snapshot("html_page", &err);
}

#[test]
fn a_duration_mismatch_names_the_missing_tail_and_the_length_to_set() {
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    duration: { length: 14, segment: 1 }\n    start: 1\n",
    ));
    let (err, _) = failure(&job, &[]);
    assert!(
        err.contains("the last 4 planned segments answered 404"),
        "{err}"
    );
    let mut s = insta::Settings::clone_current();
    // ffprobe's figure varies by a few hundredths between builds.
    s.add_filter(
        r"\d+\.\d s long, \d+\.\d s \(\d+\.\d %\)",
        "[got] s long, [off]",
    );
    s.add_filter(
        r"If the video is \d+\.\d s long, set `length: [0-9:.]+`",
        "If the video is [got] s long, set `length: [got]`",
    );
    s.bind(|| insta::assert_snapshot!("duration_mismatch", err));
}

#[test]
fn a_playlist_whose_extinf_is_wrong_is_not_told_to_set_length() {
    let made = hls::make(Hls::default());
    let root = tempfile::tempdir().unwrap();
    hls::copy_to(&made, root.path(), "vod");
    // Every EXTINF doubled: the playlist claims twice the real length.
    let list = root.path().join("vod/index.m3u8");
    let text = std::fs::read_to_string(&list).unwrap();
    let doubled: Vec<String> = text
        .lines()
        .map(|l| match l.strip_prefix("#EXTINF:") {
            Some(rest) => {
                let (secs, tail) = rest.split_once(',').unwrap();
                let secs: f64 = secs.parse().unwrap();
                format!("#EXTINF:{:.6},{tail}", secs * 2.0)
            }
            None => l.to_string(),
        })
        .collect();
    std::fs::write(&list, doubled.join("\n") + "\n").unwrap();
    let server = TestServer::start(root.path());
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    playlist: \"{}/vod/index.m3u8\"\n",
        server.url()
    ));
    let (err, _) = failure(&job, &[]);
    assert!(
        err.contains("the playlist's EXTINF durations add up to"),
        "{err}"
    );
    assert!(err.contains("duration_tolerance"), "{err}");
    assert!(!err.contains("`length:"), "{err}");
}

#[test]
fn a_playlist_job_whose_mpd_has_nothing_to_download_is_told_so_by_the_body() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start(root.path());
    let mpd = "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" \
               type=\"static\">\n  <Period/>\n</MPD>\n";
    server.always(
        "/vod/master.m3u8",
        Fault::Typed {
            content_type: "application/dash+xml".into(),
            body: mpd.as_bytes().to_vec(),
        },
    );
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    playlist: \"{}/vod/master.m3u8\"\n",
        server.url()
    ));
    let (err, _) = failure(&job, &[]);
    assert!(!err.contains("not an HLS playlist"), "{err}");
    assert!(
        err.contains("it has no video or audio representation"),
        "{err}"
    );
    snapshot("dash_playlist", &err);
}

/// `Retry-After: 100000` on a segment whose job allows 2 attempts and a
/// `max_backoff` of 100 ms: snatch waits at most 100 ms (max_backoff ×
/// (attempts − 1)) and fails, saying what was asked and what it waited.
/// The child has a deadline, so that a regression fails instead of
/// waiting for the server.
#[test]
fn a_retry_after_longer_than_the_retry_policy_allows_fails_naming_both_waits() {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    let busy = Fault::RetryAfter {
        status: 503,
        value: "100000".into(),
    };
    server.always("/000002.ts", busy);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    retry: { attempts: 2, backoff: 50ms, max_backoff: 100ms }\n    range: { start: 1, end: 3 }\n",
    ));
    let out = within(job.command(&[]), 60);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let failed = job.report()["jobs"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains(&format!("v: FAILED: {failed}\n")), "{err}");
    assert_eq!(server.requests_to("/000002.ts").len(), 2);
    assert!(
        failed.starts_with("job `v`: segment 2: HTTP 503"),
        "{failed}"
    );
    assert!(failed.contains("(gave up after 2 attempts)"), "{failed}");
    assert!(
        failed.contains(
            "the server asked to wait 100000 s (Retry-After) and snatch waited at most 0.1 s"
        ),
        "{failed}"
    );
    assert!(failed.contains("raise `retry`"), "{failed}");
}

/// Runs `cmd` to its end, or kills it after `secs` seconds and fails.
fn within(mut cmd: std::process::Command, secs: u64) -> std::process::Output {
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("snatch still ran after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}
