//! Challenge signing keys: the HMAC keys the edge signs challenges,
//! clearance cookies and captcha tokens with. Every node reads them from
//! here, so a clearance issued by one node is honoured by all of them.
//!
//! Ids count up from 1. The newest key signs and the one before it still
//! verifies (see `rampart_challenge::keys`), so only those two are kept.
//! A new key is made when the newest is older than the rotation period, in
//! a write transaction: writers are serialised on the revision row (and on
//! SQLite's write lock), and the id is the primary key, so two nodes that
//! decide to rotate at the same moment still make one key between them.

use rand::TryRngCore as _;
use serde_json::json;
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::audit::{self, Change};
use crate::{Actor, Store, StoreError};

/// The table, applied by the migration that lists it in
/// `migrate::MIGRATIONS`. The secret is 64 lowercase hex digits (TEXT,
/// because BLOB and BYTEA do not share one SQL text).
pub(crate) const SCHEMA: &str = r"
CREATE TABLE challenge_keys (
    id BIGINT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
)
";

/// How many keys are kept: the signing one and the one before it.
const KEPT: i64 = 2;

/// One signing key. Its `Debug` leaves the secret out, so it cannot reach
/// a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct ChallengeKeyRecord {
    pub id: u32,
    pub secret: [u8; 32],
    /// Unix milliseconds.
    pub created_at: i64,
}

impl std::fmt::Debug for ChallengeKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChallengeKeyRecord")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

fn to_hex(bytes: &[u8; 32]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(64);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *slot = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

fn from_row(row: &AnyRow) -> Result<ChallengeKeyRecord, StoreError> {
    let id: i64 = row.try_get("id")?;
    let secret: String = row.try_get("secret")?;
    Ok(ChallengeKeyRecord {
        id: u32::try_from(id)
            .map_err(|_| StoreError::Corrupt(format!("challenge key id {id} is out of range")))?,
        // The message names the key, never the text: it is a secret.
        secret: from_hex(&secret).ok_or_else(|| {
            StoreError::Corrupt(format!("challenge key {id} is not 64 hex digits"))
        })?,
        created_at: row.try_get("created_at")?,
    })
}

/// 32 bytes from the operating system's random source.
fn random_secret() -> Result<[u8; 32], StoreError> {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut secret)
        .map_err(|e| StoreError::Random(e.to_string()))?;
    Ok(secret)
}

/// Whether a key created at `created_at` is due for replacement at `now`.
fn due(created_at: i64, now_ms: i64, period_ms: i64) -> bool {
    now_ms.saturating_sub(created_at) >= period_ms
}

impl Store {
    /// The newest `limit` keys, newest first.
    pub async fn challenge_keys(&self, limit: u32) -> Result<Vec<ChallengeKeyRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, secret, created_at FROM challenge_keys ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Makes a new signing key when there is none, or when the newest was
    /// created `period_ms` or longer before `now_ms`; returns it, or `None`
    /// when nothing was due (or another node made the key first). Keys
    /// older than the previous one are deleted in the same transaction,
    /// and the revision moves, so every node's sync swaps in the new key.
    ///
    /// `now_ms` is a parameter so tests can ask "what if a day had passed"
    /// without waiting a day.
    pub async fn rotate_challenge_key(
        &self,
        now_ms: i64,
        period_ms: i64,
    ) -> Result<Option<ChallengeKeyRecord>, StoreError> {
        // A read first, so the common case (nothing due) costs every node
        // one indexed query instead of the write lock.
        if let Some(newest) = self.challenge_keys(1).await?.first()
            && !due(newest.created_at, now_ms, period_ms)
        {
            return Ok(None);
        }
        let mut tx = self.begin_write().await?;
        // Again under the lock: another node may have rotated since the read.
        let newest =
            sqlx::query("SELECT id, created_at FROM challenge_keys ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let next_id = match newest {
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                let created_at: i64 = row.try_get("created_at")?;
                if !due(created_at, now_ms, period_ms) {
                    // Dropping the transaction rolls back the revision bump.
                    return Ok(None);
                }
                id.checked_add(1)
                    .filter(|n| u32::try_from(*n).is_ok())
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("challenge key id {id} is the last one"))
                    })?
            }
            None => 1,
        };
        let key = ChallengeKeyRecord {
            id: u32::try_from(next_id).map_err(|_| {
                StoreError::Corrupt(format!("challenge key id {next_id} is out of range"))
            })?,
            secret: random_secret()?,
            created_at: now_ms,
        };
        let inserted =
            sqlx::query("INSERT INTO challenge_keys (id, secret, created_at) VALUES ($1, $2, $3)")
                .bind(next_id)
                .bind(to_hex(&key.secret))
                .bind(now_ms)
                .execute(&mut *tx)
                .await;
        match inserted {
            Ok(_) => {}
            // The lock makes this unreachable in practice; if a writer got
            // there anyway, its key stands and this one is not needed.
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Ok(None),
            Err(other) => return Err(other.into()),
        }
        sqlx::query("DELETE FROM challenge_keys WHERE id <= $1")
            .bind(next_id - KEPT)
            .execute(&mut *tx)
            .await?;
        // The audit row says a key was made, never what it is.
        let target = key.id.to_string();
        let change = Change {
            account_id: None,
            action: "challenge_key.rotate",
            target_kind: "challenge_key",
            target_id: &target,
            before: None,
            after: Some(json!({ "id": key.id, "created_at": key.created_at })),
        };
        audit::record(&mut tx, &Actor::system("challenge key rotation"), change).await?;
        tx.commit().await?;
        Ok(Some(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_debug_hides_the_secret() {
        let secret = [0xa5; 32];
        assert_eq!(from_hex(&to_hex(&secret)), Some(secret));
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
        let key = ChallengeKeyRecord {
            id: 3,
            secret,
            created_at: 7,
        };
        let shown = format!("{key:?}");
        assert!(!shown.contains("165") && !shown.contains("a5"), "{shown}");
    }

    #[test]
    fn due_at_the_period_not_before() {
        assert!(!due(1_000, 1_999, 1_000));
        assert!(due(1_000, 2_000, 1_000));
        // A clock that went backwards does not rotate.
        assert!(!due(5_000, 1_000, 1_000));
    }
}
