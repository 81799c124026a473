//! Header rewriting between client and origin: hop-by-hop fields stop here
//! (RFC 9110 §7.6.1) and the origin learns who asked through X-Forwarded-* and
//! `Forwarded` (RFC 7239).

use std::net::IpAddr;

use http::header::{CONNECTION, HeaderName, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue};

static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Removes hop-by-hop fields, including those the Connection field names.
/// `keep_upgrade` preserves `Upgrade` and `Connection: upgrade` for protocol
/// switches (WebSocket) that must reach the origin.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    if let Some(connection) = headers.get(&CONNECTION) {
        // Only allocate when Connection names something other than the usual tokens.
        let named: Vec<HeaderName> = connection
            .to_str()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|t| {
                !t.is_empty()
                    && !t.eq_ignore_ascii_case("close")
                    && !t.eq_ignore_ascii_case("keep-alive")
                    && !t.eq_ignore_ascii_case("upgrade")
            })
            .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
            .collect();
        for name in named {
            if !is_end_to_end_critical(&name) {
                headers.remove(name);
            }
        }
    }
    if headers.contains_key(&CONNECTION) {
        headers.remove(&CONNECTION);
    }
    for name in [&PROXY_CONNECTION, &KEEP_ALIVE] {
        if headers.contains_key(name) {
            headers.remove(name);
        }
    }
    for name in [&TE, &TRAILER, &TRANSFER_ENCODING] {
        if headers.contains_key(name) {
            headers.remove(name);
        }
    }
    if keep_upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    } else if headers.contains_key(&UPGRADE) {
        headers.remove(&UPGRADE);
    }
}

/// A client must not be able to strip fields the proxy relies on by listing
/// them in Connection.
fn is_end_to_end_critical(name: &HeaderName) -> bool {
    name == http::header::HOST
        || name == http::header::CONTENT_LENGTH
        || name == X_FORWARDED_FOR
        || name == FORWARDED
}

/// Whether the request asks for a protocol switch (HTTP/1.1 Upgrade).
pub fn is_upgrade_request(headers: &HeaderMap) -> bool {
    headers.contains_key(&UPGRADE)
        && headers.get_all(&CONNECTION).iter().any(|v| {
            v.to_str()
                .map(|s| {
                    s.split(',')
                        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
                })
                .unwrap_or(false)
        })
}

pub struct ForwardedFacts<'a> {
    pub client_ip: IpAddr,
    pub peer_ip: IpAddr,
    /// The peer is a trusted proxy: extend its forwarding headers rather than replace them.
    pub peer_trusted: bool,
    pub tls: bool,
    pub host: &'a str,
}

pub fn set_forwarding_headers(headers: &mut HeaderMap, facts: &ForwardedFacts<'_>) {
    let proto = if facts.tls { "https" } else { "http" };

    let xff = if facts.peer_trusted {
        let previous: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if previous.is_empty() {
            facts.peer_ip.to_string()
        } else {
            format!("{}, {}", previous.join(", "), facts.peer_ip)
        }
    } else {
        facts.client_ip.to_string()
    };
    if let Ok(value) = HeaderValue::from_str(&xff) {
        headers.insert(&X_FORWARDED_FOR, value);
    }

    if !(facts.peer_trusted && headers.contains_key(&X_FORWARDED_PROTO)) {
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    }
    if !(facts.peer_trusted && headers.contains_key(&X_FORWARDED_HOST))
        && let Ok(value) = HeaderValue::from_str(facts.host)
    {
        headers.insert(&X_FORWARDED_HOST, value);
    }

    let node = match facts.peer_ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("\"[{v6}]\""),
    };
    let host_param = if is_token(facts.host) {
        facts.host.to_string()
    } else {
        format!("\"{}\"", facts.host.replace(['"', '\\'], ""))
    };
    let element = format!("for={node};proto={proto};host={host_param}");
    let forwarded = if facts.peer_trusted {
        let previous: Vec<&str> = headers
            .get_all(&FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if previous.is_empty() {
            element
        } else {
            format!("{}, {element}", previous.join(", "))
        }
    } else {
        element
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded) {
        headers.insert(&FORWARDED, value);
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_fields_and_connection_named_fields_go() {
        let mut h = HeaderMap::new();
        h.insert(
            CONNECTION,
            HeaderValue::from_static("close, x-secret, host"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(TE, HeaderValue::from_static("trailers"));
        h.insert(UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(http::header::HOST, HeaderValue::from_static("a"));
        h.insert("x-keep", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        assert!(h.get("x-secret").is_none());
        assert!(h.get("keep-alive").is_none());
        assert!(h.get(TE).is_none());
        assert!(h.get(UPGRADE).is_none());
        assert!(h.get(CONNECTION).is_none());
        assert!(h.get(http::header::HOST).is_some());
        assert!(h.get("x-keep").is_some());
    }

    #[test]
    fn untrusted_peer_gets_fresh_forwarding_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        h.insert("forwarded", HeaderValue::from_static("for=6.6.6.6"));
        let ip: IpAddr = "2001:db8::1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        set_forwarding_headers(
            &mut h,
            &ForwardedFacts {
                client_ip: ip,
                peer_ip: ip,
                peer_trusted: false,
                tls: true,
                host: "shop.test",
            },
        );
        assert_eq!(h["x-forwarded-for"], "2001:db8::1");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "shop.test");
        assert_eq!(
            h["forwarded"],
            "for=\"[2001:db8::1]\";proto=https;host=shop.test"
        );
    }

    #[test]
    fn trusted_peer_chain_is_extended() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.7"));
        set_forwarding_headers(
            &mut h,
            &ForwardedFacts {
                client_ip: "198.51.100.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
                peer_ip: IpAddr::from([10, 0, 0, 2]),
                peer_trusted: true,
                tls: false,
                host: "shop.test",
            },
        );
        assert_eq!(h["x-forwarded-for"], "198.51.100.7, 10.0.0.2");
    }
}
