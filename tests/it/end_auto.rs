//! `range: {start, end: auto}`: the last index found by probing over real
//! HTTP (exponential steps, then a binary search), within 2·log2(N)+4
//! requests for the first 4 KiB of a segment each, judged by the segment
//! check.

use crate::support;

use support::cli::{stderr, Job};
use support::media::{probe, segments};
use support::server::{Fault, TestServer};

fn job_yaml(url: &str, start: u64) -> String {
    format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: {start}, end: auto }}\n"
    )
}

fn probes(server: &TestServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.header("range") == Some("bytes=0-4095"))
        .count()
}

#[test]
fn end_auto_finds_the_last_index_and_the_run_fetches_up_to_it() {
    let media = segments(37, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(&server.url(), 1));
    let plan = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
        .arg("plan")
        .arg(&job.file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(text.contains("range from 1, end: auto"), "{text}");
    assert!(server.requests().is_empty(), "plan makes no request");

    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!((duration - 37.0).abs() < 0.5, "duration {duration}");
    let j = &job.report()["jobs"][0];
    assert_eq!(j["end_found"]["last_index"], 37);
    assert_eq!(j["segments"]["planned"], 37);
    assert_eq!(j["segments"]["fetched"], 37);
    let n = probes(&server);
    assert_eq!(j["end_found"]["requests"], n as u64);
    assert!(n as f64 <= 2.0 * 37f64.log2() + 4.0, "{n} probes");
    eprintln!("end: auto found 37 with {n} probes");
}

#[test]
fn end_auto_is_exact_for_every_length_within_the_bound() {
    let media = segments(40, 1);
    for (start, last) in [
        (1u64, 1u64),
        (1, 2),
        (1, 5),
        (3, 17),
        (1, 32),
        (1, 33),
        (2, 40),
    ] {
        let root = tempfile::tempdir().unwrap();
        for i in start..=last {
            let name = format!("{i:06}.ts");
            std::fs::copy(media.join(&name), root.path().join(&name)).unwrap();
        }
        let server = TestServer::start(root.path());
        let job = Job::new(&job_yaml(&server.url(), start));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
            .args(["plan", "--probe", "--format", "json"])
            .arg(&job.file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["jobs"][0]["last_index"], last, "{start}–{last}");
        assert_eq!(v["jobs"][0]["segments"], last - start + 1);
        let n = (last - start + 1) as f64;
        let bound = 2.0 * n.log2() + 4.0;
        // `--probe` also checks the first and last segment (a byte each).
        let made = probes(&server);
        assert!(made as f64 <= bound, "{made} probes for {n} segments");
    }
}

#[test]
fn end_auto_without_its_first_segment_says_so() {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(&server.url(), 5));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("segment 5, the range's start, does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn plan_probe_names_a_host_that_answers_403() {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    server.always("/000003.ts", support::server::Fault::Status(403));
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 3 }}\n",
        server.url()
    ));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
        .args(["plan", "--probe"])
        .arg(&job.file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("job `v`: last segment 3: probing"), "{err}");
    assert!(err.contains("/000003.ts: HTTP 403 Forbidden"), "{err}");
}

#[test]
fn end_auto_finds_the_end_when_missing_segments_answer_a_login_page_as_octet_stream() {
    let media = segments(5, 1);
    let server = TestServer::start(&media);
    let page = b"<!DOCTYPE html><html><body>Please log in</body></html>".to_vec();
    server.when_missing(Fault::Typed {
        content_type: "application/octet-stream".into(),
        body: page,
    });
    let job = Job::new(&job_yaml(&server.url(), 1));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = &job.report()["jobs"][0];
    assert_eq!(j["end_found"]["last_index"], 5);
    assert_eq!(j["segments"]["fetched"], 5);
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!((duration - 5.0).abs() < 0.5, "duration {duration}");
    let n = probes(&server);
    assert_eq!(j["end_found"]["requests"], n as u64);
    assert!(n as f64 <= 2.0 * 5f64.log2() + 4.0, "{n} probes");
    let past_end = server.requests_to("/000006.ts");
    assert!(!past_end.is_empty() && past_end.iter().all(|r| r.status == 200));
}

/// A probe answered 503 with `Retry-After: 1`, twice: asked again after the
/// wait (the host paused for each answer), and the end is still found.
#[test]
fn an_end_auto_probe_answering_retry_after_is_asked_again_after_the_wait() {
    let media = segments(5, 1);
    let server = TestServer::start(&media);
    let busy = Fault::RetryAfter {
        status: 503,
        value: "1".into(),
    };
    server.script("/000003.ts", [busy.clone(), busy]);
    let job = Job::new(&job_yaml(&server.url(), 1));
    let out = job.run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let j = &job.report()["jobs"][0];
    assert_eq!(j["end_found"]["last_index"], 5);
    let asked: Vec<_> = server
        .requests_to("/000003.ts")
        .into_iter()
        .filter(|r| r.header("range") == Some("bytes=0-4095"))
        .collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert_eq!(
        err.matches("127.0.0.1 paused 1s: Retry-After").count(),
        2,
        "{err}"
    );
    // A lower bound only: the server's own clock, one probe to the next.
    for pair in asked.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= std::time::Duration::from_millis(900), "{gap:?}");
    }
}
