//! libinjection's SQLi detection: tokenize, fold to at most five tokens,
//! look the fingerprint up, filter known false positives — in each of the
//! contexts the input could sit in inside a query.
//!
//! All of it is written here from libinjection's algorithm; only the word
//! and fingerprint table comes from `libinjectionrs` (see `keywords`).
//! That port's own SQLi code could not be used as is: its folding never
//! merges three-word phrases (`IN BOOLEAN MODE`, `CREATE OR REPLACE`,
//! `LOCK IN SHARE MODE`), its whitelist compares `INTO` case-sensitively,
//! and its word parser is quadratic in the length of dotted words (a
//! megabyte of `a.a.a…` took 37 s).

mod check;
mod fold;
mod keywords;
mod tokenizer;
mod tokens;

#[cfg(test)]
mod tests;

use tokenizer::{Dialect, Quote};

/// The fingerprint of `input` if it is SQL injection in any context.
pub(crate) fn detect(input: &[u8]) -> Option<Vec<u8>> {
    if input.is_empty() {
        return None;
    }
    // As-is, as the continuation of a '…' string, as the continuation of
    // a "…" string (MySQL is the dialect where " quotes strings). A pass
    // that met MySQL-only comment syntax is retried as MySQL.
    let mut contexts = vec![(Quote::None, true)];
    if input.contains(&b'\'') {
        contexts.push((Quote::Single, true));
    }
    if input.contains(&b'"') {
        contexts.push((Quote::Double, false));
    }
    for (quote, ansi_first) in contexts {
        if ansi_first {
            let (fp, mysql_comments) = fingerprint(input, quote, Dialect::Ansi);
            if fp.is_some() {
                return fp;
            }
            if !mysql_comments {
                continue;
            }
        }
        if let (Some(fp), _) = fingerprint(input, quote, Dialect::Mysql) {
            return Some(fp);
        }
    }
    None
}

/// One pass: the fingerprint if it is SQLi, and whether MySQL-only
/// comment syntax was seen.
fn fingerprint(input: &[u8], quote: Quote, dialect: Dialect) -> (Option<Vec<u8>>, bool) {
    let mut folded = fold::fold(input, quote, dialect);
    let fp = fold::fingerprint(&mut folded);
    let hit = check::is_sqli(&fp, &folded, input);
    (hit.then_some(fp), folded.mysql_comments)
}

/// The fingerprint of `input` in one context, whatever the verdict.
#[cfg(test)]
pub(crate) fn raw_fingerprint(input: &[u8]) -> Vec<u8> {
    let mut folded = fold::fold(input, Quote::None, Dialect::Ansi);
    fold::fingerprint(&mut folded)
}

/// The folded tokens of `input`, one line each, printed the way
/// libinjection's test driver prints them (`s 'quoted'`, `v @@name`).
#[cfg(test)]
pub(crate) fn folded_tokens(input: &[u8]) -> Vec<String> {
    let folded = fold::fold(input, Quote::None, Dialect::Ansi);
    (0..folded.len)
        .map(|i| print_token(folded.tokens.get(i)))
        .collect()
}

/// The tokens of `input` before folding, printed as above.
#[cfg(test)]
pub(crate) fn token_lines(input: &[u8]) -> Vec<String> {
    let mut tokenizer = tokenizer::Tokenizer::new(input, Quote::None, Dialect::Ansi);
    std::iter::from_fn(|| tokenizer.next_token())
        .map(|t| print_token(&t))
        .collect()
}

#[cfg(test)]
fn print_token(t: &tokens::Token) -> String {
    use tokens::TokenType;
    let value = tokens::text(t);
    let value = value.split(|&b| b == 0).next().unwrap_or(&[]);
    let mut line = vec![t.token_type.to_char(), b' '];
    if t.token_type == TokenType::Variable {
        line.extend(std::iter::repeat_n(b'@', usize::from(t.count.min(2))));
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
}
