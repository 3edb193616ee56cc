//! The run reports: JSON, JUnit XML and the Markdown summary of a hand-built
//! run (insta snapshots), plus how report files are written.

use crate::support;

use std::fs;
use std::path::PathBuf;

use support::cli::{stderr, Job};
use support::media::segments;
use support::server::{Fault, TestServer};

use snatch::events::{JobReport, JobStatus, Media, RateAdapted, RunReport, SegmentCounts};
use snatch::report::{
    append, write_atomic, Exporter, Json, Junit, Markdown, ReportError, ReportTargets,
};

/// Five jobs, one of each status; all times fixed. The run was
/// interrupted (its fifth job by it). The first job's host answered 429
/// without `Retry-After`, and its rate was adapted.
fn sample() -> RunReport {
    let jobs = vec![
        JobReport {
            name: "lecture-01".into(),
            status: JobStatus::Ok,
            output: Some("out/lecture-01.mp4".into()),
            segments: SegmentCounts {
                planned: 120,
                fetched: 100,
                reused: 20,
                missing: vec![],
                trailing_missing: 2,
            },
            bytes: 1_288_490_189,
            retries: 3,
            redirects: 4,
            elapsed_s: 42.26,
            media: Some(Media {
                duration_s: 3725.4,
                streams: vec!["video".into(), "audio".into()],
            }),
            error: None,
            merge_tail_s: None,
            rate_adapted: Some(RateAdapted {
                host: "cdn.example.com".into(),
                halvings: 2,
                lowest_per_second: 6.25,
                last_per_second: 9.5,
            }),
            expected_duration_s: None,
            playlist_reloads: 0,
            end_found: None,
        },
        JobReport {
            name: "lecture-02".into(),
            status: JobStatus::Failed,
            output: Some("out/lecture-02.mp4".into()),
            segments: SegmentCounts {
                planned: 10,
                fetched: 9,
                reused: 0,
                missing: vec![7],
                trailing_missing: 0,
            },
            bytes: 5_400_000,
            retries: 5,
            redirects: 0,
            elapsed_s: 8.04,
            media: None,
            error: Some(
                "lecture-02 failed at segment 7: the server answered 404 Not Found after 5 attempts."
                    .into(),
            ),
            merge_tail_s: None,
            rate_adapted: None,
            expected_duration_s: None,
            playlist_reloads: 0,
            end_found: None,
        },
        JobReport {
            name: "bonus|extra".into(),
            status: JobStatus::Skipped,
            output: None,
            segments: SegmentCounts::default(),
            bytes: 0,
            retries: 0,
            redirects: 0,
            elapsed_s: 0.0,
            media: None,
            error: Some("Not selected by --only lecture-*.".into()),
            merge_tail_s: None,
            rate_adapted: None,
            expected_duration_s: None,
            playlist_reloads: 0,
            end_found: None,
        },
        JobReport {
            name: "intro".into(),
            status: JobStatus::UpToDate,
            output: Some("out/intro.mp4".into()),
            segments: SegmentCounts {
                planned: 12,
                fetched: 0,
                reused: 12,
                missing: vec![],
                trailing_missing: 0,
            },
            bytes: 900,
            retries: 0,
            redirects: 0,
            elapsed_s: 0.01,
            media: Some(Media {
                duration_s: 71.6,
                streams: vec!["video".into()],
            }),
            error: None,
            merge_tail_s: None,
            rate_adapted: None,
            expected_duration_s: None,
            playlist_reloads: 0,
            end_found: None,
        },
        JobReport {
            name: "lecture-03".into(),
            status: JobStatus::Interrupted,
            output: None,
            segments: SegmentCounts {
                planned: 30,
                fetched: 8,
                reused: 4,
                missing: vec![],
                trailing_missing: 0,
            },
            bytes: 2_400_000,
            retries: 0,
            redirects: 0,
            elapsed_s: 3.5,
            media: None,
            error: Some("job `lecture-03`: interrupted; a rerun resumes where it stopped".into()),
            merge_tail_s: None,
            rate_adapted: None,
            expected_duration_s: None,
            playlist_reloads: 0,
            end_found: None,
        },
    ];
    let mut report = RunReport::new(
        "2024-05-06T07:08:09Z".into(),
        "2024-05-06T07:09:00Z".into(),
        51.0,
        true,
        jobs,
    );
    report.shard = Some("1/2".into());
    report
}

fn render(exporter: &dyn Exporter, report: &RunReport) -> String {
    String::from_utf8(exporter.render(report).expect("renders")).expect("UTF-8")
}

#[test]
fn json_report() {
    let report = sample();
    let text = render(&Json, &report);
    assert!(text.ends_with("}\n"));
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    for key in [
        "version",
        "started_at",
        "finished_at",
        "elapsed_s",
        "shard",
        "totals",
        "jobs",
    ] {
        assert!(value.get(key).is_some(), "no {key}");
    }
    assert_eq!(value["jobs"][1]["status"], "failed");
    assert_eq!(value["jobs"][3]["status"], "up_to_date");
    assert_eq!(value["jobs"][4]["status"], "interrupted");
    assert_eq!(value["totals"]["interrupted"], 1);
    insta::assert_snapshot!(text);
}

#[test]
fn junit_report() {
    let report = sample();
    let xml = render(&Junit, &report);

    assert_eq!(xml.matches("<testcase").count(), 5, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert_eq!(xml.matches("<error").count(), 1, "{xml}");
    assert_eq!(xml.matches("<skipped").count(), 1, "{xml}");

    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("parses back");
    assert_eq!(parsed.test_suites.len(), 1);
    let suite = &parsed.test_suites[0];
    assert_eq!(suite.name.as_str(), "snatch");
    assert_eq!(
        (suite.tests, suite.failures, suite.errors, suite.skipped),
        (5, 1, 1, 1)
    );
    let failed = &suite.test_cases[1];
    assert_eq!(failed.name.as_str(), "lecture-02");
    match &failed.status {
        quick_junit::TestCaseStatus::NonSuccess {
            message,
            description,
            ..
        } => {
            let message = message.as_ref().expect("a message").as_str();
            assert!(message.contains("segment 7"), "{message}");
            assert_eq!(description.as_ref().map(|d| d.as_str()), Some(message));
        }
        other => panic!("lecture-02 is not a failure: {other:?}"),
    }

    insta::assert_snapshot!(xml);
}

#[test]
fn markdown_summary() {
    let report = sample();
    let md = render(&Markdown, &report);
    assert!(md.starts_with("### snatch run\n"));
    assert!(md.contains("| `bonus\\|extra` |"), "{md}");
    insta::assert_snapshot!(md);
}

/// A failed job whose message quotes what a hostile server sent.
fn failed_with(name: &str, error: &str) -> JobReport {
    JobReport {
        name: name.into(),
        status: JobStatus::Failed,
        output: Some(format!("out/{name}.mp4")),
        segments: SegmentCounts {
            planned: 3,
            fetched: 1,
            ..SegmentCounts::default()
        },
        bytes: 10,
        retries: 0,
        redirects: 0,
        elapsed_s: 1.0,
        media: None,
        expected_duration_s: None,
        playlist_reloads: 0,
        end_found: None,
        error: Some(error.into()),
        merge_tail_s: None,
        rate_adapted: None,
    }
}

/// Messages from a server (the preview of a body, a status line, ffmpeg's
/// words) that try to become an image, a link, HTML or more Markdown.
fn hostile_report() -> RunReport {
    let long = format!(
        "segment 2: not a segment: {}",
        "![p](https://ev.il/a.png) ".repeat(40)
    );
    let jobs = vec![
        failed_with("img", "segment 1: not a segment (starts with ![p](https://ev.il/a.png))"),
        failed_with("js", "segment 1: HTTP 403 [x](javascript:alert(1)) [y][r]\n\n[r]: https://ev.il"),
        failed_with("html", "merge failed: <img src=x onerror=alert(1)> <a href=\"https://ev.il\">go</a> &lt;b&gt;"),
        failed_with("ticks", "body: `` ` ``` code ``` `![p](https://ev.il/b.png)`"),
        failed_with("lines", "first line\n\n# Heading\n| a | b |\n|---|---|\n<https://ev.il/auto> https://ev.il/bare"),
        failed_with("edge", "`![p](https://ev.il/c.png)`"),
        failed_with("bidi", "ok\u{202E}gnp.a\u{0}\u{1b}[31m"),
        failed_with("long", &long),
    ];
    RunReport::new(
        "2024-05-06T07:08:09Z".into(),
        "2024-05-06T07:08:10Z".into(),
        1.0,
        false,
        jobs,
    )
}

/// Everything a CommonMark (GitHub-flavoured: tables) parser makes of `md`
/// that is not plain text, a code span or the summary's own structure.
fn active_markup(md: &str) -> Vec<String> {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    let mut found = Vec::new();
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Link { dest_url, .. }) => found.push(format!("link {dest_url}")),
            Event::Start(Tag::Image { dest_url, .. }) => found.push(format!("image {dest_url}")),
            Event::Start(Tag::Heading { .. }) => found.push("heading".into()),
            Event::Html(h) | Event::InlineHtml(h) => found.push(format!("html {h}")),
            _ => {}
        }
    }
    found
}

#[test]
fn markdown_summary_shows_server_text_only_as_code() {
    let md = render(&Markdown, &hostile_report());

    // Only the title is a heading; nothing else is markup.
    assert_eq!(active_markup(&md), vec!["heading".to_string()], "{md}");
    // Every message is one line in a list item, inside one code span.
    let items: Vec<&str> = md.lines().filter(|l| l.starts_with("- **")).collect();
    assert_eq!(items.len(), 8, "{md}");
    for item in &items {
        assert!(item.ends_with('`'), "{item}");
    }
    // The words are still there to read, as code.
    let code: Vec<String> = pulldown_cmark::Parser::new(&md)
        .filter_map(|e| match e {
            pulldown_cmark::Event::Code(c) => Some(c.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(code.len(), 8, "{code:?}");
    assert!(
        code[0].ends_with("(starts with ![p](https://ev.il/a.png))"),
        "{}",
        code[0]
    );
    assert!(code[3].contains("` ``` code ``` `![p]"), "{}", code[3]);
    assert_eq!(code[5], "`![p](https://ev.il/c.png)`");
    assert!(
        !code[6].contains(['\u{202E}', '\u{0}', '\u{1b}']),
        "{:?}",
        code[6]
    );
    // A long message is cut.
    assert!(code[7].chars().count() <= snatch::report::markdown::MAX_MESSAGE_CHARS);
    assert!(code[7].ends_with('…'), "{}", code[7]);
    insta::assert_snapshot!(md);
}

#[test]
fn markdown_summary_of_an_empty_interrupted_run() {
    let report = RunReport::new(
        "2024-05-06T07:08:09Z".into(),
        "2024-05-06T07:08:10Z".into(),
        0.96,
        true,
        vec![],
    );
    insta::assert_snapshot!(render(&Markdown, &report), @r"
    ### snatch run

    0 jobs · 0 segments · 0 B · 1.0 s · **interrupted**

    No jobs.
    ");
}

#[test]
fn write_atomic_replaces_and_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/report.json");

    write_atomic(&path, b"first, and longer\n").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "first, and longer\n");

    write_atomic(&path, b"second\n").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "second\n");

    let names: Vec<String> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.json"]);

    // A folder in the way: an error, and still no temporary file.
    let blocked = dir.path().join("blocked");
    fs::create_dir_all(blocked.join("child")).unwrap();
    assert!(write_atomic(&blocked, b"x").is_err());
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn append_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("step_summary.md");
    append(&path, b"one\n").unwrap();
    append(&path, b"two\n").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\n");
}

#[test]
fn step_summary_only_without_summary() {
    let env = Some(PathBuf::from("/gh/step_summary.md"));

    let t = ReportTargets::from_args(None, None, None, env.clone());
    assert_eq!(t.step_summary, env);
    assert_eq!(t.summary, None);

    let t = ReportTargets::from_args(None, None, Some("s.md".into()), env.clone());
    assert_eq!(t.summary, Some(PathBuf::from("s.md")));
    assert_eq!(t.step_summary, None);

    let t = ReportTargets::from_args(Some("r.json".into()), Some("j.xml".into()), None, None);
    assert_eq!(t.json, Some(PathBuf::from("r.json")));
    assert_eq!(t.junit, Some(PathBuf::from("j.xml")));
    assert_eq!(t.step_summary, None);

    // GITHUB_STEP_SUMMARY set but empty counts as unset.
    let t = ReportTargets::from_args(None, None, None, Some(PathBuf::new()));
    assert_eq!(t.step_summary, None);
    assert!(t.is_empty());
}

#[test]
fn write_all_writes_every_target_and_reports_failures() {
    let dir = tempfile::tempdir().unwrap();
    let step = dir.path().join("step.md");
    fs::write(&step, "earlier step\n").unwrap();
    let targets = ReportTargets::from_args(
        Some(dir.path().join("r/report.json")),
        Some(dir.path().join("junit.xml")),
        None,
        Some(step.clone()),
    );
    let report = sample();
    let errors = targets.write_all(&report);
    assert!(errors.is_empty(), "{errors:?}");

    let json = fs::read_to_string(dir.path().join("r/report.json")).unwrap();
    assert_eq!(json, render(&Json, &report));
    let xml = fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_eq!(xml, render(&Junit, &report));
    let md = fs::read_to_string(&step).unwrap();
    assert_eq!(md, format!("earlier step\n{}", render(&Markdown, &report)));

    // One target that cannot be written: one message; the others are written.
    let blocked = dir.path().join("blocked");
    fs::create_dir_all(blocked.join("child")).unwrap();
    let targets = ReportTargets {
        json: Some(blocked.clone()),
        junit: None,
        summary: Some(dir.path().join("summary.md")),
        step_summary: None,
    };
    let errors = targets.write_all(&report);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        matches!(
            &errors[0],
            ReportError::Write {
                kind: "JSON report",
                ..
            }
        ),
        "{errors:?}"
    );
    let message = errors[0].to_string();
    assert!(message.contains("JSON report"), "{message}");
    assert!(message.contains("blocked"), "{message}");
    assert_eq!(
        fs::read_to_string(dir.path().join("summary.md")).unwrap(),
        render(&Markdown, &report)
    );
}

/// A real run against the test server, whose answers for two segments are
/// Markdown and HTML posing as MPEG-TS: the summary file shows them only as
/// code.
#[test]
fn a_hostile_server_cannot_put_markup_into_the_summary_of_a_real_run() {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    // Each body ends a code span early if it is not escaped, then makes an
    // image, a link or HTML.
    server.always(
        "/000002.ts",
        Fault::Body(b"a`![p](//e.v/a.png)`b \n[x](javascript:alert(1)) <img src=x>".to_vec()),
    );
    server.always(
        "/000003.ts",
        Fault::Body(b"<img src=//e.v/b.png>\n\n<a href=//e.v>go</a>".to_vec()),
    );
    let mut yaml = String::from(
        "version: 1\ndefaults:\n  retry: { attempts: 1, backoff: 10ms, max_backoff: 10ms }\njobs:\n",
    );
    for (name, index) in [("markdown", 2), ("html", 3)] {
        yaml.push_str(&format!(
            "  - name: {name}\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: {index}, end: {index} }}\n",
            server.url()
        ));
    }
    let job = Job::new(&yaml);
    let out = job.run(&["--summary", "summary.md"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let md = fs::read_to_string(job.path("summary.md")).unwrap();

    assert_eq!(active_markup(&md), vec!["heading".to_string()], "{md}");
    for name in ["markdown", "html"] {
        let line = md
            .lines()
            .find(|l| l.starts_with(&format!("- **{name}**: `")))
            .unwrap_or_else(|| panic!("no failure line for {name}: {md}"));
        assert!(line.ends_with('`'), "{line}");
    }
}

/// Ctrl-C during a `--force` run: the job is `interrupted`, not failed, in
/// the JSON report, on its line and in the totals; the closing line gives
/// the command that resumes it, the one typed less `--force`, and that
/// command resumes (it fetches only what had not landed).
#[cfg(unix)]
#[test]
fn an_interrupted_job_is_reported_so_and_the_resume_command_drops_force() {
    let media = segments(30, 1);
    let server = TestServer::with_latency(&media, std::time::Duration::from_millis(150));
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 30 }}\n    concurrency: 2\n",
        server.url()
    ));
    let child = job.command(&["--force"]).spawn().unwrap();
    while support::cli::ledger_lines(&job.path("out/.snatch/v")) < 4 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let report = job.report();
    assert_eq!(report["jobs"][0]["status"], "interrupted", "{report:#}");
    assert_eq!(report["totals"]["interrupted"], 1);
    assert_eq!(report["totals"]["failed"], 0);
    let kept = report["jobs"][0]["segments"]["fetched"].as_u64().unwrap();
    let dir = job.dir.path().to_string_lossy().into_owned();
    let mut s = insta::Settings::clone_current();
    s.add_filter(&regex_escape(&dir), "[dir]");
    s.add_filter(&regex_escape(env!("CARGO_BIN_EXE_snatch")), "[snatch]");
    s.add_filter(&format!(r"\({kept} of 30"), "([kept] of 30");
    s.add_filter(
        r"· \d+ segments · \d+ retries · [0-9.]+ s",
        "· [n] segments · [n] retries · [s] s",
    );
    s.bind(|| insta::assert_snapshot!(err));
    let again = err
        .lines()
        .find_map(|l| l.strip_prefix("interrupted: what arrived is kept; to resume, run: "))
        .expect("a command to resume");
    assert!(!again.contains("--force"), "{again}");
    server.clear_requests();
    let rerun = std::process::Command::new("sh")
        .args(["-c", again])
        .current_dir(job.dir.path())
        .output()
        .unwrap();
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    let report = job.report();
    assert_eq!(report["jobs"][0]["status"], "ok", "{report:#}");
    assert_eq!(report["jobs"][0]["segments"]["reused"], kept, "{report:#}");
    assert_eq!(server.requests().len() as u64, 30 - kept);
}

/// `s` as a regular expression that matches it literally.
fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}
