//! The merge: one ffmpeg per job reads the segments, in index order, as one
//! MPEG-TS stream on its stdin and stream-copies them into the output's
//! container; ffprobe then checks the result. Knows ffmpeg, not HTTP.
//! ffmpeg writes to a hidden name beside the output; only a verified file
//! is renamed to the final name.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};

use crate::plan::Container;
use crate::report::Media;

/// Where ffmpeg and ffprobe are.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

impl Tools {
    /// Finds both tools: `SNATCH_FFMPEG` / `SNATCH_FFPROBE`, else the PATH.
    /// The error says which is missing and how to install it.
    pub fn find() -> Result<Tools, String> {
        let find = |var: &str, name: &str| -> Result<PathBuf, String> {
            if let Some(p) = std::env::var_os(var) {
                let p = PathBuf::from(p);
                return if p.is_file() {
                    Ok(p)
                } else {
                    Err(format!("{var} names {}, which is not a file", p.display()))
                };
            }
            find_on_path(name).ok_or_else(|| {
                format!(
                    "{name} was not found on the PATH; snatch merges with ffmpeg and checks with ffprobe. \
                     Install ffmpeg (Debian/Ubuntu: `sudo apt-get install -y ffmpeg`; macOS: `brew install ffmpeg`) \
                     or set {var} to the {name} binary"
                )
            })
        };
        Ok(Tools {
            ffmpeg: find("SNATCH_FFMPEG", "ffmpeg")?,
            ffprobe: find("SNATCH_FFPROBE", "ffprobe")?,
        })
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file() || p.with_extension("exe").is_file()
}

/// The hidden name ffmpeg writes to, beside the output.
pub fn temp_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(".{name}.snatch-part"))
}

/// A running merge.
pub struct Merge {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: tokio::task::JoinHandle<String>,
    temp: PathBuf,
}

impl Merge {
    /// Starts ffmpeg for `output`. Nothing appears under the output's name.
    pub fn start(tools: &Tools, output: &Path, container: Container) -> std::io::Result<Merge> {
        if let Some(parent) = output.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let temp = temp_path(output);
        let mut cmd = Command::new(&tools.ffmpeg);
        cmd.args(["-hide_banner", "-nostats", "-loglevel", "error", "-y"])
            .args(["-f", "mpegts", "-i", "pipe:0"])
            .args(["-map", "0:v?", "-map", "0:a?", "-c", "copy"]);
        match container {
            // AAC in MPEG-TS is ADTS; MP4 wants the AudioSpecificConfig.
            Container::Mp4 => cmd.args(["-bsf:a", "aac_adtstoasc", "-f", "mp4"]),
            Container::Mkv => cmd.args(["-f", "matroska"]),
            Container::Ts => cmd.args(["-f", "mpegts"]),
        };
        cmd.arg(&temp)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let mut err = child.stderr.take().expect("piped");
        let stderr = tokio::spawn(async move {
            let mut s = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut err, &mut s).await;
            s
        });
        Ok(Merge {
            child,
            stdin,
            stderr,
            temp,
        })
    }

    /// Feeds one complete segment file.
    pub async fn feed_file(&mut self, path: &Path) -> std::io::Result<()> {
        let bytes = tokio::fs::read(path).await?;
        self.feed(&bytes).await
    }

    /// Feeds bytes of the TS stream.
    pub async fn feed(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.stdin.as_mut() {
            Some(s) => s.write_all(bytes).await,
            None => Err(std::io::Error::other("the merge input is closed")),
        }
    }

    /// Ends the input and waits for ffmpeg. Returns the temporary file.
    pub async fn finish(mut self) -> Result<PathBuf, String> {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.shutdown().await;
        }
        let status = self
            .child
            .wait()
            .await
            .map_err(|e| format!("ffmpeg: {e}"))?;
        let stderr = self.stderr.await.unwrap_or_default();
        if status.success() {
            Ok(self.temp)
        } else {
            let _ = tokio::fs::remove_file(&self.temp).await;
            Err(format!(
                "ffmpeg failed ({status}): {}",
                stderr.trim().lines().last().unwrap_or("no message")
            )
            .replace('\n', " "))
        }
    }

    /// ffmpeg's stderr so far is lost; stops it and removes its file.
    pub async fn abort(mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill().await;
        let _ = tokio::fs::remove_file(&self.temp).await;
    }

    /// The stderr of a merge that failed while being fed.
    pub async fn failure(mut self) -> String {
        drop(self.stdin.take());
        let _ = self.child.wait().await;
        let _ = tokio::fs::remove_file(&self.temp).await;
        let stderr = self.stderr.await.unwrap_or_default();
        format!(
            "ffmpeg stopped reading: {}",
            stderr.trim().lines().last().unwrap_or("no message")
        )
    }
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Deserialize)]
struct ProbeStream {
    codec_type: Option<String>,
}

#[derive(Deserialize)]
struct ProbeFormat {
    duration: Option<String>,
}

/// What ffprobe says of a file: duration and stream types.
pub async fn probe(tools: &Tools, file: &Path) -> Result<Media, String> {
    let out = Command::new(&tools.ffprobe)
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_type",
            "-of",
            "json",
        ])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("ffprobe: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ffprobe could not read the merged file: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let p: Probe = serde_json::from_slice(&out.stdout).map_err(|e| format!("ffprobe: {e}"))?;
    Ok(Media {
        duration_s: p
            .format
            .and_then(|f| f.duration)
            .and_then(|d| d.parse().ok())
            .unwrap_or(0.0),
        streams: p.streams.into_iter().filter_map(|s| s.codec_type).collect(),
    })
}

/// Checks what ffprobe found against what the job implies.
pub fn verify(media: &Media, expected_duration: Option<f64>) -> Result<(), String> {
    if media.streams.is_empty() {
        return Err("the merged file has no audio or video stream".into());
    }
    if let Some(want) = expected_duration {
        let off = (media.duration_s - want).abs() / want;
        if off > 0.02 {
            return Err(format!(
                "the merged file is {:.1} s long, {:.1} % off the {want:.1} s the job expects",
                media.duration_s,
                off * 100.0
            ));
        }
    }
    Ok(())
}
