//! The challenge interstitial: a small page of Rampart's own (no
//! third-party resources) whose script solves a signed proof-of-work
//! challenge and posts the answer to `/.rampart/challenge/v1/verify`.
//! Requests that cannot run it (not GET, API clients) get a 403 page that
//! says what to do instead.

use std::net::IpAddr;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderValue, Method, Response, StatusCode};
use rampart_challenge::pow::{self, ChallengeJson};
use rampart_challenge::{Algorithm, PowParams};
use rampart_config::ThreatLevel;

use super::SiteBots;
use crate::body::EdgeBody;
use crate::pages::escape_html;
use crate::security::respond::PageCtx;

pub const TEMPLATE: &str = include_str!("../../../rampart-challenge/assets/challenge.html");
/// The no-JavaScript fallback waits this long before it may pass: a
/// browser pays in time what it cannot pay in work.
pub const NOJS_WAIT_SECS: u64 = 4;
/// The cookie that proves the fallback's round trip is named
/// `rampart_nojs_<8 characters of its challenge>`, so that two tabs with
/// an interstitial each do not overwrite each other's.
pub const NOJS_COOKIE_PREFIX: &str = "rampart_nojs_";
pub const VERIFY_PATH: &str = "/.rampart/challenge/v1/verify";
pub const NOJS_PATH: &str = "/.rampart/challenge/v1/nojs";

/// Why and how hard a request is challenged.
pub struct Challenge<'a> {
    pub level: ThreatLevel,
    /// Shown on the page ("the security rule … asks for a challenge").
    pub reason: &'a str,
    /// The rule or limit that asked, for the 403 page of non-GET requests.
    pub rule: Option<&'a str>,
    /// The visitor starts the check with a button (keyboard or pointer).
    pub interactive: bool,
}

/// The response to a challenged request.
#[allow(clippy::too_many_arguments)]
pub fn respond(
    bots: &SiteBots,
    challenge: &Challenge<'_>,
    method: &Method,
    return_to: &str,
    ip: IpAddr,
    tls: bool,
    ctx: &PageCtx<'_>,
    now: u64,
) -> Response<EdgeBody> {
    if ctx.json || !(method == Method::GET || method == Method::HEAD) {
        let reason = format!(
            "{} This site checks browsers before it accepts anything else: open https://{}/ in a web browser, let the check pass, then send this request again from that browser.",
            sentence(challenge.reason),
            ctx.host
        );
        return ctx.challenge(&reason, challenge.rule);
    }
    let params = bots.params(challenge.level);
    let Ok(token) = pow::issue(&bots.ring, &bots.site, ip, &bots.prefix, &params, now) else {
        // Only a difficulty outside the library's bounds gets here; the
        // config refuses those, so this is a bug, not a client's doing.
        tracing::error!(site = %bots.site, "challenge parameters refused by the issuer");
        return ctx.challenge(challenge.reason, challenge.rule);
    };
    let nojs = (challenge.level == ThreatLevel::Low && bots.settings.nojs_fallback)
        .then(|| nojs_link(bots, ip, return_to, now))
        .flatten();
    render(&token, challenge, return_to, nojs.as_ref(), tls, ctx)
}

/// "Reason." with the full stop it may lack.
fn sentence(reason: &str) -> String {
    let mut s = reason.trim().to_string();
    if let Some(first) = s.get(..1) {
        let upper = first.to_ascii_uppercase();
        s.replace_range(..1, &upper);
    }
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// The fallback for browsers without JavaScript: a meta refresh to a
/// signed link, paired with a cookie the browser must send back.
struct NojsLink {
    url: String,
    cookie_name: String,
    cookie: String,
}

fn nojs_link(bots: &SiteBots, ip: IpAddr, return_to: &str, now: u64) -> Option<NojsLink> {
    let params = PowParams {
        algorithm: Algorithm::Sha256,
        difficulty: 1,
        ttl_secs: bots.settings.ttl.as_secs().max(NOJS_WAIT_SECS + 30),
    };
    let token = pow::issue(&bots.ring, &bots.nojs_site, ip, &bots.prefix, &params, now).ok()?;
    // One bit of work: the server does it, the link carries it. What the
    // browser proves is the wait and the cookie.
    let nonce = pow::solve(&token, 64)?;
    let query = serde_urlencoded::to_string([
        ("c", token.as_str()),
        ("n", &nonce.to_string()),
        ("r", return_to),
    ])
    .ok()?;
    Some(NojsLink {
        url: format!("{NOJS_PATH}?{query}"),
        cookie_name: nojs_cookie_name(&token),
        cookie: nojs_cookie_value(&token),
    })
}

/// The value the fallback's cookie must carry for `token`: its tail,
/// which is the MAC, so it cannot be guessed without the page.
pub fn nojs_cookie_value(token: &str) -> String {
    let tail = token.len().saturating_sub(22);
    token.get(tail..).unwrap_or(token).to_string()
}

/// The fallback cookie's name for `token`.
pub fn nojs_cookie_name(token: &str) -> String {
    let value = nojs_cookie_value(token);
    // base64url characters only, all valid in a cookie name.
    format!("{NOJS_COOKIE_PREFIX}{}", value.get(..8).unwrap_or(&value))
}

fn render(
    token: &str,
    challenge: &Challenge<'_>,
    return_to: &str,
    nojs: Option<&NojsLink>,
    tls: bool,
    ctx: &PageCtx<'_>,
) -> Response<EdgeBody> {
    let script_json = ChallengeJson::new(token, Some(VERIFY_PATH), Some(return_to))
        .map(|j| j.to_script_json())
        .unwrap_or_else(|_| "{}".to_string());
    let csp_nonce = csp_nonce();
    let nojs_html = nojs.map_or(String::new(), |link| {
        let url = escape_html(&link.url);
        format!(
            "<meta http-equiv=\"refresh\" content=\"{NOJS_WAIT_SECS};url={url}\"><p>Without JavaScript, this page continues by itself in {NOJS_WAIT_SECS} seconds. If it does not, <a href=\"{url}\">continue to the site</a> after that time.</p>"
        )
    });
    let host = escape_html(ctx.host);
    let reason = escape_html(challenge.reason);
    let ray = ctx.ray.to_string();
    let mode = if challenge.interactive {
        "interactive"
    } else {
        "auto"
    };
    let mut html =
        String::with_capacity(TEMPLATE.len() + script_json.len() + nojs_html.len() + 256);
    for part in template_parts() {
        html.push_str(match part {
            Part::Text(text) => text,
            Part::Slot(Slot::Title) => "Checking your browser",
            Part::Slot(Slot::Host) => &host,
            Part::Slot(Slot::Reason) => &reason,
            Part::Slot(Slot::Params) => &script_json,
            Part::Slot(Slot::Ray) => &ray,
            Part::Slot(Slot::Nojs) => &nojs_html,
            Part::Slot(Slot::Nonce) => &csp_nonce,
            Part::Slot(Slot::Mode) => mode,
        });
    }
    let mut response = Response::new(EdgeBody::Full(Some(Bytes::from(html))));
    // 403 like Cloudflare's interstitial: what a crawler indexes or a
    // script reads is a refusal, not the site.
    *response.status_mut() = StatusCode::FORBIDDEN;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(csp) = HeaderValue::from_str(&format!(
        "default-src 'none'; script-src 'self' 'nonce-{csp_nonce}'; style-src 'nonce-{csp_nonce}'; worker-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )) {
        headers.insert("content-security-policy", csp);
    }
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("rampart-challenge", HeaderValue::from_static("1"));
    if let Some(link) = nojs {
        let secure = if tls { "; Secure" } else { "" };
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{}={}; Path=/.rampart/; Max-Age=600; HttpOnly; SameSite=Lax{secure}",
            link.cookie_name, link.cookie
        )) {
            headers.append(SET_COOKIE, v);
        }
    }
    response
}

fn csp_nonce() -> String {
    use rand::Rng;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 16] = rand::rng().random();
    let mut out = String::with_capacity(32);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// The placeholders of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Title,
    Host,
    Reason,
    Params,
    Ray,
    Nojs,
    Nonce,
    Mode,
}

#[derive(Debug, PartialEq, Eq)]
enum Part {
    Text(&'static str),
    Slot(Slot),
}

/// The template cut at its placeholders once, so that a page is one pass
/// of appends (it is served at proxy rates under attack).
fn template_parts() -> &'static [Part] {
    static PARTS: std::sync::LazyLock<Vec<Part>> = std::sync::LazyLock::new(|| split(TEMPLATE));
    &PARTS
}

fn split(template: &'static str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest.get(start + 2..).and_then(|r| r.find("}}")) else {
            break;
        };
        let name = rest.get(start + 2..start + 2 + len).unwrap_or_default();
        let slot = match name {
            "title" => Some(Slot::Title),
            "host" => Some(Slot::Host),
            "reason" => Some(Slot::Reason),
            "params_json" => Some(Slot::Params),
            "ray" => Some(Slot::Ray),
            "nojs" => Some(Slot::Nojs),
            "nonce" => Some(Slot::Nonce),
            "mode" => Some(Slot::Mode),
            _ => None,
        };
        let end = start + 2 + len + 2;
        match slot {
            Some(slot) => {
                parts.push(Part::Text(rest.get(..start).unwrap_or_default()));
                parts.push(Part::Slot(slot));
            }
            // Not ours (CSS or script text): keep it as written.
            None => parts.push(Part::Text(rest.get(..end).unwrap_or_default())),
        }
        rest = rest.get(end..).unwrap_or_default();
    }
    parts.push(Part::Text(rest));
    parts
}

/// Where to send the visitor after passing: a path on this site, never
/// another origin (`//evil.test` or `/\evil.test` are browsers' other
/// hosts), nor the edge's own endpoints except the report form.
pub fn safe_return(candidate: &str) -> &str {
    let ok = candidate.starts_with('/')
        && !candidate.starts_with("//")
        && !candidate.starts_with("/\\")
        && !candidate.bytes().any(|b| b.is_ascii_control())
        && (!candidate.starts_with("/.rampart/") || candidate == crate::abuse_form::FORM_PATH);
    if ok { candidate } else { "/" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_stay_on_the_site() {
        assert_eq!(safe_return("/shop?a=1"), "/shop?a=1");
        assert_eq!(safe_return("/.rampart/abuse"), "/.rampart/abuse");
        for bad in [
            "//evil.test/",
            "/\\evil.test",
            "https://evil.test/",
            "",
            "/a\r\nb",
            "/.rampart/challenge/v1/verify",
        ] {
            assert_eq!(safe_return(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn the_template_has_every_placeholder() {
        for p in [
            "{{title}}",
            "{{host}}",
            "{{reason}}",
            "{{params_json}}",
            "{{ray}}",
            "{{nojs}}",
            "{{nonce}}",
        ] {
            assert!(TEMPLATE.contains(p), "{p}");
        }
        assert!(TEMPLATE.len() < 20 * 1024);
        let slots: Vec<Slot> = template_parts()
            .iter()
            .filter_map(|p| match p {
                Part::Slot(s) => Some(*s),
                Part::Text(_) => None,
            })
            .collect();
        for slot in [
            Slot::Title,
            Slot::Host,
            Slot::Reason,
            Slot::Params,
            Slot::Ray,
            Slot::Nojs,
            Slot::Nonce,
            Slot::Mode,
        ] {
            assert!(slots.contains(&slot), "{slot:?}");
        }
    }

    #[test]
    fn splitting_keeps_every_byte_that_is_not_a_placeholder() {
        let parts = split("a{{host}}b{{other}}c{{ray");
        assert_eq!(
            parts,
            vec![
                Part::Text("a"),
                Part::Slot(Slot::Host),
                Part::Text("b{{other}}"),
                Part::Text("c{{ray"),
            ]
        );
    }
}
