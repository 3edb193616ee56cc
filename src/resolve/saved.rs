//! A resolved playlist kept in the job's state folder, so that a rerun
//! resumes against the same segments: the media playlist (and the audio
//! rendition's) with the URL that served it, every value from the
//! environment replaced by its `${NAME}`. Never a secret, never a key.

use std::collections::BTreeMap;
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
    env::resolve(&redact(final_url, env), env)
        .unwrap_or_else(|_| Secret::plain(final_url))
        .masked()
}

/// Splits `text` around every value of `env`, longest first, so that the
/// values become `${NAME}` placeholders.
fn redact(text: &str, env: &BTreeMap<String, String>) -> Vec<Piece> {
    redact_pairs(text, env.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

/// As [`redact`], for any `(name, value)` pairs.
pub(super) fn redact_pairs<'a>(
    text: &str,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<Piece> {
    let mut values: Vec<(&str, &str)> = pairs.filter(|(_, v)| !v.is_empty()).collect();
    values.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    let mut pieces = vec![Piece::Text(text.to_string())];
    for (name, value) in values {
        pieces = pieces
            .into_iter()
            .flat_map(|p| match p {
                Piece::Text(t) => split_on(&t, value, name),
                var => vec![var],
            })
            .collect();
    }
    pieces
}

fn split_on(text: &str, value: &str, name: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    for (i, part) in text.split(value).enumerate() {
        if i > 0 {
            out.push(Piece::Var(name.to_string()));
        }
        if !part.is_empty() {
            out.push(Piece::Text(part.to_string()));
        }
    }
    out
}

/// Pieces as text that `env::parse` reads back (`${` in text doubled).
pub(super) fn saved_form(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.replace("${", "$${"),
            Piece::Var(v) => format!("${{{v}}}"),
        })
        .collect()
}

fn unsave(text: &str, env: &BTreeMap<String, String>) -> Option<Secret> {
    env::resolve(&env::parse(text).ok()?, env).ok()
}

fn to_saved(m: &Media, env: &BTreeMap<String, String>) -> SavedMedia {
    SavedMedia {
        base: saved_form(&redact(m.base.expose(), env)),
        text: saved_form(&redact(&m.text, env)),
    }
}

fn from_saved(m: &SavedMedia, env: &BTreeMap<String, String>) -> Option<Media> {
    Some(Media {
        base: unsave(&m.base, env)?,
        text: unsave(&m.text, env)?.expose().to_string(),
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
    let saved = Saved {
        snatch_playlist: 2,
        source: source.to_string(),
        video: to_saved(&got.video, env),
        audio: got.audio.as_ref().map(|a| to_saved(a, env)),
        variant_note: got.note.clone(),
    };
    let bytes = serde_json::to_vec(&saved).expect("JSON");
    store::replace(&dir.join(SAVED), &bytes, Durability::Synced).map_err(|error| {
        super::Cause::Save {
            dir: dir.to_path_buf(),
            error,
        }
    })
}

/// The playlist saved in `dir` for this `source`, if there is one; an
/// error when a link or something else than a regular file is there.
pub fn load(
    dir: &Path,
    source: &str,
    env: &BTreeMap<String, String>,
) -> Result<Option<Got>, std::io::Error> {
    Ok(store::read_state(&dir.join(SAVED))?.and_then(|text| parse(&text, source, env)))
}

/// A saved playlist's text, if it is for this `source`.
fn parse(text: &str, source: &str, env: &BTreeMap<String, String>) -> Option<Got> {
    let saved: Saved = serde_json::from_str(text).ok()?;
    if saved.snatch_playlist != 2 || saved.source != source {
        return None;
    }
    let audio = match &saved.audio {
        Some(a) => Some(from_saved(a, env)?),
        None => None,
    };
    Some(Got {
        video: from_saved(&saved.video, env)?,
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
