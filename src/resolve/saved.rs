//! A resolved playlist kept in the job's state folder, so that a rerun
//! resumes against the same segments: the media playlist (and the audio
//! rendition's) with the URL that served it, every value from the
//! environment replaced by its `${NAME}`. Never a secret, never a key.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::common::Secret;
use crate::manifest::env::{self, Piece};
use crate::state::store::{self, Durability};

/// The saved playlist, in the job's state folder.
const SAVED: &str = "playlist.json";

/// A media playlist as fetched: the URL that served it (after redirects)
/// and its text.
#[derive(Debug, Clone)]
pub struct Media {
    pub base: Secret,
    pub text: String,
}

/// What resolving fetched: the media playlist, the audio rendition's if
/// the chosen variant has one, and a note of the variant chosen.
#[derive(Debug, Clone)]
pub struct Got {
    pub video: Media,
    pub audio: Option<Media>,
    pub note: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SavedMedia {
    /// The URL, secrets as `${NAME}`.
    base: String,
    /// The text, secrets as `${NAME}`.
    text: String,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    snatch_playlist: u32,
    /// The playlist as the job names it (shown form) and the variant.
    source: String,
    video: SavedMedia,
    audio: Option<SavedMedia>,
    variant_note: Option<String>,
}

/// The URL that answered a request for `asked`: `asked` itself (its
/// secrets shown as `***`) unless a redirect moved it.
pub fn answered_at(asked: &Secret, final_url: &str, env: &BTreeMap<String, String>) -> Secret {
    // The answering URL is the asked one as the URL parser writes it (a
    // value with a space or `<` percent-encoded, where searching for the
    // value would miss it): no redirect moved it.
    let parsed = reqwest::Url::parse(asked.expose());
    if final_url == asked.expose() || parsed.is_ok_and(|u| u.as_str() == final_url) {
        return asked.clone();
    }
    env::resolve(&pieces(&redact(final_url, env)), env)
        .unwrap_or_else(|_| Secret::plain(final_url))
        .masked()
}

/// A piece of a text to save: literal text, or a value's `${NAME}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bit<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Splits `text` around every value of `env`, longest first, so that the
/// values become `${NAME}` placeholders. Nothing of `text` is copied.
fn redact<'a>(text: &'a str, env: &'a BTreeMap<String, String>) -> Vec<Bit<'a>> {
    redact_pairs(text, env.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

/// As [`redact`], for any `(name, value)` pairs.
fn redact_pairs<'a>(
    text: &'a str,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<Bit<'a>> {
    let mut values: Vec<(&str, &str)> = pairs.filter(|(_, v)| !v.is_empty()).collect();
    values.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    let mut bits = vec![Bit::Text(text)];
    for (name, value) in values {
        bits = bits
            .into_iter()
            .flat_map(|b| match b {
                Bit::Text(t) => split_on(t, value, name),
                var => vec![var],
            })
            .collect();
    }
    bits
}

fn split_on<'a>(text: &'a str, value: &str, name: &'a str) -> Vec<Bit<'a>> {
    let mut out = Vec::new();
    for (i, part) in text.split(value).enumerate() {
        if i > 0 {
            out.push(Bit::Var(name));
        }
        if !part.is_empty() {
            out.push(Bit::Text(part));
        }
    }
    out
}

/// Bits as pieces of a value.
fn pieces(bits: &[Bit]) -> Vec<Piece> {
    let piece = |b: &Bit| match *b {
        Bit::Text(t) => Piece::Text(t.to_string()),
        Bit::Var(v) => Piece::Var(v.to_string()),
    };
    bits.iter().map(piece).collect()
}

/// Bits as text that `env::parse` reads back (`${` in text doubled),
/// written to `out` by `write`.
fn write_saved_form(bits: &[Bit], out: &mut dyn FnMut(&str) -> io::Result<()>) -> io::Result<()> {
    for bit in bits {
        match bit {
            Bit::Text(t) => {
                for (i, part) in t.split("${").enumerate() {
                    if i > 0 {
                        out("$${")?;
                    }
                    out(part)?;
                }
            }
            Bit::Var(v) => {
                out("${")?;
                out(v)?;
                out("}")?;
            }
        }
    }
    Ok(())
}

/// Bits as text that `env::parse` reads back.
fn saved_form(bits: &[Bit]) -> String {
    let mut text = String::new();
    let _ = write_saved_form(bits, &mut |t| {
        text.push_str(t);
        Ok(())
    });
    text
}

/// Writes `text` as a JSON string's contents (its escapes, no quotes),
/// a slice at a time.
fn write_json_fragment(w: &mut dyn Write, text: &str) -> io::Result<()> {
    const SLICE: usize = 64 * 1024;
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(SLICE);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let quoted = serde_json::to_string(&rest[..end]).map_err(io::Error::other)?;
        w.write_all(&quoted.as_bytes()[1..quoted.len() - 1])?;
        rest = &rest[end..];
    }
    Ok(())
}

/// A value as JSON.
fn write_json(w: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(w, value).map_err(io::Error::other)
}

/// One media playlist as saved (`{"base":…,"text":…}`), its text written
/// as it is redacted.
fn write_media(w: &mut dyn Write, m: &Media, env: &BTreeMap<String, String>) -> io::Result<()> {
    w.write_all(b"{\"base\":")?;
    write_json(w, &saved_form(&redact(m.base.expose(), env)))?;
    w.write_all(b",\"text\":\"")?;
    write_saved_form(&redact(&m.text, env), &mut |t| write_json_fragment(w, t))?;
    w.write_all(b"\"}")
}

/// The saved playlist, as [`Saved`] reads it back.
fn write_saved(
    w: &mut dyn Write,
    source: &str,
    got: &Got,
    env: &BTreeMap<String, String>,
) -> io::Result<()> {
    w.write_all(b"{\"snatch_playlist\":2,\"source\":")?;
    write_json(w, &source)?;
    w.write_all(b",\"video\":")?;
    write_media(w, &got.video, env)?;
    w.write_all(b",\"audio\":")?;
    match &got.audio {
        Some(a) => write_media(w, a, env)?,
        None => w.write_all(b"null")?,
    }
    w.write_all(b",\"variant_note\":")?;
    write_json(w, &got.note)?;
    w.write_all(b"}")
}

fn unsave(text: &str, env: &BTreeMap<String, String>) -> Option<Secret> {
    env::resolve(&env::parse(text).ok()?, env).ok()
}

/// A saved text's real form: its `${NAME}` placeholders filled in (the
/// shown form is not made: a playlist's text is never shown).
fn unsave_text(text: String, env: &BTreeMap<String, String>) -> Option<String> {
    if !text.contains('$') {
        return Some(text);
    }
    let mut real = String::with_capacity(text.len());
    for piece in env::parse(&text).ok()? {
        match piece {
            Piece::Text(t) => real.push_str(&t),
            Piece::Var(v) => real.push_str(env.get(&v)?),
        }
    }
    Some(real)
}

fn from_saved(m: SavedMedia, env: &BTreeMap<String, String>) -> Option<Media> {
    Some(Media {
        base: unsave(&m.base, env)?,
        text: unsave_text(m.text, env)?,
    })
}

/// Values shorter than this that occur in what would be saved make it
/// unsafe to save: written as `${NAME}` and read back with another value,
/// a short one could change text that only happened to match it.
const SHORTEST_SAFE: usize = 8;

/// Saves what resolving fetched in `dir` (written whole, then renamed).
/// Nothing is saved when a short value from the environment occurs in it,
/// or a value in another spelling than its own (percent-encoded by a
/// redirect, say), which `${NAME}` cannot stand for: the next run fetches
/// the playlist again.
pub fn store(
    dir: &Path,
    source: &str,
    got: &Got,
    env: &BTreeMap<String, String>,
) -> Result<(), super::Cause> {
    let texts = [Some(&got.video), got.audio.as_ref()]
        .into_iter()
        .flatten()
        .flat_map(|m| [m.base.expose(), m.text.as_str()]);
    let short = |t: &str| {
        env.values()
            .any(|v| !v.is_empty() && v.len() < SHORTEST_SAFE && t.contains(v.as_str()))
    };
    let encoded = |t: &str| crate::common::mask::has_encoded_secret(t);
    if texts.into_iter().any(|t| short(t) || encoded(t)) {
        let _ = store::remove_file(&dir.join(SAVED));
        return Ok(());
    }
    let write = |w: &mut dyn Write| write_saved(w, source, got, env);
    store::replace_with(&dir.join(SAVED), write, Durability::Synced).map_err(|error| {
        super::Cause::Save {
            dir: dir.to_path_buf(),
            error,
        }
    })
}

/// The playlist saved in `dir` for this `source`, if there is one; an
/// error when a link or something else than a regular file is there.
/// The file is read as it is parsed (never held whole beside its text).
pub fn load(dir: &Path, source: &str, env: &BTreeMap<String, String>) -> io::Result<Option<Got>> {
    let file = match store::open_read(&dir.join(SAVED)) {
        Ok(f) => f,
        Err(e) if store::is_refusal(&e) => return Err(e),
        Err(_) => return Ok(None),
    };
    let saved = serde_json::from_reader::<_, Saved>(io::BufReader::new(file));
    Ok(saved.ok().and_then(|s| parse(s, source, env)))
}

/// A saved playlist, if it is for this `source`.
fn parse(saved: Saved, source: &str, env: &BTreeMap<String, String>) -> Option<Got> {
    if saved.snatch_playlist != 2 || saved.source != source {
        return None;
    }
    let audio = match saved.audio {
        Some(a) => Some(from_saved(a, env)?),
        None => None,
    };
    Some(Got {
        video: from_saved(saved.video, env)?,
        audio,
        note: saved.variant_note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_value_that_occurs_in_the_playlist_is_never_saved() {
        let dir = tempfile::tempdir().unwrap();
        let env: BTreeMap<String, String> = [("SNATCH_T".to_string(), "ab".to_string())].into();
        let media = |text: &str| Media {
            base: Secret::plain("https://h/p/index.m3u8"),
            text: text.to_string(),
        };
        let got = |text: &str| Got {
            video: media(text),
            audio: None,
            note: None,
        };
        store(dir.path(), "s", &got("#EXTM3U\nx.ts\n"), &env).unwrap();
        assert!(load(dir.path(), "s", &env).unwrap().is_some());
        store(dir.path(), "s", &got("#EXTM3U\ntab.ts\n"), &env).unwrap();
        assert!(load(dir.path(), "s", &env).unwrap().is_none());
    }

    #[test]
    fn secrets_are_saved_as_their_names_and_read_back() {
        let env: BTreeMap<String, String> = [
            ("SNATCH_T".to_string(), "s3cr3t".to_string()),
            ("SNATCH_E".to_string(), String::new()),
        ]
        .into();
        let text = "https://h/a/s3cr3t/x.m3u8?t=s3cr3t&lit=${x}";
        let saved = saved_form(&redact(text, &env));
        assert!(!saved.contains("s3cr3t"), "{saved}");
        assert!(saved.contains("${SNATCH_T}"), "{saved}");
        let back = unsave(&saved, &env).unwrap();
        assert_eq!(back.expose(), text);
        assert!(!back.shown().contains("s3cr3t"));
    }
}
