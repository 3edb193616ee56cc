//! One segment to fetch, whatever the source that listed it: where it is
//! (an http(s) URL or a local file), which bytes of it, and with which
//! AES-128 key. What the net, state, media and merge stages take of a plan.

use std::fmt;
use std::path::PathBuf;

use crate::common::Secret;

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
    /// An http(s) URL. `host` is lower-case, without port;
    /// `host_secret` when any of the host came from `${…}`.
    Http {
        url: Secret,
        host: String,
        host_secret: bool,
    },
    /// A local file.
    File { path: PathBuf, shown: String },
}

impl Target {
    /// An http(s) target: whether its host holds a secret is told by the
    /// two forms of the URL, not by what the shown one says.
    pub fn http(url: Secret, host: String) -> Target {
        let host_secret = authority_host(url.shown()) != authority_host(url.expose());
        Target::Http {
            url,
            host,
            host_secret,
        }
    }

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
            Target::Http {
                host_secret: true, ..
            } => Some("***".to_string()),
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

/// A byte range of a resource (`EXT-X-BYTERANGE`), inclusive of `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ByteRange {
    pub offset: u64,
    pub length: u64,
}

impl ByteRange {
    /// The `Range` header's value.
    pub fn header(&self) -> String {
        let last = self.offset.saturating_add(self.length.saturating_sub(1));
        format!("bytes={}-{last}", self.offset)
    }
}

/// An AES-128 key and IV for one segment. Never shown: `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct SegmentKey {
    pub key: [u8; 16],
    pub iv: [u8; 16],
}

impl fmt::Debug for SegmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SegmentKey(***)")
    }
}

/// The IV of a segment without an `IV` attribute: its media sequence
/// number as a 16-byte big-endian integer.
pub fn iv_from_sequence(sequence: u64) -> [u8; 16] {
    (sequence as u128).to_be_bytes()
}

/// The format of a job's segments, which picks the merge's input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentFormat {
    /// MPEG-TS segments.
    Ts,
    /// Fragmented MP4 (CMAF): an init segment, then fragments.
    Fmp4,
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
            Ok(Target::http(url, host))
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
    use std::collections::BTreeMap;

    use super::*;
    use crate::manifest::env;

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
}
