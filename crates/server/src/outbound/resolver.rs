//! Name resolution for webhook deliveries, with every answer checked against the address
//! rules before anything connects.
//!
//! Checking a URL's addresses and then letting the HTTP client resolve the name again
//! leaves a gap: a hostile DNS server can answer the check with a public address and the
//! connection with `169.254.169.254` (DNS rebinding). [`GuardedResolver`] closes it by being
//! reqwest's resolver: the addresses reqwest connects to are exactly the ones it checked, and
//! if *any* answer is refused the whole name is refused (a mixed answer is an attack or a
//! misconfiguration, and reqwest would try the addresses in turn).
//!
//! Where names come from is a [`Lookup`]: the system resolver in production
//! ([`SystemLookup`]) or a fixed table in tests ([`StaticLookup`]), which can give a different
//! answer on each call so rebinding can be tested without a DNS server.

use super::ranges::{Allowlist, Refusal};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The longest a lookup may take before the delivery counts as a (retryable) DNS failure.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The future a [`Lookup`] returns.
pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Resolves a host name (no port, no brackets) to addresses.
pub trait Lookup: Send + Sync + fmt::Debug {
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The operating system's resolver (`getaddrinfo` through `tokio::net::lookup_host`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A fixed table of names for tests: each name has a list of answers, handed out one per
/// call, the last one repeating. An unknown name fails like `NXDOMAIN`; names match
/// case-insensitively, with or without a trailing dot.
#[derive(Debug, Default)]
pub struct StaticLookup {
    answers: Mutex<HashMap<String, Answers>>,
}

/// How many times a name was looked up, and its answers in turn.
type Answers = (usize, Vec<Vec<IpAddr>>);

impl StaticLookup {
    pub fn new() -> Self {
        Self::default()
    }

    /// `name` always resolves to `addrs`.
    pub fn with(self, name: &str, addrs: &[IpAddr]) -> Self {
        self.with_sequence(name, vec![addrs.to_vec()])
    }

    /// `name` resolves to `answers[0]` on the first call, `answers[1]` on the second, and so
    /// on, the last repeating (the rebinding attack: first public, then private).
    pub fn with_sequence(self, name: &str, answers: Vec<Vec<IpAddr>>) -> Self {
        if let Ok(mut map) = self.answers.lock() {
            map.insert(key(name), (0, answers));
        }
        self
    }

    /// How many times `name` was looked up.
    pub fn calls(&self, name: &str) -> usize {
        self.answers
            .lock()
            .ok()
            .and_then(|map| map.get(&key(name)).map(|(n, _)| *n))
            .unwrap_or(0)
    }
}

impl Lookup for StaticLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let answer = self.answers.lock().ok().and_then(|mut map| {
            let (calls, answers) = map.get_mut(&key(host))?;
            let i = (*calls).min(answers.len().saturating_sub(1));
            *calls += 1;
            answers.get(i).cloned()
        });
        Box::pin(async move {
            answer.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown name"))
        })
    }
}

/// Names compare as DNS does: case-insensitive, a trailing dot (the root) ignored.
fn key(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Why a name could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The lookup failed or timed out (maybe temporarily: retryable).
    #[error("name could not be resolved")]
    Failed,
    /// The lookup succeeded with no address.
    #[error("name has no address")]
    NoAddress,
    /// An answer is in a refused range and not allowlisted.
    #[error("name resolves to a refused address ({refusal})")]
    Refused { ip: IpAddr, refusal: Refusal },
    /// An answer is outside the allowlist where only allowlisted addresses will do.
    #[error("name resolves outside the allowlist")]
    NotAllowlisted { ip: IpAddr },
}

/// Looks `host` up (within [`LOOKUP_TIMEOUT`]) and checks every answer against `allow`.
pub async fn resolve_checked(
    lookup: &dyn Lookup,
    allow: &Allowlist,
    host: &str,
) -> Result<Vec<IpAddr>, ResolveError> {
    let addrs = tokio::time::timeout(LOOKUP_TIMEOUT, lookup.lookup(host))
        .await
        .map_err(|_| ResolveError::Failed)?
        .map_err(|_| ResolveError::Failed)?;
    if addrs.is_empty() {
        return Err(ResolveError::NoAddress);
    }
    for ip in &addrs {
        allow
            .check(*ip)
            .map_err(|refusal| ResolveError::Refused { ip: *ip, refusal })?;
    }
    Ok(addrs)
}

/// reqwest's resolver for the webhook client: [`resolve_checked`] on every connection.
/// A refusal reaches the caller as a connect error whose source chain holds the
/// [`ResolveError`] (see `deliver::transport_outcome`).
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    lookup: Arc<dyn Lookup>,
    allow: Arc<Allowlist>,
    only_allowlisted: bool,
}

impl GuardedResolver {
    /// Public addresses and allowlisted ones.
    pub fn new(lookup: Arc<dyn Lookup>, allow: Arc<Allowlist>) -> Self {
        Self {
            lookup,
            allow,
            only_allowlisted: false,
        }
    }

    /// Allowlisted addresses only: for URLs permitted only thanks to the allowlist
    /// (plain `http`, other ports), so a rebinding name cannot take them to the internet.
    pub fn allowlisted_only(lookup: Arc<dyn Lookup>, allow: Arc<Allowlist>) -> Self {
        Self {
            lookup,
            allow,
            only_allowlisted: true,
        }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve_checked(this.lookup.as_ref(), &this.allow, &host).await?;
            if this.only_allowlisted
                && let Some(ip) = addrs.iter().find(|ip| !this.allow.contains(**ip))
            {
                return Err(ResolveError::NotAllowlisted { ip: *ip }.into());
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn ip(s: &str) -> IpAddr {
        IpAddr::from_str(s).unwrap()
    }

    #[tokio::test]
    async fn every_answer_is_checked_and_one_bad_answer_refuses_the_name() {
        let lookup = StaticLookup::new()
            .with(
                "ok.example",
                &[ip("93.184.216.34"), ip("2606:2800:220:1::1")],
            )
            .with("mixed.example", &[ip("93.184.216.34"), ip("10.0.0.1")])
            .with("empty.example", &[]);
        let allow = Allowlist::default();
        assert_eq!(
            resolve_checked(&lookup, &allow, "OK.example")
                .await
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            resolve_checked(&lookup, &allow, "mixed.example").await,
            Err(ResolveError::Refused {
                ip: ip("10.0.0.1"),
                refusal: Refusal::Private
            })
        );
        assert_eq!(
            resolve_checked(&lookup, &allow, "empty.example").await,
            Err(ResolveError::NoAddress)
        );
        assert_eq!(
            resolve_checked(&lookup, &allow, "nowhere.example").await,
            Err(ResolveError::Failed)
        );
        let allow = Allowlist::parse(&["10.0.0.0/8"]).unwrap();
        assert!(
            resolve_checked(&lookup, &allow, "mixed.example")
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_sequence_hands_out_answers_in_turn_then_repeats_the_last() {
        let lookup = StaticLookup::new().with_sequence(
            "rebind.example",
            vec![vec![ip("93.184.216.34")], vec![ip("169.254.169.254")]],
        );
        let allow = Allowlist::default();
        assert!(
            resolve_checked(&lookup, &allow, "rebind.example")
                .await
                .is_ok()
        );
        for _ in 0..2 {
            assert_eq!(
                resolve_checked(&lookup, &allow, "rebind.example").await,
                Err(ResolveError::Refused {
                    ip: ip("169.254.169.254"),
                    refusal: Refusal::CloudMetadata
                })
            );
        }
        assert_eq!(lookup.calls("rebind.example"), 3);
    }

    #[tokio::test]
    async fn the_reqwest_resolver_refuses_blocked_answers() {
        use reqwest::dns::Resolve;
        let lookup = StaticLookup::new()
            .with("public.example", &[ip("93.184.216.34")])
            .with("meta.example", &[ip("fd00:ec2::254")]);
        let r = GuardedResolver::new(Arc::new(lookup), Arc::new(Allowlist::default()));
        let addrs: Vec<SocketAddr> = r
            .resolve(reqwest::dns::Name::from_str("public.example").unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(addrs, vec![SocketAddr::new(ip("93.184.216.34"), 0)]);
        let Err(err) = r
            .resolve(reqwest::dns::Name::from_str("meta.example").unwrap())
            .await
        else {
            panic!("a metadata address must be refused");
        };
        assert_eq!(
            err.downcast_ref::<ResolveError>(),
            Some(&ResolveError::Refused {
                ip: ip("fd00:ec2::254"),
                refusal: Refusal::CloudMetadata
            })
        );
    }

    #[tokio::test]
    async fn the_allowlisted_only_resolver_refuses_public_answers() {
        use reqwest::dns::Resolve;
        let lookup = Arc::new(
            StaticLookup::new()
                .with("bridge.clinic.test", &[ip("10.1.2.3")])
                .with("public.example", &[ip("93.184.216.34")]),
        );
        let allow = Arc::new(Allowlist::parse(&["10.0.0.0/8"]).unwrap());
        let r = GuardedResolver::allowlisted_only(lookup, allow);
        let name = |s: &str| reqwest::dns::Name::from_str(s).unwrap();
        assert_eq!(
            r.resolve(name("bridge.clinic.test")).await.unwrap().count(),
            1
        );
        let Err(err) = r.resolve(name("public.example")).await else {
            panic!("a public answer must be refused where only the allowlist will do");
        };
        assert_eq!(
            err.downcast_ref::<ResolveError>(),
            Some(&ResolveError::NotAllowlisted {
                ip: ip("93.184.216.34")
            })
        );
    }

    #[tokio::test]
    async fn the_system_lookup_resolves_localhost_which_is_then_refused() {
        let allow = Allowlist::default();
        let got = resolve_checked(&SystemLookup, &allow, "localhost").await;
        assert!(
            matches!(
                got,
                Err(ResolveError::Refused {
                    refusal: Refusal::Loopback,
                    ..
                })
            ),
            "{got:?}"
        );
    }
}
