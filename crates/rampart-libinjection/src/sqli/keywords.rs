//! libinjection's word table (SQL keywords, functions, operators, partial
//! multi-word phrases and the fingerprint set), as packaged by
//! `libinjectionrs`, looked up the way libinjection does: case-insensitive
//! for ASCII, exact otherwise.
//!
//! The table is read through its own lookup rather than the port's,
//! because the port answers "bareword" both for words missing from the
//! table and for entries whose type *is* bareword — the prefixes of longer
//! phrases like `IN BOOLEAN` — and libinjection needs the difference to
//! fold `IN BOOLEAN MODE` into one keyword.

use libinjectionrs::sqli::sqli_data::SQL_KEYWORDS;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Longest key worth looking up: libinjection's token values hold at
/// most 31 bytes, and its fingerprints (prefixed with `0`) at most 6.
const MAX_KEY: usize = 32;

fn table() -> &'static HashMap<&'static [u8], u8> {
    static TABLE: OnceLock<HashMap<&'static [u8], u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        SQL_KEYWORDS
            .iter()
            .map(|k| (k.word.as_bytes(), k.token_type))
            .collect()
    })
}

/// The table's type character for `word`, if the word is in the table.
pub(crate) fn lookup(word: &[u8]) -> Option<u8> {
    if word.len() > MAX_KEY {
        return None;
    }
    let mut key = [0u8; MAX_KEY];
    let key = key.get_mut(..word.len())?;
    key.copy_from_slice(word);
    key.make_ascii_uppercase();
    table().get(&*key).copied()
}

/// Whether `fingerprint` (e.g. `s&sos`) is one of libinjection's SQLi
/// fingerprints. The table stores them upper-cased behind a `0`, which
/// keeps them apart from real words.
pub(crate) fn is_sqli_fingerprint(fingerprint: &[u8]) -> bool {
    if fingerprint.is_empty() || fingerprint.len() >= MAX_KEY {
        return false;
    }
    let mut key = Vec::with_capacity(fingerprint.len() + 1);
    key.push(b'0');
    key.extend_from_slice(fingerprint);
    lookup(&key) == Some(b'F')
}
