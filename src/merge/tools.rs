//! Where ffmpeg and ffprobe are: `SNATCH_FFMPEG` / `SNATCH_FFPROBE`, else
//! the PATH.

use std::path::{Path, PathBuf};

use super::ToolsError;

/// Where ffmpeg and ffprobe are, found once for the run.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Set once an [`super::EarlyProbe`] failed where a direct ffprobe worked
    /// (an ffprobe without `concatf:`): later jobs probe directly.
    pub(super) early_refused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Tools {
    /// Finds both tools: `SNATCH_FFMPEG` / `SNATCH_FFPROBE`, else the PATH.
    /// The error says which is missing and how to install it.
    pub fn find() -> Result<Tools, ToolsError> {
        let find = |var: &'static str, name: &'static str| -> Result<PathBuf, ToolsError> {
            if let Some(p) = std::env::var_os(var) {
                let p = PathBuf::from(p);
                return if p.is_file() {
                    Ok(p)
                } else {
                    Err(ToolsError::NotAFile {
                        var,
                        path: p.display().to_string(),
                    })
                };
            }
            find_on_path(name).ok_or(ToolsError::Missing { name, var })
        };
        Ok(Tools {
            ffmpeg: find("SNATCH_FFMPEG", "ffmpeg")?,
            ffprobe: find("SNATCH_FFPROBE", "ffprobe")?,
            early_refused: Default::default(),
        })
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file() || p.with_extension("exe").is_file()
}
