//! The job file on disk: reading what is there, and replacing it through a
//! temporary file next to it.

use std::path::{Path, PathBuf};

use crate::common::diag::{display_path, Problem};
use crate::manifest::{self, Manifest};
use crate::plan;
use crate::state::atomic::{Durability, Temp};

use super::command::SCHEMA_COMMENT;
use super::trial::{env_policy, plan_context};
use super::yaml_edit::{find_spot, Spot};

// The file

/// The job file as it is now.
pub(super) struct Existing {
    pub(super) text: String,
    /// Its jobs' names (empty when it does not validate yet but has no jobs).
    pub(super) names: Vec<String>,
    pub(super) manifest: Option<Manifest>,
}

pub(super) fn read_existing(file: &Path) -> Result<Option<Existing>, Vec<Problem>> {
    let shown = display_path(file);
    match std::fs::symlink_metadata(file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(dir) = parent {
                if !dir.is_dir() {
                    return Err(vec![Problem::bare(format!(
                        "cannot create {shown}: folder {} does not exist",
                        display_path(dir)
                    ))]);
                }
            }
            return Ok(None);
        }
        Err(e) => return Err(vec![Problem::bare(format!("cannot read {shown}: {e}"))]),
        Ok(_) if file.is_dir() => {
            return Err(vec![Problem::bare(format!(
                "{shown} is a folder; -f names the job file to add the job to"
            ))])
        }
        Ok(_) => {}
    }
    // A file that is not UTF-8 or too big is reported by the loader.
    let text = std::fs::read(file)
        .map_err(|e| vec![Problem::bare(format!("cannot read {shown}: {e}"))])?;
    let (text, utf8) = match String::from_utf8(text) {
        Ok(t) => (t, true),
        Err(_) => (String::new(), false),
    };
    // Every variable the file reads counts as allowed and set: `new` checks
    // structure, it needs no secrets, and the file was trusted before.
    let policy = env_policy(&text, &text);
    let loaded = manifest::load(&[file.to_path_buf()], &policy).and_then(|m| {
        plan::plan(&m, &plan_context(&policy))?;
        Ok(m)
    });
    match loaded {
        Ok(m) => Ok(Some(Existing {
            text,
            names: m.jobs.iter().map(|j| j.name.clone()).collect(),
            manifest: Some(m),
        })),
        // A file with no jobs yet (empty, comments only, `jobs:` with
        // nothing under it) is filled in; the result is validated whole.
        Err(_)
            if matches!(
                find_spot(&text),
                Ok(Spot::NoKey) | Ok(Spot::Block { items: 0, .. })
            ) && utf8 =>
        {
            Ok(Some(Existing {
                text,
                names: Vec::new(),
                manifest: None,
            }))
        }
        Err(problems) => {
            let mut out = vec![Problem::bare(format!(
                "{shown} does not validate; fix it first, then run snatch new again"
            ))
            .help("`snatch validate` shows the same problems")];
            out.extend(problems);
            Err(out)
        }
    }
}

/// The path to write: the job file, or what it links to.
pub(super) fn write_target(file: &Path) -> Result<PathBuf, Vec<Problem>> {
    let is_link = std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        std::fs::canonicalize(file).map_err(|e| {
            vec![Problem::bare(format!(
                "cannot follow the link {}: {e}",
                display_path(file)
            ))]
        })
    } else {
        Ok(file.to_path_buf())
    }
}

/// The new text in a temporary file next to the job file (see
/// [`crate::state::atomic`]), with the job file's permissions when it has one;
/// removed on drop unless persisted.
pub(super) fn temp_file(
    target: &Path,
    text: &str,
    copy_permissions: bool,
) -> std::io::Result<Temp> {
    let create = crate::state::atomic::create_new;
    let temp = Temp::write(target, text.as_bytes(), create, Durability::Synced)?;
    if copy_permissions {
        if let Ok(meta) = std::fs::metadata(target) {
            std::fs::set_permissions(temp.path(), meta.permissions())?;
        }
    }
    Ok(temp)
}

/// Where the schema of job files is looked for, in each folder: the first
/// is where `snatch schema -o` is suggested to write it.
pub(super) const SCHEMA_PLACES: [&str; 2] = ["schemas/jobs.schema.json", "jobs.schema.json"];

/// The `# yaml-language-server: $schema=…` line for the job file `file`:
/// the path, relative to the job file's folder, of the first of
/// [`SCHEMA_PLACES`] found in that folder or the nearest folder above it (not
/// above the folder that holds `.git`); `None` when there is none, so that
/// no editor is sent to a file that does not exist.
pub(super) fn schema_line(file: &Path) -> Option<String> {
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = std::fs::canonicalize(dir.unwrap_or(Path::new("."))).ok()?;
    for (depth, folder) in dir.ancestors().enumerate() {
        for place in SCHEMA_PLACES {
            if folder.join(place).is_file() {
                let up = if depth == 0 {
                    "./".to_string()
                } else {
                    "../".repeat(depth)
                };
                return Some(format!("{SCHEMA_COMMENT}{up}{place}"));
            }
        }
        if folder.join(".git").exists() {
            break;
        }
    }
    None
}
