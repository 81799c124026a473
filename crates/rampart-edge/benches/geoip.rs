//! Lookup cost for `bench/results/geoip-*.md`:
//! `cargo bench -p rampart-edge --bench geoip` (release profile). Reads the
//! databases `scripts/fetch-geoip.sh` fetches, from `$RAMPART_TEST_GEOIP_DIR`
//! or `target/geoip`. A plain timed loop: the figure of interest is the
//! average over addresses spread across allocated space, not one address.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rampart_config::GeoipConfig;
use rampart_edge::geoip::{GeoFacts, GeoIp};

fn db(name: &str) -> PathBuf {
    let dir = std::env::var_os("RAMPART_TEST_GEOIP_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/geoip"),
        PathBuf::from,
    );
    let path = dir.join(name);
    if !path.is_file() {
        eprintln!(
            "{} is missing: run `bash scripts/fetch-geoip.sh {}` first",
            path.display(),
            dir.display()
        );
        std::process::exit(2);
    }
    path
}

fn config(country: Option<PathBuf>, asn: Option<PathBuf>) -> GeoipConfig {
    GeoipConfig {
        country_db: country,
        asn_db: asn,
    }
}

fn main() {
    // Addresses spread over allocated space: random IPv4, and IPv6 under
    // prefixes of large networks (random IPv6 would be mostly unallocated).
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let v6_prefixes: [u128; 6] = [
        0x2001_4860 << 96,
        0x2606_4700 << 96,
        0x2a00_1450 << 96,
        0x2400_cb00 << 96,
        0x2a03_2880 << 96,
        0x2600_1f18 << 96,
    ];
    let addrs: Vec<IpAddr> = (0..4096)
        .map(|i| {
            let r = next();
            if i % 4 == 3 {
                let prefix = v6_prefixes[(r % 6) as usize];
                IpAddr::from(std::net::Ipv6Addr::from(
                    prefix | u128::from(next() >> 32) << 32 | u128::from(r as u32),
                ))
            } else {
                IpAddr::from(std::net::Ipv4Addr::from((r >> 16) as u32))
            }
        })
        .collect();

    let measure = |name: &str, geo: &GeoIp| {
        let rounds = 500;
        let mut hits = 0u64;
        for addr in &addrs {
            hits += u64::from(geo.lookup(*addr) != GeoFacts::default());
        }
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            for addr in &addrs {
                std::hint::black_box(geo.lookup(std::hint::black_box(*addr)));
            }
        }
        let per = started.elapsed().as_nanos() as f64 / (rounds * addrs.len()) as f64;
        println!(
            "{name}: {per:.0} ns/lookup ({hits} of {} addresses known)",
            addrs.len()
        );
    };
    let both = GeoIp::open(&config(Some(db("country.mmdb")), Some(db("asn.mmdb")))).unwrap();
    measure("country.mmdb + asn.mmdb", &both);
    let country = GeoIp::open(&config(Some(db("country.mmdb")), None)).unwrap();
    measure("country.mmdb (flat country_code)", &country);
    let asn = GeoIp::open(&config(None, Some(db("asn.mmdb")))).unwrap();
    measure("asn.mmdb", &asn);
    let geolite = GeoIp::open(&config(Some(db("GeoLite2-Country.mmdb")), None)).unwrap();
    measure("GeoLite2-Country.mmdb (country.iso_code)", &geolite);

    let started = std::time::Instant::now();
    let _ = GeoIp::open(&config(Some(db("country.mmdb")), None)).unwrap();
    println!("open + verify country.mmdb: {:?}", started.elapsed());
    let started = std::time::Instant::now();
    let _ = GeoIp::open(&config(None, Some(db("asn.mmdb")))).unwrap();
    println!("open + verify asn.mmdb: {:?}", started.elapsed());
}
