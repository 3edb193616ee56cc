//! Replacing a file atomically, the one way snatch does it: the bytes go to
//! a temporary file beside the target (`.<name>.tmp-<pid>-<n>`, created
//! exclusively), are synced, and the file is renamed over the target, so
//! that a reader sees the old file or the new one, never half of one. The
//! temporary file is removed when anything fails.
//!
//! How the file is created and renamed is the caller's: under the output
//! folder through [`crate::fetch::store`] (no link followed, see
//! `store::replace`), elsewhere (reports, job files) with plain calls
//! ([`write_atomic`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A written temporary file beside its target (synced unless made with
/// [`Temp::write_unsynced`]); removed on drop unless [`Temp::persist`]
/// moved it into place.
pub struct Temp {
    path: PathBuf,
    done: bool,
    synced: bool,
}

impl Temp {
    /// Writes `bytes` to a fresh temporary file beside `target`, created by
    /// `create` (which must refuse an existing file), and syncs it.
    pub fn write(
        target: &Path,
        bytes: &[u8],
        create: impl Fn(&Path) -> io::Result<File>,
    ) -> io::Result<Temp> {
        Temp::write_as(target, bytes, create, true)
    }

    /// As [`Temp::write`], without syncing the file or, later, its folder:
    /// a reader still sees the old file or the new one, and a killed
    /// process loses neither, but a power cut may. For files whose loss
    /// costs only work done again (`done.json`, exported segments): on
    /// ext4 a sync there waits for every dirty byte written before it,
    /// hundreds of megabytes after a merge.
    pub fn write_unsynced(
        target: &Path,
        bytes: &[u8],
        create: impl Fn(&Path) -> io::Result<File>,
    ) -> io::Result<Temp> {
        Temp::write_as(target, bytes, create, false)
    }

    fn write_as(
        target: &Path,
        bytes: &[u8],
        create: impl Fn(&Path) -> io::Result<File>,
        synced: bool,
    ) -> io::Result<Temp> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
        })?;
        loop {
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(
                ".tmp-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let path = target.with_file_name(tmp_name);
            let mut f = match create(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            let temp = Temp {
                path,
                done: false,
                synced,
            };
            f.write_all(bytes)?;
            if synced {
                f.sync_all()?;
            }
            return Ok(temp);
        }
    }

    /// Where the temporary file is (to check it before it replaces the
    /// target).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the file over `target` with `rename`, then makes the rename
    /// durable where the platform can.
    pub fn persist(
        mut self,
        target: &Path,
        rename: impl FnOnce(&Path, &Path) -> io::Result<()>,
    ) -> io::Result<()> {
        rename(&self.path, target)?;
        self.done = true;
        if !self.synced {
            return Ok(());
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // Not every platform can open folders.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A new file at `path`; an error if anything is there.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Replaces `path` with `bytes` atomically, creating missing parent
/// folders. For paths the operator names (reports); not for paths under
/// the output folder (see `store::replace`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    Temp::write(path, bytes, create_new)?.persist(path, |from, to| fs::rename(from, to))
}

/// As [`write_atomic`], without syncing: for reports, written when a run
/// ends, right after hundreds of megabytes of output that a sync would wait
/// for (ext4). A reader still sees a whole report or none; a power cut may
/// lose it, with the run it describes.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    Temp::write_unsynced(path, bytes, create_new)?.persist(path, |from, to| fs::rename(from, to))
}
