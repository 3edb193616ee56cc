//! A full disk never ends in a wrong output, and always says so: a small
//! tmpfs made by the test fills during the merge (the output's folder) or
//! during the fetch (the state folder). ffmpeg 5.1 exits 0 after a write
//! error on its last writes; the job must fail all the same, name the
//! folder to free, keep every segment, and a rerun with room resumes.
//! Mounting needs root: elsewhere these tests say why they skip.

use std::path::{Path, PathBuf};

use super::support::cli::{ledger_lines, script, stderr, Job};
use super::support::hls::{make, Hls};
use super::support::media::{probe, segments};
use super::support::server::TestServer;
use super::support::tmpfs::Tmpfs;

/// A job of ten 1-second segments; `output` as the job file writes it.
fn job_of(server: &TestServer, output: &str) -> Job {
    Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    \
         range: {{ start: 1, end: 10 }}\n    output: {output}\n",
        server.url()
    ))
}

/// The job's message from its report.
fn error_of(job: &Job) -> String {
    job.report()["jobs"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The words that tell which folder to free.
fn space_in(folder: &Path) -> String {
    format!("Free space in {},", folder.display())
}

/// Fills `dir` (a tmpfs) so that about `room` bytes stay free.
fn leave_room(dir: &Path, room: u64) -> PathBuf {
    let filler = dir.join("filler");
    // SAFETY: statvfs on a NUL-terminated path into a zeroed struct.
    let free = unsafe {
        let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        let mut s: libc::statvfs = std::mem::zeroed();
        assert_eq!(libc::statvfs(path.as_ptr(), &mut s), 0);
        s.f_bavail * s.f_frsize
    };
    std::fs::write(&filler, vec![1u8; free.saturating_sub(room) as usize]).unwrap();
    filler
}

/// The output's folder fills while the merged file is written (by
/// snatch, or by ffmpeg in its last writes: ffmpeg reports them and exits 0): the job fails saying the
/// disk is full and which folder, keeps every segment, marks nothing done;
/// with room made, the rerun merges the saved segments, fetching none.
#[test]
fn a_disk_that_fills_during_the_merge_fails_the_job_and_the_rerun_resumes() {
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    // `mp4`: merged in-process; `mp4 by ffmpeg`: `merge: ffmpeg`.
    for container in ["mp4", "mp4 by ffmpeg", "ts", "mkv"] {
        let (container, how) = container.split_once(" by ").unwrap_or((container, "auto"));
        let output = format!("\"media/{{{{name}}}}.{container}\"\n    merge: {how}");
        let job = job_of(&server, &output);
        let folder = job.path("out/media");
        let Some(_disk) = Tmpfs::mount(&folder, 1024) else {
            return;
        };
        // The merged file is ~190 kB: it cannot fit.
        let filler = leave_room(&folder, 120 * 1024);
        let out = job.run(&[]);
        assert_eq!(out.status.code(), Some(1), "{container}: {}", stderr(&out));
        let error = error_of(&job);
        assert!(
            error.contains("disk is full") && error.contains(&space_in(&folder)),
            "{container}: {error}"
        );
        assert!(!error.contains("/dev/stdout"), "{error}");
        let output = folder.join(format!("v.{container}"));
        assert!(
            !output.exists(),
            "{container}: a truncated output is in place"
        );
        let state = job.path("out/.snatch/v");
        assert_eq!(ledger_lines(&state), 10, "{container}: segments kept");
        assert!(!state.join("done.json").exists());

        std::fs::remove_file(&filler).unwrap();
        server.clear_requests();
        let out = job.run(&[]);
        assert_eq!(out.status.code(), Some(0), "{container}: {}", stderr(&out));
        assert!(server.requests().is_empty(), "{container}: nothing fetched");
        let (duration, _) = probe(&output);
        assert!((duration - 10.0).abs() < 0.3, "{container}: {duration}");
    }
}

/// The state folder fills while segments arrive: the job fails saying the
/// disk is full and naming the folder to free; a rerun with room keeps
/// what was saved and fetches the rest.
#[test]
fn a_state_folder_that_fills_while_fetching_says_the_disk_is_full() {
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    let job = job_of(&server, "\"{{name}}.mp4\"");
    let Some(disk) = Tmpfs::mount(&job.path("out/.snatch"), 100) else {
        return;
    };
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let error = error_of(&job);
    assert!(
        error.contains("disk is full") && error.contains(&space_in(&job.path("out/.snatch/v"))),
        "{error}"
    );
    assert!(error.contains("rerun"), "{error}");
    let saved = ledger_lines(&job.path("out/.snatch/v"));
    assert!(saved > 0, "segments that fitted are kept");

    disk.resize(2048);
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let reused = job.report()["jobs"][0]["segments"]["reused"].as_u64();
    assert_eq!(reused, Some(saved as u64));
}

/// Runs `job` (its output `media/v.ts`) with room for all but the last
/// writes of its merge and an ffmpeg whose words go nowhere, as ffmpeg 5.1
/// exits 0 after a failed last write: the job must fail with `short`
/// (naming the stream and what its segments add up to), keep its `saved`
/// segments, and end ok once there is room. The output's disk (the file
/// is there while it is held); `None` where no tmpfs can be mounted (the
/// test skips).
fn cut_short_in_silence(job: &Job, room: u64, short: &str, saved: usize) -> Option<Tmpfs> {
    let folder = job.path("out/media");
    let disk = Tmpfs::mount(&folder, 1024)?;
    let filler = leave_room(&folder, room);
    let silent = script(
        job.dir.path(),
        "ffmpeg-silent",
        "ffmpeg \"$@\" 2>/dev/null\n",
    );
    let out = job.run_env(&[("SNATCH_FFMPEG", &silent)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let error = error_of(job);
    assert!(
        error.contains("video stream (stream #0)") && error.contains(short),
        "{error}"
    );
    assert!(!folder.join("v.ts").exists(), "a short output is in place");
    let kept = ledger_lines(&job.path("out/.snatch/v"));
    assert_eq!(kept, saved, "segments kept");

    std::fs::remove_file(&filler).unwrap();
    let out = job.run_env(&[("SNATCH_FFMPEG", &silent)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    Some(disk)
}

/// A merged file cut short with nothing said: ffmpeg meets a full disk,
/// its words are lost and it exits 0. The MPEG-TS it leaves probes fine,
/// only shorter: a range job, which implies no length, must still find it
/// short of what its segments' own timestamps add up to, name the
/// stream, and keep every segment.
#[test]
fn a_merged_file_cut_short_in_silence_fails_on_its_segments_timestamps() {
    let media = segments(10, 1);
    let server = TestServer::start(&media);
    let job = job_of(&server, "\"media/{{name}}.ts\"");
    let short = "short of the 9.90–10.00 s its segments' own timestamps add up to";
    cut_short_in_silence(&job, 120 * 1024, short, 10);
}

/// The same for a template job of fragmented MP4 segments and their init
/// segment: each segment's sample durations add up to what the merged
/// file must hold, and a silent cut is found short of them. The merged
/// file is ~295 kB; with room for all but its last writes, ffmpeg exits 0.
#[test]
fn an_fmp4_merge_cut_short_in_silence_fails_on_its_segments_durations() {
    let made = make(Hls {
        name: "fmp4-12s",
        fmp4: true,
        secs: 12,
        ..Hls::default()
    });
    let server = TestServer::start(&made);
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{0}/seg{{{{index}}}}.m4s\"\n    \
         init: \"{0}/init.mp4\"\n    range: {{ start: 0, end: 5 }}\n    \
         output: \"media/{{{{name}}}}.ts\"\n",
        server.url()
    ));
    let short = "short of the 12.00 s its segments' own timestamps add up to";
    let Some(disk) = cut_short_in_silence(&job, 280 * 1024, short, 6) else {
        return;
    };
    let (duration, _) = probe(&disk.path().join("v.ts"));
    assert!((duration - 12.0).abs() < 0.3, "{duration}");
}
