//! A merge of several DASH periods: each period's init segment and
//! fragments are one MP4 of their own (their timestamps start afresh, their
//! codec setup may differ), so each is merged by its own ffmpeg into a
//! hidden part beside the output, and the parts are joined in order by
//! ffmpeg's concat demuxer, which shifts each part's timestamps to follow
//! the previous one's end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::{file_arg, fresh_output, own_group, Merge, MergeError};
use crate::state::store;

impl Merge {
    /// Ends the current period (of `after` seconds, when known: its part
    /// is cut there): its ffmpeg finishes its part, and a new one starts
    /// on the next period's init segment `init`. Blocks until the part is
    /// written.
    pub fn next_period(&mut self, init: &Path, after: Option<f64>) -> Result<(), MergeError> {
        let Some(again) = self.again.clone() else {
            return Err(MergeError::Feed(std::io::Error::other(
                "this merge cannot start another period",
            )));
        };
        let done = self.end_child()?;
        let part = super::temp::part_of(&self.temp, self.parts.len());
        store::rename(&again.root, &done, &part).map_err(MergeError::Output)?;
        self.parts.push((part, after));
        let next = Merge::spawn(
            &again.tools,
            &again.root,
            self.temp.clone(),
            again.container,
            again.input.clone(),
            None,
        )
        .map_err(MergeError::Output)?;
        self.take_child_of(next);
        self.feed_file(init).map_err(MergeError::Feed)
    }

    /// The parts and the last period's file (at `last`) joined into `last`.
    pub(super) fn join_parts(&mut self, last: PathBuf) -> Result<PathBuf, MergeError> {
        let Some(again) = self.again.clone() else {
            return Ok(last);
        };
        if self.parts.is_empty() {
            return Ok(last);
        }
        let tail = super::temp::part_of(&self.temp, self.parts.len());
        store::rename(&again.root, &last, &tail).map_err(MergeError::Output)?;
        self.parts.push((tail, None));
        let joined = self.concat(&again, &last);
        for (p, _) in self.parts.drain(..) {
            let _ = store::remove_file(&p);
        }
        if joined.is_err() {
            let _ = store::remove_file(&last);
        }
        joined.map(|()| last)
    }

    /// ffmpeg's concat demuxer over the parts, its list on stdin.
    fn concat(&self, again: &super::Again, out: &Path) -> Result<(), MergeError> {
        let file = fresh_output(&again.root, out).map_err(MergeError::Output)?;
        let mut cmd = std::process::Command::new(&again.tools.ffmpeg);
        cmd.args(["-hide_banner", "-nostats", "-loglevel", "error", "-y"])
            // The list comes on stdin and names files: both protocols allowed.
            .args(["-protocol_whitelist", "file,pipe"])
            .args(["-f", "concat", "-safe", "0", "-i", "pipe:0"])
            .args(["-map", "0", "-c", "copy"])
            .args(["-f", super::audio::muxer(again.container)]);
        cmd.arg("file:/dev/stdout").stdout(Stdio::from(file));
        cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
        own_group(&mut cmd);
        let mut child = cmd.spawn().map_err(MergeError::MuxStart)?;
        let list = list_of(&self.parts);
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(list.as_bytes());
        }
        let done = child.wait_with_output().map_err(MergeError::Wait)?;
        super::error::mux_verdict(&done, out)
    }
}

/// The concat demuxer's list: each part as a `file:` URL, quoted, cut
/// where its period ends (the next part's timestamps follow from there).
fn list_of(parts: &[(PathBuf, Option<f64>)]) -> String {
    let mut list = String::from("ffconcat version 1.0\n");
    for (p, cut) in parts {
        let url = file_arg(p).to_string_lossy().replace('\'', "'\\''");
        list.push_str(&format!("file '{url}'\n"));
        if let Some(s) = cut.filter(|s| s.is_finite() && *s > 0.0) {
            list.push_str(&format!("duration {s:.6}\noutpoint {s:.6}\n"));
        }
    }
    list
}
