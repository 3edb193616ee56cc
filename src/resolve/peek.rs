//! A look at a playlist before a job is written for it (`snatch new`):
//! the playlist named fetched once (no variant, key or segment), and what
//! it holds told in numbers only (nothing a server wrote is shown).

use std::collections::BTreeMap;

use m3u8_rs::MasterPlaylist;

use crate::common::origins::Origin;
use crate::common::Secret;
use crate::manifest::Variant;
use crate::net::{Ask, Fetcher, SmallError};

use super::hls::{self, describe_variant, Parsed};
use super::{PlaylistError, MAX_PLAYLIST};
use crate::plan::source::playlist::Resolved;

/// A variant of a master playlist, as offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    /// `WxH at N bit/s`, or `N bit/s` without a resolution.
    pub text: String,
    pub height: Option<u64>,
    pub bandwidth: u64,
    /// Whether `variant: best` picks it.
    pub best: bool,
}

/// What the playlist is.
#[derive(Debug, Clone, PartialEq)]
pub enum Peek {
    /// A master playlist: its variants (I-frame ones aside), highest
    /// bandwidth first.
    Master(Vec<Offered>),
    /// An MPEG-DASH manifest a job can download: its video
    /// representations (of the first period) as variants, highest
    /// bandwidth first, and what `variant: best` gets.
    Dash {
        offered: Vec<Offered>,
        periods: usize,
        segments: usize,
        duration_s: f64,
        audio: bool,
    },
    /// A media playlist that a job can download.
    Media {
        segments: usize,
        duration_s: f64,
        fmp4: bool,
        encrypted: bool,
    },
}

/// Why there is no [`Peek`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum PeekError {
    /// No answer, or an HTTP error: the job may still run later.
    #[error(transparent)]
    Unreachable(SmallError),
    /// The answer is not a playlist snatch can download (not HLS, live,
    /// SAMPLE-AES…): a job for it would fail.
    #[error(transparent)]
    Refused(PlaylistError),
}

/// A playlist looked at: what it is, and the hosts other than the
/// playlist's own that it names (variants, renditions, keys, init and
/// media segments; the one it was asked at first), at most [`MAX_HOSTS`].
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub peek: Peek,
    pub elsewhere: Vec<String>,
}

/// The most hosts [`Seen::elsewhere`] lists.
pub const MAX_HOSTS: usize = 8;

/// Fetches `url` with `ask`'s headers and reads what it is. `env`: the
/// values of the variables `url` holds, kept out of messages after a
/// redirect.
pub async fn peek(
    url: &Secret,
    env: &BTreeMap<String, String>,
    fetcher: &Fetcher,
    ask: &Ask,
) -> Result<Seen, PeekError> {
    let got = fetcher
        .fetch_small(ask, url, None, MAX_PLAYLIST, "the playlist")
        .await
        .map_err(PeekError::Unreachable)?;
    let base = super::saved::answered_at(url, &got.final_url, env);
    look(&got.body, &base, url).map_err(PeekError::Refused)
}

/// A playlist's body read once: what it is, and the other hosts it names.
fn look(body: &[u8], base: &Secret, asked: &Secret) -> Result<Seen, PlaylistError> {
    let shown = base.shown();
    if super::dash::is_mpd(body) {
        return look_mpd(body, base, asked);
    }
    Ok(match hls::parse(body, shown)? {
        Parsed::Master(m) => Seen {
            peek: Peek::Master(offered(&m, shown)?),
            elsewhere: hosts_named(master_uris(&m), base, asked),
        },
        Parsed::Media(m) => {
            let r = super::media::read_media(&m, base, shown)?;
            Seen {
                peek: Peek::Media {
                    segments: r.segments.len(),
                    duration_s: r.segments.duration(),
                    fmp4: r.init.is_some(),
                    encrypted: r.segments.encrypted(),
                },
                elsewhere: hosts_named(media_uris(&r), base, asked),
            }
        }
    })
}

/// An MPD read as a job with `variant: best` would read it.
fn look_mpd(body: &[u8], base: &Secret, asked: &Secret) -> Result<Seen, PlaylistError> {
    let shown = base.shown();
    let named = |error| PlaylistError::Mpd {
        shown: shown.into(),
        error,
    };
    let text = std::str::from_utf8(body).map_err(|_| PlaylistError::NotUtf8(shown.into()))?;
    let r = super::mpd::read(text, base, Variant::Best).map_err(named)?;
    let mut offered: Vec<Offered> = super::mpd::videos(text)
        .map_err(named)?
        .into_iter()
        .map(|v| Offered {
            best: false,
            text: v.text,
            height: v.height,
            bandwidth: v.bandwidth,
        })
        .collect();
    offered.sort_by_key(|o| std::cmp::Reverse(o.bandwidth));
    if let Some(top) = offered.first_mut() {
        top.best = true;
    }
    let audio = r.audio.as_ref();
    Ok(Seen {
        peek: Peek::Dash {
            offered,
            periods: r.periods.len() + 1,
            segments: r.segments.len() + audio.map_or(0, |a| a.segments.len()),
            duration_s: r.segments.duration(),
            audio: audio.is_some(),
        },
        elsewhere: hosts_named(media_uris(&r), base, asked),
    })
}

/// The URIs a master playlist names: its variants' (I-frame ones aside)
/// and its renditions'.
fn master_uris(m: &MasterPlaylist) -> impl Iterator<Item = &str> {
    let variants = m.variants.iter().filter(|v| !v.is_i_frame);
    variants
        .map(|v| v.uri.as_str())
        .chain(m.alternatives.iter().filter_map(|a| a.uri.as_deref()))
}

/// The URIs a media playlist names, in order: each segment's and its
/// key's, the init segment's after the first segment's.
fn media_uris(r: &Resolved) -> impl Iterator<Item = &str> {
    let s = &r.segments;
    let init = r.init.as_ref().map(|i| i.url.expose());
    (0..s.len()).flat_map(move |i| {
        [s.uri(i), s.key_uri(i), init.filter(|_| i == 0)]
            .into_iter()
            .flatten()
    })
}

/// The origins `uris` (resolved against `base`) name other than `asked`'s
/// and that of the URL that answered (a redirect's target is the server's
/// choice, not a name in the playlist), in the order named, as
/// `scheme://host[:port]`.
fn hosts_named<'u>(
    uris: impl Iterator<Item = &'u str>,
    base: &Secret,
    asked: &Secret,
) -> Vec<String> {
    let origin = |s: &Secret| reqwest::Url::parse(s.expose()).ok().map(|u| Origin::of(&u));
    let own = [origin(asked), origin(base)];
    let base = crate::plan::source::playlist::Base::new(base.clone());
    let mut hosts: Vec<String> = Vec::new();
    for uri in uris {
        let Ok(url) = base.join_real(uri) else {
            continue;
        };
        if !matches!(url.scheme(), "http" | "https") {
            continue;
        }
        if own.contains(&Some(Origin::of(&url))) {
            continue;
        }
        let entry = url.origin().ascii_serialization();
        if !hosts.contains(&entry) {
            hosts.push(entry);
            if hosts.len() == MAX_HOSTS {
                break;
            }
        }
    }
    hosts
}

/// A master playlist's variants (I-frame ones aside), highest bandwidth
/// first, the one `variant: best` picks marked.
fn offered(m: &MasterPlaylist, shown: &str) -> Result<Vec<Offered>, PlaylistError> {
    let (best, _, _) = hls::choose(m, Variant::Best, shown)?;
    let mut offered: Vec<Offered> = m
        .variants
        .iter()
        .filter(|v| !v.is_i_frame)
        .map(|v| Offered {
            text: describe_variant(v),
            height: v.resolution.map(|r| r.height),
            bandwidth: v.bandwidth,
            best: std::ptr::eq(v, best),
        })
        .collect();
    offered.sort_by_key(|o| std::cmp::Reverse(o.bandwidth));
    Ok(offered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Secret {
        Secret::plain("https://h/v/master.m3u8")
    }

    fn read(body: &[u8], base: &Secret) -> Result<Peek, PlaylistError> {
        look(body, base, base).map(|seen| seen.peek)
    }

    #[test]
    fn a_master_lists_its_variants_and_marks_best() {
        let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=160x90\nlow.m3u8\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=320x180\nhigh.m3u8\n\
                    #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=50000,URI=\"if.m3u8\"\n";
        let Peek::Master(v) = read(text.as_bytes(), &base()).unwrap() else {
            panic!("a master");
        };
        let texts: Vec<(&str, bool)> = v.iter().map(|o| (o.text.as_str(), o.best)).collect();
        assert_eq!(
            texts,
            [
                ("320x180 at 900000 bit/s", true),
                ("160x90 at 300000 bit/s", false)
            ]
        );
        assert_eq!(v[1].height, Some(90));
    }

    #[test]
    fn a_media_playlist_is_counted_and_refusals_are_refused() {
        let media = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n\
                     #EXTINF:2.0,\na.m4s\n#EXTINF:1.5,\nb.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(
            read(media.as_bytes(), &base()).unwrap(),
            Peek::Media {
                segments: 2,
                duration_s: 3.5,
                fmp4: true,
                encrypted: false
            }
        );
        let live = media.replace("#EXT-X-ENDLIST\n", "");
        let live = read(live.as_bytes(), &base()).unwrap_err();
        assert!(matches!(live, PlaylistError::Live(_)), "{live:?}");
        assert!(live.to_string().contains("is a live playlist"));
        let html = read(b"<html>", &base()).unwrap_err();
        assert!(matches!(html, PlaylistError::NotHls(_)), "{html:?}");
        assert!(html.to_string().contains("is not an HLS playlist"));
    }
}
