//! Clearance cookies: bound to site, address prefix and User-Agent, expiring,
//! surviving one key rotation.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_challenge::clearance::{self, COOKIE_NAME};
use rampart_challenge::*;

const NOW: u64 = 1_795_851_600;
const UA: &[u8] = b"Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";

fn key(id: u32) -> SigningKey {
    SigningKey {
        id,
        secret: [id as u8 ^ 0x5a; 32],
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cookie(ring: &KeyRing) -> String {
    clearance::issue(
        ring,
        "shop",
        ip("198.51.100.7"),
        &PrefixPolicy::default(),
        UA,
        NOW + 1800,
    )
}

fn check(
    ring: &KeyRing,
    value: &str,
    site: &str,
    addr: &str,
    ua: &[u8],
    now: u64,
) -> Result<(), ClearanceError> {
    clearance::check(
        ring,
        value,
        site,
        ip(addr),
        &PrefixPolicy::default(),
        ua,
        now,
    )
}

#[test]
fn accepted_for_the_same_client() {
    let ring = KeyRing::new(key(1), None);
    let c = cookie(&ring);
    assert!(c.starts_with("c1.1.1795853400."), "{c}");
    assert_eq!(check(&ring, &c, "shop", "198.51.100.7", UA, NOW), Ok(()));
    // Same /24, another host.
    assert_eq!(check(&ring, &c, "shop", "198.51.100.250", UA, NOW), Ok(()));
}

#[test]
fn refused_for_another_client_site_or_time() {
    let ring = KeyRing::new(key(1), None);
    let c = cookie(&ring);
    let bad = Err(ClearanceError::BadSignature);
    assert_eq!(
        check(&ring, &c, "shop", "198.51.100.7", b"curl/8.0", NOW),
        bad
    );
    assert_eq!(check(&ring, &c, "shop", "198.51.100.7", b"", NOW), bad);
    assert_eq!(check(&ring, &c, "shop2", "198.51.100.7", UA, NOW), bad);
    assert_eq!(check(&ring, &c, "shop\0", "198.51.100.7", UA, NOW), bad);
    assert_eq!(check(&ring, &c, "shop", "198.51.101.7", UA, NOW), bad);
    assert_eq!(check(&ring, &c, "shop", "2001:db8::7", UA, NOW), bad);
    assert_eq!(
        check(&ring, &c, "shop", "198.51.100.7", UA, NOW + 1799),
        Ok(())
    );
    assert_eq!(
        check(&ring, &c, "shop", "198.51.100.7", UA, NOW + 1800),
        Err(ClearanceError::Expired)
    );
}

#[test]
fn forged_cookies_are_refused() {
    let ring = KeyRing::new(key(1), None);
    let c = cookie(&ring);
    let (head, tag_text) = c.rsplit_once('.').unwrap();
    let tag = URL_SAFE_NO_PAD.decode(tag_text).unwrap();
    for byte in 0..tag.len() {
        for bit in 0..8 {
            let mut t = tag.clone();
            t[byte] ^= 1 << bit;
            let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&t));
            assert_eq!(
                check(&ring, &forged, "shop", "198.51.100.7", UA, NOW),
                Err(ClearanceError::BadSignature),
                "tag byte {byte} bit {bit}"
            );
        }
    }
    // A later expiry under the same tag.
    let longer = c.replace(".1795853400.", ".1795853401.");
    assert_eq!(
        check(&ring, &longer, "shop", "198.51.100.7", UA, NOW),
        Err(ClearanceError::BadSignature)
    );
    let other_key = c.replacen("c1.1.", "c1.2.", 1);
    assert_eq!(
        check(&ring, &other_key, "shop", "198.51.100.7", UA, NOW),
        Err(ClearanceError::UnknownKey)
    );
    for junk in [
        "",
        "c1",
        "c1.1.2",
        "c1.1.2.3.4",
        "c1.x.2.AAAAAAAAAAAAAAAAAAAAAA",
        "c2.1.2.AAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(
            check(&ring, junk, "shop", "198.51.100.7", UA, NOW),
            Err(ClearanceError::Malformed),
            "{junk}"
        );
    }
}

#[test]
fn key_rotation() {
    let c = cookie(&KeyRing::new(key(1), None));
    let rotated = KeyRing::new(key(2), Some(key(1)));
    assert_eq!(check(&rotated, &c, "shop", "198.51.100.7", UA, NOW), Ok(()));
    let twice = KeyRing::new(key(3), Some(key(2)));
    assert_eq!(
        check(&twice, &c, "shop", "198.51.100.7", UA, NOW),
        Err(ClearanceError::UnknownKey)
    );
}

#[test]
fn cookie_header() {
    let ring = KeyRing::new(key(1), None);
    let good = cookie(&ring);
    let stale = clearance::issue(
        &ring,
        "shop",
        ip("198.51.100.7"),
        &PrefixPolicy::default(),
        UA,
        NOW - 1,
    );
    let check_header = |h: &str| {
        clearance::check_header(
            &ring,
            h,
            "shop",
            ip("198.51.100.7"),
            &PrefixPolicy::default(),
            UA,
            NOW,
        )
    };
    let header = format!("theme=dark; {COOKIE_NAME}={stale}; sid=1; {COOKIE_NAME}={good}");
    assert_eq!(check_header(&header), Ok(()));
    assert_eq!(
        check_header(&format!("{COOKIE_NAME}={stale}")),
        Err(ClearanceError::Expired)
    );
    assert_eq!(check_header("theme=dark"), Err(ClearanceError::Missing));
    assert_eq!(check_header(""), Err(ClearanceError::Missing));
    // Only the first four candidates are tried.
    let many = format!(
        "{}{COOKIE_NAME}={good}",
        format!("{COOKIE_NAME}=x; ").repeat(4)
    );
    assert_eq!(check_header(&many), Err(ClearanceError::Malformed));
    assert_eq!(clearance::find_clearance(&header), Some(stale.as_str()));
}
