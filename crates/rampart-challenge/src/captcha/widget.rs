//! The widget's two endpoints: `challenge?sitekey=K` and `solve`, the
//! steps the edge would otherwise have to order itself (checking
//! `action`/`cdata` before the challenge is redeemed, so a typo in a page's
//! widget options does not burn a solved challenge).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::request::MAX_BODY_LEN;
use super::token::{TOKEN_LIFETIME_SECS, issue_token};
use super::{
    CaptchaError, MAX_ACTION_LEN, MAX_CDATA_LEN, Sitekey, SitekeyDirectory, challenge_site,
    is_hostname, is_token_word,
};
use crate::binding::PrefixPolicy;
use crate::keys::KeyRing;
use crate::pow::{self, ChallengeJson, PowParams};
use crate::spent::SpentSet;

/// The body of `POST …/solve`: `{"sitekey","challenge","nonce","action"?,"cdata"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SolveRequest {
    /// The widget's sitekey.
    pub sitekey: String,
    /// The challenge string from the `challenge` endpoint.
    pub challenge: String,
    /// The solution, a decimal u64 as a string.
    pub nonce: String,
    /// The page's `action` option.
    #[serde(default)]
    pub action: Option<String>,
    /// The page's `cdata` option.
    #[serde(default)]
    pub cdata: Option<String>,
}

impl SolveRequest {
    /// Parses the JSON body; anything unreadable is
    /// [`CaptchaError::BadRequest`].
    pub fn from_json(body: &[u8]) -> Result<Self, CaptchaError> {
        if body.len() > MAX_BODY_LEN {
            return Err(CaptchaError::BadRequest);
        }
        serde_json::from_slice(body).map_err(|_| CaptchaError::BadRequest)
    }
}

/// The `solve` answer: `{"token":"r1.…","expires_in":300}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SolveResponse {
    /// The response token the page submits to its backend.
    pub token: String,
    /// Seconds until siteverify refuses it.
    pub expires_in: u64,
}

impl SolveResponse {
    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// The sitekey the widget may use on `hostname`.
fn usable<'d>(
    directory: &'d dyn SitekeyDirectory,
    sitekey: &str,
    hostname: &str,
) -> Result<&'d Sitekey, CaptchaError> {
    let sk = directory
        .by_sitekey(sitekey)
        .ok_or(CaptchaError::UnknownSitekey)?;
    if sk.suspended {
        return Err(CaptchaError::SitekeySuspended);
    }
    if !is_hostname(hostname) {
        return Err(CaptchaError::InvalidHostname);
    }
    if !sk.allows_host(hostname) {
        return Err(CaptchaError::HostnameNotAllowed);
    }
    Ok(sk)
}

/// `GET …/challenge?sitekey=K` on `hostname` (the request's host, without
/// port) from `ip`: the 200 body, `{"challenge","algorithm","difficulty",
/// "scrypt","expires"}`.
#[allow(clippy::too_many_arguments)] // the protocol's inputs, each needed
pub fn challenge_json(
    ring: &KeyRing,
    directory: &dyn SitekeyDirectory,
    sitekey: &str,
    hostname: &str,
    ip: IpAddr,
    policy: &PrefixPolicy,
    params: &PowParams,
    now: u64,
) -> Result<String, CaptchaError> {
    let sk = usable(directory, sitekey, hostname)?;
    let site = challenge_site(&sk.sitekey, hostname);
    let challenge =
        pow::issue(ring, &site, ip, policy, params, now).map_err(CaptchaError::Params)?;
    let json = ChallengeJson::new(&challenge, None, None).map_err(CaptchaError::Challenge)?;
    Ok(json.to_json())
}

/// `POST …/solve` on `hostname` from `ip`: verifies the solution (single
/// use through `spent`) and issues a response token.
#[allow(clippy::too_many_arguments)] // the protocol's inputs, each needed
pub fn solve(
    ring: &KeyRing,
    directory: &dyn SitekeyDirectory,
    spent: &dyn SpentSet,
    request: &SolveRequest,
    hostname: &str,
    ip: IpAddr,
    policy: &PrefixPolicy,
    now: u64,
) -> Result<SolveResponse, CaptchaError> {
    let sk = usable(directory, &request.sitekey, hostname)?;
    let action = request.action.as_deref().unwrap_or("");
    let cdata = request.cdata.as_deref().unwrap_or("");
    // Checked before the challenge is redeemed: see the module doc.
    if !is_token_word(action, MAX_ACTION_LEN) {
        return Err(CaptchaError::InvalidAction);
    }
    if !is_token_word(cdata, MAX_CDATA_LEN) {
        return Err(CaptchaError::InvalidCdata);
    }
    let site = challenge_site(&sk.sitekey, hostname);
    pow::verify(
        ring,
        &request.challenge,
        &request.nonce,
        &site,
        ip,
        policy,
        now,
        spent,
    )
    .map_err(CaptchaError::Challenge)?;
    let token = issue_token(ring, &sk.sitekey, hostname, action, cdata, now)?;
    Ok(SolveResponse {
        token,
        expires_in: TOKEN_LIFETIME_SECS,
    })
}
