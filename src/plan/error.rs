//! The plan's own refusals, in one place: an output path that a rendering
//! made unsafe, a playlist URL that is not a web address, and a template
//! rendered once that fails. Each renders the words that follow `output of
//! job `NAME`` or `playlist of job `NAME`:` in the located problem.

use crate::manifest::bounds;
use crate::plan::source::SegmentError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("renders to an empty path")]
    EmptyOutput,
    #[error("renders to the absolute path `{0}`")]
    AbsoluteOutput(String),
    #[error("`{0}` climbs out of output_dir with `..`")]
    OutputClimbs(String),
    #[error("writes into `.snatch` (`{0}`), where snatch keeps its state")]
    OutputIntoState(String),
    #[error(
        "renders a file or folder name longer than {} bytes",
        bounds::PATH_COMPONENT_LEN
    )]
    OutputNameTooLong,
    /// `shown` is the rendered URL, secrets as `***`.
    #[error("`{0}` is not an http(s) URL; a playlist is fetched from a web server")]
    PlaylistNotHttp(String),
    /// A template rendered once (the playlist URL, `init`) that fails.
    #[error(transparent)]
    Segment(#[from] SegmentError),
}
