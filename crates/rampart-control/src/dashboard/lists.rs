//! `/lists`: an account's named IP lists (and, for operators, the
//! operator's): create one from pasted entries, replace its entries, export
//! them as text, delete it. The API's helpers do the work, so roles,
//! validation, the 409 for a list a rule still uses, and the audit log are
//! the API's.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};
use maud::{Markup, html};
use rampart_store::{Account, IpListRecord};
use serde::Deserialize;

use super::csrf::Posted;
use super::form::{Field, text};
use super::format::{count, datetime_ms};
use super::layout::{
    CardsTable, FieldMessage, PageResult, Section, csrf_field, done_message, error_summary,
    form_can_fix, notice, page, respond,
};
use super::session::form_encode;
use super::sites::visible_accounts;
use super::{SignedIn, store};
use crate::Control;
use crate::api;
use crate::api::auth::Principal;
use crate::api::error::ApiError;
use crate::iplists;

#[derive(Deserialize, Default)]
pub(crate) struct ListsQuery {
    /// Operators: whose lists; absent or "" for the operator's own.
    account: Option<String>,
    done: Option<String>,
}

/// Whose lists the page shows: `None` is the operator's.
fn view_of(principal: &Principal, asked: Option<&str>, accounts: &[Account]) -> Option<String> {
    if principal.is_operator() {
        asked
            .filter(|id| accounts.iter().any(|a| a.id == *id))
            .map(str::to_owned)
    } else {
        principal.account_id().map(str::to_owned)
    }
}

fn may_write(principal: &Principal, view: Option<&str>) -> bool {
    !principal.is_site_scoped()
        && match view {
            Some(account) => principal.can_write_account(account),
            None => principal.is_operator_admin(),
        }
}

#[derive(Default)]
struct Problems {
    /// Errors of the create form.
    create: Vec<FieldMessage>,
    create_general: Vec<String>,
    /// A refused import or delete: the list's id and what was wrong.
    list: Option<(String, String)>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NewListForm {
    pub account: String,
    pub name: String,
    pub description: String,
    pub entries: String,
}

pub(crate) async fn page_get(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Query(query): Query<ListsQuery>,
) -> PageResult {
    let accounts = visible_accounts(&control, &signed.principal).await?;
    let view = view_of(&signed.principal, query.account.as_deref(), &accounts);
    render(
        &control,
        &signed,
        &accounts,
        view,
        &NewListForm::default(),
        Problems::default(),
        query.done.as_deref(),
        StatusCode::OK,
    )
    .await
}

fn switcher(accounts: &[Account], view: Option<&str>) -> Markup {
    html! {
        form.panel.inline method="get" action="/lists" aria-label="Owner" {
            div.field {
                label for="f-list-owner" { "Show lists of" }
                select #f-list-owner name="account" {
                    option value="" selected[view.is_none()] { "The operator (every account's rules see these)" }
                    @for account in accounts {
                        option value=(account.id) selected[view == Some(account.id.as_str())] { (account.name) }
                    }
                }
            }
            button.secondary type="submit" { "Show" }
        }
    }
}

fn list_row(
    list: &IpListRecord,
    csrf: &Markup,
    writable: bool,
    readable: bool,
    problem: Option<&str>,
) -> Markup {
    html! {
        tr id={ "list-" (list.name) } {
            td.key data-label="Name" { "$" (list.name) @if list.account_id.is_none() { " " span.badge { "operator" } } }
            td data-label="Description" { (list.description) }
            td.num data-label="Entries" { (count(u64::try_from(list.entry_count).unwrap_or(0))) }
            td data-label="Changed" { (datetime_ms(list.updated_at)) }
            td data-label="Actions" {
                @if readable { a href={ "/lists/" (list.id) "/export" } download={ (list.name) ".txt" } { "Export" } }
                @if writable {
                    details {
                        summary { "Replace entries" }
                        form.stacked method="post" action={ "/lists/" (list.id) "/import" } {
                            (csrf)
                            div.field {
                                label for={ "f-import-" (list.id) } { "Entries for $" (list.name) }
                                p.hint { "One address or CIDR per line; replaces every entry." }
                                textarea id={ "f-import-" (list.id) } name="entries" rows="6" spellcheck="false" {}
                            }
                            button type="submit" { "Replace entries" }
                        }
                    }
                    form.inline method="post" action={ "/lists/" (list.id) "/delete" } {
                        (csrf)
                        button.link type="submit" { "Delete" span.visually-hidden { " list " (list.name) } }
                    }
                }
                @if let Some(problem) = problem {
                    p.field-error role="alert" id={ "list-error-" (list.name) } { "Error: " (problem) }
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn render(
    control: &Control,
    signed: &SignedIn,
    accounts: &[Account],
    view: Option<String>,
    form: &NewListForm,
    problems: Problems,
    done: Option<&str>,
    status: StatusCode,
) -> PageResult {
    let principal = &signed.principal;
    let mut lists = api::lists::visible_lists(control, principal, view.as_deref()).await?;
    if view.is_none() && principal.is_operator() {
        lists.retain(|l| l.account_id.is_none());
    }
    let writable_view = may_write(principal, view.as_deref());
    let csrf = csrf_field(signed.csrf());
    let owner = match &view {
        Some(id) => accounts
            .iter()
            .find(|a| &a.id == id)
            .map_or_else(|| id.clone(), |a| a.name.clone()),
        None => "the operator".to_owned(),
    };
    let lists_table = CardsTable {
        id: "lists",
        caption: "Lists",
        empty: "No lists yet.",
        // Every row has an actions cell: export, replace and delete as the
        // viewer may, and a list's own error.
        actions: true,
    };
    let headings = html! {
        th scope="col" { "Name" }
        th scope="col" { "Description" }
        th.num scope="col" { "Entries" }
        th scope="col" { "Changed" }
    };
    let rows = html! {
        @for list in &lists {
            @let writable = may_write(principal, list.account_id.as_deref());
            @let readable = list.account_id.is_some() || principal.is_operator();
            @let problem = problems.list.as_ref().filter(|(id, _)| *id == list.id).map(|(_, m)| m.as_str());
            (list_row(list, &csrf, writable, readable, problem))
        }
    };
    let body = html! {
        div.page-head {
            div {
                h1 { "Lists" }
                p.sub { "Named sets of addresses and networks that rules use as $name. Lists of " (owner) "." }
            }
        }
        (notice(done_message(done)))
        @if principal.is_operator() { (switcher(accounts, view.as_deref())) }
        div.panel { (lists_table.render(lists.is_empty(), headings, rows)) }
        @if writable_view {
            section.panel aria-labelledby="new-list-title" {
                h2 #new-list-title { "New list" }
                (error_summary("The list was not created", &problems.create, &problems.create_general))
                form.stacked #new-list method="post" action="/lists" novalidate {
                    (csrf)
                    input type="hidden" name="account" value=(view.clone().unwrap_or_default());
                    (text(Field { name: "name", label: "Name", hint: Some("Lowercase letters, digits and _; rules write it as $name.") }, &form.name, &problems.create, false))
                    (text(Field { name: "description", label: "Description", hint: None }, &form.description, &problems.create, false))
                    (text(Field { name: "entries", label: "Entries", hint: Some("One IPv4 or IPv6 address or CIDR per line; # starts a comment. Large lists: PUT /api/v1/lists/{id}/items.") }, &form.entries, &problems.create, true))
                    button type="submit" { "Create list" }
                }
            }
        }
    };
    Ok(respond(
        status,
        page("Lists", Some(signed), Section::Lists, body),
    ))
}

fn back_to(list_account: Option<&str>, done: &str) -> Response {
    let account = list_account.map(form_encode).unwrap_or_default();
    Redirect::to(&format!("/lists?account={account}&done={done}")).into_response()
}

/// The entries as stored, or the problem for the form's entries field.
fn entries_of(text: &str) -> Result<(String, usize), ApiError> {
    let entries = iplists::parse_entries(text.lines(), &HashSet::new())
        .map_err(|e| ApiError::invalid("entries", "invalid_entry", e.to_string()))?;
    Ok((iplists::to_text(&entries), entries.len()))
}

pub(crate) async fn create(
    State(control): State<Arc<Control>>,
    Posted { signed, form }: Posted<NewListForm>,
) -> PageResult {
    let accounts = visible_accounts(&control, &signed.principal).await?;
    let account = Some(form.account.trim())
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    let view = view_of(&signed.principal, account.as_deref(), &accounts);
    let result = match entries_of(&form.entries) {
        Ok(entries) => {
            api::lists::create_list(
                &control,
                &signed.principal,
                view.clone(),
                form.name.trim(),
                form.description.trim(),
                entries,
            )
            .await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(list) => Ok(back_to(list.account_id.as_deref(), "list-created")),
        Err(error) if form_can_fix(&error) => {
            let message = error.detail.message.replace('`', "");
            let (field, label) = match error.detail.field.as_deref() {
                Some("name") => ("name", "Name"),
                Some("description") => ("description", "Description"),
                _ => ("entries", "Entries"),
            };
            let problems = Problems {
                create: vec![FieldMessage {
                    field,
                    label,
                    message,
                }],
                ..Problems::default()
            };
            render(
                &control,
                &signed,
                &accounts,
                view,
                &form,
                problems,
                None,
                error.status,
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ImportForm {
    entries: String,
}

/// Shows the page again with a problem next to one list.
async fn list_refused(
    control: &Control,
    signed: &SignedIn,
    list: &IpListRecord,
    error: ApiError,
) -> PageResult {
    if !form_can_fix(&error) {
        return Err(error.into());
    }
    let accounts = visible_accounts(control, &signed.principal).await?;
    let view = view_of(&signed.principal, list.account_id.as_deref(), &accounts);
    let problems = Problems {
        list: Some((list.id.clone(), error.detail.message.replace('`', ""))),
        ..Problems::default()
    };
    render(
        control,
        signed,
        &accounts,
        view,
        &NewListForm::default(),
        problems,
        None,
        error.status,
    )
    .await
}

pub(crate) async fn import(
    State(control): State<Arc<Control>>,
    Path(id): Path<String>,
    Posted { signed, form }: Posted<ImportForm>,
) -> PageResult {
    let list = api::lists::writable_list(&control, &signed.principal, &id).await?;
    match api::lists::import_items(&control, &signed.principal, &list, &form.entries).await {
        Ok(_) => Ok(back_to(list.account_id.as_deref(), "list-imported")),
        Err(error) => list_refused(&control, &signed, &list, error).await,
    }
}

pub(crate) async fn delete(
    State(control): State<Arc<Control>>,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<super::security_save::NoFields>,
) -> PageResult {
    let list = api::lists::writable_list(&control, &signed.principal, &id).await?;
    match api::lists::delete_list(&control, &signed.principal, &list).await {
        Ok(()) => Ok(back_to(list.account_id.as_deref(), "list-deleted")),
        Err(error) => list_refused(&control, &signed, &list, error).await,
    }
}

/// The entries as a text file, one per line.
pub(crate) async fn export(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> PageResult {
    let list = api::lists::visible_list(&control, &signed.principal, &id).await?;
    if list.account_id.is_none() && !signed.principal.is_operator() {
        return Err(ApiError::forbidden(
            "the entries of operator lists are visible to operators only",
        )
        .into());
    }
    let text = store(&control)?.ip_list_entries(&list.id).await?;
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}.txt\"", list.name))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    Ok((
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (CONTENT_DISPOSITION, disposition),
        ],
        text,
    )
        .into_response())
}
