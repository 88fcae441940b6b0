//! The client's IP address, for rate limits and (later) anomaly alerts (#12 item 5).
//!
//! By default it is the TCP peer, and headers are never believed: anyone can send
//! `X-Forwarded-For`. Behind a reverse proxy every request would then come from the proxy, so
//! a deployment lists its proxies (`trusted_proxies`, CIDRs): only when the peer is one of
//! them is `X-Forwarded-For` read, from the right (the entry the nearest proxy added), skipping
//! addresses that are themselves trusted proxies; the first other address is the client. An
//! entry that is not an IP address stops the walk and the peer is used, so a malformed header
//! can never choose the answer.

use crate::outbound::ranges::Allowlist;
use axum::http::HeaderMap;
use std::net::IpAddr;

/// The client's address given the TCP peer, the request's headers and the trusted proxies.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &Allowlist) -> IpAddr {
    if !trusted.contains(peer) {
        return peer;
    }
    let mut hops: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(v) = value.to_str() else {
            return peer;
        };
        hops.extend(v.split(',').map(str::trim));
    }
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            return peer;
        };
        if !trusted.contains(ip) {
            return ip;
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies() -> Allowlist {
        Allowlist::parse(&["10.0.0.0/8", "fd00::/8"]).unwrap()
    }

    #[test]
    fn without_trusted_proxies_headers_are_ignored() {
        let h = headers(&["203.0.113.9"]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &h, &Allowlist::default()),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("198.51.100.7"), &h, &proxies()),
            ip("198.51.100.7"),
            "not a proxy"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() {
        let p = proxies();
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers(&["203.0.113.9"]), &p),
            ip("203.0.113.9")
        );
        // A client that sends its own header cannot choose: the proxy appended the real peer.
        let spoofed = headers(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &spoofed, &p), ip("203.0.113.9"));
        // Two proxies of ours in a row, over two header lines.
        let chained = headers(&["1.2.3.4, 203.0.113.9", "10.1.1.1"]);
        assert_eq!(client_ip(ip("10.0.0.2"), &chained, &p), ip("203.0.113.9"));
        assert_eq!(
            client_ip(ip("fd00::1"), &headers(&["2001:db8::5"]), &p),
            ip("2001:db8::5")
        );
    }

    #[test]
    fn a_missing_or_malformed_header_leaves_the_peer() {
        let p = proxies();
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &p),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers(&["nonsense"]), &p),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(
                ip("10.0.0.2"),
                &headers(&["203.0.113.9, 198.51.100.1:443"]),
                &p
            ),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &headers(&["10.9.9.9"]), &p),
            ip("10.0.0.2"),
            "only proxies"
        );
    }
}
