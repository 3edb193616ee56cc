//! Hostile servers, end to end: redirects (credentials, Referer, limits,
//! loops, other schemes), bodies that are not segments, `206` without a
//! range, bodies that never end, and a paused host beside a busy one. Real
//! HTTP from the project's test server on 127.0.0.1 and 127.0.0.2, real
//! segments made by ffmpeg, real merges.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::cli::{files_below, saved, stderr, Job};
use support::media::segments;
use support::server::{Fault, TestServer};
use support::timing::{alone, shared};

/// The cap on one segment while job files cannot set it yet.
const DEFAULT_CAP: u64 = 256 * 1024 * 1024;

fn job_yaml(url: &str, extra: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 3, backoff: 20ms, max_backoff: 50ms }}\njobs:\n  - name: v\n    url: \"{url}\"\n    padding: 6\n{extra}"
    )
}

fn redirect(to: String) -> Fault {
    Fault::Redirect {
        status: 302,
        location: to,
    }
}

fn job_of(report: &serde_json::Value) -> &serde_json::Value {
    &report["jobs"][0]
}

/// The job's error as a snapshot (named after the test), ports redacted:
/// every message a user meets is read once by eye.
fn snapshot_error(name: &str, err: &str) {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"127\.0\.0\.(\d):\d+", "127.0.0.$1:[port]");
    s.bind(|| insta::assert_snapshot!(name, err));
}

#[test]
fn secrets_and_credentials_never_reach_another_host_and_referer_is_kept() {
    let _timing = shared();
    let media = segments(4, 1);
    let a = TestServer::start_on("127.0.0.1", &media, Duration::ZERO);
    let b = TestServer::start_on("127.0.0.2", &media, Duration::ZERO);
    for i in 1..=4 {
        // A hop on the same origin first, then one to the other host.
        let name = format!("/{i:06}.ts");
        a.always(&name, redirect(format!("/hop{name}")));
        a.always(
            &format!("/hop{name}"),
            redirect(format!("{}{name}", b.url())),
        );
    }
    let job = Job::new(&job_yaml(
        &format!("{}/{{{{index}}}}.ts", a.url()),
        "    range: { start: 1, end: 4 }\n    headers:\n      Referer: \"https://tv.example.com/v/1?t=ok\"\n      X-Api-Key: \"${SNATCH_T_KEY}\"\n      Cookie: \"sid=plain\"\n      Authorization: \"Bearer plain\"\n      X-Plain: \"p\"\n",
    ));
    let out = job
        .command(&[])
        .env("SNATCH_T_KEY", "KEY-s3cr3t")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Every hop on the job's own origin carries everything.
    let ra = a.requests();
    assert_eq!(ra.len(), 8, "{ra:?}");
    for r in &ra {
        assert_eq!(r.header("x-api-key"), Some("KEY-s3cr3t"), "{}", r.path);
        assert_eq!(r.header("cookie"), Some("sid=plain"));
        assert_eq!(r.header("authorization"), Some("Bearer plain"));
        assert_eq!(r.header("referer"), Some("https://tv.example.com/v/1?t=ok"));
    }
    // The other host gets neither the secret nor the credentials, and the
    // job's Referer as written (not the URL of the previous hop).
    let rb = b.requests();
    assert_eq!(rb.len(), 4);
    for r in &rb {
        let names: Vec<_> = r.headers.iter().map(|(n, _)| n.to_lowercase()).collect();
        assert!(!names.contains(&"x-api-key".to_string()), "{names:?}");
        assert!(!names.contains(&"cookie".to_string()), "{names:?}");
        assert!(!names.contains(&"authorization".to_string()), "{names:?}");
        assert!(!r.headers.iter().any(|(_, v)| v.contains("s3cr3t")));
        assert_eq!(r.header("referer"), Some("https://tv.example.com/v/1?t=ok"));
        assert_eq!(r.header("x-plain"), Some("p"));
    }
    let report = job.report();
    assert_eq!(job_of(&report)["redirects"], 8);
    let text = std::fs::read_to_string(job.path("report.json")).unwrap();
    assert!(!text.contains("s3cr3t"));
}

#[test]
fn redirect_hops_keep_to_the_rate_limit() {
    let _timing = alone();
    let media = segments(8, 1);
    let a = TestServer::start_on("127.0.0.1", &media, Duration::ZERO);
    let b = TestServer::start_on("127.0.0.2", &media, Duration::ZERO);
    for i in 1..=8 {
        let name = format!("/{i:06}.ts");
        a.always(&name, redirect(format!("{}{name}", b.url())));
    }
    let yaml = format!(
        "version: 1\nlimits:\n  hosts:\n    127.0.0.2: {{ requests_per_second: 4, burst: 1 }}\njobs:\n  - name: v\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 8 }}\n    concurrency: 8\n",
        a.url()
    );
    let job = Job::new(&yaml);
    let started = std::time::Instant::now();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut times: Vec<_> = b.requests().iter().map(|r| r.at).collect();
    times.sort();
    assert_eq!(times.len(), 8);
    // Only b is limited, and only hops reach it. At 4/s with a burst of 1,
    // snatch starts its n-th hop to b no sooner than (n - 1) x 250 ms after
    // the run began, and a hop arrives after it starts (see
    // tests/run.rs: arrivals alone cannot bound a sliding window).
    for (i, t) in times.iter().enumerate() {
        let earliest = Duration::from_millis(250) * i as u32;
        let at = t.duration_since(started);
        assert!(
            at >= earliest,
            "hop {} to b arrived {at:?} after the start",
            i + 1
        );
    }
    assert_eq!(job_of(&job.report())["redirects"], 8);
}

#[test]
fn more_than_ten_redirects_fail_the_segment_with_a_clear_message() {
    let _timing = shared();
    let media = segments(4, 1);
    let a = TestServer::start(&media);
    a.always("/000002.ts", redirect("/loop/1".into()));
    for i in 1..=20 {
        a.always(&format!("/loop/{i}"), redirect(format!("/loop/{}", i + 1)));
    }
    let job = Job::new(&job_yaml(
        &format!("{}/{{{{index}}}}.ts", a.url()),
        "    range: { start: 1, end: 4 }\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = job.report();
    let j = job_of(&report);
    let err = j["error"].as_str().unwrap();
    assert!(
        err.contains("job `v`")
            && err.contains("segment 2")
            && err.contains("more than 10 redirects"),
        "{err}"
    );
    snapshot_error("redirect_loop", err);
    // One chain: the request and ten hops; a loop is not retried.
    assert_eq!(a.requests_to("/000002.ts").len(), 1);
    assert_eq!(a.requests_to("/loop/10").len(), 1);
    assert!(a.requests_to("/loop/11").is_empty());
    assert_eq!(j["redirects"], 10);
    assert!(!job.path("out/v.mp4").exists());
}

#[test]
fn a_redirect_to_another_scheme_is_refused() {
    let _timing = shared();
    let media = segments(4, 1);
    let a = TestServer::start(&media);
    a.always("/000003.ts", redirect("file:///etc/passwd".into()));
    let job = Job::new(&job_yaml(
        &format!("{}/{{{{index}}}}.ts", a.url()),
        "    range: { start: 1, end: 4 }\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = job_of(&job.report())["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("segment 3") && err.contains("only http and https"),
        "{err}"
    );
    snapshot_error("other_scheme", &err);
}

/// The segments of `media` under names without `.ts` (`seg-000001`, …).
fn without_extension(media: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(media).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".ts") {
            std::fs::copy(e.path(), dir.path().join(format!("seg-{stem}"))).unwrap();
        }
    }
    let root = dir.path().to_path_buf();
    (dir, root)
}

/// Runs a good job, then the same job with `fault` on one segment and
/// `--force`: returns the second run's report. The good output must stay.
fn rerun_with_fault(server: &TestServer, job: &Job, path: &str, fault: Fault) -> serde_json::Value {
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let good = std::fs::read(job.path("out/v.mp4")).unwrap();
    server.clear_requests();
    server.always(path, fault);
    let out = job.run(&["--force"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(job.path("out/v.mp4")).unwrap(),
        good,
        "a good output was replaced"
    );
    job.report()
}

#[test]
fn an_html_page_served_as_video_mp2t_from_any_url_is_never_stored() {
    let _timing = shared();
    let media = segments(4, 1);
    let (_keep, root) = without_extension(&media);
    let server = TestServer::start(&root);
    let job = Job::new(&job_yaml(
        &format!("{}/seg-{{{{index}}}}", server.url()),
        "    range: { start: 1, end: 4 }\n",
    ));
    let page = b"<!DOCTYPE html>\n<html><body>![p](https://ev.il/a.png) Sign in</body></html>\n";
    let fault = Fault::Typed {
        content_type: "video/mp2t".into(),
        body: page.to_vec(),
    };
    let report = rerun_with_fault(&server, &job, "/seg-000003", fault);
    let j = job_of(&report);
    assert_eq!(j["status"], "failed");
    let err = j["error"].as_str().unwrap();
    assert!(
        err.contains("job `v`") && err.contains("segment 3") && err.contains("an HTML page"),
        "{err}"
    );
    assert!(err.contains(r#""<!DOCTYPE html>\x0a<html>"#), "{err}");
    snapshot_error("html_as_video", err);
    assert_eq!(server.requests_to("/seg-000003").len(), 3, "retried");
    assert_eq!(j["segments"]["missing"], serde_json::json!([3]));
}

#[test]
fn a_206_without_a_range_is_retried_and_never_stored() {
    let _timing = shared();
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &format!("{}/{{{{index}}}}.ts", server.url()),
        "    range: { start: 1, end: 4 }\n",
    ));
    let report = rerun_with_fault(&server, &job, "/000002.ts", Fault::Partial);
    let j = job_of(&report);
    let err = j["error"].as_str().unwrap();
    assert!(
        err.contains("segment 2") && err.contains("206") && err.contains("no range was asked"),
        "{err}"
    );
    snapshot_error("partial_206", err);
    let reqs = server.requests_to("/000002.ts");
    assert_eq!(reqs.len(), 3, "retried");
    assert!(reqs.iter().all(|r| r.header("range").is_none()));
    assert!(!saved(&job.path("out/.snatch/v")).contains_key(&2));
}

/// Runs `job` and samples the size of segment 2's `.part` file (where a
/// large body of unknown length goes first) until the process ends;
/// returns the largest size seen and the output.
fn run_watching_part(job: &Job) -> (u64, std::process::Output) {
    let part = job.path("out/.snatch/v/2.part");
    let mut child = job.command(&[]).spawn().unwrap();
    let mut largest = 0;
    while child.try_wait().unwrap().is_none() {
        if let Ok(m) = std::fs::metadata(&part) {
            largest = largest.max(m.len());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (largest, child.wait_with_output().unwrap())
}

#[test]
fn a_body_that_never_ends_stops_at_the_cap() {
    let _timing = alone();
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    server.always("/000002.ts", Fault::Endless { announce: None });
    let job = Job::new(&job_yaml(
        &format!("{}/{{{{index}}}}.ts", server.url()),
        "    range: { start: 1, end: 4 }\n    timeout: { segment: 10m }\n",
    ));
    let (largest, out) = run_watching_part(&job);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(largest <= DEFAULT_CAP, "{largest} bytes on disk");
    let err = job_of(&job.report())["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("segment 2") && err.contains("max_segment_bytes") && err.contains("256 MiB"),
        "{err}"
    );
    snapshot_error("endless_body", &err);
    assert_eq!(server.requests_to("/000002.ts").len(), 1, "not retried");
    let left: Vec<_> = files_below(&job.path("out"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "2.part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(!saved(&job.path("out/.snatch/v")).contains_key(&2));
}

#[test]
fn a_content_length_beyond_the_cap_is_refused_before_reading() {
    let _timing = shared();
    let media = segments(4, 1);
    let server = TestServer::start(&media);
    let announce = Some(DEFAULT_CAP + 1);
    server.always("/000002.ts", Fault::Endless { announce });
    let job = Job::new(&job_yaml(
        &format!("{}/{{{{index}}}}.ts", server.url()),
        "    range: { start: 1, end: 4 }\n    timeout: { segment: 10m }\n",
    ));
    let (largest, out) = run_watching_part(&job);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(largest, 0, "nothing is read");
    let spool = std::fs::metadata(job.path("out/.snatch/v/segments.spool")).map_or(0, |m| m.len());
    assert!(spool < DEFAULT_CAP, "{spool} bytes of spool");
    let err = job_of(&job.report())["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("segment 2")
            && err.contains(&format!("announces {} bytes", DEFAULT_CAP + 1))
            && err.contains("256 MiB"),
        "{err}"
    );
    snapshot_error("content_length_cap", &err);
    assert_eq!(server.requests_to("/000002.ts").len(), 1, "not retried");
}

#[test]
fn a_paused_host_holds_no_global_slot() {
    let _timing = alone();
    let media = segments(8, 1);
    let a = TestServer::start_on("127.0.0.1", &media, Duration::ZERO);
    let b = TestServer::start_on("127.0.0.2", &media, Duration::from_millis(40));
    for p in ["/000001.ts", "/000002.ts"] {
        a.script(
            p,
            [Fault::RetryAfter {
                status: 503,
                value: "3".into(),
            }],
        );
    }
    // Two run slots for two hosts of two slots each. Job a fetches two
    // segments at a time, so only segments 1 and 2 (each answered 503 the
    // first time) can be on their way before snatch reads a 503; every
    // other request to a starts after that. (With more at a time, a
    // segment sent beside segment 1 may rightly arrive just after its 503.)
    let yaml = format!(
        "version: 1\nlimits:\n  global: {{ concurrency: 2 }}\n  per_host: {{ concurrency: 2 }}\njobs:\n  - name: a\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 8 }}\n    concurrency: 2\n  - name: b\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 8 }}\n",
        a.url(),
        b.url()
    );
    let job = Job::new(&yaml);
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ra = a.requests();
    let rb = b.requests();
    assert_eq!(ra.len(), 10, "{ra:?}");
    assert_eq!(ra[0].status, 503, "{ra:?}");
    // snatch reads a 503 after the server stamped its arrival, and pauses
    // the host from then on: every 200 from a arrives 3 s or more after
    // the first 503 did (one monotonic clock for both processes).
    let paused_at = ra.iter().filter(|r| r.status == 503).map(|r| r.at).min();
    let resumed = ra.iter().filter(|r| r.status == 200).map(|r| r.at).min();
    let (paused_at, resumed) = (paused_at.unwrap(), resumed.unwrap());
    assert!(
        resumed.duration_since(paused_at) >= Duration::from_secs(3),
        "a resumed {:?} after its first 503",
        resumed.duration_since(paused_at)
    );
    // ... and b used the run's slots meanwhile: all of it arrived before a
    // resumed, though b's 8 segments at 2 at a time need 4 round trips. A
    // paused request of a holding a run slot would leave b one slot or none.
    let b_last = rb.iter().map(|r| r.at).max().unwrap();
    assert_eq!(rb.len(), 8);
    assert!(
        b_last < resumed,
        "b waited behind a's pause: b's last request {:?} after a's pause began, a resumed after {:?}",
        b_last.duration_since(paused_at),
        resumed.duration_since(paused_at)
    );
}

/// The job's entry of the report by name.
fn job_named<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let jobs = report["jobs"].as_array().into_iter().flatten();
    jobs.into_iter()
        .find(|j| j["name"] == name)
        .unwrap_or(&serde_json::Value::Null)
}

/// `limits.global.jobs: 2`; four jobs on host a, listed first, whose
/// segments always answer 503 with a long `Retry-After` (cut to the cap of
/// `retry`: 2 s × 2 = 4 s), and two jobs on a healthy host b.
fn paused_and_healthy_jobs(a: &TestServer, b: &TestServer) -> String {
    let mut yaml = "version: 1\nlimits:\n  global: { jobs: 2 }\ndefaults:\n  retry: { attempts: 3, backoff: 1s, max_backoff: 2s }\n  concurrency: 1\njobs:\n".to_string();
    let jobs = [("a1", a, 1), ("a2", a, 3), ("a3", a, 5), ("a4", a, 7)];
    let jobs = jobs.into_iter().chain([("b1", b, 1), ("b2", b, 3)]);
    for (name, server, start) in jobs {
        yaml += &format!(
            "  - name: {name}\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: {start}, end: {} }}\n",
            server.url(),
            start + 1
        );
    }
    yaml
}

#[test]
fn jobs_waiting_on_a_paused_host_hold_no_job_slot() {
    let _timing = alone();
    let media = segments(8, 1);
    let a = TestServer::start_on("127.0.0.1", &media, Duration::ZERO);
    let b = TestServer::start_on("127.0.0.2", &media, Duration::ZERO);
    for i in 1..=8 {
        let busy = Fault::RetryAfter {
            status: 503,
            value: "30".into(),
        };
        a.always(&format!("/{i:06}.ts"), busy);
    }
    let job = Job::new(&paused_and_healthy_jobs(&a, &b));
    let out = job.run(&[]);
    // The run ends, b's jobs whole, a's failed.
    assert!(out.status.code().is_some(), "{}", stderr(&out));
    let report = job.report();
    for (name, status) in [
        ("b1", "ok"),
        ("b2", "ok"),
        ("a1", "failed"),
        ("a4", "failed"),
    ] {
        assert_eq!(
            job_named(&report, name)["status"],
            status,
            "{name}: {report}"
        );
    }
    // Every job of a fetches one segment at a time, each of a's segments
    // its own path: a path asked twice is a retry, sent when the first
    // pause (4 s) ended. All of b arrived before: a's jobs, waiting out the
    // pause, gave their job slots to b's.
    let ra = a.requests();
    let rb = b.requests();
    assert_eq!(rb.len(), 4, "{rb:?}");
    let retried = ra
        .iter()
        .enumerate()
        .filter(|(i, r)| ra[..*i].iter().any(|e| e.path == r.path))
        .map(|(_, r)| r.at)
        .min();
    let resumed = retried.expect("a was retried");
    let b_last = rb.iter().map(|r| r.at).max().unwrap();
    let first_503 = ra.iter().map(|r| r.at).min().unwrap();
    assert!(
        b_last < resumed,
        "b waited behind a's pause: b's last request {:?} after a's first 503, a's pause ended after {:?}",
        b_last.duration_since(first_503),
        resumed.duration_since(first_503)
    );
}
