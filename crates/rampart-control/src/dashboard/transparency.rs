//! `/transparency`: the desk's figures for a period, the same ones
//! `GET /api/v1/transparency` publishes (the period is read by the API's
//! own `period_ms`, the figures come from the same store query), with
//! links to that endpoint's CSV and JSON exports. Counts only: no case,
//! site or person is named, so every signed-in user may read it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use super::desk_forms::{category_label, outcome_label, problem_text};
use super::format::{count, iso_ms};
use super::layout::{FieldMessage, PageResult, Section, field_errors, page, respond};
use super::{SignedIn, store};
use crate::Control;
use crate::api;

#[derive(Deserialize, Default)]
pub(crate) struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `2026-11-28` of unix milliseconds.
fn day(ms: i64) -> String {
    iso_ms(ms).chars().take(10).collect()
}

/// A duration as people say it: `40 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub(crate) fn duration_text(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// A two-column table of counts, or a line saying there are none.
fn counts_table(
    id: &str,
    title: &str,
    key: &str,
    values: &BTreeMap<String, u64>,
    label: fn(&str) -> &str,
) -> Markup {
    html! {
        section.panel aria-labelledby={ (id) "-title" } {
            h2 id={ (id) "-title" } { (title) }
            @if values.is_empty() {
                p.empty id={ (id) "-empty" } { "None in this period." }
            } @else {
                div.table-wrap {
                    table id=(id) {
                        thead { tr { th scope="col" { (key) } th.num scope="col" { "Count" } } }
                        tbody {
                            @for (code, n) in values {
                                tr {
                                    th scope="row" { (label(code)) }
                                    td.num id={ (id) "-" (code) } { (count(*n)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn appeal_label(code: &str) -> &str {
    match code {
        "upheld" => "Upheld",
        "reversed" => "Reversed",
        other => other,
    }
}

pub(crate) async fn page_get(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Query(query): Query<PeriodQuery>,
) -> PageResult {
    let from = query.from.as_deref().filter(|f| !f.trim().is_empty());
    let to = query.to.as_deref().filter(|t| !t.trim().is_empty());
    let (period, errors) = match api::transparency::period_ms(from, to) {
        Ok(period) => (period, Vec::new()),
        Err(error) => {
            let field = if error.detail.field.as_deref() == Some("to") {
                "to"
            } else {
                "from"
            };
            let label = if field == "to" { "To" } else { "From" };
            let message = FieldMessage {
                field,
                label,
                message: problem_text(&error),
            };
            (api::transparency::period_ms(None, None)?, vec![message])
        }
    };
    let (from_ms, to_ms) = period;
    let figures = store(&control)?.transparency(from_ms, to_ms).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let export = format!(
        "/api/v1/transparency?from={}&to={}",
        day(from_ms),
        day(to_ms)
    );
    let median = |ms: Option<i64>| ms.map_or_else(|| "no decisions".to_owned(), duration_text);
    let date_field = |name: &'static str, label: &str, value: &str| {
        let (error_id, error_markup) = field_errors(&errors, name);
        html! {
            div.field {
                label for={ "f-" (name) } { (label) }
                input id={ "f-" (name) } type="date" name=(name) value=(value)
                    aria-invalid=[error_id.as_ref().map(|_| "true")] aria-describedby=[error_id];
                (error_markup)
            }
        }
    };
    let from_value = from.map_or_else(|| day(from_ms), str::to_owned);
    let to_value = to.map_or_else(|| day(to_ms), str::to_owned);
    let body = html! {
        div.page-head {
            div {
                h1 { "Transparency report" }
                p.sub #period { "From " (day(from_ms)) " up to " (day(to_ms)) " (UTC, the last day not included)." }
            }
            @if signed.principal.is_operator() { div { a href="/desk" { "Back to the queues" } } }
        }
        form.panel.inline method="get" action="/transparency" aria-label="Period" {
            (date_field("from", "From", &from_value))
            (date_field("to", "To (not included)", &to_value))
            button.secondary type="submit" { "Show" }
        }
        p {
            "Export: "
            a #export-csv href={ (export) "&format=csv" } { "CSV" }
            " · "
            a #export-json href=(export) { "JSON" }
            " (public, the same figures)."
        }
        section.panel aria-labelledby="totals-title" {
            h2 #totals-title { "In short" }
            dl.facts {
                dt { "Cases opened" } dd #cases-opened { (count(figures.cases_opened)) }
                dt { "Decisions lifted" } dd #decisions-lifted { (count(figures.decisions_lifted)) }
                dt { "Median time to decision, urgent cases" } dd #median-urgent { (median(figures.median_ms_to_decision_urgent)) }
                dt { "Median time to decision, other cases" } dd #median-other { (median(figures.median_ms_to_decision_other)) }
                dt { "Appeals filed" } dd #appeals-filed { (count(figures.appeals_filed)) }
            }
        }
        div.grid {
            (counts_table("reports-by-category", "Reports by category", "Category", &figures.reports_by_category, category_label))
            (counts_table("decisions-by-outcome", "Decisions by outcome", "Outcome", &figures.decisions_by_outcome, outcome_label))
            (counts_table("decisions-by-category", "Decisions by category", "Category", &figures.decisions_by_category, category_label))
            (counts_table("appeals-by-outcome", "Appeals answered", "Answer", &figures.appeals_by_outcome, appeal_label))
        }
    };
    Ok(respond(
        status,
        page("Transparency report", Some(&signed), Section::Desk, body),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_text(-5), "0 s");
        assert_eq!(duration_text(42_000), "42 s");
        assert_eq!(duration_text(12 * 60_000 + 5_000), "12 min");
        assert_eq!(duration_text(3_600_000), "1 h");
        assert_eq!(duration_text(3 * 3_600_000 + 5 * 60_000), "3 h 5 min");
        assert_eq!(duration_text(2 * 86_400_000), "2 d");
        assert_eq!(duration_text(2 * 86_400_000 + 4 * 3_600_000), "2 d 4 h");
    }

    #[test]
    fn days() {
        assert_eq!(day(0), "1970-01-01");
        assert_eq!(day(1_740_837_900_000), "2025-03-01");
    }
}
