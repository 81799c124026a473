//! What one transaction holds: the request/response as variables see it
//! ([`ReqData`], immutable once a phase starts) and the mutable rule state
//! ([`State`]: TX, MATCHED_*, ctl overrides).

use std::collections::BTreeMap;
use std::time::Instant;

use super::vars::{Exclusion, StoreKind};
use crate::body::{FilePart, MultipartFlags, XmlDocument};
use crate::request::{HttpRequest, HttpResponse};

pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Debug, Default)]
pub(crate) struct ReqData {
    pub method: Vec<u8>,
    pub uri_raw: Vec<u8>,
    pub uri: Vec<u8>,
    pub filename: Vec<u8>,
    pub basename: Option<Vec<u8>>,
    pub protocol: Vec<u8>,
    pub query: Option<Vec<u8>>,
    pub request_line: Vec<u8>,
    pub args_get: Pairs,
    pub args_post: Pairs,
    pub headers: Pairs,
    pub cookies: Pairs,
    pub auth_type: Option<Vec<u8>>,
    pub body: Option<Vec<u8>>,
    pub body_length: usize,
    pub full_request_length: usize,
    pub files: Vec<FilePart>,
    pub part_headers: Pairs,
    pub part_names: Vec<Vec<u8>>,
    pub file_names: Vec<Vec<u8>>,
    pub multipart_flags: Option<MultipartFlags>,
    pub reqbody_error: Option<bool>,
    pub reqbody_error_msg: Option<Vec<u8>>,
    pub xml: Option<XmlDocument>,
    pub remote_addr: Vec<u8>,
    pub remote_port: Vec<u8>,
    pub server_addr: Vec<u8>,
    pub server_port: Vec<u8>,
    pub server_name: Vec<u8>,
    pub unique_id: Vec<u8>,
    pub response_status: Option<Vec<u8>>,
    pub response_protocol: Vec<u8>,
    pub response_headers: Pairs,
    pub response_body: Option<Vec<u8>>,
}

/// Which body processor runs in phase 2 (REQBODY_PROCESSOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyProcessor {
    UrlEncoded,
    Multipart,
    Json,
    Xml,
}

impl BodyProcessor {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "URLENCODED" => Some(Self::UrlEncoded),
            "MULTIPART" => Some(Self::Multipart),
            "JSON" => Some(Self::Json),
            "XML" => Some(Self::Xml),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::UrlEncoded => "URLENCODED",
            Self::Multipart => "MULTIPART",
            Self::Json => "JSON",
            Self::Xml => "XML",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    On,
    Off,
    DetectionOnly,
}

impl EngineMode {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "on" => Some(Self::On),
            "off" => Some(Self::Off),
            "detectiononly" => Some(Self::DetectionOnly),
            _ => None,
        }
    }
}

/// `allow` scopes: the rest of this phase, the request phases, or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AllowScope {
    Phase(u8),
    Request,
    All,
}

/// Which rules a runtime `ctl:ruleRemoveTarget…` applies to.
#[derive(Debug, Clone)]
pub(crate) enum RuleRef {
    Ids(u64, u64),
    Tag(String),
}

/// TX and the other writable collections: lowercased names. Some names
/// come from the client (`tx.paramcounter_<arg name>`), hence the keyed
/// default hasher.
pub(crate) type VarMap = std::collections::HashMap<String, Vec<u8>>;

#[derive(Debug)]
pub(crate) struct State {
    pub tx: VarMap,
    pub stores: BTreeMap<StoreKind, VarMap>,
    pub matched_var: Vec<u8>,
    pub matched_var_name: String,
    /// MATCHED_VARS of the rule being evaluated: the first
    /// `matched_vars_len` entries (buffers are reused between rules).
    pub matched_vars: Vec<(String, Vec<u8>)>,
    pub matched_vars_len: usize,
    pub engine: EngineMode,
    pub body_processor: Option<BodyProcessor>,
    pub body_access: bool,
    pub force_body_variable: bool,
    pub removed_ids: Vec<(u64, u64)>,
    pub removed_tags: Vec<String>,
    pub removed_targets: Vec<(RuleRef, Exclusion)>,
    pub highest_severity: Option<u8>,
    pub allow: Option<AllowScope>,
    pub started: Instant,
}

impl State {
    pub(crate) fn new(engine: EngineMode, body_access: bool) -> Self {
        Self {
            tx: VarMap::with_capacity(96),
            stores: BTreeMap::new(),
            matched_var: Vec::new(),
            matched_var_name: String::new(),
            matched_vars: Vec::new(),
            matched_vars_len: 0,
            engine,
            body_processor: None,
            body_access,
            force_body_variable: false,
            removed_ids: Vec::new(),
            removed_tags: Vec::new(),
            removed_targets: Vec::new(),
            highest_severity: None,
            allow: None,
            started: Instant::now(),
        }
    }
}

impl State {
    pub(crate) fn clear_matched_vars(&mut self) {
        self.matched_vars_len = 0;
    }

    pub(crate) fn push_matched_var(&mut self, name: &str, value: &[u8]) {
        match self.matched_vars.get_mut(self.matched_vars_len) {
            Some((n, v)) => {
                n.clear();
                n.push_str(name);
                v.clear();
                v.extend_from_slice(value);
            }
            None => self.matched_vars.push((name.to_owned(), value.to_vec())),
        }
        self.matched_vars_len += 1;
    }

    pub(crate) fn matched_vars(&self) -> &[(String, Vec<u8>)] {
        self.matched_vars
            .get(..self.matched_vars_len)
            .unwrap_or_default()
    }
}

/// `%XX` decoded, invalid escapes kept, `+` untouched (the URI decoding
/// ModSecurity applies to REQUEST_URI and REQUEST_FILENAME).
pub(crate) fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (
                input.get(i + 1).and_then(|c| hex(*c)),
                input.get(i + 2).and_then(|c| hex(*c)),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// ModSecurity's cookie split: `;`-separated pairs, name left-trimmed,
/// value after the first `=`, empty names skipped.
fn split_cookies(value: &[u8], out: &mut Pairs) {
    let mut value = value;
    while let Some((last, head)) = value.split_last() {
        if last.is_ascii_whitespace() {
            value = head;
        } else {
            break;
        }
    }
    for part in value.split(|&b| b == b';') {
        let (name, val) = match part.iter().position(|&b| b == b'=') {
            Some(p) => (
                part.get(..p).unwrap_or_default(),
                part.get(p + 1..).unwrap_or_default(),
            ),
            None => (part, &[][..]),
        };
        let start = name.iter().position(|b| !b.is_ascii_whitespace());
        let Some(start) = start else { continue };
        let name = name.get(start..).unwrap_or_default();
        out.push((name.to_vec(), val.to_vec()));
    }
}

impl ReqData {
    pub(crate) fn load_request_line(&mut self, request: &HttpRequest, unique_id: &str) {
        self.method = request.method.as_bytes().to_vec();
        self.uri_raw = request.uri.as_bytes().to_vec();
        self.protocol = request.protocol.as_bytes().to_vec();
        let decoded = percent_decode(&self.uri_raw);
        let path_end = decoded
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(decoded.len());
        self.filename = decoded.get(..path_end).unwrap_or_default().to_vec();
        self.basename = self
            .filename
            .iter()
            .rposition(|&b| b == b'/' || b == b'\\')
            .and_then(|p| self.filename.get(p + 1..))
            .filter(|b| !b.is_empty())
            .map(<[u8]>::to_vec);
        self.uri = strip_absolute_form(&decoded).to_vec();
        self.query = request
            .uri
            .split_once('?')
            .map(|(_, q)| q.as_bytes().to_vec());
        self.args_get = match &self.query {
            Some(q) if !q.is_empty() => crate::body::parse_urlencoded(q),
            _ => Vec::new(),
        };
        let mut line = Vec::with_capacity(self.method.len() + self.uri_raw.len() + 10);
        line.extend_from_slice(&self.method);
        line.push(b' ');
        line.extend_from_slice(&self.uri_raw);
        line.push(b' ');
        line.extend_from_slice(&self.protocol);
        self.request_line = line;
        self.headers = request
            .headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect();
        self.cookies.clear();
        for (k, v) in &request.headers {
            if k.eq_ignore_ascii_case("cookie") {
                split_cookies(v, &mut self.cookies);
            } else if k.eq_ignore_ascii_case("authorization") {
                self.auth_type = v.split(|&b| b == b' ').next().map(<[u8]>::to_vec);
            } else if k.eq_ignore_ascii_case("host") {
                self.server_name = v.split(|&b| b == b':').next().unwrap_or_default().to_vec();
            }
        }
        self.full_request_length = self.request_line.len()
            + 2
            + request
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 4)
                .sum::<usize>()
            + 2;
        self.remote_addr = request.client.ip().to_string().into_bytes();
        self.remote_port = request.client.port().to_string().into_bytes();
        self.server_addr = request.server.ip().to_string().into_bytes();
        self.server_port = request.server.port().to_string().into_bytes();
        self.unique_id = unique_id.as_bytes().to_vec();
    }

    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }

    pub(crate) fn load_response_headers(&mut self, response: &HttpResponse) {
        self.response_status = Some(response.status.to_string().into_bytes());
        self.response_protocol = response.protocol.as_bytes().to_vec();
        self.response_headers = response
            .headers
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect();
    }
}

/// `http://host/path` → `/path`, as ModSecurity reduces REQUEST_URI.
fn strip_absolute_form(uri: &[u8]) -> &[u8] {
    if uri.first() == Some(&b'/') {
        return uri;
    }
    let Some(scheme_end) = uri.windows(3).position(|w| w == b"://") else {
        return uri;
    };
    let after = scheme_end + 3;
    match uri
        .get(after..)
        .and_then(|r| r.iter().position(|&b| b == b'/'))
    {
        Some(p) => uri.get(after + p..).unwrap_or(uri),
        None => uri,
    }
}
