//! What the page's JSON and event stream say, asked with plain HTTP: the
//! Jobs list tells what `snatch run` left on disk, a run started from the
//! page is the only one until it ends, and a listener that comes late gets
//! the run as it is, then its report.

use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::Value;

use super::Ui;
use crate::support::cli::Job;
use crate::support::media;
use crate::support::server::{Fault, TestServer};

fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder().no_proxy().build().unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn jobs(c: &Client, ui: &Ui) -> Value {
    let r = c
        .get(format!("{}/api/jobs", ui.origin))
        .header("cookie", ui.cookie());
    let text = r.send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap()
}

fn job_named<'a>(list: &'a Value, name: &str) -> &'a Value {
    let all = list["jobs"].as_array().unwrap();
    all.iter()
        .find(|j| j["name"] == name)
        .unwrap_or_else(|| panic!("no job {name} in {list}"))
}

#[test]
fn the_list_tells_never_run_partial_and_done_from_the_disk() {
    let media = media::segments(3, 1);
    let good = TestServer::start(&media);
    let bad = TestServer::start(&media);
    bad.always("/000003.ts", Fault::Status(404));
    let job = Job::new(&format!(
        "version: 1\ndefaults:\n  output_dir: out\njobs:\n\
         \x20 - name: whole\n    url: \"{g}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 3 }}\n\
         \x20 - name: broken\n    url: \"{b}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 3 }}\n    concurrency: 1\n\
         \x20 - name: later\n    url: \"{g}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 2 }}\n",
        g = good.url(),
        b = bad.url()
    ));
    let out = job.run(&["--jobs", "whole", "--jobs", "broken"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        crate::support::cli::stderr(&out)
    );
    let ui = Ui::start(job.dir.path(), &[], &[]);
    let list = runtime().block_on(jobs(&client(), &ui));
    assert_eq!(list["problems"], Value::Null, "{list}");
    let whole = &job_named(&list, "whole")["state"];
    assert_eq!(whole["kind"], "done", "{list}");
    assert!(
        (whole["duration_s"].as_f64().unwrap() - 3.0).abs() < 0.5,
        "{whole}"
    );
    assert_eq!(whole["streams"], serde_json::json!(["video", "audio"]));
    // Failed under `snatch run`, with the report's message.
    let broken = &job_named(&list, "broken")["state"];
    assert_eq!(broken["kind"], "failed", "{list}");
    let message = broken["message"].as_str().unwrap();
    assert!(
        message.starts_with("job `broken`: index 3 ") && message.contains("set `end: 2`"),
        "{message}"
    );
    assert_eq!(job_named(&list, "later")["state"]["kind"], "never_run");
    assert_eq!(job_named(&list, "later")["segments"], 2);
    assert_eq!(job_named(&list, "whole")["output"], "out/whole.mp4");
    // The server mends; a rerun that succeeds leaves the job done, not
    // failed.
    bad.clear_faults();
    let out = job.run(&["--jobs", "broken"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::support::cli::stderr(&out)
    );
    let list = runtime().block_on(jobs(&client(), &ui));
    assert_eq!(
        job_named(&list, "broken")["state"]["kind"],
        "done",
        "{list}"
    );
    let state = job.dir.path().join("out/.snatch/broken");
    assert!(!state.join("failed.json").exists(), "{state:?}");
}

/// A failure a later run made stale shows what the disk holds now: the
/// job killed mid-rerun after it saved a segment is partial, not failed.
#[test]
fn a_failure_older_than_the_ledger_is_not_shown() {
    let media = media::segments(3, 1);
    let bad = TestServer::start(&media);
    bad.always("/000003.ts", Fault::Status(404));
    let job = Job::new(&format!(
        "version: 1\ndefaults:\n  output_dir: out\njobs:\n\
         \x20 - name: broken\n    url: \"{b}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 3 }}\n    concurrency: 1\n",
        b = bad.url()
    ));
    let out = job.run(&[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        crate::support::cli::stderr(&out)
    );
    let state = job.dir.path().join("out/.snatch/broken");
    let failed = std::fs::read_to_string(state.join("failed.json")).unwrap();
    let failed: Value = serde_json::from_str(&failed).unwrap();
    assert_eq!(failed["status"], "failed", "{failed}");
    // The ledger saved after the failure (as a later run would).
    std::thread::sleep(Duration::from_millis(20));
    let ledger = std::fs::OpenOptions::new()
        .append(true)
        .open(state.join("ledger.jsonl"))
        .unwrap();
    ledger.set_modified(std::time::SystemTime::now()).unwrap();
    let ui = Ui::start(job.dir.path(), &[], &[]);
    let list = runtime().block_on(jobs(&client(), &ui));
    assert_eq!(
        job_named(&list, "broken")["state"],
        serde_json::json!({"kind": "partial", "saved": 2, "total": 3}),
        "{list}"
    );
}

/// The `data:` of each `state` event in `text`, parsed.
fn states(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter(|block| block.contains("event: state"))
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// Reads the event stream until `done` holds of a state; all states read.
async fn listen(c: &Client, ui: &Ui, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let r = c
        .get(format!("{}/api/events", ui.origin))
        .header("cookie", ui.cookie());
    let mut r = r.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let (mut text, deadline) = (String::new(), Instant::now() + Duration::from_secs(60));
    while Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(30), r.chunk()).await;
        let Ok(Ok(Some(chunk))) = chunk else { break };
        text.push_str(&String::from_utf8_lossy(&chunk));
        let seen = states(&text);
        if seen.last().is_some_and(&done) {
            return seen;
        }
    }
    panic!("the stream never got there:\n{text}");
}

#[test]
fn one_run_at_a_time_and_a_late_listener_sees_it_then_its_report() {
    let media = media::segments(6, 1);
    let server = TestServer::with_latency(&media, Duration::from_millis(300));
    let job = Job::new(&format!(
        "version: 1\ndefaults:\n  output_dir: out\njobs:\n\
         \x20 - name: slow\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 6 }}\n    concurrency: 1\n",
        server.url()
    ));
    let ui = Ui::start(job.dir.path(), &["jobs.yaml"], &[]);
    let c = client();
    let rt = runtime();
    let post = |body: &'static str| {
        let r = c
            .post(format!("{}/api/run", ui.origin))
            .header("cookie", ui.cookie())
            .header("origin", ui.origin.clone())
            .header("content-type", "application/json")
            .body(body);
        rt.block_on(r.send()).unwrap().status()
    };
    assert_eq!(
        post(r#"{"jobs":[]}"#),
        StatusCode::UNPROCESSABLE_ENTITY,
        "nothing selected"
    );
    assert_eq!(post(r#"{"jobs":["slow"]}"#), StatusCode::ACCEPTED);
    assert_eq!(
        post(r#"{"jobs":null}"#),
        StatusCode::CONFLICT,
        "a second run waits"
    );
    // A refusal while it runs leaves the run's state alone.
    assert_eq!(post(r#"{"jobs":[]}"#), StatusCode::UNPROCESSABLE_ENTITY);
    // A listener that comes once the run is under way gets it as it is.
    std::thread::sleep(Duration::from_millis(800));
    let seen = rt.block_on(listen(&c, &ui, |s| s["report"].is_object()));
    let first = &seen[0];
    assert_eq!(first["running"], true, "{first}");
    assert_eq!(first["jobs"][0]["name"], "slow");
    assert_eq!(first["jobs"][0]["total"], 6);
    assert!(first["jobs"][0]["done"].as_u64().unwrap() >= 1, "{first}");
    let last = seen.last().unwrap();
    assert_eq!(last["running"], false);
    assert_eq!(last["jobs"][0]["status"], "ok", "{last}");
    assert_eq!(last["jobs"][0]["done"], 6);
    let report = &last["report"];
    let markdown = report["markdown"].as_str().unwrap();
    assert!(markdown.starts_with("### snatch run"), "{markdown}");
    assert!(markdown.contains("slow"), "{markdown}");
    assert_eq!(report["outputs"][0]["path"], "out/slow.mp4");
    assert_eq!(
        report["outputs"][0]["streams"],
        serde_json::json!(["video", "audio"])
    );
    // A second listener now hears the same ended run at once.
    let again = rt.block_on(listen(&c, &ui, |s| s["report"].is_object()));
    assert_eq!(again[0]["report"], last["report"]);
    let list = rt.block_on(jobs(&c, &ui));
    assert_eq!(job_named(&list, "slow")["state"]["kind"], "done", "{list}");
    // Now a run may start again (the job is up to date).
    assert_eq!(post(r#"{"jobs":null}"#), StatusCode::ACCEPTED);
}

/// SIGTERM stops the server though a tab listens, and a run in progress
/// ends as an interrupted one: what arrived is kept for the next run.
#[cfg(unix)]
#[test]
fn sigterm_stops_the_page_and_its_run_keeping_what_arrived() {
    let media = media::segments(6, 1);
    let server = TestServer::with_latency(&media, Duration::from_millis(400));
    let job = Job::new(&format!(
        "version: 1\ndefaults:\n  output_dir: out\njobs:\n\
         \x20 - name: slow\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 6 }}\n    concurrency: 1\n",
        server.url()
    ));
    let mut ui = Ui::start(job.dir.path(), &["jobs.yaml"], &[]);
    let c = client();
    let rt = runtime();
    let r = c
        .post(format!("{}/api/run", ui.origin))
        .header("cookie", ui.cookie())
        .header("origin", ui.origin.clone())
        .header("content-type", "application/json")
        .body(r#"{"jobs":null}"#);
    assert_eq!(
        rt.block_on(r.send()).unwrap().status(),
        StatusCode::ACCEPTED
    );
    // A tab listening, and the run two segments in.
    let seen = rt.block_on(listen(&c, &ui, |s| {
        s["jobs"][0]["done"].as_u64() >= Some(2)
    }));
    assert_eq!(seen.last().unwrap()["running"], true);
    let status = ui
        .terminate(Duration::from_secs(20))
        .expect("snatch ui exits on SIGTERM");
    assert!(status.success(), "{status:?}");
    let saved = crate::support::cli::ledger_lines(&job.path("out/.snatch/slow"));
    assert!((2..6).contains(&saved), "{saved} segments kept");
    assert!(!job.path("out/slow.mp4").exists());
}
