//! Destination checks: IP literals in every spelling the URL parser accepts, IPv6, names
//! with public, private and mixed answers, schemes, credentials, ports and the allowlist.

use super::*;
use crate::outbound::resolver::StaticLookup;

fn ip(s: &str) -> IpAddr {
    IpAddr::from_str(s).unwrap()
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn lookup() -> StaticLookup {
    StaticLookup::new()
        .with("hooks.example.com", &[ip("93.184.216.34")])
        .with("v6.example.com", &[ip("2606:2800:220:1::1")])
        .with("internal.example.com", &[ip("10.0.0.1")])
        .with("localhost", &[ip("127.0.0.1"), ip("::1")])
        .with(
            "mixed.example.com",
            &[ip("93.184.216.34"), ip("192.168.1.1")],
        )
        .with("nat64.example.com", &[ip("64:ff9b::a9fe:a9fe")])
        .with("loop.example.com", &[ip("127.0.0.1"), ip("93.184.216.34")])
}

async fn check(s: &str, policy: &SsrfPolicy) -> Result<Vec<IpAddr>, SsrfError> {
    validate(&url(s), policy, &lookup()).await.map(|c| c.addrs)
}

async fn needs_allowlist(s: &str, policy: &SsrfPolicy) -> bool {
    validate(&url(s), policy, &lookup())
        .await
        .unwrap()
        .needs_allowlist
}

async fn refusal(s: &str) -> Refusal {
    match check(s, &SsrfPolicy::default()).await {
        Err(SsrfError::Refused { refusal, .. }) => refusal,
        other => panic!("{s}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn ipv4_literals_in_every_spelling_are_judged_by_their_address() {
    let cases = [
        ("https://127.0.0.1/", Refusal::Loopback),
        ("https://127.1/", Refusal::Loopback),
        ("https://2130706433/", Refusal::Loopback),
        ("https://0x7f000001/", Refusal::Loopback),
        ("https://0x7f.1/", Refusal::Loopback),
        ("https://0177.0.0.1/", Refusal::Loopback),
        ("https://127.0.0.1./", Refusal::Loopback),
        ("https://0/", Refusal::Unspecified),
        (
            "https://169.254.169.254/latest/meta-data/",
            Refusal::CloudMetadata,
        ),
        ("https://2852039166/", Refusal::CloudMetadata),
        ("https://0xa9fea9fe/", Refusal::CloudMetadata),
        ("https://0251.0376.0251.0376/", Refusal::CloudMetadata),
        ("https://10.0.0.1:443/hook?x=1", Refusal::Private),
        ("https://012.0.0.1/", Refusal::Private),
        ("https://192.168.0.1:8443/", Refusal::Private),
        ("https://100.64.0.1/", Refusal::SharedAddressSpace),
        ("https://224.0.0.1/", Refusal::Multicast),
        ("https://255.255.255.255/", Refusal::Broadcast),
    ];
    for (s, want) in cases {
        assert_eq!(refusal(s).await, want, "{s}");
    }
}

#[tokio::test]
async fn ipv6_literals_are_judged_including_embedded_ipv4() {
    let cases = [
        ("https://[::1]/", Refusal::Loopback),
        ("https://[::]/", Refusal::Unspecified),
        ("https://[::ffff:127.0.0.1]/", Refusal::Loopback),
        ("https://[::ffff:a9fe:a9fe]/", Refusal::CloudMetadata),
        ("https://[::127.0.0.1]/", Refusal::Loopback),
        ("https://[64:ff9b::10.0.0.1]/", Refusal::Private),
        ("https://[2002:a9fe:a9fe::1]/", Refusal::CloudMetadata),
        ("https://[fd00:ec2::254]/", Refusal::CloudMetadata),
        ("https://[fc00::1]/", Refusal::UniqueLocal),
        ("https://[fe80::1]/", Refusal::LinkLocal),
        ("https://[ff02::1]/", Refusal::Multicast),
        ("https://[2001:db8::1]/", Refusal::Documentation),
    ];
    for (s, want) in cases {
        assert_eq!(refusal(s).await, want, "{s}");
    }
    assert!(
        Url::parse("https://[fe80::1%25eth0]/").is_err(),
        "zone ids never parse"
    );
}

#[tokio::test]
async fn names_are_resolved_and_every_answer_must_pass() {
    let p = SsrfPolicy::default();
    assert_eq!(
        check("https://hooks.example.com/frontdesk?token=abc", &p).await,
        Ok(vec![ip("93.184.216.34")])
    );
    assert_eq!(
        check("https://HOOKS.example.com.:8443/", &p).await,
        Ok(vec![ip("93.184.216.34")])
    );
    assert!(check("https://v6.example.com/", &p).await.is_ok());
    assert_eq!(
        refusal("https://internal.example.com/").await,
        Refusal::Private
    );
    assert_eq!(refusal("https://localhost/").await, Refusal::Loopback);
    assert_eq!(
        refusal("https://mixed.example.com/").await,
        Refusal::Private
    );
    assert_eq!(
        refusal("https://loop.example.com/").await,
        Refusal::Loopback
    );
    assert_eq!(
        refusal("https://nat64.example.com/").await,
        Refusal::CloudMetadata
    );
    let err = check("https://nowhere.example.com/", &p).await.unwrap_err();
    assert_eq!(err, SsrfError::Dns);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn only_https_unless_allowlisted_or_the_test_flag_is_set() {
    let p = SsrfPolicy::default();
    for s in [
        "ftp://hooks.example.com/",
        "file:///etc/passwd",
        "gopher://hooks.example.com/",
        "ws://hooks.example.com/",
        "http://hooks.example.com/",
        "http://93.184.216.34/",
    ] {
        assert_eq!(check(s, &p).await, Err(SsrfError::Scheme), "{s}");
    }
    let flag = SsrfPolicy {
        allow_http: true,
        ..SsrfPolicy::default()
    };
    assert!(check("http://hooks.example.com/", &flag).await.is_ok());
    assert!(!needs_allowlist("http://hooks.example.com/", &flag).await);
    assert_eq!(
        refusal_with("http://127.0.0.1/", &flag).await,
        Refusal::Loopback,
        "the flag permits the scheme, not the address"
    );
}

async fn refusal_with(s: &str, p: &SsrfPolicy) -> Refusal {
    match check(s, p).await {
        Err(SsrfError::Refused { refusal, .. }) => refusal,
        other => panic!("{s}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn credentials_in_the_url_are_refused() {
    let p = SsrfPolicy::default();
    for s in [
        "https://user:pass@hooks.example.com/",
        "https://user@hooks.example.com/",
        "https://:pass@hooks.example.com/",
    ] {
        assert_eq!(check(s, &p).await, Err(SsrfError::Credentials), "{s}");
    }
}

#[tokio::test]
async fn public_destinations_use_standard_ports() {
    let p = SsrfPolicy::default();
    assert!(check("https://93.184.216.34/", &p).await.is_ok());
    assert!(check("https://93.184.216.34:443/", &p).await.is_ok());
    assert!(check("https://93.184.216.34:8443/", &p).await.is_ok());
    for (s, port) in [
        ("https://93.184.216.34:22/", 22),
        ("https://hooks.example.com:6379/", 6379),
        ("https://hooks.example.com:80/", 80),
    ] {
        assert_eq!(check(s, &p).await, Err(SsrfError::Port(port)), "{s}");
    }
    let flag = SsrfPolicy {
        allow_http: true,
        ..SsrfPolicy::default()
    };
    assert!(check("http://hooks.example.com:80/", &flag).await.is_ok());
    assert_eq!(
        check("http://hooks.example.com:8080/", &flag).await,
        Err(SsrfError::Port(8080))
    );
}

#[tokio::test]
async fn allowlisted_networks_may_use_http_and_any_port() {
    let p = SsrfPolicy {
        allowlist: Allowlist::parse(&["127.0.0.0/8", "10.0.0.0/8"]).unwrap(),
        allow_http: false,
    };
    assert_eq!(
        check("http://127.0.0.1:9999/hook", &p).await,
        Ok(vec![ip("127.0.0.1")])
    );
    assert!(check("http://internal.example.com:8080/", &p).await.is_ok());
    assert!(needs_allowlist("http://internal.example.com/", &p).await);
    assert!(needs_allowlist("https://internal.example.com:9000/", &p).await);
    assert!(!needs_allowlist("https://internal.example.com/", &p).await);
    assert!(!needs_allowlist("https://hooks.example.com:8443/", &p).await);
    assert!(check("http://[::ffff:10.1.1.1]:81/", &p).await.is_ok());
    assert_eq!(
        refusal_with("http://[::1]:9999/", &p).await,
        Refusal::Loopback,
        "IPv6 loopback is not in 127.0.0.0/8"
    );
    assert_eq!(
        check("http://loop.example.com:9999/", &p).await,
        Err(SsrfError::Scheme),
        "one public answer: not wholly allowlisted, so https only"
    );
    assert_eq!(
        check("https://loop.example.com:9999/", &p).await,
        Err(SsrfError::Port(9999))
    );
    assert_eq!(
        refusal_with("https://169.254.169.254/", &p).await,
        Refusal::CloudMetadata
    );
}

#[test]
fn targets_are_parsed_without_dns() {
    assert_eq!(
        parse_target(&url("https://Hooks.Example.com/x")).unwrap(),
        Target {
            host: Host::Name("hooks.example.com".into()),
            port: 443,
            https: true
        }
    );
    assert_eq!(
        parse_target(&url("http://[::1]:8080/")).unwrap(),
        Target {
            host: Host::Ip(ip("::1")),
            port: 8080,
            https: false
        }
    );
    assert_eq!(
        parse_target(&url("mailto:someone@example.com")),
        Err(SsrfError::Scheme)
    );
}
