//! The resolve step, between plan and fetch: the only place that turns a
//! job into its concrete segment list over the network. A playlist job's
//! playlist is fetched (a master's variant chosen), its AES-128 keys
//! fetched once per URI, and the media playlist saved in the job's state
//! folder (secrets replaced by their `${NAME}`), so a rerun resumes
//! against the same segments. `plan` never calls this; `run` and
//! `plan --probe` do.

mod end;
pub mod playlist;
mod reload;

pub use reload::{Reloads, MAX_RELOADS};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use m3u8_rs::Playlist;
use serde::{Deserialize, Serialize};

use crate::fetch::{Ask, Fetcher};
use crate::manifest::env::{self, Piece, Secret};
use crate::plan::{JobPlan, Plan};
use crate::source::{EndSource, Numbered, SegmentFormat, SegmentSource, Target};
use crate::source_playlist::{Keys, PlaylistSource, Resolved};

/// The largest playlist read (a 1,000,000-segment playlist is ~60 MB).
const MAX_PLAYLIST: u64 = 64 * 1024 * 1024;
/// The largest init segment read into memory.
const MAX_INIT: u64 = 16 * 1024 * 1024;
/// The resolved media playlist, in the job's state folder.
const SAVED: &str = "playlist.json";
/// The init segment, in the job's state folder.
const INIT: &str = "init.mp4";

/// What is saved of a resolved playlist: never a secret.
#[derive(Serialize, Deserialize)]
struct Saved {
    snatch_playlist: u32,
    /// The playlist as the job names it (shown form) and the variant.
    source: String,
    /// The media playlist's URL, secrets as `${NAME}`.
    base: String,
    /// The media playlist's text, secrets as `${NAME}`.
    media: String,
    variant_note: Option<String>,
}

/// The job with its segment list resolved. `save` keeps the media
/// playlist in the state folder (the run does; `plan --probe` does not)
/// and reads a saved one instead of fetching when there is one.
pub async fn resolve_job(
    job: &JobPlan,
    fetcher: &Fetcher,
    req: &Ask,
    save: bool,
) -> Result<JobPlan, String> {
    let p = match &job.source {
        SegmentSource::Playlist(p) if p.resolved.is_none() => p,
        SegmentSource::Numbered(n) if n.end == EndSource::Auto => {
            return with_end_found(job, n, fetcher, req).await;
        }
        _ => return Ok(job.clone()),
    };
    let named = |e: String| format!("job `{}`: {e}", job.name);
    let source = saved_key(p);
    let saved = if save {
        load(&job.state_dir, &source, &p.env)
    } else {
        None
    };
    let from_saved = saved.is_some();
    let (base, text, note) = match saved {
        Some(s) => s,
        None => {
            let got = fetch_media(p, fetcher, req).await.map_err(named)?;
            if save {
                store(&job.state_dir, &source, &got, &p.env).map_err(named)?;
            }
            got
        }
    };
    let media = match playlist::parse(text.as_bytes(), base.shown()).map_err(named)? {
        Playlist::MediaPlaylist(m) => m,
        Playlist::MasterPlaylist(_) => {
            return Err(named(format!(
                "the variant {} is itself a master playlist",
                base.shown()
            )))
        }
    };
    let mut resolved = playlist::read_media(&media, &base, base.shown()).map_err(named)?;
    resolved.variant_note = note;
    resolved.from_saved = from_saved;
    resolved.keys = Keys(fetch_keys(&resolved, fetcher, req).await.map_err(named)?);
    Ok(with_resolved(job, p, resolved))
}

/// What a saved playlist belongs to: the playlist as shown, and the variant.
fn saved_key(p: &PlaylistSource) -> String {
    format!("{}|{}", p.url.shown(), playlist::variant_text(p.variant))
}

/// `snatch plan --probe`: every runnable playlist job resolved over the
/// network (nothing saved), and a message for each that could not be.
pub async fn probe(plan: &Plan) -> (Plan, Vec<String>) {
    let fetcher = Fetcher::new(&plan.limits);
    let mut errors = Vec::new();
    let mut jobs = Vec::new();
    for job in &plan.jobs {
        let resolved = match job.skipped {
            Some(_) => Ok(job.clone()),
            None => match Ask::new(&job.name, &job.headers, job.retry, job.timeout) {
                Ok(ask) => probe_job(job, &fetcher, &ask).await,
                Err(e) => Err(format!("job `{}`: {e}", job.name)),
            },
        };
        jobs.push(resolved.unwrap_or_else(|e| {
            errors.push(e);
            job.clone()
        }));
    }
    let plan = Plan {
        jobs,
        limits: plan.limits.clone(),
    };
    (plan, errors)
}

/// One job resolved, and its first and last segment checked.
async fn probe_job(job: &JobPlan, fetcher: &Fetcher, ask: &Ask) -> Result<JobPlan, String> {
    let job = resolve_job(job, fetcher, ask, false).await?;
    let ends = [0, job.source.len().saturating_sub(1)];
    for (position, which) in ends.into_iter().zip(["first", "last"]) {
        let seg = job
            .source
            .segment(position)
            .map_err(|e| format!("job `{}`: {which} segment: {e}", job.name))?;
        let there = fetcher
            .exists(ask, &seg.target)
            .await
            .map_err(|e| format!("job `{}`: {which} segment {}: {e}", job.name, seg.index))?;
        if !there {
            return Err(format!(
                "job `{}`: the {which} segment ({}, {}) does not exist",
                job.name,
                seg.index,
                seg.target.shown()
            ));
        }
    }
    Ok(job)
}

/// A numbered job with `end: auto`, its end found by probing.
async fn with_end_found(
    job: &JobPlan,
    n: &Numbered,
    fetcher: &Fetcher,
    req: &Ask,
) -> Result<JobPlan, String> {
    let (last, requests) = end::find_end(n, fetcher, req)
        .await
        .map_err(|e| format!("job `{}`: end: auto: {e}", job.name))?;
    tracing::info!(job = %job.name, last, requests, "end: auto found the last index");
    let source = SegmentSource::Numbered(Numbered {
        indices: end::found_range(n.indices.first(), last),
        end: EndSource::Found { requests },
        ..n.clone()
    });
    let mut out = job.clone();
    if let Ok(seg) = source.segment(source.len() - 1) {
        out.last_index = seg.index;
        out.last_url = seg.target.shown().to_string();
    }
    out.source = source;
    Ok(out)
}

/// The job as it reads once its playlist is resolved.
fn with_resolved(job: &JobPlan, p: &PlaylistSource, resolved: Resolved) -> JobPlan {
    let init = resolved.init.clone();
    let source = PlaylistSource {
        resolved: Some(Arc::new(resolved)),
        ..p.clone()
    };
    let mut out = job.clone();
    let (first, last) = (source.segment(0), source.segment(source.len() - 1));
    if let (Ok(first), Ok(last)) = (first, last) {
        out.first_index = first.index;
        out.last_index = last.index;
        out.first_url = first.target.shown().to_string();
        out.last_url = last.target.shown().to_string();
    }
    out.format = source.format();
    out.init = init.map(|i| crate::source::Segment {
        index: 0,
        target: source.target(&i.url),
        range: i.range,
        key: None,
    });
    out.source = SegmentSource::Playlist(source);
    out
}

/// Fetches the job's playlist, and the chosen variant's if it is a master.
async fn fetch_media(
    p: &PlaylistSource,
    fetcher: &Fetcher,
    req: &Ask,
) -> Result<(Secret, String, Option<String>), String> {
    let got = fetcher
        .fetch_small(req, &p.url, None, MAX_PLAYLIST, "the playlist")
        .await?;
    let base = answered_at(&p.url, &got.final_url, &p.env);
    let parsed = playlist::parse(&got.body, base.shown())?;
    let Playlist::MasterPlaylist(master) = parsed else {
        let text = text_of(got.body, base.shown())?;
        return Ok((base, text, None));
    };
    let (variant, note) = playlist::choose(&master, p.variant, base.shown())?;
    let url = playlist::join(&base, &variant.uri)?;
    let got = fetcher
        .fetch_small(req, &url, None, MAX_PLAYLIST, "the variant playlist")
        .await?;
    let base = answered_at(&url, &got.final_url, &p.env);
    let text = text_of(got.body, base.shown())?;
    Ok((base, text, Some(note)))
}

fn text_of(body: Vec<u8>, shown: &str) -> Result<String, String> {
    String::from_utf8(body).map_err(|_| format!("{shown} is not UTF-8 text"))
}

/// The URL that answered a request for `asked`: `asked` itself (its
/// secrets shown as `***`) unless a redirect moved it.
fn answered_at(asked: &Secret, final_url: &str, env: &BTreeMap<String, String>) -> Secret {
    if final_url == asked.expose() {
        return asked.clone();
    }
    Secret::resolve(&redact(final_url, env), env).unwrap_or_else(|_| Secret::plain(final_url))
}

/// Splits `text` around every value of `env`, longest first, so that the
/// values become `${NAME}` placeholders.
fn redact(text: &str, env: &BTreeMap<String, String>) -> Vec<Piece> {
    let mut values: Vec<(&String, &String)> = env.iter().filter(|(_, v)| !v.is_empty()).collect();
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
fn saved_form(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.replace("${", "$${"),
            Piece::Var(v) => format!("${{{v}}}"),
        })
        .collect()
}

fn unsave(text: &str, env: &BTreeMap<String, String>) -> Option<Secret> {
    Secret::resolve(&env::parse(text).ok()?, env).ok()
}

fn store(
    dir: &Path,
    source: &str,
    got: &(Secret, String, Option<String>),
    env: &BTreeMap<String, String>,
) -> Result<(), String> {
    let (base, media, note) = got;
    let saved = Saved {
        snatch_playlist: 1,
        source: source.to_string(),
        base: saved_form(&redact(base.expose(), env)),
        media: saved_form(&redact(media, env)),
        variant_note: note.clone(),
    };
    let tmp = dir.join(format!("{SAVED}.part"));
    std::fs::write(&tmp, serde_json::to_vec(&saved).expect("JSON"))
        .and_then(|()| std::fs::rename(&tmp, dir.join(SAVED)))
        .map_err(|e| format!("cannot save the playlist in {}: {e}", dir.display()))
}

/// A saved media playlist of this job, if there is one.
fn load(
    dir: &Path,
    source: &str,
    env: &BTreeMap<String, String>,
) -> Option<(Secret, String, Option<String>)> {
    let text = std::fs::read_to_string(dir.join(SAVED)).ok()?;
    let saved: Saved = serde_json::from_str(&text).ok()?;
    if saved.snatch_playlist != 1 || saved.source != source {
        return None;
    }
    let base = unsave(&saved.base, env)?;
    let media = unsave(&saved.media, env)?;
    Some((base, media.expose().to_string(), saved.variant_note))
}

/// Every AES-128 key the segments name, fetched once per URI.
async fn fetch_keys(
    r: &Resolved,
    fetcher: &Fetcher,
    req: &Ask,
) -> Result<HashMap<String, [u8; 16]>, String> {
    let mut keys = HashMap::new();
    for k in r.segments.iter().filter_map(|s| s.key.as_ref()) {
        if keys.contains_key(k.url.expose()) {
            continue;
        }
        let got = fetcher
            .fetch_small(req, &k.url, None, 1024, "the AES-128 key")
            .await?;
        let key: [u8; 16] = got.body.as_slice().try_into().map_err(|_| {
            format!(
                "the AES-128 key {} is {} bytes, not 16",
                k.url,
                got.body.len()
            )
        })?;
        keys.insert(k.url.expose().to_string(), key);
    }
    Ok(keys)
}

/// Fetches the job's init segment (fMP4) into its state folder; returns
/// its path, or `None` for a job of TS segments.
pub async fn fetch_init(
    job: &JobPlan,
    fetcher: &Fetcher,
    req: &Ask,
) -> Result<Option<PathBuf>, String> {
    let Some(init) = &job.init else {
        return Ok(None);
    };
    let named = |e: String| format!("job `{}`: init segment: {e}", job.name);
    let body = match &init.target {
        Target::Http { url, .. } => {
            fetcher
                .fetch_small(req, url, init.range, MAX_INIT, "the init segment")
                .await
                .map_err(named)?
                .body
        }
        Target::File { path, shown } => tokio::fs::read(path)
            .await
            .map_err(|e| named(format!("{shown}: {e}")))?,
    };
    if job.format == SegmentFormat::Fmp4 && !looks_like_mp4(&body) {
        return Err(named(
            "it is not an MP4 init segment (no ftyp or moov box at its start)".into(),
        ));
    }
    let path = job.state_dir.join(INIT);
    let write_to = path.clone();
    tokio::task::spawn_blocking(move || std::fs::write(&write_to, body))
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r)
        .map_err(|e| named(format!("cannot store it: {e}")))?;
    Ok(Some(path))
}

/// An MP4 file starts with a box whose type is one of these.
fn looks_like_mp4(body: &[u8]) -> bool {
    body.len() >= 8 && matches!(&body[4..8], b"ftyp" | b"moov" | b"styp")
}

#[cfg(test)]
mod tests {
    use super::*;

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
