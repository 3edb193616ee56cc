//! What identifies a playlist job's stream, and the check that it did not
//! change: for each segment (the video's, then the audio rendition's) its
//! media sequence number, `EXTINF`, byte range, URI path (the query aside:
//! tokens change there), its key's URI path, and the init segment's path
//! and byte range. Recorded in the job's state folder (`stream.json`,
//! every value from the environment replaced by its `${NAME}`) at the
//! first resolution; compared when the playlist is fetched afresh, by a
//! rerun or a reload after links expired.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Cause;
use crate::source_playlist::{ByteRange, Part, PlaylistSegment, Resolved};
use crate::state::store::{self, Durability};

/// The identity, in the job's state folder.
const STREAM: &str = "stream.json";
const VERSION: u32 = 1;

/// A stream's identity: its video (or only) track and its audio rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    snatch_stream: u32,
    video: Track,
    audio: Option<Track>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Track {
    init: Option<Place>,
    segments: Vec<SegmentId>,
}

/// A resource's path (secrets as `${NAME}`) and byte range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Place {
    path: String,
    range: Option<ByteRange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SegmentId {
    sequence: u64,
    duration: f64,
    place: Place,
    key: Option<String>,
}

/// The first difference between the stream recorded and the one fetched.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Change {
    #[error("the {playlist} now lists {now} segments, it listed {was}")]
    Count {
        playlist: &'static str,
        was: usize,
        now: usize,
    },
    #[error("{}segment {sequence}: {was} became {now}", audio_prefix(.playlist))]
    Segment {
        playlist: &'static str,
        sequence: u64,
        was: String,
        now: String,
    },
    #[error("{}init segment: {was} became {now}", audio_prefix(.playlist))]
    Init {
        playlist: &'static str,
        was: String,
        now: String,
    },
    #[error("the audio rendition: {was} became {now}")]
    Audio {
        was: &'static str,
        now: &'static str,
    },
}

const VIDEO: &str = "playlist";
const AUDIO: &str = "audio playlist";

fn audio_prefix(playlist: &str) -> &'static str {
    if playlist == AUDIO {
        "audio "
    } else {
        ""
    }
}

impl Identity {
    /// The identity of a read playlist; `env`'s values never appear in it.
    pub fn of(r: &Resolved, env: &BTreeMap<String, String>) -> Identity {
        let names = Names::new(env);
        Identity {
            snatch_stream: VERSION,
            video: Track::of(r, &names),
            audio: r.audio.as_ref().map(|a| Track::of(a, &names)),
        }
    }

    /// The first change from `self` (recorded) to `now`, if any.
    pub fn change_to(&self, now: &Identity) -> Option<Change> {
        let had = |a: &Option<Track>| match a {
            Some(_) => "an audio playlist",
            None => "none",
        };
        if self.audio.is_some() != now.audio.is_some() {
            return Some(Change::Audio {
                was: had(&self.audio),
                now: had(&now.audio),
            });
        }
        let audio = self.audio.iter().zip(&now.audio);
        std::iter::once((&self.video, &now.video, VIDEO))
            .chain(audio.map(|(was, now)| (was, now, AUDIO)))
            .find_map(|(was, now, playlist)| was.change_to(now, playlist))
    }
}

impl Track {
    fn of(r: &Resolved, names: &Names) -> Track {
        Track {
            init: r.init.as_ref().map(|i| names.place(i)),
            segments: r.segments.iter().map(|s| names.segment(s)).collect(),
        }
    }

    fn change_to(&self, now: &Track, playlist: &'static str) -> Option<Change> {
        if self.segments.len() != now.segments.len() {
            return Some(Change::Count {
                playlist,
                was: self.segments.len(),
                now: now.segments.len(),
            });
        }
        if self.init != now.init {
            return Some(Change::Init {
                playlist,
                was: init_text(self.init.as_ref()),
                now: init_text(now.init.as_ref()),
            });
        }
        let (was, now) = self
            .segments
            .iter()
            .zip(&now.segments)
            .find(|(a, b)| a != b)?;
        let (was_text, now_text) = was.difference(now);
        Some(Change::Segment {
            playlist,
            sequence: was.sequence,
            was: was_text,
            now: now_text,
        })
    }
}

impl SegmentId {
    /// The first field that differs, as it was and as it is.
    fn difference(&self, now: &SegmentId) -> (String, String) {
        if self.sequence != now.sequence {
            let seq = |s: &SegmentId| format!("media sequence number {}", s.sequence);
            return (seq(self), seq(now));
        }
        if self.place.path != now.place.path {
            return (self.place.path.clone(), now.place.path.clone());
        }
        if self.place.range != now.place.range {
            return (range_text(self.place.range), range_text(now.place.range));
        }
        if self.duration != now.duration {
            let extinf = |s: &SegmentId| format!("EXTINF {}", s.duration);
            return (extinf(self), extinf(now));
        }
        let key = |s: &SegmentId| match &s.key {
            Some(k) => format!("key {k}"),
            None => "no key".to_string(),
        };
        (key(self), key(now))
    }
}

fn range_text(r: Option<ByteRange>) -> String {
    match r {
        Some(r) => format!("byte range {}", r.header().trim_start_matches("bytes=")),
        None => "the whole file".to_string(),
    }
}

fn init_text(p: Option<&Place>) -> String {
    match p {
        Some(p) => format!("{} {}", p.path, range_text(p.range)),
        None => "none".to_string(),
    }
}

/// The environment's values, longest first, to be replaced by their
/// names in every spelling (see [`crate::common::mask::replace_spelling`]).
struct Names(Vec<(String, String)>);

impl Names {
    fn new(env: &BTreeMap<String, String>) -> Names {
        let mut pairs: Vec<(String, String)> = env
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        pairs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        Names(pairs)
    }

    fn path(&self, url: &str) -> String {
        let mut text = path_of(url).replace("${", "$${");
        for (name, value) in &self.0 {
            let var = format!("${{{name}}}");
            if let Some(t) = crate::common::mask::replace_spelling(&text, value, &var) {
                text = t;
            }
        }
        text
    }

    fn place(&self, p: &Part) -> Place {
        Place {
            path: self.path(p.url.expose()),
            range: p.range,
        }
    }

    fn segment(&self, s: &PlaylistSegment) -> SegmentId {
        SegmentId {
            sequence: s.sequence,
            duration: s.duration,
            place: self.place(&s.part),
            key: s.key.as_ref().map(|k| self.path(k.url.expose())),
        }
    }
}

/// The path of a URL: no scheme, host, query or fragment.
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// Compares the stream `r` with the one recorded in `dir`, or records it
/// when there is none.
pub fn check(dir: &Path, r: &Resolved, env: &BTreeMap<String, String>) -> Result<(), Cause> {
    let now = Identity::of(r, env);
    match load(dir).map_err(Cause::Refused)? {
        Some(was) => match was.change_to(&now) {
            Some(change) => Err(Cause::StreamChanged { change }),
            None => Ok(()),
        },
        None => store(dir, &now).map_err(|error| Cause::Record {
            dir: dir.to_path_buf(),
            error,
        }),
    }
}

/// The identity recorded in `dir`, if there is one this snatch reads; an
/// error when a link or something else than a regular file is there.
pub fn load(dir: &Path) -> Result<Option<Identity>, std::io::Error> {
    let text = store::read_state(&dir.join(STREAM))?;
    let id = text.and_then(|t| serde_json::from_str::<Identity>(&t).ok());
    Ok(id.filter(|id| id.snatch_stream == VERSION))
}

/// Records `id` in `dir` (written whole, then renamed; never through a link).
pub fn store(dir: &Path, id: &Identity) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(id).map_err(std::io::Error::other)?;
    store::replace(&dir.join(STREAM), &bytes, Durability::Synced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Secret;

    fn resolved(paths: &[&str]) -> Resolved {
        Resolved {
            segments: paths
                .iter()
                .enumerate()
                .map(|(i, p)| PlaylistSegment {
                    sequence: 10 + i as u64,
                    part: Part {
                        url: Secret::plain(format!("https://h.example{p}?tok=t{i}")),
                        range: None,
                    },
                    duration: 2.0,
                    discontinuity: false,
                    key: None,
                })
                .collect(),
            ..Resolved::default()
        }
    }

    #[test]
    fn tokens_in_the_query_do_not_change_it_a_path_does() {
        let env = BTreeMap::new();
        let was = Identity::of(&resolved(&["/v/a.ts", "/v/b.ts"]), &env);
        let mut same = resolved(&["/v/a.ts", "/v/b.ts"]);
        same.segments[0].part.url = Secret::plain("https://cdn2.example/v/a.ts?tok=new");
        assert_eq!(was.change_to(&Identity::of(&same, &env)), None);
        let moved = Identity::of(&resolved(&["/v/a.ts", "/w/b.ts"]), &env);
        let change = was.change_to(&moved).unwrap();
        assert_eq!(change.to_string(), "segment 11: /v/b.ts became /w/b.ts");
        let more = Identity::of(&resolved(&["/v/a.ts", "/v/b.ts", "/v/c.ts"]), &env);
        assert_eq!(
            was.change_to(&more).unwrap().to_string(),
            "the playlist now lists 3 segments, it listed 2"
        );
        let mut longer = resolved(&["/v/a.ts", "/v/b.ts"]);
        longer.segments[1].duration = 2.5;
        assert_eq!(
            was.change_to(&Identity::of(&longer, &env))
                .unwrap()
                .to_string(),
            "segment 11: EXTINF 2 became EXTINF 2.5"
        );
    }

    #[test]
    fn a_value_from_the_environment_is_recorded_as_its_name() {
        let env: BTreeMap<String, String> =
            [("SNATCH_D".to_string(), "s3 cr3t+v4l==".to_string())].into();
        let r = resolved(&[
            "/s3%20cr3t+v4l==/a.ts",
            "/x/s3 cr3t+v4l==/b.ts",
            "/y/s3%20cr3t%2bv4l%3d%3d/c.ts",
        ]);
        let text = serde_json::to_string(&Identity::of(&r, &env)).unwrap();
        assert!(!text.contains("s3"), "{text}");
        assert!(text.contains("/${SNATCH_D}/a.ts"), "{text}");
        assert!(text.contains("/x/${SNATCH_D}/b.ts"), "{text}");
        assert!(text.contains("/y/${SNATCH_D}/c.ts"), "{text}");
    }

    #[test]
    fn it_is_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let id = Identity::of(&resolved(&["/v/a.ts"]), &BTreeMap::new());
        assert_eq!(load(dir.path()).unwrap(), None);
        store(dir.path(), &id).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(id));
    }
}
