//! A segment on its way into the job's spool: checked as it arrives,
//! kept in memory while small, written into the spool as it arrives when
//! large, and recorded in the ledger only once whole and checked. File
//! work runs on the blocking pool, counted so that an interrupted run can
//! wait for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::ledger::Ledger;
use super::spool::Saved;
use crate::media::{Check, CheckError};

/// Bodies up to this size are kept in memory and saved with one trip to
/// the blocking pool (written into the spool, recorded in the ledger);
/// larger ones go to the spool in pieces of this size as they arrive. It
/// bounds what each segment in flight holds: at 512 KiB, 3,000 segments
/// of 1 MB from nginx peaked at 54–65 MiB, at 256 KiB 46–48 MiB, in the
/// same time.
const SPILL: usize = 256 * 1024;

/// Segment bytes being written or recorded on the blocking pool, run-wide.
static STORING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One write on the blocking pool, counted in [`STORING`] until dropped.
struct Storing;

impl Storing {
    fn begin() -> Storing {
        STORING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Storing
    }
}

impl Drop for Storing {
    fn drop(&mut self) {
        STORING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Waits (up to `limit`) until no segment is being written: an aborted
/// segment task's blocking write goes on to its ledger line, and an
/// interrupted run counts what landed only once it is done.
pub async fn stores_settled(limit: Duration) {
    let until = tokio::time::Instant::now() + limit;
    while STORING.load(std::sync::atomic::Ordering::SeqCst) > 0
        && tokio::time::Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Why a segment could not be saved.
pub(crate) enum PartError {
    /// The body is not a valid segment by its bytes.
    Check(CheckError),
    /// The body is not what its answer announced.
    Invalid(String),
    /// The disk refused it.
    Storage(String),
    /// The body went past the job's `max_bytes`.
    TooLarge(u64),
}

/// A saved segment: its place in the spool, and its bytes when they were
/// still whole in memory (the merge takes them from there).
pub(crate) struct Stored {
    pub saved: Saved,
    pub body: Option<Bytes>,
}

/// Where the bytes of a large segment go before it is whole (a small one
/// stays in memory and has none).
enum Place {
    /// Straight into the range of the spool reserved for its room (its
    /// announced length, or at most that); `written` bytes of it so far.
    Spool { offset: u64, written: u64 },
    /// A large body of unknown length: its own `.part` file first, copied
    /// into the spool once whole.
    Spill { file: Option<std::fs::File> },
}

impl Place {
    /// Writes `buf`, the next bytes of segment `index`, where they go.
    fn write(&mut self, ledger: &Ledger, index: u64, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Place::Spool { offset, written } => {
                ledger.spool().write_at(*offset + *written, buf)?;
                *written += buf.len() as u64;
            }
            Place::Spill { file } => {
                let f = match file {
                    Some(f) => f,
                    None => file.insert(super::store::create(&spill_path(ledger.dir(), index))?),
                };
                std::io::Write::write_all(f, buf)?;
            }
        }
        Ok(())
    }

    /// The whole segment's place in the spool, once its last bytes are
    /// written: where it was written, or where its `.part` file is copied.
    fn into_saved(self, ledger: &Ledger, index: u64, size: u64) -> std::io::Result<Saved> {
        match self {
            Place::Spool { offset, .. } => Ok(Saved { offset, size }),
            Place::Spill { file } => {
                drop(file);
                spill_into_spool(ledger, index, size)
            }
        }
    }
}

/// A segment on its way into the job's spool, checked as it arrives, and
/// recorded in the ledger only once whole and checked.
pub(crate) struct Part {
    ledger: Arc<Ledger>,
    index: u64,
    buf: Vec<u8>,
    /// Where the bytes go once they leave memory; `None` while all are in
    /// `buf`.
    place: Option<Place>,
    check: Check,
    crc: crc32fast::Hasher,
    max: u64,
    /// The announced length, when known: a body of another length is
    /// refused.
    expected: Option<u64>,
    /// The most the body may hold, when known (the announced length, or
    /// that of an encrypted body): more is refused, and a large body is
    /// written into the range of the spool reserved for it as it arrives.
    room: Option<u64>,
}

/// The file a large body of unknown length goes to while it arrives.
pub(crate) fn spill_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index}.part"))
}

impl Part {
    /// Nothing touches the disk until the first spill.
    pub(crate) fn new(ledger: &Arc<Ledger>, index: u64, max: u64, expected: Option<u64>) -> Part {
        // A local file past the cap is refused by the cap, not reserved.
        let expected = expected.filter(|&n| n <= max);
        Part {
            expected,
            ..Part::at_most(ledger, index, max, expected)
        }
    }

    /// A body of unknown length but at most `room` bytes when known (a
    /// decrypted one: its padding is cut).
    pub(crate) fn at_most(ledger: &Arc<Ledger>, index: u64, max: u64, room: Option<u64>) -> Part {
        let room = room.filter(|&n| n <= max);
        let first = room.map_or(64 * 1024, |n| n.min(SPILL as u64 + 1) as usize);
        Part {
            ledger: ledger.clone(),
            index,
            buf: Vec::with_capacity(first),
            place: None,
            check: Check::new(),
            crc: crc32fast::Hasher::new(),
            max,
            expected: None,
            room,
        }
    }

    /// Takes the next chunk; refuses it whole when it would go past the
    /// cap or the announced length, so that nothing beyond either is ever
    /// written.
    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<(), PartError> {
        self.take(chunk)?;
        self.buf.extend_from_slice(chunk);
        if self.buf.len() >= SPILL {
            self.spill().await?;
        }
        Ok(())
    }

    /// Checks a chunk against the cap, the announced length and the format.
    fn take(&mut self, chunk: &[u8]) -> Result<(), PartError> {
        let after = self.check.len + chunk.len() as u64;
        if after > self.max {
            return Err(PartError::TooLarge(self.max));
        }
        if let Some(n) = self.room.filter(|&n| after > n) {
            return Err(PartError::Invalid(format!(
                "sent more than the {n} bytes it announced"
            )));
        }
        self.check.feed(chunk).map_err(PartError::Check)?;
        self.crc.update(chunk);
        Ok(())
    }

    /// Writes what is buffered out of memory: into the spool range of its
    /// room (reserved at the first spill), or the `.part` file.
    async fn spill(&mut self) -> Result<(), PartError> {
        let mut place = match self.place.take() {
            Some(p) => p,
            None => match self.room {
                Some(n) => Place::Spool {
                    offset: self.ledger.spool().reserve(n),
                    written: 0,
                },
                None => Place::Spill { file: None },
            },
        };
        let buf = std::mem::take(&mut self.buf);
        let (ledger, index) = (self.ledger.clone(), self.index);
        let (place, mut buf) = blocking(move || {
            place.write(&ledger, index, &buf)?;
            Ok((place, buf))
        })
        .await
        .map_err(|e| self.storage_error(e))?;
        buf.clear();
        self.buf = buf;
        self.place = Some(place);
        Ok(())
    }

    /// A write that failed; a full disk says so and names the folder to
    /// free.
    fn storage_error(&self, e: std::io::Error) -> PartError {
        let spool = self.ledger.spool().path();
        if crate::common::disk::is_full(&e) {
            let folder = spool.parent().unwrap_or(spool);
            return PartError::Storage(crate::common::disk::full(
                "it could not be saved",
                folder,
                &e,
            ));
        }
        PartError::Storage(format!(
            "cannot save it in {}: {e}",
            crate::common::diag::display_path(spool)
        ))
    }

    /// Checks the whole, saves it in the spool and records it in the
    /// ledger; from then on it counts.
    pub(crate) async fn finish(mut self) -> Result<Stored, PartError> {
        self.check.finish().map_err(PartError::Check)?;
        let size = self.check.len;
        if let Some(n) = self.expected.filter(|&n| n != size) {
            return Err(PartError::Invalid(format!("sent {size} of {n} bytes")));
        }
        let crc = std::mem::take(&mut self.crc).finalize();
        let timing = self.check.timing();
        let (ledger, index) = (self.ledger.clone(), self.index);
        let buf = std::mem::take(&mut self.buf);
        let place = self.place.take();
        // One trip: the last bytes, the move into the spool, the record.
        let stored = blocking(move || {
            let (saved, body) = match place {
                None => {
                    let offset = ledger.spool().reserve(size);
                    ledger.spool().write_at(offset, &buf)?;
                    (Saved { offset, size }, Some(Bytes::from(buf)))
                }
                Some(mut place) => {
                    place.write(&ledger, index, &buf)?;
                    (place.into_saved(&ledger, index, size)?, None)
                }
            };
            ledger.record(index, saved, crc, timing)?;
            Ok(Stored { saved, body })
        })
        .await;
        stored.map_err(|e| self.storage_error(e))
    }
}

/// Copies the `.part` file of a large body of unknown length into a range
/// of the spool, then removes it.
fn spill_into_spool(ledger: &Ledger, index: u64, size: u64) -> std::io::Result<Saved> {
    use std::io::Read;
    let path = spill_path(ledger.dir(), index);
    let mut file = super::store::open_read(&path)?;
    let offset = ledger.spool().reserve(size);
    let mut buf = vec![0u8; SPILL];
    let mut done = 0u64;
    while done < size {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        ledger.spool().write_at(offset + done, &buf[..n])?;
        done += n as u64;
    }
    super::store::remove_file(&path)?;
    Ok(Saved { offset, size })
}

/// Runs file work on the blocking pool, counted in [`STORING`] until it
/// ends (also when the awaiting task was aborted: an interrupted run waits
/// for it before counting).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let storing = Storing::begin();
    tokio::task::spawn_blocking(move || {
        let _storing = storing;
        work()
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|r| r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::TS_SYNC;

    fn ledger(dir: &Path) -> Arc<Ledger> {
        Arc::new(Ledger::open(dir, &dir.join("job"), "id", false).unwrap())
    }

    fn spooled(ledger: &Ledger, saved: Saved) -> Vec<u8> {
        let mut buf = vec![0; saved.size as usize];
        ledger.spool().read_at(saved.offset, &mut buf).unwrap();
        buf
    }

    /// Packets of a stream that starts in each (payload only, PID 0x100).
    fn body(spills: usize) -> Vec<u8> {
        let mut packet = [0u8; 188];
        packet[..4].copy_from_slice(&[TS_SYNC, 0x41, 0x00, 0x10]);
        packet.repeat(SPILL * spills / 188 + 7)
    }

    #[tokio::test]
    async fn a_segment_counts_only_once_whole_checked_and_recorded() {
        let tmp = tempfile::tempdir().unwrap();
        let l = ledger(tmp.path());
        // Three spills' worth and a bit, its length announced: written into
        // the spool as it arrives, recorded at the end.
        let large = body(3);
        let mut part = Part::new(&l, 9, u64::MAX, Some(large.len() as u64));
        for chunk in large.chunks(10_000) {
            part.write(chunk).await.ok().unwrap();
        }
        assert!(l.spool().end() >= large.len() as u64, "a large body spills");
        assert_eq!(l.landed(), (0, 0), "nothing counts before it is whole");
        let stored = part.finish().await.ok().unwrap();
        assert!(stored.body.is_none());
        assert_eq!(spooled(&l, stored.saved), large);
        assert_eq!(l.landed(), (1, large.len() as u64));

        // Unannounced: its own `.part` file first, then into the spool.
        let mut part = Part::new(&l, 10, u64::MAX, None);
        for chunk in large.chunks(10_000) {
            part.write(chunk).await.ok().unwrap();
        }
        assert!(spill_path(l.dir(), 10).exists());
        let stored = part.finish().await.ok().unwrap();
        assert!(!spill_path(l.dir(), 10).exists());
        assert_eq!(spooled(&l, stored.saved), large);

        // A small one is saved with its bytes kept for the merge.
        let small = &large[..188 * 10];
        let mut part = Part::new(&l, 11, u64::MAX, None);
        part.write(small).await.ok().unwrap();
        let stored = part.finish().await.ok().unwrap();
        assert_eq!(stored.body.as_deref(), Some(small));
        assert_eq!(spooled(&l, stored.saved), small);

        // A body cut mid-packet is refused and never recorded.
        let mut part = Part::new(&l, 12, u64::MAX, None);
        part.write(&large[..1000]).await.ok().unwrap();
        assert!(matches!(part.finish().await, Err(PartError::Check(_))));
        assert_eq!(l.landed().0, 3);
        let reopened = Ledger::open(tmp.path(), l.dir(), "id", false).unwrap();
        let mut saved: Vec<_> = reopened.complete.keys().copied().collect();
        saved.sort();
        assert_eq!(saved, [9, 10, 11]);
    }

    #[tokio::test]
    async fn nothing_beyond_the_cap_or_the_announced_length_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let l = ledger(tmp.path());
        let large = body(3);
        // A chunk that would pass the cap is refused whole.
        let cap = (SPILL + 100_000) as u64;
        let mut part = Part::new(&l, 11, cap, None);
        let mut refused = None;
        for chunk in large.chunks(50_000) {
            if let Err(e) = part.write(chunk).await {
                refused = Some(e);
                break;
            }
        }
        assert!(matches!(refused, Some(PartError::TooLarge(c)) if c == cap));
        let on_disk = std::fs::metadata(spill_path(l.dir(), 11)).unwrap().len();
        assert!(on_disk <= cap, "{on_disk} bytes on disk");

        // More than the announced length never reaches past the range
        // reserved for it, where the next segment's bytes go.
        let announced = (SPILL + 188 * 10) as u64;
        let mut part = Part::new(&l, 12, u64::MAX, Some(announced));
        let mut refused = None;
        for chunk in large.chunks(50_000) {
            if let Err(e) = part.write(chunk).await {
                refused = Some(e);
                break;
            }
        }
        assert!(matches!(refused, Some(PartError::Invalid(ref m)) if m.contains("announced")));
        let spool_len = std::fs::metadata(l.spool().path()).unwrap().len();
        assert!(spool_len <= announced, "{spool_len} bytes in the spool");
    }
}
