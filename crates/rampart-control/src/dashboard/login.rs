//! Signing in (email and password, or an API token) and out.
//!
//! Failed attempts are counted per client address and per email; past the
//! limit the answer is 429 whatever the credentials. A wrong password and an
//! unknown email get the same message and take the same time (the password
//! is checked against a decoy hash), so the form does not reveal who has an
//! account.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Extension, Query, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use maud::{Markup, html};
use rand::RngCore as _;
use serde::Deserialize;

use super::csrf::{constant_time_eq, same_origin};
use super::layout::{PageError, Section, notice, page, respond};
use super::session::{self, clear_cookie, cookie, safe_next, session_cookie};
use super::{Dashboard, store};
use crate::Control;
use crate::api::error::ApiError;
use crate::password;

/// The cookie that pairs with the sign-in form's hidden field: the form has
/// no session to hold a CSRF token yet.
const LOGIN_COOKIE: &str = "rampart_login";

#[derive(Deserialize, Default)]
pub(crate) struct LoginQuery {
    next: Option<String>,
    done: Option<String>,
}

#[derive(Deserialize, Default)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: String,
    next: Option<String>,
}

/// What the sign-in page shows besides the forms.
#[derive(Default)]
struct LoginView<'a> {
    next: Option<&'a str>,
    email: &'a str,
    error: Option<String>,
    status: Option<&'a str>,
    /// Which form the error belongs to, so focus and `aria-invalid` land there.
    token_error: bool,
}

pub(crate) async fn form(
    State(control): State<Arc<Control>>,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    if let Ok(Some(_)) = session::lookup(&control, &headers).await {
        return Redirect::to(safe_next(query.next.as_deref())).into_response();
    }
    let status = match query.done.as_deref() {
        Some("signed-out") => Some("You are signed out."),
        Some("expired") => Some("Your session ended. Sign in again."),
        _ => None,
    };
    render(
        &control,
        StatusCode::OK,
        &LoginView {
            next: query.next.as_deref(),
            status,
            ..LoginView::default()
        },
    )
}

pub(crate) async fn submit(
    State(control): State<Arc<Control>>,
    Extension(dashboard): Extension<Arc<Dashboard>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let client = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
    let Ok(bytes) = to_bytes(body, 16 * 1024).await else {
        return PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.")
            .into_response();
    };
    let form: LoginForm = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let paired = cookie(&parts.headers, LOGIN_COOKIE)
        .is_some_and(|c| constant_time_eq(c.as_bytes(), form.csrf.as_bytes()));
    if !paired || !same_origin(&parts.headers, &control) {
        return super::csrf::forbidden();
    }

    let by_token = form.method == "token";
    let email = form.email.trim().to_lowercase();
    let now = Instant::now();
    let ip_key = format!("ip:{client}");
    let email_key = (!by_token).then(|| format!("email:{email}"));
    let limiter = &dashboard.limiter;
    let wait = limiter.blocked_for(&ip_key, now).or_else(|| {
        email_key
            .as_deref()
            .and_then(|key| limiter.blocked_for(key, now))
    });
    let view = |error: String| LoginView {
        next: form.next.as_deref(),
        email: &form.email,
        error: Some(error),
        token_error: by_token,
        ..LoginView::default()
    };
    if let Some(wait) = wait {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let mut response = render(
            &control,
            StatusCode::TOO_MANY_REQUESTS,
            &view(format!(
                "Too many failed sign-in attempts. Wait {minutes} minute{} and try again.",
                if minutes == 1 { "" } else { "s" }
            )),
        );
        if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }

    let outcome = if by_token {
        token_user(&control, form.token.trim()).await
    } else {
        password_user(&control, &email, form.password).await
    };
    let user = match outcome {
        Ok(Ok(user)) => user,
        Ok(Err(message)) => {
            limiter.record_failure(&ip_key, now);
            if let Some(key) = &email_key {
                limiter.record_failure(key, now);
            }
            return render(
                &control,
                StatusCode::UNAUTHORIZED,
                &view(message.to_owned()),
            );
        }
        Err(error) => return PageError::from(error).into_response(),
    };
    start_session(&control, &dashboard, &user, form.next.as_deref()).await
}

/// The user whose password this is, or the message to show.
async fn password_user(
    control: &Control,
    email: &str,
    password: String,
) -> Result<Result<rampart_store::User, &'static str>, ApiError> {
    const WRONG: &str = "The email or password is not right.";
    let found = store(control)?.user_by_email(email).await?;
    let (user, hash) = match found {
        Some((user, Some(hash))) => (Some(user), hash),
        // No such user, or one who signs in by token only: check against
        // the decoy all the same, so the answer takes as long.
        _ => (None, password::decoy_hash().to_owned()),
    };
    // Argon2 takes tens of milliseconds of CPU: off the async workers.
    let matched = tokio::task::spawn_blocking(move || password::verify(&password, &hash))
        .await
        .unwrap_or(false);
    Ok(match user {
        Some(user) if matched => Ok(user),
        _ => Err(WRONG),
    })
}

/// The user of an API token that may stand for them in full: a token with a
/// narrower role or limited to some sites would widen into the user's whole
/// role as a session, so such tokens cannot sign in.
async fn token_user(
    control: &Control,
    secret: &str,
) -> Result<Result<rampart_store::User, &'static str>, ApiError> {
    let Some((token, user)) = store(control)?.token_by_secret(secret).await? else {
        return Ok(Err(
            "That token is not valid. Check that it was copied whole.",
        ));
    };
    if token.site_ids.is_some() || token.role != user.role {
        return Ok(Err(
            "That token is limited to some sites or to a narrower role, so it cannot sign in. Use an unlimited token or your password.",
        ));
    }
    Ok(Ok(user))
}

async fn start_session(
    control: &Control,
    dashboard: &Dashboard,
    user: &rampart_store::User,
    next: Option<&str>,
) -> Response {
    let store = match store(control) {
        Ok(store) => store,
        Err(error) => return PageError::from(error).into_response(),
    };
    // Sign-ins are rare; sweeping ended sessions here keeps the table small
    // without a timer.
    if let Err(error) = store.purge_expired_sessions().await {
        tracing::warn!("could not purge ended dashboard sessions: {error}");
    }
    let ttl = dashboard.session_ttl;
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let secret = match store.create_session(&user.id, ttl_ms).await {
        Ok((secret, _)) => secret,
        Err(error) => return PageError::from(error).into_response(),
    };
    let mut response = Redirect::to(safe_next(next)).into_response();
    let headers = response.headers_mut();
    for value in [
        session_cookie(control, &secret, ttl.as_secs()),
        clear_cookie(control, LOGIN_COOKIE, "/login"),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

pub(crate) async fn logout(
    State(control): State<Arc<Control>>,
    posted: super::csrf::Posted<serde::de::IgnoredAny>,
) -> Result<Response, PageError> {
    // Deleted in the store, so a copied cookie is worthless from now on.
    store(&control)?
        .delete_session(&posted.signed.session.id_hash)
        .await?;
    let mut response = Redirect::to("/login?done=signed-out").into_response();
    let cleared = clear_cookie(&control, session::SESSION_COOKIE, "/");
    if let Ok(value) = HeaderValue::from_str(&cleared) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sign-in page with a fresh form token and the cookie it pairs with.
fn render(control: &Control, status: StatusCode, view: &LoginView<'_>) -> Response {
    let token = random_hex();
    let mut response = respond(status, login_page(&token, view));
    let cookie = format!(
        "{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        session::secure_suffix(control)
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn login_page(token: &str, view: &LoginView<'_>) -> Markup {
    let password_error = view.error.as_deref().filter(|_| !view.token_error);
    let token_error = view.error.as_deref().filter(|_| view.token_error);
    let invalid = |on: bool| on.then_some("true");
    let hidden = |method: &str| {
        html! {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="method" value=(method);
            @if let Some(next) = view.next { input type="hidden" name="next" value=(next); }
        }
    };
    let body = html! {
        div.panel.narrow {
            h1 { "Sign in to Rampart" }
            (notice(view.status))
            @if let Some(error) = password_error {
                p.field-error id="login-error" role="alert" { (error) }
            }
            form.stacked method="post" action="/login" {
                (hidden("password"))
                div.field {
                    label for="f-email" { "Email" }
                    input #f-email type="email" name="email" value=(view.email) autocomplete="username"
                        required autofocus[password_error.is_some() || view.error.is_none()]
                        aria-invalid=[invalid(password_error.is_some())]
                        aria-describedby=[password_error.map(|_| "login-error")];
                }
                div.field {
                    label for="f-password" { "Password" }
                    input #f-password type="password" name="password" autocomplete="current-password" required
                        aria-invalid=[invalid(password_error.is_some())];
                }
                button type="submit" { "Sign in" }
            }
        }
        div.panel.narrow {
            h2 { "Sign in with an API token" }
            p.hint id="token-hint" {
                "An unlimited token signs you in as its user. On first start, Rampart prints an operator admin token to its log."
            }
            @if let Some(error) = token_error {
                p.field-error id="token-error" role="alert" { (error) }
            }
            form.stacked method="post" action="/login" {
                (hidden("token"))
                div.field {
                    label for="f-token" { "API token" }
                    input #f-token type="password" name="token" autocomplete="off" required
                        spellcheck="false" autofocus[token_error.is_some()]
                        aria-invalid=[invalid(token_error.is_some())]
                        aria-describedby=(if token_error.is_some() { "token-error token-hint" } else { "token-hint" });
                }
                button.secondary type="submit" { "Sign in with token" }
            }
        }
    };
    page("Sign in", None, Section::None, body)
}
