//! `normalizePath` / `normalizePathWin` (alias `normalise…`).
//!
//! Lexical cleaning as Coraza does it (Go's `filepath.Clean`, which agrees
//! with ModSecurity's regression vectors): repeated slashes collapse, `.`
//! segments vanish, `x/..` pairs cancel, `..` above the root of an absolute
//! path is dropped while a relative path keeps its leading `..`s. A trailing
//! slash on the input survives, and a path that cleans to `.` becomes empty.

use std::borrow::Cow;

/// Whether cleaning could change `input`: an empty inner segment, or a `.`
/// or `..` segment. Lets the common clean URL path skip all allocation.
fn may_need_cleaning(input: &[u8]) -> bool {
    // Most values have neither a dot nor a double slash: decide in one pass.
    if memchr::memchr(b'.', input).is_none() && memchr::memmem::find(input, b"//").is_none() {
        return false;
    }
    let last = input.split(|&b| b == b'/').count().saturating_sub(1);
    input
        .split(|&b| b == b'/')
        .enumerate()
        .any(|(k, seg)| match seg {
            b"" => k != 0 && k != last,
            b"." | b".." => true,
            _ => false,
        })
}

/// Go's `path.Clean` over bytes, without its "empty → `.`" rule (the caller
/// wants empty).
fn clean(path: &[u8]) -> Vec<u8> {
    let rooted = path.first() == Some(&b'/');
    let mut out: Vec<u8> = Vec::with_capacity(path.len());
    // `out[..floor]` is never removed by a `..`: the root, or leading `..`s.
    let mut floor = 0;
    if rooted {
        out.push(b'/');
        floor = 1;
    }
    for seg in path.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if out.len() > floor {
                    let cut = out
                        .iter()
                        .rposition(|&b| b == b'/')
                        .filter(|&p| p >= floor)
                        .unwrap_or(floor);
                    out.truncate(cut);
                } else if !rooted {
                    if !out.is_empty() {
                        out.push(b'/');
                    }
                    out.extend_from_slice(b"..");
                    floor = out.len();
                }
            }
            _ => {
                if out.len() > usize::from(rooted) {
                    out.push(b'/');
                }
                out.extend_from_slice(seg);
            }
        }
    }
    out
}

pub(super) fn normalize_path(input: &[u8]) -> Cow<'_, [u8]> {
    if !may_need_cleaning(input) {
        return Cow::Borrowed(input);
    }
    let mut out = clean(input);
    // Coraza appends the slash to any input ending in one, so `//` stays
    // `//` (a ModSecurity vector); a bare `/` is left alone.
    if !out.is_empty() && input.len() > 1 && input.last() == Some(&b'/') {
        out.push(b'/');
    }
    Cow::Owned(out)
}

/// Backslashes are separators too, and the result uses `/`.
pub(super) fn normalize_path_win(input: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\\', input).is_none() {
        return normalize_path(input);
    }
    let slashed: Vec<u8> = input
        .iter()
        .map(|&b| if b == b'\\' { b'/' } else { b })
        .collect();
    match normalize_path(&slashed) {
        Cow::Borrowed(_) => Cow::Owned(slashed),
        Cow::Owned(v) => Cow::Owned(v),
    }
}
