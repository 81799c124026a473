//! The Security page's form posts: add, edit, move and delete a rule, add
//! and delete a rate limit, save the request limits. Each writes through
//! the API's `replace_site_array` / `update_site`; a refusal shows the page
//! again with the problems next to the form's fields.

use std::sync::Arc;

use axum::extract::{Path, State};
use http::StatusCode;
use rampart_config::SiteSpec;
use rampart_store::SiteRecord;
use serde::{Deserialize, Serialize};

use super::SignedIn;
use super::csrf::Posted;
use super::layout::{FieldMessage, FormProblems, PageError, PageResult};
use super::rule_forms::{LimitsForm, RateLimitForm, RuleForm, move_rule_in, upsert_rule};
use super::security::{Forms, refused, render, saved, stored_spec};
use crate::Control;
use crate::api;
use crate::api::error::ApiError;

/// A form that posts nothing but its CSRF token.
#[derive(Deserialize)]
pub(crate) struct NoFields {}

pub(crate) async fn save_rule(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<RuleForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let spec = stored_spec(&site)?;
    let (rule, problems) = form.to_spec();
    let forms = Forms {
        rule: Some(form.clone()),
        problems: FormProblems::of("rule"),
        ..Forms::default()
    };
    if !problems.is_empty() {
        return show_problems(&control, &signed, &site, &spec, forms, problems).await;
    }
    let mut rules = spec.rules.unwrap_or_default();
    let index = upsert_rule(&mut rules, &form.original, rule);
    store_array(
        &control,
        &signed,
        &site,
        "rules",
        &rules,
        forms,
        Some(index),
    )
    .await
}

pub(crate) async fn delete_rule(
    State(control): State<Arc<Control>>,
    Path((key, rule)): Path<(String, String)>,
    Posted { signed, .. }: Posted<NoFields>,
) -> PageResult {
    remove_item(&control, &signed, &key, "rules", &rule).await
}

#[derive(Deserialize)]
pub(crate) struct MoveForm {
    #[serde(default)]
    pub direction: String,
}

/// Moves a rule one place earlier or later in evaluation order.
pub(crate) async fn move_rule(
    State(control): State<Arc<Control>>,
    Path((key, rule)): Path<(String, String)>,
    Posted { signed, form }: Posted<MoveForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let mut rules = stored_spec(&site)?.rules.unwrap_or_default();
    let Some(moved) = move_rule_in(&mut rules, &rule, &form.direction) else {
        return Err(ApiError::not_found("rule", &rule).into());
    };
    if !moved {
        return Ok(saved(&site, anchor_of("rules")));
    }
    store_array(
        &control,
        &signed,
        &site,
        "rules",
        &rules,
        Forms::default(),
        None,
    )
    .await
}

pub(crate) async fn delete_rate_limit(
    State(control): State<Arc<Control>>,
    Path((key, id)): Path<(String, String)>,
    Posted { signed, .. }: Posted<NoFields>,
) -> PageResult {
    remove_item(&control, &signed, &key, "rate_limits", &id).await
}

/// Removes the item with `id` from the spec array `key`.
async fn remove_item(
    control: &Control,
    signed: &SignedIn,
    key: &str,
    array: &str,
    id: &str,
) -> PageResult {
    let site = api::sites::writable_site(control, &signed.principal, key).await?;
    let items: Vec<serde_json::Value> = site
        .spec
        .get(array)
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|item| item.get("id").and_then(serde_json::Value::as_str) != Some(id))
        .collect();
    store_array(
        control,
        signed,
        &site,
        array,
        &items,
        Forms::default(),
        None,
    )
    .await
}

pub(crate) async fn add_rate_limit(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<RateLimitForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let spec = stored_spec(&site)?;
    let (limit, problems) = form.to_spec();
    let forms = Forms {
        rate_limit: Some(form.clone()),
        problems: FormProblems::of("rate_limit"),
        ..Forms::default()
    };
    if !problems.is_empty() {
        return show_problems(&control, &signed, &site, &spec, forms, problems).await;
    }
    let mut limits = spec.rate_limits.unwrap_or_default();
    limits.push(limit);
    let index = limits.len() - 1;
    store_array(
        &control,
        &signed,
        &site,
        "rate_limits",
        &limits,
        forms,
        Some(index),
    )
    .await
}

pub(crate) async fn save_limits(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<LimitsForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let stored = stored_spec(&site)?;
    let mut spec = stored.clone();
    let problems = form.merge_into(&mut spec);
    let forms = Forms {
        limits: Some(form.clone()),
        problems: FormProblems::of("limits"),
        ..Forms::default()
    };
    if !problems.is_empty() {
        return show_problems(&control, &signed, &site, &stored, forms, problems).await;
    }
    let value = serde_json::to_value(&spec)
        .map_err(|e| PageError::from(ApiError::internal("cannot encode the site", &e)))?;
    match api::sites::update_site(&control, &signed.principal, &site, value).await {
        Ok(_) => Ok(saved(&site, "limits-title")),
        Err(error) => refused(&control, &signed, &site, error, forms, None).await,
    }
}

/// The page again, with a form's own problems next to its fields, before
/// anything was written.
async fn show_problems(
    control: &Control,
    signed: &SignedIn,
    site: &SiteRecord,
    stored: &SiteSpec,
    mut forms: Forms,
    problems: Vec<FieldMessage>,
) -> PageResult {
    forms.problems.errors = problems;
    render(
        control,
        signed,
        site,
        stored,
        forms,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// Replaces one of the spec's arrays (`rules`, `rate_limits`) through the
/// API, which validates it; a refusal shows `forms` again with the
/// problems placed, `index` being the item the form edited.
async fn store_array<T: Serialize>(
    control: &Control,
    signed: &SignedIn,
    site: &SiteRecord,
    array: &str,
    items: &[T],
    forms: Forms,
    index: Option<usize>,
) -> PageResult {
    let items = serde_json::to_value(items).map_err(|e| {
        PageError::from(ApiError::internal("cannot encode the site's settings", &e))
    })?;
    match api::security::replace_site_array(control, &signed.principal, array, &site.id, items)
        .await
    {
        Ok(_) => Ok(saved(site, anchor_of(array))),
        Err(error) => refused(control, signed, site, error, forms, index).await,
    }
}

/// The heading of the table an array is shown in, to return to after a save.
fn anchor_of(array: &str) -> &'static str {
    if array == "rules" {
        "rules-title"
    } else {
        "rate-limits-title"
    }
}
