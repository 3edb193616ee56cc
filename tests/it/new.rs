//! `snatch new` through its library entry point, `snatch::new::run_new`, on
//! job files in a temporary folder: what it writes (and that it writes
//! nothing else), what it refuses, and that the result validates and plans.

use std::path::{Path, PathBuf};

use clap::Parser;
use snatch::common::diag::Problem;
use snatch::manifest::{self, env::EnvPolicy, IndexSource, Manifest};
use snatch::new::{run_new, NewArgs, NewOutput, SCHEMA_COMMENT};
use snatch::plan::{self, Plan, PlanContext, Selection};

/// The arguments as the command line would give them.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: NewArgs,
}

fn args(file: &Path, argv: &[&str]) -> NewArgs {
    let mut full = vec!["snatch-new", "-f", file.to_str().unwrap()];
    full.extend_from_slice(argv);
    Cli::try_parse_from(full)
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
        .args
}

fn new(file: &Path, argv: &[&str]) -> Result<NewOutput, Vec<Problem>> {
    run_new(&args(file, argv), &mut std::io::empty())
}

fn new_ok(file: &Path, argv: &[&str]) -> NewOutput {
    new(file, argv)
        .unwrap_or_else(|p| panic!("{argv:?}: {}", snatch::common::diag::render(&p, false)))
}

fn new_err(file: &Path, argv: &[&str]) -> String {
    match new(file, argv) {
        Ok(out) => panic!("{argv:?} should fail, gave {out:?}"),
        Err(p) => snatch::common::diag::render(&p, false),
    }
}

/// Loads and plans the file like `snatch validate`, with these secrets set.
fn validate(file: &Path, secrets: &[(&str, &str)]) -> (Manifest, Plan) {
    let policy = EnvPolicy {
        allowed: Default::default(),
        values: secrets
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let render = |p: Vec<Problem>| snatch::common::diag::render(&p, false);
    let m =
        manifest::load(&[file.to_path_buf()], &policy).unwrap_or_else(|p| panic!("{}", render(p)));
    let selection = Selection::default();
    let ctx = PlanContext {
        date: "2026-01-01".into(),
        env: &policy,
        output_dir: None,
        selection: &selection,
        allow_local: Vec::new(),
    };
    let plan = plan::plan(&m, &ctx).unwrap_or_else(|p| panic!("{}", render(p)));
    (m, plan)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Every entry of the folder, so a stray temporary file shows up.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn setup(text: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jobs.yaml");
    if let Some(text) = text {
        std::fs::write(&file, text).unwrap();
    }
    (dir, file)
}

const URL: &str = "https://cdn.example.com/vod/abc/000123.ts";

const ODD: &str = "\
# yaml-language-server: $schema=./schemas/jobs.schema.json
#   hand-written, with   odd spacing   and comments everywhere

version:    1      # keep me

defaults: { output_dir: 'videos',   concurrency: 3 }   # a flow map

jobs:   # the list
    # a comment before the first job
    -   name:    'first'      # quoted name, wide indent
        url:     \"https://h.example/a/{{index}}.ts\"
        count:   3

    -   name: second
        url: https://h.example/b/(*).ts
        range: {start: 1,    end: 2}
        enabled: false
# a trailing comment at column 0, with no newline at the end";

#[test]
fn a_file_with_comments_and_odd_formatting_keeps_every_byte() {
    let (dir, file) = setup(Some(ODD));
    let out = new_ok(&file, &[URL, "--range", "1-300"]);
    let text = read(&file);
    assert!(out.written && !out.created);
    // The old text is a prefix; after it, a line end, the blank line the
    // list's items are separated by, and exactly the job that was printed.
    assert!(text.starts_with(ODD), "{text}");
    assert_eq!(&text[ODD.len()..], format!("\n\n{}", out.job_yaml));
    // The job is indented like the file's other items.
    assert!(
        out.job_yaml.starts_with("    - name: abc\n"),
        "{}",
        out.job_yaml
    );
    let (m, _) = validate(&file, &[]);
    let names: Vec<&str> = m.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["first", "second", "abc"]);
    // Defaults of the file apply to the new job.
    assert_eq!(m.jobs[2].concurrency, 3);
    assert_eq!(entries(dir.path()), ["jobs.yaml"]);
}

#[test]
fn a_job_goes_at_the_end_of_the_list_when_other_keys_follow_it() {
    let original = "\
version: 1
jobs:
- name: first       # a compact list at column 0
  url: \"https://h.example/a/{{index}}.ts\"
  count: 3

# Limits for the whole run; this comment belongs to them.
limits:
  global: { concurrency: 4 }   # keep
";
    let (_dir, file) = setup(Some(original));
    let out = new_ok(&file, &[URL, "--count", "10", "--start", "1"]);
    let text = read(&file);
    assert_eq!(
        out.job_yaml,
        "- name: abc\n  url: \"https://cdn.example.com/vod/abc/{{index}}.ts\"\n  padding: 6\n  count: 10\n  start: 1\n"
    );
    // Removing the inserted job gives back the original, byte for byte.
    assert_eq!(text.replacen(&out.job_yaml, "", 1), original);
    // It went right after the last job, before the comment of `limits`.
    assert!(
        text.contains(&format!("  count: 3\n{}\n# Limits", out.job_yaml)),
        "{text}"
    );
    let (m, _) = validate(&file, &[]);
    assert_eq!(
        m.jobs[1].source,
        IndexSource::Count {
            start: 1,
            count: 10
        }
    );
}

#[test]
fn a_missing_file_is_created_with_the_version_and_no_schema_line_when_there_is_no_schema() {
    let (dir, file) = setup(None);
    // A repository's root: the schema is not looked for above it.
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let out = new_ok(&file, &[URL, "--range", "1-300"]);
    assert!(out.written && out.created);
    let text = read(&file);
    assert!(text.starts_with("version: 1\n"), "{text}");
    assert!(!text.contains("$schema"), "{text}");
    assert!(
        text.ends_with(&format!("jobs:\n{}", out.job_yaml)),
        "{text}"
    );
    assert!(out.summary().starts_with("created "), "{}", out.summary());
    // One short line.
    assert_eq!(
        out.notes,
        [format!(
            "no `$schema` line: no schema was found (`snatch schema -o {}` writes one)",
            dir.path().join("schemas/jobs.schema.json").display()
        )]
    );
    validate(&file, &[]);
    assert_eq!(entries(dir.path()), [".git", "jobs.yaml"]);
}

#[test]
fn the_schema_line_points_to_the_schema_found_beside_or_above_the_file() {
    let (dir, _) = setup(None);
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    std::fs::create_dir_all(dir.path().join("schemas")).unwrap();
    std::fs::create_dir_all(dir.path().join("jobs/week-1")).unwrap();
    std::fs::write(dir.path().join("schemas/jobs.schema.json"), "{}").unwrap();
    for (file, want) in [
        ("jobs.yaml", "./schemas/jobs.schema.json"),
        ("jobs/week-1/jobs.yaml", "../../schemas/jobs.schema.json"),
    ] {
        let file = dir.path().join(file);
        let out = new_ok(&file, &[URL, "--range", "1-3"]);
        let text = read(&file);
        assert!(
            text.starts_with(&format!("{SCHEMA_COMMENT}{want}\nversion: 1\n")),
            "{text}"
        );
        assert!(out.notes.is_empty(), "{:?}", out.notes);
    }
    // A schema right beside the file wins over one above it.
    std::fs::write(dir.path().join("jobs/week-1/jobs.schema.json"), "{}").unwrap();
    let file = dir.path().join("jobs/week-1/more.yaml");
    new_ok(&file, &[URL, "--range", "1-3"]);
    assert!(read(&file).starts_with(&format!("{SCHEMA_COMMENT}./jobs.schema.json\n")));
}

#[test]
fn schema_dash_o_writes_the_schema_that_new_then_points_to() {
    let (dir, file) = setup(None);
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let snatch = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
            .current_dir(dir.path())
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let out = snatch(&["schema", "-o", "schemas/jobs.schema.json"]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    let printed = snatch(&["schema"]).stdout;
    assert_eq!(
        std::fs::read(dir.path().join("schemas/jobs.schema.json")).unwrap(),
        printed
    );
    new_ok(&file, &[URL, "--range", "1-3"]);
    assert!(
        read(&file).starts_with("# yaml-language-server: $schema=./schemas/jobs.schema.json\n"),
        "{}",
        read(&file)
    );
    // A path that cannot be written is refused with exit 2.
    let out = snatch(&["schema", "-o", "jobs.yaml/x.json"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the schema"));
}

#[test]
fn a_skeleton_file_with_an_empty_jobs_list_is_appended_to() {
    let original = "# Jobs of the course\nversion: 1\njobs: []   # none yet\n\nlimits:\n  global: { concurrency: 2 }\n";
    let (_dir, file) = setup(Some(original));
    let out = new_ok(&file, &[URL, "--count", "3"]);
    assert!(out.written && !out.created);
    assert_eq!(
        read(&file),
        format!(
            "# Jobs of the course\nversion: 1\njobs:   # none yet\n{}\nlimits:\n  global: {{ concurrency: 2 }}\n",
            out.job_yaml
        )
    );
    let (m, _) = validate(&file, &[]);
    assert_eq!(m.jobs.len(), 1);
    // The next job goes after it, as in any block list.
    let out2 = new_ok(&file, &[URL, "--count", "3"]);
    assert_eq!(out2.name, "abc-2");
    assert_eq!(validate(&file, &[]).0.jobs.len(), 2);
}

#[test]
fn jobs_are_named_after_the_most_specific_meaningful_folder() {
    let (_dir, file) = setup(None);
    for (url, want) in [
        (
            "https://cdn.example.com/rust-101/lecture-07/hls/720p/000123.ts",
            "lecture-07",
        ),
        (
            "https://cdn.example.com/keynote/2024-05-17/video/000123.ts",
            "keynote",
        ),
        (
            "https://cdn.example.com/intro/3f2a9c0d1b7e4a5f/media/000123.ts",
            "intro",
        ),
        (
            "https://cdn.example.com/hls/720p/Talk%203_000123.ts",
            "talk-3",
        ),
        (
            "https://cdn.example.com/media/videos/1080p/000123.ts",
            "cdn",
        ),
    ] {
        let out = new_ok(
            &file,
            &[url, "--count", "3", "--output", &format!("{want}.mp4")],
        );
        assert_eq!(out.name, want, "{url}");
    }
}

#[test]
fn one_url_gives_the_template_padding_and_name_and_a_second_time_a_fresh_name() {
    let (_dir, file) = setup(None);
    let out = new_ok(&file, &[URL, "--range", "1-300"]);
    assert_eq!(out.name, "abc");
    assert_eq!(out.segments, 300);
    assert!(out.exports.is_empty());
    let (m, plan) = validate(&file, &[]);
    let job = &m.jobs[0];
    assert_eq!(job.name, "abc");
    assert_eq!(*job.url, "https://cdn.example.com/vod/abc/{{index}}.ts");
    assert_eq!(job.padding, 6);
    assert_eq!(job.source, IndexSource::Range { start: 1, end: 300 });
    assert_eq!(
        plan.jobs[0].first_url,
        "https://cdn.example.com/vod/abc/000001.ts"
    );
    assert_eq!(
        plan.jobs[0].last_url,
        "https://cdn.example.com/vod/abc/000300.ts"
    );

    // The same URL again: the name is made unique; the output must differ too.
    let out = new_ok(
        &file,
        &[URL, "--range", "301-400", "--output", "{{name}}.mkv"],
    );
    assert_eq!(out.name, "abc-2");
    let (m, _) = validate(&file, &[]);
    let names: Vec<&str> = m.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["abc", "abc-2"]);
    assert_eq!(*m.jobs[1].output, "{{name}}.mkv");
}

#[test]
fn two_urls_find_the_index_where_one_cannot() {
    let (_dir, file) = setup(None);
    let out = new_ok(
        &file,
        &[
            "https://cdn.example.com/v/abc/stream_1_12.ts",
            "https://cdn.example.com/v/abc/stream_1_13.ts",
            "--range",
            "0-99",
        ],
    );
    let (m, _) = validate(&file, &[]);
    assert_eq!(
        *m.jobs[0].url,
        "https://cdn.example.com/v/abc/stream_1_{{index}}.ts"
    );
    assert_eq!(m.jobs[0].padding, 0);
    assert!(!out.job_yaml.contains("padding"), "{}", out.job_yaml);
}

const CHROME: &str = r#"curl 'https://cdn.example.com/vod/abc/000123.ts' \
  -H 'accept: */*' \
  -H 'accept-language: en-US,en;q=0.9' \
  -b 'sid=SECRET123; theme=dark' \
  -H 'origin: https://tv.example.com' \
  -H 'priority: u=1, i' \
  -H 'referer: https://tv.example.com/v/123' \
  -H 'sec-ch-ua: "Chromium";v="124", "Not-A.Brand";v="99"' \
  -H 'sec-fetch-mode: cors' \
  -H 'user-agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36'"#;

#[test]
fn from_curl_keeps_the_cookie_out_of_the_file_and_prints_its_export_line() {
    let (dir, file) = setup(None);
    let out = new_ok(&file, &["--from-curl", CHROME, "--range", "1-300"]);
    let text = read(&file);
    assert!(text.contains("Cookie: \"${SNATCH_ABC_COOKIE}\""), "{text}");
    assert!(!text.contains("SECRET123"), "{text}");
    assert!(!out.job_yaml.contains("SECRET123"));
    assert!(
        text.contains("Referer: \"https://tv.example.com/v/123\""),
        "{text}"
    );
    assert!(
        text.contains("Origin: \"https://tv.example.com\""),
        "{text}"
    );
    assert!(text.contains("User-Agent: \"Mozilla/5.0"), "{text}");
    for dropped in ["sec-", "accept", "priority"] {
        assert!(
            !text.to_ascii_lowercase().contains(dropped),
            "{dropped}: {text}"
        );
    }
    assert_eq!(
        out.exports,
        ["export SNATCH_ABC_COOKIE='sid=SECRET123; theme=dark'"]
    );
    let block = out.secrets_block().unwrap();
    assert!(
        block.contains("SECRET") && block.contains(&out.exports[0]),
        "{block}"
    );
    assert!(out.stderr_text(true).contains(&out.exports[0]));

    // With the variable exported, the job validates and sends the cookie.
    let (_, plan) = validate(&file, &[("SNATCH_ABC_COOKIE", "sid=SECRET123; theme=dark")]);
    let cookie = plan.jobs[0]
        .headers
        .iter()
        .find(|(n, _)| n == "Cookie")
        .map(|(_, v)| v.clone())
        .unwrap();
    assert_eq!(cookie.expose(), "sid=SECRET123; theme=dark");
    assert_eq!(cookie.shown(), "***");
    assert_eq!(entries(dir.path()), ["jobs.yaml"]);
}

#[test]
fn from_curl_reads_stdin_and_header_options_become_secrets_too() {
    let (_dir, file) = setup(None);
    let args = args(
        &file,
        &[
            "--from-curl",
            "-",
            "--range",
            "1-3",
            "-H",
            "Authorization: Bearer tok'en",
            "--referer",
            "https://other.example/page",
        ],
    );
    let mut stdin = CHROME.as_bytes();
    let out = run_new(&args, &mut stdin).unwrap();
    let text = read(&file);
    assert!(
        !text.contains("tok'en") && !text.contains("SECRET123"),
        "{text}"
    );
    assert!(
        text.contains("Authorization: \"${SNATCH_ABC_AUTHORIZATION}\""),
        "{text}"
    );
    // --referer replaces the copied one.
    assert!(
        text.contains("Referer: \"https://other.example/page\""),
        "{text}"
    );
    assert!(!text.contains("tv.example.com/v/123"), "{text}");
    assert_eq!(
        out.exports,
        [
            "export SNATCH_ABC_COOKIE='sid=SECRET123; theme=dark'",
            r"export SNATCH_ABC_AUTHORIZATION='Bearer tok'\''en'",
        ]
    );
    validate(
        &file,
        &[
            ("SNATCH_ABC_COOKIE", "a=1"),
            ("SNATCH_ABC_AUTHORIZATION", "Bearer t"),
        ],
    );
}

#[test]
fn an_ambiguous_url_lists_the_candidates_and_writes_nothing() {
    let original = "version: 1\njobs:\n  - name: x\n    url: \"https://h.example/{{index}}.ts\"\n    count: 1\n";
    let (dir, file) = setup(Some(original));
    let err = new_err(
        &file,
        &[
            "https://cdn.example.com/v/abc/stream_1_12.ts",
            "--range",
            "1-3",
        ],
    );
    assert!(err.contains("cannot tell which number"), "{err}");
    assert!(
        err.contains("https://cdn.example.com/v/abc/stream_[1]_12.ts"),
        "{err}"
    );
    assert!(
        err.contains("https://cdn.example.com/v/abc/stream_1_[12].ts"),
        "{err}"
    );
    assert!(err.contains("neighbouring segment"), "{err}");
    assert_eq!(read(&file), original);
    assert_eq!(entries(dir.path()), ["jobs.yaml"]);
}

#[test]
fn a_name_clash_is_an_error_that_writes_nothing() {
    let original = "version: 1\njobs:\n  - name: lecture\n    url: \"https://h.example/{{index}}.ts\"\n    count: 1\n";
    let (dir, file) = setup(Some(original));
    let err = new_err(&file, &[URL, "--range", "1-3", "--name", "lecture"]);
    assert!(err.contains("already has a job named `lecture`"), "{err}");
    assert!(err.contains("jobs.yaml:3:"), "{err}");
    assert_eq!(read(&file), original);
    assert_eq!(entries(dir.path()), ["jobs.yaml"]);
}

#[test]
fn dry_run_prints_the_job_and_writes_nothing() {
    let (dir, file) = setup(None);
    let out = new_ok(&file, &[URL, "--range", "1-300", "--dry-run"]);
    assert!(!out.written);
    assert!(out.job_yaml.contains("name: abc"), "{}", out.job_yaml);
    assert!(out.summary().starts_with("dry run:"), "{}", out.summary());
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));

    let original = "version: 1\njobs:\n  - name: x\n    url: \"https://h.example/{{index}}.ts\"\n    count: 1\n";
    std::fs::write(&file, original).unwrap();
    let out = new_ok(&file, &["--from-curl", CHROME, "--count", "5", "--dry-run"]);
    assert!(!out.written && !out.exports.is_empty());
    assert_eq!(read(&file), original);
    assert_eq!(entries(dir.path()), ["jobs.yaml"]);
}

#[test]
fn length_and_segment_plan_931_segments() {
    let (_dir, file) = setup(None);
    let out = new_ok(&file, &[URL, "--length", "1:02:03", "--segment", "4"]);
    assert!(
        out.job_yaml
            .contains("duration: { length: \"1:02:03\", segment: 4 }"),
        "{}",
        out.job_yaml
    );
    assert!(!out.job_yaml.contains("start:"), "{}", out.job_yaml);
    assert_eq!(out.segments, 931);
    let (m, plan) = validate(&file, &[]);
    assert_eq!(m.jobs[0].source.count(), 931);
    assert_eq!(plan.jobs[0].source.len(), 931);
    assert_eq!(plan.jobs[0].first_index, 0);
    assert_eq!(plan.jobs[0].last_index, 930);
}

#[test]
fn a_job_with_no_segment_source_is_refused_with_the_index_as_a_hint() {
    let (dir, file) = setup(None);
    let err = new_err(&file, &[URL]);
    assert!(err.contains("index is 123"), "{err}");
    assert!(
        err.contains("--range") && err.contains("--count") && err.contains("--length"),
        "{err}"
    );
    let err = new_err(&file, &[URL, "--end", "auto"]);
    assert!(err.contains("--end auto is not supported"), "{err}");
    let err = new_err(&file, &[URL, "--range", "300-1"]);
    assert!(err.contains("ends before it starts"), "{err}");
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn unusable_urls_and_unusable_files_are_refused() {
    let (dir, file) = setup(None);
    let err = new_err(
        &file,
        &["ftp://cdn.example.com/vod/abc/000123.ts", "--count", "3"],
    );
    assert!(err.contains("not a usable segment URL"), "{err}");
    let err = new_err(
        &file,
        &["https://cdn.example.com/vod/abc/seg.ts", "--count", "3"],
    );
    assert!(err.contains("no number"), "{err}");
    assert!(entries(dir.path()).is_empty());

    // `jobs` as a flow list: snatch does not rewrite it.
    let flow =
        "version: 1\njobs: [ { name: x, url: \"https://h.example/{{index}}.ts\", count: 1 } ]\n";
    std::fs::write(&file, flow).unwrap();
    let err = new_err(&file, &[URL, "--count", "3"]);
    assert!(err.contains("not a block list"), "{err}");
    assert!(err.contains("jobs.yaml:2:1"), "{err}");
    // An installed snatch has no jobs.example.yaml to point to.
    assert!(err.contains("(see docs/"), "{err}");
    assert!(!err.contains("jobs.example.yaml"), "{err}");
    assert_eq!(read(&file), flow);

    // A file that does not validate is not added to.
    let broken = "version: 1\njobs:\n  - name: x\n    url: \"https://h.example/{{index}}.ts\"\n    count: 0\n";
    std::fs::write(&file, broken).unwrap();
    let err = new_err(&file, &[URL, "--count", "3"]);
    assert!(err.contains("does not validate; fix it first"), "{err}");
    assert!(err.contains("count must be at least 1"), "{err}");
    assert_eq!(read(&file), broken);
    assert_eq!(entries(dir.path()), ["jobs.yaml"]);
}

#[test]
fn a_job_that_would_not_validate_is_reported_against_the_real_file() {
    let original = "version: 1\njobs:\n  - name: x\n    url: \"https://h.example/{{index}}.ts\"\n    count: 1\n    output: clip.mp4\n";
    let (dir, file) = setup(Some(original));
    // The same output as job `x`, and a container snatch does not write.
    let err = new_err(&file, &[URL, "--count", "3", "--output", "clip.mp4"]);
    assert!(err.contains("would not be valid"), "{err}");
    assert!(err.contains("both write"), "{err}");
    assert!(err.contains("jobs.yaml:11:13"), "{err}");
    assert!(!err.contains("snatch-new"), "{err}");
    let err = new_err(&file, &[URL, "--count", "3", "--output", "clip.avi"]);
    assert!(err.contains("no supported extension"), "{err}");
    // An invalid header name.
    let err = new_err(&file, &[URL, "--count", "3", "-H", "Bad Name: 1"]);
    assert!(err.contains("not a valid HTTP header name"), "{err}");
    assert_eq!(read(&file), original);
    assert_eq!(entries(dir.path()), ["jobs.yaml"]);
}

#[test]
fn an_empty_jobs_list_is_filled_in() {
    let original = "# my jobs\nversion: 1\njobs:\n";
    let (_dir, file) = setup(Some(original));
    let out = new_ok(&file, &[URL, "--count", "3"]);
    assert_eq!(read(&file), format!("{original}{}", out.job_yaml));
    validate(&file, &[]);
}

/// Signed values of a CloudFront, an S3 and an Akamai URL, and a token.
const SIGNED: &[(&str, &str)] = &[
    ("Expires", "1767225600"),
    ("Signature", "Zm9vYmFy~SIGNED-cf_x"),
    ("Key-Pair-Id", "APKAJSIGNEDKEYPAIR"),
    ("X-Amz-Credential", "AKIASIGNEDCRED%2F20260101%2Fus-east-1"),
    (
        "X-Amz-Signature",
        "5ig0a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7",
    ),
    ("hdnts", "exp=1767229999~acl=/*~hmac=5ignedhmac0123"),
    ("token", "tok-SIGNED-42"),
];

fn signed_url() -> String {
    let query: Vec<String> = SIGNED.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "https://cdn.example.com/vod/abc/000123.ts?{}&lang=en",
        query.join("&")
    )
}

/// Every place `snatch new` writes or prints, except the export lines.
fn everything_but_exports(file: &Path, out: &NewOutput) -> String {
    let stderr = out.stderr_text(false);
    let mut shown = format!("{}\n{}\n", read(file), out.job_yaml);
    for line in stderr.lines() {
        if !out.exports.iter().any(|e| e == line) {
            shown.push_str(line);
            shown.push('\n');
        }
    }
    shown
}

#[test]
fn signed_query_values_become_placeholders_with_export_lines() {
    let url = signed_url();
    for from_curl in [false, true] {
        let (dir, file) = setup(None);
        let curl = format!("curl '{url}' -H 'referer: https://tv.example.com/'");
        let argv: Vec<&str> = if from_curl {
            vec!["--from-curl", &curl, "--range", "1-3"]
        } else {
            vec![&url, "--range", "1-3"]
        };
        let out = new_ok(&file, &argv);
        let shown = everything_but_exports(&file, &out);
        for (param, value) in SIGNED {
            assert!(!shown.contains(value), "{param}: {shown}");
            let var = format!(
                "SNATCH_ABC_{}",
                param.to_ascii_uppercase().replace('-', "_")
            );
            assert!(
                out.job_yaml.contains(&format!("{param}=${{{var}}}")),
                "{}",
                out.job_yaml
            );
            assert!(
                out.exports.contains(&format!("export {var}='{value}'")),
                "{:?}",
                out.exports
            );
        }
        assert!(out.job_yaml.contains("&lang=en"), "{}", out.job_yaml);
        assert!(out
            .stderr_text(true)
            .contains("export SNATCH_ABC_SIGNATURE="));

        // With the variables set, the job fetches the URL it was made from.
        let set: Vec<(String, &str)> = SIGNED
            .iter()
            .map(|(k, v)| {
                let var = format!("SNATCH_ABC_{}", k.to_ascii_uppercase().replace('-', "_"));
                (var, *v)
            })
            .collect();
        let set: Vec<(&str, &str)> = set.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let (_, plan) = validate(&file, &set);
        let first = plan.jobs[0].source.segment(0).unwrap();
        match first.target {
            snatch::plan::source::Target::Http { url: got, .. } => assert_eq!(
                got.expose(),
                url.replace("000123", "000001"),
                "from_curl {from_curl}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(!plan.jobs[0].first_url.contains("SIGNED"));
        assert_eq!(entries(dir.path()), ["jobs.yaml"]);
    }
}

#[test]
fn the_binary_prints_signed_values_only_in_export_lines() {
    let (dir, file) = setup(None);
    let url = signed_url();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(dir.path())
        .args(["new", &url, "--count", "3", "-f"])
        .arg(&file)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let text = read(&file);
    for (param, value) in SIGNED {
        assert!(!stdout.contains(value) && !text.contains(value), "{param}");
        let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(value)).collect();
        assert_eq!(lines.len(), 1, "{param}: {stderr}");
        assert!(lines[0].starts_with("export SNATCH_ABC_"), "{}", lines[0]);
    }
}

#[test]
fn a_refused_signed_url_is_quoted_without_its_signed_values() {
    let (dir, file) = setup(None);
    let url = "https://cdn.example.com/v/abc/stream_1_12.ts?Signature=SIGNED-sig_99&token=TOKEN-77";
    let err = new_err(&file, &[url, "--range", "1-3"]);
    assert!(err.contains("cannot tell which number"), "{err}");
    assert!(
        err.contains("stream_[1]_12.ts?Signature=***&token=***"),
        "{err}"
    );
    assert!(
        !err.contains("SIGNED-sig_99") && !err.contains("TOKEN-77"),
        "{err}"
    );
    assert!(entries(dir.path()).is_empty());
}
