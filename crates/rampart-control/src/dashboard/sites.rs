//! `/sites`: the sites list with the operators' account switcher, a new
//! account form for operator admins, and `/sites/new`.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use http::StatusCode;
use maud::{Markup, html};
use rampart_config::SiteSpec;
use rampart_store::{Account, SiteRecord};
use serde::Deserialize;

use super::csrf::Posted;
use super::form::{Field, SiteForm, place_errors, select, site_fields};
use super::layout::{
    FieldMessage, PageResult, Section, csrf_field, done_message, error_summary, notice, page,
    respond,
};
use super::session::form_encode;
use super::{SignedIn, store};
use crate::Control;
use crate::api;
use crate::api::auth::Principal;

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    /// Operators: whose sites; "" for all accounts. Remembered in the session.
    account: Option<String>,
    done: Option<String>,
}

/// Whether the principal may add sites somewhere: operator admins to any
/// account, owners to their own.
fn may_create_sites(principal: &Principal) -> bool {
    !principal.is_site_scoped()
        && (principal.is_operator_admin()
            || principal
                .account_id()
                .is_some_and(|own| principal.can_write_account(own)))
}

/// The accounts the principal can see, by name.
pub(crate) async fn visible_accounts(
    control: &Control,
    principal: &Principal,
) -> Result<Vec<Account>, super::PageError> {
    let accounts = store(control)?.list_accounts().await?;
    Ok(accounts
        .into_iter()
        .filter(|a| principal.can_read_account(&a.id))
        .collect())
}

pub(crate) async fn list(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let principal = &signed.principal;
    let store = store(&control)?;
    let accounts = visible_accounts(&control, principal).await?;
    let view = if principal.is_operator() {
        match &query.account {
            Some(picked) => {
                let picked = Some(picked.as_str())
                    .filter(|id| accounts.iter().any(|a| a.id == *id))
                    .map(str::to_owned);
                store
                    .set_account_view(&signed.session.id_hash, picked.as_deref())
                    .await?;
                picked
            }
            None => signed
                .session
                .account_view
                .clone()
                .filter(|id| accounts.iter().any(|a| a.id == *id)),
        }
    } else {
        principal.account_id().map(str::to_owned)
    };
    let sites: Vec<SiteRecord> = store
        .list_sites(view.as_deref())
        .await?
        .into_iter()
        .filter(|s| principal.can_read_site(s))
        .collect();
    let new_href = match &view {
        Some(account) if principal.is_operator() => {
            format!("/sites/new?account={}", form_encode(account))
        }
        _ => "/sites/new".to_owned(),
    };
    let account_name = |id: &str| {
        accounts
            .iter()
            .find(|a| a.id == id)
            .map_or_else(|| id.to_owned(), |a| a.name.clone())
    };
    let body = html! {
        div.page-head {
            div {
                h1 { "Sites" }
                @if let Some(id) = &view { p.sub { "Account: " (account_name(id)) } }
            }
            @if may_create_sites(principal) {
                a.button href=(new_href) { "Add a site" }
            }
        }
        (notice(done_message(query.done.as_deref())))
        @if principal.is_operator() {
            (switcher(&accounts, view.as_deref()))
        }
        div.panel {
            @if sites.is_empty() {
                p.empty { "No sites here yet." }
                @if may_create_sites(principal) {
                    p { a href=(new_href) { "Add your first site" } " to put it behind Rampart." }
                }
            } @else {
                div.table-wrap {
                    table.cards #sites {
                        caption.visually-hidden { "Sites" }
                        thead { tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Hostnames" }
                            @if principal.is_operator() { th scope="col" { "Account" } }
                            th scope="col" { "Status" }
                        } }
                        tbody {
                            @for site in &sites {
                                tr {
                                    td data-label="Name" { a href={ "/sites/" (site.id) } { (site.name) } }
                                    td.key data-label="Hostnames" { (site.hosts.join(", ")) }
                                    @if principal.is_operator() { td data-label="Account" { (account_name(&site.account_id)) } }
                                    td data-label="Status" { (status_badges(site)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if principal.is_operator_admin() {
            (new_account_form(signed.csrf(), None, ""))
        }
    };
    Ok(respond(
        StatusCode::OK,
        page("Sites", Some(&signed), Section::Sites, body),
    ))
}

pub(crate) fn status_badges(site: &SiteRecord) -> Markup {
    let under_attack = site
        .spec
        .get("under_attack")
        .and_then(serde_json::Value::as_bool)
        == Some(true);
    html! {
        @if under_attack {
            span.badge.attack { "Under attack" }
        } @else {
            span.badge.normal { "Normal" }
        }
        @if site.file_managed {
            " " span.badge.file title="Declared in the configuration file" { "Config file" }
        }
    }
}

/// A GET form: picking an account only filters what is shown.
fn switcher(accounts: &[Account], view: Option<&str>) -> Markup {
    html! {
        form.panel.inline method="get" action="/sites" aria-label="Account" {
            div.field {
                label for="f-account-view" { "Show sites of" }
                select #f-account-view name="account" {
                    option value="" selected[view.is_none()] { "All accounts" }
                    @for account in accounts {
                        option value=(account.id) selected[view == Some(account.id.as_str())] { (account.name) }
                    }
                }
            }
            button.secondary type="submit" { "Show" }
        }
    }
}

fn new_account_form(csrf: &str, error: Option<&str>, value: &str) -> Markup {
    html! {
        section.panel aria-labelledby="new-account" {
            h2 #new-account { "New account" }
            p.hint { "Accounts are the customers sites belong to." }
            form.inline method="post" action="/accounts" {
                (csrf_field(csrf))
                div.field {
                    label for="f-account-name" { "Account name" }
                    input #f-account-name type="text" name="name" value=(value) required
                        aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "f-account-name-error")];
                    @if let Some(error) = error { p.field-error #f-account-name-error { "Error: " (error) } }
                }
                button type="submit" { "Create account" }
            }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct AccountForm {
    #[serde(default)]
    name: String,
}

pub(crate) async fn create_account(
    State(control): State<Arc<Control>>,
    Posted { signed, form }: Posted<AccountForm>,
) -> PageResult {
    match api::accounts::create_account(&control, &signed.principal, &form.name).await {
        Ok(account) => Ok(Redirect::to(&format!(
            "/sites?account={}&done=account-created",
            form_encode(&account.id)
        ))
        .into_response()),
        Err(error) if error.status.is_client_error() && error.status != StatusCode::FORBIDDEN => {
            let body = html! {
                h1 { "New account" }
                (new_account_form(signed.csrf(), Some(&error.detail.message), &form.name))
            };
            Ok(respond(
                error.status,
                page("New account", Some(&signed), Section::Sites, body),
            ))
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct NewQuery {
    account: Option<String>,
}

pub(crate) async fn new_form(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Query(query): Query<NewQuery>,
) -> PageResult {
    let accounts = visible_accounts(&control, &signed.principal).await?;
    let form = SiteForm {
        account: query
            .account
            .or_else(|| signed.session.account_view.clone())
            .unwrap_or_default(),
        ..SiteForm::from_spec(&SiteSpec::default())
    };
    Ok(new_page(
        &signed,
        &accounts,
        &form,
        &[],
        &[],
        StatusCode::OK,
    ))
}

pub(crate) async fn create(
    State(control): State<Arc<Control>>,
    Posted { signed, form }: Posted<SiteForm>,
) -> PageResult {
    let spec = form.merge_into(SiteSpec::default());
    let account =
        (signed.principal.is_operator() && !form.account.is_empty()).then(|| form.account.clone());
    match api::sites::create_site(&control, &signed.principal, account, spec.clone()).await {
        Ok(record) => {
            Ok(Redirect::to(&format!("/sites/{}?done=site-created", record.id)).into_response())
        }
        Err(error) if error.status.is_client_error() && error.status != StatusCode::FORBIDDEN => {
            let (fields, general) = place_errors(&error, &spec);
            let accounts = visible_accounts(&control, &signed.principal).await?;
            Ok(new_page(
                &signed,
                &accounts,
                &form,
                &fields,
                &general,
                error.status,
            ))
        }
        Err(error) => Err(error.into()),
    }
}

fn new_page(
    signed: &SignedIn,
    accounts: &[Account],
    form: &SiteForm,
    errors: &[FieldMessage],
    general: &[String],
    status: StatusCode,
) -> axum::response::Response {
    let options: Vec<(&str, &str)> = std::iter::once(("", "Choose an account"))
        .chain(accounts.iter().map(|a| (a.id.as_str(), a.name.as_str())))
        .collect();
    let body = html! {
        div.page-head { h1 { "Add a site" } }
        (error_summary("The site was not created", errors, general))
        form.stacked.panel method="post" action="/sites/new" novalidate {
            (csrf_field(signed.csrf()))
            @if signed.principal.is_operator() {
                (select(Field { name: "account", label: "Account", hint: Some("The customer this site belongs to.") }, &options, &form.account, errors))
            }
            (site_fields(form, errors))
            button type="submit" { "Create site" }
        }
    };
    respond(
        status,
        page("Add a site", Some(signed), Section::Sites, body),
    )
}
