//! The store's one error type, and the mapping of database constraint
//! failures onto it.

/// Everything a store call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the caller named does not exist.
    #[error("{kind} '{id}' not found")]
    NotFound { kind: &'static str, id: String },
    /// A unique value (name, email, host) is already taken; `message` names it.
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    /// The database was migrated by a newer rampart than this one.
    #[error(
        "the store's schema is version {found} but this rampart knows only up to {supported}: \
         it was written by a newer rampart; run that version or newer"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    /// The store URL names no backend this build speaks.
    #[error("bad store URL: {0}")]
    BadUrl(String),
    /// A row holds a value this code cannot decode (bad JSON, unknown role).
    #[error("corrupt store data: {0}")]
    Corrupt(String),
    /// The operating system's random source failed (making a key).
    #[error("the OS random source failed: {0}")]
    Random(String),
    /// Any other database failure (I/O, connection, SQL).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn not_found(kind: &'static str, id: &str) -> StoreError {
        StoreError::NotFound {
            kind,
            id: id.to_owned(),
        }
    }

    /// Whether the database could not be reached (connection refused or
    /// cut, pool exhausted, server shutting down), as opposed to a query
    /// it refused: the same write may succeed once it is back.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // Class 08: connection exception; 57P01–57P03: the server is
            // shutting down or starting.
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        }
    }

    pub(crate) fn conflict(field: &'static str, message: String) -> StoreError {
        StoreError::Conflict { field, message }
    }
}

/// Turns a unique violation that slipped past the in-transaction checks (two
/// writers racing on PostgreSQL) into a `Conflict`, so callers see the same
/// error either way. The field comes from the constraint (PostgreSQL) or the
/// message (SQLite: "UNIQUE constraint failed: sites.name"); `value` is what the
/// caller tried to write, for the message.
pub(crate) fn map_unique(err: sqlx::Error, value: &str) -> StoreError {
    let sqlx::Error::Database(db) = &err else {
        return StoreError::Database(err);
    };
    if !db.is_unique_violation() {
        return StoreError::Database(err);
    }
    let hint = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
    let field = if hint.contains("email") {
        "email"
    } else if hint.contains("host") {
        "hosts"
    } else if hint.contains("name") {
        "name"
    } else {
        "id"
    };
    StoreError::conflict(field, format!("{field} '{value}' is already taken"))
}
