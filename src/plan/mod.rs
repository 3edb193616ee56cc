//! From a validated manifest to a concrete plan: every job's segment list,
//! output path, headers and effective limits. Pure: no network, no clock,
//! no environment (the caller hands in the date and the readable variables).

mod error;
pub mod load;
mod once;
mod output;
pub mod shard;
pub mod source;
mod view;

pub use error::PlanError;
use once::{playlist_source, render_once};
pub use output::confine;
pub use view::{render_json, render_text};

use output::same_file;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use globset::{Glob, GlobMatcher};
use serde::Serialize;

use crate::common::diag::Problem;
use crate::common::{Container, Secret};
use crate::common::{Limit, RetryPolicy, RunLimits, Timeouts, Verify};
use crate::manifest::env::{self, EnvPolicy};
use crate::manifest::paths::{self, LocalRoots};
use crate::manifest::{JobSpec, Manifest, OnMissing};
use crate::plan::source::{
    EndSource, Numbered, Segment, SegmentError, SegmentFormat, SegmentSource,
};
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
/// environment, the command line's output folder and local folders, and
/// the selection.
#[derive(Debug, Clone)]
pub struct PlanContext<'a> {
    /// `YYYY-MM-DD`, the `date` template variable.
    pub date: String,
    pub env: &'a EnvPolicy,
    pub output_dir: Option<PathBuf>,
    pub selection: &'a Selection,
    /// `--allow-local DIR`: folders local sources may read besides the job
    /// file's own.
    pub allow_local: Vec<PathBuf>,
}

/// Why a job is not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    Disabled,
    NotSelected,
    /// Selected, but dealt to another shard (`--shard`).
    OtherShard,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::Disabled => "disabled",
            SkipReason::NotSelected => "not selected",
            SkipReason::OtherShard => "other shard",
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
    pub audio: Option<crate::plan::source::playlist::AudioTrack>,
    pub headers: Vec<(String, Secret)>,
    /// Hosts besides its own origin that its secrets may go to.
    pub send_secrets_to: Vec<crate::common::origins::SecretHost>,
    pub concurrency: u32,
    pub retry: RetryPolicy,
    pub timeout: Timeouts,
    pub on_missing: OnMissing,
    /// What merges the segments.
    pub merge: crate::manifest::MergeWith,
    pub verify: Verify,
    /// The largest body a segment may have.
    pub max_segment_bytes: u64,
    /// The job's own limit in segment body bytes per second.
    pub bytes_per_second: Option<u64>,
    /// The host of the first segment, when it is fetched over HTTP. For
    /// fetching and limits only; show [`JobPlan::shown_host`].
    pub host: Option<String>,
    /// The host as plans and reports show it: `***` when it came from `${…}`.
    pub shown_host: Option<String>,
    /// The limits that apply to that host.
    pub host_limit: Option<Limit>,
    pub tags: Vec<String>,
}

/// Every job of a run and the limits they share.
#[derive(Debug, Clone)]
pub struct Plan {
    pub jobs: Vec<JobPlan>,
    pub limits: RunLimits,
    /// Set when the plan was cut to one shard ([`shard::apply`]).
    pub shard: Option<shard::ShardInfo>,
    /// Identifies the job files (names and contents), so that reports of
    /// the shards of one run can be told from reports of other files.
    pub job_files: String,
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
    let mut outputs: HashMap<PathBuf, (&JobSpec, PathBuf)> = HashMap::new();
    for (i, spec) in manifest.jobs.iter().enumerate() {
        match plan_job(i, spec, &templates, manifest, ctx) {
            Ok(job) => {
                // Two spellings of one file (`out` and `x/../out`, a
                // symlinked folder) are one file.
                let key = paths::resolve(&job.output);
                if let Some(first) = outputs.get(&key) {
                    problems.push(
                        Problem::at(
                            &spec.file,
                            spec.output.loc,
                            format!(
                                "jobs `{}` and `{}` both write {}",
                                first.0.name,
                                spec.name,
                                same_file(&first.1, &job.output)
                            ),
                        )
                        .help("give each job its own `output` (outputs are compared after `..` and symlinks are resolved)"),
                    );
                } else {
                    outputs.insert(key, (spec, job.output.clone()));
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
            shard: None,
            job_files: shard::job_files_id(&manifest.files),
        })
    } else {
        Err(problems)
    }
}

/// The values of the environment variables one job reads.
type EnvValues = Arc<BTreeMap<String, String>>;

/// The values of the variables a job reads (url, the `vars` its url names,
/// headers) and its headers filled in. Skipped jobs are checked for
/// structure only: their missing variables read as empty and are never
/// fetched.
fn environment(
    spec: &JobSpec,
    ctx: &PlanContext,
    skipped: bool,
    problems: &mut Vec<Problem>,
) -> (EnvValues, Vec<(String, Secret)>) {
    let at = |loc, msg: String| Problem::at(&spec.file, loc, msg);
    let mut env_values = BTreeMap::new();
    let mut header_values = Vec::new();
    let mut need = |value: &crate::manifest::Sp<String>, what: &str| -> Option<Vec<env::Piece>> {
        let pieces = env::parse(value).ok()?;
        for var in env::vars(&pieces) {
            match ctx.env.values.get(var) {
                Some(v) => {
                    env_values.insert(var.to_string(), v.clone());
                }
                None if skipped => {
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
    for key in &spec.url_vars {
        if let Some(value) = spec.vars.get(key) {
            need(
                &crate::manifest::Sp::new(value.clone(), spec.url.loc),
                &format!("vars.{key} (in the url)"),
            );
        }
    }
    for (name, value) in &spec.headers {
        if let Some(pieces) = need(value, &format!("header `{name}`")) {
            header_values.push((name.clone(), value.loc, pieces));
        }
    }
    let env_values = Arc::new(env_values);
    let mut headers = Vec::new();
    for (name, loc, pieces) in header_values {
        if let Ok(v) = env::resolve(&pieces, &env_values) {
            if !crate::common::headers::valid_value(v.expose()) {
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

    (env_values, headers)
}

/// The rendered output path, made safe, and its container.
fn output_of(
    spec: &JobSpec,
    rendered: Result<String, crate::template::TemplateError>,
    problems: &mut Vec<Problem>,
) -> (Option<PathBuf>, Option<Container>) {
    let at = |loc, msg: String| Problem::at(&spec.file, loc, msg);
    let output_rel = rendered
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
                        crate::common::diag::display_path(rel),
                        spec.name
                    ),
                )
                .help("end the output with .mp4, .mkv or .ts (the extension picks the container)"),
            );
        }
        c
    });
    (output_rel, container)
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

/// Why a job is not run, if it is not.
fn skip_reason(spec: &JobSpec, ctx: &PlanContext) -> Option<SkipReason> {
    if !spec.enabled {
        Some(SkipReason::Disabled)
    } else if !ctx.selection.includes(spec) {
        Some(SkipReason::NotSelected)
    } else {
        None
    }
}

/// What every template of the job may name besides the index: `name`,
/// `vars` and `date`.
fn template_context(
    spec: &JobSpec,
    ctx: &PlanContext,
) -> serde_json::Map<String, serde_json::Value> {
    let vars = spec
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let mut base = serde_json::Map::new();
    base.insert("name".into(), spec.name.clone().into());
    base.insert("vars".into(), serde_json::Value::Object(vars));
    base.insert("date".into(), ctx.date.clone().into());
    base
}

/// The job's first and last segment, as `plan` shows them; a problem when
/// either cannot be made (an unset variable is already reported, located).
fn first_and_last(
    spec: &JobSpec,
    source: &SegmentSource,
    problems: &mut Vec<Problem>,
) -> (Option<Segment>, Option<Segment>) {
    let last_position = source.len().saturating_sub(1);
    match (source.segment(0), source.segment(last_position)) {
        (Ok(f), Ok(l)) => (Some(f), Some(l)),
        (Err(e), _) | (_, Err(e)) => {
            let reported = matches!(e, SegmentError::EnvNotSet(_)) && !problems.is_empty();
            if !reported {
                problems.push(Problem::at(
                    &spec.file,
                    spec.url.loc,
                    format!("url of job `{}`: {e}", spec.name),
                ));
            }
            (None, None)
        }
    }
}

/// The job's numbered source: its indices, templates and environment
/// (a playlist job starts from it too).
fn numbered(
    i: usize,
    spec: &JobSpec,
    templates: &Arc<Templates>,
    ctx: &PlanContext,
    context: serde_json::Map<String, serde_json::Value>,
    env: Arc<BTreeMap<String, String>>,
) -> Numbered {
    Numbered {
        indices: spec.source.clone(),
        padding: spec.padding,
        templates: templates.clone(),
        key: url_key(i),
        context,
        env,
        dir: spec.dir.clone(),
        roots: Arc::new(LocalRoots::new(&spec.dir, &ctx.allow_local)),
        end: if spec.end_auto {
            EndSource::Auto
        } else {
            EndSource::Given
        },
    }
}

/// The job's segment source (its playlist, or the numbered one) and its
/// init segment (`Some` when the job names one: rendered, or `None` inside
/// when that failed); problems are pushed, located.
fn source_and_init(
    i: usize,
    spec: &JobSpec,
    numbered: Numbered,
    problems: &mut Vec<Problem>,
) -> (SegmentSource, Option<Option<Segment>>) {
    let at = |loc, msg: String| Problem::at(&spec.file, loc, msg);
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
    (source, init)
}

fn plan_job(
    i: usize,
    spec: &JobSpec,
    templates: &Arc<Templates>,
    manifest: &Manifest,
    ctx: &PlanContext,
) -> Result<JobPlan, Vec<Problem>> {
    let at = |loc, msg: String| Problem::at(&spec.file, loc, msg);
    let skipped = skip_reason(spec, ctx);
    let mut problems = Vec::new();
    let base = template_context(spec, ctx);

    let (env_values, headers) = environment(spec, ctx, skipped.is_some(), &mut problems);
    let numbered = numbered(i, spec, templates, ctx, base.clone(), env_values);
    let (source, init) = source_and_init(i, spec, numbered, &mut problems);
    let (first, last) = first_and_last(spec, &source, &mut problems);

    let output_dir = ctx
        .output_dir
        .clone()
        .unwrap_or_else(|| spec.output_dir.clone());
    let rendered = templates.render(&output_key(i), &serde_json::Value::Object(base));
    let (output_rel, container) = output_of(spec, rendered, &mut problems);
    let (Some(first), Some(last), Some(output_rel), Some(container), true) =
        (first, last, output_rel, container, problems.is_empty())
    else {
        if problems.is_empty() {
            problems.push(at(
                spec.loc,
                format!("job `{}` cannot be planned", spec.name),
            ));
        }
        return Err(problems);
    };
    let host = first.target.host().map(str::to_string);
    let shown_host = first.target.shown_host();
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
        send_secrets_to: spec.send_secrets_to.clone(),
        concurrency: spec.concurrency,
        retry: spec.retry,
        timeout: spec.timeout,
        on_missing: spec.on_missing,
        merge: spec.merge,
        verify: spec.verify,
        max_segment_bytes: spec.max_segment_bytes,
        bytes_per_second: spec.bytes_per_second,
        host,
        shown_host,
        host_limit,
        tags: spec.tags.clone(),
        source,
    })
}
