//! Versioned, forward-only schema migrations, embedded in the binary.
//!
//! One SQL text serves both backends, so the schema sticks to portable types:
//! TEXT, BIGINT (timestamps as unix milliseconds, booleans as 0/1, because
//! sqlx's `Any` driver cannot decode a SQLite BOOLEAN column), no
//! auto-increment (ids are made in Rust). JSON is stored as TEXT.

use sqlx::{Executor as _, Row as _};

use crate::ids::now_ms;
use crate::{Backend, Store, StoreError};

/// One schema step. Statements are separated by `;` and contain none.
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// In order, oldest first; append only, never edit a released one.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts, users, tokens, sites, audit log",
        sql: V1,
    },
    Migration {
        version: 2,
        name: "analytics minutes",
        sql: crate::analytics::SCHEMA,
    },
    Migration {
        version: 3,
        name: "dashboard sessions",
        sql: crate::sessions::SCHEMA,
    },
    Migration {
        version: 4,
        name: "IP lists and operator rules",
        sql: crate::lists::SCHEMA,
    },
    Migration {
        version: 5,
        name: "challenge signing keys",
        sql: crate::challenge_keys::SCHEMA,
    },
    Migration {
        version: 6,
        name: "trust and safety: abuse reports, cases, decisions",
        sql: crate::safety::SCHEMA,
    },
    Migration {
        version: 7,
        name: "hash-chained audit log",
        sql: crate::audit_chain::SCHEMA,
    },
    Migration {
        version: 8,
        name: "notification outbox",
        sql: crate::notifications::SCHEMA,
    },
    Migration {
        version: 9,
        name: "appeals",
        sql: crate::appeals::SCHEMA,
    },
    Migration {
        version: 10,
        name: "case notes, escalation and merge",
        sql: crate::safety::TRIAGE_SCHEMA,
    },
    Migration {
        version: 11,
        name: "security events",
        sql: crate::security_events::SCHEMA,
    },
    Migration {
        version: 12,
        name: "cluster nodes and the ledger of spooled batches",
        sql: crate::nodes::SCHEMA,
    },
];

const V1: &str = r"
CREATE TABLE store_revision (
    id BIGINT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO store_revision (id, value) VALUES (1, 0);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    account_id TEXT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX users_account ON users (account_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    account_id TEXT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    site_ids TEXT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NULL,
    last_used_at BIGINT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
CREATE INDEX api_tokens_account ON api_tokens (account_id);

CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    file_managed BIGINT NOT NULL CHECK (file_managed IN (0, 1)),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX sites_account ON sites (account_id);

CREATE TABLE site_hosts (
    host TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    position BIGINT NOT NULL
);
CREATE INDEX site_hosts_site ON site_hosts (site_id);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_user_id TEXT NULL,
    actor_token_id TEXT NULL,
    actor_label TEXT NOT NULL,
    actor_role TEXT NOT NULL,
    account_id TEXT NULL,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    before TEXT NULL,
    after TEXT NULL
);
CREATE INDEX audit_log_account ON audit_log (account_id, id)
";

const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)";

/// Key of the PostgreSQL advisory lock that serializes migrating processes
/// ("rampart" in ASCII); only has to differ from other users of the database.
const PG_MIGRATION_LOCK: i64 = 0x0072_616d_7061_7274;

/// The newest schema version this binary knows.
pub(crate) const SCHEMA_VERSION: i64 = match MIGRATIONS.last() {
    Some(m) => m.version,
    None => 0,
};

/// Applies the missing migrations, each in its own transaction.
///
/// Two rampart processes may open one store at once (a CLI command beside
/// the server): each transaction first takes a lock (SQLite's write lock via
/// `BEGIN IMMEDIATE`, a transaction-scoped advisory lock on PostgreSQL) and
/// only then reads the current version, so the loser sees the winner's work
/// and skips it.
pub(crate) async fn run(store: &Store) -> Result<(), StoreError> {
    let supported = SCHEMA_VERSION;
    for migration in MIGRATIONS {
        let mut tx = store.begin_locked().await?;
        if store.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_MIGRATION_LOCK)
                .execute(&mut *tx)
                .await?;
        }
        tx.execute(CREATE_MIGRATIONS_TABLE).await?;
        let current: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM schema_migrations")
            .fetch_one(&mut *tx)
            .await?
            .try_get("v")?;
        let current = current.unwrap_or(0);
        if current > supported {
            return Err(StoreError::SchemaTooNew {
                found: current,
                supported,
            });
        }
        if current >= migration.version {
            continue;
        }
        for statement in migration.sql.split(';') {
            if !statement.trim().is_empty() {
                tx.execute(statement).await?;
            }
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_ascend_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
        assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
    }
}
