//! What a job's requests may carry and where they may lead: the one rule
//! for secrets (values from `${…}`, `Cookie`, `Authorization`) and the
//! job's own host, against which a server-named URL is judged.
//!
//! Secrets go to the origin of the URL the job file wrote (a playlist
//! job's playlist; each request of a template job, whose URLs the job file
//! writes) and to the hosts of `send_secrets_to`; every other request gets
//! the job's other headers only, whoever named its URL (a playlist, a
//! redirect) and whatever came before.

use reqwest::header::{HeaderMap, AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
use reqwest::Url;
use tokio::sync::OnceCell;

use crate::common::origins::{Origin, SecretHost};
use crate::common::Secret;

/// One job's scope, shared by all its requests. Its `Debug` shows no URL
/// (the home's may hold a secret).
#[derive(Default)]
pub struct Scope {
    home: Home,
    /// `send_secrets_to`.
    listed: Vec<SecretHost>,
    /// Whether the home's host resolves to an internal address; looked up
    /// once, at the job's first request.
    home_internal: OnceCell<bool>,
    /// Server-named hosts looked up, and whether each is internal.
    inward: std::sync::Mutex<std::collections::HashMap<String, bool>>,
}

/// What the job file wrote.
#[derive(Default)]
enum Home {
    /// A template job: each request's own URL (or a URL typed on the
    /// command line).
    #[default]
    EachUrl,
    /// A playlist job: its playlist's URL (the real one).
    Playlist(Url),
    /// A playlist job whose URL does not parse: nothing is its own (it
    /// fails at its first request; no secret goes anywhere meanwhile).
    Unknown,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let home = match self.home {
            Home::EachUrl => "each URL",
            Home::Playlist(_) => "the playlist's origin",
            Home::Unknown => "none",
        };
        f.debug_struct("Scope")
            .field("home", &home)
            .field("listed", &self.listed)
            .finish_non_exhaustive()
    }
}

impl Scope {
    /// A template job's (or a URL typed on the command line): the URL of
    /// each request is the job's own.
    pub fn own_urls(listed: Vec<SecretHost>) -> Scope {
        Scope {
            listed,
            ..Scope::default()
        }
    }

    /// A playlist job's: only `playlist`'s origin (and `listed`) is the
    /// job's own; every URL the playlist names is the server's.
    pub fn playlist(playlist: &Secret, listed: Vec<SecretHost>) -> Scope {
        let home = match Url::parse(playlist.expose()) {
            Ok(url) => Home::Playlist(url),
            Err(_) => Home::Unknown,
        };
        Scope {
            home,
            listed,
            ..Scope::default()
        }
    }

    /// Whether every request of the job is judged against one home (a
    /// playlist job's): then each is guarded when that home is public.
    pub fn has_one_home(&self) -> bool {
        !matches!(self.home, Home::EachUrl)
    }

    /// Whether `first`, a request's first URL, is one the job file wrote
    /// (its origin is the job's own), rather than one a server named.
    pub fn named_by_job(&self, first: &Url) -> bool {
        match &self.home {
            Home::EachUrl => true,
            Home::Playlist(home) => Origin::of(home) == Origin::of(first),
            Home::Unknown => false,
        }
    }

    /// Whether a request to `url` may carry the job's secrets, `first`
    /// being the URL the request started at. The one decision; every
    /// request path calls it through [`Scope::headers_for`]. A listed
    /// host (not an origin) gets them over `https`, or over `http` only
    /// when the job's own URL is `http` too: never a downgrade.
    pub fn secrets_go_to(&self, first: &Url, url: &Url) -> bool {
        let own = match &self.home {
            Home::EachUrl => first,
            Home::Playlist(home) => home,
            Home::Unknown => return self.listed_allows(url, "https"),
        };
        Origin::of(own) == Origin::of(url) || self.listed_allows(url, own.scheme())
    }

    fn listed_allows(&self, url: &Url, own_scheme: &str) -> bool {
        self.listed.iter().any(|h| match h {
            SecretHost::Origin(_) => h.matches(url),
            _ => h.matches(url) && (url.scheme() == "https" || own_scheme == "http"),
        })
    }

    /// The job's headers as a request to `url` may carry them.
    pub fn headers_for(&self, first: &Url, url: &Url, all: &HeaderMap) -> HeaderMap {
        let mut headers = all.clone();
        if !self.secrets_go_to(first, url) {
            strip_secrets(&mut headers);
        }
        headers
    }

    /// The URL whose host decides whether a request that `first` starts
    /// may lead to an internal address: the job's own; `None` when it is
    /// not known (then the job counts as public).
    pub fn home<'a>(&'a self, first: &'a Url) -> Option<&'a Url> {
        match &self.home {
            Home::EachUrl => Some(first),
            Home::Playlist(home) => Some(home),
            Home::Unknown => None,
        }
    }

    /// Whether a server-named `host` was found internal, if it was looked up.
    pub fn known_inward(&self, host: &str) -> Option<bool> {
        let known = self.inward.lock().unwrap_or_else(|e| e.into_inner());
        known.get(host).copied()
    }

    pub fn learn_inward(&self, host: String, internal: bool) {
        let mut known = self.inward.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() < 4096 {
            known.insert(host, internal);
        }
    }

    /// Whether the job's own host is internal, looked up once by `look`
    /// for a job with one home.
    pub async fn home_internal<F>(&self, look: F) -> bool
    where
        F: std::future::Future<Output = bool>,
    {
        match &self.home {
            Home::Playlist(_) => *self.home_internal.get_or_init(|| look).await,
            Home::EachUrl => look.await,
            Home::Unknown => false,
        }
    }
}

/// Drops what must stay with the job's own origins: every header whose
/// value came from `${…}` (marked sensitive), and `Cookie`,
/// `Authorization` and `Proxy-Authorization` whatever their source.
pub(super) fn strip_secrets(headers: &mut HeaderMap) {
    for name in [COOKIE, AUTHORIZATION, PROXY_AUTHORIZATION] {
        headers.remove(name);
    }
    let secret: Vec<_> = headers
        .iter()
        .filter(|(_, v)| v.is_sensitive())
        .map(|(n, _)| n.clone())
        .collect();
    for name in secret {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, REFERER};

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn a_playlist_job_sends_secrets_to_its_own_origin_and_listed_hosts_only() {
        let listed = vec![SecretHost::parse("*.example.net").unwrap()];
        let scope = Scope::playlist(
            &Secret::plain("https://tv.example.com/v/master.m3u8"),
            listed,
        );
        let first = url("https://cdn.example.org/a/seg1.ts");
        assert!(!scope.named_by_job(&first));
        assert!(!scope.secrets_go_to(&first, &first));
        let own = url("https://tv.example.com:443/v/seg1.ts");
        assert!(scope.secrets_go_to(&first, &own), "the playlist's origin");
        assert!(!scope.secrets_go_to(&first, &url("http://tv.example.com/v/seg1.ts")));
        assert!(scope.secrets_go_to(&first, &url("https://edge.example.net/seg1.ts")));
        assert!(
            !scope.secrets_go_to(&first, &url("http://edge.example.net/seg1.ts")),
            "a listed host never gets them over http when the job's URL is https"
        );
        let origin = vec![SecretHost::parse("http://edge.example.net:8080").unwrap()];
        let scope = Scope::playlist(&Secret::plain("https://tv.example.com/m.m3u8"), origin);
        assert!(scope.secrets_go_to(&first, &url("http://edge.example.net:8080/seg1.ts")));
        let unknown = Scope::playlist(&Secret::plain("no url"), Vec::new());
        assert!(!unknown.secrets_go_to(&first, &first), "fails closed");
        assert!(!unknown.named_by_job(&first));
        assert_eq!(
            format!("{unknown:?}"),
            "Scope { home: \"none\", listed: [], .. }"
        );
    }

    #[test]
    fn a_template_job_sends_secrets_to_each_request_s_own_origin() {
        let scope = Scope::own_urls(Vec::new());
        let first = url("https://cdn.example.com/a/1.ts");
        assert!(scope.named_by_job(&first));
        assert!(scope.secrets_go_to(&first, &first));
        assert!(!scope.secrets_go_to(&first, &url("https://other.example.com/a/1.ts")));
    }

    #[test]
    fn headers_lose_their_secrets_off_scope() {
        let mut h = HeaderMap::new();
        h.insert(REFERER, HeaderValue::from_static("https://tv.example/v/1"));
        h.insert(COOKIE, HeaderValue::from_static("sid=1"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        let mut key = HeaderValue::from_static("k");
        key.set_sensitive(true);
        h.insert("x-api-key", key);
        h.insert("x-plain", HeaderValue::from_static("p"));
        let scope = Scope::own_urls(Vec::new());
        let first = url("https://a.example/1.ts");
        assert_eq!(scope.headers_for(&first, &first, &h).len(), 5);
        let other = scope.headers_for(&first, &url("https://b.example/1.ts"), &h);
        let names: Vec<_> = other.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["referer", "x-plain"]);
    }
}
