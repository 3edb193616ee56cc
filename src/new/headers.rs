//! Which headers of a copied request go into a job file, and which become
//! secrets read from the environment (`${SNATCH_<JOB>_<HEADER>}`).

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
///   credential (contains `auth`, `token`, `secret`, `password`,
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
    export(&s.var, &s.value)
}

/// `export VAR='value'`, safe to paste into a POSIX shell.
pub fn export(var: &str, value: &str) -> String {
    format!("export {var}='{}'", value.replace('\'', r"'\''"))
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
pub(super) fn env_part(s: &str) -> String {
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

// ---------------------------------------------------------------------------
// The headers of one new job: copied ones, then the command line's

use std::collections::BTreeSet;

use crate::common::diag::Problem;

use super::args::Input;
use super::job_text::literal;

pub(super) struct JobHeaders {
    /// For the file: values as written, secrets as `${SNATCH_…}`.
    pub(super) kept: Vec<(String, String)>,
    pub(super) secrets: Vec<SecretHeader>,
}

pub(super) fn job_headers(
    name: &str,
    input: &Input,
    user: &[(String, String)],
) -> Result<JobHeaders, Vec<Problem>> {
    let overridden: BTreeSet<String> = user.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    let copied: Vec<(String, String)> = input
        .curl_headers
        .iter()
        .filter(|(n, _)| !overridden.contains(&n.trim().to_ascii_lowercase()))
        .cloned()
        .collect();

    let mut kept = Vec::new();
    let mut secrets = Vec::new();
    let copied_plan = plan_headers(name, &copied);
    for (n, v) in copied_plan.kept {
        let placeholder = copied_plan.secrets.iter().any(|s| s.header == n);
        kept.push((n, if placeholder { v } else { literal(&v) }));
    }
    secrets.extend(copied_plan.secrets);

    // Values that already name a variable are job-file text: kept as given.
    let (verbatim, plain): (Vec<_>, Vec<_>) =
        user.iter().cloned().partition(|(_, v)| v.contains("${"));
    let user_plan = plan_headers(name, &plain);
    let mut user_kept = user_plan.kept;
    // A header asked for with -H is sent even if a browser would add it itself.
    for (n, v) in &plain {
        if !user_kept
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(n.trim()))
        {
            user_kept.push((n.trim().to_string(), v.clone()));
        }
    }
    user_kept.extend(verbatim);
    kept.extend(user_kept);
    for s in user_plan.secrets {
        secrets.retain(|old: &SecretHeader| old.var != s.var);
        secrets.push(s);
    }

    // One value per name (the last wins), in the order of the last mention.
    let mut unique: Vec<(String, String)> = Vec::new();
    for (n, v) in kept {
        unique.retain(|(k, _)| !k.eq_ignore_ascii_case(&n));
        unique.push((n, v));
    }

    let bad: Vec<Problem> = secrets
        .iter()
        .filter(|s| !crate::common::headers::valid_value(&s.value))
        .map(|s| {
            Problem::bare(format!(
                "the value of header `{}` is not a valid HTTP header value",
                s.header
            ))
            .help("header values are one line of visible text; was it copied completely?")
        })
        .collect();
    if !bad.is_empty() {
        return Err(bad);
    }
    Ok(JobHeaders {
        kept: unique,
        secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    #[test]
    fn plan_details() {
        let headers = vec![
            h(":authority", "cdn.example.com"),
            h("authority", "cdn.example.com"),
            h("Host", "cdn.example.com"),
            h("Range", "bytes=0-"),
            h("If-None-Match", "\"abc\""),
            h("DNT", "1"),
            h("Upgrade-Insecure-Requests", "1"),
            h("Content-Length", "0"),
            h("X-Client-Data", "CIa2yQEIo7bJAQ=="),
            h("Sec-GPC", "1"),
            h("x-requested-with", "XMLHttpRequest"),
            h("X-Playback-Session-Id", "4F1C-77"),
            h("X-Auth-Token", "t-1"),
            h("x-api-key", "k-123"),
            h("cookie", "a=1;"),
            h("Cookie", "b=2"),
            h("USER-AGENT", "ua"),
        ];
        let plan = plan_headers("--My Job!--", &headers);
        assert_eq!(
            plan.kept,
            vec![
                h("x-requested-with", "XMLHttpRequest"),
                h("X-Playback-Session-Id", "4F1C-77"),
                h("X-Auth-Token", "${SNATCH_MY_JOB_X_AUTH_TOKEN}"),
                h("x-api-key", "${SNATCH_MY_JOB_X_API_KEY}"),
                h("Cookie", "${SNATCH_MY_JOB_COOKIE}"),
                h("User-Agent", "ua"),
            ]
        );
        assert_eq!(
            plan.secrets
                .iter()
                .map(|s| (s.header.as_str(), s.var.as_str(), s.value.as_str()))
                .collect::<Vec<_>>(),
            vec![
                ("X-Auth-Token", "SNATCH_MY_JOB_X_AUTH_TOKEN", "t-1"),
                ("x-api-key", "SNATCH_MY_JOB_X_API_KEY", "k-123"),
                ("Cookie", "SNATCH_MY_JOB_COOKIE", "a=1; b=2"),
            ]
        );
        assert_eq!(
            plan_headers("", &[h("Cookie", "a=1")]).secrets[0].var,
            "SNATCH_COOKIE"
        );
    }

    #[test]
    fn export_lines() {
        let secret = |value: &str| SecretHeader {
            header: "Cookie".into(),
            var: "SNATCH_ABC_COOKIE".into(),
            value: value.into(),
        };
        assert_eq!(
            export_line(&secret("a=1; b=2")),
            "export SNATCH_ABC_COOKIE='a=1; b=2'"
        );
        assert_eq!(
            export_line(&secret("name=O'Brien; x=$HOME `id` \"q\" \\n")),
            r#"export SNATCH_ABC_COOKIE='name=O'\''Brien; x=$HOME `id` "q" \n'"#
        );
        assert_eq!(
            export_line(&secret("''")),
            r"export SNATCH_ABC_COOKIE=''\'''\'''"
        );
        assert_eq!(export_line(&secret("")), "export SNATCH_ABC_COOKIE=''");
    }
}
