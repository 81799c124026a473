//! The whole-document walk and the node-wide sections (`[node]`, `[listen]`,
//! `[log]`, `[proxy]`). Sections fall back to defaults when a value is bad so
//! the walk can go on; any diagnostic makes the whole load fail anyway.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use crate::diagnostics::{ConfigErrors, Diags};
use crate::files::resolve;
use crate::model::*;
use crate::tree::{Span, Table, as_str, type_error};
use crate::{node_security, rules, security_toml, site, values};

const TOP_KEYS: &[&str] = &[
    "node",
    "listen",
    "log",
    "proxy",
    "store",
    "shared",
    "admin",
    "analytics",
    "notify",
    "geoip",
    "dos",
    "dns",
    "waf",
    "lists",
    "rules",
    "verified_bots",
    "site",
];
const NODE_KEYS: &[&str] = &["id", "data_dir", "workers", "shutdown_grace"];
const LISTEN_KEYS: &[&str] = &["http", "https", "admin"];
const LISTENER_KEYS: &[&str] = &["addr", "proxy_protocol"];
const LOG_KEYS: &[&str] = &["access"];
const PROXY_KEYS: &[&str] = &["trusted_proxies", "timeouts", "max_header_bytes"];
const TIMEOUT_KEYS: &[&str] = &["connect", "request_header", "idle", "origin_response"];
const STORE_KEYS: &[&str] = &["url"];
const ADMIN_KEYS: &[&str] = &["public_url"];
const ANALYTICS_KEYS: &[&str] = &["retention"];

pub(crate) const DEFAULT_NODE_ID: &str = "edge-1";
pub(crate) const DEFAULT_DATA_DIR: &str = "rampart-data";
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;

pub(crate) fn default_listen() -> ListenConfig {
    let addr = |s: &str| s.parse::<SocketAddr>().ok();
    ListenConfig {
        http: addr("127.0.0.1:8080").map(plain_listener),
        https: addr("127.0.0.1:8443").map(plain_listener),
        admin: addr("127.0.0.1:9090"),
    }
}

fn plain_listener(addr: SocketAddr) -> ListenerConfig {
    ListenerConfig {
        addr,
        proxy_protocol: false,
    }
}

pub(crate) fn default_node(base_dir: &Path) -> NodeConfig {
    NodeConfig {
        id: DEFAULT_NODE_ID.to_owned(),
        data_dir: base_dir.join(DEFAULT_DATA_DIR),
        workers: None,
        shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
    }
}

pub(crate) fn default_proxy() -> ProxyConfig {
    ProxyConfig {
        trusted_proxies: Vec::new(),
        timeouts: Timeouts::default(),
        max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
    }
}

pub(crate) fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    let mut d = Diags::new(text);
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            // Only the first syntax error: recovery after one produces a
            // cascade of follow-on errors that would bury the real one.
            let span = e.span().unwrap_or(text.len()..text.len());
            d.error(&span, syntax_message(&e, text, &span));
            return Err(d.finish(path));
        }
    };
    let base_dir = path.parent().unwrap_or(Path::new(""));
    let root = Table::root(&doc);
    root.check_keys(TOP_KEYS, &mut d);

    let node = match root.table("node", &mut d) {
        Some(t) => node(&t, base_dir, &mut d),
        None => default_node(base_dir),
    };
    let listen = match root.table("listen", &mut d) {
        Some(t) => listen(&t, &mut d),
        None => default_listen(),
    };
    let log = match root.table("log", &mut d) {
        Some(t) => log(&t, base_dir, &mut d),
        None => LogConfig {
            access: AccessLogTarget::Stdout,
        },
    };
    let proxy = match root.table("proxy", &mut d) {
        Some(t) => proxy(&t, &mut d),
        None => default_proxy(),
    };
    let store = root
        .table("store", &mut d)
        .map(|t| store(&t, base_dir, &mut d))
        .unwrap_or_default();
    let shared = root
        .table("shared", &mut d)
        .and_then(|t| crate::shared::shared(&t, &mut d));
    let admin = root
        .table("admin", &mut d)
        .map(|t| admin(&t, &mut d))
        .unwrap_or_default();
    let analytics = root
        .table("analytics", &mut d)
        .map(|t| analytics(&t, &mut d))
        .unwrap_or_default();
    let notify = root
        .table("notify", &mut d)
        .map(|t| crate::notify::notify(&t, &mut d))
        .unwrap_or_default();
    let geoip = root
        .table("geoip", &mut d)
        .map(|t| node_security::geoip(&t, base_dir, &mut d))
        .unwrap_or_default();
    let dos = root
        .table("dos", &mut d)
        .map(|t| node_security::dos(&t, &mut d))
        .unwrap_or_default();
    let dns = root
        .table("dns", &mut d)
        .map(|t| node_security::dns(&t, &mut d))
        .unwrap_or_default();
    let waf = root
        .table("waf", &mut d)
        .map(|t| crate::waf_toml::node_waf(&t, base_dir, &mut d))
        .unwrap_or_default();
    // Lists first: every expression below is checked against their names.
    let (lists, list_names) = node_security::lists(&root, base_dir, &mut d);
    let list_names: Vec<&str> = list_names.iter().map(String::as_str).collect();
    let rules = security_toml::table_array(&root, "rules", "rules", &mut d)
        .map(|items| security_toml::rules(items, "rules", &list_names, &mut d))
        .unwrap_or_default();
    let verified_bots = security_toml::table_array(&root, "verified_bots", "verified_bots", &mut d)
        .map(|items| crate::challenge_toml::verified_bots(items, &list_names, &mut d))
        .unwrap_or_default();
    let sites = site::sites(&root, &proxy.timeouts, base_dir, &list_names, &mut d);

    if d.has_errors() {
        return Err(d.finish(path));
    }
    Ok(Config {
        source: Some(path.to_path_buf()),
        node,
        listen,
        log,
        proxy,
        store,
        shared,
        admin,
        analytics,
        notify,
        geoip,
        dos,
        dns,
        waf,
        rules,
        lists,
        verified_bots,
        challenge_keys: Vec::new(),
        sites,
    })
}

fn syntax_message(e: &toml::de::Error, text: &str, span: &Span) -> String {
    let msg = e.message();
    // The parser says "duplicate key" without naming it; the span covers the key.
    let key = text.get(span.clone()).filter(|k| !k.is_empty());
    match key {
        Some(key) if msg == "duplicate key" => {
            format!("TOML syntax error: duplicate key {key:?}")
        }
        _ => format!("TOML syntax error: {msg}"),
    }
}

fn node(t: &Table<'_, '_>, base_dir: &Path, d: &mut Diags<'_>) -> NodeConfig {
    t.check_keys(NODE_KEYS, d);
    let mut node = default_node(base_dir);
    if let Some(id) = t.str("id", d) {
        match values::validate_node_id(id.text) {
            Ok(()) => node.id = id.text.to_owned(),
            Err(msg) => d.error(&id.span(), msg),
        }
    }
    if let Some(dir) = t.str("data_dir", d) {
        if dir.text.is_empty() {
            d.error(&dir.span(), "`node.data_dir` must not be empty");
        } else {
            node.data_dir = resolve(base_dir, dir.text);
        }
    }
    if let Some(workers) = t.int("workers", 1..=1024, d) {
        node.workers = usize::try_from(workers).ok();
    }
    let grace = Duration::ZERO..=Duration::from_secs(3600);
    if let Some((grace, _)) = t.duration("shutdown_grace", grace, d) {
        node.shutdown_grace = grace;
    }
    node
}

fn listen(t: &Table<'_, '_>, d: &mut Diags<'_>) -> ListenConfig {
    t.check_keys(LISTEN_KEYS, d);
    let defaults = default_listen();
    let mut bound: Vec<(SocketAddr, &str, usize)> = Vec::new();
    let mut http = defaults.http;
    let mut https = defaults.https;
    let mut admin = defaults.admin;

    if let Some(v) = t.get("http") {
        http = listener(v, "listen.http", d).unwrap_or(None);
    }
    if let Some(v) = t.get("https") {
        https = listener(v, "listen.https", d).unwrap_or(None);
    }
    if let Some(v) = t.get("admin")
        && let Some(s) = as_str(v, "listen.admin", d)
    {
        admin = if s.text == "off" {
            None
        } else {
            match values::parse_socket_addr(s.text) {
                Ok(addr) => Some(addr),
                Err(msg) => {
                    d.error(&s.span(), format!("`listen.admin`: {msg}"));
                    None
                }
            }
        };
    }

    // Two listeners on one port fail at bind time with a bare EADDRINUSE;
    // catching it here names both keys.
    let entries = [
        ("http", http.as_ref().map(|l| l.addr)),
        ("https", https.as_ref().map(|l| l.addr)),
        ("admin", admin),
    ];
    for (key, addr) in entries {
        let Some(addr) = addr else { continue };
        let written = t.get(key).map(|v| v.span().start);
        let at = written.unwrap_or(t.span.start);
        let default_note = if written.is_some() {
            ""
        } else {
            ", the default"
        };
        let clash = bound.iter().find(|(other, _, _)| {
            addr.port() != 0
                && other.port() == addr.port()
                && (other.ip() == addr.ip()
                    || other.ip().is_unspecified()
                    || addr.ip().is_unspecified())
        });
        if let Some((other, other_key, other_at)) = clash {
            let message = format!(
                "`listen.{key}` ({addr}{default_note}) conflicts with `listen.{other_key}` ({other}, line {}); give each listener its own port",
                d.line_of(*other_at)
            );
            d.error(&(at..at), message);
        }
        bound.push((addr, key, at));
    }

    ListenConfig { http, https, admin }
}

/// `"IP:PORT"`, `"off"` or `{ addr = "IP:PORT", proxy_protocol = true }`.
/// `None` inside means "off"; the outer `None` means the value was bad.
fn listener(
    v: &toml::Spanned<DeValue<'_>>,
    path: &str,
    d: &mut Diags<'_>,
) -> Option<Option<ListenerConfig>> {
    let (addr_str, proxy_protocol) = match v.get_ref() {
        DeValue::String(_) => (as_str(v, path, d)?, false),
        DeValue::Table(_) => {
            let t = Table::from_value(v, path.to_owned(), None, d)?;
            t.check_keys(LISTENER_KEYS, d);
            let proxy_protocol = t.bool("proxy_protocol", d).unwrap_or(false);
            let addr = t.require("addr", d)?;
            let addr = as_str(addr, &t.key_path("addr"), d)?;
            if addr.text == "off" {
                d.error(
                    &addr.span(),
                    format!("to disable `{path}`, write `{path} = \"off\"` instead of a table"),
                );
                return None;
            }
            (addr, proxy_protocol)
        }
        other => {
            type_error(
                d,
                v,
                "an address string, \"off\" or a table { addr = \"…\", proxy_protocol = … }",
                path,
                other,
            );
            return None;
        }
    };
    if addr_str.text == "off" {
        return Some(None);
    }
    match values::parse_socket_addr(addr_str.text) {
        Ok(addr) => Some(Some(ListenerConfig {
            addr,
            proxy_protocol,
        })),
        Err(msg) => {
            d.error(&addr_str.span(), format!("`{path}`: {msg}"));
            None
        }
    }
}

fn log(t: &Table<'_, '_>, base_dir: &Path, d: &mut Diags<'_>) -> LogConfig {
    t.check_keys(LOG_KEYS, d);
    let access = match t.str("access", d) {
        None => AccessLogTarget::Stdout,
        Some(s) => match s.text {
            "off" => AccessLogTarget::Off,
            "stdout" => AccessLogTarget::Stdout,
            "" => {
                d.error(
                    &s.span(),
                    "`log.access` must be \"off\", \"stdout\" or a file path",
                );
                AccessLogTarget::Stdout
            }
            path => AccessLogTarget::File(resolve(base_dir, path)),
        },
    };
    LogConfig { access }
}

fn proxy(t: &Table<'_, '_>, d: &mut Diags<'_>) -> ProxyConfig {
    t.check_keys(PROXY_KEYS, d);
    let mut proxy = default_proxy();
    if let Some((items, _)) = t.array("trusted_proxies", d) {
        for (i, item) in items.iter().enumerate() {
            let path = format!("proxy.trusted_proxies[{i}]");
            let Some(s) = as_str(item, &path, d) else {
                continue;
            };
            match values::parse_ip_net(s.text) {
                Ok(net) if !proxy.trusted_proxies.contains(&net) => {
                    proxy.trusted_proxies.push(net);
                }
                Ok(_) => {}
                Err(msg) => d.error(&s.span(), format!("`proxy.trusted_proxies`: {msg}")),
            }
        }
    }
    if let Some(tt) = t.table("timeouts", d) {
        proxy.timeouts = timeouts(&tt, Timeouts::default(), d);
    }
    // Below 8 KiB even ordinary browser requests with cookies get rejected.
    if let Some(n) = t.int("max_header_bytes", 8192..=1024 * 1024, d) {
        proxy.max_header_bytes = usize::try_from(n).unwrap_or(DEFAULT_MAX_HEADER_BYTES);
    }
    proxy
}

/// Reads the keys present in `t` over `base`, so a site can override one value.
pub(crate) fn timeouts(t: &Table<'_, '_>, base: Timeouts, d: &mut Diags<'_>) -> Timeouts {
    t.check_keys(TIMEOUT_KEYS, d);
    let mut out = base;
    let fields: [(&str, &mut Duration); 4] = [
        ("connect", &mut out.connect),
        ("request_header", &mut out.request_header),
        ("idle", &mut out.idle),
        ("origin_response", &mut out.origin_response),
    ];
    for (key, slot) in fields {
        if let Some((dur, _)) = t.duration(key, rules::TIMEOUT, d) {
            *slot = dur;
        }
    }
    out
}

fn store(t: &Table<'_, '_>, base_dir: &Path, d: &mut Diags<'_>) -> StoreConfig {
    t.check_keys(STORE_KEYS, d);
    let url = t.str("url", d).and_then(|s| {
        values::store_url(s.text, base_dir)
            .map_err(|msg| d.error(&s.span(), format!("`store.url` {msg}")))
            .ok()
    });
    StoreConfig { url }
}

fn analytics(t: &Table<'_, '_>, d: &mut Diags<'_>) -> AnalyticsConfig {
    t.check_keys(ANALYTICS_KEYS, d);
    let mut config = AnalyticsConfig::default();
    let range = Duration::from_secs(3600)..=Duration::from_secs(3650 * 24 * 3600);
    if let Some((retention, _)) = t.duration("retention", range, d) {
        config.retention = retention;
    }
    config
}

fn admin(t: &Table<'_, '_>, d: &mut Diags<'_>) -> AdminConfig {
    t.check_keys(ADMIN_KEYS, d);
    let public_url = t.str("public_url", d).and_then(|s| {
        values::public_url(s.text)
            .map_err(|msg| d.error(&s.span(), format!("`admin.public_url` {msg}")))
            .ok()
    });
    AdminConfig { public_url }
}
