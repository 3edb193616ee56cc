//! The default name of a new job: the most specific meaningful part of its
//! segment URL's path, made unique in the file.

use super::detect::{host_of, percent_decode};

/// The default job name for a segment URL: the slug of the last directory of
/// the path that means something (`lecture-07` for
/// `https://h/vod/lecture-07/hls/720p/000123.ts`).
///
/// A directory name is percent-decoded, lowercased, every character outside
/// `[a-z0-9._-]` becomes `-`, runs of `-` collapse to one, and `-` and `.` are
/// trimmed from both ends. Directories are tried from the last to the first;
/// one is passed over when its slug is empty or when every word of it (split
/// at `-`, `_` and `.`) says nothing about the video ([`says_nothing`]):
/// `720p`, `hls`, `video`, `2024-05-17`, `3f2a9c0d1b7e`, `v2_1080p`. Then
/// the file name is tried, without its extension and the number at its end
/// (`lecture-07` from `lecture-07_000123.ts`). If none is left, the first
/// label of the host is used (skipping a leading `www`), then `job`.
pub fn slug_from_url(url: &str) -> String {
    let url = url.trim();
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(auth_end);
    let path = &after[..after.find(['?', '#']).unwrap_or(after.len())];

    if let Some((dirs, file)) = path.rsplit_once('/') {
        let meaningful = dirs
            .rsplit('/')
            .map(|dir| slugify(&percent_decode(dir)))
            .chain(std::iter::once(slugify(&file_stem(&percent_decode(file)))))
            .find(|slug| !slug.is_empty() && !says_nothing(slug));
        if let Some(slug) = meaningful {
            return slug;
        }
    }
    let host = host_of(authority);
    let mut labels = host.split('.').filter(|l| !l.is_empty());
    let first = match labels.next() {
        Some(l) if l.eq_ignore_ascii_case("www") => labels.next(),
        other => other,
    };
    let slug = first.map(slugify).unwrap_or_default();
    if slug.is_empty() {
        "job".to_string()
    } else {
        slug
    }
}

/// `base` if it is not in `taken`, otherwise the first free one of `base-2`,
/// `base-3`, … (names are compared exactly).
pub fn unique_name(base: &str, taken: &[String]) -> String {
    let free = |name: &str| !taken.iter().any(|t| t == name);
    if free(base) {
        return base.to_string();
    }
    (2u64..)
        .map(|n| format!("{base}-{n}"))
        .find(|name| free(name))
        .expect("there is always a free name")
}

/// A file name without its extension and the number (and the `-`, `_` or
/// `.` before it) at its end: what is left of a segment's name.
fn file_stem(file: &str) -> String {
    let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
    stem.trim_end_matches(|c: char| c.is_ascii_digit())
        .trim_end_matches(['-', '_', '.'])
        .to_string()
}

/// Whether a slug names nothing about the video: every word of it is a
/// number (so dates too), a quality or format label (`720p`, `1080p60`,
/// `2500k`, `1920x1080`, `v2`, `a1`, `30fps`), a word of how streams are stored
/// ([`STORAGE_WORDS`]), or a hash-like token (12 or more hex digits with a
/// digit among them, or 10 or more characters that switch between letters
/// and digits at least four times, like `a8xk2jq9plm3`).
pub fn says_nothing(slug: &str) -> bool {
    if hash_like(&slug.replace(['-', '_', '.'], "")) {
        return true;
    }
    slug.split(['-', '_', '.'])
        .all(|w| w.is_empty() || label(w) || STORAGE_WORDS.contains(&w) || hash_like(w))
}

/// Folder names of how videos are stored and served, not what they are.
pub const STORAGE_WORDS: &[&str] = &[
    "hls",
    "dash",
    "cmaf",
    "video",
    "videos",
    "media",
    "vod",
    "stream",
    "streams",
    "live",
    "segment",
    "segments",
    "seg",
    "segs",
    "chunk",
    "chunks",
    "fragment",
    "fragments",
    "frag",
    "audio",
    "content",
    "contents",
    "asset",
    "assets",
    "static",
    "cdn",
    "file",
    "files",
    "data",
    "public",
    "master",
    "playlist",
    "playlists",
    "index",
    "manifest",
    "out",
    "output",
    "ts",
    "mp4",
    "fmp4",
    "m3u8",
    "mpd",
    "hd",
    "sd",
    "uhd",
    "fhd",
    "hq",
    "lq",
    "high",
    "low",
    "mid",
    "medium",
    "quality",
    "track",
    "tracks",
    "rendition",
    "renditions",
    "variant",
    "variants",
    "download",
    "downloads",
    "dl",
    "storage",
    "cache",
    "origin",
    "edge",
    "h264",
    "h265",
    "hevc",
    "avc",
    "aac",
    "av1",
    "vp9",
    "x264",
    "x265",
    "src",
    "source",
    "raw",
    "encoded",
    "transcoded",
    "default",
    "main",
];

/// A number, or a number with a unit-like letter part: `720p`, `1080p60`,
/// `2500k`, `4k`, `1920x1080`, `30fps`, `128kbps`, and `v2`, `a1`.
fn label(w: &str) -> bool {
    if w.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    // One letter and a number: `v2`, `a1`, `b2000000`.
    let after_letter = &w[w.chars().next().map_or(0, char::len_utf8)..];
    if w.starts_with(|c: char| c.is_ascii_alphabetic())
        && !after_letter.is_empty()
        && after_letter.bytes().all(|b| b.is_ascii_digit())
    {
        return true;
    }
    let digits = w.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let rest = &w[digits..];
    let tail = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    matches!(tail, "p" | "k" | "m" | "kbps" | "mbps" | "fps" | "bit")
        || rest
            .strip_prefix('x')
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()))
}

fn hash_like(w: &str) -> bool {
    let hex = w.len() >= 12
        && w.bytes().all(|b| b.is_ascii_hexdigit())
        && w.bytes().any(|b| b.is_ascii_digit());
    let switches = w
        .as_bytes()
        .windows(2)
        .filter(|p| p[0].is_ascii_digit() != p[1].is_ascii_digit())
        .count();
    hex || (w.len() >= 10 && w.bytes().all(|b| b.is_ascii_alphanumeric()) && switches >= 4)
}

fn slugify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
            if !(c == '-' && out.ends_with('-')) {
                out.push(c);
            }
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches(|c| c == '-' || c == '.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        let table = [
            ("https://cdn.example.com/vod/abc/000123.ts", "abc"),
            (
                "https://cdn.example.com/vod/Lecture%2001/000123.ts",
                "lecture-01",
            ),
            (
                "https://cdn.example.com/vod/My__Course!!/seg.ts?x=/y/",
                "my__course",
            ),
            ("https://cdn.example.com/vod/--a--b--/seg.ts", "a-b"),
            ("https://cdn3.example.com/000123.ts", "cdn3"),
            ("https://www.example.com/000123.ts", "example"),
            ("https://vod-12.akamaized.example/ü/1.ts", "vod-12"),
            ("https://[::1]:8080/1.ts", "1"),
            ("https://.../1.ts", "job"),
            ("", "job"),
        ];
        for (url, want) in table {
            assert_eq!(slug_from_url(url), want, "{url}");
        }
    }

    #[test]
    fn the_most_specific_meaningful_folder_names_the_job() {
        let table = [
            (
                "https://cdn.example.com/rust-101/lecture-07/hls/720p/000123.ts",
                "lecture-07",
            ),
            (
                "https://cdn.example.com/show/media/videos/1080p60/seg-1.ts",
                "show",
            ),
            ("https://cdn.example.com/talk/video/2500k/1.ts", "talk"),
            (
                "https://cdn.example.com/keynote/2024/05/17/seg.ts",
                "keynote",
            ),
            (
                "https://cdn.example.com/keynote/2024-05-17/seg.ts",
                "keynote",
            ),
            (
                "https://cdn.example.com/intro/3f2a9c0d1b7e4a5f/seg.ts",
                "intro",
            ),
            (
                "https://cdn.example.com/intro/550e8400-e29b-41d4-a716-446655440000/seg.ts",
                "intro",
            ),
            (
                "https://cdn.example.com/intro/a8Xk2jQ9pLm3/v2_1080p/seg.ts",
                "intro",
            ),
            (
                "https://cdn.example.com/intro/12345/1920x1080/seg.ts",
                "intro",
            ),
            (
                "https://cdn.example.com/lecture-2024-spring/hls/seg.ts",
                "lecture-2024-spring",
            ),
            (
                "https://cdn.example.com/season2/episode10/seg.ts",
                "episode10",
            ),
            // Nothing meaningful in the path: the host.
            ("https://media.example.com/2024/05/17/seg.ts", "media"),
            ("https://cdn.example.com/hls/720p/000123.ts", "cdn"),
            // Then the file name, without the index.
            (
                "https://cdn.example.com/hls/720p/Lecture%2007_000123.ts",
                "lecture-07",
            ),
            ("https://cdn.example.com/hls/seg_v1_a1_000123.ts", "cdn"),
            ("https://cdn.example.com/hls/index_3_000123.ts", "cdn"),
        ];
        for (url, want) in table {
            assert_eq!(slug_from_url(url), want, "{url}");
        }
        for word in [
            "720p",
            "hls",
            "video",
            "videos",
            "media",
            "2024-05-17",
            "deadbeef0123",
        ] {
            assert!(says_nothing(word), "{word}");
        }
        for word in [
            "lecture-01",
            "rust101",
            "a",
            "keynote",
            "deadbeef",
            "s01e02",
        ] {
            assert!(!says_nothing(word), "{word}");
        }
    }

    #[test]
    fn unique_names() {
        let taken = vec!["abc".to_string(), "abc-2".to_string(), "other".to_string()];
        assert_eq!(unique_name("abc", &taken), "abc-3");
        assert_eq!(unique_name("new", &taken), "new");
        assert_eq!(unique_name("other", &taken), "other-2");
        assert_eq!(unique_name("abc", &[]), "abc");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in "\\PC*") {
            let _ = slug_from_url(&a);
            let _ = slug_from_url(&format!("https://h/{a}/1.ts"));
        }
    }
}
