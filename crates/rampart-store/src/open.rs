//! Opening a store: URL → backend, pool with per-connection settings,
//! migrations; and the transaction helper every write goes through.

use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Connection as _, Executor as _, Row as _, Transaction};

use crate::StoreError;
use crate::migrate;

/// Which database a store lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The control-plane store. Cloning is cheap: clones share one pool.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// Where write transactions run. For SQLite a pool of one connection:
    /// SQLite takes one writer at a time anyway, and its busy handler polls
    /// with growing sleeps rather than queueing, so under a burst of writes
    /// one writer could starve past the busy timeout ("database is locked").
    /// Waiting for this pool's single connection is first come, first
    /// served. Other processes (the CLI) still meet the busy timeout. For
    /// PostgreSQL the same pool as reads.
    writer: AnyPool,
    backend: Backend,
    /// PostgreSQL's URL, for the LISTEN connection (`revisions.rs`).
    pub(crate) listen_url: Option<String>,
}

/// A parsed store URL: the backend and the URL sqlx should connect to.
fn parse_url(url: &str) -> Result<(Backend, String), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned()));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| {
            StoreError::BadUrl(format!(
                "'{url}': expected sqlite://PATH or postgres://USER@HOST/DB"
            ))
        })?;
    if path.is_empty() {
        return Err(StoreError::BadUrl(format!("'{url}' names no file")));
    }
    // A URL that already carries parameters says how to open the file; a bare
    // path means "create it if missing", which is what a fresh install needs.
    if path.contains('?') {
        return Ok((Backend::Sqlite, url.to_owned()));
    }
    // The `sqlite:PATH` form, because sqlx round-trips the URL through a URL
    // parser, which would read the first segment of `sqlite://data/x.db` as a
    // host name and lowercase it.
    Ok((
        Backend::Sqlite,
        format!("sqlite:{}?mode=rwc", encode_path(path)),
    ))
}

/// sqlx percent-decodes the file name, so characters that mean something in
/// a URL must be escaped to reach the file system as written.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            ' ' => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

/// The per-connection SQLite settings. They are connection state, not file
/// state, so every pooled connection needs them. FULL sync makes every
/// acknowledged commit survive a crash or power loss, also in WAL mode.
const SQLITE_CONNECTION_PRAGMAS: [&str; 3] = [
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA synchronous = FULL",
];

impl Store {
    /// Opens (and creates, for SQLite) the store at `url` and brings its
    /// schema up to date.
    ///
    /// `url` is `sqlite://PATH`, `sqlite:PATH`, `postgres://…` or
    /// `postgresql://…`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let (backend, connect_url) = parse_url(url)?;
        let options: AnyConnectOptions = connect_url
            .parse()
            .map_err(|e| StoreError::BadUrl(format!("'{url}': {e}")))?;

        if backend == Backend::Sqlite {
            set_wal(&options).await?;
        }

        let pool_options = AnyPoolOptions::new()
            .max_connections(match backend {
                // Writers serialize on the file lock anyway; a few readers
                // beside them is all SQLite can use.
                Backend::Sqlite => 8,
                Backend::Postgres => 10,
            })
            // Bounded so a start against an unreachable PostgreSQL falls back
            // to the kept snapshot quickly, and an API call fails rather
            // than hangs.
            .acquire_timeout(Duration::from_secs(5));
        let pool_options = match backend {
            Backend::Sqlite => pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    for pragma in SQLITE_CONNECTION_PRAGMAS {
                        conn.execute(pragma).await?;
                    }
                    Ok(())
                })
            }),
            Backend::Postgres => pool_options,
        };
        let pool = pool_options.clone().connect_with(options.clone()).await?;
        let writer = match backend {
            Backend::Sqlite => {
                pool_options
                    .max_connections(1)
                    // Writers queue here; a write waiting this long has a
                    // real problem behind it.
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options)
                    .await?
            }
            Backend::Postgres => pool.clone(),
        };
        let listen_url = (backend == Backend::Postgres).then(|| connect_url.clone());
        let store = Store {
            pool,
            writer,
            backend,
            listen_url,
        };
        if let Err(e) = migrate::run(&store).await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// The embedded default: SQLite file `<data_dir>/rampart.db`.
    pub async fn open_in_data_dir(data_dir: &Path) -> Result<Store, StoreError> {
        let path = data_dir.join("rampart.db");
        let path = path.to_str().ok_or_else(|| {
            StoreError::BadUrl(format!("data dir {} is not UTF-8", data_dir.display()))
        })?;
        Store::open(&format!("sqlite://{path}")).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The newest migration applied to this database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT MAX(version) AS v FROM schema_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("v")?.unwrap_or(0))
    }

    /// A counter bumped by every committed write to accounts, users, tokens
    /// and sites; the edge polls it to know when to rebuild its snapshot.
    pub async fn revision(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT value FROM store_revision WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("value")?)
    }

    /// Closes every pooled connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// Starts a transaction for a write and bumps the revision first.
    ///
    /// Bumping first is what makes the in-transaction uniqueness checks
    /// reliable: on SQLite, `BEGIN IMMEDIATE` takes the write lock up front
    /// (a deferred transaction that reads, then writes, can fail with "database
    /// is locked" without waiting); on PostgreSQL, the row lock on
    /// `store_revision` queues writers, and under READ COMMITTED each later
    /// statement sees what the previous writer committed. A write that fails
    /// or turns out to change nothing rolls back, bump included.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        let mut tx = self.begin_locked().await?;
        sqlx::query("UPDATE store_revision SET value = value + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        if self.backend == Backend::Postgres {
            // Delivered at commit (and not at all on rollback), to every
            // node listening: they sync at once instead of at their next poll.
            sqlx::query(crate::revisions::NOTIFY)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// A transaction that holds SQLite's write lock from its first statement;
    /// on PostgreSQL a plain one.
    pub(crate) async fn begin_locked(&self) -> Result<Transaction<'static, Any>, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(tx)
    }
}

/// Switches the file to write-ahead logging, once: the mode is stored in the
/// file, and it lets readers (the edge's poll) proceed while a writer
/// commits. Skipped when already on, because switching needs an exclusive
/// lock another process (a running server) may hold.
async fn set_wal(options: &AnyConnectOptions) -> Result<(), StoreError> {
    let mut conn = sqlx::AnyConnection::connect_with(options).await?;
    conn.execute("PRAGMA busy_timeout = 5000").await?;
    let row = sqlx::query("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await?;
    let mode: String = row.try_get(0)?;
    if !mode.eq_ignore_ascii_case("wal") {
        conn.execute("PRAGMA journal_mode = WAL").await?;
    }
    conn.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings durability and concurrency rest on reach every pooled
    /// connection, not just the first.
    #[tokio::test]
    async fn sqlite_connections_are_configured() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_data_dir(dir.path()).await.unwrap();
        assert!(dir.path().join("rampart.db").exists());
        let mut conns = Vec::new();
        for _ in 0..3 {
            conns.push(store.pool.acquire().await.unwrap());
        }
        for conn in &mut conns {
            let mut pragma = async |name: &str| -> String {
                let row = sqlx::query(&format!("PRAGMA {name}"))
                    .fetch_one(&mut **conn)
                    .await
                    .unwrap();
                row.try_get::<String, _>(0)
                    .or_else(|_| row.try_get::<i64, _>(0).map(|n| n.to_string()))
                    .unwrap()
            };
            assert_eq!(pragma("journal_mode").await, "wal");
            assert_eq!(pragma("synchronous").await, "2", "FULL");
            assert_eq!(pragma("foreign_keys").await, "1");
            assert_eq!(pragma("busy_timeout").await, "5000");
        }
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("sqlite:///var/lib/rampart/rampart.db").ok(),
            Some((
                Backend::Sqlite,
                "sqlite:/var/lib/rampart/rampart.db?mode=rwc".to_owned()
            ))
        );
        assert_eq!(
            parse_url("sqlite://Data/a b.db").ok(),
            Some((Backend::Sqlite, "sqlite:Data/a%20b.db?mode=rwc".to_owned()))
        );
        assert_eq!(
            parse_url("postgresql://u@h/db").ok(),
            Some((Backend::Postgres, "postgresql://u@h/db".to_owned()))
        );
        assert!(matches!(parse_url("mysql://x"), Err(StoreError::BadUrl(_))));
        assert!(matches!(parse_url("sqlite://"), Err(StoreError::BadUrl(_))));
    }
}
