//! Where a job's segments come from: one small abstraction, so that a second
//! kind (an HLS playlist) slots in beside numbered URL templates.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::common::Secret;
use crate::manifest::env::{self, EnvError};
use crate::manifest::paths::{LocalRoots, PathError};
use crate::manifest::IndexSource;
use crate::template::{TemplateError, Templates};

pub use crate::source_playlist::{ByteRange, PlaylistSource, SegmentFormat, SegmentKey};

/// One segment to fetch.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The segment's index as the job numbers it (not its position).
    pub index: u64,
    pub target: Target,
    /// Only these bytes of the target (`EXT-X-BYTERANGE`).
    pub range: Option<ByteRange>,
    /// Decrypt with this AES-128 key once it arrived.
    pub key: Option<SegmentKey>,
}

/// What to read for one segment.
#[derive(Debug, Clone)]
pub enum Target {
    /// An http(s) URL. `host` is lower-case, without port.
    Http { url: Secret, host: String },
    /// A local file.
    File { path: PathBuf, shown: String },
}

impl Target {
    /// The location for messages and plans, secrets as `***`.
    pub fn shown(&self) -> &str {
        match self {
            Target::Http { url, .. } => url.shown(),
            Target::File { shown, .. } => shown,
        }
    }

    /// The real host, for fetching and limits. Never show it: see
    /// [`Target::shown_host`].
    pub fn host(&self) -> Option<&str> {
        match self {
            Target::Http { host, .. } => Some(host),
            Target::File { .. } => None,
        }
    }

    /// The host for plans, messages and reports: `***` when any of it came
    /// from `${…}`.
    pub fn shown_host(&self) -> Option<String> {
        match self {
            Target::Http { url, host } if url.is_secret() => {
                let shown = authority_host(url.shown());
                Some(if shown.contains("***") {
                    "***".to_string()
                } else {
                    host.clone()
                })
            }
            Target::Http { host, .. } => Some(host.clone()),
            Target::File { .. } => None,
        }
    }
}

/// The host part of `scheme://user@host:port/…`, as written.
fn authority_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

/// A job's segment list.
#[derive(Debug, Clone)]
pub enum SegmentSource {
    Numbered(Numbered),
    Playlist(PlaylistSource),
}

impl SegmentSource {
    pub fn len(&self) -> u64 {
        match self {
            SegmentSource::Numbered(n) => n.indices.count(),
            SegmentSource::Playlist(p) => p.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index of the segment at `position` (0-based).
    pub fn index_at(&self, position: u64) -> u64 {
        match self {
            SegmentSource::Numbered(n) => n.indices.first() + position,
            SegmentSource::Playlist(p) => p.index_at(position),
        }
    }

    /// The segment at `position` (0-based).
    pub fn segment(&self, position: u64) -> Result<Segment, SegmentError> {
        match self {
            SegmentSource::Numbered(n) => n.segment(self.index_at(position)),
            SegmentSource::Playlist(p) => Ok(p.segment(position)?),
        }
    }

    /// Whether the segment at `position` is of a separate audio rendition.
    pub fn is_audio(&self, position: u64) -> bool {
        match self {
            SegmentSource::Numbered(_) => false,
            SegmentSource::Playlist(p) => p.is_audio(position),
        }
    }

    /// Whether 404s after the last segment that answered are expected
    /// (the count came from duration math).
    pub fn trailing_misses_expected(&self) -> bool {
        match self {
            SegmentSource::Numbered(n) => matches!(n.indices, IndexSource::Duration { .. }),
            SegmentSource::Playlist(_) => false,
        }
    }

    /// `range`, `count` or `duration`: where the segment list came from.
    pub fn kind(&self) -> &'static str {
        match self {
            SegmentSource::Numbered(n) => match n.indices {
                IndexSource::Range { .. } => "range",
                IndexSource::Count { .. } => "count",
                IndexSource::Duration { .. } => "duration",
            },
            SegmentSource::Playlist(_) => "playlist",
        }
    }

    /// The kind in words, with the duration math where there is some.
    pub fn describe(&self) -> String {
        match self {
            SegmentSource::Numbered(n) => match (n.end, &n.indices) {
                (EndSource::Auto, i) => format!(
                    "range from {}, end: auto (found by probing when run)",
                    i.first()
                ),
                (EndSource::Found { requests }, _) => {
                    format!("range (end: auto, found with {requests} requests)")
                }
                (
                    EndSource::Given,
                    IndexSource::Duration {
                        length_s,
                        segment_s,
                        ..
                    },
                ) => format!("duration {length_s}s ÷ {segment_s}s"),
                _ => self.kind().to_string(),
            },
            SegmentSource::Playlist(p) => p.describe(),
        }
    }

    pub fn expected_duration(&self) -> Option<f64> {
        match self {
            SegmentSource::Numbered(n) => n.indices.expected_duration(),
            SegmentSource::Playlist(p) => p.expected_duration(),
        }
    }
}

/// Segments numbered by a URL template.
#[derive(Debug, Clone)]
pub struct Numbered {
    pub indices: IndexSource,
    pub padding: u32,
    pub templates: Arc<Templates>,
    /// The URL template's key in `templates`.
    pub key: String,
    /// `name`, `vars`, `date`; `index` and `n` are added per segment.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// The values of the variables this job's URL reads.
    pub env: Arc<BTreeMap<String, String>>,
    /// The job file's folder, for local paths.
    pub dir: PathBuf,
    /// The folders local paths may lie in (checked for every segment).
    pub roots: Arc<LocalRoots>,
    /// Whether the range's end was given or is found by probing.
    pub end: EndSource,
}

/// Where a numbered job's last index comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSource {
    /// Written in the job (or implied by `count`, `duration`).
    Given,
    /// `end: auto`, not yet probed: `indices` holds the start alone.
    Auto,
    /// `end: auto`, found with this many requests.
    Found { requests: u32 },
}

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
    Playlist(#[from] crate::source_playlist::PositionError),
}

impl From<EnvError> for SegmentError {
    fn from(e: EnvError) -> SegmentError {
        match e {
            EnvError::NotSet(name) => SegmentError::EnvNotSet(name),
            other => SegmentError::Env(other),
        }
    }
}

/// Why a rendered URL names no place snatch can read from; `shown` is the
/// URL with its secrets as `***`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("`{shown}` is not a valid URL: {reason}")]
    BadUrl { shown: String, reason: String },
    #[error("`{0}` has no host")]
    NoHost(String),
    #[error("`{shown}` is not a valid file URL: {reason}")]
    BadFileUrl { shown: String, reason: String },
    #[error("`{0}` is not an absolute file URL")]
    RelativeFileUrl(String),
    #[error("the scheme `{0}` is not supported; use http, https, file, or a local path")]
    Scheme(String),
}

impl Numbered {
    pub fn segment(&self, index: u64) -> Result<Segment, SegmentError> {
        let mut ctx = self.context.clone();
        ctx.insert(
            "index".into(),
            format!("{:0w$}", index, w = self.padding as usize).into(),
        );
        ctx.insert("n".into(), index.into());
        let rendered = self
            .templates
            .render(&self.key, &serde_json::Value::Object(ctx))?;
        let pieces = env::parse(&rendered)?;
        let url = env::resolve(&pieces, &self.env)?;
        let target = match target_of(url, &self.dir)? {
            Target::File { path, shown } => Target::File {
                path: self.roots.check(&path, &shown)?,
                shown,
            },
            http => http,
        };
        Ok(Segment {
            index,
            target,
            range: None,
            key: None,
        })
    }
}

/// Classifies a rendered URL: http(s), `file://`, or a path relative to `dir`.
pub fn target_of(url: Secret, dir: &std::path::Path) -> Result<Target, TargetError> {
    let real = url.expose();
    let shown = || url.shown().to_string();
    match scheme_of(real) {
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
            let parsed = reqwest::Url::parse(real).map_err(|e| TargetError::BadUrl {
                shown: shown(),
                reason: e.to_string(),
            })?;
            let host = parsed
                .host_str()
                .ok_or_else(|| TargetError::NoHost(shown()))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase();
            Ok(Target::Http { url, host })
        }
        Some(s) if s.eq_ignore_ascii_case("file") => {
            let parsed = reqwest::Url::parse(real).map_err(|e| TargetError::BadFileUrl {
                shown: shown(),
                reason: e.to_string(),
            })?;
            let path = parsed
                .to_file_path()
                .map_err(|_| TargetError::RelativeFileUrl(shown()))?;
            Ok(Target::File {
                path,
                shown: url.shown().to_string(),
            })
        }
        Some(s) => Err(TargetError::Scheme(s.to_string())),
        None => Ok(Target::File {
            path: dir.join(real),
            shown: url.shown().to_string(),
        }),
    }
}

/// The scheme of `scheme://…`, if the text starts with one.
fn scheme_of(s: &str) -> Option<&str> {
    let end = s.find("://")?;
    let scheme = &s[..end];
    let valid = scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_targets() {
        let dir = std::path::Path::new("/jobs");
        match target_of(Secret::plain("https://CDN.example.com:8443/a/1.ts"), dir).unwrap() {
            Target::Http { host, .. } => assert_eq!(host, "cdn.example.com"),
            t => panic!("{t:?}"),
        }
        match target_of(Secret::plain("segments/000001.ts"), dir).unwrap() {
            Target::File { path, .. } => assert_eq!(path, dir.join("segments/000001.ts")),
            t => panic!("{t:?}"),
        }
        match target_of(Secret::plain("file:///data/1.ts"), dir).unwrap() {
            Target::File { path, .. } => assert_eq!(path, PathBuf::from("/data/1.ts")),
            t => panic!("{t:?}"),
        }
        let err = target_of(Secret::plain("ftp://h/1.ts"), dir).unwrap_err();
        assert_eq!(err, TargetError::Scheme("ftp".into()));
        assert!(err.to_string().contains("`ftp`"), "{err}");
    }

    #[test]
    fn a_host_from_a_secret_is_shown_as_stars() {
        let values = BTreeMap::from([("SNATCH_H".to_string(), "cdn.secret.example".to_string())]);
        let dir = std::path::Path::new("/jobs");
        let shown_host = |url: &str| {
            let s = env::resolve(&env::parse(url).unwrap(), &values).unwrap();
            target_of(s, dir).unwrap().shown_host()
        };
        assert_eq!(
            shown_host("https://${SNATCH_H}/1.ts").as_deref(),
            Some("***")
        );
        assert_eq!(
            shown_host("https://${SNATCH_H}:8443/1.ts").as_deref(),
            Some("***")
        );
        assert_eq!(
            shown_host("https://cdn-${SNATCH_H}/1.ts").as_deref(),
            Some("***")
        );
        assert_eq!(
            shown_host("https://u:${SNATCH_H}@plain.example/1.ts?t=${SNATCH_H}").as_deref(),
            Some("plain.example")
        );
        assert_eq!(
            shown_host("https://Plain.example/1.ts").as_deref(),
            Some("plain.example")
        );
    }

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
