//! Costs of the challenge core on one thread. Targets (from the spec):
//! `pow_verify_sha256` ≤ 5 µs, `clearance_check` ≤ 2 µs, `siteverify`
//! ≤ 50 µs including the body parse (≥ 20,000/s on one core).
//!
//! Single-use checks need a fresh challenge or token per iteration: they
//! are made in criterion's untimed setup, and a virtual clock advances one
//! second per thousand iterations so the spent set holds about 300,000 live
//! ids (steady state at 1,000 redemptions/s), never fills, and the timed
//! path is the success path (asserted).

use std::cell::Cell;
use std::hint::black_box;
use std::net::IpAddr;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rampart_challenge::captcha::{self, IdempotencyCache, MapDirectory, Sitekey};
use rampart_challenge::*;

const T0: u64 = 1_795_851_600;
const SITE: &str = "shop.example";
const UA: &[u8] = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn ring() -> KeyRing {
    KeyRing::new(
        SigningKey {
            id: 2,
            secret: [2; 32],
        },
        Some(SigningKey {
            id: 1,
            secret: [1; 32],
        }),
    )
}

fn ip() -> IpAddr {
    IpAddr::from([203, 0, 113, 45])
}

/// A clock that moves one second per thousand reads.
struct VirtualClock(Cell<u64>);

impl VirtualClock {
    fn tick(&self) -> u64 {
        let n = self.0.get() + 1;
        self.0.set(n);
        T0 + n / 1000
    }
}

fn pow_benches(c: &mut Criterion) {
    let ring = ring();
    let policy = PrefixPolicy::default();
    let mut g = c.benchmark_group("pow");
    g.throughput(Throughput::Elements(1));

    // Difficulty 0: any nonce solves it, and the verifier's work (format,
    // MAC, spent set, one SHA-256) does not depend on the difficulty.
    let params = PowParams {
        difficulty: 0,
        ..PowParams::DEFAULT_SHA256
    };
    let spent = LocalSpentSet::new(1_000_000);
    let clock = VirtualClock(Cell::new(0));
    g.bench_function("pow_verify_sha256", |b| {
        b.iter_batched(
            || {
                let now = clock.tick();
                let ch = pow::issue(&ring, SITE, ip(), &policy, &params, now).unwrap();
                (ch, now)
            },
            |(ch, now)| {
                let r = pow::verify(&ring, &ch, "12345", SITE, ip(), &policy, now, &spent);
                assert!(r.is_ok());
                r
            },
            BatchSize::SmallInput,
        )
    });

    // What a forged or replayed challenge costs the edge (no hash, no lock).
    let forged = pow::issue(&ring, "other", ip(), &policy, &params, T0).unwrap();
    g.bench_function("pow_verify_sha256_bad_signature", |b| {
        b.iter(|| {
            let r = pow::verify(
                &ring,
                black_box(&forged),
                "1",
                SITE,
                ip(),
                &policy,
                T0,
                &spent,
            );
            assert_eq!(r, Err(PowError::BadSignature));
        })
    });

    g.bench_function("pow_issue", |b| {
        b.iter(|| {
            pow::issue(
                &ring,
                SITE,
                black_box(ip()),
                &policy,
                &PowParams::DEFAULT_SHA256,
                T0,
            )
        })
    });
    g.finish();
}

fn scrypt_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("scrypt");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    let input = b"p1.AQAAAAEAAAAAaSlqMAAAAABpKWtcAQQMCAEAAQIDBAUGBwgJCgsMDQ4P:42";
    let Algorithm::Scrypt { n_log2, r, p } = PowParams::DEFAULT_SCRYPT.algorithm else {
        unreachable!("the default memory-hard params are scrypt")
    };
    g.bench_function(format!("scrypt_hash_default_n{n_log2}_r{r}_p{p}"), |b| {
        b.iter(|| scrypt_hash(black_box(input), n_log2, r, p))
    });
    // For choosing the default: the next two sizes up.
    for n in [11u8, 12] {
        g.bench_function(format!("scrypt_hash_n{n}_r8_p1"), |b| {
            b.iter(|| scrypt_hash(black_box(input), n, 8, 1))
        });
    }
    g.finish();
}

fn clearance_benches(c: &mut Criterion) {
    let ring = ring();
    let policy = PrefixPolicy::default();
    let cookie = clearance::issue(&ring, SITE, ip(), &policy, UA, T0 + 1800);
    let header = format!(
        "_ga=GA1.2.1234567890.1700000000; theme=dark; session=abcdef0123456789abcdef; {}={cookie}; consent=yes",
        clearance::COOKIE_NAME
    );
    let mut g = c.benchmark_group("clearance");
    g.throughput(Throughput::Elements(1));
    g.bench_function("clearance_check", |b| {
        b.iter(|| {
            let r = clearance::check(
                &ring,
                black_box(&cookie),
                SITE,
                ip(),
                &policy,
                black_box(UA),
                T0,
            );
            assert!(r.is_ok());
        })
    });
    g.bench_function("clearance_check_header", |b| {
        b.iter(|| {
            let r = clearance::check_header(&ring, black_box(&header), SITE, ip(), &policy, UA, T0);
            assert!(r.is_ok());
        })
    });
    g.bench_function("clearance_issue", |b| {
        b.iter(|| clearance::issue(&ring, SITE, black_box(ip()), &policy, UA, T0 + 1800))
    });
    g.finish();
}

fn siteverify_benches(c: &mut Criterion) {
    let ring = ring();
    let dir = MapDirectory::new((0..1000).map(|i| Sitekey {
        sitekey: format!("rk_site{i}"),
        secret_hash: captcha::secret_hash(&format!("rs_secret{i}")),
        hostnames: vec![format!("www{i}.example"), format!("shop{i}.example")],
        suspended: false,
    }));
    let spent = LocalSpentSet::new(1_000_000);
    let idem = IdempotencyCache::new(100_000);
    let clock = VirtualClock(Cell::new(0));
    let mut g = c.benchmark_group("captcha");
    g.throughput(Throughput::Elements(1));
    let fresh = |json: bool| {
        let now = clock.tick();
        let token =
            captcha::issue_token(&ring, "rk_site7", "shop7.example", "login", "", now).unwrap();
        let body = if json {
            format!(r#"{{"secret":"rs_secret7","response":"{token}","remoteip":"203.0.113.45"}}"#)
        } else {
            format!("secret=rs_secret7&response={token}&remoteip=203.0.113.45")
        };
        (body, now)
    };
    for (name, json, ct) in [
        (
            "siteverify_form",
            false,
            "application/x-www-form-urlencoded",
        ),
        ("siteverify_json", true, "application/json"),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || fresh(json),
                |(body, now)| {
                    let r = captcha::siteverify_body(
                        &ring,
                        &dir,
                        &spent,
                        &idem,
                        Some(ct),
                        body.as_bytes(),
                        now,
                    );
                    assert!(r.success, "{r:?}");
                    r.to_json()
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.bench_function("issue_token", |b| {
        b.iter(|| {
            captcha::issue_token(
                &ring,
                "rk_site7",
                black_box("shop7.example"),
                "login",
                "",
                T0,
            )
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    pow_benches,
    clearance_benches,
    siteverify_benches,
    scrypt_benches
);
criterion_main!(benches);
