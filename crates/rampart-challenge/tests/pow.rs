//! Proof-of-work challenges: what a verifier must refuse, one case each.

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_challenge::pow::{self, ChallengeJson, ParamsError};
use rampart_challenge::*;

const NOW: u64 = 1_795_851_600;
const SITE: &str = "shop.example";

fn key(id: u32) -> SigningKey {
    SigningKey {
        id,
        secret: [id as u8; 32],
    }
}

fn ring() -> KeyRing {
    KeyRing::new(key(1), None)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn params(difficulty: u8) -> PowParams {
    PowParams {
        algorithm: Algorithm::Sha256,
        difficulty,
        ttl_secs: 300,
    }
}

/// A challenge for 192.0.2.10 and its solution.
fn solved(ring: &KeyRing, p: &PowParams) -> (String, String) {
    let c = pow::issue(
        ring,
        SITE,
        ip("192.0.2.10"),
        &PrefixPolicy::default(),
        p,
        NOW,
    )
    .unwrap();
    let n = pow::solve(&c, 1 << 24).expect("solvable").to_string();
    (c, n)
}

fn verify_at(
    ring: &KeyRing,
    c: &str,
    n: &str,
    site: &str,
    addr: &str,
    now: u64,
) -> Result<Passed, PowError> {
    let spent = LocalSpentSet::new(1000);
    pow::verify(
        ring,
        c,
        n,
        site,
        ip(addr),
        &PrefixPolicy::default(),
        now,
        &spent,
    )
}

fn verify(ring: &KeyRing, c: &str, n: &str) -> Result<Passed, PowError> {
    verify_at(ring, c, n, SITE, "192.0.2.10", NOW + 1)
}

#[test]
fn solved_challenge_passes_once() {
    let ring = ring();
    let (c, n) = solved(&ring, &params(10));
    assert_eq!(c.len(), pow::CHALLENGE_LEN);
    assert_eq!(c.len(), 81);
    let spent = LocalSpentSet::new(1000);
    let policy = PrefixPolicy::default();
    let passed = pow::verify(
        &ring,
        &c,
        &n,
        SITE,
        ip("192.0.2.10"),
        &policy,
        NOW + 1,
        &spent,
    )
    .unwrap();
    assert_eq!(passed.challenge.difficulty, 10);
    assert_eq!(passed.challenge.expires, NOW + 300);
    assert_eq!(
        pow::verify(
            &ring,
            &c,
            &n,
            SITE,
            ip("192.0.2.10"),
            &policy,
            NOW + 2,
            &spent
        ),
        Err(PowError::Replayed)
    );
}

#[test]
fn scrypt_challenge_passes() {
    let ring = ring();
    let p = PowParams {
        algorithm: Algorithm::Scrypt {
            n_log2: 4,
            r: 1,
            p: 1,
        },
        difficulty: 4,
        ttl_secs: 60,
    };
    let (c, n) = solved(&ring, &p);
    let info = pow::decode(&c).unwrap();
    assert_eq!(info.algorithm, p.algorithm);
    assert!(verify(&ring, &c, &n).is_ok());
    // The same nonce does not satisfy the SHA-256 reading of the string:
    // the algorithm is part of what was signed, and a different hash.
    let sha = scrypt_hash(format!("{c}:{n}").as_bytes(), 4, 1, 1).unwrap();
    assert!(pow::leading_zero_bits(&sha) >= 4);
}

/// Every single-bit change to the payload or the tag is caught by the
/// format check or the MAC, never reaching the work or the spent set.
#[test]
fn every_flipped_bit_is_refused() {
    let ring = ring();
    let (c, n) = solved(&ring, &params(4));
    let raw = URL_SAFE_NO_PAD.decode(&c[3..]).unwrap();
    assert_eq!(raw.len(), 58);
    for byte in 0..raw.len() {
        for bit in 0..8 {
            let mut forged = raw.clone();
            forged[byte] ^= 1 << bit;
            let text = format!("p1.{}", URL_SAFE_NO_PAD.encode(&forged));
            let err = verify(&ring, &text, &n).unwrap_err();
            assert!(
                matches!(
                    err,
                    PowError::Malformed | PowError::BadSignature | PowError::UnknownKey
                ),
                "byte {byte} bit {bit}: {err:?}"
            );
            if byte >= 42 {
                assert_eq!(err, PowError::BadSignature, "tag byte {byte}");
            }
        }
    }
    // And each character of the text replaced by another.
    for i in 0..c.len() {
        let mut t = c.clone().into_bytes();
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).unwrap();
        assert!(verify(&ring, &t, &n).is_err(), "char {i}");
    }
    assert!(verify(&ring, &c, &n).is_ok());
}

#[test]
fn bound_to_site_and_prefix() {
    let ring = ring();
    let (c, n) = solved(&ring, &params(4));
    assert_eq!(
        verify_at(&ring, &c, &n, "other.example", "192.0.2.10", NOW).unwrap_err(),
        PowError::BadSignature
    );
    assert_eq!(
        verify_at(&ring, &c, &n, "shop.example\0", "192.0.2.10", NOW).unwrap_err(),
        PowError::BadSignature
    );
    // Same /24, other host: accepted (the default policy binds the /24).
    assert!(verify_at(&ring, &c, &n, SITE, "192.0.2.200", NOW).is_ok());
    assert!(verify_at(&ring, &c, &n, SITE, "::ffff:192.0.2.99", NOW).is_ok());
    assert_eq!(
        verify_at(&ring, &c, &n, SITE, "192.0.3.10", NOW).unwrap_err(),
        PowError::BadSignature
    );
    assert_eq!(
        verify_at(&ring, &c, &n, SITE, "2001:db8::1", NOW).unwrap_err(),
        PowError::BadSignature
    );
    // A /32 policy at verification is a different binding.
    let spent = LocalSpentSet::new(10);
    let strict = PrefixPolicy::new(32, 128).unwrap();
    assert_eq!(
        pow::verify(&ring, &c, &n, SITE, ip("192.0.2.10"), &strict, NOW, &spent),
        Err(PowError::BadSignature)
    );
}

#[test]
fn ipv6_binds_the_64() {
    let ring = ring();
    let policy = PrefixPolicy::default();
    let c = pow::issue(&ring, SITE, ip("2001:db8:1:2::5"), &policy, &params(2), NOW).unwrap();
    let n = pow::solve(&c, 1 << 16).unwrap().to_string();
    assert!(verify_at(&ring, &c, &n, SITE, "2001:db8:1:2:ffff::1", NOW).is_ok());
    assert!(verify_at(&ring, &c, &n, SITE, "2001:db8:1:3::5", NOW).is_err());
}

#[test]
fn expiry() {
    let ring = ring();
    let (c, n) = solved(&ring, &params(4));
    assert!(verify_at(&ring, &c, &n, SITE, "192.0.2.10", NOW + 299).is_ok());
    assert_eq!(
        verify_at(&ring, &c, &n, SITE, "192.0.2.10", NOW + 300).unwrap_err(),
        PowError::Expired
    );
}

#[test]
fn wrong_work_burns_the_challenge_bad_nonce_text_does_not() {
    let ring = ring();
    let (c, n) = solved(&ring, &params(12));
    let spent = LocalSpentSet::new(100);
    let policy = PrefixPolicy::default();
    let v = |nonce: &str| {
        pow::verify(
            &ring,
            &c,
            nonce,
            SITE,
            ip("192.0.2.10"),
            &policy,
            NOW,
            &spent,
        )
    };
    for bad in [
        "",
        "+1",
        "01",
        "-1",
        "1.0",
        "abc",
        "18446744073709551616",
        " 1",
    ] {
        assert_eq!(v(bad), Err(PowError::Malformed), "{bad:?}");
    }
    let wrong = (0u64..)
        .map(|i| i.to_string())
        .find(|s| {
            let h = <sha2::Sha256 as sha2::Digest>::digest(format!("{c}:{s}"));
            pow::leading_zero_bits(&h) < 12
        })
        .unwrap();
    assert_eq!(v(&wrong), Err(PowError::InsufficientWork));
    // Redeemed before the hash was computed: the right answer now is late.
    assert_eq!(v(&n), Err(PowError::Replayed));
}

#[test]
fn key_rotation() {
    let old = ring();
    let (c, n) = solved(&old, &params(4));
    let rotated = KeyRing::new(key(2), Some(key(1)));
    assert!(verify(&rotated, &c, &n).is_ok());
    let again = KeyRing::new(key(3), Some(key(2)));
    assert_eq!(verify(&again, &c, &n).unwrap_err(), PowError::UnknownKey);
    // New challenges are signed with the new current key.
    let (c2, _) = solved(&rotated, &params(1));
    assert_eq!(pow::decode(&c2).unwrap().key_id, 2);
    // Same id, other secret: a forgery, not an unknown key.
    let impostor = KeyRing::new(
        SigningKey {
            id: 1,
            secret: [9; 32],
        },
        None,
    );
    assert_eq!(
        verify(&impostor, &c, &n).unwrap_err(),
        PowError::BadSignature
    );
}

#[test]
fn issue_refuses_out_of_range_params() {
    let ring = ring();
    let policy = PrefixPolicy::default();
    let at = |p: PowParams| pow::issue(&ring, SITE, ip("192.0.2.1"), &policy, &p, NOW);
    assert_eq!(at(params(33)), Err(ParamsError::Difficulty(33, 32)));
    assert!(at(params(32)).is_ok());
    let scrypt = |n_log2, r, p, d| PowParams {
        algorithm: Algorithm::Scrypt { n_log2, r, p },
        difficulty: d,
        ttl_secs: 60,
    };
    assert!(at(scrypt(17, 8, 1, 1)).is_err());
    assert!(at(scrypt(12, 17, 1, 1)).is_err());
    assert!(at(scrypt(12, 8, 5, 1)).is_err());
    assert!(at(scrypt(12, 8, 1, 17)).is_err());
    assert!(at(scrypt(12, 8, 1, 16)).is_ok());
}

#[test]
fn decode_and_page_json() {
    let ring = ring();
    let c = pow::issue(
        &ring,
        SITE,
        ip("192.0.2.1"),
        &PrefixPolicy::default(),
        &PowParams::DEFAULT_SCRYPT,
        NOW,
    )
    .unwrap();
    let info = pow::decode(&c).unwrap();
    assert_eq!(
        (info.key_id, info.issued, info.expires),
        (1, NOW, NOW + 300)
    );
    let page = ChallengeJson::new(
        &c,
        Some("/.rampart/challenge/v1/verify"),
        Some("/a?b=</script>&c"),
    )
    .unwrap();
    assert_eq!(
        page.to_json(),
        format!(
            r#"{{"challenge":"{c}","algorithm":"scrypt","difficulty":5,"scrypt":{{"n_log2":10,"r":8,"p":1}},"submit":"/.rampart/challenge/v1/verify","return":"/a?b=</script>&c","expires":{}}}"#,
            NOW + 300
        )
    );
    let script = page.to_script_json();
    assert!(!script.contains('<') && !script.contains('&'));
    let back: serde_json::Value = serde_json::from_str(&script).unwrap();
    assert_eq!(back["return"], "/a?b=</script>&c");
    let widget = ChallengeJson::new(&c, None, None).unwrap().to_json();
    assert!(!widget.contains("submit") && !widget.contains("return"));
    assert_eq!(pow::decode("p1.AAAA"), Err(PowError::Malformed));
}
