//! `GET/PUT /api/v1/sites/{site}/waf`: a site's WAF settings, the `waf`
//! object of its spec, read with every default written out and replaced
//! through the site update path (same roles, same validation, same audit).
//! `crs` is refused here: the rule set is the operator's (`[waf] crs`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use rampart_config::{SiteSpec, WafMode, WafSettings, WafSpec};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Principal;
use super::body::{ApiJson, parse};
use super::error::{ApiError, ApiResult};
use super::sites::{update_site, visible_site, writable_site};
use crate::Control;

/// The body wrapped so that a bad field is named as in the site spec
/// (`waf.paranoia`, `waf.exclusions[0].tags`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wrapped {
    waf: WafSpec,
}

/// Parses a PUT body into a `WafSpec`, with errors at `waf.…` paths.
pub(crate) fn parse_body(body: &Value) -> ApiResult<WafSpec> {
    let wrapped = serde_json::json!({ "waf": body });
    parse::<Wrapped>(wrapped.to_string().as_bytes()).map(|w| w.waf)
}

/// A stored site's effective settings (defaults for what the spec leaves
/// out). A spec that no longer reads is the defaults rather than an error:
/// the site's own GET shows the stored document.
pub(crate) fn effective(spec: &Value, file_managed: bool) -> WafSettings {
    serde_json::from_value::<SiteSpec>(spec.clone())
        .ok()
        .and_then(|s| s.waf)
        .and_then(|w| w.settings(file_managed).ok())
        .unwrap_or_default()
}

/// A site that turns the WAF on needs a rule set, and an API site can only
/// use the node's `[waf] crs`. Refused here, at the write, rather than
/// failing the edge's snapshot build later.
pub(crate) fn require_rule_set(node_has_crs: bool, waf: &WafSettings) -> ApiResult<()> {
    if waf.mode != WafMode::Off && waf.crs.is_none() && !node_has_crs {
        return Err(ApiError::invalid(
            "waf.mode",
            "no_rule_set",
            "the WAF cannot be turned on: this node has no CRS rule set (`[waf] crs` in its configuration file); ask the operator, or keep the mode \"off\"",
        ));
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/sites/{site}/waf", tag = "waf",
    params(("site" = String, Path, description = "Site id or name")),
    responses((status = 200, body = WafSpec, description = "The site's WAF settings, every default written out"),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn get(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(site): Path<String>,
) -> ApiResult<Json<WafSpec>> {
    let record = visible_site(&control, &principal, &site).await?;
    Ok(Json(WafSpec::from_settings(&effective(
        &record.spec,
        record.file_managed,
    ))))
}

#[utoipa::path(put, path = "/api/v1/sites/{site}/waf", tag = "waf",
    params(("site" = String, Path, description = "Site id or name")),
    request_body(content = WafSpec, description = "The site's WAF settings; what is left out takes its default. `crs` is refused: the CRS directory is the node's `[waf] crs`"),
    responses((status = 200, body = WafSpec), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody, description = "The site is declared in the configuration file"),
        (status = 422, body = super::error::ErrorBody, description = "`field` is e.g. `waf.paranoia` or `waf.exclusions[0].target`")))]
pub async fn put(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(site): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<WafSpec>> {
    let waf = parse_body(&body)?;
    Ok(Json(set_site_waf(&control, &principal, &site, waf).await?))
}

/// Validates and writes a site's WAF settings; the dashboard's form comes
/// here too. Returns the settings as stored, every default written out.
pub(crate) async fn set_site_waf(
    control: &Control,
    principal: &Principal,
    site: &str,
    waf: WafSpec,
) -> ApiResult<WafSpec> {
    let record = writable_site(control, principal, site).await?;
    // Checked alone first so `crs` and bad values are named even when
    // something else of the stored site no longer validates.
    let settings = waf.settings(false).map_err(ApiError::validation)?;
    require_rule_set(control.file.lock().await.waf.crs.is_some(), &settings)?;
    let mut spec = record.spec.clone();
    if let Value::Object(map) = &mut spec {
        if settings == WafSettings::default() {
            map.remove("waf");
        } else {
            let value = serde_json::to_value(&waf)
                .map_err(|e| ApiError::internal("cannot encode the WAF settings", &e))?;
            map.insert("waf".to_owned(), value);
        }
    }
    let updated = update_site(control, principal, &record, spec).await?;
    Ok(WafSpec::from_settings(&effective(
        &updated.spec,
        updated.file_managed,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_errors_are_named_as_in_the_spec() {
        let error = parse_body(&serde_json::json!({"mode": "block", "colour": 1})).unwrap_err();
        assert_eq!(error.detail.field.as_deref(), Some("waf.colour"));
        let error = parse_body(&serde_json::json!({"paranoia": "high"})).unwrap_err();
        assert_eq!(error.detail.field.as_deref(), Some("waf.paranoia"));
        let error = parse_body(&serde_json::json!({"exclusions": [{"rule_ids": [1], "x": 1}]}))
            .unwrap_err();
        assert_eq!(error.detail.field.as_deref(), Some("waf.exclusions[0].x"));
        assert_eq!(
            parse_body(&serde_json::json!({})).ok(),
            Some(WafSpec::default())
        );
    }

    #[test]
    fn the_waf_needs_a_rule_set_to_be_on() {
        let on = WafSettings {
            mode: WafMode::Detect,
            ..WafSettings::default()
        };
        let refused = require_rule_set(false, &on).unwrap_err();
        assert_eq!(refused.detail.field.as_deref(), Some("waf.mode"));
        assert!(require_rule_set(true, &on).is_ok());
        assert!(require_rule_set(false, &WafSettings::default()).is_ok());
    }

    #[test]
    fn effective_settings_fall_back_to_defaults() {
        let spec = serde_json::json!({"name": "a", "hosts": ["a.test"],
            "origins": ["http://127.0.0.1:9"], "waf": {"mode": "detect"}});
        assert_eq!(
            effective(&spec, false).mode,
            rampart_config::WafMode::Detect
        );
        assert_eq!(
            effective(&serde_json::json!({"junk": 1}), false),
            WafSettings::default()
        );
    }
}
