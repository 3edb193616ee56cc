use super::*;
use std::fs;

fn open(dir: &Path, identity: &str) -> Result<Ledger, OpenError> {
    Ledger::open(dir.parent().unwrap(), dir, identity, false)
}

/// Saves `bytes` as segment `index` the way a fetch does: reserve, write,
/// record.
fn save(l: &Ledger, index: u64, bytes: &[u8]) -> Saved {
    let offset = l.spool().reserve(bytes.len() as u64);
    l.spool().write_at(offset, bytes).unwrap();
    let saved = Saved {
        offset,
        size: bytes.len() as u64,
    };
    l.record(index, saved, crc32fast::hash(bytes), None)
        .unwrap();
    saved
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn spooled(l: &Ledger, index: u64) -> Vec<u8> {
    let saved = l.complete[&index];
    let mut buf = vec![0; saved.size as usize];
    l.spool().read_at(saved.offset, &mut buf).unwrap();
    buf
}

#[test]
fn resumes_only_what_is_whole_and_cuts_the_spool_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    {
        let l = open(&dir, "id").unwrap();
        save(&l, 1, b"abc");
        // Recorded, but its bytes changed on disk since.
        let bad = save(&l, 2, b"defg");
        l.spool().write_at(bad.offset, b"DEFG").unwrap();
        save(&l, 3, b"hi");
        // Written, never recorded (a kill between the two).
        let off = l.spool().reserve(5);
        l.spool().write_at(off, b"whole").unwrap();
        // A line cut short by a kill.
        l.file
            .lock()
            .unwrap()
            .write_all(b"{\"index\":4,\"off")
            .unwrap();
    }
    let l = open(&dir, "id").unwrap();
    let mut saved: Vec<_> = l.complete.keys().copied().collect();
    saved.sort();
    assert_eq!(saved, [1, 3]);
    assert_eq!(spooled(&l, 1), b"abc");
    assert_eq!(spooled(&l, 3), b"hi");
    // Cut back to the end of segment 3; the unrecorded bytes are gone.
    assert_eq!(fs::metadata(dir.join(SPOOL)).unwrap().len(), 9);
    // The ledger was rewritten to what holds, and the next entry stands
    // alone.
    save(&l, 5, b"12345");
    drop(l);
    let l = open(&dir, "id").unwrap();
    assert_eq!(l.complete.len(), 3);
    assert_eq!(spooled(&l, 5), b"12345");
    assert_eq!(l.complete[&5].offset, 9);
    let text = fs::read_to_string(dir.join(LEDGER)).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert_eq!(l.landed(), (0, 0));
}

#[test]
fn a_later_entry_of_an_index_wins_and_landed_counts_this_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    {
        let l = open(&dir, "id").unwrap();
        save(&l, 7, b"old");
        save(&l, 7, b"newer");
        assert_eq!(l.landed(), (2, 8));
    }
    let l = open(&dir, "id").unwrap();
    assert_eq!(spooled(&l, 7), b"newer");
}

#[test]
fn done_is_written_whole_and_cleanup_keeps_it_and_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    let l = open(&dir, "id").unwrap();
    save(&l, 1, b"abc");
    fs::write(dir.join(LOCK), b"1\n").unwrap();
    let done = Done {
        fingerprint: "fp".into(),
        output_size: 9,
        duration_s: 1.5,
        streams: vec!["video".into()],
        temp: Some(".v.mp4.7.snatch-part".into()),
        drop_segments: true,
    };
    write_done(&dir, &done).unwrap();
    assert_eq!(read_done(&dir, "fp"), Some(done));
    assert_eq!(read_done(&dir, "other"), None);
    drop(l);
    clear_segments(tmp.path(), &dir).unwrap();
    let left = names(&dir);
    assert_eq!(left, [DONE, LOCK]);
    remove_done(&dir).unwrap();
    assert!(read_done(&dir, "fp").is_none());
}

#[test]
fn the_tidy_up_keeps_everything_while_segments_it_did_not_merge_are_saved() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    let l = open(&dir, "id").unwrap();
    save(&l, 1, b"abc");
    save(&l, 9, b"wider");
    drop(l);
    clear_merged(tmp.path(), &dir, &|i| i == 1).unwrap();
    let l = open(&dir, "id").unwrap();
    assert_eq!(spooled(&l, 9), b"wider");
    drop(l);
    clear_merged(tmp.path(), &dir, &|i| i == 1 || i == 9).unwrap();
    assert!(!dir.join(SPOOL).exists());
    assert!(!dir.join(LEDGER).exists());
}

#[test]
fn export_writes_each_wanted_segment_as_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    let l = open(&dir, "id").unwrap();
    save(&l, 1, b"abc");
    save(&l, 2, b"de");
    save(&l, 3, b"f");
    drop(l);
    assert_eq!(export(tmp.path(), &dir, &|i| i != 2, "ts").unwrap(), 2);
    assert_eq!(fs::read(dir.join("segments/1.ts")).unwrap(), b"abc");
    assert_eq!(fs::read(dir.join("segments/3.ts")).unwrap(), b"f");
    assert!(!dir.join("segments/2.ts").exists());
}

#[test]
fn another_identity_is_refused_and_nothing_is_deleted_unless_restarted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    {
        let l = open(&dir, "https://h/a/{i}.ts").unwrap();
        save(&l, 1, b"abc");
    }
    match open(&dir, "https://h/b/{i}.ts") {
        Err(OpenError::OtherVideo { saved: 1, was }) => {
            assert_eq!(was.as_deref(), Some("https://h/a/{i}.ts"))
        }
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("reused another video's segments"),
    }
    assert_eq!(fs::metadata(dir.join(SPOOL)).unwrap().len(), 3);
    let l = Ledger::open(tmp.path(), &dir, "https://h/b/{i}.ts", true).unwrap();
    assert!(l.complete.is_empty());
    assert_eq!(fs::metadata(dir.join(SPOOL)).unwrap().len(), 0);
    drop(l);
    // With nothing saved, another identity starts afresh.
    assert!(open(&dir, "https://h/c/{i}.ts").is_ok());
}

#[test]
fn segment_files_of_an_older_snatch_move_into_the_spool() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join(LEDGER),
        "{\"snatch_ledger\":2,\"identity\":\"id\"}\n{\"index\":1,\"size\":3}\n{\"index\":2,\"size\":9}\n",
    )
    .unwrap();
    fs::write(dir.join("1.ts"), b"abc").unwrap();
    fs::write(dir.join("2.ts"), b"cut").unwrap(); // listed with another size
    fs::write(dir.join("6.ts"), b"unlisted").unwrap(); // renamed, not yet listed
    fs::write(dir.join("3.ts.part"), b"partial").unwrap();
    let l = open(&dir, "id").unwrap();
    let mut saved: Vec<_> = l.complete.keys().copied().collect();
    saved.sort();
    assert_eq!(saved, [1, 6]);
    assert_eq!(spooled(&l, 1), b"abc");
    assert_eq!(spooled(&l, 6), b"unlisted");
    let left = names(&dir);
    assert_eq!(left, [LEDGER, SPOOL]);
    drop(l);
    let l = open(&dir, "id").unwrap();
    assert_eq!(spooled(&l, 6), b"unlisted");

    // Segment files of another identity are refused, none deleted.
    let other = tmp.path().join("other");
    fs::create_dir_all(&other).unwrap();
    fs::write(
        other.join(LEDGER),
        "{\"snatch_ledger\":2,\"identity\":\"was\"}\n",
    )
    .unwrap();
    fs::write(other.join("1.ts"), b"abc").unwrap();
    assert!(matches!(
        open(&other, "id"),
        Err(OpenError::OtherVideo { saved: 1, .. })
    ));
    assert!(other.join("1.ts").exists());
}

#[test]
fn a_format_3_ledger_is_read_checked_and_written_anew_sealed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(SPOOL), b"abcde").unwrap();
    let crc = |b: &[u8]| crc32fast::hash(b);
    fs::write(
        dir.join(LEDGER),
        format!(
            "{{\"snatch_ledger\":3,\"identity\":\"id\"}}\n\
             {{\"index\":1,\"offset\":0,\"size\":3,\"crc32\":{}}}\n\
             {{\"index\":2,\"offset\":3,\"size\":2,\"crc32\":{}}}\n\
             {{\"index\":3,\"offset\":0,\"size\":0,\"crc32\":0}}\n",
            crc(b"abc"),
            crc(b"de")
        ),
    )
    .unwrap();
    let l = open(&dir, "id").unwrap();
    assert_eq!(spooled(&l, 1), b"abc");
    assert_eq!(spooled(&l, 2), b"de");
    assert_eq!(l.complete.len(), 2);
    let text = fs::read_to_string(dir.join(LEDGER)).unwrap();
    assert!(text.starts_with("{\"snatch_ledger\":4,"), "{text}");
    assert_eq!(text.matches("\"line\":").count(), 2, "{text}");
}

/// Segment paths as a template job with a folder per index range renders
/// them: indices from `switch` on come from `b/`.
fn folders(switch: u64) -> Option<PathOf> {
    Some(Arc::new(move |i| {
        let folder = if i >= switch { "b" } else { "a" };
        Some(format!("http://h/{folder}/{i}.ts"))
    }))
}

#[test]
fn a_saved_segment_is_reused_only_under_the_path_it_was_fetched_from() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("job");
    {
        let l = open(&dir, "id").unwrap().with_paths(folders(u64::MAX));
        for i in 1..=4 {
            save(&l, i, format!("seg{i}").as_bytes());
        }
        // A line an older snatch wrote: no path, as before.
        let offset = l.spool().reserve(4);
        l.spool().write_at(offset, b"five").unwrap();
        let saved = Saved { offset, size: 4 };
        let old = Entry::new(5, saved, crc32fast::hash(b"five"), None);
        l.file
            .lock()
            .unwrap()
            .write_all(old.text().as_bytes())
            .unwrap();
    }
    let l = open(&dir, "id").unwrap().with_paths(folders(3));
    let mut kept: Vec<_> = l.complete.keys().copied().collect();
    kept.sort();
    // 3 and 4 were fetched from a/, the job now names b/; 5's path is
    // unknown.
    assert_eq!(kept, [1, 2, 5]);
    assert_eq!(l.other_paths, 2);
    // Fetched again, they are recorded under the new path and reused.
    save(&l, 3, b"new3");
    drop(l);
    let l = open(&dir, "id").unwrap().with_paths(folders(3));
    assert!(l.complete.contains_key(&3));
    assert_eq!(spooled(&l, 3), b"new3");
    // Without paths to compare (a playlist job), every segment is reused.
    let l = open(&dir, "id").unwrap().with_paths(None);
    drop(l);
    let l = open(&dir, "id").unwrap();
    assert_eq!(l.complete.len(), 5);
}
