//! Trust & safety decisions at the edge, applied right after routing and
//! before anything else a site has (its rules cannot let a visitor past a
//! suspension): suspended sites answer 403 with a page that says the site is
//! blocked by its security provider, why (the category), when, the case's
//! reference and how the owner appeals; legal blocks answer 451 (RFC 7725)
//! with `Link: <…>; rel="blocked-by"`; restricted paths get the suspension
//! page; an interstitial warns and lets the visitor continue. The page never
//! names who reported the site.

use http::header::{CACHE_CONTROL, COOKIE, LINK, LOCATION, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use rampart_config::{Enforcement, EnforcementAction, category_phrase};

use crate::body::EdgeBody;
use crate::pages::{escape_html, html_response, json_response};
use crate::ray::RayId;

/// Where the interstitial's "continue" link goes.
pub const CONTINUE_PATH: &str = "/.rampart/safety/continue";
/// The report form stays reachable on an enforced site.
const ABUSE_PREFIX: &str = "/.rampart/abuse";
const CONTINUE_COOKIE_PREFIX: &str = "rampart_warned_";

/// A site's decisions in force, ready for the request path.
#[derive(Default)]
pub struct SiteEnforcement {
    /// Suspend or legal block: every request.
    block: Option<Enforcement>,
    restricts: Vec<(Vec<Pattern>, Enforcement)>,
    interstitial: Option<Enforcement>,
}

impl SiteEnforcement {
    pub fn new(decisions: &[Enforcement]) -> Self {
        let mut out = Self::default();
        for d in decisions {
            match &d.action {
                // A legal block outranks a suspension: its status says more.
                EnforcementAction::LegalBlock { .. } => out.block = Some(d.clone()),
                EnforcementAction::Suspend => {
                    if out.block.is_none() {
                        out.block = Some(d.clone());
                    }
                }
                EnforcementAction::Restrict { patterns } => out.restricts.push((
                    patterns.iter().map(|p| Pattern::new(p)).collect(),
                    d.clone(),
                )),
                EnforcementAction::Interstitial => out.interstitial = Some(d.clone()),
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.block.is_none() && self.restricts.is_empty() && self.interstitial.is_none()
    }

    /// Whether the site is suspended or legally blocked as a whole (its
    /// captcha keys stop verifying too).
    pub fn blocks_everything(&self) -> bool {
        self.block.is_some()
    }

    /// The response instead of the site, if a decision applies.
    pub fn check(
        &self,
        path: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        ctx: &PageInfo<'_>,
    ) -> Option<Response<EdgeBody>> {
        if self.is_empty() || path.starts_with(ABUSE_PREFIX) {
            return None;
        }
        if let Some(d) = &self.block {
            return Some(blocked_page(d, ctx));
        }
        if let Some((_, d)) = self
            .restricts
            .iter()
            .find(|(patterns, _)| patterns.iter().any(|p| p.matches(path)))
        {
            return Some(blocked_page(d, ctx));
        }
        let d = self.interstitial.as_ref()?;
        if path == CONTINUE_PATH {
            return Some(continue_through(d, path_and_query, ctx.tls));
        }
        if warned(headers, d) {
            return None;
        }
        Some(interstitial_page(d, path_and_query, ctx))
    }
}

/// What the pages show about the request.
pub struct PageInfo<'a> {
    pub ray: RayId,
    pub host: &'a str,
    pub json: bool,
    pub tls: bool,
}

/// A path prefix, or a path with `*` wildcards (anchored at both ends).
struct Pattern {
    text: String,
    wildcard: bool,
}

impl Pattern {
    fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            wildcard: text.contains('*'),
        }
    }

    fn matches(&self, path: &str) -> bool {
        if !self.wildcard {
            return path.starts_with(&self.text);
        }
        wildcard_match(self.text.as_bytes(), path.as_bytes())
    }
}

/// `*` matches any run of bytes; linear in practice (greedy with one
/// backtrack point, the classic glob algorithm).
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match (pattern.get(p), text.get(t)) {
            (Some(b'*'), _) => {
                star = Some((p, t));
                p += 1;
            }
            (Some(a), Some(b)) if a == b => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

fn date(unix: u64) -> String {
    let full = rampart_challenge::rfc3339_utc(unix);
    full.get(..10).unwrap_or(&full).to_string()
}

fn blocked_page(d: &Enforcement, ctx: &PageInfo<'_>) -> Response<EdgeBody> {
    let (status, title, link) = match &d.action {
        EnforcementAction::LegalBlock { blocked_by } => (
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            "Unavailable for legal reasons",
            blocked_by.as_deref(),
        ),
        _ => (StatusCode::FORBIDDEN, "This site has been blocked", None),
    };
    let what = match &d.action {
        EnforcementAction::Restrict { .. } => "This page of",
        _ => "",
    };
    let category = category_phrase(&d.category);
    let decided = date(d.decided_at);
    let mut response = if ctx.json {
        let body = serde_json::json!({ "error": {
            "status": status.as_u16(),
            "code": d.action.code(),
            "title": title,
            "category": d.category,
            "message": format!("{what} {} is blocked by its security provider because it was used for {category}.", ctx.host).trim().to_string(),
            "decided": decided,
            "reference": d.reference,
            "appeal_url": d.appeal_url,
            "ray_id": ctx.ray.to_string(),
        }});
        json_response(status, body.to_string())
    } else {
        let subject = if what.is_empty() {
            format!("<strong>{}</strong>", escape_html(ctx.host))
        } else {
            format!("This page of <strong>{}</strong>", escape_html(ctx.host))
        };
        let subject = if what.is_empty() {
            format!("The site {subject}")
        } else {
            subject
        };
        let legal = if matches!(d.action, EnforcementAction::LegalBlock { .. }) {
            " following a legal demand"
        } else {
            ""
        };
        let appeal = d.appeal_url.as_deref().map_or(
            "If you run this site, you can appeal this decision from your dashboard, quoting the reference below.".to_string(),
            |url| {
                format!(
                    "If you run this site, you can appeal this decision at <a href=\"{0}\">{0}</a>, quoting the reference below.",
                    escape_html(url)
                )
            },
        );
        let body = format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"robots\" content=\"noindex\">\n<title>{title}</title>\n<style>body{{font:100%/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f;background:#fff}}@media (prefers-color-scheme:dark){{body{{color:#e6e6ea;background:#131316}}a{{color:#8ab4f8}}}}.ref{{font-family:monospace}}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n<p>{subject} is blocked by its security provider{legal}.</p>\n<p>Reason: the site was used for <strong>{category}</strong>.</p>\n<p>Decided on {decided}. Reference: <span class=\"ref\">{reference}</span>.</p>\n<p>{appeal}</p>\n<p class=\"ref\">Ray ID: {ray}</p>\n</main>\n</body>\n</html>\n",
            reference = escape_html(&d.reference),
            ray = ctx.ray,
        );
        html_response(status, body)
    };
    if let Some(url) = link
        && let Ok(v) = HeaderValue::from_str(&format!("<{url}>; rel=\"blocked-by\""))
    {
        response.headers_mut().insert(LINK, v);
    }
    response
}

fn interstitial_page(
    d: &Enforcement,
    path_and_query: &str,
    ctx: &PageInfo<'_>,
) -> Response<EdgeBody> {
    let category = category_phrase(&d.category);
    let query = serde_urlencoded::to_string([("d", d.decision_id.as_str()), ("r", path_and_query)])
        .unwrap_or_default();
    let next = format!("{CONTINUE_PATH}?{query}");
    if ctx.json {
        let body = serde_json::json!({ "error": {
            "status": 403,
            "code": "interstitial",
            "category": d.category,
            "message": format!("{} was reported for {category}; a browser may continue past the warning.", ctx.host),
            "reference": d.reference,
            "ray_id": ctx.ray.to_string(),
        }});
        return json_response(StatusCode::FORBIDDEN, body.to_string());
    }
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"robots\" content=\"noindex\">\n<title>Warning: suspected {short}</title>\n<style>body{{font:100%/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f;background:#fff}}@media (prefers-color-scheme:dark){{body{{color:#e6e6ea;background:#131316}}a{{color:#8ab4f8}}}}h1{{color:#a50e0e}}.ref{{font-family:monospace}}</style>\n</head>\n<body>\n<main>\n<h1>Warning: this site may be harmful</h1>\n<p>The security provider of <strong>{host}</strong> has found that it was used for <strong>{category}</strong>. Do not enter passwords, payment details or personal information here.</p>\n<p><a href=\"/\" onclick=\"history.back();return false;\">Go back</a> · <a href=\"{next}\" rel=\"nofollow\">Continue to the site anyway</a></p>\n<p class=\"ref\">Reference: {reference} · Ray ID: {ray}</p>\n</main>\n</body>\n</html>\n",
        short = escape_html(&d.category),
        host = escape_html(ctx.host),
        next = escape_html(&next),
        reference = escape_html(&d.reference),
        ray = ctx.ray,
    );
    html_response(StatusCode::FORBIDDEN, body)
}

fn cookie_name(d: &Enforcement) -> String {
    let id: String = d
        .decision_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect();
    format!("{CONTINUE_COOKIE_PREFIX}{id}")
}

fn warned(headers: &HeaderMap, d: &Enforcement) -> bool {
    let name = cookie_name(d);
    headers.get_all(COOKIE).iter().any(|v| {
        v.to_str().is_ok_and(|text| {
            text.split(';')
                .any(|pair| pair.trim().split_once('=').is_some_and(|(n, _)| n == name))
        })
    })
}

/// The visitor chose to continue: remember it for an hour, then go where
/// they were going (a path on this site only).
fn continue_through(d: &Enforcement, path_and_query: &str, tls: bool) -> Response<EdgeBody> {
    #[derive(serde::Deserialize)]
    struct Query {
        #[serde(default)]
        r: String,
    }
    let target = path_and_query
        .split_once('?')
        .and_then(|(_, q)| serde_urlencoded::from_str::<Query>(q).ok())
        .map(|q| q.r)
        .unwrap_or_default();
    let target = crate::bots::page::safe_return(&target).to_string();
    let mut response = Response::new(EdgeBody::Empty);
    *response.status_mut() = StatusCode::SEE_OTHER;
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&target) {
        h.insert(LOCATION, v);
    }
    let secure = if tls { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}=1; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax{secure}",
        cookie_name(d)
    )) {
        h.insert(SET_COOKIE, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(action: EnforcementAction) -> Enforcement {
        Enforcement {
            decision_id: "dec_123".into(),
            reference: "RPT-ABCD-1234".into(),
            action,
            category: "violent_threats".into(),
            decided_at: 1_795_852_800,
            appeal_url: None,
        }
    }

    fn info() -> PageInfo<'static> {
        PageInfo {
            ray: RayId::generate(),
            host: "shop.test",
            json: false,
            tls: false,
        }
    }

    fn body(r: &Response<EdgeBody>) -> String {
        match r.body() {
            EdgeBody::Full(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"/files/*.exe", b"/files/a/b.exe"));
        assert!(!wildcard_match(b"/files/*.exe", b"/files/a.exe.txt"));
        assert!(wildcard_match(b"*", b"/anything"));
        assert!(wildcard_match(b"/a*b*c", b"/aXbYc"));
        assert!(!wildcard_match(b"/a*b*c", b"/aXbY"));
        assert!(Pattern::new("/login").matches("/login/reset"));
        assert!(!Pattern::new("/login").matches("/"));
    }

    #[test]
    fn suspension_says_why_when_and_how_to_appeal_but_not_who() {
        let e = SiteEnforcement::new(&[decision(EnforcementAction::Suspend)]);
        let r = e
            .check("/", "/", &HeaderMap::new(), &info())
            .unwrap_or_else(|| panic!("enforced"));
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let text = body(&r);
        for needle in [
            "blocked by its security provider",
            "an imminent threat to human life",
            "2026-11-28",
            "RPT-ABCD-1234",
            "appeal",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert!(
            e.check(
                "/.rampart/abuse",
                "/.rampart/abuse",
                &HeaderMap::new(),
                &info()
            )
            .is_none()
        );
    }

    #[test]
    fn legal_blocks_answer_451_with_the_authority() {
        let e = SiteEnforcement::new(&[decision(EnforcementAction::LegalBlock {
            blocked_by: Some("https://authority.example/orders/1".into()),
        })]);
        let r = e
            .check("/x", "/x", &HeaderMap::new(), &info())
            .unwrap_or_else(|| panic!("enforced"));
        assert_eq!(r.status(), StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS);
        assert_eq!(
            r.headers().get(LINK).and_then(|v| v.to_str().ok()),
            Some("<https://authority.example/orders/1>; rel=\"blocked-by\"")
        );
    }

    #[test]
    fn restrictions_cover_their_paths_only_and_interstitials_let_visitors_continue() {
        let e = SiteEnforcement::new(&[decision(EnforcementAction::Restrict {
            patterns: vec!["/phish".into(), "/dl/*.exe".into()],
        })]);
        assert!(
            e.check("/phish/login", "/phish/login", &HeaderMap::new(), &info())
                .is_some()
        );
        assert!(
            e.check("/dl/x.exe", "/dl/x.exe", &HeaderMap::new(), &info())
                .is_some()
        );
        assert!(e.check("/", "/", &HeaderMap::new(), &info()).is_none());

        let e = SiteEnforcement::new(&[decision(EnforcementAction::Interstitial)]);
        let warn = e
            .check("/a", "/a?b=1", &HeaderMap::new(), &info())
            .unwrap_or_else(|| panic!("warned"));
        assert!(body(&warn).contains("Continue to the site anyway"));
        let go = e
            .check(
                CONTINUE_PATH,
                "/.rampart/safety/continue?d=dec_123&r=%2Fa%3Fb%3D1",
                &HeaderMap::new(),
                &info(),
            )
            .unwrap_or_else(|| panic!("continue"));
        assert_eq!(go.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            go.headers().get(LOCATION).and_then(|v| v.to_str().ok()),
            Some("/a?b=1")
        );
        let cookie = go
            .headers()
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .unwrap_or_default()
            .to_string();
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&cookie).unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(e.check("/a", "/a", &headers, &info()).is_none());
    }
}
