//! A job's saved segments, one after another in one append-only file,
//! `segments.spool`, in the job's state folder. Space is taken by
//! [`Spool::reserve`] (an atomic add, so concurrent segments never share
//! bytes) and written with positioned writes; the ledger says which byte
//! ranges hold whole, checked segments (see [`super::ledger`]). Bytes past
//! the last recorded segment belong to nobody: a kill left them, and the
//! next open cuts them off.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::store;

/// The spool's name in the state folder.
pub const SPOOL: &str = "segments.spool";

/// Where a saved segment's bytes are in the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub offset: u64,
    pub size: u64,
}

impl Saved {
    /// The first byte after the segment.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.size)
    }
}

/// The spool file of a job, open for positioned writes and reads.
pub struct Spool {
    file: File,
    path: PathBuf,
    /// The first byte not yet given to a segment.
    end: AtomicU64,
}

impl Spool {
    /// Opens `dir/segments.spool` as it is, creating it; a link there is
    /// refused.
    pub fn open(dir: &Path) -> io::Result<Spool> {
        let path = dir.join(SPOOL);
        let file = store::open_rw(&path)?;
        let len = file.metadata()?.len();
        Ok(Spool {
            file,
            path,
            end: AtomicU64::new(len),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first byte not yet given out (the file's length once all is written).
    pub fn end(&self) -> u64 {
        self.end.load(Ordering::SeqCst)
    }

    /// Cuts the spool back to `keep` bytes: what lies past the last
    /// recorded segment is nobody's. Only before any reservation.
    pub fn cut(&self, keep: u64) -> io::Result<()> {
        if self.file.metadata()?.len() != keep {
            self.file.set_len(keep)?;
        }
        self.end.store(keep, Ordering::SeqCst);
        Ok(())
    }

    /// Takes `len` bytes at the end for one segment; returns their offset.
    pub fn reserve(&self, len: u64) -> u64 {
        self.end.fetch_add(len, Ordering::SeqCst)
    }

    /// Writes `bytes` at `offset` (inside a range this segment reserved).
    pub fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        write_at(&self.file, offset, bytes)
    }

    /// Reads exactly `buf.len()` bytes at `offset`.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        read_at(&self.file, offset, buf)
    }

    /// The CRC-32 of a saved segment's bytes, read in pieces into `buf`.
    pub fn crc(&self, saved: Saved, buf: &mut Vec<u8>) -> io::Result<u32> {
        crc_of(&self.file, saved, buf)
    }
}

/// Positioned write of all of `bytes`.
#[cfg(unix)]
pub fn write_at(file: &File, offset: u64, bytes: &[u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

/// Positioned read of exactly `buf.len()` bytes.
#[cfg(unix)]
pub fn read_at(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
pub fn write_at(file: &File, mut offset: u64, mut bytes: &[u8]) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        let n = file.seek_write(bytes, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
pub fn read_at(file: &File, mut offset: u64, mut buf: &mut [u8]) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = file.seek_read(buf, offset)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

/// The CRC-32 of `saved`'s bytes in `file`, read in pieces into `buf`.
fn crc_of(file: &File, saved: Saved, buf: &mut Vec<u8>) -> io::Result<u32> {
    const PIECE: usize = 1 << 20;
    let mut hasher = crc32fast::Hasher::new();
    let mut done = 0u64;
    while done < saved.size {
        let n = (saved.size - done).min(PIECE as u64) as usize;
        buf.resize(n, 0);
        read_at(file, saved.offset + done, buf)?;
        hasher.update(buf);
        done += n as u64;
    }
    Ok(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_never_overlap_and_open_cuts_back() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path()).unwrap();
        let a = spool.reserve(5);
        let b = spool.reserve(3);
        assert_eq!((a, b), (0, 5));
        spool.write_at(b, b"xyz").unwrap();
        spool.write_at(a, b"hello").unwrap();
        let mut buf = [0u8; 8];
        spool.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"helloxyz");
        let mut scratch = Vec::new();
        let whole = spool
            .crc(Saved { offset: 0, size: 8 }, &mut scratch)
            .unwrap();
        assert_eq!(whole, crc32fast::hash(b"helloxyz"));
        drop(spool);
        // Reopened to keep the first segment only: the rest is cut off and
        // the next reservation starts there.
        let spool = Spool::open(tmp.path()).unwrap();
        assert_eq!(spool.end(), 8);
        spool.cut(5).unwrap();
        assert_eq!(std::fs::metadata(spool.path()).unwrap().len(), 5);
        assert_eq!(spool.reserve(1), 5);
    }
}
