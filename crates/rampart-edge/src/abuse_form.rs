//! The public abuse report form at `/.rampart/abuse` on every protected
//! site, pre-filled with that site: plain HTML that works without
//! JavaScript. The form is shown to a client holding a clearance (at low
//! threat, which a browser without JavaScript passes by the timed
//! fallback) and carries Rampart's own captcha widget: a submission with a
//! captcha response is accepted only if that response redeems; one without
//! (no JavaScript) only with a clearance.
//!
//! The edge does not keep reports: it hands them to an [`AbuseIntake`] that
//! the control plane installs (`EdgeState::set_abuse_intake`).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use http::{HeaderValue, Response, StatusCode};
use serde::Deserialize;

use crate::body::EdgeBody;
use crate::pages::{escape_html, html_response as html};

pub const FORM_PATH: &str = "/.rampart/abuse";

/// A report as the form collects it (the API's fields).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Submission {
    #[serde(default)]
    pub category: String,
    /// One URL per line.
    #[serde(default)]
    pub urls: String,
    #[serde(default)]
    pub explanation: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    /// "on" when ticked.
    #[serde(default)]
    pub good_faith: Option<String>,
    /// "named", "anonymous" or "none".
    #[serde(default)]
    pub share_with_owner: String,
    /// "named" or "anonymous".
    #[serde(default)]
    pub share_with_host: String,
    /// The captcha widget's response token (absent without JavaScript).
    #[serde(default, rename = "rampart-captcha-response")]
    pub captcha: String,
}

/// What the intake answers.
pub enum Receipt {
    Accepted {
        reference: String,
        status_url: String,
    },
    /// Problems by field name ("urls", "email", …).
    Refused(Vec<(String, String)>),
    /// Too many reports from this client: try again later.
    Limited {
        retry_after_secs: u64,
    },
    Unavailable,
}

pub type IntakeFuture = Pin<Box<dyn Future<Output = Receipt> + Send>>;

/// The control plane's side: files a report from the form.
pub trait AbuseIntake: Send + Sync {
    fn submit(&self, submission: Submission, client_ip: IpAddr) -> IntakeFuture;
}

/// Largest form body read: 250 URLs and a 5,000-character explanation.
const MAX_FORM_BODY: usize = 128 * 1024;

/// `GET` and `POST /.rampart/abuse` on `site`.
pub async fn handle(
    request: http::Request<hyper::body::Incoming>,
    site: &crate::snapshot::Site,
    state: &crate::state::EdgeState,
    client_ip: IpAddr,
    tls: bool,
    page: &crate::security::respond::PageCtx<'_>,
) -> Response<EdgeBody> {
    let bots = &site.security.bots;
    let now = crate::bots::unix_now();
    let cleared = bots.has_clearance(request.headers(), client_ip, now)
        || bots.has_nojs_clearance(request.headers(), client_ip, now);
    let method = request.method().clone();
    let challenge = || {
        // Rampart's own check; low threat, so a browser without
        // JavaScript passes by the timed fallback.
        crate::bots::page::respond(
            bots,
            &crate::bots::page::Challenge {
                level: rampart_config::ThreatLevel::Low,
                reason: "reports are accepted from browsers that pass a short check",
                rule: None,
                interactive: false,
            },
            &method,
            FORM_PATH,
            client_ip,
            tls,
            page,
            now,
        )
    };
    if method != http::Method::POST {
        return if cleared {
            form_page(page.host, &Submission::default(), &[])
        } else {
            challenge()
        };
    }
    let Some((_, body)) = crate::bots::routes::read_body_up_to(request, MAX_FORM_BODY).await else {
        return form_page(
            page.host,
            &Submission::default(),
            &[(
                "urls".into(),
                "The report did not arrive in one piece; send it again.".into(),
            )],
        );
    };
    let Some(submission) = parse(&body) else {
        return form_page(
            page.host,
            &Submission::default(),
            &[(
                "urls".into(),
                "The form could not be read; send it again.".into(),
            )],
        );
    };
    if !submission.captcha.trim().is_empty() {
        if state.redeem_abuse_captcha(&submission.captcha).is_err() {
            return form_page(
                page.host,
                &submission,
                &[(
                    "captcha".into(),
                    "The check that you are a person expired or was already used; \
                     wait for it to finish again, then send the report."
                        .into(),
                )],
            );
        }
    } else if !cleared {
        return challenge();
    }
    let Some(intake) = state.abuse_intake() else {
        return unavailable();
    };
    let receipt = intake.submit(submission.clone(), client_ip).await;
    receipt_page(page.host, &receipt, &submission)
}

pub fn parse(body: &[u8]) -> Option<Submission> {
    serde_urlencoded::from_bytes(body).ok()
}

/// The form, with what was entered and what was wrong with it.
pub fn form_page(
    host: &str,
    entered: &Submission,
    problems: &[(String, String)],
) -> Response<EdgeBody> {
    let e = |s: &str| escape_html(s);
    let problem = |field: &str| {
        problems
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| format!("<p class=\"err\" id=\"{field}-err\">{}</p>", e(m)))
            .unwrap_or_default()
    };
    let described = |field: &str| {
        if problems.iter().any(|(f, _)| f == field) {
            format!(" aria-invalid=\"true\" aria-describedby=\"{field}-err\"")
        } else {
            String::new()
        }
    };
    let urls = if entered.urls.is_empty() {
        format!("https://{host}/")
    } else {
        entered.urls.clone()
    };
    let mut options = String::new();
    for rampart_config::AbuseCategory { code, label, .. } in &rampart_config::ABUSE_CATEGORIES {
        let selected = if entered.category == *code {
            " selected"
        } else {
            ""
        };
        options.push_str(&format!(
            "<option value=\"{code}\"{selected}>{label}</option>"
        ));
    }
    let choice = |name: &str, value: &str, label: &str, current: &str, default: bool| {
        let checked = if current == value || (current.is_empty() && default) {
            " checked"
        } else {
            ""
        };
        format!(
            "<label><input type=\"radio\" name=\"{name}\" value=\"{value}\"{checked}> {label}</label>"
        )
    };
    let summary = if problems.is_empty() {
        String::new()
    } else {
        let items: String = problems
            .iter()
            .map(|(_, m)| format!("<li>{}</li>", e(m)))
            .collect();
        format!(
            "<div role=\"alert\" class=\"summary\"><p>The report was not sent:</p><ul>{items}</ul></div>"
        )
    };
    let body = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Report abuse of {host}</title>
<style>body{{font:100%/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f;background:#fff}}@media (prefers-color-scheme:dark){{body{{color:#e6e6ea;background:#131316}}input,select,textarea{{background:#1f1f24;color:#e6e6ea}}}}label{{display:block;margin:.25rem 0}}fieldset{{border:1px solid #767680;margin:1rem 0;padding:.5rem 1rem}}textarea,input[type=text],input[type=email],select{{width:100%;font:inherit;padding:.4rem;border:1px solid #767680}}.err{{color:#b00020;font-weight:600}}@media (prefers-color-scheme:dark){{.err{{color:#ff8a80}}}}.summary{{border:2px solid #b00020;padding:.5rem 1rem}}button{{font:inherit;font-weight:600;padding:.6rem 1.4rem}}:focus-visible{{outline:3px solid #0b57d0;outline-offset:2px}}</style>
</head>
<body>
<main>
<h1>Report abuse of {host}</h1>
<p>Use this form to tell the security provider of <strong>{host}</strong> that the site is used for phishing, malware, threats against people or other abuse. Urgent reports (threats to life, child sexual abuse material) are reviewed within an hour.</p>
{summary}
<form method="post" action="{FORM_PATH}">
<label for="category">What is happening</label>
<select id="category" name="category"{cat_aria}>{options}</select>
{cat_err}
<label for="urls">Addresses on this site (one per line, up to 250)</label>
<textarea id="urls" name="urls" rows="3"{urls_aria}>{urls}</textarea>
{urls_err}
<label for="explanation">What you saw (up to 5,000 characters)</label>
<textarea id="explanation" name="explanation" rows="6" maxlength="5000"{expl_aria}>{explanation}</textarea>
{expl_err}
<fieldset><legend>About you (optional for child sexual abuse material)</legend>
<label for="name">Name</label><input type="text" id="name" name="name" value="{name}" autocomplete="name">
<label for="email">Email</label><input type="email" id="email" name="email" value="{email}" autocomplete="email"{email_aria}>
{email_err}
</fieldset>
<fieldset><legend>Share my name with the site's owner</legend>
{own_named}{own_anon}{own_none}
</fieldset>
<fieldset><legend>Share my name with the site's hosting provider</legend>
{host_named}{host_anon}
</fieldset>
<label><input type="checkbox" name="good_faith"{good_faith}{gf_aria}> I believe in good faith that this report is accurate and complete.</label>
{gf_err}
<div class="rampart-captcha" data-sitekey="{sitekey}" data-mode="non-interactive"></div>
{captcha_err}
<p><button type="submit">Send report</button></p>
</form>
<p>Do not attach images of child sexual abuse material: give the addresses only.</p>
</main>
<script src="/.rampart/captcha/v1/api.js" async defer></script>
</body>
</html>
"#,
        host = e(host),
        sitekey = rampart_challenge::captcha::ABUSE_FORM_SITEKEY,
        captcha_err = problem("captcha"),
        cat_aria = described("category"),
        cat_err = problem("category"),
        urls = e(&urls),
        urls_aria = described("urls"),
        urls_err = problem("urls"),
        explanation = e(&entered.explanation),
        expl_aria = described("explanation"),
        expl_err = problem("explanation"),
        name = e(&entered.name),
        email = e(&entered.email),
        email_aria = described("email"),
        email_err = problem("email"),
        own_named = choice(
            "share_with_owner",
            "named",
            "Yes, with my name",
            &entered.share_with_owner,
            false
        ),
        own_anon = choice(
            "share_with_owner",
            "anonymous",
            "Only anonymously",
            &entered.share_with_owner,
            true
        ),
        own_none = choice(
            "share_with_owner",
            "none",
            "Not at all",
            &entered.share_with_owner,
            false
        ),
        host_named = choice(
            "share_with_host",
            "named",
            "Yes, with my name",
            &entered.share_with_host,
            false
        ),
        host_anon = choice(
            "share_with_host",
            "anonymous",
            "Only anonymously",
            &entered.share_with_host,
            true
        ),
        good_faith = if entered.good_faith.is_some() {
            " checked"
        } else {
            ""
        },
        gf_aria = described("good_faith"),
        gf_err = problem("good_faith"),
    );
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    html(status, body)
}

pub fn receipt_page(host: &str, receipt: &Receipt, entered: &Submission) -> Response<EdgeBody> {
    match receipt {
        Receipt::Accepted {
            reference,
            status_url,
        } => html(
            StatusCode::CREATED,
            format!(
                "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Report received</title></head><body><main><h1>Report received</h1><p role=\"status\">Thank you. Your report about {host} was received with the reference <strong>{reference}</strong>.</p><p>You can follow it, without an account, at <a href=\"{url}\">{url}</a>.</p></main></body></html>\n",
                host = escape_html(host),
                reference = escape_html(reference),
                url = escape_html(status_url),
            ),
        ),
        Receipt::Refused(problems) => form_page(host, entered, problems),
        Receipt::Limited { retry_after_secs } => {
            let mut r = html(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Too many reports</title></head><body><main><h1>Too many reports</h1><p>Too many reports came from your address. Try again in {retry_after_secs} seconds.</p></main></body></html>\n"
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                r.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            r
        }
        Receipt::Unavailable => unavailable(),
    }
}

pub fn unavailable() -> Response<EdgeBody> {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Reports unavailable</title></head><body><main><h1>Reports cannot be accepted right now</h1><p>This node cannot file reports at the moment. Try again in a few minutes.</p></main></body></html>\n".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Response<EdgeBody>) -> String {
        match r.body() {
            EdgeBody::Full(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        }
    }

    #[test]
    fn the_form_is_prefilled_and_escapes_what_was_entered() {
        let entered = Submission {
            explanation: "<script>x</script>".into(),
            category: "malware".into(),
            ..Submission::default()
        };
        let page = form_page(
            "shop.test",
            &entered,
            &[("urls".into(), "not on this site".into())],
        );
        assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let t = text(&page);
        assert!(t.contains("https://shop.test/"));
        assert!(t.contains("&lt;script&gt;"));
        assert!(!t.contains("<script>x"));
        assert!(t.contains("<option value=\"malware\" selected>"));
        assert!(t.contains("aria-describedby=\"urls-err\""));
        assert!(t.contains("role=\"alert\""));
    }

    #[test]
    fn submissions_parse_from_the_form() {
        let s = parse(b"category=phishing&urls=https%3A%2F%2Fa.test%2Fx%0Ahttps%3A%2F%2Fa.test%2Fy&good_faith=on&share_with_owner=none")
            .unwrap_or_else(|| panic!("parses"));
        assert_eq!(s.category, "phishing");
        assert_eq!(s.urls.lines().count(), 2);
        assert!(s.good_faith.is_some());
        let unticked = parse(b"category=spam&extra=1").unwrap_or_else(|| panic!("parses"));
        assert!(unticked.good_faith.is_none() && unticked.urls.is_empty());
    }
}
