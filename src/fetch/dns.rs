//! Names to addresses, for requests and for the internal-address rule: the
//! system's resolver, or one a test gives ([`super::Fetcher::with_dns`]).
//! A guarded client resolves through [`PublicOnly`], so that what a name
//! resolves to is judged again when connecting.

use std::net::IpAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use super::address::is_internal;
use super::http::host_of;

/// The resolver every client of a fetcher uses.
pub type Dns = Arc<dyn Resolve>;

/// The system's resolver (`getaddrinfo`, off the async threads).
pub struct SystemDns;

impl Resolve for SystemDns {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A resolver that refuses a name when any of its addresses is internal.
/// (An IP address in the URL is not resolved; [`resolves_internal`]
/// judges it before the request.)
pub struct PublicOnly(pub Dns);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let answer = self.0.resolve(name);
        Box::pin(async move {
            let addrs: Vec<_> = answer.await?.collect();
            if addrs.iter().any(|a| is_internal(a.ip())) {
                let e = format!("{host} resolves to a loopback, private or link-local address");
                return Err(e.into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Why a host's addresses are not known.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("cannot be resolved ({0})")]
    Failed(std::io::Error),
    #[error("resolves to no address")]
    NoAddress,
}

/// Whether any address the URL's host resolves to is internal.
pub async fn resolves_internal(dns: &Dns, url: &Url) -> Result<bool, LookupError> {
    let host = host_of(url);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(is_internal(ip));
    }
    let name: Name = host
        .parse()
        .map_err(|e| LookupError::Failed(std::io::Error::other(e)))?;
    let addrs = dns
        .resolve(name)
        .await
        .map_err(|e| LookupError::Failed(std::io::Error::other(e)))?;
    let mut any = false;
    for a in addrs {
        if is_internal(a.ip()) {
            return Ok(true);
        }
        any = true;
    }
    if any {
        Ok(false)
    } else {
        Err(LookupError::NoAddress)
    }
}
