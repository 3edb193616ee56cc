//! Telling an MPEG-DASH manifest (MPD) by what it holds: XML whose root
//! element is `MPD` (with or without a namespace prefix), whatever the URL
//! that served it is called. A playlist job's body that is one is read
//! as DASH (`mpd`), not as HLS.

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Whether `body` is XML whose root element is `MPD`: what may come
/// before the root (a BOM, white space, the XML declaration, processing
/// instructions, comments, a DOCTYPE) is skipped.
pub fn is_mpd(body: &[u8]) -> bool {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    root_element(body).is_some_and(|name| local_name(name) == b"MPD")
}

/// The name of the first element of an XML text, when it is one.
fn root_element(mut rest: &[u8]) -> Option<&[u8]> {
    loop {
        rest = rest.trim_ascii_start();
        rest = if let Some(r) = rest.strip_prefix(b"<?") {
            after(r, b"?>")?
        } else if let Some(r) = rest.strip_prefix(b"<!--") {
            after(r, b"-->")?
        } else if let Some(r) = rest.strip_prefix(b"<!") {
            after(r, b">")?
        } else {
            break;
        };
    }
    let tag = rest.strip_prefix(b"<")?;
    let end = tag
        .iter()
        .position(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))?;
    (end > 0).then(|| &tag[..end])
}

/// The text after the first `end` in `text`.
fn after<'a>(text: &'a [u8], end: &[u8]) -> Option<&'a [u8]> {
    let at = text.windows(end.len()).position(|w| w == end)?;
    text.get(at + end.len()..)
}

/// `MPD` of `mpd:MPD`.
fn local_name(name: &[u8]) -> &[u8] {
    name.rsplit(|&b| b == b':').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mpd_is_told_by_its_root_element() {
        let mpd = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
                   <!-- made by a packager -->\n<!DOCTYPE MPD>\n\
                   <MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\">\n</MPD>\n";
        assert!(is_mpd(mpd.as_bytes()));
        assert!(is_mpd(
            b"<mpd:MPD xmlns:mpd=\"urn:mpeg:dash:schema:mpd:2011\">"
        ));
        assert!(is_mpd(b"\r\n  <MPD>"));
        assert!(is_mpd(b"<MPD/>"));
    }

    #[test]
    fn other_text_is_not_an_mpd() {
        for body in [
            &b"#EXTM3U\n#EXTINF:2,\na.ts\n"[..],
            b"<html><body>MPD</body></html>",
            b"<?xml version=\"1.0\"?><SmoothStreamingMedia>",
            b"<MPDX>",
            b"<MPD",
            b"<!-- <MPD> never closed",
            b"MPD",
            b"",
        ] {
            assert!(!is_mpd(body), "{}", String::from_utf8_lossy(body));
        }
    }
}
