//! Rampart's own captcha: the sitekey its abuse report form and public
//! report API use. It has no secret (nobody calls siteverify for it); the
//! process that issued the widget's token redeems it directly.

use super::Sitekey;
use super::siteverify::ErrorCode;
use super::token::{TOKEN_LIFETIME_SECS, verify_token};
use crate::keys::KeyRing;
use crate::spent::SpentSet;

/// The sitekey of the abuse report form, present on every site.
pub const ABUSE_FORM_SITEKEY: &str = "rk_rampart_abuse_form";

/// The form's sitekey as the widget's directory needs it. Its secret hash
/// is all zeros, which no secret hashes to, so siteverify never accepts it.
pub fn abuse_form_sitekey(suspended: bool) -> Sitekey {
    Sitekey {
        sitekey: ABUSE_FORM_SITEKEY.to_owned(),
        secret_hash: [0; 32],
        hostnames: Vec::new(),
        suspended,
    }
}

/// Redeems a token of Rampart's own `sitekey`: tag, sitekey, age, then
/// single use. The error is the code siteverify would answer.
pub fn redeem_own(
    ring: &KeyRing,
    spent: &dyn SpentSet,
    sitekey: &str,
    response: &str,
    now: u64,
) -> Result<(), ErrorCode> {
    let token = verify_token(ring, response.trim()).map_err(|_| ErrorCode::InvalidInputResponse)?;
    if token.sitekey != sitekey {
        return Err(ErrorCode::InvalidInputResponse);
    }
    let expires = token.issued.saturating_add(TOKEN_LIFETIME_SECS);
    if now >= expires || !spent.spend(token.id, expires, now) {
        return Err(ErrorCode::TimeoutOrDuplicate);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::captcha::{SitekeyDirectory, issue_token};
    use crate::keys::SigningKey;
    use crate::spent::LocalSpentSet;

    #[test]
    fn own_tokens_redeem_once_for_their_sitekey_only() {
        let ring = KeyRing::new(SigningKey::generate().unwrap(), None);
        let spent = LocalSpentSet::new(64);
        let now = 1_800_000_000;
        let token = issue_token(&ring, ABUSE_FORM_SITEKEY, "shop.test", "", "", now).unwrap();
        assert_eq!(
            redeem_own(&ring, &spent, "rk_other", &token, now),
            Err(ErrorCode::InvalidInputResponse)
        );
        assert_eq!(
            redeem_own(&ring, &spent, ABUSE_FORM_SITEKEY, &token, now + 1),
            Ok(())
        );
        assert_eq!(
            redeem_own(&ring, &spent, ABUSE_FORM_SITEKEY, &token, now + 2),
            Err(ErrorCode::TimeoutOrDuplicate)
        );
        let late = issue_token(&ring, ABUSE_FORM_SITEKEY, "shop.test", "", "", now).unwrap();
        assert_eq!(
            redeem_own(
                &ring,
                &spent,
                ABUSE_FORM_SITEKEY,
                &late,
                now + TOKEN_LIFETIME_SECS
            ),
            Err(ErrorCode::TimeoutOrDuplicate)
        );
        let other_ring = KeyRing::new(SigningKey::generate().unwrap(), None);
        let forged =
            issue_token(&other_ring, ABUSE_FORM_SITEKEY, "shop.test", "", "", now).unwrap();
        assert_eq!(
            redeem_own(&ring, &spent, ABUSE_FORM_SITEKEY, &forged, now),
            Err(ErrorCode::InvalidInputResponse)
        );
        let directory = crate::captcha::MapDirectory::new([abuse_form_sitekey(false)]);
        assert!(directory.by_secret("").is_none() && directory.by_secret("rs_x").is_none());
    }
}
