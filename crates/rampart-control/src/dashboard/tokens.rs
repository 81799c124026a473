//! `/tokens`: the API tokens the user may see, creating one (its secret is
//! shown once, on the page that answers the form) and revoking.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use http::StatusCode;
use maud::html;
use rampart_store::{ApiToken, Role};
use serde::Deserialize;

use super::csrf::Posted;
use super::form::{Field, select, text};
use super::format::{datetime_ms, iso_ms};
use super::layout::{
    FieldMessage, PageResult, Section, csrf_field, done_message, error_summary, notice, page,
    respond, role_label,
};
use super::{SignedIn, store};
use crate::Control;
use crate::api;
use crate::api::auth::role_within;
use crate::api::tokens::{CreatedToken, NewTokenInput};

#[derive(Deserialize, Default)]
pub(crate) struct TokensQuery {
    done: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub(crate) struct TokenForm {
    name: String,
    role: String,
    expires: String,
}

const EXPIRY: [(&str, &str); 4] = [
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
    ("never", "Never"),
];

pub(crate) async fn list(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Query(query): Query<TokensQuery>,
) -> PageResult {
    let form = TokenForm {
        expires: "90".to_owned(),
        ..TokenForm::default()
    };
    render(
        &control,
        &signed,
        &form,
        None,
        &[],
        done_message(query.done.as_deref()),
        StatusCode::OK,
    )
    .await
}

pub(crate) async fn create(
    State(control): State<Arc<Control>>,
    Posted { signed, form }: Posted<TokenForm>,
) -> PageResult {
    let expires_in = form
        .expires
        .parse::<u64>()
        .ok()
        .map(|days| days * 24 * 3600);
    let input = NewTokenInput {
        name: form.name.clone(),
        role: Role::parse(&form.role),
        sites: None,
        expires_in,
        user_id: None,
    };
    match api::tokens::create_token(&control, &signed.principal, input).await {
        Ok(created) => {
            let cleared = TokenForm {
                expires: "90".to_owned(),
                ..TokenForm::default()
            };
            render(
                &control,
                &signed,
                &cleared,
                Some(&created),
                &[],
                None,
                StatusCode::CREATED,
            )
            .await
        }
        Err(error) if error.status.is_client_error() && error.status != StatusCode::FORBIDDEN => {
            let field = match error.detail.field.as_deref() {
                Some("role") => "role",
                Some("expires_in") => "expires",
                _ => "name",
            };
            let label = match field {
                "role" => "Role",
                "expires" => "Expires",
                _ => "Name",
            };
            let errors = [FieldMessage {
                field,
                label,
                message: error.detail.message.clone(),
            }];
            render(&control, &signed, &form, None, &errors, None, error.status).await
        }
        Err(error) => Err(error.into()),
    }
}

pub(crate) async fn revoke(
    State(control): State<Arc<Control>>,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<serde::de::IgnoredAny>,
) -> PageResult {
    api::tokens::revoke_token(&control, &signed.principal, &id).await?;
    Ok(Redirect::to("/tokens?done=token-revoked").into_response())
}

async fn render(
    control: &Control,
    signed: &SignedIn,
    form: &TokenForm,
    created: Option<&CreatedToken>,
    errors: &[FieldMessage],
    status_message: Option<&str>,
    status: StatusCode,
) -> PageResult {
    let principal = &signed.principal;
    let tokens = api::tokens::visible_tokens(control, principal).await?;
    let owners = owner_emails(control, &tokens).await?;
    let own_role = principal.role();
    let roles: Vec<(&str, &str)> = Role::ALL
        .iter()
        .filter(|r| role_within(&own_role, r))
        .map(|r| (r.as_str(), role_label(r)))
        .collect();
    let role_value = if form.role.is_empty() {
        own_role.as_str()
    } else {
        form.role.as_str()
    };
    let body = html! {
        div.page-head { h1 { "API tokens" } }
        (notice(status_message))
        @if let Some(created) = created {
            div.secret role="status" {
                h2 { "Token “" (created.token.name) "” created" }
                p { "Copy it now: it is shown only this once." }
                div.field {
                    label for="new-secret" { "Your new token" }
                    input #new-secret type="text" readonly value=(created.secret) spellcheck="false" autocomplete="off";
                }
                p.hint { "Send it as " code { "Authorization: Bearer <token>" } " to the API." }
            }
        }
        div.panel {
            @if tokens.is_empty() {
                p.empty { "No tokens." }
            } @else {
                div.table-wrap {
                    table.cards #tokens {
                        caption.visually-hidden { "API tokens" }
                        thead { tr {
                            th scope="col" { "Name" }
                            th scope="col" { "User" }
                            th scope="col" { "Role" }
                            th scope="col" { "Created" }
                            th scope="col" { "Expires" }
                            th scope="col" { "Last used" }
                            th scope="col" { span.visually-hidden { "Actions" } }
                        } }
                        tbody {
                            @for token in &tokens {
                                tr {
                                    td data-label="Name" {
                                        (token.name)
                                        @if token.site_ids.is_some() { " " span.badge.file { "site-limited" } }
                                    }
                                    td.key data-label="User" { (owners.get(&token.user_id).map_or(token.user_id.as_str(), String::as_str)) }
                                    td data-label="Role" { (role_label(&token.role)) }
                                    td data-label="Created" { (when(Some(token.created_at), "—")) }
                                    td data-label="Expires" { (when(token.expires_at, "never")) }
                                    td data-label="Last used" { (when(token.last_used_at, "never")) }
                                    td {
                                        form method="post" action={ "/tokens/" (token.id) "/revoke" } {
                                            (csrf_field(signed.csrf()))
                                            button.secondary type="submit" aria-label={ "Revoke token " (token.name) } { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !principal.is_site_scoped() {
            section.panel aria-labelledby="new-token" {
                h2 #new-token { "Create a token" }
                (error_summary("The token was not created", errors, &[]))
                form.stacked method="post" action="/tokens" novalidate {
                    (csrf_field(signed.csrf()))
                    (text(Field { name: "name", label: "Name", hint: Some("What uses it, e.g. deploy script.") }, &form.name, errors, false))
                    div.row {
                        (select(Field { name: "role", label: "Role", hint: None }, &roles, role_value, errors))
                        (select(Field { name: "expires", label: "Expires", hint: None }, &EXPIRY, &form.expires, errors))
                    }
                    button type="submit" { "Create token" }
                }
            }
        }
    };
    Ok(respond(
        status,
        page("API tokens", Some(signed), Section::Tokens, body),
    ))
}

fn when(ms: Option<i64>, none: &str) -> maud::Markup {
    html! {
        @match ms {
            Some(ms) => time datetime=(iso_ms(ms)) { (datetime_ms(ms)) },
            None => (none),
        }
    }
}

/// Emails of the tokens' users, for the table.
async fn owner_emails(
    control: &Control,
    tokens: &[ApiToken],
) -> Result<HashMap<String, String>, super::PageError> {
    let store = store(control)?;
    let mut emails = HashMap::new();
    for token in tokens {
        if !emails.contains_key(&token.user_id)
            && let Ok(user) = store.get_user(&token.user_id).await
        {
            emails.insert(token.user_id.clone(), user.email);
        }
    }
    Ok(emails)
}
