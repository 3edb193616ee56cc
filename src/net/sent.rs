//! The headers a request carried, as a message shows them: names, and
//! values unless they came from `${…}` (then `***`). A refusal (401, 403)
//! names them, so that the next step is plain: which header is missing,
//! which one may have expired.

use reqwest::header::{
    HeaderMap, HeaderName, AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, REFERER, USER_AGENT,
};

/// What every request sends unless the job sets its own `User-Agent`.
pub const USER_AGENT_DEFAULT: &str = concat!("snatch/", env!("CARGO_PKG_VERSION"));

/// The longest header value shown; longer ones are cut with `…`.
const MAX_SHOWN: usize = 60;

/// The headers of one request: the job's, and what reached the host that
/// answered (a redirect to another origin drops credentials).
#[derive(Clone, Copy)]
pub(super) struct Sent<'a> {
    pub job: &'a HeaderMap,
    pub sent: &'a HeaderMap,
}

impl Sent<'_> {
    /// `` `Referer: https://…`, `Cookie: ***`, `User-Agent: snatch/0.1.0` ``.
    /// Credentials (`Cookie`, `Authorization`, `Proxy-Authorization`) show
    /// as `***` even when written in the job file: messages go to CI logs.
    pub fn list(&self) -> String {
        let mut shown: Vec<String> = self
            .sent
            .iter()
            .map(|(n, v)| {
                let value = if v.is_sensitive() || is_credential(n) {
                    "***".to_string()
                } else {
                    cut(&String::from_utf8_lossy(v.as_bytes()))
                };
                format!("`{}: {value}`", title_case(n))
            })
            .collect();
        if !self.sent.contains_key(USER_AGENT) {
            shown.push(format!("`User-Agent: {USER_AGENT_DEFAULT}`"));
        }
        shown.join(", ")
    }

    /// Which of `names` were not sent, in title case.
    fn missing(&self, names: &[HeaderName]) -> Vec<String> {
        names
            .iter()
            .filter(|n| !self.sent.contains_key(*n))
            .map(title_case)
            .collect()
    }

    /// The job's headers not sent to this host: secrets off the job's own
    /// origins (a redirect, or a URL a playlist named).
    fn dropped(&self) -> Vec<String> {
        self.job
            .keys()
            .filter(|n| !self.sent.contains_key(*n))
            .map(title_case)
            .collect()
    }

    /// What to do about a refusal (`403`), or a demand for credentials
    /// (`401`, with `Authorization`): the headers sent, the ones a site
    /// usually wants that were not, and where to get them.
    pub fn refused_advice(&self, status: u16) -> String {
        let wanted = match status {
            401 => vec![AUTHORIZATION, COOKIE],
            _ => vec![REFERER, COOKIE],
        };
        let mut s = format!("; sent {}", self.list());
        let dropped = self.dropped();
        if !dropped.is_empty() {
            s.push_str(&format!(
                " ({} not sent: this host is not the job's own origin; \
                 `send_secrets_to` lists the hosts that may get it)",
                dropped.join(", ")
            ));
        }
        let missing: Vec<String> = self
            .missing(&wanted)
            .into_iter()
            .filter(|m| !dropped.contains(m))
            .collect();
        if missing.is_empty() {
            s.push_str(
                ": check them against what the site's player sends (a Cookie of a \
                 session that expired, a Referer of another page); a token in the URL \
                 may also have expired (see docs/troubleshooting.md#403-forbidden)",
            );
        } else {
            s.push_str(&format!(
                ", no {}: add the headers the site's player sends under the job's \
                 `headers:` (copy them from the browser's request, or paste it as a \
                 curl command into `snatch new`); a token in the URL may also have \
                 expired (see docs/troubleshooting.md#403-forbidden)",
                missing.join(" or ")
            ));
        }
        s
    }
}

fn is_credential(name: &HeaderName) -> bool {
    [COOKIE, AUTHORIZATION, PROXY_AUTHORIZATION].contains(name)
}

/// `user-agent` → `User-Agent`.
fn title_case(name: &HeaderName) -> String {
    name.as_str()
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn cut(value: &str) -> String {
    match value.char_indices().nth(MAX_SHOWN) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn map(pairs: &[(&str, &str, bool)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (n, v, secret) in pairs {
            let mut v = HeaderValue::from_str(v).unwrap();
            v.set_sensitive(*secret);
            m.insert(HeaderName::from_bytes(n.as_bytes()).unwrap(), v);
        }
        m
    }

    #[test]
    fn values_from_the_environment_show_as_stars_and_long_ones_are_cut() {
        let job = map(&[
            ("Referer", "https://tv.example.com/v/1", false),
            ("Cookie", "sid=hunter2", true),
            ("X-Long", &"a".repeat(100), false),
        ]);
        let s = Sent {
            job: &job,
            sent: &job,
        };
        let list = s.list();
        assert!(!list.contains("hunter2"), "{list}");
        assert!(
            list.starts_with("`Referer: https://tv.example.com/v/1`, `Cookie: ***`, `X-Long: aaaa")
        );
        assert!(list.contains("a…`"), "{list}");
        assert!(list.ends_with(&format!("`User-Agent: {USER_AGENT_DEFAULT}`")));
    }

    #[test]
    fn a_refusal_names_what_was_not_sent_and_what_a_redirect_dropped() {
        let job = map(&[("Cookie", "sid=1", false), ("User-Agent", "UA", false)]);
        let all = Sent {
            job: &job,
            sent: &job,
        };
        assert_eq!(
            all.list(),
            "`Cookie: ***`, `User-Agent: UA`",
            "a literal cookie too"
        );
        let sent = map(&[("User-Agent", "UA", false)]);
        let s = Sent {
            job: &job,
            sent: &sent,
        };
        let advice = s.refused_advice(403);
        assert!(
            advice.starts_with(
                "; sent `User-Agent: UA` (Cookie not sent: this host is not the job's own origin; \
                 `send_secrets_to` lists the hosts that may get it), no Referer:"
            ),
            "{advice}"
        );
        assert!(s.refused_advice(401).contains("no Authorization:"));
    }
}
