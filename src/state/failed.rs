//! `failed.json`: the last failure of a job, as its report put it (the
//! message already masked and escaped), and when. Written by the run while
//! it holds the job's lock, removed when the job runs again. Read with a
//! cap: the file is small, and a larger one is not ours.

use std::io::{self, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::store::{self, Durability};

pub(crate) const FAILED: &str = "failed.json";

/// The most of `failed.json` read; a larger file is ignored.
pub const FAILED_MAX: u64 = 16 * 1024;

/// A job's last failure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Failed {
    /// `failed`.
    pub status: String,
    pub message: String,
    /// When, RFC 3339 in UTC with milliseconds.
    pub time: String,
}

/// Records a job's failure in its state folder `dir`, atomically.
pub fn write_failed(dir: &Path, failed: &Failed) -> io::Result<()> {
    let bytes = serde_json::to_vec(failed).expect("JSON");
    store::replace(&dir.join(FAILED), &bytes, Durability::Unsynced)
}

/// The recorded failure, if there is one that reads as one (at most
/// [`FAILED_MAX`] bytes, a link refused).
pub fn read_failed(dir: &Path) -> Option<Failed> {
    let mut bytes = Vec::new();
    let file = store::open_read(&dir.join(FAILED)).ok()?;
    file.take(FAILED_MAX + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > FAILED_MAX {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// Forgets a job's failure: it runs again.
pub fn remove_failed(dir: &Path) -> io::Result<()> {
    store::remove_file(&dir.join(FAILED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_read_and_removed_and_a_large_file_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let failed = Failed {
            status: "failed".into(),
            message: "job `a`: segment 3: HTTP 404".into(),
            time: "2026-01-01T00:00:00.000Z".into(),
        };
        write_failed(tmp.path(), &failed).unwrap();
        assert_eq!(read_failed(tmp.path()), Some(failed.clone()));
        remove_failed(tmp.path()).unwrap();
        assert_eq!(read_failed(tmp.path()), None);
        let big = Failed {
            message: "x".repeat(FAILED_MAX as usize),
            ..failed
        };
        write_failed(tmp.path(), &big).unwrap();
        assert_eq!(read_failed(tmp.path()), None);
    }
}
