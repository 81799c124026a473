//! Response tokens (`r1.` strings): what the widget hands the page after a
//! solved challenge, and what `siteverify` redeems.

use rand::Rng;

use super::{CaptchaError, MAX_ACTION_LEN, MAX_CDATA_LEN, MAX_SITEKEY_LEN, MAX_TOKEN_LEN};
use super::{is_hostname, is_token_word};
use crate::codec::{self, Reader};
use crate::keys::{KeyRing, MacError, TAG_LEN};

/// The text prefix of a response token (format version 1).
pub const TOKEN_PREFIX: &str = "r1.";
/// A token is redeemable for 300 seconds after it was issued.
pub const TOKEN_LIFETIME_SECS: u64 = 300;
const VERSION: u8 = 1;
const MAC_CONTEXT: &[u8] = b"rampart-captcha-v1";
/// The most bytes 2048 - 3 characters of base64 decode to.
const MAX_RAW_LEN: usize = (MAX_TOKEN_LEN - TOKEN_PREFIX.len()) * 3 / 4;

/// A verified token's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Key that tagged it.
    pub key_id: u32,
    /// Issue time (unix seconds): `challenge_ts`.
    pub issued: u64,
    /// Random id: the token's identity in the spent set.
    pub id: [u8; 16],
    /// The sitekey whose widget solved it.
    pub sitekey: String,
    /// The host the widget ran on.
    pub hostname: String,
    /// The page's `action` ("" when none was given).
    pub action: String,
    /// The page's `cdata` ("" when none was given).
    pub cdata: String,
}

/// Issues a response token for a solved challenge of `sitekey` on
/// `hostname`, signed with the ring's current key. `action` and `cdata` are
/// the page's widget options ("" for none), checked against Turnstile's
/// limits.
pub fn issue_token(
    ring: &KeyRing,
    sitekey: &str,
    hostname: &str,
    action: &str,
    cdata: &str,
    now: u64,
) -> Result<String, CaptchaError> {
    if sitekey.is_empty() || !is_token_word(sitekey, MAX_SITEKEY_LEN) {
        return Err(CaptchaError::InvalidSitekey);
    }
    if !is_hostname(hostname) {
        return Err(CaptchaError::InvalidHostname);
    }
    if !is_token_word(action, MAX_ACTION_LEN) {
        return Err(CaptchaError::InvalidAction);
    }
    if !is_token_word(cdata, MAX_CDATA_LEN) {
        return Err(CaptchaError::InvalidCdata);
    }
    let id: [u8; 16] = rand::rng().random();
    let mut raw =
        Vec::with_capacity(64 + sitekey.len() + hostname.len() + action.len() + cdata.len());
    raw.push(VERSION);
    raw.extend_from_slice(&ring.current_id().to_be_bytes());
    raw.extend_from_slice(&now.to_be_bytes());
    raw.extend_from_slice(&id);
    for s in [sitekey, hostname, action, cdata] {
        // Each is at most 253 bytes (checked above), so the u16 holds it.
        let len = u16::try_from(s.len()).map_err(|_| CaptchaError::TooLong)?;
        raw.extend_from_slice(&len.to_be_bytes());
        raw.extend_from_slice(s.as_bytes());
    }
    let (_, tag) = ring.mac16_current(&[MAC_CONTEXT, &raw]);
    raw.extend_from_slice(&tag);
    let token = format!("{TOKEN_PREFIX}{}", codec::b64_encode(&raw));
    // With the limits above a token is under 900 characters; the check
    // keeps the documented bound true if those limits ever change.
    if token.len() > MAX_TOKEN_LEN {
        return Err(CaptchaError::TooLong);
    }
    Ok(token)
}

/// Why a token was refused (all are `invalid-input-response` to the
/// caller of siteverify).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not an `r1.` token.
    #[error("malformed token")]
    Malformed,
    /// Tag check failed.
    #[error(transparent)]
    Mac(#[from] MacError),
}

/// Checks a token's format and tag and returns its content. Neither age nor
/// single use is checked here ([`super::siteverify`] does both).
pub fn verify_token(ring: &KeyRing, token: &str) -> Result<Token, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let body = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(TokenError::Malformed)?;
    let mut buf = [0u8; MAX_RAW_LEN];
    let len = codec::b64_decode_into(body.as_bytes(), &mut buf).ok_or(TokenError::Malformed)?;
    let raw = buf.get(..len).ok_or(TokenError::Malformed)?;
    let (payload, tag) = raw
        .split_last_chunk::<TAG_LEN>()
        .ok_or(TokenError::Malformed)?;
    let mut r = Reader::new(payload);
    let parsed = (|| {
        if r.u8()? != VERSION {
            return None;
        }
        let key_id = r.u32()?;
        let issued = r.u64()?;
        let id = r.bytes::<16>()?;
        let strings = [r.str16()?, r.str16()?, r.str16()?, r.str16()?];
        r.is_empty().then_some((key_id, issued, id, strings))
    })();
    let (key_id, issued, id, [sitekey, hostname, action, cdata]) =
        parsed.ok_or(TokenError::Malformed)?;
    ring.verify16(key_id, &[MAC_CONTEXT, payload], tag)?;
    Ok(Token {
        key_id,
        issued,
        id,
        sitekey: sitekey.to_owned(),
        hostname: hostname.to_owned(),
        action: action.to_owned(),
        cdata: cdata.to_owned(),
    })
}
