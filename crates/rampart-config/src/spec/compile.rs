//! `SiteSpec` → `SiteConfig`. Each check is the one the TOML walk in
//! `site.rs` makes, through the shared helpers; only the addressing differs
//! (a JSON path instead of a file position). A bad value is recorded and
//! replaced by its default so the walk goes on and finds every problem.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::files::{self, KeyCheckError};
use crate::model::*;
use crate::rules;
use crate::spec::{
    FieldError, HealthSpec, HstsSpec, OriginSpec, PagesSpec, SiteSpec, TimeoutsSpec, TlsSpec,
};
use crate::values;

/// Validates a spec into the typed `SiteConfig` the edge runs.
/// `proxy_timeouts` are the node-wide defaults the spec's partial timeouts
/// merge over. Returns every problem, not just the first. Hosts claimed by
/// other sites are not checked here: that needs the other sites. No
/// `$list` is known to its expressions; see `compile_site_with_lists`.
pub fn compile_site(
    spec: &SiteSpec,
    proxy_timeouts: &Timeouts,
) -> Result<SiteConfig, Vec<FieldError>> {
    compile_site_with_lists(spec, proxy_timeouts, &|_| false)
}

/// `compile_site` for a site whose rules may name lists: `lists` says
/// whether a `$name` exists for this site (the operator's lists and its
/// account's). A `$name` it denies is a `FieldError` with code
/// "unknown_list" at the expression.
pub fn compile_site_with_lists(
    spec: &SiteSpec,
    proxy_timeouts: &Timeouts,
    lists: &dyn Fn(&str) -> bool,
) -> Result<SiteConfig, Vec<FieldError>> {
    compile(spec, proxy_timeouts, lists, false)
}

/// `compile_site_with_lists` for a site the configuration file declares
/// (provisioned into the store): its `waf.crs`, a directory the file's
/// load already checked, is kept. Every other spec has `waf.crs` refused.
pub fn compile_file_site_with_lists(
    spec: &SiteSpec,
    proxy_timeouts: &Timeouts,
    lists: &dyn Fn(&str) -> bool,
) -> Result<SiteConfig, Vec<FieldError>> {
    compile(spec, proxy_timeouts, lists, true)
}

fn compile(
    spec: &SiteSpec,
    proxy_timeouts: &Timeouts,
    lists: &dyn Fn(&str) -> bool,
    file: bool,
) -> Result<SiteConfig, Vec<FieldError>> {
    let mut e = Errors::default();
    name(&spec.name, &mut e);
    let hosts = hosts(&spec.hosts, &mut e);
    let origins = origins(&spec.origins, &mut e);
    let lb = spec
        .lb
        .as_deref()
        .map_or(Ok(LbPolicy::default()), rules::lb)
        .unwrap_or_else(|msg| e.invalid("lb", format!("`lb`: {msg}"), LbPolicy::default()));
    let health = spec.health.as_ref().and_then(|h| health(h, &hosts, &mut e));
    let tls = spec.tls.as_ref().and_then(|t| tls(t, &mut e));
    let hsts = spec.hsts.as_ref().map(|h| hsts(h, &mut e));
    let retries = e.int(
        "retries",
        spec.retries,
        rules::RETRIES,
        rules::DEFAULT_RETRIES,
    );
    let timeouts = match &spec.timeouts {
        Some(t) => timeouts(t, *proxy_timeouts, &mut e),
        None => *proxy_timeouts,
    };
    let pages = spec
        .pages
        .as_ref()
        .map(|p| pages(p, &mut e))
        .unwrap_or_default();
    let security_level = spec
        .security_level
        .as_deref()
        .map_or(Ok(SecurityLevel::default()), rules::security_level)
        .unwrap_or_else(|msg| {
            e.invalid(
                "security_level",
                format!("`security_level`: {msg}"),
                SecurityLevel::default(),
            )
        });

    let mut security = super::security::compile(spec, lists, &mut e);
    if let Some(w) = &spec.waf {
        security.waf = super::waf::compile(w, file, &mut e);
    }

    if !e.0.is_empty() {
        return Err(e.0);
    }
    Ok(SiteConfig {
        name: spec.name.clone(),
        hosts,
        origins,
        lb,
        health,
        tls,
        https_redirect: spec.https_redirect.unwrap_or(false),
        hsts,
        origin_tls_verify: spec.origin_tls_verify.unwrap_or(true),
        retries,
        timeouts,
        pages,
        security_level,
        under_attack: spec.under_attack.unwrap_or(false),
        security,
        account: None,
        enforcement: Vec::new(),
    })
}

#[derive(Default)]
pub(super) struct Errors(Vec<FieldError>);

impl Errors {
    pub(super) fn into_result<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }

    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn push(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.0.push(FieldError {
            field: field.into(),
            code,
            message: message.into(),
        });
    }

    /// Records an "invalid" error and hands back the fallback, for `unwrap_or_else`.
    pub(super) fn invalid<T>(&mut self, field: &str, message: String, fallback: T) -> T {
        self.push(field, "invalid", message);
        fallback
    }

    /// An optional integer within `range`, or `default` when absent.
    pub(super) fn int(
        &mut self,
        field: &str,
        v: Option<u32>,
        range: RangeInclusive<i64>,
        default: u32,
    ) -> u32 {
        match v {
            Some(n) if range.contains(&i64::from(n)) => n,
            Some(n) => {
                self.push(
                    field,
                    "out_of_range",
                    rules::range_message(field, &range, n),
                );
                default
            }
            None => default,
        }
    }

    /// A duration string within `range`; a malformed one is "invalid", a
    /// well-formed one outside the range "out_of_range".
    pub(super) fn duration(
        &mut self,
        field: &str,
        text: &str,
        range: RangeInclusive<Duration>,
    ) -> Option<Duration> {
        let checked = values::parse_duration_text(text)
            .map_err(|msg| ("invalid", msg))
            .and_then(|d| {
                values::duration_in_range(d, text, range).map_err(|msg| ("out_of_range", msg))
            });
        match checked {
            Ok(d) => Some(d),
            Err((code, msg)) => {
                self.push(field, code, format!("`{field}`: {msg}"));
                None
            }
        }
    }

    pub(super) fn opt_duration(
        &mut self,
        field: &str,
        text: Option<&String>,
        range: RangeInclusive<Duration>,
    ) -> Option<Duration> {
        text.and_then(|t| self.duration(field, t, range))
    }
}

fn name(name: &str, e: &mut Errors) {
    if let Err(msg) = values::validate_site_name(name) {
        let code = if name.is_empty() {
            "required"
        } else if name.len() > values::MAX_SITE_NAME {
            "too_long"
        } else {
            "invalid"
        };
        e.push("name", code, msg);
    }
}

fn hosts(raw: &[String], e: &mut Errors) -> Vec<HostPattern> {
    if raw.is_empty() {
        e.push(
            "hosts",
            "required",
            "`hosts` must list at least one host, e.g. [\"shop.test\"]",
        );
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut seen: HashMap<HostPattern, usize> = HashMap::new();
    for (i, text) in raw.iter().enumerate() {
        let field = format!("hosts[{i}]");
        let host = match values::parse_host_pattern(text) {
            Ok(h) => h,
            Err(msg) => {
                let code = if text.is_empty() {
                    "required"
                } else {
                    "invalid"
                };
                e.push(field, code, msg);
                continue;
            }
        };
        if let Some(first) = seen.get(&host) {
            let message = format!(
                "host {:?} is listed twice (first at hosts[{first}])",
                host.to_string()
            );
            e.push(field, "duplicate", message);
            continue;
        }
        seen.insert(host.clone(), i);
        out.push(host);
    }
    out
}

fn origins(raw: &[OriginSpec], e: &mut Errors) -> Vec<OriginConfig> {
    if raw.is_empty() {
        e.push(
            "origins",
            "required",
            "`origins` must list at least one origin, e.g. [\"http://127.0.0.1:9001\"]",
        );
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut seen: HashMap<http::Uri, usize> = HashMap::new();
    for (i, spec) in raw.iter().enumerate() {
        let url_field = match spec {
            OriginSpec::Url(_) => format!("origins[{i}]"),
            OriginSpec::Detailed(_) => format!("origins[{i}].url"),
        };
        let Some(origin) = origin(spec, i, &url_field, e) else {
            continue;
        };
        if let Some(first) = seen.get(&origin.url) {
            let message = format!(
                "origin {} is listed twice in this site (first at origins[{first}]); use `weight` to send it more traffic",
                origin.url
            );
            e.push(url_field, "duplicate", message);
            continue;
        }
        seen.insert(origin.url.clone(), i);
        out.push(origin);
    }
    out
}

fn origin(spec: &OriginSpec, i: usize, url_field: &str, e: &mut Errors) -> Option<OriginConfig> {
    let url = spec.url();
    let parsed = values::parse_origin_url(url)
        .map_err(|msg| {
            let code = if url.is_empty() {
                "required"
            } else {
                "invalid"
            };
            e.push(url_field, code, msg);
        })
        .ok();
    let (weight, protocol) = match spec {
        OriginSpec::Url(_) => (1, None),
        OriginSpec::Detailed(d) => {
            let weight = e.int(&format!("origins[{i}].weight"), d.weight, rules::WEIGHT, 1);
            let https = parsed.as_ref().map(|p| p.https);
            let protocol = d.protocol.as_deref().and_then(|p| {
                rules::origin_protocol(p, https)
                    .map_err(|msg| e.push(format!("origins[{i}].protocol"), "invalid", msg))
                    .ok()
            });
            (weight, protocol)
        }
    };
    let parsed = parsed?;
    Some(OriginConfig {
        protocol: protocol.unwrap_or(rules::default_protocol(parsed.https)),
        url: parsed.uri,
        weight,
    })
}

fn health(h: &HealthSpec, hosts: &[HostPattern], e: &mut Errors) -> Option<HealthCheckConfig> {
    let before = e.0.len();
    let mut path = rules::DEFAULT_HEALTH_PATH.to_owned();
    if let Some(p) = &h.path {
        match rules::health_path(p, "health.path") {
            Ok(()) => path.clone_from(p),
            Err(msg) => e.push("health.path", "invalid", msg),
        }
    }
    let interval = e.opt_duration(
        "health.interval",
        h.interval.as_ref(),
        rules::HEALTH_DURATION,
    );
    let timeout = e.opt_duration("health.timeout", h.timeout.as_ref(), rules::HEALTH_DURATION);
    // Compare only values that parsed, or defaults for values not written:
    // a bad value already has its own error.
    let interval_ok = h.interval.is_none() || interval.is_some();
    let timeout_ok = h.timeout.is_none() || timeout.is_some();
    let interval = interval.unwrap_or(rules::DEFAULT_HEALTH_INTERVAL);
    let timeout = timeout.unwrap_or(rules::DEFAULT_HEALTH_TIMEOUT);
    if interval_ok && timeout_ok {
        let (field, note) = match (&h.timeout, &h.interval) {
            (Some(_), _) | (None, None) => ("health.timeout", ""),
            (None, Some(_)) => ("health.interval", ", the default"),
        };
        if let Err(msg) = rules::health_timing(timeout, interval, "health", note) {
            e.push(field, "out_of_range", msg);
        }
    }
    let rise = e.int("health.rise", h.rise, rules::RISE_FALL, rules::DEFAULT_RISE);
    let fall = e.int("health.fall", h.fall, rules::RISE_FALL, rules::DEFAULT_FALL);
    let host = match &h.host {
        None => rules::default_health_host(hosts),
        Some(raw) => rules::health_host(raw, "health.host")
            .map_err(|msg| e.push("health.host", "invalid", msg))
            .ok(),
    };
    (e.0.len() == before).then_some(HealthCheckConfig {
        path,
        interval,
        timeout,
        rise,
        fall,
        host,
    })
}

/// How PEM fields are named inside messages (the field path is separate).
const PEM_SOURCE: &str = "the PEM text";

fn tls(t: &TlsSpec, e: &mut Errors) -> Option<TlsCertConfig> {
    let chain = pem_field("tls.cert_pem", &t.cert_pem, e).and_then(|bytes| {
        files::parse_certs(bytes, PEM_SOURCE)
            .map_err(|msg| e.push("tls.cert_pem", "invalid", format!("`tls.cert_pem`: {msg}")))
            .ok()
    });
    let key = pem_field("tls.key_pem", &t.key_pem, e).and_then(|bytes| {
        files::parse_key(bytes, PEM_SOURCE)
            .map_err(|msg| e.push("tls.key_pem", "invalid", format!("`tls.key_pem`: {msg}")))
            .ok()
    });
    let (chain, key) = (chain?, key?);
    if let Err(err) = files::check_key_matches(&chain, &key) {
        let code = match err {
            KeyCheckError::Mismatch => "key_mismatch",
            KeyCheckError::Unsupported(_) | KeyCheckError::Other(_) => "invalid",
        };
        e.push("tls.key_pem", code, format!("`tls.key_pem`: {err}"));
        return None;
    }
    Some(TlsCertConfig {
        source: TlsSource::Spec,
        chain,
        key,
    })
}

/// A PEM field's bytes if it is present and within the size limit.
fn pem_field<'a>(field: &str, text: &'a str, e: &mut Errors) -> Option<&'a [u8]> {
    if text.trim().is_empty() {
        e.push(field, "required", format!("`{field}` must hold PEM text"));
        return None;
    }
    if text.len() > files::MAX_PEM_BYTES {
        e.push(
            field,
            "too_long",
            format!(
                "`{field}` is {} bytes; at most {} are allowed",
                text.len(),
                files::MAX_PEM_BYTES
            ),
        );
        return None;
    }
    Some(text.as_bytes())
}

fn hsts(h: &HstsSpec, e: &mut Errors) -> HstsConfig {
    let max_age = e
        .opt_duration("hsts.max_age", h.max_age.as_ref(), rules::HSTS_MAX_AGE)
        .unwrap_or(rules::ONE_YEAR);
    let include_subdomains = h.include_subdomains.unwrap_or(false);
    let preload = h.preload.unwrap_or(false);
    if let Err(msg) = rules::hsts_preload(preload, include_subdomains, max_age, "hsts") {
        e.push("hsts.preload", "invalid", msg);
    }
    HstsConfig {
        max_age,
        include_subdomains,
        preload,
    }
}

fn timeouts(t: &TimeoutsSpec, base: Timeouts, e: &mut Errors) -> Timeouts {
    let mut out = base;
    let fields: [(&str, Option<&String>, &mut Duration); 4] = [
        ("timeouts.connect", t.connect.as_ref(), &mut out.connect),
        (
            "timeouts.request_header",
            t.request_header.as_ref(),
            &mut out.request_header,
        ),
        ("timeouts.idle", t.idle.as_ref(), &mut out.idle),
        (
            "timeouts.origin_response",
            t.origin_response.as_ref(),
            &mut out.origin_response,
        ),
    ];
    for (field, text, slot) in fields {
        if let Some(d) = e.opt_duration(field, text, rules::TIMEOUT) {
            *slot = d;
        }
    }
    out
}

fn pages(p: &PagesSpec, e: &mut Errors) -> PageTemplates {
    let mut out = PageTemplates::default();
    let slots: [(&str, &Option<String>, &mut Option<String>); 4] = [
        ("pages.not_found", &p.not_found, &mut out.not_found),
        ("pages.bad_gateway", &p.bad_gateway, &mut out.bad_gateway),
        (
            "pages.service_unavailable",
            &p.service_unavailable,
            &mut out.service_unavailable,
        ),
        (
            "pages.gateway_timeout",
            &p.gateway_timeout,
            &mut out.gateway_timeout,
        ),
    ];
    for (field, text, slot) in slots {
        let Some(text) = text else { continue };
        if text.len() > files::MAX_PAGE_BYTES {
            e.push(
                field,
                "too_long",
                format!(
                    "`{field}` is {} bytes; at most {} are allowed (a page template is an HTML snippet)",
                    text.len(),
                    files::MAX_PAGE_BYTES
                ),
            );
        } else {
            *slot = Some(text.clone());
        }
    }
    out
}
