//! The job files the command line names: a file as it is, a folder to its
//! `*.yaml` and `*.yml` files (sorted, not recursive), nothing to
//! `./jobs.yaml`. When a file named (or `./jobs.yaml`) is not there, the
//! YAML files of the folder it was looked for in are listed in the hint.

use std::path::{Path, PathBuf};

use crate::common::diag::{display_path, Problem};
use crate::common::units::{listed, LISTED};

/// The job file read when no path is given.
const DEFAULT: &str = "jobs.yaml";

/// Expands the command line's paths (see the module docs).
pub fn expand_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<Problem>> {
    if paths.is_empty() {
        return no_path();
    }
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        if p.is_dir() {
            match folder_files(p) {
                Ok(found) => files.extend(found),
                Err(problem) => problems.push(problem),
            }
        } else if p.exists() {
            files.push(p.clone());
        } else {
            problems.push(missing(p));
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
}

/// `./jobs.yaml`, or why there is none (with the YAML files that are here).
fn no_path() -> Result<Vec<PathBuf>, Vec<Problem>> {
    let default = PathBuf::from(DEFAULT);
    if default.exists() {
        return Ok(vec![default]);
    }
    let problem = Problem::bare(format!("no job file given and ./{DEFAULT} does not exist"));
    let seen = yaml_files(Path::new("."));
    Err(vec![match seen.first() {
        Some(first) => problem.help(format!(
            "this folder holds {}: name the job file (`snatch run {first}`), or the folder \
             for all of them (`snatch run .`)",
            listed(&seen, LISTED)
        )),
        None => problem.help(
            "name a job file or folder (`snatch run lecture.yaml`), or start one with \
             `snatch new URL`",
        ),
    }])
}

/// A folder's job files, sorted; a folder without any is a problem.
fn folder_files(dir: &Path) -> Result<Vec<PathBuf>, Problem> {
    let names = std::fs::read_dir(dir)
        .map_err(|e| Problem::bare(format!("cannot read folder {}: {e}", display_path(dir))))?;
    let mut found: Vec<PathBuf> = names
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| is_yaml_file(f))
        .collect();
    if found.is_empty() {
        return Err(Problem::bare(format!(
            "folder {} holds no *.yaml or *.yml job file",
            display_path(dir)
        )));
    }
    found.sort();
    Ok(found)
}

/// A named file that is not there, with the YAML files beside where it
/// was looked for.
fn missing(path: &Path) -> Problem {
    let problem = Problem::bare(format!("job file {} does not exist", display_path(path)));
    let parent = path.parent().filter(|d| !d.as_os_str().is_empty());
    let seen: Vec<String> = yaml_files(parent.unwrap_or(Path::new(".")))
        .into_iter()
        .map(|name| match parent {
            Some(dir) => display_path(&dir.join(name)).to_string(),
            None => name,
        })
        .collect();
    if seen.is_empty() {
        return problem;
    }
    problem.help(format!("its folder holds {}", listed(&seen, LISTED)))
}

/// The names of the `*.yaml` and `*.yml` files in `dir`, sorted; none
/// when it cannot be read.
fn yaml_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| is_yaml_file(f))
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

fn is_yaml_file(path: &Path) -> bool {
    path.is_file()
        && matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        )
}
