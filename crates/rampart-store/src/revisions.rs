//! Change notifications between nodes on one PostgreSQL: every write's
//! transaction sends `NOTIFY` on one channel (see `Store::begin_write`),
//! and each node LISTENs, so the others rebuild their snapshot within
//! milliseconds instead of at their next poll. The poll stays as the
//! consistency check: a notification lost while a listener reconnected is
//! caught up by it.

use sqlx::postgres::PgListener;

use crate::{Store, StoreError};

const CHANNEL: &str = "rampart_store_revision";

/// The statement each write runs in its transaction (delivered on commit).
pub(crate) const NOTIFY: &str = "SELECT pg_notify('rampart_store_revision', '')";

/// A LISTEN connection of its own (not from the pool: it stays open).
pub struct RevisionListener {
    listener: PgListener,
}

impl RevisionListener {
    /// Waits for the next write on any node. After a dropped connection it
    /// reconnects by itself; what was sent meanwhile is lost (hence the
    /// poll).
    pub async fn changed(&mut self) -> Result<(), StoreError> {
        self.listener.recv().await?;
        Ok(())
    }
}

impl Store {
    /// A listener for other nodes' writes, on PostgreSQL; `None` on SQLite,
    /// whose single node learns of its own writes directly.
    pub async fn revision_listener(&self) -> Result<Option<RevisionListener>, StoreError> {
        let Some(url) = &self.listen_url else {
            return Ok(None);
        };
        let mut listener = PgListener::connect(url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(RevisionListener { listener }))
    }
}
