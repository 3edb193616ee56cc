//! A full disk, told as such. Whichever write meets it (a segment into the
//! spool, a ledger line, a `.part` file, ffmpeg's merged file), the job's
//! message says the disk is full, which folder to free, and that a rerun
//! resumes: never only the system's words, nor a symptom of them later
//! ("moov atom not found", a length that does not match).

use std::io;
use std::path::Path;

use crate::common::diag::display_path;

/// The system's words for a full disk and a full quota, as ffmpeg and
/// `std::io::Error` print them (ENOSPC, EDQUOT).
pub const FULL_WORDS: [&str; 2] = ["No space left on device", "Disk quota exceeded"];

/// Whether `e` says the disk (or the user's quota) is full.
pub fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || FULL_WORDS.iter().any(|w| e.to_string().contains(w))
}

/// The sentence for `what` (e.g. "segment 7 could not be saved") that
/// failed on a full disk under `folder`; `e` is the system's error.
pub fn full(what: &str, folder: &Path, e: &dyn std::fmt::Display) -> String {
    format!(
        "the disk is full: {what} in {folder} ({e}); every saved segment is kept. \
         Free space in {folder}, then rerun: it resumes where it stopped",
        folder = display_path(folder),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_and_edquot_are_a_full_disk() {
        assert!(is_full(&io::Error::from_raw_os_error(28)));
        assert!(is_full(&io::Error::other("x: No space left on device")));
        assert!(!is_full(&io::Error::from(io::ErrorKind::PermissionDenied)));
        #[cfg(target_os = "linux")]
        assert!(is_full(&io::Error::from_raw_os_error(libc::EDQUOT)));
    }
}
