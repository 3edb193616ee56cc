//! Which addresses are internal: not to be reached by a URL a server named
//! when the job's own host is public. The ranges are those of the IANA
//! IPv4 and IPv6 Special-Purpose Address Registries that are not globally
//! reachable, with multicast and the reserved 240.0.0.0/4; an IPv4 address
//! inside an IPv6 one (mapped, compatible, 6to4, NAT64) is judged as IPv4.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is internal (see the module's text).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

/// IPv4 ranges as (first address, prefix length).
const V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // shared address space (CGNAT)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local (cloud metadata)
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and the limited broadcast
];

fn internal_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    V4.iter().any(|&(net, len)| {
        let mask = u32::MAX << (32 - len);
        bits & mask == u32::from(Ipv4Addr::from(net))
    })
}

/// IPv6 ranges as (first address, prefix length), besides those that
/// hold an IPv4 address.
const V6: &[(u128, u8)] = &[
    (0, 128),                     // unspecified
    (1, 128),                     // loopback
    (0x0064_ff9b_0001 << 80, 48), // local-use NAT64
    (0x0100 << 112, 64),          // discard-only
    (0x2001 << 112, 23),          // IETF protocol assignments
    (0x2001_0db8 << 96, 32),      // documentation
    (0x3fff << 112, 20),          // documentation
    (0x5f00 << 112, 16),          // segment routing (SRv6)
    (0xfc00 << 112, 7),           // unique-local
    (0xfe80 << 112, 10),          // link-local
    (0xfec0 << 112, 10),          // site-local (deprecated)
    (0xff00 << 112, 8),           // multicast
];

fn internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return internal_v4(v4);
    }
    let bits = u128::from(ip);
    V6.iter().any(|&(net, len)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        bits & mask == net
    })
}

/// The IPv4 address an IPv6 one carries: mapped (`::ffff:a.b.c.d`) or
/// translated (`::ffff:0:a.b.c.d`),
/// compatible (`::a.b.c.d`, deprecated), NAT64 (`64:ff9b::a.b.c.d`) or
/// 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from(bits as u32);
    let top96 = bits >> 32;
    match top96 {
        // Mapped (`::ffff:a.b.c.d`) and translated (`::ffff:0:a.b.c.d`).
        0xffff | 0xffff_0000 => return Some(low),
        // `::` and `::1` are IPv6's own.
        0 if bits > 1 => return Some(low),
        t if t == 0x0064_ff9b << 64 => return Some(low),
        _ => {}
    }
    (bits >> 112 == 0x2002).then(|| Ipv4Addr::from((bits >> 80) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses() {
        for a in [
            "127.0.0.1",
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.2.7",
            "203.0.113.9",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2002:0a00:0001::5",
        ] {
            assert!(is_internal(a.parse().unwrap()), "{a}");
        }
        for a in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.216.34",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!is_internal(a.parse().unwrap()), "{a}");
        }
    }
}
