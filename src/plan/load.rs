//! Job files to a plan, as every command that reads them does (`run`,
//! `plan`, `validate`, the page): the environment each may read, the
//! selection, the plan, and every value a job reads from the environment
//! registered with the masking function, so that no text leaving the
//! process holds one.

use std::path::PathBuf;

use crate::common::diag::{self, Problem};
use crate::manifest::{self, env::EnvPolicy};
use crate::plan::{self, Plan, PlanContext, Selection};

/// What a variable that a job reads and the environment lacks does:
/// refuse (a run, `validate`, `plan --probe`), or stand in with a value
/// shown as `***` (`plan`, the page's list), named in [`Loaded::stood_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    Refuse,
    StandIn,
}

/// What to load: the job files and what the command line adds to them.
#[derive(Debug, Clone, Default)]
pub struct Load<'a> {
    pub paths: &'a [PathBuf],
    pub allow_env: &'a [String],
    /// `--jobs GLOB` and `--tag TAG`.
    pub jobs: &'a [String],
    pub tags: &'a [String],
    pub output_dir: Option<PathBuf>,
    pub allow_local: Vec<PathBuf>,
}

/// A plan, and the variables that stand in for unset ones (sorted).
#[derive(Debug)]
pub struct Loaded {
    pub plan: Plan,
    pub stood_in: Vec<String>,
}

/// The plan of the jobs `load` names; with `--jobs`/`--tag`, an error
/// when they select no job.
pub fn load(load: &Load, unset: Unset) -> Result<Loaded, Vec<Problem>> {
    let mut policy = EnvPolicy::from_process(load.allow_env);
    let selection = Selection::new(load.jobs, load.tags).map_err(|p| vec![p])?;
    if let Some(d) = load.allow_local.iter().find(|d| !d.is_dir()) {
        return Err(vec![Problem::bare(format!(
            "--allow-local {}: no such folder",
            diag::display_path(d)
        ))]);
    }
    let manifest = manifest::load(load.paths, &policy)?;
    let stood_in = match unset {
        Unset::StandIn => stand_in(&manifest, &mut policy),
        Unset::Refuse => Vec::new(),
    };
    let ctx = PlanContext {
        date: chrono::Local::now().format("%Y-%m-%d").to_string(),
        env: &policy,
        output_dir: load.output_dir.clone(),
        selection: &selection,
        allow_local: load.allow_local.clone(),
    };
    let plan = plan::plan(&manifest, &ctx)?;
    selects_something(load, &plan).map_err(|p| vec![p])?;
    register_secrets(&plan);
    Ok(Loaded { plan, stood_in })
}

/// A `--jobs` or `--tag` that matches no job is a mistake, not a green
/// run that did nothing: name what there is to select.
fn selects_something(args: &Load, plan: &Plan) -> Result<(), Problem> {
    let selecting = !args.jobs.is_empty() || !args.tags.is_empty();
    let none = plan
        .jobs
        .iter()
        .all(|j| j.skipped == Some(crate::plan::SkipReason::NotSelected));
    if !selecting || !none {
        return Ok(());
    }
    let asked: Vec<String> = (args.jobs.iter().map(|g| format!("--jobs `{g}`")))
        .chain(args.tags.iter().map(|t| format!("--tag `{t}`")))
        .collect();
    let names: Vec<&str> = plan.jobs.iter().map(|j| j.name.as_str()).collect();
    let mut tags: Vec<&str> = plan
        .jobs
        .iter()
        .flat_map(|j| j.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    let listed = |v: &[&str]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    let guesses: Vec<String> = (args
        .jobs
        .iter()
        .filter_map(|g| diag::nearest(g, names.iter().copied()).map(|n| format!("--jobs `{n}`"))))
    .chain(
        args.tags
            .iter()
            .filter_map(|t| diag::nearest(t, tags.iter().copied()).map(|n| format!("--tag `{n}`"))),
    )
    .collect();
    let mut help = String::new();
    if !guesses.is_empty() {
        help = format!("did you mean {}? ", guesses.join(", "));
    }
    help.push_str(&format!(
        "jobs: {}; tags: {}",
        listed(&names),
        listed(&tags)
    ));
    Err(Problem::bare(format!("{} selects no job", asked.join(" "))).help(help))
}

/// Each variable the job files read that is not set gets a stand-in value
/// (`unset-NAME`), masked like any other; their names, sorted.
fn stand_in(manifest: &manifest::Manifest, policy: &mut EnvPolicy) -> Vec<String> {
    let unset: std::collections::BTreeSet<String> = manifest
        .files
        .iter()
        .flat_map(|f| manifest::env::names_in(&f.text))
        .filter(|n| policy.may_read(n) && !policy.values.contains_key(n))
        .collect();
    for name in &unset {
        let stand_in = format!("unset-{}", name.to_ascii_lowercase().replace('_', "-"));
        policy.values.insert(name.clone(), stand_in);
    }
    unset.into_iter().collect()
}

/// Every value the jobs read from the environment is masked wherever text
/// leaves the process, in any spelling (see `crate::common::mask`).
fn register_secrets(plan: &Plan) {
    use crate::plan::source::SegmentSource;
    for job in &plan.jobs {
        let env = match &job.source {
            SegmentSource::Numbered(n) => &n.env,
            SegmentSource::Playlist(p) => &p.env,
        };
        crate::common::mask::register(env.values().map(String::as_str));
    }
}
