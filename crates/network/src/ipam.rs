//! IPv4 subnets and address allocation, as Docker's default IPAM driver hands them
//! out: the gateway is the first host address unless given, containers get the next
//! free address after the last one handed out (so a freed address is not reused at
//! once, while the old container's neighbours may still cache its MAC), wrapping
//! around inside `--ip-range` (or the whole subnet).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::NetworkError;

/// An IPv4 network in CIDR form, host bits zero (`172.17.0.0/16`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    base: u32,
    prefix: u8,
}

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Subnet, NetworkError> {
        if prefix > 32 {
            return Err(NetworkError::InvalidCidr(format!("{addr}/{prefix}")));
        }
        Ok(Subnet {
            base: u32::from(addr) & mask(prefix),
            prefix,
        })
    }

    /// `A.B.C.D/N` where host bits must be zero, as Docker insists for `--subnet`.
    pub fn parse_strict(s: &str) -> Result<Subnet, NetworkError> {
        let (addr, prefix) = parse_cidr(s)?;
        let net = Subnet::new(addr, prefix)?;
        if net.base != u32::from(addr) {
            return Err(NetworkError::InvalidCidr(format!(
                "invalid subnet {s}: it should be {net}"
            )));
        }
        Ok(net)
    }

    pub fn addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.base
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        self.base & mask(p) == other.base & mask(p)
    }

    fn broadcast(&self) -> u32 {
        self.base | !mask(self.prefix)
    }

    /// The first host address, Docker's default gateway.
    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add(1))
    }

    /// The subnet of `len` bits at `index` inside this one (`default-address-pools`).
    pub fn nth_child(&self, len: u8, index: u32) -> Option<Subnet> {
        if len < self.prefix || len > 32 {
            return None;
        }
        let count = 1u64 << (len - self.prefix);
        if u64::from(index) >= count {
            return None;
        }
        let step = if len == 32 { 1 } else { 1u32 << (32 - len) };
        Subnet::new(Ipv4Addr::from(self.base + index * step), len).ok()
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = NetworkError;
    /// Lenient: host bits are dropped (`bip=172.17.0.1/16` names the gateway too).
    fn from_str(s: &str) -> Result<Subnet, NetworkError> {
        let (addr, prefix) = parse_cidr(s)?;
        Subnet::new(addr, prefix)
    }
}

/// `A.B.C.D/N`, both parts checked.
pub fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), NetworkError> {
    let bad = || NetworkError::InvalidCidr(format!("invalid CIDR address: {s}"));
    let (a, p) = s.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
    let prefix: u8 = p.parse().map_err(|_| bad())?;
    if prefix > 32 {
        return Err(bad());
    }
    Ok((addr, prefix))
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    }
}

/// The addresses a network hands out and how it picks the next one.
#[derive(Debug, Clone)]
pub struct Pool {
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    /// `--ip-range`: where dynamic addresses come from (within the subnet).
    pub range: Option<Subnet>,
}

impl Pool {
    /// The next free address after `last` (or from the range's start), skipping the
    /// network and broadcast addresses, the gateway and everything in `taken`.
    pub fn next_free(&self, last: Option<Ipv4Addr>, taken: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        let range = self.range.unwrap_or(self.subnet);
        let (lo, hi) = (range.base, range.broadcast());
        if hi < lo {
            return None;
        }
        let span = u64::from(hi - lo) + 1;
        let start = match last {
            Some(l) if range.contains(l) => u32::from(l) - lo + 1,
            _ => 0,
        };
        let usable = |ip: u32| {
            ip != self.subnet.base
                && ip != self.subnet.broadcast()
                && ip != u32::from(self.gateway)
                && !taken.iter().any(|t| u32::from(*t) == ip)
        };
        (0..span)
            .map(|i| lo + ((u64::from(start) + i) % span) as u32)
            .find(|ip| usable(*ip))
            .map(Ipv4Addr::from)
    }

    /// A requested `--ip`: inside the subnet, not the gateway or a reserved address.
    pub fn check_static(&self, ip: Ipv4Addr, taken: &[Ipv4Addr]) -> Result<(), NetworkError> {
        let n = u32::from(ip);
        if !self.subnet.contains(ip) {
            return Err(NetworkError::InvalidAddress(format!(
                "no configured subnet or ip-range contain the IP address {ip}"
            )));
        }
        if n == self.subnet.base || n == self.subnet.broadcast() {
            return Err(NetworkError::InvalidAddress(format!(
                "invalid address {ip}: it is the network or broadcast address of {}",
                self.subnet
            )));
        }
        if ip == self.gateway || taken.contains(&ip) {
            return Err(NetworkError::AddressInUse(ip.to_string()));
        }
        Ok(())
    }
}

/// Docker's MAC for an address: `02:42` and the four bytes of the IPv4 address.
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_parse_and_overlap() {
        let a = Subnet::parse_strict("172.17.0.0/16").unwrap();
        assert_eq!(a.to_string(), "172.17.0.0/16");
        assert_eq!(a.first_host(), ip("172.17.0.1"));
        assert!(Subnet::parse_strict("172.17.0.1/16").is_err());
        assert_eq!("172.17.0.1/16".parse::<Subnet>().unwrap(), a);
        assert!(Subnet::parse_strict("300.1.1.0/24").is_err());
        assert!(Subnet::parse_strict("10.0.0.0/33").is_err());
        assert!(Subnet::parse_strict("10.0.0.0").is_err());
        let b = Subnet::parse_strict("172.17.5.0/24").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&Subnet::parse_strict("172.18.0.0/16").unwrap()));
        let pool = Subnet::parse_strict("192.168.0.0/16").unwrap();
        assert_eq!(
            pool.nth_child(20, 1).unwrap().to_string(),
            "192.168.16.0/20"
        );
        assert!(pool.nth_child(20, 16).is_none());
    }

    #[test]
    fn allocation_skips_reserved_and_taken_and_rolls_on() {
        let p = Pool {
            subnet: Subnet::parse_strict("10.9.0.0/29").unwrap(),
            gateway: ip("10.9.0.1"),
            range: None,
        };
        assert_eq!(p.next_free(None, &[]), Some(ip("10.9.0.2")));
        assert_eq!(p.next_free(Some(ip("10.9.0.2")), &[]), Some(ip("10.9.0.3")));
        // After the top it wraps to the bottom, past the network address and gateway.
        assert_eq!(p.next_free(Some(ip("10.9.0.6")), &[]), Some(ip("10.9.0.2")));
        let taken: Vec<_> = (2..=6).map(|i| ip(&format!("10.9.0.{i}"))).collect();
        assert_eq!(p.next_free(None, &taken), None);
        assert!(p.check_static(ip("10.9.0.1"), &[]).is_err());
        assert!(p.check_static(ip("10.9.0.7"), &[]).is_err());
        assert!(p.check_static(ip("10.9.1.2"), &[]).is_err());
        assert!(p.check_static(ip("10.9.0.4"), &[ip("10.9.0.4")]).is_err());
        assert!(p.check_static(ip("10.9.0.4"), &[]).is_ok());
        let r = Pool {
            range: Some(Subnet::parse_strict("10.9.0.4/30").unwrap()),
            ..p
        };
        assert_eq!(r.next_free(None, &[]), Some(ip("10.9.0.4")));
        assert_eq!(
            r.next_free(Some(ip("10.9.0.6")), &[ip("10.9.0.4")]),
            Some(ip("10.9.0.5"))
        );
    }

    #[test]
    fn macs_follow_docker() {
        assert_eq!(format_mac(&mac_for(ip("172.17.0.2"))), "02:42:ac:11:00:02");
    }
}
