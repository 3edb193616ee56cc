//! Loading never panics: valid job files mutated at random always end in a
//! job list or in located problems (exit 2), never in a crash. A plan that
//! comes out keeps every path in the workspace, builds the run's limits, and
//! renders every segment it samples without an unknown variable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use snatch::manifest::{self, env::EnvPolicy, paths};
use snatch::plan::source::Target;
use snatch::plan::{self, Plan, PlanContext, Selection};

const SEEDS: &[&str] = &[
    include_str!("../../jobs.example.yaml"),
    "version: 1\njobs:\n  - name: a\n    url: \"https://h/{{index}}.ts\"\n    range: { start: 1, end: 3 }\n    headers: { Cookie: \"${SNATCH_X}\" }\n",
    "version: 1\nlimits:\n  hosts:\n    h: { concurrency: 2, requests_per_second: 1.5, burst: 2 }\njobs:\n  - name: b\n    url: \"h/(*).ts\"\n    duration: { length: 1h2m3s, segment: 4 }\n    output: \"{{vars.x}}/{{date}}.mkv\"\n    vars: { x: 1 }\n",
    "version: 1\nlimits:\n  global: { concurrency: 4, requests_per_second: 2, burst: 3, jobs: 2 }\ndefaults:\n  output_dir: out\n  retry: { attempts: 3, backoff: 1s, max_backoff: 1m }\n  timeout: { connect: 5s, segment: 30s }\n  max_segment_bytes: 64MiB\n  verify: { duration_tolerance: 2% }\njobs:\n  - name: c\n    url: \"https://{{vars.host}}/{{#if (eq n 5)}}{{vars.alt}}{{else}}{{pad n 4}}{{/if}}.ts\"\n    range: { start: 1, end: 9 }\n    vars: { host: \"${SNATCH_HOST}\", alt: \"${SNATCH_X}\" }\n    verify: { duration_tolerance: 1.5s }\n  - name: d\n    url: \"seg/{{index}}.ts\"\n    count: 3\n    output_dir: x/../out\n    max_segment_bytes: 1000000\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        text: String,
    },
    DuplicateLine {
        line: usize,
    },
    SwapLines {
        a: usize,
        b: usize,
    },
    ReplaceToken {
        at: usize,
        token: String,
    },
    /// Replaces the value after the `nth` `: ` (a number, a path, a url).
    ReplaceValue {
        nth: usize,
        token: String,
    },
}

/// Values put where a job file has a value: extreme numbers, values from
/// the environment, templates that recurse or name unknown variables in one
/// branch, and hostile paths.
fn value_token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        // Extreme numbers.
        "1e30",
        "1e-20",
        "-1",
        "1e30s",
        "99999999h",
        ".nan",
        ".inf",
        "-.inf",
        "NaN",
        "0.0000001",
        "0%",
        "250%",
        "1e30MiB",
        // Values from the environment, in vars too.
        "${SNATCH_X}",
        "\"${SNATCH_HOST}\"",
        "$${",
        // Partials, recursion and variables in branches.
        "{{> p}}",
        "\"{{#*inline 'p'}}{{> p}}{{/inline}}{{> p}}{{index}}\"",
        "\"{{#if (eq n 5)}}{{vars.missing}}{{/if}}{{index}}\"",
        "{{#each vars}}{{@key}}{{/each}}",
        "{{../index}}",
        "(((((((((",
        // Hostile paths.
        "/proc/self/environ",
        "\"/proc/self/environ{{#if n}}{{/if}}\"",
        "file:///etc/passwd",
        "../..",
        "../../../../../../../..",
        "/tmp",
        "x/../out",
        "link/x",
        "C:\\x",
        ".snatch/a/0.ts",
    ])
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let tokens = prop::sample::select(vec![
        "",
        "-",
        ":",
        "[",
        "]",
        "{",
        "}",
        "&a",
        "*a",
        "!!str",
        "'",
        "\"",
        "\n",
        "  ",
        "\t",
        "-1",
        "0",
        "99999999999999999999",
        "1e400",
        "null",
        "~",
        "yes",
        "{{",
        "}}",
        "(*)",
        "${",
        "${HOME}",
        "../../etc",
        "/abs",
        "é",
        "\u{feff}",
        "\0",
        "---",
        "...",
        "%",
        "@",
        "`",
        "#",
    ]);
    prop_oneof![
        1 => (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        1 => (any::<usize>(), tokens.clone()).prop_map(|(at, t)| Mutation::Insert {
            at,
            text: t.to_string()
        }),
        1 => any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        1 => (any::<usize>(), tokens).prop_map(|(at, t)| Mutation::ReplaceToken {
            at,
            token: t.to_string()
        }),
        3 => (any::<usize>(), value_token()).prop_map(|(nth, t)| Mutation::ReplaceValue {
            nth,
            token: t.to_string()
        }),
    ]
}

fn boundary(s: &str, at: usize) -> usize {
    let mut at = at % (s.len() + 1);
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(src: &str, m: &Mutation) -> String {
    let mut s = src.to_string();
    match m {
        Mutation::Delete { at, len } => {
            let a = boundary(&s, *at);
            let b = boundary(&s, a + len);
            if b > a {
                s.replace_range(a..b, "");
            }
        }
        Mutation::Insert { at, text } => {
            let a = boundary(&s, *at);
            s.insert_str(a, text);
        }
        Mutation::DuplicateLine { line } => {
            let mut lines: Vec<&str> = s.lines().collect();
            if !lines.is_empty() {
                let i = line % lines.len();
                lines.insert(i, lines[i]);
            }
            s = lines.join("\n");
        }
        Mutation::SwapLines { a, b } => {
            let mut lines: Vec<&str> = s.lines().collect();
            if !lines.is_empty() {
                let (i, j) = (a % lines.len(), b % lines.len());
                lines.swap(i, j);
            }
            s = lines.join("\n");
        }
        Mutation::ReplaceToken { at, token } => {
            let a = boundary(&s, *at);
            let end = s[a..]
                .find([' ', '\n', ':', ','])
                .map_or(s.len(), |e| a + e);
            s.replace_range(a..end, token);
        }
        Mutation::ReplaceValue { nth, token } => {
            let starts: Vec<usize> = s.match_indices(": ").map(|(i, _)| i + 2).collect();
            if !starts.is_empty() {
                let a = starts[nth % starts.len()];
                let end = s[a..].find([',', '}', '\n']).map_or(s.len(), |e| a + e);
                s.replace_range(a..end, token);
            }
        }
    }
    s
}

/// A job folder with segments, and planted links: `link` to a victim
/// folder outside, `seg/000002.ts` to a file outside.
fn workspace(victim: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("seg")).unwrap();
    std::fs::write(dir.path().join("seg/000001.ts"), b"G").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(victim, dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(victim.join("f"), dir.path().join("seg/000002.ts")).unwrap();
    }
    dir
}

/// What a plan that came out must hold: every output in the workspace,
/// limits the engine can build, and sampled segments that render without
/// an unknown name and never outside the workspace.
fn check_plan(plan: &Plan, dir: &Path) -> Result<(), TestCaseError> {
    let roots = [paths::resolve(dir), paths::resolve(Path::new("."))];
    let _ = snatch::net::Limiter::new(&plan.limits);
    for job in &plan.jobs {
        let out = paths::resolve(&job.output_dir);
        prop_assert!(
            roots.iter().any(|r| out.starts_with(r)),
            "job {} writes outside: {}",
            job.name,
            out.display()
        );
        let n = job.source.len();
        // A playlist job has no segments until its playlist is fetched.
        let last = n.checked_sub(1).into_iter();
        for p in (0..n.min(16))
            .chain([n / 2].into_iter().filter(|_| n > 0))
            .chain(last)
        {
            match job.source.segment(p) {
                Ok(seg) => {
                    if let Target::File { path, .. } = &seg.target {
                        let real = paths::resolve(path);
                        prop_assert!(real.starts_with(&roots[0]), "reads {}", real.display());
                    }
                }
                Err(e) => {
                    prop_assert!(
                        !e.to_string().contains("not defined"),
                        "job {} segment {p}: {e}",
                        job.name
                    )
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_job_files_load_or_fail_with_located_problems(
        seed in 0..SEEDS.len(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut text = SEEDS[seed].to_string();
        for m in &mutations {
            text = apply(&text, m);
        }
        let victim = tempfile::tempdir().unwrap();
        let dir = workspace(victim.path());
        let file: PathBuf = dir.path().join("jobs.yaml");
        std::fs::write(&file, &text).unwrap();
        let values = BTreeMap::from([
            ("SNATCH_X".to_string(), "x".to_string()),
            ("SNATCH_HOST".to_string(), "cdn.example.com".to_string()),
        ]);
        let policy = EnvPolicy { values, ..EnvPolicy::default() };
        match manifest::load(std::slice::from_ref(&file), &policy) {
            Ok(m) => {
                let selection = Selection::default();
                let ctx = PlanContext { date: "2026-11-25".into(), env: &policy, output_dir: None, selection: &selection, allow_local: Vec::new() };
                match plan::plan(&m, &ctx) {
                    Ok(plan) => check_plan(&plan, dir.path())?,
                    Err(problems) => {
                        prop_assert!(!problems.is_empty());
                        for p in &problems {
                            prop_assert!(p.location().is_some(), "plan problem without a file: {p}");
                        }
                    }
                }
            }
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for p in &problems {
                    let at = p.location();
                    prop_assert!(at.is_some(), "problem without a file: {p}");
                    // Rendering never panics either.
                    let _ = snatch::common::diag::render(std::slice::from_ref(p), false);
                }
            }
        }
    }
}
