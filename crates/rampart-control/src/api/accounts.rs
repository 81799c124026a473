//! `/api/v1/accounts`: the customers sites belong to.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_store::Account;
use serde::Deserialize;

use super::auth::Principal;
use super::body::ApiJson;
use super::error::{ApiError, ApiResult};
use super::store;
use crate::{Control, FILE_ACCOUNT};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    /// 1–100 characters, unique.
    pub name: String,
}

fn checked_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid(
            "name",
            "invalid",
            "an account name is 1 to 100 characters",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "invalid",
            "an account name cannot contain control characters",
        ));
    }
    Ok(name.to_owned())
}

#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts",
    responses((status = 200, body = [Object])))]
pub async fn list(
    State(control): State<Arc<Control>>,
    principal: Principal,
) -> ApiResult<Json<Vec<Account>>> {
    let accounts = store(&control)?.list_accounts().await?;
    Ok(Json(
        accounts
            .into_iter()
            .filter(|a| principal.can_read_account(&a.id))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = AccountInput,
    responses((status = 201, body = Object), (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)))]
pub async fn create(
    State(control): State<Arc<Control>>,
    principal: Principal,
    ApiJson(input): ApiJson<AccountInput>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    let account = create_account(&control, &principal, &input.name).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Creates an account with the API's checks; the dashboard's form goes
/// through here too.
pub(crate) async fn create_account(
    control: &Control,
    principal: &Principal,
    name: &str,
) -> ApiResult<Account> {
    principal.require_operator_admin()?;
    let name = checked_name(name)?;
    Ok(store(control)?
        .create_account(&principal.actor(), &name)
        .await?)
}

#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    if !principal.can_read_account(&id) {
        return Err(ApiError::not_found("account", &id));
    }
    Ok(Json(store(&control)?.get_account(&id).await?))
}

#[utoipa::path(patch, path = "/api/v1/accounts/{id}", tag = "accounts", request_body = AccountInput,
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 404, body = super::error::ErrorBody)))]
pub async fn rename(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AccountInput>,
) -> ApiResult<Json<Account>> {
    if !principal.can_read_account(&id) {
        return Err(ApiError::not_found("account", &id));
    }
    principal.require_operator_admin()?;
    let name = checked_name(&input.name)?;
    let store = store(&control)?;
    if store.get_account(&id).await?.name == FILE_ACCOUNT {
        return Err(file_account());
    }
    Ok(Json(
        store.rename_account(&principal.actor(), &id, &name).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{id}", tag = "accounts",
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if !principal.can_read_account(&id) {
        return Err(ApiError::not_found("account", &id));
    }
    principal.require_operator_admin()?;
    let store = store(&control)?;
    if store.get_account(&id).await?.name == FILE_ACCOUNT {
        return Err(file_account());
    }
    store.delete_account(&principal.actor(), &id).await?;
    control.notify_changed();
    Ok(StatusCode::NO_CONTENT)
}

fn file_account() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "file_managed",
        "this account holds the configuration file's sites; change the file instead",
    )
}
