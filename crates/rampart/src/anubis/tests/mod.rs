//! Unit tests of the Anubis import: each matcher, each action, the
//! threshold forms, skipped entries and their reasons, escaping, parse
//! errors, and never panicking on any input.

mod import;
mod rules;
mod thresholds;

use http::HeaderMap;
use proptest::prelude::*;
use rampart_config::{BotAction, BotPolicy, ThreatLevel};
use rampart_rules::{EvalScratch, Lists, RequestFields, Scheme};

use super::policy::Format;
use super::*;

fn import(yaml: &str) -> Result<Output, Failure> {
    import_text(yaml, Format::Yaml, "policy.yaml", None)
}

fn ok(yaml: &str) -> Output {
    import(yaml).unwrap_or_else(|e| panic!("import failed: {e:?}\n{yaml}"))
}

/// The one imported rule of a policy.
fn only_rule(yaml: &str) -> Rule {
    let out = ok(yaml);
    assert_eq!(out.import.rules.len(), 1, "{:?}", out.import.report);
    out.import.rules[0].clone()
}

/// The reason the entry named `what` was skipped.
fn skip_reason(import: &Import, what: &str) -> String {
    import
        .report
        .iter()
        .find(|i| i.status == Status::Skipped && i.what.contains(what))
        .map(|i| i.detail.clone())
        .unwrap_or_else(|| panic!("{what} was not skipped: {:?}", import.report))
}

fn report(r: &Result<Output, Failure>) -> &Import {
    match r {
        Ok(out) => &out.import,
        Err(Failure::Nothing(import)) => import,
        Err(other) => panic!("not a policy: {other:?}"),
    }
}

/// What Rampart makes of the printed fragment.
fn loaded(out: &Output) -> BotPolicy {
    emit::check(&out.toml, None).unwrap_or_else(|e| panic!("{e}\n{}", out.toml))
}

/// Whether `expression` matches a request with these fields.
fn matches(expression: &str, ua: &str, path: &str, headers: &[(&str, &str)], ip: &str) -> bool {
    let rule = rampart_rules::compile(expression, &Scheme::new())
        .unwrap_or_else(|e| panic!("{expression}: {e}"));
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap_or_else(|e| panic!("{e}")),
            v.parse().unwrap_or_else(|e| panic!("{e}")),
        );
    }
    map.insert(
        http::header::USER_AGENT,
        ua.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let fields = RequestFields {
        path,
        uri: path,
        ip: ip.parse().unwrap_or_else(|e| panic!("{e}")),
        ..RequestFields::empty(&map)
    };
    rule.matches(&fields, &Lists::default(), &mut EvalScratch::new())
}
