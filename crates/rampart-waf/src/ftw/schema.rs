//! The go-ftw test format (ftw-tests-schema v2/v3) and the platform
//! overrides format, as far as the CRS suite uses them. Unknown keys are
//! ignored rather than rejected: the schema grows, and a newer key we do not
//! understand should not hide the tests we can run.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// One YAML file: the tests of one rule.
#[derive(Debug, Clone, Deserialize)]
pub struct TestFile {
    #[serde(default)]
    pub meta: Meta,
    #[serde(default)]
    pub rule_id: u64,
    #[serde(default)]
    pub tests: Vec<TestCase>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Meta {
    #[serde(default, deserialize_with = "opt_scalar")]
    pub author: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub description: Option<String>,
    /// Deprecated in the schema (overrides replaced it) but still honoured:
    /// a file that says `enabled: false` is skipped.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TestCase {
    /// Absent in very old files: the position in the file (from 1) is used.
    #[serde(default)]
    pub test_id: Option<u64>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub desc: Option<String>,
    #[serde(default)]
    pub stages: Vec<Stage>,
}

/// A stage is `{input, output}`; the v1 format wrapped it as
/// `{stage: {input, output}}`, which is accepted too.
#[derive(Debug, Clone)]
pub struct Stage {
    pub input: Input,
    pub output: Output,
}

impl<'de> Deserialize<'de> for Stage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Flat {
            #[serde(default)]
            input: Input,
            #[serde(default)]
            output: Output,
            #[serde(default)]
            stage: Option<Box<Flat>>,
        }
        let flat = Flat::deserialize(deserializer)?;
        Ok(match flat.stage {
            Some(inner) => Stage {
                input: inner.input,
                output: inner.output,
            },
            None => Stage {
                input: flat.input,
                output: flat.output,
            },
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Input {
    #[serde(default, deserialize_with = "opt_scalar")]
    pub dest_addr: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub protocol: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub method: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub uri: Option<String>,
    /// The same stage once per target (`uri` is then ignored).
    #[serde(default)]
    pub uris: Vec<String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub version: Option<String>,
    /// One value per name, as go-ftw keeps them (a Go map): YAML scalars of
    /// any type (`Content-Length: 7`) become their text.
    #[serde(default, deserialize_with = "scalar_map")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub data: Option<String>,
    /// Base64 of the body, sent verbatim.
    #[serde(default, deserialize_with = "opt_scalar")]
    pub encoded_data: Option<String>,
    /// Base64 of the whole request, sent verbatim (no header completion).
    #[serde(default, deserialize_with = "opt_scalar")]
    pub encoded_request: Option<String>,
    /// Deprecated spelling of `encoded_request`.
    #[serde(default, deserialize_with = "opt_scalar")]
    pub raw_request: Option<String>,
    #[serde(default)]
    pub autocomplete_headers: Option<bool>,
    /// Deprecated inverse of `autocomplete_headers`.
    #[serde(default)]
    pub stop_magic: Option<bool>,
    #[serde(default)]
    pub save_cookie: Option<bool>,
}

impl Input {
    pub fn method(&self) -> &str {
        self.method.as_deref().unwrap_or("GET")
    }

    pub fn uri(&self) -> &str {
        self.uri.as_deref().unwrap_or("/")
    }

    pub fn version(&self) -> &str {
        self.version.as_deref().unwrap_or("HTTP/1.1")
    }

    pub fn dest_addr(&self) -> &str {
        self.dest_addr.as_deref().unwrap_or("localhost")
    }

    pub fn port(&self) -> u16 {
        self.port.unwrap_or(80)
    }

    /// go-ftw's default is to complete the headers; `stop_magic: true` was
    /// the old way of saying not to.
    pub fn autocomplete(&self) -> bool {
        match (self.autocomplete_headers, self.stop_magic) {
            (Some(value), _) => value,
            (None, Some(stop)) => !stop,
            (None, None) => true,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Output {
    /// Acceptable statuses (old files listed several; new ones give one).
    #[serde(default, deserialize_with = "status_field")]
    pub status: Vec<u16>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub response_contains: Option<String>,
    /// Old style: a regex over the log (`id "942100"`).
    #[serde(default, deserialize_with = "opt_scalar")]
    pub log_contains: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub no_log_contains: Option<String>,
    #[serde(default)]
    pub log: LogExpect,
    #[serde(default)]
    pub expect_error: Option<bool>,
    #[serde(default)]
    pub retry_once: Option<bool>,
    #[serde(default)]
    pub isolated: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogExpect {
    #[serde(default, alias = "expect_id", deserialize_with = "id_list")]
    pub expect_ids: Vec<u64>,
    #[serde(default, alias = "no_expect_id", deserialize_with = "id_list")]
    pub no_expect_ids: Vec<u64>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub match_regex: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub no_match_regex: Option<String>,
}

impl Output {
    /// True when the stage asserts nothing at all (then it passes by
    /// definition, as in go-ftw).
    pub fn is_empty(&self) -> bool {
        self.status.is_empty()
            && self.response_contains.is_none()
            && self.log_contains.is_none()
            && self.no_log_contains.is_none()
            && self.log.expect_ids.is_empty()
            && self.log.no_expect_ids.is_empty()
            && self.log.match_regex.is_none()
            && self.log.no_match_regex.is_none()
            && self.expect_error.is_none()
    }
}

/// A platform overrides file (`coraza-overrides.yaml` format).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OverridesFile {
    #[serde(default, deserialize_with = "opt_scalar")]
    pub version: Option<String>,
    /// Free-form (`annotations` is a list in the CRS files but a map in the
    /// schema), so it is kept as a value and not interpreted.
    #[serde(default)]
    pub meta: Option<serde_norway::Value>,
    #[serde(default)]
    pub test_overrides: Vec<TestOverride>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TestOverride {
    pub rule_id: u64,
    /// Empty: every test of the rule.
    #[serde(default, deserialize_with = "id_list")]
    pub test_ids: Vec<u64>,
    #[serde(default, deserialize_with = "opt_scalar")]
    pub reason: Option<String>,
    /// Replaces the test's expected output. Absent: the test is skipped as
    /// a known deviation.
    #[serde(default)]
    pub output: Option<Output>,
}

impl OverridesFile {
    /// The override that applies to one test (the last listed wins, like a
    /// later line overriding an earlier one).
    pub fn find(&self, rule_id: u64, test_id: u64) -> Option<&TestOverride> {
        self.test_overrides.iter().rev().find(|o| {
            o.rule_id == rule_id && (o.test_ids.is_empty() || o.test_ids.contains(&test_id))
        })
    }
}

fn scalar_text(value: serde_norway::Value) -> Option<String> {
    use serde_norway::Value;
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s),
        Value::Tagged(tagged) => scalar_text(tagged.value),
        Value::Sequence(_) | Value::Mapping(_) => None,
    }
}

fn opt_scalar<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    use serde::de::Error;
    let value = serde_norway::Value::deserialize(deserializer)?;
    match value {
        serde_norway::Value::Sequence(_) | serde_norway::Value::Mapping(_) => {
            Err(D::Error::custom("expected a scalar"))
        }
        other => Ok(scalar_text(other)),
    }
}

fn scalar_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    use serde::de::Error;
    let value = serde_norway::Value::deserialize(deserializer)?;
    let mut out = BTreeMap::new();
    match value {
        serde_norway::Value::Null => {}
        serde_norway::Value::Mapping(map) => {
            for (key, value) in map {
                let key = scalar_text(key).ok_or_else(|| D::Error::custom("header name"))?;
                // A header given as `Name: ~` is sent with an empty value.
                out.insert(key, scalar_text(value).unwrap_or_default());
            }
        }
        _ => return Err(D::Error::custom("headers must be a mapping")),
    }
    Ok(out)
}

fn id_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
    use serde::de::Error;
    let value = serde_norway::Value::deserialize(deserializer)?;
    let one = |v: serde_norway::Value| -> Result<u64, D::Error> {
        scalar_text(v)
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| D::Error::custom("expected a rule or test id"))
    };
    match value {
        serde_norway::Value::Null => Ok(Vec::new()),
        serde_norway::Value::Sequence(items) => items.into_iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

/// `status` is an integer, but old files wrote a list of acceptable codes
/// (`[200, 403]`). 0 means "not checked", as in go-ftw.
fn status_field<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u16>, D::Error> {
    use serde::de::Error;
    let value = serde_norway::Value::deserialize(deserializer)?;
    let parse = |v: serde_norway::Value| -> Result<Option<u16>, D::Error> {
        match scalar_text(v) {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<u16>()
                .map(|n| (n != 0).then_some(n))
                .map_err(|_| D::Error::custom("status must be a number")),
        }
    };
    let items = match value {
        serde_norway::Value::Sequence(items) => items,
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        if let Some(code) = parse(item)? {
            out.push(code);
        }
    }
    Ok(out)
}
