//! Where paths a job file names really lead: resolved as the operating
//! system would (symlinks followed, `..` after them), so that two spellings
//! of one folder compare equal and a path cannot leave its workspace.

use std::path::{Component, Path, PathBuf};

/// Folders no local source may read, whatever the command line allows.
pub const NEVER_READ: &[&str] = &["/proc", "/sys", "/dev"];

/// The absolute form of `p` with every symlink of its existing part
/// followed and `.`/`..` applied in the order the OS applies them. The part
/// that does not exist yet is appended as written (it holds no symlink).
pub fn resolve(p: &Path) -> PathBuf {
    resolve_within(p, 0)
}

fn resolve_within(p: &Path, depth: u32) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut cur = PathBuf::new();
    let mut exists = true;
    for c in abs.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => cur.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                cur.pop();
            }
            Component::Normal(name) => {
                cur.push(name);
                if exists {
                    match std::fs::canonicalize(&cur) {
                        Ok(real) => cur = real,
                        Err(_) => match std::fs::read_link(&cur) {
                            // A dangling link leads where its target would be.
                            Ok(target) if depth < 40 => {
                                cur.pop();
                                cur = resolve_within(&cur.join(target), depth + 1);
                                exists = cur.exists();
                            }
                            _ => exists = false,
                        },
                    }
                }
            }
        }
    }
    cur
}

/// Whether `p` (resolved) lies inside `root` (resolved), or is it.
pub fn is_inside(p: &Path, root: &Path) -> bool {
    p.starts_with(root)
}

/// Whether a path is absolute in any of the spellings a job file might
/// use (`/x`, `\x`, `C:\x`, `C:/x`).
pub fn looks_absolute(text: &str) -> bool {
    let b = text.trim().as_bytes();
    let drive = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
    text.trim().starts_with(['/', '\\']) || drive || Path::new(text.trim()).is_absolute()
}

/// Why a path a job file names is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("output_dir `{0}` is an absolute path")]
    OutputDirAbsolute(String),
    /// `real` is where the folder written leads, resolved.
    #[error(
        "output_dir `{written}` leads to {}, outside the job file's folder and the folder snatch runs in",
        crate::common::diag::display_path(.real)
    )]
    OutputDirOutside { written: String, real: PathBuf },
    /// `shown` names the path, secrets as `***`.
    #[error("the local source `{0}` is under /proc, /sys or /dev, which snatch never reads")]
    NeverRead(String),
    #[error(
        "the local source `{0}` is outside the job file's folder; allow its folder with `--allow-local DIR` if it is meant"
    )]
    LocalOutside(String),
}

/// Checks a job file's `output_dir` (as written) against its workspace:
/// relative, and inside the job file's folder `dir` or the folder snatch
/// runs in. Returns the folder as the job will use it.
pub fn output_dir(dir: &Path, written: &str) -> Result<PathBuf, PathError> {
    if looks_absolute(written) {
        return Err(PathError::OutputDirAbsolute(written.into()));
    }
    let joined = dir.join(written);
    let real = resolve(&joined);
    let roots = [resolve(dir), resolve(Path::new("."))];
    if roots.iter().any(|r| is_inside(&real, r)) {
        Ok(tidy(joined, &real, &roots[1]))
    } else {
        Err(PathError::OutputDirOutside {
            written: written.into(),
            real,
        })
    }
}

/// A folder spelt with `.` or `..` (`week-1/../out`) as it is shown and
/// used: relative to the working folder when inside it (`out`), else its
/// resolved absolute form. A plain spelling is kept as written.
fn tidy(joined: PathBuf, real: &Path, cwd: &Path) -> PathBuf {
    let plain = joined
        .components()
        .all(|c| !matches!(c, Component::CurDir | Component::ParentDir));
    if plain {
        return joined;
    }
    match real.strip_prefix(cwd) {
        Ok(rel) if rel.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rel) => rel.to_path_buf(),
        Err(_) => real.to_path_buf(),
    }
}

/// The folders local sources may read: the job file's folder and those the
/// command line allows, each resolved.
#[derive(Debug, Clone, Default)]
pub struct LocalRoots {
    pub roots: Vec<PathBuf>,
}

impl LocalRoots {
    pub fn new(job_dir: &Path, allowed: &[PathBuf]) -> LocalRoots {
        let roots = std::iter::once(job_dir)
            .chain(allowed.iter().map(PathBuf::as_path))
            .map(resolve)
            .collect();
        LocalRoots { roots }
    }

    /// The resolved path to read, or why it may not be read (`shown` names
    /// the path in the message, secrets as `***`).
    pub fn check(&self, path: &Path, shown: &str) -> Result<PathBuf, PathError> {
        let real = resolve(path);
        let never = NEVER_READ
            .iter()
            .any(|n| is_inside(&real, Path::new(n)) || is_inside(path, Path::new(n)));
        if never {
            return Err(PathError::NeverRead(shown.into()));
        }
        if self.roots.iter().any(|r| is_inside(&real, r)) {
            Ok(real)
        } else {
            Err(PathError::LocalOutside(shown.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_spellings_of_one_folder_resolve_alike() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("x")).unwrap();
        assert_eq!(resolve(&d.join("out")), resolve(&d.join("x/../out")));
        assert_eq!(
            resolve(&d.join("./out/a.mp4")),
            resolve(&d.join("out/a.mp4"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_before_dot_dot() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(outside.path().join("deep")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("deep"), d.join("link")).unwrap();
        // link/.. is the outside folder, not `d`.
        let r = resolve(&d.join("link/../x"));
        assert!(r.starts_with(resolve(outside.path())), "{r:?}");
        assert!(output_dir(d, "link/../x").is_err());
        assert!(output_dir(d, "link").is_err());
        std::os::unix::fs::symlink(outside.path().join("nothing"), d.join("dangling")).unwrap();
        assert!(output_dir(d, "dangling/sub").is_err());
        assert!(output_dir(d, "out").is_ok());
    }

    #[test]
    fn output_dirs_stay_in_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert!(output_dir(d, "/tmp/x").is_err());
        assert!(output_dir(d, "C:/x").is_err());
        assert!(output_dir(d, "../../../../../../../../x").is_err());
        assert!(output_dir(d, "a/../b").is_ok());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn local_sources_never_read_proc() {
        let roots = LocalRoots::new(Path::new("/"), &[]);
        let err = roots.check(Path::new("/proc/self/environ"), "/proc/self/environ");
        assert_eq!(
            err.unwrap_err().to_string(),
            "the local source `/proc/self/environ` is under /proc, /sys or /dev, which snatch never reads"
        );
        let dir = tempfile::tempdir().unwrap();
        let roots = LocalRoots::new(dir.path(), &[]);
        assert!(roots.check(&dir.path().join("a.ts"), "a.ts").is_ok());
        assert!(roots
            .check(Path::new("/etc/passwd"), "/etc/passwd")
            .is_err());
    }
}
