//! `done.json`: the marker of a merged and verified job, with what a
//! rerun needs to find its output (and finish a tidy-up a kill cut short).

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::super::store::{self, Durability};
use super::read_text;

pub(super) const DONE: &str = "done.json";

/// Written once a job's output is merged and verified.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Done {
    pub fingerprint: String,
    pub output_size: u64,
    pub duration_s: f64,
    pub streams: Vec<String>,
    /// The hidden file the verified merge is in until it is renamed (its
    /// name beside the output): a rerun after a kill in between finds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp: Option<String>,
    /// The spool and the ledger go once the output is in place (the merge
    /// used every segment they hold, and they are not kept): a rerun that
    /// finds them still there, the output as recorded, removes them.
    #[serde(default)]
    pub drop_segments: bool,
}

/// The marker of a merged job, if it matches this fingerprint.
pub fn read_done(dir: &Path, fingerprint: &str) -> Option<Done> {
    let done: Done = serde_json::from_str(&read_text(&dir.join(DONE)).ok()??).ok()?;
    (done.fingerprint == fingerprint).then_some(done)
}

/// Marks a job merged and verified, atomically. Written before the output
/// is moved into place and before any cleanup, so that a kill at any
/// instant after it leaves the verified file findable. Not synced: ffmpeg
/// does not sync the output either, and a sync here would wait for every
/// byte of it; after a power cut that lost either, the rerun finds the
/// output's size not the recorded one and makes it again.
pub fn write_done(dir: &Path, done: &Done) -> io::Result<()> {
    let bytes = serde_json::to_vec(done).expect("JSON");
    store::replace(&dir.join(DONE), &bytes, Durability::Unsynced)
}

/// Forgets an earlier merge: the job is about to run again.
pub fn remove_done(dir: &Path) -> io::Result<()> {
    store::remove_file(&dir.join(DONE))
}
