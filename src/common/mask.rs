//! Masking, in one place: every URL or text that snatch prints, logs,
//! saves or reports passes through [`text`]. It shows as `***`:
//! - the value of every secret the run reads (`${…}` values), in every
//!   spelling a server or a URL parser may give it: raw, percent-encoded
//!   (either case of hex, whole or in part) and form-encoded (`+` for a
//!   space);
//! - the value of every credential-like query parameter (`token=`,
//!   `Signature=`, `X-Amz-…`; [`is_secret_param`]), whatever host named it.
//!
//! The secrets are registered once the job files are read ([`register`]);
//! a value shorter than [`SHORTEST`] is no secret worth searching text for
//! (it would mask ordinary words), though wherever snatch knows a value
//! came from `${…}` it shows `***` whatever its length.

use std::borrow::Cow;
use std::sync::RwLock;

/// The shortest value searched for in text.
pub const SHORTEST: usize = 4;

/// The registered values, decoded (bytes: a decoded value need not be UTF-8).
static SECRETS: RwLock<Vec<Vec<u8>>> = RwLock::new(Vec::new());

/// Adds secret values to what [`text`] masks. A value is kept decoded
/// (see [`decoded`]): a value that is itself percent-encoded (as `snatch
/// new` writes signed query values) matches the same spellings as its
/// plain form.
pub fn register<'a>(values: impl IntoIterator<Item = &'a str>) {
    let mut secrets = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for v in values.into_iter().filter(|v| v.len() >= SHORTEST) {
        let d = decoded(v.as_bytes());
        if d.len() >= SHORTEST && !secrets.contains(&d) {
            secrets.push(d);
        }
    }
    // Longer first, so that a value inside another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// `s` with every registered secret, in any spelling, and every
/// credential-like query value as `***`.
pub fn text(s: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(s);
    for secret in secrets.iter() {
        if let Some(masked) = replace_spelled(&out, secret, "***") {
            out = Cow::Owned(masked);
        }
    }
    match mask_params(&out) {
        Some(masked) => Cow::Owned(masked),
        None => out,
    }
}

/// Whether a registered secret occurs in `s` in a spelling other than
/// its raw one (a saved copy could not write it as `${NAME}`).
pub fn has_encoded_secret(s: &str) -> bool {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    secrets
        .iter()
        .any(|v| spelled_at(s, v).any(|(start, end)| s.as_bytes()[start..end] != v[..]))
}

/// `text` with each spelling of `value` (any spelling of it: see
/// [`spelled_at`]) replaced by `with`; `None` when it has none.
pub fn replace_spelling(text: &str, value: &str, with: &str) -> Option<String> {
    replace_spelled(text, &decoded(value.as_bytes()), with)
}

fn replace_spelled(text: &str, value: &[u8], with: &str) -> Option<String> {
    let mut found = spelled_at(text, value).peekable();
    found.peek()?;
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in found {
        out.push_str(&text[last..start]);
        out.push_str(with);
        last = end;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// How deep `%25` is unwrapped (`%2525…` written by repeated encoding).
const DEPTH: usize = 3;

/// `value` percent-decoded, `%25` unwrapped up to [`DEPTH`] times.
fn decoded(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut j = 0;
    while j < value.len() {
        let (b, len) = unit(value, j);
        out.push(b);
        j += len;
    }
    out
}

/// The byte a spelling at `at` stands for, and how long the spelling is:
/// `%XX` (either case; `%25XX` unwrapped), or the byte itself.
fn unit(text: &[u8], at: usize) -> (u8, usize) {
    if text[at] != b'%' {
        return (text[at], 1);
    }
    let Some(mut b) = text.get(at + 1..at + 3).and_then(hex_byte) else {
        return (b'%', 1);
    };
    let mut end = at + 3;
    // `%25` and two hex digits: one more level of encoding.
    for _ in 0..DEPTH {
        match text.get(end..end + 2).and_then(hex_byte) {
            Some(next) if b == b'%' => {
                b = next;
                end += 2;
            }
            _ => break,
        }
    }
    (b, end - at)
}

/// Where `value` (decoded) is spelled in `text` (byte ranges on character
/// boundaries, not overlapping): each byte as itself, as `%XX` (either
/// case, `%25` unwrapped), or a space as `+`.
fn spelled_at<'a>(text: &'a str, value: &'a [u8]) -> impl Iterator<Item = (usize, usize)> + 'a {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let could = bytes[i] == value[0] || bytes[i] == b'%' || bytes[i] == b'+';
            let end = could.then(|| match_at(bytes, i, value)).flatten();
            if let Some(end) = end.filter(|&e| text.is_char_boundary(i) && text.is_char_boundary(e))
            {
                let start = i;
                i = end;
                return Some((start, end));
            }
            i += 1;
        }
        None
    })
}

/// The end of a spelling of `want` that starts at `at`, if one does.
fn match_at(text: &[u8], at: usize, want: &[u8]) -> Option<usize> {
    let mut j = at;
    for &w in want {
        if j >= text.len() {
            return None;
        }
        let (b, len) = unit(text, j);
        let plus = text[j] == b'+' && w == b' ';
        if b != w && !plus {
            return None;
        }
        j += len;
    }
    Some(j)
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(two).ok()?;
    u8::from_str_radix(s, 16).ok()
}

/// `text` with the value of every credential-like `name=value` after a `?`,
/// `&` or `;` (`&amp;` in markup, matrix parameters) as `***`; `None` when
/// there is none.
fn mask_params(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut last = 0;
    let bytes = text.as_bytes();
    for (at, _) in text.match_indices(['?', '&', ';']) {
        if at < last {
            continue;
        }
        let rest = &text[at + 1..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_len);
        if name.is_empty() || !after.starts_with('=') || !is_secret_param(name) {
            continue;
        }
        let start = at + 1 + name_len + 1;
        let len = text[start..]
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace() || "\"'<>`)]".contains(c))
            .unwrap_or(text.len() - start);
        if len == 0 || &bytes[start..start + len] == b"***" {
            continue;
        }
        out.push_str(&text[last..start]);
        out.push_str("***");
        last = start + len;
    }
    if last == 0 {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// Whether a query parameter's name says its value is a credential: the
/// list `snatch new` takes out of job files (docs/jobfile.md, "Credential-
/// like query parameters").
pub fn is_secret_param(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "sig",
        "signature",
        "token",
        "hdnts",
        "hdntl",
        "hdnea",
        "__token__",
        "policy",
        "key-pair-id",
        "auth",
        "key",
        "jwt",
        "hmac",
        "googleaccessid",
    ];
    const PREFIXES: &[&str] = &["x-amz-", "x-goog-"];
    const WORDS: &[&str] = &[
        "token",
        "signature",
        "secret",
        "password",
        "passwd",
        "auth",
        "credential",
        "session",
        "apikey",
        "api_key",
        "api-key",
    ];
    const SUFFIXES: &[&str] = &["_key", "-key"];
    let lower = name.to_ascii_lowercase();
    EXACT.contains(&lower.as_str())
        || PREFIXES.iter().any(|p| lower.starts_with(p))
        || WORDS.iter().any(|w| lower.contains(w))
        || SUFFIXES.iter().any(|s| lower.ends_with(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_value_is_masked() {
        let v = decoded(b"abc/def== x");
        let t = "a=abc/def== x b=abc%2Fdef%3D%3D+x c=abc%2fdef%3d%3d%20x d=abc/def%3D=+x \
                 e=abc%252Fdef%253D%253D%2520x";
        assert_eq!(
            replace_spelled(t, &v, "***").unwrap(),
            "a=*** b=*** c=*** d=*** e=***"
        );
        assert!(replace_spelled("nothing here", &v, "***").is_none());
    }

    #[test]
    fn a_value_that_is_itself_encoded_matches_every_spelling_too() {
        let v = decoded(b"Ab12%2Bcd34%3D");
        for t in [
            "Ab12+cd34=",
            "Ab12%2bcd34%3d",
            "Ab12%2Bcd34%3D",
            "Ab12%252Bcd34%253D",
        ] {
            assert_eq!(replace_spelled(t, &v, "*").as_deref(), Some("*"), "{t}");
        }
        let v = decoded(b"ab%zzdef99");
        assert_eq!(
            replace_spelled("x ab%25zzdef99", &v, "*").as_deref(),
            Some("x *")
        );
        // Never a cut inside a character.
        let v = decoded("é-secret".as_bytes());
        assert_eq!(replace_spelled("é-secret", &v, "*").as_deref(), Some("*"));
        assert!(replace_spelled("xé-secre", &v, "*").is_none());
    }

    #[test]
    fn signed_query_values_are_masked_whatever_the_host() {
        let t =
            "segment 3: https://cdn.example/v/3.ts?token=AbC123&n=3&X-Amz-Signature=ff00#t failed";
        assert_eq!(
            mask_params(t).unwrap(),
            "segment 3: https://cdn.example/v/3.ts?token=***&n=3&X-Amz-Signature=***#t failed"
        );
        assert!(mask_params("https://cdn.example/v/3.ts?n=3").is_none());
        assert_eq!(
            mask_params("<a href=\"/v?n=1&amp;hdnea=st~1\">/v;token=x</a>").unwrap(),
            "<a href=\"/v?n=1&amp;hdnea=***\">/v;token=***</a>"
        );
        assert!(mask_params("https://cdn.example/v/3.ts?token=***").is_none());
        assert!(is_secret_param("hdnts") && is_secret_param("Key-Pair-Id"));
        assert!(!is_secret_param("n") && !is_secret_param("quality"));
    }

    #[test]
    fn registered_secrets_are_masked_in_text_and_found_encoded() {
        register(["reg-s3cr3t/v=="]);
        let t = "https://h/p/reg-s3cr3t%2Fv%3D%3D/i.m3u8?x=reg-s3cr3t/v==";
        assert_eq!(text(t), "https://h/p/***/i.m3u8?x=***");
        assert!(has_encoded_secret(t));
        assert!(!has_encoded_secret("x=reg-s3cr3t/v=="));
        assert_eq!(text("short: abc"), "short: abc");
    }
}
