//! `/sites/{site}/security`: a site's custom rules (with their hits in the
//! last 24 hours), rate limits, request limits and automatic under-attack
//! mode (with the edge's live view of it), and the forms that change them;
//! their posts are handled in `security_save.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::{Markup, html};
use rampart_config::{RateLimitSpec, RuleSpec, SiteSpec};
use rampart_store::SiteRecord;
use serde::Deserialize;

use super::format::{count, datetime_ms};
use super::layout::{
    CardsTable, FormProblems, PageError, PageResult, Section, csrf_field, done_message,
    form_can_fix, notice, page, respond,
};
use super::rule_forms::{
    LimitsForm, RateLimitForm, RuleForm, limits_form, place_errors, rate_limit_form, rule_form,
};
use super::site::{Tab, read_only_note, site_head};
use super::{SignedIn, store};
use crate::Control;
use crate::api;
use crate::api::error::ApiError;

#[derive(Deserialize, Default)]
pub(crate) struct SecurityQuery {
    done: Option<String>,
    /// The rule whose edit form is shown.
    edit: Option<String>,
}

pub(super) fn stored_spec(site: &SiteRecord) -> Result<SiteSpec, PageError> {
    serde_json::from_value(site.spec.clone()).map_err(|e| {
        tracing::error!("site {} has a spec the dashboard cannot read: {e}", site.id);
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "This site's stored settings cannot be read; the server log has details.",
        )
    })
}

/// What the page shows besides the stored settings, and what a form
/// posted back shows again with its errors.
#[derive(Default)]
pub(super) struct Forms {
    pub rule: Option<RuleForm>,
    pub rate_limit: Option<RateLimitForm>,
    pub limits: Option<LimitsForm>,
    pub waf: Option<super::waf::WafForm>,
    pub problems: FormProblems,
}

pub(crate) async fn page_get(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Path(key): Path<String>,
    Query(query): Query<SecurityQuery>,
) -> PageResult {
    let site = api::sites::visible_site(&control, &signed.principal, &key).await?;
    let spec = stored_spec(&site)?;
    let rule = query.edit.as_deref().and_then(|id| {
        spec.rules
            .iter()
            .flatten()
            .find(|r| r.id == id)
            .map(RuleForm::from_spec)
    });
    let forms = Forms {
        rule,
        ..Forms::default()
    };
    render(
        &control,
        &signed,
        &site,
        &spec,
        forms,
        query.done.as_deref(),
        StatusCode::OK,
    )
    .await
}

/// Rule hits per rule id over the last 24 hours.
async fn rule_hits(
    control: &Control,
    site: &SiteRecord,
) -> Result<HashMap<String, u64>, PageError> {
    let now = api::tokens::now_ms().div_euclid(1000);
    let to = now.div_euclid(60) * 60 + 60;
    let from = to - 24 * 3600;
    let top = store(control)?
        .traffic_top(&site.id, from, to, 1000)
        .await?;
    Ok(top.rules.into_iter().collect())
}

fn action_text(rule: &RuleSpec) -> String {
    match (rule.action.as_str(), rule.status) {
        ("block", Some(status)) => format!("block ({status})"),
        ("redirect", _) => format!(
            "redirect to {}",
            rule.redirect_url.as_deref().unwrap_or("?")
        ),
        (action, _) => action.to_owned(),
    }
}

/// The rules in evaluation order, with edit/move/delete controls when
/// `writable`. Shared with the operator rules page, so `page` is where the
/// edit link goes, `rules` is the prefix of the `{id}/move` and
/// `{id}/delete` posts, and `hits` is `None` where no per-rule hit counts
/// exist (operator rules are counted under each site).
pub(super) fn rules_table(
    page: &str,
    rules_path: &str,
    rules: &[RuleSpec],
    hits: Option<&HashMap<String, u64>>,
    csrf: &Markup,
    writable: bool,
) -> Markup {
    let table = CardsTable {
        id: "rules",
        caption: "Custom rules, in evaluation order",
        empty: "No custom rules yet.",
        actions: writable,
    };
    let headings = html! {
        th.num scope="col" { "#" }
        th scope="col" { "Rule" }
        th scope="col" { "Expression" }
        th scope="col" { "Action" }
        th scope="col" { "Enabled" }
        @if hits.is_some() { th.num scope="col" { "Hits (24 h)" } }
    };
    let rows = html! {
        @for (i, rule) in rules.iter().enumerate() {
            tr id={ "rule-" (rule.id) } {
                td.num data-label="#" { (i + 1) }
                td.key data-label="Rule" {
                    (rule.id)
                    @if let Some(d) = &rule.description { br; span.hint { (d) } }
                }
                td data-label="Expression" { code { (rule.expression) } }
                td data-label="Action" { (action_text(rule)) }
                td data-label="Enabled" { @if rule.enabled.unwrap_or(true) { "yes" } @else { "no" } }
                @if let Some(hits) = hits {
                    td.num data-label="Hits (24 h)" { (count(hits.get(&rule.id).copied().unwrap_or(0))) }
                }
                @if writable {
                    td {
                        a href={ (page) "?edit=" (rule.id) "#rule-form" } { "Edit" span.visually-hidden { " rule " (rule.id) } }
                        @for (direction, label, shown) in [("up", "Move up", i > 0), ("down", "Move down", i + 1 < rules.len())] {
                            @if shown {
                                form.inline method="post" action={ (rules_path) "/" (rule.id) "/move" } {
                                    (csrf)
                                    input type="hidden" name="direction" value=(direction);
                                    button.link type="submit" { (label) span.visually-hidden { " rule " (rule.id) } }
                                }
                            }
                        }
                        form.inline method="post" action={ (rules_path) "/" (rule.id) "/delete" } {
                            (csrf)
                            button.link type="submit" { "Delete" span.visually-hidden { " rule " (rule.id) } }
                        }
                    }
                }
            }
        }
    };
    table.render(rules.is_empty(), headings, rows)
}

fn rate_limits_table(
    site: &SiteRecord,
    limits: &[RateLimitSpec],
    csrf: &Markup,
    writable: bool,
) -> Markup {
    let table = CardsTable {
        id: "rate-limits",
        caption: "Rate limits",
        empty: "No rate limits yet.",
        actions: writable,
    };
    let headings = html! {
        th scope="col" { "Rate limit" }
        th scope="col" { "Applies to" }
        th scope="col" { "Allowed" }
        th scope="col" { "Counted per" }
        th scope="col" { "Action" }
    };
    let rows = html! {
        @for limit in limits {
            tr id={ "rate-limit-" (limit.id) } {
                td.key data-label="Rate limit" { (limit.id) }
                td data-label="Applies to" { code { (limit.expression.as_deref().unwrap_or("every request")) } }
                td data-label="Allowed" { (count(u64::from(limit.requests))) " per " (limit.period) }
                td data-label="Counted per" { (limit.characteristics.as_ref().map_or_else(|| "ip".to_owned(), |c| c.join(", "))) }
                td data-label="Action" { (limit.action.as_deref().unwrap_or("block")) }
                @if writable {
                    td {
                        form.inline method="post" action={ "/sites/" (site.id) "/security/rate-limits/" (limit.id) "/delete" } {
                            (csrf)
                            button.link type="submit" { "Delete" span.visually-hidden { " rate limit " (limit.id) } }
                        }
                    }
                }
            }
        }
    };
    table.render(limits.is_empty(), headings, rows)
}

/// The edge's view of automatic under-attack mode for this site, and the
/// recent switches.
fn attack_panel(control: &Control, site: &SiteRecord) -> Markup {
    let status = control.edge.under_attack_status(&site.name);
    let switches: Vec<_> = control
        .edge
        .recent_attack_switches()
        .into_iter()
        .filter(|s| s.site == site.name)
        .rev()
        .take(10)
        .collect();
    html! {
        section.panel #auto-attack aria-labelledby="auto-attack-title" {
            h2 #auto-attack-title { "Automatic under-attack mode" }
            @match status {
                None => p.empty { "The edge is not serving this site right now." },
                Some(status) => {
                    p #auto-attack-state {
                        @if !status.auto_enabled {
                            "Off for this site."
                        } @else if status.auto_active {
                            strong { "Active" }
                            @if let Some(since) = status.since_unix_ms {
                                " since " (datetime_ms(i64::try_from(since).unwrap_or(i64::MAX)))
                            }
                            ": every visitor is challenged."
                        } @else {
                            "Watching: not active."
                        }
                        @if status.manual { " Under-attack mode is also switched on by hand." }
                    }
                    p { "Normal rate " (format!("{:.1}", status.baseline_rps)) " requests/s; now " (format!("{:.1}", status.current_rps)) " requests/s." }
                }
            }
            @if !switches.is_empty() {
                h3 { "Recent switches" }
                ul #attack-switches {
                    @for s in &switches {
                        li {
                            (datetime_ms(i64::try_from(s.at_unix_ms).unwrap_or(i64::MAX))) ": "
                            @if s.started { "switched on" } @else { "switched off" }
                            " at " (format!("{:.1}", s.current_rps)) " requests/s (normal " (format!("{:.1}", s.baseline_rps)) ")"
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn render(
    control: &Control,
    signed: &SignedIn,
    site: &SiteRecord,
    spec: &SiteSpec,
    forms: Forms,
    done: Option<&str>,
    status: StatusCode,
) -> PageResult {
    let writable = signed.principal.can_write_site(site) && !site.file_managed;
    let hits = rule_hits(control, site).await?;
    let csrf = csrf_field(signed.csrf());
    let rules = spec.rules.clone().unwrap_or_default();
    let limits = spec.rate_limits.clone().unwrap_or_default();
    let base = format!("/sites/{}/security", site.id);
    let body = html! {
        (site_head(site, Tab::Security))
        (notice(done_message(done)))
        (read_only_note(site, writable, "its rules"))
        section.panel aria-labelledby="rules-title" {
            h2 #rules-title { "Custom rules" }
            p.hint { "Evaluated in order after the operator's rules; the first that blocks, challenges, allows or redirects decides. Lists are written $name: see " a href="/lists" { "Lists" } "." }
            (rules_table(&base, &format!("{base}/rules"), &rules, Some(&hits), &csrf, writable))
            @if writable {
                @let (errors, general) = forms.problems.beside("rule");
                (rule_form(&format!("{base}/rules"), &csrf, forms.rule.as_ref().unwrap_or(&RuleForm::new_rule()), errors, general))
            }
        }
        section.panel aria-labelledby="rate-limits-title" {
            h2 #rate-limits-title { "Rate limits" }
            (rate_limits_table(site, &limits, &csrf, writable))
            @if writable {
                @let (errors, general) = forms.problems.beside("rate_limit");
                (rate_limit_form(&format!("{base}/rate-limits"), &csrf, forms.rate_limit.as_ref().unwrap_or(&RateLimitForm::new_limit()), errors, general))
            }
        }
        section.panel aria-labelledby="limits-title" {
            h2 #limits-title { "Request limits" }
            @let (errors, general) = forms.problems.beside("limits");
            (limits_form(&format!("{base}/limits"), &csrf, forms.limits.as_ref().unwrap_or(&LimitsForm::from_spec(spec)), errors, general, writable))
        }
        (super::waf::section(site, &forms.waf.unwrap_or_else(|| super::waf::WafForm::from_spec(&spec.waf.clone().unwrap_or_default())), &forms.problems, &csrf, writable))
        (attack_panel(control, site))
    };
    let title = format!("{} security", site.name);
    Ok(respond(
        status,
        page(&title, Some(signed), Section::Sites, body),
    ))
}

/// Shows the page again with a form's problems, or the error page for
/// what no form can fix (not allowed, not found).
pub(super) async fn refused(
    control: &Control,
    signed: &SignedIn,
    site: &SiteRecord,
    error: ApiError,
    mut forms: Forms,
    index: Option<usize>,
) -> PageResult {
    if !form_can_fix(&error) {
        return Err(error.into());
    }
    (forms.problems.errors, forms.problems.general) = place_errors(&error, index);
    let spec = stored_spec(site)?;
    render(control, signed, site, &spec, forms, None, error.status).await
}

pub(super) fn saved(site: &SiteRecord, anchor: &str) -> Response {
    Redirect::to(&format!(
        "/sites/{}/security?done=security-saved#{anchor}",
        site.id
    ))
    .into_response()
}
