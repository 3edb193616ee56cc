//! What every request must show before the page answers it:
//! - a `Host` that is the address snatch listens on, or `localhost` with
//!   its port (a name an attacker's DNS points at 127.0.0.1 is refused:
//!   DNS rebinding);
//! - the token, in the cookie set on the first visit (`/?token=…`, which
//!   then redirects to drop it from the address bar);
//! - for anything that changes state: POST, with an `Origin` equal to the
//!   page's own (a form or script on another site is refused: CSRF).
//!
//! No CORS header is ever sent, so no other origin reads an answer.

use std::net::{IpAddr, SocketAddr};

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// The token and the names the page may be reached by.
#[derive(Debug, Clone)]
pub struct Guard {
    token: String,
    cookie: String,
    bound: SocketAddr,
}

/// Why a request is refused, and the answer it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Host`, or one that is not this server's name.
    Host,
    /// No token, or a wrong one.
    Token,
    /// A state change by another method than POST.
    Method,
    /// A POST without an `Origin`, or from another origin.
    Origin,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Refusal::Host => (
                StatusCode::FORBIDDEN,
                "refused: the Host header is not the address snatch ui listens on",
            ),
            Refusal::Token => (
                StatusCode::UNAUTHORIZED,
                "refused: open the address `snatch ui` printed, with its token",
            ),
            Refusal::Method => (StatusCode::METHOD_NOT_ALLOWED, "refused: use POST"),
            Refusal::Origin => (
                StatusCode::FORBIDDEN,
                "refused: a change must come from the page itself (Origin)",
            ),
        };
        (status, text).into_response()
    }
}

/// What a request that passed the guard may do.
#[derive(Debug, PartialEq, Eq)]
pub enum Pass {
    /// Serve it.
    Serve,
    /// The first visit: set the cookie and redirect to the address
    /// without the token.
    SetCookie,
}

impl Guard {
    /// A guard with a fresh random token, for a server bound to `bound`.
    pub fn new(bound: SocketAddr) -> Guard {
        let bytes: [u8; 32] = rand::random();
        let token = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Guard::with_token(bound, token)
    }

    pub fn with_token(bound: SocketAddr, token: String) -> Guard {
        Guard {
            token,
            cookie: format!("snatch_ui_{}", bound.port()),
            bound,
        }
    }

    /// The address to open, with the token.
    pub fn first_url(&self) -> String {
        format!("{}/?token={}", self.origin_of_bound(), self.token)
    }

    fn origin_of_bound(&self) -> String {
        let shown = match self.bound.ip() {
            ip if ip.is_unspecified() => SocketAddr::new(
                match ip {
                    IpAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
                    IpAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                },
                self.bound.port(),
            ),
            _ => self.bound,
        };
        format!("http://{shown}")
    }

    /// Checks a request (see the module docs).
    pub fn check(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<Pass, Refusal> {
        let host = self.host(headers)?;
        let pass = match self.token_in_query(uri) {
            Some(true) if method == Method::GET && uri.path() == "/" => Pass::SetCookie,
            Some(false) => return Err(Refusal::Token),
            _ if self.cookie_holds_token(headers) => Pass::Serve,
            _ => return Err(Refusal::Token),
        };
        if method == Method::GET || method == Method::HEAD {
            return Ok(pass);
        }
        if method != Method::POST {
            return Err(Refusal::Method);
        }
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        match origin {
            Some(o) if o == format!("http://{host}") => Ok(pass),
            _ => Err(Refusal::Origin),
        }
    }

    /// The `Host` header, when it names this server.
    fn host<'a>(&self, headers: &'a HeaderMap) -> Result<&'a str, Refusal> {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::Host)?;
        let port = self.bound.port();
        if host.eq_ignore_ascii_case(&format!("localhost:{port}")) {
            return Ok(host);
        }
        let Ok(addr) = host.parse::<SocketAddr>() else {
            return Err(Refusal::Host);
        };
        let ip_ok = addr.ip() == self.bound.ip()
            || (self.bound.ip().is_unspecified() && addr.ip().is_ipv4() == self.bound.is_ipv4());
        match ip_ok && addr.port() == port {
            true => Ok(host),
            false => Err(Refusal::Host),
        }
    }

    /// `Some(matches)` when the query has a `token`.
    fn token_in_query(&self, uri: &Uri) -> Option<bool> {
        let query = uri.query()?;
        let given = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))?;
        Some(same(given.as_bytes(), self.token.as_bytes()))
    }

    fn cookie_holds_token(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(name, value)| {
                name == self.cookie && same(value.as_bytes(), self.token.as_bytes())
            })
    }

    /// The answer to the first visit: the cookie, and a redirect to `/`.
    pub fn set_cookie(&self) -> Response {
        let cookie = format!(
            "{}={}; HttpOnly; SameSite=Strict; Path=/",
            self.cookie, self.token
        );
        let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
        r
    }
}

/// Compares in time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Headers every answer carries: nothing cached, no framing, no sniffing,
/// scripts and styles from the page's own origin only, no referrer.
pub fn harden(headers: &mut HeaderMap) {
    let set = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::with_token("127.0.0.1:4000".parse().unwrap(), "abc123".into())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn check(method: Method, uri: &str, pairs: &[(&'static str, &str)]) -> Result<Pass, Refusal> {
        guard().check(&method, &uri.parse().unwrap(), &headers(pairs))
    }

    const COOKIE: (&str, &str) = ("cookie", "other=1; snatch_ui_4000=abc123");

    #[test]
    fn the_token_in_the_address_sets_the_cookie_once() {
        let host = ("host", "127.0.0.1:4000");
        assert_eq!(
            check(Method::GET, "/?token=abc123", &[host]),
            Ok(Pass::SetCookie)
        );
        assert_eq!(
            check(Method::GET, "/?token=abc124", &[host]),
            Err(Refusal::Token)
        );
        assert_eq!(check(Method::GET, "/", &[host]), Err(Refusal::Token));
        assert_eq!(
            check(Method::GET, "/api/jobs", &[host, COOKIE]),
            Ok(Pass::Serve)
        );
        let wrong = ("cookie", "snatch_ui_4000=abc12");
        assert_eq!(check(Method::GET, "/", &[host, wrong]), Err(Refusal::Token));
    }

    #[test]
    fn only_the_bound_address_or_localhost_is_a_host() {
        for ok in ["127.0.0.1:4000", "localhost:4000", "LOCALHOST:4000"] {
            assert_eq!(
                check(Method::GET, "/", &[("host", ok), COOKIE]),
                Ok(Pass::Serve),
                "{ok}"
            );
        }
        for bad in [
            "evil.example:4000",
            "127.0.0.1:4001",
            "localhost",
            "127.0.0.2:4000",
            "",
        ] {
            assert_eq!(
                check(Method::GET, "/", &[("host", bad), COOKIE]),
                Err(Refusal::Host),
                "{bad}"
            );
        }
        assert_eq!(check(Method::GET, "/", &[COOKIE]), Err(Refusal::Host));
    }

    #[test]
    fn a_change_needs_post_from_the_page_itself() {
        let host = ("host", "localhost:4000");
        let own = ("origin", "http://localhost:4000");
        assert_eq!(
            check(Method::POST, "/api/run", &[host, COOKIE, own]),
            Ok(Pass::Serve)
        );
        assert_eq!(
            check(Method::POST, "/api/run", &[host, COOKIE]),
            Err(Refusal::Origin)
        );
        let other = ("origin", "http://127.0.0.1:4000");
        assert_eq!(
            check(Method::POST, "/api/run", &[host, COOKIE, other]),
            Err(Refusal::Origin)
        );
        let null = ("origin", "null");
        assert_eq!(
            check(Method::POST, "/api/run", &[host, COOKIE, null]),
            Err(Refusal::Origin)
        );
        assert_eq!(
            check(Method::PUT, "/api/run", &[host, COOKIE, own]),
            Err(Refusal::Method)
        );
    }

    #[test]
    fn the_first_address_names_the_bound_one() {
        assert_eq!(guard().first_url(), "http://127.0.0.1:4000/?token=abc123");
        let any = Guard::with_token("0.0.0.0:5000".parse().unwrap(), "t".into());
        assert_eq!(any.first_url(), "http://127.0.0.1:5000/?token=t");
    }
}
