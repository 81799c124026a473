//! Host → value lookup (sites for routing, certificates for SNI). Exact names
//! win over wildcards, and the longest wildcard suffix wins over shorter ones,
//! as in nginx's `server_name`.

use std::collections::HashMap;

use rampart_config::HostPattern;

#[derive(Debug)]
pub struct HostMap<T> {
    exact: HashMap<Box<str>, T>,
    /// Keyed by the suffix including its leading dot: ".shop.test".
    wildcard: HashMap<Box<str>, T>,
}

impl<T> Default for HostMap<T> {
    fn default() -> Self {
        Self {
            exact: HashMap::new(),
            wildcard: HashMap::new(),
        }
    }
}

impl<T> HostMap<T> {
    /// The first value inserted for a pattern stays.
    pub fn insert(&mut self, pattern: &HostPattern, value: T) {
        match pattern {
            HostPattern::Exact(name) => {
                self.exact.entry(name.as_str().into()).or_insert(value);
            }
            HostPattern::Wildcard(suffix) => {
                self.wildcard.entry(suffix.as_str().into()).or_insert(value);
            }
        }
    }

    /// `host` must already be lowercase and without a port.
    pub fn lookup(&self, host: &str) -> Option<&T> {
        if let Some(value) = self.exact.get(host) {
            return Some(value);
        }
        if self.wildcard.is_empty() {
            return None;
        }
        // Walk the label boundaries from the left: the first hit is the longest suffix.
        // A wildcard needs at least one label before it, so position 0 is skipped.
        let bytes = host.as_bytes();
        let mut pos = 0;
        while let Some(off) = memchr::memchr(b'.', bytes.get(pos..)?) {
            let dot = pos + off;
            if dot > 0
                && let Some(value) = host.get(dot..).and_then(|s| self.wildcard.get(s))
            {
                return Some(value);
            }
            pos = dot + 1;
        }
        None
    }
}

/// Extracts the lowercase host name from a Host header or :authority value,
/// dropping the port and the brackets of an IPv6 literal. Borrowed when the
/// value is already lowercase, which is the common case.
pub fn normalize_host(raw: &str) -> std::borrow::Cow<'_, str> {
    let without_port = if let Some(rest) = raw.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match raw.rfind(':') {
            Some(i) if raw[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &raw[..i],
            _ => raw,
        }
    };
    let trimmed = without_port.strip_suffix('.').unwrap_or(without_port);
    if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(trimmed.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(trimmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> HostMap<usize> {
        let mut m = HostMap::default();
        m.insert(&HostPattern::Exact("shop.test".into()), 0);
        m.insert(&HostPattern::Wildcard(".shop.test".into()), 1);
        m.insert(&HostPattern::Wildcard(".eu.shop.test".into()), 2);
        m.insert(&HostPattern::Exact("api.eu.shop.test".into()), 3);
        m
    }

    #[test]
    fn exact_beats_wildcard_and_longest_suffix_wins() {
        let m = map();
        assert_eq!(m.lookup("shop.test").copied(), Some(0));
        assert_eq!(m.lookup("www.shop.test").copied(), Some(1));
        assert_eq!(m.lookup("a.b.shop.test").copied(), Some(1));
        assert_eq!(m.lookup("x.eu.shop.test").copied(), Some(2));
        assert_eq!(m.lookup("api.eu.shop.test").copied(), Some(3));
        assert_eq!(m.lookup("eu.shop.test").copied(), Some(1));
        assert_eq!(m.lookup(".shop.test").copied(), None);
        assert_eq!(m.lookup("othershop.test").copied(), None);
        assert_eq!(m.lookup("").copied(), None);
    }

    #[test]
    fn host_normalisation() {
        assert_eq!(normalize_host("Shop.Test:8080"), "shop.test");
        assert_eq!(normalize_host("shop.test."), "shop.test");
        assert_eq!(normalize_host("[::1]:443"), "::1");
        assert_eq!(normalize_host("127.0.0.1"), "127.0.0.1");
        assert_eq!(normalize_host("a:b"), "a:b");
    }
}
