//! The clearance cookie `rampart_clearance`: proof that this client (site,
//! address prefix, User-Agent) solved a challenge, checked on every request
//! of a challenged site.
//!
//! Checked on the hot path, so [`check`] allocates nothing: one SHA-256 of
//! the User-Agent, one HMAC from the pre-keyed state, one constant-time
//! compare.

use std::net::IpAddr;

use crate::binding::{IpPrefix, PrefixPolicy, ua_hash};
use crate::codec;
use crate::keys::{KeyRing, MacError, TAG_LEN};

/// The cookie's name.
pub const COOKIE_NAME: &str = "rampart_clearance";
/// The protocol's default lifetime: 30 minutes.
pub const DEFAULT_LIFETIME_SECS: u64 = 30 * 60;
const PREFIX: &str = "c1.";
const MAC_CONTEXT: &[u8] = b"rampart-clr-v1";
const TAG_TEXT_LEN: usize = codec::b64_encoded_len(TAG_LEN);
/// "c1." + u32 + "." + u64 + "." + tag: no valid value is longer.
const MAX_VALUE_LEN: usize = PREFIX.len() + 10 + 1 + 20 + 1 + TAG_TEXT_LEN;
/// How many `rampart_clearance` cookies in one header are tried: several
/// can coexist (paths, parent domains), but an attacker must not make one
/// request cost hundreds of MACs.
const MAX_CANDIDATES: usize = 4;

/// Why a clearance cookie was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClearanceError {
    /// No `rampart_clearance` cookie in the header.
    #[error("no clearance cookie")]
    Missing,
    /// Not a `c1.` value.
    #[error("malformed clearance cookie")]
    Malformed,
    /// Signed with a key no longer held.
    #[error("clearance signed with an unknown key")]
    UnknownKey,
    /// Forged, or issued for another site, address prefix or User-Agent.
    #[error("bad clearance signature")]
    BadSignature,
    /// Past its expiry.
    #[error("clearance expired")]
    Expired,
}

impl From<MacError> for ClearanceError {
    fn from(e: MacError) -> Self {
        match e {
            MacError::UnknownKey => ClearanceError::UnknownKey,
            MacError::BadSignature => ClearanceError::BadSignature,
        }
    }
}

fn mac_parts<'a>(
    site: &'a str,
    prefix: &'a IpPrefix,
    ua: &'a [u8; 16],
    expires: &'a [u8; 8],
) -> [&'a [u8]; 7] {
    [
        MAC_CONTEXT,
        site.as_bytes(),
        &[0],
        prefix.as_bytes(),
        prefix.len_byte(),
        ua,
        expires,
    ]
}

/// A cookie value for this client, valid until `expires` (unix seconds),
/// signed with the ring's current key.
pub fn issue(
    ring: &KeyRing,
    site: &str,
    ip: IpAddr,
    policy: &PrefixPolicy,
    user_agent: &[u8],
    expires: u64,
) -> String {
    let prefix = policy.prefix(ip);
    let ua = ua_hash(user_agent);
    let exp = expires.to_be_bytes();
    let (key_id, tag) = ring.mac16_current(&mac_parts(site, &prefix, &ua, &exp));
    format!("{PREFIX}{key_id}.{expires}.{}", codec::b64_encode(&tag))
}

/// Checks a cookie value for this client at `now`.
pub fn check(
    ring: &KeyRing,
    cookie_value: &str,
    site: &str,
    ip: IpAddr,
    policy: &PrefixPolicy,
    user_agent: &[u8],
    now: u64,
) -> Result<(), ClearanceError> {
    let (key_id, expires, tag) = parse(cookie_value).ok_or(ClearanceError::Malformed)?;
    // The 0x00 after the site separates it from the address bytes only if
    // the site itself has none (see `pow::verify`).
    if site.as_bytes().contains(&0) {
        return Err(ClearanceError::BadSignature);
    }
    let prefix = policy.prefix(ip);
    let ua = ua_hash(user_agent);
    let exp = expires.to_be_bytes();
    ring.verify16(key_id, &mac_parts(site, &prefix, &ua, &exp), &tag)?;
    if now >= expires {
        return Err(ClearanceError::Expired);
    }
    Ok(())
}

/// Splits `c1.<key id>.<expires>.<tag>` without allocating.
fn parse(value: &str) -> Option<(u32, u64, [u8; TAG_LEN])> {
    if value.len() > MAX_VALUE_LEN {
        return None;
    }
    let mut fields = value.strip_prefix(PREFIX)?.split('.');
    let key_id = codec::parse_decimal_u32(fields.next()?.as_bytes())?;
    let expires = codec::parse_decimal_u64(fields.next()?.as_bytes())?;
    let tag_text = fields.next()?;
    if fields.next().is_some() || tag_text.len() != TAG_TEXT_LEN {
        return None;
    }
    let mut tag = [0u8; TAG_LEN];
    (codec::b64_decode_into(tag_text.as_bytes(), &mut tag)? == TAG_LEN)
        .then_some((key_id, expires, tag))
}

/// The values of every cookie called `name` in a `Cookie` header (several
/// headers joined with "; " work the same), in order. Surrounding double
/// quotes are removed (RFC 6265 §4.1.1 allows a quoted value).
pub fn cookie_values<'a>(header: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    header.split(';').filter_map(move |pair| {
        let (n, v) = pair.split_once('=')?;
        if n.trim_matches([' ', '\t']) != name {
            return None;
        }
        let v = v.trim_matches([' ', '\t']);
        Some(
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v),
        )
    })
}

/// The first `rampart_clearance` value in a `Cookie` header.
pub fn find_clearance(header: &str) -> Option<&str> {
    cookie_values(header, COOKIE_NAME).next()
}

/// [`check`] on the `rampart_clearance` cookies of a `Cookie` header: passes
/// when one of the first four passes (a stale cookie for a parent domain
/// may come before the fresh one). Otherwise the last cookie's reason, or
/// [`ClearanceError::Missing`].
pub fn check_header(
    ring: &KeyRing,
    cookie_header: &str,
    site: &str,
    ip: IpAddr,
    policy: &PrefixPolicy,
    user_agent: &[u8],
    now: u64,
) -> Result<(), ClearanceError> {
    let mut result = Err(ClearanceError::Missing);
    for value in cookie_values(cookie_header, COOKIE_NAME).take(MAX_CANDIDATES) {
        result = check(ring, value, site, ip, policy, user_agent, now);
        if result.is_ok() {
            break;
        }
    }
    result
}

/// A `Set-Cookie` header value for `value`, living `max_age_secs`: path `/`,
/// `HttpOnly` (scripts never need it), `SameSite=Lax` (it must come along
/// on top-level navigations from other sites), `Secure` on HTTPS sites.
pub fn set_cookie_header(value: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cookies_among_others() {
        let h = "a=1; rampart_clearance=c1.1.2.x;b=2;  rampart_clearance = \"q\" ; rampart_clearancex=no";
        let all: Vec<_> = cookie_values(h, COOKIE_NAME).collect();
        assert_eq!(all, ["c1.1.2.x", "q"]);
        assert_eq!(find_clearance(h), Some("c1.1.2.x"));
        assert_eq!(find_clearance("a=1; b"), None);
        assert_eq!(find_clearance(""), None);
    }

    #[test]
    fn parse_is_strict() {
        let tag = "A".repeat(22);
        assert!(parse(&format!("c1.1.2.{tag}")).is_some());
        for bad in [
            format!("c1.01.2.{tag}"),
            format!("c1.1.2.{tag}.x"),
            format!("c1.1.2.{tag}A"),
            format!("c1.1..{tag}"),
            format!("c2.1.2.{tag}"),
            format!("c1.4294967296.2.{tag}"),
            format!("c1.1.-2.{tag}"),
            "c1.".to_string(),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn set_cookie() {
        assert_eq!(
            set_cookie_header("c1.1.2.t", 1800, true),
            "rampart_clearance=c1.1.2.t; Path=/; Max-Age=1800; HttpOnly; SameSite=Lax; Secure"
        );
    }
}
