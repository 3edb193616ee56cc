//! Finding the segment index in the URL of one video segment.
//!
//! `snatch new` is given the URL of one segment (or of two neighbouring
//! segments) and has to turn it into a job template such as
//! `https://cdn.example.com/vod/abc/{{index}}.ts` with a `padding`.
//!
//! # One URL ([`detect_one`])
//!
//! Only the last segment of the URL path is searched; the scheme, the host,
//! the directories, the query string and the fragment are kept verbatim.
//! Digit runs (`[0-9]+`) in that segment are the candidates; runs too long to
//! fit a `u64` are not candidates.
//!
//! 1. No candidate: [`DetectError::NoNumber`].
//! 2. One candidate: that is the index.
//! 3. Several: candidates that look like a *label* are set aside. A label is a
//!    run glued to a single ASCII letter, on either side, that is not itself
//!    glued to another letter: `v1`, `a1`, `b2000000`, `2500k`, `1080p`.
//!    Runs glued to a whole word (`segment12`, `index0`, `fileSequence7`) are
//!    not labels. If exactly one non-label run is left, it is the index.
//! 4. Otherwise, among the runs left (all of them if every run is a label), the
//!    one zero-padded run (`00012`, but not a lone `0`) is the index if there
//!    is exactly one.
//! 5. Otherwise: [`DetectError::Ambiguous`] listing the runs left; the user is
//!    asked for the URL of a neighbouring segment.
//!
//! Padding: the digit count when the number has a leading zero and more than
//! one digit (`000123` gives 6, `000` gives 3), otherwise 0. A lone `0` gives
//! padding 0, which renders exactly like padding 1.
//!
//! # Two URLs ([`detect_two`])
//!
//! Both whole URLs (host, path, query and fragment) are cut into digit runs and
//! non-digit runs. They must have the same runs except for exactly one digit
//! run. The values may differ by any amount (neighbours are a hint, not a
//! requirement), but not be equal. The template is built from the first URL
//! and the index is the first URL's number.
//!
//! Padding with two URLs: if either number is zero-padded (leading zero, more
//! than one digit), the padding is its width (`0099`/`0100` gives 4,
//! `099`/`100` gives 3); both numbers must then agree with that width (`0099`
//! and `100`, or `0099` and `00100`, are [`DetectError::DifferentShape`]).
//! Otherwise the padding is 0 (`9`/`10`, `100`/`101`).
//!
//! URLs must be `http://` or `https://`, without whitespace, and must not
//! contain `{{` or `}}` (they would clash with the `{{index}}` placeholder of
//! the Handlebars template). Leading and trailing whitespace is trimmed.

use std::fmt;
use std::ops::Range;

/// Where the segment index was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// The URL with the index replaced by `{{index}}`.
    pub template: String,
    /// Width to zero-pad the index to; 0 for no padding.
    pub padding: u32,
    /// The number found (in the first URL when two were given).
    pub index: u64,
}

/// A number that could be the segment index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Byte offset of the number in the (trimmed) URL.
    pub start: usize,
    /// The digits as written in the URL.
    pub digits: String,
    /// The URL with the number marked, e.g. `https://h/seg-[12]-v1.ts`.
    pub marked: String,
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.marked)
    }
}

/// Why no segment index could be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DetectError {
    /// The text is not an `http(s)://` URL snatch can template.
    #[error("`{url}` is not a usable segment URL: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    /// The last path segment holds no number.
    #[error(
        "the file name at the end of `{url}` has no number to use as the segment index; \
         give the URLs of two neighbouring segments so the index can be found elsewhere in the URL"
    )]
    NoNumber { url: String },
    /// Several numbers could be the index.
    #[error(
        "cannot tell which number is the segment index, it could be any of {}; \
         give the URLs of two neighbouring segments, which differ only in the index",
        list_candidates(.candidates)
    )]
    Ambiguous { candidates: Vec<Candidate> },
    /// Two URLs that do not differ in any number.
    #[error(
        "`{a}` and `{b}` do not differ in any number, so the segment index cannot be found; \
         give the URLs of two different segments"
    )]
    NotNeighbours { a: String, b: String },
    /// Two URLs that differ in something else than one number.
    #[error(
        "`{a}` and `{b}` differ in more than the segment number ({detail}), \
         so they do not look like two segments of the same stream"
    )]
    DifferentShape {
        a: String,
        b: String,
        detail: String,
    },
}

fn list_candidates(candidates: &[Candidate]) -> String {
    candidates
        .iter()
        .map(|c| format!("`{}`", c.marked))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds the segment index in the URL of a single segment (see the module docs).
pub fn detect_one(url: &str) -> Result<Detected, DetectError> {
    let url = url.trim();
    let parts = parse_url(url).map_err(|reason| DetectError::InvalidUrl {
        url: url.to_string(),
        reason,
    })?;
    let path = &url[parts.path.clone()];
    let file_start = parts.path.start + path.rfind('/').map_or(0, |i| i + 1);
    let all: Vec<Run> = runs(url, file_start..parts.path.end)
        .into_iter()
        .filter(|r| r.digit && url[r.range()].parse::<u64>().is_ok())
        .collect();

    let chosen = match all.as_slice() {
        [] => {
            return Err(DetectError::NoNumber {
                url: url.to_string(),
            })
        }
        [only] => *only,
        _ => {
            let bytes = url.as_bytes();
            let free: Vec<Run> = all
                .iter()
                .copied()
                .filter(|r| !is_label(bytes, *r))
                .collect();
            if let [only] = free.as_slice() {
                *only
            } else {
                let pool = if free.is_empty() { all } else { free };
                let padded: Vec<Run> = pool
                    .iter()
                    .copied()
                    .filter(|r| is_padded(&url[r.range()]))
                    .collect();
                match padded.as_slice() {
                    [only] => *only,
                    _ => {
                        return Err(DetectError::Ambiguous {
                            candidates: pool.iter().map(|r| candidate(url, *r)).collect(),
                        })
                    }
                }
            }
        }
    };
    let digits = &url[chosen.range()];
    Ok(Detected {
        template: template(url, chosen),
        padding: if is_padded(digits) { width(digits) } else { 0 },
        index: digits.parse().expect("filtered to numbers that fit a u64"),
    })
}

/// Finds the segment index by comparing the URLs of two segments of the same
/// stream (see the module docs). The template and index come from `a`.
pub fn detect_two(a: &str, b: &str) -> Result<Detected, DetectError> {
    let (a, b) = (a.trim(), b.trim());
    for url in [a, b] {
        parse_url(url).map_err(|reason| DetectError::InvalidUrl {
            url: url.to_string(),
            reason,
        })?;
    }
    let shape = |detail: String| DetectError::DifferentShape {
        a: a.to_string(),
        b: b.to_string(),
        detail,
    };
    let ra = runs(a, 0..a.len());
    let rb = runs(b, 0..b.len());

    let mut differing = Vec::new();
    for i in 0..ra.len().max(rb.len()) {
        match (ra.get(i), rb.get(i)) {
            (Some(x), Some(y)) if x.digit && y.digit => {
                if a[x.range()] != b[y.range()] {
                    differing.push((*x, *y));
                }
            }
            (Some(x), Some(y)) if a[x.range()] == b[y.range()] => {}
            (x, y) => {
                let tx = x.map_or("", |r| &a[r.range()]);
                let ty = y.map_or("", |r| &b[r.range()]);
                let (mx, my) = differing_parts(tx, ty);
                return Err(shape(format!("{} vs {}", show(mx), show(my))));
            }
        }
    }

    let (x, y) = match differing.as_slice() {
        [] => {
            return Err(DetectError::NotNeighbours {
                a: a.to_string(),
                b: b.to_string(),
            })
        }
        [one] => *one,
        many => {
            return Err(DetectError::Ambiguous {
                candidates: many.iter().map(|(x, _)| candidate(a, *x)).collect(),
            })
        }
    };
    let (da, db) = (&a[x.range()], &b[y.range()]);
    let (Ok(va), Ok(vb)) = (da.parse::<u64>(), db.parse::<u64>()) else {
        return Err(shape(format!(
            "`{da}` vs `{db}` is too large to be a segment index"
        )));
    };
    let padding = match (is_padded(da), is_padded(db)) {
        (false, false) => 0,
        (true, true) if da.len() == db.len() => width(da),
        (true, false) if db.len() >= da.len() => width(da),
        (false, true) if da.len() >= db.len() => width(db),
        _ => {
            return Err(shape(format!(
                "`{da}` and `{db}` are zero-padded to different widths"
            )))
        }
    };
    if va == vb {
        return Err(DetectError::NotNeighbours {
            a: a.to_string(),
            b: b.to_string(),
        });
    }
    Ok(Detected {
        template: template(a, x),
        padding,
        index: va,
    })
}

/// A run of ASCII digits or of non-digits, as a byte range of the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    start: usize,
    end: usize,
    digit: bool,
}

impl Run {
    fn range(self) -> Range<usize> {
        self.start..self.end
    }
}

/// Cuts `s[within]` into alternating digit and non-digit runs.
fn runs(s: &str, within: Range<usize>) -> Vec<Run> {
    let bytes = s.as_bytes();
    let mut out: Vec<Run> = Vec::new();
    for i in within {
        let digit = bytes[i].is_ascii_digit();
        match out.last_mut() {
            Some(last) if last.digit == digit => last.end = i + 1,
            _ => out.push(Run {
                start: i,
                end: i + 1,
                digit,
            }),
        }
    }
    out
}

/// The parts of `x` and `y` left once their common prefix and suffix are cut.
fn differing_parts<'a>(x: &'a str, y: &'a str) -> (&'a str, &'a str) {
    let prefix = x
        .char_indices()
        .zip(y.chars())
        .find(|((_, cx), cy)| cx != cy)
        .map_or(x.len().min(y.len()), |((i, _), _)| i);
    let max_suffix = x.len().min(y.len()) - prefix;
    let mut suffix = 0;
    for (cx, cy) in x.chars().rev().zip(y.chars().rev()) {
        if cx != cy || suffix + cx.len_utf8() > max_suffix {
            break;
        }
        suffix += cx.len_utf8();
    }
    (&x[prefix..x.len() - suffix], &y[prefix..y.len() - suffix])
}

fn show(part: &str) -> String {
    if part.is_empty() {
        "nothing".to_string()
    } else {
        format!("`{part}`")
    }
}

/// A digit run glued to a single letter (`v1`, `b2000000`, `2500k`, `1080p`).
fn is_label(bytes: &[u8], run: Run) -> bool {
    let letter = |i: Option<usize>| {
        i.and_then(|i| bytes.get(i))
            .is_some_and(u8::is_ascii_alphabetic)
    };
    let before = run.start.checked_sub(1);
    let after = run.end;
    (letter(before) && !letter(before.and_then(|i| i.checked_sub(1))))
        || (letter(Some(after)) && !letter(Some(after + 1)))
}

fn is_padded(digits: &str) -> bool {
    digits.len() > 1 && digits.starts_with('0')
}

fn width(digits: &str) -> u32 {
    u32::try_from(digits.len()).unwrap_or(u32::MAX)
}

fn template(url: &str, run: Run) -> String {
    format!("{}{{{{index}}}}{}", &url[..run.start], &url[run.end..])
}

fn candidate(url: &str, run: Run) -> Candidate {
    Candidate {
        start: run.start,
        digits: url[run.range()].to_string(),
        marked: format!(
            "{}[{}]{}",
            &url[..run.start],
            &url[run.range()],
            &url[run.end..]
        ),
    }
}

struct UrlParts {
    /// Byte range of the path (up to `?`, `#` or the end).
    path: Range<usize>,
}

fn parse_url(url: &str) -> Result<UrlParts, &'static str> {
    if url.is_empty() {
        return Err("it is empty");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace or control characters");
    }
    if url.contains("{{") || url.contains("}}") {
        return Err("it contains `{{` or `}}`, which would clash with the `{{index}}` placeholder");
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("it does not start with http:// or https://");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err("only http:// and https:// URLs are supported");
    }
    let rest_start = scheme.len() + 3;
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if host_of(&rest[..auth_end]).is_empty() {
        return Err("it has no host");
    }
    let path_start = rest_start + auth_end;
    let path_end = url[path_start..]
        .find(['?', '#'])
        .map_or(url.len(), |i| path_start + i);
    Ok(UrlParts {
        path: path_start..path_end,
    })
}

/// The host of an authority (`user@host:port`), brackets kept for IPv6.
pub(super) fn host_of(authority: &str) -> &str {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port.find(']').map_or(host_port, |i| &host_port[..=i]);
    }
    host_port.split(':').next().unwrap_or_default()
}

pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    enum Want {
        Found(&'static str, u32, u64),
        NoNumber,
        Ambiguous(&'static [&'static str]),
        Invalid,
        NotNeighbours,
        DifferentShape,
    }
    use Want::*;

    fn check(what: &str, got: Result<Detected, DetectError>, want: &Want) {
        match (want, &got) {
            (Found(template, padding, index), Ok(d)) => assert_eq!(
                d,
                &Detected {
                    template: template.to_string(),
                    padding: *padding,
                    index: *index
                },
                "{what}"
            ),
            (NoNumber, Err(DetectError::NoNumber { .. }))
            | (Invalid, Err(DetectError::InvalidUrl { .. }))
            | (NotNeighbours, Err(DetectError::NotNeighbours { .. }))
            | (DifferentShape, Err(DetectError::DifferentShape { .. })) => {}
            (Ambiguous(marked), Err(DetectError::Ambiguous { candidates })) => {
                let got: Vec<&str> = candidates.iter().map(|c| c.marked.as_str()).collect();
                assert_eq!(&got, marked, "{what}");
                for c in candidates {
                    assert_eq!(
                        &c.marked[c.start + 1..c.start + 1 + c.digits.len()],
                        c.digits
                    );
                }
            }
            _ => panic!("{what}: wanted {want:?}, got {got:?}"),
        }
    }

    #[test]
    fn one_url_table() {
        let table: &[(&str, Want)] = &[
            (
                "https://cdn.example.com/vod/abc/000123.ts",
                Found("https://cdn.example.com/vod/abc/{{index}}.ts", 6, 123),
            ),
            (
                "https://cdn.example.com/2024/05/17/lecture-01/segment_000123.ts",
                Found(
                    "https://cdn.example.com/2024/05/17/lecture-01/segment_{{index}}.ts",
                    6,
                    123,
                ),
            ),
            (
                "https://cdn3.example.com/hls/1080p/00042.ts",
                Found("https://cdn3.example.com/hls/1080p/{{index}}.ts", 5, 42),
            ),
            (
                "https://vod-12.akamaized.example/i/course/,480,720,1080,.mp4.csmil/seg-12-v1-a1.ts",
                Found(
                    "https://vod-12.akamaized.example/i/course/,480,720,1080,.mp4.csmil/seg-{{index}}-v1-a1.ts",
                    0,
                    12,
                ),
            ),
            (
                "https://cdn.example.com/vod/abc/seg-12-v1.ts",
                Found("https://cdn.example.com/vod/abc/seg-{{index}}-v1.ts", 0, 12),
            ),
            (
                "https://live.example.net/hls/channel/media_b2000000_123.ts",
                Found("https://live.example.net/hls/channel/media_b2000000_{{index}}.ts", 0, 123),
            ),
            (
                "https://devstreaming.example.com/videos/wwdc/2023/10036/hls/fileSequence123.ts",
                Found(
                    "https://devstreaming.example.com/videos/wwdc/2023/10036/hls/fileSequence{{index}}.ts",
                    0,
                    123,
                ),
            ),
            (
                "https://cdn.example.com/v/abc/index0_00012.ts",
                Found("https://cdn.example.com/v/abc/index0_{{index}}.ts", 5, 12),
            ),
            (
                "https://cdn.example.com/v/abc/video_2500k_00042.ts",
                Found("https://cdn.example.com/v/abc/video_2500k_{{index}}.ts", 5, 42),
            ),
            (
                "https://dash.example.com/movie/chunk-stream0-00012.m4s",
                Found("https://dash.example.com/movie/chunk-stream0-{{index}}.m4s", 5, 12),
            ),
            (
                "https://dash.example.com/movie/v1/segment-17.m4s",
                Found("https://dash.example.com/movie/v1/segment-{{index}}.m4s", 0, 17),
            ),
            (
                "https://cdn.example.com/vod/abc/seg12_v3.m4s",
                Found("https://cdn.example.com/vod/abc/seg{{index}}_v3.m4s", 0, 12),
            ),
            (
                "https://cdn.example.com/vod/abc/000123.ts?token=abc123&expires=1700000000",
                Found(
                    "https://cdn.example.com/vod/abc/{{index}}.ts?token=abc123&expires=1700000000",
                    6,
                    123,
                ),
            ),
            (
                "https://cdn.example.com/vod/abc/123.ts#t=10",
                Found("https://cdn.example.com/vod/abc/{{index}}.ts#t=10", 0, 123),
            ),
            (
                "https://cdn.example.com/vod/abc/9.ts",
                Found("https://cdn.example.com/vod/abc/{{index}}.ts", 0, 9),
            ),
            (
                "https://cdn.example.com/vod/abc/0.ts",
                Found("https://cdn.example.com/vod/abc/{{index}}.ts", 0, 0),
            ),
            (
                "https://cdn.example.com/vod/abc/segment-000.ts",
                Found("https://cdn.example.com/vod/abc/segment-{{index}}.ts", 3, 0),
            ),
            (
                "  https://cdn.example.com:8443/hls/abc/1080p_000007.ts \n",
                Found("https://cdn.example.com:8443/hls/abc/1080p_{{index}}.ts", 6, 7),
            ),
            (
                "HTTPS://user:pw@CDN.example.com/abc/part12",
                Found("HTTPS://user:pw@CDN.example.com/abc/part{{index}}", 0, 12),
            ),
            // No number in the file name: the query and directories are not searched.
            ("https://cdn.example.com/live/abc/segment.ts?seq=12&token=abc123", NoNumber),
            ("https://cdn.example.com/2024/05/17/", NoNumber),
            ("https://cdn3.example.com", NoNumber),
            // Ambiguous: several plausible numbers.
            (
                "https://cdn.example.com/v/abc/stream_1_12.ts",
                Ambiguous(&[
                    "https://cdn.example.com/v/abc/stream_[1]_12.ts",
                    "https://cdn.example.com/v/abc/stream_1_[12].ts",
                ]),
            ),
            (
                "https://akamai.example.net/live/ch7/segment123_3_av.ts?null=0",
                Ambiguous(&[
                    "https://akamai.example.net/live/ch7/segment[123]_3_av.ts?null=0",
                    "https://akamai.example.net/live/ch7/segment123_[3]_av.ts?null=0",
                ]),
            ),
            (
                "https://cdn.example.com/v/abc/720p_3000_12.ts",
                Ambiguous(&[
                    "https://cdn.example.com/v/abc/720p_[3000]_12.ts",
                    "https://cdn.example.com/v/abc/720p_3000_[12].ts",
                ]),
            ),
            (
                "https://cdn.example.com/v/abc/s01e02.ts",
                Ambiguous(&[
                    "https://cdn.example.com/v/abc/s[01]e02.ts",
                    "https://cdn.example.com/v/abc/s01e[02].ts",
                ]),
            ),
            ("cdn.example.com/vod/abc/000123.ts", Invalid),
            ("ftp://cdn.example.com/vod/abc/000123.ts", Invalid),
            ("https:///vod/abc/000123.ts", Invalid),
            ("https://cdn.example.com/vod/a b/000123.ts", Invalid),
            ("https://cdn.example.com/vod/abc/{{index}}.ts", Invalid),
            ("", Invalid),
        ];
        for (url, want) in table {
            check(url, detect_one(url), want);
        }
    }

    #[test]
    fn two_url_table() {
        let table: &[(&str, &str, Want)] = &[
            (
                "https://cdn.example.com/live/abc/segment.ts?seq=12&token=abc123",
                "https://cdn.example.com/live/abc/segment.ts?seq=13&token=abc123",
                Found(
                    "https://cdn.example.com/live/abc/segment.ts?seq={{index}}&token=abc123",
                    0,
                    12,
                ),
            ),
            (
                "https://cdn.example.com/vod/abc/chunk/000123/video.ts",
                "https://cdn.example.com/vod/abc/chunk/000124/video.ts",
                Found("https://cdn.example.com/vod/abc/chunk/{{index}}/video.ts", 6, 123),
            ),
            (
                "https://cdn.example.com/v/abc/stream_1_12.ts",
                "https://cdn.example.com/v/abc/stream_1_13.ts",
                Found("https://cdn.example.com/v/abc/stream_1_{{index}}.ts", 0, 12),
            ),
            (
                "https://akamai.example.net/live/ch7/segment123_3_av.ts?null=0",
                "https://akamai.example.net/live/ch7/segment124_3_av.ts?null=0",
                Found("https://akamai.example.net/live/ch7/segment{{index}}_3_av.ts?null=0", 0, 123),
            ),
            (
                "https://cdn.example.com/2024/05/17/abc/0099.ts?token=abc123&expires=1700000000",
                "https://cdn.example.com/2024/05/17/abc/0100.ts?token=abc123&expires=1700000000",
                Found(
                    "https://cdn.example.com/2024/05/17/abc/{{index}}.ts?token=abc123&expires=1700000000",
                    4,
                    99,
                ),
            ),
            (
                "https://cdn.example.com/abc/099.ts",
                "https://cdn.example.com/abc/100.ts",
                Found("https://cdn.example.com/abc/{{index}}.ts", 3, 99),
            ),
            (
                "https://cdn.example.com/abc/seg-9.ts",
                "https://cdn.example.com/abc/seg-10.ts",
                Found("https://cdn.example.com/abc/seg-{{index}}.ts", 0, 9),
            ),
            // Either order: the template and index come from the first URL.
            (
                "https://cdn.example.com/abc/seg-13.ts",
                "https://cdn.example.com/abc/seg-12.ts",
                Found("https://cdn.example.com/abc/seg-{{index}}.ts", 0, 13),
            ),
            // Not adjacent: still accepted.
            (
                "https://cdn.example.com/abc/seg-10.ts",
                "https://cdn.example.com/abc/seg-20.ts",
                Found("https://cdn.example.com/abc/seg-{{index}}.ts", 0, 10),
            ),
            (
                "https://cdn.example.com/abc/00.m4s",
                "https://cdn.example.com/abc/01.m4s",
                Found("https://cdn.example.com/abc/{{index}}.m4s", 2, 0),
            ),
            // Both the host number and the index change.
            (
                "https://cdn3.example.com/abc/seg-12.ts",
                "https://cdn4.example.com/abc/seg-13.ts",
                Ambiguous(&[
                    "https://cdn[3].example.com/abc/seg-12.ts",
                    "https://cdn3.example.com/abc/seg-[12].ts",
                ]),
            ),
            (
                "https://cdn.example.com/abc/seg-12.ts",
                "https://cdn.example.com/abc/seg-12.m4s",
                DifferentShape,
            ),
            (
                "https://cdn.example.com/abc/seg-12.ts?token=abc",
                "https://cdn.example.com/abc/seg-13.ts?token=xyz",
                DifferentShape,
            ),
            (
                "http://cdn.example.com/abc/seg-12.ts",
                "https://cdn.example.com/abc/seg-13.ts",
                DifferentShape,
            ),
            (
                "https://cdn.example.com/abc/seg-12.ts",
                "https://cdn.example.com/abc/seg-13.ts?x=1",
                DifferentShape,
            ),
            (
                "https://cdn.example.com/abc/0099.ts",
                "https://cdn.example.com/abc/100.ts",
                DifferentShape,
            ),
            (
                "https://cdn.example.com/abc/seg-12.ts",
                "https://cdn.example.com/abc/seg-12.ts",
                NotNeighbours,
            ),
            (
                "https://cdn.example.com/abc/seg-012.ts",
                "https://cdn.example.com/abc/seg-0012.ts",
                DifferentShape,
            ),
            ("https://cdn.example.com/abc/seg-12.ts", "not a url 13", Invalid),
        ];
        for (a, b, want) in table {
            check(&format!("{a} + {b}"), detect_two(a, b), want);
        }
    }

    #[test]
    fn error_messages() {
        let err = detect_one("https://cdn.example.com/v/abc/stream_1_12.ts").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot tell which number is the segment index, it could be any of \
             `https://cdn.example.com/v/abc/stream_[1]_12.ts`, \
             `https://cdn.example.com/v/abc/stream_1_[12].ts`; \
             give the URLs of two neighbouring segments, which differ only in the index"
        );
        let err = detect_one("https://cdn.example.com/live/abc/segment.ts").unwrap_err();
        assert!(err.to_string().contains("no number"), "{err}");
        let err = detect_one("ftp://x/1.ts").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`ftp://x/1.ts` is not a usable segment URL: only http:// and https:// URLs are supported"
        );
        let err = detect_two("https://h/a/1.ts", "https://h/b/2.ts").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`https://h/a/1.ts` and `https://h/b/2.ts` differ in more than the segment number \
             (`a` vs `b`), so they do not look like two segments of the same stream"
        );
    }

    fn render(template: &str, padding: u32, index: u64) -> String {
        template.replace(
            "{{index}}",
            &format!("{index:0width$}", width = padding as usize),
        )
    }

    proptest::proptest! {
        #[test]
        fn never_panics(a in "\\PC*", b in "\\PC*") {
            let _ = detect_one(&a);
            let _ = detect_two(&a, &b);
            let _ = detect_two(&format!("https://h/{a}"), &format!("https://h/{b}"));
        }

        #[test]
        fn templates_render_back_the_urls(
            host in "[a-z0-9-]{1,10}(\\.[a-z0-9]{1,5}){0,2}",
            dirs in "(/[a-zA-Z0-9é_.-]{1,8}){0,3}",
            stem in "[a-zA-Z_-]{0,6}",
            ext in "(\\.(ts|m4s|aac))?",
            query in "(\\?[a-z0-9=&]{0,12})?",
            n in 0u64..1_000_000,
            pad in 0usize..8,
        ) {
            let url = |n: u64| format!("https://{host}{dirs}/{stem}{n:0pad$}{ext}{query}");
            let (a, b) = (url(n), url(n + 1));
            if let Ok(d) = detect_one(&a) {
                proptest::prop_assert_eq!(render(&d.template, d.padding, d.index), a.clone());
            }
            let d = detect_two(&a, &b).unwrap();
            proptest::prop_assert_eq!(d.index, n);
            proptest::prop_assert_eq!(render(&d.template, d.padding, n), a);
            proptest::prop_assert_eq!(render(&d.template, d.padding, n + 1), b);
        }
    }
}
