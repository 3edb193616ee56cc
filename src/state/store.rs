//! Files under the output folder: the one place that creates, opens,
//! renames and deletes them. A job file may come from a stranger (a pull
//! request can commit symbolic links into the output folder), so no path
//! below the output folder is ever followed through a link:
//!
//! - every folder between the output folder and the file is checked with
//!   `symlink_metadata` and created one component at a time;
//! - the file itself is opened with `O_NOFOLLOW` (and created with
//!   `O_EXCL` where a fresh inode matters), so a link at its name is an
//!   error, not a redirection;
//! - it is opened with `O_NONBLOCK` too and used only if it is a regular
//!   file, so a FIFO or a device at its name is an error naming it, never
//!   an `open` that waits forever (the flag is cleared once the file is
//!   known to be regular);
//! - deletion reads folder entries without following them, removes only
//!   regular files, and refuses a linked folder.
//!
//! The output folder itself (and what lies above it) is the operator's or
//! the job file's choice and is taken as it is.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::common::diag::display_path;
pub use crate::state::atomic::Durability;

/// A symbolic link found where snatch was about to create, open, write,
/// rename or delete; the job stops.
#[derive(Debug)]
pub struct LinkRefused {
    pub path: PathBuf,
}

impl std::fmt::Display for LinkRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is a symbolic link; snatch never follows links below the output folder (remove it)",
            display_path(&self.path)
        )
    }
}

impl std::error::Error for LinkRefused {}

/// Something other than a regular file (a FIFO, a socket, a device, a
/// folder) found where snatch was about to open a file; the job stops.
#[derive(Debug, thiserror::Error)]
#[error("{} is {kind}, not a regular file; snatch keeps only regular files there (remove it)", display_path(.path))]
pub struct NotRegular {
    pub path: PathBuf,
    pub kind: &'static str,
}

/// What kind of thing `t` is, for [`NotRegular`].
fn kind_of(t: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
    }
    if t.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// The error that refuses the non-regular file of type `t` at `path`.
fn not_regular(path: &Path, t: fs::FileType) -> io::Error {
    io::Error::other(NotRegular {
        path: path.to_path_buf(),
        kind: kind_of(t),
    })
}

/// The error that refuses the link at `path`.
pub fn refused(path: &Path) -> io::Error {
    io::Error::other(LinkRefused {
        path: path.to_path_buf(),
    })
}

/// The components of `path` below `root`; an error if it is not below it.
fn below<'a>(root: &Path, path: &'a Path) -> io::Result<&'a Path> {
    let rel = path.strip_prefix(root).map_err(|_| {
        io::Error::other(format!(
            "{} is not inside the output folder {}",
            display_path(path),
            display_path(root)
        ))
    })?;
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(io::Error::other(format!(
            "{} climbs out of the output folder",
            display_path(path)
        )));
    }
    Ok(rel)
}

/// Makes sure `dir` (below `root`) is a folder reached through no link,
/// creating what is missing one component at a time. `root` itself is
/// created as needed and taken as it is.
pub fn ensure_dir(root: &Path, dir: &Path) -> io::Result<()> {
    let rel = below(root, dir)?;
    fs::create_dir_all(root)?;
    let mut cur = root.to_path_buf();
    for part in rel.components() {
        cur.push(part);
        if let Err(e) = fs::create_dir(&cur) {
            if e.kind() != io::ErrorKind::AlreadyExists {
                let msg = format!("cannot create the folder {}: {e}", display_path(&cur));
                return Err(io::Error::new(e.kind(), msg));
            }
        }
        let meta = fs::symlink_metadata(&cur)?;
        if meta.file_type().is_symlink() {
            return Err(refused(&cur));
        }
        if !meta.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a folder",
                display_path(&cur)
            )));
        }
    }
    Ok(())
}

/// Checks the folders that lead to `path` (below `root`), creating them.
pub fn ensure_parent(root: &Path, path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) if parent != root => ensure_dir(root, parent),
        _ => ensure_dir(root, root),
    }
}

/// Options that never follow a link at the file's own name, nor wait at
/// a FIFO's or a device's: [`regular`] checks what was opened.
fn no_follow() -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    o
}

/// An open error, with a link or a non-regular file at the name named as
/// such (a FIFO without a reader refuses a non-blocking writer).
fn open_error(path: &Path, e: io::Error) -> io::Error {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => refused(path),
        Ok(m) if !m.is_file() => not_regular(path, m.file_type()),
        _ => e,
    }
}

/// `f`, opened at `path`, if it is a regular file, in blocking mode again.
fn regular(path: &Path, f: File) -> io::Result<File> {
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(path, meta.file_type()));
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let fd = f.as_raw_fd();
        // SAFETY: `fd` is open (owned by `f`); F_GETFL/F_SETFL only read
        // and set its status flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(f)
}

/// Opens `path` with `o`: through no link, a regular file only.
fn open_with(o: &OpenOptions, path: &Path) -> io::Result<File> {
    let f = o.open(path).map_err(|e| open_error(path, e))?;
    regular(path, f)
}

/// Opens `path` for reading; a link at its name is refused, and so is
/// anything but a regular file.
pub fn open_read(path: &Path) -> io::Result<File> {
    open_with(no_follow().read(true), path)
}

/// The text of a small state file (`playlist.json`, `stream.json`): `None`
/// when it is missing or cannot be read as text (it is made again), an
/// error when a link or something else than a regular file is there.
pub fn read_state(path: &Path) -> io::Result<Option<String>> {
    let mut text = String::new();
    match open_read(path).and_then(|mut f| io::Read::read_to_string(&mut f, &mut text)) {
        Ok(_) => Ok(Some(text)),
        Err(e) if is_refusal(&e) => Err(e),
        Err(_) => Ok(None),
    }
}

/// Creates (or truncates) `path` for writing; a link at its name is
/// refused. The folders leading to it are the caller's to have checked
/// (the job's state folder is checked once when its lock is taken).
pub fn create(path: &Path) -> io::Result<File> {
    open_with(no_follow().write(true).create(true).truncate(true), path)
}

/// Replaces `path` with `bytes` atomically (see [`crate::state::atomic`]): the
/// temporary file beside it is created exclusively, without following a
/// link, and renamed with [`rename_in`]; synced as `durability` says. The
/// folder is the caller's to have checked, as for [`create`].
pub fn replace(path: &Path, bytes: &[u8], durability: Durability) -> io::Result<()> {
    let create_new = |p: &Path| open_with(no_follow().write(true).create_new(true), p);
    crate::state::atomic::Temp::write(path, bytes, create_new, durability)?.persist(path, rename_in)
}

/// As [`replace`], the bytes written by `write` as they are made.
pub fn replace_with(
    path: &Path,
    write: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
    durability: Durability,
) -> io::Result<()> {
    let create_new = |p: &Path| open_with(no_follow().write(true).create_new(true), p);
    crate::state::atomic::Temp::write_with(path, write, create_new, durability)?
        .persist(path, rename_in)
}

/// Opens `path` for appending, creating it; a link at its name is refused.
pub fn append(path: &Path) -> io::Result<File> {
    open_with(no_follow().create(true).append(true), path)
}

/// Opens `path` to read and write without truncating, creating it; a link
/// at its name is refused.
pub fn open_rw(path: &Path) -> io::Result<File> {
    let mut o = no_follow();
    o.read(true).write(true).create(true).truncate(false);
    open_with(&o, path)
}

/// Creates `path` (below `root`) as a new, empty file of its own: what was
/// at that name (a file another process may still hold open) is removed
/// first; a link there is refused.
pub fn create_fresh(root: &Path, path: &Path) -> io::Result<File> {
    ensure_parent(root, path)?;
    remove_file(path)?;
    open_with(no_follow().write(true).create_new(true), path)
}

/// Removes the regular file at `path`; nothing there is fine; a link or a
/// folder there is refused.
pub fn remove_file(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.file_type().is_symlink() => Err(refused(path)),
        Ok(m) if !m.is_file() => Err(not_regular(path, m.file_type())),
        Ok(_) => fs::remove_file(path),
    }
}

/// Moves the regular file `from` to `to`, both below `root`, through no
/// link; a link at either name is refused.
pub fn rename(root: &Path, from: &Path, to: &Path) -> io::Result<()> {
    ensure_parent(root, from)?;
    ensure_parent(root, to)?;
    for p in [from, to] {
        only_a_file(p)?;
    }
    fs::rename(from, to)
}

/// Refuses a link, or something else than a regular file, at `path`;
/// nothing there is fine.
fn only_a_file(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(refused(path)),
        Ok(m) if !m.is_file() => Err(not_regular(path, m.file_type())),
        _ => Ok(()),
    }
}

/// Moves `from` to `to` inside a folder already checked (a segment's
/// `.part` to its final name); a link at the final name is refused.
pub fn rename_in(from: &Path, to: &Path) -> io::Result<()> {
    only_a_file(to)?;
    fs::rename(from, to)
}

/// Removes every regular file in `dir` (below `root`) except those named
/// in `keep`. A linked folder, or a link inside it, is refused before
/// anything is removed; sub-folders are left alone.
pub fn clear_dir(root: &Path, dir: &Path, keep: &[&str]) -> io::Result<()> {
    ensure_dir(root, dir)?;
    let mut doomed = Vec::new();
    for entry in fs::read_dir(dir).map_err(at(dir))? {
        let entry = entry.map_err(at(dir))?;
        let kind = entry.file_type().map_err(at(&entry.path()))?;
        if keep.iter().any(|k| entry.file_name() == **k) {
            continue;
        }
        if kind.is_symlink() {
            return Err(refused(&entry.path()));
        }
        if kind.is_file() {
            doomed.push(entry.path());
        }
    }
    for p in doomed {
        fs::remove_file(&p).map_err(at(&p))?;
    }
    Ok(())
}

/// Checks a report file the command line names: when it lies below one of
/// the output folders `roots`, no folder on its way and not its own name
/// may be a link (the folders are created). Elsewhere it is the operator's
/// choice and is not checked.
pub fn check_report(roots: &[PathBuf], path: &Path) -> io::Result<()> {
    let target = absolute(path);
    for root in roots {
        let root = absolute(root);
        if target != root && target.starts_with(&root) {
            ensure_parent(&root, &target)?;
            if fs::symlink_metadata(&target).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(refused(&target));
            }
        }
    }
    Ok(())
}

/// `p` from the current folder, with `.` and `..` resolved by name only
/// (no link is looked at).
fn absolute(p: &Path) -> PathBuf {
    let joined = match std::env::current_dir() {
        Ok(d) if p.is_relative() => d.join(p),
        _ => p.to_path_buf(),
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// An error on one state or output file, naming that file (not only its
/// folder). Its kind is the error's own, so callers can still tell a full
/// disk or a missing file apart.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", display_path(.path))]
pub struct AtPath {
    pub path: PathBuf,
    pub source: io::Error,
}

/// Names `path` in an error about it. A refusal (a link, a non-regular
/// file) already names its file and stays as it is.
pub fn at(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| match is_refusal(&e) || named(&e).is_some() {
        true => e,
        false => io::Error::new(
            e.kind(),
            AtPath {
                path: path.to_path_buf(),
                source: e,
            },
        ),
    }
}

/// The file an error names, if [`at`] named one.
pub fn named(e: &io::Error) -> Option<&AtPath> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<AtPath>())
}

/// The file snatch refused as not regular, if that is what `e` is.
pub fn refused_kind(e: &io::Error) -> Option<&NotRegular> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<NotRegular>())
}

/// Whether `e` refuses a link or a non-regular file: its message names
/// the file and says what to do.
pub fn is_refusal(e: &io::Error) -> bool {
    refused_link(e).is_some() || refused_kind(e).is_some()
}

/// The link snatch refused, if that is what `e` is.
pub fn refused_link(e: &io::Error) -> Option<&Path> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<LinkRefused>())
        .map(|l| l.path.as_path())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("out");
        let victim = tmp.path().join("victim");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&victim).unwrap();
        fs::write(victim.join("keep.txt"), b"precious").unwrap();
        (tmp, root, victim)
    }

    #[test]
    fn replace_swaps_whole_files_and_refuses_a_link_at_the_name() {
        let (_tmp, root, victim) = setup();
        let file = root.join("done.json");
        replace(&file, b"one", Durability::Synced).unwrap();
        replace(&file, b"two", Durability::Synced).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        let link = root.join("linked.json");
        symlink(victim.join("keep.txt"), &link).unwrap();
        let e = replace(&link, b"evil", Durability::Synced).unwrap_err();
        assert!(refused_link(&e).is_some(), "{e}");
        assert_eq!(fs::read(victim.join("keep.txt")).unwrap(), b"precious");
        // Nothing temporary is left beside them.
        let mut names: Vec<_> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["done.json", "linked.json"]);
    }

    #[test]
    fn a_linked_folder_is_never_entered() {
        let (_tmp, root, victim) = setup();
        symlink(&victim, root.join("sub")).unwrap();
        let e = ensure_dir(&root, &root.join("sub/deeper")).unwrap_err();
        assert_eq!(refused_link(&e), Some(root.join("sub").as_path()));
        assert!(e.to_string().contains("sub"), "{e}");
        let e = clear_dir(&root, &root.join("sub"), &[]).unwrap_err();
        assert!(refused_link(&e).is_some(), "{e}");
        assert_eq!(fs::read(victim.join("keep.txt")).unwrap(), b"precious");
        assert!(!victim.join("deeper").exists());
    }

    #[test]
    fn a_link_at_a_file_name_is_refused_for_every_operation() {
        let (_tmp, root, victim) = setup();
        let target = victim.join("keep.txt");
        let link = root.join("x.part");
        symlink(&target, &link).unwrap();
        for e in [
            create(&link).unwrap_err(),
            append(&link).unwrap_err(),
            open_rw(&link).unwrap_err(),
            open_read(&link).unwrap_err(),
            create_fresh(&root, &link).unwrap_err(),
            remove_file(&link).unwrap_err(),
            rename(&root, &root.join("missing"), &link).unwrap_err(),
            rename_in(&root.join("missing"), &link).unwrap_err(),
            clear_dir(&root, &root, &[]).unwrap_err(),
        ] {
            assert_eq!(refused_link(&e), Some(link.as_path()), "{e}");
        }
        assert_eq!(fs::read(&target).unwrap(), b"precious");
        // A dangling link is not created through either.
        let dangling = root.join("d.part");
        symlink(victim.join("new"), &dangling).unwrap();
        assert!(refused_link(&create(&dangling).unwrap_err()).is_some());
        assert!(!victim.join("new").exists());
    }

    #[test]
    fn a_fifo_at_a_file_name_is_refused_without_waiting() {
        let (_tmp, root, _victim) = setup();
        let fifo = root.join("ledger.jsonl");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for e in [
            open_read(&fifo).unwrap_err(),
            create(&fifo).unwrap_err(),
            append(&fifo).unwrap_err(),
            open_rw(&fifo).unwrap_err(),
            remove_file(&fifo).unwrap_err(),
            rename_in(&root.join("missing"), &fifo).unwrap_err(),
            read_state(&fifo).unwrap_err(),
        ] {
            let refused = refused_kind(&e).expect("refused as not regular");
            assert_eq!(refused.path, fifo);
            assert!(e.to_string().contains("named pipe (FIFO)"), "{e}");
        }
        // A regular file opens as before, in blocking mode.
        let file = root.join("done.json");
        fs::write(&file, b"{}").unwrap();
        assert_eq!(read_state(&file).unwrap().as_deref(), Some("{}"));
    }

    #[test]
    fn reports_are_checked_only_below_an_output_folder() {
        let (tmp, root, victim) = setup();
        symlink(&victim, root.join("r")).unwrap();
        let roots = [root.clone()];
        let e = check_report(&roots, &root.join("r/report.json")).unwrap_err();
        assert_eq!(refused_link(&e), Some(root.join("r").as_path()));
        let e = check_report(&roots, &root.join("x/../r/report.json")).unwrap_err();
        assert!(refused_link(&e).is_some(), "{e}");
        // Outside the output folder, the operator's path is taken as it is.
        check_report(&roots, &tmp.path().join("elsewhere/report.json")).unwrap();
        check_report(&roots, &root.join("sub/report.json")).unwrap();
        assert!(root.join("sub").is_dir());
    }

    #[test]
    fn paths_outside_the_output_folder_are_refused() {
        let (_tmp, root, victim) = setup();
        assert!(ensure_dir(&root, &victim).is_err());
        assert!(ensure_dir(&root, &root.join("a/../../victim")).is_err());
        ensure_dir(&root, &root.join("a/b")).unwrap();
        assert!(root.join("a/b").is_dir());
        let f = create_fresh(&root, &root.join("a/b/f")).unwrap();
        drop(f);
        clear_dir(&root, &root.join("a/b"), &[]).unwrap();
        assert!(!root.join("a/b/f").exists());
    }
}
