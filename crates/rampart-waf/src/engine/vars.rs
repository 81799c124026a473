//! SecLang variables: their names, how a target selects them, and the
//! request/response data they are read from.

use std::borrow::Cow;

/// Every variable the engine knows. Collections take `:key` selectors;
/// scalars ignore them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Var {
    Args,
    ArgsGet,
    ArgsPost,
    ArgsNames,
    ArgsGetNames,
    ArgsPostNames,
    ArgsCombinedSize,
    RequestHeaders,
    RequestHeadersNames,
    RequestCookies,
    RequestCookiesNames,
    RequestUri,
    RequestUriRaw,
    RequestFilename,
    RequestBasename,
    PathInfo,
    RequestLine,
    RequestMethod,
    RequestProtocol,
    QueryString,
    RequestBody,
    RequestBodyLength,
    FullRequestLength,
    Files,
    FilesNames,
    FilesSizes,
    FilesCombinedSize,
    FilesTmpNames,
    MultipartPartHeaders,
    MultipartFilename,
    MultipartName,
    MultipartFlag(MultipartFlagKind),
    ReqbodyError,
    ReqbodyErrorMsg,
    ReqbodyProcessor,
    Xml,
    Tx,
    ResponseStatus,
    ResponseHeaders,
    ResponseHeadersNames,
    ResponseBody,
    ResponseProtocol,
    ResponseContentType,
    ResponseContentLength,
    StatusLine,
    UniqueId,
    RemoteAddr,
    RemotePort,
    RemoteHost,
    ServerAddr,
    ServerPort,
    ServerName,
    AuthType,
    // The SecLang name is MATCHED_VAR.
    #[allow(clippy::enum_variant_names)]
    MatchedVar,
    MatchedVarName,
    MatchedVars,
    MatchedVarsNames,
    Duration,
    Time,
    TimeDay,
    TimeEpoch,
    TimeHour,
    TimeMin,
    TimeMon,
    TimeSec,
    TimeWday,
    TimeYear,
    HighestSeverity,
    /// ENV, IP, SESSION, GLOBAL, USER, RESOURCE, GEO: no persistence,
    /// only what `setvar` put there during this transaction.
    Store(StoreKind),
    WebserverErrorLog,
    InboundDataError,
    OutboundDataError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum StoreKind {
    Env,
    Ip,
    Session,
    Global,
    User,
    Resource,
    Geo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum MultipartFlagKind {
    StrictError,
    UnmatchedBoundary,
    BoundaryQuoted,
    BoundaryWhitespace,
    DataBefore,
    DataAfter,
    HeaderFolding,
    LfLine,
    CrlfLfLines,
    MissingSemicolon,
    InvalidQuoting,
    InvalidPart,
    InvalidHeaderFolding,
    FileLimitExceeded,
}

const NAMES: &[(&str, Var)] = &[
    ("ARGS", Var::Args),
    ("ARGS_GET", Var::ArgsGet),
    ("ARGS_POST", Var::ArgsPost),
    ("ARGS_NAMES", Var::ArgsNames),
    ("ARGS_GET_NAMES", Var::ArgsGetNames),
    ("ARGS_POST_NAMES", Var::ArgsPostNames),
    ("ARGS_COMBINED_SIZE", Var::ArgsCombinedSize),
    ("REQUEST_HEADERS", Var::RequestHeaders),
    ("REQUEST_HEADERS_NAMES", Var::RequestHeadersNames),
    ("REQUEST_COOKIES", Var::RequestCookies),
    ("REQUEST_COOKIES_NAMES", Var::RequestCookiesNames),
    ("REQUEST_URI", Var::RequestUri),
    ("REQUEST_URI_RAW", Var::RequestUriRaw),
    ("REQUEST_FILENAME", Var::RequestFilename),
    ("REQUEST_BASENAME", Var::RequestBasename),
    ("PATH_INFO", Var::PathInfo),
    ("REQUEST_LINE", Var::RequestLine),
    ("REQUEST_METHOD", Var::RequestMethod),
    ("REQUEST_PROTOCOL", Var::RequestProtocol),
    ("QUERY_STRING", Var::QueryString),
    ("REQUEST_BODY", Var::RequestBody),
    ("REQUEST_BODY_LENGTH", Var::RequestBodyLength),
    ("FULL_REQUEST_LENGTH", Var::FullRequestLength),
    ("FILES", Var::Files),
    ("FILES_NAMES", Var::FilesNames),
    ("FILES_SIZES", Var::FilesSizes),
    ("FILES_COMBINED_SIZE", Var::FilesCombinedSize),
    ("FILES_TMPNAMES", Var::FilesTmpNames),
    ("FILES_TMP_CONTENT", Var::FilesTmpNames),
    ("MULTIPART_PART_HEADERS", Var::MultipartPartHeaders),
    ("MULTIPART_FILENAME", Var::MultipartFilename),
    ("MULTIPART_NAME", Var::MultipartName),
    (
        "MULTIPART_STRICT_ERROR",
        Var::MultipartFlag(MultipartFlagKind::StrictError),
    ),
    (
        "MULTIPART_UNMATCHED_BOUNDARY",
        Var::MultipartFlag(MultipartFlagKind::UnmatchedBoundary),
    ),
    (
        "MULTIPART_BOUNDARY_QUOTED",
        Var::MultipartFlag(MultipartFlagKind::BoundaryQuoted),
    ),
    (
        "MULTIPART_BOUNDARY_WHITESPACE",
        Var::MultipartFlag(MultipartFlagKind::BoundaryWhitespace),
    ),
    (
        "MULTIPART_DATA_BEFORE",
        Var::MultipartFlag(MultipartFlagKind::DataBefore),
    ),
    (
        "MULTIPART_DATA_AFTER",
        Var::MultipartFlag(MultipartFlagKind::DataAfter),
    ),
    (
        "MULTIPART_HEADER_FOLDING",
        Var::MultipartFlag(MultipartFlagKind::HeaderFolding),
    ),
    (
        "MULTIPART_LF_LINE",
        Var::MultipartFlag(MultipartFlagKind::LfLine),
    ),
    (
        "MULTIPART_CRLF_LF_LINES",
        Var::MultipartFlag(MultipartFlagKind::CrlfLfLines),
    ),
    (
        "MULTIPART_MISSING_SEMICOLON",
        Var::MultipartFlag(MultipartFlagKind::MissingSemicolon),
    ),
    (
        "MULTIPART_SEMICOLON_MISSING",
        Var::MultipartFlag(MultipartFlagKind::MissingSemicolon),
    ),
    (
        "MULTIPART_INVALID_QUOTING",
        Var::MultipartFlag(MultipartFlagKind::InvalidQuoting),
    ),
    (
        "MULTIPART_INVALID_PART",
        Var::MultipartFlag(MultipartFlagKind::InvalidPart),
    ),
    (
        "MULTIPART_INVALID_HEADER_FOLDING",
        Var::MultipartFlag(MultipartFlagKind::InvalidHeaderFolding),
    ),
    (
        "MULTIPART_FILE_LIMIT_EXCEEDED",
        Var::MultipartFlag(MultipartFlagKind::FileLimitExceeded),
    ),
    ("REQBODY_ERROR", Var::ReqbodyError),
    ("REQBODY_PROCESSOR_ERROR", Var::ReqbodyError),
    ("REQBODY_ERROR_MSG", Var::ReqbodyErrorMsg),
    ("REQBODY_PROCESSOR_ERROR_MSG", Var::ReqbodyErrorMsg),
    ("REQBODY_PROCESSOR", Var::ReqbodyProcessor),
    ("XML", Var::Xml),
    ("TX", Var::Tx),
    ("RESPONSE_STATUS", Var::ResponseStatus),
    ("RESPONSE_HEADERS", Var::ResponseHeaders),
    ("RESPONSE_HEADERS_NAMES", Var::ResponseHeadersNames),
    ("RESPONSE_BODY", Var::ResponseBody),
    ("RESPONSE_PROTOCOL", Var::ResponseProtocol),
    ("RESPONSE_CONTENT_TYPE", Var::ResponseContentType),
    ("RESPONSE_CONTENT_LENGTH", Var::ResponseContentLength),
    ("STATUS_LINE", Var::StatusLine),
    ("UNIQUE_ID", Var::UniqueId),
    ("REMOTE_ADDR", Var::RemoteAddr),
    ("REMOTE_PORT", Var::RemotePort),
    ("REMOTE_HOST", Var::RemoteHost),
    ("SERVER_ADDR", Var::ServerAddr),
    ("SERVER_PORT", Var::ServerPort),
    ("SERVER_NAME", Var::ServerName),
    ("AUTH_TYPE", Var::AuthType),
    ("MATCHED_VAR", Var::MatchedVar),
    ("MATCHED_VAR_NAME", Var::MatchedVarName),
    ("MATCHED_VARS", Var::MatchedVars),
    ("MATCHED_VARS_NAMES", Var::MatchedVarsNames),
    ("DURATION", Var::Duration),
    ("TIME", Var::Time),
    ("TIME_DAY", Var::TimeDay),
    ("TIME_EPOCH", Var::TimeEpoch),
    ("TIME_HOUR", Var::TimeHour),
    ("TIME_MIN", Var::TimeMin),
    ("TIME_MON", Var::TimeMon),
    ("TIME_SEC", Var::TimeSec),
    ("TIME_WDAY", Var::TimeWday),
    ("TIME_YEAR", Var::TimeYear),
    ("HIGHEST_SEVERITY", Var::HighestSeverity),
    ("ENV", Var::Store(StoreKind::Env)),
    ("IP", Var::Store(StoreKind::Ip)),
    ("SESSION", Var::Store(StoreKind::Session)),
    ("GLOBAL", Var::Store(StoreKind::Global)),
    ("USER", Var::Store(StoreKind::User)),
    ("RESOURCE", Var::Store(StoreKind::Resource)),
    ("GEO", Var::Store(StoreKind::Geo)),
    ("WEBSERVER_ERROR_LOG", Var::WebserverErrorLog),
    ("INBOUND_DATA_ERROR", Var::InboundDataError),
    ("OUTBOUND_DATA_ERROR", Var::OutboundDataError),
];

impl Var {
    pub(crate) fn from_name(name: &str) -> Option<Var> {
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Var::Args => "ARGS",
            Var::ArgsGet => "ARGS_GET",
            Var::ArgsPost => "ARGS_POST",
            Var::ArgsNames => "ARGS_NAMES",
            Var::ArgsGetNames => "ARGS_GET_NAMES",
            Var::ArgsPostNames => "ARGS_POST_NAMES",
            Var::ArgsCombinedSize => "ARGS_COMBINED_SIZE",
            Var::RequestHeaders => "REQUEST_HEADERS",
            Var::RequestHeadersNames => "REQUEST_HEADERS_NAMES",
            Var::RequestCookies => "REQUEST_COOKIES",
            Var::RequestCookiesNames => "REQUEST_COOKIES_NAMES",
            Var::RequestUri => "REQUEST_URI",
            Var::RequestUriRaw => "REQUEST_URI_RAW",
            Var::RequestFilename => "REQUEST_FILENAME",
            Var::RequestBasename => "REQUEST_BASENAME",
            Var::PathInfo => "PATH_INFO",
            Var::RequestLine => "REQUEST_LINE",
            Var::RequestMethod => "REQUEST_METHOD",
            Var::RequestProtocol => "REQUEST_PROTOCOL",
            Var::QueryString => "QUERY_STRING",
            Var::RequestBody => "REQUEST_BODY",
            Var::RequestBodyLength => "REQUEST_BODY_LENGTH",
            Var::FullRequestLength => "FULL_REQUEST_LENGTH",
            Var::Files => "FILES",
            Var::FilesNames => "FILES_NAMES",
            Var::FilesSizes => "FILES_SIZES",
            Var::FilesCombinedSize => "FILES_COMBINED_SIZE",
            Var::FilesTmpNames => "FILES_TMPNAMES",
            Var::MultipartPartHeaders => "MULTIPART_PART_HEADERS",
            Var::MultipartFilename => "MULTIPART_FILENAME",
            Var::MultipartName => "MULTIPART_NAME",
            Var::MultipartFlag(MultipartFlagKind::StrictError) => "MULTIPART_STRICT_ERROR",
            Var::MultipartFlag(MultipartFlagKind::UnmatchedBoundary) => {
                "MULTIPART_UNMATCHED_BOUNDARY"
            }
            Var::MultipartFlag(MultipartFlagKind::BoundaryQuoted) => "MULTIPART_BOUNDARY_QUOTED",
            Var::MultipartFlag(MultipartFlagKind::BoundaryWhitespace) => {
                "MULTIPART_BOUNDARY_WHITESPACE"
            }
            Var::MultipartFlag(MultipartFlagKind::DataBefore) => "MULTIPART_DATA_BEFORE",
            Var::MultipartFlag(MultipartFlagKind::DataAfter) => "MULTIPART_DATA_AFTER",
            Var::MultipartFlag(MultipartFlagKind::HeaderFolding) => "MULTIPART_HEADER_FOLDING",
            Var::MultipartFlag(MultipartFlagKind::LfLine) => "MULTIPART_LF_LINE",
            Var::MultipartFlag(MultipartFlagKind::CrlfLfLines) => "MULTIPART_CRLF_LF_LINES",
            Var::MultipartFlag(MultipartFlagKind::MissingSemicolon) => {
                "MULTIPART_MISSING_SEMICOLON"
            }
            Var::MultipartFlag(MultipartFlagKind::InvalidQuoting) => "MULTIPART_INVALID_QUOTING",
            Var::MultipartFlag(MultipartFlagKind::InvalidPart) => "MULTIPART_INVALID_PART",
            Var::MultipartFlag(MultipartFlagKind::InvalidHeaderFolding) => {
                "MULTIPART_INVALID_HEADER_FOLDING"
            }
            Var::MultipartFlag(MultipartFlagKind::FileLimitExceeded) => {
                "MULTIPART_FILE_LIMIT_EXCEEDED"
            }
            Var::ReqbodyError => "REQBODY_ERROR",
            Var::ReqbodyErrorMsg => "REQBODY_ERROR_MSG",
            Var::ReqbodyProcessor => "REQBODY_PROCESSOR",
            Var::Xml => "XML",
            Var::Tx => "TX",
            Var::ResponseStatus => "RESPONSE_STATUS",
            Var::ResponseHeaders => "RESPONSE_HEADERS",
            Var::ResponseHeadersNames => "RESPONSE_HEADERS_NAMES",
            Var::ResponseBody => "RESPONSE_BODY",
            Var::ResponseProtocol => "RESPONSE_PROTOCOL",
            Var::ResponseContentType => "RESPONSE_CONTENT_TYPE",
            Var::ResponseContentLength => "RESPONSE_CONTENT_LENGTH",
            Var::StatusLine => "STATUS_LINE",
            Var::UniqueId => "UNIQUE_ID",
            Var::RemoteAddr => "REMOTE_ADDR",
            Var::RemotePort => "REMOTE_PORT",
            Var::RemoteHost => "REMOTE_HOST",
            Var::ServerAddr => "SERVER_ADDR",
            Var::ServerPort => "SERVER_PORT",
            Var::ServerName => "SERVER_NAME",
            Var::AuthType => "AUTH_TYPE",
            Var::MatchedVar => "MATCHED_VAR",
            Var::MatchedVarName => "MATCHED_VAR_NAME",
            Var::MatchedVars => "MATCHED_VARS",
            Var::MatchedVarsNames => "MATCHED_VARS_NAMES",
            Var::Duration => "DURATION",
            Var::Time => "TIME",
            Var::TimeDay => "TIME_DAY",
            Var::TimeEpoch => "TIME_EPOCH",
            Var::TimeHour => "TIME_HOUR",
            Var::TimeMin => "TIME_MIN",
            Var::TimeMon => "TIME_MON",
            Var::TimeSec => "TIME_SEC",
            Var::TimeWday => "TIME_WDAY",
            Var::TimeYear => "TIME_YEAR",
            Var::HighestSeverity => "HIGHEST_SEVERITY",
            Var::Store(StoreKind::Env) => "ENV",
            Var::Store(StoreKind::Ip) => "IP",
            Var::Store(StoreKind::Session) => "SESSION",
            Var::Store(StoreKind::Global) => "GLOBAL",
            Var::Store(StoreKind::User) => "USER",
            Var::Store(StoreKind::Resource) => "RESOURCE",
            Var::Store(StoreKind::Geo) => "GEO",
            Var::WebserverErrorLog => "WEBSERVER_ERROR_LOG",
            Var::InboundDataError => "INBOUND_DATA_ERROR",
            Var::OutboundDataError => "OUTBOUND_DATA_ERROR",
        }
    }

    pub(crate) fn is_collection(self) -> bool {
        matches!(
            self,
            Var::Args
                | Var::ArgsGet
                | Var::ArgsPost
                | Var::ArgsNames
                | Var::ArgsGetNames
                | Var::ArgsPostNames
                | Var::RequestHeaders
                | Var::RequestHeadersNames
                | Var::RequestCookies
                | Var::RequestCookiesNames
                | Var::Files
                | Var::FilesNames
                | Var::FilesSizes
                | Var::FilesTmpNames
                | Var::MultipartPartHeaders
                | Var::MultipartFilename
                | Var::MultipartName
                | Var::Xml
                | Var::Tx
                | Var::ResponseHeaders
                | Var::ResponseHeadersNames
                | Var::MatchedVars
                | Var::MatchedVarsNames
                | Var::Store(_)
        )
    }
}

impl Var {
    /// Read from the request/response alone: constant within a phase, so
    /// a target list made only of these can be collected once per phase.
    pub(crate) fn is_request_data(self) -> bool {
        !matches!(
            self,
            Var::Tx
                | Var::Store(_)
                | Var::MatchedVar
                | Var::MatchedVarName
                | Var::MatchedVars
                | Var::MatchedVarsNames
                | Var::Duration
                | Var::Time
                | Var::TimeDay
                | Var::TimeEpoch
                | Var::TimeHour
                | Var::TimeMin
                | Var::TimeMon
                | Var::TimeSec
                | Var::TimeWday
                | Var::TimeYear
                | Var::HighestSeverity
                | Var::ReqbodyProcessor
        )
    }
}

/// What a `:selector` picks from a collection.
#[derive(Debug, Clone)]
pub(crate) enum Selector {
    All,
    /// Lowercased; keys compare case-insensitively.
    Key(String),
    /// `/^literal/`: a lowercased prefix, no regex needed (CRS reads
    /// `TX:/^header_name_920450_/` against every TX name).
    Prefix(String),
    /// `/regex/`, matched case-insensitively against keys.
    Regex(regex::bytes::Regex),
}

impl Selector {
    pub(crate) fn matches(&self, key: &[u8]) -> bool {
        match self {
            Selector::All => true,
            Selector::Key(k) => k.as_bytes().eq_ignore_ascii_case(key),
            Selector::Prefix(p) => key
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes())),
            Selector::Regex(r) => r.is_match(key),
        }
    }

    pub(crate) fn parse(text: Option<&str>) -> Result<Selector, String> {
        let Some(text) = text else {
            return Ok(Selector::All);
        };
        if let Some(inner) = text.strip_prefix('/').and_then(|t| t.strip_suffix('/'))
            && !inner.is_empty()
        {
            if let Some(lit) = inner.strip_prefix('^')
                && !lit.is_empty()
                && lit
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Ok(Selector::Prefix(lit.to_ascii_lowercase()));
            }
            let re = regex::bytes::RegexBuilder::new(inner)
                .case_insensitive(true)
                .size_limit(1 << 22)
                .build()
                .map_err(|e| format!("bad selector regex /{inner}/: {e}"))?;
            return Ok(Selector::Regex(re));
        }
        let text = text
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix('\''))
            .unwrap_or(text);
        Ok(Selector::Key(text.to_ascii_lowercase()))
    }
}

/// One target of a rule: `VAR`, `VAR:sel`, `&VAR…` (count).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub var: Var,
    pub selector: Selector,
    pub count: bool,
}

/// A `!VAR:sel` exclusion.
#[derive(Debug, Clone)]
pub(crate) struct Exclusion {
    pub var: Var,
    pub selector: Selector,
}

impl Exclusion {
    pub(crate) fn excludes(&self, var: Var, key: &[u8]) -> bool {
        self.var == var && self.selector.matches(key)
    }
}

/// A parsed target spec: a target to add or an exclusion.
#[derive(Debug, Clone)]
pub(crate) enum TargetSpec {
    Add(Target),
    Exclude(Exclusion),
}

pub(crate) fn parse_target(text: &str) -> Result<TargetSpec, String> {
    let text = text.trim();
    let (exclude, rest) = match text.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (count, rest) = match rest.strip_prefix('&') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (name, selector) = match rest.split_once(':') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    let var = Var::from_name(name.trim()).ok_or_else(|| format!("unknown variable `{name}`"))?;
    let selector = Selector::parse(selector)?;
    if exclude {
        Ok(TargetSpec::Exclude(Exclusion { var, selector }))
    } else {
        Ok(TargetSpec::Add(Target {
            var,
            selector,
            count,
        }))
    }
}

/// One value a target produced. `source` identifies immutable request or
/// response data so transformed values can be cached per transaction.
#[derive(Debug)]
pub(crate) struct VarValue<'a> {
    pub var: Var,
    pub key: Cow<'a, [u8]>,
    pub value: Cow<'a, [u8]>,
    pub source: Option<u64>,
}

impl VarValue<'_> {
    pub(crate) fn placeholder() -> VarValue<'static> {
        VarValue {
            var: Var::Tx,
            key: Cow::Borrowed(b""),
            value: Cow::Borrowed(b""),
            source: None,
        }
    }

    /// `ARGS:foo`, `REQUEST_URI` (MATCHED_VAR_NAME).
    /// Writes MATCHED_VAR_NAME into a reused buffer.
    pub(crate) fn write_name(&self, out: &mut String) {
        out.clear();
        out.push_str(self.var.name());
        if self.var.is_collection() && !self.key.is_empty() {
            out.push(':');
            match std::str::from_utf8(&self.key) {
                Ok(k) => out.push_str(k),
                Err(_) => out.push_str(&String::from_utf8_lossy(&self.key)),
            }
        }
    }
}
