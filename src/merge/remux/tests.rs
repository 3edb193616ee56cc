//! Hostile MPEG-TS never panics the remuxer: each fault ends it with
//! "does not take" (ffmpeg then merges), and random bytes after a sound
//! start, cut into random pieces, end in a file or in that error.

use proptest::prelude::*;

use super::mux::Muxer;
use super::RemuxError;

/// One TS packet of `pid` holding `payload` (padded by an adaptation
/// field), starting a unit when `start`.
fn packet(pid: u16, start: bool, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() <= 184);
    let mut p = vec![0x47, (u8::from(start) << 6) | (pid >> 8) as u8, pid as u8];
    if payload.len() == 184 {
        p.push(0x10);
    } else {
        p.push(0x30);
        let fill = 183 - payload.len();
        p.push(fill as u8);
        if fill > 0 {
            p.push(0);
            p.extend(std::iter::repeat_n(0xFF, fill - 1));
        }
    }
    p.extend_from_slice(payload);
    p
}

/// A section with table `id` and `body` (CRC not checked: zeros).
fn section(id: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() + 5 + 4;
    let mut s = vec![0, id, 0xB0 | (len >> 8) as u8, len as u8, 0, 1, 0xC1, 0, 0];
    s.extend_from_slice(body);
    s.extend_from_slice(&[0; 4]);
    s
}

/// The PAT (program 1 at PID 0x1000) and a PMT of H.264 at 0x100 and AAC
/// at 0x101.
fn tables() -> Vec<u8> {
    let mut ts = packet(0, true, &section(0, &[0, 1, 0xF0, 0])[..]);
    let pmt = [
        0xE1, 0, 0xF0, 0, 0x1B, 0xE1, 0, 0xF0, 0, 0x0F, 0xE1, 1, 0xF0, 0,
    ];
    ts.extend(packet(0x1000, true, &section(2, &pmt)));
    ts
}

fn remux(ts: &[u8], piece: usize) -> Result<(), RemuxError> {
    let file = tempfile::tempfile().unwrap();
    let mut m = Muxer::new(file, "v.mp4".into())?;
    for p in ts.chunks(piece.max(1)) {
        m.push(p)?;
    }
    m.finish()
}

fn gives_up(ts: &[u8], words: &str) {
    match remux(ts, 188) {
        Err(RemuxError::Unsupported(w)) => assert!(w.contains(words), "{w}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_garbage_pmt_a_cut_pes_and_an_endless_pes_are_not_taken() {
    let mut ts = packet(0, true, &section(0, &[0, 1, 0xF0, 0]));
    ts.extend(packet(0x1000, true, &[0, 2, 0xB0, 0xFF, 1, 2, 3]));
    gives_up(&ts, "table");

    let mut ts = tables();
    // A PES that says 1000 bytes and holds 20.
    let pes = [
        0, 0, 1, 0xC0, 0x03, 0xE8, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1, 0xFF, 0xF1,
    ];
    ts.extend(packet(0x101, true, &pes));
    gives_up(&ts, "cut short");

    let mut ts = tables();
    ts.extend(packet(
        0x100,
        true,
        &[0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1],
    ));
    for _ in 0..(33 << 20) / 184 {
        ts.extend(packet(0x100, false, &[0; 184]));
    }
    gives_up(&ts, "a PES longer than");

    gives_up(&[0x47; 200], "");
    gives_up(&tables(), "no picture or sound");
}

#[test]
fn another_codec_is_not_taken() {
    let mut ts = packet(0, true, &section(0, &[0, 1, 0xF0, 0]));
    let pmt = [0xE1, 0, 0xF0, 0, 0x24, 0xE1, 0, 0xF0, 0];
    ts.extend(packet(0x1000, true, &section(2, &pmt)));
    gives_up(&ts, "type 0x24");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_bytes_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..4000),
        piece in 1usize..400,
        sync_every in prop::bool::ANY,
    ) {
        let mut ts = tables();
        let mut tail = tail;
        if sync_every {
            // Keep the packets' sync bytes so that the layers below are read.
            for i in (0..tail.len()).step_by(188) {
                tail[i] = 0x47;
            }
        }
        ts.extend(tail);
        let _ = remux(&ts, piece);
    }
}

/// One second of H.264 + AAC in MPEG-TS, made by ffmpeg once.
fn real_ts() -> &'static [u8] {
    static TS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TS.get_or_init(|| {
        let out = std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error"])
            .args(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10"])
            .args(["-f", "lavfi", "-i", "sine=sample_rate=8000", "-t", "1"])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-bf", "2"])
            .args(["-c:a", "aac", "-f", "mpegts", "pipe:1"])
            .output()
            .expect("ffmpeg runs");
        assert!(out.status.success());
        out.stdout
    })
}

#[test]
fn a_real_stream_is_taken() {
    remux(real_ts(), 1000).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// A real stream with bytes changed, cut or repeated: a file, or "does
    /// not take", never a panic.
    #[test]
    fn a_mutated_real_stream_never_panics(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20),
        cut in any::<prop::sample::Index>(),
        piece in 1usize..5000,
    ) {
        let mut ts = real_ts().to_vec();
        for (at, b) in flips {
            let i = at.index(ts.len());
            ts[i] = b;
        }
        let keep = cut.index(ts.len() + 1);
        ts.truncate(keep.max(ts.len() / 2));
        match remux(&ts, piece) {
            Ok(()) | Err(RemuxError::Unsupported(_)) => {}
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}

/// Three seconds of H.264 (a picture with a key every second) and AAC in
/// MPEG-TS, made by ffmpeg.
fn three_seconds() -> Vec<u8> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=64x48:rate=10"])
        .args(["-f", "lavfi", "-i", "sine=sample_rate=8000", "-t", "3"])
        .args(["-c:v", "libx264", "-preset", "fast", "-bf", "2", "-g", "10"])
        .args(["-c:a", "aac", "-f", "mpegts", "pipe:1"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success());
    out.stdout
}

/// The video packets' flags of `file` as ffprobe reads them, in order.
fn video_flags(file: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v"])
        .args(["-show_entries", "packet=flags", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A stream that starts in the middle of a group of pictures (segments cut
/// by bytes, a range that starts late): the pictures before its first key
/// cannot be decoded, and ffmpeg's `-c copy` leaves them out; so does the
/// remuxer.
#[test]
fn pictures_before_the_first_key_are_left_out_as_ffmpeg_does() {
    let ts = three_seconds();
    // Half way through, on a packet's edge: within a second's pictures.
    let ts = &ts[ts.len() / 2 / 188 * 188..];
    let dir = tempfile::tempdir().unwrap();
    let (ours, input, theirs) = (
        dir.path().join("ours.mp4"),
        dir.path().join("in.ts"),
        dir.path().join("theirs.mp4"),
    );
    let file = std::fs::File::create(&ours).unwrap();
    let mut m = Muxer::new(file, ours.clone()).unwrap();
    m.push(ts).unwrap();
    m.finish().unwrap();
    std::fs::write(&input, ts).unwrap();
    let status = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-f", "mpegts", "-i"])
        .arg(&input)
        .args(["-map", "0:v?", "-map", "0:a?", "-c", "copy"])
        .args(["-bsf:a", "aac_adtstoasc"])
        .arg(&theirs)
        .status()
        .unwrap();
    assert!(status.success());
    let (a, b) = (video_flags(&ours), video_flags(&theirs));
    assert!(b.len() < 30, "the cut is not in the middle of a group");
    assert!(a.first().is_some_and(|f| f.starts_with('K')), "{a:?}");
    assert_eq!(a, b);
}

/// The sync samples (`stss`) of the first track that lists them.
fn sync_samples(file: &std::path::Path) -> Vec<u32> {
    let d = std::fs::read(file).unwrap();
    let Some(i) = d.windows(4).position(|w| w == b"stss") else {
        return Vec::new();
    };
    let word = |at: usize| u32::from_be_bytes(d[at..at + 4].try_into().unwrap());
    (0..word(i + 8) as usize)
        .map(|k| word(i + 12 + 4 * k))
        .collect()
}

/// Runs ffmpeg with `args`; its output.
fn ffmpeg(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// x264's intra refresh: one IDR picture, then a recovery point SEI each
/// second; here each recovery point put after a user data message in one
/// SEI NAL unit, as encoders that write several messages to a unit do. The
/// pictures it marks are random access points wherever it stands.
#[test]
fn a_recovery_point_after_another_sei_message_is_a_random_access_point() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let raw = ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x48:rate=10",
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-bf",
        "0",
        "-x264-params",
        "intra-refresh=1:keyint=10",
        "-f",
        "h264",
        "pipe:1",
    ]);
    // `00 00 01 06 06`: an SEI NAL unit whose first message is a recovery
    // point; a user data message (a 16-byte UUID and one byte) put first.
    let mut edited = Vec::new();
    let mut moved = 0;
    let mut from = 0;
    for i in 0..raw.len().saturating_sub(5) {
        if raw[i..i + 5] == [0, 0, 1, 6, 6] {
            edited.extend_from_slice(&raw[from..i + 4]);
            edited.extend_from_slice(&[5, 17]);
            edited.extend(0x41..0x51u8);
            edited.push(b'x');
            from = i + 4;
            moved += 1;
        }
    }
    edited.extend_from_slice(&raw[from..]);
    assert!(moved >= 2, "x264 wrote {moved} recovery points");
    std::fs::write(path("in.h264"), &edited).unwrap();
    let bsf = "setts=pts=N*9000:dts=N*9000:time_base=1/90000";
    let args = ["-framerate", "10", "-f", "h264", "-i"];
    let tail = ["-c", "copy", "-bsf:v", bsf, "-f", "mpegts"];
    let ts = ffmpeg(&[&args[..], &[path("in.h264").as_str()], &tail, &["pipe:1"]].concat());
    std::fs::write(path("in.ts"), &ts).unwrap();
    ffmpeg(&["-i", &path("in.ts"), "-c", "copy", &path("theirs.mp4")]);
    let ours = dir.path().join("ours.mp4");
    let mut m = Muxer::new(std::fs::File::create(&ours).unwrap(), ours.clone()).unwrap();
    m.push(&ts).unwrap();
    m.finish().unwrap();
    let theirs = sync_samples(&dir.path().join("theirs.mp4"));
    assert_eq!(theirs.len(), moved + 1, "{theirs:?}");
    assert_eq!(sync_samples(&ours), theirs);
}

/// Each stream's start as ffprobe tells it (to the microsecond).
fn start_times(file: &std::path::Path) -> String {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=start_time"])
        .args(["-of", "csv=p=0"])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sound that starts 1.3 s after the pictures: its empty edit is as long
/// as ffmpeg's to the millisecond (rounded down, as ffmpeg rounds it).
#[test]
fn a_late_stream_starts_where_ffmpeg_starts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let ts = ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x48:rate=10",
        "-itsoffset",
        "1.3",
        "-f",
        "lavfi",
        "-i",
        "sine=sample_rate=48000",
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-c:a",
        "aac",
        "-f",
        "mpegts",
        "pipe:1",
    ]);
    std::fs::write(path("in.ts"), &ts).unwrap();
    let bsf = ["-bsf:a", "aac_adtstoasc"];
    ffmpeg(
        &[
            &["-i", &path("in.ts"), "-c", "copy"],
            &bsf[..],
            &[&path("theirs.mp4")],
        ]
        .concat(),
    );
    let ours = dir.path().join("ours.mp4");
    let mut m = Muxer::new(std::fs::File::create(&ours).unwrap(), ours.clone()).unwrap();
    m.push(&ts).unwrap();
    m.finish().unwrap();
    let theirs = start_times(&dir.path().join("theirs.mp4"));
    assert!(
        theirs.lines().nth(1).is_some_and(|s| s.starts_with("1.2")),
        "{theirs}"
    );
    assert_eq!(start_times(&ours), theirs);
}
