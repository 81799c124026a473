//! Loading one database file: read it whole, verify every record, and find
//! which record layout it uses. Kept apart from the lookup side so the
//! checks a reload relies on read in one place.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::SystemTime;

use maxminddb::{PathElement, Reader, WithinOptions};

use super::{DbKind, GeoIpError, LAYOUT_SAMPLE, MAX_DATABASE_BYTES};

pub(super) struct Loaded {
    pub(super) reader: Reader<Vec<u8>>,
    pub(super) stamp: Stamp,
    pub(super) layout: Layout,
}

/// What identifies a version of a file without reading it. The inode catches
/// an atomic rename of a same-sized file whose mtime was preserved (`cp -p`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub(super) modified: Option<SystemTime>,
    pub(super) len: u64,
    pub(super) inode: u64,
}

/// Where a database keeps the field we want, recognised once at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// `country_code` at the top of the record (ip-location-db).
    FlatCountry,
    /// `country.iso_code` / `registered_country.iso_code` (MaxMind, DB-IP).
    NestedCountry,
    /// `autonomous_system_number` at the top (MaxMind and ip-location-db alike).
    Asn,
}

pub(super) const FLAT_COUNTRY: [PathElement<'static>; 1] = [PathElement::Key("country_code")];
pub(super) const NESTED_COUNTRY: [PathElement<'static>; 2] =
    [PathElement::Key("country"), PathElement::Key("iso_code")];
pub(super) const REGISTERED_COUNTRY: [PathElement<'static>; 2] = [
    PathElement::Key("registered_country"),
    PathElement::Key("iso_code"),
];
pub(super) const ASN: [PathElement<'static>; 1] = [PathElement::Key("autonomous_system_number")];

pub(super) fn stamp_of(path: &Path) -> io::Result<Stamp> {
    let meta = std::fs::metadata(path)?;
    Ok(stamp_from(&meta))
}

pub(super) fn stamp_from(meta: &std::fs::Metadata) -> Stamp {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    }
}

/// Reads, parses and fully verifies one database file. The stamp is taken
/// before reading, so a file replaced during the read is seen as changed again.
pub(super) fn load(kind: DbKind, path: &Path) -> Result<Loaded, GeoIpError> {
    let read_error = |source| GeoIpError::Read {
        kind,
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    if !meta.is_file() {
        return Err(GeoIpError::NotAFile {
            kind,
            path: path.to_owned(),
        });
    }
    if meta.len() > MAX_DATABASE_BYTES {
        return Err(GeoIpError::TooLarge {
            kind,
            path: path.to_owned(),
            len: meta.len(),
        });
    }
    let stamp = stamp_from(&meta);
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // `take` bounds the read even if the file grows after the size check.
    (&mut file)
        .take(MAX_DATABASE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_DATABASE_BYTES {
        return Err(GeoIpError::TooLarge {
            kind,
            path: path.to_owned(),
            len: bytes.len() as u64,
        });
    }
    let invalid = |error: maxminddb::MaxMindDbError| GeoIpError::Invalid {
        kind,
        path: path.to_owned(),
        reason: error.to_string(),
    };
    let reader = Reader::from_source(bytes).map_err(invalid)?;
    verify(&reader).map_err(invalid)?;
    let layout = detect_layout(kind, &reader).ok_or_else(|| GeoIpError::WrongContents {
        kind,
        path: path.to_owned(),
        expected: match kind {
            DbKind::Country => "`country_code` or `country.iso_code` field",
            DbKind::Asn => "`autonomous_system_number` field",
        },
    })?;
    Ok(Loaded {
        reader,
        stamp,
        layout,
    })
}

/// Walks the whole search tree and decodes every record it points to, so a
/// corrupt file is refused at load (and a reload keeps the old database)
/// instead of answering wrongly later. `Reader::from_source` checks only the
/// metadata and the tree's size; lookups stay bounds-checked either way.
///
/// Not `Reader::verify`: it also demands a non-empty `description` in the
/// metadata, which the free ip-location-db databases do not have.
pub(super) fn verify(reader: &Reader<Vec<u8>>) -> Result<(), maxminddb::MaxMindDbError> {
    // A valid tree has fewer networks than twice its nodes; more means a
    // pointer loops back up the tree (the same bound `Reader::verify` uses).
    let budget = (reader.metadata().node_count as usize).saturating_mul(3);
    let mut decoded = HashSet::new();
    for (walked, found) in reader.networks(WithinOptions::default())?.enumerate() {
        if walked >= budget {
            return Err(maxminddb::MaxMindDbError::invalid_database(
                "the search tree has more networks than its nodes allow (a cycle?)",
            ));
        }
        let found = found?;
        // Many networks share one record; decode each record once.
        if let Some(offset) = found.offset()
            && decoded.insert(offset)
        {
            found.decode::<serde::de::IgnoredAny>()?;
        }
    }
    Ok(())
}

/// Looks at the first records with data for the field this kind of database
/// must have. `None`: not the right kind of database (or an empty one).
pub(super) fn detect_layout(kind: DbKind, reader: &Reader<Vec<u8>>) -> Option<Layout> {
    let networks = reader.networks(WithinOptions::default()).ok()?;
    for found in networks.take(LAYOUT_SAMPLE) {
        let Ok(found) = found else { continue };
        let has = |path: &[PathElement<'_>]| match kind {
            DbKind::Country => matches!(found.decode_path::<&str>(path), Ok(Some(_))),
            DbKind::Asn => matches!(found.decode_path::<u32>(path), Ok(Some(_))),
        };
        match kind {
            DbKind::Country if has(&FLAT_COUNTRY) => return Some(Layout::FlatCountry),
            DbKind::Country if has(&NESTED_COUNTRY) || has(&REGISTERED_COUNTRY) => {
                return Some(Layout::NestedCountry);
            }
            DbKind::Asn if has(&ASN) => return Some(Layout::Asn),
            _ => {}
        }
    }
    None
}

pub(super) fn log_loaded(kind: DbKind, path: &Path, loaded: &Loaded, message: &'static str) {
    let meta = loaded.reader.metadata();
    tracing::info!(
        database = %kind,
        path = %path.display(),
        database_type = %meta.database_type,
        build_epoch = meta.build_epoch,
        ip_version = meta.ip_version,
        bytes = loaded.stamp.len,
        "{message}"
    );
}
