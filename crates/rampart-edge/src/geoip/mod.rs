//! GeoIP: the client address's country (`ip.src.country`) and autonomous
//! system number (`ip.src.asnum`) from MaxMind-format (`.mmdb`) databases,
//! configured by `[geoip] country_db / asn_db`.
//!
//! Two record layouts are understood, per database:
//! - flat, as in the free ip-location-db databases: `country_code` (and
//!   `autonomous_system_number`);
//! - MaxMind GeoIP2/GeoLite2 (and DB-IP): `country.iso_code`, falling back to
//!   `registered_country.iso_code`; `autonomous_system_number` for ASN.
//!
//! A database is read whole into memory (no mmap, so no `unsafe`) and
//! verified end to end when loaded, so a lookup never walks a tree or data
//! section that was not checked. Lookups are lock-free: the current reader sits
//! in an [`ArcSwap`] and a reload swaps it atomically. [`GeoIp::watch`] polls
//! the files every [`POLL_INTERVAL`]; a changed file that fails to load keeps
//! the previous database in service and is reported once with a warning.
//!
//! Special-purpose addresses (private, loopback, link-local, documentation,
//! multicast, …) are never looked up: they have no country or ASN even where
//! a registry's data files them under one.

mod load;

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use maxminddb::PathElement;
use rampart_config::GeoipConfig;

use load::{
    ASN, FLAT_COUNTRY, Layout, Loaded, NESTED_COUNTRY, REGISTERED_COUNTRY, Stamp, load, log_loaded,
    stamp_of,
};

/// How often [`GeoIp::watch`] looks at the files' modification time and size.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Larger files are refused: the whole file is held in memory, and the biggest
/// commercial MaxMind databases are well under this. It also stops a path that
/// names something endless (a device, a FIFO) from being read forever.
pub const MAX_DATABASE_BYTES: u64 = 2 << 30;

/// How many records [`GeoIp::open`] samples to recognise a database's layout
/// (and to tell a country database from an ASN one).
const LAYOUT_SAMPLE: usize = 64;

/// What the databases say about one address. `Copy`, two words: cheap to put
/// in a request's context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct GeoFacts {
    /// ISO 3166-1 alpha-2, upper case ASCII (`*b"US"`). `None` without a
    /// country database, for addresses it does not cover (unallocated), for
    /// special-purpose addresses (private, loopback, documentation, …) and
    /// for records whose code is not two letters.
    pub country: Option<[u8; 2]>,
    /// Autonomous system number. `None` as for `country`.
    pub asn: Option<u32>,
}

impl GeoFacts {
    /// The country code as text (`"US"`).
    pub fn country_str(&self) -> Option<&str> {
        self.country
            .as_ref()
            .and_then(|code| std::str::from_utf8(code).ok())
    }
}

/// Which of the two databases a message or error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DbKind {
    Country,
    Asn,
}

impl DbKind {
    fn config_key(self) -> &'static str {
        match self {
            DbKind::Country => "country_db",
            DbKind::Asn => "asn_db",
        }
    }
}

impl fmt::Display for DbKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DbKind::Country => "country",
            DbKind::Asn => "ASN",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GeoIpError {
    #[error("GeoIP {kind} database {}: cannot read it: {source}", path.display())]
    Read {
        kind: DbKind,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("GeoIP {kind} database {}: not a regular file", path.display())]
    NotAFile { kind: DbKind, path: PathBuf },
    #[error(
        "GeoIP {kind} database {}: {len} bytes is more than the {MAX_DATABASE_BYTES}-byte limit",
        path.display()
    )]
    TooLarge {
        kind: DbKind,
        path: PathBuf,
        len: u64,
    },
    #[error("GeoIP {kind} database {}: not a valid MaxMind DB (.mmdb) file: {reason}", path.display())]
    Invalid {
        kind: DbKind,
        path: PathBuf,
        reason: String,
    },
    #[error(
        "GeoIP {kind} database {}: a valid .mmdb file, but its records have no {expected} \
         (is `{}` pointing at the wrong database?)",
        path.display(),
        kind.config_key()
    )]
    WrongContents {
        kind: DbKind,
        path: PathBuf,
        expected: &'static str,
    },
}

impl GeoIpError {
    /// The database file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            GeoIpError::Read { path, .. }
            | GeoIpError::NotAFile { path, .. }
            | GeoIpError::TooLarge { path, .. }
            | GeoIpError::Invalid { path, .. }
            | GeoIpError::WrongContents { path, .. } => path,
        }
    }
}

/// The outcome of one [`GeoIp::reload_if_changed`] pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    /// Databases whose file changed and was swapped in.
    pub reloaded: u32,
    /// Databases whose file changed (or vanished) but could not be loaded; the
    /// previous database stays in service.
    pub rejected: u32,
}

/// The configured GeoIP databases. Share it as `Arc<GeoIp>`; [`GeoIp::lookup`]
/// takes no lock and allocates nothing.
pub struct GeoIp {
    country: Option<Db>,
    asn: Option<Db>,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

impl fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoIp")
            .field("country_db", &self.country.as_ref().map(|db| &db.path))
            .field("asn_db", &self.asn.as_ref().map(|db| &db.path))
            .finish_non_exhaustive()
    }
}

/// One configured database file.
struct Db {
    kind: DbKind,
    path: PathBuf,
    loaded: ArcSwap<Loaded>,
    /// Watcher-only: the file state that last failed to load, so a bad file is
    /// warned about once rather than every poll until someone fixes it.
    rejected: Mutex<Option<Stamp>>,
}

impl GeoIp {
    /// Reads and verifies the configured databases. No database configured is
    /// fine: every lookup then answers "unknown". Blocking: each file is read
    /// whole and walked once (about 50 ms for the free databases in a
    /// release build).
    pub fn open(config: &GeoipConfig) -> Result<GeoIp, GeoIpError> {
        let open_one = |kind: DbKind, path: &Option<PathBuf>| -> Result<Option<Db>, GeoIpError> {
            let Some(path) = path else { return Ok(None) };
            let loaded = load(kind, path)?;
            log_loaded(kind, path, &loaded, "GeoIP database loaded");
            Ok(Some(Db {
                kind,
                path: path.clone(),
                loaded: ArcSwap::from_pointee(loaded),
                rejected: Mutex::new(None),
            }))
        };
        Ok(GeoIp {
            country: open_one(DbKind::Country, &config.country_db)?,
            asn: open_one(DbKind::Asn, &config.asn_db)?,
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
        })
    }

    /// A `GeoIp` with no databases: every lookup answers "unknown".
    pub fn disabled() -> GeoIp {
        GeoIp {
            country: None,
            asn: None,
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
        }
    }

    /// Country and ASN of `ip`. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`)
    /// is looked up as the IPv4 address. Never fails: anything the database
    /// cannot answer is `None`.
    pub fn lookup(&self, ip: IpAddr) -> GeoFacts {
        // Dual-stack listeners report IPv4 clients as mapped addresses; the
        // databases file IPv4 under its own subtree.
        let ip = ip.to_canonical();
        // Registries' whois files cover some special-purpose blocks (the free
        // country database places 192.168.0.0/16 in AU); an internal client
        // must not match a country rule.
        if is_special_purpose(ip) {
            return GeoFacts::default();
        }
        GeoFacts {
            country: self.country.as_ref().and_then(|db| db.country(ip)),
            asn: self.asn.as_ref().and_then(|db| db.asn(ip)),
        }
    }

    /// Whether a country database is configured (so `ip.src.country` can be
    /// anything but empty).
    pub fn has_country_db(&self) -> bool {
        self.country.is_some()
    }

    /// Whether an ASN database is configured.
    pub fn has_asn_db(&self) -> bool {
        self.asn.is_some()
    }

    /// Databases swapped in by reloads since [`GeoIp::open`].
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Changed files that could not be loaded (the old database was kept).
    pub fn reload_failures(&self) -> u64 {
        self.reload_failures.load(Ordering::Relaxed)
    }

    /// One polling pass: every database whose file changed since it was loaded
    /// is read and verified again and, if good, swapped in. Blocking file I/O
    /// and a full verification of changed files: call it off the async
    /// workers (as [`GeoIp::watch`] does) or from tests.
    pub fn reload_if_changed(&self) -> ReloadSummary {
        let mut summary = ReloadSummary::default();
        for db in [&self.country, &self.asn].into_iter().flatten() {
            match db.reload_if_changed() {
                Reload::Unchanged => {}
                Reload::Swapped => {
                    summary.reloaded += 1;
                    self.reloads.fetch_add(1, Ordering::Relaxed);
                }
                Reload::Rejected => {
                    summary.rejected += 1;
                    self.reload_failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        summary
    }

    /// Starts a task that calls [`GeoIp::reload_if_changed`] every
    /// [`POLL_INTERVAL`] (on the blocking pool). The task holds only a weak
    /// reference and ends once the last `Arc<GeoIp>` is dropped; with no
    /// database configured it ends at once. Must be called inside a tokio
    /// runtime.
    pub fn watch(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        let configured = self.country.is_some() || self.asn.is_some();
        let weak = Arc::downgrade(&self);
        drop(self);
        tokio::spawn(async move {
            if !configured {
                return;
            }
            let mut tick = tokio::time::interval(POLL_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick completes immediately; the files were just loaded.
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(geo) = weak.upgrade() else { return };
                // A changed file means reading and verifying up to hundreds of
                // megabytes: not on an async worker.
                if tokio::task::spawn_blocking(move || geo.reload_if_changed())
                    .await
                    .is_err()
                {
                    // The pass panicked or the runtime is shutting down.
                    return;
                }
            }
        })
    }
}

impl Loaded {
    fn lookup(&self, ip: IpAddr) -> Option<maxminddb::LookupResult<'_, Vec<u8>>> {
        // The reader answers an IPv6 address in an IPv4-only database with an
        // error whose message is allocated; asking is pointless anyway.
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return None;
        }
        self.reader.lookup(ip).ok()
    }
}

enum Reload {
    Unchanged,
    Swapped,
    Rejected,
}

impl Db {
    fn country(&self, ip: IpAddr) -> Option<[u8; 2]> {
        let loaded = self.loaded.load();
        // Errors here are "not answerable", never fatal (a record of an
        // unexpected type).
        let found = loaded.lookup(ip)?;
        if !found.has_data() {
            return None;
        }
        let code = |path: &[PathElement<'_>]| -> Option<[u8; 2]> {
            found
                .decode_path::<&str>(path)
                .ok()
                .flatten()
                .and_then(iso_alpha2)
        };
        // The layout seen at load comes first; the other is a fallback for
        // databases that mix layouts or whose sampled records were atypical.
        match loaded.layout {
            Layout::NestedCountry => code(&NESTED_COUNTRY)
                .or_else(|| code(&REGISTERED_COUNTRY))
                .or_else(|| code(&FLAT_COUNTRY)),
            Layout::FlatCountry | Layout::Asn => code(&FLAT_COUNTRY)
                .or_else(|| code(&NESTED_COUNTRY))
                .or_else(|| code(&REGISTERED_COUNTRY)),
        }
    }

    fn asn(&self, ip: IpAddr) -> Option<u32> {
        let loaded = self.loaded.load();
        let found = loaded.lookup(ip)?;
        found.decode_path::<u32>(&ASN).ok().flatten()
    }

    fn reload_if_changed(&self) -> Reload {
        let mut rejected = self.rejected.lock().unwrap_or_else(PoisonError::into_inner);
        let stamp = match stamp_of(&self.path) {
            Ok(stamp) => stamp,
            Err(error) => {
                // Deleted or unreadable: keep serving what we have. A stamp
                // that cannot match a real file marks the state as reported.
                let gone = Stamp {
                    modified: None,
                    len: u64::MAX,
                    inode: u64::MAX,
                };
                if *rejected == Some(gone) {
                    return Reload::Unchanged;
                }
                *rejected = Some(gone);
                tracing::warn!(
                    database = %self.kind,
                    path = %self.path.display(),
                    %error,
                    "GeoIP database file cannot be read; keeping the loaded database"
                );
                return Reload::Rejected;
            }
        };
        if stamp == self.loaded.load().stamp || Some(stamp) == *rejected {
            return Reload::Unchanged;
        }
        match load(self.kind, &self.path) {
            // Still being written: its state moved while we read it. The next
            // poll sees it settled; a half-written file is not worth a warning.
            Ok(loaded) if loaded.stamp != stamp => Reload::Unchanged,
            Err(_) if stamp_of(&self.path).ok() != Some(stamp) => Reload::Unchanged,
            Ok(loaded) => {
                log_loaded(self.kind, &self.path, &loaded, "GeoIP database reloaded");
                self.loaded.store(Arc::new(loaded));
                *rejected = None;
                Reload::Swapped
            }
            Err(error) => {
                *rejected = Some(stamp);
                tracing::warn!(
                    database = %self.kind,
                    path = %self.path.display(),
                    %error,
                    "GeoIP database file changed but cannot be used; keeping the loaded database"
                );
                Reload::Rejected
            }
        }
    }
}

/// Addresses that belong to no one on the public internet (RFC 6890 and the
/// IANA special-purpose registries): private, shared (CGNAT), loopback,
/// link-local, documentation, benchmarking, multicast, reserved, unique local,
/// discard-only, and the deprecated IPv4-compatible `::a.b.c.d`.
fn is_special_purpose(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            a == 0
                || a == 10
                || a == 127
                || a >= 224
                || (a == 100 && (64..128).contains(&b))
                || (a == 169 && b == 254)
                || (a == 172 && (16..32).contains(&b))
                || (a == 192 && b == 168)
                || (a == 192 && b == 0 && (c == 0 || c == 2))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
        }
        IpAddr::V6(v6) => {
            let [s0, s1, s2, s3, s4, s5, ..] = v6.segments();
            // ::/96 covers :: and ::1 too; ::ffff:0:0/96 was made IPv4 above.
            (s0 | s1 | s2 | s3 | s4 | s5) == 0
                || (s0 & 0xfe00) == 0xfc00
                || (s0 & 0xffc0) == 0xfe80
                || (s0 & 0xff00) == 0xff00
                || (s0 == 0x2001 && s1 == 0x0db8)
                || (s0 == 0x3fff && s1 < 0x1000)
                || (s0 == 0x0100 && (s1 | s2 | s3) == 0)
        }
    }
}

/// Upper-cases a two-letter code; anything else (empty, "-", "EU1") is no
/// country.
fn iso_alpha2(code: &str) -> Option<[u8; 2]> {
    match *code.as_bytes() {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha2_codes_are_two_letters_upper_cased() {
        assert_eq!(iso_alpha2("us"), Some(*b"US"));
        assert_eq!(iso_alpha2("DE"), Some(*b"DE"));
        assert_eq!(iso_alpha2(""), None);
        assert_eq!(iso_alpha2("-"), None);
        assert_eq!(iso_alpha2("A1"), None);
        assert_eq!(iso_alpha2("USA"), None);
        assert_eq!(iso_alpha2("é"), None);
    }

    #[test]
    fn special_purpose_addresses() {
        for ip in [
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.5",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::10.0.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_special_purpose(ip), "{ip} is special-purpose");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.3.1",
            "198.20.0.1",
            "223.255.255.255",
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "3fff:1000::1",
            "2a00:1450::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_special_purpose(ip), "{ip} is global");
        }
    }

    #[test]
    fn disabled_knows_nothing() {
        let geo = GeoIp::disabled();
        assert_eq!(geo.lookup("8.8.8.8".parse().unwrap()), GeoFacts::default());
        assert_eq!(geo.reload_if_changed(), ReloadSummary::default());
    }

    #[test]
    fn country_str_reads_the_code() {
        let facts = GeoFacts {
            country: Some(*b"NZ"),
            asn: None,
        };
        assert_eq!(facts.country_str(), Some("NZ"));
        assert_eq!(GeoFacts::default().country_str(), None);
    }
}
