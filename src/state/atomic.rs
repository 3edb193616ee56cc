//! Replacing a file atomically, the one way snatch does it: the bytes go to
//! a temporary file beside the target (`.<name>.tmp-<pid>-<n>`, created
//! exclusively), are synced, and the file is renamed over the target, so
//! that a reader sees the old file or the new one, never half of one. The
//! temporary file is removed when anything fails.
//!
//! How the file is created and renamed is the caller's: under the output
//! folder through [`crate::state::store`] (no link followed, see
//! `store::replace`), elsewhere (reports, job files) with plain calls
//! ([`write_atomic`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether a replaced file is synced to disk (and its folder after the
/// rename). A reader sees the old file or the new one either way, and a
/// killed process loses neither; only a power cut can lose an unsynced
/// one. Unsynced is for files whose loss costs only work done again
/// (`done.json`, reports, exported segments): on ext4 a sync there waits
/// for every dirty byte written before it, hundreds of megabytes after a
/// merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Synced,
    Unsynced,
}

/// A written temporary file beside its target; removed on drop unless
/// [`Temp::persist`] moved it into place.
pub struct Temp {
    path: PathBuf,
    done: bool,
    synced: bool,
}

impl Temp {
    /// Writes `bytes` to a fresh temporary file beside `target`, created by
    /// `create` (which must refuse an existing file), and syncs it when
    /// `durability` says so.
    pub fn write(
        target: &Path,
        bytes: &[u8],
        create: impl Fn(&Path) -> io::Result<File>,
        durability: Durability,
    ) -> io::Result<Temp> {
        Temp::write_with(target, |w| w.write_all(bytes), create, durability)
    }

    /// As [`Temp::write`], the bytes written by `write` (through a buffer)
    /// as they are made: a large file is never held whole.
    pub fn write_with(
        target: &Path,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
        create: impl Fn(&Path) -> io::Result<File>,
        durability: Durability,
    ) -> io::Result<Temp> {
        let synced = durability == Durability::Synced;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "the path does not name a file")
        })?;
        let (path, mut f) = loop {
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(
                ".tmp-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let path = target.with_file_name(tmp_name);
            match create(&path) {
                Ok(f) => break (path, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
        };
        // Removed on drop if anything below fails.
        let temp = Temp {
            path,
            done: false,
            synced,
        };
        let mut buffered = io::BufWriter::new(&mut f);
        write(&mut buffered)?;
        buffered.flush()?;
        drop(buffered);
        if synced {
            f.sync_all()?;
        }
        Ok(temp)
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

/// Replaces `path` with `bytes` atomically and synced, creating missing
/// parent folders. For paths the operator names; not for paths under the
/// output folder (see `store::replace`).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_as(path, bytes, Durability::Synced)
}

/// As [`write_atomic`], unsynced: for reports, written right after the
/// output (see [`Durability`]).
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_as(path, bytes, Durability::Unsynced)
}

fn write_atomic_as(path: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    Temp::write(path, bytes, create_new, durability)?.persist(path, |from, to| fs::rename(from, to))
}
