//! A media playlist read into its segments, in order: m3u8-rs reads the
//! text [`CHUNK`] segments at a time, and each segment is checked (URIs
//! http(s), byte ranges that chain, keys snatch can decrypt, `EXTINF`)
//! and kept compactly (see [`crate::plan::source::playlist::Segments`]). Pure:
//! no request.

use m3u8_rs::{KeyMethod, MediaSegment};

use crate::common::Secret;
use crate::manifest::MAX_SEGMENTS;
use crate::media::decrypt::parse_iv;
use crate::plan::source::playlist::{Added, Base, KeyTag, Part, Resolved, Segments, AUDIO_BASE};
use crate::plan::source::ByteRange;

use super::error::{PlaylistError, TagError};
use super::hls::{check_uri, join_to};
use super::lines::Checked;

/// How many segments m3u8-rs reads at a time: what it builds for them
/// (several hundred bytes a segment) is dropped once they are kept.
const CHUNK: usize = 2048;

/// The segments of a media playlist in order, with their init segment,
/// ranges and keys (not yet fetched). m3u8-rs reads the text [`CHUNK`]
/// segments at a time.
pub fn read_media(media: &Checked, base: &Secret, shown: &str) -> Result<Resolved, PlaylistError> {
    refused_media(media, media.uris, shown)?;
    let mut reader = Reader {
        segments: Segments::new(Base::new(base.clone()), media.media_sequence),
        init: None,
        map_uri: None,
        ranges: Ranges::default(),
        shown,
    };
    for chunk in media.chunks(CHUNK) {
        let (rest, pl) = m3u8_rs::parse_media_playlist(&chunk)
            .map_err(|_| PlaylistError::Invalid(shown.into()))?;
        if !rest.is_empty() {
            return Err(PlaylistError::Invalid(shown.into()));
        }
        for s in &pl.segments {
            reader.add(s)?;
        }
        refused_count(reader.segments.len(), shown)?;
    }
    refused_media(media, reader.segments.len(), shown)?;
    reader.segments.shrink();
    Ok(Resolved {
        segments: reader.segments,
        init: reader.init,
        media_shown: base.shown().to_string(),
        ..Resolved::default()
    })
}

/// A media playlist's segments as they are read.
struct Reader<'a> {
    segments: Segments,
    init: Option<Part>,
    map_uri: Option<String>,
    ranges: Ranges,
    shown: &'a str,
}

impl Reader<'_> {
    /// Keeps one segment as m3u8-rs read it.
    fn add(&mut self, s: &MediaSegment) -> Result<(), PlaylistError> {
        let sequence = self.segments.base_sequence() + self.segments.len() as u64;
        let at = |e: TagError| PlaylistError::AtSegment {
            shown: self.shown.into(),
            sequence,
            error: e,
        };
        unreadable(s).map_err(at)?;
        let base = self.segments.base().clone();
        if let Some(m) = &s.map {
            if self.map_uri.as_ref().is_some_and(|u| u != &m.uri) {
                return Err(at(TagError::SecondMap));
            }
            if self.map_uri.is_none() {
                let url = join_to(&base, &m.uri).map_err(|e| at(e.into()))?;
                let range = m.byte_range.as_ref().map(|r| ByteRange {
                    offset: r.offset.unwrap_or(0),
                    length: r.length,
                });
                self.init = Some(Part { url, range });
                self.map_uri = Some(m.uri.clone());
            }
        }
        if let Some(k) = &s.key {
            let key = read_key(k, &base).map_err(at)?;
            self.segments.set_key(key).map_err(|_| self.too_long())?;
        }
        check_uri(&base, &s.uri).map_err(|e| at(e.into()))?;
        let range = s
            .byte_range
            .as_ref()
            .map(|r| self.ranges.next(&s.uri, r.length, r.offset))
            .transpose()
            .map_err(at)?;
        if !(s.duration.is_finite() && s.duration >= 0.0) {
            return Err(at(TagError::Extinf(s.duration)));
        }
        let added = Added {
            uri: &s.uri,
            duration: s.duration,
            range,
            discontinuity: s.discontinuity,
        };
        self.segments.push(added).map_err(|_| self.too_long())
    }

    fn too_long(&self) -> PlaylistError {
        PlaylistError::Invalid(self.shown.into())
    }
}

/// An `EXT-X-KEY` or `EXT-X-MAP` m3u8-rs could not read (it keeps them as
/// unknown tags): skipping one would leave the key or init segment before
/// it in force.
fn unreadable(s: &MediaSegment) -> Result<(), TagError> {
    let tags = ["X-KEY", "X-MAP"];
    match s
        .unknown_tags
        .iter()
        .find(|t| tags.contains(&t.tag.as_str()))
    {
        Some(t) => Err(TagError::Unreadable(
            t.to_string().chars().take(200).collect(),
        )),
        None => Ok(()),
    }
}

/// What refuses a media playlist as a whole: live, I-frames only, empty,
/// too long (`count` segments: counted by its lines before it is read,
/// so a playlist of too many is refused before any is kept), or numbered
/// where the audio rendition's indices start.
fn refused_media(media: &Checked, count: usize, shown: &str) -> Result<(), PlaylistError> {
    let shown = shown.to_string();
    let refused = if !media.end_list {
        PlaylistError::Live(shown)
    } else if media.i_frames_only {
        PlaylistError::IFramesOnly(shown)
    } else if count == 0 {
        PlaylistError::NoSegment(shown)
    } else if count as u64 > MAX_SEGMENTS {
        PlaylistError::TooManySegments { shown, count }
    } else if media.media_sequence >= AUDIO_BASE - MAX_SEGMENTS {
        // Indices are media sequence numbers; the audio rendition's start
        // at AUDIO_BASE, so the video's must stay below it.
        let sequence = media.media_sequence;
        PlaylistError::SequenceTooHigh { shown, sequence }
    } else {
        return Ok(());
    };
    Err(refused)
}

/// More segments than a job may have, found while reading.
fn refused_count(count: usize, shown: &str) -> Result<(), PlaylistError> {
    if count as u64 > MAX_SEGMENTS {
        let shown = shown.to_string();
        return Err(PlaylistError::TooManySegments { shown, count });
    }
    Ok(())
}

/// `EXT-X-KEY`: no key, or an AES-128 key's URI and the IV it gives.
/// Other methods are refused.
fn read_key<'k>(k: &'k m3u8_rs::Key, base: &Base) -> Result<Option<KeyTag<'k>>, TagError> {
    match &k.method {
        KeyMethod::None => Ok(None),
        KeyMethod::AES128 => {
            if let Some(f) = k.keyformat.as_deref().filter(|f| *f != "identity") {
                return Err(TagError::Drm(f.to_string()));
            }
            let uri = k.uri.as_deref().ok_or(TagError::KeyWithoutUri)?;
            check_uri(base, uri)?;
            let iv = k.iv.as_deref().map(parse_iv).transpose()?;
            Ok(Some(KeyTag { uri, iv }))
        }
        KeyMethod::SampleAES => Err(TagError::SampleAes),
        KeyMethod::Other(m) => Err(TagError::Method(m.clone())),
    }
}

/// `EXT-X-BYTERANGE` without an offset starts where the previous range of
/// the same resource ended.
#[derive(Default)]
struct Ranges {
    last: Option<(String, u64)>,
}

impl Ranges {
    fn next(&mut self, uri: &str, length: u64, offset: Option<u64>) -> Result<ByteRange, TagError> {
        let offset = match offset {
            Some(o) => o,
            None => match &self.last {
                Some((u, end)) if u == uri => *end,
                _ => return Err(TagError::RangeWithoutOffset),
            },
        };
        if length == 0 {
            return Err(TagError::EmptyRange);
        }
        let end = offset.checked_add(length).ok_or(TagError::RangeOverflow)?;
        self.last = Some((uri.to_string(), end));
        Ok(ByteRange { offset, length })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::source::iv_from_sequence;
    use crate::resolve::hls::{parse, Parsed};

    fn media(text: &str) -> Result<Resolved, String> {
        let base = Secret::plain("https://cdn.example.com/v/a/index.m3u8?t=1");
        match parse(text.as_bytes(), "pl").map_err(|e| e.to_string())? {
            Parsed::Media(m) => read_media(&m, &base, "pl").map_err(|e| e.to_string()),
            Parsed::Master(_) => panic!("a master"),
        }
    }

    const HEAD: &str =
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:7\n";

    #[test]
    fn reads_segments_in_order_with_ranges_keys_and_init() {
        let text = format!(
            "{HEAD}#EXT-X-MAP:URI=\"init.mp4\"\n#EXT-X-KEY:METHOD=AES-128,URI=\"/k/key.bin\"\n\
             #EXTINF:2.0,\n#EXT-X-BYTERANGE:100@0\nall.m4s\n#EXTINF:1.5,\n#EXT-X-BYTERANGE:50\nall.m4s\n\
             #EXT-X-DISCONTINUITY\n#EXT-X-KEY:METHOD=AES-128,URI=\"k2\",IV=0x01\n#EXTINF:1,\nhttps://other.example.com/x.m4s\n\
             #EXT-X-KEY:METHOD=NONE,IV=0x0\n#EXTINF:1,\nlast.m4s\n#EXT-X-ENDLIST\n"
        );
        let r = media(&text).unwrap();
        let seq: Vec<u64> = r.segments.iter().map(|s| s.sequence).collect();
        assert_eq!(seq, [7, 8, 9, 10]);
        let s: Vec<_> = r.segments.iter().collect();
        assert_eq!(
            s[0].part.url.expose(),
            "https://cdn.example.com/v/a/all.m4s"
        );
        assert_eq!(
            s[0].part.range,
            Some(ByteRange {
                offset: 0,
                length: 100
            })
        );
        assert_eq!(
            s[1].part.range,
            Some(ByteRange {
                offset: 100,
                length: 50
            })
        );
        assert_eq!(s[2].part.url.expose(), "https://other.example.com/x.m4s");
        assert!(s[2].discontinuity && !s[1].discontinuity);
        let k0 = s[0].key.as_ref().unwrap();
        assert_eq!(k0.url.expose(), "https://cdn.example.com/k/key.bin");
        assert_eq!(k0.iv, iv_from_sequence(7));
        assert_eq!(s[1].key.as_ref().unwrap().iv, iv_from_sequence(8));
        assert_eq!(s[2].key.as_ref().unwrap().iv[15], 1);
        assert!(s[3].key.is_none());
        let init = r.init.unwrap();
        assert_eq!(init.url.expose(), "https://cdn.example.com/v/a/init.mp4");
        assert_eq!(r.segments.duration(), 5.5);
    }

    #[test]
    fn refuses_live_sample_aes_local_uris_and_garbage() {
        let live = media(&format!("{HEAD}#EXTINF:2,\na.ts\n")).unwrap_err();
        assert!(live.contains("live playlist"), "{live}");
        let sample = media(&format!(
            "{HEAD}#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"k\"\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n"
        ))
        .unwrap_err();
        assert!(sample.contains("SAMPLE-AES"), "{sample}");
        let local = media(&format!(
            "{HEAD}#EXTINF:2,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
        ))
        .unwrap_err();
        assert!(local.contains("not http"), "{local}");
        assert_eq!(
            parse(b"<html>", "pl").unwrap_err().to_string(),
            "pl is not an HLS playlist (it does not start with #EXTM3U)"
        );
        let cont = media(&format!(
            "{HEAD}#EXTINF:2,\n#EXT-X-BYTERANGE:10\na.ts\n#EXT-X-ENDLIST\n"
        ))
        .unwrap_err();
        assert!(cont.contains("no offset"), "{cont}");
    }

    #[test]
    fn method_none_ends_encryption() {
        let text = format!(
            "{HEAD}#EXT-X-KEY:METHOD=AES-128,URI=\"k.bin\"\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n\
             #EXT-X-KEY:METHOD=NONE\n#EXTINF:2,\nc.ts\n#EXTINF:2,\nd.ts\n\
             #EXT-X-KEY:METHOD=AES-128,URI=\"k.bin\"\n#EXTINF:2,\ne.ts\n#EXT-X-ENDLIST\n"
        );
        let r = media(&text).unwrap();
        let keyed: Vec<bool> = r.segments.iter().map(|s| s.key.is_some()).collect();
        assert_eq!(keyed, [true, true, false, false, true]);
    }

    #[test]
    fn a_key_or_map_the_parser_cannot_read_is_refused() {
        for tag in [
            "#EXT-X-KEY:URI=\"k.bin\"",
            "#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"x\"",
        ] {
            let e = media(&format!("{HEAD}{tag}\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n")).unwrap_err();
            assert!(
                e.contains(&format!("pl, segment 7: {tag} cannot be read")),
                "{e}"
            );
        }
    }

    #[test]
    fn cr_only_line_endings_read_as_lf_and_bad_values_fail_naming_the_line() {
        let lf = format!("{HEAD}#EXTINF:2.5,\na.ts\n#EXTINF:1,\nb.ts\n#EXT-X-ENDLIST\n");
        for text in [
            lf.replace('\n', "\r"),
            format!("\u{feff}\n\n{}", lf.replace('\n', "\r\n")),
        ] {
            let r = media(&text).unwrap();
            let got: Vec<(u64, f64)> = r
                .segments
                .iter()
                .map(|s| (s.sequence, s.duration))
                .collect();
            assert_eq!(got, [(7, 2.5), (8, 1.0)], "{text:?}");
        }
        let nan = media(&lf.replace("#EXTINF:1,", "#EXTINF:NaN,")).unwrap_err();
        assert_eq!(
            nan,
            "pl, line 7: #EXTINF `NaN` is not a duration (decimal seconds)"
        );
    }

    #[test]
    fn read_a_piece_at_a_time_a_playlist_reads_as_the_whole_does() {
        let mut text = HEAD.to_string();
        for i in 0..(2 * CHUNK + 300) {
            if i % 7 == 0 {
                text.push_str(match i % 3 {
                    0 => "#EXT-X-KEY:METHOD=NONE\n",
                    1 => "#EXT-X-KEY:METHOD=AES-128,URI=\"k1.bin\",IV=0x01\n",
                    _ => "#EXT-X-KEY:METHOD=AES-128,URI=\"k2.bin\"\n",
                });
            }
            if i % 11 == 0 {
                text.push_str("#EXT-X-DISCONTINUITY\n");
            }
            text.push_str(&format!("#EXTINF:{}.5,\n", i % 4));
            if i % 5 == 0 {
                text.push_str(&format!("#EXT-X-BYTERANGE:10@{i}\nall.ts\n"));
            } else {
                text.push_str(&format!("s/{i}.ts?t={i}\n"));
            }
        }
        text.push_str("#EXT-X-ENDLIST\n");
        let r = media(&text).unwrap();
        let prepared = super::super::lines::checked(text.as_bytes(), "pl")
            .unwrap()
            .text();
        let whole = m3u8_rs::parse_media_playlist_res(&prepared).unwrap();
        assert_eq!(r.segments.len(), whole.segments.len());
        let mut key = None;
        for (i, w) in whole.segments.iter().enumerate() {
            if let Some(k) = &w.key {
                key = k.uri.clone().filter(|_| k.method == KeyMethod::AES128);
            }
            let s = r.segments.get(i).unwrap();
            assert_eq!(r.segments.uri(i), Some(w.uri.as_str()), "{i}");
            assert_eq!(r.segments.key_uri(i), key.as_deref(), "{i}");
            assert_eq!(s.sequence, 7 + i as u64);
            assert_eq!(s.duration, f64::from(w.duration), "{i}");
            assert_eq!(s.discontinuity, w.discontinuity, "{i}");
            let range = w.byte_range.as_ref().map(|b| (b.offset.unwrap(), b.length));
            assert_eq!(s.part.range.map(|b| (b.offset, b.length)), range, "{i}");
        }
    }

    #[test]
    fn a_playlist_of_too_many_segments_is_refused_by_its_line_count() {
        let n = MAX_SEGMENTS as usize + 1;
        let text = format!("#EXTM3U\n{}#EXT-X-ENDLIST\n", "a\n".repeat(n));
        assert_eq!(
            media(&text).unwrap_err(),
            "pl lists 1000001 segments, more than the 1000000 a job may have"
        );
    }
}
