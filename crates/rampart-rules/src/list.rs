//! Named lists of IP addresses and CIDRs, built for lookups in lists of a
//! million entries.
//!
//! Entries become inclusive address ranges, merged at build time so that
//! ranges are sorted and disjoint: the range that may hold an address is the
//! last one starting at or before it. A table indexed by the top 16 bits of
//! the address narrows the binary search to the ranges starting in that
//! /16 (IPv4) or /16 (IPv6), so a lookup touches a few cache lines instead of
//! twenty levels of a 4 MB array. Memory: 8 bytes per IPv4 range, 32 per IPv6
//! range, plus 256 KiB per family for the index once the family has more than
//! [`INDEX_THRESHOLD`] ranges.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Default cap on entries of one list, from the product spec.
pub const MAX_LIST_ENTRIES: usize = 1_000_000;

/// Below this many ranges a plain binary search is as fast as the index and
/// the index's 256 KiB would dominate the list's memory.
pub const INDEX_THRESHOLD: usize = 4096;

/// How many line problems an import reports before it stops looking.
const MAX_REPORTED: usize = 20;

/// An address family's integer form.
trait Key: Copy + Ord + fmt::Debug {
    fn bucket(self) -> usize;
    fn succ(self) -> Option<Self>;
}

impl Key for u32 {
    fn bucket(self) -> usize {
        (self >> 16) as usize
    }
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

impl Key for u128 {
    fn bucket(self) -> usize {
        // Lossless: the shifted value has 16 bits.
        (self >> 112) as usize
    }
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
}

/// Sorted, disjoint, non-adjacent inclusive ranges of one family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RangeTable<K> {
    starts: Box<[K]>,
    ends: Box<[K]>,
    /// `index[b]` = number of ranges starting below bucket `b`; 65,537
    /// entries, or none for small tables.
    index: Box<[u32]>,
}

impl<K: Key> RangeTable<K> {
    fn build(mut ranges: Vec<(K, K)>) -> Self {
        ranges.sort_unstable();
        let mut starts: Vec<K> = Vec::with_capacity(ranges.len());
        let mut ends: Vec<K> = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            if let Some(last) = ends.last_mut() {
                // Overlapping or adjacent: extend the previous range.
                if last.succ().is_none_or(|next| s <= next) {
                    if e > *last {
                        *last = e;
                    }
                    continue;
                }
            }
            starts.push(s);
            ends.push(e);
        }
        let index = if starts.len() > INDEX_THRESHOLD {
            let mut index = Vec::with_capacity(65_537);
            let mut i = 0usize;
            for b in 0..=65_536usize {
                while starts.get(i).is_some_and(|s| s.bucket() < b) {
                    i += 1;
                }
                index.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
            index.into_boxed_slice()
        } else {
            Box::default()
        };
        Self {
            starts: starts.into_boxed_slice(),
            ends: ends.into_boxed_slice(),
            index,
        }
    }

    #[inline]
    fn contains(&self, key: K) -> bool {
        let b = key.bucket();
        let (lo, hi) = match (self.index.get(b), self.index.get(b + 1)) {
            (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
            _ => (0, self.starts.len()),
        };
        let Some(window) = self.starts.get(lo..hi) else {
            return false;
        };
        // Ranges in the window start inside the bucket; when none starts at
        // or before `key`, the candidate is the last range of earlier buckets.
        let n = lo + window.partition_point(|&s| s <= key);
        match n.checked_sub(1) {
            Some(i) => self.ends.get(i).is_some_and(|&e| key <= e),
            None => false,
        }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    fn iter(&self) -> impl Iterator<Item = (K, K)> + '_ {
        self.starts.iter().copied().zip(self.ends.iter().copied())
    }

    fn memory(&self) -> usize {
        std::mem::size_of_val(&*self.starts)
            + std::mem::size_of_val(&*self.ends)
            + std::mem::size_of_val(&*self.index)
    }
}

/// A set of IPv4 and IPv6 addresses, from addresses and CIDRs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpList {
    v4: RangeTable<u32>,
    v6: RangeTable<u128>,
    entries: usize,
}

/// One bad line of an imported list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListLineError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

/// Why an import failed: every bad line up to 20, or the size cap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("{}", display_lines(.lines, *.more))]
    Lines {
        lines: Vec<ListLineError>,
        /// Bad lines beyond those reported.
        more: usize,
    },
    #[error("the list has more than {limit} entries")]
    TooLarge { limit: usize },
}

fn display_lines(lines: &[ListLineError], more: usize) -> String {
    let mut s = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let _ = write!(s, "line {}: {}", l.line, l.message);
    }
    if more > 0 {
        let _ = write!(s, "\n…and {more} more bad lines");
    }
    s
}

/// Addresses in `::ffff:0:0/96` are IPv4 clients seen through an IPv6
/// socket; lookups and entries both use the IPv4 form so they meet.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(n) = net
        && let Some(v4) = n.addr().to_ipv4_mapped()
        && n.prefix_len() >= 96
        && let Ok(v4net) = Ipv4Net::new(v4, n.prefix_len() - 96)
    {
        return IpNet::V4(v4net.trunc());
    }
    net.trunc()
}

impl IpList {
    /// A list of these networks (addresses are /32 or /128 networks).
    pub fn from_nets(nets: impl IntoIterator<Item = IpNet>) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut entries = 0;
        for net in nets {
            entries += 1;
            match canonical_net(net) {
                IpNet::V4(n) => v4.push((u32::from(n.network()), u32::from(n.broadcast()))),
                IpNet::V6(n) => v6.push((u128::from(n.network()), u128::from(n.broadcast()))),
            }
        }
        Self {
            v4: RangeTable::build(v4),
            v6: RangeTable::build(v6),
            entries,
        }
    }

    /// Parses one address or CIDR per line, with [`MAX_LIST_ENTRIES`].
    ///
    /// `#` starts a comment; blank lines are skipped. A CIDR with host bits
    /// set (`10.0.0.1/8`) means its network (`10.0.0.0/8`).
    pub fn from_text(text: &str) -> Result<Self, ListError> {
        Self::from_text_with_limit(text, MAX_LIST_ENTRIES)
    }

    /// [`Self::from_text`] with another cap on entries.
    pub fn from_text_with_limit(text: &str, max_entries: usize) -> Result<Self, ListError> {
        let mut nets = Vec::new();
        let mut bad = Vec::new();
        let mut more = 0;
        for (i, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            match parse_entry(entry) {
                Ok(net) => {
                    if nets.len() == max_entries {
                        return Err(ListError::TooLarge { limit: max_entries });
                    }
                    nets.push(net);
                }
                Err(message) if bad.len() < MAX_REPORTED => bad.push(ListLineError {
                    line: i + 1,
                    message,
                }),
                Err(_) => more += 1,
            }
        }
        if !bad.is_empty() {
            return Err(ListError::Lines { lines: bad, more });
        }
        Ok(Self::from_nets(nets))
    }

    /// Whether the list holds this address. IPv4-mapped IPv6 addresses are
    /// looked up as IPv4.
    #[inline]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip.to_canonical() {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }

    /// Entries the list was built from (before merging).
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Disjoint ranges after merging, IPv4 then IPv6.
    pub fn ranges(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// Whether the list holds no address at all.
    pub fn is_empty(&self) -> bool {
        self.v4.len() == 0 && self.v6.len() == 0
    }

    /// Heap bytes the lookup structures use.
    pub fn memory_bytes(&self) -> usize {
        self.v4.memory() + self.v6.memory()
    }

    /// The smallest set of CIDRs covering exactly the list's addresses,
    /// IPv4 first, in address order (single addresses without `/32`, `/128`).
    pub fn cidrs(&self) -> impl Iterator<Item = IpNet> + '_ {
        let v4 = self.v4.iter().flat_map(|(s, e)| {
            split_range(u128::from(s), u128::from(e), 32).filter_map(|(a, len)| {
                let a = u32::try_from(a).ok()?;
                Ipv4Net::new(Ipv4Addr::from(a), len).ok().map(IpNet::V4)
            })
        });
        let v6 = self.v6.iter().flat_map(|(s, e)| {
            split_range(s, e, 128)
                .filter_map(|(a, len)| Ipv6Net::new(Ipv6Addr::from(a), len).ok().map(IpNet::V6))
        });
        v4.chain(v6)
    }

    /// The list as text, one CIDR or address per line, which
    /// [`Self::from_text`] reads back to an equal set.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for net in self.cidrs() {
            let full = match net {
                IpNet::V4(_) => 32,
                IpNet::V6(_) => 128,
            };
            let _ = if net.prefix_len() == full {
                writeln!(out, "{}", net.addr())
            } else {
                writeln!(out, "{net}")
            };
        }
        out
    }
}

fn parse_entry(entry: &str) -> Result<IpNet, String> {
    if entry.contains('/') {
        entry
            .parse::<IpNet>()
            .map_err(|_| format!("`{entry}` is not an IP address or CIDR"))
    } else {
        entry
            .parse::<IpAddr>()
            .map(IpNet::from)
            .map_err(|_| format!("`{entry}` is not an IP address or CIDR"))
    }
}

/// Splits the inclusive range `[start, end]` of a `bits`-wide family into
/// aligned blocks `(address, prefix length)`, largest first.
fn split_range(start: u128, end: u128, bits: u8) -> impl Iterator<Item = (u128, u8)> {
    let mut next = Some(start);
    std::iter::from_fn(move || {
        let s = next?;
        if s > end {
            return None;
        }
        // The largest block aligned at `s` that does not pass `end`.
        let mut size_log = u32::min(s.trailing_zeros(), u32::from(bits));
        while size_log > 0 {
            let last = if size_log >= 128 {
                u128::MAX
            } else {
                s | ((1u128 << size_log) - 1)
            };
            if last <= end {
                break;
            }
            size_log -= 1;
        }
        let last = if size_log >= 128 {
            u128::MAX
        } else {
            s | ((1u128 << size_log) - 1)
        };
        next = last.checked_add(1).filter(|_| last < end);
        let prefix = u8::try_from(u32::from(bits).saturating_sub(size_log)).unwrap_or(0);
        Some((s, prefix))
    })
}

/// Lists by name, as rules name them (`$office` → `"office"`). The caller
/// decides which account's and which operator-wide lists are in scope.
///
/// The map hashes with foldhash (hashbrown's default), not SipHash: rules
/// look lists up by name on every evaluation, and names come from the
/// operator's configuration, not from requests.
#[derive(Debug, Clone, Default)]
pub struct Lists {
    map: hashbrown::HashMap<Box<str>, Arc<IpList>>,
}

impl Lists {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a list.
    pub fn insert(&mut self, name: impl Into<Box<str>>, list: Arc<IpList>) -> &mut Self {
        self.map.insert(name.into(), list);
        self
    }

    /// The list with this name.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&IpList> {
        self.map.get(name).map(|l| &**l)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl<N: Into<Box<str>>> FromIterator<(N, Arc<IpList>)> for Lists {
    fn from_iter<I: IntoIterator<Item = (N, Arc<IpList>)>>(iter: I) -> Self {
        Self {
            map: iter.into_iter().map(|(n, l)| (n.into(), l)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn text_round_trip_and_lookup() {
        let list = IpList::from_text(
            "# office\n10.0.0.0/8\n10.1.0.0/16 # inside the /8\n\n192.168.1.1\n\
             192.168.1.2\n2001:db8::/32\n::ffff:203.0.113.7\n",
        )
        .unwrap();
        assert_eq!(list.entries(), 6);
        assert_eq!(list.ranges(), (3, 1));
        for yes in [
            "10.2.3.4",
            "192.168.1.2",
            "2001:db8::1",
            "203.0.113.7",
            "::ffff:10.0.0.1",
        ] {
            assert!(list.contains(ip(yes)), "{yes}");
        }
        for no in ["11.0.0.0", "192.168.1.3", "2001:db9::", "::1"] {
            assert!(!list.contains(ip(no)), "{no}");
        }
        assert_eq!(
            list.to_text(),
            "10.0.0.0/8\n192.168.1.1\n192.168.1.2\n203.0.113.7\n2001:db8::/32\n"
        );
        assert_eq!(
            IpList::from_text(&list.to_text()).unwrap().ranges(),
            list.ranges()
        );
    }

    #[test]
    fn export_of_merged_ranges_is_minimal() {
        let list = IpList::from_text("10.0.0.0/25\n10.0.0.128/25\n10.0.1.0\n").unwrap();
        assert_eq!(list.to_text(), "10.0.0.0/24\n10.0.1.0\n");
        let all = IpList::from_text("0.0.0.0/0\n::/0").unwrap();
        assert_eq!(all.to_text(), "0.0.0.0/0\n::/0\n");
        assert!(all.contains(ip("255.255.255.255")));
    }

    #[test]
    fn errors_name_lines() {
        let err = IpList::from_text("1.2.3.4\nnope\n\n10.0.0.0/33\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: `nope` is not an IP address or CIDR\nline 4: `10.0.0.0/33` is not an IP address or CIDR"
        );
        assert_eq!(
            IpList::from_text_with_limit("1.1.1.1\n2.2.2.2\n", 1),
            Err(ListError::TooLarge { limit: 1 })
        );
    }

    #[test]
    fn indexed_lookup_matches_plain() {
        // Enough ranges to build the index, spread over many buckets.
        let nets: Vec<IpNet> = (0..10_000u32)
            .map(|i| {
                IpNet::V4(
                    Ipv4Net::new(Ipv4Addr::from(i.wrapping_mul(2_654_435_761) & !0xff), 24)
                        .unwrap(),
                )
            })
            .collect();
        let list = IpList::from_nets(nets.clone());
        assert!(list.v4.index.len() == 65_537);
        for i in 0..5_000u32 {
            let a = Ipv4Addr::from(i.wrapping_mul(97_003).wrapping_add(i << 20));
            let naive = nets.iter().any(|n| n.contains(&IpAddr::V4(a)));
            assert_eq!(list.contains(IpAddr::V4(a)), naive, "{a}");
        }
    }
}
