//! The boundary, read from the request's Content-Type the way ModSecurity
//! reads it: strictly, since a boundary the WAF and the backend disagree
//! on is how multipart evasions work.

use super::{Flags, is_c_space};
use crate::body::BodyError;

const MAX_CONTENT_TYPE: usize = 1024;
const MIME_TYPE: &[u8] = b"multipart/form-data";

fn fail(msg: &str) -> BodyError {
    BodyError(format!("Multipart: {msg}"))
}

/// How many times `boundary` (any case) appears with a `=` somewhere after
/// it: more than one means two boundary parameters a backend may pick
/// differently from us.
fn count_boundary_params(value: &[u8]) -> usize {
    let lower = value.to_ascii_lowercase();
    let finder = memchr::memmem::Finder::new(b"boundary");
    finder
        .find_iter(&lower)
        .filter(|&at| {
            lower
                .get(at + 8..)
                .is_some_and(|rest| memchr::memchr(b'=', rest).is_some())
        })
        .count()
}

/// RFC 2046 boundary characters (a space is allowed, but not last).
fn boundary_characters_valid(boundary: &[u8]) -> bool {
    let last = boundary.len().saturating_sub(1);
    boundary.iter().enumerate().all(|(i, &c)| {
        c.is_ascii_alphanumeric()
            || (c == b' ' && i != last)
            || matches!(
                c,
                b'\'' | b'(' | b')' | b'+' | b'_' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    })
}

/// The boundary to look for in the body, or why the header is unusable.
/// Sets the boundary-related flags as a side effect, also on failure.
pub(super) fn boundary(content_type: &[u8], flags: &mut Flags) -> Result<Vec<u8>, BodyError> {
    if content_type.is_empty() {
        return Err(fail("Content-Type header not available."));
    }
    if content_type.len() > MAX_CONTENT_TYPE {
        return Err(fail("Invalid boundary in C-T (length)."));
    }
    let mime_ok = content_type
        .get(..MIME_TYPE.len())
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(MIME_TYPE));
    if !mime_ok {
        return Err(fail("Invalid MIME type."));
    }
    if count_boundary_params(content_type) > 1 {
        return Err(fail("Multiple boundary parameters in C-T."));
    }

    // Case-sensitive, as ModSecurity: `Boundary=` is legal but so unusual
    // that it is refused rather than guessed at.
    let Some(at) = memchr::memmem::find(content_type, b"boundary") else {
        if count_boundary_params(content_type) > 0 {
            return Err(fail("Invalid boundary in C-T (case sensitivity)."));
        }
        return Err(fail("Boundary not found in C-T."));
    };

    let mut seen_semicolon = false;
    for &c in content_type.get(MIME_TYPE.len()..at).unwrap_or_default() {
        if is_c_space(c) {
            continue;
        }
        if c == b';' && !seen_semicolon {
            seen_semicolon = true;
        } else {
            return Err(fail("Invalid boundary in C-T (malformed)."));
        }
    }
    if !seen_semicolon {
        flags.missing_semicolon = true;
    }

    let after_name = content_type.get(at + 8..).unwrap_or_default();
    let Some(eq) = memchr::memchr(b'=', after_name) else {
        return Err(fail("Invalid boundary in C-T (malformed)."));
    };
    for &c in after_name.get(..eq).unwrap_or_default() {
        if is_c_space(c) {
            flags.boundary_whitespace = true;
        } else {
            return Err(fail("Invalid boundary in C-T (parameter name)."));
        }
    }

    let value = after_name.get(eq + 1..).unwrap_or_default();
    if value.first().copied().is_some_and(is_c_space) {
        flags.boundary_whitespace = true;
    }

    let boundary = match value {
        [b'"', inner @ .., b'"'] => {
            flags.boundary_quoted = true;
            inner
        }
        [b'"', ..] | [.., b'"'] => return Err(fail("Invalid boundary in C-T (quote).")),
        _ => value,
    };
    if boundary.is_empty() {
        return Err(fail("Invalid boundary in C-T (empty)."));
    }
    if count_boundary_params(boundary) != 0 {
        return Err(fail("Invalid boundary in C-T (content)."));
    }
    if !boundary_characters_valid(boundary) {
        return Err(fail("Invalid boundary in C-T (characters)."));
    }
    Ok(boundary.to_vec())
}
