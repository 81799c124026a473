//! The node-wide security sections: `[[lists]]`, `[geoip]`, `[dos]` and
//! `[dns]`.
//! Lists are read first: every expression in the file is checked against
//! their names.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rampart_rules::{IpList, ListError};
use toml::de::DeValue;

use crate::diagnostics::Diags;
use crate::files;
use crate::security::*;
use crate::security_checks as checks;
use crate::security_toml::table_array;
use crate::tree::{Str, Table, Value, as_str};

const LIST_KEYS: &[&str] = &["name", "description", "file", "items"];
const GEOIP_KEYS: &[&str] = &["country_db", "asn_db"];
const DOS_KEYS: &[&str] = &[
    "max_connections_per_ip",
    "max_connections_per_prefix",
    "min_body_rate",
    "body_rate_grace",
    "send_timeout",
    "max_streams_per_connection",
    "max_origin_requests_per_site",
];
const DNS_KEYS: &[&str] = &["servers"];
/// More resolvers than this only adds time before a lookup gives up.
const MAX_DNS_SERVERS: usize = 8;
/// A million entries of "2001:db8:…/128" with comments fit well within this.
const MAX_LIST_FILE_BYTES: usize = 256 << 20;

/// `[[lists]]`. A list with errors is left out, but its name still counts
/// as declared (returned second) so expressions naming it are not also
/// reported as referring to an unknown list.
pub(crate) fn lists(
    root: &Table<'_, '_>,
    base_dir: &Path,
    d: &mut Diags<'_>,
) -> (Vec<NamedList>, Vec<String>) {
    let mut out = Vec::new();
    let mut names = Vec::new();
    let Some(items) = table_array(root, "lists", "lists", d) else {
        return (out, names);
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let elem = format!("lists[{i}]");
        let Some(t) = Table::from_value(item, elem.clone(), Some("in [[lists]]".to_owned()), d)
        else {
            continue;
        };
        t.check_keys(LIST_KEYS, d);
        let name = list_name(&t, &elem, &mut seen, d);
        if let Some(name) = &name {
            names.push(name.clone());
        }
        let description = match t.str("description", d) {
            Some(s) => match checks::description(s.text, &t.key_path("description")) {
                Ok(()) => s.text.to_owned(),
                Err(msg) => {
                    d.error(&s.span(), msg);
                    String::new()
                }
            },
            None => String::new(),
        };
        let entries = entries(&t, &elem, base_dir, d);
        if let (Some(name), Some(entries)) = (name, entries) {
            out.push(NamedList {
                name,
                scope: ListScope::Operator,
                description,
                entries: Arc::new(entries),
            });
        }
    }
    (out, names)
}

fn list_name(
    t: &Table<'_, '_>,
    elem: &str,
    seen: &mut HashMap<String, usize>,
    d: &mut Diags<'_>,
) -> Option<String> {
    let key = format!("{elem}.name");
    let Some(v) = t.get("name") else {
        d.error(
            &t.span,
            format!("`{elem}` is missing `name`; add e.g. name = \"office\" and use it as $office"),
        );
        return None;
    };
    let name = as_str(v, &key, d)?;
    if let Err(msg) = checks::list_name(name.text, &key) {
        d.error(&name.span(), msg);
        return None;
    }
    if let Some(&first) = seen.get(name.text) {
        let message = format!(
            "list name {:?} is already used by the list at line {}; names must be unique",
            name.text,
            d.line_of(first)
        );
        d.error(&name.span(), message);
        return None;
    }
    seen.insert(name.text.to_owned(), name.span.0);
    Some(name.text.to_owned())
}

/// Exactly one of `file` and `items`.
fn entries(t: &Table<'_, '_>, elem: &str, base_dir: &Path, d: &mut Diags<'_>) -> Option<IpList> {
    match (t.get("file"), t.get("items")) {
        (Some(_), Some(items)) => {
            d.error(
                &items.span(),
                format!("`{elem}` has both `file` and `items`; keep one of them"),
            );
            None
        }
        (None, None) => {
            d.error(
                &t.span,
                format!(
                    "`{elem}` needs its entries: `file = \"lists/office.txt\"` (one address or CIDR per line) or `items = [\"192.0.2.0/24\"]`"
                ),
            );
            None
        }
        (Some(file), None) => {
            let s = as_str(file, &format!("{elem}.file"), d)?;
            list_file(s, elem, base_dir, d)
        }
        (None, Some(items)) => list_items(items, elem, d),
    }
}

fn list_file(s: Str<'_>, elem: &str, base_dir: &Path, d: &mut Diags<'_>) -> Option<IpList> {
    let key = format!("{elem}.file");
    if s.text.is_empty() {
        d.error(&s.span(), format!("`{key}` must not be empty"));
        return None;
    }
    let path = files::resolve(base_dir, s.text);
    let text = files::read(&path, MAX_LIST_FILE_BYTES)
        .and_then(|bytes| {
            String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))
        })
        .map_err(|msg| d.error(&s.span(), format!("`{key}`: {msg}")))
        .ok()?;
    match IpList::from_text(&text) {
        Ok(list) => Some(list),
        Err(ListError::Lines { lines, more }) => {
            for l in lines {
                let message = format!("`{key}`: {}:{}: {}", path.display(), l.line, l.message);
                d.error(&s.span(), message);
            }
            if more > 0 {
                d.error(
                    &s.span(),
                    format!("`{key}`: {}: …and {more} more bad lines", path.display()),
                );
            }
            None
        }
        Err(e) => {
            d.error(&s.span(), format!("`{key}`: {}: {e}", path.display()));
            None
        }
    }
}

/// `items = ["192.0.2.0/24", …]`: parsed as one text of one item per line,
/// so errors come back by line, which is the item's index.
fn list_items(v: &Value<'_>, elem: &str, d: &mut Diags<'_>) -> Option<IpList> {
    let key = format!("{elem}.items");
    let DeValue::Array(items) = v.get_ref() else {
        crate::tree::type_error(d, v, "an array of addresses and CIDRs", &key, v.get_ref());
        return None;
    };
    let mut strs = Vec::with_capacity(items.len());
    for item in items {
        let s = as_str(item, &key, d)?;
        if s.text.contains(['\n', '\r', '#']) {
            d.error(
                &s.span(),
                format!(
                    "`{key}`: each item is one address or CIDR, found {:?}",
                    s.text
                ),
            );
            return None;
        }
        strs.push(s);
    }
    let text = strs.iter().map(|s| s.text).collect::<Vec<_>>().join("\n");
    match IpList::from_text(&text) {
        Ok(list) => Some(list),
        Err(ListError::Lines { lines, .. }) => {
            for l in lines {
                let at = l
                    .line
                    .checked_sub(1)
                    .and_then(|i| strs.get(i))
                    .map_or(v.span(), Str::span);
                d.error(&at, format!("`{key}`: {}", l.message));
            }
            None
        }
        Err(e) => {
            d.error(&v.span(), format!("`{key}`: {e}"));
            None
        }
    }
}

pub(crate) fn geoip(t: &Table<'_, '_>, base_dir: &Path, d: &mut Diags<'_>) -> GeoipConfig {
    t.check_keys(GEOIP_KEYS, d);
    let mut db = |key: &str| {
        let s = t.str(key, d)?;
        let path = files::resolve(base_dir, s.text);
        // Checked now so a typo fails the load instead of silently leaving
        // `ip.src.country` empty; the edge reads the file itself.
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Some(path),
            Ok(_) => {
                d.error(
                    &s.span(),
                    format!("`geoip.{key}`: {} is not a regular file", path.display()),
                );
                None
            }
            Err(e) => {
                d.error(
                    &s.span(),
                    format!(
                        "`geoip.{key}`: cannot read {}: {e}; give the path of a MaxMind .mmdb file (relative to the config file) or remove the key",
                        path.display()
                    ),
                );
                None
            }
        }
    };
    GeoipConfig {
        country_db: db("country_db"),
        asn_db: db("asn_db"),
    }
}

pub(crate) fn dos(t: &Table<'_, '_>, d: &mut Diags<'_>) -> DosConfig {
    t.check_keys(DOS_KEYS, d);
    let mut out = DosConfig::default();
    let ints: [(&str, _, &mut u32); 5] = [
        (
            "max_connections_per_ip",
            checks::CONNECTIONS,
            &mut out.max_connections_per_ip,
        ),
        (
            "max_connections_per_prefix",
            checks::CONNECTIONS,
            &mut out.max_connections_per_prefix,
        ),
        ("min_body_rate", checks::BODY_RATE, &mut out.min_body_rate),
        (
            "max_streams_per_connection",
            checks::STREAMS,
            &mut out.max_streams_per_connection,
        ),
        (
            "max_origin_requests_per_site",
            checks::ORIGIN_REQUESTS,
            &mut out.max_origin_requests_per_site,
        ),
    ];
    for (key, range, slot) in ints {
        if let Some(n) = t.int(key, range, d).and_then(|n| u32::try_from(n).ok()) {
            *slot = n;
        }
    }
    if let Some((grace, _)) = t.duration("body_rate_grace", checks::BODY_RATE_GRACE, d) {
        out.body_rate_grace = grace;
    }
    if let Some((timeout, _)) = t.duration("send_timeout", checks::SEND_TIMEOUT, d) {
        out.send_timeout = timeout;
    }
    out
}

/// `[dns]`: `servers = ["127.0.0.1:5353", "9.9.9.9"]`.
pub(crate) fn dns(t: &Table<'_, '_>, d: &mut Diags<'_>) -> DnsConfig {
    t.check_keys(DNS_KEYS, d);
    let mut out = DnsConfig::default();
    let Some((items, span)) = t.array("servers", d) else {
        return out;
    };
    if items.is_empty() {
        // Written but empty is more likely a mistake than a wish for the
        // system's resolvers, which leaving the key out already gives.
        d.error(
            &span,
            "`dns.servers` is empty; list resolvers such as \"127.0.0.1:53\" or remove the key to use /etc/resolv.conf",
        );
        return out;
    }
    if items.len() > MAX_DNS_SERVERS {
        d.error(
            &span,
            format!(
                "`dns.servers` lists {} resolvers; at most {MAX_DNS_SERVERS}",
                items.len()
            ),
        );
        return out;
    }
    let mut seen: Vec<(std::net::SocketAddr, usize)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(s) = as_str(item, &format!("dns.servers[{i}]"), d) else {
            continue;
        };
        let addr = match crate::values::parse_ip_literal(s.text) {
            Some(ip) => Some(std::net::SocketAddr::new(ip, 53)),
            None => s.text.parse::<std::net::SocketAddr>().ok(),
        };
        match addr {
            Some(addr) if addr.port() == 0 => d.error(
                &s.span(),
                format!("`dns.servers[{i}]`: port 0 is not a resolver's port; leave the port out for 53"),
            ),
            Some(addr) => {
                if let Some((_, first)) = seen.iter().find(|(a, _)| *a == addr) {
                    let message = format!(
                        "`dns.servers[{i}]`: {addr} is already listed at line {}",
                        d.line_of(*first)
                    );
                    d.error(&s.span(), message);
                } else {
                    seen.push((addr, s.span.0));
                    out.servers.push(addr);
                }
            }
            // Names would need a resolver to find the resolver.
            None => d.error(
                &s.span(),
                format!(
                    "`dns.servers[{i}]`: {:?} is not a resolver address; write an IP (\"9.9.9.9\", port 53) or IP:PORT (\"127.0.0.1:5353\", \"[::1]:53\")",
                    s.text
                ),
            ),
        }
    }
    out
}
