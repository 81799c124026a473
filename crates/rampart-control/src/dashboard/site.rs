//! `/sites/{site}`: one site's traffic, top lists, security events and
//! recent changes, and the under-attack switch.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use http::StatusCode;
use maud::{Markup, html};
use rampart_store::{AuditEntry, AuditFilter, SiteRecord};
use serde::Deserialize;
use serde_json::Value;

use super::charts::{top_table, traffic_chart};
use super::csrf::Posted;
use super::format::{count, datetime_ms, iso_ms};
use super::layout::{PageResult, Section, csrf_field, done_message, notice, page, respond};
use super::sites::status_badges;
use super::traffic::{self, Range};
use super::{SignedIn, store};
use crate::Control;
use crate::api;

/// Which tab of a site's pages is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tab {
    Overview,
    Security,
    Bots,
    Settings,
    Abuse,
}

/// The heading, hostnames and tabs every page of a site starts with.
pub(crate) fn site_head(site: &SiteRecord, tab: Tab) -> Markup {
    let current = |this: Tab| (tab == this).then_some("page");
    html! {
        div.page-head {
            div {
                h1 { (site.name) }
                p.sub { (site.hosts.join(", ")) }
            }
            div { (status_badges(site)) }
        }
        nav aria-label="Site" {
            ul.tabs {
                li { a href={ "/sites/" (site.id) } aria-current=[current(Tab::Overview)] { "Overview" } }
                li { a href={ "/sites/" (site.id) "/security" } aria-current=[current(Tab::Security)] { "Security" } }
                li { a href={ "/sites/" (site.id) "/bots" } aria-current=[current(Tab::Bots)] { "Bots & captcha" } }
                li { a href={ "/sites/" (site.id) "/settings" } aria-current=[current(Tab::Settings)] { "Settings" } }
                li { a href={ "/sites/" (site.id) "/abuse" } aria-current=[current(Tab::Abuse)] { "Abuse reports" } }
            }
        }
    }
}

/// Why a site page's forms are missing or disabled, when they are: the
/// site is declared in the configuration file, where `what` is to be
/// changed, or the viewer's role may only read.
pub(crate) fn read_only_note(site: &SiteRecord, writable: bool, what: &str) -> Markup {
    html! {
        @if site.file_managed {
            p.panel role="note" { "This site is declared in the configuration file. Change " (what) " there and reload Rampart." }
        } @else if !writable {
            p.panel role="note" { "Your role may view these settings but not change them." }
        }
    }
}

pub(crate) fn under_attack(site: &SiteRecord) -> bool {
    site.spec.get("under_attack").and_then(Value::as_bool) == Some(true)
}

#[derive(Deserialize, Default)]
pub(crate) struct OverviewQuery {
    range: Option<String>,
    done: Option<String>,
    /// A case reference, from the appeal link on the edge's suspension page.
    case: Option<String>,
}

pub(crate) async fn overview(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Path(key): Path<String>,
    Query(query): Query<OverviewQuery>,
) -> PageResult {
    let principal = &signed.principal;
    let site = api::sites::visible_site(&control, principal, &key).await?;
    let store = store(&control)?;
    let range = Range::parse(query.range.as_deref());
    let now_secs = api::tokens::now_ms().div_euclid(1000);
    let traffic = traffic::load(store, &site.id, range, now_secs).await?;
    let changes = recent_changes(store, &site).await?;
    let writable = principal.can_write_site(&site) && !site.file_managed;

    let range_link = |r: Range| {
        html! {
            li { a href={ "/sites/" (site.id) "?range=" (r.param()) } aria-current=[(r == range).then_some("page")] { (r.label()) } }
        }
    };
    let attack = under_attack(&site);
    let body = html! {
        (site_head(&site, Tab::Overview))
        (notice(done_message(query.done.as_deref())))
        @if let Some(case) = query.case.as_deref().filter(|c| is_case_reference(c)) {
            p.panel role="note" #case-link {
                "Case " (case) ": see the reports and decisions about this site, and appeal, under "
                a href={ "/sites/" (site.id) "/abuse#case-" (case) } { "Abuse reports" } "."
            }
        }
        section.panel.attack-panel.on[attack] #under-attack aria-labelledby="under-attack-title" {
            div {
                h2 #under-attack-title { "Under-attack mode" }
                p #under-attack-state {
                    @if attack {
                        strong { "On." } " Every visitor is challenged before reaching the site."
                    } @else {
                        strong { "Off." } " Visitors are challenged only by the site's rules and security level."
                    }
                }
            }
            @if writable {
                form method="post" action={ "/sites/" (site.id) "/under-attack" } {
                    (csrf_field(signed.csrf()))
                    input type="hidden" name="on" value=(if attack { "false" } else { "true" });
                    @if attack {
                        button.secondary #under-attack-toggle type="submit" { "Turn off under-attack mode" }
                    } @else {
                        button.danger #under-attack-toggle type="submit" { "Turn on under-attack mode" }
                    }
                }
            }
        }
        section.panel aria-labelledby="traffic-title" {
            h2 #traffic-title { "Traffic" }
            nav aria-label="Time range" { ul.range { (range_link(Range::Hour)) (range_link(Range::Day)) } }
            ul.totals {
                li { span.n #total-requests { (count(traffic.total(|m| m.requests))) } span.l { "requests" } }
                li { span.n #total-blocked { (count(traffic.total(|m| m.blocked))) } span.l { "blocked" } }
                li { span.n #total-challenged { (count(traffic.total(|m| m.challenged))) } span.l { "challenged" } }
            }
            (traffic_chart(&traffic))
        }
        section aria-labelledby="top-title" {
            h2 #top-title { "Top in the " (range.label().to_lowercase()) }
            div.grid {
                (top_table("Client addresses", "Address", &traffic.top.ips))
                (top_table("Countries", "Country", &traffic.top.countries))
                (top_table("Paths", "Path", &traffic.top.paths))
                (top_table("Rules", "Rule", &traffic.top.rules))
            }
        }
        section.panel #security-events aria-labelledby="events-title" {
            h2 #events-title { "Security events" }
            h3 { "Verdicts" }
            ul.totals #verdicts {
                li { span.n #verdict-passed { (count(traffic.total(|m| m.passed))) } span.l { "passed" } }
                li { span.n #verdict-blocked { (count(traffic.total(|m| m.blocked))) } span.l { "blocked" } }
                li { span.n #verdict-challenged { (count(traffic.total(|m| m.challenged))) } span.l { "challenged" } }
                li { span.n #verdict-rate-limited { (count(traffic.total(|m| m.rate_limited))) } span.l { "rate limited" } }
            }
            @let stopped = traffic.total(|m| m.blocked) + traffic.total(|m| m.challenged) + traffic.total(|m| m.rate_limited);
            @if stopped == 0 {
                p.empty #events-empty { "No requests were blocked, challenged or rate limited in the " (range.label().to_lowercase()) "." }
            }
            h3 { "Rule hits" }
            @if traffic.top.rules.is_empty() {
                p.empty #rule-hits-empty { "No rule matched in the " (range.label().to_lowercase()) "." }
            } @else {
                div.table-wrap {
                    table #rule-hits {
                        thead { tr { th scope="col" { "Rule" } th.num scope="col" { "Hits" } } }
                        tbody {
                            @for (rule, n) in &traffic.top.rules {
                                tr { td.key { (rule) } td.num { (count(*n)) } }
                            }
                        }
                    }
                }
                p { a href={ "/sites/" (site.id) "/security" } { "Manage the site's rules" } }
            }
            h3 { "Recent changes" }
            (changes_table(&changes))
        }
    };
    Ok(respond(
        StatusCode::OK,
        page(&site.name, Some(&signed), Section::Sites, body),
    ))
}

/// Whether `text` looks like a case reference (`TS-` and hex), the only
/// thing the appeal link's `?case=` may put on the page.
fn is_case_reference(text: &str) -> bool {
    text.strip_prefix("TS-").is_some_and(|rest| {
        (1..=32).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// The site's latest audit entries: who changed what, and when.
async fn recent_changes(
    store: &rampart_store::Store,
    site: &SiteRecord,
) -> Result<Vec<AuditEntry>, rampart_store::StoreError> {
    let entries = store
        .list_audit(&AuditFilter {
            account_id: Some(site.account_id.clone()),
            before_id: None,
            limit: 200,
        })
        .await?;
    Ok(entries
        .into_iter()
        .filter(|e| e.target_kind == "site" && e.target_id == site.id)
        .take(10)
        .collect())
}

fn action_label(action: &str) -> &str {
    match action {
        "site.create" => "Created the site",
        "site.update" => "Changed settings",
        "site.delete" => "Deleted the site",
        "site.captcha_key.create" => "Created a captcha key",
        "site.captcha_key.update" => "Changed a captcha key",
        "site.captcha_key.rotate_secret" => "Gave a captcha key a new secret",
        "site.captcha_key.delete" => "Deleted a captcha key",
        other => other,
    }
}

/// What an update changed, by top-level setting.
fn changed_keys(entry: &AuditEntry) -> Vec<String> {
    let (Some(Value::Object(before)), Some(Value::Object(after))) = (
        entry.before.as_ref().and_then(|b| b.get("spec")),
        entry.after.as_ref().and_then(|a| a.get("spec")),
    ) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn changes_table(changes: &[AuditEntry]) -> Markup {
    html! {
        @if changes.is_empty() {
            p.empty { "No changes recorded." }
        } @else {
            div.table-wrap {
                table #changes {
                    thead { tr { th scope="col" { "When (UTC)" } th scope="col" { "Who" } th scope="col" { "What" } } }
                    tbody {
                        @for entry in changes {
                            @let keys = changed_keys(entry);
                            tr {
                                td { time datetime=(iso_ms(entry.at)) { (datetime_ms(entry.at)) } }
                                td.key { (entry.actor_label) }
                                td {
                                    (action_label(&entry.action))
                                    @if !keys.is_empty() { ": " (keys.join(", ")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct AttackForm {
    #[serde(default)]
    on: String,
}

pub(crate) async fn under_attack_toggle(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<AttackForm>,
) -> PageResult {
    let on = form.on == "true";
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let mut spec = site.spec.clone();
    if let Value::Object(map) = &mut spec {
        map.insert("under_attack".to_owned(), Value::Bool(on));
    }
    api::sites::update_site(&control, &signed.principal, &site, spec).await?;
    let done = if on {
        "under-attack-on"
    } else {
        "under-attack-off"
    };
    Ok(Redirect::to(&format!("/sites/{}?done={done}#under-attack", site.id)).into_response())
}

#[cfg(test)]
mod tests {
    use super::is_case_reference;

    #[test]
    fn only_references_are_echoed() {
        assert!(is_case_reference("TS-9F3A01BC22D4"));
        assert!(!is_case_reference("TS-"));
        assert!(!is_case_reference("TS-<b>"));
        assert!(!is_case_reference("Call us at 555"));
    }
}
