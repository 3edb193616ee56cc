//! `send_secrets_to`: the hosts besides its own origin that a job's
//! secrets (values from `${…}`, `Cookie`, `Authorization`) may go to. The
//! net stage asks [`SecretHost::matches`] for every request; this module
//! only reads and checks what the job file wrote.

use reqwest::Url;

/// One entry of `send_secrets_to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretHost {
    /// `cdn.example.com`: that host, any scheme and port.
    Host(String),
    /// `*.example.net`: any host below `example.net` (not itself).
    Below(String),
    /// `https://cdn.example.com:8443`: exactly that origin.
    Origin(Origin),
}

/// A URL's origin: scheme, host (lower case) and port (the scheme's
/// default when the URL names none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(url: &Url) -> Origin {
        Origin {
            scheme: url.scheme().to_string(),
            host: url.host_str().unwrap_or("").to_ascii_lowercase(),
            port: url.port_or_known_default().unwrap_or(0),
        }
    }
}

/// Why an entry of `send_secrets_to` is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretHostError {
    #[error("`{0}` is not a host name, `*.domain` or an origin (`https://host[:port]`)")]
    NotAHost(String),
    #[error("`{0}` has more than an origin (a path, query or user); write `scheme://host[:port]`")]
    MoreThanOrigin(String),
    #[error("`{0}` matches every host; name the domain (`*.example.com`)")]
    TooWide(String),
}

impl SecretHost {
    pub fn parse(text: &str) -> Result<SecretHost, SecretHostError> {
        let bad = || SecretHostError::NotAHost(text.to_string());
        if text.contains("://") {
            let url = Url::parse(text).map_err(|_| bad())?;
            let bare = matches!(url.path(), "" | "/")
                && url.query().is_none()
                && url.fragment().is_none()
                && url.username().is_empty()
                && url.password().is_none();
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(bad());
            }
            if !bare {
                return Err(SecretHostError::MoreThanOrigin(text.to_string()));
            }
            return Ok(SecretHost::Origin(Origin::of(&url)));
        }
        let lower = text.to_ascii_lowercase();
        let (below, name) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest.to_string()),
            None => (false, lower),
        };
        if !is_host_name(&name) {
            return Err(bad());
        }
        let numeric = name
            .split('.')
            .all(|l| l.chars().all(|c| c.is_ascii_digit()));
        // A URL writes an address as four numbers (`127.1` and `2130706433`
        // are read as 127.0.0.1, and would never match as written).
        if numeric && (below || name.parse::<std::net::Ipv4Addr>().is_err()) {
            return Err(SecretHostError::NotAHost(text.to_string()));
        }
        if below && !name.contains('.') {
            return Err(SecretHostError::TooWide(text.to_string()));
        }
        Ok(match below {
            true => SecretHost::Below(name),
            false => SecretHost::Host(name),
        })
    }

    /// Whether a request to `url` may carry the job's secrets by this entry.
    pub fn matches(&self, url: &Url) -> bool {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        match self {
            SecretHost::Host(h) => host == *h,
            SecretHost::Below(d) => host
                .strip_suffix(d.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            SecretHost::Origin(o) => Origin::of(url) == *o,
        }
    }
}

/// Letters, digits, `-`, `_` and `.`, as host names are written in URLs
/// (IDN in its `xn--` form), or an IPv4 address.
fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn hosts_domains_and_origins() {
        let host = SecretHost::parse("CDN.example.com").unwrap();
        assert!(host.matches(&url("https://cdn.example.com:8443/a.ts")));
        assert!(host.matches(&url("http://cdn.example.com/a.ts")));
        assert!(!host.matches(&url("https://cdn.example.com.evil.net/a.ts")));
        assert!(!host.matches(&url("https://x.cdn.example.com/a.ts")));

        assert!(SecretHost::parse("cdn_1.example").is_ok());
        let ip = SecretHost::parse("127.0.0.2").unwrap();
        assert!(ip.matches(&url("http://127.0.0.2:8080/a.ts")));

        let below = SecretHost::parse("*.example.net").unwrap();
        assert!(below.matches(&url("https://a.example.net/x")));
        assert!(below.matches(&url("https://a.b.example.net/x")));
        assert!(!below.matches(&url("https://example.net/x")));
        assert!(!below.matches(&url("https://badexample.net/x")));

        let origin = SecretHost::parse("https://cdn.example.com:8443").unwrap();
        assert!(origin.matches(&url("https://cdn.example.com:8443/a.ts")));
        assert!(!origin.matches(&url("https://cdn.example.com/a.ts")));
        assert!(!origin.matches(&url("http://cdn.example.com:8443/a.ts")));
    }

    #[test]
    fn what_is_not_a_host() {
        for bad in [
            "",
            "a b",
            "*",
            "*.com",
            "ftp://x.example",
            "https://x/a",
            "-a.com",
        ] {
            assert!(SecretHost::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            SecretHost::parse("*.com").unwrap_err().to_string(),
            "`*.com` matches every host; name the domain (`*.example.com`)"
        );
    }
}
