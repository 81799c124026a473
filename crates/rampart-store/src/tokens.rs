//! API tokens. The secret is made here, returned once, and kept only as its
//! SHA-256; no `ApiToken` or audit row carries either.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row as _};

use crate::audit::{self, Change, snapshot};
use crate::error::map_unique;
use crate::ids::{TOKEN_PREFIX, hash_secret, new_id, new_token_secret, now_ms};
use crate::users::{self, parse_role};
use crate::{Actor, ApiToken, NewToken, Store, StoreError, User};

const COLUMNS: &str =
    "id, user_id, name, role, account_id, site_ids, created_at, expires_at, last_used_at";

/// How stale `last_used_at` may get: writing it on every request would turn
/// each API call into a disk write.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

fn from_row_prefixed(row: &AnyRow, prefix: &str) -> Result<ApiToken, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    let role: String = row.try_get(col("role").as_str())?;
    let site_ids: Option<String> = row.try_get(col("site_ids").as_str())?;
    let site_ids = site_ids
        .map(|text| {
            serde_json::from_str::<Vec<String>>(&text)
                .map_err(|e| StoreError::Corrupt(format!("token site_ids is not a JSON list: {e}")))
        })
        .transpose()?;
    Ok(ApiToken {
        id: row.try_get(col("id").as_str())?,
        user_id: row.try_get(col("user_id").as_str())?,
        name: row.try_get(col("name").as_str())?,
        role: parse_role(&role)?,
        account_id: row.try_get(col("account_id").as_str())?,
        site_ids,
        created_at: row.try_get(col("created_at").as_str())?,
        expires_at: row.try_get(col("expires_at").as_str())?,
        last_used_at: row.try_get(col("last_used_at").as_str())?,
    })
}

async fn fetch<'e, E>(db: E, id: &str) -> Result<ApiToken, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1");
    crate::rows::fetch_by_id(db, &sql, "token", id, |r| from_row_prefixed(r, "")).await
}

fn audit_change<'a>(
    action: &'a str,
    token: &'a ApiToken,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Change<'a> {
    Change {
        account_id: token.account_id.as_deref(),
        action,
        target_kind: "token",
        target_id: &token.id,
        before,
        after,
    }
}

impl Store {
    /// Creates a token for `new.user_id`, scoped to that user's account.
    /// Returns the token and its secret; the secret cannot be recovered later.
    pub async fn create_token(
        &self,
        actor: &Actor,
        new: NewToken,
    ) -> Result<(ApiToken, String), StoreError> {
        let mut tx = self.begin_write().await?;
        let user = users::fetch(&mut *tx, &new.user_id).await?;
        let secret = new_token_secret();
        let token = ApiToken {
            id: new_id("tok"),
            user_id: user.id,
            name: new.name,
            role: new.role,
            account_id: user.account_id,
            site_ids: new.site_ids,
            created_at: now_ms(),
            expires_at: new.expires_at,
            last_used_at: None,
        };
        let site_ids = token
            .site_ids
            .as_ref()
            .map(|ids| serde_json::Value::from(ids.clone()).to_string());
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, secret_hash, role, account_id, site_ids,
                 created_at, expires_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)",
        )
        .bind(token.id.as_str())
        .bind(token.user_id.as_str())
        .bind(token.name.as_str())
        .bind(hash_secret(&secret))
        .bind(token.role.as_str())
        .bind(token.account_id.as_deref())
        .bind(site_ids)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_unique(e, &token.id))?;
        let change = audit_change("token.create", &token, None, Some(snapshot(&token)?));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok((token, secret))
    }

    /// The token with this secret and its user, or `None` when the secret is
    /// unknown or the token has expired. Notes the use in `last_used_at` (at
    /// most once a minute); that bookkeeping is neither audited nor a
    /// revision: it changes nothing the edge or an auditor cares about.
    pub async fn token_by_secret(
        &self,
        secret: &str,
    ) -> Result<Option<(ApiToken, User)>, StoreError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT t.id AS t_id, t.user_id AS t_user_id, t.name AS t_name, t.role AS t_role,
                    t.account_id AS t_account_id, t.site_ids AS t_site_ids,
                    t.created_at AS t_created_at, t.expires_at AS t_expires_at,
                    t.last_used_at AS t_last_used_at,
                    u.id AS u_id, u.account_id AS u_account_id, u.email AS u_email,
                    u.name AS u_name, u.role AS u_role, u.created_at AS u_created_at,
                    u.updated_at AS u_updated_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.secret_hash = $1",
        )
        .bind(hash_secret(secret))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut token = from_row_prefixed(&row, "t_")?;
        let user = users::from_row_prefixed(&row, "u_")?;
        let now = now_ms();
        if token.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        let stale = token
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USED_GRANULARITY_MS);
        if stale {
            // An autocommit UPDATE reads before it takes SQLite's write lock,
            // and a writer committing in between makes it fail at once with
            // "database is locked"; BEGIN IMMEDIATE waits its turn instead.
            let mut tx = self.begin_locked().await?;
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(token.id.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            token.last_used_at = Some(now);
        }
        Ok(Some((token, user)))
    }

    pub async fn get_token(&self, id: &str) -> Result<ApiToken, StoreError> {
        fetch(&self.pool, id).await
    }

    /// Tokens filtered by user and/or account (both `None`: all), oldest first.
    pub async fn list_tokens(
        &self,
        user_id: Option<&str>,
        account_id: Option<&str>,
    ) -> Result<Vec<ApiToken>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE 1 = 1");
        let mut n = 0;
        if user_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND user_id = ${n}"));
        }
        if account_id.is_some() {
            n += 1;
            sql.push_str(&format!(" AND account_id = ${n}"));
        }
        let mut query = sqlx::query(&sql);
        if let Some(user) = user_id {
            query = query.bind(user);
        }
        if let Some(account) = account_id {
            query = query.bind(account);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut tokens = rows
            .iter()
            .map(|r| from_row_prefixed(r, ""))
            .collect::<Result<Vec<_>, _>>()?;
        tokens.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(tokens)
    }

    pub async fn delete_token(&self, actor: &Actor, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut *tx, id).await?;
        sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let change = audit_change("token.delete", &before, Some(snapshot(&before)?), None);
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(())
    }
}
