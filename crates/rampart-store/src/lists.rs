//! Named IP lists (`$name` in rule expressions), owned by an account or, with
//! no account, by the operator, and the operator-wide rules.
//!
//! A list's entries are one TEXT column, one normalised entry per line: a
//! list of a million entries is one row of about 15 MB (IPv4) to 40 MB
//! (IPv6), written and read in one statement instead of a million rows.
//! Listing lists never reads that column; the edge's sync reads it only for
//! lists whose `updated_at` moved. The store does not parse entries: the
//! control plane normalises them before they arrive.
//!
//! Checks that need the rule language (is the list still used by a rule?)
//! run as a caller-supplied guard inside the write's transaction, where
//! every other writer waits on the revision lock, so a rule cannot start
//! using a list between the check and the delete.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row as _, Transaction};

use crate::audit::{self, Change, snapshot};
use crate::error::map_unique;
use crate::ids::{new_id, now_ms};
use crate::{Actor, SiteRecord, Store, StoreError, accounts};

/// The tables, applied by the migration that lists it in
/// `migrate::MIGRATIONS`. Statements are separated by `;` and contain none.
///
/// `scope` is the owning account's id, or `*` for operator lists: a UNIQUE
/// constraint over a NULL column would not stop two operator lists sharing
/// a name (NULLs compare unequal on both backends).
pub(crate) const SCHEMA: &str = r"
CREATE TABLE ip_lists (
    id TEXT PRIMARY KEY,
    account_id TEXT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    entries TEXT NOT NULL,
    entry_count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (scope, name)
);
CREATE INDEX ip_lists_account ON ip_lists (account_id);

CREATE TABLE operator_rules (
    id BIGINT PRIMARY KEY,
    rules TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO operator_rules (id, rules, updated_at) VALUES (1, '[]', 0)
";

/// `scope` of operator lists.
const OPERATOR_SCOPE: &str = "*";

const COLUMNS: &str = "id, account_id, name, description, entry_count, created_at, updated_at";

/// A list as listed: everything but its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpListRecord {
    pub id: String,
    /// `None`: an operator list, visible to every account's rules and to
    /// operator rules.
    pub account_id: Option<String>,
    pub name: String,
    pub description: String,
    pub entry_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpListWrite {
    pub name: String,
    pub description: String,
    /// Normalised entries, one per line.
    pub entries: String,
    pub entry_count: i64,
}

/// Which lists to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListsOf<'a> {
    All,
    Operator,
    Account(&'a str),
}

/// What may refer to a list, handed to the guard of a rename or delete:
/// the sites whose rules see it and, for an operator list, the operator
/// rules.
#[derive(Debug, Clone)]
pub struct ListUsers {
    pub sites: Vec<SiteRecord>,
    /// The operator rules document; `None` for an account's list, which
    /// operator rules cannot see.
    pub operator_rules: Option<serde_json::Value>,
}

/// The operator-wide rules: one ordered JSON array, shaped like a site
/// spec's `rules`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatorRules {
    pub rules: serde_json::Value,
    /// 0 until first written.
    pub updated_at: i64,
}

fn from_row(row: &AnyRow) -> Result<IpListRecord, StoreError> {
    Ok(IpListRecord {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        entry_count: row.try_get("entry_count")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn fetch<'e, E>(db: E, id: &str) -> Result<IpListRecord, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM ip_lists WHERE id = $1");
    crate::rows::fetch_by_id(db, &sql, "list", id, from_row).await
}

async fn fetch_entries<'e, E>(db: E, id: &str) -> Result<String, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    crate::rows::fetch_by_id(
        db,
        "SELECT entries FROM ip_lists WHERE id = $1",
        "list",
        id,
        |row| Ok(row.try_get("entries")?),
    )
    .await
}

fn scope_of(account_id: Option<&str>) -> &str {
    account_id.unwrap_or(OPERATOR_SCOPE)
}

fn name_taken(name: &str, account_id: Option<&str>) -> StoreError {
    let owner = match account_id {
        Some(_) => "this account",
        None => "the operator",
    };
    StoreError::conflict("name", format!("{owner} already has a list named '{name}'"))
}

/// Refuses a name another list of the same scope holds; `except` is the
/// list being renamed.
async fn check_name_free(
    tx: &mut Transaction<'static, Any>,
    account_id: Option<&str>,
    name: &str,
    except: Option<&str>,
) -> Result<(), StoreError> {
    let holder = sqlx::query("SELECT id FROM ip_lists WHERE scope = $1 AND name = $2")
        .bind(scope_of(account_id))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(row) = holder {
        let id: String = row.try_get("id")?;
        if Some(id.as_str()) != except {
            return Err(name_taken(name, account_id));
        }
    }
    Ok(())
}

async fn read_operator_rules<'e, E>(db: E) -> Result<OperatorRules, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query("SELECT rules, updated_at FROM operator_rules WHERE id = 1")
        .fetch_one(db)
        .await?;
    let text: String = row.try_get("rules")?;
    let rules = serde_json::from_str(&text)
        .map_err(|e| StoreError::Corrupt(format!("operator rules are not JSON: {e}")))?;
    Ok(OperatorRules {
        rules,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Everything whose rules may name `list`, read inside the write's
/// transaction.
async fn users_of(
    tx: &mut Transaction<'static, Any>,
    list: &IpListRecord,
) -> Result<ListUsers, StoreError> {
    match &list.account_id {
        Some(account) => Ok(ListUsers {
            sites: crate::sites::fetch_of_account(tx, Some(account)).await?,
            operator_rules: None,
        }),
        None => Ok(ListUsers {
            sites: crate::sites::fetch_of_account(tx, None).await?,
            operator_rules: Some(read_operator_rules(&mut **tx).await?.rules),
        }),
    }
}

async fn audit_list(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    action: &str,
    before: Option<&IpListRecord>,
    after: Option<&IpListRecord>,
) -> Result<(), StoreError> {
    let Some(target) = after.or(before) else {
        return Ok(());
    };
    let change = Change {
        account_id: target.account_id.as_deref(),
        action,
        target_kind: "list",
        target_id: &target.id,
        // Metadata and entry counts only: a million entries do not belong
        // in every audit row.
        before: before.map(snapshot).transpose()?,
        after: after.map(snapshot).transpose()?,
    };
    audit::record(tx, actor, change).await
}

/// Writes new entries over `before`'s and records the change.
async fn write_entries(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    before: IpListRecord,
    entries: &str,
    entry_count: i64,
    action: &str,
) -> Result<IpListRecord, StoreError> {
    let after = IpListRecord {
        entry_count,
        updated_at: next_updated_at(&before),
        ..before.clone()
    };
    sqlx::query(
        "UPDATE ip_lists SET entries = $1, entry_count = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(entries)
    .bind(entry_count)
    .bind(after.updated_at)
    .bind(after.id.as_str())
    .execute(&mut **tx)
    .await?;
    audit_list(tx, actor, action, Some(&before), Some(&after)).await?;
    Ok(after)
}

/// `updated_at` is also the edge's cache key for a parsed list, so two
/// writes within one millisecond must still give different values.
fn next_updated_at(before: &IpListRecord) -> i64 {
    now_ms().max(before.updated_at.saturating_add(1))
}

impl Store {
    /// Creates a list owned by `account_id`, or by the operator (`None`).
    pub async fn create_ip_list(
        &self,
        actor: &Actor,
        account_id: Option<&str>,
        list: IpListWrite,
    ) -> Result<IpListRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(account) = account_id {
            accounts::fetch(&mut *tx, account).await?;
        }
        check_name_free(&mut tx, account_id, &list.name, None).await?;
        let now = now_ms();
        let record = IpListRecord {
            id: new_id("list"),
            account_id: account_id.map(str::to_owned),
            name: list.name,
            description: list.description,
            entry_count: list.entry_count,
            created_at: now,
            updated_at: now,
        };
        sqlx::query(
            "INSERT INTO ip_lists (id, account_id, scope, name, description, entries,
                 entry_count, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(record.id.as_str())
        .bind(account_id)
        .bind(scope_of(account_id))
        .bind(record.name.as_str())
        .bind(record.description.as_str())
        .bind(list.entries.as_str())
        .bind(record.entry_count)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match map_unique(e, &record.name) {
            StoreError::Conflict { .. } => name_taken(&record.name, account_id),
            other => other,
        })?;
        audit_list(&mut tx, actor, "list.create", None, Some(&record)).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn get_ip_list(&self, id: &str) -> Result<IpListRecord, StoreError> {
        fetch(&self.pool, id).await
    }

    /// The list's entries, one per line.
    pub async fn ip_list_entries(&self, id: &str) -> Result<String, StoreError> {
        fetch_entries(&self.pool, id).await
    }

    /// Lists without their entries, by scope (operator first) then name.
    pub async fn list_ip_lists(&self, of: ListsOf<'_>) -> Result<Vec<IpListRecord>, StoreError> {
        let rows = match of {
            ListsOf::All => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM ip_lists"))
                    .fetch_all(&self.pool)
                    .await?
            }
            ListsOf::Operator => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM ip_lists WHERE account_id IS NULL"
                ))
                .fetch_all(&self.pool)
                .await?
            }
            ListsOf::Account(account) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM ip_lists WHERE account_id = $1"
                ))
                .bind(account)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut lists = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        lists.sort_by(|a, b| (&a.account_id, &a.name).cmp(&(&b.account_id, &b.name)));
        Ok(lists)
    }

    /// Renames the list and/or changes its description. `guard` sees what
    /// may refer to the old name, inside the transaction, and refuses a
    /// rename that would break a rule; it is only called for a rename.
    pub async fn update_ip_list(
        &self,
        actor: &Actor,
        id: &str,
        name: Option<String>,
        description: Option<String>,
        guard: impl FnOnce(&IpListRecord, &ListUsers) -> Result<(), StoreError> + Send,
    ) -> Result<IpListRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut *tx, id).await?;
        let renamed = name.as_ref().is_some_and(|n| *n != before.name);
        if renamed {
            let users = users_of(&mut tx, &before).await?;
            guard(&before, &users)?;
        }
        let after = IpListRecord {
            name: name.unwrap_or_else(|| before.name.clone()),
            description: description.unwrap_or_else(|| before.description.clone()),
            updated_at: next_updated_at(&before),
            ..before.clone()
        };
        if after.name == before.name && after.description == before.description {
            // Nothing changes: dropping the transaction undoes the revision bump.
            return Ok(before);
        }
        check_name_free(&mut tx, after.account_id.as_deref(), &after.name, Some(id)).await?;
        sqlx::query(
            "UPDATE ip_lists SET name = $1, description = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(after.name.as_str())
        .bind(after.description.as_str())
        .bind(after.updated_at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_unique(e, &after.name))?;
        audit_list(&mut tx, actor, "list.update", Some(&before), Some(&after)).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Replaces every entry.
    pub async fn replace_ip_list_entries(
        &self,
        actor: &Actor,
        id: &str,
        entries: &str,
        entry_count: i64,
    ) -> Result<IpListRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut *tx, id).await?;
        let after =
            write_entries(&mut tx, actor, before, entries, entry_count, "list.import").await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Adds entries: `merge` gets the stored entries, inside the
    /// transaction so concurrent appends both land, and returns the new
    /// text and count (or an error that leaves the list as it was).
    pub async fn append_ip_list_entries(
        &self,
        actor: &Actor,
        id: &str,
        merge: impl FnOnce(&str) -> Result<(String, i64), StoreError> + Send,
    ) -> Result<IpListRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut *tx, id).await?;
        let stored = fetch_entries(&mut *tx, id).await?;
        let (entries, count) = merge(&stored)?;
        let after = write_entries(&mut tx, actor, before, &entries, count, "list.append").await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes the list unless `guard`, which sees every site and rule that
    /// may refer to it (inside the transaction), refuses.
    pub async fn delete_ip_list(
        &self,
        actor: &Actor,
        id: &str,
        guard: impl FnOnce(&IpListRecord, &ListUsers) -> Result<(), StoreError> + Send,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut *tx, id).await?;
        let users = users_of(&mut tx, &before).await?;
        guard(&before, &users)?;
        sqlx::query("DELETE FROM ip_lists WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit_list(&mut tx, actor, "list.delete", Some(&before), None).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn operator_rules(&self) -> Result<OperatorRules, StoreError> {
        read_operator_rules(&self.pool).await
    }

    /// Replaces the operator rules (already validated by the caller).
    pub async fn set_operator_rules(
        &self,
        actor: &Actor,
        rules: serde_json::Value,
    ) -> Result<OperatorRules, StoreError> {
        let mut tx = self.begin_write().await?;
        let before = read_operator_rules(&mut *tx).await?;
        if before.rules == rules {
            return Ok(before);
        }
        let after = OperatorRules {
            rules,
            updated_at: now_ms().max(before.updated_at.saturating_add(1)),
        };
        sqlx::query("UPDATE operator_rules SET rules = $1, updated_at = $2 WHERE id = 1")
            .bind(after.rules.to_string())
            .bind(after.updated_at)
            .execute(&mut *tx)
            .await?;
        let change = Change {
            account_id: None,
            action: "operator_rules.update",
            target_kind: "operator_rules",
            target_id: "operator",
            before: Some(before.rules),
            after: Some(after.rules.clone()),
        };
        audit::record(&mut tx, actor, change).await?;
        tx.commit().await?;
        Ok(after)
    }
}
