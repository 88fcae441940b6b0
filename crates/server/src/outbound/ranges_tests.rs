//! Address classification across the IPv4 and IPv6 special-purpose registries, embedded
//! IPv4 in IPv6, CIDR parsing and the allowlist.

use super::*;

fn ip(s: &str) -> IpAddr {
    IpAddr::from_str(s).unwrap()
}

fn refused(s: &str) -> Refusal {
    classify(ip(s)).expect_err(s)
}

#[test]
fn public_ipv4_and_ipv6_unicast_is_allowed() {
    for s in [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.167.255.255",
        "192.169.0.0",
        "169.253.255.255",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "2a00:1450:4001:80b::200e",
        "2001:200::1",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "::ffff:8.8.8.8",
    ] {
        assert_eq!(classify(ip(s)), Ok(()), "{s}");
    }
}

#[test]
fn special_ipv4_ranges_are_refused_with_their_reason() {
    let cases = [
        ("0.0.0.0", Refusal::Unspecified),
        ("0.1.2.3", Refusal::Unspecified),
        ("127.0.0.1", Refusal::Loopback),
        ("127.255.255.254", Refusal::Loopback),
        ("10.0.0.1", Refusal::Private),
        ("10.255.255.255", Refusal::Private),
        ("172.16.0.1", Refusal::Private),
        ("172.31.255.255", Refusal::Private),
        ("192.168.1.1", Refusal::Private),
        ("100.64.0.1", Refusal::SharedAddressSpace),
        ("100.127.255.255", Refusal::SharedAddressSpace),
        ("100.100.100.200", Refusal::SharedAddressSpace),
        ("169.254.0.1", Refusal::LinkLocal),
        ("169.254.169.254", Refusal::CloudMetadata),
        ("168.63.129.16", Refusal::CloudMetadata),
        ("192.0.2.10", Refusal::Documentation),
        ("198.51.100.7", Refusal::Documentation),
        ("203.0.113.200", Refusal::Documentation),
        ("198.18.0.1", Refusal::Benchmarking),
        ("198.19.255.255", Refusal::Benchmarking),
        ("224.0.0.1", Refusal::Multicast),
        ("239.255.255.250", Refusal::Multicast),
        ("255.255.255.255", Refusal::Broadcast),
        ("240.0.0.1", Refusal::Reserved),
        ("192.0.0.8", Refusal::Reserved),
        ("192.88.99.1", Refusal::Reserved),
    ];
    for (s, want) in cases {
        assert_eq!(refused(s), want, "{s}");
    }
}

#[test]
fn special_ipv6_ranges_are_refused_with_their_reason() {
    let cases = [
        ("::", Refusal::Unspecified),
        ("::1", Refusal::Loopback),
        ("fc00::1", Refusal::UniqueLocal),
        ("fd12:3456:789a::1", Refusal::UniqueLocal),
        ("fec0::1", Refusal::UniqueLocal),
        ("fd00:ec2::254", Refusal::CloudMetadata),
        ("fe80::1", Refusal::LinkLocal),
        ("febf:ffff::1", Refusal::LinkLocal),
        ("ff02::1", Refusal::Multicast),
        ("ff05::1:3", Refusal::Multicast),
        ("2001:db8::1", Refusal::Documentation),
        ("3fff:0fff::1", Refusal::Documentation),
        ("2001:2::1", Refusal::Benchmarking),
        ("2001::1", Refusal::Reserved),
        ("2001:1ff::1", Refusal::Reserved),
        ("100::1", Refusal::Reserved),
        ("64:ff9b:1::a00:1", Refusal::Reserved),
        ("4000::1", Refusal::Reserved),
        ("1::1", Refusal::Reserved),
    ];
    for (s, want) in cases {
        assert_eq!(refused(s), want, "{s}");
    }
}

#[test]
fn ipv6_forms_carrying_ipv4_are_judged_by_the_ipv4_inside() {
    let cases = [
        ("::ffff:127.0.0.1", Refusal::Loopback),
        ("::ffff:7f00:1", Refusal::Loopback),
        ("::ffff:169.254.169.254", Refusal::CloudMetadata),
        ("::ffff:10.1.2.3", Refusal::Private),
        ("::127.0.0.1", Refusal::Loopback),
        ("::192.168.0.1", Refusal::Private),
        ("::0.0.0.2", Refusal::Unspecified),
        ("64:ff9b::127.0.0.1", Refusal::Loopback),
        ("64:ff9b::a9fe:a9fe", Refusal::CloudMetadata),
        ("2002:7f00:1::", Refusal::Loopback),
        ("2002:c0a8:101::1", Refusal::Private),
        ("2002:a9fe:a9fe::1", Refusal::CloudMetadata),
    ];
    for (s, want) in cases {
        assert_eq!(refused(s), want, "{s}");
    }
    assert_eq!(
        embedded_v4(Ipv6Addr::from_str("2002:0808:0404::").unwrap()),
        Some(Ipv4Addr::new(8, 8, 4, 4))
    );
    assert_eq!(
        embedded_v4(Ipv6Addr::from_str("2606:4700::1").unwrap()),
        None
    );
}

#[test]
fn every_refusal_has_its_own_code() {
    let all = [
        Refusal::Unspecified,
        Refusal::Loopback,
        Refusal::Private,
        Refusal::SharedAddressSpace,
        Refusal::LinkLocal,
        Refusal::CloudMetadata,
        Refusal::UniqueLocal,
        Refusal::Multicast,
        Refusal::Broadcast,
        Refusal::Documentation,
        Refusal::Benchmarking,
        Refusal::Reserved,
    ];
    let codes: std::collections::HashSet<_> = all.iter().map(Refusal::code).collect();
    assert_eq!(codes.len(), all.len());
}

#[test]
fn cidrs_parse_strictly() {
    assert_eq!(Cidr::parse("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
    assert_eq!(Cidr::parse(" ::1/128 ").unwrap().to_string(), "::1/128");
    assert_eq!(
        Cidr::parse("192.168.1.7").unwrap().to_string(),
        "192.168.1.7/32"
    );
    assert_eq!(Cidr::parse("fd00::").unwrap().to_string(), "fd00::/128");
    assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
    assert_eq!(Cidr::parse("fd00::/8").unwrap().to_string(), "fd00::/8");
    for bad in [
        "",
        "10.0.0.0/",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "10.0.0.0/8/8",
        "10.0.0.1/8",
        "fd00::1/8",
        "example.com/24",
        "10.0.0/8",
    ] {
        assert!(Cidr::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn cidrs_contain_what_their_prefix_covers() {
    let c = Cidr::parse("172.16.0.0/12").unwrap();
    assert!(c.contains(ip("172.16.0.0")));
    assert!(c.contains(ip("172.31.255.255")));
    assert!(!c.contains(ip("172.32.0.0")));
    assert!(!c.contains(ip("172.15.255.255")));
    assert!(c.contains(ip("::ffff:172.20.1.1")), "IPv4-mapped");
    assert!(!c.contains(ip("fd00::1")));
    let v6 = Cidr::parse("fd12:3456::/32").unwrap();
    assert!(v6.contains(ip("fd12:3456:ffff::1")));
    assert!(!v6.contains(ip("fd12:3457::1")));
    assert!(!v6.contains(ip("10.0.0.1")));
    assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("10.9.8.7")));
    assert!(Cidr::parse("::/0").unwrap().contains(ip("fe80::1")));
}

#[test]
fn the_allowlist_overrides_refusals_only_for_its_networks() {
    let list = Allowlist::parse(&["10.0.0.0/8", "::1/128"]).unwrap();
    assert_eq!(list.check(ip("10.1.2.3")), Ok(()));
    assert_eq!(list.check(ip("::1")), Ok(()));
    assert_eq!(list.check(ip("8.8.8.8")), Ok(()), "public stays allowed");
    assert_eq!(list.check(ip("127.0.0.1")), Err(Refusal::Loopback));
    assert_eq!(list.check(ip("192.168.0.1")), Err(Refusal::Private));
    assert_eq!(
        list.check(ip("169.254.169.254")),
        Err(Refusal::CloudMetadata)
    );
    assert_eq!(
        Allowlist::default().check(ip("10.1.2.3")),
        Err(Refusal::Private)
    );
    let err = Allowlist::parse(&["10.0.0.0/8", "nonsense"]).unwrap_err();
    assert_eq!(err.0, 1);
}
