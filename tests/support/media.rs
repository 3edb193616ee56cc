//! Real MPEG-TS segments made by ffmpeg, cached under the target folder so
//! that reruns of the suite do not make them again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

/// A folder of `count` segments named `000001.ts`, `000002.ts`, … of
/// `secs` seconds each (H.264 video + AAC audio, a keyframe each second).
pub fn segments(count: u32, secs: u32) -> PathBuf {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("media/{count}x{secs}s"));
    let done = dir.join(".complete");
    if done.exists() {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let total = count * secs;
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050"])
        .args(["-t", &total.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "10",
            "-keyint_min",
            "10",
        ])
        .args(["-sc_threshold", "0", "-b:v", "100k"])
        .args(["-c:a", "aac", "-b:a", "32k", "-ac", "1"])
        .args(["-f", "segment", "-segment_time", &secs.to_string()])
        .args(["-segment_format", "mpegts", "-segment_start_number", "1"])
        .arg(dir.join("%06d.ts"))
        .status()
        .expect("ffmpeg runs (install ffmpeg)");
    assert!(status.success(), "ffmpeg made no segments");
    std::fs::write(&done, "").unwrap();
    dir
}

/// What ffprobe says of a file: (duration in seconds, stream types).
pub fn probe(file: &Path) -> (f64, Vec<String>) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_type",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let duration = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    let streams = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_type"].as_str().unwrap().to_string())
        .collect();
    (duration, streams)
}
