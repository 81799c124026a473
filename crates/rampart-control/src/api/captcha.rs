//! `/api/v1/sites/{site}/captcha_keys`: a site's captcha sitekeys.
//!
//! The secret of a key is made here from the OS's random source and shown
//! once, in the answer that creates it (or rotates it); the site's spec
//! keeps only its SHA-256 (`captcha_keys[].secret_sha256`), so neither the
//! API, the audit log nor the store can show it again. Every change is a
//! change of the site's spec through [`modify_site_spec`]: one transaction
//! with its audit row (`site.captcha_key.*`) and a revision bump, applied
//! to the spec as stored at that moment so concurrent writes keep theirs.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use rampart_config::{CaptchaKeySpec, CaptchaMode, SiteSpec, hex_string};
use rampart_store::SiteRecord;
use rand::TryRngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::auth::Principal;
use super::body::ApiJson;
use super::error::{ApiError, ApiResult};
use super::sites::{modify_site_spec, visible_site, writable_site};
use crate::Control;

/// A captcha key as listed: never its secret, nor the secret's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CaptchaKeyView {
    /// Public: the widget's `data-sitekey`.
    pub sitekey: String,
    /// Hosts the widget may run on; empty: any host of the site.
    pub hostnames: Vec<String>,
    /// "managed", "non-interactive" or "invisible".
    pub mode: String,
    /// A suspended key fails every verification.
    pub suspended: bool,
}

/// A key with its secret: only in the answer that made the secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaptchaKeyWithSecret {
    pub sitekey: String,
    /// For `siteverify` on the site's server. Shown only this once.
    pub secret: String,
    pub hostnames: Vec<String>,
    pub mode: String,
    pub suspended: bool,
}

/// `POST /api/v1/sites/{site}/captcha_keys`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCaptchaKey {
    /// Each one of the site's hosts, or a name under one of its wildcard
    /// hosts; empty or absent: any host of the site.
    #[serde(default)]
    pub hostnames: Option<Vec<String>>,
    /// "managed" (default), "non-interactive" or "invisible".
    #[serde(default)]
    pub mode: Option<String>,
}

/// `PATCH /api/v1/sites/{site}/captcha_keys/{sitekey}`: absent fields stay.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptchaKeyPatch {
    #[serde(default)]
    pub hostnames: Option<Vec<String>>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub suspended: Option<bool>,
}

impl CaptchaKeyView {
    pub(crate) fn from_spec(key: &CaptchaKeySpec) -> Self {
        Self {
            sitekey: key.sitekey.clone(),
            hostnames: key.hostnames.clone(),
            mode: key
                .mode
                .clone()
                .unwrap_or_else(|| CaptchaMode::default().as_str().to_owned()),
            suspended: key.suspended,
        }
    }

    fn with_secret(self, secret: String) -> CaptchaKeyWithSecret {
        CaptchaKeyWithSecret {
            sitekey: self.sitekey,
            secret,
            hostnames: self.hostnames,
            mode: self.mode,
            suspended: self.suspended,
        }
    }
}

/// URL-safe characters; 64 of them, so a byte's low six bits pick one
/// without bias.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `prefix` and `len` random URL-safe characters (6 bits each) from the
/// operating system's random source.
fn random_word(prefix: &str, len: usize) -> ApiResult<String> {
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| ApiError::internal("the OS random source failed", &e))?;
    let mut out = String::with_capacity(prefix.len() + len);
    out.push_str(prefix);
    out.extend(
        bytes
            .iter()
            .filter_map(|b| ALPHABET.get(usize::from(b & 63)).map(|c| char::from(*c))),
    );
    Ok(out)
}

/// A new sitekey: `rk_` and 22 characters (132 bits).
pub(crate) fn new_sitekey() -> ApiResult<String> {
    random_word("rk_", 22)
}

/// A new secret: `rs_` and 43 characters (258 bits), and its SHA-256 as
/// the spec keeps it.
pub(crate) fn new_secret() -> ApiResult<(String, String)> {
    let secret = random_word("rs_", 43)?;
    let hash = hex_string(&Sha256::digest(secret.as_bytes()));
    Ok((secret, hash))
}

/// The mode as the spec writes it; 422 at `mode` for an unknown one.
fn parse_mode(mode: &str) -> ApiResult<String> {
    CaptchaMode::parse(mode)
        .map(|m| m.as_str().to_owned())
        .map_err(|message| ApiError::invalid("mode", "invalid", format!("mode: {message}")))
}

/// Whether the site's host `pattern` (`shop.test`, `*.shop.test`) covers
/// the exact name `host` the way the edge routes it: a wildcard needs at
/// least one label before its suffix.
fn covers(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        None => pattern == host,
    }
}

/// The hostnames normalised (lowercase, no trailing dot, no repeats), each
/// checked against the site's hosts. A problem is 422 at `hostnames[N]`.
pub(crate) fn check_hostnames(written: &[String], site_hosts: &[String]) -> ApiResult<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(written.len());
    for (i, raw) in written.iter().enumerate() {
        let field = format!("hostnames[{i}]");
        let host = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let well_formed = !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
        if !well_formed {
            return Err(ApiError::invalid(
                &field,
                "invalid",
                format!(
                    "{field}: {raw:?} is not a host name (the widget compares exact names; no wildcards)"
                ),
            ));
        }
        if !site_hosts.iter().any(|pattern| covers(pattern, &host)) {
            return Err(ApiError::invalid(
                &field,
                "not_a_site_host",
                format!(
                    "{field}: {host:?} is not a host of this site ({})",
                    site_hosts.join(", ")
                ),
            ));
        }
        if !out.contains(&host) {
            out.push(host);
        }
    }
    Ok(out)
}

fn keys_of(record: &SiteRecord) -> ApiResult<Vec<CaptchaKeySpec>> {
    let spec: SiteSpec = serde_json::from_value(record.spec.clone())
        .map_err(|e| ApiError::internal("the stored site cannot be read", &e))?;
    Ok(spec.captcha_keys.unwrap_or_default())
}

/// The site's keys, for the API and the dashboard.
pub(crate) async fn list_keys(
    control: &Control,
    principal: &Principal,
    site: &str,
) -> ApiResult<(SiteRecord, Vec<CaptchaKeyView>)> {
    let record = visible_site(control, principal, site).await?;
    let keys = keys_of(&record)?
        .iter()
        .map(CaptchaKeyView::from_spec)
        .collect();
    Ok((record, keys))
}

/// Runs `change` on the site's stored keys inside the write's transaction.
async fn modify_keys<T: Send>(
    control: &Control,
    principal: &Principal,
    site: &str,
    action: &str,
    change: impl FnOnce(&mut Vec<CaptchaKeySpec>, &SiteRecord) -> ApiResult<T> + Send,
) -> ApiResult<(SiteRecord, T)> {
    let record = writable_site(control, principal, site).await?;
    modify_site_spec(control, principal, &record, action, |spec, current| {
        let mut keys = spec.captcha_keys.take().unwrap_or_default();
        let value = change(&mut keys, current)?;
        spec.captcha_keys = (!keys.is_empty()).then_some(keys);
        Ok(value)
    })
    .await
}

fn find<'a>(keys: &'a mut [CaptchaKeySpec], sitekey: &str) -> ApiResult<&'a mut CaptchaKeySpec> {
    keys.iter_mut()
        .find(|k| k.sitekey == sitekey)
        .ok_or_else(|| ApiError::not_found("captcha key", sitekey))
}

/// Creates a key; the answer holds its secret, which nothing shows again.
pub(crate) async fn create_key(
    control: &Control,
    principal: &Principal,
    site: &str,
    input: NewCaptchaKey,
) -> ApiResult<CaptchaKeyWithSecret> {
    let mode = parse_mode(input.mode.as_deref().unwrap_or("managed"))?;
    let sitekey = new_sitekey()?;
    let (secret, secret_sha256) = new_secret()?;
    let (_, view) = modify_keys(
        control,
        principal,
        site,
        "site.captcha_key.create",
        move |keys, current| {
            let hostnames = check_hostnames(&input.hostnames.unwrap_or_default(), &current.hosts)?;
            let key = CaptchaKeySpec {
                sitekey,
                secret_sha256,
                hostnames,
                mode: Some(mode),
                suspended: false,
            };
            let view = CaptchaKeyView::from_spec(&key);
            keys.push(key);
            Ok(view)
        },
    )
    .await?;
    Ok(view.with_secret(secret))
}

/// Changes a key's hostnames, mode or suspension.
pub(crate) async fn update_key(
    control: &Control,
    principal: &Principal,
    site: &str,
    sitekey: &str,
    patch: CaptchaKeyPatch,
) -> ApiResult<CaptchaKeyView> {
    let mode = patch.mode.as_deref().map(parse_mode).transpose()?;
    let (_, view) = modify_keys(
        control,
        principal,
        site,
        "site.captcha_key.update",
        move |keys, current| {
            let key = find(keys, sitekey)?;
            if let Some(hostnames) = &patch.hostnames {
                key.hostnames = check_hostnames(hostnames, &current.hosts)?;
            }
            if let Some(mode) = mode {
                key.mode = Some(mode);
            }
            if let Some(suspended) = patch.suspended {
                key.suspended = suspended;
            }
            Ok(CaptchaKeyView::from_spec(key))
        },
    )
    .await?;
    Ok(view)
}

/// Gives a key a new secret; the old one stops verifying at once.
pub(crate) async fn rotate_secret(
    control: &Control,
    principal: &Principal,
    site: &str,
    sitekey: &str,
) -> ApiResult<CaptchaKeyWithSecret> {
    let (secret, secret_sha256) = new_secret()?;
    let (_, view) = modify_keys(
        control,
        principal,
        site,
        "site.captcha_key.rotate_secret",
        move |keys, _| {
            let key = find(keys, sitekey)?;
            key.secret_sha256 = secret_sha256;
            Ok(CaptchaKeyView::from_spec(key))
        },
    )
    .await?;
    Ok(view.with_secret(secret))
}

pub(crate) async fn delete_key(
    control: &Control,
    principal: &Principal,
    site: &str,
    sitekey: &str,
) -> ApiResult<()> {
    modify_keys(
        control,
        principal,
        site,
        "site.captcha_key.delete",
        move |keys, _| {
            let before = keys.len();
            keys.retain(|k| k.sitekey != sitekey);
            if keys.len() == before {
                return Err(ApiError::not_found("captcha key", sitekey));
            }
            Ok(())
        },
    )
    .await?;
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/sites/{site}/captcha_keys", tag = "captcha",
    params(("site" = String, Path, description = "Site id or name")),
    responses((status = 200, body = [CaptchaKeyView]), (status = 404, body = super::error::ErrorBody)))]
pub async fn list(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(site): Path<String>,
) -> ApiResult<Json<Vec<CaptchaKeyView>>> {
    Ok(Json(list_keys(&control, &principal, &site).await?.1))
}

#[utoipa::path(post, path = "/api/v1/sites/{site}/captcha_keys", tag = "captcha",
    params(("site" = String, Path, description = "Site id or name")),
    request_body(content = NewCaptchaKey),
    responses((status = 201, body = CaptchaKeyWithSecret, description = "The new key with its secret, shown only here"),
        (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "`field` is e.g. `hostnames[1]` or `mode`")))]
pub async fn create(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path(site): Path<String>,
    ApiJson(input): ApiJson<NewCaptchaKey>,
) -> ApiResult<(StatusCode, Json<CaptchaKeyWithSecret>)> {
    let created = create_key(&control, &principal, &site, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(patch, path = "/api/v1/sites/{site}/captcha_keys/{sitekey}", tag = "captcha",
    params(("site" = String, Path, description = "Site id or name"), ("sitekey" = String, Path)),
    request_body(content = CaptchaKeyPatch),
    responses((status = 200, body = CaptchaKeyView), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)))]
pub async fn patch(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path((site, sitekey)): Path<(String, String)>,
    ApiJson(patch): ApiJson<CaptchaKeyPatch>,
) -> ApiResult<Json<CaptchaKeyView>> {
    Ok(Json(
        update_key(&control, &principal, &site, &sitekey, patch).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/sites/{site}/captcha_keys/{sitekey}/secret", tag = "captcha",
    params(("site" = String, Path, description = "Site id or name"), ("sitekey" = String, Path)),
    responses((status = 200, body = CaptchaKeyWithSecret, description = "The key with its new secret, shown only here; the old secret no longer verifies"),
        (status = 404, body = super::error::ErrorBody)))]
pub async fn new_secret_for(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path((site, sitekey)): Path<(String, String)>,
) -> ApiResult<Json<CaptchaKeyWithSecret>> {
    Ok(Json(
        rotate_secret(&control, &principal, &site, &sitekey).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/sites/{site}/captcha_keys/{sitekey}", tag = "captcha",
    params(("site" = String, Path, description = "Site id or name"), ("sitekey" = String, Path)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)))]
pub async fn delete(
    State(control): State<Arc<Control>>,
    principal: Principal,
    Path((site, sitekey)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    delete_key(&control, &principal, &site, &sitekey).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_secrets_have_their_shape() {
        let sitekey = new_sitekey().unwrap();
        assert!(
            sitekey.starts_with("rk_") && sitekey.len() == 25,
            "{sitekey}"
        );
        let (secret, hash) = new_secret().unwrap();
        assert!(secret.starts_with("rs_") && secret.len() == 46, "{secret}");
        for word in [&sitekey[3..], &secret[3..]] {
            assert!(
                word.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{word}"
            );
        }
        assert_eq!(hash, hex_string(&Sha256::digest(secret.as_bytes())));
        assert_ne!(new_secret().unwrap().0, secret);
    }

    #[test]
    fn hostnames_must_be_the_sites() {
        let hosts = vec!["shop.test".to_owned(), "*.shop.test".to_owned()];
        let ok = check_hostnames(
            &[
                "Shop.Test.".into(),
                "a.b.shop.test".into(),
                "shop.test".into(),
            ],
            &hosts,
        )
        .unwrap();
        assert_eq!(ok, ["shop.test", "a.b.shop.test"]);
        let other = check_hostnames(&["shop.test".into(), "evil.test".into()], &hosts);
        let error = other.unwrap_err();
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.detail.field.as_deref(), Some("hostnames[1]"));
        assert_eq!(error.detail.code, "not_a_site_host");
        // The wildcard's bare suffix is not under it; wildcards are not names.
        for bad in [".shop.test", "*.shop.test", "", "a b.shop.test"] {
            assert!(check_hostnames(&[bad.into()], &hosts).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("invisible").unwrap(), "invisible");
        let error = parse_mode("loud").unwrap_err();
        assert_eq!(error.detail.field.as_deref(), Some("mode"));
    }
}
