//! `/api/v1/users`: people who sign in to the dashboard or own API tokens.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use rampart_store::{NewUser, Role, User};
use serde::Deserialize;

use super::auth::{Principal, may_grant};
use super::body::ApiJson;
use super::error::{ApiError, ApiResult};
use super::store;
use crate::Control;
use crate::password;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    pub email: String,
    pub name: String,
    /// operator_admin, trust_safety, account_owner or account_member.
    #[schema(value_type = String)]
    pub role: Role,
    /// Required for account roles; absent for operator roles.
    pub account_id: Option<String>,
    /// For dashboard sign-in; at least 12 characters. Stored as an argon2 hash.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    pub account_id: Option<String>,
}

fn readable(principal: &Principal, user: &User) -> bool {
    principal.is_operator()
        || principal.user.id == user.id
        || (user.account_id.is_some() && user.account_id.as_deref() == principal.account_id())
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserQuery),
    responses((status = 200, body = [Object])))]
pub async fn list(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Query(query): Query<UserQuery>,
) -> ApiResult<Json<Vec<User>>> {
    principal.require_unscoped()?;
    let account = if principal.is_operator() {
        query.account_id
    } else {
        principal.account_id().map(str::to_owned)
    };
    let users = store(&control)?.list_users(account.as_deref()).await?;
    Ok(Json(
        users
            .into_iter()
            .filter(|u| readable(&principal, u))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserInput,
    responses((status = 201, body = Object), (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn create(
    State(control): State<Arc<Control>>,
    principal: Principal,
    ApiJson(input): ApiJson<NewUserInput>,
) -> ApiResult<(StatusCode, Json<User>)> {
    principal.require_unscoped()?;
    let account_id = match (&input.account_id, input.role.is_operator()) {
        (Some(_), true) => {
            return Err(ApiError::invalid(
                "account_id",
                "invalid",
                "operator roles belong to no account: leave account_id out",
            ));
        }
        (None, false) => principal.account_id().map(str::to_owned).ok_or_else(|| {
            ApiError::invalid(
                "account_id",
                "required",
                "account roles need the account the user belongs to",
            )
        })?,
        (Some(id), false) => id.clone(),
        (None, true) => String::new(),
    };
    let account = (!account_id.is_empty()).then_some(account_id);
    if let Some(id) = &account
        && !principal.can_read_account(id)
    {
        return Err(ApiError::not_found("account", id));
    }
    if !may_grant(&principal, &input.role, account.as_deref()) {
        return Err(ApiError::forbidden(
            "you may not create users with this role",
        ));
    }
    let email = checked_email(&input.email)?;
    let name = checked_name(&input.name)?;
    let password_hash = match &input.password {
        Some(password) => Some(password::hash(password)?),
        None => None,
    };
    let store = store(&control)?;
    if let Some(id) = &account {
        store.get_account(id).await?;
    }
    let user = store
        .create_user(
            &principal.actor(),
            NewUser {
                account_id: account,
                email,
                name,
                role: input.role,
                password_hash,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<User>> {
    principal.require_unscoped()?;
    let user = visible_user(&control, &principal, &id).await?;
    Ok(Json(user))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    request_body = UserPatch,
    responses((status = 200, body = Object), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn update(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> ApiResult<Json<User>> {
    principal.require_unscoped()?;
    let user = visible_user(&control, &principal, &id).await?;
    let is_self = user.id == principal.user.id;
    let manages = may_grant(&principal, &user.role, user.account_id.as_deref());
    if !is_self && !manages {
        return Err(ApiError::forbidden("you may not change this user"));
    }
    if let Some(role) = &patch.role {
        if role.is_operator() != user.role.is_operator() {
            return Err(ApiError::invalid(
                "role",
                "invalid",
                "a user cannot move between operator and account roles",
            ));
        }
        if !may_grant(&principal, role, user.account_id.as_deref()) || (is_self && !manages) {
            return Err(ApiError::forbidden("you may not grant this role"));
        }
    }
    let name = patch.name.as_deref().map(checked_name).transpose()?;
    let password_hash = patch.password.as_deref().map(password::hash).transpose()?;
    let rights_changed = password_hash.is_some() || patch.role.is_some();
    let store = store(&control)?;
    let user = store
        .update_user(
            &principal.actor(),
            &user.id,
            name.as_deref(),
            patch.role,
            password_hash.as_deref(),
        )
        .await?;
    if rights_changed {
        // A new password or role signs the user out everywhere: a session
        // opened with the old password or rights must not outlive them.
        store.delete_sessions_of_user(&user.id).await?;
    }
    Ok(Json(user))
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require_unscoped()?;
    let user = visible_user(&control, &principal, &id).await?;
    if user.id == principal.user.id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "self",
            "you cannot delete yourself; ask another admin",
        ));
    }
    if !may_grant(&principal, &user.role, user.account_id.as_deref()) {
        return Err(ApiError::forbidden("you may not delete this user"));
    }
    store(&control)?
        .delete_user(&principal.actor(), &user.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn visible_user(control: &Control, principal: &Principal, id: &str) -> ApiResult<User> {
    match store(control)?.get_user(id).await {
        Ok(user) if readable(principal, &user) => Ok(user),
        Ok(_) | Err(rampart_store::StoreError::NotFound { .. }) => {
            Err(ApiError::not_found("user", id))
        }
        Err(error) => Err(error.into()),
    }
}

fn checked_email(email: &str) -> ApiResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && (domain.contains('.') || domain == "localhost")
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(ApiError::invalid(
            "email",
            "invalid",
            "give an email address like name@example.com",
        ));
    }
    Ok(email)
}

fn checked_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "invalid",
            "a name is 1 to 100 printable characters",
        ));
    }
    Ok(name.to_owned())
}
