//! The widget's endpoints end to end: challenge JSON, solve, siteverify.

use std::net::IpAddr;

use rampart_challenge::captcha::{
    self, CaptchaError, IdempotencyCache, MapDirectory, Sitekey, SitekeyDirectory, SolveRequest,
    VerifyRequest,
};
use rampart_challenge::*;

const NOW: u64 = 1_795_851_600;

fn setup() -> (KeyRing, MapDirectory) {
    let ring = KeyRing::new(
        SigningKey {
            id: 8,
            secret: [8; 32],
        },
        None,
    );
    let sk = |name: &str, hosts: &[&str], suspended| Sitekey {
        sitekey: format!("rk_{name}"),
        secret_hash: captcha::secret_hash(&format!("rs_{name}")),
        hostnames: hosts.iter().map(|h| h.to_string()).collect(),
        suspended,
    };
    let dir = MapDirectory::new([sk("blog", &["blog.example"], false), sk("off", &[], true)]);
    (ring, dir)
}

fn ip() -> IpAddr {
    "198.51.100.20".parse().unwrap()
}

fn params() -> PowParams {
    PowParams {
        difficulty: 6,
        ..PowParams::DEFAULT_SHA256
    }
}

fn get_challenge(
    ring: &KeyRing,
    dir: &MapDirectory,
    sitekey: &str,
    host: &str,
) -> Result<String, CaptchaError> {
    captcha::challenge_json(
        ring,
        dir,
        sitekey,
        host,
        ip(),
        &PrefixPolicy::default(),
        &params(),
        NOW,
    )
}

fn solve_body(challenge_json: &str, sitekey: &str, extra: &str) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_str(challenge_json).unwrap();
    let challenge = v["challenge"].as_str().unwrap();
    assert_eq!(v["algorithm"], "sha256");
    assert_eq!(v["difficulty"], 6);
    assert_eq!(v["expires"], NOW + 300);
    let nonce = pow::solve(challenge, 1 << 20).unwrap();
    format!(r#"{{"sitekey":"{sitekey}","challenge":"{challenge}","nonce":"{nonce}"{extra}}}"#)
        .into_bytes()
}

#[test]
fn challenge_solve_siteverify() {
    let (ring, dir) = setup();
    let spent = LocalSpentSet::new(1000);
    let json = get_challenge(&ring, &dir, "rk_blog", "blog.example").unwrap();
    let body = solve_body(&json, "rk_blog", r#","action":"comment","cdata":"post-9""#);
    let req = SolveRequest::from_json(&body).unwrap();
    let policy = PrefixPolicy::default();
    let solved = captcha::solve(
        &ring,
        &dir,
        &spent,
        &req,
        "blog.example",
        ip(),
        &policy,
        NOW + 2,
    )
    .unwrap();
    assert_eq!(solved.expires_in, 300);
    assert!(solved.to_json().starts_with(r#"{"token":"r1."#));
    assert!(solved.to_json().ends_with(r#"","expires_in":300}"#));
    // The same solution again: the challenge is spent.
    assert_eq!(
        captcha::solve(
            &ring,
            &dir,
            &spent,
            &req,
            "blog.example",
            ip(),
            &policy,
            NOW + 3
        ),
        Err(CaptchaError::Challenge(PowError::Replayed))
    );
    let verify = VerifyRequest {
        secret: Some("rs_blog".into()),
        response: Some(solved.token),
        ..VerifyRequest::default()
    };
    let idem = IdempotencyCache::new(10);
    let r = captcha::siteverify(&ring, &dir, &spent, &idem, &verify, NOW + 20);
    assert!(r.success);
    assert_eq!(r.action.as_deref(), Some("comment"));
    assert_eq!(r.cdata.as_deref(), Some("post-9"));
    assert_eq!(r.hostname.as_deref(), Some("blog.example"));
}

#[test]
fn challenge_is_bound_to_sitekey_host_and_address() {
    let (ring, dir) = setup();
    let policy = PrefixPolicy::default();
    let json = get_challenge(&ring, &dir, "rk_blog", "blog.example").unwrap();
    let req = SolveRequest::from_json(&solve_body(&json, "rk_blog", "")).unwrap();
    let spent = LocalSpentSet::new(1000);
    // Another host of the same sitekey would need its own challenge.
    let other_host = Sitekey {
        hostnames: vec![],
        ..dir.by_sitekey("rk_blog").unwrap().clone()
    };
    let open = MapDirectory::new([other_host]);
    assert_eq!(
        captcha::solve(
            &ring,
            &open,
            &spent,
            &req,
            "mirror.example",
            ip(),
            &policy,
            NOW
        ),
        Err(CaptchaError::Challenge(PowError::BadSignature))
    );
    let far: IpAddr = "203.0.113.1".parse().unwrap();
    assert_eq!(
        captcha::solve(&ring, &dir, &spent, &req, "blog.example", far, &policy, NOW),
        Err(CaptchaError::Challenge(PowError::BadSignature))
    );
    // Expired.
    assert_eq!(
        captcha::solve(
            &ring,
            &dir,
            &spent,
            &req,
            "blog.example",
            ip(),
            &policy,
            NOW + 300
        ),
        Err(CaptchaError::Challenge(PowError::Expired))
    );
}

#[test]
fn refusals_before_the_challenge_is_spent() {
    let (ring, dir) = setup();
    let policy = PrefixPolicy::default();
    let spent = LocalSpentSet::new(1000);
    assert_eq!(
        get_challenge(&ring, &dir, "rk_none", "blog.example"),
        Err(CaptchaError::UnknownSitekey)
    );
    assert_eq!(
        get_challenge(&ring, &dir, "rk_off", "blog.example"),
        Err(CaptchaError::SitekeySuspended)
    );
    assert_eq!(
        get_challenge(&ring, &dir, "rk_blog", "evil.example"),
        Err(CaptchaError::HostnameNotAllowed)
    );
    assert_eq!(
        get_challenge(&ring, &dir, "rk_blog", "blog.example\r\n"),
        Err(CaptchaError::InvalidHostname)
    );
    let json = get_challenge(&ring, &dir, "rk_blog", "blog.example").unwrap();
    let bad_action =
        SolveRequest::from_json(&solve_body(&json, "rk_blog", r#","action":"two words""#)).unwrap();
    assert_eq!(
        captcha::solve(
            &ring,
            &dir,
            &spent,
            &bad_action,
            "blog.example",
            ip(),
            &policy,
            NOW
        ),
        Err(CaptchaError::InvalidAction)
    );
    let bad_cdata = SolveRequest::from_json(&solve_body(
        &json,
        "rk_blog",
        &format!(r#","cdata":"{}""#, "x".repeat(256)),
    ))
    .unwrap();
    assert_eq!(
        captcha::solve(
            &ring,
            &dir,
            &spent,
            &bad_cdata,
            "blog.example",
            ip(),
            &policy,
            NOW
        ),
        Err(CaptchaError::InvalidCdata)
    );
    // Neither refusal spent the challenge.
    let good = SolveRequest::from_json(&solve_body(&json, "rk_blog", "")).unwrap();
    assert!(
        captcha::solve(
            &ring,
            &dir,
            &spent,
            &good,
            "blog.example",
            ip(),
            &policy,
            NOW
        )
        .is_ok()
    );
    for junk in [
        &b""[..],
        b"{}",
        b"[]",
        br#"{"sitekey":"a","challenge":"b","nonce":5}"#,
    ] {
        assert_eq!(SolveRequest::from_json(junk), Err(CaptchaError::BadRequest));
    }
    assert_eq!(
        CaptchaError::HostnameNotAllowed.to_json(),
        r#"{"error":"hostname-not-allowed"}"#
    );
    assert_eq!(CaptchaError::Challenge(PowError::Expired).status(), 403);
    assert_eq!(CaptchaError::BadRequest.status(), 400);
}
