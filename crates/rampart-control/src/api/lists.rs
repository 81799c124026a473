//! `/api/v1/lists`: named IP lists that rules use as `$name`.
//!
//! An account's lists are its own: its users read them (site-scoped tokens
//! too, since their sites' rules use them), owners write them, other
//! accounts cannot see them. Operator lists (no account) are seen by every
//! account's rules; anyone may see that they exist, only operators read
//! their entries, only operator admins change them. A list a rule uses
//! cannot be deleted or renamed (409 names the rules).

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use rampart_store::{IpListRecord, IpListWrite, ListUsers, ListsOf, StoreError};
use serde::{Deserialize, Serialize};

use super::auth::Principal;
use super::body::ApiJson;
use super::error::{ApiError, ApiResult};
use super::store;
use crate::Control;
use crate::iplists::{self, ImportError};

/// The largest `PUT`/`POST …/items` body: a million IPv6 CIDRs.
pub(crate) const MAX_ITEMS_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListView {
    pub id: String,
    /// "operator" (seen by every account's rules) or "account".
    pub scope: &'static str,
    /// The owning account; absent for operator lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Written `$name` in rule expressions.
    pub name: String,
    pub description: String,
    pub entry_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&IpListRecord> for ListView {
    fn from(list: &IpListRecord) -> Self {
        Self {
            id: list.id.clone(),
            scope: if list.account_id.is_some() {
                "account"
            } else {
                "operator"
            },
            account_id: list.account_id.clone(),
            name: list.name.clone(),
            description: list.description.clone(),
            entry_count: list.entry_count,
            created_at: list.created_at,
            updated_at: list.updated_at,
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewList {
    /// `[a-z0-9][a-z0-9_]*`, at most 63 bytes; unique among the owner's lists.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The owning account. Absent: an operator list (operator admins only);
    /// account users' lists always belong to their account.
    pub account_id: Option<String>,
    /// Addresses and CIDRs, IPv4 or IPv6. More can be imported as text
    /// through `PUT /lists/{id}/items`.
    #[serde(default)]
    pub items: Vec<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPatch {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this account's lists. Without it: every list for operators;
    /// the operator's lists and their own account's for account users.
    pub account_id: Option<String>,
}

fn import_error(field: &str, error: &ImportError) -> ApiError {
    let code = match error {
        ImportError::BadLine { .. } => "invalid_entry",
        ImportError::TooLarge => "too_large",
    };
    ApiError::invalid(field, code, error.to_string())
}

fn check_name(name: &str) -> ApiResult<()> {
    iplists::check_name(name).map_err(|m| ApiError::invalid("name", "invalid", m))
}

fn check_description(description: &str) -> ApiResult<()> {
    if description.len() > iplists::MAX_DESCRIPTION {
        return Err(ApiError::invalid(
            "description",
            "too_long",
            format!(
                "a description is at most {} bytes",
                iplists::MAX_DESCRIPTION
            ),
        ));
    }
    Ok(())
}

/// Whether the caller may read this list's entries.
fn can_read_entries(principal: &Principal, list: &IpListRecord) -> bool {
    match &list.account_id {
        Some(account) => principal.can_read_account(account),
        None => principal.is_operator(),
    }
}

/// A list the caller may see; another account's is "not found".
pub(crate) async fn visible_list(
    control: &Control,
    principal: &Principal,
    id: &str,
) -> ApiResult<IpListRecord> {
    let list = store(control)?.get_ip_list(id).await?;
    match &list.account_id {
        Some(account) if !principal.can_read_account(account) => {
            Err(ApiError::not_found("list", id))
        }
        _ => Ok(list),
    }
}

/// Whether the caller may change lists of this owner (`None`: operator).
fn require_list_writer(principal: &Principal, account_id: Option<&str>) -> ApiResult<()> {
    principal.require_unscoped()?;
    let allowed = match account_id {
        Some(account) => principal.can_write_account(account),
        None => principal.is_operator_admin(),
    };
    if !allowed {
        return Err(ApiError::forbidden(match account_id {
            Some(_) => "this role may not change lists",
            None => "only operator admins may change operator lists",
        }));
    }
    Ok(())
}

/// A list the caller may see and change.
pub(crate) async fn writable_list(
    control: &Control,
    principal: &Principal,
    id: &str,
) -> ApiResult<IpListRecord> {
    let list = visible_list(control, principal, id).await?;
    require_list_writer(principal, list.account_id.as_deref())?;
    Ok(list)
}

/// The lists a caller sees: with `account_id`, that account's; without,
/// every list for operators, the operator's and their own for account users.
pub(crate) async fn visible_lists(
    control: &Control,
    principal: &Principal,
    account_id: Option<&str>,
) -> ApiResult<Vec<IpListRecord>> {
    let store = store(control)?;
    if let Some(id) = account_id {
        if !principal.can_read_account(id) {
            return Err(ApiError::not_found("account", id));
        }
        return Ok(store.list_ip_lists(ListsOf::Account(id)).await?);
    }
    if principal.is_operator() {
        return Ok(store.list_ip_lists(ListsOf::All).await?);
    }
    let mut lists = store.list_ip_lists(ListsOf::Operator).await?;
    if let Some(account) = principal.account_id() {
        lists.extend(store.list_ip_lists(ListsOf::Account(account)).await?);
    }
    Ok(lists)
}

#[utoipa::path(get, path = "/api/v1/lists", tag = "lists", params(ListQuery),
    responses((status = 200, body = [ListView])))]
pub async fn list(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Vec<ListView>>> {
    let lists = visible_lists(&control, &principal, query.account_id.as_deref()).await?;
    Ok(Json(lists.iter().map(ListView::from).collect()))
}

#[utoipa::path(post, path = "/api/v1/lists", tag = "lists", request_body = NewList,
    responses((status = 201, body = ListView), (status = 403, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn create(
    State(control): State<Arc<Control>>,
    principal: Principal,
    ApiJson(input): ApiJson<NewList>,
) -> ApiResult<(StatusCode, Json<ListView>)> {
    let items = input.items.iter().map(String::as_str);
    let entries = iplists::parse_entries(items, &HashSet::new()).map_err(|e| match e {
        ImportError::BadLine { line, .. } => {
            import_error(&format!("items[{}]", line.saturating_sub(1)), &e)
        }
        ImportError::TooLarge => import_error("items", &e),
    })?;
    let text = iplists::to_text(&entries);
    let record = create_list(
        &control,
        &principal,
        input.account_id,
        &input.name,
        &input.description,
        (text, entries.len()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(ListView::from(&record))))
}

/// Creates a list with normalised `entries` (text, count); the dashboard's
/// form comes here too. Account users' lists belong to their account.
pub(crate) async fn create_list(
    control: &Control,
    principal: &Principal,
    account_id: Option<String>,
    name: &str,
    description: &str,
    entries: (String, usize),
) -> ApiResult<IpListRecord> {
    let account_id = match account_id {
        Some(id) => Some(id),
        None if principal.is_operator() => None,
        None => principal.account_id().map(str::to_owned),
    };
    if let Some(account) = &account_id
        && !principal.can_read_account(account)
    {
        return Err(ApiError::not_found("account", account));
    }
    require_list_writer(principal, account_id.as_deref())?;
    check_name(name)?;
    check_description(description)?;
    let (text, count) = entries;
    let record = store(control)?
        .create_ip_list(
            &principal.actor(),
            account_id.as_deref(),
            IpListWrite {
                name: name.to_owned(),
                description: description.to_owned(),
                entries: text,
                entry_count: i64::try_from(count).unwrap_or(i64::MAX),
            },
        )
        .await?;
    control.notify_changed();
    Ok(record)
}

#[utoipa::path(get, path = "/api/v1/lists/{id}", tag = "lists",
    params(("id" = String, Path, description = "List id")),
    responses((status = 200, body = ListView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ListView>> {
    let list = visible_list(&control, &principal, &id).await?;
    Ok(Json(ListView::from(&list)))
}

#[utoipa::path(patch, path = "/api/v1/lists/{id}", tag = "lists", request_body = ListPatch,
    params(("id" = String, Path, description = "List id")),
    responses((status = 200, body = ListView), (status = 409, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn patch(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ListPatch>,
) -> ApiResult<Json<ListView>> {
    let list = writable_list(&control, &principal, &id).await?;
    if let Some(name) = &input.name {
        check_name(name)?;
    }
    if let Some(description) = &input.description {
        check_description(description)?;
    }
    let shadows = shadowing_accounts(&control, &list).await?;
    let mut in_use = Vec::new();
    let updated = store(&control)?
        .update_ip_list(
            &principal.actor(),
            &list.id,
            input.name,
            input.description,
            |list, users| refuse_if_used(list, users, &shadows, &mut in_use),
        )
        .await
        .map_err(|e| in_use_error(e, &list, &in_use, "renamed"))?;
    control.notify_changed();
    Ok(Json(ListView::from(&updated)))
}

#[utoipa::path(delete, path = "/api/v1/lists/{id}", tag = "lists",
    params(("id" = String, Path, description = "List id")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody)))]
pub async fn delete(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let list = writable_list(&control, &principal, &id).await?;
    delete_list(&control, &principal, &list).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a list the caller got from [`writable_list`], unless a rule
/// uses it.
pub(crate) async fn delete_list(
    control: &Control,
    principal: &Principal,
    list: &IpListRecord,
) -> ApiResult<()> {
    let shadows = shadowing_accounts(control, list).await?;
    let mut in_use = Vec::new();
    store(control)?
        .delete_ip_list(&principal.actor(), &list.id, |list, users| {
            refuse_if_used(list, users, &shadows, &mut in_use)
        })
        .await
        .map_err(|e| in_use_error(e, list, &in_use, "deleted"))?;
    control.notify_changed();
    Ok(())
}

/// For an operator list: the accounts with a list of the same name, whose
/// sites' `$name` means their own list, not this one.
async fn shadowing_accounts(control: &Control, list: &IpListRecord) -> ApiResult<HashSet<String>> {
    if list.account_id.is_some() {
        return Ok(HashSet::new());
    }
    Ok(store(control)?
        .list_ip_lists(ListsOf::All)
        .await?
        .into_iter()
        .filter(|l| l.name == list.name)
        .filter_map(|l| l.account_id)
        .collect())
}

/// The store guard of a rename or delete: collects every rule that names
/// the list into `in_use` and refuses when there is one.
fn refuse_if_used(
    list: &IpListRecord,
    users: &ListUsers,
    shadows: &HashSet<String>,
    in_use: &mut Vec<String>,
) -> Result<(), StoreError> {
    for site in &users.sites {
        if shadows.contains(&site.account_id) {
            continue;
        }
        for user in iplists::users_in_spec(&site.spec, &list.name) {
            in_use.push(format!("{user} of site '{}'", site.name));
        }
    }
    if let Some(rules) = &users.operator_rules {
        in_use.extend(iplists::users_in_rules(rules, &list.name));
    }
    if in_use.is_empty() {
        return Ok(());
    }
    Err(StoreError::Conflict {
        field: "name",
        message: String::new(),
    })
}

fn in_use_error(error: StoreError, list: &IpListRecord, in_use: &[String], verb: &str) -> ApiError {
    if in_use.is_empty() {
        return error.into();
    }
    const SHOWN: usize = 10;
    let mut names = in_use
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if in_use.len() > SHOWN {
        names.push_str(&format!(" and {} more", in_use.len() - SHOWN));
    }
    ApiError::new(
        StatusCode::CONFLICT,
        "list_in_use",
        format!(
            "list '{}' cannot be {verb}: {names} use(s) it as ${}; change or delete those rules first",
            list.name, list.name
        ),
    )
    .with_field("name")
}

#[utoipa::path(get, path = "/api/v1/lists/{id}/items", tag = "lists",
    params(("id" = String, Path, description = "List id")),
    responses((status = 200, content_type = "text/plain", body = String, description = "One address or CIDR per line"),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn export(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let list = visible_list(&control, &principal, &id).await?;
    if !can_read_entries(&principal, &list) {
        return Err(ApiError::forbidden(
            "the entries of operator lists are visible to operators only",
        ));
    }
    let text = store(&control)?.ip_list_entries(&list.id).await?;
    Ok((
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

/// A `text/plain` body as UTF-8.
fn plain_text(headers: &HeaderMap, body: &Bytes) -> ApiResult<String> {
    let is_text = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/plain"));
    if !is_text {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the entries as `Content-Type: text/plain`, one address or CIDR per line",
        ));
    }
    String::from_utf8(body.to_vec()).map_err(|e| {
        ApiError::invalid(
            "items",
            "invalid_entry",
            format!(
                "the body is not UTF-8 (at byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

#[utoipa::path(put, path = "/api/v1/lists/{id}/items", tag = "lists",
    params(("id" = String, Path, description = "List id")),
    request_body(content = String, content_type = "text/plain", description = "Every entry, one address or CIDR per line; `#` comments and blank lines are ignored. Replaces the list."),
    responses((status = 200, body = ListView), (status = 422, body = super::error::ErrorBody, description = "A bad line: the message names its number and text")))]
pub async fn import(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ListView>> {
    let list = writable_list(&control, &principal, &id).await?;
    let text = plain_text(&headers, &body)?;
    let updated = import_items(&control, &principal, &list, &text).await?;
    Ok(Json(ListView::from(&updated)))
}

/// Replaces the entries of a list the caller got from [`writable_list`].
pub(crate) async fn import_items(
    control: &Control,
    principal: &Principal,
    list: &IpListRecord,
    text: &str,
) -> ApiResult<IpListRecord> {
    // Parsing a million lines takes a while; keep it off the async workers.
    let owned = text.to_owned();
    let entries =
        tokio::task::spawn_blocking(move || iplists::parse_entries(owned.lines(), &HashSet::new()))
            .await
            .map_err(|e| ApiError::internal("the import failed", &e))?
            .map_err(|e| import_error("items", &e))?;
    let text = iplists::to_text(&entries);
    let count = i64::try_from(entries.len()).unwrap_or(i64::MAX);
    let updated = store(control)?
        .replace_ip_list_entries(&principal.actor(), &list.id, &text, count)
        .await?;
    control.notify_changed();
    Ok(updated)
}

#[utoipa::path(post, path = "/api/v1/lists/{id}/items", tag = "lists",
    params(("id" = String, Path, description = "List id")),
    request_body(content = String, content_type = "text/plain", description = "Entries to add, one per line; ones already in the list are skipped."),
    responses((status = 200, body = ListView), (status = 422, body = super::error::ErrorBody)))]
pub async fn append(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ListView>> {
    let list = writable_list(&control, &principal, &id).await?;
    let text = plain_text(&headers, &body)?;
    let mut refused = None;
    let updated = store(&control)?
        .append_ip_list_entries(
            &principal.actor(),
            &list.id,
            |stored| match iplists::append(stored, &text) {
                Ok((text, count)) => Ok((text, i64::try_from(count).unwrap_or(i64::MAX))),
                Err(error) => {
                    refused = Some(error);
                    Err(StoreError::Conflict {
                        field: "items",
                        message: String::new(),
                    })
                }
            },
        )
        .await
        .map_err(|e| match &refused {
            Some(error) => import_error("items", error),
            None => e.into(),
        })?;
    control.notify_changed();
    Ok(Json(ListView::from(&updated)))
}
