//! What a token is bound to besides its site: the client's address prefix
//! and, for clearance cookies, its User-Agent.
//!
//! A prefix rather than the full address because clients behind carrier NAT
//! or IPv6 privacy addresses change host bits between requests; the prefix
//! length is a site setting.

use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// Prefix lengths the client address is masked to before it is bound into a
/// MAC. Valid by construction: IPv4 8..=32, IPv6 16..=128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixPolicy {
    v4: u8,
    v6: u8,
}

impl Default for PrefixPolicy {
    /// /24 for IPv4 and /64 for IPv6: one customer's network in each.
    fn default() -> Self {
        Self { v4: 24, v6: 64 }
    }
}

/// A prefix length outside the accepted range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// IPv4 prefix outside 8..=32.
    #[error("IPv4 prefix length {0} is outside 8..=32")]
    V4(u8),
    /// IPv6 prefix outside 16..=128.
    #[error("IPv6 prefix length {0} is outside 16..=128")]
    V6(u8),
}

impl PrefixPolicy {
    /// A policy with the given prefix lengths. Shorter prefixes than 8 / 16
    /// would let one solved challenge cover a large part of the internet.
    pub fn new(v4: u8, v6: u8) -> Result<Self, PolicyError> {
        if !(8..=32).contains(&v4) {
            return Err(PolicyError::V4(v4));
        }
        if !(16..=128).contains(&v6) {
            return Err(PolicyError::V6(v6));
        }
        Ok(Self { v4, v6 })
    }

    /// IPv4 prefix length.
    pub fn v4(&self) -> u8 {
        self.v4
    }

    /// IPv6 prefix length.
    pub fn v6(&self) -> u8 {
        self.v6
    }

    /// The masked prefix of `ip` under this policy. An IPv4-mapped IPv6
    /// address (`::ffff:a.b.c.d`, as dual-stack sockets report IPv4
    /// clients) is the IPv4 address, so both paths bind the same bytes.
    pub fn prefix(&self, ip: IpAddr) -> IpPrefix {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        let mut bytes = [0u8; 16];
        let (len, octets) = match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                for (d, s) in bytes.iter_mut().zip(o) {
                    *d = s;
                }
                (4u8, self.v4)
            }
            IpAddr::V6(v6) => {
                bytes = v6.octets();
                (16u8, self.v6)
            }
        };
        mask(&mut bytes, octets);
        IpPrefix {
            bytes,
            len,
            prefix_len: octets,
        }
    }
}

/// Zeroes every bit of `bytes` after the first `prefix_len`.
fn mask(bytes: &mut [u8; 16], prefix_len: u8) {
    let mut remaining = u32::from(prefix_len);
    for b in bytes.iter_mut() {
        let keep = remaining.min(8);
        remaining -= keep;
        // keep = 0 → 0x00, keep = 8 → 0xFF, else the top `keep` bits.
        *b &= 0xFFu8.checked_shl(8 - keep).unwrap_or(0);
    }
}

/// A client address masked to its prefix: what the MACs bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPrefix {
    bytes: [u8; 16],
    /// 4 for IPv4, 16 for IPv6.
    len: u8,
    prefix_len: u8,
}

impl IpPrefix {
    /// The masked address bytes: 4 for IPv4, 16 for IPv6.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes
            .get(..usize::from(self.len))
            .unwrap_or(&self.bytes)
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The prefix length as the one byte the MACs bind.
    pub(crate) fn len_byte(&self) -> &[u8] {
        std::slice::from_ref(&self.prefix_len)
    }
}

/// The masked prefix of `ip` under `policy` (same as [`PrefixPolicy::prefix`]).
pub fn masked_prefix(ip: IpAddr, policy: &PrefixPolicy) -> IpPrefix {
    policy.prefix(ip)
}

/// First 16 bytes of SHA-256 of the `User-Agent` header bytes, the form the
/// clearance cookie binds. An absent header is the empty string.
pub fn ua_hash(user_agent: &[u8]) -> [u8; 16] {
    let full: [u8; 32] = Sha256::digest(user_agent).into();
    let mut out = [0u8; 16];
    for (d, s) in out.iter_mut().zip(full) {
        *d = s;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ip: &str, policy: PrefixPolicy) -> (Vec<u8>, u8) {
        let pre = policy.prefix(ip.parse().unwrap());
        (pre.as_bytes().to_vec(), pre.prefix_len())
    }

    #[test]
    fn default_masks() {
        let d = PrefixPolicy::default();
        assert_eq!(p("192.0.2.77", d), (vec![192, 0, 2, 0], 24));
        assert_eq!(p("::ffff:192.0.2.77", d), (vec![192, 0, 2, 0], 24));
        let (v6, len) = p("2001:db8:1:2:3:4:5:6", d);
        assert_eq!(len, 64);
        assert_eq!(
            v6,
            vec![0x20, 1, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn odd_lengths() {
        let pol = PrefixPolicy::new(20, 17).unwrap();
        assert_eq!(p("10.255.255.255", pol), (vec![10, 255, 240, 0], 20));
        let (v6, _) = p("ffff:ffff::1", pol);
        assert_eq!(v6[..4], [0xff, 0xff, 0x80, 0x00]);
        let full = PrefixPolicy::new(32, 128).unwrap();
        assert_eq!(p("10.1.2.3", full).0, vec![10, 1, 2, 3]);
        assert_eq!(p("::1", full).0[15], 1);
    }

    #[test]
    fn validation() {
        assert_eq!(PrefixPolicy::new(7, 64), Err(PolicyError::V4(7)));
        assert_eq!(PrefixPolicy::new(33, 64), Err(PolicyError::V4(33)));
        assert_eq!(PrefixPolicy::new(24, 15), Err(PolicyError::V6(15)));
        assert_eq!(PrefixPolicy::new(24, 129), Err(PolicyError::V6(129)));
        assert!(PrefixPolicy::new(8, 16).is_ok());
    }

    #[test]
    fn ua_hash_is_sha256_prefix() {
        // SHA-256("") = e3b0c442 98fc1c14 9afbf4c8 996fb924 ...
        assert_eq!(
            ua_hash(b""),
            [
                0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f,
                0xb9, 0x24
            ]
        );
    }
}
