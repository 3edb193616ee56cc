//! State folders of an older snatch (ledger format 2): a file per saved
//! segment, `<index>.ts`, with `<index>.ts.part` while it arrived. A rerun
//! moves those segments into the spool instead of fetching them again.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;

use super::super::spool::Spool;
use super::super::store::{self, at};
use super::Entry;

/// The format that kept a file per segment.
pub(super) const VERSION: u32 = 2;

/// The index of a segment file (`<index>.ts`).
fn segment_index(name: &std::ffi::OsStr) -> Option<u64> {
    name.to_str()?.strip_suffix(".ts")?.parse().ok()
}

fn segment_path(dir: &Path, index: u64) -> std::path::PathBuf {
    dir.join(format!("{index}.ts"))
}

/// Removes the `.part` files in `dir`: bodies a stop left unfinished.
pub(super) fn remove_parts(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir).map_err(at(dir))? {
        let entry = entry.map_err(at(dir))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(".part"))
        {
            store::remove_file(&entry.path()).map_err(at(&entry.path()))?;
        }
    }
    Ok(())
}

/// The segment files in `dir` (index → size); a link among them is refused.
pub(super) fn scan(dir: &Path) -> io::Result<HashMap<u64, u64>> {
    let mut found = HashMap::new();
    for entry in std::fs::read_dir(dir).map_err(at(dir))? {
        let entry = entry.map_err(at(dir))?;
        let Some(index) = segment_index(&entry.file_name()) else {
            continue;
        };
        let meta = entry.metadata().map_err(at(&entry.path()))?; // of the entry itself, not a link's target
        if meta.file_type().is_symlink() {
            return Err(store::refused(&entry.path()));
        }
        if meta.is_file() && meta.len() > 0 {
            found.insert(index, meta.len());
        }
    }
    Ok(found)
}

/// The sizes a format-2 ledger lists, by index.
pub(super) fn listed(text: &str) -> HashMap<u64, u64> {
    #[derive(serde::Deserialize)]
    struct Listed {
        index: u64,
        size: u64,
    }
    text.lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<Listed>(l).ok())
        .map(|e| (e.index, e.size))
        .collect()
}

/// The segment files that are whole by format 2's rule: on disk, and of the
/// listed size when listed (a kill between the rename and the ledger line
/// left some unlisted but whole). A file of another size is removed.
pub(super) fn whole_files(dir: &Path, listed: &HashMap<u64, u64>) -> io::Result<HashMap<u64, u64>> {
    let mut whole = HashMap::new();
    for (index, size) in scan(dir)? {
        match listed.get(&index) {
            Some(&want) if want != size => {
                let path = segment_path(dir, index);
                store::remove_file(&path).map_err(at(&path))?
            }
            _ => {
                whole.insert(index, size);
            }
        }
    }
    Ok(whole)
}

/// Copies the segment files into `spool` (empty), in index order; returns
/// their entries. The files stay until the new ledger lists them.
pub(super) fn into_spool(
    dir: &Path,
    spool: &Spool,
    files: &HashMap<u64, u64>,
) -> io::Result<Vec<Entry>> {
    let mut indices: Vec<u64> = files.keys().copied().collect();
    indices.sort_unstable();
    let mut moved = Vec::with_capacity(indices.len());
    let mut bytes = Vec::new();
    for index in indices {
        bytes.clear();
        let path = segment_path(dir, index);
        (store::open_read(&path).and_then(|mut f| f.read_to_end(&mut bytes))).map_err(at(&path))?;
        let size = bytes.len() as u64;
        let offset = spool.reserve(size);
        spool.write_at(offset, &bytes).map_err(at(spool.path()))?;
        let saved = super::Saved { offset, size };
        moved.push(Entry::new(index, saved, crc32fast::hash(&bytes), None));
    }
    Ok(moved)
}

/// Removes the segment files of `indices`.
pub(super) fn remove_files<'a>(
    dir: &Path,
    indices: impl Iterator<Item = &'a u64>,
) -> io::Result<()> {
    for &index in indices {
        let path = segment_path(dir, index);
        store::remove_file(&path).map_err(at(&path))?;
    }
    Ok(())
}
