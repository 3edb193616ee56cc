//! The check of a merged file: an ffprobe started while ffmpeg still works
//! reads the file, once whole, as a direct ffprobe does; one that cannot
//! (an FFmpeg without `concatf:`) gives way to a direct one; none is left
//! behind by a run that was killed. Real ffmpeg, real ffprobe (FFmpeg 5.0
//! or later, which has `concatf:`; Debian 12 has 5.1).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use snatch::merge::{self, EarlyProbe, Tools};
use support::cli::{script, stderr, Job};
use support::media::segments;
use support::server::TestServer;

/// Three seconds of the test media in `container`, made by ffmpeg at `out`.
fn merged(out: &Path, container: &str) {
    let media = segments(3, 1);
    let list: Vec<String> = (1..=3)
        .map(|i| media.join(format!("{i:06}.ts")).display().to_string())
        .collect();
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-i", &format!("concat:{}", list.join("|"))])
        .args(["-map", "0", "-c", "copy", "-f", container])
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg made no {container}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

#[test]
fn an_early_probe_reads_a_finished_file_as_a_direct_probe_does() {
    let tools = Tools::find().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A name FFmpeg's list syntax would change if it were not quoted.
    let folder = dir.path().join("it's a \\ 'name'\nwith a line break");
    std::fs::create_dir(&folder).unwrap();
    let rt = runtime();
    let _in = rt.enter();
    for container in ["mp4", "matroska", "mpegts"] {
        let file = folder.join(format!("out {container}.snatch-part"));
        // Started before the file exists, as in a run.
        let early = EarlyProbe::start(&tools).expect("ffprobe starts");
        std::thread::sleep(Duration::from_millis(300));
        merged(&file, container);
        let got = rt.block_on(early.read(&file));
        let direct = rt.block_on(merge::probe(&tools, &file)).unwrap();
        assert_eq!(got.unwrap(), direct, "{container}");
        assert_eq!(direct.streams, ["video", "audio"], "{container}");
        assert!(
            (direct.duration_s - 3.0).abs() < 0.3,
            "{container}: {direct:?}"
        );
    }
}

#[test]
fn an_early_probe_of_a_cut_file_fails_and_so_does_the_check() {
    let tools = Tools::find().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.mp4");
    merged(&file, "mp4");
    let bytes = std::fs::read(&file).unwrap();
    // ffmpeg writes the index (`moov`) last: half a file has none.
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let rt = runtime();
    let _in = rt.enter();
    let early = EarlyProbe::start(&tools).unwrap();
    assert!(rt.block_on(early.read(&file)).is_err());
    let early = EarlyProbe::start(&tools).unwrap();
    let checked = rt.block_on(merge::probe_file(&tools, Some(early), &file));
    assert!(checked.is_err(), "{checked:?}");
    // Both failed: nothing says early probes do not work here.
    assert!(EarlyProbe::start(&tools).is_some());
}

/// A job file of `jobs` jobs of 5 segments each, one job at a time,
/// each merged into `NAME.ext` (`mkv`: checked by ffprobe; `mp4`: read
/// in-process).
fn jobs_yaml(url: &str, jobs: &[&str], ext: &str) -> String {
    let mut y = "version: 1\nlimits:\n  global: { jobs: 1 }\njobs:\n".to_string();
    for name in jobs {
        y.push_str(&format!(
            "  - name: {name}\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 5 }}\n    output: {name}.{ext}\n"
        ));
    }
    y
}

fn log_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_run_of_an_mkv_checks_with_one_ffprobe_started_before_ffmpeg_ended() {
    let media = segments(5, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&jobs_yaml(&server.url(), &["v"], "mkv"));
    let log = job.path("tools.log");
    let l = log.display();
    // ffmpeg ends only once an ffprobe has started (or 20 s have passed):
    // an ffprobe started after ffmpeg ended logs after `ffmpeg-end`.
    let ffmpeg = script(
        job.dir.path(),
        "ffmpeg-slow",
        &format!(
            "ffmpeg \"$@\"\nrc=$?\nn=0\nwhile ! grep -q ffprobe '{l}' 2>/dev/null && [ $n -lt 400 ]; do sleep 0.05; n=$((n+1)); done\necho ffmpeg-end >> '{l}'\nexit $rc\n"
        ),
    );
    let ffprobe = script(
        job.dir.path(),
        "ffprobe-logged",
        &format!("echo \"ffprobe $*\" >> '{l}'\nexec ffprobe \"$@\"\n"),
    );
    let out = job.run_env(&[("SNATCH_FFMPEG", &ffmpeg), ("SNATCH_FFPROBE", &ffprobe)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("-i concatf:pipe:0"), "{lines:?}");
    assert_eq!(lines[1], "ffmpeg-end", "ffprobe started first: {lines:?}");
    let j = &job.report()["jobs"][0];
    assert_eq!(j["status"], "ok");
    assert_eq!(j["media"]["streams"], serde_json::json!(["video", "audio"]));
    let (duration, _) = support::media::probe(&job.path("out/v.mkv"));
    assert_eq!(j["media"]["duration_s"].as_f64(), Some(duration));
}

#[test]
fn an_ffprobe_without_concatf_checks_directly_and_is_not_asked_early_again() {
    let media = segments(5, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&jobs_yaml(&server.url(), &["a", "b"], "mkv"));
    let log = job.path("ffprobe.log");
    // As FFmpeg 4 answers: it has no such protocol.
    let ffprobe = script(
        job.dir.path(),
        "ffprobe-4",
        &format!(
            "case \"$*\" in\n*concatf:*) echo refused >> '{l}'\n  echo 'concatf:pipe:0: Protocol not found' >&2\n  exit 1 ;;\nesac\necho direct >> '{l}'\nexec ffprobe \"$@\"\n",
            l = log.display()
        ),
    );
    let out = job.run_env(&[("SNATCH_FFPROBE", &ffprobe)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The next job fetches while one finishes: a job whose check began
    // before the first refusal was known may be refused once too; every
    // job is then checked directly, once.
    let lines = log_lines(&log);
    let count = |w: &str| lines.iter().filter(|l| *l == w).count();
    assert_eq!(lines[0], "refused", "{lines:?}");
    assert_eq!(
        (count("direct"), count("refused") <= 2),
        (2, true),
        "{lines:?}"
    );
    assert_eq!(job.report()["totals"]["ok"], 2);
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped).
fn ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_killed_run_leaves_no_ffprobe_waiting() {
    let media = segments(5, 1);
    let server = TestServer::start(&media);
    let job = Job::new(&jobs_yaml(&server.url(), &["v"], "mkv"));
    let pids = job.path("ffprobe.pid");
    let release = job.path("release");
    // ffmpeg ends its work and then holds the run in the merge until the
    // test lets it go (or 60 s have passed).
    let ffmpeg = script(
        job.dir.path(),
        "ffmpeg-stuck",
        &format!(
            "ffmpeg \"$@\"\nn=0\nwhile [ ! -e '{r}' ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done\necho > '{r}.done'\n",
            r = release.display()
        ),
    );
    let _release = Release(release.clone());
    let ffprobe = script(
        job.dir.path(),
        "ffprobe-pid",
        &format!("echo $$ >> '{}'\nexec ffprobe \"$@\"\n", pids.display()),
    );
    let mut child = job
        .command(&[])
        .env("SNATCH_FFMPEG", &ffmpeg)
        .env("SNATCH_FFPROBE", &ffprobe)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let pid = loop {
        if let Some(p) = log_lines(&pids).first().and_then(|p| p.parse::<u32>().ok()) {
            break p;
        }
        assert!(Instant::now() < deadline, "no ffprobe started");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Let it load and wait on its stdin.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!ended(pid), "ffprobe ended before snatch did");
    child.kill().unwrap(); // SIGKILL: snatch cannot tidy up
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ended(pid) {
        assert!(Instant::now() < deadline, "ffprobe {pid} still waits");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lets the held ffmpeg wrapper end however the test ends, and waits (at
/// most 10 s) until it has, before the test's folder goes.
struct Release(PathBuf);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.0, "");
        let done = self.0.with_extension("done");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
