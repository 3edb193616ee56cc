//! The event stream of `snatch run --events`, read against its documented
//! format (`docs/events.md`): a real run against the test server, with
//! segments that answer 503 and 429 with `Retry-After` (retries, a host
//! pause) and one that is not there (a failed job).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use support::cli::{stderr, Job};
use support::media::segments;
use support::server::{Fault, TestServer};

/// The example of each type in `docs/events.md` (its ```json blocks).
fn documented() -> BTreeMap<String, Value> {
    use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/events.md");
    let md = std::fs::read_to_string(path).unwrap();
    let (mut examples, mut block) = (BTreeMap::new(), None::<String>);
    for e in Parser::new(&md) {
        match e {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) if &*lang == "json" => {
                block = Some(String::new())
            }
            Event::Text(t) => {
                if let Some(b) = block.as_mut() {
                    b.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                let Some(text) = block.take() else { continue };
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("docs/events.md: {e} in\n{text}"));
                let ty = v["type"]
                    .as_str()
                    .expect("an example has a type")
                    .to_string();
                assert!(examples.insert(ty.clone(), v).is_none(), "{ty} twice");
            }
            _ => {}
        }
    }
    examples
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// Every documented example is an event snatch reads as one, and every
/// type snatch has is documented.
#[test]
fn the_documented_examples_are_events_of_every_type() {
    let docs = documented();
    for (ty, v) in &docs {
        let e: snatch::events::Event = serde_json::from_value(v.clone())
            .unwrap_or_else(|e| panic!("the example of {ty}: {e}"));
        assert_eq!(e.kind.name(), ty);
        assert_eq!(v["v"], 1, "{ty}");
        // Written back, it has the same fields.
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(keys(&back), keys(v), "{ty}");
    }
    let types: Vec<&str> = docs.keys().map(String::as_str).collect();
    assert_eq!(
        types,
        [
            "host_paused",
            "host_resumed",
            "host_slowed",
            "job_finished",
            "job_started",
            "merge_started",
            "playlist_reloaded",
            "run_finished",
            "run_started",
            "segment_failed",
            "segment_retried",
            "segment_saved",
            "segment_started"
        ]
    );
}

/// `2026-12-07T11:04:36.123Z`: RFC 3339, UTC, milliseconds.
fn is_time(t: &str) -> bool {
    let b = t.as_bytes();
    t.len() == 24
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && t.ends_with('Z')
        && chrono::DateTime::parse_from_rfc3339(t).is_ok()
}

/// Each line checked against the documented example of its type: one
/// JSON object, `v` 1, a known type, a time, exactly the example's fields
/// (and, nested, no field the example lacks).
fn check_line(line: &str, docs: &BTreeMap<String, Value>) -> Value {
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["v"], 1, "{line}");
    let ty = v["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no type: {line}"));
    let example = docs
        .get(ty)
        .unwrap_or_else(|| panic!("type {ty} is not documented: {line}"));
    assert!(is_time(v["time"].as_str().unwrap_or_default()), "{line}");
    assert_eq!(keys(&v), keys(example), "{line}");
    for field in ["report", "limits", "totals"] {
        if let Some(inner) = v.get(field) {
            let extra: Vec<_> = keys(inner)
                .difference(&keys(&example[field]))
                .cloned()
                .collect();
            assert!(
                extra.is_empty(),
                "{field} has {extra:?} undocumented: {line}"
            );
        }
    }
    for job in v["jobs"].as_array().into_iter().flatten() {
        assert_eq!(keys(job), keys(&example["jobs"][0]), "{line}");
    }
    let _: snatch::events::Event =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    v
}

const TOKEN: &str = "qtok-7f3a9c1e55";
const SIG: &str = "sig-b81d44e0aa";
const KEY: &str = "hdr-key-c0ffee42";

/// Two jobs on one host: `ok` has two 503s on segment 2 and a 429 with
/// `Retry-After: 1` on segment 4; `gap` asks for segment 7, which is not
/// there. Secrets: a signed query value, one from `${…}` in the URL and
/// one in a header.
fn the_run() -> (Job, TestServer, std::process::Output) {
    let media = segments(6, 1);
    let server = TestServer::start(&media);
    server.script("/000002.ts", [Fault::Status(503), Fault::Status(503)]);
    let busy = Fault::RetryAfter {
        status: 429,
        value: "1".into(),
    };
    server.script("/000004.ts", [busy]);
    let url = format!(
        "{}/{{{{index}}}}.ts?token={TOKEN}&s=${{SNATCH_EV_SIG}}",
        server.url()
    );
    let job = Job::new(&format!(
        "version: 1
defaults:
  retry: {{ attempts: 4, backoff: 20ms, max_backoff: 1s }}
  padding: 6
  headers:
    X-Key: \"${{SNATCH_EV_KEY}}\"
jobs:
  - name: ok
    url: \"{url}\"
    range: {{ start: 1, end: 6 }}
    concurrency: 2
  - name: gap
    url: \"{url}\"
    range: {{ start: 5, end: 7 }}
"
    ));
    let out = job
        .command(&["--events", "events.jsonl"])
        .env("SNATCH_EV_SIG", SIG)
        .env("SNATCH_EV_KEY", KEY)
        .output()
        .unwrap();
    (job, server, out)
}

#[test]
fn a_runs_stream_with_retries_and_a_pause_matches_its_documented_format() {
    let docs = documented();
    let (job, server, out) = the_run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        server.requests_to("/000004.ts").len() >= 2,
        "the pause was never asked for"
    );
    let text = std::fs::read_to_string(job.path("events.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    let events: Vec<Value> = text.lines().map(|l| check_line(l, &docs)).collect();
    for secret in [TOKEN, SIG, KEY] {
        assert!(!text.contains(secret), "{secret} in the stream:\n{text}");
    }
    check_order(&events);
    check_counts(&events, &job.report(), out.status.code());
    check_pause(&events);
}

fn ty(e: &Value) -> &str {
    e["type"].as_str().unwrap()
}

/// Run started first, run finished last, times never go back; each job's
/// started before its segments and merge, all before its finished; a
/// segment's retries before it is saved.
fn check_order(events: &[Value]) {
    check_jobs_order(events, &["ok", "gap"]);
    let merges = events
        .iter()
        .filter(|e| ty(e) == "merge_started" && e["job"] == "ok");
    assert_eq!(merges.count(), 1);
    for e in events.iter().filter(|e| ty(e) == "segment_retried") {
        let retried = events.iter().position(|x| x == e).unwrap();
        let saved = events.iter().position(|x| {
            ty(x) == "segment_saved" && x["job"] == e["job"] && x["index"] == e["index"]
        });
        assert!(saved.is_none_or(|s| s > retried), "{e}");
    }
    check_attempts_of(events, 1);
    let started = &events[0];
    let names: Vec<&Value> = started["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["name"])
        .collect();
    assert_eq!(names, ["ok", "gap"]);
}

/// Each attempt's `segment_started` comes once, before that attempt's
/// retried, saved or failed; every attempt started is answered; at least
/// `min_retries` attempts were retried.
fn check_attempts_of(events: &[Value], min_retries: usize) {
    let attempt = |e: &Value| (e["job"].clone(), e["index"].clone(), e["attempt"].clone());
    let mut open = BTreeMap::new();
    for e in events {
        match ty(e) {
            "segment_started" => {
                let key = attempt(e);
                let seen = open.insert(format!("{key:?}"), e.clone());
                assert!(seen.is_none(), "started twice: {e}");
            }
            "segment_retried" | "segment_saved" | "segment_failed" => {
                let key = attempt(e);
                let started = open.remove(&format!("{key:?}"));
                assert!(started.is_some(), "not started before: {e}");
            }
            _ => {}
        }
    }
    assert!(open.is_empty(), "never answered: {open:?}");
    let retried = events.iter().filter(|e| ty(e) == "segment_retried").count();
    assert!(retried >= min_retries, "{retried} retries in this run");
}

/// The order every run keeps, for `jobs`.
fn check_jobs_order(events: &[Value], jobs: &[&str]) {
    assert_eq!(ty(&events[0]), "run_started");
    assert_eq!(ty(events.last().unwrap()), "run_finished");
    let times: Vec<&str> = events.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    for &name in jobs {
        let of: Vec<(usize, &str)> = (events.iter().enumerate())
            .filter(|(_, e)| e["job"] == name)
            .map(|(i, e)| (i, ty(e)))
            .collect();
        let types: Vec<&str> = of.iter().map(|(_, t)| *t).collect();
        assert_eq!(types.first(), Some(&"job_started"), "{name}: {types:?}");
        assert_eq!(types.last(), Some(&"job_finished"), "{name}: {types:?}");
        let started = types.iter().filter(|t| **t == "job_started").count();
        let finished = types.iter().filter(|t| **t == "job_finished").count();
        assert_eq!((started, finished), (1, 1), "{name}: {types:?}");
        // A job that fails before its first segment is fed has none.
        let merges = types.iter().filter(|t| **t == "merge_started").count();
        assert!(merges <= 1, "{name}: {types:?}");
    }
}

/// What the stream counts is what the JSON report says.
fn check_counts(events: &[Value], report: &Value, code: Option<i32>) {
    let count = |name: &str, t: &str| {
        events
            .iter()
            .filter(|e| e["job"] == name && ty(e) == t)
            .count() as u64
    };
    for (i, name) in ["ok", "gap"].into_iter().enumerate() {
        let r = &report["jobs"][i];
        assert_eq!(r["name"], name);
        let finished = events
            .iter()
            .find(|e| e["job"] == name && ty(e) == "job_finished")
            .unwrap();
        assert_eq!(&finished["report"], r, "{name}");
        assert_eq!(
            count(name, "segment_saved"),
            r["segments"]["fetched"].as_u64().unwrap()
        );
        assert_eq!(
            count(name, "segment_retried"),
            r["retries"].as_u64().unwrap(),
            "{name}"
        );
        let bytes: u64 = (events.iter())
            .filter(|e| e["job"] == name && ty(e) == "segment_saved")
            .map(|e| e["bytes"].as_u64().unwrap())
            .sum();
        assert_eq!(bytes, r["bytes"].as_u64().unwrap(), "{name}");
        let job_started = events
            .iter()
            .find(|e| e["job"] == name && ty(e) == "job_started")
            .unwrap();
        assert_eq!(job_started["segments"], r["segments"]["planned"]);
    }
    assert_eq!(report["jobs"][0]["status"], "ok");
    assert_eq!(report["jobs"][1]["status"], "failed");
    // Segment 2: two retries, saved on its third attempt; 7 failed.
    let saved_2 = events
        .iter()
        .find(|e| e["job"] == "ok" && ty(e) == "segment_saved" && e["index"] == 2)
        .unwrap();
    assert_eq!(saved_2["attempt"], 3);
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| ty(e) == "segment_failed")
        .collect();
    assert!(
        failed.iter().any(|e| e["job"] == "gap" && e["index"] == 7),
        "{failed:?}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["totals"], report["totals"]);
    assert_eq!(last["exit_code"].as_i64(), code.map(i64::from));
    assert_eq!(last["interrupted"], false);
}

/// The 429 paused the host for 1 s; the pause ended before the run.
fn check_pause(events: &[Value]) {
    let paused = (events.iter().enumerate())
        .find(|(_, e)| ty(e) == "host_paused")
        .expect("a host_paused");
    assert_eq!(paused.1["host"], "127.0.0.1");
    assert_eq!(paused.1["why"], "Retry-After");
    assert_eq!(paused.1["wait_s"], 1.0);
    assert!(paused.1["until"].as_str().unwrap() > paused.1["time"].as_str().unwrap());
    let resumed = (events.iter().enumerate())
        .find(|(_, e)| ty(e) == "host_resumed")
        .expect("a host_resumed");
    assert!(resumed.0 > paused.0);
    assert_eq!(resumed.1["host"], "127.0.0.1");
    assert_eq!(resumed.1["why"], "the pause ended");
    let retried_4 = events
        .iter()
        .find(|e| ty(e) == "segment_retried" && e["index"] == 4)
        .unwrap();
    assert!(
        retried_4["reason"].as_str().unwrap().contains("429"),
        "{retried_4}"
    );
}

/// `--events -`: the stream alone on standard output, each line an event.
#[test]
fn events_to_standard_output_are_all_it_carries() {
    let docs = documented();
    let media = segments(6, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: a\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    concurrency: 1\n    range: {{ start: 1, end: 3 }}\n",
        server.url()
    ));
    let out = job.run(&["--events", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let events: Vec<Value> = text.lines().map(|l| check_line(l, &docs)).collect();
    check_attempts_of(&events, 0);
    // Each segment's start comes before its save, but the next segment
    // may start before the merge hears of the last: left out here.
    let types: Vec<&str> = (events.iter().map(ty))
        .filter(|t| *t != "segment_started")
        .collect();
    let started = events.iter().filter(|e| ty(e) == "segment_started");
    assert_eq!(started.count(), 3, "{text}");
    assert_eq!(
        types,
        [
            "run_started",
            "job_started",
            "segment_saved",
            "merge_started",
            "segment_saved",
            "segment_saved",
            "job_finished",
            "run_finished"
        ]
    );
}

/// A stream that cannot be written (a full disk) ends; the run goes on,
/// says so, and ends as it would have.
#[cfg(target_os = "linux")]
#[test]
fn a_stream_that_cannot_be_written_ends_the_stream_not_the_run() {
    let media = segments(6, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: a\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 3 }}\n",
        server.url()
    ));
    let out = job.run(&["--events", "/dev/full"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("cannot write the event stream to /dev/full")
            && err.contains("the run goes on"),
        "{err}"
    );
    assert_eq!(
        err.matches("cannot write the event stream").count(),
        1,
        "{err}"
    );
    assert_eq!(job.report()["jobs"][0]["status"], "ok");
}

/// A file that cannot be created stops the run before any request; with
/// `--dry-run` there is nothing to tell.
#[test]
fn an_events_file_that_cannot_be_made_is_refused_before_the_run() {
    let media = segments(6, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: a\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 3 }}\n",
        server.url()
    ));
    let out = job.run(&["--events", "no/such/folder/events.jsonl"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--events no/such/folder/events.jsonl: cannot create it"),
        "{err}"
    );
    assert!(server.requests().is_empty(), "{err}");
    let out = job.run(&["--events", "-", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--dry-run runs nothing"));
}

/// A playlist job whose links expire every 3 segments: each reload is
/// told, as many as the report counts; the rerun finds the job up to date
/// and tells its end without a start.
#[test]
fn each_playlist_reload_is_told_and_an_up_to_date_job_only_finishes() {
    use support::hls::{copy_to, make, Hls};
    let docs = documented();
    let made = make(Hls {
        name: "sixteen",
        secs: 16,
        ..Hls::default()
    });
    let root = tempfile::tempdir().unwrap();
    copy_to(&made, root.path(), "t");
    let text = std::fs::read_to_string(made.join("index.m3u8")).unwrap();
    let tokened = text.replace(".ts\n", ".ts?tok={TOKEN}\n");
    std::fs::write(root.path().join("t/index.m3u8"), tokened).unwrap();
    let server = TestServer::start(root.path());
    server.expire_tokens("/t/", 3);
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    playlist: \"{}/t/index.m3u8\"\n    concurrency: 2\n",
        server.url()
    ));
    let out = job.run(&["--events", "events.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(job.path("events.jsonl")).unwrap();
    let events: Vec<Value> = text.lines().map(|l| check_line(l, &docs)).collect();
    check_jobs_order(&events, &["v"]);
    let reloads: Vec<&Value> = events
        .iter()
        .filter(|e| ty(e) == "playlist_reloaded")
        .collect();
    let counted = job.report()["jobs"][0]["playlist_reloads"]
        .as_u64()
        .unwrap();
    assert!(counted >= 1);
    assert_eq!(reloads.len() as u64, counted, "{text}");
    assert_eq!(reloads.last().unwrap()["reloads"].as_u64(), Some(counted));
    let why = reloads[0]["why"].as_str().unwrap();
    assert!(why.contains("answered 403: its link expired"), "{why}");

    let out = job.run(&["--events", "again.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(job.path("again.jsonl")).unwrap();
    let events: Vec<Value> = text.lines().map(|l| check_line(l, &docs)).collect();
    let types: Vec<&str> = events.iter().map(ty).collect();
    assert_eq!(types, ["run_started", "job_finished", "run_finished"]);
    assert_eq!(events[1]["report"]["status"], "up_to_date");
}

/// SIGTERM while the host is paused for 30 s: the pause ends with the
/// run, the job finishes interrupted, and the run's exit code is 130.
#[cfg(unix)]
#[test]
fn an_interrupted_run_ends_its_pauses_and_its_stream() {
    use std::time::Duration;
    let docs = documented();
    let media = segments(6, 1);
    let server = TestServer::start(&media);
    let busy = Fault::RetryAfter {
        status: 503,
        value: "30".into(),
    };
    server.script("/000002.ts", [busy]);
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: a\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    concurrency: 1\n    range: {{ start: 1, end: 4 }}\n    retry: {{ attempts: 3, backoff: 20ms, max_backoff: 30s }}\n",
        server.url()
    ));
    let mut child = job.command(&["--events", "events.jsonl"]).spawn().unwrap();
    let path = job.path("events.jsonl");
    // Waits for the pause to be told; a run that ends first had none.
    while !std::fs::read_to_string(&path).is_ok_and(|t| t.contains("host_paused")) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("no pause: snatch ended first ({status})");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let text = std::fs::read_to_string(&path).unwrap();
    let events: Vec<Value> = text.lines().map(|l| check_line(l, &docs)).collect();
    check_jobs_order(&events, &["a"]);
    let types: Vec<&str> = events.iter().map(ty).collect();
    let n = types.len();
    assert_eq!(
        types[n - 3..],
        ["job_finished", "host_resumed", "run_finished"],
        "{text}"
    );
    assert_eq!(events[n - 3]["report"]["status"], "interrupted");
    assert_eq!(events[n - 2]["why"], "the run ended");
    assert_eq!(events[n - 1]["exit_code"], 130);
    assert_eq!(events[n - 1]["interrupted"], true);
}
