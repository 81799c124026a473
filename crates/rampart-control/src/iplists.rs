//! IP list text as the API takes and the store keeps it, and which rules
//! refer to a list.
//!
//! Stored entries are canonical, one per line, each followed by '\n':
//! networks truncated to their prefix (`10.0.0.1/8` → `10.0.0.0/8`), single
//! addresses without `/32` or `/128`, IPv6 in its shortest lowercase form,
//! IPv4-mapped IPv6 as IPv4, no duplicates. Equal entries are then equal
//! strings, so an append can skip what is already there without parsing a
//! million stored lines back into networks.

use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};
use rampart_rules::{Expr, Rhs};
use serde_json::Value;

/// The product's cap on one list.
pub(crate) const MAX_ENTRIES: usize = rampart_rules::MAX_LIST_ENTRIES;

/// `[a-z0-9][a-z0-9_]*`: list names appear in expressions as `$name`,
/// where '-' would read as an operator.
pub(crate) const MAX_NAME: usize = 63;
pub(crate) const MAX_DESCRIPTION: usize = 500;

/// Why list text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImportError {
    /// The first bad line (1-based), as written, and how many more follow.
    BadLine {
        line: usize,
        text: String,
        more: usize,
    },
    TooLarge,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadLine { line, text, more } => {
                write!(
                    f,
                    "line {line}: `{text}` is not an IP address or CIDR (e.g. 192.0.2.7, 198.51.100.0/24, 2001:db8::/32)"
                )?;
                if *more > 0 {
                    write!(f, "; {more} more bad line(s) after it")?;
                }
                Ok(())
            }
            Self::TooLarge => write!(f, "a list holds at most {MAX_ENTRIES} entries"),
        }
    }
}

/// The canonical text of one entry, or `None` if it is no address or CIDR.
#[cfg(test)]
fn canonical(entry: &str) -> Option<String> {
    canonical_net(entry).map(|net| format_net(&net))
}

fn format_net(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// The network an entry means, truncated, IPv4-mapped IPv6 as IPv4.
fn canonical_net(entry: &str) -> Option<IpNet> {
    let net = if entry.contains('/') {
        entry.parse::<IpNet>().ok()?
    } else {
        IpNet::from(entry.parse::<IpAddr>().ok()?)
    };
    let net = match net {
        IpNet::V6(n) if n.prefix_len() >= 96 => match n.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::V4(Ipv4Net::new(v4, n.prefix_len() - 96).ok()?),
            None => net,
        },
        other => other,
    }
    .trunc();
    Some(net)
}

/// Reads list text (one entry per line; `#` comments and blank lines are
/// skipped) into canonical entries without duplicates, in first-seen
/// order, leaving out those in `known`. Refuses the whole text on the first
/// bad line, or when `known` plus the new entries exceed [`MAX_ENTRIES`].
pub(crate) fn parse_entries<'a, I>(
    lines: I,
    known: &HashSet<&str>,
) -> Result<Vec<String>, ImportError>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut out = Vec::new();
    // Networks, not strings: hashing one needs no allocation.
    let mut seen: HashSet<IpNet> = HashSet::new();
    let mut first_bad: Option<(usize, String)> = None;
    let mut more = 0;
    for (index, line) in lines.into_iter().enumerate() {
        let entry = line.split('#').next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        match canonical_net(entry) {
            Some(_) if first_bad.is_some() => {}
            Some(net) => {
                if !seen.insert(net) {
                    continue;
                }
                let entry = format_net(&net);
                if known.contains(entry.as_str()) {
                    continue;
                }
                if known.len() + out.len() >= MAX_ENTRIES {
                    return Err(ImportError::TooLarge);
                }
                out.push(entry);
            }
            None if first_bad.is_none() => first_bad = Some((index + 1, entry.to_owned())),
            None => more += 1,
        }
    }
    match first_bad {
        Some((line, text)) => Err(ImportError::BadLine { line, text, more }),
        None => Ok(out),
    }
}

/// Entries as stored: each followed by a newline.
pub(crate) fn to_text(entries: &[String]) -> String {
    let mut text = String::with_capacity(entries.iter().map(|e| e.len() + 1).sum());
    for entry in entries {
        text.push_str(entry);
        text.push('\n');
    }
    text
}

/// `stored` with `added` after it, and the new count.
pub(crate) fn append(stored: &str, text: &str) -> Result<(String, usize), ImportError> {
    let known: HashSet<&str> = stored.lines().filter(|l| !l.is_empty()).collect();
    let added = parse_entries(text.lines(), &known)?;
    let count = known.len() + added.len();
    let mut out =
        String::with_capacity(stored.len() + added.iter().map(|e| e.len() + 1).sum::<usize>());
    out.push_str(stored);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&to_text(&added));
    Ok((out, count))
}

/// Whether `name` is a valid list name; the message says why not.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let first_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if name.is_empty() {
        Err("a list needs a name, e.g. \"office_ips\"".to_owned())
    } else if name.len() > MAX_NAME {
        Err(format!("a list name is at most {MAX_NAME} bytes"))
    } else if !first_ok || !rest_ok {
        Err(format!(
            "list name {name:?} is not valid: use lowercase letters, digits and '_', starting with a letter or digit (rules write it as $name, e.g. \"office_ips\")"
        ))
    } else {
        Ok(())
    }
}

/// The `$lists` an expression names; none when it does not parse (it then
/// cannot be stored either).
pub(crate) fn lists_in(expression: &str) -> Vec<String> {
    fn walk(expr: &Expr, out: &mut Vec<String>) {
        match expr {
            Expr::Logical { operands, .. } => operands.iter().for_each(|e| walk(e, out)),
            Expr::Not { expr, .. } => walk(expr, out),
            Expr::Compare { lhs, rhs, .. } => {
                walk(lhs, out);
                if let Rhs::List { name, .. } = rhs {
                    out.push(name.clone());
                }
            }
            Expr::Call(call) => call.args.iter().for_each(|e| walk(e, out)),
            Expr::Field(_) | Expr::Literal(_) => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(ast) = rampart_rules::parse(expression) {
        walk(&ast.expr, &mut out);
    }
    out
}

/// Ids of the rules (and rate limits) in a JSON `rules` / `rate_limits`
/// array whose expressions name `$list`.
fn users_in(items: Option<&Value>, list: &str, keys: &[&str]) -> Vec<String> {
    let Some(Value::Array(items)) = items else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|item| {
            keys.iter().any(|key| {
                item.get(*key)
                    .and_then(Value::as_str)
                    .is_some_and(|e| lists_in(e).iter().any(|n| n == list))
            })
        })
        .map(|item| {
            item.get("id")
                .and_then(Value::as_str)
                .unwrap_or("(unnamed)")
                .to_owned()
        })
        .collect()
}

/// "rule 'x'", "rate limit 'y'", "bot rule 'z'": what in a site spec
/// names `$list`.
pub(crate) fn users_in_spec(spec: &Value, list: &str) -> Vec<String> {
    let rules = users_in(spec.get("rules"), list, &["expression"]);
    let limits = users_in(
        spec.get("rate_limits"),
        list,
        &["expression", "counting_expression"],
    );
    let bot_rules = users_in(
        spec.get("bots").and_then(|b| b.get("rules")),
        list,
        &["expression"],
    );
    rules
        .into_iter()
        .map(|id| format!("rule '{id}'"))
        .chain(limits.into_iter().map(|id| format!("rate limit '{id}'")))
        .chain(bot_rules.into_iter().map(|id| format!("bot rule '{id}'")))
        .collect()
}

/// Operator rule ids (in the stored JSON array) that name `$list`.
pub(crate) fn users_in_rules(rules: &Value, list: &str) -> Vec<String> {
    users_in(Some(rules), list, &["expression"])
        .into_iter()
        .map(|id| format!("operator rule '{id}'"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_become_canonical() {
        for (written, stored) in [
            ("192.0.2.7", "192.0.2.7"),
            ("192.0.2.7/32", "192.0.2.7"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("2001:DB8:0:0::1", "2001:db8::1"),
            ("2001:db8::1/32", "2001:db8::/32"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("::ffff:192.0.2.0/120", "192.0.2.0/24"),
            ("0.0.0.0/0", "0.0.0.0/0"),
        ] {
            assert_eq!(canonical(written).as_deref(), Some(stored), "{written}");
        }
        for bad in ["", "192.0.2", "10.0.0.0/33", "x", "1.2.3.4/", "::g"] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
    }

    #[test]
    fn import_skips_comments_and_duplicates_and_names_the_bad_line() {
        let known = HashSet::new();
        let text = "# office\n192.0.2.1\n\n192.0.2.1/32  # again\n2001:db8::/32\n";
        assert_eq!(
            parse_entries(text.lines(), &known),
            Ok(vec!["192.0.2.1".to_owned(), "2001:db8::/32".to_owned()])
        );
        let bad = "192.0.2.1\n192.0.2.300\nnope\n";
        let error = parse_entries(bad.lines(), &known).unwrap_err();
        assert_eq!(
            error,
            ImportError::BadLine {
                line: 2,
                text: "192.0.2.300".into(),
                more: 1
            }
        );
        assert!(error.to_string().starts_with("line 2: `192.0.2.300`"));
    }

    #[test]
    fn append_adds_only_new_entries() {
        let (text, count) = append("192.0.2.1\n", "192.0.2.1\n10.0.0.0/8\n10.0.0.0/8").unwrap();
        assert_eq!(text, "192.0.2.1\n10.0.0.0/8\n");
        assert_eq!(count, 2);
        let (text, count) = append("", "::1").unwrap();
        assert_eq!((text.as_str(), count), ("::1\n", 1));
    }

    #[test]
    fn names() {
        assert!(check_name("office_ips").is_ok());
        assert!(check_name("9lives").is_ok());
        for bad in ["", "_x", "Office", "a-b", "a b", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_are_found_in_rules_and_rate_limits() {
        assert_eq!(
            lists_in("ip.src in $office or (not ip.src in $vpn and http.host eq \"x\")"),
            ["office", "vpn"]
        );
        assert!(lists_in("ip.src in {").is_empty());
        let spec = json!({
            "rules": [
                {"id": "a", "expression": "ip.src in $office", "action": "block"},
                {"id": "b", "expression": "true", "action": "log"}
            ],
            "rate_limits": [
                {"id": "c", "expression": "true", "counting_expression": "not ip.src in $office"}
            ],
            "bots": {"rules": [{"id": "d", "expression": "ip.src in $office", "weight": -5}]}
        });
        assert_eq!(
            users_in_spec(&spec, "office"),
            ["rule 'a'", "rate limit 'c'", "bot rule 'd'"]
        );
        assert!(users_in_spec(&spec, "vpn").is_empty());
        assert_eq!(
            users_in_rules(&spec["rules"], "office"),
            ["operator rule 'a'"]
        );
    }
}
