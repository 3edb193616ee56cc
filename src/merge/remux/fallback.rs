//! The remux inside a [`Merge`]: started in place of ffmpeg, and given up
//! for ffmpeg when the stream holds what it does not copy. The choice is
//! made mid-stream, not up front: a TS segment tells its codecs only once
//! read, and a discontinuity or a changed PMT may come at any segment.
//! Every segment is in the job's spool, so ffmpeg then reads them all
//! again from there, the first one on; the remux's file is removed first.

use std::io;
use std::path::{Path, PathBuf};

use super::{Remux, RemuxError};
use crate::merge::pipe::Piece;
use crate::merge::{fresh_output, Again, Input, Merge, MergeError, Segment, Tools};

impl Merge {
    /// A merge that remuxes in-process into `temp`.
    pub(in crate::merge) fn remuxing(
        tools: &Tools,
        root: &Path,
        temp: PathBuf,
        input: Input,
    ) -> io::Result<Merge> {
        let file = fresh_output(root, &temp)?;
        let remux = Remux::start(file, &temp, input.spool.clone());
        let again = Again {
            tools: tools.clone(),
            root: root.to_path_buf(),
            container: crate::common::Container::Mp4,
            input,
        };
        Ok(Merge {
            child: None,
            feeder: None,
            stderr: None,
            temp,
            audio: None,
            joint: None,
            again: Some(again),
            parts: Vec::new(),
            remux: Some(remux),
        })
    }

    /// Queues one segment for the remux, or for ffmpeg when the remux
    /// gave up (ffmpeg then reads every segment so far, this one last).
    pub(in crate::merge) fn remux_feed(&mut self, segment: Segment) -> io::Result<()> {
        let Some(r) = &mut self.remux else {
            return Err(io::Error::other("the merge input is closed"));
        };
        match r.feed(segment) {
            true => Ok(()),
            false => self.fall_back().map_err(io::Error::other),
        }
    }

    /// Ends the remux: its file, or ffmpeg's when the remux gave up.
    pub(in crate::merge) fn remux_finish(&mut self) -> Result<PathBuf, MergeError> {
        let Some(mut r) = self.remux.take() else {
            return Err(MergeError::Remux(RemuxError::Stopped));
        };
        match r.finish() {
            Ok(done) => Ok(done),
            Err(RemuxError::Unsupported(why)) => {
                self.replay(r, why)?;
                self.end_child()
            }
            Err(e) => Err(MergeError::Remux(e)),
        }
    }

    /// Ends the remux that stopped taking segments: ffmpeg in its place
    /// when it gave up, else its error.
    pub(in crate::merge) fn fall_back(&mut self) -> Result<(), MergeError> {
        let Some(mut r) = self.remux.take() else {
            return Ok(());
        };
        match r.finish() {
            Err(RemuxError::Unsupported(why)) => self.replay(r, why),
            Err(e) => Err(MergeError::Remux(e)),
            Ok(_) => Err(MergeError::Remux(RemuxError::Stopped)),
        }
    }

    /// Starts ffmpeg in the place of the remux `r` (which gave up for
    /// `why`) and queues every segment `r` was handed, from the spool.
    fn replay(&mut self, mut r: Remux, why: String) -> Result<(), MergeError> {
        tracing::info!(
            file = %crate::common::diag::display_path(&self.temp),
            "the in-process merge does not take {why}: ffmpeg merges instead"
        );
        let Some(again) = self.again.clone() else {
            return Err(MergeError::Remux(RemuxError::Stopped));
        };
        let (tools, root, input) = (&again.tools, &again.root, again.input.clone());
        let next = Merge::spawn(tools, root, self.temp.clone(), again.container, input, None)
            .map_err(MergeError::Output)?;
        self.take_child_of(next);
        for (offset, len) in std::mem::take(&mut r.ranges) {
            let piece = Piece::Spool { offset, len };
            self.send(piece).map_err(MergeError::Feed)?;
        }
        Ok(())
    }
}
