//! Files on disk, end to end with the real binary, real HTTP from the test
//! server, real ffmpeg segments and merges: no path below the output folder
//! is followed through a planted symlink; one snatch per job; saved
//! segments are reused, never silently deleted; a `kill -9` at any instant
//! loses no complete segment and no verified output.

use crate::support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use support::cli::{files_below, ledger_lines, saved, snapshot, stderr, Job};
use support::media::{probe, segments};
use support::server::{Fault, TestServer};

fn job_yaml(url: &str, extra: &str) -> String {
    format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 3, backoff: 50ms, max_backoff: 100ms }}\njobs:\n  - name: v\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n{extra}"
    )
}

/// A folder outside the output folder, with files worth keeping.
fn victim(job: &Job) -> PathBuf {
    let v = job.path("victim");
    std::fs::create_dir_all(v.join("inner")).unwrap();
    std::fs::write(v.join(".bash_profile"), b"echo hello\n").unwrap();
    std::fs::write(v.join("inner/notes.txt"), b"precious").unwrap();
    v
}

/// Runs the job with a link planted at `link` (relative to the job's
/// folder); the job fails naming the link, and the victim is unchanged.
#[cfg(unix)]
fn refuses_planted_link(link: &str, target: &str, output: &str) {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        &format!("    range: {{ start: 1, end: 3 }}\n    output: \"{output}\"\n"),
    ));
    let victim = victim(&job);
    let at = job.path(link);
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(victim.join(target), &at).unwrap();
    let before = snapshot(&victim);
    let out = job.run(&[]);
    let after = snapshot(&victim);
    let changed: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert!(
        changed.is_empty(),
        "{link}: the victim changed: {changed:?}"
    );
    assert_eq!(out.status.code(), Some(1), "{link}: {}", stderr(&out));
    let err = job.report()["jobs"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.contains(link) && err.contains("symbolic link"),
        "{link}: {err}"
    );
    assert!(stderr(&out).contains(link), "{}", stderr(&out));
    let name = link.replace(['/', '.'], "_");
    redacted().bind(|| insta::assert_snapshot!(format!("link{name}"), err));
}

/// Temporary folders, ports and process ids vary from run to run.
fn redacted() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"\S*/\.tmp\w+", "[tmp]");
    s.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[port]");
    s.add_filter(r"pid \d+", "pid [pid]");
    s
}

#[cfg(unix)]
#[test]
fn a_dangling_link_at_a_part_file_receives_no_segment() {
    refuses_planted_link("out/.snatch/v/1.ts.part", "new-profile", "v.mp4");
}

#[cfg(unix)]
#[test]
fn a_link_at_the_spool_is_neither_read_nor_written() {
    refuses_planted_link("out/.snatch/v/segments.spool", ".bash_profile", "v.mp4");
}

#[cfg(unix)]
#[test]
fn a_link_at_the_ledger_is_neither_read_nor_written() {
    refuses_planted_link("out/.snatch/v/ledger.jsonl", ".bash_profile", "v.mp4");
}

#[cfg(unix)]
#[test]
fn a_link_posing_as_a_saved_segment_is_never_read() {
    refuses_planted_link("out/.snatch/v/1.ts", ".bash_profile", "v.mp4");
}

#[cfg(unix)]
#[test]
fn a_linked_state_folder_is_neither_emptied_nor_written() {
    refuses_planted_link("out/.snatch/v", "", "v.mp4");
}

#[cfg(unix)]
#[test]
fn a_linked_folder_of_all_state_is_refused() {
    refuses_planted_link("out/.snatch", "", "v.mp4");
}

#[cfg(unix)]
#[test]
fn a_link_at_the_outputs_claim_is_neither_read_nor_written() {
    refuses_planted_link("out/.v.mp4.snatch-lock", ".bash_profile", "v.mp4");
}

#[cfg(unix)]
#[test]
fn an_output_sub_folder_that_is_a_link_receives_nothing() {
    refuses_planted_link("out/sub", "", "sub/x.mp4");
}

#[cfg(unix)]
#[test]
fn a_link_at_the_final_output_name_is_refused() {
    refuses_planted_link("out/v.mp4", ".bash_profile", "v.mp4");
}

/// Waits until `cond` holds (or 30 s pass).
fn wait_for(mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_second_snatch_on_a_running_job_fails_at_once_and_touches_nothing() {
    let media = segments(20, 1);
    let server = TestServer::with_latency(&media, Duration::from_millis(150));
    let other = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 20 }\n    concurrency: 1\n",
    ));
    // The same job (name and folder) from another file, fetching elsewhere.
    let b_file = job.path("b.yaml");
    std::fs::write(
        &b_file,
        job_yaml(&other.url(), "    range: { start: 1, end: 20 }\n"),
    )
    .unwrap();
    let first = job.command(&[]).spawn().unwrap();
    wait_for(|| server.requests().len() >= 3);
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
        .current_dir(job.dir.path())
        .args(["run", "b.yaml", "--report", "b.json"])
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let first_out = first.wait_with_output().unwrap();
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let err = stderr(&second);
    let pid = format!("another snatch (pid {})", first_out_pid(&job));
    assert!(err.contains(&pid), "{err}");
    let line = err.lines().find(|l| l.contains(&pid)).unwrap().to_string();
    redacted().bind(|| insta::assert_snapshot!(line));
    assert_eq!(other.requests().len(), 0, "the second fetched");
    assert_eq!(first_out.status.code(), Some(0), "{}", stderr(&first_out));
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!((duration - 20.0).abs() < 0.5, "duration {duration}");
    assert_eq!(server.requests().len(), 20);
}

/// The pid the first process wrote into the lock file.
fn first_out_pid(job: &Job) -> u32 {
    std::fs::read_to_string(job.path("out/.snatch/v/lock"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The indices saved in the job's spool, as its ledger lists them.
fn segment_files(job: &Job) -> BTreeSet<u64> {
    saved(&job.path("out/.snatch/v")).into_keys().collect()
}

fn requested(server: &TestServer) -> Vec<u64> {
    server
        .requests()
        .iter()
        .filter_map(|r| {
            let name = r.path.rsplit('/').next()?;
            name.strip_suffix(".ts")?.parse().ok()
        })
        .collect()
}

#[test]
fn a_refreshed_token_a_grown_range_and_a_new_length_reuse_saved_segments() {
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    let url = format!(
        "{}/{{{{index}}}}.ts?token=${{SNATCH_T_TOKEN}}",
        server.url()
    );
    let job_dir = tempfile::tempdir().unwrap();
    let yaml = |source: &str| {
        format!("version: 1\njobs:\n  - name: v\n    url: \"{url}\"\n    padding: 6\n{source}")
    };
    let run = |source: &str, token: &str| {
        server.clear_requests();
        let job_file = job_dir.path().join("jobs.yaml");
        std::fs::write(&job_file, yaml(source)).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_snatch"))
            .current_dir(job_dir.path())
            .args(["run", "jobs.yaml", "--keep-segments", "--report", "r.json"])
            .env("SNATCH_T_TOKEN", token)
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{source}: {}", stderr(&out));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(job_dir.path().join("r.json")).unwrap()).unwrap();
        let mut got = requested(&server);
        got.sort();
        (got, report["jobs"][0]["segments"]["reused"].clone())
    };
    let (got, _) = run("    range: { start: 1, end: 4 }\n", "first");
    assert_eq!(got, [1, 2, 3, 4]);
    // The range grew and the token was refreshed.
    let (got, reused) = run("    range: { start: 1, end: 8 }\n", "second");
    assert_eq!(got, [5, 6, 7, 8]);
    assert_eq!(reused, 4);
    assert!(server
        .requests()
        .iter()
        .all(|r| r.query.as_deref() == Some("token=second")));
    // The range shrank at the front.
    let (got, reused) = run("    range: { start: 3, end: 8 }\n", "third");
    assert_eq!(got, Vec::<u64>::new());
    assert_eq!(reused, 6);
    let (duration, _) = probe(&job_dir.path().join("out/v.mp4"));
    assert!((duration - 6.0).abs() < 0.3, "duration {duration}");
    // Duration math with a corrected length.
    let (got, reused) = run(
        "    duration: { length: 10, segment: 1 }\n    start: 1\n",
        "fourth",
    );
    assert_eq!(got, [9, 10]);
    assert_eq!(reused, 8);
    let (duration, _) = probe(&job_dir.path().join("out/v.mp4"));
    assert!((duration - 10.0).abs() < 0.3, "duration {duration}");
}

#[cfg(unix)]
#[test]
fn another_video_path_is_refused_and_nothing_is_deleted_until_forced() {
    let media = segments(4, 1);
    let root = tempfile::tempdir().unwrap();
    for d in ["a", "b"] {
        std::os::unix::fs::symlink(&media, root.path().join(d)).unwrap();
    }
    let server = TestServer::start(root.path());
    server.always("/a/000004.ts", Fault::Status(403));
    let source = "    range: { start: 1, end: 4 }\n    concurrency: 1\n";
    let job = Job::new(&job_yaml(&format!("{}/a", server.url()), source));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(segment_files(&job), BTreeSet::from([1, 2, 3]));

    std::fs::write(&job.file, job_yaml(&format!("{}/b", server.url()), source)).unwrap();
    server.clear_requests();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = job.report()["jobs"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        err.contains("3 segments saved") && err.contains("--force"),
        "{err}"
    );
    assert!(err.contains("/a/") && err.contains("/b/"), "{err}");
    redacted().bind(|| insta::assert_snapshot!(err));
    assert_eq!(server.requests().len(), 0);
    assert_eq!(segment_files(&job), BTreeSet::from([1, 2, 3]));

    let out = job.run(&["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 4);
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!((duration - 4.0).abs() < 0.3, "duration {duration}");
}

#[test]
fn no_secret_reaches_the_ledger_or_done_json() {
    let media = segments(3, 1);
    let root = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&media, root.path().join("PATHs3cr3t")).unwrap();
    let server = TestServer::start(root.path());
    let yaml = format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{}/${{SNATCH_T_DIR}}/{{{{index}}}}.ts?sig=${{SNATCH_T_SIG}}\"\n    padding: 6\n    range: {{ start: 1, end: 3 }}\n",
        server.url()
    );
    let job = Job::new(&yaml);
    let out = job
        .command(&["--keep-segments"])
        .env("SNATCH_T_DIR", "PATHs3cr3t")
        .env("SNATCH_T_SIG", "SIGs3cr3t")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let state = job.path("out/.snatch/v");
    let ledger = std::fs::read_to_string(state.join("ledger.jsonl")).unwrap();
    let done = std::fs::read_to_string(state.join("done.json")).unwrap();
    assert!(ledger.contains("/***/"), "{ledger}");
    for text in [&ledger, &done] {
        assert!(!text.contains("s3cr3t"), "{text}");
    }
    for f in files_below(job.dir.path()) {
        let hay = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!hay.contains("s3cr3t"), "secret in {}", f.display());
    }
}

#[cfg(unix)]
fn interrupt(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[cfg(unix)]
#[test]
fn an_interrupted_report_counts_what_was_fetched_and_reused() {
    let media = segments(30, 1);
    let server = TestServer::with_latency(&media, Duration::from_millis(60));
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 30 }\n    concurrency: 2\n",
    ));
    let child = job.command(&[]).spawn().unwrap();
    wait_for(|| ledger_lines(&job.path("out/.snatch/v")) >= 6);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let j = job.report()["jobs"][0].clone();
    let landed = segment_files(&job).len() as u64;
    let fetched = j["segments"]["fetched"].as_u64().unwrap();
    assert!(
        fetched >= 6 && fetched <= landed,
        "{j} with {landed} on disk"
    );
    assert!(j["bytes"].as_u64().unwrap() > 0, "{j}");

    // The rerun reuses them, and says so when it is interrupted too.
    let child = job.command(&[]).spawn().unwrap();
    wait_for(|| ledger_lines(&job.path("out/.snatch/v")) as u64 >= landed + 2);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let j = job.report()["jobs"][0].clone();
    assert_eq!(j["segments"]["reused"], landed, "{j}");
    assert!(j["segments"]["fetched"].as_u64().unwrap() >= 1, "{j}");
}

/// A small deterministic generator for the kill moments.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Where in a run the kill lands.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// After this many requests.
    Fetch(u64),
    /// This many milliseconds after the last segment was requested.
    Merge(u64),
    /// As soon as the merged file appears under its final name or its
    /// `done.json` is written.
    Finalise,
    /// As soon as the tidy-up after the merge removed the spool.
    Cleanup,
}

const KILL_SEGMENTS: u64 = 120;

/// Polls fast (a busy loop) until the moment comes; false if the run
/// ended first.
fn wait_for_moment(job: &Job, server: &TestServer, child: &mut Child, at: Moment) -> bool {
    let state = job.path("out/.snatch/v");
    let start = Instant::now();
    let mut all_requested: Option<Instant> = None;
    while start.elapsed() < Duration::from_secs(60) {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let reached = match at {
            Moment::Fetch(n) => server.requests().len() as u64 >= n,
            Moment::Merge(ms) => {
                if all_requested.is_none() && server.requests().len() as u64 >= KILL_SEGMENTS {
                    all_requested = Some(Instant::now());
                }
                all_requested.is_some_and(|t| t.elapsed() >= Duration::from_millis(ms))
            }
            Moment::Finalise => job.path("out/v.mp4").exists() || state.join("done.json").exists(),
            Moment::Cleanup => {
                state.join("done.json").exists() && !state.join("segments.spool").exists()
            }
        };
        if reached {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

/// Waits until the server has logged the killed run's last requests
/// (heads already on their way when the process died).
fn settle(server: &TestServer) {
    let mut seen = server.requests().len();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = server.requests().len();
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// A new job's run, killed (SIGKILL) at `at`; whether the kill landed
/// there (false: the run ended first).
fn killed_at(server: &TestServer, at: Moment) -> (Job, bool) {
    let job = Job::new(&job_yaml(
        &server.url(),
        &format!("    range: {{ start: 1, end: {KILL_SEGMENTS} }}\n    concurrency: 4\n"),
    ));
    settle(server);
    server.clear_requests();
    let mut child = job.command(&[]).spawn().unwrap();
    let hit = wait_for_moment(&job, server, &mut child, at);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    (job, hit)
}

#[test]
fn sigkill_at_any_moment_loses_no_complete_segment_and_no_verified_output() {
    let media = segments(KILL_SEGMENTS as u32, 1);
    let server = TestServer::start(&media);
    let mut rng = Seeded(0x5eed_2026);
    for round in 0..8 {
        let at = match round % 4 {
            0 => Moment::Fetch(1 + rng.below(KILL_SEGMENTS - 1)),
            1 => Moment::Merge(rng.below(40)),
            2 => Moment::Finalise,
            _ => Moment::Cleanup,
        };
        // A run may end before a late moment is seen: that try says
        // nothing, and another run is killed instead.
        let job = (0..5)
            .map(|_| killed_at(&server, at))
            .find_map(|(job, hit)| hit.then_some(job))
            .unwrap_or_else(|| panic!("round {round}: no run of 5 was killed at {at:?}"));
        // What was complete at the kill: the saved segments, or every one
        // once the verified output was in place.
        let mut complete = segment_files(&job);
        if job.path("out/v.mp4").exists() {
            complete = (1..=KILL_SEGMENTS).collect();
        }
        settle(&server);
        server.clear_requests();
        let out = job.run(&[]);
        assert_eq!(out.status.code(), Some(0), "{at:?}: {}", stderr(&out));
        let again: Vec<u64> = requested(&server)
            .into_iter()
            .filter(|i| complete.contains(i))
            .collect();
        eprintln!(
            "round {round}: kill at {at:?}; {} complete; rerun fetched {}",
            complete.len(),
            server.requests().len()
        );
        assert!(
            again.is_empty(),
            "{at:?}: the rerun fetched complete segments {again:?}"
        );
        assert_eq!(
            server.requests().len() as u64,
            KILL_SEGMENTS - complete.len() as u64,
            "{at:?}"
        );
        let (duration, _) = probe(&job.path("out/v.mp4"));
        assert!(
            (duration - KILL_SEGMENTS as f64).abs() < 1.0,
            "{at:?}: duration {duration}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_report_below_the_output_folder_is_not_written_through_a_link() {
    let media = segments(2, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 2 }\n",
    ));
    let victim = victim(&job);
    std::fs::create_dir_all(job.path("out")).unwrap();
    std::os::unix::fs::symlink(&victim, job.path("out/reports")).unwrap();
    let before = snapshot(&victim);
    let out = job.run(&["--junit", "out/reports/junit.xml"]);
    assert_eq!(
        snapshot(&victim).len(),
        before.len(),
        "a report landed outside"
    );
    assert_eq!(snapshot(&victim), before);
    let err = stderr(&out);
    assert!(
        err.contains("out/reports") && err.contains("symbolic link"),
        "{err}"
    );
    // The job itself and the other report are fine.
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(job.report()["jobs"][0]["status"], "ok");
}

#[test]
fn a_file_where_an_output_folder_should_be_is_named_as_such() {
    let media = segments(2, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 2 }\n    output: \"sub/x.mp4\"\n",
    ));
    std::fs::create_dir_all(job.path("out")).unwrap();
    std::fs::write(job.path("out/sub"), b"not a folder").unwrap();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = job.report()["jobs"][0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains("out/sub is not a folder"), "{err}");
    assert!(!err.contains("ffmpeg"), "{err}");
    assert_eq!(std::fs::read(job.path("out/sub")).unwrap(), b"not a folder");
}

/// The merge reads each segment where it is: saved by an earlier run (read
/// back from the spool), or fresh, kept in memory until its turn when it
/// arrived before the ones ahead of it. Either way the spool holds each
/// segment byte for byte, and the output is whole and in order.
#[test]
fn saved_and_early_segments_merge_in_index_order() {
    let media = segments(12, 1);
    let server = TestServer::start(&media);
    server.always("/000003.ts", Fault::Status(403));
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 12 }\n    concurrency: 1\n",
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let state = job.path("out/.snatch/v");
    let first = saved(&state);
    assert_eq!(first.keys().copied().collect::<Vec<_>>(), [1, 2]);
    for (i, bytes) in &first {
        let served = std::fs::read(media.join(format!("{i:06}.ts"))).unwrap();
        assert!(*bytes == served, "segment {i} is not what was served");
    }

    // Segment 3 now answers last: 4 to 12 arrive before it.
    server.clear_faults();
    server.clear_requests();
    server.script("/000003.ts", [Fault::Delay(Duration::from_millis(400))]);
    let yaml = job_yaml(
        &server.url(),
        "    range: { start: 1, end: 12 }\n    concurrency: 12\n",
    );
    std::fs::write(&job.file, yaml).unwrap();
    let out = job.run(&["--keep-segments"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = &job.report()["jobs"][0];
    assert_eq!(j["segments"]["reused"], 2, "{j}");
    assert_eq!(j["segments"]["fetched"], 10, "{j}");
    assert_eq!(server.requests().len(), 10);
    let output = job.path("out/v.mp4");
    let (duration, streams) = probe(&output);
    assert!((duration - 12.0).abs() < 0.3, "duration {duration}");
    assert_eq!(streams, ["video", "audio"]);
    assert_eq!(support::hls::decode_errors(&output), "");
    let all = saved(&state);
    assert_eq!(all.len(), 12);
    for (i, bytes) in &all {
        let served = std::fs::read(media.join(format!("{i:06}.ts"))).unwrap();
        assert!(*bytes == served, "segment {i} is not what was served");
        let exported = std::fs::read(state.join(format!("segments/{i}.ts"))).unwrap();
        assert!(exported == served, "segments/{i}.ts is not segment {i}");
    }
}

/// Runs `job`; a run still going after 20 s is killed and the test fails.
fn run_with_deadline(job: &Job) -> std::process::Output {
    let mut child = job.command(&[]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("the run hung (killed after 20 s): {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[test]
fn a_fifo_at_a_state_files_name_fails_the_job_at_once_naming_it() {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    let made = support::hls::make(support::hls::Hls::default());
    let hls_root = tempfile::tempdir().unwrap();
    support::hls::copy_to(&made, hls_root.path(), "vod");
    let hls = TestServer::start(hls_root.path());
    let template = job_yaml(&server.url(), "    range: { start: 1, end: 3 }\n");
    let playlist = format!(
        "version: 1\njobs:\n  - name: v\n    playlist: \"{}/vod/index.m3u8\"\n",
        hls.url()
    );
    for (yaml, at) in [
        (&template, "out/.snatch/v/ledger.jsonl"),
        (&template, "out/.snatch/v/done.json"),
        (&template, "out/.snatch/v/segments.spool"),
        (&template, "out/.snatch/v/lock"),
        (&template, "out/.v.mp4.snatch-lock"),
        (&playlist, "out/.snatch/v/playlist.json"),
        (&playlist, "out/.snatch/v/stream.json"),
    ] {
        let job = Job::new(yaml);
        let fifo = job.path(at);
        std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let out = run_with_deadline(&job);
        assert_eq!(out.status.code(), Some(1), "{at}: {}", stderr(&out));
        let err = job.report()["jobs"][0]["error"]
            .as_str()
            .unwrap()
            .to_string();
        for part in ["job `v`", at, "named pipe (FIFO)", "remove it"] {
            assert!(err.contains(part), "{at}: {part:?} not in: {err}");
        }
        assert!(!job.path("out/v.mp4").exists(), "{at}");
    }
}

#[cfg(unix)]
#[test]
fn a_rerun_finishes_the_tidy_up_a_kill_cut_short() {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&job_yaml(
        &server.url(),
        "    range: { start: 1, end: 3 }\n    merge: ffmpeg\n",
    ));
    let state = job.path("out/.snatch/v");
    // ffmpeg holds on after merging until the spool and the ledger are
    // copied aside: they are what a kill after the rename, before the
    // tidy-up, leaves.
    let (merged, go) = (job.path("merged"), job.path("go"));
    let ffmpeg = support::cli::script(
        job.dir.path(),
        "ffmpeg-waits",
        &format!(
            "ffmpeg \"$@\"\nrc=$?\ntouch '{}'\nn=0\nwhile [ ! -e '{}' ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done\nexit $rc\n",
            merged.display(),
            go.display()
        ),
    );
    let child = job
        .command(&[])
        .env("SNATCH_FFMPEG", &ffmpeg)
        .spawn()
        .unwrap();
    wait_for(|| merged.exists());
    assert_eq!(ledger_lines(&state), 3);
    let kept: Vec<(PathBuf, Vec<u8>)> = ["ledger.jsonl", "segments.spool"]
        .iter()
        .map(|n| (state.join(n), std::fs::read(state.join(n)).unwrap()))
        .collect();
    std::fs::write(&go, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let good = std::fs::read(job.path("out/v.mp4")).unwrap();
    assert!(!state.join("segments.spool").exists());
    for (path, bytes) in &kept {
        std::fs::write(path, bytes).unwrap();
    }
    server.clear_requests();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(job.report()["jobs"][0]["status"], "up_to_date");
    assert!(server.requests().is_empty());
    for (path, _) in &kept {
        assert!(!path.exists(), "{} is still there", path.display());
    }
    assert_eq!(std::fs::read(job.path("out/v.mp4")).unwrap(), good);
}
