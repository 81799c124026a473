//! Tokens, cookies and bodies are attacker-controlled: arbitrary input, and
//! valid input with arbitrary damage, must never panic, and damage must
//! never verify.

use std::net::IpAddr;

use proptest::prelude::*;
use rampart_challenge::captcha::{self, IdempotencyCache, MapDirectory, Sitekey, VerifyRequest};
use rampart_challenge::*;

const NOW: u64 = 1_795_851_600;

fn ring() -> KeyRing {
    KeyRing::new(
        SigningKey {
            id: 1,
            secret: [1; 32],
        },
        None,
    )
}

fn addr() -> IpAddr {
    "192.0.2.1".parse().unwrap()
}

fn challenge() -> String {
    let p = PowParams {
        difficulty: 0,
        ..PowParams::DEFAULT_SHA256
    };
    pow::issue(&ring(), "s", addr(), &PrefixPolicy::default(), &p, NOW).unwrap()
}

fn token() -> String {
    captcha::issue_token(&ring(), "rk_a", "a.example", "act", "data", NOW).unwrap()
}

fn cookie() -> String {
    clearance::issue(
        &ring(),
        "s",
        addr(),
        &PrefixPolicy::default(),
        b"ua",
        NOW + 60,
    )
}

/// Applies edits (position, replacement char) to a string; an edit that
/// changes nothing is skipped by the caller's comparison.
fn damage(s: &str, edits: &[(usize, char)]) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for &(at, c) in edits {
        if chars.is_empty() {
            chars.push(c);
        } else {
            let i = at % (chars.len() + 1);
            if i == chars.len() {
                chars.push(c);
            } else {
                chars[i] = c;
            }
        }
    }
    chars.into_iter().collect()
}

fn directory() -> MapDirectory {
    MapDirectory::new([Sitekey {
        sitekey: "rk_a".into(),
        secret_hash: captcha::secret_hash("rs_a"),
        hostnames: vec![],
        suspended: false,
    }])
}

fn siteverify(content_type: Option<&str>, body: &[u8]) -> captcha::VerifyResponse {
    let dir = directory();
    let spent = LocalSpentSet::new(100);
    let idem = IdempotencyCache::new(100);
    captcha::siteverify_body(&ring(), &dir, &spent, &idem, content_type, body, NOW)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings(s in ".{0,300}", n in ".{0,30}") {
        let ring = ring();
        let policy = PrefixPolicy::default();
        let spent = LocalSpentSet::new(100);
        let _ = pow::decode(&s);
        let _ = pow::solve(&s, 4);
        prop_assert!(pow::verify(&ring, &s, &n, "s", addr(), &policy, NOW, &spent).is_err());
        prop_assert!(clearance::check(&ring, &s, "s", addr(), &policy, s.as_bytes(), NOW).is_err());
        prop_assert!(clearance::check_header(&ring, &s, "s", addr(), &policy, b"ua", NOW).is_err());
        let _ = clearance::find_clearance(&s);
        prop_assert!(captcha::verify_token(&ring, &s).is_err());
        prop_assert!(!siteverify(None, s.as_bytes()).success);
        let _ = VerifyRequest::from_body(Some(&n), s.as_bytes());
        let _ = captcha::SolveRequest::from_json(s.as_bytes());
        // A known sitekey and host, so the arbitrary challenge and nonce
        // reach the PoW verification.
        let solve = captcha::SolveRequest {
            sitekey: "rk_a".into(),
            challenge: s.clone(),
            nonce: n.clone(),
            action: None,
            cdata: None,
        };
        let dir = directory();
        prop_assert!(captcha::solve(&ring, &dir, &spent, &solve, "a.example", addr(), &policy, NOW).is_err());
    }

    #[test]
    fn arbitrary_bytes_as_bodies(body in proptest::collection::vec(any::<u8>(), 0..400), ct in 0usize..5) {
        let types = [
            None,
            Some("application/json"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=b"),
            Some("text/plain"),
        ];
        prop_assert!(!siteverify(types[ct], &body).success);
    }

    #[test]
    fn multipart_near_misses(parts in proptest::collection::vec(("[a-z_]{0,12}", "[ -~]{0,20}", 0u8..4), 0..6)) {
        let mut body = Vec::new();
        for (name, value, shape) in &parts {
            body.extend_from_slice(b"--b");
            match shape {
                0 => body.extend_from_slice(b"\r\n"),
                1 => body.extend_from_slice(b"\n"),
                _ => {}
            }
            body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        body.extend_from_slice(b"--b--");
        let _ = VerifyRequest::from_body(Some("multipart/form-data; boundary=b"), &body);
    }

    #[test]
    fn damaged_tokens_never_verify(edits in proptest::collection::vec((any::<usize>(), any::<char>()), 1..4)) {
        let ring = ring();
        let policy = PrefixPolicy::default();
        let c = challenge();
        let bad = damage(&c, &edits);
        if bad != c {
            let spent = LocalSpentSet::new(10);
            prop_assert!(pow::verify(&ring, &bad, "0", "s", addr(), &policy, NOW, &spent).is_err());
        }
        let k = cookie();
        let bad = damage(&k, &edits);
        if bad != k {
            prop_assert!(clearance::check(&ring, &bad, "s", addr(), &policy, b"ua", NOW).is_err());
        }
        let t = token();
        let bad = damage(&t, &edits);
        if bad != t {
            prop_assert!(captcha::verify_token(&ring, &bad).is_err());
            let body = serde_urlencoded::to_string([("secret", "rs_a"), ("response", bad.as_str())]).unwrap();
            prop_assert!(!siteverify(Some("application/x-www-form-urlencoded"), body.as_bytes()).success);
        }
    }
}

#[test]
fn undamaged_inputs_verify() {
    // The property above is only meaningful if the same calls accept the
    // undamaged values.
    let ring = ring();
    let policy = PrefixPolicy::default();
    let spent = LocalSpentSet::new(10);
    assert!(pow::verify(&ring, &challenge(), "0", "s", addr(), &policy, NOW, &spent).is_ok());
    assert!(clearance::check(&ring, &cookie(), "s", addr(), &policy, b"ua", NOW).is_ok());
    let body =
        serde_urlencoded::to_string([("secret", "rs_a"), ("response", token().as_str())]).unwrap();
    assert!(siteverify(Some("application/x-www-form-urlencoded"), body.as_bytes()).success);
}
