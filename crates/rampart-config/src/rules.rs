//! Site rules shared by the TOML walk (`site.rs`) and site specs from the
//! admin API (`spec/compile.rs`): ranges, defaults, spellings and the checks
//! that span fields. Both front ends call these so a site means the same
//! thing whichever way it arrives. Messages name the key as the caller's
//! format writes it ("site.health.path" in TOML, "health.path" in JSON).

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::model::{HostPattern, LbPolicy, OriginProtocol, SecurityLevel};
use crate::values;

pub(crate) const WEIGHT: RangeInclusive<i64> = 1..=1000;
pub(crate) const RETRIES: RangeInclusive<i64> = 0..=10;
pub(crate) const RISE_FALL: RangeInclusive<i64> = 1..=1000;

/// A timeout of zero would fail every request; more than a day is a typo.
pub(crate) const TIMEOUT: RangeInclusive<Duration> =
    Duration::from_millis(1)..=Duration::from_secs(24 * 3600);
pub(crate) const HEALTH_DURATION: RangeInclusive<Duration> =
    Duration::from_millis(1)..=Duration::from_secs(3600);
/// Browsers cap max-age at two years; far more is surely a unit mistake.
pub(crate) const HSTS_MAX_AGE: RangeInclusive<Duration> =
    Duration::ZERO..=Duration::from_secs(10 * 365 * 86400);

pub(crate) const ONE_YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
pub(crate) const DEFAULT_RETRIES: u32 = 1;
pub(crate) const DEFAULT_HEALTH_PATH: &str = "/";
pub(crate) const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(5);
pub(crate) const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
pub(crate) const DEFAULT_RISE: u32 = 2;
pub(crate) const DEFAULT_FALL: u32 = 3;

/// "`site.retries` must be between 0 and 10, found 11".
pub(crate) fn range_message(key: &str, range: &RangeInclusive<i64>, found: impl Display) -> String {
    format!(
        "`{key}` must be between {} and {}, found {found}",
        range.start(),
        range.end()
    )
}

pub(crate) fn lb(s: &str) -> Result<LbPolicy, String> {
    match s {
        "round_robin" => Ok(LbPolicy::RoundRobin),
        "least_outstanding" => Ok(LbPolicy::LeastOutstanding),
        "ip_hash" => Ok(LbPolicy::IpHash),
        other => Err(format!(
            "unknown load-balancing policy {other:?}; expected \"round_robin\", \"least_outstanding\" or \"ip_hash\""
        )),
    }
}

pub(crate) fn security_level(s: &str) -> Result<SecurityLevel, String> {
    match s {
        "off" => Ok(SecurityLevel::Off),
        "low" => Ok(SecurityLevel::Low),
        "medium" => Ok(SecurityLevel::Medium),
        "high" => Ok(SecurityLevel::High),
        other => Err(format!(
            "unknown security level {other:?}; expected \"off\", \"low\", \"medium\" or \"high\""
        )),
    }
}

/// `https` is `None` when the origin's URL is itself invalid; then only the
/// spelling is checked, so the URL's own error is not joined by a second one.
pub(crate) fn origin_protocol(s: &str, https: Option<bool>) -> Result<OriginProtocol, String> {
    match s {
        "http1" => Ok(OriginProtocol::Http1),
        "http2" => Ok(OriginProtocol::Http2),
        "auto" if https == Some(false) => Err(
            "`protocol = \"auto\"` needs an https:// origin (it negotiates via ALPN); use \"http1\" or \"http2\" for http:// origins"
                .to_owned(),
        ),
        "auto" => Ok(OriginProtocol::Auto),
        other => Err(format!(
            "unknown origin protocol {other:?}; expected \"http1\", \"http2\" or \"auto\""
        )),
    }
}

pub(crate) fn default_protocol(https: bool) -> OriginProtocol {
    if https {
        OriginProtocol::Auto
    } else {
        OriginProtocol::Http1
    }
}

pub(crate) fn health_path(path: &str, key: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        Err(format!("`{key}` must start with '/', found {path:?}"))
    } else if path.parse::<http::uri::PathAndQuery>().is_err() {
        Err(format!("`{key}` {path:?} is not a valid request path"))
    } else {
        Ok(())
    }
}

/// A check that outlasts its interval would overlap the next one. `table` is
/// the health table's key ("site.health"); `default_note` marks a value the
/// user did not write.
pub(crate) fn health_timing(
    timeout: Duration,
    interval: Duration,
    table: &str,
    default_note: &str,
) -> Result<(), String> {
    if timeout <= interval {
        return Ok(());
    }
    Err(format!(
        "`{table}.timeout` ({}{default_note}) must not be longer than `{table}.interval` ({})",
        humantime::format_duration(timeout),
        humantime::format_duration(interval)
    ))
}

/// The Host header health checks send when none is configured: the site's
/// first exact host. Wildcard-only sites get `None` (the origin's authority).
pub(crate) fn default_health_host(hosts: &[HostPattern]) -> Option<String> {
    hosts.iter().find_map(|h| match h {
        HostPattern::Exact(name) => Some(host_header(name)),
        HostPattern::Wildcard(_) => None,
    })
}

/// A configured health-check Host header, ready to send.
pub(crate) fn health_host(raw: &str, key: &str) -> Result<String, String> {
    match values::parse_host_pattern(raw) {
        Ok(HostPattern::Exact(name)) => Ok(host_header(&name)),
        Ok(HostPattern::Wildcard(_)) => Err(format!(
            "`{key}` must be a single host name, not a wildcard"
        )),
        Err(msg) => Err(format!("`{key}`: {msg}")),
    }
}

/// Host patterns keep IPv6 bare; a Host header needs the brackets.
fn host_header(name: &str) -> String {
    if name.contains(':') {
        format!("[{name}]")
    } else {
        name.to_owned()
    }
}

/// Browser preload lists reject anything less, so asking for preload without
/// it would silently never be honoured.
pub(crate) fn hsts_preload(
    preload: bool,
    include_subdomains: bool,
    max_age: Duration,
    table: &str,
) -> Result<(), String> {
    if preload && (!include_subdomains || max_age < ONE_YEAR) {
        return Err(format!(
            "`{table}.preload = true` requires `include_subdomains = true` and `max_age` of at least 365d (browser preload lists reject anything less)"
        ));
    }
    Ok(())
}
