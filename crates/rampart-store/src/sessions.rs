//! Dashboard sessions. The cookie carries a random secret; the store keeps
//! only its SHA-256, so a copy of the database cannot be replayed as a
//! cookie. Each session has its own CSRF token for the dashboard's forms.
//!
//! Sessions are not configuration: creating, touching or ending one neither
//! bumps the store revision (the edge would rebuild its snapshot on every
//! sign-in) nor, apart from sign-in and sign-out, writes the audit log.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};

use crate::audit::{self, Change};
use crate::ids::{hash_secret, now_ms, random_token};
use crate::{Actor, Store, StoreError, User, users};

/// The table, applied by the migration that lists it in
/// `migrate::MIGRATIONS`. Statements are separated by `;` and contain none.
pub(crate) const SCHEMA: &str = r"
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    account_view TEXT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at)
";

/// Every session secret starts with this, so a leaked cookie value is
/// recognisable and other strings are rejected without a lookup.
const SESSION_PREFIX: &str = "rps_";

/// A session unused for this long is over, whatever its absolute expiry.
pub const SESSION_IDLE_MS: i64 = 60 * 60 * 1000;

/// The longest a session may live from sign-in.
pub const SESSION_MAX_MS: i64 = 12 * 60 * 60 * 1000;

// Every write below runs in a transaction from `begin_locked`: on SQLite an
// autocommit UPDATE reads before it takes the write lock, and a writer
// committing in between makes it fail at once with "database is locked",
// where BEGIN IMMEDIATE waits its turn.

/// How stale `last_seen_at` may get: writing it on every page view would
/// turn each click into a disk write. The idle timeout is an hour, so a
/// minute of slack does not matter.
const TOUCH_GRANULARITY_MS: i64 = 60_000;

/// A signed-in dashboard session. Never carries the cookie secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 (hex) of the cookie secret.
    pub id_hash: String,
    pub user_id: String,
    /// The synchronizer token every dashboard form of this session carries.
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// Absolute end, unix milliseconds.
    pub expires_at: i64,
    /// The account an operator picked in the dashboard's switcher.
    pub account_view: Option<String>,
}

impl Session {
    /// Whether the session is over at `now` (absolute expiry or idle).
    pub fn is_expired_at(&self, now: i64) -> bool {
        self.expires_at <= now || now.saturating_sub(self.last_seen_at) >= SESSION_IDLE_MS
    }
}

fn from_row_prefixed(row: &AnyRow, prefix: &str) -> Result<Session, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    Ok(Session {
        id_hash: row.try_get(col("id_hash").as_str())?,
        user_id: row.try_get(col("user_id").as_str())?,
        csrf_token: row.try_get(col("csrf_token").as_str())?,
        created_at: row.try_get(col("created_at").as_str())?,
        last_seen_at: row.try_get(col("last_seen_at").as_str())?,
        expires_at: row.try_get(col("expires_at").as_str())?,
        account_view: row.try_get(col("account_view").as_str())?,
    })
}

fn actor_of(user: &User) -> Actor {
    Actor {
        user_id: Some(user.id.clone()),
        token_id: None,
        label: user.email.clone(),
        role: user.role.clone(),
    }
}

/// Records a sign-in or sign-out against the user, in `tx`.
async fn audit_session(
    tx: &mut Transaction<'static, Any>,
    user: &User,
    action: &str,
) -> Result<(), StoreError> {
    let change = Change {
        account_id: user.account_id.as_deref(),
        action,
        target_kind: "user",
        target_id: &user.id,
        before: None,
        after: None,
    };
    audit::record(tx, &actor_of(user), change).await
}

impl Store {
    /// Starts a session for `user_id` that ends after `ttl_ms` (capped at
    /// [`SESSION_MAX_MS`]) or an hour without use. Returns the cookie
    /// secret, which cannot be recovered later, and the session.
    pub async fn create_session(
        &self,
        user_id: &str,
        ttl_ms: i64,
    ) -> Result<(String, Session), StoreError> {
        let secret = format!("{SESSION_PREFIX}{}", random_token());
        let now = now_ms();
        let session = Session {
            id_hash: hash_secret(&secret),
            user_id: user_id.to_owned(),
            csrf_token: random_token(),
            created_at: now,
            last_seen_at: now,
            expires_at: now.saturating_add(ttl_ms.clamp(0, SESSION_MAX_MS)),
            account_view: None,
        };
        let mut tx = self.begin_locked().await?;
        let user = users::fetch(&mut *tx, user_id).await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at,
                 expires_at, account_view)
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        )
        .bind(session.id_hash.as_str())
        .bind(session.user_id.as_str())
        .bind(session.csrf_token.as_str())
        .bind(session.created_at)
        .bind(session.last_seen_at)
        .bind(session.expires_at)
        .execute(&mut *tx)
        .await?;
        audit_session(&mut tx, &user, "session.create").await?;
        tx.commit().await?;
        Ok((secret, session))
    }

    /// The live session with this cookie secret and its user; `None` when
    /// the secret is unknown or the session is over (an expired one is
    /// deleted on the way). Notes the use in `last_seen_at`, at most once a
    /// minute.
    pub async fn session_by_secret(
        &self,
        secret: &str,
    ) -> Result<Option<(Session, User)>, StoreError> {
        if !secret.starts_with(SESSION_PREFIX) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT s.id_hash AS s_id_hash, s.user_id AS s_user_id, s.csrf_token AS s_csrf_token,
                    s.created_at AS s_created_at, s.last_seen_at AS s_last_seen_at,
                    s.expires_at AS s_expires_at, s.account_view AS s_account_view,
                    u.id AS u_id, u.account_id AS u_account_id, u.email AS u_email,
                    u.name AS u_name, u.role AS u_role, u.created_at AS u_created_at,
                    u.updated_at AS u_updated_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1",
        )
        .bind(hash_secret(secret))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut session = from_row_prefixed(&row, "s_")?;
        let user = users::from_row_prefixed(&row, "u_")?;
        let now = now_ms();
        if session.is_expired_at(now) {
            let mut tx = self.begin_locked().await?;
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(session.id_hash.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_GRANULARITY_MS {
            let mut tx = self.begin_locked().await?;
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(now)
                .bind(session.id_hash.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            session.last_seen_at = now;
        }
        Ok(Some((session, user)))
    }

    /// Ends one session (sign-out). Unknown ids are not an error: signing
    /// out twice is harmless.
    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_locked().await?;
        let user_id: Option<String> =
            sqlx::query("SELECT user_id FROM sessions WHERE id_hash = $1")
                .bind(id_hash)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.try_get("user_id"))
                .transpose()?;
        let Some(user_id) = user_id else {
            return Ok(());
        };
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut *tx)
            .await?;
        let user = users::fetch(&mut *tx, &user_id).await?;
        audit_session(&mut tx, &user, "session.delete").await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of a user (after a password change or removal of
    /// rights); returns how many there were.
    pub async fn delete_sessions_of_user(&self, user_id: &str) -> Result<u64, StoreError> {
        let mut tx = self.begin_locked().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Deletes sessions that are over; returns how many went.
    pub async fn purge_expired_sessions(&self) -> Result<u64, StoreError> {
        let now = now_ms();
        let mut tx = self.begin_locked().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now)
            .bind(now.saturating_sub(SESSION_IDLE_MS))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Remembers the account an operator picked (`None`: all accounts).
    pub async fn set_account_view(
        &self,
        id_hash: &str,
        account_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_locked().await?;
        sqlx::query("UPDATE sessions SET account_view = $1 WHERE id_hash = $2")
            .bind(account_id)
            .bind(id_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
