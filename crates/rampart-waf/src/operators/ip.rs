//! `@ipMatch` and `@ipMatchFromFile` (`@ipMatchF`): the input is an IPv4 or
//! IPv6 address, matched against addresses and CIDR networks.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use super::OperatorError;
use super::phrases::{data_files, data_lines};

#[derive(Debug)]
pub(super) struct IpSet {
    networks: Vec<IpNet>,
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
        Ok(Self { networks })
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
        self.networks.iter().any(|network| {
            network.contains(&address) || mapped.is_some_and(|v4| network.contains(&v4))
        })
    }
}

fn parse_network(operator: &str, entry: &str) -> Result<IpNet, OperatorError> {
    let parsed = if entry.contains('/') {
        entry.parse::<IpNet>().map(|network| network.trunc()).ok()
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
