//! Outputs are claimed, not shared: two snatch processes whose jobs (of two
//! job files) name one output file never put one's video under the other's
//! name and call it good. Real HTTP, real ffmpeg; the merges are made to
//! overlap by an ffmpeg wrapper that waits on handshake files.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

use support::cli::{saved, script, stderr, Job};
use support::media::{probe, segments};
use support::server::{Fault, TestServer};

/// One job named `name` of `count` one-second segments, writing `v.mp4`.
fn yaml(name: &str, url: &str, count: u32) -> String {
    format!(
        "version: 1\njobs:\n  - name: {name}\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: {count} }}\n    output: v.mp4\n"
    )
}

/// An ffmpeg that merges, then says so (`<tag>-merged` in `dir`) and ends
/// only once told (`<tag>-go`), or after a minute.
fn lingering_ffmpeg(dir: &Path) -> PathBuf {
    let d = dir.display();
    script(
        dir,
        "ffmpeg-lingers",
        &format!(
            "ffmpeg \"$@\"\nrc=$?\ntouch '{d}/'\"$TAG\"-merged\nn=0\n\
             while [ ! -e '{d}/'\"$TAG\"-go ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done\nexit $rc\n"
        ),
    )
}

/// `snatch run` of `job` into the shared folder `out`, its merges by `ffmpeg`
/// tagged `tag`.
fn start(job: &Job, out: &Path, ffmpeg: &Path, tag: &str) -> Child {
    let out = out.to_str().unwrap();
    job.command(&["--output-dir", out])
        .env("SNATCH_FFMPEG", ffmpeg)
        .env("TAG", tag)
        .spawn()
        .unwrap()
}

/// Waits until `cond` holds; false after 60 s.
fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn ended(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_some()
}

fn job_of(job: &Job) -> serde_json::Value {
    job.report()["jobs"][0].clone()
}

/// The status of each job, and the length of the file under the shared
/// name: a job reported ok must have put its own video there.
fn check_ok_means_own(job: &Job, out: &Output, want_s: f64, file: &Path) {
    let j = job_of(job);
    if j["status"] == "ok" {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        let (got, _) = probe(file);
        assert!(
            (got - want_s).abs() < 0.3,
            "job `{}` reported ok, but {} lasts {got} s, not its {want_s} s",
            j["name"],
            file.display()
        );
    }
}

#[cfg(unix)]
#[test]
fn two_runs_writing_one_output_never_report_the_others_file_as_their_own() {
    let (media_a, media_b) = (segments(3, 1), segments(2, 1));
    let (server_a, server_b) = (TestServer::start(&media_a), TestServer::start(&media_b));
    // ffmpeg merges (`merge: ffmpeg`): the wrapper holds each merge open.
    let a = Job::new(&(yaml("a", &server_a.url(), 3) + "    merge: ffmpeg\n"));
    let b = Job::new(&(yaml("b", &server_b.url(), 2) + "    merge: ffmpeg\n"));
    let shared = tempfile::tempdir().unwrap();
    let out = shared.path().join("out");
    let ffmpeg = lingering_ffmpeg(shared.path());
    let flag = |name: &str| shared.path().join(name);

    // `b` ran before and stopped short: its first segment is saved.
    server_b.always("/000002.ts", Fault::Status(403));
    std::fs::write(flag("b0-go"), "").unwrap();
    let first = start(&b, &out, &ffmpeg, "b0").wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    server_b.clear_faults();
    let b_state = out.join(".snatch/b");
    let b_saved = saved(&b_state);
    assert_eq!(b_saved.keys().copied().collect::<Vec<_>>(), [1]);

    // `a` merges and holds on; `b` starts while it does.
    let mut run_a = start(&a, &out, &ffmpeg, "a");
    let pid_a = run_a.id();
    assert!(wait_for(|| flag("a-merged").exists() || ended(&mut run_a)));
    assert!(flag("a-merged").exists(), "a's merge never finished");
    let mut run_b = start(&b, &out, &ffmpeg, "b");
    assert!(wait_for(|| flag("b-merged").exists() || ended(&mut run_b)));
    std::fs::write(flag("a-go"), "").unwrap();
    let out_a = run_a.wait_with_output().unwrap();
    std::fs::write(flag("b-go"), "").unwrap();
    let out_b = run_b.wait_with_output().unwrap();

    let file = out.join("v.mp4");
    check_ok_means_own(&a, &out_a, 3.0, &file);
    check_ok_means_own(&b, &out_b, 2.0, &file);
    // The first to claim the output wins; the other fails, naming it.
    assert_eq!(job_of(&a)["status"], "ok", "{}", stderr(&out_a));
    assert_eq!(out_b.status.code(), Some(1), "{}", stderr(&out_b));
    let j = job_of(&b);
    assert_eq!(j["status"], "failed");
    let error = j["error"].as_str().unwrap();
    let holder = format!("pid {pid_a}");
    for part in [
        "job `b`",
        &holder,
        "v.mp4",
        ".v.mp4.snatch-lock",
        "another `output`",
    ] {
        assert!(error.contains(part), "{part:?} not in: {error}");
    }
    assert!(stderr(&out_b).contains(&holder), "{}", stderr(&out_b));
    // The loser's saved work is all still there, and nothing hidden is
    // left beside the output.
    assert_eq!(saved(&b_state), b_saved);
    assert_eq!(hidden_parts(&out), Vec::<String>::new());
}

/// The names in `dir` that end in `.snatch-part`.
fn hidden_parts(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".snatch-part"))
        .collect()
}

#[test]
fn a_killed_runs_verified_merge_is_put_in_place_and_its_leftovers_go() {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&yaml("v", &server.url(), 3));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let good = std::fs::read(job.path("out/v.mp4")).unwrap();
    // As a run killed between `done.json` and the rename leaves it: the
    // verified file under the hidden name of its (gone) process, which
    // `done.json` records; and two other dead processes' merges.
    let hidden = ".v.mp4.4000000.snatch-part";
    std::fs::rename(job.path("out/v.mp4"), job.path("out").join(hidden)).unwrap();
    let done_path = job.path("out/.snatch/v/done.json");
    let mut done: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&done_path).unwrap()).unwrap();
    done["temp"] = hidden.into();
    std::fs::write(&done_path, done.to_string()).unwrap();
    for junk in [
        ".v.mp4.4000001.snatch-part",
        ".v.mp4.4000002.video.snatch-part",
    ] {
        std::fs::write(job.path("out").join(junk), b"half a merge").unwrap();
    }
    server.clear_requests();
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(job_of(&job)["status"], "up_to_date");
    assert_eq!(std::fs::read(job.path("out/v.mp4")).unwrap(), good);
    assert!(server.requests().is_empty(), "{:?}", server.requests());
    assert_eq!(hidden_parts(&job.path("out")), Vec::<String>::new());
}
