//! Compact counter keys: the characteristics a rule counts by, hashed into
//! 128 bits with a secret seed.
//!
//! # Why a keyed 128-bit hash
//!
//! The counters store only the 16-byte [`LimitKey`], never the header or path
//! it came from, so a key costs the same whatever the client sends and
//! building one allocates nothing. The hash is SipHash-1-3 with a 128-bit
//! output (the same function family as Rust's `HashMap` default, there with a
//! 64-bit output) keyed by a [`KeyHasher`] seed drawn at random per process.
//!
//! # Collision bound
//!
//! Two different characteristic tuples share a key only by a hash collision.
//! Without the seed an attacker cannot do better than a random guess, so for
//! `n` keys alive at once the chance that any two collide is at most
//! `n² / 2¹²⁹`: for a billion keys (far more than any store holds) that is
//! about 1.5 × 10⁻²¹. A collision would merge two clients' counts; it cannot
//! be aimed at a chosen victim.
//!
//! # Encoding
//!
//! Each characteristic is written as a tag byte, a length and the bytes, so
//! that `("ab", "c")` and `("a", "bc")`, or a header and a cookie with the
//! same value, never feed the hash the same input. The order of the builder
//! calls is part of the key: a rule must always add its characteristics in
//! the same order (the natural way: the order of its configuration).

use core::hash::Hasher;
use siphasher::sip128::{Hasher128, SipHasher13};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A counter key: 128 bits of keyed hash over a rule's characteristics.
///
/// Only meaningful together with the [`KeyHasher`] that built it. Nodes that
/// share counters (a Redis tier, later) must build keys with the same seed,
/// see [`KeyHasher::from_seed`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LimitKey(u128);

impl LimitKey {
    /// A key from its 128-bit value, e.g. as read back from a shared tier.
    #[must_use]
    pub const fn from_u128(value: u128) -> Self {
        Self(value)
    }

    /// The 128-bit value, e.g. to name the key in a shared tier.
    #[must_use]
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// The upper 64 bits pick a shard; the lower 64 bits are the hash inside
    /// it. Using different halves keeps a shard's table from seeing only keys
    /// that agree on the bits that picked the shard.
    pub(crate) const fn shard_bits(self) -> u64 {
        (self.0 >> 64) as u64
    }

    pub(crate) const fn table_hash(self) -> u64 {
        self.0 as u64
    }
}

impl core::fmt::Debug for LimitKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "LimitKey({:032x})", self.0)
    }
}

/// The secret seed keys are built with. Cheap to clone; build one per
/// process (or per cluster, see [`KeyHasher::from_seed`]) and share it.
#[derive(Clone)]
pub struct KeyHasher {
    k0: u64,
    k1: u64,
}

impl core::fmt::Debug for KeyHasher {
    // The seed is what keeps collisions out of an attacker's reach.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyHasher { .. }")
    }
}

impl KeyHasher {
    /// A hasher with a seed from the operating system's random source.
    #[must_use]
    pub fn random() -> Self {
        let seed: [u8; 16] = rand::random();
        Self::from_seed(seed)
    }

    /// A hasher with a given seed. Nodes that share counters need the same
    /// seed (a cluster secret) so that they build the same key for the same
    /// client; tests use it for reproducible keys.
    #[must_use]
    pub fn from_seed(seed: [u8; 16]) -> Self {
        let [
            a0,
            a1,
            a2,
            a3,
            a4,
            a5,
            a6,
            a7,
            b0,
            b1,
            b2,
            b3,
            b4,
            b5,
            b6,
            b7,
        ] = seed;
        Self {
            k0: u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
            k1: u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
        }
    }

    /// Starts a key. Add characteristics, then [`LimitKeyBuilder::finish`].
    pub fn key(&self) -> LimitKeyBuilder {
        LimitKeyBuilder {
            state: SipHasher13::new_with_keys(self.k0, self.k1),
            buf: [0; BUF],
            len: 0,
        }
    }

    /// A 64-bit value derived from the seed, to seed samplers that must not
    /// be predictable either.
    pub(crate) fn derive_u64(&self, label: u8) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        h.write_u8(0xff);
        h.write_u8(label);
        h.finish128().h1
    }
}

// Tags of the characteristics: part of the hashed input, never reordered.
const TAG_SITE: u8 = 1;
const TAG_RULE: u8 = 2;
const TAG_IP: u8 = 3;
const TAG_HEADER: u8 = 4;
const TAG_COOKIE: u8 = 5;
const TAG_QUERY: u8 = 6;
const TAG_PATH: u8 = 7;
const TAG_BYTES: u8 = 8;
// A missing header/cookie/argument is not the same as an empty one.
const ABSENT: u8 = 0;
const PRESENT: u8 = 1;

/// Bytes gathered before they are fed to the hash. SipHash costs little
/// per 8-byte word but a fair amount per `write` call (tail handling), and a
/// key is a dozen small pieces; gathering them makes it one call for a
/// typical key. The hash is streaming, so chunking never changes the key.
const BUF: usize = 128;

/// Accumulates characteristics into a key without allocating. Consumed by
/// each call so a chain reads like the rule:
/// `hasher.key().site(site).rule(rule).ip_prefix(ip, 24, 64).finish()`.
#[derive(Clone)]
#[must_use]
pub struct LimitKeyBuilder {
    state: SipHasher13,
    buf: [u8; BUF],
    len: usize,
}

impl core::fmt::Debug for LimitKeyBuilder {
    // The hasher state holds the seed.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LimitKeyBuilder { .. }")
    }
}

impl LimitKeyBuilder {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst.copy_from_slice(bytes);
            self.len = end;
            return;
        }
        self.flush();
        match self.buf.get_mut(..bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = bytes.len();
            }
            None => self.state.write(bytes),
        }
    }

    fn flush(&mut self) {
        if let Some(gathered) = self.buf.get(..self.len) {
            self.state.write(gathered);
        }
        self.len = 0;
    }

    #[inline]
    fn field(mut self, tag: u8, bytes: &[u8]) -> Self {
        // Explicit little-endian lengths: every node, whatever its
        // architecture, must build the same key from the same input.
        self.put(&[tag]);
        self.put(&(bytes.len() as u64).to_le_bytes());
        self.put(bytes);
        self
    }

    #[inline]
    fn named(mut self, tag: u8, name: &[u8], value: Option<&[u8]>) -> Self {
        self = self.field(tag, name);
        match value {
            Some(v) => {
                self.put(&[PRESENT]);
                self.field(tag, v)
            }
            None => {
                self.put(&[ABSENT]);
                self
            }
        }
    }

    /// The site the request is for (its id).
    pub fn site(self, id: impl AsRef<[u8]>) -> Self {
        self.field(TAG_SITE, id.as_ref())
    }

    /// The rule doing the counting (its id), so two rules never share a count.
    pub fn rule(self, id: impl AsRef<[u8]>) -> Self {
        self.field(TAG_RULE, id.as_ref())
    }

    /// The client's full address. IPv4-mapped IPv6 addresses count as the
    /// IPv4 address, so a dual-stack listener cannot split one client in two.
    pub fn client_ip(self, ip: IpAddr) -> Self {
        self.ip_prefix(ip, 32, 128)
    }

    /// The client's network: the address masked to `v4_bits` (e.g. 24) or
    /// `v6_bits` (e.g. 64), by family. Lengths beyond the address are capped.
    pub fn ip_prefix(mut self, ip: IpAddr, v4_bits: u8, v6_bits: u8) -> Self {
        let (net, len) = prefix_and_len(ip, v4_bits, v6_bits);
        match net {
            IpAddr::V4(a) => {
                let [a0, a1, a2, a3] = a.octets();
                self.put(&[TAG_IP, len, 4, a0, a1, a2, a3]);
            }
            IpAddr::V6(a) => {
                self.put(&[TAG_IP, len, 6]);
                self.put(&a.octets());
            }
        }
        self
    }

    /// A request header's value (`None`: the header is absent). The caller
    /// passes the name in one case (HTTP names are case-insensitive; the
    /// `http` crate's names are already lowercase).
    pub fn header(self, name: &[u8], value: Option<&[u8]>) -> Self {
        self.named(TAG_HEADER, name, value)
    }

    /// A cookie's value (`None`: no such cookie).
    pub fn cookie(self, name: &[u8], value: Option<&[u8]>) -> Self {
        self.named(TAG_COOKIE, name, value)
    }

    /// A query argument's value (`None`: no such argument).
    pub fn query_arg(self, name: &[u8], value: Option<&[u8]>) -> Self {
        self.named(TAG_QUERY, name, value)
    }

    /// The request path.
    pub fn path(self, path: &[u8]) -> Self {
        self.field(TAG_PATH, path)
    }

    /// Any other characteristic (e.g. a country or a JA4 fingerprint): tagged
    /// apart from all the named ones.
    pub fn bytes(self, value: &[u8]) -> Self {
        self.field(TAG_BYTES, value)
    }

    /// The key.
    #[must_use]
    pub fn finish(mut self) -> LimitKey {
        self.flush();
        LimitKey(u128::from(self.state.finish128()))
    }
}

/// `ip` masked to its first `v4_bits` (IPv4) or `v6_bits` (IPv6) bits, e.g.
/// `ip_prefix(ip, 24, 64)` for "the client's /24 or /64". IPv4-mapped IPv6
/// addresses are treated as IPv4. Lengths beyond the address are capped.
#[must_use]
pub fn ip_prefix(ip: IpAddr, v4_bits: u8, v6_bits: u8) -> IpAddr {
    prefix_and_len(ip, v4_bits, v6_bits).0
}

fn prefix_and_len(ip: IpAddr, v4_bits: u8, v6_bits: u8) -> (IpAddr, u8) {
    match ip.to_canonical() {
        IpAddr::V4(a) => {
            let len = v4_bits.min(32);
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            (IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask)), len)
        }
        IpAddr::V6(a) => {
            let len = v6_bits.min(128);
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            (IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask)), len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> KeyHasher {
        KeyHasher::from_seed([7; 16])
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_mask_by_family() {
        assert_eq!(ip_prefix(ip("203.0.113.77"), 24, 64), ip("203.0.113.0"));
        assert_eq!(
            ip_prefix(ip("2001:db8:1:2:3:4:5:6"), 24, 64),
            ip("2001:db8:1:2::")
        );
        assert_eq!(ip_prefix(ip("::ffff:10.1.2.3"), 16, 64), ip("10.1.0.0"));
        assert_eq!(ip_prefix(ip("10.1.2.3"), 0, 0), ip("0.0.0.0"));
        assert_eq!(ip_prefix(ip("10.1.2.3"), 99, 200), ip("10.1.2.3"));
        assert_eq!(ip_prefix(ip("::1"), 32, 255), ip("::1"));
    }

    #[test]
    fn same_characteristics_same_key() {
        let a = h()
            .key()
            .site("s")
            .rule("r")
            .client_ip(ip("1.2.3.4"))
            .finish();
        let b = h()
            .key()
            .site("s")
            .rule("r")
            .client_ip(ip("1.2.3.4"))
            .finish();
        assert_eq!(a, b);
        // The mapped form is the same client.
        let c = h()
            .key()
            .site("s")
            .rule("r")
            .client_ip(ip("::ffff:1.2.3.4"));
        assert_eq!(a, c.finish());
        // Two addresses of one /24 share the prefix key.
        let p1 = h().key().ip_prefix(ip("1.2.3.4"), 24, 64).finish();
        let p2 = h().key().ip_prefix(ip("1.2.3.200"), 24, 64).finish();
        assert_eq!(p1, p2);
    }

    #[test]
    fn field_boundaries_and_kinds_are_part_of_the_key() {
        let keys = [
            h().key().site("ab").rule("c").finish(),
            h().key().site("a").rule("bc").finish(),
            h().key().rule("ab").site("c").finish(),
            h().key().header(b"x", Some(b"1")).finish(),
            h().key().cookie(b"x", Some(b"1")).finish(),
            h().key().query_arg(b"x", Some(b"1")).finish(),
            h().key().header(b"x", None).finish(),
            h().key().header(b"x", Some(b"")).finish(),
            h().key().path(b"/x").finish(),
            h().key().bytes(b"/x").finish(),
            h().key().ip_prefix(ip("1.2.3.0"), 24, 64).finish(),
            h().key().client_ip(ip("1.2.3.0")).finish(),
            h().key().client_ip(ip("::102:300")).finish(),
            h().key().finish(),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn long_values_hash_as_a_stream() {
        // Values longer than the gathering buffer, and keys that cross it,
        // give the same key as hashing the encoded bytes in one piece.
        let long = vec![b'x'; 1_000];
        let built = h()
            .key()
            .site("s")
            .path(&long)
            .header(b"h", Some(&long))
            .finish();
        let mut one = SipHasher13::new_with_keys(h().k0, h().k1);
        let mut enc = Vec::new();
        for (tag, bytes) in [(TAG_SITE, &b"s"[..]), (TAG_PATH, &long), (TAG_HEADER, b"h")] {
            enc.push(tag);
            enc.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            enc.extend_from_slice(bytes);
        }
        enc.push(PRESENT);
        enc.push(TAG_HEADER);
        enc.extend_from_slice(&(long.len() as u64).to_le_bytes());
        enc.extend_from_slice(&long);
        one.write(&enc);
        assert_eq!(built, LimitKey(u128::from(one.finish128())));
    }

    #[test]
    fn the_seed_changes_every_key() {
        let a = h().key().site("s").finish();
        let b = KeyHasher::from_seed([8; 16]).key().site("s").finish();
        let c = KeyHasher::random().key().site("s").finish();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(format!("{:?}", h()), "KeyHasher { .. }");
        assert_eq!(LimitKey::from_u128(a.as_u128()), a);
    }
}
