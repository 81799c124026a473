//! `/operator/rules`: the operator-wide rules, evaluated before every
//! site's own. Operator admins add, edit, move and delete them with the
//! site Security page's rule form and table; trust & safety sees the list
//! only; everyone else is told the page does not exist, as the API would
//! refuse them the rules anyway.
//!
//! Writes go through the API's `set_operator_rules`, the same path as
//! `PUT /api/v1/operator/rules`: validated against the operator lists,
//! audited, and a revision bump so the edge picks them up.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::html;
use rampart_config::RuleSpec;
use serde::Deserialize;

use super::csrf::Posted;
use super::layout::{
    FieldMessage, PageError, PageResult, Section, csrf_field, done_message, form_can_fix, notice,
    page, respond,
};
use super::rule_forms::{RuleForm, move_rule_in, place_errors, rule_form, upsert_rule};
use super::security::rules_table;
use super::security_save::{MoveForm, NoFields};
use super::{SignedIn, store};
use crate::Control;
use crate::api;
use crate::api::error::ApiError;

const PAGE: &str = "/operator/rules";

#[derive(Deserialize, Default)]
pub(crate) struct OperatorRulesQuery {
    done: Option<String>,
    /// The rule whose edit form is shown.
    edit: Option<String>,
}

/// A 404 rather than a 403 for non-operators: account users have no
/// business knowing the page exists, and the navigation does not offer it.
fn require_operator(signed: &SignedIn) -> Result<(), PageError> {
    if signed.principal.is_operator() {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::NOT_FOUND,
            "There is no such page.",
        ))
    }
}

/// The stored operator rules. A document that no longer reads as rules is
/// an error page rather than an empty list, so saving cannot wipe it.
async fn stored_rules(control: &Control) -> Result<Vec<RuleSpec>, PageError> {
    let stored = store(control)?.operator_rules().await?;
    serde_json::from_value(stored.rules).map_err(|e| {
        tracing::error!("the stored operator rules cannot be read: {e}");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The stored operator rules cannot be read; the server log has details.",
        )
    })
}

/// The form shown again with its problems, when a save was refused.
#[derive(Default)]
struct Failed {
    form: Option<RuleForm>,
    errors: Vec<FieldMessage>,
    general: Vec<String>,
}

pub(crate) async fn page_get(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Query(query): Query<OperatorRulesQuery>,
) -> PageResult {
    require_operator(&signed)?;
    let rules = stored_rules(&control).await?;
    let form = query
        .edit
        .as_deref()
        .and_then(|id| rules.iter().find(|r| r.id == id).map(RuleForm::from_spec));
    let failed = Failed {
        form,
        ..Failed::default()
    };
    Ok(render(
        &signed,
        &rules,
        failed,
        query.done.as_deref(),
        StatusCode::OK,
    ))
}

fn render(
    signed: &SignedIn,
    rules: &[RuleSpec],
    failed: Failed,
    done: Option<&str>,
    status: StatusCode,
) -> Response {
    let writable = signed.principal.is_operator_admin();
    let csrf = csrf_field(signed.csrf());
    let body = html! {
        h1 { "Operator rules" }
        (notice(done_message(done)))
        @if !writable {
            p.panel role="note" #read-only { "Your role may view these rules but not change them." }
        }
        section.panel aria-labelledby="rules-title" {
            h2 #rules-title { "Rules for every site" }
            p.hint { "Evaluated in order before each site's own rules; the first that blocks, challenges, allows or redirects decides. They may use the operator's lists only: see " a href="/lists" { "Lists" } "." }
            (rules_table(PAGE, PAGE, rules, None, &csrf, writable))
            @if writable {
                (rule_form(PAGE, &csrf, failed.form.as_ref().unwrap_or(&RuleForm::new_rule()), &failed.errors, &failed.general))
            }
        }
    };
    respond(
        status,
        page("Operator rules", Some(signed), Section::OperatorRules, body),
    )
}

/// Stores `rules`; on a refusal the page again with the problems next to
/// the form's fields (the rule being written is at `index`), or the error
/// page for what the form cannot fix.
async fn write(
    control: &Control,
    signed: &SignedIn,
    rules: Vec<RuleSpec>,
    form: Option<RuleForm>,
    index: Option<usize>,
) -> PageResult {
    let error = match api::security::set_operator_rules(control, &signed.principal, rules).await {
        Ok(_) => {
            return Ok(
                Redirect::to(&format!("{PAGE}?done=operator-rules-saved#rules-title"))
                    .into_response(),
            );
        }
        Err(error) => error,
    };
    if !form_can_fix(&error) {
        return Err(error.into());
    }
    let (errors, general) = place_errors(&error, index);
    let stored = stored_rules(control).await?;
    let failed = Failed {
        form,
        errors,
        general,
    };
    Ok(render(signed, &stored, failed, None, error.status))
}

/// Refuses a write before reading anything: trust & safety may read the
/// page but not post to it.
fn require_admin(signed: &SignedIn) -> Result<(), PageError> {
    require_operator(signed)?;
    signed
        .principal
        .require_operator_admin()
        .map_err(PageError::from)
}

/// Adds a rule, or replaces the one it was edited from.
pub(crate) async fn save_rule(
    State(control): State<Arc<Control>>,
    Posted { signed, form }: Posted<RuleForm>,
) -> PageResult {
    require_admin(&signed)?;
    let mut rules = stored_rules(&control).await?;
    let (rule, problems) = form.to_spec();
    if !problems.is_empty() {
        let failed = Failed {
            form: Some(form),
            errors: problems,
            general: Vec::new(),
        };
        return Ok(render(
            &signed,
            &rules,
            failed,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let index = upsert_rule(&mut rules, &form.original, rule);
    write(&control, &signed, rules, Some(form), Some(index)).await
}

pub(crate) async fn delete_rule(
    State(control): State<Arc<Control>>,
    Path(rule): Path<String>,
    Posted { signed, .. }: Posted<NoFields>,
) -> PageResult {
    require_admin(&signed)?;
    let mut rules = stored_rules(&control).await?;
    let before = rules.len();
    rules.retain(|r| r.id != rule);
    if rules.len() == before {
        return Err(ApiError::not_found("rule", &rule).into());
    }
    write(&control, &signed, rules, None, None).await
}

/// Moves a rule one place earlier or later in evaluation order.
pub(crate) async fn move_rule(
    State(control): State<Arc<Control>>,
    Path(rule): Path<String>,
    Posted { signed, form }: Posted<MoveForm>,
) -> PageResult {
    require_admin(&signed)?;
    let mut rules = stored_rules(&control).await?;
    match move_rule_in(&mut rules, &rule, &form.direction) {
        None => Err(ApiError::not_found("rule", &rule).into()),
        Some(true) => write(&control, &signed, rules, None, None).await,
        // Nothing changed: no audit row, no revision bump.
        Some(false) => Ok(Redirect::to(&format!("{PAGE}#rules-title")).into_response()),
    }
}
