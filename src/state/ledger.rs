//! The per-job ledger under `output_dir/.snatch/<job>/`: which segments are
//! saved, so that a rerun after any stop (`kill -9` included) fetches only
//! what is missing. Segments live one after another in the job's spool
//! ([`super::spool`]); `ledger.jsonl` has a line per saved segment with its
//! index, offset, size and CRC-32 and a checksum of the line itself,
//! written only once its bytes are in the spool whole and checked. A
//! segment counts as saved only when its line is whole and passes the
//! checks of [`lines`], and its bytes still match the checksum; on open,
//! the spool is cut back to the end of the last such segment.
//!
//! Saved segments are keyed by the job (its folder) and the index. The
//! header records the job's *path identity* — scheme, host and path of its
//! URL, secrets masked, no query — so a rerun keeps them when the range,
//! the `length`, a token in the query or a `${…}` value changed, and
//! refuses (deleting nothing) when the path changed: another video. Each
//! line of a template job also records the path identity its segment was
//! fetched from ([`Ledger::with_paths`]): a saved segment is reused only
//! where the job still renders that path for its index, so a job whose
//! later indices now come from elsewhere fetches them again. Only
//! indices, places, checksums and those identities are written — never a
//! header or a value from the environment. Every file goes through
//! [`super::store`].

mod done;
mod legacy;
mod lines;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::lock::LOCK;
use super::spool::{Saved, Spool, SPOOL};
use super::store::{self, Durability};
use crate::media::clock::Timing;
use done::DONE;
pub use done::{read_done, remove_done, write_done, Done};
use lines::{entries, still_whole, whole_lines, Entry, Seal};

const LEDGER: &str = "ledger.jsonl";
/// The ledger format: 4 has a checksum on each line; 3 (read, its lines
/// unsealed) had none; 2 listed a file per segment, 1 a whole-job
/// fingerprint.
const VERSION: u32 = 4;
const UNSEALED: u32 = 3;

#[derive(Serialize, Deserialize)]
struct Header {
    snatch_ledger: u32,
    #[serde(default)]
    identity: Option<String>,
}

/// The path identity the job renders for an index now (`None` when it
/// renders none).
pub type PathOf = Arc<dyn Fn(u64) -> Option<String> + Send + Sync>;

/// A job's ledger and spool, open for saving segments.
pub struct Ledger {
    dir: PathBuf,
    file: Mutex<File>,
    spool: Spool,
    /// Segments saved by earlier runs: index → place in the spool.
    pub complete: HashMap<u64, Saved>,
    /// The paths the saved segments' lines record, where they do.
    recorded: HashMap<u64, String>,
    /// What each saved segment's timestamps tell, where its line records
    /// it (earlier runs' and this one's).
    timings: Mutex<HashMap<u64, Timing>>,
    /// How a new line learns its segment's path; `None`: not recorded.
    path_of: Option<PathOf>,
    /// Saved segments left out of `complete` by [`Ledger::with_paths`]:
    /// their lines record another path than the job renders now.
    pub other_paths: usize,
    /// Segments recorded since the ledger opened, and their bytes.
    landed: Mutex<(u64, u64)>,
}

/// Why a ledger could not be opened.
#[derive(Debug)]
pub enum OpenError {
    Io(io::Error),
    /// A state file could not be used.
    File {
        path: PathBuf,
        error: io::Error,
    },
    /// Segments are saved for another URL path; nothing was deleted.
    OtherVideo {
        saved: usize,
        /// The identity they were saved under, if the ledger says.
        was: Option<String>,
    },
    /// The ledger's header is not one this snatch reads, and segments are
    /// saved: nothing was deleted.
    Unreadable {
        path: PathBuf,
        /// The format a newer snatch wrote; `None` for a damaged header.
        newer: Option<u32>,
    },
}

impl From<io::Error> for OpenError {
    fn from(e: io::Error) -> Self {
        OpenError::Io(e)
    }
}

/// An error on the state file at `path`, naming it.
fn at(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |error| OpenError::File {
        path: path.to_path_buf(),
        error,
    }
}

/// Refuses a ledger whose header this snatch cannot read (a newer format,
/// or damaged) when segments are saved beside it.
fn readable(dir: &Path, text: Option<&str>) -> Result<(), OpenError> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(());
    };
    let newer = match header(text) {
        Some(h) if h.snatch_ledger > VERSION => Some(h.snatch_ledger),
        Some(_) => return Ok(()),
        None => None,
    };
    let spooled = std::fs::symlink_metadata(dir.join(SPOOL)).is_ok_and(|m| m.len() > 0);
    if newer.is_none() && !spooled && legacy::scan(dir)?.is_empty() {
        return Ok(());
    }
    Err(OpenError::Unreadable {
        path: dir.join(LEDGER),
        newer,
    })
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

/// The ledger's text: its header and `entries`, a line each.
fn ledger_text(identity: &str, entries: &[Entry]) -> String {
    let header = Header {
        snatch_ledger: VERSION,
        identity: Some(identity.to_string()),
    };
    let mut text = serde_json::to_string(&header).expect("JSON") + "\n";
    for e in entries {
        text.push_str(&e.sealed().text());
    }
    text
}

impl Ledger {
    /// Opens (or starts) the ledger in the state folder `dir` (below
    /// `root`, already checked and locked by the caller). Saved segments
    /// of the same path identity are kept; with another identity they are
    /// refused, unless `restart` (`--force`) discards everything first.
    /// Leftover `.part` files are removed; segments saved by an older
    /// snatch, a file each, move into the spool.
    pub fn open(
        root: &Path,
        dir: &Path,
        identity: &str,
        restart: bool,
    ) -> Result<Ledger, OpenError> {
        store::ensure_dir(root, dir)?;
        if restart {
            store::clear_dir(root, dir, &[LOCK])?;
        }
        legacy::remove_parts(dir)?;
        let path = dir.join(LEDGER);
        let text = read_text(&path).map_err(at(&path))?;
        readable(dir, text.as_deref())?;
        let header = text.as_deref().and_then(header);
        let same = header
            .as_ref()
            .is_some_and(|h| h.identity.as_deref() == Some(identity));
        let spooled = std::fs::symlink_metadata(dir.join(SPOOL)).is_ok_and(|m| m.len() > 0);
        match header.as_ref().map(|h| h.snatch_ledger) {
            Some(VERSION) if same => Ledger::resume(dir, identity, text.as_deref(), Seal::Required),
            Some(UNSEALED) if same => Ledger::resume(dir, identity, text.as_deref(), Seal::Absent),
            // Format 2 had no spool: one beside its header was written by
            // a later snatch, and its lines are read as that one's (each
            // checked), not thrown away.
            Some(legacy::VERSION) if same && spooled => {
                Ledger::resume(dir, identity, text.as_deref(), Seal::Required)
            }
            Some(legacy::VERSION) if same => {
                let listed = legacy::listed(text.as_deref().unwrap_or_default());
                Ledger::resume_legacy(dir, identity, &listed)
            }
            _ => {
                let saved = saved_count(dir, text.as_deref())?;
                if saved > 0 {
                    return Err(OpenError::OtherVideo {
                        saved,
                        was: header.and_then(|h| h.identity),
                    });
                }
                store::clear_dir(root, dir, &[LOCK, DONE])?;
                let spool = Spool::open(dir).map_err(at(&dir.join(SPOOL)))?;
                Ledger::start(dir, identity, spool, Vec::new(), Durability::Unsynced)
            }
        }
    }

    /// Reopens a ledger of this format: what is still whole is kept, the
    /// spool is cut after it, and a ledger that listed more is rewritten.
    fn resume(
        dir: &Path,
        identity: &str,
        text: Option<&str>,
        seal: Seal,
    ) -> Result<Ledger, OpenError> {
        let text = text.unwrap_or_default();
        let listed = entries(text, seal);
        let spool = Spool::open(dir).map_err(at(&dir.join(SPOOL)))?;
        let whole = still_whole(&spool, &listed).map_err(at(spool.path()))?;
        let end = whole.iter().map(|e| e.saved().end()).max().unwrap_or(0);
        spool.cut(end).map_err(at(spool.path()))?;
        // Files an older snatch's segments were moved from, if a stop came
        // before they went.
        let moved: Vec<u64> = legacy::scan(dir)?
            .into_keys()
            .filter(|i| whole.iter().any(|e| e.index == *i))
            .collect();
        legacy::remove_files(dir, moved.iter())?;
        let current = header(text).is_some_and(|h| h.snatch_ledger == VERSION);
        let as_written =
            current && seal == Seal::Required && whole.len() == whole_lines(text).count();
        if as_written && text.ends_with('\n') {
            return Ledger::opened(dir, spool, &whole);
        }
        // Lost to a power cut, the old ledger is back: the entries past the
        // cut fail their checksums again. Damaged lines go, and a format-3
        // ledger is written anew in this format.
        Ledger::start(dir, identity, spool, whole, Durability::Unsynced)
    }

    /// Moves the segment files of a format-2 ledger into the spool.
    fn resume_legacy(
        dir: &Path,
        identity: &str,
        listed: &HashMap<u64, u64>,
    ) -> Result<Ledger, OpenError> {
        let files = legacy::whole_files(dir, listed)?;
        let spool = Spool::open(dir).map_err(at(&dir.join(SPOOL)))?;
        spool.cut(0).map_err(at(spool.path()))?;
        let moved = legacy::into_spool(dir, &spool, &files)?;
        let ledger = Ledger::start(dir, identity, spool, moved, Durability::Synced)?;
        // Only once the new ledger lists them do the files go.
        legacy::remove_files(dir, files.keys())?;
        Ok(ledger)
    }

    /// Writes a new ledger listing `entries` (atomically), and opens it.
    /// Synced only when files are deleted on the strength of it: a new or
    /// cut-back ledger lost to a power cut costs only refetching.
    fn start(
        dir: &Path,
        identity: &str,
        spool: Spool,
        entries: Vec<Entry>,
        durability: Durability,
    ) -> Result<Ledger, OpenError> {
        let path = dir.join(LEDGER);
        let text = ledger_text(identity, &entries);
        store::replace(&path, text.as_bytes(), durability).map_err(at(&path))?;
        Ledger::opened(dir, spool, &entries)
    }

    /// The ledger open for appending, with `entries` as what is saved.
    fn opened(dir: &Path, spool: Spool, entries: &[Entry]) -> Result<Ledger, OpenError> {
        let path = dir.join(LEDGER);
        let file = store::append(&path).map_err(at(&path))?;
        Ok(Ledger {
            dir: dir.to_path_buf(),
            file: Mutex::new(file),
            spool,
            complete: entries.iter().map(|e| (e.index, e.saved())).collect(),
            recorded: entries
                .iter()
                .filter_map(|e| Some((e.index, e.path.clone()?)))
                .collect(),
            timings: Mutex::new(
                entries
                    .iter()
                    .filter_map(|e| Some((e.index, e.timing.clone()?)))
                    .collect(),
            ),
            path_of: None,
            other_paths: 0,
            landed: Mutex::new((0, 0)),
        })
    }

    /// Records each new segment's path with `path_of`, and keeps as saved
    /// only the segments whose lines record the path the job renders now
    /// for their index (or none: an older snatch's line, reused as
    /// before). The others stay in the spool, unused, and are fetched
    /// again; [`Ledger::other_paths`] counts them.
    pub fn with_paths(mut self, path_of: Option<PathOf>) -> Ledger {
        if let Some(now) = &path_of {
            let other: Vec<u64> = (self.recorded.iter())
                .filter(|(i, was)| self.complete.contains_key(i) && now(**i).as_ref() != Some(*was))
                .map(|(i, _)| *i)
                .collect();
            for i in &other {
                self.complete.remove(i);
            }
            self.other_paths = other.len();
        }
        self.path_of = path_of;
        self
    }

    /// Records a saved segment, its bytes already whole at `saved` in the
    /// spool; from this line on it counts.
    /// `timing` is what its own timestamps tell, if anything.
    pub fn record(
        &self,
        index: u64,
        saved: Saved,
        crc32: u32,
        timing: Option<Timing>,
    ) -> io::Result<()> {
        let path = self.path_of.as_ref().and_then(|f| f(index));
        let line = Entry::new(index, saved, crc32, path)
            .timed(timing.clone())
            .text();
        self.file.lock().expect("lock").write_all(line.as_bytes())?;
        let mut timings = self.timings.lock().expect("lock");
        match timing {
            Some(t) => timings.insert(index, t),
            None => timings.remove(&index),
        };
        drop(timings);
        let mut landed = self.landed.lock().expect("lock");
        *landed = (landed.0 + 1, landed.1 + saved.size);
        Ok(())
    }

    /// What the saved segment `index`'s own timestamps tell, if its line
    /// records it.
    pub fn timing(&self, index: u64) -> Option<Timing> {
        self.timings.lock().expect("lock").get(&index).cloned()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Segments recorded since the ledger opened, and their bytes.
    pub fn landed(&self) -> (u64, u64) {
        *self.landed.lock().expect("lock")
    }

    /// Flushes the ledger to disk, when a job stops short and its saved
    /// segments are what a rerun starts from. A job that merges does not
    /// wait for it (on ext4 it waits for every dirty byte of the spool and
    /// the output): its spool goes, or a line lost to a power cut costs a
    /// refetch. The spool is left to the kernel: after a crash that lost
    /// some of its bytes, their checksums no longer match and those
    /// segments are fetched again.
    pub fn sync(&self) -> io::Result<()> {
        self.file.lock().expect("lock").sync_data()
    }
}

/// How many segments the state folder holds for whatever identity its
/// ledger names: entries whose bytes the spool has, and segment files of
/// an older snatch.
fn saved_count(dir: &Path, text: Option<&str>) -> io::Result<usize> {
    let spooled = match std::fs::symlink_metadata(dir.join(SPOOL)) {
        Ok(m) if m.is_file() => {
            let len = m.len();
            let listed = entries(text.unwrap_or_default(), Seal::Absent);
            lines::placed(&listed, len).len()
        }
        _ => 0,
    };
    Ok(spooled + legacy::scan(dir)?.len())
}

/// When the ledger in `dir` was last written (its newest save), if it is
/// there.
pub fn saved_at(dir: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::symlink_metadata(dir.join(LEDGER)).ok()?;
    meta.is_file().then(|| meta.modified().ok())?
}

/// Removes the spool and the ledger of a merged job; the marker and the
/// lock stay. The ledger goes last, so that a kill in between leaves
/// nothing it lists without its bytes unnoticed (they fail the checksum).
pub fn clear_segments(root: &Path, dir: &Path) -> io::Result<()> {
    store::clear_dir(root, dir, &[LOCK, DONE, LEDGER])?;
    let ledger = dir.join(LEDGER);
    store::remove_file(&ledger).map_err(store::at(&ledger))
}

/// The saved segments the ledger in `dir` lists whose lines are intact
/// and whose ranges the spool can hold (their bytes unchecked): index →
/// place.
fn listed(dir: &Path) -> io::Result<Vec<(u64, Saved)>> {
    let text = read_text(&dir.join(LEDGER))?.unwrap_or_default();
    let seal = match header(&text).map(|h| h.snatch_ledger) {
        Some(VERSION) => Seal::Required,
        _ => Seal::Absent,
    };
    let len = match std::fs::symlink_metadata(dir.join(SPOOL)) {
        Ok(m) if m.is_file() => m.len(),
        _ => 0,
    };
    Ok(lines::placed(&entries(&text, seal), len)
        .into_iter()
        .map(|e| (e.index, e.saved()))
        .collect())
}

/// The header of a ledger's text, when it is one snatch reads.
fn header(text: &str) -> Option<Header> {
    serde_json::from_str(text.lines().next()?).ok()
}

/// Removes the spool and the ledger once the merge used every segment they
/// hold (`merged` says which indices it used), as [`clear_segments`]. When
/// they also hold segments of indices the job no longer has (a wider range
/// before), both stay whole: no saved work goes unasked.
pub fn clear_merged(root: &Path, dir: &Path, merged: &dyn Fn(u64) -> bool) -> io::Result<()> {
    store::ensure_dir(root, dir)?;
    if all_merged(dir, merged)? {
        clear_segments(root, dir)?;
    }
    Ok(())
}

/// Whether the merge used every segment the ledger in `dir` lists
/// (`merged` says which indices it used).
pub fn all_merged(dir: &Path, merged: &dyn Fn(u64) -> bool) -> io::Result<bool> {
    Ok(listed(dir)?.iter().all(|(index, _)| merged(*index)))
}

/// The indices of the segments the ledger in `dir` lists, read only
/// (nothing opened for writing, nothing cut or removed): lines intact and
/// ranges the spool can hold, their bytes unchecked. What a page shows of
/// a job in progress; a run checks each again.
pub fn listed_indices(dir: &Path) -> io::Result<Vec<u64>> {
    Ok(listed(dir)?.into_iter().map(|(index, _)| index).collect())
}

/// Whether the spool or the ledger is still in `dir`.
pub fn has_segments(dir: &Path) -> bool {
    [SPOOL, LEDGER]
        .iter()
        .any(|n| std::fs::symlink_metadata(dir.join(n)).is_ok())
}

/// Writes every saved segment that `wanted` names as a file of its own,
/// `dir/segments/<index>.<ext>` (`--keep-segments`); the spool and the
/// ledger stay. Returns how many were written.
pub fn export(
    root: &Path,
    dir: &Path,
    wanted: &dyn Fn(u64) -> bool,
    ext: &str,
) -> io::Result<usize> {
    let out = dir.join("segments");
    store::ensure_dir(root, &out)?;
    let spool = store::open_read(&dir.join(SPOOL))?;
    let mut count = 0;
    let mut buf = Vec::new();
    for (index, saved) in listed(dir)?.into_iter().filter(|(i, _)| wanted(*i)) {
        buf.resize(saved.size as usize, 0);
        super::spool::read_at(&spool, saved.offset, &mut buf)?;
        store::replace(
            &out.join(format!("{index}.{ext}")),
            &buf,
            Durability::Unsynced,
        )?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests;
