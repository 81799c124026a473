//! `[[site]]` tables, and the checks that span sites (unique names, unique hosts).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use toml::de::DeValue;

use crate::diagnostics::Diags;
use crate::document::timeouts;
use crate::files;
use crate::model::*;
use crate::tree::{Str, Table, Value, as_str, type_error};
use crate::values;

const SITE_KEYS: &[&str] = &[
    "name",
    "hosts",
    "origins",
    "lb",
    "health",
    "tls",
    "https_redirect",
    "hsts",
    "origin_tls_verify",
    "retries",
    "timeouts",
    "pages",
];
const ORIGIN_KEYS: &[&str] = &["url", "weight", "protocol"];
const HEALTH_KEYS: &[&str] = &["path", "interval", "timeout", "rise", "fall", "host"];
const TLS_KEYS: &[&str] = &["cert", "key"];
const HSTS_KEYS: &[&str] = &["max_age", "include_subdomains", "preload"];
const PAGE_KEYS: &[&str] = &[
    "not_found",
    "bad_gateway",
    "service_unavailable",
    "gateway_timeout",
];

const ONE_YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// What earlier sites claimed, with offsets for "(line N)" in messages.
#[derive(Default)]
struct Registry {
    names: HashMap<String, usize>,
    hosts: HashMap<HostPattern, (String, usize)>,
}

pub(crate) fn sites(
    root: &Table<'_, '_>,
    proxy_timeouts: &Timeouts,
    base_dir: &Path,
    d: &mut Diags<'_>,
) -> Vec<SiteConfig> {
    let Some(value) = root.get("site") else {
        return Vec::new();
    };
    let items = match value.get_ref() {
        DeValue::Array(items) => items,
        DeValue::Table(_) => {
            d.error(
                &value.span(),
                "expected an array of tables for `site`, found table; write each site as [[site]]",
            );
            return Vec::new();
        }
        other => {
            type_error(d, value, "an array of [[site]] tables", "site", other);
            return Vec::new();
        }
    };
    let mut reg = Registry::default();
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Some(t) = Table::from_value(item, "site".to_owned(), None, d) else {
            continue;
        };
        let ctx = SiteCtx {
            index,
            proxy_timeouts,
            base_dir,
        };
        if let Some(site) = site(&t, &ctx, &mut reg, d) {
            out.push(site);
        }
    }
    out
}

struct SiteCtx<'a> {
    index: usize,
    proxy_timeouts: &'a Timeouts,
    base_dir: &'a Path,
}

fn site(
    t: &Table<'_, '_>,
    ctx: &SiteCtx<'_>,
    reg: &mut Registry,
    d: &mut Diags<'_>,
) -> Option<SiteConfig> {
    t.check_keys(SITE_KEYS, d);
    let name = t.require("name", d).and_then(|v| as_str(v, "site.name", d));
    if let Some(name) = name {
        register_name(name, reg, d);
    }
    // Used to name this site in other sites' messages even if the name is bad.
    let label = name.map_or_else(|| format!("#{}", ctx.index + 1), |n| n.text.to_owned());
    let hosts = hosts(t, &label, reg, d);
    let origins = origins(t, d);
    let lb = lb(t, d);
    let health = t
        .table("health", d)
        .map(|h| health(&h, hosts.as_deref().unwrap_or_default(), d));
    let tls = t
        .table("tls", d)
        .and_then(|tls| tls_files(&tls, ctx.base_dir, d));
    let https_redirect = t.bool("https_redirect", d).unwrap_or(false);
    let hsts = t.table("hsts", d).map(|h| hsts(&h, d));
    let origin_tls_verify = t.bool("origin_tls_verify", d).unwrap_or(true);
    let retries = t
        .int("retries", 0..=10, d)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(1);
    let timeouts = match t.table("timeouts", d) {
        Some(tt) => timeouts(&tt, *ctx.proxy_timeouts, d),
        None => *ctx.proxy_timeouts,
    };
    let pages = t
        .table("pages", d)
        .map(|p| pages(&p, ctx.base_dir, d))
        .unwrap_or_default();

    Some(SiteConfig {
        name: name?.text.to_owned(),
        hosts: hosts?,
        origins: origins?,
        lb,
        health: health.flatten(),
        tls,
        https_redirect,
        hsts,
        origin_tls_verify,
        retries,
        timeouts,
        pages,
    })
}

fn register_name(name: Str<'_>, reg: &mut Registry, d: &mut Diags<'_>) {
    if let Err(msg) = values::validate_site_name(name.text) {
        d.error(&name.span(), msg);
        return;
    }
    if let Some(&first) = reg.names.get(name.text) {
        let message = format!(
            "site name {:?} is already used by the site at line {}",
            name.text,
            d.line_of(first)
        );
        d.error(&name.span(), message);
    } else {
        reg.names.insert(name.text.to_owned(), name.span.0);
    }
}

fn display_host(h: &HostPattern) -> String {
    match h {
        HostPattern::Exact(s) => s.clone(),
        HostPattern::Wildcard(suffix) => format!("*{suffix}"),
    }
}

fn hosts(
    t: &Table<'_, '_>,
    site_label: &str,
    reg: &mut Registry,
    d: &mut Diags<'_>,
) -> Option<Vec<HostPattern>> {
    t.require("hosts", d)?;
    let (items, span) = t.array("hosts", d)?;
    if items.is_empty() {
        d.error(
            &span,
            "`site.hosts` must list at least one host, e.g. [\"shop.test\"]",
        );
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Some(s) = as_str(item, "site.hosts", d) else {
            continue;
        };
        let host = match values::parse_host_pattern(s.text) {
            Ok(h) => h,
            Err(msg) => {
                d.error(&s.span(), msg);
                continue;
            }
        };
        if let Some((owner, first)) = reg.hosts.get(&host) {
            let message = format!(
                "host {:?} is already used by site {owner:?} (line {})",
                display_host(&host),
                d.line_of(*first)
            );
            d.error(&s.span(), message);
            continue;
        }
        reg.hosts
            .insert(host.clone(), (site_label.to_owned(), s.span.0));
        out.push(host);
    }
    Some(out)
}

fn origins(t: &Table<'_, '_>, d: &mut Diags<'_>) -> Option<Vec<OriginConfig>> {
    t.require("origins", d)?;
    let (items, span) = t.array("origins", d)?;
    if items.is_empty() {
        d.error(
            &span,
            "`site.origins` must list at least one origin, e.g. [\"http://127.0.0.1:9001\"]",
        );
        return None;
    }
    let mut out: Vec<OriginConfig> = Vec::with_capacity(items.len());
    let mut seen: HashMap<http::Uri, usize> = HashMap::new();
    for item in items {
        let Some(origin) = origin(item, d) else {
            continue;
        };
        let at = item.span();
        if let Some(&first) = seen.get(&origin.url) {
            let message = format!(
                "origin {} is listed twice in this site (first at line {}); use `weight` to send it more traffic",
                origin.url,
                d.line_of(first)
            );
            d.error(&at, message);
            continue;
        }
        seen.insert(origin.url.clone(), at.start);
        out.push(origin);
    }
    Some(out)
}

/// `"http://host:port"` or `{ url = "…", weight = 2, protocol = "http2" }`.
fn origin(item: &Value<'_>, d: &mut Diags<'_>) -> Option<OriginConfig> {
    let (url, table) = match item.get_ref() {
        DeValue::String(_) => (as_str(item, "site.origins", d)?, None),
        DeValue::Table(_) => {
            let t = Table::from_value(
                item,
                "site.origins".to_owned(),
                Some("in origin table".to_owned()),
                d,
            )?;
            t.check_keys(ORIGIN_KEYS, d);
            let url = t.require("url", d)?;
            (as_str(url, "site.origins.url", d)?, Some(t))
        }
        other => {
            type_error(
                d,
                item,
                "a URL string or a table { url = \"…\", weight = …, protocol = \"…\" }",
                "site.origins",
                other,
            );
            return None;
        }
    };
    let parsed = match values::parse_origin_url(url.text) {
        Ok(p) => Some(p),
        Err(msg) => {
            d.error(&url.span(), msg);
            None
        }
    };
    let mut weight = 1;
    let mut protocol = None;
    if let Some(t) = &table {
        if let Some(w) = t.int("weight", 1..=1000, d) {
            weight = u32::try_from(w).unwrap_or(1);
        }
        if let Some(p) = t.str("protocol", d) {
            protocol = match p.text {
                "http1" => Some(OriginProtocol::Http1),
                "http2" => Some(OriginProtocol::Http2),
                "auto" if parsed.as_ref().is_some_and(|o| !o.https) => {
                    d.error(
                        &p.span(),
                        "`protocol = \"auto\"` needs an https:// origin (it negotiates via ALPN); use \"http1\" or \"http2\" for http:// origins",
                    );
                    None
                }
                "auto" => Some(OriginProtocol::Auto),
                other => {
                    d.error(
                        &p.span(),
                        format!(
                            "unknown origin protocol {other:?}; expected \"http1\", \"http2\" or \"auto\""
                        ),
                    );
                    None
                }
            };
        }
    }
    let parsed = parsed?;
    let protocol = protocol.unwrap_or(if parsed.https {
        OriginProtocol::Auto
    } else {
        OriginProtocol::Http1
    });
    Some(OriginConfig {
        url: parsed.uri,
        weight,
        protocol,
    })
}

fn lb(t: &Table<'_, '_>, d: &mut Diags<'_>) -> LbPolicy {
    let Some(s) = t.str("lb", d) else {
        return LbPolicy::default();
    };
    match s.text {
        "round_robin" => LbPolicy::RoundRobin,
        "least_outstanding" => LbPolicy::LeastOutstanding,
        "ip_hash" => LbPolicy::IpHash,
        other => {
            d.error(
                &s.span(),
                format!(
                    "unknown load-balancing policy {other:?}; expected \"round_robin\", \"least_outstanding\" or \"ip_hash\""
                ),
            );
            LbPolicy::default()
        }
    }
}

fn health(
    t: &Table<'_, '_>,
    hosts: &[HostPattern],
    d: &mut Diags<'_>,
) -> Option<HealthCheckConfig> {
    t.check_keys(HEALTH_KEYS, d);
    let mut ok = true;
    let mut path = "/".to_owned();
    if let Some(p) = t.str("path", d) {
        if !p.text.starts_with('/') {
            d.error(
                &p.span(),
                format!("`site.health.path` must start with '/', found {:?}", p.text),
            );
            ok = false;
        } else if p.text.parse::<http::uri::PathAndQuery>().is_err() {
            d.error(
                &p.span(),
                format!(
                    "`site.health.path` {:?} is not a valid request path",
                    p.text
                ),
            );
            ok = false;
        } else {
            path = p.text.to_owned();
        }
    }
    let range = Duration::from_millis(1)..=Duration::from_secs(3600);
    let interval = t.duration("interval", range.clone(), d);
    let timeout = t.duration("timeout", range, d);
    let interval_value = interval.as_ref().map_or(Duration::from_secs(5), |i| i.0);
    let timeout_value = timeout.as_ref().map_or(Duration::from_secs(2), |i| i.0);
    if timeout_value > interval_value {
        let (at, which) = match (&timeout, &interval) {
            (Some((_, span)), _) => (span.clone(), ""),
            (None, Some((_, span))) => (span.clone(), ", the default"),
            (None, None) => (t.span.clone(), ""),
        };
        d.error(
            &at,
            format!(
                "`site.health.timeout` ({}{which}) must not be longer than `site.health.interval` ({})",
                humantime::format_duration(timeout_value),
                humantime::format_duration(interval_value)
            ),
        );
        ok = false;
    }
    let rise = t
        .int("rise", 1..=1000, d)
        .and_then(|n| u32::try_from(n).ok());
    let fall = t
        .int("fall", 1..=1000, d)
        .and_then(|n| u32::try_from(n).ok());
    let mut host = hosts.iter().find_map(|h| match h {
        HostPattern::Exact(name) => Some(host_header(name)),
        HostPattern::Wildcard(_) => None,
    });
    if let Some(h) = t.str("host", d) {
        match values::parse_host_pattern(h.text) {
            Ok(HostPattern::Exact(name)) => host = Some(host_header(&name)),
            Ok(HostPattern::Wildcard(_)) => {
                d.error(
                    &h.span(),
                    "`site.health.host` must be a single host name, not a wildcard",
                );
                ok = false;
            }
            Err(msg) => {
                d.error(&h.span(), format!("`site.health.host`: {msg}"));
                ok = false;
            }
        }
    }
    ok.then(|| HealthCheckConfig {
        path,
        interval: interval_value,
        timeout: timeout_value,
        rise: rise.unwrap_or(2),
        fall: fall.unwrap_or(3),
        host,
    })
}

/// Host patterns keep IPv6 bare; a Host header needs the brackets.
fn host_header(name: &str) -> String {
    if name.contains(':') {
        format!("[{name}]")
    } else {
        name.to_owned()
    }
}

fn tls_files(t: &Table<'_, '_>, base_dir: &Path, d: &mut Diags<'_>) -> Option<TlsCertConfig> {
    t.check_keys(TLS_KEYS, d);
    let cert = t
        .require("cert", d)
        .and_then(|v| as_str(v, "site.tls.cert", d));
    let key = t
        .require("key", d)
        .and_then(|v| as_str(v, "site.tls.key", d));
    let cert_path = cert.map(|c| files::resolve(base_dir, c.text));
    let key_path = key.map(|k| files::resolve(base_dir, k.text));
    let chain = match (cert, &cert_path) {
        (Some(c), Some(p)) => files::load_certs(p)
            .map_err(|msg| d.error(&c.span(), format!("`site.tls.cert`: {msg}")))
            .ok(),
        _ => None,
    };
    let private_key = match (key, &key_path) {
        (Some(k), Some(p)) => files::load_key(p)
            .map_err(|msg| d.error(&k.span(), format!("`site.tls.key`: {msg}")))
            .ok(),
        _ => None,
    };
    if let (Some(chain), Some(private_key), Some(k)) = (&chain, &private_key, key)
        && let Err(msg) = files::check_key_matches(chain, private_key)
    {
        d.error(&k.span(), format!("`site.tls.key`: {msg}"));
        return None;
    }
    Some(TlsCertConfig {
        cert_path: cert_path?,
        key_path: key_path?,
        chain: chain?,
        key: private_key?,
    })
}

fn hsts(t: &Table<'_, '_>, d: &mut Diags<'_>) -> HstsConfig {
    t.check_keys(HSTS_KEYS, d);
    // Browsers cap max-age at two years; far more is surely a unit mistake.
    let max_age = t
        .duration(
            "max_age",
            Duration::ZERO..=Duration::from_secs(10 * 365 * 86400),
            d,
        )
        .map_or(ONE_YEAR, |m| m.0);
    let include_subdomains = t.bool("include_subdomains", d).unwrap_or(false);
    let preload = t.bool("preload", d).unwrap_or(false);
    if preload && (!include_subdomains || max_age < ONE_YEAR) {
        let at = t.get("preload").map_or(t.span.clone(), |v| v.span());
        d.error(
            &at,
            "`site.hsts.preload = true` requires `include_subdomains = true` and `max_age` of at least 365d (browser preload lists reject anything less)",
        );
    }
    HstsConfig {
        max_age,
        include_subdomains,
        preload,
    }
}

fn pages(t: &Table<'_, '_>, base_dir: &Path, d: &mut Diags<'_>) -> PageTemplates {
    t.check_keys(PAGE_KEYS, d);
    let mut out = PageTemplates::default();
    let slots: [(&str, &mut Option<String>); 4] = [
        ("not_found", &mut out.not_found),
        ("bad_gateway", &mut out.bad_gateway),
        ("service_unavailable", &mut out.service_unavailable),
        ("gateway_timeout", &mut out.gateway_timeout),
    ];
    for (key, slot) in slots {
        let Some(s) = t.str(key, d) else { continue };
        match files::load_page(&files::resolve(base_dir, s.text)) {
            Ok(text) => *slot = Some(text),
            Err(msg) => d.error(&s.span(), format!("`site.pages.{key}`: {msg}")),
        }
    }
    out
}
