//! `GeoIp::lookup` allocates nothing, for found, missing, special-purpose and
//! IPv4-mapped addresses alike, in both record layouts.
//!
//! A counting global allocator sees every allocation of this process, so this
//! file holds a single test: no other test thread allocates meanwhile.

use std::alloc::System;
use std::net::IpAddr;
use std::path::PathBuf;

use rampart_config::GeoipConfig;
use rampart_edge::geoip::GeoIp;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The databases `scripts/fetch-geoip.sh` fetched (see tests/geoip.rs).
fn geoip_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RAMPART_TEST_GEOIP_DIR") {
        return PathBuf::from(dir);
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("target/geoip");
    let status = std::process::Command::new("bash")
        .arg(root.join("scripts/fetch-geoip.sh"))
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run scripts/fetch-geoip.sh");
    assert!(status.success(), "scripts/fetch-geoip.sh failed");
    dir
}

#[test]
fn lookups_allocate_nothing() {
    let dir = geoip_dir();
    let flat = GeoIp::open(&GeoipConfig {
        country_db: Some(dir.join("country.mmdb")),
        asn_db: Some(dir.join("asn.mmdb")),
    })
    .unwrap();
    let nested = GeoIp::open(&GeoipConfig {
        country_db: Some(dir.join("GeoLite2-Country.mmdb")),
        asn_db: None,
    })
    .unwrap();
    let v4_only = GeoIp::open(&GeoipConfig {
        country_db: Some(dir.join("country-ipv4.mmdb")),
        asn_db: None,
    })
    .unwrap();
    let addrs: Vec<IpAddr> = [
        "8.8.8.8",
        "1.1.1.1",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",
        "10.0.0.1",
        "2001:db8::1",
        "4000::1",
        "193.0.14.129",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    // Warm up: the ArcSwap debt slots of this thread are taken on first use.
    for geo in [&flat, &nested, &v4_only] {
        for addr in &addrs {
            std::hint::black_box(geo.lookup(*addr));
        }
    }
    let region = Region::new(GLOBAL);
    let mut known = 0;
    for _ in 0..100 {
        for geo in [&flat, &nested, &v4_only] {
            for addr in &addrs {
                known += usize::from(geo.lookup(*addr).country.is_some());
            }
        }
    }
    let stats = region.change();
    assert!(known > 0);
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "lookups allocated: {stats:?}"
    );
}
