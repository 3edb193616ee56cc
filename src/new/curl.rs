//! Reading a browser's "Copy as cURL" command, and deciding which of its
//! headers go into a job file.
//!
//! # Shell dialects ([`parse_curl`])
//!
//! The dialect is guessed from the text:
//!
//! * **cmd.exe** (Chrome's and Firefox's "Copy as cURL (cmd/Windows)") when the
//!   text contains `^"` or a line ends with `^`. Decoded in two layers like
//!   Windows does: first cmd.exe (`^x` is a literal `x` outside cmd quotes, `^`
//!   at the end of a line continues the command and escapes the first
//!   character of the next line, `"` toggles cmd quoting), then the MS C
//!   runtime argument splitter (`"` quotes, `""` inside quotes and `\"` are a
//!   literal `"`, `\\` before a `"` is one backslash). Both browsers double
//!   every backslash, so elsewhere a run of `n` backslashes gives `(n+1)/2`.
//! * **PowerShell** when a line ends with a backtick, or the command starts
//!   with `curl.exe` and no line ends with `\`. Backtick escapes (`` `n ``,
//!   `` `" ``, `` `$ ``…) and continuations, `"…"` with `""`, `'…'` with `''`.
//!   `$variables` are not expanded. A leading `&` call operator is skipped.
//! * **bash/zsh** otherwise (Chrome's and Firefox's Linux/macOS copies):
//!   `'…'`, `"…"` (with `\` before `$`, `` ` ``, `"`, `\`, newline), `$'…'`
//!   ANSI-C quoting (`\n`, `\xHH`, `\uHHHH`, octal…), `\` escapes and
//!   `\`+newline continuations. `$variables` are not expanded and shell
//!   operators (`|`, `>`…) are just words.
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
//! `://`, or failing that the first one.

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

/// Which headers to write into the job file, and which to keep out of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderPlan {
    /// Headers for the job file, in order; secret ones hold a `${VAR}` placeholder.
    pub kept: Vec<(String, String)>,
    /// Headers whose values must come from the environment.
    pub secrets: Vec<SecretHeader>,
}

/// A header whose value is a credential, to be passed through an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHeader {
    /// Header name, e.g. `Cookie`.
    pub header: String,
    /// Environment variable, e.g. `SNATCH_LECTURE_01_COOKIE`.
    pub var: String,
    /// The value copied from the browser.
    pub value: String,
}

/// Parses a "Copy as cURL" command (bash, cmd.exe or PowerShell flavour; see
/// the module docs).
pub fn parse_curl(cmd: &str) -> Result<CurlRequest, CurlError> {
    let words = match dialect(cmd) {
        Dialect::Cmd => split_crt(&cmd_layer(cmd))?,
        Dialect::PowerShell => split_powershell(cmd)?,
        Dialect::Bash => split_bash(cmd)?,
    };
    let mut words = words.into_iter().skip_while(|w| w == "&");
    let first = words.next().ok_or(CurlError::Empty)?;
    if !is_curl(&first) {
        return Err(CurlError::NotCurl { first });
    }

    let mut req = Parsed::default();
    let mut only_positional = false;
    while let Some(word) = words.next() {
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

/// Splits headers into those written to the job file and secrets.
///
/// * Browser-generated headers are dropped: `sec-*`, `accept*`, `if-*`,
///   HTTP/2 pseudo-headers (`:authority`, and `authority`, `method`, `path`,
///   `scheme`, `version` as old Chrome copies them), `priority`,
///   `cache-control`, `pragma`, `connection`, `keep-alive`, `dnt`,
///   `upgrade-insecure-requests`, `range`, `host`, `content-length`, `te`,
///   `upgrade`, `expect`, `transfer-encoding`, `proxy-*`, `cookie2`,
///   `x-client-data`.
/// * `Referer`, `User-Agent`, `Origin`, `Cookie` and `Authorization` get that
///   canonical case; other names keep theirs.
/// * `Cookie`, `Authorization`, and custom headers whose name looks like a
///   credential (contains `auth`, `token`, `session`, `secret`, `password`,
///   `passwd`, `signature`, `api-key`, `apikey` or `api_key`) become secrets
///   named `SNATCH_<JOB>_<HEADER>` (uppercased, runs of other characters
///   turned into one `_`, e.g. `SNATCH_LECTURE_01_COOKIE`); the kept list
///   holds `${SNATCH_…}` in their place. Repeated secret headers are merged
///   into one secret (`; ` between cookies, `, ` otherwise).
/// * Every other header is kept as is, in order (custom `X-…` headers may be
///   needed by the server).
pub fn plan_headers(job_name: &str, headers: &[(String, String)]) -> HeaderPlan {
    let mut plan = HeaderPlan::default();
    for (name, value) in headers {
        let name = name.trim();
        let lower = name.to_ascii_lowercase();
        if is_browser_header(&lower) {
            continue;
        }
        let name = canonical_name(&lower).unwrap_or(name).to_string();
        if !is_secret_header(&lower) {
            plan.kept.push((name, value.clone()));
            continue;
        }
        if let Some(secret) = plan
            .secrets
            .iter_mut()
            .find(|s| s.header.eq_ignore_ascii_case(&name))
        {
            if lower == "cookie" {
                let joined = secret.value.trim_end_matches([';', ' ']);
                secret.value = format!("{joined}; {}", value.trim_start_matches([';', ' ']));
            } else {
                secret.value = format!("{}, {value}", secret.value);
            }
            continue;
        }
        let var = ["SNATCH", &env_part(job_name), &env_part(&name)]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        plan.kept.push((name.clone(), format!("${{{var}}}")));
        plan.secrets.push(SecretHeader {
            header: name,
            var,
            value: value.clone(),
        });
    }
    plan
}

/// `export VAR='value'`, safe to paste into a POSIX shell (single quotes in
/// the value become `'\''`).
pub fn export_line(s: &SecretHeader) -> String {
    format!("export {}='{}'", s.var, s.value.replace('\'', r"'\''"))
}

fn is_browser_header(lower: &str) -> bool {
    const EXACT: &[&str] = &[
        "priority",
        "cache-control",
        "pragma",
        "connection",
        "keep-alive",
        "dnt",
        "upgrade-insecure-requests",
        "range",
        "host",
        "content-length",
        "te",
        "upgrade",
        "expect",
        "transfer-encoding",
        "cookie2",
        "x-client-data",
        "authority",
        "method",
        "path",
        "scheme",
        "version",
    ];
    const PREFIXES: &[&str] = &["sec-", "accept", "if-", "proxy-", ":"];
    EXACT.contains(&lower) || PREFIXES.iter().any(|p| lower.starts_with(p))
}

fn canonical_name(lower: &str) -> Option<&'static str> {
    Some(match lower {
        "referer" => "Referer",
        "user-agent" => "User-Agent",
        "origin" => "Origin",
        "cookie" => "Cookie",
        "authorization" => "Authorization",
        _ => return None,
    })
}

fn is_secret_header(lower: &str) -> bool {
    const WORDS: &[&str] = &[
        "cookie",
        "auth",
        "token",
        "session",
        "secret",
        "password",
        "passwd",
        "signature",
        "api-key",
        "apikey",
        "api_key",
    ];
    WORDS.iter().any(|w| lower.contains(w))
}

/// Uppercased ASCII alphanumerics, every run of anything else as one `_`,
/// without leading or trailing `_`.
fn env_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
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
    fn apply(&mut self, action: Action, flag: &str, value: Option<String>) -> Result<(), CurlError> {
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
                    format!("Basic {}", base64(credentials.as_bytes())),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Bash,
    Cmd,
    PowerShell,
}

fn dialect(cmd: &str) -> Dialect {
    let ends_with = |c: char| {
        cmd.lines()
            .any(|line| line.trim_end_matches([' ', '\t', '\r']).ends_with(c))
    };
    if cmd.contains("^\"") || ends_with('^') {
        return Dialect::Cmd;
    }
    if ends_with('`') {
        return Dialect::PowerShell;
    }
    let first = cmd.split_whitespace().find(|w| *w != "&").unwrap_or("");
    let first = first.trim_matches(['"', '\'']);
    let base = first.rsplit(['/', '\\']).next().unwrap_or(first);
    if base.eq_ignore_ascii_case("curl.exe") && !ends_with('\\') {
        return Dialect::PowerShell;
    }
    Dialect::Bash
}

/// Pushes the word being built, if any.
fn finish(words: &mut Vec<String>, word: &mut String, in_word: &mut bool) {
    if *in_word {
        words.push(std::mem::take(word));
        *in_word = false;
    }
}

/// Length of a line break at `c[i..]` (`\n` or `\r\n`), 0 if none.
fn newline_at(c: &[char], i: usize) -> usize {
    match (c.get(i), c.get(i + 1)) {
        (Some('\n'), _) => 1,
        (Some('\r'), Some('\n')) => 2,
        _ => 0,
    }
}

fn split_bash(s: &str) -> Result<Vec<String>, CurlError> {
    let c: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            ' ' | '\t' | '\n' | '\r' => {
                finish(&mut words, &mut word, &mut in_word);
                i += 1;
            }
            '\\' => {
                let nl = newline_at(&c, i + 1);
                if nl > 0 {
                    i += 1 + nl;
                } else if let Some(&next) = c.get(i + 1) {
                    word.push(next);
                    in_word = true;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            '\'' => {
                let end = (i + 1..c.len())
                    .find(|&j| c[j] == '\'')
                    .ok_or(CurlError::UnterminatedQuote { quote: "single" })?;
                word.extend(&c[i + 1..end]);
                in_word = true;
                i = end + 1;
            }
            '$' if c.get(i + 1) == Some(&'\'') => {
                i = ansi_c(&c, i + 2, &mut word)?;
                in_word = true;
            }
            '$' if c.get(i + 1) == Some(&'"') => i += 1,
            '"' => {
                i += 1;
                loop {
                    match c.get(i) {
                        None => return Err(CurlError::UnterminatedQuote { quote: "double" }),
                        Some('"') => break,
                        Some('\\') => {
                            let nl = newline_at(&c, i + 1);
                            if nl > 0 {
                                i += 1 + nl;
                                continue;
                            }
                            match c.get(i + 1) {
                                Some(&e @ ('$' | '`' | '"' | '\\')) => {
                                    word.push(e);
                                    i += 2;
                                }
                                _ => {
                                    word.push('\\');
                                    i += 1;
                                }
                            }
                        }
                        Some(&other) => {
                            word.push(other);
                            i += 1;
                        }
                    }
                }
                in_word = true;
                i += 1;
            }
            other => {
                word.push(other);
                in_word = true;
                i += 1;
            }
        }
    }
    finish(&mut words, &mut word, &mut in_word);
    Ok(words)
}

/// Decodes the body of a bash `$'…'` string starting at `c[i]` into `word`,
/// returning the index after the closing quote.
///
/// `\xHH` and octal escapes are bytes, as in bash; consecutive ones that do
/// not form UTF-8 are read as Latin-1 (Firefox writes `é` as `\xe9`).
fn ansi_c(c: &[char], mut i: usize, word: &mut String) -> Result<usize, CurlError> {
    let mut bytes: Vec<u8> = Vec::new();
    let flush = |bytes: &mut Vec<u8>, word: &mut String| {
        match std::str::from_utf8(bytes) {
            Ok(s) => word.push_str(s),
            Err(_) => word.extend(bytes.iter().map(|&b| char::from(b))),
        }
        bytes.clear();
    };
    let hex = |i: usize, max: usize| -> (u32, usize) {
        let mut value = 0;
        let mut n = 0;
        while n < max {
            match c.get(i + n).and_then(|d| d.to_digit(16)) {
                Some(d) => value = value * 16 + d,
                None => break,
            }
            n += 1;
        }
        (value, n)
    };
    loop {
        let Some(&ch) = c.get(i) else {
            return Err(CurlError::UnterminatedQuote { quote: "$'…'" });
        };
        if ch == '\'' {
            flush(&mut bytes, word);
            return Ok(i + 1);
        }
        if ch != '\\' {
            flush(&mut bytes, word);
            word.push(ch);
            i += 1;
            continue;
        }
        let Some(&e) = c.get(i + 1) else {
            return Err(CurlError::UnterminatedQuote { quote: "$'…'" });
        };
        i += 2;
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'e' | 'E' => Some('\x1b'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '\'' | '"' | '?' => Some(e),
            _ => None,
        };
        if let Some(s) = simple {
            flush(&mut bytes, word);
            word.push(s);
            continue;
        }
        match e {
            'x' => {
                let (value, n) = hex(i, 2);
                if n == 0 {
                    flush(&mut bytes, word);
                    word.push_str("\\x");
                } else {
                    bytes.push(value as u8);
                    i += n;
                }
            }
            '0'..='7' => {
                let mut value = e.to_digit(8).unwrap_or(0);
                let mut n = 0;
                while n < 2 {
                    match c.get(i + n).and_then(|d| d.to_digit(8)) {
                        Some(d) => value = value * 8 + d,
                        None => break,
                    }
                    n += 1;
                }
                bytes.push((value & 0xff) as u8);
                i += n;
            }
            'u' | 'U' => {
                let (value, n) = hex(i, if e == 'u' { 4 } else { 8 });
                flush(&mut bytes, word);
                if n == 0 {
                    word.push('\\');
                    word.push(e);
                } else {
                    word.push(char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER));
                    i += n;
                }
            }
            'c' => {
                flush(&mut bytes, word);
                match c.get(i) {
                    Some(&x) => {
                        word.push(char::from_u32(u32::from(x) & 0x1f).unwrap_or(x));
                        i += 1;
                    }
                    None => word.push_str("\\c"),
                }
            }
            other => {
                flush(&mut bytes, word);
                word.push('\\');
                word.push(other);
            }
        }
    }
}

fn split_powershell(s: &str) -> Result<Vec<String>, CurlError> {
    let c: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    // A backtick escape at c[i] (the backtick); returns the chars consumed, or
    // 0 with nothing pushed for a line continuation.
    fn backtick(c: &[char], i: usize, word: &mut String) -> usize {
        let mut j = i + 1;
        while matches!(c.get(j), Some(' ' | '\t')) {
            j += 1;
        }
        let nl = newline_at(c, j);
        if nl > 0 {
            return j + nl - i;
        }
        match c.get(i + 1) {
            None => 1,
            Some(&e) => {
                word.push(match e {
                    '0' => '\0',
                    'a' => '\x07',
                    'b' => '\x08',
                    'e' => '\x1b',
                    'f' => '\x0c',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'v' => '\x0b',
                    other => other,
                });
                2
            }
        }
    }
    while i < c.len() {
        match c[i] {
            ' ' | '\t' | '\n' | '\r' => {
                finish(&mut words, &mut word, &mut in_word);
                i += 1;
            }
            '`' => {
                let before = word.len();
                i += backtick(&c, i, &mut word);
                in_word |= word.len() > before;
            }
            '\'' => {
                i += 1;
                loop {
                    match (c.get(i), c.get(i + 1)) {
                        (None, _) => return Err(CurlError::UnterminatedQuote { quote: "single" }),
                        (Some('\''), Some('\'')) => {
                            word.push('\'');
                            i += 2;
                        }
                        (Some('\''), _) => break,
                        (Some(&other), _) => {
                            word.push(other);
                            i += 1;
                        }
                    }
                }
                in_word = true;
                i += 1;
            }
            '"' => {
                i += 1;
                loop {
                    match (c.get(i), c.get(i + 1)) {
                        (None, _) => return Err(CurlError::UnterminatedQuote { quote: "double" }),
                        (Some('"'), Some('"')) => {
                            word.push('"');
                            i += 2;
                        }
                        (Some('"'), _) => break,
                        (Some('`'), _) => i += backtick(&c, i, &mut word),
                        (Some(&other), _) => {
                            word.push(other);
                            i += 1;
                        }
                    }
                }
                in_word = true;
                i += 1;
            }
            other => {
                word.push(other);
                in_word = true;
                i += 1;
            }
        }
    }
    finish(&mut words, &mut word, &mut in_word);
    Ok(words)
}

/// What cmd.exe hands to the program: `^` escapes and continuations resolved
/// outside cmd quotes, quotes kept for the C runtime.
fn cmd_layer(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut quoted = false;
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '"' => {
                quoted = !quoted;
                out.push('"');
                i += 1;
            }
            '^' if !quoted => {
                let mut j = i + 1;
                while matches!(c.get(j), Some(' ' | '\t')) {
                    j += 1;
                }
                let nl = newline_at(&c, j);
                if nl == 0 {
                    // `^x`: a literal x.
                    if let Some(&next) = c.get(i + 1) {
                        out.push(next);
                    }
                    i += 2;
                    continue;
                }
                // Continuation: the first character of the next line is literal.
                j += nl;
                let nl = newline_at(&c, j);
                if nl > 0 {
                    out.push('\n');
                    i = j + nl;
                } else if let Some(&next) = c.get(j) {
                    out.push(next);
                    i = j + 1;
                } else {
                    i = j;
                }
            }
            '\n' | '\r' if !quoted => {
                out.push(' ');
                i += 1;
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    out
}

/// Splits a Windows command line into arguments like the MS C runtime, except
/// that backslashes not before a quote are halved (see the module docs).
fn split_crt(s: &str) -> Result<Vec<String>, CurlError> {
    let c: Vec<char> = s.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '\\' => {
                let n = c[i..].iter().take_while(|&&ch| ch == '\\').count();
                let after = i + n;
                if c.get(after) == Some(&'"') {
                    word.extend(std::iter::repeat_n('\\', n / 2));
                    if n % 2 == 1 {
                        word.push('"');
                        i = after + 1;
                    } else {
                        i = after;
                    }
                } else {
                    word.extend(std::iter::repeat_n('\\', n.div_ceil(2)));
                    i = after;
                }
                in_word = true;
            }
            '"' => {
                in_word = true;
                if quoted && c.get(i + 1) == Some(&'"') {
                    word.push('"');
                    i += 2;
                } else {
                    quoted = !quoted;
                    i += 1;
                }
            }
            ' ' | '\t' | '\n' | '\r' if !quoted => {
                finish(&mut words, &mut word, &mut in_word);
                i += 1;
            }
            other => {
                word.push(other);
                in_word = true;
                i += 1;
            }
        }
    }
    if quoted {
        return Err(CurlError::UnterminatedQuote { quote: "double" });
    }
    finish(&mut words, &mut word, &mut in_word);
    Ok(words)
}

fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(TABLE[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
