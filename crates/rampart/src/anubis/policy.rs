//! Reading an Anubis policy file: YAML (`botPolicies.yaml`) or JSON, into
//! its `bots` and `thresholds` lists. Syntax and shape errors carry the
//! parser's line:column; each entry of the lists is typed later, one by
//! one, so that one odd entry is skipped instead of failing the file.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// Real policies are a few hundred lines; anything this large is not one,
/// and reading it whole into memory would be the only cost.
pub(crate) const MAX_FILE_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Yaml,
    Json,
}

impl Format {
    /// Anubis reads both through one YAML-to-JSON decoder; `.json` files get
    /// serde_json here, whose messages speak JSON.
    pub(crate) fn of_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Yaml,
        }
    }
}

/// A file that is not an Anubis policy at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// 1-based line and column, when the parser knows them.
    pub at: Option<(usize, usize)>,
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// The parts of the file the importer reads.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    /// `bots`, entries untyped.
    pub bots: Vec<Value>,
    /// `thresholds`; `None` when the file has none (Anubis then uses its
    /// defaults).
    pub thresholds: Option<Vec<Value>>,
    /// Top-level keys that configure Anubis itself, not the bot policy
    /// (`store`, `status_codes`, `openGraph`, …): reported as ignored.
    pub ignored: Vec<String>,
}

/// The top level's shape, checked by a typed parse so that a wrong type
/// is reported with the parser's position.
/// Its fields are never read: deserializing is the check.
#[derive(Deserialize)]
struct Shape {
    #[serde(rename = "bots")]
    _bots: Option<Vec<IgnoredAny>>,
    #[serde(rename = "thresholds")]
    _thresholds: Option<Vec<IgnoredAny>>,
    // Some Anubis versions tag the field `threshold`; accept both.
    #[serde(rename = "threshold")]
    _threshold: Option<Vec<IgnoredAny>>,
}

const SHAPE_HINT: &str =
    "an Anubis policy is a mapping with a `bots:` list of rules and an optional `thresholds:` list";

pub(crate) fn parse(text: &str, format: Format) -> Result<Document, ParseError> {
    let value = match format {
        Format::Yaml => parse_yaml(text)?,
        Format::Json => parse_json(text)?,
    };
    let Value::Object(mut top) = value else {
        return Err(ParseError {
            at: Some((1, 1)),
            message: format!(
                "expected a mapping at the top level, found {}",
                describe(&value)
            ),
            hint: SHAPE_HINT.to_owned(),
        });
    };
    // Typed once more, only to have the parser's position for a key of
    // the wrong type (`bots: foo`).
    let shape = match format {
        Format::Yaml => serde_norway::from_str::<Shape>(text)
            .map(drop)
            .map_err(|e| (e.location().map(|l| (l.line(), l.column())), e.to_string())),
        Format::Json => serde_json::from_str::<Shape>(text)
            .map(drop)
            .map_err(|e| (Some((e.line(), e.column())), e.to_string())),
    };
    if let Err((at, message)) = shape {
        return Err(ParseError {
            at,
            message: shape_message(&message),
            hint: SHAPE_HINT.to_owned(),
        });
    }
    let bots = match top.remove("bots") {
        Some(Value::Array(items)) => items,
        // The typed check above has refused every other type.
        Some(_) | None => {
            return Err(ParseError {
                at: None,
                message: "there is no `bots:` list".to_owned(),
                hint: SHAPE_HINT.to_owned(),
            });
        }
    };
    let thresholds = match (top.remove("thresholds"), top.remove("threshold")) {
        (Some(Value::Array(mut a)), Some(Value::Array(b))) => {
            a.extend(b);
            Some(a)
        }
        (Some(Value::Array(a)), _) | (_, Some(Value::Array(a))) => Some(a),
        _ => None,
    };
    Ok(Document {
        bots,
        thresholds,
        ignored: top.keys().cloned().collect(),
    })
}

fn parse_yaml(text: &str) -> Result<Value, ParseError> {
    // serde_norway's own Value first: it refuses duplicate keys (a second
    // `bots:` would otherwise silently replace the first) with a position.
    let yaml: serde_norway::Value = serde_norway::from_str(text).map_err(|e| ParseError {
        at: e.location().map(|l| (l.line(), l.column())),
        message: strip_position(&e.to_string()),
        hint: "fix the YAML syntax there (indentation, a missing `-` or `:`, an unclosed quote or bracket)".to_owned(),
    })?;
    serde_json::to_value(&yaml).map_err(|e| ParseError {
        at: None,
        message: format!("the YAML holds something JSON cannot: {e}"),
        hint: "use plain strings, numbers, lists and mappings (no binary values or complex keys)"
            .to_owned(),
    })
}

fn parse_json(text: &str) -> Result<Value, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError {
        at: Some((e.line(), e.column())),
        message: strip_position(&e.to_string()),
        hint: "fix the JSON syntax there (a missing comma, quote or bracket)".to_owned(),
    })?;
    Ok(value)
}

/// The parsers put " at line L column C" in their messages; the position
/// is printed in front as FILE:L:C instead.
fn strip_position(message: &str) -> String {
    let Some(start) = message.find(" at line ") else {
        return message.to_owned();
    };
    let rest = message.get(start + " at line ".len()..).unwrap_or("");
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(rest) = rest.strip_prefix(" column ") else {
        return message.to_owned();
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    format!("{}{rest}", message.get(..start).unwrap_or(""))
}

/// serde names the private struct ("expected struct Shape"); say what the
/// file should hold instead.
fn shape_message(message: &str) -> String {
    strip_position(message).replace("struct Shape", "a mapping with a `bots:` list")
}

pub(crate) fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}
