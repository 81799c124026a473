//! Who the client is. The socket peer (or the PROXY protocol source) is the
//! truth unless the peer is a proxy the operator trusts; only then is
//! X-Forwarded-For read, right to left, skipping further trusted hops.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self { nets }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The client address for a request that arrived from `peer`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if self.nets.is_empty() || !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        // Later header fields and later list elements were added by hops closer to us.
        let values: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        for value in values.iter().rev() {
            for element in value.rsplit(',') {
                let Some(ip) = parse_forwarded_ip(element.trim()) else {
                    // Garbage from an untrusted hop: stop believing anything further left.
                    return client;
                };
                client = ip;
                if !self.contains(ip) {
                    return ip;
                }
            }
        }
        client
    }
}

fn parse_forwarded_ip(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    // Tolerate "1.2.3.4:5678" and "[::1]:5678", which some proxies emit.
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    let (host, port) = text.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) {
        return host.parse().ok().map(canonical);
    }
    None
}

/// IPv4-mapped IPv6 addresses (from dual-stack sockets) are treated as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_header_says() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap_or_default()]);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        assert_eq!(
            trusted.client_ip(ip("203.0.113.9"), &headers),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_chain_is_walked_right_to_left() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap_or_default()]);
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 198.51.100.7"),
        );
        headers.append("x-forwarded-for", HeaderValue::from_static("10.1.1.1"));
        assert_eq!(
            trusted.client_ip(ip("10.0.0.2"), &headers),
            ip("198.51.100.7")
        );
        let empty = HeaderMap::new();
        assert_eq!(trusted.client_ip(ip("10.0.0.2"), &empty), ip("10.0.0.2"));
        let mut junk = HeaderMap::new();
        junk.insert("x-forwarded-for", HeaderValue::from_static("nonsense"));
        assert_eq!(trusted.client_ip(ip("10.0.0.2"), &junk), ip("10.0.0.2"));
    }

    #[test]
    fn mapped_v6_is_v4() {
        assert_eq!(canonical(ip("::ffff:1.2.3.4")), ip("1.2.3.4"));
    }
}
