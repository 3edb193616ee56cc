//! `snatch validate` and `snatch plan` on good and bad job files: the exit
//! code, the exact rendered errors (insta snapshots), and what plan shows.

use std::path::Path;
use std::process::{Command, Output};

fn snatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snatch"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .output()
        .expect("snatch runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn every_bad_file_is_refused_with_a_located_error() {
    insta::glob!("../bad", "*.yaml", |path| {
        let rel = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let out = snatch(&["validate", &rel]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{rel}: {err}");
        assert!(!err.contains("panicked"), "{rel} panicked: {err}");
        // A location: file:line:col, or at least the file for whole-file problems.
        assert!(err.contains(&rel), "{rel}: no location in {err}");
        insta::assert_snapshot!(err);
    });
}

#[test]
fn the_example_validates_and_plans_the_counts_the_contract_implies() {
    let out = snatch(&["validate", "jobs.example.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = snatch(&["plan", "--format", "json", "jobs.example.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let job = |name: &str| {
        plan["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("{name} in plan"))
            .clone()
    };
    let l1 = job("lecture-01");
    assert_eq!(l1["segments"], 300);
    assert_eq!(l1["first_index"], 1);
    assert_eq!(l1["last_index"], 300);
    assert_eq!(l1["first_url"], "https://cdn.example.com/vod/abc/000001.ts");
    assert_eq!(l1["last_url"], "https://cdn.example.com/vod/abc/000300.ts");
    assert_eq!(l1["status"], "skipped");
    let l2 = job("lecture-02");
    assert_eq!(l2["segments"], 931);
    assert_eq!(l2["first_index"], 1);
    assert_eq!(l2["last_index"], 931);
    assert_eq!(l2["last_url"], "https://cdn.example.com/vod/def/000931.ts");
    let demo = job("demo");
    assert_eq!(demo["status"], "planned");
    assert_eq!(demo["segments"], 3);
    assert_eq!(demo["output"], "out/example/demo.mp4");
    assert_eq!(demo["headers"]["User-Agent"], "snatch/1");
    let trailer = job("trailer");
    assert_eq!(
        trailer["first_url"],
        "https://media.example.org/trailer/seg-000.ts?quality=720p"
    );
    assert_eq!(
        trailer["last_url"],
        "https://media.example.org/trailer/seg-039.ts?quality=720p"
    );

    // run --dry-run prints the same plan.
    let dry = snatch(&["run", "--dry-run", "--format", "json", "jobs.example.yaml"]);
    assert_eq!(dry.stdout, out.stdout);
}

#[test]
fn secrets_reach_no_plan_output() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.yaml");
    std::fs::write(
        &file,
        r#"version: 1
jobs:
  - name: s
    url: "https://h.example/{{index}}.ts?token=${SNATCH_TEST_TOKEN}"
    count: 2
    headers:
      Cookie: "sid=${SNATCH_TEST_COOKIE}"
"#,
    )
    .unwrap();
    for format in ["text", "json"] {
        let out = Command::new(env!("CARGO_BIN_EXE_snatch"))
            .args(["plan", "--format", format])
            .arg(&file)
            .env("SNATCH_TEST_TOKEN", "tok-SECRET-1")
            .env("SNATCH_TEST_COOKIE", "cookie-SECRET-2")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains("SECRET"), "secret leaked: {all}");
        assert!(all.contains("token=***"), "{all}");
        assert!(all.contains("sid=***"), "{all}");
    }
}

#[test]
fn an_env_name_outside_snatch_needs_allow_env() {
    let out = snatch(&["validate", "tests/bad/env-not-allowed.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--allow-env GITHUB_TOKEN"));
    let out = Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["validate", "tests/bad/env-not-allowed.yaml"])
        .args([
            "--allow-env",
            "GITHUB_TOKEN",
            "--allow-env",
            "AWS_SECRET_ACCESS_KEY",
        ])
        .env("GITHUB_TOKEN", "x")
        .env("AWS_SECRET_ACCESS_KEY", "y")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_huge_file_is_refused_quickly_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.yaml");
    let mut body = String::from("version: 1\njobs:\n");
    let job = "  - name: j\n    url: \"https://h/{{index}}.ts\"\n    count: 1\n";
    while body.len() < 50 * 1024 * 1024 {
        body.push_str(job);
    }
    std::fs::write(&file, body).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_snatch"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("limited to 4 MiB"), "{err}");
}

#[test]
fn names_are_unique_and_limits_combine_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    std::fs::write(
        &a,
        "version: 1\nlimits:\n  per_host: { concurrency: 6, requests_per_second: 10 }\njobs:\n  - name: one\n    url: \"https://h/{{index}}.ts\"\n    count: 1\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "version: 1\nlimits:\n  per_host: { concurrency: 3 }\n  global: { requests_per_second: 50 }\njobs:\n  - name: two\n    url: \"https://h/{{index}}.ts\"\n    count: 1\n    output: two.mkv\n",
    )
    .unwrap();
    // A folder expands to its files.
    let out = Command::new(env!("CARGO_BIN_EXE_snatch"))
        .args(["plan", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["limits"]["per_host"]["concurrency"], 3);
    assert_eq!(plan["limits"]["per_host"]["requests_per_second"], 10.0);
    assert_eq!(plan["limits"]["global"]["requests_per_second"], 50.0);
    assert_eq!(plan["jobs"][0]["host_limits"]["concurrency"], 3);

    std::fs::write(
        &b,
        "version: 1\njobs:\n  - name: one\n    url: \"https://h/{{index}}.ts\"\n    count: 1\n    output: other.mp4\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_snatch"))
        .arg("validate")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("job name `one` is used twice"), "{err}");
    assert!(err.contains("b.yaml:3:11"), "{err}");
}

#[test]
fn selection_skips_jobs_and_relative_paths_follow_the_job_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_snatch"))
        .args(["plan", "--format", "json", "--tag", "nightly"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs.example.yaml"))
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let demo = &plan["jobs"][0];
    assert_eq!(demo["name"], "demo");
    assert_eq!(demo["skip_reason"], "not_selected");
    let expected = Path::new(env!("CARGO_MANIFEST_DIR")).join("out/example/demo.mp4");
    assert_eq!(demo["output"], expected.to_string_lossy().as_ref());
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let out = snatch(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/jobs.schema.json"),
    )
    .unwrap();
    assert_eq!(
        stdout(&out),
        committed,
        "schemas/jobs.schema.json is stale: run `cargo run -- schema > schemas/jobs.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(schema["definitions"]["Job"]["properties"]["url"].is_object());
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("jobs.example.yaml"))
            .unwrap();
    assert!(example.starts_with("# yaml-language-server: $schema=./schemas/jobs.schema.json\n"));
}

fn plan_json(file: &Path, args: &[&str], env: &[(&str, &str)]) -> (Output, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_snatch"))
        .args(["plan", "--format", "json"])
        .arg(file)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out, json)
}

#[test]
fn a_host_from_a_secret_is_shown_as_stars_in_plans() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.yaml");
    std::fs::write(
        &file,
        r#"version: 1
jobs:
  - name: direct
    url: "https://${SNATCH_TEST_HOST}/v/{{index}}.ts"
    count: 2
  - name: through-vars
    url: "https://{{vars.host}}:8443/v/{{index}}.ts"
    count: 2
    vars: { host: "${SNATCH_TEST_HOST}" }
"#,
    )
    .unwrap();
    let env = [("SNATCH_TEST_HOST", "cdn.hidden-SECRET.example")];
    let (out, plan) = plan_json(&file, &[], &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(plan["jobs"][0]["host"], "***");
    assert_eq!(plan["jobs"][1]["host"], "***");
    assert_eq!(plan["jobs"][1]["first_url"], "https://***:8443/v/0.ts");
    let text = Command::new(env!("CARGO_BIN_EXE_snatch"))
        .arg("plan")
        .arg(&file)
        .envs(env)
        .output()
        .unwrap();
    let all = format!("{}{}{}", stdout(&out), stdout(&text), stderr(&text));
    assert!(!all.contains("SECRET"), "secret host leaked: {all}");
    assert!(stdout(&text).contains("host ***:"), "{}", stdout(&text));
}

#[test]
fn new_keys_are_parsed_merged_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    std::fs::write(
        &a,
        "version: 1\nlimits:\n  global: { jobs: 6 }\ndefaults:\n  max_segment_bytes: 10MB\n  verify: { duration_tolerance: 1.5s }\njobs:\n  - name: one\n    url: \"https://h/{{index}}.ts\"\n    count: 1\n  - name: two\n    url: \"https://h/{{index}}.ts\"\n    count: 1\n    max_segment_bytes: 4096\n    verify: { duration_tolerance: 5% }\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "version: 1\nlimits:\n  global: { jobs: 2 }\njobs:\n  - name: three\n    url: \"https://h/{{index}}.ts\"\n    count: 1\n",
    )
    .unwrap();
    let (out, plan) = plan_json(dir.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(plan["limits"]["global"]["jobs"], 2, "the stricter wins");
    let jobs = plan["jobs"].as_array().unwrap();
    assert_eq!(jobs[0]["max_segment_bytes"], 10_000_000);
    assert_eq!(jobs[0]["verify"]["duration_tolerance"], "1.5s");
    assert_eq!(jobs[1]["max_segment_bytes"], 4096);
    assert_eq!(jobs[1]["verify"]["duration_tolerance"], "5%");
    assert_eq!(jobs[2]["max_segment_bytes"], 256 * 1024 * 1024);
    assert_eq!(jobs[2]["verify"]["duration_tolerance"], "2%");
    let text = Command::new(env!("CARGO_BIN_EXE_snatch"))
        .arg("plan")
        .arg(dir.path())
        .output()
        .unwrap();
    let text = stdout(&text);
    assert!(
        text.contains("segments up to 10MB; duration within 1.5s"),
        "{text}"
    );
    assert!(text.contains("2 jobs at once"), "{text}");
}

#[test]
fn a_var_may_carry_a_secret_into_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.yaml");
    std::fs::write(
        &file,
        "version: 1\njobs:\n  - name: a\n    url: \"https://h/{{vars.t}}/{{index}}.ts\"\n    count: 2\n    vars: { t: \"${SNATCH_TEST_T}\" }\n",
    )
    .unwrap();
    let (out, plan) = plan_json(&file, &[], &[("SNATCH_TEST_T", "tok-SECRET")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(plan["jobs"][0]["first_url"], "https://h/***/0.ts");
    assert!(!stdout(&out).contains("SECRET"));
    // Not set: `plan` shows it as *** and names it; `validate` (as `run`)
    // gives a located problem, never a crash.
    let (out, plan) = plan_json(&file, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(plan["jobs"][0]["first_url"], "https://h/***/0.ts");
    assert!(
        stderr(&out).contains("SNATCH_TEST_T is not set"),
        "{}",
        stderr(&out)
    );
    let out = snatch(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("jobs.yaml:4:10"), "{}", stderr(&out));
    assert!(stderr(&out).contains("SNATCH_TEST_T"), "{}", stderr(&out));
}

#[test]
fn output_dir_on_the_command_line_may_point_anywhere_but_not_in_a_job_file() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.yaml");
    let job = "version: 1\njobs:\n  - name: a\n    url: \"https://h/{{index}}.ts\"\n    count: 2\n";
    std::fs::write(&file, job).unwrap();
    let where_to = elsewhere.path().to_str().unwrap();
    let (out, plan) = plan_json(&file, &["--output-dir", where_to], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(plan["jobs"][0]["output"]
        .as_str()
        .unwrap()
        .starts_with(where_to));
    std::fs::write(&file, format!("{job}    output_dir: {where_to}\n")).unwrap();
    let (out, _) = plan_json(&file, &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("jobs.yaml:6:17"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is an absolute path"),
        "{}",
        stderr(&out)
    );
}

#[cfg(unix)]
#[test]
fn a_symlinked_output_dir_leading_outside_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let victim = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(victim.path(), dir.path().join("out")).unwrap();
    let file = dir.path().join("jobs.yaml");
    std::fs::write(
        &file,
        "version: 1\ndefaults: { output_dir: out }\njobs:\n  - name: a\n    url: \"https://h/{{index}}.ts\"\n    count: 2\n",
    )
    .unwrap();
    let (out, _) = plan_json(&file, &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("jobs.yaml:2:25"), "{}", stderr(&out));
    assert!(stderr(&out).contains("outside the job"), "{}", stderr(&out));
}

#[test]
fn local_sources_outside_need_allow_local() {
    let dir = tempfile::tempdir().unwrap();
    let media = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.yaml");
    let seg = media.path().join("s");
    std::fs::write(
        &file,
        format!(
            "version: 1\njobs:\n  - name: a\n    url: \"{}{{{{index}}}}.ts\"\n    count: 2\n",
            seg.display()
        ),
    )
    .unwrap();
    let (out, _) = plan_json(&file, &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--allow-local"), "{}", stderr(&out));
    let allowed = media.path().to_str().unwrap();
    let (out, plan) = plan_json(&file, &["--allow-local", allowed], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(plan["jobs"][0]["segments"], 2);
    // /proc stays closed whatever the command line allows.
    std::fs::write(
        &file,
        "version: 1\njobs:\n  - name: a\n    url: \"/proc/self/environ{{#if n}}{{/if}}\"\n    count: 2\n",
    )
    .unwrap();
    let (out, _) = plan_json(&file, &["--allow-local", "/"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("never reads"), "{}", stderr(&out));
}

#[test]
fn a_folder_takes_limits_and_defaults_from_a_file_without_jobs_and_plans_tidy_paths() {
    // 00-settings.yaml has no `jobs` key, 01-limits.yaml has `jobs: []`;
    // the folder's defaults give padding, start, headers and an output_dir
    // of `../out`, which plan shows as `tests/folders/out`.
    let out = snatch(&["validate", "tests/folders/course"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = snatch(&["plan", "tests/folders/course"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains(".."), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_folder_has_one_settings_file_with_defaults() {
    let out = snatch(&["validate", "tests/folders/two-settings"]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out));
}
