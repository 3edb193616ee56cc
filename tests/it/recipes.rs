//! The recipes in docs/recipes/ and the Dockerfile cannot rot: both YAML
//! files are parsed, every `snatch` command line in them runs through the
//! binary (first with `--dry-run`, then for real against the test server),
//! and the Dockerfile builds the way the README says. The links to
//! docs/troubleshooting.md in snatch's messages and the README lead to a
//! section of it.

use crate::support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::cli::stderr;
use support::media::segments;
use support::server::TestServer;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml_docs(rel: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn snatch(cwd: &Path, args: &[String], env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(cwd)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SNATCH_SHARD")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

/// Three jobs of two one-second segments each, from the test server.
fn served_jobs(url: &str) -> String {
    let mut y = String::from("version: 1\njobs:\n");
    for name in ["alpha", "beta", "gamma"] {
        y.push_str(&format!(
            "  - name: {name}\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 2 }}\n"
        ));
    }
    y
}

fn report(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap()
}

// ---------------------------------------------------------------- shell --

/// Splits one shell command line into words the way bash would for the
/// simple lines of a recipe: quotes, `$VAR` and `"$VAR"` from `env`, and
/// unquoted `*` globs expanded in `cwd` (sorted). Anything fancier
/// (pipes, substitutions, `;`) fails the test: recipes stay simple.
fn shell_words(line: &str, env: &BTreeMap<String, String>, cwd: &Path) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut in_word, mut glob) = (false, false);
    let mut chars = line.chars().peekable();
    let var = |chars: &mut std::iter::Peekable<std::str::Chars>| -> String {
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        env.get(&name)
            .unwrap_or_else(|| panic!("`${name}` is not set in: {line}"))
            .clone()
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.extend(expand(std::mem::take(&mut word), glob, cwd));
                    (in_word, glob) = (false, false);
                }
            }
            '\'' => {
                in_word = true;
                for q in chars.by_ref().take_while(|&q| q != '\'') {
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '$' => word.push_str(&var(&mut chars)),
                        _ => word.push(q),
                    }
                }
            }
            '$' => {
                in_word = true;
                word.push_str(&var(&mut chars));
            }
            '|' | ';' | '&' | '`' | '(' | ')' | '<' | '>' => {
                panic!("a recipe's snatch line uses `{c}`: {line}")
            }
            '*' => {
                (in_word, glob) = (true, true);
                word.push(c);
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.extend(expand(word, glob, cwd));
    }
    words
}

/// `dir/prefix*suffix` → the matching files, sorted (a glob in the last
/// component only, as bash would expand it).
fn expand(word: String, glob: bool, cwd: &Path) -> Vec<String> {
    if !glob {
        return vec![word];
    }
    let (dir, pattern) = word.rsplit_once('/').unwrap_or(("", &word));
    let (prefix, suffix) = pattern.split_once('*').expect("one `*`");
    let mut found: Vec<String> = std::fs::read_dir(cwd.join(dir))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix))
        .map(|n| {
            if dir.is_empty() {
                n
            } else {
                format!("{dir}/{n}")
            }
        })
        .collect();
    found.sort();
    assert!(!found.is_empty(), "`{word}` matches nothing");
    found
}

/// The script's lines, with `\` continuations joined.
fn script_lines(script: &str) -> Vec<String> {
    script
        .replace("\\\n", " ")
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

// ------------------------------------------------------- GitHub Actions --

const WORKFLOW: &str = "docs/recipes/github-actions.yml";

fn steps<'a>(workflow: &'a Value, job: &str) -> &'a Vec<Value> {
    workflow["jobs"][job]["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("job `{job}` has steps"))
}

fn uses<'a>(steps: &'a [Value], action: &str) -> Vec<&'a Value> {
    steps
        .iter()
        .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)))
        .collect()
}

/// The `snatch` lines of a job's `run:` steps, `${{ … }}` filled in.
fn snatch_lines(workflow: &Value, job: &str, exprs: &[(&str, String)]) -> Vec<String> {
    let mut lines = Vec::new();
    for step in steps(workflow, job) {
        let Some(script) = step["run"].as_str() else {
            continue;
        };
        for mut line in script_lines(script) {
            let first = line.split_whitespace().next().unwrap_or("");
            if !(first == "snatch" || first.ends_with("/snatch")) {
                continue;
            }
            for (expr, value) in exprs {
                line = line.replace(&format!("${{{{ {expr} }}}}"), value);
            }
            assert!(
                !line.contains("${{"),
                "an expression the test does not know: {line}"
            );
            lines.push(line);
        }
    }
    assert!(!lines.is_empty(), "job `{job}` runs no snatch command");
    lines
}

#[test]
fn the_github_actions_recipe_builds_once_runs_every_shard_and_merges() {
    let workflow = &yaml_docs(WORKFLOW)[0];
    let jobs = workflow["jobs"].as_object().expect("jobs");
    let mut names: Vec<&String> = jobs.keys().collect();
    names.sort();
    assert_eq!(names, ["build", "merge", "shard"], "{WORKFLOW}");

    // Built once, cached, handed on; no shard compiles.
    let build = steps(workflow, "build");
    assert_eq!(uses(build, "actions/cache@").len(), 1);
    assert_eq!(uses(build, "actions/upload-artifact@").len(), 1);
    let build_script: String = build.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(
        build_script.contains(&dockerfile_build_command()),
        "{build_script}"
    );
    for job in ["shard", "merge"] {
        let text = serde_json::to_string(&jobs[job]).unwrap();
        assert!(
            !text.contains("cargo "),
            "job `{job}` must not build snatch"
        );
        assert!(!uses(steps(workflow, job), "actions/download-artifact@").is_empty());
    }
    assert_eq!(jobs["shard"]["needs"], "build");
    assert_eq!(jobs["merge"]["needs"], "shard");
    assert_eq!(
        jobs["merge"]["if"], "always()",
        "merge also when a shard failed"
    );
    assert_eq!(jobs["shard"]["strategy"]["fail-fast"], false);
    assert!(!uses(steps(workflow, "shard"), "actions/upload-artifact@").is_empty());
    let matrix: Vec<String> = jobs["shard"]["strategy"]["matrix"]["shard"]
        .as_array()
        .expect("a matrix of shards")
        .iter()
        .map(|v| v.to_string())
        .collect();
    let total = matrix.len().to_string();
    assert!(matrix.len() >= 2);

    // A checkout with the job file, as each runner has.
    let media = segments(2, 1);
    let server = TestServer::start(&media);
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    std::fs::write(cwd.join("jobs.yaml"), served_jobs(&server.url())).unwrap();
    let summary = cwd.join("step-summary.md");
    let mut env = BTreeMap::new();
    env.insert(
        "GITHUB_STEP_SUMMARY".to_string(),
        summary.display().to_string(),
    );
    let env_vars: Vec<(String, String)> = env.clone().into_iter().collect();

    for shard in &matrix {
        let exprs = [
            ("matrix.shard", shard.clone()),
            ("strategy.job-total", total.clone()),
        ];
        for line in snatch_lines(workflow, "shard", &exprs) {
            let mut args = shell_words(&line, &env, cwd);
            args.remove(0);
            let mut dry = args.clone();
            dry.push("--dry-run".into());
            let out = snatch(cwd, &dry, &env_vars);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{line} --dry-run: {}",
                stderr(&out)
            );
            let plan = String::from_utf8_lossy(&out.stdout);
            assert!(plan.contains(&format!("shard {shard}/{total}: ")), "{plan}");
            let out = snatch(cwd, &args, &env_vars);
            assert_eq!(out.status.code(), Some(0), "{line}: {}", stderr(&out));
        }
        let shard_report = report(&cwd.join(format!("reports/shard-{shard}.json")));
        assert_eq!(shard_report["shard"], format!("{shard}/{total}"));
    }
    assert!(
        !summary.exists(),
        "the shards leave the step summary to the merge"
    );

    for line in snatch_lines(workflow, "merge", &[]) {
        let mut args = shell_words(&line, &env, cwd);
        args.remove(0);
        let out = snatch(cwd, &args, &env_vars);
        assert_eq!(out.status.code(), Some(0), "{line}: {}", stderr(&out));
    }
    let merged = report(&cwd.join("report.json"));
    assert_eq!(merged["totals"]["ok"], 3, "{merged}");
    assert_eq!(merged["totals"]["jobs"], 3);
    assert!(cwd.join("junit.xml").exists());
    let written = std::fs::read_to_string(&summary).expect("the step summary");
    assert!(written.contains("| gamma | ok |"), "{written}");
}

// ----------------------------------------------------------- Kubernetes --

const INDEXED_JOB: &str = "docs/recipes/kubernetes-indexed-job.yaml";
const MERGE_JOB: &str = "docs/recipes/kubernetes-merge-job.yaml";

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// Kubernetes' `$(VAR)` expansion.
fn k8s_expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (name, value) in env {
        out = out.replace(&format!("$({name})"), value);
    }
    out
}

/// A pod of `job` as the kubelet would start it, on this machine: volumes
/// are folders under `root`, mount paths in arguments point there.
struct Pod {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

fn pod(job: &Value, index: u32, root: &Path) -> Pod {
    let spec = &job["spec"]["template"]["spec"];
    let containers = spec["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert!(c["command"].is_null(), "the image's entrypoint is snatch");
    assert!(c["image"].as_str().unwrap().contains("snatch"));
    let mut env: Vec<(String, String)> = Vec::new();
    for var in c["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap().to_string();
        let value = if let Some(v) = var["value"].as_str() {
            // Only variables declared above are expanded, as Kubernetes does.
            k8s_expand(v, &env)
        } else if var["valueFrom"]["fieldRef"]["fieldPath"]
            == "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        {
            index.to_string()
        } else if var["valueFrom"]["secretKeyRef"].is_object() {
            "a-secret".to_string()
        } else {
            panic!("an env source the test does not know: {var}");
        };
        env.push((name, value));
    }
    let mounts: Vec<(String, PathBuf)> = c["volumeMounts"]
        .as_array()
        .expect("volume mounts")
        .iter()
        .map(|m| {
            let name = m["name"].as_str().unwrap();
            (
                m["mountPath"].as_str().unwrap().to_string(),
                root.join(name),
            )
        })
        .collect();
    let args = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| {
            let a = k8s_expand(a.as_str().unwrap(), &env);
            assert!(!a.contains("$("), "unexpanded: {a}");
            match mounts
                .iter()
                .find(|(m, _)| a.starts_with(&format!("{m}/")) || &a == m)
            {
                Some((m, dir)) => format!("{}{}", dir.display(), &a[m.len()..]),
                None => a,
            }
        })
        .collect();
    Pod { args, env }
}

#[test]
fn the_kubernetes_recipe_runs_each_index_as_its_shard_and_merges() {
    let docs = yaml_docs(INDEXED_JOB);
    let job = of_kind(&docs, "Job")[0];
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["completions"].as_u64().expect("completions") as u32;
    assert!(n >= 2);
    let pod_spec = &spec["template"]["spec"];
    assert_eq!(pod_spec["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod_spec["securityContext"]["runAsUser"].as_u64(),
        Some(dockerfile_user())
    );
    let volumes = pod_spec["volumes"].as_array().unwrap();
    let claim = volumes
        .iter()
        .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())
        .expect("a volume for outputs");
    assert!(of_kind(&docs, "PersistentVolumeClaim")
        .iter()
        .any(|p| p["metadata"]["name"] == claim));
    let config = of_kind(&docs, "ConfigMap")[0];
    let config_name = config["metadata"]["name"].as_str().unwrap();
    assert!(volumes
        .iter()
        .any(|v| v["configMap"]["name"] == config_name));

    let root = tempfile::tempdir().unwrap();
    let jobs_dir = root.path().join("jobs");
    std::fs::create_dir_all(&jobs_dir).unwrap();
    for (file, text) in config["data"].as_object().unwrap() {
        std::fs::write(jobs_dir.join(file), text.as_str().unwrap()).unwrap();
    }
    std::fs::create_dir_all(root.path().join("out")).unwrap();

    // The recipe's own job file: each index plans its shard, 1 of 3 jobs.
    for i in 0..n {
        let p = pod(job, i, root.path());
        let shard = p.env.iter().find(|(k, _)| k == "SNATCH_SHARD").unwrap();
        assert_eq!(shard.1, format!("index:{i}/{n}"));
        let mut dry = p.args.clone();
        dry.push("--dry-run".into());
        let out = snatch(root.path(), &dry, &p.env);
        assert_eq!(out.status.code(), Some(0), "index {i}: {}", stderr(&out));
        let plan = String::from_utf8_lossy(&out.stdout);
        let k = i + 1;
        assert!(
            plan.contains(&format!("shard {k}/{n}: 1 of 3 selected jobs")),
            "{plan}"
        );
        assert!(plan.contains("Cookie: ***"), "{plan}");
    }

    // The same pods on the test server's jobs, for real, then the merge Job.
    let media = segments(2, 1);
    let server = TestServer::start(&media);
    std::fs::write(jobs_dir.join("jobs.yaml"), served_jobs(&server.url())).unwrap();
    for i in 0..n {
        let p = pod(job, i, root.path());
        let out = snatch(root.path(), &p.args, &p.env);
        assert_eq!(out.status.code(), Some(0), "index {i}: {}", stderr(&out));
    }
    let merge_docs = yaml_docs(MERGE_JOB);
    let merge = of_kind(&merge_docs, "Job")[0];
    let merge_spec = &merge["spec"]["template"]["spec"];
    assert_eq!(
        merge_spec["volumes"][0]["persistentVolumeClaim"]["claimName"],
        claim
    );
    let p = pod(merge, 0, root.path());
    let listed = p.args.iter().filter(|a| a.ends_with(".json")).count();
    assert_eq!(listed as u32, n + 1, "one report per shard, and the output");
    let out = snatch(root.path(), &p.args, &p.env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let merged = report(&root.path().join("out/reports/report.json"));
    assert_eq!(merged["totals"]["ok"], 3, "{merged}");
    assert!(root.path().join("out/alpha.mp4").exists());
}

// ----------------------------------------------------------- Dockerfile --

/// The build stage's `RUN cargo …` line.
fn dockerfile_build_command() -> String {
    let text = read("Dockerfile");
    let runs: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("RUN cargo "))
        .collect();
    assert_eq!(runs.len(), 1, "one cargo command in the Dockerfile");
    format!("cargo {}", runs[0].trim())
}

fn dockerfile_user() -> u64 {
    let text = read("Dockerfile");
    let user = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("USER "))
        .next_back()
        .expect("a USER");
    user.split(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .expect("a numeric user")
}

#[test]
fn the_dockerfile_builds_as_the_readme_installs_and_runs_snatch_as_non_root() {
    let docker = read("Dockerfile");
    let build = dockerfile_build_command();
    assert_eq!(build, "cargo build --release --locked");
    let readme = read("README.md");
    let install: Vec<&str> = readme
        .lines()
        .filter(|l| l.trim_start().starts_with("cargo install"))
        .collect();
    assert_eq!(
        install,
        ["cargo install --locked --path ."],
        "README's install line"
    );
    // Same dependencies (the lock file) and the same, release, profile:
    // `cargo install` builds with --release unless told --debug.
    assert!(install[0].contains("--locked") && build.contains("--locked"));
    assert!(build.contains("--release") && !install[0].contains("--debug"));

    // The README's quick start stays the two commands it is.
    assert!(readme.contains("```sh\ncargo run --release -- run jobs.example.yaml\ncargo test\n```"));

    let stages: Vec<&str> = docker.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "multi-stage: {stages:?}");
    assert!(stages[0].ends_with(" AS build"), "{stages:?}");
    assert!(
        stages[1].contains("debian") && stages[1].contains("-slim"),
        "{stages:?}"
    );
    assert!(docker.contains("apt-get install -y --no-install-recommends ffmpeg"));
    assert!(docker.contains("COPY --from=build /src/target/release/snatch /usr/local/bin/snatch"));
    assert!(docker.contains("ENTRYPOINT [\"snatch\"]"));
    assert_ne!(dockerfile_user(), 0, "runs as a non-root user");
}

/// GitHub's anchor of a Markdown heading: lower case, spaces to `-`,
/// punctuation other than `-` and `_` left out.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every `docs/troubleshooting.md#…` in the text of the files below `rel`.
fn troubleshooting_links(rel: &Path, found: &mut Vec<(String, String)>) {
    let path = repo(rel.to_str().unwrap());
    if path.is_dir() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let name = entry.unwrap().file_name();
            troubleshooting_links(&rel.join(name), found);
        }
        return;
    }
    let text = std::fs::read_to_string(&path).unwrap();
    // The page's own links (`](#…)`) too.
    let own = rel == Path::new("docs/troubleshooting.md");
    let marks = text
        .match_indices("troubleshooting.md#")
        .chain(text.match_indices("](#").filter(|_| own));
    for (at, mark) in marks {
        let rest = &text[at + mark.len()..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        found.push((rel.display().to_string(), rest[..end].to_string()));
    }
}

#[test]
fn the_troubleshooting_links_of_messages_and_readme_lead_to_its_sections() {
    let page = read("docs/troubleshooting.md");
    let anchors: Vec<String> = page
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(anchor)
        .collect();
    let mut links = Vec::new();
    for rel in ["src", "README.md", "docs/troubleshooting.md"] {
        troubleshooting_links(Path::new(rel), &mut links);
    }
    for (file, link) in &links {
        assert!(
            anchors.contains(link),
            "{file}: #{link} is not one of {anchors:?}"
        );
    }
    // The hints that match a section point to it.
    for want in ["403-forbidden", "tabs-in-yaml", "dash"] {
        assert!(
            links.iter().any(|(f, l)| f.starts_with("src") && l == want),
            "no message points to #{want}"
        );
    }
    assert!(read("README.md").contains("(docs/troubleshooting.md)"));
}
