//! Rules and rate limits: `/api/v1/operator/rules` (operator-wide rules,
//! evaluated before every site's own) and the conveniences
//! `/api/v1/sites/{site}/rules` and `/api/v1/sites/{site}/rate_limits`,
//! which read and replace one array of the site's spec (the same arrays a
//! site's PUT/PATCH carries) with the same validation.
//!
//! Bodies are the arrays themselves; a problem is a 422 whose `field` is
//! the path in the site spec, e.g. `rules[0].expression`, and whose message
//! carries the expression's `column N`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use rampart_config::{FirewallRule, RateLimitSpec, RuleSpec, Timeouts};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::auth::Principal;
use super::body::{ApiJson, parse};
use super::error::{ApiError, ApiResult};
use super::sites::{list_names_in_scope, update_site, visible_site, writable_site};
use super::store;
use crate::Control;
use crate::sync::compile_operator_rules;

/// Parses a bare array body, naming a bad element as the spec would
/// (`rules[2].action` rather than `[2].action`).
fn parse_array<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> ApiResult<Vec<T>> {
    parse::<Vec<T>>(bytes).map_err(|mut error| {
        if let Some(field) = error.detail.field.take() {
            let full = if field == "." || field.is_empty() {
                key.to_owned()
            } else if field.starts_with('[') {
                format!("{key}{field}")
            } else {
                format!("{key}.{field}")
            };
            error.detail.message = match error.detail.message.strip_prefix(&format!("{field}: ")) {
                Some(rest) => format!("{full}: {rest}"),
                None => error.detail.message,
            };
            error.detail.field = Some(full);
        } else if error.detail.code == "invalid" {
            error.detail.field = Some(key.to_owned());
        }
        error
    })
}

/// The stored operator rules checked against what may be in them now.
pub(crate) async fn validate_operator_rules(
    control: &Control,
    rules: &[RuleSpec],
) -> ApiResult<Vec<FirewallRule>> {
    let timeouts: Timeouts = control.file.lock().await.proxy.timeouts;
    let names = list_names_in_scope(control, None).await?;
    compile_operator_rules(rules, &timeouts, &|name| names.contains(name))
        .map_err(ApiError::validation)
}

#[utoipa::path(get, path = "/api/v1/operator/rules", tag = "rules",
    responses((status = 200, body = [RuleSpec], description = "The operator rules, in evaluation order"),
        (status = 403, body = super::error::ErrorBody)))]
pub async fn get_operator_rules(
    State(control): State<Arc<Control>>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    if !principal.is_operator() {
        return Err(ApiError::forbidden(
            "only operators may see the operator rules",
        ));
    }
    Ok(Json(store(&control)?.operator_rules().await?.rules))
}

#[utoipa::path(put, path = "/api/v1/operator/rules", tag = "rules",
    request_body(content = [RuleSpec], description = "Every operator rule, in evaluation order; they run before each site's own rules and may use operator lists"),
    responses((status = 200, body = [RuleSpec]), (status = 403, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn put_operator_rules(
    State(control): State<Arc<Control>>,
    principal: Principal,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    principal.require_operator_admin()?;
    principal.require_unscoped()?;
    let rules: Vec<RuleSpec> = parse_array("rules", body.to_string().as_bytes())?;
    let saved = set_operator_rules(&control, &principal, rules).await?;
    Ok(Json(saved))
}

/// Validates and stores the operator rules; the dashboard comes here too.
pub(crate) async fn set_operator_rules(
    control: &Control,
    principal: &Principal,
    rules: Vec<RuleSpec>,
) -> ApiResult<Value> {
    principal.require_operator_admin()?;
    validate_operator_rules(control, &rules).await?;
    let value = serde_json::to_value(&rules)
        .map_err(|e| ApiError::internal("cannot encode the rules", &e))?;
    let saved = store(control)?
        .set_operator_rules(&principal.actor(), value)
        .await?;
    control.notify_changed();
    Ok(saved.rules)
}

/// One array of a site's spec, `[]` when absent.
fn spec_array(spec: &Value, key: &str) -> Value {
    spec.get(key)
        .filter(|v| v.is_array())
        .cloned()
        .unwrap_or_else(|| Value::Array(Vec::new()))
}

/// Writes `items` as the site's `key` array (an empty one removes the key,
/// as a spec without it means the same) through the site update path.
pub(crate) async fn replace_site_array(
    control: &Control,
    principal: &Principal,
    key: &str,
    site: &str,
    items: Value,
) -> ApiResult<Value> {
    let record = writable_site(control, principal, site).await?;
    let mut spec = record.spec.clone();
    if let Value::Object(map) = &mut spec {
        if items.as_array().is_some_and(Vec::is_empty) {
            map.remove(key);
        } else {
            map.insert(key.to_owned(), items);
        }
    }
    let updated = update_site(control, principal, &record, spec).await?;
    Ok(spec_array(&updated.spec, key))
}

#[utoipa::path(get, path = "/api/v1/sites/{site}/rules", tag = "rules",
    params(("site" = String, Path, description = "Site id or name")),
    responses((status = 200, body = [RuleSpec]), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_site_rules(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(site): Path<String>,
) -> ApiResult<Json<Value>> {
    let record = visible_site(&control, &principal, &site).await?;
    Ok(Json(spec_array(&record.spec, "rules")))
}

#[utoipa::path(put, path = "/api/v1/sites/{site}/rules", tag = "rules",
    params(("site" = String, Path, description = "Site id or name")),
    request_body(content = [RuleSpec], description = "Every rule of the site, in evaluation order; replaces the spec's `rules`"),
    responses((status = 200, body = [RuleSpec]), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "`field` is e.g. `rules[0].expression`; expression errors name the column")))]
pub async fn put_site_rules(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(site): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let rules: Vec<RuleSpec> = parse_array("rules", body.to_string().as_bytes())?;
    let items = serde_json::to_value(&rules)
        .map_err(|e| ApiError::internal("cannot encode the rules", &e))?;
    Ok(Json(
        replace_site_array(&control, &principal, "rules", &site, items).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/sites/{site}/rate_limits", tag = "rules",
    params(("site" = String, Path, description = "Site id or name")),
    responses((status = 200, body = [RateLimitSpec]), (status = 404, body = super::error::ErrorBody)))]
pub async fn get_site_rate_limits(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(site): Path<String>,
) -> ApiResult<Json<Value>> {
    let record = visible_site(&control, &principal, &site).await?;
    Ok(Json(spec_array(&record.spec, "rate_limits")))
}

#[utoipa::path(put, path = "/api/v1/sites/{site}/rate_limits", tag = "rules",
    params(("site" = String, Path, description = "Site id or name")),
    request_body(content = [RateLimitSpec], description = "Every rate limit of the site, in order; replaces the spec's `rate_limits`"),
    responses((status = 200, body = [RateLimitSpec]), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn put_site_rate_limits(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(site): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    let limits: Vec<RateLimitSpec> = parse_array("rate_limits", body.to_string().as_bytes())?;
    let items = serde_json::to_value(&limits)
        .map_err(|e| ApiError::internal("cannot encode the rate limits", &e))?;
    Ok(Json(
        replace_site_array(&control, &principal, "rate_limits", &site, items).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_errors_are_named_as_in_the_spec() {
        let error = parse_array::<RuleSpec>(
            "rules",
            br#"[{"id": "a", "expression": "true", "action": "block", "colour": 1}]"#,
        )
        .unwrap_err();
        assert_eq!(error.detail.field.as_deref(), Some("rules[0].colour"));
        assert!(
            error.detail.message.starts_with("rules[0].colour: "),
            "{}",
            error.detail.message
        );
        let error =
            parse_array::<RuleSpec>("rules", br#"[{"id": "a", "action": "block"}]"#).unwrap_err();
        assert_eq!(error.detail.field.as_deref(), Some("rules[0].expression"));
        let error = parse_array::<RuleSpec>("rules", br#"{"id": "a"}"#).unwrap_err();
        assert_eq!(error.detail.field.as_deref(), Some("rules"));
    }
}
