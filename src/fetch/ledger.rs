//! The per-job ledger under `output_dir/.snatch/<job>/`: which segments are
//! complete, so that a rerun after any stop (`kill -9` included) fetches only
//! what is missing. A segment counts as complete only when its file is
//! there whole (it is renamed from `.part` once checked) and, when the
//! ledger lists it, with the listed size; `.part` files never count.
//!
//! Saved segments are keyed by the job (its folder) and the index. The
//! header records the job's *path identity* — scheme, host and path of its
//! URL, secrets masked, no query — so a rerun keeps them when the range,
//! the `length`, a token in the query or a `${…}` value changed, and
//! refuses (deleting nothing) when the path changed: another video. Only
//! indices and sizes and that identity are written — never a header or a
//! value from the environment. Every file goes through [`super::store`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::lock::LOCK;
use super::store;

const LEDGER: &str = "ledger.jsonl";
const DONE: &str = "done.json";
/// The ledger format; 1 recorded a whole-job fingerprint.
const VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Header {
    snatch_ledger: u32,
    #[serde(default)]
    identity: Option<String>,
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

/// Why a ledger could not be opened.
#[derive(Debug)]
pub enum OpenError {
    Io(io::Error),
    /// Segments are saved for another URL path; nothing was deleted.
    OtherVideo {
        saved: usize,
        /// The identity they were saved under, if the ledger says.
        was: Option<String>,
    },
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        OpenError::Io(e)
    }
}

/// The file a complete segment is kept in.
pub fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index}.ts"))
}

/// The index of a complete segment file (`<index>.ts`).
fn segment_index(name: &std::ffi::OsStr) -> Option<u64> {
    name.to_str()?.strip_suffix(".ts")?.parse().ok()
}

/// The file a segment is written to while it arrives.
pub fn part_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index}.ts.part"))
}

/// A file's text, or `None` when it does not exist; a link is refused.
fn read_text(path: &Path) -> io::Result<Option<String>> {
    let mut file = match store::open_read(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The complete segment files in `dir` (index → size); `.part` files are
/// removed. A link among them is refused.
fn scan(dir: &Path) -> io::Result<HashMap<u64, u64>> {
    let mut found = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_part = name.to_str().is_some_and(|n| n.ends_with(".part"));
        let Some(index) = segment_index(&name).filter(|_| !is_part) else {
            if is_part {
                store::remove_file(&entry.path())?;
            }
            continue;
        };
        let meta = entry.metadata()?; // of the entry itself, not a link's target
        if meta.file_type().is_symlink() {
            return Err(store::refused(&entry.path()));
        }
        if meta.is_file() && meta.len() > 0 {
            found.insert(index, meta.len());
        }
    }
    Ok(found)
}

impl Ledger {
    /// Opens (or starts) the ledger in the state folder `dir` (below
    /// `root`, already checked and locked by the caller). Saved segments
    /// of the same path identity are kept; with another identity they are
    /// refused, unless `restart` (`--force`) discards everything first.
    /// Leftover `.part` files are removed.
    pub fn open(
        root: &Path,
        dir: &Path,
        identity: &str,
        restart: bool,
    ) -> Result<Ledger, OpenError> {
        store::ensure_dir(root, dir)?;
        let path = dir.join(LEDGER);
        if restart {
            store::clear_dir(root, dir, &[LOCK])?;
        }
        let existing = read_text(&path)?;
        let header = existing
            .as_deref()
            .and_then(|t| t.lines().next())
            .and_then(|l| serde_json::from_str::<Header>(l).ok());
        let same = header
            .as_ref()
            .is_some_and(|h| h.snatch_ledger == VERSION && h.identity.as_deref() == Some(identity));
        let on_disk = scan(dir)?;
        let mut complete = HashMap::new();
        if same {
            // A line cut short by a kill is skipped.
            let listed: HashMap<u64, u64> = existing
                .as_deref()
                .unwrap_or_default()
                .lines()
                .skip(1)
                .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
                .map(|e| (e.index, e.size))
                .collect();
            // A kill between the rename and the ledger line leaves a
            // segment unlisted but whole.
            for (index, size) in on_disk {
                match listed.get(&index) {
                    Some(&want) if want != size => {
                        store::remove_file(&segment_path(dir, index))?;
                    }
                    _ => {
                        complete.insert(index, size);
                    }
                }
            }
        } else if !on_disk.is_empty() {
            return Err(OpenError::OtherVideo {
                saved: on_disk.len(),
                was: header.and_then(|h| h.identity),
            });
        } else {
            store::clear_dir(root, dir, &[LOCK, DONE])?;
        }
        let cut_short = same && existing.is_some_and(|t| !t.is_empty() && !t.ends_with('\n'));
        let mut file = store::append(&path)?;
        if cut_short {
            // End the line a kill cut short, so the next entry stands alone.
            file.write_all(b"\n")?;
        }
        if !same {
            let header = Header {
                snatch_ledger: VERSION,
                identity: Some(identity.to_string()),
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

/// The marker of a merged job, if it matches this fingerprint.
pub fn read_done(dir: &Path, fingerprint: &str) -> Option<Done> {
    let done: Done = serde_json::from_str(&read_text(&dir.join(DONE)).ok()??).ok()?;
    (done.fingerprint == fingerprint).then_some(done)
}

/// Marks a job merged and verified, atomically. Written before the output
/// is moved into place and before any cleanup, so that a kill at any
/// instant after it leaves the verified file findable.
pub fn write_done(dir: &Path, done: &Done) -> io::Result<()> {
    store::replace(&dir.join(DONE), &serde_json::to_vec(done).expect("JSON"))
}

/// Forgets an earlier merge: the job is about to run again.
pub fn remove_done(dir: &Path) -> io::Result<()> {
    store::remove_file(&dir.join(DONE))
}

/// Removes the segments and the ledger of a merged job; the marker and
/// the lock stay. The ledger goes last, so that segments a kill leaves
/// behind are still known as this job's.
pub fn clear_segments(root: &Path, dir: &Path) -> io::Result<()> {
    store::clear_dir(root, dir, &[LOCK, DONE, LEDGER])?;
    store::remove_file(&dir.join(LEDGER))
}

/// Removes the segments a merge used (those `merged` names) and, when no
/// other is left, the ledger too, as [`clear_segments`]. Segments saved
/// for indices the job no longer has (a wider range before) are kept, and
/// the ledger that makes them this job's with them: no saved work goes
/// unasked.
pub fn clear_merged(root: &Path, dir: &Path, merged: &dyn Fn(u64) -> bool) -> io::Result<()> {
    store::ensure_dir(root, dir)?;
    let mut others = false;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        match segment_index(&entry.file_name()) {
            Some(index) if merged(index) => store::remove_file(&entry.path())?,
            Some(_) => others = true,
            None => {}
        }
    }
    if others {
        return Ok(());
    }
    clear_segments(root, dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn open(dir: &Path, identity: &str) -> Result<Ledger, OpenError> {
        Ledger::open(dir.parent().unwrap(), dir, identity, false)
    }

    #[test]
    fn resumes_only_what_is_on_disk_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("job");
        {
            let l = open(&dir, "id").unwrap();
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
        let l = open(&dir, "id").unwrap();
        assert_eq!(l.complete.len(), 2);
        assert_eq!(l.complete.get(&1), Some(&3));
        assert_eq!(l.complete.get(&6), Some(&5));
        assert!(!segment_path(&dir, 2).exists());
        assert!(!part_path(&dir, 3).exists());

        // After a cut line, the next entry is still read.
        let dir2 = tmp.path().join("cut");
        {
            let l = open(&dir2, "id").unwrap();
            l.file
                .lock()
                .unwrap()
                .write_all(b"{\"index\":9,\"si")
                .unwrap();
        }
        {
            let l = open(&dir2, "id").unwrap();
            fs::write(segment_path(&dir2, 5), b"12345").unwrap();
            l.record(5, 5).unwrap();
        }
        let l = open(&dir2, "id").unwrap();
        assert_eq!(l.complete.get(&5), Some(&5));
    }

    #[test]
    fn done_is_written_whole_and_cleanup_keeps_it_and_the_lock() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("job");
        let l = open(&dir, "id").unwrap();
        fs::write(segment_path(&dir, 1), b"abc").unwrap();
        l.record(1, 3).unwrap();
        fs::write(dir.join(LOCK), b"1\n").unwrap();
        let done = Done {
            fingerprint: "fp".into(),
            output_size: 9,
            duration_s: 1.5,
            streams: vec!["video".into()],
        };
        write_done(&dir, &done).unwrap();
        assert_eq!(read_done(&dir, "fp"), Some(done));
        assert_eq!(read_done(&dir, "other"), None);
        clear_segments(tmp.path(), &dir).unwrap();
        let mut left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, [DONE, LOCK]);
        remove_done(&dir).unwrap();
        assert!(read_done(&dir, "fp").is_none());
    }

    #[test]
    fn another_identity_is_refused_and_nothing_is_deleted_unless_restarted() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("job");
        {
            let l = open(&dir, "https://h/a/{i}.ts").unwrap();
            fs::write(segment_path(&dir, 1), b"abc").unwrap();
            l.record(1, 3).unwrap();
        }
        match open(&dir, "https://h/b/{i}.ts") {
            Err(OpenError::OtherVideo { saved: 1, was }) => {
                assert_eq!(was.as_deref(), Some("https://h/a/{i}.ts"))
            }
            Err(e) => panic!("{e:?}"),
            Ok(_) => panic!("reused another video's segments"),
        }
        assert!(segment_path(&dir, 1).exists());
        let l = Ledger::open(tmp.path(), &dir, "https://h/b/{i}.ts", true).unwrap();
        assert!(l.complete.is_empty());
        assert!(!segment_path(&dir, 1).exists());
        drop(l);
        // With nothing saved, another identity starts afresh.
        assert!(open(&dir, "https://h/c/{i}.ts").is_ok());
    }
}
