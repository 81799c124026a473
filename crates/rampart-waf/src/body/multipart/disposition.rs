//! A part's `Content-Disposition: form-data; name="…"; filename="…"`,
//! parsed as ModSecurity does: only the parameters it understands, each at
//! most once, so a backend cannot be handed a name the WAF did not see.
//! `filename*` (RFC 5987) is understood as well, as Go's parser (Coraza)
//! does, and wins over a plain `filename` like there.

use super::Flags;

/// The parameters of one Content-Disposition header.
#[derive(Debug, Default)]
pub(super) struct Disposition {
    pub name: Option<Vec<u8>>,
    plain_filename: Option<Vec<u8>>,
    extended_filename: Option<Vec<u8>>,
}

impl Disposition {
    /// The file name a backend would use: `filename*` over `filename`.
    pub fn filename(&self) -> Option<&[u8]> {
        self.extended_filename
            .as_deref()
            .or(self.plain_filename.as_deref())
    }
}

/// Every name and filename value seen, valid part or not
/// (MULTIPART_NAME / MULTIPART_FILENAME).
pub(super) struct Seen<'a> {
    pub names: &'a mut Vec<Vec<u8>>,
    pub filenames: &'a mut Vec<Vec<u8>>,
}

/// ModSecurity's token characters (RFC 2045 `token`).
fn is_token_char(c: u8) -> bool {
    c > 32
        && c < 127
        && !matches!(
            c,
            b'(' | b')'
                | b'<'
                | b'>'
                | b'@'
                | b','
                | b';'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'='
        )
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// A single quote inside a value is how some clients (and some attacks)
/// quote; ModSecurity flags it.
fn validate_quotes(value: &[u8], flags: &mut Flags) {
    if value.contains(&b'\'') {
        flags.invalid_quoting = true;
    }
}

/// `charset'language'percent-encoded` → the decoded bytes. The charset is
/// not transcoded: rules see the bytes the client meant.
fn decode_extended(value: &[u8]) -> Vec<u8> {
    let mut pieces = value.splitn(3, |&b| b == b'\'');
    let (first, _, third) = (pieces.next(), pieces.next(), pieces.next());
    let encoded = match third {
        Some(encoded) => encoded,
        None => first.unwrap_or_default(),
    };
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while let Some(&b) = encoded.get(i) {
        let hex = |j: usize| {
            encoded
                .get(j)
                .and_then(|&d| char::from(d).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn skip_blank(s: &[u8]) -> usize {
    s.iter().take_while(|&&c| is_blank(c)).count()
}

fn advance(s: &[u8], n: usize) -> &[u8] {
    s.get(n..).unwrap_or_default()
}

/// Parses the header value; `Err` carries ModSecurity's negative code for
/// the error message (same numbering, plus -10 for an unterminated quote).
pub(super) fn parse(value: &[u8], flags: &mut Flags, seen: Seen<'_>) -> Result<Disposition, i32> {
    let mut d = Disposition::default();
    let Some(mut rest) = value.strip_prefix(b"form-data") else {
        return Err(-1);
    };

    rest = advance(rest, skip_blank(rest));
    match rest.first() {
        None => return Ok(d),
        Some(b';') => rest = advance(rest, 1),
        Some(_) => return Err(-2),
    }

    while !rest.is_empty() {
        rest = advance(rest, skip_blank(rest));
        if rest.is_empty() {
            return Err(-3);
        }
        let name_len = rest
            .iter()
            .take_while(|&&c| c != b'=' && !is_blank(c))
            .count();
        let name = rest.get(..name_len).unwrap_or_default();
        rest = advance(rest, name_len);
        if rest.is_empty() {
            return Err(-4);
        }
        rest = advance(rest, skip_blank(rest));
        match rest.first() {
            None => return Err(-5),
            Some(b'=') => rest = advance(rest, 1),
            Some(_) => return Err(-13),
        }
        rest = advance(rest, skip_blank(rest));
        let Some(&first) = rest.first() else {
            return Err(-6);
        };

        let mut param = Vec::new();
        let mut closed_by_quote = false;
        if first == b'"' || first == b'\'' {
            let quote = first;
            if quote == b'\'' {
                flags.invalid_quoting = true;
            }
            rest = advance(rest, 1);
            if rest.is_empty() {
                return Err(-7);
            }
            let mut i = 0;
            loop {
                let Some(&c) = rest.get(i) else {
                    return Err(-10);
                };
                if c == b'\\' {
                    match rest.get(i + 1) {
                        None => return Err(-8),
                        // Only the quote and the backslash can be escaped;
                        // any other backslash is kept, as IE sends them.
                        Some(&next) if next == quote || next == b'\\' => {
                            param.push(next);
                            i += 2;
                            continue;
                        }
                        Some(_) => {}
                    }
                } else if c == quote {
                    closed_by_quote = true;
                    i += 1;
                    break;
                }
                param.push(c);
                i += 1;
            }
            rest = advance(rest, i);
        } else {
            let len = rest.iter().take_while(|&&c| is_token_char(c)).count();
            param.extend_from_slice(rest.get(..len).unwrap_or_default());
            rest = advance(rest, len);
        }

        match name {
            b"name" => {
                validate_quotes(&param, flags);
                seen.names.push(param.clone());
                if d.name.is_some() {
                    return Err(-14);
                }
                d.name = Some(param);
            }
            b"filename" => {
                validate_quotes(&param, flags);
                seen.filenames.push(param.clone());
                if d.plain_filename.is_some() {
                    return Err(-15);
                }
                d.plain_filename = Some(param);
            }
            b"filename*" => {
                let decoded = decode_extended(&param);
                seen.filenames.push(decoded.clone());
                if d.extended_filename.is_some() {
                    return Err(-15);
                }
                d.extended_filename = Some(decoded);
            }
            _ => return Err(-11),
        }

        if !rest.is_empty() {
            let blanks = skip_blank(rest);
            rest = advance(rest, blanks);
            match rest.first() {
                None => return Ok(d),
                Some(b';') => rest = advance(rest, 1),
                Some(_) => {
                    // Something glued to a closing quote: quoting this
                    // parser and the backend may read differently.
                    if closed_by_quote && blanks == 0 {
                        flags.invalid_quoting = true;
                    }
                    return Err(-12);
                }
            }
        }
    }
    Ok(d)
}
