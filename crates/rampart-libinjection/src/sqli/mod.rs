//! libinjection's SQLi detection: tokenize, fold to at most five tokens,
//! look the fingerprint up, filter known false positives — in each of the
//! contexts the input could sit in inside a query.
//!
//! The tokenizer and the word/fingerprint table are `libinjectionrs`'s
//! (they pass libinjection's own tokenizer vectors); folding, the checks
//! and the context loop are ours, written from libinjection's algorithm,
//! because the port's versions drop phrase folding (`IN BOOLEAN MODE`,
//! `CREATE OR REPLACE`, `LOCK IN SHARE MODE`, …) and compare `INTO`
//! case-sensitively, which let common sqlmap payloads through.

mod check;
mod fold;
mod keywords;
mod tokens;

#[cfg(test)]
mod tests;

use libinjectionrs::sqli::SqliFlags;

/// The fingerprint of `input` if it is SQL injection in any context.
pub(crate) fn detect(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    let ansi = SqliFlags::FLAG_SQL_ANSI;
    let mysql = SqliFlags::FLAG_SQL_MYSQL;

    // As-is, as the continuation of a '…' string, as the continuation of
    // a "…" string (MySQL is the dialect where " quotes strings). A pass
    // that met MySQL-only comments is retried with MySQL's comment rules.
    let mut contexts = vec![(SqliFlags::FLAG_QUOTE_NONE, true)];
    if input.contains(&b'\'') {
        contexts.push((SqliFlags::FLAG_QUOTE_SINGLE, true));
    }
    if input.contains(&b'"') {
        contexts.push((SqliFlags::FLAG_QUOTE_DOUBLE, false));
    }
    for (quote, ansi_first) in contexts {
        if ansi_first {
            let (fp, mysql_comments) = fingerprint(input, quote | ansi);
            if let Some(fp) = fp {
                return Some(fp);
            }
            if !mysql_comments {
                continue;
            }
        }
        if let (Some(fp), _) = fingerprint(input, quote | mysql) {
            return Some(fp);
        }
    }
    None
}

/// One pass: the fingerprint if it is SQLi, and whether MySQL-only
/// comment syntax was seen.
fn fingerprint(input: &[u8], flags: SqliFlags) -> (Option<Vec<u8>>, bool) {
    let mut folded = fold::fold(input, flags);
    let fp = fold::fingerprint(&mut folded);
    let hit = check::is_sqli(&fp, &folded, input);
    (hit.then_some(fp), folded.mysql_comments)
}

/// The fingerprint of `input` in one context, whatever the verdict.
#[cfg(test)]
pub(crate) fn raw_fingerprint(input: &[u8], flags: SqliFlags) -> Vec<u8> {
    let mut folded = fold::fold(input, flags);
    fold::fingerprint(&mut folded)
}

/// The folded tokens of `input`, one line each, printed the way
/// libinjection's test driver prints them (`s 'quoted'`, `v @@name`).
#[cfg(test)]
pub(crate) fn folded_tokens(input: &[u8], flags: SqliFlags) -> Vec<String> {
    use libinjectionrs::sqli::TokenType;
    let folded = fold::fold(input, flags);
    (0..folded.len)
        .map(|i| {
            let t = folded.tokens.get(i);
            let value = tokens::text(t);
            let value = value.split(|&b| b == 0).next().unwrap_or(&[]);
            let mut line = vec![t.token_type.to_char() as u8, b' '];
            if t.token_type == TokenType::Variable {
                let ats = if t.count >= 2 {
                    2
                } else {
                    usize::from(t.count >= 1)
                };
                line.extend(std::iter::repeat_n(b'@', ats));
            }
            let quoted = matches!(t.token_type, TokenType::String | TokenType::Variable);
            if quoted && t.str_open != 0 {
                line.push(t.str_open);
            }
            line.extend_from_slice(value);
            if quoted && t.str_close != 0 {
                line.push(t.str_close);
            }
            String::from_utf8_lossy(&line).into_owned()
        })
        .collect()
}
