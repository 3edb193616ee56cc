//! The job files, loaded and planned as `snatch plan` and `snatch run`
//! do: every value a job reads from the environment is registered with
//! the masking function, so nothing the page shows holds one.

use std::path::{Path, PathBuf};

use crate::common::diag::{self, Problem};
use crate::manifest;
use crate::plan::load::Load;
use crate::plan::Plan;

pub use crate::plan::load::Unset;

/// The paths `snatch ui` was given that exist: the others are job files
/// the Add form may create.
pub fn existing(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths.iter().filter(|p| p.exists()).cloned().collect()
}

/// The plan of every job in `paths`, as `snatch plan` and `snatch run`
/// load it ([`crate::plan::load`]); `None` when no job file exists yet.
pub fn plan(
    paths: &[PathBuf],
    allow_env: &[String],
    unset: Unset,
) -> Result<Option<Plan>, Vec<Problem>> {
    let paths = existing(paths);
    if paths.is_empty() {
        return Ok(None);
    }
    let load = Load {
        paths: &paths,
        allow_env,
        ..Load::default()
    };
    Ok(Some(crate::plan::load::load(&load, unset)?.plan))
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
