//! Building the bytes go-ftw puts on the wire for a test input. go-ftw does
//! not use an HTTP library for this: it writes the request line and headers
//! itself so that tests can send broken HTTP, and the suite's expectations
//! depend on its exact choices (header order, which headers it adds, how it
//! re-encodes form data), so they are reproduced here.

use base64::Engine as _;

use super::schema::Input;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("choose between data, encoded_data, encoded_request and raw_request")]
    Conflict,
    #[error("{field} is not valid base64")]
    Base64 { field: &'static str },
    #[error("unsupported template in data: {0}")]
    Template(String),
}

/// The request bytes for one stage.
pub fn build_request(input: &Input) -> Result<Vec<u8>, BuildError> {
    let has_data = input.data.as_deref().is_some_and(|d| !d.is_empty());
    let raw_fields = [
        input.encoded_request.as_deref(),
        input.raw_request.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .count();
    if raw_fields > 1 || (raw_fields == 1 && (has_data || input.encoded_data.is_some())) {
        return Err(BuildError::Conflict);
    }
    if let Some(encoded) = input.encoded_request.as_deref().filter(|s| !s.is_empty()) {
        return decode_base64(encoded, "encoded_request");
    }
    if let Some(encoded) = input.raw_request.as_deref().filter(|s| !s.is_empty()) {
        return decode_base64(encoded, "raw_request");
    }
    let data = match (&input.data, &input.encoded_data) {
        (Some(_), Some(_)) if has_data => return Err(BuildError::Conflict),
        (Some(data), _) => expand_template(data)?.into_bytes(),
        (None, Some(encoded)) => decode_base64(encoded, "encoded_data")?,
        (None, None) => Vec::new(),
    };
    Ok(assemble(
        input.method(),
        input.uri(),
        input.version(),
        input.headers.clone(),
        data,
        input.autocomplete(),
    ))
}

/// go-ftw decodes with Go's standard decoder, which skips line breaks (the
/// YAML folds long values).
fn decode_base64(text: &str, field: &'static str) -> Result<Vec<u8>, BuildError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| BuildError::Base64 { field })
}

/// Headers as go-ftw holds them: one value per exact name (its lookups are
/// case-sensitive), written in byte order of the names.
type Headers = std::collections::BTreeMap<String, String>;

/// go-ftw's `Add`: only when the exact name has no (non-empty) value.
fn add_if_absent(headers: &mut Headers, name: &str, value: String) {
    if headers.get(name).is_none_or(|v| v.is_empty()) {
        headers.insert(name.to_owned(), value);
    }
}

/// The non-raw path of go-ftw's request builder.
pub fn assemble(
    method: &str,
    uri: &str,
    version: &str,
    mut headers: Headers,
    mut data: Vec<u8>,
    autocomplete: bool,
) -> Vec<u8> {
    if !data.is_empty() && autocomplete {
        add_if_absent(
            &mut headers,
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        );
        if headers.get("Content-Type").map(String::as_str)
            == Some("application/x-www-form-urlencoded")
        {
            data = encode_form(&data);
        }
    }
    // Multipart bodies are written with LF in YAML; go-ftw turns every LF
    // into CRLF (an existing CRLF becomes CR CR LF, as go-ftw does too).
    if headers
        .get("Content-Type")
        .is_some_and(|ct| ct.starts_with("multipart/form-data;"))
    {
        let mut converted = Vec::with_capacity(data.len() + data.len() / 16);
        for &b in &data {
            if b == b'\n' {
                converted.push(b'\r');
            }
            converted.push(b);
        }
        data = converted;
    }
    if autocomplete {
        add_if_absent(&mut headers, "Connection", "close".to_owned());
        if !data.is_empty() || method_implies_body(method) {
            add_if_absent(&mut headers, "Content-Length", data.len().to_string());
        }
    }
    let mut out = Vec::with_capacity(64 + data.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(uri.as_bytes());
    out.push(b' ');
    out.extend_from_slice(version.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&data);
    out
}

/// go-ftw tests the method with the unanchored-alternation regex
/// `^POST|PUT|PATCH|DELETE$`, so "XPUTX" counts and "POSTX" does too.
fn method_implies_body(method: &str) -> bool {
    method.starts_with("POST")
        || method.contains("PUT")
        || method.contains("PATCH")
        || method.ends_with("DELETE")
}

/// Form data written unencoded in the YAML (`a=b c&d=<x>`) is encoded
/// key by key, as go-ftw does; data that already holds an escape (`%` or
/// `+`) is left alone, since go-ftw only encodes when unescaping would be a
/// no-op.
pub fn encode_form(data: &[u8]) -> Vec<u8> {
    if data.iter().any(|&b| b == b'%' || b == b'+') {
        return data.to_vec();
    }
    let mut tokens: Vec<&[u8]> = data.split(|&b| b == b'&').collect();
    // go-ftw's loop never sees the empty token after a trailing `&`.
    if data.last() == Some(&b'&') {
        tokens.pop();
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 4);
    for (i, token) in tokens.into_iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match token.iter().position(|&b| b == b'=') {
            None => query_escape_into(token, &mut out),
            Some(eq) => {
                let (key, rest) = token.split_at(eq);
                query_escape_into(key, &mut out);
                out.push(b'=');
                query_escape_into(rest.get(1..).unwrap_or_default(), &mut out);
            }
        }
    }
    out
}

/// Go's `url.QueryEscape`.
fn query_escape_into(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b),
            b' ' => out.push(b'+'),
            _ => {
                out.push(b'%');
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0x0f)]);
            }
        }
    }
}

/// A bound on what a template may expand to: `repeat` is the only
/// function the suite uses, for bodies just over the 64 KB limits.
const MAX_TEMPLATE_OUTPUT: usize = 16 * 1024 * 1024;

/// go-ftw runs `data` through Go's text/template (with the sprig
/// functions). The suite only uses `{{ "x" | repeat N }}`; that and the
/// call form `{{ repeat N "x" }}` are supported, anything else is an error
/// rather than a silently different body.
pub fn expand_template(data: &str) -> Result<String, BuildError> {
    if !data.contains("{{") {
        return Ok(data.to_owned());
    }
    let mut out = String::with_capacity(data.len());
    let mut rest = data;
    while let Some(start) = rest.find("{{") {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let end = after
            .find("}}")
            .ok_or_else(|| BuildError::Template("unclosed {{".to_owned()))?;
        let action = after.get(..end).unwrap_or_default();
        let expanded = eval_action(action)?;
        if out.len().saturating_add(expanded.len()) > MAX_TEMPLATE_OUTPUT {
            return Err(BuildError::Template("expansion too large".to_owned()));
        }
        out.push_str(&expanded);
        rest = after.get(end + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

fn eval_action(action: &str) -> Result<String, BuildError> {
    // Go's `{{-` / `-}}` trim markers are not used by the suite; refuse them.
    let action = action.trim();
    let unsupported = || BuildError::Template(action.to_owned());
    let stages: Vec<&str> = action.split('|').map(str::trim).collect();
    let mut value: Option<String> = None;
    for stage in stages {
        let words = split_words(stage).ok_or_else(unsupported)?;
        let mut words = words.into_iter();
        let head = words.next().ok_or_else(unsupported)?;
        let args: Vec<Word> = words.collect();
        match head {
            Word::Str(s) if args.is_empty() && value.is_none() => value = Some(s),
            Word::Ident(name) if name == "repeat" => {
                let (count, text) = match (args.as_slice(), value.take()) {
                    ([Word::Int(n)], Some(piped)) => (*n, piped),
                    ([Word::Int(n), Word::Str(s)], None) => (*n, s.clone()),
                    _ => return Err(unsupported()),
                };
                let total = text.len().saturating_mul(count);
                if total > MAX_TEMPLATE_OUTPUT {
                    return Err(BuildError::Template("expansion too large".to_owned()));
                }
                value = Some(text.repeat(count));
            }
            _ => return Err(unsupported()),
        }
    }
    value.ok_or_else(unsupported)
}

enum Word {
    Str(String),
    Int(usize),
    Ident(String),
}

/// Words of one pipeline stage: double-quoted strings (with `\"` and `\\`
/// escapes), integers and identifiers.
fn split_words(stage: &str) -> Option<Vec<Word>> {
    let mut words = Vec::new();
    let mut chars = stage.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        other => s.push(other),
                    },
                    other => s.push(other),
                }
            }
            words.push(Word::Str(s));
        } else {
            let mut token = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                token.push(c);
                chars.next();
            }
            if token.bytes().all(|b| b.is_ascii_digit()) {
                words.push(Word::Int(token.parse().ok()?));
            } else if token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                words.push(Word::Ident(token));
            } else {
                return None;
            }
        }
    }
    Some(words)
}
