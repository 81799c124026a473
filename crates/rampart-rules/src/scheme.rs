//! What a rule may refer to: the built-in fields with their types, and the
//! named lists in scope for the rule's account.

use std::collections::HashMap;

use crate::limits::Limits;

/// A built-in field. Names follow Cloudflare's where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    IpSrc,
    IpSrcCountry,
    IpSrcAsnum,
    HttpHost,
    HttpRequestMethod,
    HttpRequestUri,
    HttpRequestUriPath,
    HttpRequestUriQuery,
    HttpRequestUriArgs,
    HttpRequestHeaders,
    HttpCookie,
    HttpUserAgent,
    HttpReferer,
    HttpRequestVersion,
    Ssl,
    HttpRequestBodySize,
    RampartBotVerified,
    RampartClientClearance,
    /// The response status; only in a response scheme
    /// ([`Scheme::for_responses`]), as in a rate limit's counting expression.
    HttpResponseCode,
}

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Bytes (usually text).
    Bytes,
    Int,
    Ip,
    Bool,
    /// A map from a name to an array of bytes, read as `field["name"]`.
    BytesArrayMap,
}

impl FieldType {
    /// "a string", "an IP address": for messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Bytes => "a string",
            Self::Int => "an integer",
            Self::Ip => "an IP address",
            Self::Bool => "a boolean",
            Self::BytesArrayMap => "an array of strings",
        }
    }
}

impl Field {
    /// Every field, in documentation order.
    pub const ALL: [Self; 19] = [
        Self::IpSrc,
        Self::IpSrcCountry,
        Self::IpSrcAsnum,
        Self::HttpHost,
        Self::HttpRequestMethod,
        Self::HttpRequestUri,
        Self::HttpRequestUriPath,
        Self::HttpRequestUriQuery,
        Self::HttpRequestUriArgs,
        Self::HttpRequestHeaders,
        Self::HttpCookie,
        Self::HttpUserAgent,
        Self::HttpReferer,
        Self::HttpRequestVersion,
        Self::Ssl,
        Self::HttpRequestBodySize,
        Self::RampartBotVerified,
        Self::RampartClientClearance,
        Self::HttpResponseCode,
    ];

    /// The name rules use.
    pub fn name(self) -> &'static str {
        match self {
            Self::IpSrc => "ip.src",
            Self::IpSrcCountry => "ip.src.country",
            Self::IpSrcAsnum => "ip.src.asnum",
            Self::HttpHost => "http.host",
            Self::HttpRequestMethod => "http.request.method",
            Self::HttpRequestUri => "http.request.uri",
            Self::HttpRequestUriPath => "http.request.uri.path",
            Self::HttpRequestUriQuery => "http.request.uri.query",
            Self::HttpRequestUriArgs => "http.request.uri.args",
            Self::HttpRequestHeaders => "http.request.headers",
            Self::HttpCookie => "http.cookie",
            Self::HttpUserAgent => "http.user_agent",
            Self::HttpReferer => "http.referer",
            Self::HttpRequestVersion => "http.request.version",
            Self::Ssl => "ssl",
            Self::HttpRequestBodySize => "http.request.body.size",
            Self::RampartBotVerified => "rampart.bot.verified",
            Self::RampartClientClearance => "rampart.client.clearance",
            Self::HttpResponseCode => "http.response.code",
        }
    }

    /// The field with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The type of its value.
    pub fn ty(self) -> FieldType {
        match self {
            Self::IpSrc => FieldType::Ip,
            Self::IpSrcAsnum | Self::HttpRequestBodySize | Self::HttpResponseCode => FieldType::Int,
            Self::Ssl | Self::RampartBotVerified | Self::RampartClientClearance => FieldType::Bool,
            Self::HttpRequestUriArgs | Self::HttpRequestHeaders => FieldType::BytesArrayMap,
            Self::IpSrcCountry
            | Self::HttpHost
            | Self::HttpRequestMethod
            | Self::HttpRequestUri
            | Self::HttpRequestUriPath
            | Self::HttpRequestUriQuery
            | Self::HttpCookie
            | Self::HttpUserAgent
            | Self::HttpReferer
            | Self::HttpRequestVersion => FieldType::Bytes,
        }
    }
}

/// What a named list holds. Only IP lists exist today; the enum leaves room
/// for ASN or string lists without an API break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListKind {
    Ip,
}

/// The fields and lists a rule may use, and the limits it must fit in.
#[derive(Debug, Clone)]
pub struct Scheme {
    disabled: Vec<Field>,
    lists: HashMap<String, ListKind>,
    limits: Limits,
}

impl Default for Scheme {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheme {
    /// Every request field, no lists, default limits. Response fields are
    /// unknown: a request rule runs before there is a response.
    pub fn new() -> Self {
        Self {
            disabled: vec![Field::HttpResponseCode],
            lists: HashMap::new(),
            limits: Limits::DEFAULT,
        }
    }

    /// Every request field plus the response's (`http.response.code`), for
    /// expressions evaluated once the response is known.
    pub fn for_responses() -> Self {
        Self {
            disabled: Vec::new(),
            ..Self::new()
        }
    }

    /// Declares a list the rules may name as `$name` (without the `$`).
    pub fn add_list(&mut self, name: impl Into<String>, kind: ListKind) -> &mut Self {
        self.lists.insert(name.into(), kind);
        self
    }

    /// Makes a field unknown to rules (e.g. one a plan does not include).
    pub fn disable_field(&mut self, field: Field) -> &mut Self {
        if !self.disabled.contains(&field) {
            self.disabled.push(field);
        }
        self
    }

    /// Replaces the limits.
    pub fn set_limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// The limits rules compiled against this scheme must fit in.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The field with this name, if it exists and is enabled.
    pub fn field(&self, name: &str) -> Option<Field> {
        Field::from_name(name).filter(|f| !self.disabled.contains(f))
    }

    /// Names of the enabled fields, for suggestions.
    pub(crate) fn field_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        Field::ALL
            .into_iter()
            .filter(|f| !self.disabled.contains(f))
            .map(Field::name)
    }

    /// The kind of the list with this name.
    pub fn list(&self, name: &str) -> Option<ListKind> {
        self.lists.get(name).copied()
    }

    pub(crate) fn list_names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }
}
