//! The resolve step, between plan and fetch: the only place that turns a
//! job into its concrete segment list over the network. A playlist job's
//! playlist is fetched (a master's variant chosen), its AES-128 keys
//! fetched once per URI, and the media playlist, once read, saved in the
//! job's state folder (secrets replaced by their `${NAME}`), so a rerun
//! resumes against the same segments; the stream's identity is recorded
//! beside it, and a playlist fetched afresh that lists another stream
//! fails the job. `plan` never calls this; `run` and `plan --probe` do.

mod dash;
mod end;
mod error;
pub mod hls;
mod identity;
mod index;
mod lines;
mod media;
pub mod mpd;
pub mod peek;
mod reload;
mod saved;

pub use error::{
    Cause, EndError, InitError, PlaylistError, ResolveError, TagError, UriError, DASH_NEXT,
    DASH_NOT_YET,
};
pub use identity::Change;
pub use reload::{Reloads, MAX_RELOADS};

use std::path::PathBuf;
use std::sync::Arc;

use crate::common::Secret;
use crate::net::{Ask, Fetcher, Look, Scope};
use crate::plan::source::playlist::{AudioTrack, Keys, PlaylistSource, Resolved};
use crate::plan::source::{EndSource, Numbered, Segment, SegmentSource, Target};
use crate::plan::{JobPlan, Plan};
use crate::state::store;
use saved::{Got, Media};

/// The largest playlist read (a 1,000,000-segment playlist is ~60 MB).
const MAX_PLAYLIST: u64 = 64 * 1024 * 1024;
/// The largest init segment read into memory.
const MAX_INIT: u64 = 16 * 1024 * 1024;
/// The init segments, in the job's state folder.
const INIT: &str = "init.mp4";
const AUDIO_INIT: &str = "init-audio.mp4";

/// The job with its segment list resolved. `save` keeps the media
/// playlist in the state folder (the run does; `plan --probe` does not)
/// and reads a saved one instead of fetching when there is one.
pub async fn resolve_job(
    job: &JobPlan,
    fetcher: &Fetcher,
    req: &Ask,
    save: bool,
) -> Result<JobPlan, ResolveError> {
    let p = match &job.source {
        SegmentSource::Playlist(p) if p.resolved.is_none() => p,
        SegmentSource::Numbered(n) if n.end == EndSource::Auto => {
            return with_end_found(job, n, fetcher, req).await;
        }
        _ => return Ok(job.clone()),
    };
    let named = |e: Cause| ResolveError::Playlist {
        job: job.name.clone(),
        cause: e,
    };
    let source = saved_key(p);
    let saved = if save {
        saved::load(&job.state_dir, &source, &p.env).map_err(|e| named(Cause::Refused(e)))?
    } else {
        None
    };
    let from_saved = saved.is_some();
    let got = match saved {
        Some(s) => s,
        None => fetch_media(p, fetcher, req).await.map_err(named)?,
    };
    let mut resolved = read(&got.video, p.variant).map_err(|e| named(e.into()))?;
    if let Some(audio) = &got.audio {
        let audio = read(audio, p.variant).map_err(|error| ResolveError::Audio {
            job: job.name.clone(),
            error,
        })?;
        resolved.audio = Some(Arc::new(audio));
    }
    // An MPD's note is made as it is read; a master playlist's, as it was.
    if got.note.is_some() {
        resolved.variant_note = got.note.clone();
    }
    resolved.from_saved = from_saved;
    // A DASH SegmentBase's segments are in its file's index.
    index::fill(&mut resolved, fetcher, req)
        .await
        .map_err(named)?;
    // Another stream is refused before anything it names is fetched.
    if save {
        identity::check(&job.state_dir, &resolved, &p.env).map_err(named)?;
    }
    let fetched = fetch_keys(&resolved, fetcher, req, &Keys::default()).await;
    resolved.keys = fetched.map_err(named)?;
    // Only a playlist that was read, its keys fetched, and of the stream
    // the job started on is saved: a refused one (live, SAMPLE-AES) is
    // fetched again by the rerun.
    if save && !from_saved {
        saved::store(&job.state_dir, &source, &got, &p.env).map_err(named)?;
    }
    Ok(with_resolved(job, p, resolved))
}

/// Where a job's secrets may go: a playlist job's own origin is its
/// playlist's; a template job's, each request's own URL.
pub fn scope(job: &JobPlan) -> Arc<Scope> {
    let listed = job.send_secrets_to.clone();
    Arc::new(match &job.source {
        SegmentSource::Playlist(p) => Scope::playlist(&p.url, listed),
        SegmentSource::Numbered(_) => Scope::own_urls(listed),
    })
}

/// A fetched media playlist, or an MPD (its tracks chosen by `want`), read.
fn read(media: &saved::Media, want: crate::manifest::Variant) -> Result<Resolved, PlaylistError> {
    let shown = media.base.shown();
    if dash::is_mpd(media.text.as_bytes()) {
        return mpd::read(&media.text, &media.base, want).map_err(|error| PlaylistError::Mpd {
            shown: shown.into(),
            error,
        });
    }
    match hls::parse(media.text.as_bytes(), shown)? {
        hls::Parsed::Media(m) => media::read_media(&m, &media.base, shown),
        hls::Parsed::Master(_) => Err(PlaylistError::MasterNotMedia(shown.into())),
    }
}

/// What a saved playlist belongs to: the playlist as shown, and the variant.
fn saved_key(p: &PlaylistSource) -> String {
    format!("{}|{}", p.url.shown(), hls::variant_text(p.variant))
}

/// `snatch plan --probe`: every runnable playlist job resolved over the
/// network (nothing saved), and a message for each that could not be.
pub async fn probe(plan: &Plan) -> (Plan, Vec<ResolveError>) {
    let fetcher = Fetcher::new(&plan.limits);
    let mut errors = Vec::new();
    let mut jobs = Vec::new();
    for job in &plan.jobs {
        let resolved = match job.skipped {
            Some(_) => Ok(job.clone()),
            None => match Ask::new(&job.name, &job.headers, job.retry, job.timeout, scope(job)) {
                Ok(ask) => probe_job(job, &fetcher, &ask).await,
                Err(reason) => Err(ResolveError::Headers {
                    job: job.name.clone(),
                    reason,
                }),
            },
        };
        jobs.push(resolved.unwrap_or_else(|e| {
            errors.push(e);
            job.clone()
        }));
    }
    let plan = Plan {
        jobs,
        ..plan.clone()
    };
    (plan, errors)
}

/// One job resolved, and its first and last segment checked.
async fn probe_job(job: &JobPlan, fetcher: &Fetcher, ask: &Ask) -> Result<JobPlan, ResolveError> {
    let job = resolve_job(job, fetcher, ask, false).await?;
    let ends = [0, job.source.len().saturating_sub(1)];
    let name = || job.name.clone();
    for (position, which) in ends.into_iter().zip(["first", "last"]) {
        let seg = job
            .source
            .segment(position)
            .map_err(|error| ResolveError::ProbeTarget {
                job: name(),
                which,
                error,
            })?;
        let index = seg.index;
        let there = fetcher
            .exists(ask, &seg.target, Look::FirstByte)
            .await
            .map_err(|error| ResolveError::ProbeFailed {
                job: name(),
                which,
                index,
                error,
            })?;
        if !there {
            let shown = seg.target.shown().to_string();
            return Err(ResolveError::ProbeMissing {
                job: name(),
                which,
                index,
                shown,
            });
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
) -> Result<JobPlan, ResolveError> {
    let (last, requests) =
        end::find_end(n, fetcher, req)
            .await
            .map_err(|error| ResolveError::EndAuto {
                job: job.name.clone(),
                error,
            })?;
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
    out.init = init.map(|i| crate::plan::source::Segment {
        index: 0,
        target: source.target(&i.url),
        range: i.range,
        key: None,
    });
    out.audio = source.audio().map(|(init, format)| AudioTrack {
        format,
        init: init.map(|i| Segment {
            index: 0,
            target: source.target(&i.url),
            range: i.range,
            key: None,
        }),
    });
    out.source = SegmentSource::Playlist(source);
    out
}

/// Fetches the job's playlist, and if it is a master, the chosen
/// variant's and its audio rendition's.
async fn fetch_media(p: &PlaylistSource, fetcher: &Fetcher, req: &Ask) -> Result<Got, Cause> {
    let got = fetcher
        .fetch_small(req, &p.url, None, MAX_PLAYLIST, "the playlist")
        .await?;
    let base = saved::answered_at(&p.url, &got.final_url, &p.env);
    if dash::is_mpd(&got.body) {
        // Read (its representations chosen) by `read`, as a saved one is.
        let text = text_of(got.body, base.shown())?;
        return Ok(Got {
            video: Media { base, text },
            audio: None,
            note: None,
        });
    }
    let parsed = hls::parse(&got.body, base.shown())?;
    let hls::Parsed::Master(master) = parsed else {
        let text = text_of(got.body, base.shown())?;
        return Ok(Got {
            video: Media { base, text },
            audio: None,
            note: None,
        });
    };
    let (variant, audio, note) = hls::choose(&master, p.variant, base.shown())?;
    let video =
        fetch_one_media(p, fetcher, req, &base, &variant.uri, "the variant playlist").await?;
    let audio = match audio.and_then(|a| a.uri.as_deref()) {
        Some(uri) => {
            Some(fetch_one_media(p, fetcher, req, &base, uri, "the audio playlist").await?)
        }
        None => None,
    };
    Ok(Got {
        video,
        audio,
        note: Some(note),
    })
}

/// A media playlist a master names.
async fn fetch_one_media(
    p: &PlaylistSource,
    fetcher: &Fetcher,
    req: &Ask,
    master: &Secret,
    uri: &str,
    what: &str,
) -> Result<Media, Cause> {
    let url = hls::join(master, uri).map_err(PlaylistError::from)?;
    let got = fetcher
        .fetch_small(req, &url, None, MAX_PLAYLIST, what)
        .await?;
    let base = saved::answered_at(&url, &got.final_url, &p.env);
    let text = text_of(got.body, base.shown())?;
    Ok(Media { base, text })
}

fn text_of(body: Vec<u8>, shown: &str) -> Result<String, PlaylistError> {
    String::from_utf8(body).map_err(|_| PlaylistError::NotUtf8(shown.into()))
}

/// Every AES-128 key the segments name (the video's and the audio
/// rendition's), fetched once per URI; those in `known` are not fetched.
async fn fetch_keys(
    r: &Resolved,
    fetcher: &Fetcher,
    req: &Ask,
    known: &Keys,
) -> Result<Keys, Cause> {
    let mut keys = Keys::default();
    let audio = r.audio.iter().flat_map(|a| a.segments.key_urls());
    for url in r.segments.key_urls().chain(audio) {
        if keys.0.contains_key(url.expose()) {
            continue;
        }
        let key = match known.0.get(url.expose()) {
            Some(key) => *key,
            None => fetch_key(&url, fetcher, req).await?,
        };
        keys.0.insert(url.expose().to_string(), key);
    }
    Ok(keys)
}

/// One AES-128 key: 16 bytes.
async fn fetch_key(url: &Secret, fetcher: &Fetcher, req: &Ask) -> Result<[u8; 16], Cause> {
    let got = fetcher
        .fetch_small(req, url, None, 1024, "the AES-128 key")
        .await?;
    got.body
        .as_slice()
        .try_into()
        .map_err(|_| Cause::KeyLength {
            url: url.clone(),
            len: got.body.len(),
        })
}

/// The init segments a job's merge is fed first, as files in its state
/// folder: the video's (or only) track's, and the audio rendition's.
#[derive(Debug, Clone, Default)]
pub struct Inits {
    pub video: Option<PathBuf>,
    pub audio: Option<PathBuf>,
    /// A DASH MPD's later periods: the position (in the job's segment
    /// list) where each starts, and its init segment; the merge starts a
    /// new part there.
    pub periods: Vec<PeriodInit>,
}

/// Where a later DASH period starts, its init segment's file, and how
/// long the period before it lasts (see `PeriodStart::after`).
#[derive(Debug, Clone)]
pub struct PeriodInit {
    pub position: u64,
    pub file: PathBuf,
    pub after: Option<f64>,
}

/// Fetches the job's init segments (fMP4) into its state folder.
pub async fn fetch_init(
    job: &JobPlan,
    fetcher: &Fetcher,
    req: &Ask,
) -> Result<Inits, ResolveError> {
    let video = match &job.init {
        Some(init) => Some(store_init(job, init, INIT, fetcher, req).await?),
        None => None,
    };
    let audio = match job.audio.as_ref().and_then(|a| a.init.as_ref()) {
        Some(init) => Some(store_init(job, init, AUDIO_INIT, fetcher, req).await?),
        None => None,
    };
    let mut periods = Vec::new();
    for (k, (position, init, after)) in period_inits(job).into_iter().enumerate() {
        let name = format!("init-period-{k}.mp4");
        let file = store_init(job, &init, &name, fetcher, req).await?;
        periods.push(PeriodInit {
            position,
            file,
            after,
        });
    }
    Ok(Inits {
        video,
        audio,
        periods,
    })
}

/// The init segments of a DASH job's later periods, each with the
/// position it is fed before: the video's, then the audio's.
fn period_inits(job: &JobPlan) -> Vec<(u64, Segment, Option<f64>)> {
    let SegmentSource::Playlist(p) = &job.source else {
        return Vec::new();
    };
    let Some(r) = &p.resolved else {
        return Vec::new();
    };
    let of = |t: &Resolved, offset: usize| {
        let starts = t.periods.iter();
        starts
            .filter_map(|s| {
                let init = s.init.as_ref()?;
                let segment = Segment {
                    index: 0,
                    target: p.target(&init.url),
                    range: init.range,
                    key: None,
                };
                Some(((offset + s.position) as u64, segment, s.after))
            })
            .collect::<Vec<_>>()
    };
    let mut all = of(r, 0);
    if let Some(a) = &r.audio {
        all.extend(of(a, r.segments.len()));
    }
    all
}

async fn store_init(
    job: &JobPlan,
    init: &Segment,
    file: &str,
    fetcher: &Fetcher,
    req: &Ask,
) -> Result<PathBuf, ResolveError> {
    let named = |error: InitError| ResolveError::Init {
        job: job.name.clone(),
        error,
    };
    let body = match &init.target {
        Target::Http { url, .. } => {
            fetcher
                .fetch_small(req, url, init.range, MAX_INIT, "the init segment")
                .await
                .map_err(|e| named(e.into()))?
                .body
        }
        Target::File { path, shown } => tokio::fs::read(path).await.map_err(|error| {
            let shown = shown.clone();
            named(InitError::Read { shown, error })
        })?,
    };
    if !looks_like_mp4(&body) {
        return Err(named(InitError::NotMp4));
    }
    let path = job.state_dir.join(file);
    let write_to = path.clone();
    // Through no link: a pull request may have planted one at that name.
    let write = move || std::io::Write::write_all(&mut store::create(&write_to)?, &body);
    tokio::task::spawn_blocking(write)
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r)
        .map_err(|e| named(InitError::Store(e)))?;
    Ok(path)
}

/// An MP4 file starts with a box whose type is one of these.
fn looks_like_mp4(body: &[u8]) -> bool {
    body.len() >= 8 && matches!(&body[4..8], b"ftyp" | b"moov" | b"styp")
}
