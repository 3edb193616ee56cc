//! One writer per job: an exclusive lock on `lock` in the job's state
//! folder, held for the whole job, with the holder's process id written
//! into it. The kernel releases it when the process ends, `kill -9`
//! included. The lock file is never deleted (a deleted, locked file would
//! let a second process lock a new one beside it).

use std::fs::{File, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use super::store;

/// The lock file's name in the state folder; cleanups keep it.
pub const LOCK: &str = "lock";

/// The held lock of one job; released when dropped.
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
    let path = dir.join(LOCK);
    let mut file = store::open_rw(&path).map_err(LockError::Io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(LockError::Busy {
                pid: text.trim().parse().ok(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(LockError::Io(e)),
    }
    let written = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()));
    // Not synced: the pid only names the holder in a message, and the lock
    // itself lives in the kernel. A sync here waited on ext4 for every byte
    // written before it (tens of milliseconds at the start of each job).
    written.map_err(LockError::Io)?;
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
}
