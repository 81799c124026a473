//! `@ipMatch` and `@ipMatchFromFile` (`@ipMatchF`): the input is an IPv4 or
//! IPv6 address, matched against addresses and CIDR networks.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::OperatorError;
use super::phrases::{data_files, data_lines};

/// Networks as sorted, merged, inclusive address ranges, so a lookup is a
/// binary search however long an `@ipMatchFromFile` list is.
#[derive(Debug)]
pub(super) struct IpSet {
    /// IPv4 ranges, widened to `u128` to share the code with IPv6.
    v4: Vec<(u128, u128)>,
    v6: Vec<(u128, u128)>,
}

impl IpSet {
    /// Addresses and networks separated by commas and/or whitespace.
    pub(super) fn from_argument(argument: &str) -> Result<Self, OperatorError> {
        let networks = argument
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|entry| !entry.is_empty())
            .map(|entry| parse_network("ipMatch", entry))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new("ipMatch", networks)
    }

    /// One address or network per line; `#` comments and blank lines skipped.
    pub(super) fn from_files(argument: &str, base_dir: &Path) -> Result<Self, OperatorError> {
        const OPERATOR: &str = "ipMatchFromFile";
        let mut networks = Vec::new();
        for text in data_files(OPERATOR, argument, base_dir)? {
            for line in data_lines(&text) {
                let entry = String::from_utf8_lossy(line);
                let entry = entry.trim();
                if entry.starts_with('#') {
                    continue;
                }
                networks.push(parse_network(OPERATOR, entry)?);
            }
        }
        Self::new(OPERATOR, networks)
    }

    fn new(operator: &str, networks: Vec<IpNet>) -> Result<Self, OperatorError> {
        if networks.is_empty() {
            return Err(OperatorError::bad(operator, "no address or network given"));
        }
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for network in networks {
            match network {
                IpNet::V4(net) => v4.push((
                    u128::from(u32::from(net.network())),
                    u128::from(u32::from(net.broadcast())),
                )),
                IpNet::V6(net) => v6.push((u128::from(net.network()), u128::from(net.broadcast()))),
            }
        }
        Ok(Self {
            v4: merge(v4),
            v6: merge(v6),
        })
    }

    pub(super) fn evaluate(&self, input: &[u8]) -> bool {
        let Some(address) = std::str::from_utf8(input)
            .ok()
            .and_then(|text| text.trim().parse::<IpAddr>().ok())
        else {
            return false;
        };
        // A v4 client seen through a dual-stack socket (`::ffff:10.0.0.1`)
        // must still match a rule written with v4 networks.
        let mapped = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.contains(address) || mapped.is_some_and(|v4| self.contains(v4))
    }

    fn contains(&self, address: IpAddr) -> bool {
        match address {
            IpAddr::V4(v4) => in_ranges(&self.v4, u128::from(u32::from(v4))),
            IpAddr::V6(v6) => in_ranges(&self.v6, u128::from(v6)),
        }
    }
}

/// Sorts ranges and joins overlapping or adjacent ones, so that at most
/// one range can hold a given address.
fn merge(mut ranges: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    ranges.sort_unstable();
    let mut merged: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

fn in_ranges(ranges: &[(u128, u128)], address: u128) -> bool {
    // The last range starting at or before the address is the only one
    // that can hold it.
    let after = ranges.partition_point(|&(start, _)| start <= address);
    after
        .checked_sub(1)
        .and_then(|index| ranges.get(index))
        .is_some_and(|&(_, end)| address <= end)
}

fn parse_network(operator: &str, entry: &str) -> Result<IpNet, OperatorError> {
    let parsed = if entry.contains('/') {
        entry.parse::<IpNet>().ok()
    } else {
        entry.parse::<IpAddr>().map(IpNet::from).ok()
    };
    parsed.ok_or_else(|| {
        OperatorError::bad(
            operator,
            format!("`{entry}` is not an IP address or network"),
        )
    })
}
