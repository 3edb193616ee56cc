//! `--shard` on plan and run, shard limits, and `snatch report merge`: the
//! shards of a nine-job file over real HTTP from the test server, merged by
//! real ffmpeg, their reports merged into one.

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};
use support::cli::{stderr, Job};
use support::media::{probe, segments};
use support::server::TestServer;

fn snatch(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_snatch"));
    c.current_dir(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("SNATCH_SHARD")
        .env("NO_COLOR", "1");
    c
}

fn output(dir: &Path, args: &[&str]) -> Output {
    snatch(dir, args).output().unwrap()
}

/// `count` jobs named job-1 … job-N (so name order is not number order),
/// each two one-second segments from `url`.
fn jobs_yaml(url: &str, names: &[String], limits: &str) -> String {
    let mut y = format!("version: 1\n{limits}jobs:\n");
    for name in names {
        y.push_str(&format!(
            "  - name: {name}\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 2 }}\n"
        ));
    }
    y
}

fn names(count: usize) -> Vec<String> {
    (1..=count).map(|i| format!("job-{i}")).collect()
}

/// The planned (not skipped) job names of `plan --format json`.
fn planned(dir: &Path, file: &Path, shard: &str) -> BTreeSet<String> {
    let file = file.to_str().unwrap();
    let out = output(dir, &["plan", file, "--format", "json", "--shard", shard]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut taken = BTreeSet::new();
    for job in plan["jobs"].as_array().unwrap() {
        if job["status"] == "planned" {
            taken.insert(job["name"].as_str().unwrap().to_string());
        } else {
            assert_eq!(job["skip_reason"], "other_shard", "{job}");
        }
    }
    taken
}

fn assert_partition(shards: &[BTreeSet<String>], all: &[String]) {
    let mut union = BTreeSet::new();
    for s in shards {
        for name in s {
            assert!(union.insert(name.clone()), "{name} is in two shards");
        }
    }
    let all: BTreeSet<String> = all.iter().cloned().collect();
    assert_eq!(union, all);
}

#[test]
fn three_shards_of_nine_jobs_plan_disjoint_sets_whose_union_is_all_nine() {
    let all = names(9);
    let job = Job::new(&jobs_yaml("http://127.0.0.1:9", &all, ""));
    let dir = job.dir.path();
    for form in ["", "hash:"] {
        let shards: Vec<_> = (1..=3)
            .map(|k| planned(dir, &job.file, &format!("{form}{k}/3")))
            .collect();
        assert_partition(&shards, &all);
        if form.is_empty() {
            // Round-robin over names sorted: three each.
            assert!(shards.iter().all(|s| s.len() == 3), "{shards:?}");
            assert!(shards[0].contains("job-1") && shards[1].contains("job-2"));
        }
        // The 0-based form names the same shards.
        for (i, shard) in shards.iter().enumerate() {
            assert_eq!(
                &planned(dir, &job.file, &format!("{form}index:{i}/3")),
                shard
            );
        }
    }
}

#[test]
fn a_hash_partition_moves_no_job_when_a_tenth_is_added() {
    let nine = names(9);
    let ten = names(10);
    let before = Job::new(&jobs_yaml("http://127.0.0.1:9", &nine, ""));
    let after = Job::new(&jobs_yaml("http://127.0.0.1:9", &ten, ""));
    let mut moved_by_round_robin = false;
    for k in 1..=3 {
        let hash = format!("hash:{k}/3");
        let old = planned(before.dir.path(), &before.file, &hash);
        let new = planned(after.dir.path(), &after.file, &hash);
        let mut without_tenth = new.clone();
        without_tenth.remove("job-10");
        assert_eq!(old, without_tenth, "shard {hash}");
        let rr = format!("{k}/3");
        let old = planned(before.dir.path(), &before.file, &rr);
        let mut new = planned(after.dir.path(), &after.file, &rr);
        new.remove("job-10");
        moved_by_round_robin |= old != new;
    }
    // The contrast that makes the hash form worth having: "job-10" sorts
    // between job-1 and job-2, so round-robin deals the others anew.
    assert!(moved_by_round_robin);
}

#[test]
fn bad_shard_values_are_usage_errors_naming_the_accepted_forms() {
    let job = Job::new(&jobs_yaml("http://127.0.0.1:9", &names(3), ""));
    let file = job.file.to_str().unwrap();
    for bad in ["0/3", "4/3", "1/0", "garbage", "index:3/3", "hash:1/x"] {
        for cmd in ["plan", "run"] {
            let out = output(job.dir.path(), &[cmd, file, "--shard", bad]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} --shard {bad}: {err}");
            assert!(err.contains("accepted: K/N"), "{err}");
            assert!(
                err.contains("hash:K/N") && err.contains("index:I/N"),
                "{err}"
            );
        }
        let out = snatch(job.dir.path(), &["plan", file])
            .env("SNATCH_SHARD", bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "SNATCH_SHARD={bad}");
        assert!(stderr(&out).contains("accepted: K/N"));
    }
    assert!(!job.path("out").exists());
}

/// stderr of a usage error, the temporary folder redacted, as a snapshot.
fn snapshot_err(name: &str, out: &Output) {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\S*/\.tmp\w+", "[tmp]");
    s.bind(|| insta::assert_snapshot!(name, stderr(out)));
}

#[test]
fn an_empty_or_bad_snatch_shard_is_refused_naming_the_variable() {
    let job = Job::new(&jobs_yaml("http://127.0.0.1:9", &names(3), ""));
    let file = job.file.to_str().unwrap();
    for (value, name) in [("", "snatch_shard_empty"), ("2-3", "snatch_shard_bad")] {
        for cmd in ["plan", "run"] {
            let out = snatch(job.dir.path(), &[cmd, file])
                .env("SNATCH_SHARD", value)
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd} SNATCH_SHARD={value:?}: {err}"
            );
            assert!(err.contains("SNATCH_SHARD"), "{err}");
            assert!(!err.contains("--shard"), "{err}");
            if cmd == "plan" {
                snapshot_err(name, &out);
            }
        }
    }
    assert!(!job.path("out").exists());
}

#[test]
fn a_negative_shard_says_shard_numbers_start_at_one() {
    let job = Job::new(&jobs_yaml("http://127.0.0.1:9", &names(3), ""));
    let file = job.file.to_str().unwrap();
    for cmd in ["plan", "run"] {
        let out = output(job.dir.path(), &[cmd, file, "--shard", "-1/3"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("shard numbers start at 1: 1/3 … 3/3"), "{err}");
        assert!(!err.contains("'-- -1'"), "{err}");
        if cmd == "plan" {
            snapshot_err("shard_negative", &out);
        }
    }
    let out = snatch(job.dir.path(), &["plan", file])
        .env("SNATCH_SHARD", "-2/3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("SNATCH_SHARD: `-2/3` has a negative number"));
    assert!(!job.path("out").exists());
}

#[test]
fn snatch_shard_gives_the_shard_when_the_flag_is_absent() {
    let all = names(4);
    let job = Job::new(&jobs_yaml("http://127.0.0.1:9", &all, ""));
    let file = job.file.to_str().unwrap();
    let plan_with = |env: &str, extra: &[&str]| -> Value {
        let mut args = vec!["plan", file, "--format", "json"];
        args.extend_from_slice(extra);
        let out = snatch(job.dir.path(), &args)
            .env("SNATCH_SHARD", env)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let plan = plan_with("index:1/2", &[]);
    assert_eq!(plan["shard"]["shard"], "2/2");
    // The flag wins over the variable.
    let plan = plan_with("index:1/2", &["--shard", "1/2"]);
    assert_eq!(plan["shard"]["shard"], "1/2");
}

#[test]
fn a_shard_with_no_jobs_succeeds_saying_so_and_still_writes_its_report() {
    let job = Job::new(&jobs_yaml("http://127.0.0.1:9", &names(2), ""));
    let file = job.file.to_str().unwrap();
    let out = output(job.dir.path(), &["plan", file, "--shard", "3/3"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("shard 3/3: no job of the 2 selected falls in this shard; nothing to do"),
        "{text}"
    );
    let out = output(
        job.dir.path(),
        &["run", file, "--shard", "3/3", "--report", "r.json"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("no job of the 2 selected falls in this shard"),
        "{err}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(job.path("r.json")).unwrap()).unwrap();
    assert_eq!(report["shard"], "3/3");
    assert_eq!(report["totals"]["skipped"], 2);
    assert_eq!(report["jobs"][0]["error"], "other shard");
}

#[test]
fn a_selector_matching_nothing_is_still_a_usage_error_with_a_shard() {
    let job = Job::new(&jobs_yaml("http://127.0.0.1:9", &names(3), ""));
    let file = job.file.to_str().unwrap();
    let out = output(
        job.dir.path(),
        &["plan", file, "--shard", "1/3", "--jobs", "nomatch"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--jobs `nomatch` selects no job"));
    // A selector that matches deals only the jobs it selects.
    let out = output(
        job.dir.path(),
        &[
            "plan", file, "--shard", "2/2", "--jobs", "job-[12]", "--format", "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reasons: Vec<_> = plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["skip_reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        [json!("other_shard"), Value::Null, json!("not_selected")]
    );
    assert_eq!(plan["shard"]["selected"], 2);
}

const LIMITS: &str = "limits:\n  global: { concurrency: 32, requests_per_second: 90, burst: 9 }\n  per_host: { concurrency: 8, requests_per_second: 20, burst: 5 }\n  hosts:\n    127.0.0.1: { concurrency: 2, requests_per_second: 3, bytes_per_second: 3M }\n";

#[test]
fn plan_shows_the_shards_share_of_every_limit_unless_full() {
    let job = Job::new(&jobs_yaml("http://127.0.0.1:9", &names(3), LIMITS));
    let file = job.file.to_str().unwrap();
    let plan = |extra: &[&str]| -> Value {
        let mut args = vec!["plan", file, "--format", "json"];
        args.extend_from_slice(extra);
        let out = output(job.dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let split = plan(&["--shard", "1/3"]);
    let l = &split["limits"];
    assert_eq!(
        l["global"],
        // `jobs` bounds one machine's ffmpeg processes, not a site's load.
        json!({"concurrency": 10, "requests_per_second": 30.0, "burst": 3, "jobs": 4, "bytes_per_second": null})
    );
    assert_eq!(l["per_host"]["concurrency"], 2);
    assert_eq!(l["per_host"]["burst"], 1);
    assert_eq!(
        l["hosts"]["127.0.0.1"],
        json!({"concurrency": 1, "requests_per_second": 1.0, "burst": 1, "bytes_per_second": 1_000_000})
    );
    assert_eq!(split["jobs"][0]["host_limits"]["requests_per_second"], 1.0);
    assert_eq!(split["shard"]["limits"], "split");

    let full = plan(&["--shard", "1/3", "--shard-limits", "full"]);
    assert_eq!(full["limits"], plan(&[])["limits"]);
    assert_eq!(full["limits"]["global"]["requests_per_second"], 90.0);
    assert_eq!(
        full["limits"]["hosts"]["127.0.0.1"]["bytes_per_second"],
        3_000_000
    );
    assert_eq!(full["shard"]["limits"], "full");

    let out = output(job.dir.path(), &["plan", file, "--shard", "1/3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("host 127.0.0.1: 1 in flight, 1 req/s (burst 1), 1MB/s"),
        "{text}"
    );
    assert!(
        text.contains("the limits shown are 1/3 of the job files'"),
        "{text}"
    );
    assert!(
        text.contains("run limits: 10 in flight, 30 req/s (burst 3)"),
        "{text}"
    );
}

#[test]
fn three_shards_over_http_merge_into_one_report_of_nine_ok_jobs() {
    let media = segments(2, 1);
    let server = TestServer::start(&media);
    let all = names(9);
    let job = Job::new(&jobs_yaml(&server.url(), &all, ""));
    let dir = job.dir.path();
    let file = job.file.to_str().unwrap();
    for k in 1..=3 {
        let report = format!("reports/shard-{k}.json");
        let out = output(
            dir,
            &[
                "run",
                file,
                "--shard",
                &format!("{k}/3"),
                "--report",
                &report,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "shard {k}: {}", stderr(&out));
    }
    assert_eq!(server.requests().len(), 9 * 2, "each segment fetched once");
    let out = output(
        dir,
        &[
            "report",
            "merge",
            "reports/shard-1.json",
            "reports/shard-2.json",
            "reports/shard-3.json",
            "-o",
            "merged.json",
            "--junit",
            "junit.xml",
            "--summary",
            "summary.md",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("merged 3 reports: 9 jobs: 9 ok"), "{err}");
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(job.path("merged.json")).unwrap()).unwrap();
    assert_eq!(merged["totals"]["jobs"], 9);
    assert_eq!(merged["totals"]["ok"], 9);
    assert_eq!(merged["totals"]["skipped"], 0);
    assert_eq!(merged["totals"]["segments"], 18);
    assert_eq!(merged["shard"], Value::Null);
    assert!(merged["job_files"]
        .as_str()
        .unwrap()
        .starts_with("fnv1a64:"));
    let listed: Vec<&str> = merged["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, all.iter().map(String::as_str).collect::<Vec<_>>());
    for name in &all {
        let (duration, _) = probe(&job.path(&format!("out/{name}.mp4")));
        assert!((duration - 2.0).abs() < 0.3, "{name}: {duration}");
    }
    let junit = std::fs::read_to_string(job.path("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase").count(), 9, "{junit}");
    assert!(!junit.contains("<skipped"), "{junit}");
    let summary = std::fs::read_to_string(job.path("summary.md")).unwrap();
    assert!(summary.contains("| job-9 | ok |"), "{summary}");
}

/// A shard report as `snatch run --report` writes it, for refusals that
/// need no run: `ran` jobs ok, `others` left to other shards.
fn shard_report(shard: Option<&str>, files: &str, ran: &[&str], others: &[&str]) -> Value {
    let job = |name: &str, status: &str, error: Value| {
        json!({
            "name": name, "status": status, "output": null,
            "segments": {"planned": 2, "fetched": 2, "reused": 0, "missing": [], "trailing_missing": 0},
            "bytes": 10, "retries": 0, "elapsed_s": 0.5, "media": null, "error": error,
        })
    };
    let jobs: Vec<Value> = ran
        .iter()
        .map(|n| job(n, "ok", Value::Null))
        .chain(
            others
                .iter()
                .map(|n| job(n, "skipped", json!("other shard"))),
        )
        .collect();
    json!({
        "version": 1, "started_at": "2026-11-25T10:00:00Z", "finished_at": "2026-11-25T10:00:05Z",
        "elapsed_s": 5.0, "shard": shard, "job_files": files, "interrupted": false,
        "totals": {"jobs": 0, "ok": 0, "failed": 0, "skipped": 0, "up_to_date": 0, "segments": 0, "bytes": 0, "retries": 0},
        "jobs": jobs,
    })
}

fn merge_of(reports: &[(&str, Value)]) -> (Option<i32>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["report".to_string(), "merge".to_string()];
    for (name, value) in reports {
        std::fs::write(dir.path().join(name), value.to_string()).unwrap();
        args.push(name.to_string());
    }
    args.extend(["-o".to_string(), "merged.json".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = output(dir.path(), &args);
    (out.status.code(), stderr(&out), dir)
}

#[test]
fn merge_recomputes_totals_and_spans_the_shards_times() {
    // A disabled job is skipped in every shard and listed once.
    let with_disabled = |mut r: Value| {
        let off = json!({
            "name": "off", "status": "skipped", "output": null,
            "segments": {"planned": 2, "fetched": 0, "reused": 0, "missing": [], "trailing_missing": 0},
            "bytes": 0, "retries": 0, "elapsed_s": 0.0, "media": null, "error": "disabled",
        });
        r["jobs"].as_array_mut().unwrap().push(off);
        r
    };
    let (code, err, dir) = merge_of(&[
        (
            "a.json",
            with_disabled(shard_report(
                Some("hash:1/2"),
                "fnv1a64:1",
                &["x"],
                &["y", "z"],
            )),
        ),
        (
            "b.json",
            with_disabled(shard_report(
                Some("hash:2/2"),
                "fnv1a64:1",
                &["y", "z"],
                &["x"],
            )),
        ),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("merged.json")).unwrap())
            .unwrap();
    assert_eq!(
        merged["totals"],
        json!({"jobs": 4, "ok": 3, "failed": 0, "skipped": 1, "up_to_date": 0, "interrupted": 0, "segments": 6, "bytes": 30, "retries": 0})
    );
    let names: Vec<&str> = merged["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["x", "y", "z", "off"]);
    assert_eq!(merged["jobs"][3]["error"], "disabled");
    assert_eq!(merged["elapsed_s"], 5.0);
    assert_eq!(merged["job_files"], "fnv1a64:1");
}

/// A job a shard's run left `interrupted` is read back as such, counted
/// apart in the totals, and fails the merge like a failed job (exit 1),
/// even in a report whose run-level flag says otherwise.
#[test]
fn merge_counts_an_interrupted_job_apart_and_exits_1() {
    let mut b = shard_report(Some("2/2"), "fnv1a64:1", &["y"], &["x"]);
    b["jobs"][0]["status"] = json!("interrupted");
    let (code, err, dir) = merge_of(&[
        (
            "a.json",
            shard_report(Some("1/2"), "fnv1a64:1", &["x"], &["y"]),
        ),
        ("b.json", b),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("2 jobs: 1 ok, 0 up to date, 0 failed, 1 interrupted, 0 skipped"),
        "{err}"
    );
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("merged.json")).unwrap())
            .unwrap();
    assert_eq!(merged["jobs"][1]["status"], "interrupted");
    assert_eq!(merged["totals"]["interrupted"], 1);
    assert_eq!(merged["totals"]["failed"], 0);
}

#[test]
fn merge_shows_job_names_from_reports_only_as_code_in_the_summary() {
    let hostile = [
        "<img src=x onerror=alert(1)>",
        "[x](https://ev.il)",
        "esc\u{1b}]0;owned\u{7}",
        "bidi\u{202E}gnp.exe",
        "&#x202E;amp",
    ];
    let mut report = shard_report(None, "fnv1a64:1", &hostile, &[]);
    report["jobs"][0]["status"] = json!("failed");
    report["jobs"][0]["error"] = json!("it failed");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), report.to_string()).unwrap();
    let out = output(
        dir.path(),
        &[
            "report",
            "merge",
            "a.json",
            "-o",
            "m.json",
            "--summary",
            "s.md",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let md = std::fs::read_to_string(dir.path().join("s.md")).unwrap();
    assert!(!md.contains(['\u{1b}', '\u{7}', '\u{202E}']), "{md:?}");
    let mut code = Vec::new();
    for event in pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::ENABLE_TABLES) {
        use pulldown_cmark::{Event, Tag};
        match event {
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => panic!("a link: {md}"),
            Event::Html(h) | Event::InlineHtml(h) => panic!("HTML {h}: {md}"),
            Event::Code(c) => code.push(c.to_string()),
            _ => {}
        }
    }
    // Each name in the table, the failed one in the list too, as code.
    for name in [
        "<img src=x onerror=alert(1)>",
        "[x](https://ev.il)",
        "&#x202E;amp",
    ] {
        assert!(code.iter().any(|c| c == name), "{name}: {code:?}");
    }
    assert_eq!(
        code.iter().filter(|c| c.starts_with("<img")).count(),
        2,
        "{code:?}"
    );
    assert!(code.iter().any(|c| c == "esc ]0;owned"), "{code:?}");
}

#[test]
fn merge_refuses_totals_that_overflow_naming_the_report() {
    let huge = |mut r: Value| {
        r["jobs"][0]["bytes"] = json!(u64::MAX / 2 + 1);
        r
    };
    let (code, err, dir) = merge_of(&[
        (
            "a.json",
            huge(shard_report(Some("1/2"), "fnv1a64:1", &["x"], &["y"])),
        ),
        (
            "b.json",
            huge(shard_report(Some("2/2"), "fnv1a64:1", &["y"], &["x"])),
        ),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("b.json: the segments, bytes or retries of job `y` take the totals past 2^64"),
        "{err}"
    );
    assert!(!err.contains("PiB"), "{err}");
    assert!(!dir.path().join("merged.json").exists());
    // Just below the limit adds up.
    let fits = |mut r: Value| {
        r["jobs"][0]["bytes"] = json!(u64::MAX / 2);
        r
    };
    let (code, err, dir) = merge_of(&[
        (
            "a.json",
            fits(shard_report(Some("1/2"), "fnv1a64:1", &["x"], &["y"])),
        ),
        (
            "b.json",
            fits(shard_report(Some("2/2"), "fnv1a64:1", &["y"], &["x"])),
        ),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("merged.json")).unwrap())
            .unwrap();
    assert_eq!(merged["totals"]["bytes"], json!(u64::MAX - 1));
}

#[test]
fn merge_refuses_reports_of_different_job_files_naming_them() {
    let (code, err, dir) = merge_of(&[
        (
            "a.json",
            shard_report(Some("1/2"), "fnv1a64:1", &["x"], &["y"]),
        ),
        (
            "b.json",
            shard_report(Some("2/2"), "fnv1a64:2", &["y"], &["x"]),
        ),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("a.json and b.json were made from different job files"),
        "{err}"
    );
    assert!(!dir.path().join("merged.json").exists());
}

#[test]
fn merge_refuses_a_job_run_by_two_reports() {
    let (code, err, _dir) = merge_of(&[
        (
            "a.json",
            shard_report(Some("1/2"), "fnv1a64:1", &["x", "y"], &[]),
        ),
        (
            "b.json",
            shard_report(Some("2/2"), "fnv1a64:1", &["y"], &["x"]),
        ),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("job `y` ran in both a.json and b.json"),
        "{err}"
    );
}

#[test]
fn merge_refuses_a_missing_or_repeated_shard() {
    let (code, err, _dir) = merge_of(&[
        (
            "one.json",
            shard_report(Some("1/3"), "fnv1a64:1", &["x"], &["y", "z"]),
        ),
        (
            "three.json",
            shard_report(Some("3/3"), "fnv1a64:1", &["z"], &["x", "y"]),
        ),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("shard 2/3 is missing: the reports are 1/3 (one.json), 3/3 (three.json)"),
        "{err}"
    );
    let (code, err, _dir) = merge_of(&[
        (
            "a.json",
            shard_report(Some("1/2"), "fnv1a64:1", &["x"], &["y"]),
        ),
        (
            "b.json",
            shard_report(Some("1/2"), "fnv1a64:1", &[], &["x", "y"]),
        ),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("shard 1/2 is given twice: a.json, b.json"),
        "{err}"
    );
    let (code, err, _dir) = merge_of(&[
        (
            "a.json",
            shard_report(Some("1/2"), "fnv1a64:1", &["x"], &["y"]),
        ),
        (
            "b.json",
            shard_report(Some("hash:2/2"), "fnv1a64:1", &["y"], &["x"]),
        ),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("a.json is shard 1/2 but b.json is shard hash:2/2"),
        "{err}"
    );
}

#[test]
fn merge_refuses_files_that_are_not_reports() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("junk.json"), "{\"jobs\": 3}").unwrap();
    let out = output(
        dir.path(),
        &["report", "merge", "junk.json", "gone.json", "-o", "m.json"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("junk.json is not a snatch JSON report"),
        "{}",
        stderr(&out)
    );
    let out = output(
        dir.path(),
        &["report", "merge", "gone.json", "-o", "m.json"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read gone.json"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn merge_refuses_shards_that_selected_other_jobs() {
    let media = segments(2, 1);
    let server = TestServer::start(&media);
    let all = names(4);
    let job = Job::new(&jobs_yaml(&server.url(), &all, ""));
    let dir = job.dir.path();
    let file = job.file.to_str().unwrap();
    for (k, selection) in [(1, &["--jobs", "job-1"][..]), (2, &[][..])] {
        let report = format!("shard-{k}.json");
        let shard = format!("{k}/2");
        let mut args = vec!["run", file, "--shard", &shard, "--report", &report];
        args.extend_from_slice(selection);
        let out = output(dir, &args);
        assert!(out.status.code().is_some(), "shard {k}: {}", stderr(&out));
    }
    let first: Value =
        serde_json::from_str(&std::fs::read_to_string(job.path("shard-1.json")).unwrap()).unwrap();
    assert_eq!(first["selection"], "--jobs job-1");
    let out = output(
        dir,
        &[
            "report",
            "merge",
            "shard-1.json",
            "shard-2.json",
            "-o",
            "merged.json",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("shard-1.json ran `--jobs job-1` but shard-2.json ran every job"),
        "{err}"
    );
    assert!(!job.path("merged.json").exists());
}
