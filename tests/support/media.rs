//! Real MPEG-TS segments made by ffmpeg, cached under the target folder so
//! that reruns of the suite do not make them again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static LOCK: Mutex<()> = Mutex::new(());

/// A folder of `count` segments named `000001.ts`, `000002.ts`, … of
/// `secs` seconds each (H.264 video + AAC audio, a keyframe each second).
pub fn segments(count: u32, secs: u32) -> PathBuf {
    make(count, secs, None)
}

/// As [`segments`], the video at a constant `kbps` kilobits per second
/// (x264's CBR with filler): segments of a known, larger size, for tests
/// of limits in bytes.
pub fn segments_at(count: u32, secs: u32, kbps: u32) -> PathBuf {
    make(count, secs, Some(kbps))
}

fn make(count: u32, secs: u32, kbps: Option<u32>) -> PathBuf {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let name = match kbps {
        None => format!("media/{count}x{secs}s"),
        Some(k) => format!("media/{count}x{secs}s@{k}k"),
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
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
        .args(["-sc_threshold", "0"])
        .args(video_rate(kbps))
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

/// x264's rate: 100 kb/s on average, or `kbps` exactly (filler added).
fn video_rate(kbps: Option<u32>) -> Vec<String> {
    let Some(k) = kbps else {
        return vec!["-b:v".into(), "100k".into()];
    };
    let rate = format!("{k}k");
    let args = ["-b:v", &rate, "-minrate", &rate, "-maxrate", &rate];
    let mut out: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    out.extend(["-bufsize".into(), format!("{}k", k / 2)]);
    out.extend(["-x264-params".into(), "nal-hrd=cbr:filler=1".into()]);
    out
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
