//! Loading never panics: valid job files mutated at random always end in a
//! job list or in located problems (exit 2), never in a crash.

use std::path::PathBuf;

use proptest::prelude::*;
use snatch::manifest::{self, env::EnvPolicy};
use snatch::plan::{self, PlanContext, Selection};

const SEEDS: &[&str] = &[
    include_str!("../jobs.example.yaml"),
    "version: 1\njobs:\n  - name: a\n    url: \"https://h/{{index}}.ts\"\n    range: { start: 1, end: 3 }\n    headers: { Cookie: \"${SNATCH_X}\" }\n",
    "version: 1\nlimits:\n  hosts:\n    h: { concurrency: 2, requests_per_second: 1.5, burst: 2 }\njobs:\n  - name: b\n    url: \"h/(*).ts\"\n    duration: { length: 1h2m3s, segment: 4 }\n    output: \"{{vars.x}}/{{date}}.mkv\"\n    vars: { x: 1 }\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    ReplaceToken { at: usize, token: String },
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
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), tokens.clone()).prop_map(|(at, t)| Mutation::Insert {
            at,
            text: t.to_string()
        }),
        any::<usize>().prop_map(|line| Mutation::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (any::<usize>(), tokens).prop_map(|(at, t)| Mutation::ReplaceToken {
            at,
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
    }
    s
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
        let dir = tempfile::tempdir().unwrap();
        let file: PathBuf = dir.path().join("jobs.yaml");
        std::fs::write(&file, &text).unwrap();
        let policy = EnvPolicy::default();
        match manifest::load(std::slice::from_ref(&file), &policy) {
            Ok(m) => {
                let selection = Selection::default();
                let ctx = PlanContext { date: "2026-11-25".into(), env: &policy, output_dir: None, selection: &selection, allow_local: Vec::new() };
                if let Err(problems) = plan::plan(&m, &ctx) {
                    prop_assert!(!problems.is_empty());
                    for p in &problems {
                        prop_assert!(p.location().is_some(), "plan problem without a file: {p}");
                    }
                }
            }
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for p in &problems {
                    let at = p.location();
                    prop_assert!(at.is_some(), "problem without a file: {p}");
                    // Rendering never panics either.
                    let _ = snatch::diag::render(std::slice::from_ref(p), false);
                }
            }
        }
    }
}
