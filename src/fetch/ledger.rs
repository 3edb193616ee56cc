//! The per-job ledger under `output_dir/.snatch/<job>/`: which segments are
//! complete, so that a rerun after any stop (`kill -9` included) fetches only
//! what is missing. A segment counts as complete only when the ledger lists
//! it *and* its file is there with the listed size; `.part` files never
//! count. Only indices and sizes are written — never a URL or a header.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

const LEDGER: &str = "ledger.jsonl";
const DONE: &str = "done.json";

#[derive(Serialize, Deserialize)]
struct Header {
    snatch_ledger: u32,
    fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    index: u64,
    size: u64,
}

/// Written once a job's output is merged and verified.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Done {
    pub fingerprint: String,
    pub output_size: u64,
    pub duration_s: f64,
    pub streams: Vec<String>,
}

/// A job's ledger, open for appending.
pub struct Ledger {
    dir: PathBuf,
    file: Mutex<File>,
    /// Segments complete from earlier runs: index → size.
    pub complete: HashMap<u64, u64>,
}

/// The file a complete segment is kept in.
pub fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index}.ts"))
}

/// The index of a complete segment file (`<index>.ts`).
fn segment_index(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".ts")?.parse().ok()
}

/// The file a segment is written to while it arrives.
pub fn part_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index}.ts.part"))
}

impl Ledger {
    /// Opens (or starts) the ledger in `dir`. State from a job whose
    /// fingerprint differs (its URLs or range changed) is discarded, as is
    /// all state when `restart` is set; leftover `.part` files are removed.
    pub fn open(dir: &Path, fingerprint: &str, restart: bool) -> io::Result<Ledger> {
        fs::create_dir_all(dir)?;
        let path = dir.join(LEDGER);
        let mut complete = HashMap::new();
        let mut fresh = true;
        let existing = if restart {
            None
        } else {
            fs::read_to_string(&path).ok()
        };
        if let Some(text) = &existing {
            let mut lines = text.lines();
            let same = lines
                .next()
                .and_then(|l| serde_json::from_str::<Header>(l).ok())
                .is_some_and(|h| h.fingerprint == fingerprint);
            if same {
                fresh = false;
                // A line cut short by a kill is skipped.
                let listed: HashMap<u64, u64> = lines
                    .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
                    .map(|e| (e.index, e.size))
                    .collect();
                // A segment file exists only once it arrived whole and was
                // checked (it is renamed from `.part`); a kill between the
                // rename and the ledger line leaves it unlisted but whole.
                for entry in fs::read_dir(dir)?.flatten() {
                    let path = entry.path();
                    if path.extension().is_some_and(|e| e == "part") {
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    let Some(index) = segment_index(&path) else {
                        continue;
                    };
                    let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                    match listed.get(&index) {
                        Some(&want) if want != size => {
                            let _ = fs::remove_file(&path);
                        }
                        _ if size > 0 => {
                            complete.insert(index, size);
                        }
                        _ => {}
                    }
                }
            }
        }
        if fresh {
            clear_dir(dir)?;
        }
        let cut_short = !fresh && existing.is_some_and(|t| !t.is_empty() && !t.ends_with('\n'));
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        if cut_short {
            // End the line a kill cut short, so the next entry stands alone.
            file.write_all(b"\n")?;
        }
        if fresh {
            let header = Header {
                snatch_ledger: 1,
                fingerprint: fingerprint.to_string(),
            };
            writeln!(file, "{}", serde_json::to_string(&header).expect("JSON"))?;
            file.sync_data()?;
        }
        Ok(Ledger {
            dir: dir.to_path_buf(),
            file: Mutex::new(file),
            complete,
        })
    }

    /// Records a complete segment (its file already renamed into place).
    pub fn record(&self, index: u64, size: u64) -> io::Result<()> {
        let line = serde_json::to_string(&Entry { index, size }).expect("JSON") + "\n";
        let mut f = self.file.lock().expect("lock");
        f.write_all(line.as_bytes())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Flushes the ledger to disk.
    pub fn sync(&self) -> io::Result<()> {
        self.file.lock().expect("lock").sync_data()
    }
}

fn clear_dir(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)?.flatten() {
        let p = entry.path();
        if p.is_file() {
            fs::remove_file(p)?;
        }
    }
    Ok(())
}

/// The marker of a merged job, if it matches this fingerprint and output.
pub fn read_done(dir: &Path, fingerprint: &str, output: &Path) -> Option<Done> {
    let done: Done = serde_json::from_str(&fs::read_to_string(dir.join(DONE)).ok()?).ok()?;
    let size = fs::metadata(output).ok()?.len();
    (done.fingerprint == fingerprint && done.output_size == size).then_some(done)
}

/// Marks a job merged: segments and ledger go (unless kept), the marker stays.
pub fn write_done(dir: &Path, done: &Done, keep_segments: bool) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    if !keep_segments {
        clear_dir(dir)?;
    }
    let tmp = dir.join("done.json.part");
    fs::write(&tmp, serde_json::to_vec(done).expect("JSON"))?;
    fs::rename(tmp, dir.join(DONE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_only_what_is_on_disk_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("job");
        {
            let l = Ledger::open(&dir, "fp", false).unwrap();
            fs::write(segment_path(&dir, 1), b"abc").unwrap();
            l.record(1, 3).unwrap();
            fs::write(segment_path(&dir, 2), b"ab").unwrap();
            l.record(2, 3).unwrap(); // size on disk differs
            fs::write(segment_path(&dir, 6), b"whole").unwrap(); // renamed, not yet listed
            fs::write(part_path(&dir, 3), b"partial").unwrap();
            // A line cut short by a kill.
            l.file
                .lock()
                .unwrap()
                .write_all(b"{\"index\":4,\"si")
                .unwrap();
        }
        let l = Ledger::open(&dir, "fp", false).unwrap();
        assert_eq!(l.complete.len(), 2);
        assert_eq!(l.complete.get(&1), Some(&3));
        assert_eq!(l.complete.get(&6), Some(&5));
        assert!(!segment_path(&dir, 2).exists());
        assert!(!part_path(&dir, 3).exists());

        // Another fingerprint: nothing is reused.
        let l = Ledger::open(&dir, "other", false).unwrap();
        assert!(l.complete.is_empty());
        assert!(!segment_path(&dir, 1).exists());

        // After a cut line, the next entry is still read.
        let dir2 = tmp.path().join("cut");
        {
            let l = Ledger::open(&dir2, "fp", false).unwrap();
            l.file
                .lock()
                .unwrap()
                .write_all(b"{\"index\":9,\"si")
                .unwrap();
        }
        {
            let l = Ledger::open(&dir2, "fp", false).unwrap();
            fs::write(segment_path(&dir2, 5), b"12345").unwrap();
            l.record(5, 5).unwrap();
        }
        let l = Ledger::open(&dir2, "fp", false).unwrap();
        assert_eq!(l.complete.get(&5), Some(&5));
    }
}
