//! The segment check on real media made by ffmpeg: every format snatch
//! accepts passes whole and in any chunking, and fails when cut short; and
//! through the binary, a hostile body whose first bytes pass fails its
//! segment, naming where it goes wrong, while the other segments are kept.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use snatch::media::{Check, Format};
use support::cli::{stderr, Job};
use support::media::segments;
use support::server::{Fault, TestServer};

fn ffmpeg(dir: &Path, args: &[&str]) {
    let status = Command::new("ffmpeg")
        .current_dir(dir)
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args:?}");
}

const VIDEO: [&str; 4] = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10"];
const AUDIO: [&str; 4] = ["-f", "lavfi", "-i", "sine=frequency=440"];

/// Real segments of every accepted kind, with the format each must be.
fn samples(dir: &Path) -> Vec<(PathBuf, Format)> {
    let hls = [
        &VIDEO[..],
        &AUDIO[..],
        &["-t", "3", "-c:v", "libx264", "-g", "10", "-c:a", "aac"],
        &["-f", "hls", "-hls_segment_type", "fmp4", "-hls_time", "1"],
        &["-hls_fmp4_init_filename", "init.mp4", "v.m3u8"],
    ]
    .concat();
    ffmpeg(dir, &hls);
    let audio = |codec: &str, extra: &[&str], name: &str| {
        let args = [&AUDIO[..], &["-t", "2", "-c:a", codec], extra, &[name]].concat();
        ffmpeg(dir, &args);
    };
    audio("aac", &["-f", "adts"], "plain.aac");
    audio("aac", &["-f", "adts", "-write_id3v2", "1"], "tagged.aac");
    audio("libmp3lame", &["-f", "mp3"], "tagged.mp3");
    audio("mp2", &["-f", "mp2"], "plain.mp2");
    let ts = segments(2, 1).join("000001.ts");
    vec![
        (ts, Format::Ts),
        (dir.join("init.mp4"), Format::Mp4),
        (dir.join("v0.m4s"), Format::Mp4),
        (dir.join("v2.m4s"), Format::Mp4),
        (dir.join("plain.aac"), Format::Audio),
        (dir.join("tagged.aac"), Format::Audio),
        (dir.join("tagged.mp3"), Format::Audio),
        (dir.join("plain.mp2"), Format::Audio),
    ]
}

fn check(body: &[u8], chunk: usize) -> Result<Format, String> {
    let mut c = Check::new();
    for piece in body.chunks(chunk) {
        c.feed(piece).map_err(|e| e.to_string())?;
    }
    c.finish().map_err(|e| e.to_string())?;
    Ok(c.format().expect("told"))
}

#[test]
fn real_segments_of_every_accepted_kind_pass_and_fail_when_cut() {
    let dir = tempfile::tempdir().unwrap();
    for (file, format) in samples(dir.path()) {
        let body = std::fs::read(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        for chunk in [1, 3, 7, 188, 1000, 65536, body.len()] {
            assert_eq!(
                check(&body, chunk),
                Ok(format),
                "{name} in chunks of {chunk}"
            );
        }
        let cut = check(&body[..body.len() - 1], 4096);
        assert!(cut.is_err(), "{name} cut short by a byte passed");
    }
}

const HTML: &[u8] =
    b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Log in</body></html>";

/// Runs a job of 5 real segments whose 3rd is `body`: it fails on that
/// segment alone, and gives its error.
fn segment_3_is(body: Vec<u8>) -> String {
    let media = segments(5, 1);
    let server = TestServer::start(&media);
    server.always("/000003.ts", Fault::Body(body));
    let job = Job::new(&format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 2, backoff: 10ms, max_backoff: 20ms }}\njobs:\n  - name: v\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 5 }}\n",
        server.url()
    ));
    let out = job.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let j = &job.report()["jobs"][0];
    assert_eq!(j["status"], "failed");
    assert_eq!(j["segments"]["missing"], serde_json::json!([3]));
    assert_eq!(j["segments"]["fetched"], 4, "the other segments are kept");
    let ledger = std::fs::read_to_string(job.path("out/.snatch/v/ledger.jsonl")).unwrap();
    let kept: Vec<u64> = ledger
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["index"].as_u64())
        .collect();
    assert_eq!(kept.len(), 4, "{ledger}");
    assert!(!kept.contains(&3), "{ledger}");
    assert!(!job.path("out/v.mp4").exists());
    let err = j["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("job `v`") && err.contains("segment 3"),
        "{err}"
    );
    assert!(stderr(&out).contains("segment 3"), "{}", stderr(&out));
    err
}

#[test]
fn an_mp4_box_of_size_0_before_an_html_page_fails_its_segment() {
    let body = [b"\0\0\0\0mdat".as_slice(), HTML].concat();
    let err = segment_3_is(body);
    assert!(
        err.contains("not a valid fragmented MP4 segment: at byte 0, a \"mdat\" box of size 0"),
        "{err}"
    );
    assert!(
        err.contains(r#"("\x00\x00\x00\x00mdat<!DOCTYPE html>"#),
        "{err}"
    );
}

#[test]
fn an_html_page_inside_an_id3_tag_fails_its_segment() {
    let mut body = b"ID3\x04\0\0\0\0".to_vec();
    body.extend([(HTML.len() >> 7) as u8, HTML.len() as u8 & 0x7f]);
    body.extend_from_slice(HTML);
    let err = segment_3_is(body);
    assert!(
        err.contains("not a valid AAC/MPEG audio segment: ID3 tags and no audio frame (92 bytes, starting \"ID3"),
        "{err}"
    );
    assert!(err.contains("<!DOCTYPE"), "{err}");
}

#[test]
fn a_sync_byte_every_188_bytes_with_text_between_fails_at_the_first_bad_packet() {
    // Two real packets (the PAT and PMT of a real segment), then `G` and
    // an HTML page every 188 bytes.
    let real = std::fs::read(segments(5, 1).join("000003.ts")).unwrap();
    let mut body = real[..376].to_vec();
    for _ in 0..20 {
        body.push(0x47);
        body.extend(HTML.iter().cycle().take(187));
    }
    let err = segment_3_is(body);
    assert!(
        err.contains("not a valid MPEG-TS segment: at byte 376, a packet header with the reserved adaptation_field_control 00"),
        "{err}"
    );
    assert!(err.contains(r#"("G<!DOCTYPE html>"#), "{err}");
}

#[test]
fn a_single_null_packet_fails_its_segment() {
    let mut body = vec![0xFFu8; 188];
    body[..4].copy_from_slice(&[0x47, 0x1F, 0xFF, 0x10]);
    let err = segment_3_is(body);
    assert!(
        err.contains("not a valid MPEG-TS segment: every packet is a null packet (PID 0x1FFF) (188 bytes, starting \"G\\x1f\\xff\\x10"),
        "{err}"
    );
}
