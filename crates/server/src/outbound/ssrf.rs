//! Whether a webhook destination URL may be called, before each request and after each
//! redirect.
//!
//! The rules ([`validate`]):
//!
//! 1. Scheme `https`. Plain `http` only when every address of the host is in the
//!    deployment's allowlist (a server on its own network) or [`SsrfPolicy::allow_http`] is
//!    set (tests, demos).
//! 2. No user name or password in the URL (they would be sent as `Authorization`, and
//!    they show wherever the URL is shown).
//! 3. A host is required. IP literals are judged directly (the `url` crate has already
//!    turned `http://2130706433/`, `0x7f.1` and `0177.0.0.1` into `127.0.0.1`, and
//!    `[::ffff:7f00:1]` stays IPv6 and is judged by its embedded IPv4); names are resolved
//!    and *every* answer must pass (see `resolver`).
//! 4. Port 443 or 8443 (or 80 for permitted plain `http`); any port when every address
//!    is allowlisted. Receivers on the internet use standard ports; arbitrary ports are how
//!    a scan of someone else's host starts.
//!
//! The connection itself resolves through `GuardedResolver` again, so a name that answers
//! differently the second time (DNS rebinding) is still refused; a URL permitted only
//! thanks to the allowlist ([`Checked::needs_allowlist`]) connects through a resolver that
//! accepts allowlisted addresses only.

use super::ranges::{Allowlist, Refusal};
use super::resolver::{Lookup, ResolveError, resolve_checked};
use reqwest::Url;
use std::net::IpAddr;
use std::str::FromStr;

/// Ports a public receiver may listen on (besides 80 for permitted plain `http`).
pub const PUBLIC_PORTS: [u16; 2] = [443, 8443];

/// The deployment's rules for destinations.
#[derive(Debug, Clone, Default)]
pub struct SsrfPolicy {
    /// Networks permitted despite their range (and for which `http` and any port are fine).
    pub allowlist: Allowlist,
    /// Permit plain `http` to any permitted address (tests and demos only).
    pub allow_http: bool,
}

/// Why a destination is refused. Messages name the rule, never the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsrfError {
    #[error("destination is not a valid URL")]
    InvalidUrl,
    /// Not `https` (or `http` where permitted).
    #[error("destination must use https")]
    Scheme,
    #[error("destination URL must not contain a user name or password")]
    Credentials,
    #[error("destination URL has no host")]
    NoHost,
    #[error("destination port {0} is not permitted (use 443 or 8443)")]
    Port(u16),
    /// The host is, or resolves to, a refused address.
    #[error("destination address is not permitted ({refusal})")]
    Refused { ip: IpAddr, refusal: Refusal },
    /// Permitted only within the allowlist (see [`Checked`]), the name resolved outside it
    /// when connecting.
    #[error("destination address is outside the allowlist")]
    NotAllowlisted { ip: IpAddr },
    /// The name did not resolve (maybe temporarily).
    #[error("destination host could not be resolved")]
    Dns,
    #[error("destination host has no address")]
    NoAddress,
}

impl SsrfError {
    /// Stable code: `invalid_url`, `scheme_not_allowed`, `credentials_in_url`, `no_host`,
    /// `port_not_allowed`, `address_refused`, `address_not_allowlisted`, `dns_failed` or
    /// `no_address`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl => "invalid_url",
            Self::Scheme => "scheme_not_allowed",
            Self::Credentials => "credentials_in_url",
            Self::NoHost => "no_host",
            Self::Port(_) => "port_not_allowed",
            Self::Refused { .. } => "address_refused",
            Self::NotAllowlisted { .. } => "address_not_allowlisted",
            Self::Dns => "dns_failed",
            Self::NoAddress => "no_address",
        }
    }

    /// Only a lookup that failed or found no address may succeed later (DNS being fixed);
    /// every other refusal is final for this URL.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Dns | Self::NoAddress)
    }
}

impl From<ResolveError> for SsrfError {
    fn from(e: ResolveError) -> Self {
        match e {
            ResolveError::Failed => Self::Dns,
            ResolveError::NoAddress => Self::NoAddress,
            ResolveError::Refused { ip, refusal } => Self::Refused { ip, refusal },
            ResolveError::NotAllowlisted { ip } => Self::NotAllowlisted { ip },
        }
    }
}

/// A URL's host: an address, or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

/// What a URL asks to connect to, once its form is acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: Host,
    pub port: u16,
    pub https: bool,
}

/// The checks that need no DNS: scheme `http`/`https`, no credentials, a host, a port.
/// (Whether `http` and the port are permitted depends on the addresses: [`validate`].)
pub fn parse_target(url: &Url) -> Result<Target, SsrfError> {
    let https = match url.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(SsrfError::Scheme),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SsrfError::Credentials);
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or(SsrfError::NoHost)?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = match IpAddr::from_str(bare) {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(host.to_owned()),
    };
    let port = url.port_or_known_default().ok_or(SsrfError::InvalidUrl)?;
    Ok(Target { host, port, https })
}

/// A permitted URL: the addresses its host stands for, and whether it is permitted only
/// because all of them are allowlisted (plain `http` without [`SsrfPolicy::allow_http`], or
/// a port other than 443 / 8443). In that case the connection must also go to allowlisted
/// addresses, or a name could pass the check on the private network and then rebind to a
/// public host that gets plain `http` or a port scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub addrs: Vec<IpAddr>,
    pub needs_allowlist: bool,
}

/// Checks `url` under `policy`, resolving a name with `lookup`.
pub async fn validate(
    url: &Url,
    policy: &SsrfPolicy,
    lookup: &dyn Lookup,
) -> Result<Checked, SsrfError> {
    let target = parse_target(url)?;
    let addrs = match &target.host {
        Host::Ip(ip) => {
            policy
                .allowlist
                .check(*ip)
                .map_err(|refusal| SsrfError::Refused { ip: *ip, refusal })?;
            vec![*ip]
        }
        Host::Name(name) => resolve_checked(lookup, &policy.allowlist, name).await?,
    };
    let allowlisted = addrs.iter().all(|ip| policy.allowlist.contains(*ip));
    let http_needs_allowlist = !target.https && !policy.allow_http;
    if http_needs_allowlist && !allowlisted {
        return Err(SsrfError::Scheme);
    }
    let standard = PUBLIC_PORTS.contains(&target.port) || (!target.https && target.port == 80);
    if !standard && !allowlisted {
        return Err(SsrfError::Port(target.port));
    }
    Ok(Checked {
        addrs,
        needs_allowlist: http_needs_allowlist || !standard,
    })
}

#[cfg(test)]
#[path = "ssrf_tests.rs"]
mod tests;
