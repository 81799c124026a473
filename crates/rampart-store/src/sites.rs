//! Sites: a name, the host patterns routed to it, and its spec (JSON the
//! control plane and edge interpret; the store only keeps it).
//!
//! Host patterns live in `site_hosts`, whose primary key makes a pattern
//! belong to at most one site across all accounts. Patterns compare as the
//! exact strings callers pass (already lowercased and normalized).

use std::collections::{HashMap, HashSet};

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row as _, Transaction};

use crate::audit::{self, Change, snapshot};
use crate::error::map_unique;
use crate::ids::{new_id, now_ms};
use crate::{Actor, SiteRecord, SiteWrite, Store, StoreError, SyncReport, accounts};

const COLUMNS: &str = "id, account_id, name, spec, file_managed, created_at, updated_at";

/// Decodes a `sites` row; `hosts` come from `site_hosts` separately.
fn from_row(row: &AnyRow, hosts: Vec<String>) -> Result<SiteRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let spec: String = row.try_get("spec")?;
    let spec = serde_json::from_str(&spec)
        .map_err(|e| StoreError::Corrupt(format!("site '{id}' spec is not JSON: {e}")))?;
    let file_managed: i64 = row.try_get("file_managed")?;
    Ok(SiteRecord {
        id,
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        hosts,
        spec,
        file_managed: file_managed != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Turns `sites` rows into records, attaching each one's hosts in order.
async fn assemble<'e, E>(db: E, rows: &[AnyRow]) -> Result<Vec<SiteRecord>, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // One site: its hosts. Several: one query for all hosts rather than one
    // per site (the table holds a few rows per site, so reading it whole is
    // cheaper than a long IN list).
    let host_rows = match rows {
        [row] => {
            let id: String = row.try_get("id")?;
            sqlx::query("SELECT host, site_id, position FROM site_hosts WHERE site_id = $1")
                .bind(id)
                .fetch_all(db)
                .await?
        }
        _ => {
            sqlx::query("SELECT host, site_id, position FROM site_hosts")
                .fetch_all(db)
                .await?
        }
    };
    let mut hosts: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for row in &host_rows {
        let site_id: String = row.try_get("site_id")?;
        hosts
            .entry(site_id)
            .or_default()
            .push((row.try_get("position")?, row.try_get("host")?));
    }
    let mut sites = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("id")?;
        let mut list = hosts.remove(&id).unwrap_or_default();
        list.sort();
        sites.push(from_row(row, list.into_iter().map(|(_, h)| h).collect())?);
    }
    sites.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(sites)
}

async fn fetch(tx: &mut Transaction<'static, Any>, id: &str) -> Result<SiteRecord, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM sites WHERE id = $1"))
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    assemble(&mut **tx, &rows)
        .await?
        .pop()
        .ok_or_else(|| StoreError::not_found("site", id))
}

async fn fetch_all(tx: &mut Transaction<'static, Any>) -> Result<Vec<SiteRecord>, StoreError> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM sites"))
        .fetch_all(&mut **tx)
        .await?;
    assemble(&mut **tx, &rows).await
}

/// The sites of one account, or (`None`) all of them, inside a transaction.
pub(crate) async fn fetch_of_account(
    tx: &mut Transaction<'static, Any>,
    account_id: Option<&str>,
) -> Result<Vec<SiteRecord>, StoreError> {
    let Some(account) = account_id else {
        return fetch_all(tx).await;
    };
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM sites WHERE account_id = $1"
    ))
    .bind(account)
    .fetch_all(&mut **tx)
    .await?;
    assemble(&mut **tx, &rows).await
}

/// Rejects a write whose name or hosts another site holds. `others` are the
/// sites the written one must not collide with.
fn check_unique<'a>(
    site: &SiteWrite,
    others: impl IntoIterator<Item = &'a SiteRecord>,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    for host in &site.hosts {
        if !seen.insert(host.as_str()) {
            return Err(StoreError::conflict(
                "hosts",
                format!("host '{host}' is listed twice for site '{}'", site.name),
            ));
        }
    }
    for other in others {
        if other.name == site.name {
            return Err(StoreError::conflict(
                "name",
                format!("site name '{}' is already taken", site.name),
            ));
        }
        if let Some(host) = site.hosts.iter().find(|h| other.hosts.contains(h)) {
            return Err(host_taken(host));
        }
    }
    Ok(())
}

/// The same rule as [`check_unique`], asked of the database with indexed
/// lookups instead of loading every site: a write costs the same with ten
/// sites or ten thousand. `except` is the site being rewritten.
async fn check_unique_indexed(
    tx: &mut Transaction<'static, Any>,
    site: &SiteWrite,
    except: Option<&str>,
) -> Result<(), StoreError> {
    check_unique(site, std::iter::empty())?;
    let holder = sqlx::query("SELECT id FROM sites WHERE name = $1")
        .bind(site.name.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(row) = holder {
        let id: String = row.try_get("id")?;
        if Some(id.as_str()) != except {
            return Err(StoreError::conflict(
                "name",
                format!("site name '{}' is already taken", site.name),
            ));
        }
    }
    for host in &site.hosts {
        let holder = sqlx::query("SELECT site_id FROM site_hosts WHERE host = $1")
            .bind(host.as_str())
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(row) = holder {
            let id: String = row.try_get("site_id")?;
            if Some(id.as_str()) != except {
                return Err(host_taken(host));
            }
        }
    }
    Ok(())
}

fn host_taken(host: &str) -> StoreError {
    StoreError::conflict(
        "hosts",
        format!("host '{host}' already belongs to another site"),
    )
}

async fn insert_hosts(
    tx: &mut Transaction<'static, Any>,
    site_id: &str,
    hosts: &[String],
) -> Result<(), StoreError> {
    for (position, host) in (0_i64..).zip(hosts) {
        sqlx::query("INSERT INTO site_hosts (host, site_id, position) VALUES ($1, $2, $3)")
            .bind(host.as_str())
            .bind(site_id)
            .bind(position)
            .execute(&mut **tx)
            .await
            .map_err(|e| match map_unique(e, host) {
                StoreError::Conflict { .. } => host_taken(host),
                other => other,
            })?;
    }
    Ok(())
}

async fn insert(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    account_id: &str,
    site: SiteWrite,
    file_managed: bool,
) -> Result<SiteRecord, StoreError> {
    let now = now_ms();
    let record = SiteRecord {
        id: new_id("site"),
        account_id: account_id.to_owned(),
        name: site.name,
        hosts: site.hosts,
        spec: site.spec,
        file_managed,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO sites (id, account_id, name, spec, file_managed, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(record.id.as_str())
    .bind(account_id)
    .bind(record.name.as_str())
    .bind(record.spec.to_string())
    .bind(i64::from(file_managed))
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| map_unique(e, &record.name))?;
    insert_hosts(tx, &record.id, &record.hosts).await?;
    let change = Change {
        account_id: Some(account_id),
        action: "site.create",
        target_kind: "site",
        target_id: &record.id,
        before: None,
        after: Some(snapshot(&record)?),
    };
    audit::record(tx, actor, change).await?;
    Ok(record)
}

/// Rewrites `before` as `site` (and moves it to `account_id`). The caller
/// has already released any host the new list takes from another site.
async fn replace(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    before: SiteRecord,
    account_id: &str,
    site: SiteWrite,
) -> Result<SiteRecord, StoreError> {
    replace_as(tx, actor, before, account_id, site, "site.update").await
}

/// [`replace`] with the audit row's action named by the caller, for writes
/// that deserve a more precise name than "site.update".
async fn replace_as(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    before: SiteRecord,
    account_id: &str,
    site: SiteWrite,
    action: &str,
) -> Result<SiteRecord, StoreError> {
    let after = SiteRecord {
        account_id: account_id.to_owned(),
        name: site.name,
        hosts: site.hosts,
        spec: site.spec,
        updated_at: now_ms(),
        ..before.clone()
    };
    sqlx::query(
        "UPDATE sites SET account_id = $1, name = $2, spec = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(account_id)
    .bind(after.name.as_str())
    .bind(after.spec.to_string())
    .bind(after.updated_at)
    .bind(after.id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(|e| map_unique(e, &after.name))?;
    sqlx::query("DELETE FROM site_hosts WHERE site_id = $1")
        .bind(after.id.as_str())
        .execute(&mut **tx)
        .await?;
    insert_hosts(tx, &after.id, &after.hosts).await?;
    let change = Change {
        account_id: Some(account_id),
        action,
        target_kind: "site",
        target_id: &after.id,
        before: Some(snapshot(&before)?),
        after: Some(snapshot(&after)?),
    };
    audit::record(tx, actor, change).await?;
    Ok(after)
}

async fn remove(
    tx: &mut Transaction<'static, Any>,
    actor: &Actor,
    before: &SiteRecord,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sites WHERE id = $1")
        .bind(before.id.as_str())
        .execute(&mut **tx)
        .await?;
    let change = Change {
        account_id: Some(&before.account_id),
        action: "site.delete",
        target_kind: "site",
        target_id: &before.id,
        before: Some(snapshot(before)?),
        after: None,
    };
    audit::record(tx, actor, change).await
}

impl Store {
    pub async fn create_site(
        &self,
        actor: &Actor,
        account_id: &str,
        site: SiteWrite,
        file_managed: bool,
    ) -> Result<SiteRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        accounts::fetch(&mut *tx, account_id).await?;
        check_unique_indexed(&mut tx, &site, None).await?;
        let record = insert(&mut tx, actor, account_id, site, file_managed).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn get_site(&self, id: &str) -> Result<SiteRecord, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM sites WHERE id = $1"))
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        assemble(&self.pool, &rows)
            .await?
            .pop()
            .ok_or_else(|| StoreError::not_found("site", id))
    }

    pub async fn site_by_name(&self, name: &str) -> Result<Option<SiteRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM sites WHERE name = $1"))
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        Ok(assemble(&self.pool, &rows).await?.pop())
    }

    /// Sites of one account, or (`None`) all of them; by name.
    pub async fn list_sites(
        &self,
        account_id: Option<&str>,
    ) -> Result<Vec<SiteRecord>, StoreError> {
        let rows = match account_id {
            Some(account) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM sites WHERE account_id = $1"
                ))
                .bind(account)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM sites"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        assemble(&self.pool, &rows).await
    }

    /// Replaces the site's name, hosts and spec; its account and
    /// file-managed flag stay.
    pub async fn update_site(
        &self,
        actor: &Actor,
        id: &str,
        site: SiteWrite,
    ) -> Result<SiteRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut tx, id).await?;
        check_unique_indexed(&mut tx, &site, Some(id)).await?;
        let account_id = before.account_id.clone();
        let record = replace(&mut tx, actor, before, &account_id, site).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Rewrites the site as `change` says, reading it inside the write's
    /// transaction: `change` sees the site as it is now (not as the caller
    /// last read it), so two writes to one site cannot lose each other.
    /// `change` returns the new name, hosts and spec plus a value handed
    /// back to the caller; its error leaves the site as it was. `action`
    /// names the audit row, e.g. "site.captcha_key.create".
    pub async fn update_site_with<T, E>(
        &self,
        actor: &Actor,
        id: &str,
        action: &str,
        change: impl FnOnce(&SiteRecord) -> Result<(SiteWrite, T), E> + Send,
    ) -> Result<(SiteRecord, T), E>
    where
        E: From<StoreError>,
    {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut tx, id).await?;
        let (site, value) = change(&before)?;
        check_unique_indexed(&mut tx, &site, Some(id)).await?;
        let account_id = before.account_id.clone();
        let record = replace_as(&mut tx, actor, before, &account_id, site, action).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok((record, value))
    }

    pub async fn delete_site(&self, actor: &Actor, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let before = fetch(&mut tx, id).await?;
        remove(&mut tx, actor, &before).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes the file-managed sites equal to `sites`, all under
    /// `account_id`: creates the missing, rewrites the changed, deletes those
    /// no longer listed. Sites match by name. A restart with an unchanged
    /// file writes nothing and leaves the revision alone. Refuses, changing
    /// nothing, when a name or host belongs to a site the API manages.
    pub async fn sync_file_sites(
        &self,
        actor: &Actor,
        account_id: &str,
        sites: Vec<SiteWrite>,
    ) -> Result<SyncReport, StoreError> {
        let mut tx = self.begin_write().await?;
        accounts::fetch(&mut *tx, account_id).await?;
        let existing = fetch_all(&mut tx).await?;
        let (file_sites, api_sites): (Vec<_>, Vec<_>) =
            existing.into_iter().partition(|s| s.file_managed);

        // Validate everything before the first write, so a refusal names the
        // first problem and leaves the store as it was.
        let mut names = HashSet::new();
        let mut hosts = HashSet::new();
        for site in &sites {
            if !names.insert(site.name.as_str()) {
                return Err(StoreError::conflict(
                    "name",
                    format!("site name '{}' is listed twice", site.name),
                ));
            }
            check_unique(site, &api_sites)?;
            if let Some(host) = site.hosts.iter().find(|h| !hosts.insert(h.as_str())) {
                return Err(host_taken(host));
            }
        }

        let mut by_name: HashMap<String, SiteRecord> = file_sites
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        for site in sites {
            match by_name.remove(&site.name) {
                None => creates.push(site),
                Some(old)
                    if old.hosts == site.hosts
                        && old.spec == site.spec
                        && old.account_id == account_id => {}
                Some(old) => updates.push((old, site)),
            }
        }
        let deletes: Vec<SiteRecord> = by_name.into_values().collect();
        let report = SyncReport {
            created: creates.len(),
            updated: updates.len(),
            deleted: deletes.len(),
        };
        if report == SyncReport::default() {
            // Dropping the transaction rolls back the revision bump.
            return Ok(report);
        }

        // Order matters for hosts moving between file sites: free every host
        // held by a deleted or rewritten site before inserting any.
        for old in &deletes {
            remove(&mut tx, actor, old).await?;
        }
        for (old, _) in &updates {
            sqlx::query("DELETE FROM site_hosts WHERE site_id = $1")
                .bind(old.id.as_str())
                .execute(&mut *tx)
                .await?;
        }
        for (old, site) in updates {
            replace(&mut tx, actor, old, account_id, site).await?;
        }
        for site in creates {
            insert(&mut tx, actor, account_id, site, true).await?;
        }
        tx.commit().await?;
        Ok(report)
    }
}
