//! Limits measured where they matter, at the server: `bytes_per_second`
//! (its average and every one-second window, shared by jobs, split by
//! `--shard`) and the rate snatch adapts to when a host answers 429
//! without `Retry-After`.

use crate::support;

use std::time::{Duration, Instant};

use support::cli::{stderr, Job};
use support::media::{probe, segments, segments_at};
use support::server::TestServer;
use support::timing::alone;

/// Segments in all, half for each of two jobs.
const SEGMENTS: u32 = 110;

/// Segments of 1 s at 500 kb/s: about 65 KB each, 7 MB in all. Small
/// beside the limit, as segments are beside the limits they are used
/// with (the test of sixteen connections takes big ones).
fn media() -> std::path::PathBuf {
    segments_at(SEGMENTS, 1, 500)
}

/// The largest of the segments, in bytes.
fn largest(dir: &std::path::Path) -> u64 {
    (1..=SEGMENTS)
        .map(|i| {
            std::fs::metadata(dir.join(format!("{i:06}.ts")))
                .unwrap()
                .len()
        })
        .max()
        .unwrap()
}

/// Two jobs of `count` segments each from `server`; `limits` and each
/// job's `extra` keys as given.
fn two_jobs(server: &TestServer, limits: &str, extra: &str) -> String {
    let count = SEGMENTS / 2;
    let url = server.url();
    let job = |name: &str, start: u32| {
        format!(
            "  - name: {name}\n    url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n    \
             range: {{ start: {start}, end: {} }}\n    concurrency: 1\n{extra}",
            start + count - 1
        )
    };
    format!(
        "version: 1\nlimits:\n{limits}jobs:\n{}{}",
        job("a", 1),
        job("b", count + 1)
    )
}

/// What the server's byte log says: the average over the whole transfer
/// (first write to last), and the most any one-second window held.
struct Measured {
    total: u64,
    average: f64,
    worst_second: u64,
}

fn measure(log: &[(Instant, u64)]) -> Measured {
    assert!(log.len() > 10, "{} writes logged", log.len());
    let total: u64 = log.iter().map(|(_, n)| n).sum();
    let span = log.last().unwrap().0.duration_since(log[0].0);
    // Bytes after the first write, over the time they took.
    let average = (total - log[0].1) as f64 / span.as_secs_f64();
    let mut worst_second = 0;
    let mut end = 0;
    let mut in_window = 0u64;
    for (start, (t, _)) in log.iter().enumerate() {
        while end < log.len() && log[end].0 < *t + Duration::from_secs(1) {
            in_window += log[end].1;
            end += 1;
        }
        worst_second = worst_second.max(in_window);
        in_window -= log[start].1;
    }
    Measured {
        total,
        average,
        worst_second,
    }
}

/// What snatch itself may read above the limit in a second: the bucket
/// (16 KiB at these limits) and the chunk that is paid for after it
/// arrived (the HTTP library's reads, at most tens of KiB).
const SNATCH_LEAD: u64 = 64 * 1024;

/// The average within 5 % of `limit`, and no second over it by more than
/// one segment for each of `connections` (the second a request went in,
/// or the one sent before any size was known, its body taken in by the
/// kernel's buffers ahead of snatch) and [`SNATCH_LEAD`].
fn check(m: &Measured, limit: f64, connections: u64, segment: u64) {
    let lead = connections * segment + SNATCH_LEAD;
    eprintln!(
        "{} bytes at {:.0} B/s on average, {} in the fullest second (limit {limit}, segment {segment})",
        m.total, m.average, m.worst_second
    );
    let off = (m.average - limit).abs() / limit;
    assert!(
        off <= 0.05,
        "average {:.0} B/s is {:.1} % off the limit {limit} ({} bytes)",
        m.average,
        off * 100.0,
        m.total
    );
    assert!(
        m.worst_second as f64 <= limit + lead as f64,
        "a second held {} bytes, more than the limit {limit} and {lead} ({:.0} B/s on average)",
        m.worst_second,
        m.average
    );
}

/// Two jobs share the run's `bytes_per_second`: together, as the server
/// sent them, they keep to it on average (within 5 %), and no second holds
/// more than the limit, one segment for each of the two connections (what
/// the kernel's buffers take in ahead of snatch) and [`SNATCH_LEAD`].
/// 7 MB at 1 MB/s: about 7 s.
#[test]
fn two_jobs_share_the_runs_bytes_per_second() {
    let _timing = alone();
    let media = media();
    let server = TestServer::start(&media);
    let yaml = two_jobs(&server, "  global: { bytes_per_second: 1M }\n", "");
    let job = Job::new(&yaml);
    server.set_byte_log(true);
    let started = Instant::now();
    let out = job.run(&[]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let m = measure(&server.bytes_sent());
    check(&m, 1_000_000.0, 2, largest(&media));
    assert!(took >= Duration::from_secs(6), "took {took:?}");
    for name in ["a", "b"] {
        let (duration, _) = probe(&job.path(&format!("out/{name}.mp4")));
        let want = f64::from(SEGMENTS / 2);
        assert!((duration - want).abs() < 0.3, "{name}: {duration}");
    }
}

/// Under `--shard 1/2` a shard takes half the host's `bytes_per_second`:
/// its one job (the other is shard 2's) gets 1 MB/s of the file's 2 MB/s,
/// no second over it by more than one segment and [`SNATCH_LEAD`]. 3.5 MB:
/// about 3.5 s.
#[test]
fn a_shard_takes_its_share_of_bytes_per_second() {
    let _timing = alone();
    let media = media();
    let server = TestServer::start(&media);
    let limits = "  per_host: { bytes_per_second: 2M }\n";
    let job = Job::new(&two_jobs(&server, limits, ""));
    server.set_byte_log(true);
    let out = job.run(&["--shard", "1/2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = job.report();
    assert_eq!(report["jobs"][0]["status"], "ok");
    assert_eq!(report["jobs"][1]["status"], "skipped");
    let m = measure(&server.bytes_sent());
    check(&m, 1_000_000.0, 1, largest(&media));
}

/// One job with a `bytes_per_second` of its own (700 KB/s), four
/// connections, no limit of the run: the server keeps to it on average
/// (within 5 %), no second over it by more than one segment and
/// [`SNATCH_LEAD`]. 7 MB: about 10 s.
#[test]
fn a_jobs_own_bytes_per_second_holds_at_the_server() {
    let _timing = alone();
    let media = media();
    let server = TestServer::start(&media);
    let url = server.url();
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{url}/{{{{index}}}}.ts\"\n    \
         padding: 6\n    range: {{ start: 1, end: {SEGMENTS} }}\n    concurrency: 4\n    \
         bytes_per_second: 700K\n"
    ));
    server.set_byte_log(true);
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let m = measure(&server.bytes_sent());
    check(&m, 700_000.0, 1, largest(&media));
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!((duration - f64::from(SEGMENTS)).abs() < 0.5, "{duration}");
}

/// Segments big beside the limit: 28 of 1 s at 3600 kb/s (about 460 KB
/// each), 16 connections, `bytes_per_second: 1M` for the run. Sixteen
/// requests at once would have the server push megabytes into the
/// kernel's buffers in the first second; requests paid for up front keep
/// it to the limit on average (within 5 %) and no second over it by more
/// than one segment and [`SNATCH_LEAD`]. (Requests go about every 0.46 s:
/// a fourth in one second would need one sent 0.4 s late, which a busy
/// machine does not make a failure.) 13 MB: about 13 s.
#[test]
fn sixteen_connections_keep_to_bytes_per_second_at_the_server() {
    let _timing = alone();
    let count = 28;
    let media = segments_at(count, 1, 3600);
    let server = TestServer::start(&media);
    let url = server.url();
    let job = Job::new(&format!(
        "version: 1\nlimits:\n  global: {{ bytes_per_second: 1M }}\n  \
         per_host: {{ concurrency: 16 }}\njobs:\n  - name: v\n    \
         url: \"{url}/{{{{index}}}}.ts\"\n    padding: 6\n    \
         range: {{ start: 1, end: {count} }}\n    concurrency: 16\n"
    ));
    server.set_byte_log(true);
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let m = measure(&server.bytes_sent());
    let segment = (1..=count)
        .map(|i| {
            std::fs::metadata(media.join(format!("{i:06}.ts")))
                .unwrap()
                .len()
        })
        .max()
        .unwrap();
    assert!(
        segment > 200_000,
        "segments of {segment} bytes: too small to test"
    );
    check(&m, 1_000_000.0, 1, segment);
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!((duration - f64::from(count)).abs() < 0.5, "{duration}");
}

/// A server that allows 30 requests a second and answers 429 without
/// `Retry-After` above it: snatch halves the host's rate on the first
/// storm and grows it back slowly, so that the job ends with fewer than
/// 5 % of its requests refused, and the report says the rate was adapted.
/// 300 segments at about 20/s: about 15 s.
#[test]
fn a_host_that_refuses_without_retry_after_gets_an_adapted_rate() {
    let _timing = alone();
    let media = segments(300, 1);
    let server = TestServer::start(&media);
    server.cap_rate(Some(30.0));
    let url = server.url();
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{url}/{{{{index}}}}.ts\"\n    \
         padding: 6\n    range: {{ start: 1, end: 300 }}\n"
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = server.requests();
    let refused = requests.iter().filter(|r| r.status == 429).count();
    let share = refused as f64 / requests.len() as f64;
    eprintln!("{refused} of {} requests refused", requests.len());
    assert!(
        share < 0.05,
        "{refused} of {} requests refused ({:.1} %)",
        requests.len(),
        share * 100.0
    );
    assert!(refused > 0, "the server never refused: nothing was tested");
    let report = job.report();
    let j = &report["jobs"][0];
    assert_eq!(j["status"], "ok");
    let adapted = &j["rate_adapted"];
    assert_eq!(adapted["host"], "127.0.0.1", "{j}");
    assert!(adapted["halvings"].as_u64().unwrap() >= 1, "{adapted}");
    let lowest = adapted["lowest_per_second"].as_f64().unwrap();
    assert!(lowest > 0.0 && lowest <= 30.0, "{adapted}");
    let err = stderr(&out);
    assert!(
        err.contains("127.0.0.1 slowed to") && err.contains("429 without Retry-After"),
        "{err}"
    );
    let (duration, _) = probe(&job.path("out/v.mp4"));
    assert!((duration - 300.0).abs() < 1.0, "{duration}");
}
