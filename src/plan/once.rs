//! Templates a job renders once, not per segment: a playlist job's
//! playlist URL (its segment source, resolved later by `run`) and a
//! template job's `init` segment.

use crate::common::Secret;
use crate::plan::source::{Numbered, PlaylistSource, Segment, SegmentError, SegmentSource};

use super::PlanError;

/// A template of the job rendered once (no index), as a segment; `None`
/// while a variable it reads is unset (reported elsewhere).
pub(super) fn render_once(numbered: &Numbered, key: &str) -> Result<Option<Segment>, PlanError> {
    let key_numbered = Numbered {
        key: key.to_string(),
        ..numbered.clone()
    };
    match key_numbered.segment(0) {
        Ok(s) => Ok(Some(s)),
        Err(SegmentError::EnvNotSet(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A playlist job's source: its URL rendered once; http(s) only.
pub(super) fn playlist_source(
    numbered: &Numbered,
    variant: crate::manifest::Variant,
) -> Result<SegmentSource, PlanError> {
    let url = match render_once(numbered, &numbered.key)? {
        Some(s) => s.target,
        // An unset variable: reported with the url; a placeholder here.
        None => crate::plan::source::Target::http(Secret::plain(""), String::new()),
    };
    match url {
        crate::plan::source::Target::Http { url, host, .. } => {
            Ok(SegmentSource::Playlist(PlaylistSource {
                url,
                host,
                variant,
                env: numbered.env.clone(),
                resolved: None,
                fresh: Default::default(),
            }))
        }
        crate::plan::source::Target::File { shown, .. } => Err(PlanError::PlaylistNotHttp(shown)),
    }
}
