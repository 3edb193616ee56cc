//! Why a segment of a source could not be made.

use super::playlist::PositionError;
use super::segment::TargetError;
use crate::manifest::env::EnvError;
use crate::manifest::paths::PathError;
use crate::template::TemplateError;

/// Why a segment's target could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// The URL reads a variable that is not set: reported where the job
    /// file names it, so callers may leave it to that report.
    #[error("environment variable `{0}` is not set")]
    EnvNotSet(String),
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A `${…}` placeholder that does not read.
    #[error(transparent)]
    Env(EnvError),
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A local path outside the folders it may be read from.
    #[error(transparent)]
    Local(#[from] PathError),
    /// A playlist position without a segment, or without its key.
    #[error(transparent)]
    Playlist(#[from] PositionError),
}

impl From<EnvError> for SegmentError {
    fn from(e: EnvError) -> SegmentError {
        match e {
            EnvError::NotSet(name) => SegmentError::EnvNotSet(name),
            other => SegmentError::Env(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // plan leaves EnvNotSet to the report where the job file names the
    // variable, so only an unset variable may become it.
    #[test]
    fn only_an_unset_variable_is_env_not_set() {
        let unset = SegmentError::from(EnvError::NotSet("SNATCH_T".into()));
        assert_eq!(unset, SegmentError::EnvNotSet("SNATCH_T".into()));
        let unclosed = SegmentError::from(EnvError::Unclosed);
        assert_eq!(unclosed, SegmentError::Env(EnvError::Unclosed));
        assert_eq!(unclosed.to_string(), "`${` has no closing `}`");
    }
}
