//! The page shell every dashboard page shares (skip link, header, nav,
//! sign-out), error pages, and the small form pieces pages reuse.

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::SignedIn;
use super::assets;
use crate::api::error::ApiError;

/// Which top-level section a page belongs to, for `aria-current`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Sites,
    Lists,
    Tokens,
    OperatorRules,
    Desk,
    Nodes,
    None,
}

/// A whole page: `title` goes in `<title>` after the section, `body` in
/// `<main>`.
pub(crate) fn page(
    title: &str,
    signed: Option<&SignedIn>,
    section: Section,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light";
                title { (title) " · Rampart" }
                link rel="stylesheet" href=(assets::css_path());
                // No favicon request: the admin listener has none to serve.
                link rel="icon" href="data:,";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    div.bar {
                        a.brand href="/sites" { (PreEscaped(LOGO)) span { "Rampart" } }
                        @if let Some(signed) = signed {
                            nav aria-label="Main" {
                                ul {
                                    li { a href="/sites" aria-current=[current(section, Section::Sites)] { "Sites" } }
                                    li { a href="/lists" aria-current=[current(section, Section::Lists)] { "Lists" } }
                                    li { a href="/tokens" aria-current=[current(section, Section::Tokens)] { "API tokens" } }
                                    // Only operators may read the operator rules; others
                                    // would get a 404, so they are not offered the link.
                                    @if signed.principal.is_operator() {
                                        li { a href="/operator/rules" aria-current=[current(section, Section::OperatorRules)] { "Operator rules" } }
                                        // Agents and operator admins: the API's desk view.
                                        li { a href="/desk" aria-current=[current(section, Section::Desk)] { "Trust & safety" } }
                                        li { a href="/nodes" aria-current=[current(section, Section::Nodes)] { "Nodes" } }
                                    }
                                }
                            }
                            div.who {
                                span.user {
                                    span.visually-hidden { "Signed in as " }
                                    (signed.principal.user.email)
                                    " "
                                    span.role { (role_label(&signed.principal.role)) }
                                }
                                form method="post" action="/logout" {
                                    (csrf_field(signed.csrf()))
                                    button.link type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    }
}

fn current(section: Section, this: Section) -> Option<&'static str> {
    (section == this).then_some("page")
}

pub(crate) fn role_label(role: &rampart_store::Role) -> &'static str {
    use rampart_store::Role;
    match role {
        Role::OperatorAdmin => "operator admin",
        Role::TrustSafety => "trust & safety",
        Role::AccountOwner => "account owner",
        Role::AccountMember => "account member",
    }
}

/// A shield, drawn inline so the page loads nothing but its stylesheet.
const LOGO: &str = r##"<svg class="logo" viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false"><path d="M12 2 4 5v6c0 5 3.4 9.4 8 11 4.6-1.6 8-6 8-11V5z" fill="currentColor"/><path d="m8.5 12 2.5 2.5 4.5-5" fill="none" stroke="#fff" stroke-width="2"/></svg>"##;

pub(crate) fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(super::csrf::FIELD) value=(token); }
}

/// A status line announced by screen readers when the page loads.
pub(crate) fn notice(message: Option<&str>) -> Markup {
    html! {
        div.notice role="status" {
            @if let Some(message) = message { p { (message) } }
        }
    }
}

/// The messages a redirect after a successful POST may ask a page to show.
/// Fixed texts keyed by a short code, so a link cannot put words on a page.
pub(crate) fn done_message(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "site-created" => "The site was created. The edge serves it within a second.",
        "settings-saved" => "Settings saved. The edge applies them within a second.",
        "under-attack-on" => "Under-attack mode is on.",
        "under-attack-off" => "Under-attack mode is off.",
        "site-deleted" => "The site was deleted.",
        "account-created" => "The account was created.",
        "token-revoked" => "The token was revoked.",
        "security-saved" => "Saved. The edge applies it within a second.",
        "operator-rules-saved" => {
            "Saved. The edge applies the operator rules to every site within a second."
        }
        "list-created" => "The list was created.",
        "list-imported" => "The list's entries were replaced.",
        "list-deleted" => "The list was deleted.",
        "bots-saved" => "Saved. The edge applies it within a second.",
        "captcha-key-suspended" => {
            "The captcha key is suspended: it verifies nothing until resumed."
        }
        "captcha-key-resumed" => "The captcha key is active again.",
        "captcha-key-deleted" => "The captcha key was deleted.",
        "case-assigned" => "The case is assigned to you and under review.",
        "decision-taken" => {
            "The decision is recorded. The edge enforces it within a second; the reporter and the owner are notified."
        }
        "decision-lifted" => "The decision is lifted. The edge stops enforcing it within a second.",
        "note-added" => "The note was added.",
        "case-escalated" => "The case is escalated: urgent, with the one-hour SLA.",
        "case-merged" => "The cases were merged; this case now holds the reports of both.",
        "appeal-answered" => "The appeal is answered; the owner is shown the answer.",
        "appeal-filed" => {
            "Your appeal is filed. An agent other than the one who decided will answer it."
        }
        _ => return None,
    })
}

/// An error as a page of its own; the dashboard's `?`.
#[derive(Debug)]
pub(crate) struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    pub fn new(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            message: message.to_owned(),
        }
    }
}

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        let mut message = error.detail.message;
        if let Some(first) = message.get(..1) {
            message = format!("{}{}", first.to_uppercase(), message.get(1..).unwrap_or(""));
        }
        if !message.ends_with('.') {
            message.push('.');
        }
        Self {
            status: error.status,
            message,
        }
    }
}

impl From<rampart_store::StoreError> for PageError {
    fn from(error: rampart_store::StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::CONFLICT => "Not possible",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            StatusCode::SERVICE_UNAVAILABLE => "Store unavailable",
            s if s.is_client_error() => "Cannot do that",
            _ => "Something went wrong",
        };
        let body = html! {
            div.panel.narrow {
                h1 { (title) }
                p role="alert" { (self.message) }
                p { a href="/sites" { "Back to the sites" } }
            }
        };
        (
            self.status,
            Html(page(title, None, Section::None, body).into_string()),
        )
            .into_response()
    }
}

pub(crate) type PageResult = Result<Response, PageError>;

/// A rendered page with a status.
pub(crate) fn respond(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// One problem shown next to a form field.
#[derive(Debug, Clone)]
pub(crate) struct FieldMessage {
    /// The form field's name (also its id, prefixed `f-`).
    pub field: &'static str,
    /// Its label, for the summary at the top of the form.
    pub label: &'static str,
    pub message: String,
}

/// The error summary at the top of a form: every problem, each a link to
/// its field, focusable so keyboard users land on it.
pub(crate) fn error_summary(title: &str, errors: &[FieldMessage], general: &[String]) -> Markup {
    html! {
        @if !errors.is_empty() || !general.is_empty() {
            div.error-summary role="alert" aria-labelledby="error-summary-title" tabindex="-1" {
                h2 id="error-summary-title" { (title) }
                ul {
                    @for error in errors {
                        li { a href={ "#f-" (error.field) } { (error.label) ": " (error.message) } }
                    }
                    @for message in general {
                        li { (message) }
                    }
                }
            }
        }
    }
}

/// What a page with several forms shows again after a refused post: the
/// problems, beside the one form that was posted; the others stay clean.
#[derive(Default)]
pub(crate) struct FormProblems {
    /// Which form was posted ("rule", "challenge", …).
    pub form: Option<&'static str>,
    pub errors: Vec<FieldMessage>,
    pub general: Vec<String>,
}

impl FormProblems {
    /// None yet, for a post of `form`.
    pub fn of(form: &'static str) -> Self {
        Self {
            form: Some(form),
            ..Self::default()
        }
    }

    /// The problems to show beside `form`: none unless it was posted.
    pub fn beside(&self, form: &str) -> (&[FieldMessage], &[String]) {
        if self.form == Some(form) {
            (&self.errors, &self.general)
        } else {
            (&[], &[])
        }
    }
}

/// Whether the posted form can fix a refused write, so the page is shown
/// again with the problems: a value was wrong or clashes with what is
/// stored. Not being allowed, a thing gone meanwhile or a server fault is
/// not fixed by editing the form; that is the error page's to say.
pub(crate) fn form_can_fix(error: &ApiError) -> bool {
    error.status.is_client_error()
        && error.status != StatusCode::FORBIDDEN
        && error.status != StatusCode::NOT_FOUND
}

/// A list shown as a table whose rows become cards on narrow screens or,
/// when there is nothing to list, one line saying so. Anchors and tests
/// find the table as `#{id}` and the line as `#{id}-empty`.
pub(crate) struct CardsTable<'a> {
    pub id: &'a str,
    /// For screen readers; sighted users have the section's heading.
    pub caption: &'a str,
    /// The line shown instead of an empty table.
    pub empty: &'a str,
    /// Whether rows end with a cell of buttons; its heading would only
    /// repeat what the buttons say, so only screen readers get it.
    pub actions: bool,
}

impl CardsTable<'_> {
    /// The table with `headings` (its `th` cells, before the actions one)
    /// and `rows` (its `tr`s), or the empty line when `is_empty`.
    pub fn render(&self, is_empty: bool, headings: Markup, rows: Markup) -> Markup {
        html! {
            @if is_empty {
                p.empty id={ (self.id) "-empty" } { (self.empty) }
            } @else {
                div.table-wrap {
                    table.cards id=(self.id) {
                        caption.visually-hidden { (self.caption) }
                        thead { tr {
                            (headings)
                            @if self.actions { th scope="col" { span.visually-hidden { "Actions" } } }
                        } }
                        tbody { (rows) }
                    }
                }
            }
        }
    }
}

/// The `aria-describedby` and message markup of a field's errors.
pub(crate) fn field_errors<'a>(
    errors: &'a [FieldMessage],
    field: &str,
) -> (Option<String>, Markup) {
    let mine: Vec<&'a FieldMessage> = errors.iter().filter(|e| e.field == field).collect();
    if mine.is_empty() {
        return (None, html! {});
    }
    let id = format!("f-{field}-error");
    let markup = html! {
        p.field-error id=(id) {
            @for error in &mine { span { "Error: " (error.message) } br; }
        }
    };
    (Some(id), markup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let markup = page("<script>", None, Section::None, html! { p { "<b>&" } });
        let text = markup.into_string();
        assert!(text.contains("&lt;script&gt; · Rampart"));
        assert!(text.contains("<p>&lt;b&gt;&amp;</p>"));
    }

    #[test]
    fn only_known_codes_make_messages() {
        assert!(done_message(Some("site-created")).is_some());
        assert_eq!(done_message(Some("<script>")), None);
        assert_eq!(done_message(None), None);
    }
}
