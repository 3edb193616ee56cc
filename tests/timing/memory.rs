//! The memory an AES-128 segment costs: one large segment (a real TS made
//! by ffmpeg, looped by remuxing to ~160 MB), served encrypted and clear by
//! the project's test server, fetched and merged by a real `snatch run`.
//! The peak RSS is that of the snatch process and the children it waited
//! for (ffmpeg, ffprobe), from `wait4`.

use crate::support;

use std::path::Path;
use std::process::{Command, Stdio};

use support::cli::Job;
use support::hls::{make, Hls, KEY};
use support::media::probe;
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
#[expect(
    clippy::zombie_processes,
    reason = "reaped by wait4, which gives its rusage"
)]
fn peak_rss_mib(url: &str) -> u64 {
    let job = Job::new(&format!(
        "version: 1\ndefaults:\n  retry: {{ attempts: 1 }}\njobs:\n  - name: v\n    playlist: \"{url}\"\n"
    ));
    let stderr = std::fs::File::create(job.path("stderr.txt")).unwrap();
    let child = job
        .command(&["-q"])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    let pid = child.id() as libc::pid_t;
    // SAFETY: waits for our own child, whose `Child` is never waited on.
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let err = std::fs::read_to_string(job.path("stderr.txt")).unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{err}"
    );
    let (duration, streams) = probe(&job.path("out/v.mp4"));
    assert_eq!(streams, ["video", "audio"]);
    assert!(duration > 6.0 * LOOPS as f64 - 60.0, "duration {duration}");
    usage.ru_maxrss as u64 / 1024
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
