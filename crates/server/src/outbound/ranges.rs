//! Which IP addresses a webhook may be sent to: only globally routable unicast, unless the
//! deployment's [`Allowlist`] says otherwise.
//!
//! A clinic types the destination URL, so without this an owner account could make the
//! server call its own admin ports, the database, the cloud metadata service (and its
//! credentials) or anything else on the private network, and read the answer in the
//! delivery log. [`classify`] refuses every special-purpose range of the IANA IPv4 and IPv6
//! registries that is not global unicast, with a reason code. IPv6 forms that carry an IPv4
//! address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`,
//! 6to4 `2002::/16`) are judged by the IPv4 address inside, since that is where the packets
//! may end up. IPv6 outside global unicast `2000::/3` is refused as reserved.
//!
//! A deployment that delivers to its own network on purpose (an on-premises EHR bridge, the
//! tests' loopback server) lists those CIDRs in the allowlist; an allowlisted address is
//! permitted whatever its range, so keep the list narrow.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why an address is refused. [`code`](Self::code) is stable for logs and the delivery log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `0.0.0.0`, `::` (and `0.0.0.0/8`, "this network").
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT shared space (also Alibaba's metadata service).
    SharedAddressSpace,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// A cloud instance metadata or host service: `169.254.169.254` (AWS, GCP, Azure,
    /// OpenStack…), `fd00:ec2::254` (AWS IPv6), `168.63.129.16` (Azure wire server).
    CloudMetadata,
    /// `fc00::/7` (and the deprecated site-local `fec0::/10`).
    UniqueLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// Anything else that is not global unicast: `192.0.0/24`, `192.88.99/24`, `240/4`,
    /// `100::/64`, `2001::/23`, `64:ff9b:1::/48`, IPv6 outside `2000::/3`.
    Reserved,
}

impl Refusal {
    /// Stable code: `unspecified`, `loopback`, `private`, `shared_address_space`,
    /// `link_local`, `cloud_metadata`, `unique_local`, `multicast`, `broadcast`,
    /// `documentation`, `benchmarking` or `reserved`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedAddressSpace => "shared_address_space",
            Self::LinkLocal => "link_local",
            Self::CloudMetadata => "cloud_metadata",
            Self::UniqueLocal => "unique_local",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// `Ok` for a globally routable unicast address, else why not. No allowlist here: see
/// [`Allowlist::check`].
pub fn classify(ip: IpAddr) -> Result<(), Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Result<(), Refusal> {
    let o = ip.octets();
    let in_net = |net: [u8; 4], prefix: u8| prefix_match(&o, &net, prefix);
    let refusal =
        if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(168, 63, 129, 16) {
            Refusal::CloudMetadata
        } else if in_net([0, 0, 0, 0], 8) {
            Refusal::Unspecified
        } else if in_net([127, 0, 0, 0], 8) {
            Refusal::Loopback
        } else if in_net([10, 0, 0, 0], 8)
            || in_net([172, 16, 0, 0], 12)
            || in_net([192, 168, 0, 0], 16)
        {
            Refusal::Private
        } else if in_net([100, 64, 0, 0], 10) {
            Refusal::SharedAddressSpace
        } else if in_net([169, 254, 0, 0], 16) {
            Refusal::LinkLocal
        } else if in_net([192, 0, 2, 0], 24)
            || in_net([198, 51, 100, 0], 24)
            || in_net([203, 0, 113, 0], 24)
        {
            Refusal::Documentation
        } else if in_net([198, 18, 0, 0], 15) {
            Refusal::Benchmarking
        } else if in_net([224, 0, 0, 0], 4) {
            Refusal::Multicast
        } else if ip == Ipv4Addr::BROADCAST {
            Refusal::Broadcast
        } else if in_net([240, 0, 0, 0], 4)
            || in_net([192, 0, 0, 0], 24)
            || in_net([192, 88, 99, 0], 24)
        {
            Refusal::Reserved
        } else {
            return Ok(());
        };
    Err(refusal)
}

fn classify_v6(ip: Ipv6Addr) -> Result<(), Refusal> {
    let o = ip.octets();
    // Networks here are `a:b:c::/prefix`.
    let in_net = |[a, b, c]: [u16; 3], prefix: u8| {
        prefix_match(&o, &Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0).octets(), prefix)
    };
    if ip.is_unspecified() {
        return Err(Refusal::Unspecified);
    }
    if ip.is_loopback() {
        return Err(Refusal::Loopback);
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let refusal = if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Refusal::CloudMetadata
    } else if in_net([0xfc00, 0, 0], 7) || in_net([0xfec0, 0, 0], 10) {
        Refusal::UniqueLocal
    } else if in_net([0xfe80, 0, 0], 10) {
        Refusal::LinkLocal
    } else if in_net([0xff00, 0, 0], 8) {
        Refusal::Multicast
    } else if in_net([0x2001, 0xdb8, 0], 32) || in_net([0x3fff, 0, 0], 20) {
        Refusal::Documentation
    } else if in_net([0x2001, 0x2, 0], 48) {
        Refusal::Benchmarking
    } else if in_net([0x2001, 0, 0], 23)
        || in_net([0x64, 0xff9b, 0x1], 48)
        || !in_net([0x2000, 0, 0], 3)
    {
        Refusal::Reserved
    } else {
        return Ok(());
    };
    Err(refusal)
}

/// The IPv4 address an IPv6 address stands for, where one does: IPv4-mapped `::ffff:0:0/96`,
/// IPv4-compatible `::/96` (deprecated; `::` and `::1` are not treated so), NAT64
/// `64:ff9b::/96` (last 32 bits) and 6to4 `2002::/16` (bits 16–48).
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let o = ip.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    let seg = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if (seg[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback())
        || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        Some(last)
    } else if seg[0] == 0x2002 {
        Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else {
        None
    }
}

/// Whether the first `prefix` bits of `addr` and `net` agree (`prefix` ≤ their bit length).
fn prefix_match(addr: &[u8], net: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if addr.get(..full) != net.get(..full) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (addr.get(full), net.get(full)) {
        (Some(a), Some(n)) => a & mask == n & mask,
        _ => false,
    }
}

/// A network in CIDR notation, `10.0.0.0/8` or `fd12:3456::/48`; a bare address is a
/// single host (`/32`, `/128`). Host bits must be zero (`10.0.0.1/8` is refused as the
/// typo it usually is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

/// A string that is not a CIDR network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a CIDR network: {0}")]
pub struct CidrError(&'static str);

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, CidrError> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net = IpAddr::from_str(addr).map_err(|_| CidrError("not an IP address"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or(CidrError("prefix length out of range"))?,
            Some(_) => return Err(CidrError("prefix length is not a number")),
        };
        let cidr = Self { net, prefix };
        let host_bits_zero = match net {
            IpAddr::V4(a) => (u32::from(a) & !mask_u32(prefix)) == 0,
            IpAddr::V6(a) => (u128::from(a) & !mask_u128(prefix)) == 0,
        };
        if !host_bits_zero {
            return Err(CidrError("address has host bits set"));
        }
        Ok(cidr)
    }

    /// Whether `ip` is inside. An IPv4-mapped IPv6 address is inside an IPv4 network that
    /// holds its IPv4 address (sockets report IPv4 peers that way).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_match(&a.octets(), &n.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_match(&a.octets(), &n.octets(), self.prefix),
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

fn mask_u32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_u128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// The networks a deployment permits despite their range (configuration: a list of CIDR
/// strings). Empty by default: nothing but global unicast.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist(Vec<Cidr>);

impl Allowlist {
    /// Parses each entry; the first bad one is the error (with its position).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, (usize, CidrError)> {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| Cidr::parse(e.as_ref()).map_err(|err| (i, err)))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn new(cidrs: Vec<Cidr>) -> Self {
        Self(cidrs)
    }

    /// Whether some listed network holds `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// [`classify`], with listed networks permitted whatever their range.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        match classify(ip) {
            Err(_) if self.contains(ip) => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
#[path = "ranges_tests.rs"]
mod tests;
