//! One writer per job and one per output: an exclusive lock on `lock` in
//! the job's state folder, and another on `.NAME.snatch-lock` beside the
//! job's output (the *claim*: two jobs of two job files may name the same
//! output), each held for the whole job with the holder's process id
//! written into it. The kernel releases them when the process ends,
//! `kill -9` included. A lock file is never deleted (a deleted, locked
//! file would let a second process lock a new one beside it).

use std::fs::{File, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::store;

/// The lock file's name in the state folder; cleanups keep it.
pub const LOCK: &str = "lock";

/// A held lock (a job's, or an output's claim); released when dropped.
#[derive(Debug)]
pub struct JobLock {
    _file: File,
}

/// Why a job's lock could not be had.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it; its pid as written in the file.
    Busy {
        pid: Option<u32>,
    },
    Io(io::Error),
}

/// Takes the lock of the state folder `dir` (below `root`) without waiting.
/// Checks the folder for links on the way: every later file operation of
/// the job happens inside it.
pub fn lock_job(root: &Path, dir: &Path) -> Result<JobLock, LockError> {
    store::ensure_dir(root, dir).map_err(LockError::Io)?;
    lock_at(&dir.join(LOCK))
}

/// The claim's lock file beside `output`: `.NAME.snatch-lock`.
pub fn claim_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(".{name}.snatch-lock"))
}

/// Claims `output` (below `root`) without waiting: only the holder may
/// write its hidden files, rename onto it or find it up to date. The
/// folders on the way are checked for links and created.
pub fn claim_output(root: &Path, output: &Path) -> Result<JobLock, LockError> {
    store::ensure_parent(root, output).map_err(LockError::Io)?;
    lock_at(&claim_path(output))
}

/// Locks the file at `path` (its folder checked), writing our pid in it.
fn lock_at(path: &Path) -> Result<JobLock, LockError> {
    let mut file = store::open_rw(path)
        .map_err(store::at(path))
        .map_err(LockError::Io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(LockError::Busy {
                pid: text.trim().parse().ok(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(LockError::Io(store::at(path)(e))),
    }
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    // Not synced: the pid only names the holder in a message, and the lock
    // itself lives in the kernel. A sync here waited on ext4 for every byte
    // written before it (tens of milliseconds at the start of each job).
    written.map_err(store::at(path)).map_err(LockError::Io)?;
    Ok(JobLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".snatch/v");
        let held = lock_job(tmp.path(), &dir).unwrap();
        match lock_job(tmp.path(), &dir) {
            Err(LockError::Busy { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(held);
        lock_job(tmp.path(), &dir).unwrap();
    }

    #[test]
    fn an_output_is_claimed_once_beside_it() {
        let tmp = tempfile::tempdir().unwrap();
        let output = tmp.path().join("sub/v.mp4");
        let held = claim_output(tmp.path(), &output).unwrap();
        assert!(tmp.path().join("sub/.v.mp4.snatch-lock").is_file());
        match claim_output(tmp.path(), &output) {
            Err(LockError::Busy { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(held);
        claim_output(tmp.path(), &output).unwrap();
    }
}
