//! `[[site]]` tables, and the checks that span sites (unique names, unique hosts).

use std::collections::HashMap;
use std::path::Path;

use toml::de::DeValue;

use crate::diagnostics::Diags;
use crate::document::timeouts;
use crate::files;
use crate::model::*;
use crate::tree::{Str, Table, Value, as_str, type_error};
use crate::{rules, security_toml, values};

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
    "security_level",
    "under_attack",
    "rules",
    "rate_limits",
    "limits",
    "auto_under_attack",
    "challenge",
    "bots",
    "captcha",
    "waf",
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
    lists: &[&str],
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
            lists,
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
    lists: &'a [&'a str],
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
        .int("retries", rules::RETRIES, d)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(rules::DEFAULT_RETRIES);
    let timeouts = match t.table("timeouts", d) {
        Some(tt) => timeouts(&tt, *ctx.proxy_timeouts, d),
        None => *ctx.proxy_timeouts,
    };
    let pages = t
        .table("pages", d)
        .map(|p| pages(&p, ctx.base_dir, d))
        .unwrap_or_default();
    let security_level = security_level(t, d);
    let under_attack = t.bool("under_attack", d).unwrap_or(false);
    let mut security = security_toml::site_security(t, ctx.lists, d);
    if let Some(w) = t.table("waf", d) {
        security.waf = crate::waf_toml::site_waf(&w, ctx.base_dir, d);
    }

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
        security_level,
        under_attack,
        security,
        account: None,
        enforcement: Vec::new(),
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
                host.to_string(),
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
        if let Some(w) = t.int("weight", rules::WEIGHT, d) {
            weight = u32::try_from(w).unwrap_or(1);
        }
        if let Some(p) = t.str("protocol", d) {
            let https = parsed.as_ref().map(|o| o.https);
            protocol = rules::origin_protocol(p.text, https)
                .map_err(|msg| d.error(&p.span(), msg))
                .ok();
        }
    }
    let parsed = parsed?;
    let protocol = protocol.unwrap_or(rules::default_protocol(parsed.https));
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
    rules::lb(s.text).unwrap_or_else(|msg| {
        d.error(&s.span(), msg);
        LbPolicy::default()
    })
}

fn security_level(t: &Table<'_, '_>, d: &mut Diags<'_>) -> SecurityLevel {
    let Some(s) = t.str("security_level", d) else {
        return SecurityLevel::default();
    };
    rules::security_level(s.text).unwrap_or_else(|msg| {
        d.error(&s.span(), msg);
        SecurityLevel::default()
    })
}

fn health(
    t: &Table<'_, '_>,
    hosts: &[HostPattern],
    d: &mut Diags<'_>,
) -> Option<HealthCheckConfig> {
    t.check_keys(HEALTH_KEYS, d);
    let mut ok = true;
    let mut path = rules::DEFAULT_HEALTH_PATH.to_owned();
    if let Some(p) = t.str("path", d) {
        match rules::health_path(p.text, "site.health.path") {
            Ok(()) => path = p.text.to_owned(),
            Err(msg) => {
                d.error(&p.span(), msg);
                ok = false;
            }
        }
    }
    let interval = t.duration("interval", rules::HEALTH_DURATION, d);
    let timeout = t.duration("timeout", rules::HEALTH_DURATION, d);
    let interval_value = interval
        .as_ref()
        .map_or(rules::DEFAULT_HEALTH_INTERVAL, |i| i.0);
    let timeout_value = timeout
        .as_ref()
        .map_or(rules::DEFAULT_HEALTH_TIMEOUT, |i| i.0);
    let (at, which) = match (&timeout, &interval) {
        (Some((_, span)), _) => (span.clone(), ""),
        (None, Some((_, span))) => (span.clone(), ", the default"),
        (None, None) => (t.span.clone(), ""),
    };
    if let Err(msg) = rules::health_timing(timeout_value, interval_value, "site.health", which) {
        d.error(&at, msg);
        ok = false;
    }
    let rise = t
        .int("rise", rules::RISE_FALL, d)
        .and_then(|n| u32::try_from(n).ok());
    let fall = t
        .int("fall", rules::RISE_FALL, d)
        .and_then(|n| u32::try_from(n).ok());
    let mut host = rules::default_health_host(hosts);
    if let Some(h) = t.str("host", d) {
        match rules::health_host(h.text, "site.health.host") {
            Ok(header) => host = Some(header),
            Err(msg) => {
                d.error(&h.span(), msg);
                ok = false;
            }
        }
    }
    ok.then(|| HealthCheckConfig {
        path,
        interval: interval_value,
        timeout: timeout_value,
        rise: rise.unwrap_or(rules::DEFAULT_RISE),
        fall: fall.unwrap_or(rules::DEFAULT_FALL),
        host,
    })
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
        source: TlsSource::Files {
            cert_path: cert_path?,
            key_path: key_path?,
        },
        chain: chain?,
        key: private_key?,
    })
}

fn hsts(t: &Table<'_, '_>, d: &mut Diags<'_>) -> HstsConfig {
    t.check_keys(HSTS_KEYS, d);
    let max_age = t
        .duration("max_age", rules::HSTS_MAX_AGE, d)
        .map_or(rules::ONE_YEAR, |m| m.0);
    let include_subdomains = t.bool("include_subdomains", d).unwrap_or(false);
    let preload = t.bool("preload", d).unwrap_or(false);
    if let Err(msg) = rules::hsts_preload(preload, include_subdomains, max_age, "site.hsts") {
        let at = t.get("preload").map_or(t.span.clone(), |v| v.span());
        d.error(&at, msg);
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
