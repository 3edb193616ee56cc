//! From a validated manifest to a concrete plan: every job's segment list,
//! output path, headers and effective limits. Pure: no network, no clock,
//! no environment (the caller hands in the date and the readable variables).

mod once;
mod view;

use once::{playlist_source, render_once};
pub use view::{render_json, render_text};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{Glob, GlobMatcher};
use serde::Serialize;

use crate::diag::Problem;
use crate::manifest::env::{self, EnvPolicy, Secret};
use crate::manifest::{JobSpec, Limit, Manifest, OnMissing, RetryPolicy, RunLimits, Timeouts};
use crate::source::{EndSource, Numbered, Segment, SegmentFormat, SegmentSource};
use crate::template::Templates;

/// Which jobs a command works on.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    globs: Vec<GlobMatcher>,
    tags: Vec<String>,
}

impl Selection {
    /// `--jobs GLOB` (any may match) and `--tag TAG` (any may match).
    pub fn new(globs: &[String], tags: &[String]) -> Result<Selection, Problem> {
        let globs = globs
            .iter()
            .map(|g| {
                Glob::new(g)
                    .map(|g| g.compile_matcher())
                    .map_err(|e| Problem::bare(format!("--jobs `{g}` is not a valid glob: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Selection {
            globs,
            tags: tags.to_vec(),
        })
    }

    pub fn includes(&self, job: &JobSpec) -> bool {
        (self.globs.is_empty() || self.globs.iter().any(|g| g.is_match(&job.name)))
            && (self.tags.is_empty() || job.tags.iter().any(|t| self.tags.contains(t)))
    }
}

/// What the plan needs from outside: the run's date, the readable
/// environment, the command line's output folder, and the selection.
#[derive(Debug, Clone)]
pub struct PlanContext<'a> {
    /// `YYYY-MM-DD`, the `date` template variable.
    pub date: String,
    pub env: &'a EnvPolicy,
    pub output_dir: Option<PathBuf>,
    pub selection: &'a Selection,
}

/// The output container, picked by the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    Mp4,
    Mkv,
    Ts,
}

impl Container {
    pub fn from_path(p: &Path) -> Option<Container> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "mp4" => Some(Container::Mp4),
            "mkv" => Some(Container::Mkv),
            "ts" => Some(Container::Ts),
            _ => None,
        }
    }
}

/// Why a job is not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Disabled,
    NotSelected,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::Disabled => "disabled",
            SkipReason::NotSelected => "not selected",
        })
    }
}

/// One job, ready to run.
#[derive(Debug, Clone)]
pub struct JobPlan {
    pub name: String,
    /// `Some` when the job is not run.
    pub skipped: Option<SkipReason>,
    pub source: SegmentSource,
    pub first_index: u64,
    pub last_index: u64,
    pub first_url: String,
    pub last_url: String,
    /// The merged file.
    pub output: PathBuf,
    pub output_dir: PathBuf,
    /// Segments and ledger: `output_dir/.snatch/<job>/`.
    pub state_dir: PathBuf,
    pub container: Container,
    /// `ts`, or `fmp4` with an init segment fed to the merge first.
    pub format: SegmentFormat,
    /// The init segment (`init:`, or a resolved playlist's EXT-X-MAP).
    pub init: Option<Segment>,
    /// A resolved playlist's separate audio rendition, muxed in.
    pub audio: Option<crate::source_playlist::AudioTrack>,
    pub headers: Vec<(String, Secret)>,
    pub concurrency: u32,
    pub retry: RetryPolicy,
    pub timeout: Timeouts,
    pub on_missing: OnMissing,
    /// The host of the first segment, when it is fetched over HTTP.
    pub host: Option<String>,
    /// The limits that apply to that host.
    pub host_limit: Option<Limit>,
    pub tags: Vec<String>,
}

/// Every job of a run and the limits they share.
#[derive(Debug, Clone)]
pub struct Plan {
    pub jobs: Vec<JobPlan>,
    pub limits: RunLimits,
}

impl Plan {
    pub fn runnable(&self) -> impl Iterator<Item = &JobPlan> {
        self.jobs.iter().filter(|j| j.skipped.is_none())
    }
}

/// Expands every job. Problems that only a rendering can find (unknown
/// template variables, outputs outside `output_dir`, missing environment
/// variables of selected jobs) come back located.
pub fn plan(manifest: &Manifest, ctx: &PlanContext) -> Result<Plan, Vec<Problem>> {
    let mut templates = Templates::new();
    let mut problems = Vec::new();
    // Compile all templates first; the registry is then shared read-only.
    for (i, job) in manifest.jobs.iter().enumerate() {
        if let Err(e) = templates.register(&url_key(i), &job.url) {
            problems.push(Problem::at(
                &job.file,
                job.url.loc,
                format!("url of job `{}`: {e}", job.name),
            ));
        }
        if let Some(init) = &job.init {
            if let Err(e) = templates.register(&init_key(i), init) {
                problems.push(Problem::at(
                    &job.file,
                    init.loc,
                    format!("init of job `{}`: {e}", job.name),
                ));
            }
        }
        if let Err(e) = templates.register(&output_key(i), &job.output) {
            problems.push(Problem::at(
                &job.file,
                job.output.loc,
                format!("output of job `{}`: {e}", job.name),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let templates = Arc::new(templates);
    let mut jobs = Vec::new();
    let mut outputs: HashMap<PathBuf, &JobSpec> = HashMap::new();
    for (i, spec) in manifest.jobs.iter().enumerate() {
        match plan_job(i, spec, &templates, manifest, ctx) {
            Ok(job) => {
                if let Some(first) = outputs.get(&job.output) {
                    problems.push(
                        Problem::at(
                            &spec.file,
                            spec.output.loc,
                            format!(
                                "jobs `{}` and `{}` both write {}",
                                first.name,
                                spec.name,
                                crate::diag::display_path(&job.output)
                            ),
                        )
                        .help("give each job its own `output`"),
                    );
                } else {
                    outputs.insert(job.output.clone(), spec);
                }
                jobs.push(job);
            }
            Err(mut p) => problems.append(&mut p),
        }
    }
    if problems.is_empty() {
        Ok(Plan {
            jobs,
            limits: manifest.limits.clone(),
        })
    } else {
        Err(problems)
    }
}

fn url_key(i: usize) -> String {
    format!("url#{i}")
}

fn init_key(i: usize) -> String {
    format!("init#{i}")
}

fn output_key(i: usize) -> String {
    format!("output#{i}")
}

fn plan_job(
    i: usize,
    spec: &JobSpec,
    templates: &Arc<Templates>,
    manifest: &Manifest,
    ctx: &PlanContext,
) -> Result<JobPlan, Vec<Problem>> {
    let at = |loc, msg: String| Problem::at(&spec.file, loc, msg);
    let skipped = if !spec.enabled {
        Some(SkipReason::Disabled)
    } else if !ctx.selection.includes(spec) {
        Some(SkipReason::NotSelected)
    } else {
        None
    };
    let mut problems = Vec::new();
    let mut base = serde_json::Map::new();
    base.insert("name".into(), spec.name.clone().into());
    base.insert(
        "vars".into(),
        serde_json::Value::Object(
            spec.vars
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect(),
        ),
    );
    base.insert("date".into(), ctx.date.clone().into());

    // Environment: skipped jobs are checked for structure only, so their
    // missing variables read as empty and are never fetched.
    let mut env_values = BTreeMap::new();
    let mut header_values = Vec::new();
    let mut need = |value: &crate::manifest::Sp<String>, what: &str| -> Option<Vec<env::Piece>> {
        let pieces = env::parse(value).ok()?;
        for var in env::vars(&pieces) {
            match ctx.env.values.get(var) {
                Some(v) => {
                    env_values.insert(var.to_string(), v.clone());
                }
                None if skipped.is_some() => {
                    env_values.insert(var.to_string(), String::new());
                }
                None => problems.push(
                    at(
                        value.loc,
                        format!(
                            "{what} of job `{}` reads `${{{var}}}`, which is not set",
                            spec.name
                        ),
                    )
                    .help(format!(
                        "export {var}=… before running (in CI, from the secret store)"
                    )),
                ),
            }
        }
        Some(pieces)
    };
    need(&spec.url, "the url");
    if let Some(init) = &spec.init {
        need(init, "the init url");
    }
    for (name, value) in &spec.headers {
        if let Some(pieces) = need(value, &format!("header `{name}`")) {
            header_values.push((name.clone(), value.loc, pieces));
        }
    }
    let env_values = Arc::new(env_values);
    let mut headers = Vec::new();
    for (name, loc, pieces) in header_values {
        if let Ok(v) = Secret::resolve(&pieces, &env_values) {
            if reqwest::header::HeaderValue::from_str(v.expose()).is_err() {
                problems.push(at(
                    loc,
                    format!(
                        "header `{name}` of job `{}` is not a valid HTTP header value once its variables are filled in",
                        spec.name
                    ),
                ));
            }
            headers.push((name, v));
        }
    }

    let numbered = Numbered {
        indices: spec.source.clone(),
        padding: spec.padding,
        templates: templates.clone(),
        key: url_key(i),
        context: base.clone(),
        env: env_values,
        dir: spec.dir.clone(),
        end: if spec.end_auto {
            EndSource::Auto
        } else {
            EndSource::Given
        },
    };
    let source = match &spec.playlist {
        None => Ok(SegmentSource::Numbered(numbered.clone())),
        Some(p) => playlist_source(&numbered, p.variant),
    };
    let init = spec.init.as_ref().and_then(|loc| {
        let rendered = render_once(&numbered, &init_key(i));
        rendered
            .map_err(|e| problems.push(at(loc.loc, format!("init of job `{}`: {e}", spec.name))))
            .ok()
    });
    let source = source.unwrap_or_else(|e| {
        problems.push(at(
            spec.url.loc,
            format!("playlist of job `{}`: {e}", spec.name),
        ));
        SegmentSource::Numbered(numbered)
    });
    let last_position = source.len().saturating_sub(1);
    let (first, last) = match (source.segment(0), source.segment(last_position)) {
        (Ok(f), Ok(l)) => (Some(f), Some(l)),
        (Err(e), _) | (_, Err(e)) => {
            if !e.contains("is not set") {
                problems.push(at(spec.url.loc, format!("url of job `{}`: {e}", spec.name)));
            }
            (None, None)
        }
    };

    let output_dir = ctx
        .output_dir
        .clone()
        .unwrap_or_else(|| spec.output_dir.clone());
    let output_rel = templates
        .render(&output_key(i), &serde_json::Value::Object(base))
        .map_err(|e| at(spec.output.loc, format!("output of job `{}`: {e}", spec.name)))
        .and_then(|r| {
            confine(&r).map_err(|e| {
                at(spec.output.loc, format!("output of job `{}` {e}", spec.name))
                    .help("`output` is a relative path inside output_dir, e.g. `{{vars.course}}/{{name}}.mp4`")
            })
        });
    let output_rel = match output_rel {
        Ok(p) => Some(p),
        Err(p) => {
            problems.push(p);
            None
        }
    };
    let container = output_rel.as_ref().and_then(|rel| {
        let c = Container::from_path(rel);
        if c.is_none() {
            problems.push(
                at(
                    spec.output.loc,
                    format!(
                        "output `{}` of job `{}` has no supported extension",
                        crate::diag::display_path(rel),
                        spec.name
                    ),
                )
                .help("end the output with .mp4, .mkv or .ts (the extension picks the container)"),
            );
        }
        c
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    let (first, last, output_rel, container) = (
        first.expect("rendered"),
        last.expect("rendered"),
        output_rel.expect("rendered"),
        container.expect("checked"),
    );
    let host = first.target.host().map(str::to_string);
    let host_limit = host.as_deref().map(|h| manifest.limits.for_host(h));
    Ok(JobPlan {
        name: spec.name.clone(),
        skipped,
        first_index: first.index,
        last_index: last.index,
        first_url: first.target.shown().to_string(),
        last_url: last.target.shown().to_string(),
        output: output_dir.join(&output_rel),
        state_dir: output_dir.join(".snatch").join(&spec.name),
        output_dir,
        container,
        format: if init.is_some() {
            SegmentFormat::Fmp4
        } else {
            SegmentFormat::Ts
        },
        init: init.flatten(),
        audio: None,
        headers,
        concurrency: spec.concurrency,
        retry: spec.retry,
        timeout: spec.timeout,
        on_missing: spec.on_missing,
        host,
        host_limit,
        tags: spec.tags.clone(),
        source,
    })
}

/// Makes a rendered output path safe: relative, inside `output_dir`, each
/// component free of characters that common file systems refuse.
pub fn confine(rendered: &str) -> Result<PathBuf, String> {
    let r = rendered.trim();
    if r.is_empty() {
        return Err("renders to an empty path".into());
    }
    let bytes = r.as_bytes();
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'/' | b'\\');
    if r.starts_with('/') || r.starts_with('\\') || drive {
        return Err(format!("renders to the absolute path `{r}`"));
    }
    let mut out = PathBuf::new();
    for part in r.split('/') {
        match part {
            "" | "." => continue,
            ".." => return Err(format!("`{r}` climbs out of output_dir with `..`")),
            _ => {}
        }
        let clean: String = part
            .chars()
            .map(|c| {
                if matches!(c, '\\' | ':' | '"' | '*' | '?' | '<' | '>' | '|') || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        out.push(clean);
    }
    if out.as_os_str().is_empty() {
        return Err("renders to an empty path".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confine_keeps_outputs_inside() {
        assert_eq!(confine("a/b.mp4").unwrap(), PathBuf::from("a/b.mp4"));
        assert_eq!(
            confine("a:b?/c*.mp4").unwrap(),
            PathBuf::from("a_b_/c_.mp4")
        );
        assert_eq!(
            confine("a\\..\\b.mp4").unwrap(),
            PathBuf::from("a_.._b.mp4")
        );
        assert!(confine("../x.mp4").is_err());
        assert!(confine("a/../../x.mp4").is_err());
        assert!(confine("/etc/x.mp4").is_err());
        assert!(confine("C:/x.mp4").is_err());
        assert!(confine("  ").is_err());
        assert!(confine("./.").is_err());
    }
}
