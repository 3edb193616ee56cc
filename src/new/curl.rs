//! Reading a browser's "Copy as cURL" command: the words (split by
//! [`super::shell`], which says how each shell's quoting is read) as curl's
//! options. Which headers a job keeps is [`super::headers`]' business.
//!
//! # Options
//!
//! The first word must be `curl` (or `curl.exe`, any path). Understood:
//! `-H/--header` (a `Name;` header is kept with an empty value, `Name:` with
//! no value is dropped as curl drops it), `-b/--cookie` (a `Cookie` header),
//! `-A/--user-agent`, `-e/--referer` (`;auto` removed), `-u/--user`
//! (`Authorization: Basic …`), `--oauth2-bearer` (`Authorization: Bearer …`),
//! `--url`, `-X/--request GET`. Request bodies (`-d`, `--data*`, `--json`,
//! `-F`, `-T`), `-I/--head` and any other `-X` method are
//! [`CurlError::NotGet`]. Common options with a value (`-o`, `-m`, `-x`,
//! `--retry`…) are skipped with their value; other options (`--compressed`,
//! `-L`, `-k`, `-s`, `--http2`…, and unknown ones) are skipped alone. Short
//! options may be grouped (`-sSL`) and values may be glued (`-HName: v`).
//!
//! The URL is the first positional argument (or `--url` value) containing
//! `://`, or failing that the first one. A bare `;`, `&`, `&&`, `|` or `||`
//! word ends the command ("Copy all as cURL" joins several with ` ;`/` &`), so
//! only the first command is read.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::shell::{self, ShellError};

/// The parts of a copied request that matter to snatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurlRequest {
    pub url: String,
    /// Headers in command order, names in their original case.
    pub headers: Vec<(String, String)>,
}

/// Why a cURL command could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurlError {
    #[error("the cURL command is empty")]
    Empty,
    #[error(
        "this does not look like a cURL command: it starts with `{first}` instead of `curl`; \
         in the browser's network panel, right-click the request and use \"Copy as cURL\""
    )]
    NotCurl { first: String },
    #[error("the cURL command has an unterminated {quote} quote; was it copied completely?")]
    UnterminatedQuote { quote: &'static str },
    #[error("the option `{flag}` needs a value, but the cURL command ends there")]
    MissingValue { flag: String },
    #[error(
        "snatch only makes GET requests, but the cURL command uses `{flag}`; \
         copy the request of a video segment instead"
    )]
    NotGet { flag: String },
    #[error("the option `{flag}` is not supported: {reason}")]
    Unsupported { flag: String, reason: &'static str },
    #[error("the cURL command has no URL")]
    NoUrl,
}

impl From<ShellError> for CurlError {
    fn from(e: ShellError) -> CurlError {
        match e {
            ShellError::UnterminatedQuote { quote } => CurlError::UnterminatedQuote { quote },
        }
    }
}

/// Parses a "Copy as cURL" command (bash, cmd.exe or PowerShell flavour; see
/// the module docs).
pub fn parse_curl(cmd: &str) -> Result<CurlRequest, CurlError> {
    let words = shell::split(cmd)?;
    let mut words = words.into_iter().skip_while(|w| w == "&");
    let first = words.next().ok_or(CurlError::Empty)?;
    if !is_curl(&first) {
        return Err(CurlError::NotCurl { first });
    }

    let mut req = Parsed::default();
    let mut only_positional = false;
    while let Some(word) = words.next() {
        if !only_positional && matches!(word.as_str(), ";" | "&" | "&&" | "|" | "||") {
            // "Copy all as cURL" joins commands with ` ;` (bash) or ` &` (cmd):
            // only the first one is read.
            break;
        }
        if only_positional || !word.starts_with('-') || word == "-" {
            req.urls.push(word);
        } else if word == "--" {
            only_positional = true;
        } else if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_string())),
                None => (long, None),
            };
            let (action, takes_value) = long_option(name);
            let flag = format!("--{name}");
            let value = if takes_value {
                Some(
                    inline
                        .or_else(|| words.next())
                        .ok_or_else(|| CurlError::MissingValue { flag: flag.clone() })?,
                )
            } else {
                None
            };
            req.apply(action, &flag, value)?;
        } else {
            let cluster = &word[1..];
            for (i, c) in cluster.char_indices() {
                let (action, takes_value) = short_option(c);
                let flag = format!("-{c}");
                if !takes_value {
                    req.apply(action, &flag, None)?;
                    continue;
                }
                let rest = &cluster[i + c.len_utf8()..];
                let value = if rest.is_empty() {
                    words
                        .next()
                        .ok_or_else(|| CurlError::MissingValue { flag: flag.clone() })?
                } else {
                    rest.to_string()
                };
                req.apply(action, &flag, Some(value))?;
                break;
            }
        }
    }

    let url = req
        .urls
        .iter()
        .find(|u| u.contains("://"))
        .or(req.urls.first())
        .ok_or(CurlError::NoUrl)?
        .clone();
    Ok(CurlRequest {
        url,
        headers: req.headers,
    })
}

#[derive(Default)]
struct Parsed {
    urls: Vec<String>,
    headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Header,
    Cookie,
    UserAgent,
    Referer,
    Url,
    Request,
    User,
    Bearer,
    Body,
    Head,
    Ignore,
}

impl Parsed {
    fn apply(
        &mut self,
        action: Action,
        flag: &str,
        value: Option<String>,
    ) -> Result<(), CurlError> {
        let value = value.unwrap_or_default();
        match action {
            Action::Header => {
                if value.starts_with('@') {
                    return Err(CurlError::Unsupported {
                        flag: flag.to_string(),
                        reason: "reading headers from a file is not supported; pass them with -H 'Name: value'",
                    });
                }
                if let Some(header) = parse_header(&value) {
                    self.headers.push(header);
                }
            }
            Action::Cookie => {
                if !value.contains('=') {
                    return Err(CurlError::Unsupported {
                        flag: flag.to_string(),
                        reason: "reading cookies from a file is not supported; pass the cookies as 'name=value; name2=value2'",
                    });
                }
                self.headers.push(("Cookie".to_string(), value));
            }
            Action::UserAgent => self.push_nonempty("User-Agent", value),
            Action::Referer => {
                let value = value.strip_suffix(";auto").unwrap_or(&value).to_string();
                self.push_nonempty("Referer", value);
            }
            Action::Url => self.urls.push(value),
            Action::Request => {
                if !value.eq_ignore_ascii_case("GET") {
                    return Err(CurlError::NotGet {
                        flag: format!("{flag} {value}"),
                    });
                }
            }
            Action::User => {
                let credentials = if value.contains(':') {
                    value
                } else {
                    format!("{value}:")
                };
                self.headers.push((
                    "Authorization".to_string(),
                    format!("Basic {}", BASE64.encode(credentials.as_bytes())),
                ));
            }
            Action::Bearer => self.push_nonempty("Authorization", format!("Bearer {value}")),
            Action::Body | Action::Head => {
                return Err(CurlError::NotGet {
                    flag: flag.to_string(),
                })
            }
            Action::Ignore => {}
        }
        Ok(())
    }

    fn push_nonempty(&mut self, name: &str, value: String) {
        if !value.is_empty() {
            self.headers.push((name.to_string(), value));
        }
    }
}

/// `Name: value` as curl's `-H` reads it; `None` for lines curl would not send.
fn parse_header(line: &str) -> Option<(String, String)> {
    match line.split_once(':') {
        Some((name, value)) => {
            let (name, value) = (name.trim(), value.trim());
            (!name.is_empty() && !value.is_empty()).then(|| (name.to_string(), value.to_string()))
        }
        None => {
            let name = line.trim().strip_suffix(';')?.trim();
            (!name.is_empty()).then(|| (name.to_string(), String::new()))
        }
    }
}

/// Action of a long option, and whether it takes a value.
fn long_option(name: &str) -> (Action, bool) {
    const IGNORED_WITH_VALUE: &[&str] = &[
        "output",
        "output-dir",
        "connect-timeout",
        "max-time",
        "retry",
        "retry-delay",
        "retry-max-time",
        "proxy",
        "proxy-user",
        "proxy-header",
        "preproxy",
        "socks4",
        "socks4a",
        "socks5",
        "socks5-hostname",
        "noproxy",
        "resolve",
        "connect-to",
        "cacert",
        "capath",
        "cert",
        "cert-type",
        "key",
        "key-type",
        "pass",
        "pinnedpubkey",
        "ciphers",
        "tls13-ciphers",
        "curves",
        "tls-max",
        "range",
        "write-out",
        "dump-header",
        "cookie-jar",
        "continue-at",
        "speed-limit",
        "speed-time",
        "limit-rate",
        "max-redirs",
        "max-filesize",
        "interface",
        "local-port",
        "config",
        "dns-servers",
        "doh-url",
        "proto",
        "proto-redir",
        "proto-default",
        "trace",
        "trace-ascii",
        "stderr",
        "time-cond",
        "unix-socket",
        "abstract-unix-socket",
        "aws-sigv4",
        "expect100-timeout",
        "happy-eyeballs-timeout-ms",
        "keepalive-time",
        "variable",
        "request-target",
        "etag-save",
        "etag-compare",
        "hsts",
        "alt-svc",
        "netrc-file",
        "rate",
        "parallel-max",
        "ip-tos",
        "telnet-option",
        "quote",
        "ftp-port",
    ];
    match name {
        "header" => (Action::Header, true),
        "cookie" => (Action::Cookie, true),
        "user-agent" => (Action::UserAgent, true),
        "referer" => (Action::Referer, true),
        "url" => (Action::Url, true),
        "request" => (Action::Request, true),
        "user" => (Action::User, true),
        "oauth2-bearer" => (Action::Bearer, true),
        "data" | "data-raw" | "data-binary" | "data-ascii" | "data-urlencode" | "json" | "form"
        | "form-string" | "upload-file" => (Action::Body, true),
        "head" => (Action::Head, false),
        _ if IGNORED_WITH_VALUE.contains(&name) => (Action::Ignore, true),
        _ => (Action::Ignore, false),
    }
}

/// Action of a short option, and whether it takes a value.
fn short_option(c: char) -> (Action, bool) {
    match c {
        'H' => (Action::Header, true),
        'b' => (Action::Cookie, true),
        'A' => (Action::UserAgent, true),
        'e' => (Action::Referer, true),
        'X' => (Action::Request, true),
        'u' => (Action::User, true),
        'd' | 'F' | 'T' => (Action::Body, true),
        'I' => (Action::Head, false),
        'o' | 'm' | 'x' | 'U' | 'E' | 'r' | 'w' | 'D' | 'c' | 'C' | 'Y' | 'y' | 'K' | 'z' | 't'
        | 'Q' | 'P' => (Action::Ignore, true),
        _ => (Action::Ignore, false),
    }
}

fn is_curl(word: &str) -> bool {
    let base = word.rsplit(['/', '\\']).next().unwrap_or(word);
    base.eq_ignore_ascii_case("curl") || base.eq_ignore_ascii_case("curl.exe")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::new::headers::{plan_headers, SecretHeader};
    fn h(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    const CHROME_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

    /// Chrome, "Copy as cURL" on Linux (bash), with a cookie and client hints.
    const CHROME_BASH: &str = r#"curl 'https://cdn.example.com/vod/lecture-01/000123.ts?token=abc123&expires=1700000000' \
  -H 'accept: */*' \
  -H 'accept-language: en-US,en;q=0.9,de;q=0.8' \
  -b 'session=eyJhbGciOiJIUzI1NiJ9.e30.abc; cf_clearance=xyz-123; lang=en' \
  -H 'origin: https://www.example.org' \
  -H 'priority: u=1, i' \
  -H 'referer: https://www.example.org/' \
  -H 'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99"' \
  -H 'sec-ch-ua-mobile: ?0' \
  -H 'sec-ch-ua-platform: "Linux"' \
  -H 'sec-fetch-dest: empty' \
  -H 'sec-fetch-mode: cors' \
  -H 'sec-fetch-site: cross-site' \
  -H 'user-agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36' \
  --compressed"#;

    #[test]
    fn chrome_bash() {
        let req = parse_curl(CHROME_BASH).unwrap();
        assert_eq!(
            req.url,
            "https://cdn.example.com/vod/lecture-01/000123.ts?token=abc123&expires=1700000000"
        );
        assert_eq!(req.headers.len(), 13);
        assert_eq!(req.headers[0], h("accept", "*/*"));
        assert_eq!(
            req.headers[2],
            h(
                "Cookie",
                "session=eyJhbGciOiJIUzI1NiJ9.e30.abc; cf_clearance=xyz-123; lang=en"
            )
        );
        assert_eq!(
            req.headers[6],
            h(
                "sec-ch-ua",
                r#""Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99""#
            )
        );
        assert_eq!(req.headers[12], h("user-agent", CHROME_UA));

        let plan = plan_headers("lecture-01", &req.headers);
        assert_eq!(
            plan.kept,
            vec![
                h("Cookie", "${SNATCH_LECTURE_01_COOKIE}"),
                h("Origin", "https://www.example.org"),
                h("Referer", "https://www.example.org/"),
                h("User-Agent", CHROME_UA),
            ]
        );
        assert_eq!(
            plan.secrets,
            vec![SecretHeader {
                header: "Cookie".into(),
                var: "SNATCH_LECTURE_01_COOKIE".into(),
                value: "session=eyJhbGciOiJIUzI1NiJ9.e30.abc; cf_clearance=xyz-123; lang=en".into(),
            }]
        );
        assert!(plan.kept.iter().all(|(_, v)| !v.contains("eyJhbGci")));
    }

    /// Chrome on macOS switches to `$'…'` quoting when a value holds `'` or `!`.
    #[test]
    fn chrome_bash_ansi_c_quoting() {
        let cmd = "curl 'https://media.example.com/hls/abc/segment_000007.ts' \\\n  \
                   -H 'Accept: */*' \\\n  \
                   -b $'sid=Fe26.2\\u0021\\u0021abc; name=O\\'Brien; note=caf\\u00e9\\ttab' \\\n  \
                   -H 'Referer: https://player.example.com/watch?v=1' \\\n  \
                   -H $'X-Note: line1\\nline2\\x21 \\xc3\\xa9 \\xe9 \\101\\\\'";
        let req = parse_curl(cmd).unwrap();
        assert_eq!(
            req.url,
            "https://media.example.com/hls/abc/segment_000007.ts"
        );
        assert_eq!(
            req.headers,
            vec![
                h("Accept", "*/*"),
                h("Cookie", "sid=Fe26.2!!abc; name=O'Brien; note=café\ttab"),
                h("Referer", "https://player.example.com/watch?v=1"),
                h("X-Note", "line1\nline2! é é A\\"),
            ]
        );
    }

    /// Firefox, "Copy as cURL (POSIX)" on macOS: one line, headers in title case.
    #[test]
    fn firefox_posix() {
        let cmd = "curl 'https://vod-12.akamaized.example/hls/abc/segment_000123.ts?token=abc123&expires=1700000000' \
                   --compressed -H 'User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0' \
                   -H 'Accept: */*' -H 'Accept-Language: en-US,en;q=0.5' -H 'Accept-Encoding: gzip, deflate, br' \
                   -H 'Origin: https://player.example.org' -H 'Connection: keep-alive' \
                   -H 'Referer: https://player.example.org/' -H 'Cookie: sid=s%3Aabc.def; consent=1' \
                   -H 'Sec-Fetch-Dest: empty' -H 'Sec-Fetch-Mode: cors' -H 'Sec-Fetch-Site: cross-site' \
                   -H 'Pragma: no-cache' -H 'Cache-Control: no-cache' -H 'TE: trailers'";
        let req = parse_curl(cmd).unwrap();
        assert_eq!(
            req.url,
            "https://vod-12.akamaized.example/hls/abc/segment_000123.ts?token=abc123&expires=1700000000"
        );
        assert_eq!(req.headers.len(), 14);
        assert_eq!(req.headers[7], h("Cookie", "sid=s%3Aabc.def; consent=1"));

        let plan = plan_headers("abc", &req.headers);
        assert_eq!(
            plan.kept,
            vec![
                h(
                    "User-Agent",
                    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0"
                ),
                h("Origin", "https://player.example.org"),
                h("Referer", "https://player.example.org/"),
                h("Cookie", "${SNATCH_ABC_COOKIE}"),
            ]
        );
        assert_eq!(plan.secrets.len(), 1);
        assert_eq!(plan.secrets[0].value, "sid=s%3Aabc.def; consent=1");
    }

    /// Chrome, "Copy as cURL (cmd)" on Windows: every argument wrapped in
    /// `^"…^"`, `"` written `^\^"`, `%` and `&` caret-escaped.
    #[test]
    fn chrome_cmd() {
        let cmd = concat!(
            "curl ^\"https://cdn.example.com/vod/lecture-01/000123.ts?token=ab^%^2Fcd^&expires=1700000000^\" ^\r\n",
            "  -H ^\"accept: */*^\" ^\r\n",
            "  -H ^\"accept-language: en-US,en;q=0.9^\" ^\r\n",
            "  -b ^\"session=eyJhbGciOi.abc; theme=dark; pct=50^%^25^\" ^\r\n",
            "  -H ^\"origin: https://www.example.org^\" ^\r\n",
            "  -H ^\"referer: https://www.example.org/^\" ^\r\n",
            "  -H ^\"sec-ch-ua: ^\\^\"Chromium^\\^\";v=^\\^\"124^\\^\", ^\\^\"Google Chrome^\\^\";v=^\\^\"124^\\^\", ^\\^\"Not-A.Brand^\\^\";v=^\\^\"99^\\^\"^\" ^\r\n",
            "  -H ^\"sec-ch-ua-mobile: ?0^\" ^\r\n",
            "  -H ^\"sec-ch-ua-platform: ^\\^\"Windows^\\^\"^\" ^\r\n",
            "  -H ^\"sec-fetch-dest: empty^\" ^\r\n",
            "  -H ^\"x-path: C:^\\^\\Videos^\" ^\r\n",
            "  -H ^\"x-multi: a^\n\nb^\" ^\r\n",
            "  -H ^\"user-agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36^\"",
        );
        let req = parse_curl(cmd).unwrap();
        assert_eq!(
            req.url,
            "https://cdn.example.com/vod/lecture-01/000123.ts?token=ab%2Fcd&expires=1700000000"
        );
        assert_eq!(
            req.headers,
            vec![
                h("accept", "*/*"),
                h("accept-language", "en-US,en;q=0.9"),
                h("Cookie", "session=eyJhbGciOi.abc; theme=dark; pct=50%25"),
                h("origin", "https://www.example.org"),
                h("referer", "https://www.example.org/"),
                h(
                    "sec-ch-ua",
                    r#""Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99""#
                ),
                h("sec-ch-ua-mobile", "?0"),
                h("sec-ch-ua-platform", "\"Windows\""),
                h("sec-fetch-dest", "empty"),
                h("x-path", "C:\\Videos"),
                h("x-multi", "a\nb"),
                h(
                    "user-agent",
                    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
                ),
            ]
        );
        let plan = plan_headers("Lecture 01", &req.headers);
        assert_eq!(
            plan.kept
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            [
                "Cookie",
                "Origin",
                "Referer",
                "x-path",
                "x-multi",
                "User-Agent"
            ]
        );
        assert_eq!(plan.kept[0].1, "${SNATCH_LECTURE_01_COOKIE}");
        assert_eq!(
            plan.secrets[0].value,
            "session=eyJhbGciOi.abc; theme=dark; pct=50%25"
        );
    }

    /// An older Chrome wrapped arguments in plain `"…"` unless they held a
    /// line break, still with `^` line continuations.
    #[test]
    fn chrome_cmd_plain_quotes() {
        let cmd = "curl \"https://cdn.example.com/abc/seg-12-v1-a1.ts\" ^\n  \
                   -H \"Referer: https://example.org/player\" ^\n  \
                   -H \"Cookie: a=1; b=2\" ^\n  \
                   --compressed";
        let req = parse_curl(cmd).unwrap();
        assert_eq!(req.url, "https://cdn.example.com/abc/seg-12-v1-a1.ts");
        assert_eq!(
            req.headers,
            vec![
                h("Referer", "https://example.org/player"),
                h("Cookie", "a=1; b=2")
            ]
        );
    }

    /// Firefox, "Copy as cURL (Windows)": `curl.exe`, `^"…^"` quoting.
    #[test]
    fn firefox_windows() {
        let cmd = concat!(
            "curl.exe ^\"https://cdn.example.com/dash/movie/chunk-stream0-00012.m4s^\" ",
            "--compressed -H ^\"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0^\" ",
            "-H ^\"Accept: */*^\" -H ^\"Accept-Encoding: gzip, deflate, br^\" ",
            "-H ^\"Referer: https://www.example.org/watch?id=7^&t=0^\" ",
            "-H ^\"Cookie: sid=abc; prefs=^{^\\^\"hd^\\^\":true^}^\" -H ^\"Sec-Fetch-Mode: cors^\" -H ^\"TE: trailers^\"",
        );
        let req = parse_curl(cmd).unwrap();
        assert_eq!(
            req.url,
            "https://cdn.example.com/dash/movie/chunk-stream0-00012.m4s"
        );
        assert_eq!(
            req.headers[3],
            h("Referer", "https://www.example.org/watch?id=7&t=0")
        );
        assert_eq!(req.headers[4], h("Cookie", "sid=abc; prefs={\"hd\":true}"));
        let plan = plan_headers("movie", &req.headers);
        assert_eq!(plan.kept.len(), 3);
        assert_eq!(plan.kept[2], h("Cookie", "${SNATCH_MOVIE_COOKIE}"));
        assert_eq!(plan.secrets[0].value, "sid=abc; prefs={\"hd\":true}");
    }

    /// Old Firefox "Copy as cURL (Windows)": `"…"` with `""` for a quote and
    /// `"%"` for a percent sign.
    #[test]
    fn firefox_windows_legacy_quotes() {
        let cmd = "curl \"https://cdn.example.com/abc/000001.ts\" ^\n  \
                   -H \"Referer: https://example.org/a\"%\"20b\" ^\n  \
                   -H \"Cookie: pref=\"\"x\"\"; sid=1\"";
        let req = parse_curl(cmd).unwrap();
        assert_eq!(
            req.headers,
            vec![
                h("Referer", "https://example.org/a%20b"),
                h("Cookie", "pref=\"x\"; sid=1")
            ]
        );
    }

    /// PowerShell: `curl.exe`, backtick continuations, double-quoted strings.
    #[test]
    fn powershell() {
        let cmd = "curl.exe \"https://cdn.example.com/vod/abc/000123.ts?sig=a`$b\" `\r\n  \
                   -H \"Referer: https://www.example.org/\" `\r\n  \
                   -H 'X-Quote: it''s' `\r\n  \
                   -H \"Cookie: session=abc; say=\"\"hi\"\"; tick=`\"q`\"\" `\r\n  \
                   -H \"Authorization: Bearer eyJ0eXAi.payload.sig\" `\r\n  \
                   -H \"sec-ch-ua-mobile: ?0\" `\r\n  \
                   --compressed -L";
        let req = parse_curl(cmd).unwrap();
        assert_eq!(req.url, "https://cdn.example.com/vod/abc/000123.ts?sig=a$b");
        assert_eq!(
            req.headers,
            vec![
                h("Referer", "https://www.example.org/"),
                h("X-Quote", "it's"),
                h("Cookie", "session=abc; say=\"hi\"; tick=\"q\""),
                h("Authorization", "Bearer eyJ0eXAi.payload.sig"),
                h("sec-ch-ua-mobile", "?0"),
            ]
        );
        let plan = plan_headers("abc", &req.headers);
        assert_eq!(
            plan.kept,
            vec![
                h("Referer", "https://www.example.org/"),
                h("X-Quote", "it's"),
                h("Cookie", "${SNATCH_ABC_COOKIE}"),
                h("Authorization", "${SNATCH_ABC_AUTHORIZATION}"),
            ]
        );
        assert_eq!(plan.secrets[1].var, "SNATCH_ABC_AUTHORIZATION");
        assert_eq!(plan.secrets[1].value, "Bearer eyJ0eXAi.payload.sig");
    }

    #[test]
    fn powershell_call_operator_one_line() {
        let req = parse_curl("& curl.exe --url \"https://h.example/1.ts\" -A \"UA`t1\"").unwrap();
        assert_eq!(req.url, "https://h.example/1.ts");
        assert_eq!(req.headers, vec![h("User-Agent", "UA\t1")]);
    }

    #[test]
    fn options() {
        let req = parse_curl(
            "/usr/bin/curl -sSLk --http2 -o out.ts --retry 3 -m 30 -X GET \
             -A 'snatch-test' -e 'https://example.org/;auto' -u 'me:pa:ss' \
             --oauth2-bearer tok -H 'X-Empty;' -H 'X-Removed:' -HX-Glued:1 \
             --header=X-Eq:2 --unknown-flag -- https://h.example/a/1.ts",
        )
        .unwrap();
        assert_eq!(req.url, "https://h.example/a/1.ts");
        assert_eq!(
            req.headers,
            vec![
                h("User-Agent", "snatch-test"),
                h("Referer", "https://example.org/"),
                h("Authorization", "Basic bWU6cGE6c3M="),
                h("Authorization", "Bearer tok"),
                h("X-Empty", ""),
                h("X-Glued", "1"),
                h("X-Eq", "2"),
            ]
        );
        // An unknown option's value is skipped in favour of the real URL.
        let req = parse_curl("curl --some-new-option value 'https://h.example/1.ts'").unwrap();
        assert_eq!(req.url, "https://h.example/1.ts");
        // "Copy all as cURL": only the first command is read.
        let req = parse_curl(
            "curl 'https://h.example/1.ts' -H 'Referer: https://a/' ;\ncurl 'https://h.example/2.ts' -H 'Referer: https://b/'",
        )
        .unwrap();
        assert_eq!(req.url, "https://h.example/1.ts");
        assert_eq!(req.headers, vec![h("Referer", "https://a/")]);
        let req =
            parse_curl("curl ^\"https://h.example/1.ts^\" &\r\ncurl ^\"https://h.example/2.ts^\"")
                .unwrap();
        assert_eq!(req.url, "https://h.example/1.ts");
        // Without any `://`, the first positional argument is the URL.
        let req = parse_curl("curl example.com/1.ts").unwrap();
        assert_eq!(req.url, "example.com/1.ts");
    }

    #[test]
    fn errors() {
        let cases: &[(&str, CurlError)] = &[
            ("", CurlError::Empty),
            ("   \n", CurlError::Empty),
            (
                "wget https://h/1.ts",
                CurlError::NotCurl {
                    first: "wget".into(),
                },
            ),
            (
                "Invoke-WebRequest -UseBasicParsing -Uri \"https://h/1.ts\"",
                CurlError::NotCurl {
                    first: "Invoke-WebRequest".into(),
                },
            ),
            ("curl -H 'Accept: */*'", CurlError::NoUrl),
            (
                "curl 'https://h/1.ts' -H 'Cookie: a=1",
                CurlError::UnterminatedQuote { quote: "single" },
            ),
            (
                "curl ^\"https://h/1.ts^\" -H \"a",
                CurlError::UnterminatedQuote { quote: "double" },
            ),
            (
                "curl 'https://h/api' --data-raw '{\"a\":1}'",
                CurlError::NotGet {
                    flag: "--data-raw".into(),
                },
            ),
            (
                "curl 'https://h/api' -X POST",
                CurlError::NotGet {
                    flag: "-X POST".into(),
                },
            ),
            (
                "curl -I 'https://h/1.ts'",
                CurlError::NotGet { flag: "-I".into() },
            ),
            (
                "curl 'https://h/1.ts' -H",
                CurlError::MissingValue { flag: "-H".into() },
            ),
            (
                "curl 'https://h/1.ts' -b cookies.txt",
                CurlError::Unsupported {
                    flag: "-b".into(),
                    reason: "reading cookies from a file is not supported; pass the cookies as 'name=value; name2=value2'",
                },
            ),
        ];
        for (cmd, want) in cases {
            assert_eq!(parse_curl(cmd).as_ref(), Err(want), "{cmd}");
        }
        assert_eq!(
            CurlError::NotGet {
                flag: "--data-raw".into()
            }
            .to_string(),
            "snatch only makes GET requests, but the cURL command uses `--data-raw`; \
             copy the request of a video segment instead"
        );
    }

    proptest::proptest! {
        #[test]
        fn never_panics(any in "\\PC*", tricky in "[ a'\"\\\\$^`%&;\n\r\t-]{0,40}") {
            let _ = parse_curl(&any);
            let _ = parse_curl(&format!("curl {any}"));
            let _ = parse_curl(&format!("curl {tricky}"));
            let _ = parse_curl(&format!("curl $'{tricky}"));
            let _ = parse_curl(&format!("curl.exe {tricky}"));
            let _ = parse_curl(&format!("curl ^\"{tricky}"));
        }
    }

    #[test]
    fn user_becomes_basic_authorization() {
        for (user, want) in [
            ("f", "Zjo="),
            ("fo:", "Zm86"),
            ("foo:bar", "Zm9vOmJhcg=="),
            ("foob:a", "Zm9vYjph"),
        ] {
            let req = parse_curl(&format!("curl -u '{user}' https://h/1.ts")).unwrap();
            assert_eq!(
                req.headers,
                vec![h("Authorization", &format!("Basic {want}"))]
            );
        }
    }
}
