//! Reading HLS playlists (parsed by `m3u8-rs`): a body told master or
//! media, a master playlist's variant chosen (a media playlist's segments
//! are read by `media`). Pure: no request; every URI is resolved against
//! the URL that served it.

use m3u8_rs::{AlternativeMedia, AlternativeMediaType, MasterPlaylist, VariantStream};

use crate::common::Secret;
use crate::manifest::Variant;
use crate::plan::source::playlist::Base;

use super::error::{PlaylistError, UriError};
use super::lines::Checked;

/// The most variants and renditions a master playlist may list (counted
/// before it is parsed): a master is read whole, at about a kilobyte
/// each.
pub const MAX_VARIANTS: usize = 10_000;

/// A playlist, read: a master whole; a media playlist's text checked, its
/// segments read by [`read_media`].
#[derive(Debug)]
pub enum Parsed<'a> {
    Master(MasterPlaylist),
    Media(Checked<'a>),
}

/// Parses a playlist body (its lines first read as players read them,
/// and checked: see `lines`); `shown` names it in the error.
pub fn parse<'a>(body: &'a [u8], shown: &str) -> Result<Parsed<'a>, PlaylistError> {
    let checked = super::lines::checked(body, shown)?;
    if !checked.master {
        return Ok(Parsed::Media(checked));
    }
    if checked.variants > MAX_VARIANTS {
        let (shown, count) = (shown.to_string(), checked.variants);
        return Err(PlaylistError::TooManyVariants { shown, count });
    }
    m3u8_rs::parse_master_playlist_res(&checked.text())
        .map(Parsed::Master)
        .map_err(|_| PlaylistError::Invalid(shown.into()))
}

/// `uri` resolved against `base` (both forms of the secret). Only http(s)
/// results are accepted: a playlist cannot point snatch at local files.
pub fn join(base: &Secret, uri: &str) -> Result<Secret, UriError> {
    join_to(&Base::new(base.clone()), uri)
}

/// As [`join`], `base` parsed once.
pub(super) fn join_to(base: &Base, uri: &str) -> Result<Secret, UriError> {
    let url = base.join(uri).map_err(|reason| UriError::Invalid {
        uri: uri.into(),
        reason,
    })?;
    checked_web(url, uri)
}

/// `url` (resolved from `uri`) if it is http(s).
fn checked_web(url: Secret, uri: &str) -> Result<Secret, UriError> {
    let real = url.expose();
    if !(real.starts_with("http://") || real.starts_with("https://")) {
        return Err(UriError::NotWeb(uri.into()));
    }
    Ok(url)
}

/// `uri` checked as [`join`] checks it, without keeping what it gives.
pub(super) fn check_uri(base: &Base, uri: &str) -> Result<(), UriError> {
    let url = base.join_real(uri).map_err(|reason| UriError::Invalid {
        uri: uri.into(),
        reason,
    })?;
    match url.scheme() {
        "http" | "https" => Ok(()),
        _ => Err(UriError::NotWeb(uri.into())),
    }
}

pub(super) fn describe_variant(v: &VariantStream) -> String {
    match &v.resolution {
        Some(r) => format!("{}x{} at {} bit/s", r.width, r.height, v.bandwidth),
        None => format!("{} bit/s", v.bandwidth),
    }
}

/// Whether a variant's codecs are all audio codecs (an audio-only variant).
fn audio_only(v: &VariantStream) -> bool {
    v.resolution.is_none()
        && v.codecs.as_deref().is_some_and(|c| {
            c.split(',').all(|c| {
                let c = c.trim();
                ["mp4a", "ac-3", "ec-3", "opus", "flac", "mp3", "alac"]
                    .iter()
                    .any(|a| c.starts_with(a))
            })
        })
}

/// The variant `want` picks (audio-only variants only when there is no
/// other), the audio rendition it names (`EXT-X-MEDIA TYPE=AUDIO` with a
/// URI: the DEFAULT one, else the first), and a note of the choice.
pub fn choose<'a>(
    master: &'a MasterPlaylist,
    want: Variant,
    shown: &str,
) -> Result<(&'a VariantStream, Option<&'a AlternativeMedia>, String), PlaylistError> {
    let playable: Vec<&VariantStream> = master.variants.iter().filter(|v| !v.is_i_frame).collect();
    let with_video: Vec<&VariantStream> = playable
        .iter()
        .copied()
        .filter(|v| !audio_only(v))
        .collect();
    let all = if with_video.is_empty() {
        playable
    } else {
        with_video
    };
    let fits = |v: &&VariantStream| match want {
        Variant::Best | Variant::Worst => true,
        Variant::MaxHeight(h) => v.resolution.is_some_and(|r| r.height <= h),
        Variant::MaxBandwidth(b) => v.bandwidth <= b,
    };
    let offered: Vec<String> = all.iter().map(|v| describe_variant(v)).collect();
    let candidates = all.iter().copied().filter(fits);
    let chosen = match want {
        Variant::Worst => candidates.min_by_key(|v| v.bandwidth),
        _ => candidates.max_by_key(|v| v.bandwidth),
    };
    let chosen = chosen.ok_or_else(|| PlaylistError::NoVariantFits {
        shown: shown.into(),
        want: variant_text(want),
        offered: offered.clone(),
    })?;
    let audio = chosen.audio.as_ref().and_then(|group| {
        let renditions: Vec<&AlternativeMedia> = master
            .alternatives
            .iter()
            .filter(|m| {
                m.media_type == AlternativeMediaType::Audio
                    && &m.group_id == group
                    && m.uri.is_some()
            })
            .collect();
        let default = renditions.iter().find(|m| m.default);
        default.or(renditions.first()).copied()
    });
    let mut note = format!(
        "variant {} (of {})",
        describe_variant(chosen),
        crate::common::units::listed(&offered, crate::common::units::LISTED)
    );
    if let Some(a) = audio {
        note.push_str(&format!(", audio `{}`", a.name));
    }
    Ok((chosen, audio, note))
}

pub fn variant_text(v: Variant) -> String {
    match v {
        Variant::Best => "best".into(),
        Variant::Worst => "worst".into(),
        Variant::MaxHeight(h) => format!("{{max_height: {h}}}"),
        Variant::MaxBandwidth(b) => format!("{{max_bandwidth: {b}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_master_of_too_many_variants_is_refused_before_it_is_parsed() {
        let master = |n: usize| {
            "#EXTM3U\n".to_string() + &"#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n".repeat(n)
        };
        match parse(master(MAX_VARIANTS).as_bytes(), "m").unwrap() {
            Parsed::Master(m) => assert_eq!(m.variants.len(), MAX_VARIANTS),
            Parsed::Media(_) => panic!("a master"),
        }
        let e = parse(master(MAX_VARIANTS + 1).as_bytes(), "m").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the master playlist m lists 10001 variants and renditions, more than the 10000 snatch reads"
        );
    }

    #[test]
    fn picks_variants() {
        let text = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlow.m3u8\n\
                    #EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720\nhigh.m3u8\n";
        let Parsed::Master(m) = parse(text.as_bytes(), "m").unwrap() else {
            panic!("a master")
        };
        let pick = |v| choose(&m, v, "m").map(|(v, _, _)| v.uri.clone());
        assert_eq!(pick(Variant::Best).unwrap(), "high.m3u8");
        assert_eq!(pick(Variant::Worst).unwrap(), "low.m3u8");
        assert_eq!(pick(Variant::MaxHeight(720)).unwrap(), "high.m3u8");
        assert_eq!(pick(Variant::MaxHeight(719)).unwrap(), "low.m3u8");
        assert_eq!(pick(Variant::MaxBandwidth(1_000_000)).unwrap(), "low.m3u8");
        let none = pick(Variant::MaxHeight(100)).unwrap_err().to_string();
        assert!(none.contains("640x360 at 800000 bit/s"), "{none}");
    }
}

#[cfg(test)]
mod audio_tests {
    use super::*;

    #[test]
    fn audio_only_variants_are_passed_over_and_the_default_rendition_taken() {
        let text = "#EXTM3U\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"en.m3u8\"\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"de\",DEFAULT=YES,URI=\"de.m3u8\"\n\
            #EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=160x90,CODECS=\"avc1.42c00a,mp4a.40.2\",AUDIO=\"a\"\nv.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS=\"mp4a.40.2\",AUDIO=\"a\"\nonly-audio.m3u8\n";
        let Parsed::Master(m) = parse(text.as_bytes(), "m").unwrap() else {
            panic!("a master")
        };
        let (v, audio, note) = choose(&m, Variant::Best, "m").unwrap();
        assert_eq!(v.uri, "v.m3u8");
        assert_eq!(audio.unwrap().uri.as_deref(), Some("de.m3u8"));
        assert!(note.ends_with("audio `de`"), "{note}");
    }
}

#[cfg(test)]
mod hostile {
    use super::*;
    use crate::resolve::media::read_media;
    use proptest::prelude::*;

    const LINES: &[&str] = &[
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-MEDIA-SEQUENCE:18446744073709551615",
        "#EXT-X-MEDIA-SEQUENCE:-1",
        "#EXTINF:2.0,",
        "#EXTINF:-1,",
        "#EXTINF:NaN,",
        "#EXTINF:,",
        "#EXT-X-BYTERANGE:18446744073709551615@18446744073709551615",
        "#EXT-X-BYTERANGE:0",
        "#EXT-X-BYTERANGE:@",
        "#EXT-X-KEY:METHOD=AES-128,URI=\"k\",IV=0xZZ",
        "#EXT-X-KEY:METHOD=AES-128",
        "#EXT-X-KEY:METHOD=NONE",
        "#EXT-X-KEY:",
        "#EXT-X-MAP:URI=\"i.mp4\",BYTERANGE=\"5@0\"",
        "#EXT-X-MAP:",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1x1",
        "#EXT-X-STREAM-INF:BANDWIDTH=x",
        "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"n\",URI=\"a.m3u8\"",
        "#EXT-X-ENDLIST",
        "a.ts",
        "http://[::1/x.ts",
        "file:///etc/passwd",
        "//other.host/x.ts",
        "",
        "\u{0}\u{ff}",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn no_playlist_text_panics(picks in proptest::collection::vec(0..LINES.len(), 0..24)) {
            let text: String = picks.iter().map(|&i| format!("{}\n", LINES[i])).collect();
            let base = Secret::plain("https://h/p/index.m3u8");
            match parse(text.as_bytes(), "pl") {
                Ok(Parsed::Media(m)) => {
                    let _ = read_media(&m, &base, "pl");
                }
                Ok(Parsed::Master(m)) => {
                    for v in [Variant::Best, Variant::Worst, Variant::MaxHeight(0)] {
                        let _ = choose(&m, v, "pl");
                    }
                }
                Err(_) => {}
            }
        }
    }
}
