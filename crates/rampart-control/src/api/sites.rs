//! `/api/v1/sites`: sites with their hostnames, origins and settings.

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use http::StatusCode;
use rampart_config::SiteSpec;
use rampart_store::{SiteRecord, SiteWrite};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::Principal;
use super::body::{ApiJson, parse};
use super::error::{ApiError, ApiResult};
use super::store;
use crate::Control;
use crate::sync::compile_spec;

/// Stands in for a TLS private key and for captcha secrets' hashes in
/// responses. Sent back unchanged in a PUT or PATCH, it keeps the stored
/// value (for a captcha key: the stored key with the same sitekey's).
pub const REDACTED: &str = "[redacted]";

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteView {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub hosts: Vec<String>,
    /// Declared in the configuration file: read-only here.
    pub file_managed: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// The site's settings, as accepted by POST and PUT; the TLS key and
    /// captcha secrets' hashes are redacted.
    #[schema(value_type = SiteSpec)]
    pub spec: Value,
}

impl From<&SiteRecord> for SiteView {
    fn from(record: &SiteRecord) -> Self {
        let mut spec = record.spec.clone();
        if let Some(key) = spec.pointer_mut("/tls/key_pem") {
            *key = Value::String(REDACTED.to_owned());
        }
        // The hash of a secret written in the configuration file may be
        // enough to guess a short secret; members read specs too.
        if let Some(Value::Array(keys)) = spec.get_mut("captcha_keys") {
            for key in keys {
                if let Some(hash) = key.get_mut("secret_sha256") {
                    *hash = Value::String(REDACTED.to_owned());
                }
            }
        }
        Self {
            id: record.id.clone(),
            account_id: record.account_id.clone(),
            name: record.name.clone(),
            hosts: record.hosts.clone(),
            file_managed: record.file_managed,
            created_at: record.created_at,
            updated_at: record.updated_at,
            spec,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccountQuery {
    /// Operators: whose sites. Account users: their own account (the default).
    pub account_id: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/sites", params(AccountQuery), tag = "sites",
    responses((status = 200, body = [SiteView]), (status = 401, body = super::error::ErrorBody)))]
pub async fn list(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Query(query): Query<AccountQuery>,
) -> ApiResult<Json<Vec<SiteView>>> {
    let account = match (&query.account_id, principal.is_operator()) {
        (Some(id), _) => {
            if !principal.can_read_account(id) {
                return Err(ApiError::not_found("account", id));
            }
            Some(id.clone())
        }
        (None, true) => None,
        (None, false) => principal.account_id().map(str::to_owned),
    };
    let records = store(&control)?.list_sites(account.as_deref()).await?;
    Ok(Json(
        records
            .iter()
            .filter(|r| principal.can_read_site(r))
            .map(SiteView::from)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/sites", params(AccountQuery), tag = "sites",
    request_body(content = SiteSpec, description = "The site's settings"),
    responses((status = 201, body = SiteView), (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn create(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Query(query): Query<AccountQuery>,
    ApiJson(spec): ApiJson<SiteSpec>,
) -> ApiResult<(StatusCode, Json<SiteView>)> {
    let record = create_site(&control, &principal, query.account_id, spec).await?;
    Ok((StatusCode::CREATED, Json(SiteView::from(&record))))
}

/// Creates a site in `account_id` (default: the caller's own account) with
/// the API's checks; the dashboard's form goes through here too.
pub(crate) async fn create_site(
    control: &Control,
    principal: &Principal,
    account_id: Option<String>,
    spec: SiteSpec,
) -> ApiResult<SiteRecord> {
    principal.require_unscoped()?;
    let account_id = match (account_id, principal.account_id()) {
        (Some(id), _) => id,
        (None, Some(own)) => own.to_owned(),
        (None, None) => {
            return Err(ApiError::invalid(
                "account_id",
                "required",
                "operators create sites for an account: add ?account_id=…",
            ));
        }
    };
    if !principal.can_read_account(&account_id) {
        return Err(ApiError::not_found("account", &account_id));
    }
    if !principal.can_write_account(&account_id) {
        return Err(ApiError::forbidden("this role may not create sites"));
    }
    let write = validated(control, spec, &account_id).await?;
    let store = store(control)?;
    store.get_account(&account_id).await?;
    let record = store
        .create_site(&principal.actor(), &account_id, write, false)
        .await?;
    control.notify_changed();
    Ok(record)
}

#[utoipa::path(get, path = "/api/v1/sites/{site}", tag = "sites",
    params(("site" = String, Path, description = "Site id or name")),
    responses((status = 200, body = SiteView), (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<Json<SiteView>> {
    let record = visible_site(&control, &principal, &key).await?;
    Ok(Json(SiteView::from(&record)))
}

#[utoipa::path(put, path = "/api/v1/sites/{site}", tag = "sites",
    params(("site" = String, Path, description = "Site id or name")),
    request_body(content = SiteSpec, description = "The complete new settings; a TLS key sent back as \"[redacted]\" keeps the stored one"),
    responses((status = 200, body = SiteView), (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn replace(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(key): Path<String>,
    ApiJson(spec): ApiJson<Value>,
) -> ApiResult<Json<SiteView>> {
    let record = writable_site(&control, &principal, &key).await?;
    let updated = update_site(&control, &principal, &record, spec).await?;
    Ok(Json(SiteView::from(&updated)))
}

#[utoipa::path(patch, path = "/api/v1/sites/{site}", tag = "sites",
    params(("site" = String, Path, description = "Site id or name")),
    request_body(content = Object, description = "JSON merge patch (RFC 7396) over the current settings, e.g. {\"under_attack\": true}"),
    responses((status = 200, body = SiteView), (status = 409, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn patch(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(key): Path<String>,
    ApiJson(patch): ApiJson<Value>,
) -> ApiResult<Json<SiteView>> {
    let record = writable_site(&control, &principal, &key).await?;
    let mut spec = record.spec.clone();
    merge_patch(&mut spec, patch);
    let updated = update_site(&control, &principal, &record, spec).await?;
    Ok(Json(SiteView::from(&updated)))
}

#[utoipa::path(delete, path = "/api/v1/sites/{site}", tag = "sites",
    params(("site" = String, Path, description = "Site id or name")),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    let record = writable_site(&control, &principal, &key).await?;
    delete_site(&control, &principal, &record).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a site the caller got from [`writable_site`].
pub(crate) async fn delete_site(
    control: &Control,
    principal: &Principal,
    record: &SiteRecord,
) -> ApiResult<()> {
    store(control)?
        .delete_site(&principal.actor(), &record.id)
        .await?;
    control.notify_changed();
    Ok(())
}

/// Replaces the settings of a site the caller got from [`writable_site`]
/// with `spec`, validated as the edge would compile it.
pub(crate) async fn update_site(
    control: &Control,
    principal: &Principal,
    record: &SiteRecord,
    mut spec: Value,
) -> ApiResult<SiteRecord> {
    if spec.pointer("/tls/key_pem").and_then(Value::as_str) == Some(REDACTED)
        && let (Some(slot), Some(stored)) = (
            spec.pointer_mut("/tls/key_pem"),
            record.spec.pointer("/tls/key_pem"),
        )
    {
        *slot = stored.clone();
    }
    restore_captcha_hashes(&mut spec, &record.spec);
    let spec: SiteSpec = parse(&serde_json::to_vec(&spec).unwrap_or_default())?;
    let write = validated(control, spec, &record.account_id).await?;
    let updated = store(control)?
        .update_site(&principal.actor(), &record.id, write)
        .await?;
    control.notify_changed();
    Ok(updated)
}

/// Puts the stored hash back into each captcha key sent as "[redacted]"
/// (what GET shows). A key whose sitekey is not stored keeps the
/// placeholder, which validation then refuses at its path.
fn restore_captcha_hashes(spec: &mut Value, stored: &Value) {
    let Some(Value::Array(keys)) = spec.get_mut("captcha_keys") else {
        return;
    };
    let stored = stored
        .get("captcha_keys")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for key in keys {
        if key.get("secret_sha256").and_then(Value::as_str) != Some(REDACTED) {
            continue;
        }
        let sitekey = key.get("sitekey").cloned();
        let hash = stored
            .iter()
            .find(|old| sitekey.is_some() && old.get("sitekey") == sitekey.as_ref())
            .and_then(|old| old.get("secret_sha256"))
            .cloned();
        if let (Some(hash), Some(slot)) = (hash, key.get_mut("secret_sha256")) {
            *slot = hash;
        }
    }
}

/// Changes the spec of a site the caller got from [`writable_site`] as
/// `change` says, applied to the site as stored when the write happens
/// (inside its transaction), so a concurrent write is not undone. The
/// result is validated as [`update_site`] does; `action` names the audit
/// row. Returns the site as written and what `change` returned.
pub(crate) async fn modify_site_spec<T: Send>(
    control: &Control,
    principal: &Principal,
    record: &SiteRecord,
    action: &str,
    change: impl FnOnce(&mut SiteSpec, &SiteRecord) -> ApiResult<T> + Send,
) -> ApiResult<(SiteRecord, T)> {
    let (timeouts, has_crs) = {
        let file = control.file.lock().await;
        (file.proxy.timeouts, file.waf.crs.is_some())
    };
    let names = list_names_in_scope(control, Some(&record.account_id)).await?;
    let written = store(control)?
        .update_site_with(&principal.actor(), &record.id, action, |current| {
            let mut spec: SiteSpec = serde_json::from_value(current.spec.clone())
                .map_err(|e| ApiError::internal("the stored site cannot be read", &e))?;
            let value = change(&mut spec, current)?;
            let site = compile_spec(&spec, &timeouts, &|name| names.contains(name))
                .map_err(ApiError::validation)?;
            super::waf::require_rule_set(has_crs, &site.security.waf)?;
            let write = SiteWrite {
                name: spec.name.clone(),
                hosts: spec.normalized_hosts(),
                spec: serde_json::to_value(&spec)
                    .map_err(|e| ApiError::internal("cannot encode the site", &e))?,
            };
            Ok::<_, ApiError>((write, value))
        })
        .await?;
    control.notify_changed();
    Ok(written)
}

/// Checks a spec as the edge would compile it for a site of `account_id`,
/// so the store only ever holds sites the edge can run: its rules may use
/// the account's lists and the operator's, and no other account's.
pub(crate) async fn validated(
    control: &Control,
    spec: SiteSpec,
    account_id: &str,
) -> ApiResult<SiteWrite> {
    let (timeouts, has_crs) = {
        let file = control.file.lock().await;
        (file.proxy.timeouts, file.waf.crs.is_some())
    };
    let names = list_names_in_scope(control, Some(account_id)).await?;
    let site = compile_spec(&spec, &timeouts, &|name| names.contains(name))
        .map_err(ApiError::validation)?;
    super::waf::require_rule_set(has_crs, &site.security.waf)?;
    Ok(SiteWrite {
        name: spec.name.clone(),
        hosts: spec.normalized_hosts(),
        spec: serde_json::to_value(&spec)
            .map_err(|e| ApiError::internal("cannot encode the site", &e))?,
    })
}

/// The `$names` rules of `account` (operator rules: `None`) may use: the
/// account's lists, the operator's lists in the store and in the file.
pub(crate) async fn list_names_in_scope(
    control: &Control,
    account: Option<&str>,
) -> ApiResult<HashSet<String>> {
    // Cheap: the file's lists share their entries.
    let file_lists = control.file.lock().await.lists.clone();
    Ok(crate::lists_in_scope(store(control)?, &file_lists, account).await?)
}

/// By id first, then by name; another account's site is "not found".
pub async fn visible_site(
    control: &Control,
    principal: &Principal,
    key: &str,
) -> ApiResult<SiteRecord> {
    let store = store(control)?;
    let record = match store.get_site(key).await {
        Ok(record) => Some(record),
        Err(rampart_store::StoreError::NotFound { .. }) => store.site_by_name(key).await?,
        Err(error) => return Err(error.into()),
    };
    match record {
        Some(record) if principal.can_read_site(&record) => Ok(record),
        _ => Err(ApiError::not_found("site", key)),
    }
}

/// A site the caller may see and change, and that the API (not the
/// configuration file) manages.
pub(crate) async fn writable_site(
    control: &Control,
    principal: &Principal,
    key: &str,
) -> ApiResult<SiteRecord> {
    let record = visible_site(control, principal, key).await?;
    if !principal.can_write_site(&record) {
        return Err(ApiError::forbidden("this role may not change sites"));
    }
    if record.file_managed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "file_managed",
            format!(
                "site '{}' is declared in the configuration file; change it there and reload",
                record.name
            ),
        ));
    }
    Ok(record)
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(entries) => {
            if !target.is_object() {
                *target = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(map) = target {
                for (key, value) in entries {
                    if value.is_null() {
                        map.remove(&key);
                    } else {
                        merge_patch(map.entry(key).or_insert(Value::Null), value);
                    }
                }
            }
        }
        other => *target = other,
    }
}

#[cfg(test)]
mod tests {
    use super::merge_patch;
    use serde_json::json;

    #[test]
    fn redacted_captcha_hashes_come_back_by_sitekey() {
        let stored = json!({"captcha_keys": [
            {"sitekey": "rk_aaaaaaaa", "secret_sha256": "11"},
            {"sitekey": "rk_bbbbbbbb", "secret_sha256": "22"}
        ]});
        let mut sent = json!({"captcha_keys": [
            {"sitekey": "rk_bbbbbbbb", "secret_sha256": "[redacted]"},
            {"sitekey": "rk_cccccccc", "secret_sha256": "[redacted]"},
            {"sitekey": "rk_dddddddd", "secret_sha256": "33"}
        ]});
        super::restore_captcha_hashes(&mut sent, &stored);
        assert_eq!(
            sent["captcha_keys"],
            json!([
                {"sitekey": "rk_bbbbbbbb", "secret_sha256": "22"},
                {"sitekey": "rk_cccccccc", "secret_sha256": "[redacted]"},
                {"sitekey": "rk_dddddddd", "secret_sha256": "33"}
            ])
        );
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "keep": 1});
        merge_patch(&mut doc, json!({"a": "z", "c": {"f": null}, "new": [1]}));
        assert_eq!(
            doc,
            json!({"a": "z", "c": {"d": "e"}, "keep": 1, "new": [1]})
        );
    }
}
