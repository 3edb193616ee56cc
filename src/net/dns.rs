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

/// Names to addresses.
pub type Dns = Arc<dyn Resolve>;

/// The resolver every client of a fetcher uses, and which addresses count
/// as internal ([`is_internal`]; a test may count its own loopback
/// addresses apart, so that no test ever needs a public one).
#[derive(Clone)]
pub struct Resolver {
    pub names: Dns,
    pub internal: fn(IpAddr) -> bool,
}

impl Resolver {
    pub fn system() -> Resolver {
        Resolver {
            names: Arc::new(SystemDns),
            internal: is_internal,
        }
    }
}

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
pub struct PublicOnly(pub Resolver);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let answer = self.0.names.resolve(name);
        let internal = self.0.internal;
        Box::pin(async move {
            let addrs: Vec<_> = answer.await?.collect();
            if addrs.iter().any(|a| internal(a.ip())) {
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
pub async fn resolves_internal(dns: &Resolver, url: &Url) -> Result<bool, LookupError> {
    let host = host_of(url);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((dns.internal)(ip));
    }
    let name: Name = host
        .parse()
        .map_err(|e| LookupError::Failed(std::io::Error::other(e)))?;
    let addrs = dns
        .names
        .resolve(name)
        .await
        .map_err(|e| LookupError::Failed(std::io::Error::other(e)))?;
    let mut any = false;
    for a in addrs {
        if (dns.internal)(a.ip()) {
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
