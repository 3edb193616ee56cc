//! Run results → reports: JSON (`--report`), JUnit XML (`--junit`) and a
//! Markdown summary (`--summary`). One small trait, three writers; each file
//! is written atomically, also when jobs failed or the run was interrupted.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub mod json;
pub mod junit;
pub mod markdown;
pub mod shards;

use crate::events::RunReport;
pub use crate::state::atomic::{write_atomic, write_atomic_unsynced};
pub use json::Json;
pub use junit::Junit;
pub use markdown::Markdown;

/// The environment variable GitHub Actions points at the step's summary file.
pub const STEP_SUMMARY_ENV: &str = "GITHUB_STEP_SUMMARY";

/// Why a report file was not written; `kind` names its format ("JSON
/// report", …).
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("could not render the {kind} for {}: {error}", .path.display())]
    Render {
        kind: &'static str,
        path: PathBuf,
        error: RenderError,
    },
    #[error("could not write the {kind} to {}: {error}", .path.display())]
    Write {
        kind: &'static str,
        path: PathBuf,
        error: io::Error,
    },
}

/// Why a format could not render a report.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Junit(#[from] quick_junit::SerializeError),
}

/// Renders a [`RunReport`] into one file format.
pub trait Exporter {
    /// What the format is called in messages ("JSON report", …).
    fn kind(&self) -> &'static str;

    /// The file's bytes.
    fn render(&self, report: &RunReport) -> Result<Vec<u8>, RenderError>;
}

/// Where the reports of a run go. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportTargets {
    /// `--report FILE`: JSON, replaced atomically.
    pub json: Option<PathBuf>,
    /// `--junit FILE`: JUnit XML, replaced atomically.
    pub junit: Option<PathBuf>,
    /// `--summary FILE`: Markdown, replaced atomically.
    pub summary: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`: Markdown, appended to.
    pub step_summary: Option<PathBuf>,
}

impl ReportTargets {
    /// The targets from the command line and `$GITHUB_STEP_SUMMARY`: the step
    /// summary is used only when `--summary` was not given (and is ignored
    /// when set to an empty string).
    pub fn from_args(
        json: Option<PathBuf>,
        junit: Option<PathBuf>,
        summary: Option<PathBuf>,
        env_step_summary: Option<PathBuf>,
    ) -> ReportTargets {
        let step_summary = match summary {
            Some(_) => None,
            None => env_step_summary.filter(|p| !p.as_os_str().is_empty()),
        };
        ReportTargets {
            json,
            junit,
            summary,
            step_summary,
        }
    }

    /// No report is wanted.
    pub fn is_empty(&self) -> bool {
        self.json.is_none()
            && self.junit.is_none()
            && self.summary.is_none()
            && self.step_summary.is_none()
    }

    /// Writes every wanted report; returns one message per file that could
    /// not be written (and goes on with the others). Never panics.
    pub fn write_all(&self, report: &RunReport) -> Vec<ReportError> {
        let mut errors = Vec::new();
        let replaced: [(&Option<PathBuf>, &dyn Exporter); 3] = [
            (&self.json, &Json),
            (&self.junit, &Junit),
            (&self.summary, &Markdown),
        ];
        for (target, exporter) in replaced {
            if let Some(path) = target {
                if let Err(e) = export(exporter, report, path, write_atomic_unsynced) {
                    errors.push(e);
                }
            }
        }
        if let Some(path) = &self.step_summary {
            if let Err(e) = export(&Markdown, report, path, append) {
                errors.push(e);
            }
        }
        errors
    }
}

fn export(
    exporter: &dyn Exporter,
    report: &RunReport,
    path: &Path,
    write: fn(&Path, &[u8]) -> io::Result<()>,
) -> Result<(), ReportError> {
    let kind = exporter.kind();
    let path = path.to_path_buf();
    let bytes = match exporter.render(report) {
        Ok(b) => b,
        Err(error) => return Err(ReportError::Render { kind, path, error }),
    };
    // The last look before a report leaves the process: no secret, in
    // any spelling, and no signed query value.
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => crate::common::mask::text(&text).into_owned().into_bytes(),
        Err(e) => e.into_bytes(),
    };
    write(&path, &bytes).map_err(|error| ReportError::Write { kind, path, error })
}

/// Appends `bytes` to `path`, creating the file (and its parent folders) when
/// missing. For `$GITHUB_STEP_SUMMARY`, which other steps also write to.
pub fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(bytes)?;
    f.flush()
}
