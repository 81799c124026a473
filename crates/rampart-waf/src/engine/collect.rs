//! Reading variables: what each target yields from the request data and
//! the rule state, with `!` exclusions applied and cache identities
//! attached to immutable values.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use super::data::{BodyProcessor, Pairs, ReqData, State, VarMap};
use super::vars::{MultipartFlagKind, Selector, Target, Var, VarValue};
use crate::body::MultipartFlags;

/// Counts are mostly tiny: their text without allocating.
const DIGITS: [&[u8]; 10] = [b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9"];

const SRC_ARGS_GET: u64 = 1;
const SRC_ARGS_POST: u64 = 3;
const SRC_HEADERS: u64 = 5;
const SRC_COOKIES: u64 = 7;
const SRC_RESP_HEADERS: u64 = 9;
const SRC_SCALAR: u64 = 20;

fn src(tag: u64, index: usize) -> Option<u64> {
    Some(tag << 40 | (index as u64 & 0xff_ffff_ffff))
}

/// Whether a `!` exclusion drops the value with this variable and key.
pub(crate) type ExcludeFn<'f> = dyn Fn(Var, &[u8]) -> bool + 'f;

/// `excluded(var, key)` says whether a `!` exclusion drops a value
/// (`None` when the rule has no exclusions, the common case).
pub(crate) struct Collector<'a, 'e> {
    pub req: &'a ReqData,
    /// `None` when only request data is read (the per-phase value cache).
    pub state: Option<&'a State>,
    pub excluded: Option<&'e ExcludeFn<'e>>,
}

impl<'a> Collector<'a, '_> {
    fn is_excluded(&self, var: Var, key: &[u8]) -> bool {
        self.excluded.is_some_and(|f| f(var, key))
    }

    pub(crate) fn collect(&self, target: &Target, out: &mut Vec<VarValue<'a>>) {
        if target.count {
            let mut tmp = Vec::new();
            self.values(target.var, &target.selector, &mut tmp);
            let value = match DIGITS.get(tmp.len()) {
                Some(d) => Cow::Borrowed(*d),
                None => Cow::Owned(tmp.len().to_string().into_bytes()),
            };
            out.push(VarValue {
                var: target.var,
                key: Cow::Borrowed(b""),
                value,
                source: None,
            });
        } else {
            self.values(target.var, &target.selector, out);
        }
    }

    fn pairs(
        &self,
        var: Var,
        pairs: &'a Pairs,
        tag: u64,
        names: bool,
        sel: &Selector,
        out: &mut Vec<VarValue<'a>>,
    ) {
        for (i, (k, v)) in pairs.iter().enumerate() {
            if !sel.matches(k) || self.is_excluded(var, k) {
                continue;
            }
            let value = if names { k } else { v };
            out.push(VarValue {
                var,
                key: Cow::Borrowed(k),
                value: Cow::Borrowed(value),
                source: src(tag + u64::from(names), i),
            });
        }
    }

    fn list(&self, var: Var, items: &'a [Vec<u8>], sel: &Selector, out: &mut Vec<VarValue<'a>>) {
        for item in items {
            if sel.matches(item) && !self.is_excluded(var, item) {
                out.push(VarValue {
                    var,
                    key: Cow::Borrowed(item),
                    value: Cow::Borrowed(item),
                    source: None,
                });
            }
        }
    }

    fn owned_map(&self, var: Var, map: &'a VarMap, sel: &Selector, out: &mut Vec<VarValue<'a>>) {
        let mut push = |k: &'a String, v: &'a Vec<u8>| {
            if !self.is_excluded(var, k.as_bytes()) {
                out.push(VarValue {
                    var,
                    key: Cow::Borrowed(k.as_bytes()),
                    value: Cow::Borrowed(v),
                    source: None,
                });
            }
        };
        match sel {
            Selector::Key(key) => {
                if let Some((k, v)) = map.get_key_value(key.as_str()) {
                    push(k, v);
                }
            }
            _ => {
                // Name order, so MATCHED_VAR does not depend on hashing.
                let mut found: Vec<(&'a String, &'a Vec<u8>)> = map
                    .iter()
                    .filter(|(k, _)| sel.matches(k.as_bytes()))
                    .collect();
                found.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (k, v) in found {
                    push(k, v);
                }
            }
        }
    }

    fn scalar(&self, var: Var, value: Option<Cow<'a, [u8]>>, out: &mut Vec<VarValue<'a>>) {
        let Some(value) = value else { return };
        if self.is_excluded(var, b"") {
            return;
        }
        let source = match &value {
            Cow::Borrowed(_) => scalar_source(var),
            Cow::Owned(_) => None,
        };
        out.push(VarValue {
            var,
            key: Cow::Borrowed(b""),
            value,
            source,
        });
    }

    pub(crate) fn values(&self, var: Var, sel: &Selector, out: &mut Vec<VarValue<'a>>) {
        let r = self.req;
        let b = |v: &'a [u8]| Some(Cow::Borrowed(v));
        let o = |v: String| Some(Cow::Owned(v.into_bytes()));
        match var {
            Var::Args => {
                self.pairs(var, &r.args_get, SRC_ARGS_GET, false, sel, out);
                self.pairs(var, &r.args_post, SRC_ARGS_POST, false, sel, out);
            }
            Var::ArgsGet => self.pairs(var, &r.args_get, SRC_ARGS_GET, false, sel, out),
            Var::ArgsPost => self.pairs(var, &r.args_post, SRC_ARGS_POST, false, sel, out),
            Var::ArgsNames => {
                self.pairs(var, &r.args_get, SRC_ARGS_GET, true, sel, out);
                self.pairs(var, &r.args_post, SRC_ARGS_POST, true, sel, out);
            }
            Var::ArgsGetNames => self.pairs(var, &r.args_get, SRC_ARGS_GET, true, sel, out),
            Var::ArgsPostNames => self.pairs(var, &r.args_post, SRC_ARGS_POST, true, sel, out),
            Var::ArgsCombinedSize => {
                let n: usize = r
                    .args_get
                    .iter()
                    .chain(&r.args_post)
                    .map(|(k, v)| k.len() + v.len())
                    .sum();
                self.scalar(var, o(n.to_string()), out);
            }
            Var::RequestHeaders => self.pairs(var, &r.headers, SRC_HEADERS, false, sel, out),
            Var::RequestHeadersNames => self.pairs(var, &r.headers, SRC_HEADERS, true, sel, out),
            Var::RequestCookies => self.pairs(var, &r.cookies, SRC_COOKIES, false, sel, out),
            Var::RequestCookiesNames => self.pairs(var, &r.cookies, SRC_COOKIES, true, sel, out),
            Var::ResponseHeaders => {
                self.pairs(var, &r.response_headers, SRC_RESP_HEADERS, false, sel, out)
            }
            Var::ResponseHeadersNames => {
                self.pairs(var, &r.response_headers, SRC_RESP_HEADERS, true, sel, out)
            }
            Var::RequestUri => self.scalar(var, b(&r.uri), out),
            Var::RequestUriRaw => self.scalar(var, b(&r.uri_raw), out),
            Var::RequestFilename | Var::PathInfo => self.scalar(var, b(&r.filename), out),
            Var::RequestBasename => {
                self.scalar(var, b(r.basename.as_deref().unwrap_or_default()), out)
            }
            Var::RequestLine => self.scalar(var, b(&r.request_line), out),
            Var::RequestMethod => self.scalar(var, b(&r.method), out),
            Var::RequestProtocol => self.scalar(var, b(&r.protocol), out),
            Var::QueryString => self.scalar(var, r.query.as_deref().and_then(b), out),
            Var::RequestBody => self.scalar(var, r.body.as_deref().and_then(b), out),
            Var::RequestBodyLength => self.scalar(var, o(r.body_length.to_string()), out),
            Var::FullRequestLength => self.scalar(
                var,
                o((r.full_request_length + r.body_length).to_string()),
                out,
            ),
            Var::Files | Var::FilesNames | Var::FilesSizes | Var::FilesTmpNames => {
                for f in &r.files {
                    if !sel.matches(&f.field_name) || self.is_excluded(var, &f.field_name) {
                        continue;
                    }
                    let value = match var {
                        Var::Files => Cow::Borrowed(f.file_name.as_slice()),
                        Var::FilesSizes => Cow::Owned(f.size.to_string().into_bytes()),
                        Var::FilesTmpNames => Cow::Borrowed(&b""[..]),
                        _ => Cow::Borrowed(f.field_name.as_slice()),
                    };
                    out.push(VarValue {
                        var,
                        key: Cow::Borrowed(&f.field_name),
                        value,
                        source: None,
                    });
                }
            }
            Var::FilesCombinedSize => {
                let n: usize = r.files.iter().map(|f| f.size).sum();
                self.scalar(var, o(n.to_string()), out);
            }
            Var::MultipartPartHeaders => {
                for (k, v) in &r.part_headers {
                    if sel.matches(k) && !self.is_excluded(var, k) {
                        out.push(VarValue {
                            var,
                            key: Cow::Borrowed(k),
                            value: Cow::Borrowed(v),
                            source: None,
                        });
                    }
                }
            }
            Var::MultipartFilename => self.list(var, &r.file_names, sel, out),
            Var::MultipartName => self.list(var, &r.part_names, sel, out),
            Var::MultipartFlag(kind) => {
                if let Some(flags) = &r.multipart_flags {
                    let on = flag(flags, kind);
                    self.scalar(var, b(if on { b"1" } else { b"0" }), out);
                }
            }
            Var::ReqbodyError => {
                if let Some(e) = r.reqbody_error {
                    self.scalar(var, b(if e { b"1" } else { b"0" }), out);
                }
            }
            Var::ReqbodyErrorMsg => {
                self.scalar(var, r.reqbody_error_msg.as_deref().and_then(b), out)
            }
            // Unset reads as empty (CRS 901340 relies on that).
            Var::ReqbodyProcessor => {
                let name = self
                    .state
                    .and_then(|s| s.body_processor)
                    .map_or("", BodyProcessor::name);
                self.scalar(var, b(name.as_bytes()), out);
            }
            Var::Xml => {
                if let Some(doc) = &r.xml {
                    let attrs = matches!(sel, Selector::Key(k) if k.contains('@'));
                    let items = if attrs {
                        &doc.attribute_values
                    } else {
                        &doc.text
                    };
                    let key: &'static [u8] = if attrs { b"//@*" } else { b"/*" };
                    for v in items {
                        out.push(VarValue {
                            var,
                            key: Cow::Borrowed(key),
                            value: Cow::Borrowed(v),
                            source: None,
                        });
                    }
                }
            }
            Var::Tx => {
                if let Some(state) = self.state {
                    self.owned_map(var, &state.tx, sel, out);
                }
            }
            Var::Store(kind) => {
                if let Some(map) = self.state.and_then(|s| s.stores.get(&kind)) {
                    self.owned_map(var, map, sel, out);
                }
            }
            Var::ResponseStatus => self.scalar(var, r.response_status.as_deref().and_then(b), out),
            Var::ResponseBody => self.scalar(var, r.response_body.as_deref().and_then(b), out),
            Var::ResponseProtocol => {
                if r.response_status.is_some() {
                    self.scalar(var, b(&r.response_protocol), out);
                }
            }
            Var::ResponseContentType | Var::ResponseContentLength => {
                let name: &[u8] = if var == Var::ResponseContentType {
                    b"content-type"
                } else {
                    b"content-length"
                };
                let v = r
                    .response_headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_slice());
                self.scalar(var, v.and_then(b), out);
            }
            Var::StatusLine => {
                if let Some(s) = &r.response_status {
                    let mut line = r.response_protocol.clone();
                    line.push(b' ');
                    line.extend_from_slice(s);
                    self.scalar(var, Some(Cow::Owned(line)), out);
                }
            }
            Var::UniqueId => self.scalar(var, b(&r.unique_id), out),
            Var::RemoteAddr | Var::RemoteHost => self.scalar(var, b(&r.remote_addr), out),
            Var::RemotePort => self.scalar(var, b(&r.remote_port), out),
            Var::ServerAddr => self.scalar(var, b(&r.server_addr), out),
            Var::ServerPort => self.scalar(var, b(&r.server_port), out),
            Var::ServerName => self.scalar(var, b(&r.server_name), out),
            Var::AuthType => self.scalar(var, r.auth_type.as_deref().and_then(b), out),
            Var::MatchedVar => {
                if let Some(state) = self.state {
                    self.scalar(var, b(&state.matched_var), out);
                }
            }
            Var::MatchedVarName => {
                if let Some(state) = self.state {
                    self.scalar(var, b(state.matched_var_name.as_bytes()), out);
                }
            }
            Var::MatchedVars | Var::MatchedVarsNames => {
                let matched = self.state.map_or(&[][..], State::matched_vars);
                for (name, value) in matched {
                    if !sel.matches(name.as_bytes()) || self.is_excluded(var, name.as_bytes()) {
                        continue;
                    }
                    let v: &[u8] = if var == Var::MatchedVars {
                        value
                    } else {
                        name.as_bytes()
                    };
                    out.push(VarValue {
                        var,
                        key: Cow::Borrowed(name.as_bytes()),
                        value: Cow::Borrowed(v),
                        source: None,
                    });
                }
            }
            Var::Duration => {
                let ms = self.state.map_or(0, |s| s.started.elapsed().as_millis());
                self.scalar(var, o(ms.to_string()), out);
            }
            Var::HighestSeverity => {
                let s = self
                    .state
                    .and_then(|s| s.highest_severity)
                    .map_or(255, u16::from);
                self.scalar(var, o(s.to_string()), out);
            }
            Var::Time
            | Var::TimeDay
            | Var::TimeEpoch
            | Var::TimeHour
            | Var::TimeMin
            | Var::TimeMon
            | Var::TimeSec
            | Var::TimeWday
            | Var::TimeYear => self.scalar(var, o(time_var(var)), out),
            Var::WebserverErrorLog => {}
            Var::InboundDataError | Var::OutboundDataError => self.scalar(var, b(b"0"), out),
        }
    }
}

fn scalar_source(var: Var) -> Option<u64> {
    let n = match var {
        Var::RequestUri => 1,
        Var::RequestUriRaw => 2,
        Var::RequestFilename | Var::PathInfo => 3,
        Var::RequestBasename => 4,
        Var::RequestLine => 5,
        Var::RequestMethod => 6,
        Var::RequestProtocol => 7,
        Var::QueryString => 8,
        Var::RequestBody => 9,
        Var::ResponseBody => 10,
        _ => return None,
    };
    src(SRC_SCALAR, n)
}

fn flag(flags: &MultipartFlags, kind: MultipartFlagKind) -> bool {
    match kind {
        MultipartFlagKind::StrictError => flags.strict_error,
        MultipartFlagKind::UnmatchedBoundary => flags.unmatched_boundary,
        MultipartFlagKind::BoundaryQuoted => flags.boundary_quoted,
        MultipartFlagKind::BoundaryWhitespace => flags.boundary_whitespace,
        MultipartFlagKind::DataBefore => flags.data_before,
        MultipartFlagKind::DataAfter => flags.data_after,
        MultipartFlagKind::HeaderFolding => flags.header_folding,
        MultipartFlagKind::LfLine => flags.lf_line,
        MultipartFlagKind::CrlfLfLines => flags.crlf_lf_lines,
        MultipartFlagKind::MissingSemicolon => flags.missing_semicolon,
        MultipartFlagKind::InvalidQuoting => flags.invalid_quoting,
        MultipartFlagKind::InvalidPart => flags.invalid_part,
        MultipartFlagKind::InvalidHeaderFolding => flags.invalid_header_folding,
        MultipartFlagKind::FileLimitExceeded => flags.file_limit_exceeded,
    }
}

/// TIME_* in UTC (no time-zone database on the request path).
fn time_var(var: Var) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (hour, min, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let (year, month, day) = civil_from_days(days);
    let wday = (days + 4) % 7;
    match var {
        Var::TimeEpoch => secs.to_string(),
        Var::TimeYear => year.to_string(),
        Var::TimeMon => format!("{month:02}"),
        Var::TimeDay => format!("{day:02}"),
        Var::TimeHour => format!("{hour:02}"),
        Var::TimeMin => format!("{min:02}"),
        Var::TimeSec => format!("{sec:02}"),
        Var::TimeWday => wday.to_string(),
        _ => format!("{hour:02}:{min:02}:{sec:02}"),
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
