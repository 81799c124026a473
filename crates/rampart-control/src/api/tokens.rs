//! `/api/v1/tokens`: API tokens. The secret is in the creation response only;
//! the store keeps its hash.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_store::{ApiToken, NewToken, Role, User};
use serde::{Deserialize, Serialize};

use super::auth::{Principal, may_grant, role_within};
use super::body::ApiJson;
use super::error::{ApiError, ApiResult};
use super::sites::visible_site;
use super::store;
use crate::Control;

/// Longest lifetime a token can be given, in seconds (two years).
const MAX_TTL_SECS: u64 = 2 * 366 * 24 * 3600;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenInput {
    /// A label to recognise the token by.
    pub name: String,
    /// Defaults to the user's role; may be the read-only role of the same side.
    #[schema(value_type = Option<String>)]
    pub role: Option<Role>,
    /// Limit the token to these sites (ids or names).
    pub sites: Option<Vec<String>>,
    /// Lifetime in seconds; no expiry when absent.
    pub expires_in: Option<u64>,
    /// Whose token: operator admins and account owners may create tokens for
    /// users they manage. Defaults to the caller.
    pub user_id: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[schema(value_type = Object)]
    pub token: ApiToken,
    /// Shown this once; store it now.
    pub secret: String,
}

fn manages_tokens_of(principal: &Principal, owner: &User) -> bool {
    principal.user.id == owner.id
        || principal.is_operator_admin()
        || (principal.role() == Role::AccountOwner
            && owner.account_id.is_some()
            && owner.account_id.as_deref() == principal.account_id())
}

/// Someone in the caller's own account is forbidden; anyone else's does
/// not exist as far as the caller can tell.
fn hidden_or_forbidden(principal: &Principal, owner: &User, kind: &str, id: &str) -> ApiError {
    let same_side = principal.is_operator()
        || (owner.account_id.is_some() && owner.account_id.as_deref() == principal.account_id());
    if same_side {
        ApiError::forbidden("you may not manage this user's tokens")
    } else {
        ApiError::not_found(kind, id)
    }
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, body = [Object])))]
pub async fn list(
    State(control): State<Arc<Control>>,
    principal: Principal,
) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(visible_tokens(&control, &principal).await?))
}

/// The tokens the caller may see: their own, their account's (owners), or
/// all (operator admins).
pub(crate) async fn visible_tokens(
    control: &Control,
    principal: &Principal,
) -> ApiResult<Vec<ApiToken>> {
    let store = store(control)?;
    let tokens = if principal.is_site_scoped() {
        store.list_tokens(Some(&principal.user.id), None).await?
    } else if principal.is_operator_admin() {
        store.list_tokens(None, None).await?
    } else if principal.role() == Role::AccountOwner {
        store.list_tokens(None, principal.account_id()).await?
    } else {
        store.list_tokens(Some(&principal.user.id), None).await?
    };
    Ok(tokens)
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewTokenInput,
    responses((status = 201, body = CreatedToken), (status = 403, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn create(
    State(control): State<Arc<Control>>,
    principal: Principal,
    ApiJson(input): ApiJson<NewTokenInput>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let created = create_token(&control, &principal, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Creates a token with the API's checks; the dashboard's form goes
/// through here too.
pub(crate) async fn create_token(
    control: &Control,
    principal: &Principal,
    input: NewTokenInput,
) -> ApiResult<CreatedToken> {
    principal.require_unscoped()?;
    let store = store(control)?;
    let owner = match &input.user_id {
        None => principal.user.clone(),
        Some(id) => {
            let owner = store
                .get_user(id)
                .await
                .map_err(|_| ApiError::not_found("user", id))?;
            if !manages_tokens_of(principal, &owner) {
                return Err(hidden_or_forbidden(principal, &owner, "user", id));
            }
            owner
        }
    };
    let role = input.role.clone().unwrap_or_else(|| owner.role.clone());
    let for_self = owner.id == principal.user.id;
    let granted = for_self && role_within(&principal.role(), &role)
        || !for_self && may_grant(principal, &role, owner.account_id.as_deref());
    if !role_within(&owner.role, &role) || !granted {
        return Err(ApiError::invalid(
            "role",
            "forbidden_role",
            format!(
                "a token cannot have more rights than its user ({})",
                owner.role.as_str()
            ),
        ));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "name",
            "invalid",
            "a token name is 1 to 100 characters",
        ));
    }
    let site_ids = match &input.sites {
        None => None,
        Some(keys) => {
            let mut ids = Vec::with_capacity(keys.len());
            for (i, key) in keys.iter().enumerate() {
                let site = visible_site(control, principal, key).await.map_err(|_| {
                    ApiError::invalid(
                        &format!("sites[{i}]"),
                        "not_found",
                        format!("no site '{key}' that you can see"),
                    )
                })?;
                if owner.account_id.as_deref() != Some(site.account_id.as_str())
                    && !owner.role.is_operator()
                {
                    return Err(ApiError::invalid(
                        &format!("sites[{i}]"),
                        "invalid",
                        "the site belongs to another account than the token's user",
                    ));
                }
                ids.push(site.id);
            }
            Some(ids)
        }
    };
    let expires_at = match input.expires_in {
        None => None,
        Some(secs) if (60..=MAX_TTL_SECS).contains(&secs) => {
            Some(now_ms().saturating_add(i64::try_from(secs).unwrap_or(0).saturating_mul(1000)))
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "expires_in",
                "out_of_range",
                format!("expires_in is seconds from 60 to {MAX_TTL_SECS}"),
            ));
        }
    };
    let (token, secret) = store
        .create_token(
            &principal.actor(),
            NewToken {
                user_id: owner.id,
                name: name.to_owned(),
                role,
                site_ids,
                expires_at,
            },
        )
        .await?;
    Ok(CreatedToken { token, secret })
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    revoke_token(&control, &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a token the caller owns or manages.
pub(crate) async fn revoke_token(
    control: &Control,
    principal: &Principal,
    id: &str,
) -> ApiResult<()> {
    let store = store(control)?;
    let token = store
        .get_token(id)
        .await
        .map_err(|_| ApiError::not_found("token", id))?;
    let owner = store
        .get_user(&token.user_id)
        .await
        .map_err(|_| ApiError::not_found("token", id))?;
    let own = owner.id == principal.user.id;
    if !(own || (!principal.is_site_scoped() && manages_tokens_of(principal, &owner))) {
        return Err(hidden_or_forbidden(principal, &owner, "token", id));
    }
    store.delete_token(&principal.actor(), &token.id).await?;
    Ok(())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
