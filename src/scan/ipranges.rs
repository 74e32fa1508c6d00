//! Which IP addresses are not PII: the ones that name no one, and the ranges an operator says.
//!
//! This module owns the fixed exclusions (loopback, unspecified, broadcast and the documentation
//! ranges of RFC 5737 and RFC 3849) and the configured `pii.ignore_ip_ranges` (CIDRs, or
//! `private` for RFC 1918, CGNAT, link-local and unique-local). It does not find addresses.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Configured ranges whose addresses are not reported.
#[derive(Debug, Clone, Default)]
pub struct IpRanges {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

const PRIVATE: &[&str] = &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"];

impl IpRanges {
    /// Parses CIDRs (`10.0.0.0/8`, `fd00::/8`), bare addresses, and `private`. An error names
    /// the entry's index and why.
    pub fn parse(list: &[String]) -> Result<IpRanges, (usize, String)> {
        let mut r = IpRanges::default();
        for (i, entry) in list.iter().enumerate() {
            let entry = entry.trim();
            if entry.eq_ignore_ascii_case("private") {
                for p in PRIVATE {
                    r.add(p).map_err(|e| (i, e))?;
                }
                continue;
            }
            r.add(entry).map_err(|e| (i, e))?;
        }
        Ok(r)
    }

    fn add(&mut self, cidr: &str) -> Result<(), String> {
        let (addr, len) = match cidr.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u32>().map_err(|_| "has a bad prefix length".to_owned())?)),
            None => (cidr, None),
        };
        if let Ok(a) = addr.parse::<Ipv4Addr>() {
            let len = len.unwrap_or(32);
            if len > 32 {
                return Err("an IPv4 prefix is at most 32 bits".to_owned());
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            self.v4.push((u32::from(a) & mask, mask));
            return Ok(());
        }
        if let Ok(a) = addr.parse::<Ipv6Addr>() {
            let len = len.unwrap_or(128);
            if len > 128 {
                return Err("an IPv6 prefix is at most 128 bits".to_owned());
            }
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            self.v6.push((u128::from(a) & mask, mask));
            return Ok(());
        }
        Err("is not a CIDR range, an address or \"private\"".to_owned())
    }

    pub(super) fn skip_v4(&self, a: Ipv4Addr) -> bool {
        let o = a.octets();
        let doc = matches!(o, [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _]);
        a.is_loopback() || a.is_unspecified() || a.is_broadcast() || doc || self.v4.iter().any(|(net, mask)| u32::from(a) & mask == *net)
    }

    pub(super) fn skip_v6(&self, a: Ipv6Addr) -> bool {
        let s = a.segments();
        let doc = s[0] == 0x2001 && s[1] == 0x0db8;
        a.is_loopback() || a.is_unspecified() || doc || self.v6.iter().any(|(net, mask)| u128::from(a) & mask == *net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_and_configured_exclusions() {
        let none = IpRanges::default();
        for a in ["127.0.0.1", "127.8.9.10", "0.0.0.0", "192.0.2.1", "198.51.100.7", "203.0.113.200", "255.255.255.255"] {
            assert!(none.skip_v4(a.parse().unwrap()), "{a}");
        }
        for a in ["10.1.2.3", "192.168.1.1", "8.8.8.8", "192.0.3.1"] {
            assert!(!none.skip_v4(a.parse().unwrap()), "{a}");
        }
        for a in ["::1", "::", "2001:db8::1", "2001:0db8:85a3::7334"] {
            assert!(none.skip_v6(a.parse().unwrap()), "{a}");
        }
        assert!(!none.skip_v6("2001:4860:4860::8888".parse().unwrap()));
        let private = IpRanges::parse(&["private".into(), "8.8.8.0/24".into()]).unwrap();
        for a in ["10.1.2.3", "172.20.0.1", "192.168.1.1", "8.8.8.8", "169.254.1.1"] {
            assert!(private.skip_v4(a.parse().unwrap()), "{a}");
        }
        assert!(!private.skip_v4("172.32.0.1".parse().unwrap()));
        assert!(private.skip_v6("fd12:3456::1".parse().unwrap()));
        assert_eq!(IpRanges::parse(&["10.0.0.0/8".into(), "10.0.0.0/33".into()]).unwrap_err().0, 1);
        assert!(IpRanges::parse(&["nope".into()]).is_err());
    }
}
