//! The clearance check runs on every request of a challenged site: it must
//! not allocate (one SHA-256, one HMAC from the pre-keyed state, a compare).
//!
//! A counting global allocator sees every allocation of this process, so this
//! file runs without the libtest harness (`harness = false`): its main thread
//! is the only thread, and nothing else allocates while it measures.
#![forbid(unsafe_code)]

use std::alloc::System;
use std::net::IpAddr;

use rampart_challenge::{ClearanceError, KeyRing, PrefixPolicy, SigningKey, clearance};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const NOW: u64 = 1_795_851_600;

fn main() {
    let ring = KeyRing::new(
        SigningKey {
            id: 2,
            secret: [2; 32],
        },
        Some(SigningKey {
            id: 1,
            secret: [1; 32],
        }),
    );
    let policy = PrefixPolicy::default();
    let v4: IpAddr = "192.0.2.9".parse().unwrap();
    let v6: IpAddr = "2001:db8::9".parse().unwrap();
    let ua = b"Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";
    let good = clearance::issue(&ring, "site", v4, &policy, ua, NOW + 60);
    let good6 = clearance::issue(&ring, "site", v6, &policy, ua, NOW + 60);
    let header = format!("a=1; {}={good}; b=2", clearance::COOKIE_NAME);
    let forged = good.replace(".2.", ".3.");

    let region = Region::new(GLOBAL);
    for _ in 0..1000 {
        assert_eq!(
            clearance::check(&ring, &good, "site", v4, &policy, ua, NOW),
            Ok(())
        );
        assert_eq!(
            clearance::check(&ring, &good6, "site", v6, &policy, ua, NOW),
            Ok(())
        );
        assert!(clearance::check(&ring, &good, "site", v4, &policy, b"curl", NOW).is_err());
        assert!(clearance::check(&ring, &forged, "site", v4, &policy, ua, NOW).is_err());
        assert_eq!(
            clearance::check(&ring, &good, "site", v4, &policy, ua, NOW + 60),
            Err(ClearanceError::Expired)
        );
        assert_eq!(
            clearance::check_header(&ring, &header, "site", v4, &policy, ua, NOW),
            Ok(())
        );
        assert!(clearance::check(&ring, "c1.garbage", "site", v4, &policy, ua, NOW).is_err());
    }
    let stats = region.change();
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "the clearance check allocated: {stats:?}"
    );
    println!("no_alloc: clearance checks allocate nothing: ok");
}
