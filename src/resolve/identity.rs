//! What identifies a playlist job's stream, and the check that it did not
//! change: for each segment (the video's, then the audio rendition's) its
//! media sequence number, `EXTINF`, byte range, URI path (the query aside:
//! tokens change there), its key's URI path, and the init segment's path
//! and byte range. Recorded in the job's state folder (`stream.json`,
//! every value from the environment replaced by its `${NAME}`) at the
//! first resolution; compared when the playlist is fetched afresh, by a
//! rerun or a reload after links expired.

mod recorded;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Cause;
use crate::plan::source::playlist::{Part, PlaylistSegment, Resolved, Segments};
use crate::plan::source::ByteRange;
use crate::state::store::{self, Durability};

/// The identity, in the job's state folder.
const STREAM: &str = "stream.json";
const VERSION: u32 = 1;

/// A resource's path (secrets as `${NAME}`) and byte range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Place {
    path: String,
    range: Option<ByteRange>,
}

/// One segment's identity. A stream's is never held whole: it is made a
/// segment at a time, written or compared, and dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SegmentId {
    sequence: u64,
    /// As precise as it is kept (an f32): its shortest decimal reads back
    /// equal, where an f64's need not (serde_json parses floats fast, not
    /// exactly).
    duration: f32,
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

/// The first change from the stream `was` to `now` (both read), if any.
pub fn change(was: &Resolved, now: &Resolved, env: &BTreeMap<String, String>) -> Option<Change> {
    let names = Names::new(env);
    let (was_audio, now_audio) = (was.audio.as_deref(), now.audio.as_deref());
    if let Some(change) = audio_change(was_audio.is_some(), now_audio.is_some()) {
        return Some(change);
    }
    track_change(was, now, &names, VIDEO).or_else(|| {
        let (was, now) = (was_audio?, now_audio?);
        track_change(was, now, &names, AUDIO)
    })
}

/// The first change from one track to the other, if any.
fn track_change(
    was: &Resolved,
    now: &Resolved,
    names: &Names,
    playlist: &'static str,
) -> Option<Change> {
    let (a, b) = (Track::of(was, names), Track::of(now, names));
    let mut diff = Diff::default();
    if a == b {
        let pairs = names.ids(&was.segments).zip(names.ids(&now.segments));
        for (x, y) in pairs {
            diff.compare(x, Some(y));
            if diff.first.is_some() {
                break;
            }
        }
    }
    diff.change(&a, &b, playlist)
}

/// An audio rendition that came or went.
fn audio_change(was: bool, now: bool) -> Option<Change> {
    let had = |a: bool| if a { "an audio playlist" } else { "none" };
    (was != now).then(|| Change::Audio {
        was: had(was),
        now: had(now),
    })
}

/// What a track's identity holds besides its segments.
#[derive(Debug, Clone, PartialEq)]
struct Track {
    init: Option<Place>,
    count: usize,
}

impl Track {
    fn of(r: &Resolved, names: &Names) -> Track {
        Track {
            init: r.init.as_ref().map(|i| names.place(i)),
            count: r.segments.len(),
        }
    }
}

/// Two tracks' segments compared one at a time: the first pair that
/// differs. Only a track of as many segments as recorded is judged by it.
#[derive(Debug, Default)]
struct Diff {
    first: Option<(SegmentId, SegmentId)>,
}

impl Diff {
    fn compare(&mut self, was: SegmentId, now: Option<SegmentId>) {
        if self.first.is_none() {
            self.first = now.filter(|now| *now != was).map(|now| (was, now));
        }
    }

    /// The first change from `was` to `now`: the count, the init segment,
    /// then the first segment that differs.
    fn change(self, was: &Track, now: &Track, playlist: &'static str) -> Option<Change> {
        if was.count != now.count {
            return Some(Change::Count {
                playlist,
                was: was.count,
                now: now.count,
            });
        }
        if was.init != now.init {
            return Some(Change::Init {
                playlist,
                was: init_text(was.init.as_ref()),
                now: init_text(now.init.as_ref()),
            });
        }
        let (was, now) = self.first?;
        let (was_text, now_text) = was.difference(&now);
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

    /// The identities of `s`'s segments, made one at a time.
    fn ids<'a>(&'a self, s: &'a Segments) -> impl Iterator<Item = SegmentId> + 'a {
        s.iter().map(|s| self.segment(&s))
    }

    fn segment(&self, s: &PlaylistSegment) -> SegmentId {
        SegmentId {
            sequence: s.sequence,
            duration: s.duration as f32,
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
/// when there is none (or none this snatch reads). The record is read and
/// written a segment at a time.
pub fn check(dir: &Path, r: &Resolved, env: &BTreeMap<String, String>) -> Result<(), Cause> {
    let names = Names::new(env);
    let file = match store::open_read(&dir.join(STREAM)) {
        Ok(f) => Some(f),
        Err(e) if store::is_refusal(&e) => return Err(Cause::Refused(e)),
        Err(_) => None,
    };
    match file.and_then(|f| recorded::compare(f, r, &names)) {
        Some(Some(change)) => Err(Cause::StreamChanged { change }),
        Some(None) => Ok(()),
        None => store(dir, r, &names).map_err(|error| Cause::Record {
            dir: dir.to_path_buf(),
            error,
        }),
    }
}

/// Records `r`'s identity in `dir` (written whole, then renamed; never
/// through a link).
fn store(dir: &Path, r: &Resolved, names: &Names) -> std::io::Result<()> {
    let view = recorded::View { r, names };
    let write =
        |w: &mut dyn std::io::Write| serde_json::to_writer(w, &view).map_err(std::io::Error::other);
    store::replace_with(&dir.join(STREAM), write, Durability::Synced)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Secret;
    use crate::plan::source::playlist::{Added, Base};

    /// A stream of segments at `urls`, each of `durations`' length.
    fn stream(urls: &[String], durations: &[f32]) -> Resolved {
        let base = Base::new(Secret::plain("https://h.example/index.m3u8"));
        let mut segments = Segments::new(base, 10);
        for (url, &duration) in urls.iter().zip(durations) {
            let added = Added {
                uri: url,
                duration,
                range: None,
                discontinuity: false,
            };
            segments.push(added).unwrap();
        }
        Resolved {
            segments,
            ..Resolved::default()
        }
    }

    fn resolved(paths: &[&str]) -> Resolved {
        let urls: Vec<String> = (paths.iter().enumerate())
            .map(|(i, p)| format!("https://h.example{p}?tok=t{i}"))
            .collect();
        stream(&urls, &vec![2.0; paths.len()])
    }

    fn text(r: &Resolved, env: &BTreeMap<String, String>) -> String {
        let names = Names::new(env);
        serde_json::to_string(&recorded::View { r, names: &names }).unwrap()
    }

    #[test]
    fn tokens_in_the_query_do_not_change_it_a_path_does() {
        let env = BTreeMap::new();
        let was = resolved(&["/v/a.ts", "/v/b.ts"]);
        let urls = ["https://cdn2.example/v/a.ts?tok=new", "/v/b.ts?tok=x"].map(String::from);
        let same = stream(&urls, &[2.0, 2.0]);
        assert_eq!(change(&was, &same, &env), None);
        let moved = resolved(&["/v/a.ts", "/w/b.ts"]);
        let moved = change(&was, &moved, &env).unwrap();
        assert_eq!(moved.to_string(), "segment 11: /v/b.ts became /w/b.ts");
        let more = resolved(&["/v/a.ts", "/v/b.ts", "/v/c.ts"]);
        assert_eq!(
            change(&was, &more, &env).unwrap().to_string(),
            "the playlist now lists 3 segments, it listed 2"
        );
        let urls = ["/v/a.ts", "/v/b.ts"].map(String::from);
        let longer = stream(&urls, &[2.0, 2.5]);
        assert_eq!(
            change(&was, &longer, &env).unwrap().to_string(),
            "segment 11: EXTINF 2 became EXTINF 2.5"
        );
    }

    #[test]
    fn a_duration_that_is_no_short_decimal_reads_back_as_recorded() {
        // 1.92 s (an AAC segment of 92160 / 48000) is 1.9199999570846558
        // as the f32 it is kept in; the record must compare equal to it.
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::new();
        let urls = ["/a/1.m4s", "/a/2.m4s"].map(String::from);
        let was = stream(&urls, &[1.92, 2.0053333]);
        check(dir.path(), &was, &env).unwrap();
        check(dir.path(), &stream(&urls, &[1.92, 2.0053333]), &env).unwrap();
        match check(dir.path(), &stream(&urls, &[1.92, 2.0]), &env) {
            Err(Cause::StreamChanged { change }) => assert_eq!(
                change.to_string(),
                "segment 11: EXTINF 2.0053332 became EXTINF 2"
            ),
            other => panic!("{other:?}"),
        }
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
        let text = text(&r, &env);
        assert!(!text.contains("s3"), "{text}");
        assert!(text.contains("/${SNATCH_D}/a.ts"), "{text}");
        assert!(text.contains("/x/${SNATCH_D}/b.ts"), "{text}");
        assert!(text.contains("/y/${SNATCH_D}/c.ts"), "{text}");
    }

    #[test]
    fn it_is_recorded_once_then_compared_as_read() {
        let dir = tempfile::tempdir().unwrap();
        let env = BTreeMap::new();
        let was = resolved(&["/v/a.ts", "/v/b.ts"]);
        check(dir.path(), &was, &env).unwrap();
        let recorded = std::fs::read_to_string(dir.path().join(STREAM)).unwrap();
        assert_eq!(recorded, text(&was, &env));
        assert!(recorded.starts_with(r#"{"snatch_stream":1,"video":{"init":null,"segments":[{"sequence":10,"duration":2.0,"place":{"path":"/v/a.ts","range":null},"key":null}"#), "{recorded}");
        check(dir.path(), &resolved(&["/v/a.ts", "/v/b.ts"]), &env).unwrap();
        for (now, said) in [
            (
                resolved(&["/v/a.ts", "/w/b.ts"]),
                "segment 11: /v/b.ts became /w/b.ts",
            ),
            (
                resolved(&["/v/a.ts"]),
                "the playlist now lists 1 segments, it listed 2",
            ),
        ] {
            match check(dir.path(), &now, &env) {
                Err(Cause::StreamChanged { change }) => assert_eq!(change.to_string(), said),
                other => panic!("{other:?}"),
            }
        }
        let with_audio = Resolved {
            audio: Some(std::sync::Arc::new(resolved(&["/a/1.aac"]))),
            ..resolved(&["/v/a.ts", "/v/b.ts"])
        };
        match check(dir.path(), &with_audio, &env) {
            Err(Cause::StreamChanged { change }) => assert_eq!(
                change.to_string(),
                "the audio rendition: none became an audio playlist"
            ),
            other => panic!("{other:?}"),
        }
        std::fs::write(dir.path().join(STREAM), b"{\"snatch_stream\":9}").unwrap();
        check(dir.path(), &with_audio, &env).unwrap();
        let recorded = std::fs::read_to_string(dir.path().join(STREAM)).unwrap();
        assert_eq!(
            recorded,
            text(&with_audio, &env),
            "a record of another version is replaced"
        );
    }
}
