//! A playlist's text lines before m3u8-rs reads them: what players accept
//! is read the same (a UTF-8 BOM and blank lines before `#EXTM3U`; LF,
//! CRLF and CR-only line endings), and the values m3u8-rs would swallow
//! (an `#EXTINF` of `-2` or `NaN` read as 0, `1e308` as 1, a media
//! sequence of `-1` or a byte range of `@` ignored) are refused, naming
//! the line and the value. One pass, one copy.

use super::error::PlaylistError;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The longest value a message quotes, in characters.
const SHOWN_VALUE: usize = 40;

/// `body` with every line ending `\n` and nothing before `#EXTM3U`, its
/// values checked. `shown` names the playlist in the error.
pub fn prepared(body: &[u8], shown: &str) -> Result<Vec<u8>, PlaylistError> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let mut out = Vec::with_capacity(body.len() + 1);
    let mut started = false;
    for (line, number) in lines(body).zip(1usize..) {
        if !started {
            let line = line.trim_ascii_start();
            if line.is_empty() {
                continue;
            }
            if !line.starts_with(b"#EXTM3U") {
                return Err(not_hls(body, shown));
            }
            started = true;
        }
        checked(line).map_err(|bad| bad.at(shown, number))?;
        out.extend_from_slice(line);
        if key_without_iv(line) {
            // m3u8-rs 6 refuses METHOD=NONE without an IV (its check is
            // the wrong way round) and then skips the tag, which would
            // leave the key before it in force.
            out.extend_from_slice(b",IV=0x0");
        }
        out.push(b'\n');
    }
    if !started {
        return Err(PlaylistError::NotHls(shown.into()));
    }
    Ok(out)
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
fn checked(line: &[u8]) -> Result<(), Bad> {
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
