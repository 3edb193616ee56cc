//! The hidden names a merge writes beside its output, and the sweep of
//! those a killed snatch left. Each name carries the writer's process id
//! (`.NAME.<pid>.snatch-part`, and `.NAME.<pid>.video.snatch-part` /
//! `.audio.` for a separate audio rendition), so two processes never share
//! one; only the holder of the output's claim (see
//! [`crate::state::lock::claim_output`]) writes them, so any other such
//! name it finds is a dead process's leftover.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use crate::state::store;

/// The output's file name, as text.
fn output_name(output: &Path) -> String {
    output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// This process's hidden name for `output`; `track` (`video`, `audio`)
/// for one half of a merge with a separate audio rendition.
pub fn temp_of(output: &Path, track: Option<&str>) -> PathBuf {
    let (name, pid) = (output_name(output), std::process::id());
    let track = track.map(|t| format!(".{t}")).unwrap_or_default();
    output.with_file_name(format!(".{name}.{pid}{track}.snatch-part"))
}

/// The hidden name of the finished part `k` (a DASH period) of the merge
/// writing `temp`.
pub fn part_of(temp: &Path, k: usize) -> PathBuf {
    let name = temp.file_name().unwrap_or_default().to_string_lossy();
    let stem = name.strip_suffix(".snatch-part").unwrap_or(&name);
    temp.with_file_name(format!("{stem}.p{k}.snatch-part"))
}

/// The hidden name an older snatch (before process ids) wrote to.
pub fn legacy_temp(output: &Path) -> PathBuf {
    output.with_file_name(format!(".{}.snatch-part", output_name(output)))
}

/// Whether `file` is a hidden name of a merge for `output` written by
/// some process (any track). An older snatch's name, without a pid, is
/// not: it could as well be another output's (`.v.mp4.5.snatch-part` is
/// the old name of `v.mp4.5`'s), so it is left alone.
pub fn is_temp_of(output: &Path, file: &OsStr) -> bool {
    let (name, file) = (output_name(output), file.to_string_lossy());
    let Some(middle) = file
        .strip_prefix(&format!(".{name}."))
        .and_then(|m| m.strip_suffix(".snatch-part"))
    else {
        return false;
    };
    // A DASH period's part: `.p<k>` after the rest.
    let middle = match middle.rsplit_once(".p") {
        Some((rest, k)) if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => middle,
    };
    let pid = ["video", "audio"]
        .iter()
        .find_map(|t| middle.strip_suffix(&format!(".{t}")))
        .unwrap_or(middle);
    !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
}

/// Removes every hidden merge file of `output` (below `root`) that a
/// killed snatch left, except `keep`. Call with the output claimed. Links
/// and folders at such names are left alone; returns what was removed.
pub fn sweep(root: &Path, output: &Path, keep: Option<&Path>) -> io::Result<Vec<PathBuf>> {
    store::ensure_parent(root, output)?;
    let folder = output.parent().unwrap_or(root);
    let mut gone = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let path = entry.path();
        if !entry.file_type()?.is_file() || keep == Some(path.as_path()) {
            continue;
        }
        if is_temp_of(output, &entry.file_name()) {
            store::remove_file(&path)?;
            gone.push(path);
        }
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_pid_and_are_told_from_other_outputs() {
        let out = Path::new("/o/v.mp4");
        let pid = std::process::id();
        let mine = temp_of(out, None);
        assert_eq!(mine, Path::new(&format!("/o/.v.mp4.{pid}.snatch-part")));
        let video = temp_of(out, Some("video"));
        let part = part_of(&video, 2);
        assert_eq!(
            part,
            Path::new(&format!("/o/.v.mp4.{pid}.video.p2.snatch-part"))
        );
        for p in [&mine, &video, &part, &part_of(&mine, 11)] {
            assert!(is_temp_of(out, p.file_name().unwrap()), "{p:?}");
        }
        for other in [
            ".v.mp4.5.123.snatch-part",
            ".v.mp4.x.snatch-part",
            ".v.mp4.12.other.snatch-part",
            ".v.mp4.snatch-lock",
            "v.mp4",
            ".v.mp4.video.snatch-part.x",
            ".v.mp4..snatch-part",
            ".v.mp4.snatch-part",
            ".v.mp4.video.snatch-part",
            ".v.mp4.p1.snatch-part",
            ".v.mp4.4.p.snatch-part",
            ".v.mp4.4.px.snatch-part",
        ] {
            assert!(!is_temp_of(out, OsStr::new(other)), "{other}");
        }
        assert!(is_temp_of(out, OsStr::new(".v.mp4.77.audio.snatch-part")));
    }

    #[test]
    fn the_sweep_removes_leftovers_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let out = root.join("v.mp4");
        for n in [
            ".v.mp4.1.snatch-part",
            ".v.mp4.2.video.snatch-part",
            ".v.mp4.3.snatch-part",
        ] {
            std::fs::write(root.join(n), b"x").unwrap();
        }
        for n in ["v.mp4", ".w.mp4.1.snatch-part", ".v.mp4.snatch-lock"] {
            std::fs::write(root.join(n), b"x").unwrap();
        }
        let keep = root.join(".v.mp4.3.snatch-part");
        let mut gone = sweep(root, &out, Some(&keep)).unwrap();
        gone.sort();
        assert_eq!(
            gone,
            [
                root.join(".v.mp4.1.snatch-part"),
                root.join(".v.mp4.2.video.snatch-part")
            ]
        );
        assert!(keep.exists() && out.exists() && root.join(".w.mp4.1.snatch-part").exists());
    }
}
