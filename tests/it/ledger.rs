//! The ledger is hostile input, end to end with the real binary, the test
//! server and real ffmpeg segments: a damaged line of `ledger.jsonl` costs
//! only its segment, which the rerun fetches again; the merged output is
//! never wrong.

use crate::support;

use std::path::PathBuf;

use serde_json::{json, Value};
use support::cli::{crc32, saved, stderr, Job};
use support::hls::decode_errors;
use support::media::{probe, segments};
use support::server::{Fault, TestServer};

const COUNT: u64 = 8;

fn job_yaml(url: &str) -> String {
    format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: {COUNT} }}\n    concurrency: 1\n"
    )
}

/// A job whose first run saved segments 1 to 7 (8 answered 403).
struct Saved {
    media: PathBuf,
    server: TestServer,
    job: Job,
}

fn saved_run() -> Saved {
    let media = segments(COUNT as u32, 1);
    let server = TestServer::start(&media);
    server.always("/000008.ts", Fault::Status(403));
    let job = Job::new(&job_yaml(&server.url()));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let state = job.path("out/.snatch/v");
    assert_eq!(saved(&state).len(), 7);
    server.clear_faults();
    server.clear_requests();
    Saved { media, server, job }
}

impl Saved {
    fn ledger(&self) -> PathBuf {
        self.job.path("out/.snatch/v/ledger.jsonl")
    }

    /// The ledger's segment lines, parsed.
    fn lines(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.ledger()).unwrap();
        text.lines()
            .skip(1)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Writes the ledger back with its header and `lines`.
    fn write(&self, lines: &[Value]) {
        let text = std::fs::read_to_string(self.ledger()).unwrap();
        let mut out = text.lines().next().unwrap().to_string() + "\n";
        for l in lines {
            out.push_str(&(l.to_string() + "\n"));
        }
        std::fs::write(self.ledger(), out).unwrap();
    }

    /// Reruns the job and checks that it fetched exactly `again` and 8, and
    /// that the merged output, and each segment it merged, is the served
    /// one.
    fn rerun_fetches(&self, again: &[u64]) {
        let out = self.job.run(&["--keep-segments"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let mut got: Vec<u64> = self
            .server
            .requests()
            .iter()
            .filter_map(|r| {
                r.path
                    .trim_start_matches('/')
                    .strip_suffix(".ts")?
                    .parse()
                    .ok()
            })
            .collect();
        got.sort();
        let mut want = again.to_vec();
        want.push(COUNT);
        assert_eq!(got, want);
        let output = self.job.path("out/v.mp4");
        let (duration, _) = probe(&output);
        assert!((duration - COUNT as f64).abs() < 0.3, "duration {duration}");
        assert_eq!(decode_errors(&output), "");
        for i in 1..=COUNT {
            let kept = self.job.path(&format!("out/.snatch/v/segments/{i}.ts"));
            let served = std::fs::read(self.media.join(format!("{i:06}.ts"))).unwrap();
            assert!(
                std::fs::read(kept).unwrap() == served,
                "segment {i} is not what was served"
            );
        }
    }
}

/// A line with its own checksum, as snatch writes it.
fn sealed(index: u64, offset: u64, size: u64, crc: u64) -> Value {
    let own = crc32(format!("{index}|{offset}|{size}|{crc}").as_bytes());
    json!({"index": index, "offset": offset, "size": size, "crc32": crc, "line": own})
}

fn field(line: &Value, key: &str) -> u64 {
    line[key].as_u64().unwrap()
}

#[test]
fn a_flipped_digit_in_an_index_costs_only_that_segment() {
    let s = saved_run();
    let text = std::fs::read_to_string(s.ledger()).unwrap();
    // Segment 5's line now names 3, after 3's own line: the later wins.
    let flipped = text.replace("{\"index\":5,", "{\"index\":3,");
    assert_ne!(flipped, text);
    std::fs::write(s.ledger(), flipped).unwrap();
    s.rerun_fetches(&[5]);
}

#[test]
fn a_line_of_size_zero_is_no_segment() {
    let s = saved_run();
    let mut lines = s.lines();
    let at = lines.iter().position(|l| field(l, "index") == 4).unwrap();
    lines[at] = sealed(4, 0, 0, 0);
    s.write(&lines);
    s.rerun_fetches(&[4]);
}

#[test]
fn two_lines_over_the_same_bytes_are_both_fetched_again() {
    let s = saved_run();
    let mut lines = s.lines();
    let four = lines
        .iter()
        .find(|l| field(l, "index") == 4)
        .unwrap()
        .clone();
    let at = lines.iter().position(|l| field(l, "index") == 5).unwrap();
    // 5 now names 4's bytes, checksums and all: which one is right cannot
    // be told.
    lines[at] = sealed(
        5,
        field(&four, "offset"),
        field(&four, "size"),
        field(&four, "crc32"),
    );
    s.write(&lines);
    s.rerun_fetches(&[4, 5]);
}

#[test]
fn a_line_past_the_spools_end_is_fetched_again() {
    let s = saved_run();
    let spool = std::fs::metadata(s.job.path("out/.snatch/v/segments.spool"))
        .unwrap()
        .len();
    let mut lines = s.lines();
    let at = lines.iter().position(|l| field(l, "index") == 6).unwrap();
    let six = lines[at].clone();
    lines[at] = sealed(6, spool, field(&six, "size"), field(&six, "crc32"));
    // One more for 2 whose end does not fit in 64 bits: 2's own line stands.
    lines.push(sealed(2, u64::MAX - 3, 10, 0));
    s.write(&lines);
    s.rerun_fetches(&[6]);
}

/// Temporary folders and ports vary from run to run.
fn redacted() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\S*/\.tmp\w+", "[tmp]");
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]");
    s
}

/// Replaces the ledger's header; the rerun fails naming the ledger with
/// `why`, fetches nothing and keeps every segment.
fn unreadable_header(header: &str, why: &str, name: &str) {
    let s = saved_run();
    let text = std::fs::read_to_string(s.ledger()).unwrap();
    let rest = &text[text.find('\n').unwrap()..];
    std::fs::write(s.ledger(), format!("{header}{rest}")).unwrap();
    let spool = s.job.path("out/.snatch/v/segments.spool");
    let before = std::fs::read(&spool).unwrap();
    let out = s.job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = s.job.report()["jobs"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("ledger.jsonl") && err.contains(why), "{err}");
    assert!(
        !err.contains("--force") && !err.contains("another video"),
        "{err}"
    );
    redacted().bind(|| insta::assert_snapshot!(name, err));
    assert!(s.server.requests().is_empty());
    assert_eq!(std::fs::read(&spool).unwrap(), before);
    assert_eq!(
        std::fs::read_to_string(s.ledger()).unwrap(),
        format!("{header}{rest}")
    );
}

#[test]
fn a_ledger_of_a_newer_format_is_named_so_and_kept() {
    unreadable_header(
        "{\"snatch_ledger\":9,\"identity\":\"x\"}",
        "newer snatch (format 9)",
        "newer_format",
    );
}

#[test]
fn a_damaged_header_is_named_so_and_kept() {
    unreadable_header("{\"snatch_led", "damaged header", "damaged_header");
}

/// Copies the segments of `media` into `root/folder`.
fn serve_under(root: &std::path::Path, folder: &str, media: &std::path::Path) {
    let to = root.join(folder);
    std::fs::create_dir_all(&to).unwrap();
    for i in 1..=6 {
        let name = format!("{i:06}.ts");
        std::fs::copy(media.join(&name), to.join(&name)).unwrap();
    }
}

fn two_folder_yaml(url: &str, template: &str) -> String {
    format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{url}/{template}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 6 }}\n    concurrency: 1\n"
    )
}

/// The job file is edited so that indices 4 to 6 come from another folder
/// (another video); index 0's path, the ledger header's identity, is the
/// same. The saved 4 and 5 belong to the old URLs: fetched again, never
/// merged into the new video.
#[test]
fn saved_segments_of_other_urls_are_fetched_again() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (segments(6, 1), segments(6, 2));
    serve_under(root.path(), "a", &a);
    serve_under(root.path(), "b", &b);
    let server = TestServer::start(root.path());
    server.always("/a/000006.ts", Fault::Status(403));
    let job = Job::new(&two_folder_yaml(&server.url(), "a"));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(saved(&job.path("out/.snatch/v")).len(), 5);
    server.clear_faults();
    server.clear_requests();
    let edited = two_folder_yaml(&server.url(), "{{#if (gte n 4)}}b{{else}}a{{/if}}");
    std::fs::write(&job.file, edited).unwrap();
    let out = job.run(&["-v", "--keep-segments"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut got: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    got.sort();
    assert_eq!(got, ["/b/000004.ts", "/b/000005.ts", "/b/000006.ts"]);
    // b's segments keep their own timestamps (4 starts at 6 s), so the
    // merge's duration says little: each merged segment is checked.
    assert_eq!(decode_errors(&job.path("out/v.mp4")), "");
    for i in 1..=6u64 {
        let from = if i >= 4 { &b } else { &a };
        let served = std::fs::read(from.join(format!("{i:06}.ts"))).unwrap();
        let kept = std::fs::read(job.path(&format!("out/.snatch/v/segments/{i}.ts"))).unwrap();
        assert!(kept == served, "segment {i} is not what was served");
    }
    assert!(
        stderr(&out).contains("2 saved segments belong to other URLs; they are fetched again"),
        "{}",
        stderr(&out)
    );
}

/// An error on a state file names that file, not only its folder: the
/// state folder (a small tmpfs) holds an older snatch's segment files and
/// has no room to move them into the spool. Nothing is lost: the files stay.
#[test]
fn a_state_file_that_cannot_be_written_is_named() {
    let s = saved_run();
    let state = s.job.path("out/.snatch/v");
    let text = std::fs::read_to_string(s.ledger()).unwrap();
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let identity = header["identity"].as_str().unwrap().to_string();
    std::fs::remove_dir_all(&state).unwrap();
    let pages: u64 = (1..COUNT)
        .map(|i| {
            std::fs::metadata(s.media.join(format!("{i:06}.ts")))
                .unwrap()
                .len()
                .div_ceil(4096)
        })
        .sum();
    let Some(disk) = support::tmpfs::Tmpfs::mount(&state, (pages + 3) * 4) else {
        return;
    };
    let legacy = json!({ "snatch_ledger": 2, "identity": identity });
    std::fs::write(disk.path().join("ledger.jsonl"), format!("{legacy}\n")).unwrap();
    for i in 1..COUNT {
        std::fs::copy(
            s.media.join(format!("{i:06}.ts")),
            disk.path().join(format!("{i}.ts")),
        )
        .unwrap();
    }
    let out = s.job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = s.job.report()["jobs"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("out/.snatch/v/segments.spool"), "{err}");
    assert!(s.server.requests().is_empty(), "{:?}", s.server.requests());
    for i in 1..COUNT {
        assert!(disk.path().join(format!("{i}.ts")).is_file(), "{i}.ts went");
    }
}

/// A header saying format 2 (a file per segment) over a spool of sealed
/// lines: the spool is not cut to nothing; each line that checks out keeps
/// its segment, and the ledger is written anew in the current format.
#[test]
fn a_format_2_header_over_a_spool_keeps_the_spools_segments() {
    let s = saved_run();
    let text = std::fs::read_to_string(s.ledger()).unwrap();
    let (first, rest) = text.split_once('\n').unwrap();
    let mut header: Value = serde_json::from_str(first).unwrap();
    header["snatch_ledger"] = json!(2);
    std::fs::write(s.ledger(), format!("{header}\n{rest}")).unwrap();
    s.rerun_fetches(&[]);
    let now = std::fs::read_to_string(s.ledger()).unwrap();
    let now: Value = serde_json::from_str(now.lines().next().unwrap()).unwrap();
    assert_ne!(now["snatch_ledger"], json!(2), "{now}");
}
