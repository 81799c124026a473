//! The *Bots & captcha* page's form posts. Challenge and bot settings are
//! written with the API's `modify_site_spec` (the change applied to the
//! site as stored at that moment, so a captcha key made meanwhile is not
//! lost); captcha keys with the API's own functions, so the dashboard
//! audits and authorises exactly as `/api/v1/sites/{site}/captcha_keys`.

use std::sync::Arc;

use axum::extract::{Path, State};
use http::StatusCode;
use rampart_config::SiteSpec;
use rampart_store::SiteRecord;
use serde::Deserialize;

use super::SignedIn;
use super::bots::{Forms, Revealed, refused, render, saved};
use super::bots_forms::{
    BotRuleForm, CaptchaForm, ChallengeForm, PolicyForm, add_bot_rule, remove_bot_rule,
};
use super::csrf::Posted;
use super::layout::{FieldMessage, FormProblems, PageError, PageResult};
use super::security::stored_spec;
use super::security_save::NoFields;
use crate::Control;
use crate::api;
use crate::api::captcha::{CaptchaKeyPatch, NewCaptchaKey};
use crate::api::error::ApiError;

/// A post to a site's Bots & captcha page by someone who may change the
/// site, and the answers its handlers share.
struct BotsPost<'a> {
    control: &'a Control,
    signed: &'a SignedIn,
    site: SiteRecord,
}

impl<'a> BotsPost<'a> {
    /// The site `key`, or the error page when the poster may not change it.
    async fn open(
        control: &'a Control,
        signed: &'a SignedIn,
        key: &str,
    ) -> Result<Self, PageError> {
        let site = api::sites::writable_site(control, &signed.principal, key).await?;
        Ok(Self {
            control,
            signed,
            site,
        })
    }

    /// The page again with a form's own problems next to its fields,
    /// before anything was written.
    fn show_problems(&self, mut forms: Forms, problems: Vec<FieldMessage>) -> PageResult {
        forms.problems.errors = problems;
        render(
            self.signed,
            &self.site,
            forms,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    }

    /// Writes `change` over the site's spec as stored at that moment, so a
    /// captcha key or rule written meanwhile is not lost, and returns to
    /// the page at `anchor`; a refusal shows `forms` again with the
    /// problems placed, `index` being the bot rule the form added.
    async fn write(
        &self,
        anchor: &str,
        forms: Forms,
        index: Option<usize>,
        change: impl FnOnce(&mut SiteSpec) -> Result<(), ApiError> + Send,
    ) -> PageResult {
        let written = api::sites::modify_site_spec(
            self.control,
            &self.signed.principal,
            &self.site,
            "site.update",
            |spec, _| change(spec),
        )
        .await;
        match written {
            Ok(_) => Ok(saved(&self.site, "bots-saved", anchor)),
            Err(error) => refused(self.signed, &self.site, error, forms, index),
        }
    }

    /// The page as it is now, with the key just created or given a new
    /// secret, and that secret, which no later page shows.
    async fn show_secret(&self, revealed: Revealed, status: StatusCode) -> PageResult {
        let site =
            api::sites::visible_site(self.control, &self.signed.principal, &self.site.id).await?;
        let forms = Forms {
            revealed: Some(revealed),
            ..Forms::default()
        };
        render(self.signed, &site, forms, None, status)
    }
}

pub(crate) async fn save_challenge(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<ChallengeForm>,
) -> PageResult {
    let post = BotsPost::open(&control, &signed, &key).await?;
    let forms = Forms {
        challenge: Some(form.clone()),
        problems: FormProblems::of("challenge"),
        ..Forms::default()
    };
    let change = match form.to_change() {
        Ok(change) => change,
        Err(problems) => return post.show_problems(forms, problems),
    };
    post.write("challenge-title", forms, None, |spec| {
        change.apply(spec);
        Ok(())
    })
    .await
}

pub(crate) async fn save_policy(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<PolicyForm>,
) -> PageResult {
    let post = BotsPost::open(&control, &signed, &key).await?;
    post.write("bots-title", Forms::default(), None, |spec| {
        form.apply(spec);
        Ok(())
    })
    .await
}

pub(crate) async fn add_rule(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<BotRuleForm>,
) -> PageResult {
    let post = BotsPost::open(&control, &signed, &key).await?;
    let forms = Forms {
        rule: Some(form.clone()),
        problems: FormProblems::of("rule"),
        ..Forms::default()
    };
    let rule = match form.to_spec() {
        Ok(rule) => rule,
        Err(problems) => return post.show_problems(forms, problems),
    };
    // Where the compiler's problems about the new rule will point; only a
    // rule added by someone else in the same moment could move it.
    let index = stored_spec(&post.site)?
        .bots
        .and_then(|b| b.rules)
        .map_or(0, |rules| rules.len());
    post.write("bots-title", forms, Some(index), |spec| {
        add_bot_rule(spec, rule);
        Ok(())
    })
    .await
}

pub(crate) async fn delete_rule(
    State(control): State<Arc<Control>>,
    Path((key, id)): Path<(String, String)>,
    Posted { signed, .. }: Posted<NoFields>,
) -> PageResult {
    let post = BotsPost::open(&control, &signed, &key).await?;
    post.write("bots-title", Forms::default(), None, |spec| {
        if remove_bot_rule(spec, &id) {
            Ok(())
        } else {
            Err(ApiError::not_found("bot rule", &id))
        }
    })
    .await
}

pub(crate) async fn create_key(
    State(control): State<Arc<Control>>,
    Path(key): Path<String>,
    Posted { signed, form }: Posted<CaptchaForm>,
) -> PageResult {
    let post = BotsPost::open(&control, &signed, &key).await?;
    let input = NewCaptchaKey {
        hostnames: Some(form.hostnames()),
        mode: Some(form.cap_mode.trim().to_owned()),
    };
    match api::captcha::create_key(&control, &signed.principal, &post.site.id, input).await {
        Ok(created) => {
            let revealed = Revealed {
                how: "created",
                key: created,
            };
            post.show_secret(revealed, StatusCode::CREATED).await
        }
        Err(error) => {
            let forms = Forms {
                captcha: Some(form),
                problems: FormProblems::of("captcha"),
                ..Forms::default()
            };
            refused(&signed, &post.site, error, forms, None)
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
    let post = BotsPost::open(&control, &signed, &key).await?;
    let rotated =
        api::captcha::rotate_secret(&control, &signed.principal, &post.site.id, &sitekey).await?;
    let revealed = Revealed {
        how: "rotated",
        key: rotated,
    };
    post.show_secret(revealed, StatusCode::OK).await
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
