//! Traffic analytics: the per-site, per-minute, per-node rows the edge's
//! aggregator flushes (see `rampart-analytics`), and the two queries the API
//! reads them with: a time series and top-N lists over a range of minutes.
//!
//! This is telemetry, not configuration: writes neither bump the store
//! revision (the edge would rebuild its snapshot after every flush) nor go
//! to the audit log (one row per site per minute would drown it).
//!
//! Rows are kept per node so that nodes never write the same row: a node
//! merging into its own rows needs no coordination with the others, and
//! queries sum over nodes.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::LazyLock;

use futures_util::TryStreamExt as _;
use rampart_analytics::{Counters, MinuteBucket, merge};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};

use crate::{Store, StoreError};

/// The analytics table, applied by the migration that lists it in
/// `migrate::MIGRATIONS`. Statements are separated by `;` and contain none.
pub(crate) const SCHEMA: &str = r"
CREATE TABLE analytics_minutes (
    site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    minute BIGINT NOT NULL,
    node_id TEXT NOT NULL,
    requests BIGINT NOT NULL,
    bytes_in BIGINT NOT NULL,
    bytes_out BIGINT NOT NULL,
    status_1xx BIGINT NOT NULL,
    status_2xx BIGINT NOT NULL,
    status_3xx BIGINT NOT NULL,
    status_4xx BIGINT NOT NULL,
    status_5xx BIGINT NOT NULL,
    passed BIGINT NOT NULL,
    blocked BIGINT NOT NULL,
    challenged BIGINT NOT NULL,
    rate_limited BIGINT NOT NULL,
    cache_hit BIGINT NOT NULL,
    cache_miss BIGINT NOT NULL,
    cache_bypass BIGINT NOT NULL,
    top_ips TEXT NOT NULL,
    top_countries TEXT NOT NULL,
    top_paths TEXT NOT NULL,
    top_rules TEXT NOT NULL,
    PRIMARY KEY (site_id, minute, node_id)
);
CREATE INDEX analytics_minutes_minute ON analytics_minutes (minute)
";

/// The counter columns: named as the counters are.
const COUNTERS: [&str; 15] = Counters::NAMES;

/// The top-list columns, JSON `[[key, count], …]`, largest first.
const TOPS: [&str; 4] = ["top_ips", "top_countries", "top_paths", "top_rules"];

/// Entries a top list of a merged row keeps at least; bounds rows that are
/// merged again and again.
const MERGED_TOP_CAP: usize = 100;

/// Distinct keys per dimension [`Store::traffic_top`] tallies before it
/// forgets the smallest half; bounds its memory over long ranges.
const MAX_TALLY_KEYS: usize = 50_000;

/// One minute of a site's traffic, summed over nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficMinute {
    /// Unix seconds of the minute's start.
    pub minute: i64,
    #[serde(flatten)]
    pub counters: Counters,
}

/// A site's heaviest hitters over a range: `(key, count)`, largest first,
/// ties by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficTop {
    pub ips: Vec<(String, u64)>,
    pub countries: Vec<(String, u64)>,
    pub paths: Vec<(String, u64)>,
    pub rules: Vec<(String, u64)>,
}

fn tops(b: &MinuteBucket) -> [&Vec<(String, u64)>; 4] {
    [&b.top_ips, &b.top_countries, &b.top_paths, &b.top_rules]
}

/// Counters are unsigned in Rust and BIGINT (signed) in SQL; a count past
/// `i64::MAX` cannot happen in practice, so saturating is enough.
fn to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_db(row: &AnyRow, column: &str) -> Result<u64, StoreError> {
    let n: i64 = row.try_get(column)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn list_from_json(text: &str, column: &str) -> Result<Vec<(String, u64)>, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("analytics {column} is not a JSON list: {e}")))
}

fn list_to_json(list: &[(String, u64)]) -> Result<String, StoreError> {
    serde_json::to_string(list)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode an analytics list: {e}")))
}

/// A stored row as a bucket (without its site name, which the row does not hold).
fn bucket_from_row(row: &AnyRow) -> Result<MinuteBucket, StoreError> {
    let mut b = MinuteBucket {
        minute: row.try_get("minute")?,
        ..MinuteBucket::default()
    };
    for (field, column) in b.counters.values_mut().into_iter().zip(COUNTERS) {
        *field = from_db(row, column)?;
    }
    let lists = [
        &mut b.top_ips,
        &mut b.top_countries,
        &mut b.top_paths,
        &mut b.top_rules,
    ];
    for (list, column) in lists.into_iter().zip(TOPS) {
        let text: String = row.try_get(column)?;
        *list = list_from_json(&text, column)?;
    }
    Ok(b)
}

fn minute_from_row(row: &AnyRow) -> Result<TrafficMinute, StoreError> {
    let mut m = TrafficMinute {
        minute: row.try_get("minute")?,
        ..TrafficMinute::default()
    };
    for (field, column) in m.counters.values_mut().into_iter().zip(COUNTERS) {
        *field = from_db(row, column)?;
    }
    Ok(m)
}

/// Every column, for reading a row back to merge into it.
static SELECT_ROW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT site_id, minute, {}, {} FROM analytics_minutes WHERE node_id = $1 AND minute = $2",
        COUNTERS.join(", "),
        TOPS.join(", ")
    )
});

/// Writes a whole row, replacing a stored one: the merge happened in Rust,
/// because the top lists are JSON that SQL cannot add portably.
static UPSERT_ROW: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<&str> = ["site_id", "minute", "node_id"]
        .into_iter()
        .chain(COUNTERS)
        .chain(TOPS)
        .collect();
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = COUNTERS
        .into_iter()
        .chain(TOPS)
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO analytics_minutes ({}) VALUES ({}) \
         ON CONFLICT (site_id, minute, node_id) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    )
});

/// Sums over nodes per minute. PostgreSQL's SUM of a BIGINT is NUMERIC,
/// which the `Any` driver cannot decode: hence the casts.
static SELECT_SERIES: LazyLock<String> = LazyLock::new(|| {
    let sums: Vec<String> = COUNTERS
        .into_iter()
        .map(|c| format!("CAST(SUM({c}) AS BIGINT) AS {c}"))
        .collect();
    format!(
        "SELECT minute, {} FROM analytics_minutes \
         WHERE site_id = $1 AND minute >= $2 AND minute < $3 \
         GROUP BY minute ORDER BY minute",
        sums.join(", ")
    )
});

/// A merged row waiting to be written.
struct Pending {
    site_id: String,
    bucket: MinuteBucket,
}

/// Folds `other` into `into`. A merged top list keeps every key of both
/// inputs up to [`MERGED_TOP_CAP`] (or the longest input, if longer: the
/// aggregator's `top_n`, which the store does not know), so merging loses
/// nothing in the usual case of one restart within a minute.
fn merge_bucket(into: &mut MinuteBucket, other: &MinuteBucket) {
    let top_n = tops(into)
        .into_iter()
        .chain(tops(other))
        .map(Vec::len)
        .fold(MERGED_TOP_CAP, usize::max);
    merge(into, other, top_n);
}

/// This node's stored rows of `minute`, keyed by site id.
async fn stored_minute(
    tx: &mut Transaction<'static, Any>,
    node_id: &str,
    minute: i64,
) -> Result<HashMap<String, MinuteBucket>, StoreError> {
    let rows = sqlx::query(&SELECT_ROW)
        .bind(node_id)
        .bind(minute)
        .fetch_all(&mut **tx)
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        out.insert(row.try_get("site_id")?, bucket_from_row(row)?);
    }
    Ok(out)
}

async fn upsert(
    tx: &mut Transaction<'static, Any>,
    node_id: &str,
    row: &Pending,
) -> Result<(), StoreError> {
    let mut query = sqlx::query(&UPSERT_ROW)
        .bind(row.site_id.as_str())
        .bind(row.bucket.minute)
        .bind(node_id);
    for n in row.bucket.counters.values() {
        query = query.bind(to_db(n));
    }
    for list in tops(&row.bucket) {
        query = query.bind(list_to_json(list)?);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Sums `(key, count)` lists per key in bounded memory.
struct Tally {
    counts: HashMap<String, u64>,
}

impl Tally {
    fn new() -> Self {
        Self {
            counts: HashMap::new(),
        }
    }

    fn add_json(&mut self, text: &str, column: &str) -> Result<(), StoreError> {
        for (key, n) in list_from_json(text, column)? {
            let count = self.counts.entry(key).or_insert(0);
            *count = count.saturating_add(n);
        }
        if self.counts.len() > MAX_TALLY_KEYS {
            // Past the cap, forget the smaller half: a key that comes back
            // later restarts from zero, so it can only be under-counted, and
            // only in ranges with more distinct keys than the cap.
            let kept = self.top(MAX_TALLY_KEYS / 2);
            self.counts = kept.into_iter().collect();
        }
        Ok(())
    }

    fn top(&self, n: usize) -> Vec<(String, u64)> {
        let mut list: Vec<(&String, u64)> = self.counts.iter().map(|(k, c)| (k, *c)).collect();
        list.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        list.truncate(n);
        list.into_iter().map(|(k, c)| (k.clone(), c)).collect()
    }
}

impl Store {
    /// Adds one node's flushed buckets to the stored minutes, in one
    /// transaction; returns how many buckets were stored.
    ///
    /// `bucket.site` is a site *name*; buckets of names no site has (a site
    /// deleted since, or the aggregator's overflow bucket) are skipped.
    ///
    /// A bucket for a (site, minute, node) row that exists is merged into it
    /// (counters added, top lists summed per key): a node that restarts
    /// within a minute, or flushes a minute early at shutdown, writes the
    /// same row twice and both halves count. Retries therefore must not
    /// resend what was committed: the caller keeps a batch only when this
    /// call fails, and then the transaction rolled back and nothing of it
    /// counted. (A commit whose acknowledgement is lost in transit would be
    /// counted twice on retry; for telemetry that is the accepted cost of not
    /// keeping a ledger of flushed batches.)
    pub async fn record_minutes(
        &self,
        node_id: &str,
        buckets: &[MinuteBucket],
    ) -> Result<usize, StoreError> {
        self.record_minutes_once(node_id, None, buckets).await
    }

    /// [`Store::record_minutes`] for a batch replayed from a node's spool:
    /// with `batch` set, a batch already applied is not counted again
    /// (answers 0).
    pub async fn record_minutes_once(
        &self,
        node_id: &str,
        batch: Option<&str>,
        buckets: &[MinuteBucket],
    ) -> Result<usize, StoreError> {
        if buckets.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_locked().await?;
        if let Some(batch) = batch
            && !crate::nodes::claim_batch(&mut tx, batch, node_id).await?
        {
            tx.commit().await?;
            return Ok(0);
        }
        let mut site_ids = HashMap::new();
        for row in sqlx::query("SELECT id, name FROM sites")
            .fetch_all(&mut *tx)
            .await?
        {
            let id: String = row.try_get("id")?;
            let name: String = row.try_get("name")?;
            site_ids.insert(name, id);
        }

        // Merge the batch with itself and with what is stored, then write
        // each row once.
        let mut stored: HashMap<i64, HashMap<String, MinuteBucket>> = HashMap::new();
        let mut rows: HashMap<(String, i64), Pending> = HashMap::new();
        let mut written = 0;
        for bucket in buckets {
            let Some(site_id) = site_ids.get(&bucket.site) else {
                continue;
            };
            written += 1;
            let key = (site_id.clone(), bucket.minute);
            if let Some(row) = rows.get_mut(&key) {
                merge_bucket(&mut row.bucket, bucket);
                continue;
            }
            let minute_rows = match stored.entry(bucket.minute) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(stored_minute(&mut tx, node_id, bucket.minute).await?),
            };
            let merged = match minute_rows.remove(site_id) {
                Some(mut existing) => {
                    merge_bucket(&mut existing, bucket);
                    existing
                }
                None => bucket.clone(),
            };
            rows.insert(
                key,
                Pending {
                    site_id: site_id.clone(),
                    bucket: merged,
                },
            );
        }
        for row in rows.values() {
            upsert(&mut tx, node_id, row).await?;
        }
        tx.commit().await?;
        Ok(written)
    }

    /// The site's minutes in `[from_minute, to_minute)` (unix seconds) that
    /// have data, summed over nodes, oldest first.
    pub async fn traffic_series(
        &self,
        site_id: &str,
        from_minute: i64,
        to_minute: i64,
    ) -> Result<Vec<TrafficMinute>, StoreError> {
        let rows = sqlx::query(&SELECT_SERIES)
            .bind(site_id)
            .bind(from_minute)
            .bind(to_minute)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(minute_from_row).collect()
    }

    /// The site's `n` heaviest client addresses, countries, paths and rules
    /// over the minutes in `[from_minute, to_minute)`: each minute's stored
    /// lists summed per key across minutes and nodes.
    ///
    /// Counts inherit the stored lists' error (see `rampart-analytics`): a
    /// key that missed a minute's list contributes nothing for that minute.
    /// Rows are streamed, and at most [`MAX_TALLY_KEYS`] keys per dimension
    /// are held, so a month-long range costs bounded memory.
    pub async fn traffic_top(
        &self,
        site_id: &str,
        from_minute: i64,
        to_minute: i64,
        n: usize,
    ) -> Result<TrafficTop, StoreError> {
        let sql = format!(
            "SELECT {} FROM analytics_minutes \
             WHERE site_id = $1 AND minute >= $2 AND minute < $3",
            TOPS.join(", ")
        );
        let mut rows = sqlx::query(&sql)
            .bind(site_id)
            .bind(from_minute)
            .bind(to_minute)
            .fetch(&self.pool);
        let mut tallies = [Tally::new(), Tally::new(), Tally::new(), Tally::new()];
        while let Some(row) = rows.try_next().await? {
            for (tally, column) in tallies.iter_mut().zip(TOPS) {
                let text: String = row.try_get(column)?;
                tally.add_json(&text, column)?;
            }
        }
        let [ips, countries, paths, rules] = tallies.map(|t| t.top(n));
        Ok(TrafficTop {
            ips,
            countries,
            paths,
            rules,
        })
    }

    /// Deletes every node's minutes before `before_minute` (unix seconds);
    /// returns how many rows went. Retention, run by the control plane.
    pub async fn purge_analytics(&self, before_minute: i64) -> Result<u64, StoreError> {
        // Through the writers' queue like every write: an autocommit DELETE
        // on SQLite would contend for the lock instead of waiting its turn.
        let mut tx = self.begin_locked().await?;
        let done = sqlx::query("DELETE FROM analytics_minutes WHERE minute < $1")
            .bind(before_minute)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_names_every_column_once() {
        let sql = &*UPSERT_ROW;
        assert!(sql.contains("$22"), "{sql}");
        assert!(!sql.contains("$23"), "{sql}");
        assert!(sql.contains("top_rules = excluded.top_rules"), "{sql}");
    }

    #[test]
    fn tally_forgets_the_smallest_past_the_cap() {
        let mut tally = Tally::new();
        tally.add_json(r#"[["big",1000]]"#, "t").unwrap();
        let many: Vec<(String, u64)> = (0..MAX_TALLY_KEYS).map(|i| (format!("k{i}"), 1)).collect();
        tally
            .add_json(&serde_json::to_string(&many).unwrap(), "t")
            .unwrap();
        assert!(tally.counts.len() <= MAX_TALLY_KEYS / 2);
        assert_eq!(tally.top(1), vec![("big".to_owned(), 1000)]);
        assert!(matches!(
            tally.add_json("{", "top_ips"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
