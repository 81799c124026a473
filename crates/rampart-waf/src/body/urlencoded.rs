//! `application/x-www-form-urlencoded` (and QUERY_STRING) splitting.

/// Splits on `&`, then each pair on its first `=`. A pair without `=` is a
/// name with an empty value; a pair starting with `=` keeps its empty
/// name, as ModSecurity does. Empty segments (`a=1&&b=2`, a trailing `&`)
/// carry nothing and are skipped, like Coraza and v2 do.
pub(super) fn parse(input: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match memchr::memchr(b'=', pair) {
            Some(eq) => {
                let (name, rest) = pair.split_at(eq);
                // `rest` starts with the `=` itself.
                let value = rest.get(1..).unwrap_or_default();
                (decode(name), decode(value))
            }
            None => (decode(pair), Vec::new()),
        })
        .collect()
}

/// ModSecurity's non-strict URL decoding: `+` is a space, `%` followed by
/// two hex digits is that byte, and any other `%` (truncated or with
/// non-hex digits) stays as written so evasions remain visible to rules.
pub(super) fn decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (
                input.get(i + 1).copied().and_then(hex_value),
                input.get(i + 2).copied().and_then(hex_value),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
