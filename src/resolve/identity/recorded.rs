//! `stream.json` written and read a segment at a time: a stream's identity
//! is as long as its playlist, and is never held whole. The file's form is
//! `{"snatch_stream":1,"video":{"init":…,"segments":[…]},"audio":…}`.

use std::fmt;
use std::fs::File;
use std::io::BufReader;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserializer, Serialize};

use super::{audio_change, Change, Diff, Names, Place, SegmentId, Track, AUDIO, VERSION, VIDEO};
use crate::plan::source::playlist::Resolved;

/// A read playlist's identity, made as it is written.
pub(super) struct View<'a> {
    pub r: &'a Resolved,
    pub names: &'a Names,
}

impl Serialize for View<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Identity", 3)?;
        st.serialize_field("snatch_stream", &VERSION)?;
        let track = |r| TrackView {
            r,
            names: self.names,
        };
        st.serialize_field("video", &track(self.r))?;
        st.serialize_field("audio", &self.r.audio.as_deref().map(track))?;
        st.end()
    }
}

struct TrackView<'a> {
    r: &'a Resolved,
    names: &'a Names,
}

impl Serialize for TrackView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Track", 2)?;
        let init = self.r.init.as_ref().map(|i| self.names.place(i));
        st.serialize_field("init", &init)?;
        st.serialize_field("segments", &SegmentsView(self))?;
        st.end()
    }
}

struct SegmentsView<'a>(&'a TrackView<'a>);

impl Serialize for SegmentsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let TrackView { r, names } = self.0;
        s.collect_seq(names.ids(&r.segments))
    }
}

/// The first change from the identity recorded in `file` to `now`'s:
/// `Some(None)` for none; `None` when the file is not one this snatch
/// reads (it is recorded anew).
pub(super) fn compare(file: File, now: &Resolved, names: &Names) -> Option<Option<Change>> {
    let mut reader = serde_json::Deserializer::from_reader(BufReader::new(file));
    let read = RecordSeed { now, names }.deserialize(&mut reader).ok()?;
    reader.end().ok()?;
    if read.version != VERSION {
        return None;
    }
    let video = read.video?;
    let audio = read.audio?;
    if let Some(change) = audio_change(audio.is_some(), now.audio.is_some()) {
        return Some(Some(change));
    }
    let track = |r: &Resolved| Track::of(r, names);
    let change = video.change(track(now), VIDEO).or_else(|| {
        let (was, now) = (audio?, now.audio.as_deref()?);
        was.change(track(now), AUDIO)
    });
    Some(change)
}

/// A recorded track: what it holds besides its segments, and how they
/// compare with the stream's now.
struct ReadTrack {
    track: Track,
    diff: Diff,
}

impl ReadTrack {
    fn change(self, now: Track, playlist: &'static str) -> Option<Change> {
        self.diff.change(&self.track, &now, playlist)
    }
}

/// What the record holds, compared as it is read.
struct Read {
    version: u32,
    video: Option<ReadTrack>,
    /// `Some(None)`: the record has no audio rendition.
    audio: Option<Option<ReadTrack>>,
}

struct RecordSeed<'a> {
    now: &'a Resolved,
    names: &'a Names,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Read;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Read, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Read;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a stream identity")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Read, A::Error> {
        let mut read = Read {
            version: 0,
            video: None,
            audio: None,
        };
        let track = |now| TrackSeed {
            now,
            names: self.names,
        };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "snatch_stream" => read.version = map.next_value()?,
                "video" => read.video = Some(map.next_value_seed(track(Some(self.now)))?),
                "audio" => {
                    let now = self.now.audio.as_deref();
                    read.audio = Some(map.next_value_seed(OptionalTrack(track(now)))?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(read)
    }
}

/// A recorded track, compared with `now`'s (none: only read).
#[derive(Clone, Copy)]
struct TrackSeed<'a> {
    now: Option<&'a Resolved>,
    names: &'a Names,
}

impl<'de> DeserializeSeed<'de> for TrackSeed<'_> {
    type Value = ReadTrack;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ReadTrack, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TrackSeed<'_> {
    type Value = ReadTrack;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a track's identity")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ReadTrack, A::Error> {
        let mut init: Option<Option<Place>> = None;
        let mut segments = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "init" => init = Some(map.next_value()?),
                "segments" => segments = Some(map.next_value_seed(SegmentsSeed(self))?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let init = init.ok_or_else(|| de::Error::missing_field("init"))?;
        let (count, diff) = segments.ok_or_else(|| de::Error::missing_field("segments"))?;
        Ok(ReadTrack {
            track: Track { init, count },
            diff,
        })
    }
}

/// `null` or a track.
struct OptionalTrack<'a>(TrackSeed<'a>);

impl<'de> DeserializeSeed<'de> for OptionalTrack<'_> {
    type Value = Option<ReadTrack>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<ReadTrack>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptionalTrack<'_> {
    type Value = Option<ReadTrack>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a track's identity or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<ReadTrack>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<ReadTrack>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<ReadTrack>, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// A track's segments, each compared with the one at its position now.
struct SegmentsSeed<'a>(TrackSeed<'a>);

impl<'de> DeserializeSeed<'de> for SegmentsSeed<'_> {
    type Value = (usize, Diff);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(usize, Diff), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SegmentsSeed<'_> {
    type Value = (usize, Diff);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of segment identities")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(usize, Diff), A::Error> {
        let TrackSeed { now, names } = self.0;
        let mut now = now.map(|r| names.ids(&r.segments));
        let mut diff = Diff::default();
        let mut count = 0usize;
        while let Some(was) = seq.next_element::<SegmentId>()? {
            count += 1;
            // Once a segment differs, the others are only counted.
            let now = match diff.first {
                None => now.as_mut().and_then(Iterator::next),
                Some(_) => None,
            };
            diff.compare(was, now);
        }
        Ok((count, diff))
    }
}
