//! Request body processors. CONTRACT (the engine relies on these
//! signatures): each parser takes the raw body, never panics, bounds its
//! own work, and reports malformed input as data (REQBODY_ERROR and the
//! MULTIPART_* flags) rather than failing the request.
//!
//! The behaviour follows ModSecurity (v2/v3) and Coraza closely enough for
//! the OWASP CRS regression suite; where they disagree, the choice and its
//! reason is noted next to the code that makes it.

pub mod fuzz;
mod json;
mod multipart;
mod urlencoded;
mod xml;

#[cfg(test)]
mod tests;

pub use multipart::MAX_PART_HEADERS;

/// `a=1&b=2` as ModSecurity splits it (`+` is a space, `%XX` decoded,
/// invalid escapes kept as written), in order, repeated names kept.
pub fn parse_urlencoded(input: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    urlencoded::parse(input)
}

/// Decodes one urlencoded component the way [`parse_urlencoded`] does
/// (`+` → space, `%XX` → byte, anything else kept literally). Exposed for
/// callers that hold a single name or value, and for fuzzing.
pub fn urldecode_component(input: &[u8]) -> Vec<u8> {
    urlencoded::decode(input)
}

/// Name/value pairs in order, repeats kept (ARGS, ARGS_POST).
pub type Args = Vec<(Vec<u8>, Vec<u8>)>;

/// Why a body could not be processed (REQBODY_ERROR_MSG).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(pub String);

/// JSON flattened into ARGS the way ModSecurity/Coraza name them
/// (`json.a.b`, arrays `json.a.0`), values as their text.
pub fn parse_json(body: &[u8], max_depth: usize) -> Result<Args, BodyError> {
    json::parse(body, max_depth)
}

/// What `XML:/*` and `XML://@*` select.
#[derive(Debug, Default, Clone)]
pub struct XmlDocument {
    /// Text content of every element, in document order.
    pub text: Vec<Vec<u8>>,
    /// Every attribute value, in document order.
    pub attribute_values: Vec<Vec<u8>>,
}

pub fn parse_xml(body: &[u8]) -> Result<XmlDocument, BodyError> {
    xml::parse(body)
}

/// One file part of a multipart body (FILES, FILES_NAMES, FILES_SIZES).
#[derive(Debug, Default, Clone)]
pub struct FilePart {
    pub field_name: Vec<u8>,
    pub file_name: Vec<u8>,
    pub size: usize,
    pub content_type: Option<Vec<u8>>,
}

/// The MULTIPART_* variables CRS reads, each true when the body showed it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MultipartFlags {
    pub strict_error: bool,
    pub unmatched_boundary: bool,
    pub boundary_quoted: bool,
    pub boundary_whitespace: bool,
    pub data_before: bool,
    pub data_after: bool,
    pub header_folding: bool,
    pub lf_line: bool,
    pub crlf_lf_lines: bool,
    pub missing_semicolon: bool,
    pub invalid_quoting: bool,
    pub invalid_part: bool,
    pub invalid_header_folding: bool,
    pub file_limit_exceeded: bool,
}

#[derive(Debug, Default, Clone)]
pub struct Multipart {
    /// Non-file fields (ARGS_POST).
    pub args: Vec<(Vec<u8>, Vec<u8>)>,
    pub files: Vec<FilePart>,
    /// Every part's headers as (part field name, "Name: value") for
    /// MULTIPART_PART_HEADERS. The line is kept as sent (only its line
    /// break removed, folded continuations joined with a space), so rules
    /// see odd characters in header names.
    pub part_headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Field names of every part, files included (MULTIPART_NAME…).
    pub part_names: Vec<Vec<u8>>,
    pub file_names: Vec<Vec<u8>>,
    pub flags: MultipartFlags,
    /// Set when the body could not be parsed at all (REQBODY_ERROR).
    pub error: Option<BodyError>,
}

/// Limits a multipart parse respects.
#[derive(Debug, Clone, Copy)]
pub struct MultipartLimits {
    pub max_parts: usize,
    pub max_files: usize,
}

impl Default for MultipartLimits {
    fn default() -> Self {
        Self {
            max_parts: 1_000,
            max_files: 100,
        }
    }
}

/// `content_type` is the whole Content-Type header value (the boundary is
/// read from it).
///
/// Parts read before a parse error are kept (as ModSecurity does when it
/// finalises a failed parse), so rules still see them; `error` tells the
/// engine to raise REQBODY_ERROR.
pub fn parse_multipart(content_type: &[u8], body: &[u8], limits: MultipartLimits) -> Multipart {
    multipart::parse(content_type, body, limits)
}
