//! `/sites/{site}/settings`: the settings form, saving it, and deleting
//! the site.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::html;
use rampart_config::SiteSpec;
use rampart_store::SiteRecord;
use serde::Deserialize;

use super::SignedIn;
use super::csrf::Posted;
use super::form::{SiteForm, place_errors, site_fields};
use super::layout::{
    FieldMessage, PageError, PageResult, Section, csrf_field, done_message, error_summary, notice,
    page, respond,
};
use super::site::{Tab, read_only_note, site_head};
use crate::Control;
use crate::api;

#[derive(Deserialize, Default)]
pub(crate) struct SettingsQuery {
    done: Option<String>,
}

/// The stored spec as the typed value the form merges into.
fn stored_spec(site: &SiteRecord) -> Result<SiteSpec, PageError> {
    serde_json::from_value(site.spec.clone()).map_err(|e| {
        tracing::error!("site {} has a spec the dashboard cannot read: {e}", site.id);
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "This site's stored settings cannot be read; the server log has details.",
        )
    })
}

pub(crate) async fn form(
    State(control): State<Arc<Control>>,
    signed: SignedIn,
    Path(key): Path<String>,
    Query(query): Query<SettingsQuery>,
) -> PageResult {
    let site = api::sites::visible_site(&control, &signed.principal, &key).await?;
    let form = SiteForm::from_spec(&stored_spec(&site)?);
    let status = done_message(query.done.as_deref());
    Ok(settings_page(
        &signed,
        &site,
        &form,
        &[],
        &[],
        status,
        StatusCode::OK,
    ))
}

pub(crate) async fn save(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<SiteForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let spec = form.merge_into(stored_spec(&site)?);
    let value = serde_json::to_value(&spec).map_err(|e| {
        PageError::from(crate::api::error::ApiError::internal(
            "cannot encode the site",
            &e,
        ))
    })?;
    match api::sites::update_site(&control, &signed.principal, &site, value).await {
        Ok(updated) => Ok(Redirect::to(&format!(
            "/sites/{}/settings?done=settings-saved",
            updated.id
        ))
        .into_response()),
        Err(error) if error.status.is_client_error() && error.status != StatusCode::FORBIDDEN => {
            let (fields, general) = place_errors(&error, &spec);
            Ok(settings_page(
                &signed,
                &site,
                &form,
                &fields,
                &general,
                None,
                error.status,
            ))
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Deserialize)]
pub(crate) struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

pub(crate) async fn delete(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<DeleteForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    if form.confirm.trim() != site.name {
        let errors = [FieldMessage {
            field: "confirm",
            label: "Confirmation",
            message: format!("Type the site's name, {}, to delete it.", site.name),
        }];
        let current = SiteForm::from_spec(&stored_spec(&site)?);
        return Ok(settings_page(
            &signed,
            &site,
            &current,
            &errors,
            &[],
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    api::sites::delete_site(&control, &signed.principal, &site).await?;
    Ok(Redirect::to("/sites?done=site-deleted").into_response())
}

fn settings_page(
    signed: &SignedIn,
    site: &SiteRecord,
    form: &SiteForm,
    errors: &[FieldMessage],
    general: &[String],
    status_message: Option<&str>,
    status: StatusCode,
) -> Response {
    let writable = signed.principal.can_write_site(site) && !site.file_managed;
    let (settings_errors, delete_errors): (Vec<FieldMessage>, Vec<FieldMessage>) =
        errors.iter().cloned().partition(|e| e.field != "confirm");
    let delete_error = delete_errors.first().map(|e| e.message.as_str());
    let body = html! {
        (site_head(site, Tab::Settings))
        (notice(status_message))
        (read_only_note(site, writable, "it"))
        (error_summary("The settings were not saved", &settings_errors, general))
        form.stacked method="post" action={ "/sites/" (site.id) "/settings" } novalidate {
            (csrf_field(signed.csrf()))
            fieldset.bare disabled[!writable] {
                legend.visually-hidden { "Site settings" }
                (site_fields(form, &settings_errors))
                button type="submit" { "Save settings" }
            }
        }
        @if writable {
            section.panel aria-labelledby="delete-title" {
                h2 #delete-title { "Delete this site" }
                p { "The edge stops serving its hostnames at once. This cannot be undone." }
                form.inline method="post" action={ "/sites/" (site.id) "/delete" } {
                    (csrf_field(signed.csrf()))
                    div.field {
                        label for="f-confirm" { "Type " code { (site.name) } " to confirm" }
                        input #f-confirm type="text" name="confirm" autocomplete="off" spellcheck="false"
                            aria-invalid=[delete_error.map(|_| "true")] aria-describedby=[delete_error.map(|_| "f-confirm-error")];
                        @if let Some(message) = delete_error { p.field-error #f-confirm-error { "Error: " (message) } }
                    }
                    button.danger type="submit" { "Delete site" }
                }
            }
        }
    };
    let title = format!("{} settings", site.name);
    respond(status, page(&title, Some(signed), Section::Sites, body))
}
