//! `/sites/{site}/bots`: how a site's challenge is priced, its bot policy
//! (switch, weighted rules, thresholds) and its captcha keys, with the
//! forms that change them; their posts are handled in `bots_save.rs`. A
//! captcha key's secret is shown once, on the page that answers the form
//! that made it, with the snippet and URL the site's developers need.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::{Markup, html};
use rampart_config::{BotAction, BotRuleSpec, SiteSpec, default_thresholds};
use rampart_store::SiteRecord;
use serde::Deserialize;

use super::SignedIn;
use super::bots_forms::{
    BotRuleForm, CaptchaForm, ChallengeForm, bot_rule_form, captcha_form, challenge_form,
    place_errors,
};
use super::layout::{
    CardsTable, FormProblems, PageResult, Section, csrf_field, done_message, form_can_fix, notice,
    page, respond,
};
use super::security::stored_spec;
use super::site::{Tab, read_only_note, site_head};
use crate::Control;
use crate::api;
use crate::api::captcha::{CaptchaKeyView, CaptchaKeyWithSecret};
use crate::api::error::ApiError;

#[derive(Deserialize, Default)]
pub(crate) struct BotsQuery {
    done: Option<String>,
}

/// A key whose secret this answer shows.
pub(super) struct Revealed {
    /// "created" or "rotated".
    pub how: &'static str,
    pub key: CaptchaKeyWithSecret,
}

/// The forms as posted (shown again with their problems) and a revealed
/// secret.
#[derive(Default)]
pub(super) struct Forms {
    pub challenge: Option<ChallengeForm>,
    pub rule: Option<BotRuleForm>,
    pub captcha: Option<CaptchaForm>,
    pub problems: FormProblems,
    pub revealed: Option<Revealed>,
}

pub(crate) async fn page_get(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Path(key): Path<String>,
    Query(query): Query<BotsQuery>,
) -> PageResult {
    let site = api::sites::visible_site(&control, &signed.principal, &key).await?;
    render(
        &signed,
        &site,
        Forms::default(),
        query.done.as_deref(),
        StatusCode::OK,
    )
}

/// The host a snippet names: the key's first hostname, else the site's
/// first exact host (a wildcard's `www.` otherwise).
fn embed_host(key: &CaptchaKeyWithSecret, site: &SiteRecord) -> String {
    if let Some(host) = key.hostnames.first() {
        return host.clone();
    }
    site.hosts
        .iter()
        .find(|h| !h.starts_with('*'))
        .or_else(|| site.hosts.first())
        .map(|h| h.replacen('*', "www", 1))
        .unwrap_or_default()
}

fn revealed_panel(site: &SiteRecord, revealed: &Revealed) -> Markup {
    let key = &revealed.key;
    let host = embed_host(key, site);
    let snippet = format!(
        "<script src=\"https://{host}/.rampart/captcha/v1/api.js\" async defer></script>\n\
         <div class=\"rampart-captcha\" data-sitekey=\"{}\"></div>",
        key.sitekey
    );
    html! {
        div.secret #captcha-secret role="status" {
            h2 {
                @if revealed.how == "created" { "Captcha key created" } @else { "New secret for " code { (key.sitekey) } }
            }
            p { strong { "Copy the secret now: it is shown only this once." } " Rampart keeps only its hash." }
            p { "Sitekey (public): " code #new-captcha-sitekey { (key.sitekey) } }
            p { "Secret (for your server only): " code #new-captcha-secret { (key.secret) } }
            @if revealed.how == "rotated" {
                p { "The previous secret no longer verifies." }
            }
            p { "Put the widget in your page:" }
            pre.snippet { code #captcha-snippet { (snippet) } }
            p {
                "Your server sends each form's token, with the secret, to "
                code #captcha-siteverify { "https://" (host) "/.rampart/captcha/v1/siteverify" }
                " (form fields " code { "secret" } " and " code { "response" } ", as with Turnstile)."
            }
        }
    }
}

fn action_text(action: BotAction) -> String {
    match action {
        BotAction::Allow => "allow".to_owned(),
        BotAction::Block => "block".to_owned(),
        BotAction::Challenge(level) => format!("challenge ({})", level.as_str()),
    }
}

/// The thresholds in force, as "weight ≥ N → action" rows.
fn thresholds(spec: &SiteSpec) -> Vec<(i32, String)> {
    match spec.bots.as_ref().and_then(|b| b.thresholds.as_ref()) {
        Some(written) => {
            let mut rows: Vec<(i32, String)> = written
                .iter()
                .map(|t| {
                    let action = match &t.level {
                        Some(level) => format!("{} ({level})", t.action),
                        None => t.action.clone(),
                    };
                    (t.min_weight, action)
                })
                .collect();
            rows.sort_by_key(|r| r.0);
            rows
        }
        None => default_thresholds()
            .into_iter()
            .map(|t| (t.min_weight, action_text(t.action)))
            .collect(),
    }
}

fn bot_rules_table(base: &str, rules: &[BotRuleSpec], csrf: &Markup, writable: bool) -> Markup {
    let table = CardsTable {
        id: "bot-rules",
        caption: "Bot rules",
        empty: "No bot rules yet.",
        actions: writable,
    };
    let headings = html! {
        th scope="col" { "Rule" }
        th scope="col" { "Expression" }
        th.num scope="col" { "Weight" }
    };
    let rows = html! {
        @for rule in rules {
            tr id={ "bot-rule-" (rule.id) } {
                td.key data-label="Rule" { (rule.id) }
                td data-label="Expression" { code { (rule.expression) } }
                td.num data-label="Weight" { (rule.weight) }
                @if writable {
                    td {
                        form.inline method="post" action={ (base) "/rules/" (rule.id) "/delete" } {
                            (csrf)
                            button.link type="submit" { "Delete" span.visually-hidden { " bot rule " (rule.id) } }
                        }
                    }
                }
            }
        }
    };
    table.render(rules.is_empty(), headings, rows)
}

fn bot_section(site: &SiteRecord, spec: &SiteSpec, csrf: &Markup, writable: bool) -> Markup {
    let bots = spec.bots.clone().unwrap_or_default();
    // A `bots` table without `enabled` is on, as the compiler reads it.
    let on = spec.bots.is_some() && bots.enabled.unwrap_or(true);
    let rules = bots.rules.unwrap_or_default();
    let base = format!("/sites/{}/bots", site.id);
    html! {
        p #bot-policy-state {
            @if on { strong { "On." } " Each request is weighed by the rules below; the thresholds say what its weight leads to." }
            @else { strong { "Off." } " Requests are not weighed." }
        }
        @if writable {
            form.stacked #bot-policy-form method="post" action={ (base) "/policy" } {
                (csrf)
                div.check {
                    input #f-bots_enabled type="checkbox" name="bots_enabled" checked[on];
                    div { label for="f-bots_enabled" { "Weigh requests with the bot policy" } }
                }
                div.check {
                    input #f-challenge_feeds type="checkbox" name="challenge_feeds" checked[bots.challenge_feeds.unwrap_or(false)];
                    div {
                        label for="f-challenge_feeds" { "Also weigh feed readers and /.well-known/" }
                        p.hint { "They cannot solve challenges; leave this off unless they are a problem." }
                    }
                }
                button type="submit" { "Save bot policy" }
            }
        }
        h3 { "Rules" }
        (bot_rules_table(&base, &rules, csrf, writable))
        h3 { "Thresholds" }
        div.table-wrap {
            table #bot-thresholds {
                caption.visually-hidden { "What a request's total weight leads to" }
                thead { tr { th.num scope="col" { "Weight at least" } th scope="col" { "Action" } } }
                tbody {
                    @for (min, action) in thresholds(spec) {
                        tr { td.num { (min) } td { (action) } }
                    }
                }
            }
        }
        p.hint { "Thresholds are set through the API (" code { "bots.thresholds" } " in the site's settings)." }
    }
}

fn captcha_table(
    site: &SiteRecord,
    keys: &[CaptchaKeyView],
    csrf: &Markup,
    writable: bool,
) -> Markup {
    let base = format!("/sites/{}/bots/captcha", site.id);
    let table = CardsTable {
        id: "captcha-keys",
        caption: "Captcha keys",
        empty: "No captcha keys yet.",
        actions: writable,
    };
    let headings = html! {
        th scope="col" { "Sitekey" }
        th scope="col" { "Hostnames" }
        th scope="col" { "Mode" }
        th scope="col" { "Status" }
    };
    let rows = html! {
        @for key in keys {
            tr id={ "captcha-" (key.sitekey) } {
                td.key data-label="Sitekey" { code { (key.sitekey) } }
                td data-label="Hostnames" {
                    @if key.hostnames.is_empty() { "any host of the site" } @else { (key.hostnames.join(", ")) }
                }
                td data-label="Mode" { (key.mode) }
                td data-label="Status" {
                    @if key.suspended { span.badge.attack { "suspended" } } @else { span.badge.normal { "active" } }
                }
                @if writable {
                    td {
                        form.inline method="post" action={ (base) "/" (key.sitekey) "/suspend" } {
                            (csrf)
                            input type="hidden" name="on" value=(if key.suspended { "false" } else { "true" });
                            button.link type="submit" {
                                @if key.suspended { "Resume" } @else { "Suspend" }
                                span.visually-hidden { " key " (key.sitekey) }
                            }
                        }
                        form.inline method="post" action={ (base) "/" (key.sitekey) "/secret" } {
                            (csrf)
                            button.link type="submit" { "New secret" span.visually-hidden { " for key " (key.sitekey) } }
                        }
                        form.inline method="post" action={ (base) "/" (key.sitekey) "/delete" } {
                            (csrf)
                            button.link type="submit" { "Delete" span.visually-hidden { " key " (key.sitekey) } }
                        }
                    }
                }
            }
        }
    };
    table.render(keys.is_empty(), headings, rows)
}

pub(super) fn render(
    signed: &SignedIn,
    site: &SiteRecord,
    forms: Forms,
    done: Option<&str>,
    status: StatusCode,
) -> PageResult {
    let spec = stored_spec(site)?;
    let writable = signed.principal.can_write_site(site) && !site.file_managed;
    let csrf = csrf_field(signed.csrf());
    let keys: Vec<CaptchaKeyView> = spec
        .captcha_keys
        .iter()
        .flatten()
        .map(CaptchaKeyView::from_spec)
        .collect();
    let base = format!("/sites/{}/bots", site.id);
    let body = html! {
        (site_head(site, Tab::Bots))
        (notice(done_message(done)))
        @if let Some(revealed) = &forms.revealed { (revealed_panel(site, revealed)) }
        (read_only_note(site, writable, "its challenge, bot and captcha settings"))
        section.panel aria-labelledby="challenge-title" {
            h2 #challenge-title { "Challenge" }
            p.hint { "The proof of work a challenged visitor's browser does, and how long its clearance lasts." }
            @let (errors, general) = forms.problems.beside("challenge");
            (challenge_form(&format!("{base}/challenge"), &csrf, forms.challenge.as_ref().unwrap_or(&ChallengeForm::from_spec(&spec)), errors, general, writable))
        }
        section.panel aria-labelledby="bots-title" {
            h2 #bots-title { "Bot policy" }
            (bot_section(site, &spec, &csrf, writable))
            @if writable {
                @let (errors, general) = forms.problems.beside("rule");
                (bot_rule_form(&format!("{base}/rules"), &csrf, forms.rule.as_ref().unwrap_or(&BotRuleForm::default()), errors, general))
            }
        }
        section.panel aria-labelledby="captcha-title" {
            h2 #captcha-title { "Captcha keys" }
            p.hint { "A widget for your own forms (sign-up, contact); your server checks its answer with the key's secret." }
            (captcha_table(site, &keys, &csrf, writable))
            @if writable {
                @let (errors, general) = forms.problems.beside("captcha");
                (captcha_form(&format!("{base}/captcha"), &csrf, forms.captcha.as_ref().unwrap_or(&CaptchaForm::new_key()), errors, general))
            }
        }
    };
    let title = format!("{} bots & captcha", site.name);
    Ok(respond(
        status,
        page(&title, Some(signed), Section::Sites, body),
    ))
}

/// Shows the page again with a form's problems, or the error page for
/// what no form can fix (not allowed, not found).
pub(super) fn refused(
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
    render(signed, site, forms, None, error.status)
}

pub(super) fn saved(site: &SiteRecord, done: &str, anchor: &str) -> Response {
    Redirect::to(&format!("/sites/{}/bots?done={done}#{anchor}", site.id)).into_response()
}
