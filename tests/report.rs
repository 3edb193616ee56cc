//! The run reports: JSON, JUnit XML and the Markdown summary of a hand-built
//! run (insta snapshots), plus how report files are written.

use std::fs;
use std::path::PathBuf;

use snatch::report::{
    append, write_atomic, Exporter, JobReport, JobStatus, Json, Junit, Markdown, Media,
    ReportTargets, RunReport, SegmentCounts,
};

/// Four jobs, one of each status; all times fixed.
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
            elapsed_s: 42.26,
            media: Some(Media {
                duration_s: 3725.4,
                streams: vec!["video".into(), "audio".into()],
            }),
            error: None,
            merge_tail_s: None,
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
            elapsed_s: 8.04,
            media: None,
            error: Some(
                "lecture-02 failed at segment 7: the server answered 404 Not Found after 5 attempts."
                    .into(),
            ),
            merge_tail_s: None,
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
            elapsed_s: 0.0,
            media: None,
            error: Some("Not selected by --only lecture-*.".into()),
            merge_tail_s: None,
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
            elapsed_s: 0.01,
            media: Some(Media {
                duration_s: 71.6,
                streams: vec!["video".into()],
            }),
            error: None,
            merge_tail_s: None,
            expected_duration_s: None,
            playlist_reloads: 0,
            end_found: None,
        },
    ];
    let mut report = RunReport::new(
        "2024-05-06T07:08:09Z".into(),
        "2024-05-06T07:09:00Z".into(),
        51.0,
        false,
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
    insta::assert_snapshot!(text);
}

#[test]
fn junit_report() {
    let report = sample();
    let xml = render(&Junit, &report);

    assert_eq!(xml.matches("<testcase").count(), 4, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert_eq!(xml.matches("<skipped").count(), 1, "{xml}");

    let parsed = quick_junit::Report::deserialize_from_str(&xml).expect("parses back");
    assert_eq!(parsed.test_suites.len(), 1);
    let suite = &parsed.test_suites[0];
    assert_eq!(suite.name.as_str(), "snatch");
    assert_eq!((suite.tests, suite.failures, suite.skipped), (4, 1, 1));
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
    assert!(md.contains("| bonus\\|extra |"), "{md}");
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
    assert_eq!(targets.write_all(&report), Vec::<String>::new());

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
    assert!(errors[0].contains("JSON report"), "{errors:?}");
    assert!(errors[0].contains("blocked"), "{errors:?}");
    assert_eq!(
        fs::read_to_string(dir.path().join("summary.md")).unwrap(),
        render(&Markdown, &report)
    );
}
