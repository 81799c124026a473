//! Captcha tokens and siteverify, against Turnstile's documented behaviour.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_challenge::captcha::{
    self, CaptchaError, ErrorCode, IdempotencyCache, MapDirectory, Sitekey, VerifyRequest,
    VerifyResponse,
};
use rampart_challenge::*;

const NOW: u64 = 1_795_851_600; // 2026-11-28T07:40:00Z

struct World {
    ring: KeyRing,
    dir: MapDirectory,
    spent: LocalSpentSet,
    idem: IdempotencyCache,
}

fn sitekey(name: &str, hosts: &[&str], suspended: bool) -> Sitekey {
    Sitekey {
        sitekey: format!("rk_{name}"),
        secret_hash: captcha::secret_hash(&format!("rs_{name}")),
        hostnames: hosts.iter().map(|h| h.to_string()).collect(),
        suspended,
    }
}

fn world() -> World {
    World {
        ring: KeyRing::new(
            SigningKey {
                id: 3,
                secret: [3; 32],
            },
            None,
        ),
        dir: MapDirectory::new([
            sitekey("shop", &["shop.example", "www.shop.example"], false),
            sitekey("off", &[], true),
            sitekey("any", &[], false),
        ]),
        spent: LocalSpentSet::new(10_000),
        idem: IdempotencyCache::new(10_000),
    }
}

impl World {
    fn token(&self, sitekey: &str, host: &str) -> String {
        captcha::issue_token(&self.ring, sitekey, host, "login", "s-123", NOW).unwrap()
    }

    fn verify(&self, fields: &[(&str, &str)], now: u64) -> VerifyResponse {
        let body = serde_urlencoded::to_string(fields).unwrap();
        captcha::siteverify_body(
            &self.ring,
            &self.dir,
            &self.spent,
            &self.idem,
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
            now,
        )
    }
}

fn codes(r: &VerifyResponse) -> Vec<ErrorCode> {
    assert!(!r.success || r.error_codes.is_empty());
    r.error_codes.clone()
}

#[test]
fn valid_token_verifies_once_with_turnstile_json() {
    let w = world();
    let t = w.token("rk_shop", "shop.example");
    let r = w.verify(&[("secret", "rs_shop"), ("response", &t)], NOW + 10);
    assert_eq!(
        r.to_json(),
        r#"{"success":true,"challenge_ts":"2026-11-28T07:40:00Z","hostname":"shop.example","error-codes":[],"action":"login","cdata":"s-123"}"#
    );
    let again = w.verify(&[("secret", "rs_shop"), ("response", &t)], NOW + 11);
    assert_eq!(
        again.to_json(),
        r#"{"success":false,"error-codes":["timeout-or-duplicate"]}"#
    );
}

#[test]
fn idempotent_retry_returns_the_first_answer() {
    let w = world();
    let t = w.token("rk_shop", "shop.example");
    let key = "1f9f5b7e-6d1c-4f7a-9a43-3c2d1e0f9a8b";
    let first = w.verify(
        &[
            ("secret", "rs_shop"),
            ("response", &t),
            ("idempotency_key", key),
        ],
        NOW,
    );
    assert!(first.success);
    let retry = w.verify(
        &[
            ("secret", "rs_shop"),
            ("response", &t),
            ("idempotency_key", key),
        ],
        NOW + 5,
    );
    assert_eq!(retry, first);
    let other = w.verify(
        &[
            ("secret", "rs_shop"),
            ("response", &t),
            ("idempotency_key", "other"),
        ],
        NOW + 5,
    );
    assert_eq!(codes(&other), [ErrorCode::TimeoutOrDuplicate]);
    let bare = w.verify(&[("secret", "rs_shop"), ("response", &t)], NOW + 5);
    assert_eq!(codes(&bare), [ErrorCode::TimeoutOrDuplicate]);
    // A failed first attempt is not cached: the key does not make a
    // duplicate succeed.
    let t2 = w.token("rk_shop", "shop.example");
    assert!(
        w.verify(&[("secret", "rs_shop"), ("response", &t2)], NOW)
            .success
    );
    let late = w.verify(
        &[
            ("secret", "rs_shop"),
            ("response", &t2),
            ("idempotency_key", key),
        ],
        NOW,
    );
    assert_eq!(codes(&late), [ErrorCode::TimeoutOrDuplicate]);
}

#[test]
fn expires_after_300_seconds() {
    let w = world();
    let t = w.token("rk_shop", "shop.example");
    let r = w.verify(&[("secret", "rs_shop"), ("response", &t)], NOW + 300);
    assert_eq!(codes(&r), [ErrorCode::TimeoutOrDuplicate]);
    let t = w.token("rk_shop", "shop.example");
    assert!(
        w.verify(&[("secret", "rs_shop"), ("response", &t)], NOW + 299)
            .success
    );
}

#[test]
fn hostname_must_be_allowed() {
    let w = world();
    let t = w.token("rk_shop", "evil.example");
    let r = w.verify(&[("secret", "rs_shop"), ("response", &t)], NOW);
    assert_eq!(codes(&r), [ErrorCode::InvalidInputResponse]);
    let t = w.token("rk_shop", "WWW.shop.example");
    assert!(
        w.verify(&[("secret", "rs_shop"), ("response", &t)], NOW)
            .success
    );
    // No list: any host.
    let t = w.token("rk_any", "whatever.example");
    assert!(
        w.verify(&[("secret", "rs_any"), ("response", &t)], NOW)
            .success
    );
}

#[test]
fn secret_and_sitekey_errors() {
    let w = world();
    let t = w.token("rk_shop", "shop.example");
    let one = |f: &[(&str, &str)]| codes(&w.verify(f, NOW));
    assert_eq!(one(&[("response", &t)]), [ErrorCode::MissingInputSecret]);
    assert_eq!(
        one(&[("secret", ""), ("response", &t)]),
        [ErrorCode::MissingInputSecret]
    );
    assert_eq!(
        one(&[("secret", "rs_shop")]),
        [ErrorCode::MissingInputResponse]
    );
    assert_eq!(
        one(&[]),
        [
            ErrorCode::MissingInputSecret,
            ErrorCode::MissingInputResponse
        ]
    );
    assert_eq!(
        one(&[("secret", "rs_nope"), ("response", &t)]),
        [ErrorCode::InvalidInputSecret]
    );
    assert_eq!(
        one(&[
            ("secret", "rs_shop"),
            ("response", &t),
            ("sitekey", "rk_any")
        ]),
        [ErrorCode::SitekeySecretMismatch]
    );
    let off = w.token("rk_off", "shop.example");
    assert_eq!(
        one(&[("secret", "rs_off"), ("response", &off)]),
        [ErrorCode::SitekeySuspended]
    );
    // A valid token of another sitekey.
    let any = w.token("rk_any", "shop.example");
    assert_eq!(
        one(&[("secret", "rs_shop"), ("response", &any)]),
        [ErrorCode::InvalidInputResponse]
    );
    // None of the failures above redeemed the token.
    assert!(
        w.verify(
            &[
                ("secret", "rs_shop"),
                ("response", &t),
                ("sitekey", "rk_shop")
            ],
            NOW
        )
        .success
    );
}

#[test]
fn forged_tokens_are_invalid() {
    let w = world();
    let t = w.token("rk_shop", "shop.example");
    let raw = URL_SAFE_NO_PAD.decode(&t[3..]).unwrap();
    for byte in 0..raw.len() {
        for bit in 0..8 {
            let mut f = raw.clone();
            f[byte] ^= 1 << bit;
            let forged = format!("r1.{}", URL_SAFE_NO_PAD.encode(&f));
            assert!(
                captcha::verify_token(&w.ring, &forged).is_err(),
                "byte {byte} bit {bit}"
            );
            let r = w.verify(&[("secret", "rs_shop"), ("response", &forged)], NOW);
            assert_eq!(
                codes(&r),
                [ErrorCode::InvalidInputResponse],
                "byte {byte} bit {bit}"
            );
        }
    }
    for junk in ["r1.", "r1", "x", "r2.AAAA", &"r1.AAAA".repeat(600)] {
        let r = w.verify(&[("secret", "rs_shop"), ("response", junk)], NOW);
        assert_eq!(codes(&r), [ErrorCode::InvalidInputResponse]);
    }
    assert!(
        w.verify(&[("secret", "rs_shop"), ("response", &t)], NOW)
            .success
    );
}

#[test]
fn key_rotation() {
    let w = world();
    let t = w.token("rk_shop", "shop.example");
    let rotated = KeyRing::new(
        SigningKey {
            id: 4,
            secret: [4; 32],
        },
        Some(SigningKey {
            id: 3,
            secret: [3; 32],
        }),
    );
    assert!(captcha::verify_token(&rotated, &t).is_ok());
    let twice = KeyRing::new(
        SigningKey {
            id: 5,
            secret: [5; 32],
        },
        Some(SigningKey {
            id: 4,
            secret: [4; 32],
        }),
    );
    assert!(captcha::verify_token(&twice, &t).is_err());
}

#[test]
fn malformed_bodies_are_bad_requests() {
    let w = world();
    let bad = |ct: Option<&str>, body: &[u8]| {
        let r = captcha::siteverify_body(&w.ring, &w.dir, &w.spent, &w.idem, ct, body, NOW);
        assert_eq!(
            codes(&r),
            [ErrorCode::BadRequest],
            "{ct:?} {:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(
            r.to_json(),
            r#"{"success":false,"error-codes":["bad-request"]}"#
        );
    };
    bad(Some("application/json"), b"{");
    bad(Some("application/json"), b"\"secret\"");
    bad(Some("application/json"), br#"{"secret":["a"]}"#);
    bad(Some("application/json"), br#"{"response":1}"#);
    bad(None, b"{nope");
    bad(
        Some("application/x-www-form-urlencoded"),
        b"secret=a&secret=b",
    );
    bad(Some("text/xml"), b"<secret/>");
    bad(Some("multipart/form-data; boundary=zz"), b"--zz\r\nbroken");
    bad(Some("application/json"), &vec![b' '; 70_000]);
}

#[test]
fn json_and_multipart_bodies_verify() {
    let w = world();
    let t = w.token("rk_shop", "shop.example");
    let body = serde_json::json!({"secret": "rs_shop", "response": t, "remoteip": "192.0.2.1"})
        .to_string();
    let r = captcha::siteverify_body(
        &w.ring,
        &w.dir,
        &w.spent,
        &w.idem,
        Some("application/json"),
        body.as_bytes(),
        NOW,
    );
    assert!(r.success);
    let t = w.token("rk_shop", "shop.example");
    let body = format!(
        "--B\r\nContent-Disposition: form-data; name=\"secret\"\r\n\r\nrs_shop\r\n--B\r\nContent-Disposition: form-data; name=\"response\"\r\n\r\n{t}\r\n--B--\r\n"
    );
    let r = captcha::siteverify_body(
        &w.ring,
        &w.dir,
        &w.spent,
        &w.idem,
        Some("multipart/form-data; boundary=B"),
        body.as_bytes(),
        NOW,
    );
    assert!(r.success);
    let req = VerifyRequest::from_json(br#"{"secret":"s","response":"r","idempotency_key":"k"}"#)
        .unwrap();
    assert_eq!(req.idempotency_key.as_deref(), Some("k"));
}

#[test]
fn token_limits() {
    let w = world();
    let long_key = format!("rk_{}", "k".repeat(61));
    let host = format!("{}.example", "h".repeat(245));
    assert_eq!(host.len(), 253);
    let action = "a".repeat(32);
    let cdata = "c".repeat(255);
    let t = captcha::issue_token(&w.ring, &long_key, &host, &action, &cdata, NOW).unwrap();
    assert!(t.len() <= captcha::MAX_TOKEN_LEN, "{}", t.len());
    let back = captcha::verify_token(&w.ring, &t).unwrap();
    assert_eq!(
        (back.action.as_str(), back.cdata.as_str()),
        (action.as_str(), cdata.as_str())
    );
    let issue = |sk: &str, host: &str, action: &str, cdata: &str| {
        captcha::issue_token(&w.ring, sk, host, action, cdata, NOW)
    };
    assert_eq!(
        issue("rk_x", "h", &"a".repeat(33), ""),
        Err(CaptchaError::InvalidAction)
    );
    assert_eq!(
        issue("rk_x", "h", "log in", ""),
        Err(CaptchaError::InvalidAction)
    );
    assert_eq!(
        issue("rk_x", "h", "", &"c".repeat(256)),
        Err(CaptchaError::InvalidCdata)
    );
    assert_eq!(
        issue("rk_x", "h", "", "a.b"),
        Err(CaptchaError::InvalidCdata)
    );
    assert_eq!(
        issue(&"k".repeat(65), "h", "", ""),
        Err(CaptchaError::InvalidSitekey)
    );
    assert_eq!(issue("", "h", "", ""), Err(CaptchaError::InvalidSitekey));
    assert_eq!(
        issue("rk_x", &"h".repeat(254), "", ""),
        Err(CaptchaError::InvalidHostname)
    );
    assert_eq!(
        issue("rk_x", "a b", "", ""),
        Err(CaptchaError::InvalidHostname)
    );
    assert_eq!(
        issue("rk_x", "", "", ""),
        Err(CaptchaError::InvalidHostname)
    );
    let t = issue("rk_x", "[2001:db8::1]", "", "").unwrap();
    assert_eq!(captcha::verify_token(&w.ring, &t).unwrap().action, "");
}

/// The two-step siteverify a node with a shared spent set uses: a success
/// is answered (and kept for idempotent retries) only when the shared set
/// said first use, so a retry with the same idempotency key never turns a
/// redemption another node refused into a success.
#[test]
fn two_step_siteverify_keeps_a_success_only_after_the_single_use_check() {
    let w = world();
    let t = w.token("rk_shop", "shop.example");
    let body = serde_urlencoded::to_string([
        ("secret", "rs_shop"),
        ("response", t.as_str()),
        ("idempotency_key", "retry-1"),
    ])
    .unwrap();
    let begin = || {
        captcha::siteverify_body_begin(
            &w.ring,
            &w.dir,
            &w.idem,
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
            NOW + 10,
        )
    };
    // Another node redeemed it first.
    let captcha::Verification::Redeem(redeem) = begin() else {
        panic!("a valid token needs its single-use check");
    };
    assert!(redeem.expires_at() > NOW + 10);
    let refused = redeem.finish(false, &w.idem, NOW + 10);
    assert_eq!(codes(&refused), [ErrorCode::TimeoutOrDuplicate]);
    // The retry is checked again, not answered from the cache.
    let captcha::Verification::Redeem(redeem) = begin() else {
        panic!("a refused redemption must not be cached");
    };
    let id = redeem.id();
    assert!(redeem.finish(true, &w.idem, NOW + 11).success);
    // Now a retry with the key gets the stored success without a spend.
    let captcha::Verification::Done(again) = begin() else {
        panic!("the success is kept for the idempotency key");
    };
    assert!(again.success);
    assert!(
        w.spent.spend(id, NOW + 300, NOW + 12),
        "nothing spent locally by the two steps"
    );
}
