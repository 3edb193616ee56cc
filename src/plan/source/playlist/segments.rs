//! A media playlist's segments, held compactly: a 500,000-segment playlist
//! must not cost gigabytes. Every URI is kept as the playlist writes it,
//! end to end in one string, with a small fixed-size entry per segment;
//! the URL a segment is fetched from is resolved against the playlist's
//! URL (parsed once) when it is asked for. Keys (`EXT-X-KEY`) are kept
//! once per tag, not per segment.

use reqwest::Url;

use super::{ByteRange, KeyRef, Part, PlaylistSegment};
use crate::common::Secret;
use crate::plan::source::iv_from_sequence;

/// The URL a playlist's URIs resolve against: both forms of it, parsed once.
#[derive(Debug, Clone)]
pub struct Base {
    url: Secret,
    /// The real form, or why it does not parse.
    real: Result<Url, JoinError>,
    shown: Option<Url>,
}

impl Base {
    pub fn new(url: Secret) -> Base {
        Base {
            real: Url::parse(url.expose()).map_err(JoinError),
            shown: Url::parse(url.shown()).ok(),
            url,
        }
    }

    pub fn url(&self) -> &Secret {
        &self.url
    }

    /// `uri` resolved, the real form only; the error is why not.
    pub fn join_real(&self, uri: &str) -> Result<Url, JoinError> {
        let base = self.real.as_ref().map_err(Clone::clone)?;
        base.join(uri).map_err(JoinError)
    }

    /// `uri` resolved, both forms; the shown one masked (a server may
    /// repeat the job's token, or its own signed values, in its URIs).
    pub fn join(&self, uri: &str) -> Result<Secret, JoinError> {
        let real = self.join_real(uri)?.to_string();
        let shown = match self.shown.as_ref().map(|b| b.join(uri)) {
            Some(Ok(u)) => u.to_string(),
            _ => uri.to_string(),
        };
        Ok(Secret::pair(real, shown).masked())
    }
}

/// Why a URI does not resolve against a playlist's URL: the base itself
/// does not parse, or the URI does not against it (the URL parser's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct JoinError(#[from] url::ParseError);

impl Default for Base {
    fn default() -> Base {
        Base::new(Secret::plain(""))
    }
}

/// No key: [`Entry::key`]'s value for a segment in the clear.
const NO_KEY: u32 = u32::MAX;

/// One segment, without its URI (kept in [`Segments::uris`]).
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Where its URI ends in [`Segments::uris`] (the previous one's end
    /// is where it starts).
    uri_end: u32,
    duration: f32,
    /// Its key's place in [`Segments::keys`], or [`NO_KEY`].
    key: u32,
    discontinuity: bool,
    /// Its base's place in [`Segments::bases`] (a DASH period's
    /// representation has its own `BaseURL`).
    base: u16,
    range_offset: u64,
    /// 0: no byte range (an empty range is refused while reading).
    range_length: u64,
}

/// An `EXT-X-KEY` tag: its URI's place in [`Segments::key_uris`] and the IV it
/// gives (else the segment's media sequence number is the IV).
#[derive(Debug, Clone, Copy)]
struct KeyEntry {
    uri: (u32, u32),
    iv: Option<[u8; 16]>,
}

/// What one segment adds to the list.
#[derive(Debug, Clone, Copy)]
pub struct Added<'a> {
    pub uri: &'a str,
    pub duration: f32,
    pub range: Option<ByteRange>,
    pub discontinuity: bool,
}

/// An `EXT-X-KEY` of method AES-128: its URI, and the IV it gives.
#[derive(Debug, Clone, Copy)]
pub struct KeyTag<'a> {
    pub uri: &'a str,
    pub iv: Option<[u8; 16]>,
}

/// Why a segment cannot be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the playlist's URIs are longer than {} bytes in all", u32::MAX)]
pub struct TooLong;

/// A media playlist's segments in order, the first at `first_sequence`.
#[derive(Debug, Clone, Default)]
pub struct Segments {
    base: Base,
    /// Further bases, from `set_base`: the base of an entry whose `base`
    /// is `n > 0` is `bases[n - 1]`.
    bases: Vec<Base>,
    /// The base in force for the next segment added.
    current_base: u16,
    first_sequence: u64,
    /// Every segment's URI, end to end.
    uris: String,
    entries: Vec<Entry>,
    /// Every key's URI, end to end.
    key_uris: String,
    keys: Vec<KeyEntry>,
    /// The key in force for the next segment added.
    current_key: u32,
}

impl Segments {
    pub fn new(base: Base, first_sequence: u64) -> Segments {
        Segments {
            base,
            bases: Vec::new(),
            current_base: 0,
            first_sequence,
            uris: String::new(),
            entries: Vec::new(),
            key_uris: String::new(),
            keys: Vec::new(),
            current_key: NO_KEY,
        }
    }

    /// The media sequence number of the first segment.
    pub fn base_sequence(&self) -> u64 {
        self.first_sequence
    }

    pub fn base(&self) -> &Base {
        &self.base
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Puts a key in force for the segments added next (`None`: the
    /// clear). The same URI and IV as the key in force is not kept twice.
    pub fn set_key(&mut self, key: Option<KeyTag>) -> Result<(), TooLong> {
        let Some(KeyTag { uri, iv }) = key else {
            self.current_key = NO_KEY;
            return Ok(());
        };
        if let Some(k) = self.keys.get(self.current_key as usize) {
            if slice(&self.key_uris, k.uri) == uri && k.iv == iv {
                return Ok(());
            }
        }
        let uri = push_text(&mut self.key_uris, uri)?;
        let at = u32::try_from(self.keys.len()).map_err(|_| TooLong)?;
        self.keys.push(KeyEntry { uri, iv });
        self.current_key = at;
        Ok(())
    }

    /// The most bases one list holds (see [`Segments::set_base`]).
    pub const MAX_BASES: usize = u16::MAX as usize;

    /// Puts a base in force for the segments added next (a DASH period's
    /// representation's `BaseURL`); `Err` past [`Segments::MAX_BASES`].
    pub fn set_base(&mut self, base: Base) -> Result<(), TooLong> {
        if self.bases.len() >= Self::MAX_BASES {
            return Err(TooLong);
        }
        self.bases.push(base);
        self.current_base = self.bases.len() as u16;
        Ok(())
    }

    /// The base the entry `e` resolves against.
    fn base_of(&self, e: &Entry) -> &Base {
        match e.base.checked_sub(1) {
            Some(n) => self.bases.get(n as usize).unwrap_or(&self.base),
            None => &self.base,
        }
    }

    /// Adds a segment, under the key in force.
    pub fn push(&mut self, s: Added) -> Result<(), TooLong> {
        let (_, uri_end) = push_text(&mut self.uris, s.uri)?;
        let range = s.range.unwrap_or(ByteRange {
            offset: 0,
            length: 0,
        });
        self.entries.push(Entry {
            uri_end,
            duration: s.duration,
            key: self.current_key,
            discontinuity: s.discontinuity,
            base: self.current_base,
            range_offset: range.offset,
            range_length: range.length,
        });
        Ok(())
    }

    /// Frees what growing left unused.
    pub fn shrink(&mut self) {
        self.uris.shrink_to_fit();
        self.entries.shrink_to_fit();
        self.key_uris.shrink_to_fit();
        self.keys.shrink_to_fit();
    }

    /// The media sequence number of the segment at `i`.
    pub fn sequence(&self, i: usize) -> Option<u64> {
        (i < self.len()).then(|| self.first_sequence + i as u64)
    }

    /// The URI of the segment at `i`, as the playlist writes it.
    pub fn uri(&self, i: usize) -> Option<&str> {
        let end = self.entries.get(i)?.uri_end;
        let start = match i.checked_sub(1) {
            Some(before) => self.entries[before].uri_end,
            None => 0,
        };
        Some(slice(&self.uris, (start, end)))
    }

    /// The URI of the key of the segment at `i`, as the playlist writes it.
    pub fn key_uri(&self, i: usize) -> Option<&str> {
        let key = self.keys.get(self.entries.get(i)?.key as usize)?;
        Some(slice(&self.key_uris, key.uri))
    }

    /// The segment at `i`, its URLs resolved; `None` past the end.
    pub fn get(&self, i: usize) -> Option<PlaylistSegment> {
        let e = self.entries.get(i)?;
        let sequence = self.first_sequence + i as u64;
        let url = self.base_of(e).join(self.uri(i)?).ok()?;
        let key = match self.keys.get(e.key as usize) {
            Some(k) => Some(KeyRef {
                url: self.base.join(slice(&self.key_uris, k.uri)).ok()?,
                iv: k.iv.unwrap_or_else(|| iv_from_sequence(sequence)),
            }),
            None => None,
        };
        Some(PlaylistSegment {
            sequence,
            part: Part {
                url,
                range: (e.range_length > 0).then_some(ByteRange {
                    offset: e.range_offset,
                    length: e.range_length,
                }),
            },
            duration: f64::from(e.duration),
            discontinuity: e.discontinuity,
            key,
        })
    }

    /// Every segment in order, resolved one at a time.
    pub fn iter(&self) -> impl Iterator<Item = PlaylistSegment> + '_ {
        (0..self.len()).map_while(|i| self.get(i))
    }

    /// Each segment's `EXTINF`, in order.
    pub fn durations(&self) -> impl Iterator<Item = f64> + '_ {
        self.entries.iter().map(|e| f64::from(e.duration))
    }

    /// The sum of `EXTINF`.
    pub fn duration(&self) -> f64 {
        self.entries.iter().map(|e| f64::from(e.duration)).sum()
    }

    /// Whether any segment is encrypted.
    pub fn encrypted(&self) -> bool {
        self.entries.iter().any(|e| e.key != NO_KEY)
    }

    /// The URLs of the keys the segments name, resolved, each `EXT-X-KEY`
    /// once, in order.
    pub fn key_urls(&self) -> impl Iterator<Item = Secret> + '_ {
        self.keys
            .iter()
            .filter_map(|k| self.base.join(slice(&self.key_uris, k.uri)).ok())
    }
}

/// Appends `text` to `all`: where it starts and ends there.
fn push_text(all: &mut String, text: &str) -> Result<(u32, u32), TooLong> {
    let start = u32::try_from(all.len()).map_err(|_| TooLong)?;
    let end = all
        .len()
        .checked_add(text.len())
        .and_then(|e| u32::try_from(e).ok())
        .ok_or(TooLong)?;
    all.push_str(text);
    Ok((start, end))
}

/// The text between `start` and `end` of `all`.
fn slice(all: &str, (start, end): (u32, u32)) -> &str {
    all.get(start as usize..end as usize).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_keys_read_back_as_added() {
        let base = Base::new(Secret::plain("https://h.example/v/index.m3u8?t=1"));
        let mut s = Segments::new(base, 5);
        let add = |uri| Added {
            uri,
            duration: 2.5,
            range: None,
            discontinuity: false,
        };
        s.set_key(Some(KeyTag {
            uri: "k1.bin",
            iv: None,
        }))
        .unwrap();
        s.push(add("a.ts")).unwrap();
        s.set_key(Some(KeyTag {
            uri: "k1.bin",
            iv: None,
        }))
        .unwrap();
        s.push(Added {
            range: Some(ByteRange {
                offset: 3,
                length: 4,
            }),
            ..add("/b.ts")
        })
        .unwrap();
        s.set_key(None).unwrap();
        s.push(add("https://o.example/c.ts")).unwrap();
        s.set_key(Some(KeyTag {
            uri: "k2.bin",
            iv: Some([7; 16]),
        }))
        .unwrap();
        s.push(add("d.ts")).unwrap();
        let got: Vec<PlaylistSegment> = s.iter().collect();
        let urls: Vec<&str> = got.iter().map(|g| g.part.url.expose()).collect();
        assert_eq!(
            urls,
            [
                "https://h.example/v/a.ts",
                "https://h.example/b.ts",
                "https://o.example/c.ts",
                "https://h.example/v/d.ts"
            ]
        );
        assert_eq!(got[1].sequence, 6);
        assert_eq!(got[1].part.range.map(|r| r.offset), Some(3));
        assert!(got[0].part.range.is_none());
        let key = |i: usize| got[i].key.as_ref().map(|k| (k.url.expose(), k.iv));
        assert_eq!(
            key(0),
            Some(("https://h.example/v/k1.bin", iv_from_sequence(5)))
        );
        assert_eq!(
            key(1),
            Some(("https://h.example/v/k1.bin", iv_from_sequence(6)))
        );
        assert_eq!(key(2), None);
        assert_eq!(key(3), Some(("https://h.example/v/k2.bin", [7; 16])));
        assert_eq!(s.key_urls().count(), 2, "the same key tag is kept once");
        assert_eq!(s.duration(), 10.0);
        assert_eq!(s.uri(0), Some("a.ts"));
    }
}
