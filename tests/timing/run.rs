//! `snatch run` end to end: real HTTP on 127.0.0.1 from the project's test
//! server, real MPEG-TS segments made by ffmpeg, real ffmpeg merges checked
//! with ffprobe.

use crate::support;

use std::time::Duration;

use support::cli::{files_below, saved, stderr, Job};
use support::media::{probe, segments};
use support::server::{Fault, TestServer};
use support::timing::{alone, shared};

fn job_yaml(url: &str, extra: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 4, backoff: 50ms, max_backoff: 200ms }}\njobs:\n  - name: v\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n{extra}"
    )
}

#[test]
fn fetches_merges_and_verifies_over_http_with_headers() {
    let _timing = shared();
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 10 }\n    headers:\n      Referer: \"https://tv.example.com/v/1\"\n      Cookie: \"sid=${SNATCH_T_COOKIE}\"\n    output: \"films/{{name}}.mkv\"\n",
    ));
    let out = job
        .command(&[])
        .env("SNATCH_T_COOKIE", "abc")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let file = job.path("out/films/v.mkv");
    let (duration, streams) = probe(&file);
    assert!((duration - 10.0).abs() < 0.3, "duration {duration}");
    assert!(streams.contains(&"video".to_string()) && streams.contains(&"audio".to_string()));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 10);
    for r in &reqs {
        assert_eq!(r.header("referer"), Some("https://tv.example.com/v/1"));
        assert_eq!(r.header("cookie"), Some("sid=abc"));
    }
    let report = job.report();
    let j = &report["jobs"][0];
    assert_eq!(j["status"], "ok");
    assert_eq!(j["segments"]["planned"], 10);
    assert_eq!(j["segments"]["fetched"], 10);
    assert_eq!(j["media"]["streams"], serde_json::json!(["video", "audio"]));
    let size: u64 = (1..=10)
        .map(|i| {
            std::fs::metadata(media.join(format!("{i:06}.ts")))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(j["bytes"], size);
    // Segments are gone after a verified merge; nothing temporary is left.
    let left: Vec<_> = files_below(&job.path("out"))
        .into_iter()
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "ts" || e == "part" || e == "snatch-part")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn every_retryable_fault_is_recovered() {
    let _timing = alone();
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    server.script("/000002.ts", [Fault::Status(503), Fault::Status(500)]);
    server.script(
        "/000003.ts",
        [Fault::RetryAfter {
            status: 429,
            value: "1".into(),
        }],
    );
    server.script("/000004.ts", [Fault::Reset { after_bytes: 1000 }]);
    server.script("/000005.ts", [Fault::Truncate { bytes: 3000 }]);
    server.script("/000006.ts", [Fault::Html200]);
    server.script(
        "/000007.ts",
        [Fault::Body(b"garbage that is not MPEG-TS".to_vec())],
    );
    server.script("/000008.ts", [Fault::Status(408)]);
    let job = Job::new(&job_yaml(&server.url(), "    count: 10\n    start: 1\n"));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = job.report();
    assert_eq!(report["jobs"][0]["status"], "ok");
    assert_eq!(report["jobs"][0]["retries"], 8);
    assert_eq!(report["totals"]["retries"], 8);
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!((duration - 10.0).abs() < 0.3, "duration {duration}");
    // 429 with Retry-After: 1 paused the host, for the job's cap of
    // max_backoff × (attempts − 1) = 600 ms (a lower bound only).
    let r3 = server.requests_to("/000003.ts");
    assert_eq!(r3.len(), 2);
    assert!(r3[1].at.duration_since(r3[0].at) >= Duration::from_millis(550));
}

#[test]
fn a_403_fails_the_job_at_once_and_leaves_no_output() {
    let _timing = shared();
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    server.always("/000004.ts", Fault::Status(403));
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 10 }\n    concurrency: 1\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        server.requests_to("/000004.ts").len(),
        1,
        "403 is not retried"
    );
    let report = job.report();
    let j = &report["jobs"][0];
    assert_eq!(j["status"], "failed");
    assert_eq!(j["segments"]["missing"], serde_json::json!([4]));
    let err = j["error"].as_str().unwrap();
    assert!(
        err.contains("job `v`") && err.contains("segment 4") && err.contains("403"),
        "{err}"
    );
    assert!(stderr(&out).contains("segment 4"));
    assert!(!job.path("out/v.mp4").exists());
    assert!(!job.path("out/.v.mp4.snatch-part").exists());
    // What arrived stays for a rerun.
    assert!(saved(&job.path("out/.snatch/v")).contains_key(&1));
}

#[test]
fn a_gap_fails_unless_on_missing_skip() {
    let _timing = shared();
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    server.always("/000005.ts", Fault::Status(404));
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 10 }\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j = &job.report()["jobs"][0];
    assert_eq!(j["segments"]["missing"], serde_json::json!([5]));
    assert!(j["error"].as_str().unwrap().contains("segment 5"));

    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 10 }\n    on_missing: skip\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = &job.report()["jobs"][0];
    assert_eq!(j["status"], "ok");
    assert_eq!(j["segments"]["missing"], serde_json::json!([5]));
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!(duration > 8.5 && duration < 10.5, "duration {duration}");
}

#[test]
fn duration_math_overshoot_is_a_trailing_miss() {
    let _timing = shared();
    let media = segments(12, 1);
    let server = TestServer::start(&media);
    // 12.2 s at 1 s a segment: 13 segments planned, the 13th does not exist.
    let job = Job::new(&job_yaml(
        &server.url(),
        "    duration: { length: 12.2, segment: 1 }\n    start: 1\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = &job.report()["jobs"][0];
    assert_eq!(j["status"], "ok");
    assert_eq!(j["segments"]["planned"], 13);
    assert_eq!(j["segments"]["trailing_missing"], 1);
    assert_eq!(j["segments"]["missing"], serde_json::json!([]));
    // The screen says so too, not only the report.
    let err = stderr(&out);
    assert!(
        err.contains("(the last planned segment was not there: the stream ends earlier)"),
        "{err}"
    );
}

#[test]
fn html_served_with_200_never_ends_up_in_an_ok_video() {
    let _timing = shared();
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    server.always("/000003.ts", Fault::Html200);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 4 }\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        server.requests_to("/000003.ts").len(),
        4,
        "retried up to attempts"
    );
    let j = &job.report()["jobs"][0];
    assert!(j["error"].as_str().unwrap().contains("HTML"), "{j}");
    assert!(!job.path("out/v.mp4").exists());
}

#[test]
fn a_per_host_rate_is_never_exceeded() {
    let _timing = alone();
    let media = segments(40, 1);
    let server = TestServer::start(&media);
    let yaml = format!(
        "version: 1\nlimits:\n  per_host: {{ concurrency: 16, requests_per_second: 20, burst: 2 }}\njobs:\n  - name: v\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 40 }}\n    concurrency: 16\n",
        server.url()
    );
    let job = Job::new(&yaml);
    let started = std::time::Instant::now();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut times: Vec<_> = server.requests().iter().map(|r| r.at).collect();
    times.sort();
    assert_eq!(times.len(), 40);
    // At 20/s with a burst of 2, snatch starts its n-th request no sooner
    // than (n - 2) x 50 ms after the run began, and a request arrives after
    // it starts: so does the n-th arrival (one monotonic clock for both
    // processes). Arrivals cannot bound a sliding window: a busy machine
    // delivers requests late by anything up to ~200 ms, bunching them.
    for (i, t) in times.iter().enumerate() {
        let n = i as u32 + 1;
        let earliest = Duration::from_millis(50) * n.saturating_sub(2);
        let at = t.duration_since(started);
        assert!(at >= earliest, "request {n} arrived {at:?} after the start");
    }
    let slack = (2..=40)
        .map(|n| times[n - 1].duration_since(started) - Duration::from_millis(50) * (n as u32 - 2))
        .min()
        .unwrap();
    // The bound above says something only if the limiter, not the
    // machine, set the pace: some request came close to its earliest.
    assert!(
        slack < Duration::from_millis(250),
        "no request came within 250 ms of its earliest (closest: {slack:?}): the limit was never reached"
    );
}

#[test]
fn two_hosts_progress_side_by_side_and_retry_after_pauses_only_its_host() {
    let _timing = alone();
    let media = segments(8, 1);
    let a = TestServer::start_on("127.0.0.1", &media, Duration::from_millis(20));
    let b = TestServer::start_on("127.0.0.2", &media, Duration::from_millis(20));
    a.script(
        "/000002.ts",
        [Fault::RetryAfter {
            status: 503,
            value: "2".into(),
        }],
    );
    let yaml = format!(
        "version: 1\nlimits:\n  per_host: {{ concurrency: 1 }}\njobs:\n  - name: a\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 8 }}\n  - name: b\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 8 }}\n",
        a.url(),
        b.url()
    );
    let job = Job::new(&yaml);
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ra = a.requests();
    let rb = b.requests();
    assert!(ra.iter().all(|r| r.host == "127.0.0.1"));
    assert!(rb.iter().all(|r| r.host == "127.0.0.2"));
    // Host a was paused for 2 s after its 503; nothing went to it meanwhile.
    let paused_at = ra.iter().find(|r| r.status == 503).unwrap().at;
    let next_a = ra.iter().find(|r| r.at > paused_at).unwrap().at;
    assert!(next_a.duration_since(paused_at) >= Duration::from_millis(1900));
    // Host b went on during the pause: it finished before a resumed.
    let b_last = rb.iter().map(|r| r.at).max().unwrap();
    assert!(b_last < next_a, "b waited for a's pause");
    let b_first = rb.iter().map(|r| r.at).min().unwrap();
    assert!(
        b_first < paused_at + Duration::from_millis(500),
        "b started late"
    );
}

#[test]
fn a_rerun_after_sigkill_fetches_only_what_is_missing() {
    let _timing = shared();
    let media = segments(40, 1);
    let server = TestServer::with_latency(&media, Duration::from_millis(60));
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 40 }\n    concurrency: 2\n",
    ));
    let mut child = job.command(&[]).spawn().unwrap();
    // Let about a third arrive, then kill -9.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.requests().len() < 14 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let first_run = server.requests().len();
    assert!(first_run < 40, "the run finished before the kill");
    assert!(
        !job.path("out/v.mp4").exists(),
        "no output under its final name"
    );
    let complete = saved(&job.path("out/.snatch/v")).len();
    server.clear_requests();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rerun = server.requests().len();
    eprintln!(
        "first run: {first_run} requests; complete on disk: {complete}; rerun: {rerun} requests"
    );
    assert!(complete >= 10, "only {complete} complete");
    assert_eq!(
        rerun,
        40 - complete,
        "the rerun fetched only what was missing"
    );
    let j = &job.report()["jobs"][0];
    assert_eq!(j["segments"]["reused"], complete as u64);
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!((duration - 40.0).abs() < 0.5, "duration {duration}");

    // A third run finds the output complete.
    server.clear_requests();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(job.report()["jobs"][0]["status"], "up_to_date");
    assert_eq!(server.requests().len(), 0);
    // --force fetches again.
    let out = job.run(&["--force"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(server.requests().len(), 40);
}

#[cfg(unix)]
#[test]
fn ctrl_c_exits_130_and_a_rerun_resumes() {
    let _timing = shared();
    let media = segments(30, 1);
    let server = TestServer::with_latency(&media, Duration::from_millis(80));
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 30 }\n    concurrency: 2\n",
    ));
    let child = job.command(&[]).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.requests().len() < 6 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(!job.path("out/v.mp4").exists());
    assert!(!job.path("out/.v.mp4.snatch-part").exists());
    let report = job.report();
    assert_eq!(report["interrupted"], true);
    assert_eq!(report["jobs"][0]["status"], "interrupted");
    let first = server.requests().len();
    server.clear_requests();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(server.requests().len() < 30 && server.requests().len() + first >= 30);
}

#[test]
fn no_secret_reaches_any_file_or_the_logs() {
    let _timing = shared();
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    let yaml = format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{}/{{{{index}}}}.ts?token=${{SNATCH_T_TOKEN}}\"\n    padding: 6\n    range: {{ start: 1, end: 4 }}\n    headers:\n      Cookie: \"sid=${{SNATCH_T_COOKIE}}\"\n",
        server.url()
    );
    server.always("/000004.ts", Fault::Status(403));
    let job = Job::new(&yaml);
    let out = job
        .command(&["-vv", "--junit", "junit.xml", "--summary", "summary.md"])
        .current_dir(job.dir.path())
        .env("SNATCH_T_TOKEN", "TOKEN-s3cr3t")
        .env("SNATCH_T_COOKIE", "COOKIE-s3cr3t")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r = &server.requests()[0];
    assert_eq!(r.query.as_deref(), Some("token=TOKEN-s3cr3t"));
    assert_eq!(r.header("cookie"), Some("sid=COOKIE-s3cr3t"));
    let logs = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert!(
        logs.contains("token=***"),
        "the failing URL is named, redacted: {logs}"
    );
    assert!(!logs.contains("s3cr3t"), "secret in logs: {logs}");
    let files = files_below(job.dir.path());
    assert!(files.iter().any(|f| f.ends_with("junit.xml")));
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let hay = String::from_utf8_lossy(&bytes);
        assert!(!hay.contains("s3cr3t"), "secret in {}", f.display());
    }
}

#[test]
fn missing_ffmpeg_fails_before_any_request() {
    let _timing = shared();
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 4 }\n",
    ));
    let empty = tempfile::tempdir().unwrap();
    let out = job.command(&[]).env("PATH", empty.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("ffmpeg was not found") && err.contains("apt-get install"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 0);
    assert!(!job.path("out").exists());
}

/// A minimal container has no CA certificates. Plain http still works
/// there; an https job fails with what to install, and nothing panics.
#[test]
fn a_machine_without_ca_certificates_fetches_http_and_says_why_not_https() {
    let _timing = shared();
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    let none = tempfile::tempdir().unwrap();
    let no_roots = |job: &Job| {
        job.command(&[])
            .env("SSL_CERT_FILE", none.path().join("no-bundle.pem"))
            .env("SSL_CERT_DIR", none.path())
            .output()
            .unwrap()
    };

    let plain = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 4 }\n",
    ));
    let out = no_roots(&plain);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (duration, _) = probe(&plain.path("out/v.mp4"));
    assert!((duration - 4.0).abs() < 0.3, "duration {duration}");
    assert_eq!(server.requests().len(), 4);

    server.clear_requests();
    let https = server.url().replace("http://", "https://");
    let secure = Job::new(&job_yaml(
        &https,
        "    range: { start: 1, end: 4 }\n    concurrency: 1\n",
    ));
    let out = no_roots(&secure);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    let report = secure.report();
    let message = report["jobs"][0]["error"].as_str().unwrap().to_string();
    assert!(
        message.contains("job `v`")
            && message.contains("segment 1")
            && message.contains("CA certificates")
            && message.contains("SSL_CERT_FILE"),
        "{message}"
    );
    // Refused before connecting: the server saw no handshake.
    assert_eq!(server.requests().len(), 0);
}

#[test]
fn the_shipped_example_runs_offline() {
    let _timing = shared();
    let out_dir = tempfile::tempdir().unwrap();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs.example.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
        .arg("run")
        .arg(&example)
        .arg("--output-dir")
        .arg(out_dir.path())
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (duration, streams) = probe(&out_dir.path().join("example/demo.mp4"));
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    assert_eq!(streams, ["video", "audio"]);
}

fn redacted_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]");
    s.add_filter(r#"time="[0-9.]+""#, r#"time="[s]""#);
    s.add_filter(r#"timestamp="[^"]+""#, r#"timestamp="[time]""#);
    s.add_filter(r"[0-9.]+ (B|KiB|MiB)", "[size]");
    s.add_filter(r"→ .*/out/", "→ [dir]/out/");
    s
}

#[test]
fn report_json_and_junit_of_a_real_run() {
    let _timing = shared();
    let media = segments(6, 1);
    let server = TestServer::start(&media);
    server.always("/000003.ts", Fault::Status(404));
    let yaml = format!(
        "version: 1\njobs:\n  - name: good\n    url: \"{u}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 4, end: 6 }}\n  - name: gap\n    url: \"{u}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 4 }}\n    concurrency: 1\n  - name: off\n    enabled: false\n    url: \"{u}/{{{{index}}}}.ts\"\n    count: 2\n",
        u = server.url()
    );
    let job = Job::new(&yaml);
    let out = job.run(&["--junit", "junit.xml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = job.report();
    let settings = redacted_settings();
    settings.bind(|| {
        insta::assert_json_snapshot!(report, {
            ".started_at" => "[time]",
            ".finished_at" => "[time]",
            ".elapsed_s" => "[s]",
            ".job_files" => "[job files id]",
            ".totals.bytes" => "[bytes]",
            ".jobs[].elapsed_s" => "[s]",
            ".jobs[].merge_tail_s" => "[s]",
            ".jobs[].bytes" => "[bytes]",
            ".jobs[].output" => "[output]",
            ".jobs[].media.duration_s" => "[duration]",
        });
    });
    let junit = std::fs::read_to_string(job.path("junit.xml")).unwrap();
    settings.bind(|| insta::assert_snapshot!(junit));
}

#[test]
fn a_slow_segment_hits_the_segment_timeout_and_is_retried() {
    let _timing = shared();
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    server.script("/000002.ts", [Fault::Delay(Duration::from_secs(3))]);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 4 }\n    timeout: { connect: 2s, segment: 400ms }\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.requests_to("/000002.ts").len(), 2);
    assert_eq!(job.report()["jobs"][0]["retries"], 1);
}

#[test]
fn a_failed_rerun_never_replaces_a_good_output_and_segments_can_be_kept() {
    let _timing = shared();
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 4 }\n",
    ));
    let out = job.run(&["--keep-segments"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(job.path("out/.snatch/v/segments/1.ts")).unwrap(),
        std::fs::read(media.join("000001.ts")).unwrap(),
        "--keep-segments writes each segment as a file"
    );
    assert_eq!(saved(&job.path("out/.snatch/v")).len(), 4, "and keeps them");
    let good = std::fs::read(job.path("out/v.mp4")).unwrap();
    server.always("/000003.ts", Fault::Status(403));
    let out = job.run(&["--force"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(job.path("out/v.mp4")).unwrap(), good);
    assert!(!job.path("out/.v.mp4.snatch-part").exists());
}

#[test]
fn a_duration_far_from_what_the_job_implies_fails_the_job() {
    let _timing = shared();
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    // The job claims 14 s, but the stream has 10: 4 trailing misses and a
    // merged file 29 % short.
    let job = Job::new(&job_yaml(
        &server.url(),
        "    duration: { length: 14, segment: 1 }\n    start: 1\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j = &job.report()["jobs"][0];
    assert_eq!(j["segments"]["trailing_missing"], 4);
    let err = j["error"].as_str().unwrap();
    assert!(err.contains("off the 14.0 s"), "{err}");
    assert!(!job.path("out/v.mp4").exists());
}

#[test]
fn the_step_summary_is_appended_when_no_summary_file_is_named() {
    let _timing = shared();
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 3 }\n",
    ));
    let summary = job.path("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let out = job
        .command(&[])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("earlier step\n"), "{text}");
    assert!(text.contains("| v | ok |"), "{text}");
}
