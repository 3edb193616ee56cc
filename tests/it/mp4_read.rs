//! A merged MP4 is checked by reading its index in-process: the reader
//! finds the lengths and stream types ffprobe finds, on real ffmpeg
//! outputs (from MPEG-TS and from fragmented MP4, video and audio, video
//! only, audio only, index first or last); it refuses a file cut short
//! (also one whose index survived, which ffprobe would pass); it leaves
//! what it does not cover (Matroska, MPEG-TS, a fragmented MP4) to
//! ffprobe; and a run of an MP4 job starts no ffprobe at all.

use crate::support;

use std::path::Path;
use std::process::Command;

use snatch::merge::{self, mp4, ProbeError, Tools};
use support::cli::{script, stderr, Job};
use support::media::segments;
use support::server::TestServer;

/// ffmpeg with `args`, then `out`; panics when it fails.
fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(out)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "ffmpeg {args:?} made no {}",
        out.display()
    );
}

/// Four seconds of the test media as one MPEG-TS file.
fn ts_input(dir: &Path) -> String {
    let media = segments(4, 1);
    let list: Vec<String> = (1..=4)
        .map(|i| media.join(format!("{i:06}.ts")).display().to_string())
        .collect();
    let joined = dir.join("in.ts");
    let concat = format!("concat:{}", list.join("|"));
    ffmpeg(
        &["-i", &concat, "-map", "0", "-c", "copy", "-f", "mpegts"],
        &joined,
    );
    joined.display().to_string()
}

fn ffprobe(file: &Path) -> merge::Probed {
    let tools = Tools::find().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(merge::probe(&tools, file)).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// The in-process reading equals ffprobe's, duration by duration.
fn same_as_ffprobe(file: &Path) -> merge::Probed {
    let ours = mp4::read(file).unwrap().expect("an MP4 the reader covers");
    let theirs = ffprobe(file);
    assert_eq!(ours.streams, theirs.streams, "{}", file.display());
    assert!(
        close(ours.duration_s, theirs.duration_s),
        "{ours:?} vs {theirs:?}"
    );
    for (o, t) in ours.stream_durations.iter().zip(&theirs.stream_durations) {
        let (o, t) = (o.expect("a stream length"), t.expect("ffprobe's length"));
        assert!(close(o, t), "{ours:?} vs {theirs:?}");
    }
    ours
}

#[test]
fn the_reader_finds_what_ffprobe_finds_in_real_ffmpeg_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let ts = ts_input(dir.path());
    let d = |name: &str| dir.path().join(name);
    let as_merged = [
        "-map",
        "0:v?",
        "-map",
        "0:a?",
        "-c",
        "copy",
        "-bsf:a",
        "aac_adtstoasc",
    ];
    ffmpeg(
        &[&["-f", "mpegts", "-i", &ts][..], &as_merged, &["-f", "mp4"]].concat(),
        &d("av.mp4"),
    );
    let both = same_as_ffprobe(&d("av.mp4"));
    assert_eq!(both.streams, ["video", "audio"]);
    assert!((both.duration_s - 4.0).abs() < 0.2, "{both:?}");
    let first = [
        &["-i", &ts][..],
        &as_merged,
        &["-movflags", "+faststart", "-f", "mp4"],
    ]
    .concat();
    ffmpeg(&first, &d("faststart.mp4"));
    same_as_ffprobe(&d("faststart.mp4"));
    ffmpeg(
        &["-i", &ts, "-map", "0:v", "-c", "copy", "-f", "mp4"],
        &d("video.mp4"),
    );
    assert_eq!(same_as_ffprobe(&d("video.mp4")).streams, ["video"]);
    let audio = [
        "-i",
        &ts,
        "-map",
        "0:a",
        "-c",
        "copy",
        "-bsf:a",
        "aac_adtstoasc",
        "-f",
        "mp4",
    ];
    ffmpeg(&audio, &d("audio.mp4"));
    assert_eq!(same_as_ffprobe(&d("audio.mp4")).streams, ["audio"]);
    // Fragmented MP4 in, as a merge of fMP4 segments reads it; MP4 out.
    let frag = [
        "-movflags",
        "frag_keyframe+empty_moov+default_base_moof",
        "-f",
        "mp4",
    ];
    ffmpeg(
        &[&["-i", &ts][..], &as_merged, &frag].concat(),
        &d("frag.mp4"),
    );
    let frag_in = d("frag.mp4").display().to_string();
    ffmpeg(
        &[
            "-f", "mp4", "-i", &frag_in, "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-f", "mp4",
        ],
        &d("from-frag.mp4"),
    );
    same_as_ffprobe(&d("from-frag.mp4"));
}

#[test]
fn what_the_reader_does_not_cover_is_left_to_ffprobe() {
    let dir = tempfile::tempdir().unwrap();
    let ts = ts_input(dir.path());
    let d = |name: &str| dir.path().join(name);
    ffmpeg(
        &["-i", &ts, "-map", "0", "-c", "copy", "-f", "matroska"],
        &d("x.mkv"),
    );
    ffmpeg(
        &["-i", &ts, "-map", "0", "-c", "copy", "-f", "mpegts"],
        &d("x.ts"),
    );
    let frag = [
        "-i",
        &ts,
        "-map",
        "0",
        "-c",
        "copy",
        "-bsf:a",
        "aac_adtstoasc",
    ];
    let flags = ["-movflags", "frag_keyframe+empty_moov", "-f", "mp4"];
    ffmpeg(&[&frag[..], &flags].concat(), &d("frag.mp4"));
    for name in ["x.mkv", "x.ts", "frag.mp4"] {
        assert_eq!(mp4::read(&d(name)).unwrap(), None, "{name}");
    }
    // And the check of a run reads them with ffprobe, as before.
    let tools = Tools::find().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for name in ["x.mkv", "x.ts", "frag.mp4"] {
        let checked = rt
            .block_on(merge::probe_file(&tools, None, &d(name)))
            .unwrap();
        assert_eq!(checked, ffprobe(&d(name)), "{name}");
    }
}

#[test]
fn a_cut_mp4_fails_even_where_its_index_survived() {
    let dir = tempfile::tempdir().unwrap();
    let ts = ts_input(dir.path());
    let d = |name: &str| dir.path().join(name);
    let args = [
        "-i",
        &ts,
        "-map",
        "0",
        "-c",
        "copy",
        "-bsf:a",
        "aac_adtstoasc",
    ];
    ffmpeg(&[&args[..], &["-f", "mp4"]].concat(), &d("last.mp4"));
    ffmpeg(
        &[&args[..], &["-movflags", "+faststart", "-f", "mp4"]].concat(),
        &d("first.mp4"),
    );
    let cut = |name: &str, keep: f64| {
        let bytes = std::fs::read(d(name)).unwrap();
        let to = d(&format!("cut-{name}"));
        std::fs::write(&to, &bytes[..(bytes.len() as f64 * keep) as usize]).unwrap();
        to
    };
    // The index is written last: half a file has none.
    let no_index = cut("last.mp4", 0.5);
    assert!(matches!(mp4::read(&no_index), Err(ProbeError::NotWhole(_))));
    // The index first, the media cut: ffprobe still reads the lengths.
    let short_media = cut("first.mp4", 0.9);
    let Err(ProbeError::NotWhole(why)) = mp4::read(&short_media) else {
        panic!("a file cut short passed");
    };
    assert!(why.contains("`mdat`") && why.contains("cut short"), "{why}");
    assert_eq!(ffprobe(&short_media).streams, ["video", "audio"]);
    let tools = Tools::find().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for file in [&no_index, &short_media] {
        let checked = rt.block_on(merge::probe_file(&tools, None, file));
        assert!(checked.is_err(), "{checked:?}");
    }
    std::fs::write(d("empty.mp4"), b"").unwrap();
    assert!(mp4::read(&d("empty.mp4")).is_err());
}

#[test]
fn hostile_bytes_after_an_ftyp_never_panic_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.mp4");
    let ftyp = b"\0\0\0\x10ftypisom\0\0\x02\0".to_vec();
    let cases: Vec<Vec<u8>> = vec![
        [&ftyp[..], b"\0\0\0\x10moov\xff\xff\xff\xff\0\0\0\0"].concat(),
        [&ftyp[..], b"\0\0\0\x01moov\0\0\0\0\0\0\0\x08"].concat(),
        [&ftyp[..], b"\0\0\0\x04moov"].concat(),
        [&ftyp[..], b"\0\0\0\x0cmoov\0\0\0\x08mvhd"].concat(),
        [&ftyp[..], b"\xff\xff\xff\xffmdat"].concat(),
        [&ftyp[..], b"\0\0"].concat(),
    ];
    for bytes in cases {
        std::fs::write(&file, &bytes).unwrap();
        // Broken (an error) or left to ffprobe (None); never a reading.
        assert!(!matches!(mp4::read(&file), Ok(Some(_))), "{bytes:?}");
    }
}

#[test]
fn a_run_of_an_mp4_job_starts_no_ffprobe() {
    let media = segments(5, 1);
    let server = TestServer::start(&media);
    let yaml = format!(
        "version: 1\njobs:\n  - name: v\n    url: \"{}/{{{{index}}}}.ts\"\n    padding: 6\n    range: {{ start: 1, end: 5 }}\n    output: v.mp4\n",
        server.url()
    );
    let job = Job::new(&yaml);
    let log = job.path("ffprobe.log");
    let ffprobe = script(
        job.dir.path(),
        "ffprobe-logged",
        &format!(
            "echo \"ffprobe $*\" >> '{}'\nexec ffprobe \"$@\"\n",
            log.display()
        ),
    );
    let out = job.run_env(&[("SNATCH_FFPROBE", &ffprobe)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !log.exists(),
        "ffprobe ran: {:?}",
        std::fs::read_to_string(&log)
    );
    let j = &job.report()["jobs"][0];
    assert_eq!(j["status"], "ok");
    let (duration, streams) = support::media::probe(&job.path("out/v.mp4"));
    assert_eq!(j["media"]["streams"], serde_json::json!(streams));
    assert_eq!(j["media"]["duration_s"].as_f64(), Some(duration));
}
