//! The job files, loaded and planned as `snatch plan` and `snatch run`
//! do: every value a job reads from the environment is registered with
//! the masking function, so nothing the page shows holds one.

use std::path::{Path, PathBuf};

use crate::common::diag::{self, Problem};
use crate::manifest::{self, env::EnvPolicy};
use crate::plan::{self, Plan, PlanContext, Selection};

/// What a variable a job reads, and the environment lacks, does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unset {
    /// A run refuses it.
    Refuse,
    /// The page's list shows it as `***` (a stand-in value).
    StandIn,
}

/// The paths `snatch ui` was given that exist: the others are job files
/// the Add form may create.
pub fn existing(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths.iter().filter(|p| p.exists()).cloned().collect()
}

/// The plan of every job in `paths` (none when no file exists yet).
/// `None` when no job file exists yet.
pub fn plan(
    paths: &[PathBuf],
    allow_env: &[String],
    unset: Unset,
) -> Result<Option<Plan>, Vec<Problem>> {
    let mut policy = EnvPolicy::from_process(allow_env);
    let paths = existing(paths);
    if paths.is_empty() {
        return Ok(None);
    }
    let manifest = manifest::load(&paths, &policy)?;
    if unset == Unset::StandIn {
        stand_in(&manifest, &mut policy);
    }
    let selection = Selection::default();
    let ctx = PlanContext {
        date: chrono::Local::now().format("%Y-%m-%d").to_string(),
        env: &policy,
        output_dir: None,
        selection: &selection,
        allow_local: Vec::new(),
    };
    let plan = plan::plan(&manifest, &ctx)?;
    register(&plan);
    Ok(Some(plan))
}

/// Each variable the files read that is not set gets a stand-in value,
/// masked like any other.
fn stand_in(manifest: &manifest::Manifest, policy: &mut EnvPolicy) {
    let unset: Vec<String> = manifest
        .files
        .iter()
        .flat_map(|f| manifest::env::names_in(&f.text))
        .filter(|n| policy.may_read(n) && !policy.values.contains_key(n))
        .collect();
    for name in unset {
        let value = format!("unset-{}", name.to_ascii_lowercase().replace('_', "-"));
        policy.values.insert(name, value);
    }
}

/// Every value the jobs read from the environment is masked wherever text
/// leaves the process.
fn register(plan: &Plan) {
    use crate::plan::source::SegmentSource;
    for job in &plan.jobs {
        let env = match &job.source {
            SegmentSource::Numbered(n) => &n.env,
            SegmentSource::Playlist(p) => &p.env,
        };
        crate::common::mask::register(env.values().map(String::as_str));
    }
}

/// Problems as the terminal shows them, without colour, masked.
pub fn problems_text(problems: &[Problem]) -> String {
    crate::common::mask::text(&diag::render(problems, false)).into_owned()
}

/// The job files the Add form may write to: each path given that is not a
/// folder, and each folder's job files (or its `jobs.yaml` when it has
/// none).
pub fn add_targets(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        match manifest::expand_inputs(std::slice::from_ref(p)) {
            Ok(found) if !found.is_empty() => out.extend(found),
            _ => out.push(p.join(crate::new::DEFAULT_FILE)),
        }
    }
    out
}

/// `path` as the page shows it.
pub fn shown(path: &Path) -> String {
    diag::display_path(path)
}
