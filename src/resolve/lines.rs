//! A playlist's text lines before m3u8-rs reads them: what players accept
//! is read the same (a UTF-8 BOM and blank lines before `#EXTM3U`; LF,
//! CRLF and CR-only line endings), and the values m3u8-rs would swallow
//! (an `#EXTINF` of `-2` or `NaN` read as 0, `1e308` as 1, a media
//! sequence of `-1` or a byte range of `@` ignored) are refused, naming
//! the line and the value. One pass, no copy: the text is handed to
//! m3u8-rs a slice at a time (see [`Checked::chunks`]).

use super::error::PlaylistError;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The longest value a message quotes, in characters.
const SHOWN_VALUE: usize = 40;

/// A playlist's text, its lines checked: where its `#EXTM3U` line is,
/// and what its lines tell of it as a whole, read line by line as m3u8-rs
/// reads tags (after leading spaces). Nothing is copied: [`Checked::chunks`]
/// gives the text to parse a slice at a time.
#[derive(Debug, Clone)]
pub struct Checked<'a> {
    /// The body from its `#EXTM3U` line on.
    text: &'a [u8],
    /// The number of the `#EXTM3U` line.
    first: usize,
    /// A master playlist: the first tag that only one kind has is a
    /// master's (as m3u8-rs decides).
    pub master: bool,
    /// `#EXT-X-ENDLIST`.
    pub end_list: bool,
    /// `#EXT-X-I-FRAMES-ONLY`.
    pub i_frames_only: bool,
    /// The last `#EXT-X-MEDIA-SEQUENCE`, else 0.
    pub media_sequence: u64,
    /// Lines that are URIs (not tags, not blank).
    pub uris: usize,
    /// Variants and renditions (`#EXT-X-STREAM-INF`,
    /// `#EXT-X-I-FRAME-STREAM-INF`, `#EXT-X-MEDIA:`).
    pub variants: usize,
}

/// `body` checked: every line's values, nothing but blank lines (and a
/// UTF-8 BOM) before `#EXTM3U`. `shown` names the playlist in the error.
pub fn checked<'a>(body: &'a [u8], shown: &str) -> Result<Checked<'a>, PlaylistError> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let mut start = None;
    for (line, number) in lines(body).zip(1usize..) {
        let trimmed = line.trim_ascii_start();
        if trimmed.is_empty() {
            continue;
        }
        if !trimmed.starts_with(b"#EXTM3U") {
            return Err(not_hls(body, shown));
        }
        if !line.starts_with(b"#EXTM3U") {
            return Err(PlaylistError::Invalid(shown.into()));
        }
        let offset = line.as_ptr() as usize - body.as_ptr() as usize;
        start = Some((offset, number));
        break;
    }
    let Some((offset, first)) = start else {
        return Err(PlaylistError::NotHls(shown.into()));
    };
    let mut c = Checked {
        text: &body[offset..],
        first,
        master: false,
        end_list: false,
        i_frames_only: false,
        media_sequence: 0,
        uris: 0,
        variants: 0,
    };
    let mut decided = false;
    for (line, number) in c.numbered().skip(1) {
        checked_values(line).map_err(|bad| bad.at(shown, number))?;
        if !decided {
            (decided, c.master) = match decides(line) {
                Some(master) => (true, master),
                None => (false, false),
            };
        }
        c.note(line.trim_ascii_start());
    }
    Ok(c)
}

impl<'a> Checked<'a> {
    /// The lines from `#EXTM3U` on, with their numbers in the body.
    fn numbered(&self) -> impl Iterator<Item = (&'a [u8], usize)> {
        lines(self.text).zip(self.first..)
    }

    /// What a line (leading spaces aside) tells of the playlist as a whole.
    fn note(&mut self, line: &[u8]) {
        let variant = [
            &b"#EXT-X-STREAM-INF"[..],
            b"#EXT-X-I-FRAME-STREAM-INF",
            b"#EXT-X-MEDIA:",
        ];
        if is_uri(line) {
            self.uris += 1;
        } else if variant.iter().any(|t| line.starts_with(t)) {
            self.variants += 1;
        } else if line.starts_with(b"#EXT-X-ENDLIST") {
            self.end_list = true;
        } else if line.starts_with(b"#EXT-X-I-FRAMES-ONLY") {
            self.i_frames_only = true;
        } else if let Some(rest) = line.strip_prefix(b"#EXT-X-MEDIA-SEQUENCE:") {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if let Some(n) = number(&rest[..digits]) {
                self.media_sequence = n;
            }
        }
    }

    /// The whole text, every line ending `\n`.
    pub fn text(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + 1);
        for (line, _) in self.numbered() {
            push_line(&mut out, line);
        }
        out
    }

    /// The text in pieces that m3u8-rs reads alone, each ending after the
    /// `per`-th URI line (a segment's last line) and every one but the
    /// first given an `#EXTM3U` line: m3u8-rs carries nothing from one
    /// segment to the next, so the pieces read as the whole does.
    pub fn chunks(&self, per: usize) -> impl Iterator<Item = Vec<u8>> + 'a {
        let mut lines = self.numbered().map(|(line, _)| line).peekable();
        let mut first = true;
        std::iter::from_fn(move || {
            lines.peek()?;
            let mut out = if first {
                Vec::new()
            } else {
                b"#EXTM3U\n".to_vec()
            };
            first = false;
            let mut uris = 0;
            for line in lines.by_ref() {
                push_line(&mut out, line);
                if is_uri(line.trim_ascii_start()) {
                    uris += 1;
                    if uris == per {
                        break;
                    }
                }
            }
            Some(out)
        })
    }
}

/// `line` and a `\n` added to `out`, as m3u8-rs is to read it.
fn push_line(out: &mut Vec<u8>, line: &[u8]) {
    out.extend_from_slice(line);
    if key_without_iv(line) {
        // m3u8-rs 6 refuses METHOD=NONE without an IV (its check is
        // the wrong way round) and then skips the tag, which would
        // leave the key before it in force.
        out.extend_from_slice(b",IV=0x0");
    }
    out.push(b'\n');
}

/// A line (leading spaces aside) that m3u8-rs reads as a segment's URI.
fn is_uri(line: &[u8]) -> bool {
    !line.is_empty() && !line.starts_with(b"#")
}

/// The tags only a master playlist has, and those only a media one has,
/// as m3u8-rs tells one from the other (the first such tag decides).
const MASTER_TAGS: &[&[u8]] = &[
    b"#EXT-X-STREAM-INF",
    b"#EXT-X-I-FRAME-STREAM-INF",
    b"#EXT-X-SESSION-KEY",
    b"#EXT-X-SESSION-DATA",
];
const MEDIA_TAGS: &[&[u8]] = &[
    b"#EXT-X-TARGETDURATION",
    b"#EXT-X-MEDIA-SEQUENCE",
    b"#EXT-X-DISCONTINUITY-SEQUENCE",
    b"#EXT-X-ENDLIST",
    b"#EXT-X-PLAYLIST-TYPE",
    b"#EXT-X-I-FRAMES-ONLY",
    b"#EXTINF",
    b"#EXT-X-BYTERANGE",
    b"#EXT-X-DISCONTINUITY",
    b"#EXT-X-KEY",
    b"#EXT-X-MAP",
    b"#EXT-X-PROGRAM-DATE-TIME",
    b"#EXT-X-DATERANGE",
];

/// Whether `line` makes the playlist a master (`Some(true)`) or a media
/// playlist; `None` when it does neither. A line that is not UTF-8 ends
/// m3u8-rs's search: a media playlist.
fn decides(line: &[u8]) -> Option<bool> {
    let media_tag = line
        .strip_prefix(b"#EXT-X-MEDIA")
        .is_some_and(|rest| !rest.starts_with(b"-"));
    if media_tag || MASTER_TAGS.iter().any(|t| line.starts_with(t)) {
        Some(true)
    } else if MEDIA_TAGS.iter().any(|t| line.starts_with(t)) || std::str::from_utf8(line).is_err() {
        Some(false)
    } else {
        None
    }
}

/// Why a body that does not start with `#EXTM3U` is refused: DASH is
/// named as such.
fn not_hls(body: &[u8], shown: &str) -> PlaylistError {
    if super::dash::is_mpd(body) {
        PlaylistError::Dash(shown.into())
    } else {
        PlaylistError::NotHls(shown.into())
    }
}

/// The lines of `body`, each without its ending (`\n`, `\r\n` or `\r`).
fn lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(body);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => {
                rest = None;
                (!text.is_empty()).then_some(text)
            }
            Some(at) => {
                let skip = if text[at..].starts_with(b"\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&text[at + skip..]);
                Some(&text[..at])
            }
        }
    })
}

/// A value of a tag that is not what the tag takes.
struct Bad {
    tag: &'static str,
    value: Vec<u8>,
    want: &'static str,
}

impl Bad {
    fn at(self, shown: &str, line: usize) -> PlaylistError {
        let text = String::from_utf8_lossy(&self.value);
        let mut value: String = text.chars().take(SHOWN_VALUE).collect();
        if text.chars().nth(SHOWN_VALUE).is_some() {
            value.push('…');
        }
        PlaylistError::BadValue {
            shown: shown.into(),
            line,
            tag: self.tag,
            value,
            want: self.want,
        }
    }
}

/// Checks the value of the tags whose values snatch relies on.
fn checked_values(line: &[u8]) -> Result<(), Bad> {
    let bad = |tag, value: &[u8], want| Bad {
        tag,
        value: value.to_vec(),
        want,
    };
    if let Some(rest) = line.strip_prefix(b"#EXTINF:") {
        let value = rest.split(|&b| b == b',').next().unwrap_or_default();
        let value = value.trim_ascii_end();
        if !is_duration(value) {
            return Err(bad("#EXTINF", value, "a duration (decimal seconds)"));
        }
    } else if let Some(rest) = line.strip_prefix(b"#EXT-X-MEDIA-SEQUENCE:") {
        if number(rest.trim_ascii_end()).is_none() {
            return Err(bad(
                "#EXT-X-MEDIA-SEQUENCE",
                rest,
                "a whole number below 2^64",
            ));
        }
    } else if let Some(rest) = line.strip_prefix(b"#EXT-X-BYTERANGE:") {
        if !is_byte_range(rest.trim_ascii_end()) {
            return Err(bad(
                "#EXT-X-BYTERANGE",
                rest,
                "a byte range (`length[@offset]`)",
            ));
        }
    }
    Ok(())
}

/// Digits, with an optional fraction, that m3u8-rs reads as a finite
/// number of seconds.
fn is_duration(value: &[u8]) -> bool {
    let (whole, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], &value[dot + 1..]),
        None => (value, &b""[..]),
    };
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    !whole.is_empty()
        && digits(whole)
        && digits(fraction)
        && std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.trim_end_matches('.').parse::<f32>().ok())
            .is_some_and(f32::is_finite)
}

/// A whole number below 2^64.
fn number(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn is_byte_range(value: &[u8]) -> bool {
    let mut parts = value.splitn(2, |&b| b == b'@');
    let length = parts.next().and_then(number);
    let offset = parts.next().map(number);
    length.is_some() && offset.is_none_or(|o| o.is_some())
}

/// `#EXT-X-KEY:METHOD=NONE` without an `IV` attribute.
fn key_without_iv(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"#EXT-X-KEY:") else {
        return false;
    };
    let attributes = || rest.split(|&b| b == b',').map(<[u8]>::trim_ascii);
    attributes().any(|a| a == b"METHOD=NONE") && !attributes().any(|a| a.starts_with(b"IV="))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(body: &[u8], shown: &str) -> Result<Vec<u8>, PlaylistError> {
        checked(body, shown).map(|c| c.text())
    }

    fn error(text: &str) -> String {
        prepared(text.as_bytes(), "pl").unwrap_err().to_string()
    }

    const HEAD: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n";

    #[test]
    fn every_line_ending_and_what_precedes_the_header_read_the_same() {
        let lf = format!("{HEAD}#EXTINF:2.0,\na.ts\n#EXT-X-ENDLIST\n");
        let want = prepared(lf.as_bytes(), "pl").unwrap();
        assert_eq!(want, lf.as_bytes());
        for text in [
            lf.replace('\n', "\r\n"),
            lf.replace('\n', "\r"),
            format!("\u{feff}{lf}"),
            format!("\u{feff}\r\n \t\n\n{}", lf.replace('\n', "\r")),
            lf.trim_end().to_string(),
        ] {
            assert_eq!(prepared(text.as_bytes(), "pl").unwrap(), want, "{text:?}");
        }
        assert!(error("<html>\n#EXTM3U\n").contains("not an HLS playlist"));
        assert!(error("\u{feff} \n").contains("not an HLS playlist"));
        assert!(error("").contains("not an HLS playlist"));
    }

    #[test]
    fn a_value_m3u8_rs_would_swallow_is_refused_naming_its_line() {
        for value in [
            "-2",
            "NaN",
            "inf",
            "two",
            "1e308",
            "-0.5",
            "",
            ".5",
            "1 2",
            &"9".repeat(50),
        ] {
            let text = format!("{HEAD}#EXTINF:2,\na.ts\n#EXTINF:{value},\nb.ts\n#EXT-X-ENDLIST\n");
            let e = error(&text);
            let shown: String = value.chars().take(SHOWN_VALUE).collect();
            assert!(
                e.starts_with(&format!("pl, line 5: #EXTINF `{shown}")),
                "{e}"
            );
            assert!(e.contains("is not a duration (decimal seconds)"), "{e}");
        }
        let long = error(&format!("{HEAD}#EXTINF:{},\na.ts\n", "9".repeat(50)));
        assert!(long.contains(&format!("`{}…`", "9".repeat(40))), "{long}");
        for (tag, value) in [
            ("#EXT-X-MEDIA-SEQUENCE", "-1"),
            ("#EXT-X-MEDIA-SEQUENCE", "18446744073709551616"),
            ("#EXT-X-MEDIA-SEQUENCE", "x"),
            ("#EXT-X-BYTERANGE", "@"),
            ("#EXT-X-BYTERANGE", "10@"),
            ("#EXT-X-BYTERANGE", "-10@0"),
            ("#EXT-X-BYTERANGE", "99999999999999999999"),
        ] {
            let e = error(&format!("\r\n{HEAD}{tag}:{value}\n#EXTINF:2,\na.ts\n"));
            assert!(
                e.starts_with(&format!("pl, line 4: {tag} `{value}` is not")),
                "{e}"
            );
        }
        for good in ["2", "2.", "2.000000", "0", "10.5,title"] {
            let text = format!("{HEAD}#EXTINF:{good}\n#EXT-X-BYTERANGE:5@0\na.ts\n");
            assert!(prepared(text.as_bytes(), "pl").is_ok(), "{good}");
        }
    }

    #[test]
    fn method_none_without_an_iv_is_given_one_for_the_parser() {
        let text = "#EXTM3U\n#EXT-X-KEY:METHOD=NONE\n#EXT-X-KEY:METHOD=NONE,IV=0x1\n";
        let out = String::from_utf8(prepared(text.as_bytes(), "pl").unwrap()).unwrap();
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-KEY:METHOD=NONE,IV=0x0\n#EXT-X-KEY:METHOD=NONE,IV=0x1\n"
        );
    }
}
