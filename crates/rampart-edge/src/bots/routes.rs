//! `/.rampart/`: the paths the edge answers itself on every protected
//! site, before any security phase (a challenged visitor must reach them):
//!
//! * `GET /.rampart/challenge/v1/{pow,pow-core,pow-worker,challenge}.js`
//! * `POST /.rampart/challenge/v1/verify` — a solved challenge → clearance
//! * `GET /.rampart/challenge/v1/nojs` — the no-JavaScript fallback
//! * `GET /.rampart/captcha/v1/api.js` — the widget
//! * `GET /.rampart/captcha/v1/challenge?sitekey=` and
//!   `POST /.rampart/captcha/v1/solve` — the widget's work and its token
//! * `POST /.rampart/captcha/v1/siteverify` — Turnstile/hCaptcha-style
//!   verification for the site's backend

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use rampart_challenge::captcha::{self, MapDirectory};
use rampart_challenge::{Recorded, clearance, pow};
use rampart_config::ThreatLevel;
use serde::Deserialize;

use super::page::{self, NOJS_WAIT_SECS};
use super::{BotState, SiteBots, unix_now};
use crate::body::EdgeBody;
use crate::security::respond::PageCtx;

pub const PREFIX: &str = "/.rampart/";
/// Bodies the endpoints read: forms and small JSON documents.
const MAX_BODY: usize = 16 * 1024;
/// A client that trickles a form this small is not a browser.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

const POW_JS: &str = include_str!("../../../rampart-challenge/assets/pow.js");
const POW_CORE_JS: &str = include_str!("../../../rampart-challenge/assets/pow-core.js");
const POW_WORKER_JS: &str = include_str!("../../../rampart-challenge/assets/pow-worker.js");
const CHALLENGE_JS: &str = include_str!("../../../rampart-challenge/assets/challenge.js");
const CAPTCHA_JS: &str = include_str!("../../../rampart-challenge/assets/captcha-api.js");

/// What the routes need besides the request.
pub struct Ctx<'a> {
    pub bots: &'a SiteBots,
    pub state: &'a BotState,
    /// Every site's sitekeys, for siteverify (the secret names the key).
    pub directory: &'a MapDirectory,
    pub ip: IpAddr,
    pub tls: bool,
    pub page: PageCtx<'a>,
}

pub fn is_reserved(path: &str) -> bool {
    path.starts_with(PREFIX)
}

pub async fn handle(request: Request<Incoming>, ctx: &Ctx<'_>) -> Response<EdgeBody> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let asset = |body: &'static str| script(body);
    match (method, path.as_str()) {
        (Method::GET | Method::HEAD, "/.rampart/challenge/v1/pow.js") => asset(POW_JS),
        (Method::GET | Method::HEAD, "/.rampart/challenge/v1/pow-core.js") => asset(POW_CORE_JS),
        (Method::GET | Method::HEAD, "/.rampart/challenge/v1/pow-worker.js") => {
            asset(POW_WORKER_JS)
        }
        (Method::GET | Method::HEAD, "/.rampart/challenge/v1/challenge.js") => asset(CHALLENGE_JS),
        (Method::GET | Method::HEAD, "/.rampart/captcha/v1/api.js") => asset(CAPTCHA_JS),
        (Method::POST, page::VERIFY_PATH) => verify(request, ctx).await,
        (Method::GET | Method::HEAD, page::NOJS_PATH) => nojs(&request, ctx).await,
        (Method::GET, "/.rampart/captcha/v1/challenge") => captcha_challenge(&request, ctx),
        (Method::POST, "/.rampart/captcha/v1/solve") => captcha_solve(request, ctx).await,
        (Method::POST, "/.rampart/captcha/v1/siteverify") => siteverify(request, ctx).await,
        (_, "/.rampart/captcha/v1/siteverify") => json(
            StatusCode::METHOD_NOT_ALLOWED,
            &captcha::VerifyResponse::failure(&[captcha::ErrorCode::BadRequest]),
        ),
        _ => ctx.page.not_found(),
    }
}

fn script(body: &'static str) -> Response<EdgeBody> {
    let mut response = Response::new(EdgeBody::Full(Some(Bytes::from_static(body.as_bytes()))));
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<EdgeBody> {
    crate::pages::json_response(
        status,
        serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string()),
    )
}

fn error(status: StatusCode, code: &str) -> Response<EdgeBody> {
    json(status, &serde_json::json!({ "error": code }))
}

/// The body, up to [`MAX_BODY`] bytes within [`BODY_TIMEOUT`].
async fn read_body(request: Request<Incoming>) -> Option<(HeaderMap, Bytes)> {
    read_body_up_to(request, MAX_BODY).await
}

/// The body, up to `limit` bytes within [`BODY_TIMEOUT`].
pub async fn read_body_up_to(
    request: Request<Incoming>,
    limit: usize,
) -> Option<(HeaderMap, Bytes)> {
    let (parts, body) = request.into_parts();
    let collected = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, limit).collect())
        .await
        .ok()?
        .ok()?;
    Some((parts.headers, collected.to_bytes()))
}

#[derive(Deserialize)]
struct VerifyForm {
    challenge: String,
    nonce: String,
    #[serde(default, rename = "return")]
    return_to: String,
}

async fn verify(request: Request<Incoming>, ctx: &Ctx<'_>) -> Response<EdgeBody> {
    let Some((headers, body)) = read_body(request).await else {
        return retry_page(
            ctx,
            "/",
            "The answer to the check did not arrive in one piece.",
        );
    };
    let Ok(form) = serde_urlencoded::from_bytes::<VerifyForm>(&body) else {
        return retry_page(ctx, "/", "The answer to the check was not readable.");
    };
    let return_to = page::safe_return(&form.return_to).to_string();
    let bots = ctx.bots;
    let now = unix_now();
    let spent = Recorded::new(&ctx.state.spent);
    let checked = pow::verify(
        &bots.ring,
        &form.challenge,
        &form.nonce,
        &bots.site,
        ctx.ip,
        &bots.prefix,
        now,
        &spent,
    );
    match confirmed(checked, ctx, &spent, || pow::PowError::Replayed).await {
        Ok(_) => grant(bots, &headers, ctx, &bots.site, &return_to, now),
        Err(e) => {
            tracing::debug!(site = %bots.site, error = %e, "challenge answer refused");
            retry_page(
                ctx,
                &return_to,
                &format!("The check did not pass ({e}); it runs again now."),
            )
        }
    }
}

/// A challenge (or captcha solve) that passed the local checks is
/// confirmed with the cluster's spent set: refused with `replayed()` if
/// another node redeemed it.
async fn confirmed<T, E>(
    checked: Result<T, E>,
    ctx: &Ctx<'_>,
    spent: &Recorded<'_, rampart_challenge::LocalSpentSet>,
    replayed: impl FnOnce() -> E,
) -> Result<T, E> {
    let passed = checked?;
    if ctx.state.confirm_shared(spent.taken()).await {
        Ok(passed)
    } else {
        Err(replayed())
    }
}

/// Sets the clearance cookie and sends the visitor where they were going.
fn grant(
    bots: &SiteBots,
    headers: &HeaderMap,
    ctx: &Ctx<'_>,
    site: &str,
    return_to: &str,
    now: u64,
) -> Response<EdgeBody> {
    let ua = headers.get(USER_AGENT).map_or(&b""[..], |v| v.as_bytes());
    let lifetime = bots.settings.clearance_ttl.as_secs();
    let value = clearance::issue(
        &bots.ring,
        site,
        ctx.ip,
        &bots.prefix,
        ua,
        now.saturating_add(lifetime),
    );
    let mut response = Response::new(EdgeBody::Empty);
    *response.status_mut() = StatusCode::SEE_OTHER;
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(return_to) {
        h.insert(LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&clearance::set_cookie_header(&value, lifetime, ctx.tls)) {
        h.append(SET_COOKIE, v);
    }
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A fresh challenge after a failed answer.
fn retry_page(ctx: &Ctx<'_>, return_to: &str, reason: &str) -> Response<EdgeBody> {
    page::respond(
        ctx.bots,
        &page::Challenge {
            level: ThreatLevel::Medium,
            reason,
            rule: None,
            interactive: false,
        },
        &Method::GET,
        return_to,
        ctx.ip,
        ctx.tls,
        &ctx.page,
        unix_now(),
    )
}

#[derive(Deserialize)]
struct NojsQuery {
    c: String,
    n: String,
    #[serde(default)]
    r: String,
}

async fn nojs(request: &Request<Incoming>, ctx: &Ctx<'_>) -> Response<EdgeBody> {
    let bots = ctx.bots;
    let return_to = request
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<NojsQuery>(q).ok());
    let Some(q) = return_to else {
        return retry_page(ctx, "/", "The link to continue was incomplete.");
    };
    let return_to = page::safe_return(&q.r).to_string();
    if !bots.settings.nojs_fallback {
        return retry_page(ctx, &return_to, "This site needs JavaScript for its check.");
    }
    let now = unix_now();
    let waited =
        pow::decode(&q.c).is_ok_and(|info| info.issued.saturating_add(NOJS_WAIT_SECS) <= now);
    if !waited {
        return retry_page(
            ctx,
            &return_to,
            "The page continued too early; wait for it to continue by itself.",
        );
    }
    let expected = page::nojs_cookie_value(&q.c);
    let name = page::nojs_cookie_name(&q.c);
    let cookie_ok = request.headers().get_all(COOKIE).iter().any(|v| {
        v.to_str()
            .is_ok_and(|text| clearance::cookie_values(text, &name).any(|c| c == expected))
    });
    if !cookie_ok {
        return retry_page(
            ctx,
            &return_to,
            "Your browser did not send back the check's cookie; allow cookies for this site.",
        );
    }
    let spent = Recorded::new(&ctx.state.spent);
    let checked = pow::verify(
        &bots.ring,
        &q.c,
        &q.n,
        &bots.nojs_site,
        ctx.ip,
        &bots.prefix,
        now,
        &spent,
    );
    match confirmed(checked, ctx, &spent, || pow::PowError::Replayed).await {
        Ok(_) => grant(
            bots,
            request.headers(),
            ctx,
            &bots.nojs_site,
            &return_to,
            now,
        ),
        Err(e) => retry_page(ctx, &return_to, &format!("The check did not pass ({e}).")),
    }
}

#[derive(Deserialize)]
struct ChallengeQuery {
    sitekey: String,
}

fn captcha_challenge(request: &Request<Incoming>, ctx: &Ctx<'_>) -> Response<EdgeBody> {
    let Some(q) = request
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<ChallengeQuery>(q).ok())
    else {
        return error(StatusCode::BAD_REQUEST, "missing-sitekey");
    };
    let bots = ctx.bots;
    match captcha::challenge_json(
        &bots.ring,
        &bots.captcha,
        &q.sitekey,
        ctx.page.host,
        ctx.ip,
        &bots.prefix,
        &bots.params(ThreatLevel::Medium),
        unix_now(),
    ) {
        Ok(body) => crate::pages::json_response(StatusCode::OK, body),
        Err(e) => error(StatusCode::BAD_REQUEST, e.code()),
    }
}

async fn captcha_solve(request: Request<Incoming>, ctx: &Ctx<'_>) -> Response<EdgeBody> {
    let Some((_, body)) = read_body(request).await else {
        return error(StatusCode::BAD_REQUEST, "bad-request");
    };
    let spent = Recorded::new(&ctx.state.spent);
    let solved = captcha::SolveRequest::from_json(&body).and_then(|solve| {
        let bots = ctx.bots;
        captcha::solve(
            &bots.ring,
            &bots.captcha,
            &spent,
            &solve,
            ctx.page.host,
            ctx.ip,
            &bots.prefix,
            unix_now(),
        )
    });
    let solved = confirmed(solved, ctx, &spent, || {
        captcha::CaptchaError::Challenge(pow::PowError::Replayed)
    })
    .await;
    match solved {
        Ok(answer) => crate::pages::json_response(StatusCode::OK, answer.to_json()),
        Err(e) => error(StatusCode::BAD_REQUEST, e.code()),
    }
}

async fn siteverify(request: Request<Incoming>, ctx: &Ctx<'_>) -> Response<EdgeBody> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some((_, body)) = read_body(request).await else {
        return json(
            StatusCode::BAD_REQUEST,
            &captcha::VerifyResponse::failure(&[captcha::ErrorCode::BadRequest]),
        );
    };
    let now = unix_now();
    let answer = match captcha::siteverify_body_begin(
        &ctx.bots.ring,
        ctx.directory,
        &ctx.state.idempotency,
        content_type.as_deref(),
        &body,
        now,
    ) {
        captcha::Verification::Done(answer) => answer,
        captcha::Verification::Redeem(redeem) => {
            let first = ctx
                .state
                .spend_everywhere(redeem.id(), redeem.expires_at(), now)
                .await;
            redeem.finish(first, &ctx.state.idempotency, now)
        }
    };
    // Turnstile answers 200 for a failed verification too: clients read
    // `success`, and some treat other statuses as transport errors.
    json(StatusCode::OK, &answer)
}
