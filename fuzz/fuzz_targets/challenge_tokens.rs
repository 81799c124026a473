//! Everything a client hands the challenge code: a proof-of-work challenge
//! and nonce, a clearance cookie header, a captcha response token, and a
//! siteverify body in any content type. Each must be refused or accepted,
//! never panic; and nothing forged from fuzz input may verify against a key
//! the fuzzer does not know.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use rampart_challenge::captcha::{self, IdempotencyCache, MapDirectory};
use rampart_challenge::{KeyRing, LocalSpentSet, PrefixPolicy, SigningKey, clearance, pow};

fuzz_target!(|data: &[u8]| {
    let ring = KeyRing::new(SigningKey { id: 1, secret: [42; 32] }, None);
    let policy = PrefixPolicy::default();
    let ip: IpAddr = IpAddr::from([192, 0, 2, 1]);
    let now = 1_800_000_000;
    let spent = LocalSpentSet::new(64);
    let text = String::from_utf8_lossy(data);
    let middle = text
        .char_indices()
        .map(|(i, _)| i)
        .find(|&i| i >= text.len() / 2)
        .unwrap_or(text.len());
    let (first, rest) = text.split_at(middle);

    let _ = pow::decode(first);
    assert!(pow::verify(&ring, first, rest, "shop", ip, &policy, now, &spent).is_err());
    assert!(clearance::check_header(&ring, &text, "shop", ip, &policy, rest.as_bytes(), now).is_err());
    let _ = clearance::find_clearance(&text);
    assert!(captcha::verify_token(&ring, &text).is_err());

    let directory = MapDirectory::new(Vec::new());
    let idempotency = IdempotencyCache::new(16);
    for content_type in [None, Some("application/json"), Some("application/x-www-form-urlencoded"), Some(first)] {
        let answer = captcha::siteverify_body(&ring, &directory, &spent, &idempotency, content_type, data, now);
        assert!(!answer.success);
        assert!(!answer.to_json().is_empty());
    }
});
