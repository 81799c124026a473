//! The audit log: one row per write, in the write's own transaction, so a
//! change and its record commit or vanish together.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};

use crate::ids::{audit_id, now_ms};
use crate::{Actor, AuditEntry, AuditFilter, Role, Store, StoreError};

/// The largest page `list_audit` returns.
const MAX_PAGE: u32 = 500;

/// What one audit row says happened.
pub(crate) struct Change<'a> {
    /// The account the target belongs to, so account owners see their log.
    pub account_id: Option<&'a str>,
    /// `<kind>.<verb>`, e.g. "site.update".
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// The JSON the log keeps of a value: its public form, which by construction
/// of the model types holds no secret or hash.
pub(crate) fn snapshot<T: Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot serialize audit snapshot: {e}")))
}

/// Keys whose values never belong in the log, wherever they sit: a site's
/// spec carries its TLS private key, and the SHA-256 of each captcha
/// secret (a secret from the configuration file may be short enough to
/// guess from its hash).
const SECRET_KEYS: [&str; 6] = [
    "key_pem",
    "password",
    "password_hash",
    "secret",
    "secret_hash",
    "secret_sha256",
];

fn redact_secrets(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if SECRET_KEYS.contains(&key.as_str()) && !inner.is_null() {
                    *inner = serde_json::Value::String("[redacted]".to_owned());
                } else {
                    redact_secrets(inner);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

pub(crate) async fn record(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    change: Change<'_>,
) -> Result<(), StoreError> {
    let at = now_ms();
    let before = change.before.map(|mut v| {
        redact_secrets(&mut v);
        v.to_string()
    });
    let after = change.after.map(|mut v| {
        redact_secrets(&mut v);
        v.to_string()
    });
    let id = audit_id(at);
    let link = crate::audit_chain::next_link(
        tx,
        &crate::audit_chain::Content {
            id: &id,
            at,
            actor_user_id: actor.user_id.as_deref(),
            actor_token_id: actor.token_id.as_deref(),
            actor_label: actor.label.as_str(),
            actor_role: actor.role.as_str(),
            account_id: change.account_id,
            action: change.action,
            target_kind: change.target_kind,
            target_id: change.target_id,
            before: before.as_deref(),
            after: after.as_deref(),
        },
    )
    .await?;
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor_user_id, actor_token_id, actor_label, actor_role,
             account_id, action, target_kind, target_id, before, after, seq, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(id.as_str())
    .bind(at)
    .bind(actor.user_id.as_deref())
    .bind(actor.token_id.as_deref())
    .bind(actor.label.as_str())
    .bind(actor.role.as_str())
    .bind(change.account_id)
    .bind(change.action)
    .bind(change.target_kind)
    .bind(change.target_id)
    .bind(before)
    .bind(after)
    .bind(link.seq)
    .bind(link.prev_hash)
    .bind(link.hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn json_column(row: &AnyRow, column: &str) -> Result<Option<serde_json::Value>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| StoreError::Corrupt(format!("audit {column} is not JSON: {e}")))
    })
    .transpose()
}

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    let role: String = row.try_get("actor_role")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor_user_id: row.try_get("actor_user_id")?,
        actor_token_id: row.try_get("actor_token_id")?,
        actor_label: row.try_get("actor_label")?,
        actor_role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown audit actor role '{role}'")))?,
        account_id: row.try_get("account_id")?,
        action: row.try_get("action")?,
        target_kind: row.try_get("target_kind")?,
        target_id: row.try_get("target_id")?,
        before: json_column(row, "before")?,
        after: json_column(row, "after")?,
    })
}

impl Store {
    /// Audit entries, newest first. Page backwards by passing the last id of
    /// one page as `before_id` of the next.
    pub async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = match filter.limit {
            0 => MAX_PAGE,
            n => n.min(MAX_PAGE),
        };
        // Placeholders are numbered in the order the optional filters apply.
        let mut sql = String::from(
            "SELECT id, at, actor_user_id, actor_token_id, actor_label, actor_role, account_id,
                    action, target_kind, target_id, before, after
             FROM audit_log WHERE 1 = 1",
        );
        let mut n = 0;
        if filter.account_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND account_id = ${n}"));
        }
        if filter.before_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND id < ${n}"));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", n + 1));

        let mut query = sqlx::query(&sql);
        if let Some(account) = &filter.account_id {
            query = query.bind(account.as_str());
        }
        if let Some(before) = &filter.before_id {
            query = query.bind(before.as_str());
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(entry_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::redact_secrets;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let mut value = json!({"spec": {"tls": {"cert_pem": "C", "key_pem": "K"}}, "list": [{"password": "p"}], "name": "n"});
        redact_secrets(&mut value);
        assert_eq!(
            value,
            json!({"spec": {"tls": {"cert_pem": "C", "key_pem": "[redacted]"}}, "list": [{"password": "[redacted]"}], "name": "n"})
        );
    }
}
