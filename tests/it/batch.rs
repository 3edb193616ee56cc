//! A batch's jobs in flight: a job that has fetched all it will gives its
//! place (`limits.global.jobs`) to the next job while its ffmpeg finishes
//! and its output is checked, so the next job fetches meanwhile.

use crate::support;

use support::cli::{script, stderr, Job};
use support::media::segments;
use support::server::TestServer;

#[test]
fn the_next_job_fetches_while_the_one_before_finishes_its_merge() {
    let media = segments(3, 1);
    let server = TestServer::start(&media);
    let mut yaml = "version: 1\nlimits:\n  global: { jobs: 1 }\njobs:\n".to_string();
    for name in ["a", "b"] {
        yaml.push_str(&format!(
            "  - name: {name}\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 3 }}\n    merge: ffmpeg\n",
            server.url()
        ));
    }
    let job = Job::new(&yaml);
    let log = job.path("ffmpeg.log");
    // Each ffmpeg, once done, waits until a second one has started (a
    // job's ffmpeg starts when its first segment has arrived), or 5 s.
    let ffmpeg = script(
        job.dir.path(),
        "ffmpeg-waits",
        &format!(
            "echo start >> '{l}'\nffmpeg \"$@\"\nrc=$?\nn=0\nwhile [ \"$(grep -c start '{l}')\" -lt 2 ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n+1)); done\necho end >> '{l}'\nexit $rc\n",
            l = log.display()
        ),
    );
    let out = job.run_env(&[("SNATCH_FFMPEG", &ffmpeg)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(job.report()["totals"]["ok"], 2);
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    // One job in flight, yet b fetched (and started its ffmpeg) while a's
    // ffmpeg had not ended.
    assert_eq!(lines, ["start", "start", "end", "end"]);
}
