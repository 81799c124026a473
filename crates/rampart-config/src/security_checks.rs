//! Checks for the security settings shared by the TOML walk
//! (`security_toml.rs`) and site specs (`spec/security.rs`): limits,
//! spellings, the action a rule's keys add up to, and expression
//! compilation. Like `rules.rs`, messages name keys as the caller's format
//! writes them (`site.rules[0].status` in TOML, `rules[0].status` in JSON);
//! the caller adds the position or the JSON path.

use std::ops::RangeInclusive;
use std::time::Duration;

use rampart_rules::{Expr, ListKind, Rhs, RuleError, Scheme};

use crate::security::*;

mod action;

pub(crate) use action::*;

pub(crate) const MAX_RULES: usize = 1000;
pub(crate) const MAX_RATE_LIMITS: usize = 100;
const MAX_ID: usize = 63;
const MAX_DESCRIPTION: usize = 500;

const DAY: Duration = Duration::from_secs(86_400);
pub(crate) const PERIOD: RangeInclusive<Duration> = Duration::from_secs(1)..=DAY;
pub(crate) const REQUESTS: RangeInclusive<i64> = 1..=1_000_000_000;
pub(crate) const MITIGATION: RangeInclusive<Duration> = Duration::ZERO..=DAY;

pub(crate) const HEADER_COUNT: RangeInclusive<i64> = 1..=10_000;
pub(crate) const URI_BYTES: RangeInclusive<i64> = 16..=1024 * 1024;
/// A body limit above 1 TiB is a unit mistake; "off" says unlimited.
pub(crate) const BODY_BYTES: RangeInclusive<u64> = 0..=1 << 40;
pub(crate) const FACTOR: RangeInclusive<f64> = 1.5..=1000.0;
pub(crate) const MIN_RPS: RangeInclusive<i64> = 1..=10_000_000;
/// `auto_under_attack` timings: `warmup` and `hold`, then `window`.
pub(crate) const AUTO_WARMUP_HOLD: RangeInclusive<Duration> = Duration::from_secs(1)..=DAY;
pub(crate) const AUTO_WINDOW: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(3600);

pub(crate) const CONNECTIONS: RangeInclusive<i64> = 1..=1_000_000;
pub(crate) const BODY_RATE: RangeInclusive<i64> = 0..=1_000_000_000;
pub(crate) const BODY_RATE_GRACE: RangeInclusive<Duration> =
    Duration::ZERO..=Duration::from_secs(3600);
pub(crate) const SEND_TIMEOUT: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(3600);
pub(crate) const STREAMS: RangeInclusive<i64> = 1..=1000;
pub(crate) const ORIGIN_REQUESTS: RangeInclusive<i64> = 1..=1_000_000;

/// `[a-z0-9][a-z0-9_-]*`, at most 63 bytes: rule and rate-limit ids. `key`
/// is the key path for the message.
pub(crate) fn id(id: &str, key: &str) -> Result<(), String> {
    name_like(id, key, true, "e.g. \"block-wp-login\"")
}

/// `[a-z0-9][a-z0-9_]*`, at most 63 bytes: list names, which appear in
/// expressions as `$name` (where '-' would read as minus).
pub(crate) fn list_name(name: &str, key: &str) -> Result<(), String> {
    name_like(name, key, false, "e.g. \"office_ips\"")
}

fn name_like(s: &str, key: &str, dash: bool, example: &str) -> Result<(), String> {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || (dash && b == b'-');
    let first_ok = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let chars = if dash {
        "lowercase letters, digits, '_' and '-'"
    } else {
        "lowercase letters, digits and '_'"
    };
    if s.is_empty() {
        Err(format!("`{key}` must not be empty; {example}"))
    } else if s.len() > MAX_ID {
        Err(format!("`{key}` is longer than {MAX_ID} bytes"))
    } else if !first_ok || !s.bytes().all(|b| allowed(b) || b == b'_') {
        Err(format!(
            "`{key}` {s:?} is not valid: use {chars}, starting with a letter or digit ({example})"
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn description(text: &str, key: &str) -> Result<(), String> {
    if text.len() > MAX_DESCRIPTION {
        Err(format!(
            "`{key}` is {} bytes long; at most {MAX_DESCRIPTION} are allowed",
            text.len()
        ))
    } else {
        Ok(())
    }
}

/// "rule id \"x\" is already used by …": `first` says where, in the
/// caller's terms ("line 12", "rules[0]").
pub(crate) fn duplicate_id(what: &str, id: &str, first: &str) -> String {
    format!("{what} id {id:?} is already used by the {what} at {first}; ids must be unique")
}

pub(crate) fn too_many(key: &str, max: usize, found: usize) -> String {
    format!("`{key}` has {found} entries; at most {max} are allowed")
}

pub(crate) fn limit_action(s: &str) -> Result<LimitAction, String> {
    match s {
        "block" => Ok(LimitAction::Block),
        "challenge" => Ok(LimitAction::Challenge),
        "log" => Ok(LimitAction::Log),
        other => Err(format!(
            "unknown rate-limit action {other:?}; expected \"block\", \"challenge\" or \"log\""
        )),
    }
}

pub(crate) fn limit_action_str(a: LimitAction) -> &'static str {
    match a {
        LimitAction::Block => "block",
        LimitAction::Challenge => "challenge",
        LimitAction::Log => "log",
    }
}

/// "ip", "ip_prefix", "path", "site", "header:NAME", "cookie:NAME",
/// "query_arg:NAME".
pub(crate) fn characteristic(s: &str) -> Result<Characteristic, String> {
    match s {
        "ip" => return Ok(Characteristic::Ip),
        "ip_prefix" => return Ok(Characteristic::IpPrefix),
        "path" => return Ok(Characteristic::Path),
        "site" => return Ok(Characteristic::Site),
        _ => {}
    }
    let unknown = || {
        format!(
            "unknown characteristic {s:?}; expected \"ip\", \"ip_prefix\", \"path\", \"site\", \"header:NAME\", \"cookie:NAME\" or \"query_arg:NAME\""
        )
    };
    let (kind, name) = s.split_once(':').ok_or_else(unknown)?;
    if name.is_empty() {
        return Err(format!(
            "characteristic {s:?} needs a name after ':', e.g. \"{kind}:x-api-key\""
        ));
    }
    match kind {
        "header" => {
            http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                format!("characteristic {s:?}: {name:?} is not a valid header name")
            })?;
            Ok(Characteristic::Header(name.to_ascii_lowercase()))
        }
        "cookie" => Ok(Characteristic::Cookie(name.to_owned())),
        "query_arg" => Ok(Characteristic::QueryArg(name.to_owned())),
        _ => Err(unknown()),
    }
}

pub(crate) fn characteristic_str(c: &Characteristic) -> String {
    match c {
        Characteristic::Ip => "ip".to_owned(),
        Characteristic::IpPrefix => "ip_prefix".to_owned(),
        Characteristic::Path => "path".to_owned(),
        Characteristic::Site => "site".to_owned(),
        Characteristic::Header(n) => format!("header:{n}"),
        Characteristic::Cookie(n) => format!("cookie:{n}"),
        Characteristic::QueryArg(n) => format!("query_arg:{n}"),
    }
}

pub(crate) fn empty_characteristics(key: &str) -> String {
    format!(
        "`{key}` must name at least one characteristic, e.g. [\"ip\"]; leave it out for the default [\"ip\"]"
    )
}

pub(crate) fn duplicate_characteristic(key: &str, text: &str) -> String {
    format!("`{key}` lists {text:?} twice")
}

/// `max_body_bytes`: "off", or a size such as "10MiB", "512KiB", "1GB",
/// "1000". Units are case-insensitive; KiB/MiB/GiB are powers of 1024,
/// KB/MB/GB powers of 1000.
pub(crate) fn body_size_text(s: &str, key: &str) -> Result<Option<u64>, String> {
    if s == "off" {
        return Ok(None);
    }
    let fail = || body_size_message(key, &format!("{s:?}"));
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = t.split_at_checked(digits).ok_or_else(fail)?;
    let num: u64 = num.parse().map_err(|_| fail())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        _ => return Err(fail()),
    };
    let bytes = num.checked_mul(mult).ok_or_else(fail)?;
    body_size(bytes, key, s).map(Some)
}

pub(crate) fn body_size_message(key: &str, found: &str) -> String {
    format!(
        "`{key}` must be a number of bytes up to 1TiB, a size such as \"10MiB\" or \"512KiB\", or \"off\" for no limit; found {found}"
    )
}

pub(crate) fn body_size(bytes: u64, key: &str, written: &str) -> Result<u64, String> {
    if BODY_BYTES.contains(&bytes) {
        Ok(bytes)
    } else {
        Err(format!(
            "`{key}` must be at most 1TiB, found {written}; write \"off\" for no limit"
        ))
    }
}

pub(crate) fn factor(f: f64, key: &str) -> Result<f64, String> {
    if f.is_finite() && FACTOR.contains(&f) {
        Ok(f)
    } else {
        Err(format!(
            "`{key}` must be between {} and {}, found {f}",
            FACTOR.start(),
            FACTOR.end()
        ))
    }
}

/// Compiles an expression to check it. `declared` lists are known by name
/// (with suggestions for typos); any other `$name` is asked of `known`, so
/// the API can check against the store's lists without listing them all.
/// `responses`: the counting expression of a rate limit, which may read
/// `http.response.code`.
pub(crate) fn expression(
    text: &str,
    responses: bool,
    declared: &[&str],
    known: &dyn Fn(&str) -> bool,
) -> Result<(), RuleError> {
    let mut scheme = if responses {
        Scheme::for_responses()
    } else {
        Scheme::new()
    };
    for name in declared {
        scheme.add_list(*name, ListKind::Ip);
    }
    let ast = rampart_rules::parse_with_limits(text, scheme.limits())?;
    let mut used = Vec::new();
    lists_in(&ast.expr, &mut used);
    for name in used {
        if scheme.list(name).is_none() && known(name) {
            scheme.add_list(name, ListKind::Ip);
        }
    }
    rampart_rules::compile_ast(&ast, &scheme).map(|_| ())
}

/// The `$list` names an expression refers to.
fn lists_in<'e>(expr: &'e Expr, out: &mut Vec<&'e str>) {
    match expr {
        Expr::Logical { operands, .. } => operands.iter().for_each(|e| lists_in(e, out)),
        Expr::Not { expr, .. } => lists_in(expr, out),
        Expr::Compare { lhs, rhs, .. } => {
            lists_in(lhs, out);
            if let Rhs::List { name, .. } = rhs {
                out.push(name);
            }
        }
        Expr::Call(call) => call.args.iter().for_each(|e| lists_in(e, out)),
        Expr::Field(_) | Expr::Literal(_) => {}
    }
}

/// "site.rules[0].expression: column 20: expected …". `note` is added when
/// the column could not be mapped onto the file.
pub(crate) fn expression_message(key: &str, err: &RuleError) -> String {
    format!("{key}: column {}: {}", err.column, err.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let k = "k";
        assert_eq!(body_size_text("off", k), Ok(None));
        assert_eq!(body_size_text("10MiB", k), Ok(Some(10 << 20)));
        assert_eq!(body_size_text("512 kib", k), Ok(Some(512 << 10)));
        assert_eq!(body_size_text("1GB", k), Ok(Some(1_000_000_000)));
        assert_eq!(body_size_text("1000", k), Ok(Some(1000)));
        for bad in ["", "MiB", "10 XB", "-1", "2000GiB", "99999999999999999999"] {
            assert!(body_size_text(bad, k).is_err(), "{bad}");
        }
    }

    #[test]
    fn characteristics() {
        assert_eq!(
            characteristic("header:X-Api-Key"),
            Ok(Characteristic::Header("x-api-key".into()))
        );
        assert!(characteristic("header:").is_err());
        assert!(characteristic("header:a b").is_err());
        assert!(characteristic("ips").is_err());
        for c in ["ip", "ip_prefix", "path", "site", "cookie:s", "query_arg:u"] {
            assert_eq!(characteristic_str(&characteristic(c).unwrap()), c);
        }
    }

    #[test]
    fn list_references_are_asked_of_the_predicate() {
        let known = |n: &str| n == "office";
        assert!(expression("ip.src in $office", false, &[], &known).is_ok());
        let e = expression("ip.src in $ofice", false, &[], &known).unwrap_err();
        assert_eq!(e.column, 11);
        assert!(expression("http.response.code eq 404", false, &[], &known).is_err());
        assert!(expression("http.response.code eq 404", true, &[], &known).is_ok());
    }

    /// The expressions docs/rules.md shows, so the reference stays true.
    #[test]
    fn documented_expressions_compile() {
        let known = |n: &str| matches!(n, "office" | "blocked");
        for text in [
            r#"http.request.uri.path matches "^/wp-(admin|login)" and not ip.src in $office"#,
            r#"http.request.uri.path wildcard "/admin*""#,
            r#"starts_with(http.request.uri.path, "/old/")"#,
            r#"http.request.uri.path eq "/login" and http.request.method eq "POST""#,
            r#"any(http.request.headers["accept"][*] contains "json")"#,
            r#"http.host eq "shop.test""#,
            "ip.src in $blocked",
            crate::DEFAULT_RATE_LIMIT_EXPRESSION,
        ] {
            assert!(expression(text, false, &[], &known).is_ok(), "{text}");
        }
        assert!(expression("http.response.code eq 401", true, &[], &known).is_ok());
    }

    #[test]
    fn ids() {
        assert!(id("a-b_1", "k").is_ok());
        assert!(id("A", "k").is_err());
        assert!(id("-a", "k").is_err());
        assert!(list_name("a-b", "k").is_err());
        assert!(list_name("a_b", "k").is_ok());
    }
}
