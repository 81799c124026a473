//! Users: people who log in, operators (no account) or account members.
//! Password hashes enter and leave only through `NewUser`, `update_user` and
//! `user_by_email`; a `User` never carries one.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row as _};

use crate::audit::{self, Change, snapshot};
use crate::error::map_unique;
use crate::ids::{new_id, now_ms};
use crate::{Actor, NewUser, Role, Store, StoreError, User, accounts};

const COLUMNS: &str = "id, account_id, email, name, role, created_at, updated_at";

pub(crate) fn parse_role(text: &str) -> Result<Role, StoreError> {
    Role::parse(text).ok_or_else(|| StoreError::Corrupt(format!("unknown role '{text}'")))
}

/// Decodes the user columns of `row`, which may carry more (joins).
pub(crate) fn from_row_prefixed(row: &AnyRow, prefix: &str) -> Result<User, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    let role: String = row.try_get(col("role").as_str())?;
    Ok(User {
        id: row.try_get(col("id").as_str())?,
        account_id: row.try_get(col("account_id").as_str())?,
        email: row.try_get(col("email").as_str())?,
        name: row.try_get(col("name").as_str())?,
        role: parse_role(&role)?,
        created_at: row.try_get(col("created_at").as_str())?,
        updated_at: row.try_get(col("updated_at").as_str())?,
    })
}

pub(crate) async fn fetch<'e, E>(db: E, id: &str) -> Result<User, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    crate::rows::fetch_by_id(db, &sql, "user", id, |r| from_row_prefixed(r, "")).await
}

fn audit_change<'a>(
    action: &'a str,
    user: &'a User,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Change<'a> {
    Change {
        account_id: user.account_id.as_deref(),
        action,
        target_kind: "user",
        target_id: &user.id,
        before,
        after,
    }
}

impl Store {
    pub async fn create_user(&self, actor: &Actor, new: NewUser) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(account_id) = &new.account_id {
            accounts::fetch(&mut *tx, account_id).await?;
        }
        let taken = sqlx::query("SELECT id FROM users WHERE email = $1")
            .bind(new.email.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::conflict(
                "email",
                format!("email '{}' is already in use", new.email),
            ));
        }
        let now = now_ms();
        let user = User {
            id: new_id("user"),
            account_id: new.account_id,
            email: new.email,
            name: new.name,
            role: new.role,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO users (id, account_id, email, name, role, password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user.id.as_str())
        .bind(user.account_id.as_deref())
        .bind(user.email.as_str())
        .bind(user.name.as_str())
        .bind(user.role.as_str())
        .bind(new.password_hash.as_deref())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_unique(e, &user.email))?;
        let change = audit_change("user.create", &user, None, Some(snapshot(&user)?));
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn get_user(&self, id: &str) -> Result<User, StoreError> {
        fetch(&self.pool, id).await
    }

    /// The user with this email and their password hash, for the login check.
    pub async fn user_by_email(
        &self,
        email: &str,
    ) -> Result<Option<(User, Option<String>)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, password_hash FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let user = from_row_prefixed(&row, "")?;
        let hash: Option<String> = row.try_get("password_hash")?;
        Ok(Some((user, hash)))
    }

    /// Users of one account, or (`None`) every user; by email.
    pub async fn list_users(&self, account_id: Option<&str>) -> Result<Vec<User>, StoreError> {
        let rows = match account_id {
            Some(account) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM users WHERE account_id = $1"
                ))
                .bind(account)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM users"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        let mut users = rows
            .iter()
            .map(|r| from_row_prefixed(r, ""))
            .collect::<Result<Vec<_>, _>>()?;
        users.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(users)
    }

    /// Changes the given fields; `None` leaves a field as it is. The audit
    /// row notes a password change without the hash.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: &str,
        name: Option<&str>,
        role: Option<Role>,
        password_hash: Option<&str>,
    ) -> Result<User, StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut *tx, id).await?;
        let after = User {
            name: name.map_or_else(|| before.name.clone(), str::to_owned),
            role: role.unwrap_or_else(|| before.role.clone()),
            updated_at: now_ms(),
            ..before.clone()
        };
        sqlx::query(
            "UPDATE users SET name = $1, role = $2, updated_at = $3,
                 password_hash = COALESCE($4, password_hash)
             WHERE id = $5",
        )
        .bind(after.name.as_str())
        .bind(after.role.as_str())
        .bind(after.updated_at)
        .bind(password_hash)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let mut after_json = snapshot(&after)?;
        if password_hash.is_some()
            && let Some(object) = after_json.as_object_mut()
        {
            object.insert("password_changed".to_owned(), true.into());
        }
        let change = audit_change(
            "user.update",
            &after,
            Some(snapshot(&before)?),
            Some(after_json),
        );
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes the user and, by cascade, their tokens.
    pub async fn delete_user(&self, actor: &Actor, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut *tx, id).await?;
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let change = audit_change("user.delete", &before, Some(snapshot(&before)?), None);
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn count_users(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }
}
