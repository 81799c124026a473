//! Parsers for individual scalar values. Each returns a message that says what
//! is wrong and how to write it instead; the caller adds the key path and the
//! position.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use ipnet::IpNet;

use crate::model::HostPattern;

pub(crate) fn parse_socket_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let hint = if s.parse::<Ipv6Addr>().is_ok() {
        "; the port is missing (IPv6 addresses need brackets, e.g. [::1]:8080)"
    } else if s.parse::<IpAddr>().is_ok() {
        "; the port is missing"
    } else if s.matches(':').count() > 1 && !s.starts_with('[') {
        "; IPv6 addresses need brackets, e.g. [::1]:8080"
    } else if let Some((host, port)) = s.rsplit_once(':') {
        if port.parse::<u16>().is_err() {
            "; the port must be a number from 0 to 65535"
        } else if host.trim_matches(['[', ']']).parse::<IpAddr>().is_err() {
            "; the host must be an IP address, not a name (0.0.0.0 listens on all interfaces)"
        } else {
            ""
        }
    } else {
        ""
    };
    Err(format!(
        "invalid socket address {s:?}: expected IP:PORT such as 127.0.0.1:8080{hint}"
    ))
}

pub(crate) fn parse_duration(s: &str, range: RangeInclusive<Duration>) -> Result<Duration, String> {
    duration_in_range(parse_duration_text(s)?, s, range)
}

/// The syntax half of `parse_duration`; site specs report it with a
/// different error code than a value out of range.
pub(crate) fn parse_duration_text(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| {
        format!("invalid duration {s:?} ({e}); write it like \"500ms\", \"5s\", \"1m\" or \"365d\"")
    })
}

/// `s` is the text the duration was written as, for the message.
pub(crate) fn duration_in_range(
    dur: Duration,
    s: &str,
    range: RangeInclusive<Duration>,
) -> Result<Duration, String> {
    if dur < *range.start() {
        return Err(if dur.is_zero() {
            format!("duration {s:?} must be greater than zero")
        } else {
            format!(
                "duration {s:?} must be at least {}",
                humantime::format_duration(*range.start())
            )
        });
    }
    if dur > *range.end() {
        return Err(format!(
            "duration {s:?} must be at most {}",
            humantime::format_duration(*range.end())
        ));
    }
    Ok(dur)
}

/// A site host: `shop.test`, `*.shop.test`, `10.0.0.1`, `::1` (or `[::1]`).
/// Lowercased; IPv6 literals are stored canonical and without brackets, the
/// form the edge's host normalisation produces from a Host header.
pub(crate) fn parse_host_pattern(raw: &str) -> Result<HostPattern, String> {
    let s = raw.to_ascii_lowercase();
    if let Some(suffix) = s.strip_prefix("*.") {
        if suffix.contains('*') {
            return Err(wildcard_message(raw));
        }
        if parse_ip_literal(suffix).is_some() {
            return Err(format!(
                "invalid host {raw:?}: a wildcard must be followed by a domain name, not an IP address"
            ));
        }
        validate_dns_name(suffix, false).map_err(|e| format!("invalid host {raw:?}: {e}"))?;
        return Ok(HostPattern::Wildcard(format!(".{suffix}")));
    }
    if s.contains('*') {
        return Err(wildcard_message(raw));
    }
    if let Some(ip) = parse_ip_literal(&s) {
        return Ok(HostPattern::Exact(canonical_ip(ip)));
    }
    if let Some((name, port)) = s.rsplit_once(':')
        && !name.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!(
            "invalid host {raw:?}: hosts are matched without the port; write {name:?}"
        ));
    }
    validate_dns_name(&s, false).map_err(|e| format!("invalid host {raw:?}: {e}"))?;
    Ok(HostPattern::Exact(s))
}

fn wildcard_message(raw: &str) -> String {
    format!(
        "invalid host {raw:?}: a wildcard is only allowed as a leading \"*.\" followed by a domain, such as \"*.shop.test\""
    )
}

/// `1.2.3.4`, `::1` or `[::1]`.
pub(crate) fn parse_ip_literal(s: &str) -> Option<IpAddr> {
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(v4) = s.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

fn canonical_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => v6.to_string(),
    }
}

/// Checks an (already lowercased) DNS name. `allow_underscore` is for origin
/// hosts, where container runtimes hand out names like `my_app`.
pub(crate) fn validate_dns_name(name: &str, allow_underscore: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".to_owned());
    }
    if !name.is_ascii() {
        return Err(
            "contains non-ASCII characters; write internationalised names in their punycode (xn--…) form"
                .to_owned(),
        );
    }
    if name.ends_with('.') {
        return Err("must not end with '.'".to_owned());
    }
    if name.len() > 253 {
        return Err(format!(
            "is {} characters long; at most 253 are allowed",
            name.len()
        ));
    }
    let mut last = "";
    for label in name.split('.') {
        if label.is_empty() {
            return Err("has an empty label (two dots in a row, or a leading dot)".to_owned());
        }
        if label.len() > 63 {
            return Err(format!(
                "label \"{label}\" is {} characters long; at most 63 are allowed",
                label.len()
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || (allow_underscore && c == '_')))
        {
            return Err(format!(
                "contains {bad:?}; names may only use letters, digits, '-' and '.'"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label \"{label}\" must not start or end with '-'"));
        }
        last = label;
    }
    // Top-level domains are never numeric, so this is a mistyped IP address.
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err("is neither a valid IP address nor a host name".to_owned());
    }
    Ok(())
}

pub(crate) fn parse_ip_net(s: &str) -> Result<IpNet, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    match s.parse::<IpNet>() {
        // "10.1.2.3/8" means the 10.0.0.0/8 network; keep the canonical form.
        Ok(net) => Ok(net.trunc()),
        Err(_) => Err(format!(
            "invalid IP address or CIDR {s:?}: expected e.g. \"10.0.0.0/8\", \"192.168.1.10\" or \"::1\""
        )),
    }
}

/// An origin URL, normalised to `scheme://host:port` with an explicit port.
#[derive(Debug)]
pub(crate) struct OriginUrl {
    pub uri: http::Uri,
    pub https: bool,
}

pub(crate) fn parse_origin_url(s: &str) -> Result<OriginUrl, String> {
    let fail = |why: &str| format!("invalid origin URL {s:?}: {why}");
    let uri: http::Uri = s
        .parse()
        .map_err(|e| fail(&format!("{e}; expected e.g. \"http://127.0.0.1:9001\"")))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        Some(other) => {
            return Err(fail(&format!(
                "scheme \"{other}\" is not supported; use http:// or https://"
            )));
        }
        None => return Err(fail(&format!("missing scheme; write \"http://{s}\""))),
    };
    let Some(auth) = uri.authority() else {
        return Err(fail("missing host"));
    };
    if auth.as_str().contains('@') {
        return Err(fail("user info (user@) is not supported"));
    }
    let host = auth.host().to_ascii_lowercase();
    if host.is_empty() {
        return Err(fail("missing host"));
    }
    let port = match auth.port_u16() {
        Some(0) => return Err(fail("port 0 is not a usable port")),
        Some(p) => p,
        // `port_u16` is also None for an out-of-range or empty port, which
        // still leaves text after the host.
        None if auth.as_str().len() > auth.host().len() => {
            return Err(fail("the port must be a number from 1 to 65535"));
        }
        None if https => 443,
        None => 80,
    };
    if let Some(pq) = uri.path_and_query() {
        if !matches!(pq.path(), "" | "/") {
            return Err(fail(&format!(
                "origins cannot have a path (\"{}\"); give only scheme, host and port",
                pq.path()
            )));
        }
        if pq.query().is_some() {
            return Err(fail("origins cannot have a query string"));
        }
    }
    if s.contains('#') {
        return Err(fail("origins cannot have a fragment"));
    }
    if parse_ip_literal(&host).is_none() {
        validate_dns_name(&host, true).map_err(|e| fail(&format!("host {e}")))?;
    }
    let uri = format!("{}://{host}:{port}", if https { "https" } else { "http" })
        .parse()
        .map_err(|e| fail(&format!("{e}")))?;
    Ok(OriginUrl { uri, https })
}

/// The inverse of `parse_duration_text` in the largest unit that is exact
/// ("365d", "90s", "1500ms"). humantime's own formatter splits into years
/// and months of fractional days, so 365d would come back as a sum of odd
/// parts in a spec written for people to edit.
pub(crate) fn format_duration(d: Duration) -> String {
    const UNITS: [(u128, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let (size, unit) = UNITS
        .into_iter()
        .find(|(size, _)| nanos.is_multiple_of(*size))
        .unwrap_or((1, "ns"));
    format!("{}{unit}", nanos / size)
}

/// `store.url`: `postgres://…` (or `postgresql://…`) as written, or
/// `sqlite://PATH` with a relative PATH resolved against `base_dir`, so the
/// database does not move with the working directory. The message follows
/// the key name.
pub(crate) fn store_url(s: &str, base_dir: &std::path::Path) -> Result<String, String> {
    if let Some(rest) = s.strip_prefix("sqlite://") {
        // sqlx takes options after '?' (`?mode=rwc`); only the path resolves.
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(
                "needs a database file after sqlite://, e.g. \"sqlite://rampart.db\"".to_owned(),
            );
        }
        let path = crate::files::resolve(base_dir, path);
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        return Ok(format!("sqlite://{}{query}", path.display()));
    }
    if let Some(rest) = s
        .strip_prefix("postgres://")
        .or_else(|| s.strip_prefix("postgresql://"))
    {
        if rest.is_empty() {
            return Err(
                "needs a host after postgres://, e.g. \"postgres://rampart@db.internal/rampart\""
                    .to_owned(),
            );
        }
        return Ok(s.to_owned());
    }
    // Echo only the scheme: the rest of a database URL may hold a password.
    let found = match s.split_once(':') {
        Some((scheme, _)) => format!(", found {:?}", format!("{scheme}:")),
        None => String::new(),
    };
    Err(format!(
        "must start with sqlite:// or postgres://{found}; e.g. \"sqlite://rampart.db\" or \"postgres://rampart@db.internal/rampart\""
    ))
}

/// `admin.public_url`: an absolute http(s) URL, kept without a trailing '/'
/// so callers can append paths. The message follows the key name.
pub(crate) fn public_url(s: &str) -> Result<String, String> {
    let fail = || {
        format!(
            "must be an http:// or https:// URL such as \"https://rampart.example.com\", found {s:?}"
        )
    };
    let uri: http::Uri = s.parse().map_err(|_| fail())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let host_ok = uri.authority().is_some_and(|a| !a.host().is_empty());
    if !scheme_ok || !host_ok {
        return Err(fail());
    }
    if uri.query().is_some() || s.contains('#') {
        return Err(format!("must not have a query or fragment, found {s:?}"));
    }
    Ok(s.trim_end_matches('/').to_owned())
}

/// Longest site name, the same limit as a DNS label.
pub(crate) const MAX_SITE_NAME: usize = 63;

/// `[a-z0-9][a-z0-9_-]*`, at most 63 bytes.
pub(crate) fn validate_site_name(name: &str) -> Result<(), String> {
    let ok_first = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let ok_rest = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if name.is_empty() {
        Err("site name is empty".to_owned())
    } else if name.len() > MAX_SITE_NAME {
        Err(format!(
            "site name {name:?} is longer than {MAX_SITE_NAME} bytes"
        ))
    } else if !ok_first || !ok_rest {
        Err(format!(
            "invalid site name {name:?}: use lowercase letters, digits, '_' and '-', starting with a letter or digit"
        ))
    } else {
        Ok(())
    }
}

/// `[A-Za-z0-9._-]+`, at most 64 bytes: it ends up in logs and headers.
pub(crate) fn validate_node_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        Err("`node.id` must not be empty".to_owned())
    } else if id.len() > 64 {
        Err(format!("`node.id` {id:?} is longer than 64 bytes"))
    } else if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Err(format!(
            "invalid `node.id` {id:?}: use only letters, digits, '.', '_' and '-'"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &str) -> HostPattern {
        HostPattern::Exact(s.to_owned())
    }

    #[test]
    fn socket_addrs() {
        assert_eq!(
            parse_socket_addr("127.0.0.1:8080").ok(),
            "127.0.0.1:8080".parse().ok()
        );
        assert!(parse_socket_addr("[::1]:80").is_ok());
        let e = parse_socket_addr("127.0.0.1").unwrap_err();
        assert!(e.contains("expected IP:PORT such as 127.0.0.1:8080"), "{e}");
        assert!(e.contains("port is missing"), "{e}");
        assert!(
            parse_socket_addr("::1:80")
                .unwrap_err()
                .contains("brackets")
        );
        assert!(
            parse_socket_addr("localhost:80")
                .unwrap_err()
                .contains("not a name")
        );
        assert!(
            parse_socket_addr("1.2.3.4:99999")
                .unwrap_err()
                .contains("0 to 65535")
        );
        assert!(parse_socket_addr("").is_err());
    }

    #[test]
    fn durations() {
        let any = Duration::ZERO..=Duration::MAX;
        assert_eq!(
            parse_duration("2s", any.clone()),
            Ok(Duration::from_secs(2))
        );
        assert_eq!(
            parse_duration("500ms", any.clone()),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(
            parse_duration("365d", any.clone()),
            Ok(Duration::from_secs(365 * 86400))
        );
        assert!(parse_duration("5", any.clone()).is_err());
        assert!(parse_duration("", any).is_err());
        let positive = Duration::from_nanos(1)..=Duration::from_secs(60);
        assert!(
            parse_duration("0s", positive.clone())
                .unwrap_err()
                .contains("greater than zero")
        );
        assert!(
            parse_duration("2m", positive)
                .unwrap_err()
                .contains("at most 1m")
        );
    }

    #[test]
    fn durations_format_in_the_largest_exact_unit() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(365 * 86400), "365d"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_micros(1001), "1001us"),
            (Duration::from_nanos(7), "7ns"),
        ];
        for (d, text) in cases {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration_text(text), Ok(d));
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(parse_host_pattern("Shop.Test"), Ok(exact("shop.test")));
        assert_eq!(
            parse_host_pattern("*.shop.test"),
            Ok(HostPattern::Wildcard(".shop.test".into()))
        );
        assert_eq!(parse_host_pattern("10.0.0.1"), Ok(exact("10.0.0.1")));
        assert_eq!(parse_host_pattern("::1"), Ok(exact("::1")));
        assert_eq!(parse_host_pattern("[0:0::1]"), Ok(exact("::1")));
        assert_eq!(parse_host_pattern("localhost"), Ok(exact("localhost")));
        for bad in [
            "",
            "*",
            "*.",
            "a.*.b",
            "shop*.test",
            "*.*.test",
            "-a.test",
            "a-.test",
            "a..b",
            "a.test.",
            "a_b.test",
            "a b",
            "shop.test:8080",
            "10.0.0.256",
            "*.10.0.0.1",
            "ünï.test",
        ] {
            assert!(parse_host_pattern(bad).is_err(), "{bad:?} accepted");
        }
        let long_label = "a".repeat(64);
        assert!(parse_host_pattern(&format!("{long_label}.test")).is_err());
        assert!(parse_host_pattern(&format!("{}.test", "a".repeat(63))).is_ok());
        let long_name = vec!["abcdefghi"; 26].join(".");
        assert!(long_name.len() > 253);
        assert!(parse_host_pattern(&long_name).is_err());
    }

    #[test]
    fn ip_nets() {
        assert_eq!(
            parse_ip_net("127.0.0.1").unwrap().to_string(),
            "127.0.0.1/32"
        );
        assert_eq!(parse_ip_net("::1").unwrap().to_string(), "::1/128");
        assert_eq!(
            parse_ip_net("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert!(parse_ip_net("10.0.0.0/33").is_err());
        assert!(parse_ip_net("example.com").is_err());
    }

    #[test]
    fn origin_urls() {
        let ok = |s: &str| parse_origin_url(s).map(|o| (o.uri.to_string(), o.https));
        assert_eq!(
            ok("http://127.0.0.1:9001"),
            Ok(("http://127.0.0.1:9001/".into(), false))
        );
        assert_eq!(
            ok("https://Origin.Test"),
            Ok(("https://origin.test:443/".into(), true))
        );
        assert_eq!(
            ok("http://my_app/"),
            Ok(("http://my_app:80/".into(), false))
        );
        assert_eq!(
            ok("http://[::1]:8080"),
            Ok(("http://[::1]:8080/".into(), false))
        );
        for bad in [
            "ftp://a:1",
            "127.0.0.1:9001",
            "http://a:1/x",
            "http://a:1/?q",
            "http://a:1/#f",
            "http://u@a:1",
            "http://:80",
            "http://a:99999",
            "http://a:0",
            "http://a:",
            "",
            "http://",
            "/path",
            "http://a b",
        ] {
            assert!(parse_origin_url(bad).is_err(), "{bad:?} accepted");
        }
        assert!(
            parse_origin_url("http://a:1/x")
                .unwrap_err()
                .contains("path")
        );
    }

    #[test]
    fn names() {
        assert!(validate_site_name("shop").is_ok());
        assert!(validate_site_name("0-a_b").is_ok());
        assert!(validate_site_name("Shop").is_err());
        assert!(validate_site_name("_a").is_err());
        assert!(validate_site_name("").is_err());
        assert!(validate_site_name(&"a".repeat(64)).is_err());
        assert!(validate_node_id("edge-1.eu_west").is_ok());
        assert!(validate_node_id("").is_err());
        assert!(validate_node_id("edge 1").is_err());
        assert!(validate_node_id(&"a".repeat(65)).is_err());
    }
}
