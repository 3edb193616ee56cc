//! What memory a server can make snatch use, measured as the peak RSS of
//! a real `snatch run` and the children it waited for (ffmpeg, ffprobe),
//! from `wait4`: a large AES-128 segment (a real TS made by ffmpeg, looped
//! by remuxing to ~160 MB) costs no more than the same segment clear, and
//! a large playlist a few times its size. Served by the project's test
//! server; each test runs alone.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::cli::Job;
use support::hls::{make, Hls, KEY};
use support::media::probe;
use support::rss::peak_rss_kib;
use support::server::TestServer;
use support::timing::alone;

const IV: [u8; 16] = *b"0123456789abcdef";
/// Loops of the 6 s playlist: ~160 MB of TS.
const LOOPS: u32 = 1000;
/// A bound far below the segment's size: a body held whole passes it.
const BOUND_MIB: u64 = 112;

/// One TS of `LOOPS` × the plain playlist's three segments, remuxed with
/// continuous timestamps (no encoding); its duration.
fn large_ts(out: &Path) -> f64 {
    let made = make(Hls::default());
    let mut one = Vec::new();
    for i in 0..3 {
        one.extend(std::fs::read(made.join(format!("seg{i}.ts"))).unwrap());
    }
    let once = out.with_extension("once.ts");
    std::fs::write(&once, one).unwrap();
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-stream_loop"])
        .arg((LOOPS - 1).to_string())
        .arg("-i")
        .arg(&once)
        .args(["-c", "copy", "-f", "mpegts"])
        .arg(out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    std::fs::remove_file(once).unwrap();
    probe(out).0
}

/// `from` encrypted with AES-128-CBC (PKCS#7) into `to`, a MiB at a time:
/// this process never holds the segment (a child's peak RSS starts from
/// its parent's).
fn encrypt(from: &Path, to: &Path) {
    use aes::cipher::{block_padding::Pkcs7, Array, BlockModeEncrypt, KeyIvInit};
    use std::io::{Read, Write};
    const CHUNK: usize = 1 << 20;
    let mut enc = cbc::Encryptor::<aes::Aes128>::new(&KEY.into(), &IV.into());
    let (mut input, mut out) = (std::fs::File::open(from).unwrap(), Vec::new());
    let mut output = std::fs::File::create(to).unwrap();
    loop {
        out.clear();
        let n = (&mut input)
            .take(CHUNK as u64)
            .read_to_end(&mut out)
            .unwrap();
        if n < CHUNK {
            out.resize(n / 16 * 16 + 16, 0);
            let last = enc.encrypt_padded::<Pkcs7>(&mut out, n).unwrap();
            output.write_all(last).unwrap();
            return;
        }
        let (blocks, _) = Array::slice_as_chunks_mut(&mut out);
        enc.encrypt_blocks(blocks);
        output.write_all(&out).unwrap();
    }
}

/// A playlist of the one segment `big.ts`, encrypted or not.
fn playlist(secs: f64, encrypted: bool) -> String {
    let key = if encrypted {
        let iv: String = IV.iter().map(|b| format!("{b:02x}")).collect();
        format!("#EXT-X-KEY:METHOD=AES-128,URI=\"/keys/big.key\",IV=0x{iv}\n")
    } else {
        String::new()
    };
    format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:0\n\
         #EXT-X-PLAYLIST-TYPE:VOD\n{key}#EXTINF:{secs:.6},\nbig.ts\n#EXT-X-ENDLIST\n",
        secs.ceil()
    )
}

/// Runs the job of `url` to its end; the peak RSS in MiB of snatch and
/// the children it waited for.
fn peak_rss_mib(url: &str) -> u64 {
    let job = Job::new(&format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 1 }}\njobs:\n  - name: v\n    playlist: \"{url}\"\n"
    ));
    let child = job
        .command(&["-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, peak_kib, err) = peak_rss_kib(child);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{err}"
    );
    let (duration, streams) = probe(&job.path("out/v.mp4"));
    assert_eq!(streams, ["video", "audio"]);
    assert!(duration > 6.0 * LOOPS as f64 - 60.0, "duration {duration}");
    peak_kib / 1024
}

#[test]
fn a_large_aes_128_segment_costs_no_more_memory_than_a_clear_one() {
    // A spawned child's peak starts from its parent's: no other test of
    // this binary runs meanwhile.
    let _alone = alone();
    let root = tempfile::tempdir().unwrap();
    for dir in ["c", "e", "keys"] {
        std::fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    let clear = root.path().join("c/big.ts");
    let secs = large_ts(&clear);
    let sealed = root.path().join("e/big.ts");
    encrypt(&clear, &sealed);
    let size = std::fs::metadata(&sealed).unwrap().len();
    assert!(size > 150_000_000, "{size} bytes");
    std::fs::write(root.path().join("keys/big.key"), KEY).unwrap();
    for (dir, encrypted) in [("c", false), ("e", true)] {
        let text = playlist(secs, encrypted);
        std::fs::write(root.path().join(dir).join("index.m3u8"), text).unwrap();
    }
    let server = TestServer::start(root.path());
    let clear = peak_rss_mib(&format!("{}/c/index.m3u8", server.url()));
    let encrypted = peak_rss_mib(&format!("{}/e/index.m3u8", server.url()));
    eprintln!("peak RSS: {encrypted} MiB encrypted, {clear} MiB clear");
    assert!(
        encrypted < BOUND_MIB && encrypted <= clear + 16,
        "peak RSS {encrypted} MiB encrypted, {clear} MiB clear (bound {BOUND_MIB} MiB)"
    );
}

/// A server sets a playlist's size (up to the 64 MiB cap): reading one
/// costs a few times its size. A 100,000-segment playlist of 12 MB
/// (URIs of ~100 bytes), run: parsed, resolved, its identity and text
/// saved in the state folder, then the first segment is missing. Before
/// the playlist was read a piece at a time and kept compactly, this
/// peaked at 170 MiB (debug build); it now peaks at about 57 MiB, the
/// process's own ~20 MiB included. The bound: 20 MiB and six times the
/// playlist's size.
#[cfg(target_os = "linux")]
#[test]
fn a_large_playlist_is_read_in_memory_a_few_times_its_size() {
    let _alone = alone();
    use std::fmt::Write;
    const SEGMENTS: usize = 100_000;
    let root = tempfile::tempdir().unwrap();
    let mut text = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:7\n#EXT-X-MEDIA-SEQUENCE:0\n");
    for i in 0..SEGMENTS {
        let uri = format!(
            "media/stream_1080p_h264/chunk-{i:07}-a1b2c3d4e5f6.ts?sig=0123456789abcdef0123456789abcdef&exp=17{i:08}"
        );
        writeln!(text, "#EXTINF:6.006,\n{uri}").unwrap();
    }
    text.push_str("#EXT-X-ENDLIST\n");
    let size = text.len() as u64;
    std::fs::write(root.path().join("big.m3u8"), text).unwrap();
    let server = TestServer::start(root.path());
    let job = Job::new(&format!(
        "version: 1\njobs:\n  - name: v\n    playlist: \"{}/big.m3u8\"\n",
        server.url()
    ));
    let child = job
        .command(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, peak_kib, err) = peak_rss_kib(child);
    assert_ne!(status, 0, "no segment is there: {err}");
    let report = job.report().to_string();
    assert!(
        report.contains("404"),
        "the run went as far as a segment: {err}"
    );
    let saved = job.path("out/.snatch/v/stream.json");
    assert!(saved.exists(), "the identity was recorded");
    let peak = peak_kib * 1024;
    eprintln!("a {size}-byte playlist, run: peak RSS {} MiB", peak >> 20);
    assert!(
        peak < (20 << 20) + 6 * size,
        "the run of a {size}-byte playlist peaked at {} MiB",
        peak >> 20
    );
}
