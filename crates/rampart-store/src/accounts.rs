//! Accounts: the tenants that own users, tokens and sites.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row as _};

use crate::audit::{self, Change, snapshot};
use crate::error::map_unique;
use crate::ids::{new_id, now_ms};
use crate::{Account, Actor, Store, StoreError};

const COLUMNS: &str = "id, name, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<Account, StoreError> {
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Loads one account inside a transaction or from the pool.
pub(crate) async fn fetch<'e, E>(db: E, id: &str) -> Result<Account, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
    crate::rows::fetch_by_id(db, &sql, "account", id, from_row).await
}

async fn fetch_by_name<'e, E>(db: E, name: &str) -> Result<Option<Account>, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts WHERE name = $1"))
        .bind(name)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

fn name_taken(name: &str) -> StoreError {
    StoreError::conflict("name", format!("account name '{name}' is already taken"))
}

impl Store {
    pub async fn create_account(&self, actor: &Actor, name: &str) -> Result<Account, StoreError> {
        let mut tx = self.begin_write().await?;
        if fetch_by_name(&mut *tx, name).await?.is_some() {
            return Err(name_taken(name));
        }
        let now = now_ms();
        let account = Account {
            id: new_id("acct"),
            name: name.to_owned(),
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO accounts (id, name, created_at, updated_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(account.id.as_str())
        .bind(account.name.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_unique(e, name))?;
        let change = Change {
            account_id: Some(&account.id),
            action: "account.create",
            target_kind: "account",
            target_id: &account.id,
            before: None,
            after: Some(snapshot(&account)?),
        };
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(account)
    }

    pub async fn get_account(&self, id: &str) -> Result<Account, StoreError> {
        fetch(&self.pool, id).await
    }

    pub async fn account_by_name(&self, name: &str) -> Result<Option<Account>, StoreError> {
        fetch_by_name(&self.pool, name).await
    }

    /// All accounts, by name (byte order, the same on both backends).
    pub async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM accounts"))
            .fetch_all(&self.pool)
            .await?;
        let mut accounts = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        accounts.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(accounts)
    }

    pub async fn rename_account(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
    ) -> Result<Account, StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut *tx, id).await?;
        if let Some(other) = fetch_by_name(&mut *tx, name).await?
            && other.id != id
        {
            return Err(name_taken(name));
        }
        let after = Account {
            name: name.to_owned(),
            updated_at: now_ms(),
            ..before.clone()
        };
        sqlx::query("UPDATE accounts SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(after.name.as_str())
            .bind(after.updated_at)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_unique(e, name))?;
        let change = Change {
            account_id: Some(id),
            action: "account.update",
            target_kind: "account",
            target_id: id,
            before: Some(snapshot(&before)?),
            after: Some(snapshot(&after)?),
        };
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes the account and, by cascade, its users, tokens and sites.
    pub async fn delete_account(&self, actor: &Actor, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut *tx, id).await?;
        sqlx::query("DELETE FROM accounts WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let change = Change {
            account_id: Some(id),
            action: "account.delete",
            target_kind: "account",
            target_id: id,
            before: Some(snapshot(&before)?),
            after: None,
        };
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(())
    }
}
