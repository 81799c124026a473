//! `t:` transformations. CONTRACT (the engine relies on these signatures):
//!
//! * [`Transformation::parse`] maps a SecLang name (`lowercase`,
//!   `urlDecodeUni`, …, case-insensitive) to a value, `Err` for unknown names.
//! * [`Transformation::apply`] never panics and returns `Cow::Borrowed` when
//!   the input is unchanged, so the engine can cache cheaply. The converse
//!   holds too: `Borrowed` always means "unchanged" (a trim that could
//!   return a subslice returns it owned), so callers may test for it.
//! * [`apply_chain`] runs a rule's `t:` list in order, allocating only when
//!   some step actually rewrites the value.
//!
//! Semantics follow ModSecurity v3; where Coraza (which passes the CRS
//! regression suite) deliberately differs, Coraza wins — each module says
//! where that happens. Every transformation first scans for the first byte
//! it would touch and returns the input borrowed when there is none: the
//! engine runs them on every variable of every request, and most values
//! need no rewriting.

use std::borrow::Cow;

mod bestfit;
mod codec;
mod escape;
mod html;
mod path;
mod text;
mod url;

#[cfg(test)]
mod tests;

/// One `t:` transformation. Names, aliases and semantics: see `NAMES` and
/// the submodules (`url`, `html`, `escape`, `text`, `path`, `codec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transformation {
    None,
    Lowercase,
    Uppercase,
    UrlDecode,
    UrlDecodeUni,
    UrlEncode,
    HtmlEntityDecode,
    JsDecode,
    CssDecode,
    CmdLine,
    CompressWhitespace,
    RemoveWhitespace,
    RemoveNulls,
    ReplaceNulls,
    RemoveComments,
    RemoveCommentsChar,
    ReplaceComments,
    NormalizePath,
    NormalizePathWin,
    Base64Decode,
    Base64DecodeExt,
    Base64Encode,
    HexDecode,
    HexEncode,
    SqlHexDecode,
    EscapeSeqDecode,
    Utf8ToUnicode,
    Length,
    Md5,
    Sha1,
    Trim,
    TrimLeft,
    TrimRight,
    ParityEven7bit,
    ParityOdd7bit,
    ParityZero7bit,
    Reverse,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown transformation `{0}`")]
pub struct UnknownTransformation(pub String);

/// Canonical SecLang spelling of every transformation, plus the aliases
/// ModSecurity accepts (British/American `normalise`/`normalize`).
const NAMES: &[(&str, Transformation)] = &[
    ("none", Transformation::None),
    ("lowercase", Transformation::Lowercase),
    ("uppercase", Transformation::Uppercase),
    ("urlDecode", Transformation::UrlDecode),
    ("urlDecodeUni", Transformation::UrlDecodeUni),
    ("urlEncode", Transformation::UrlEncode),
    ("htmlEntityDecode", Transformation::HtmlEntityDecode),
    ("jsDecode", Transformation::JsDecode),
    ("cssDecode", Transformation::CssDecode),
    ("cmdLine", Transformation::CmdLine),
    ("compressWhitespace", Transformation::CompressWhitespace),
    ("removeWhitespace", Transformation::RemoveWhitespace),
    ("removeNulls", Transformation::RemoveNulls),
    ("replaceNulls", Transformation::ReplaceNulls),
    ("removeComments", Transformation::RemoveComments),
    ("removeCommentsChar", Transformation::RemoveCommentsChar),
    ("replaceComments", Transformation::ReplaceComments),
    ("normalizePath", Transformation::NormalizePath),
    ("normalisePath", Transformation::NormalizePath),
    ("normalizePathWin", Transformation::NormalizePathWin),
    ("normalisePathWin", Transformation::NormalizePathWin),
    ("base64Decode", Transformation::Base64Decode),
    ("base64DecodeExt", Transformation::Base64DecodeExt),
    ("base64Encode", Transformation::Base64Encode),
    ("hexDecode", Transformation::HexDecode),
    ("hexEncode", Transformation::HexEncode),
    ("sqlHexDecode", Transformation::SqlHexDecode),
    ("escapeSeqDecode", Transformation::EscapeSeqDecode),
    ("utf8toUnicode", Transformation::Utf8ToUnicode),
    ("length", Transformation::Length),
    ("md5", Transformation::Md5),
    ("sha1", Transformation::Sha1),
    ("trim", Transformation::Trim),
    ("trimLeft", Transformation::TrimLeft),
    ("trimRight", Transformation::TrimRight),
    ("parityEven7bit", Transformation::ParityEven7bit),
    ("parityOdd7bit", Transformation::ParityOdd7bit),
    ("parityZero7bit", Transformation::ParityZero7bit),
    ("reverse", Transformation::Reverse),
];

impl Transformation {
    /// Every transformation once (aliases excluded), for exhaustive tests.
    pub const ALL: [Transformation; 37] = [
        Self::None,
        Self::Lowercase,
        Self::Uppercase,
        Self::UrlDecode,
        Self::UrlDecodeUni,
        Self::UrlEncode,
        Self::HtmlEntityDecode,
        Self::JsDecode,
        Self::CssDecode,
        Self::CmdLine,
        Self::CompressWhitespace,
        Self::RemoveWhitespace,
        Self::RemoveNulls,
        Self::ReplaceNulls,
        Self::RemoveComments,
        Self::RemoveCommentsChar,
        Self::ReplaceComments,
        Self::NormalizePath,
        Self::NormalizePathWin,
        Self::Base64Decode,
        Self::Base64DecodeExt,
        Self::Base64Encode,
        Self::HexDecode,
        Self::HexEncode,
        Self::SqlHexDecode,
        Self::EscapeSeqDecode,
        Self::Utf8ToUnicode,
        Self::Length,
        Self::Md5,
        Self::Sha1,
        Self::Trim,
        Self::TrimLeft,
        Self::TrimRight,
        Self::ParityEven7bit,
        Self::ParityOdd7bit,
        Self::ParityZero7bit,
        Self::Reverse,
    ];

    pub fn parse(name: &str) -> Result<Self, UnknownTransformation> {
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, t)| t)
            .ok_or_else(|| UnknownTransformation(name.to_owned()))
    }

    /// The canonical SecLang name (American spelling for the path ones, as
    /// the CRS writes them), e.g. for audit logs.
    pub fn name(&self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, t)| t == self)
            .map_or("none", |&(n, _)| n)
    }

    pub fn apply<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        let out = match self {
            Self::None => Cow::Borrowed(input),
            Self::Lowercase => text::lowercase(input),
            Self::Uppercase => text::uppercase(input),
            Self::UrlDecode => url::url_decode(input),
            Self::UrlDecodeUni => url::url_decode_uni(input),
            Self::UrlEncode => url::url_encode(input),
            Self::HtmlEntityDecode => html::html_entity_decode(input),
            Self::JsDecode => escape::js_decode(input),
            Self::CssDecode => escape::css_decode(input),
            Self::CmdLine => text::cmd_line(input),
            Self::CompressWhitespace => text::compress_whitespace(input),
            Self::RemoveWhitespace => text::remove_whitespace(input),
            Self::RemoveNulls => text::remove_nulls(input),
            Self::ReplaceNulls => text::replace_nulls(input),
            Self::RemoveComments => text::remove_comments(input),
            Self::RemoveCommentsChar => text::remove_comments_char(input),
            Self::ReplaceComments => text::replace_comments(input),
            Self::NormalizePath => path::normalize_path(input),
            Self::NormalizePathWin => path::normalize_path_win(input),
            Self::Base64Decode => codec::base64_decode(input),
            Self::Base64DecodeExt => codec::base64_decode_ext(input),
            Self::Base64Encode => codec::base64_encode(input),
            Self::HexDecode => codec::hex_decode(input),
            Self::HexEncode => codec::hex_encode(input),
            Self::SqlHexDecode => codec::sql_hex_decode(input),
            Self::EscapeSeqDecode => escape::escape_seq_decode(input),
            Self::Utf8ToUnicode => url::utf8_to_unicode(input),
            Self::Length => codec::length(input),
            Self::Md5 => codec::md5(input),
            Self::Sha1 => codec::sha1(input),
            Self::Trim => text::trim(input),
            Self::TrimLeft => text::trim_left(input),
            Self::TrimRight => text::trim_right(input),
            Self::ParityEven7bit => text::parity_even_7bit(input),
            Self::ParityOdd7bit => text::parity_odd_7bit(input),
            Self::ParityZero7bit => text::parity_zero_7bit(input),
            Self::Reverse => text::reverse(input),
        };
        settle(input, out)
    }
}

impl std::str::FromStr for Transformation {
    type Err = UnknownTransformation;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::parse(name)
    }
}

impl std::fmt::Display for Transformation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Runs `chain` left to right. The result borrows `input` unless some step
/// rewrote it; intermediate values are dropped as soon as the next step
/// produces its own.
pub fn apply_chain<'a>(chain: &[Transformation], input: &'a [u8]) -> Cow<'a, [u8]> {
    let mut current = Cow::Borrowed(input);
    for t in chain {
        let rewritten = match t.apply(&current) {
            Cow::Owned(v) => Some(v),
            Cow::Borrowed(_) => None,
        };
        if let Some(v) = rewritten {
            current = Cow::Owned(v);
        }
    }
    current
}

/// Decoders that hit a lone `%` or `\` may rebuild a value identical to the
/// input; hand back the borrow so "unchanged" is always `Borrowed`.
fn settle<'a>(input: &'a [u8], out: Cow<'a, [u8]>) -> Cow<'a, [u8]> {
    match out {
        Cow::Owned(v) if v.as_slice() == input => Cow::Borrowed(input),
        other => other,
    }
}

/// A fresh output buffer holding the untouched prefix `input[..pos]`.
fn prefix(input: &[u8], pos: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(input.get(..pos).unwrap_or(input));
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte written as two hex digits at `input[at..at + 2]`, if both are hex.
fn hex_pair(input: &[u8], at: usize) -> Option<u8> {
    let hi = hex_val(*input.get(at)?)?;
    let lo = hex_val(*input.get(at.checked_add(1)?)?)?;
    Some(hi << 4 | lo)
}

/// C's `isspace` in the "C" locale, which is what ModSecurity tests with.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}
