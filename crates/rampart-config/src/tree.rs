//! A thin, type-checking view over the spanned TOML tree. Every accessor
//! records a diagnostic and returns `None` on a mismatch, so callers can keep
//! walking and find the next problem.

use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostics::Diags;
use crate::{rules, values};

pub(crate) type Span = Range<usize>;
pub(crate) type Value<'i> = Spanned<DeValue<'i>>;

/// A string value together with where it was written.
#[derive(Clone, Copy)]
pub(crate) struct Str<'a> {
    pub text: &'a str,
    pub span: (usize, usize),
}

impl Str<'_> {
    pub(crate) fn span(&self) -> Span {
        self.span.0..self.span.1
    }
}

pub(crate) struct Table<'a, 'i> {
    map: &'a DeTable<'i>,
    /// Where "missing key" diagnostics point: the `[header]` or the `{` of an inline table.
    pub span: Span,
    /// Dotted path used in messages ("site.health"); empty for the document root.
    path: String,
    /// How the table is named in unknown-key messages.
    label: String,
}

impl<'a, 'i> Table<'a, 'i> {
    pub(crate) fn root(doc: &'a Spanned<DeTable<'i>>) -> Self {
        Self {
            map: doc.get_ref(),
            span: 0..0,
            path: String::new(),
            label: "at the top level".to_owned(),
        }
    }

    /// The dotted path of a key of this table, for messages.
    pub(crate) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Wraps a value as a table, or reports what it is instead.
    pub(crate) fn from_value(
        value: &'a Value<'i>,
        path: String,
        label: Option<String>,
        d: &mut Diags<'_>,
    ) -> Option<Self> {
        match value.get_ref() {
            DeValue::Table(map) => Some(Self {
                map,
                span: value.span(),
                label: label.unwrap_or_else(|| format!("in [{path}]")),
                path,
            }),
            other => {
                d.error(
                    &value.span(),
                    format!("expected a table for `{path}`, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// Reports every key not in `allowed`, suggesting the closest one.
    pub(crate) fn check_keys(&self, allowed: &[&str], d: &mut Diags<'_>) {
        for key in self.map.keys() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let hint = match suggest(name, allowed) {
                Some(s) => format!(" (did you mean \"{s}\"?)"),
                None => String::new(),
            };
            d.error(
                &key.span(),
                format!(
                    "unknown key {name:?} {}{hint}; expected one of: {}",
                    self.label,
                    allowed.join(", ")
                ),
            );
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value<'i>> {
        self.map.get(key)
    }

    /// Like `get`, but a missing key is a diagnostic at the table's header.
    pub(crate) fn require(&self, key: &str, d: &mut Diags<'_>) -> Option<&'a Value<'i>> {
        let value = self.map.get(key);
        if value.is_none() {
            let place = if self.path.is_empty() {
                "the document".to_owned()
            } else {
                format!("[{}]", self.path)
            };
            d.error(
                &self.span,
                format!("missing required key `{key}` in {place}"),
            );
        }
        value
    }

    pub(crate) fn str(&self, key: &str, d: &mut Diags<'_>) -> Option<Str<'a>> {
        as_str(self.get(key)?, &self.key_path(key), d)
    }

    pub(crate) fn bool(&self, key: &str, d: &mut Diags<'_>) -> Option<bool> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                type_error(
                    d,
                    value,
                    "a boolean (true or false)",
                    &self.key_path(key),
                    other,
                );
                None
            }
        }
    }

    /// An integer within `range`; anything else is a diagnostic at the value.
    pub(crate) fn int(
        &self,
        key: &str,
        range: RangeInclusive<i64>,
        d: &mut Diags<'_>,
    ) -> Option<i64> {
        let value = self.get(key)?;
        let path = self.key_path(key);
        let DeValue::Integer(int) = value.get_ref() else {
            type_error(d, value, "an integer", &path, value.get_ref());
            return None;
        };
        let parsed = i128::from_str_radix(int.as_str(), int.radix()).ok();
        match parsed {
            Some(n) if n >= i128::from(*range.start()) && n <= i128::from(*range.end()) => {
                i64::try_from(n).ok()
            }
            _ => {
                d.error(
                    &value.span(),
                    rules::range_message(&path, &range, int.as_str()),
                );
                None
            }
        }
    }

    /// A humantime duration string within `range`.
    pub(crate) fn duration(
        &self,
        key: &str,
        range: RangeInclusive<Duration>,
        d: &mut Diags<'_>,
    ) -> Option<(Duration, Span)> {
        let value = self.get(key)?;
        let path = self.key_path(key);
        let DeValue::String(s) = value.get_ref() else {
            type_error(
                d,
                value,
                "a duration string such as \"5s\"",
                &path,
                value.get_ref(),
            );
            return None;
        };
        match values::parse_duration(s, range) {
            Ok(dur) => Some((dur, value.span())),
            Err(msg) => {
                d.error(&value.span(), format!("`{path}`: {msg}"));
                None
            }
        }
    }

    pub(crate) fn table(&self, key: &str, d: &mut Diags<'_>) -> Option<Table<'a, 'i>> {
        Table::from_value(self.get(key)?, self.key_path(key), None, d)
    }

    pub(crate) fn array(&self, key: &str, d: &mut Diags<'_>) -> Option<(&'a [Value<'i>], Span)> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Array(items) => Some((items, value.span())),
            other => {
                type_error(d, value, "an array", &self.key_path(key), other);
                None
            }
        }
    }
}

pub(crate) fn as_str<'a>(value: &'a Value<'_>, path: &str, d: &mut Diags<'_>) -> Option<Str<'a>> {
    match value.get_ref() {
        DeValue::String(s) => {
            let span = value.span();
            Some(Str {
                text: s,
                span: (span.start, span.end),
            })
        }
        other => {
            type_error(d, value, "a string", path, other);
            None
        }
    }
}

/// "expected a string for `listen.http`, found integer".
pub(crate) fn type_error(
    d: &mut Diags<'_>,
    value: &Value<'_>,
    expected: &str,
    path: &str,
    found: &DeValue<'_>,
) {
    d.error(
        &value.span(),
        format!(
            "expected {expected} for `{path}`, found {}",
            found.type_str()
        ),
    );
}

/// The allowed key closest to a misspelt one, if it is close enough to be a typo.
fn suggest<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    let limit = if key.chars().count() <= 4 { 1 } else { 2 };
    allowed
        .iter()
        .map(|&a| (edit_distance(&key, a), a))
        .filter(|&(dist, _)| dist <= limit)
        .min_by_key(|&(dist, _)| dist)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur.fill(0);
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = sub.min(del).min(ins);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("hosst", "hosts"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(suggest("hosst", &["name", "hosts"]), Some("hosts"));
        assert_eq!(suggest("orgins", &["name", "origins"]), Some("origins"));
        assert_eq!(suggest("zzzzzz", &["name", "hosts"]), None);
        assert_eq!(suggest("Name", &["name", "hosts"]), Some("name"));
    }
}
