//! The audit log is hash-chained: each entry carries a sequence number and
//! the SHA-256 of the previous entry's hash together with its own content,
//! so changing, removing or reordering any entry breaks every link after it.
//! `Store::verify_audit_chain` walks the chain and names the first entry
//! that does not hold (`rampart audit verify`).
//!
//! Entries are linked inside the write's own transaction, after the
//! revision bump that queues writers (`Store::begin_write`), so two writers
//! can never link to the same predecessor. Entries written before the chain
//! existed (migration 7) have no hash and must all come first.

use sha2::{Digest, Sha256};
use sqlx::{Any, Row as _, Transaction};

use crate::{Store, StoreError};

pub(crate) const SCHEMA: &str = "
ALTER TABLE audit_log ADD COLUMN seq BIGINT NULL;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NULL;
ALTER TABLE audit_log ADD COLUMN hash TEXT NULL;
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq)
";

/// The chain's start: the "previous hash" of the first chained entry.
const GENESIS: &str = "rampart-audit-chain-v1";

/// The columns an entry's hash commits to, in order.
pub(crate) struct Content<'a> {
    pub id: &'a str,
    pub at: i64,
    pub actor_user_id: Option<&'a str>,
    pub actor_token_id: Option<&'a str>,
    pub actor_label: &'a str,
    pub actor_role: &'a str,
    pub account_id: Option<&'a str>,
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

/// Where a new entry goes in the chain.
pub(crate) struct Link {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

fn hash(seq: i64, prev_hash: &str, c: &Content<'_>) -> String {
    // A JSON array is an unambiguous encoding of the fields (no separator
    // can be forged inside a value).
    let canonical = serde_json::json!([
        seq,
        c.id,
        c.at,
        c.actor_user_id,
        c.actor_token_id,
        c.actor_label,
        c.actor_role,
        c.account_id,
        c.action,
        c.target_kind,
        c.target_id,
        c.before,
        c.after,
    ])
    .to_string();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The link for a new entry, read inside the writer's transaction.
pub(crate) async fn next_link(
    tx: &mut Transaction<'static, Any>,
    content: &Content<'_>,
) -> Result<Link, StoreError> {
    let last = sqlx::query(
        "SELECT seq, hash FROM audit_log WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1",
    )
    .fetch_optional(&mut **tx)
    .await?;
    let (seq, prev_hash) = match last {
        Some(row) => {
            let seq: i64 = row.try_get("seq")?;
            let prev: Option<String> = row.try_get("hash")?;
            (seq + 1, prev.unwrap_or_default())
        }
        None => (1, GENESIS.to_owned()),
    };
    let hash = hash(seq, &prev_hash, content);
    Ok(Link {
        seq,
        prev_hash,
        hash,
    })
}

/// What `verify_audit_chain` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Chained entries checked.
    pub entries: u64,
    /// Entries from before the chain existed (no hash).
    pub unchained: u64,
    /// The first entry that does not hold, if any.
    pub broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: Option<i64>,
    pub id: String,
    pub reason: String,
}

impl Store {
    /// Walks the whole audit chain in order and reports the first entry
    /// whose content, predecessor or position does not match.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor_user_id, actor_token_id, actor_label, actor_role, account_id,
                    action, target_kind, target_id, before, after, seq, prev_hash, hash
             FROM audit_log ORDER BY seq IS NULL DESC, seq, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut report = ChainReport {
            entries: 0,
            unchained: 0,
            broken: None,
        };
        let mut expected_prev = GENESIS.to_owned();
        let mut expected_seq = 1i64;
        for row in &rows {
            let id: String = row.try_get("id")?;
            let seq: Option<i64> = row.try_get("seq")?;
            let stored_prev: Option<String> = row.try_get("prev_hash")?;
            let stored_hash: Option<String> = row.try_get("hash")?;
            let Some(seq) = seq else {
                if report.entries > 0 {
                    report.broken = Some(BrokenLink {
                        seq: None,
                        id,
                        reason: "an entry without a place in the chain after chained entries"
                            .into(),
                    });
                    return Ok(report);
                }
                report.unchained += 1;
                continue;
            };
            let get = |c: &str| -> Result<Option<String>, StoreError> { Ok(row.try_get(c)?) };
            let (user, token, account, before, after) = (
                get("actor_user_id")?,
                get("actor_token_id")?,
                get("account_id")?,
                get("before")?,
                get("after")?,
            );
            let (label, role, action, kind, target): (String, String, String, String, String) = (
                row.try_get("actor_label")?,
                row.try_get("actor_role")?,
                row.try_get("action")?,
                row.try_get("target_kind")?,
                row.try_get("target_id")?,
            );
            let content = Content {
                id: &id,
                at: row.try_get("at")?,
                actor_user_id: user.as_deref(),
                actor_token_id: token.as_deref(),
                actor_label: &label,
                actor_role: &role,
                account_id: account.as_deref(),
                action: &action,
                target_kind: &kind,
                target_id: &target,
                before: before.as_deref(),
                after: after.as_deref(),
            };
            let reason = if seq != expected_seq {
                Some(format!(
                    "sequence {seq} where {expected_seq} was expected (an entry is missing or was reordered)"
                ))
            } else if stored_prev.as_deref() != Some(expected_prev.as_str()) {
                Some("it does not link to the entry before it".to_owned())
            } else if stored_hash.as_deref() != Some(hash(seq, &expected_prev, &content).as_str()) {
                Some("its content does not match its hash (it was changed)".to_owned())
            } else {
                None
            };
            if let Some(reason) = reason {
                report.broken = Some(BrokenLink {
                    seq: Some(seq),
                    id,
                    reason,
                });
                return Ok(report);
            }
            report.entries += 1;
            expected_prev = stored_hash.unwrap_or_default();
            expected_seq = seq + 1;
        }
        Ok(report)
    }
}
