//! The *Bots & captcha* page's form posts. Challenge and bot settings are
//! written with the API's `modify_site_spec` (the change applied to the
//! site as stored at that moment, so a captcha key made meanwhile is not
//! lost); captcha keys with the API's own functions, so the dashboard
//! audits and authorises exactly as `/api/v1/sites/{site}/captcha_keys`.

use std::sync::Arc;

use axum::extract::{Path, State};
use http::StatusCode;
use serde::Deserialize;

use super::bots::{Forms, Revealed, refused, render, saved};
use super::bots_forms::{
    BotRuleForm, CaptchaForm, ChallengeForm, PolicyForm, add_bot_rule, remove_bot_rule,
};
use super::csrf::Posted;
use super::layout::PageResult;
use super::security::stored_spec;
use super::security_save::NoFields;
use crate::Control;
use crate::api;
use crate::api::captcha::{CaptchaKeyPatch, NewCaptchaKey};
use crate::api::error::ApiError;

pub(crate) async fn save_challenge(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<ChallengeForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let forms = Forms {
        challenge: Some(form.clone()),
        failed: Some("challenge"),
        ..Forms::default()
    };
    let change = match form.to_change() {
        Ok(change) => change,
        Err(problems) => {
            let forms = Forms {
                errors: problems,
                ..forms
            };
            return render(
                &signed,
                &site,
                forms,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let written = api::sites::modify_site_spec(
        &control,
        &signed.principal,
        &site,
        "site.update",
        |spec, _| {
            change.apply(spec);
            Ok(())
        },
    )
    .await;
    match written {
        Ok(_) => Ok(saved(&site, "bots-saved", "challenge-title")),
        Err(error) => refused(&signed, &site, error, forms, None),
    }
}

pub(crate) async fn save_policy(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<PolicyForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let written = api::sites::modify_site_spec(
        &control,
        &signed.principal,
        &site,
        "site.update",
        |spec, _| {
            form.apply(spec);
            Ok(())
        },
    )
    .await;
    match written {
        Ok(_) => Ok(saved(&site, "bots-saved", "bots-title")),
        Err(error) => refused(&signed, &site, error, Forms::default(), None),
    }
}

pub(crate) async fn add_rule(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<BotRuleForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let forms = Forms {
        rule: Some(form.clone()),
        failed: Some("rule"),
        ..Forms::default()
    };
    let rule = match form.to_spec() {
        Ok(rule) => rule,
        Err(problems) => {
            let forms = Forms {
                errors: problems,
                ..forms
            };
            return render(
                &signed,
                &site,
                forms,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    // Where the compiler's problems about the new rule will point; only a
    // rule added by someone else in the same moment could move it.
    let index = stored_spec(&site)?
        .bots
        .and_then(|b| b.rules)
        .map_or(0, |rules| rules.len());
    let written = api::sites::modify_site_spec(
        &control,
        &signed.principal,
        &site,
        "site.update",
        |spec, _| {
            add_bot_rule(spec, rule);
            Ok(())
        },
    )
    .await;
    match written {
        Ok(_) => Ok(saved(&site, "bots-saved", "bots-title")),
        Err(error) => refused(&signed, &site, error, forms, Some(index)),
    }
}

pub(crate) async fn delete_rule(
    State(control): State<Arc<Control>>,
    Path((key, id)): Path<(String, String)>,
    Posted { signed, .. }: Posted<NoFields>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let written = api::sites::modify_site_spec(
        &control,
        &signed.principal,
        &site,
        "site.update",
        |spec, _| {
            if remove_bot_rule(spec, &id) {
                Ok(())
            } else {
                Err(ApiError::not_found("bot rule", &id))
            }
        },
    )
    .await;
    match written {
        Ok(_) => Ok(saved(&site, "bots-saved", "bots-title")),
        Err(error) => refused(&signed, &site, error, Forms::default(), None),
    }
}

pub(crate) async fn create_key(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<CaptchaForm>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let input = NewCaptchaKey {
        hostnames: Some(form.hostnames()),
        mode: Some(form.cap_mode.trim().to_owned()),
    };
    match api::captcha::create_key(&control, &signed.principal, &site.id, input).await {
        Ok(created) => {
            // The page as it is now, with the key and its secret.
            let site = api::sites::visible_site(&control, &signed.principal, &site.id).await?;
            let forms = Forms {
                revealed: Some(Revealed {
                    how: "created",
                    key: created,
                }),
                ..Forms::default()
            };
            render(&signed, &site, forms, None, StatusCode::CREATED)
        }
        Err(error) => {
            let forms = Forms {
                captcha: Some(form),
                failed: Some("captcha"),
                ..Forms::default()
            };
            refused(&signed, &site, error, forms, None)
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct SuspendForm {
    #[serde(default)]
    on: String,
}

pub(crate) async fn suspend_key(
    State(control): State<Arc<Control>>,
    Path((key, sitekey)): Path<(String, String)>,
    Posted { signed, form }: Posted<SuspendForm>,
) -> PageResult {
    let suspend = form.on == "true";
    let patch = CaptchaKeyPatch {
        suspended: Some(suspend),
        ..CaptchaKeyPatch::default()
    };
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    api::captcha::update_key(&control, &signed.principal, &site.id, &sitekey, patch).await?;
    let done = if suspend {
        "captcha-key-suspended"
    } else {
        "captcha-key-resumed"
    };
    Ok(saved(&site, done, "captcha-title"))
}

pub(crate) async fn rotate_key(
    State(control): State<Arc<Control>>,
    Path((key, sitekey)): Path<(String, String)>,
    Posted { signed, .. }: Posted<NoFields>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    let rotated =
        api::captcha::rotate_secret(&control, &signed.principal, &site.id, &sitekey).await?;
    let site = api::sites::visible_site(&control, &signed.principal, &site.id).await?;
    let forms = Forms {
        revealed: Some(Revealed {
            how: "rotated",
            key: rotated,
        }),
        ..Forms::default()
    };
    render(&signed, &site, forms, None, StatusCode::OK)
}

pub(crate) async fn delete_key(
    State(control): State<Arc<Control>>,
    Path((key, sitekey)): Path<(String, String)>,
    Posted { signed, .. }: Posted<NoFields>,
) -> PageResult {
    let site = api::sites::writable_site(&control, &signed.principal, &key).await?;
    api::captcha::delete_key(&control, &signed.principal, &site.id, &sitekey).await?;
    Ok(saved(&site, "captcha-key-deleted", "captcha-title"))
}
