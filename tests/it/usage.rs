//! Usage mistakes are errors (exit 2) that say what there is, not green runs
//! that did nothing; logs into a pipe carry no colour codes.

use crate::support;

use std::process::Command;

use support::cli::{stderr, Job};
use support::media::segments;
use support::server::TestServer;

const TWO_JOBS: &str = "version: 1\njobs:\n  - name: intro\n    url: \"http://127.0.0.1:9/{{index}}.ts\"\n    padding: 6\n    range: { start: 1, end: 3 }\n    tags: [course]\n  - name: outro\n    url: \"http://127.0.0.1:9/{{index}}.ts\"\n    padding: 6\n    range: { start: 1, end: 3 }\n    tags: [extra]\n";

fn snatch(job: &Job, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(job.dir.path())
        .args(args)
        .arg(&job.file)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn a_selector_that_matches_nothing_is_a_usage_error_naming_what_there_is() {
    let job = Job::new(TWO_JOBS);
    for cmd in ["validate", "plan", "run"] {
        for sel in [["--jobs", "nomatch"], ["--tag", "nope"]] {
            let out = snatch(&job, &[cmd, sel[0], sel[1]]);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{cmd} {sel:?}: {err}");
            assert!(
                err.contains(&format!("{} `{}` selects no job", sel[0], sel[1])),
                "{err}"
            );
            assert!(err.contains("jobs: intro, outro"), "{err}");
            assert!(err.contains("tags: course, extra"), "{err}");
        }
    }
    // A selector that matches is fine.
    let out = snatch(&job, &["plan", "--tag", "course"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn format_without_dry_run_is_refused_before_any_request() {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&TWO_JOBS.replace("http://127.0.0.1:9", &server.url()));
    let out = job.run(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--dry-run"), "{}", stderr(&out));
    assert!(server.requests().is_empty());
    let out = job.run(&["--format", "json", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(plan["jobs"].is_array());
}

#[test]
fn logs_into_a_pipe_have_no_colour_codes() {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&TWO_JOBS.replace("http://127.0.0.1:9", &server.url()));
    let out = job
        .command(&["-vv", "--jobs", "intro"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("merged and verified"), "{err}");
    assert!(!err.contains('\u{1b}'), "ANSI codes in a pipe: {err:?}");
}

fn one_job(url: &str, extra: &str) -> Job {
    Job::new(&format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 3, backoff: 20ms, max_backoff: 50ms }}\njobs:\n  - name: v\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 6 }}\n{extra}"
    ))
}

#[test]
fn skipped_gaps_and_retries_are_on_the_summary_lines() {
    use support::server::Fault;
    let media = segments(6, 1);
    let server = TestServer::start(&media);
    server.always("/000004.ts", Fault::Status(404));
    server.script("/000002.ts", [Fault::Status(503)]);
    let job = one_job(&server.url(), "    on_missing: skip\n");
    let out = job.run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("v: ok with gaps: segment 4 missing (about 1.0 s lost)"),
        "{err}"
    );
    assert!(err.contains("· 1 retry ·"), "{err}");
}

#[test]
fn a_failed_job_names_no_output_file_that_does_not_exist() {
    use support::server::Fault;
    let media = segments(6, 1);
    let server = TestServer::start(&media);
    server.always("/000003.ts", Fault::Status(403));
    let job = one_job(&server.url(), "");
    let junit = job.path("junit.xml");
    let out = job.run(&["--junit", junit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!job.path("out/v.mp4").exists());
    assert_eq!(job.report()["jobs"][0]["output"], serde_json::Value::Null);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failed"), "{xml}");
    assert!(!xml.contains("v.mp4"), "{xml}");
}

#[test]
fn retries_and_host_pauses_are_told_as_they_happen() {
    use support::server::Fault;
    let media = segments(6, 1);
    let server = TestServer::start(&media);
    server.script("/000002.ts", [Fault::Status(503)]);
    server.script(
        "/000003.ts",
        [Fault::RetryAfter {
            status: 429,
            value: "1".into(),
        }],
    );
    let job = one_job(&server.url(), "    concurrency: 1\n");
    let out = job.run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("v: segment 2: retrying: HTTP 503 Service Unavailable"),
        "{err}"
    );
    assert!(err.contains("127.0.0.1 paused 1s: Retry-After"), "{err}");
    assert!(err.contains("· 2 retries ·"), "{err}");
}

/// `snatch ARGS` with no job file.
fn bare(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_snatch"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn completions_are_scripts_the_shell_reads_and_name_every_command() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = bare(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", stderr(&out));
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["validate", "plan", "run", "new", "allow-env"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let out = bare(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snatch.bash");
    std::fs::write(&file, &out.stdout).unwrap();
    // Sourced by bash, it defines the completion function and registers it.
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p snatch", file.display()))
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(String::from_utf8_lossy(&check.stdout).contains("_snatch"));
    let out = bare(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_manual_page_is_roff_that_names_every_command() {
    let out = bare(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH snatch 1"), "{page}");
    for word in ["validate", "plan", "run", "new", "completions"] {
        assert!(page.contains(word), "the page lacks {word}");
    }
    // groff reads it without a warning, where groff is installed.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snatch.1");
    std::fs::write(&file, &page).unwrap();
    if let Ok(out) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&file)
        .output()
    {
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warns");
    }
}

#[test]
fn plan_shows_a_job_whose_secrets_are_not_exported_yet_and_run_refuses_it() {
    let job = Job::new(
        "version: 1\njobs:\n  - name: a\n    url: \"https://${SNATCH_T_HOST}/v/{{index}}.ts?sig=${SNATCH_T_SIG}\"\n    range: { start: 1, end: 3 }\n    headers:\n      Cookie: \"${SNATCH_T_COOKIE}\"\n",
    );
    let out = snatch(&job, &["plan"]);
    let (text, err) = (String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        text.contains("first    https://***/v/1.ts?sig=***"),
        "{text}"
    );
    assert!(text.contains("headers  Cookie: ***"), "{text}");
    assert!(!text.contains("unset"), "the stand-in never shows: {text}");
    assert!(
        err.contains("note: SNATCH_T_COOKIE, SNATCH_T_HOST, SNATCH_T_SIG are not set"),
        "{err}"
    );
    assert!(err.contains("`snatch run` needs them"), "{err}");
    for cmd in [&["run"][..], &["validate"], &["plan", "--probe"]] {
        let out = snatch(&job, cmd);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        assert!(
            stderr(&out).contains("`${SNATCH_T_HOST}`, which is not set"),
            "{cmd:?}"
        );
    }
}

#[test]
fn a_selector_with_a_typo_is_answered_with_the_nearest_name() {
    let job = Job::new(TWO_JOBS);
    let out = snatch(&job, &["plan", "--tag", "cours", "--jobs", "intr"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("did you mean --jobs `intro`, --tag `course`?"),
        "{err}"
    );
}

/// `snatch ARGS` in `dir`.
fn snatch_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn no_job_file_where_snatch_looked_lists_the_yaml_files_it_saw() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["lecture.yml", "notes.yaml", "readme.txt"] {
        std::fs::write(dir.path().join(name), TWO_JOBS).unwrap();
    }
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let refused = |args: &[&str]| {
        let out = snatch_in(dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        stderr(&out)
    };
    let no_path = refused(&["run"]);
    let named = refused(&["validate", "jobs.yml"]);
    let in_sub = refused(&["plan", "sub/jobs.yaml"]);
    for name in ["lecture.yml", "notes.yaml"] {
        std::fs::remove_file(dir.path().join(name)).unwrap();
    }
    let none_here = refused(&["run"]);
    let all = format!(
        "$ snatch run\n{no_path}\n$ snatch validate jobs.yml\n{named}\n\
         $ snatch plan sub/jobs.yaml\n{in_sub}\n$ snatch run (no YAML file here)\n{none_here}"
    );
    assert!(!all.contains("readme.txt"), "{all}");
    assert!(!all.contains("jobs.example.yaml"), "{all}");
    insta::assert_snapshot!(all);
}
