//! Each fragmented-MP4 segment's own sample durations, read by the segment
//! check as its bytes arrive, on real HLS sets made by ffmpeg: per track,
//! in the track's timescale from the init segment, exactly where ffmpeg's
//! MP4 reader says each ends, whatever the chunking.

use crate::support;

use std::path::Path;
use std::process::Command;

use snatch::media::clock::moov::{init_tracks, InitTrack};
use snatch::media::clock::{expected_of, Kind, Timing};
use snatch::media::Check;
use support::hls::{make, Hls};

/// The timing the check reads off `body`, fed in `chunks`.
fn timing_of<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Option<Timing> {
    let mut c = Check::new();
    for chunk in chunks {
        c.feed(chunk).expect("a valid segment");
    }
    c.finish().expect("a whole segment");
    c.timing()
}

/// Where ffmpeg's MP4 reader says the `kind` stream ("v", "a") of `init`
/// followed by `segment` ends, in the stream's timescale: the segment's
/// `tfdt` plus its samples' durations.
fn stream_end(dir: &Path, init: &[u8], segment: &[u8], kind: &str) -> u64 {
    let joined = dir.join(format!("joined-{kind}.mp4"));
    std::fs::write(&joined, [init, segment].concat()).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", kind])
        .args(["-show_entries", "stream=duration_ts", "-of", "csv=p=0"])
        .arg(&joined)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().expect("a duration_ts")
}

fn track(tracks: &[InitTrack], kind: Kind) -> InitTrack {
    *tracks
        .iter()
        .find(|t| t.kind == Some(kind))
        .expect("a track")
}

/// Each segment tells each track's samples exactly as ffprobe counts
/// them; the three add up to the 6 s made, with no jump between them.
#[test]
fn fmp4_segments_tell_each_tracks_exact_length() {
    let made = make(Hls {
        name: "clock-fmp4",
        fmp4: true,
        ..Hls::default()
    });
    let init = std::fs::read(made.join("init.mp4")).unwrap();
    let tracks = init_tracks(&init);
    let (video, audio) = (track(&tracks, Kind::Video), track(&tracks, Kind::Audio));
    assert_eq!((video.timescale, audio.timescale), (10240, 22050));
    let scratch = tempfile::tempdir().unwrap();
    let mut timings = Vec::new();
    // Where the segment before ends, by ffmpeg: each starts there.
    let mut ends = [0, 0];
    for i in 0..3 {
        let body = std::fs::read(made.join(format!("seg{i}.m4s"))).unwrap();
        let timing = timing_of([&body[..]]).expect("a timing");
        for (n, (t, kind)) in [(video, "v"), (audio, "a")].into_iter().enumerate() {
            let run = timing.tracks.iter().find(|r| r.track() == t.id).unwrap();
            let end = stream_end(scratch.path(), &init, &body, kind);
            assert_eq!(run.first(), Some(ends[n]), "segment {i}, {kind}: its tfdt");
            assert_eq!(run.ticks(), (end - ends[n], 0), "segment {i}, {kind}");
            ends[n] = end;
        }
        timings.push(timing);
    }
    let all: Vec<Option<&Timing>> = timings.iter().map(Some).collect();
    assert_eq!(
        expected_of(Kind::Video, &all, &tracks),
        Some((6.0, Some(6.0)))
    );
    let (least, most) = expected_of(Kind::Audio, &all, &tracks).unwrap();
    assert_eq!(Some(least), most, "no jump");
    assert!((least - 6.0).abs() < 0.1, "{least}");
    // Served twice: the second time its tfdt is not where the first ends,
    // and only the least holds.
    let twice = [all[0], all[1], all[1], all[2]];
    let (least, most) = expected_of(Kind::Video, &twice, &tracks).unwrap();
    assert_eq!((least, most), (8.0, None));
    // One segment's timing unknown: nothing is told.
    assert_eq!(expected_of(Kind::Video, &[all[0], None], &tracks), None);
    // Without the init segment's tracks, no length in seconds.
    assert_eq!(expected_of(Kind::Video, &all, &[]), None);
}

/// A small segment split in two at every byte, and fed a byte at a time,
/// tells the same timing as whole.
#[test]
fn an_fmp4_segment_split_anywhere_tells_the_same_timing() {
    let made = make(Hls {
        name: "clock-tiny",
        size: "32x18",
        secs: 2,
        fmp4: true,
        ..Hls::default()
    });
    let body = std::fs::read(made.join("seg0.m4s")).unwrap();
    assert!(body.len() < 20_000, "a small segment: {}", body.len());
    let whole = timing_of([&body[..]]).expect("a timing");
    assert_eq!(whole.tracks.len(), 2);
    for at in 0..=body.len() {
        let (a, b) = body.split_at(at);
        assert_eq!(timing_of([a, b]).as_ref(), Some(&whole), "split at {at}");
    }
    assert_eq!(timing_of(body.chunks(1)).as_ref(), Some(&whole));
    assert_eq!(timing_of(body.chunks(7)).as_ref(), Some(&whole));
}

/// An ADTS segment tells its samples, 1024 a frame, as ffprobe counts its
/// packets, and its sampling rate, split anywhere; an MP3 tells none.
#[test]
fn an_adts_segment_tells_its_samples_and_rate() {
    let dir = tempfile::tempdir().unwrap();
    let make = |codec: &str, format: &str, name: &str| {
        let status = Command::new("ffmpeg")
            .current_dir(dir.path())
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050"])
            .args(["-t", "2", "-c:a", codec, "-f", format, name])
            .status()
            .expect("ffmpeg runs");
        assert!(status.success());
        std::fs::read(dir.path().join(name)).unwrap()
    };
    let body = make("aac", "adts", "a.aac");
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets"])
        .args(["-show_entries", "stream=nb_read_packets", "-of", "csv=p=0"])
        .arg(dir.path().join("a.aac"))
        .output()
        .expect("ffprobe runs");
    let packets: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let whole = timing_of([&body[..]]).expect("a timing");
    assert_eq!(
        whole.aac,
        Some(snatch::media::clock::Aac(packets * 1024, 22050))
    );
    for at in 0..=body.len() {
        let (a, b) = body.split_at(at);
        assert_eq!(timing_of([a, b]).as_ref(), Some(&whole), "split at {at}");
    }
    let (least, most) = expected_of(Kind::Audio, &[Some(&whole), Some(&whole)], &[]).unwrap();
    assert_eq!(Some(least), most);
    assert!((least - 2.0 * (packets * 1024) as f64 / 22050.0).abs() < 1e-9);
    assert_eq!(expected_of(Kind::Video, &[Some(&whole)], &[]), None);
    let mp3 = make("libmp3lame", "mp3", "a.mp3");
    assert_eq!(timing_of([&mp3[..]]), None);
}
