//! HLS playlists made by ffmpeg (`-f hls`): TS or fMP4 segments, one file
//! with byte ranges, AES-128 with or without an IV. Cached under the
//! target folder like the plain segments.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

/// The AES-128 key of encrypted playlists.
pub const KEY: [u8; 16] = *b"snatch-test-key!";

/// How a playlist is made.
#[derive(Clone, Copy)]
pub struct Hls<'a> {
    /// A folder name for the cache.
    pub name: &'a str,
    /// `WxH` of the video.
    pub size: &'a str,
    /// Seconds of video; segments are 2 s.
    pub secs: u32,
    pub fmp4: bool,
    /// One file with EXT-X-BYTERANGE (`-hls_flags single_file`).
    pub single_file: bool,
    /// AES-128: `Some(None)` without an IV in the playlist, `Some(Some(iv))`
    /// with this IV (32 hex digits).
    pub encrypt: Option<Option<&'a str>>,
    /// The first media sequence number.
    pub start_number: u32,
    /// With an AAC audio stream beside the video (false: video only).
    pub audio: bool,
}

impl Default for Hls<'_> {
    fn default() -> Self {
        Hls {
            name: "plain",
            size: "160x90",
            secs: 6,
            fmp4: false,
            single_file: false,
            encrypt: None,
            start_number: 0,
            audio: true,
        }
    }
}

/// A folder with `index.m3u8` and its segments (and `enc.key`).
pub fn make(h: Hls) -> PathBuf {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hls/{}", h.name));
    let done = dir.join(".complete");
    if done.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ext = if h.fmp4 { "m4s" } else { "ts" };
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={}:rate=10", h.size),
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050"])
        .args(["-t", &h.secs.to_string()])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "10"])
        .args(["-keyint_min", "10", "-sc_threshold", "0", "-b:v", "100k"]);
    if h.audio {
        cmd.args(["-c:a", "aac", "-b:a", "32k", "-ac", "1"]);
    } else {
        cmd.args(["-map", "0:v"]);
    }
    cmd.args(["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"])
        .args(["-start_number", &h.start_number.to_string()]);
    if h.fmp4 {
        cmd.args(["-hls_segment_type", "fmp4"]);
    }
    if h.single_file {
        cmd.args(["-hls_flags", "single_file"]);
        cmd.arg("-hls_segment_filename")
            .arg(dir.join(format!("all.{ext}")));
    } else {
        cmd.arg("-hls_segment_filename")
            .arg(dir.join(format!("seg%d.{ext}")));
    }
    if let Some(iv) = h.encrypt {
        std::fs::write(dir.join("enc.key"), KEY).unwrap();
        let info = format!(
            "/keys/{}.key\n{}\n{}",
            h.name,
            dir.join("enc.key").display(),
            iv.unwrap_or("")
        );
        std::fs::write(dir.join("keyinfo"), info.trim_end()).unwrap();
        cmd.arg("-hls_key_info_file").arg(dir.join("keyinfo"));
    }
    let status = cmd
        .arg(dir.join("index.m3u8"))
        .status()
        .expect("ffmpeg runs (install ffmpeg)");
    assert!(status.success(), "ffmpeg made no playlist");
    std::fs::write(&done, "").unwrap();
    dir
}

/// Copies a made playlist's folder to `root/sub`.
pub fn copy_to(made: &Path, root: &Path, sub: &str) {
    let to = root.join(sub);
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(made).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// `ffmpeg -v error -i file -f null -` prints nothing: the file decodes
/// without an error.
pub fn decode_errors(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg cannot decode {}",
        file.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The height of the first video stream.
pub fn video_height(file: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=height", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// A master playlist (`master.m3u8`) whose video variant (`stream_0/`)
/// takes its audio from a separate rendition (`stream_1/`), as ffmpeg
/// writes with `-var_stream_map "v:0,agroup:aud a:0,agroup:aud"`.
pub fn with_audio_rendition(name: &str, fmp4: bool) -> PathBuf {
    with_audio_rendition_of(name, fmp4, 6)
}

/// As [`with_audio_rendition`], of `secs` seconds.
pub fn with_audio_rendition_of(name: &str, fmp4: bool, secs: u32) -> PathBuf {
    rendition(
        name,
        fmp4,
        secs,
        &["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10"],
        &[],
    )
}

/// As [`with_audio_rendition`], of 8 s, with a heavy video (lossless
/// 640x360 at 25 frames a second: several MB, far more than a pipe
/// holds) beside a light audio track.
pub fn with_heavy_video_and_audio(name: &str, fmp4: bool) -> PathBuf {
    let input = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"];
    rendition(name, fmp4, 8, &input, &["-qp", "0"])
}

/// The audio-rendition playlists of `video_input` beside a sine, encoded
/// with `video_args` on top of the usual.
fn rendition(
    name: &str,
    fmp4: bool,
    secs: u32,
    video_input: &[&str],
    video_args: &[&str],
) -> PathBuf {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hls/{name}"));
    let done = dir.join(".complete");
    if done.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ext = if fmp4 { "m4s" } else { "ts" };
    let mut cmd = Command::new("ffmpeg");
    cmd.current_dir(&dir)
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(video_input)
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050"])
        .args(["-t", &secs.to_string(), "-map", "0:v", "-map", "1:a"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "10"])
        .args(video_args)
        .args(["-c:a", "aac", "-b:a", "32k", "-ac", "1"])
        .args(["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"])
        .args(["-master_pl_name", "master.m3u8"])
        .args(["-var_stream_map", "v:0,agroup:aud a:0,agroup:aud"])
        .args(["-hls_segment_filename", &format!("stream_%v/seg%d.{ext}")]);
    if fmp4 {
        cmd.args(["-hls_segment_type", "fmp4"]);
    }
    let status = cmd
        .arg("stream_%v/index.m3u8")
        .status()
        .expect("ffmpeg runs (install ffmpeg)");
    assert!(status.success(), "ffmpeg made no playlists");
    std::fs::write(&done, "").unwrap();
    dir
}

// --- A master playlist with two video variants, all made by ffmpeg ---

/// `master.m3u8` with two variants written by ffmpeg: `stream_0/`
/// (320x180, the higher bandwidth) and `stream_1/` (160x90), each with
/// its audio muxed in.
pub fn two_variants(name: &str) -> PathBuf {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hls/{name}"));
    let done = dir.join(".complete");
    if done.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("ffmpeg")
        .current_dir(&dir)
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050"])
        .args(["-t", "6", "-filter_complex"])
        .arg("[0:v]split=2[a][b];[b]scale=160:90[c]")
        .args(["-map", "[a]", "-map", "[c]", "-map", "1:a", "-map", "1:a"])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "10"])
        .args(["-keyint_min", "10", "-sc_threshold", "0"])
        .args(["-b:v:0", "300k", "-b:v:1", "100k"])
        .args(["-c:a", "aac", "-b:a", "32k", "-ac", "1"])
        .args(["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"])
        .args(["-master_pl_name", "master.m3u8"])
        .args(["-var_stream_map", "v:0,a:0 v:1,a:1"])
        .args(["-hls_segment_filename", "stream_%v/seg%d.ts"])
        .arg("stream_%v/index.m3u8")
        .status()
        .expect("ffmpeg runs (install ffmpeg)");
    assert!(status.success(), "ffmpeg made no playlists");
    std::fs::write(&done, "").unwrap();
    dir
}
