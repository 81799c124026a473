//! `/sites/{site}/security-events`: what the WAF found, newest first, 50
//! to a page, read through the API's own `api::security_events::site_events`
//! (same roles and isolation). Everything shown came from a client: maud
//! escapes it.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use http::StatusCode;
use maud::html;
use serde::Deserialize;

use super::SignedIn;
use super::format::datetime_ms;
use super::layout::{CardsTable, PageResult, Section, page, respond};
use super::site::{Tab, site_head};
use crate::Control;
use crate::api;
use crate::api::security_events::EventsQuery;

const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub(crate) struct PageQuery {
    before: Option<String>,
}

pub(crate) async fn page_get(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Path(key): Path<String>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let site = api::sites::visible_site(&control, &signed.principal, &key).await?;
    let events = api::security_events::site_events(
        &control,
        &signed.principal,
        &site.id,
        &EventsQuery {
            limit: Some(PAGE),
            before: query.before.clone(),
        },
    )
    .await?;
    let table = CardsTable {
        id: "security-events",
        caption: "Security events, newest first",
        empty: "No security events. With the WAF in Detect or Block mode, requests it flags show up here.",
        actions: false,
    };
    let headings = html! {
        th scope="col" { "Time (UTC)" }
        th scope="col" { "Action" }
        th scope="col" { "Rules" }
        th scope="col" { "Client" }
        th scope="col" { "Request" }
        th scope="col" { "Reference" }
    };
    let rows = html! {
        @for e in &events {
            tr {
                td data-label="Time (UTC)" { (datetime_ms(e.at)) }
                td data-label="Action" {
                    @if e.action == "block" { strong { "Blocked" } } @else { (e.action) }
                    " (score " (e.inbound_score) ")"
                }
                td data-label="Rules" {
                    ul.plain {
                        @for r in &e.rules {
                            li {
                                code { (r.id) } " " (r.message)
                                @if !r.data.is_empty() { br; small { (r.data) } }
                            }
                        }
                    }
                }
                td data-label="Client" { (e.client_ip) }
                td data-label="Request" { code { (e.method) " " (e.uri) } }
                td data-label="Reference" { code { (e.reference) } }
            }
        }
    };
    let older = (events.len() == usize::try_from(PAGE).unwrap_or(usize::MAX))
        .then(|| events.last().map(|e| e.id.clone()))
        .flatten();
    let body = html! {
        (site_head(&site, Tab::Security))
        section.panel aria-labelledby="events-title" {
            h2 #events-title { "Security events" }
            p.hint {
                "Requests the WAF flagged, kept 30 days. Matched data is cut short and secrets are masked. "
                a href={ "/sites/" (site.id) "/security#waf-title" } { "WAF settings" }
            }
            (table.render(events.is_empty(), headings, rows))
            p {
                @if query.before.is_some() {
                    a href={ "/sites/" (site.id) "/security-events" } { "Newest" }
                    " "
                }
                @if let Some(id) = older {
                    a #older href={ "/sites/" (site.id) "/security-events?before=" (id) } { "Older events" }
                }
            }
        }
    };
    let title = format!("{} security events", site.name);
    Ok(respond(
        StatusCode::OK,
        page(&title, Some(&signed), Section::Sites, body),
    ))
}
