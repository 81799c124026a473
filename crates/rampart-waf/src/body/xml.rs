//! XML request bodies: element text (`XML:/*`) and attribute values
//! (`XML://@*`).
//!
//! Like Coraza, every run of character data between tags is one text
//! value, trimmed, and empty runs are dropped. Entities are never expanded
//! from a DTD: the DOCTYPE is skipped, only the five predefined entities
//! and character references are decoded, and any other `&name;` stays as
//! written, so neither billion-laughs nor external entities can be used.
//! A lone `&` is kept literally (lenient, as Coraza's non-strict decoder),
//! but unbalanced or mismatched tags, several roots or text outside the
//! root make the body malformed, as they would for libxml2.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::{BodyError, XmlDocument};

fn err(msg: impl std::fmt::Display) -> BodyError {
    BodyError(format!("XML parsing error: {msg}"))
}

pub(super) fn parse(body: &[u8]) -> Result<XmlDocument, BodyError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if body.trim_ascii().is_empty() {
        // Nothing was sent (a bodyless request with an XML type): nothing
        // to inspect, and nothing malformed either.
        return Ok(XmlDocument::default());
    }
    let mut reader = Reader::from_reader(body);
    {
        let config = reader.config_mut();
        config.trim_text(false);
        config.check_end_names = true;
        config.allow_dangling_amp = true;
        config.expand_empty_elements = false;
    }

    let mut doc = XmlDocument::default();
    let mut text: Vec<u8> = Vec::new();
    let mut depth: usize = 0;
    let mut roots: usize = 0;

    loop {
        let event = reader.read_event().map_err(err)?;
        match event {
            Event::Start(start) => {
                flush(&mut text, &mut doc);
                if depth == 0 {
                    roots += 1;
                }
                if roots > 1 {
                    return Err(err("more than one root element"));
                }
                depth += 1;
                attributes(&start, &mut doc)?;
            }
            Event::Empty(start) => {
                flush(&mut text, &mut doc);
                if depth == 0 {
                    roots += 1;
                }
                if roots > 1 {
                    return Err(err("more than one root element"));
                }
                attributes(&start, &mut doc)?;
            }
            Event::End(_) => {
                flush(&mut text, &mut doc);
                // quick-xml has already checked the name matches.
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => {
                if depth == 0 {
                    if !t.iter().all(u8::is_ascii_whitespace) {
                        return Err(err("text outside the root element"));
                    }
                } else {
                    text.extend_from_slice(&t);
                }
            }
            Event::GeneralRef(r) => {
                if depth == 0 {
                    return Err(err("entity reference outside the root element"));
                }
                push_reference(&r, &mut text);
            }
            Event::CData(c) => {
                if depth == 0 {
                    return Err(err("CDATA outside the root element"));
                }
                text.extend_from_slice(&c);
            }
            Event::Comment(_) | Event::PI(_) => flush(&mut text, &mut doc),
            // The DTD is deliberately ignored: nothing it declares is used.
            Event::Decl(_) | Event::DocType(_) => {}
            Event::Eof => {
                if depth != 0 {
                    return Err(err("unclosed element at end of document"));
                }
                if roots == 0 {
                    return Err(err("no root element"));
                }
                return Ok(doc);
            }
        }
    }
}

fn flush(text: &mut Vec<u8>, doc: &mut XmlDocument) {
    let trimmed = text.trim_ascii();
    if !trimmed.is_empty() {
        doc.text.push(trimmed.to_vec());
    }
    text.clear();
}

fn attributes(start: &BytesStart<'_>, doc: &mut XmlDocument) -> Result<(), BodyError> {
    for attr in start.attributes() {
        let attr = attr.map_err(err)?;
        doc.attribute_values.push(unescape(&attr.value));
    }
    Ok(())
}

/// Decodes `&name;` references in raw attribute text the same way text
/// references are decoded; anything that is not a complete reference is
/// kept as written.
pub(super) fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = memchr::memchr(b'&', rest) {
        out.extend_from_slice(rest.get(..amp).unwrap_or_default());
        let after = rest.get(amp + 1..).unwrap_or_default();
        // References are short; a far-away `;` is not the end of this one.
        let semi = memchr::memchr(b';', after).filter(|&s| s > 0 && s <= 32);
        match semi {
            Some(semi) => {
                let name = after.get(..semi).unwrap_or_default();
                push_reference(name, &mut out);
                rest = after.get(semi + 1..).unwrap_or_default();
            }
            None => {
                out.push(b'&');
                rest = after;
            }
        }
    }
    out.extend_from_slice(rest);
    out
}

/// Appends the expansion of `&name;` (given `name`).
fn push_reference(name: &[u8], out: &mut Vec<u8>) {
    let predefined: Option<&[u8]> = match name {
        b"lt" => Some(b"<"),
        b"gt" => Some(b">"),
        b"amp" => Some(b"&"),
        b"apos" => Some(b"'"),
        b"quot" => Some(b"\""),
        _ => None,
    };
    if let Some(expansion) = predefined {
        out.extend_from_slice(expansion);
        return;
    }
    if let Some(ch) = char_reference(name) {
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        return;
    }
    out.push(b'&');
    out.extend_from_slice(name);
    out.push(b';');
}

/// `#65` or `#x41`.
fn char_reference(name: &[u8]) -> Option<char> {
    let digits = name.strip_prefix(b"#")?;
    let (digits, radix) = match digits.strip_prefix(b"x") {
        Some(hex) => (hex, 16),
        None => (digits, 10),
    };
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    let cp = u32::from_str_radix(text, radix).ok()?;
    char::from_u32(cp)
}
