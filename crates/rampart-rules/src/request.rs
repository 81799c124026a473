//! The request as rules see it: borrowed from the edge's own request, so
//! building one copies nothing, and the scratch space evaluation reuses.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::{COOKIE, REFERER, USER_AGENT};

use crate::scheme::Field;

/// Everything a rule can read about one request. The edge fills it from the
/// connection and hyper's request without copying.
#[derive(Debug, Clone, Copy)]
pub struct RequestFields<'a> {
    /// The client address (after PROXY protocol). IPv4-mapped IPv6 addresses
    /// are compared as IPv4.
    pub ip: IpAddr,
    /// ISO 3166-1 alpha-2, upper case; `None` reads as `""`.
    pub country: Option<[u8; 2]>,
    /// `None` reads as 0.
    pub asn: Option<u32>,
    /// Without the port.
    pub host: &'a str,
    pub method: &'a str,
    /// Path and query, as received (`/a/b?x=1`).
    pub uri: &'a str,
    pub path: &'a str,
    /// Without the `?`; `""` when there is none.
    pub query: &'a str,
    /// `HTTP/1.0`, `HTTP/1.1`, `HTTP/2`.
    pub version: &'a str,
    /// `http.request.headers`, `http.user_agent`, `http.referer` and (when
    /// [`Self::cookie`] is `None`) `http.cookie` read from here.
    pub headers: &'a HeaderMap,
    /// The cookies as one string, for an edge that has joined HTTP/2's
    /// split `cookie` headers; `None` reads the first `Cookie` header.
    pub cookie: Option<&'a str>,
    pub ssl: bool,
    /// Declared (`Content-Length`) or counted body size; 0 when unknown.
    pub body_size: u64,
    pub bot_verified: bool,
    /// The client holds a valid clearance (it passed a challenge).
    pub clearance: bool,
    /// The response status, once there is one (0 before).
    pub response_code: u16,
}

impl<'a> RequestFields<'a> {
    /// A request with empty strings, no headers and `0.0.0.0`: a base for
    /// struct-update syntax in tests and tools.
    pub fn empty(headers: &'a HeaderMap) -> Self {
        Self {
            ip: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            country: None,
            asn: None,
            host: "",
            method: "",
            uri: "",
            path: "",
            query: "",
            version: "",
            headers,
            cookie: None,
            ssl: false,
            body_size: 0,
            bot_verified: false,
            clearance: false,
            response_code: 0,
        }
    }

    /// The bytes of a string field (`""` for a non-string field, which the
    /// compiler never asks for).
    #[inline]
    pub(crate) fn bytes(&self, field: Field) -> &[u8] {
        match field {
            Field::IpSrcCountry => self.country.as_ref().map_or(&[][..], |c| c.as_slice()),
            Field::HttpHost => self.host.as_bytes(),
            Field::HttpRequestMethod => self.method.as_bytes(),
            Field::HttpRequestUri => self.uri.as_bytes(),
            Field::HttpRequestUriPath => self.path.as_bytes(),
            Field::HttpRequestUriQuery => self.query.as_bytes(),
            Field::HttpRequestVersion => self.version.as_bytes(),
            Field::HttpCookie => match self.cookie {
                Some(c) => c.as_bytes(),
                None => self.header(&COOKIE),
            },
            Field::HttpUserAgent => self.header(&USER_AGENT),
            Field::HttpReferer => self.header(&REFERER),
            _ => b"",
        }
    }

    fn header(&self, name: &http::HeaderName) -> &'a [u8] {
        self.headers.get(name).map_or(&[][..], |v| v.as_bytes())
    }

    #[inline]
    pub(crate) fn int(&self, field: Field) -> i64 {
        match field {
            Field::IpSrcAsnum => self.asn.map_or(0, i64::from),
            Field::HttpRequestBodySize => i64::try_from(self.body_size).unwrap_or(i64::MAX),
            Field::HttpResponseCode => i64::from(self.response_code),
            _ => 0,
        }
    }

    #[inline]
    pub(crate) fn boolean(&self, field: Field) -> bool {
        match field {
            Field::Ssl => self.ssl,
            Field::RampartBotVerified => self.bot_verified,
            Field::RampartClientClearance => self.clearance,
            _ => false,
        }
    }
}

/// Reusable buffers for `lower`, `upper`, `url_decode` and decoded query
/// arguments. Keep one per worker thread and pass it to every evaluation:
/// after the first requests have grown the buffers, evaluation allocates
/// nothing.
#[derive(Debug, Default)]
pub struct EvalScratch {
    pub(crate) a: Vec<u8>,
    pub(crate) b: Vec<u8>,
    pub(crate) elem: Vec<u8>,
    /// Results of functions of fields for the request being evaluated:
    /// (key, start, end) into `memo_bytes`. Cleared per request.
    pub(crate) memo: Vec<(u64, usize, usize)>,
    pub(crate) memo_bytes: Vec<u8>,
}

impl EvalScratch {
    /// Buffers with room for 4 KiB each, enough for typical request lines.
    pub fn new() -> Self {
        Self {
            a: Vec::with_capacity(4096),
            b: Vec::with_capacity(4096),
            elem: Vec::with_capacity(1024),
            memo: Vec::with_capacity(16),
            memo_bytes: Vec::with_capacity(4096),
        }
    }

    /// Forgets the memo: the next evaluation is of another request.
    #[inline]
    pub(crate) fn start_request(&mut self) {
        self.memo.clear();
        self.memo_bytes.clear();
    }
}
