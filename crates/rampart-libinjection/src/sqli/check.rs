//! Deciding whether a fingerprint is SQL injection: it must be in
//! libinjection's fingerprint set, and then survive the checks that
//! libinjection added to tell very short fingerprints (two or three
//! tokens) in ordinary text from the same shapes in attacks.

use super::fold::Folded;
use super::keywords;
use super::tokens::{TokenType as T, first, text};

pub(crate) fn is_sqli(fp: &[u8], folded: &Folded, input: &[u8]) -> bool {
    keywords::is_sqli_fingerprint(fp) && !whitelisted(fp, folded, input)
}

/// True when the fingerprint matched but the input is known benign.
fn whitelisted(fp: &[u8], folded: &Folded, input: &[u8]) -> bool {
    let tok = |i| folded.tokens.get(i);
    let ty = |i| folded.tokens.ty(i);

    // SQL Server's audit log drops statements mentioning sp_password,
    // which attackers use to hide a trailing comment.
    if fp.len() > 1
        && fp.last() == Some(&b'c')
        && memchr::memmem::find(input, b"sp_password").is_some()
    {
        return false;
    }

    match fp.len() {
        2 => {
            if fp.get(1) == Some(&b'U') {
                // `1 union` is plausible text unless folding or comments
                // were involved.
                return folded.stats_tokens == 2;
            }
            if first(tok(1)) == b'#' {
                return true;
            }
            // `word --` / `word #`: only a C-style comment is suspicious.
            if ty(0) == T::Bareword && ty(1) == T::Comment && first(tok(1)) != b'/' {
                return true;
            }
            if ty(0) == T::Number && ty(1) == T::Comment {
                if first(tok(1)) == b'/' || folded.stats_tokens > 2 {
                    return false;
                }
                // `1234--` is an attack, `1234-ABCD--` (base64-ish ids)
                // is not: look at what follows the number in the input.
                let at = tok(0).len;
                let next = input.get(at).copied().unwrap_or(0);
                let after = input.get(at + 1).copied().unwrap_or(0);
                let attack = next <= b' '
                    || (next == b'/' && after == b'*')
                    || (next == b'-' && after == b'-');
                return !attack;
            }
            // Text often contains `--`; only a trailing bare `--` counts.
            if tok(1).len > 2 && first(tok(1)) == b'-' {
                return true;
            }
            false
        }
        3 => {
            if fp == b"sos" || fp == b"s&s" {
                // `...foo' + 'bar...` is string concatenation only when
                // the strings are unopened and unclosed at the edges.
                let (a, c) = (tok(0), tok(2));
                let concatenation =
                    a.str_open == 0 && c.str_close == 0 && a.str_close == c.str_open;
                return !concatenation;
            }
            if matches!(fp, b"s&n" | b"n&1" | b"1&1" | b"1&v" | b"1&s") {
                // `sexy and 17` is text; `sexy and 17<18` was folded.
                return folded.stats_tokens == 3;
            }
            if ty(1) == T::Keyword {
                // Only INTO OUTFILE / INTO DUMPFILE make three tokens
                // around a keyword an attack.
                let kw = text(tok(1));
                let into =
                    kw.len() >= 5 && kw.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"INTO"));
                return !into;
            }
            false
        }
        _ => false,
    }
}
