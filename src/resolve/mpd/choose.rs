//! Which representations of a period a job downloads: the video one its
//! `variant:` picks (as for an HLS master), the highest-bandwidth one of
//! the default (`Role` main) or first audio adaptation set; text tracks
//! are skipped and named in the note.

use dash_mpd_core::{AdaptationSet, Period, Representation};

use super::MpdError;
use crate::common::units::{listed, LISTED};
use crate::manifest::Variant;
use crate::resolve::hls::variant_text;

/// A representation and the adaptation set it is in.
#[derive(Debug, Clone, Copy)]
pub struct Pick<'a> {
    pub set: &'a AdaptationSet,
    pub rep: &'a Representation,
}

/// What a period's download is made of.
#[derive(Debug)]
pub struct Chosen<'a> {
    /// The video representation (the audio one when there is no video).
    pub main: Pick<'a>,
    pub audio: Option<Pick<'a>>,
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Video,
    Audio,
    Text,
    Other,
}

/// The kind of a representation: its own or its set's `@contentType` or
/// `@mimeType`, else what its codecs or size say.
fn kind(set: &AdaptationSet, rep: &Representation) -> Kind {
    let content = rep.contentType.as_deref().or(set.contentType.as_deref());
    let mime = rep.mimeType.as_deref().or(set.mimeType.as_deref());
    let codecs = rep
        .codecs
        .as_deref()
        .or(set.codecs.as_deref())
        .unwrap_or("");
    let said = content.or_else(|| mime.and_then(|m| m.split('/').next()));
    match said {
        Some("video") => Kind::Video,
        Some("audio") => Kind::Audio,
        Some("text") => Kind::Text,
        Some("application") if mime.is_some_and(|m| m.contains("ttml") || m.contains("vtt")) => {
            Kind::Text
        }
        _ if codecs.starts_with("stpp") || codecs.starts_with("wvtt") => Kind::Text,
        _ if rep.width.is_some() || rep.height.is_some() => Kind::Video,
        _ if codecs.starts_with("mp4a") || codecs.starts_with("ec-3") => Kind::Audio,
        _ => Kind::Other,
    }
}

fn describe(rep: &Representation) -> String {
    let bw = rep.bandwidth.unwrap_or(0);
    match (rep.width, rep.height) {
        (Some(w), Some(h)) => format!("{w}x{h} at {bw} bit/s"),
        _ => format!("{bw} bit/s"),
    }
}

/// The period's video representations, described.
pub fn videos(period: &Period) -> Vec<super::Video> {
    reps_of(period, Kind::Video)
        .into_iter()
        .map(|p| super::Video {
            text: describe(p.rep),
            height: p.rep.height,
            bandwidth: p.rep.bandwidth.unwrap_or(0),
        })
        .collect()
}

fn reps_of<'a>(period: &'a Period, want: Kind) -> Vec<Pick<'a>> {
    let mut out = Vec::new();
    for set in &period.adaptations {
        for rep in &set.representations {
            if kind(set, rep) == want {
                out.push(Pick { set, rep });
            }
        }
    }
    out
}

/// The period's representations for a job wanting `want`.
pub fn choose(period: &Period, want: Variant) -> Result<Chosen<'_>, MpdError> {
    if period.adaptations.iter().any(|s| s.href.is_some()) {
        return Err(MpdError::Remote("an AdaptationSet"));
    }
    let videos = reps_of(period, Kind::Video);
    let audio = default_audio(period);
    let texts = reps_of(period, Kind::Text);
    let (main, audio) = match (pick_video(&videos, want)?, audio) {
        (Some(v), audio) => (v, audio),
        (None, Some(a)) => (a, None),
        (None, None) => return Err(MpdError::NoMedia),
    };
    let offered: Vec<String> = videos.iter().map(|p| describe(p.rep)).collect();
    let mut note = format!(
        "representation `{}` {}",
        main.rep.id.as_deref().unwrap_or(""),
        describe(main.rep)
    );
    if !offered.is_empty() {
        note.push_str(&format!(" (of {})", listed(&offered, LISTED)));
    }
    if let Some(a) = audio {
        let id = a.rep.id.as_deref().unwrap_or("");
        note.push_str(&format!(", audio `{id}` {}", describe(a.rep)));
    }
    if !texts.is_empty() {
        let names: Vec<String> = texts.iter().map(|t| text_name(t)).collect();
        note.push_str(&format!(
            "; text tracks skipped: {}",
            listed(&names, LISTED)
        ));
    }
    Ok(Chosen { main, audio, note })
}

/// The video representation `want` picks, `None` when there is no video.
fn pick_video<'a>(videos: &[Pick<'a>], want: Variant) -> Result<Option<Pick<'a>>, MpdError> {
    if videos.is_empty() {
        return Ok(None);
    }
    let bw = |p: &Pick| p.rep.bandwidth.unwrap_or(0);
    let fits = |p: &&Pick| match want {
        Variant::Best | Variant::Worst => true,
        Variant::MaxHeight(h) => p.rep.height.is_some_and(|x| x <= h),
        Variant::MaxBandwidth(b) => bw(p) <= b,
    };
    let candidates = videos.iter().filter(fits);
    let chosen = match want {
        Variant::Worst => candidates.min_by_key(|p| bw(p)),
        _ => candidates.max_by_key(|p| bw(p)),
    };
    match chosen {
        Some(p) => Ok(Some(*p)),
        None => {
            let offered: Vec<String> = videos.iter().map(|p| describe(p.rep)).collect();
            Err(MpdError::NoVariantFits {
                want: variant_text(want),
                offered: listed(&offered, LISTED),
            })
        }
    }
}

/// The highest-bandwidth representation of the audio adaptation set whose
/// `Role` is main, else of the first.
fn default_audio(period: &Period) -> Option<Pick<'_>> {
    let audio = reps_of(period, Kind::Audio);
    let main_set = audio.iter().find(|p| {
        p.set
            .Role
            .iter()
            .any(|r| r.value.as_deref() == Some("main"))
    });
    let set = main_set.or(audio.first())?.set;
    audio
        .iter()
        .filter(|p| std::ptr::eq(p.set, set))
        .max_by_key(|p| p.rep.bandwidth.unwrap_or(0))
        .copied()
}

fn text_name(p: &Pick) -> String {
    let lang = p.rep.lang.as_deref().or(p.set.lang.as_deref());
    let id = p.rep.id.as_deref().unwrap_or("");
    match lang {
        Some(l) => format!("`{id}` ({l})"),
        None => format!("`{id}`"),
    }
}
