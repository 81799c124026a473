//! `/nodes`: the cluster's nodes for operators, as `GET /api/v1/nodes`
//! lists them (same view and status), with each node's requests over the
//! last hour and the total, from the per-node analytics rows.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use http::StatusCode;
use maud::html;

use super::format::{count, datetime_ms};
use super::layout::{PageError, PageResult, Section, page, respond};
use super::{SignedIn, store};
use crate::Control;
use crate::api::nodes::list_views;

/// The period the request figures cover.
const WINDOW_SECS: i64 = 3600;

pub(crate) async fn page_get(State(control): State<Arc<Control>>, signed: SignedIn) -> PageResult {
    if !signed.principal.is_operator() {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "There is no such page.",
        ));
    }
    let nodes = list_views(&control).await?;
    let since = (crate::api::tokens::now_ms() / 1000 - WINDOW_SECS).div_euclid(60) * 60;
    let requests: HashMap<String, (u64, u64)> = store(&control)?
        .requests_by_node(since)
        .await?
        .into_iter()
        .map(|r| {
            let n = |v: i64| u64::try_from(v).unwrap_or(0);
            (r.node_id, (n(r.requests), n(r.blocked)))
        })
        .collect();
    let total = requests
        .values()
        .fold((0u64, 0u64), |(r, b), (r2, b2)| (r + r2, b + b2));
    let spool = control.spool_backlog();
    let body = html! {
        h1 { "Nodes" }
        p {
            "Every " code { "rampart serve" } " sharing this store writes a heartbeat every few "
            "seconds. A node not heard from for 15 s shows as stale. Requests cover the last hour."
        }
        @if spool > 0 {
            p.notice role="status" id="spool-backlog" {
                "This node holds " (count(spool)) " write(s) in its spool, waiting for the store."
            }
        }
        section.panel aria-labelledby="nodes-title" {
            h2 id="nodes-title" { "Nodes" }
            div.table-wrap {
                table id="nodes" {
                    thead {
                        tr {
                            th scope="col" { "Node" }
                            th scope="col" { "Status" }
                            th scope="col" { "Version" }
                            th.num scope="col" { "Snapshot" }
                            th.num scope="col" { "Store revision" }
                            th scope="col" { "Shared state" }
                            th scope="col" { "Started" }
                            th scope="col" { "Last seen" }
                            th.num scope="col" { "Requests" }
                            th.num scope="col" { "Blocked" }
                        }
                    }
                    tbody {
                        @for node in &nodes {
                            @let (req, blocked) = requests.get(&node.id).copied().unwrap_or_default();
                            tr id={ "node-" (node.id) } {
                                th scope="row" {
                                    (node.id)
                                    @if node.this_node { " (this node)" }
                                }
                                td.status { (node.status) }
                                td { (node.version) }
                                td.num { (node.snapshot_version) }
                                td.num { (node.store_revision) }
                                td { (node.shared_state) }
                                td { (datetime_ms(node.started_at)) }
                                td { (datetime_ms(node.last_seen)) }
                                td.num.requests { (count(req)) }
                                td.num { (count(blocked)) }
                            }
                        }
                    }
                    tfoot {
                        tr id="nodes-total" {
                            th scope="row" colspan="8" { "Total" }
                            td.num.requests { (count(total.0)) }
                            td.num { (count(total.1)) }
                        }
                    }
                }
            }
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Nodes", Some(&signed), Section::Nodes, body),
    ))
}
