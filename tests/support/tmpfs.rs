//! A small tmpfs mounted by a test, for a disk that fills: only as root
//! on Linux (CI runs as root); elsewhere [`Tmpfs::mount`] says why not and
//! the test skips with the reason printed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted at a folder, unmounted when dropped (even when the
/// test fails).
pub struct Tmpfs {
    at: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `kib` KiB at `at` (created); `None`, with the
    /// reason printed, where this test cannot mount one (the caller skips).
    pub fn mount(at: &Path, kib: u64) -> Option<Tmpfs> {
        match Tmpfs::try_mount(at, kib) {
            Ok(t) => Some(t),
            Err(why) => {
                println!("skipped: {why}");
                None
            }
        }
    }

    fn try_mount(at: &Path, kib: u64) -> Result<Tmpfs, String> {
        if !cfg!(target_os = "linux") {
            return Err("a tmpfs is mounted on Linux only".into());
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err("mounting a tmpfs needs root".into());
        }
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        match out.status.success() {
            true => Ok(Tmpfs {
                at: at.to_path_buf(),
            }),
            false => Err(format!(
                "cannot mount a tmpfs: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        }
    }

    /// Grows (or shrinks) the tmpfs to `kib` KiB, keeping its files.
    pub fn resize(&self, kib: u64) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={kib}k")])
            .arg(&self.at)
            .status()
            .unwrap();
        assert!(status.success(), "remount {}", self.at.display());
    }

    pub fn path(&self) -> &Path {
        &self.at
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}
