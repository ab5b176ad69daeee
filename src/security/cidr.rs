//! Networks written as CIDR (`192.168.0.0/16`, `fd00::/8`, or a bare address), matched against
//! a peer's address with IPv4-mapped IPv6 (`::ffff:10.0.0.3`) treated as IPv4.

use std::fmt;
use std::net::IpAddr;

/// One network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// The default allowlist: this machine, the private IPv4 ranges (RFC 1918), IPv6 unique local
/// addresses (RFC 4193) and link-local addresses. A Pi put on the internet by mistake is then not
/// open to the world.
pub const LOCAL_NETWORKS: [&str; 7] = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
    "fe80::/10",
];

/// Link-local IPv4 is part of the defaults too (a Pi and a laptop on one cable, no DHCP).
pub const LINK_LOCAL_V4: &str = "169.254.0.0/16";

impl Cidr {
    /// `ADDR/PREFIX` or `ADDR`; the error is a French sentence naming the text.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| {
            format!("réseau « {text} » invalide (exemples : 192.168.1.0/24, 10.0.0.0/8, fd00::/8)")
        })?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| {
                    format!("réseau « {text} » : la longueur du préfixe doit aller de 0 à {max}")
                })?,
        };
        // An IPv4-mapped network (`::ffff:10.0.0.0/120`) is the IPv4 one (`10.0.0.0/24`).
        let canonical = network.to_canonical();
        let prefix = if canonical.is_ipv4() && network.is_ipv6() {
            prefix.checked_sub(96).ok_or_else(|| {
                format!("réseau « {text} » : une adresse IPv4 écrite en IPv6 demande un préfixe de 96 à 128")
            })?
        } else {
            prefix
        };
        Ok(Cidr {
            network: mask(canonical, prefix),
            prefix,
        })
    }

    /// Whether `ip` is in this network (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }

    /// The defaults ([`LOCAL_NETWORKS`] and [`LINK_LOCAL_V4`]).
    pub fn local_networks() -> Vec<Cidr> {
        LOCAL_NETWORKS
            .iter()
            .chain([LINK_LOCAL_V4].iter())
            .filter_map(|text| Cidr::parse(text).ok())
            .collect()
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = if prefix == 0 {
                0
            } else {
                bits & (u32::MAX << (32 - u32::from(prefix)))
            };
            IpAddr::from(kept.to_be_bytes())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = if prefix == 0 {
                0
            } else {
                bits & (u128::MAX << (128 - u32::from(prefix)))
            };
            IpAddr::from(kept.to_be_bytes())
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let lan = Cidr::parse("192.168.1.0/24").unwrap();
        assert!(lan.contains(ip("192.168.1.77")));
        assert!(!lan.contains(ip("192.168.2.1")));
        assert!(lan.contains(ip("::ffff:192.168.1.5")), "IPv4-mapped counts");
        assert!(!lan.contains(ip("fe80::1")));
        let host = Cidr::parse("10.0.0.3").unwrap();
        assert!(host.contains(ip("10.0.0.3")) && !host.contains(ip("10.0.0.4")));
        let ula = Cidr::parse("fc00::/7").unwrap();
        assert!(ula.contains(ip("fd12:3456::1")) && !ula.contains(ip("2001:db8::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("::/0").unwrap().contains(ip("2001:db8::1")));
        assert_eq!(
            Cidr::parse("192.168.1.77/24").unwrap().to_string(),
            "192.168.1.0/24"
        );
    }

    #[test]
    fn the_defaults_are_local_networks() {
        let local = Cidr::local_networks();
        let allowed = |text: &str| local.iter().any(|net| net.contains(ip(text)));
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.31.0.1",
            "192.168.0.10",
            "::1",
            "fd00::5",
            "fe80::1",
            "169.254.3.4",
        ] {
            assert!(allowed(inside), "{inside}");
        }
        for outside in ["8.8.8.8", "172.32.0.1", "2001:db8::1", "100.64.0.1"] {
            assert!(!allowed(outside), "{outside}");
        }
    }

    #[test]
    fn ipv4_mapped_networks_are_their_ipv4_networks() {
        assert_eq!(
            Cidr::parse("::ffff:10.0.0.1").unwrap().to_string(),
            "10.0.0.1/32"
        );
        assert_eq!(
            Cidr::parse("::ffff:10.1.2.3/112").unwrap().to_string(),
            "10.1.0.0/16"
        );
        assert!(Cidr::parse("::ffff:10.0.0.0/64").is_err());
    }

    #[test]
    fn bad_networks_are_named_in_french() {
        for bad in ["192.168.1.0/33", "abc", "10.0.0.0/x", "::/129", ""] {
            let error = Cidr::parse(bad).unwrap_err();
            assert!(error.contains("réseau"), "{error}");
        }
    }
}
