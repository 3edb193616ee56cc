//! Query parameters of a segment URL that carry credentials (signed-URL
//! signatures, tokens, keys) and so must not be written into a job file.
//!
//! A parameter is a credential when its name, compared without regard to
//! case, is
//!
//! * one of `sig`, `signature`, `token`, `hdnts`, `hdntl`, `__token__`,
//!   `policy`, `key-pair-id`, `auth`, `key`, `jwt`, `hmac`, `googleaccessid`;
//! * or starts with `x-amz-` (AWS SigV4: `X-Amz-Signature`,
//!   `X-Amz-Credential`, `X-Amz-Security-Token`, `X-Amz-Date`, …) or
//!   `x-goog-` (Google Cloud Storage signed URLs);
//! * or contains `token`, `signature`, `secret`, `password`, `passwd`,
//!   `auth`, `credential`, `session`, `apikey`, `api_key` or `api-key`;
//! * or ends in `_key` or `-key` (`access_key`, `secret-key`);
//! * or is `expires` or `expiry` while another parameter of the URL is a
//!   credential (CloudFront's `Expires` with `Key-Pair-Id` and `Signature`:
//!   the three are renewed together).
//!
//! A value that is empty, holds the segment index (`{{index}}`) or, in a URL
//! given on the command line, already names a variable (`${…}`) stays as it
//! is. Every other credential's value is replaced by `${SNATCH_<JOB>_<PARAM>}`
//! (the name as [`super::headers`] makes it for headers, e.g.
//! `SNATCH_LECTURE_01_X_AMZ_SIGNATURE`), and the value, still
//! percent-encoded as it was in the URL, is returned for an `export` line.

use super::headers::env_part;
use super::job_text::literal;

/// A query value that must come from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretParam {
    /// The parameter's name as in the URL, e.g. `Signature`.
    pub param: String,
    /// Environment variable, e.g. `SNATCH_LECTURE_01_SIGNATURE`.
    pub var: String,
    /// The value as it was in the URL (percent-encoding kept).
    pub value: String,
}

/// The job file's URL and the query values taken out of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryPlan {
    /// The URL as job-file text, credentials as `${SNATCH_…}`.
    pub url: String,
    pub secrets: Vec<SecretParam>,
}

/// Replaces credential values in `url` (a template from
/// [`super::detect`]) by placeholders. `copied`: the URL came from a cURL
/// command, so its text is literal (`${` written as `$${`); otherwise it is
/// job-file text already. `taken`: variables already used by the job
/// (its secret headers); a clash gets `_QUERY`, then a number.
pub fn plan_query(job_name: &str, url: &str, copied: bool, taken: &[String]) -> QueryPlan {
    let text = |s: &str| if copied { literal(s) } else { s.to_string() };
    let pairs = query_pairs(url);
    let any_secret = pairs.iter().any(|p| is_secret_name(&p.name));
    let mut plan = QueryPlan::default();
    let mut used: Vec<String> = taken.to_vec();
    let mut done = 0;
    for pair in pairs {
        let value = &url[pair.value.clone()];
        let keep = value.is_empty() || value.contains("{{") || (!copied && value.contains("${"));
        let secret = is_secret_name(&pair.name) || (any_secret && is_expiry(&pair.name));
        if keep || !secret {
            continue;
        }
        let var = free_var(
            &["SNATCH", &env_part(job_name), &env_part(&pair.name)],
            &used,
        );
        used.push(var.clone());
        plan.url.push_str(&text(&url[done..pair.value.start]));
        plan.url.push_str(&format!("${{{var}}}"));
        done = pair.value.end;
        plan.secrets.push(SecretParam {
            param: pair.name,
            var,
            value: value.to_string(),
        });
    }
    plan.url.push_str(&text(&url[done..]));
    plan
}

/// [`plan_query`] for a second URL of the same job (the init segment's):
/// a credential with the same name and value as one of `known` reads the
/// same variable.
pub fn plan_query_reusing(
    job_name: &str,
    url: &str,
    copied: bool,
    taken: &[String],
    known: &[SecretParam],
) -> QueryPlan {
    let mut plan = plan_query(job_name, url, copied, taken);
    let mut secrets = Vec::new();
    for s in std::mem::take(&mut plan.secrets) {
        match known
            .iter()
            .find(|k| k.param == s.param && k.value == s.value)
        {
            Some(k) => {
                plan.url = plan
                    .url
                    .replace(&format!("${{{}}}", s.var), &format!("${{{}}}", k.var));
            }
            None => secrets.push(s),
        }
    }
    plan.secrets = secrets;
    plan
}

/// `text` with the value of every credential-like query parameter of `urls`
/// shown as `***`: for messages that quote a URL before it became a job.
pub fn mask(text: &str, urls: &[&str]) -> String {
    let mut values: Vec<String> = urls
        .iter()
        .flat_map(|url| plan_query("", url, true, &[]).secrets)
        .map(|s| s.value)
        // A value of a few characters is no secret, and would mask too much.
        .filter(|v| v.len() >= 4)
        .collect();
    // Longer values first, so that one inside another is masked whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values
        .iter()
        .fold(text.to_string(), |text, v| text.replace(v.as_str(), "***"))
}

/// One `name=value` of the query: the name as written, the value's bytes.
struct Pair {
    name: String,
    value: std::ops::Range<usize>,
}

fn query_pairs(url: &str) -> Vec<Pair> {
    let Some(q) = url.find('?') else {
        return Vec::new();
    };
    let end = url[q..].find('#').map_or(url.len(), |f| q + f);
    let mut out = Vec::new();
    let mut start = q + 1;
    for part in url[q + 1..end].split('&') {
        if let Some((name, value)) = part.split_once('=') {
            let at = start + name.len() + 1;
            out.push(Pair {
                name: name.to_string(),
                value: at..at + value.len(),
            });
        }
        start += part.len() + 1;
    }
    out
}

fn is_secret_name(name: &str) -> bool {
    crate::common::mask::is_secret_param(name)
}

fn is_expiry(name: &str) -> bool {
    name.eq_ignore_ascii_case("expires") || name.eq_ignore_ascii_case("expiry")
}

/// `SNATCH_<JOB>_<PARAM>`, or with `_QUERY` (then `_2`, `_3`, …) when taken.
fn free_var(parts: &[&str], taken: &[String]) -> String {
    let base = parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("_");
    let free = |v: &str| !taken.iter().any(|t| t == v);
    if free(&base) {
        return base;
    }
    let query = format!("{base}_QUERY");
    if free(&query) {
        return query;
    }
    (2u64..)
        .map(|n| format!("{query}_{n}"))
        .find(|v| free(v))
        .expect("there is always a free name")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(plan: &QueryPlan) -> Vec<(&str, &str, &str)> {
        plan.secrets
            .iter()
            .map(|s| (s.param.as_str(), s.var.as_str(), s.value.as_str()))
            .collect()
    }

    #[test]
    fn cloudfront_signed_url() {
        let url = "https://d1.cloudfront.net/v/abc/{{index}}.ts?Expires=1700000000&Signature=Ab~C-d_&Key-Pair-Id=K2JCJMDEHXQW5F&lang=en";
        let plan = plan_query("abc", url, false, &[]);
        assert_eq!(
            plan.url,
            "https://d1.cloudfront.net/v/abc/{{index}}.ts?Expires=${SNATCH_ABC_EXPIRES}&Signature=${SNATCH_ABC_SIGNATURE}&Key-Pair-Id=${SNATCH_ABC_KEY_PAIR_ID}&lang=en"
        );
        assert_eq!(
            vars(&plan),
            [
                ("Expires", "SNATCH_ABC_EXPIRES", "1700000000"),
                ("Signature", "SNATCH_ABC_SIGNATURE", "Ab~C-d_"),
                ("Key-Pair-Id", "SNATCH_ABC_KEY_PAIR_ID", "K2JCJMDEHXQW5F"),
            ]
        );
        // Expires alone is not a credential.
        let plain = "https://h/{{index}}.ts?expires=1700000000&q=1";
        assert_eq!(plan_query("abc", plain, false, &[]).url, plain);
    }

    #[test]
    fn aws_akamai_and_common_names() {
        let url = "https://h/{{index}}.ts?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2024&hdnts=exp=1~acl=/*~hmac=ab&sig=s1&token=t1&auth_key=k1&api_key=k2&author=bob&quality=720p&keyframe=3#t=10";
        let plan = plan_query("Job 1", url, false, &[]);
        let got: Vec<&str> = plan.secrets.iter().map(|s| s.param.as_str()).collect();
        assert_eq!(
            got,
            [
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "hdnts",
                "sig",
                "token",
                "auth_key",
                "api_key",
                "author"
            ]
        );
        assert_eq!(plan.secrets[1].value, "AKIA%2F2024");
        assert_eq!(plan.secrets[2].value, "exp=1~acl=/*~hmac=ab");
        assert_eq!(plan.secrets[0].var, "SNATCH_JOB_1_X_AMZ_ALGORITHM");
        assert!(
            plan.url.ends_with("&quality=720p&keyframe=3#t=10"),
            "{}",
            plan.url
        );
        for s in &plan.secrets {
            assert!(!plan.url.contains(&format!("={}", s.value)), "{}", plan.url);
        }
    }

    #[test]
    fn masked_in_messages() {
        // Values of fewer than 4 characters stay: masking `1` would hide every 1.
        let url = "https://h/a/1_2.ts?Signature=SIG123&Key-Pair-Id=K1&x=1&sig=1";
        assert_eq!(
            mask(&format!("`{url}`: ambiguous"), &[url]),
            "`https://h/a/1_2.ts?Signature=***&Key-Pair-Id=K1&x=1&sig=1`: ambiguous"
        );
    }

    #[test]
    fn a_second_url_shares_the_variables_of_equal_values() {
        let seg = plan_query("a", "https://h/{{index}}.m4s?token=T1&sig=S1", false, &[]);
        let taken: Vec<String> = seg.secrets.iter().map(|s| s.var.clone()).collect();
        let init = plan_query_reusing(
            "a",
            "https://h/init.mp4?token=T1&sig=S2",
            false,
            &taken,
            &seg.secrets,
        );
        assert_eq!(
            init.url,
            "https://h/init.mp4?token=${SNATCH_A_TOKEN}&sig=${SNATCH_A_SIG_QUERY}"
        );
        assert_eq!(vars(&init), [("sig", "SNATCH_A_SIG_QUERY", "S2")]);
    }

    #[test]
    fn kept_values_copied_text_and_clashes() {
        // Empty, the index, a variable already: kept.
        let url = "https://h/a.ts?token=&sig={{index}}&auth=${SNATCH_MINE}";
        assert_eq!(plan_query("a", url, false, &[]).url, url);
        // Copied text is literal; a taken name gets _QUERY.
        let url = "https://h/{{index}}.ts?p=$${x}&token=a${b}";
        let plan = plan_query("a", url, true, &["SNATCH_A_TOKEN".to_string()]);
        assert_eq!(
            plan.url,
            "https://h/{{index}}.ts?p=$$${x}&token=${SNATCH_A_TOKEN_QUERY}"
        );
        assert_eq!(plan.secrets[0].value, "a${b}");
        // The same name twice.
        let plan = plan_query("a", "https://h/1.ts?sig=1&sig=2", false, &[]);
        assert_eq!(
            plan.url,
            "https://h/1.ts?sig=${SNATCH_A_SIG}&sig=${SNATCH_A_SIG_QUERY}"
        );
        // No query, or no `=`.
        for url in [
            "https://h/1.ts",
            "https://h/1.ts?token",
            "https://h/1.ts#sig=1",
        ] {
            assert_eq!(plan_query("a", url, false, &[]).url, url);
        }
    }
}
