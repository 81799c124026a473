//! Other nodes' writes, as they happen: on PostgreSQL every write sends a
//! notification (`rampart_store::RevisionListener`), and this task wakes
//! the sync loop on each, so a change made on any node reaches this one's
//! edge in milliseconds. The sync loop's poll still runs: it is the
//! consistency check for notifications lost while the listener was
//! disconnected.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::Control;

/// Longest wait between attempts to (re)open the listener.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl Control {
    /// Runs until shutdown; returns at once on SQLite (one node, whose own
    /// writes wake the loop directly).
    pub async fn run_write_listener(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(1);
        loop {
            if let Some(store) = self.store() {
                match store.revision_listener().await {
                    Ok(None) => return,
                    Ok(Some(mut listener)) => {
                        tracing::debug!("listening for other nodes' writes");
                        backoff = Duration::from_secs(1);
                        // A write may have landed while we were not listening.
                        self.notify_changed();
                        loop {
                            tokio::select! {
                                received = listener.changed() => match received {
                                    Ok(()) => self.notify_changed(),
                                    Err(error) => {
                                        tracing::debug!("write listener lost: {error}; the poll covers meanwhile");
                                        break;
                                    }
                                },
                                _ = shutdown.wait_for(|stop| *stop) => return,
                            }
                        }
                    }
                    Err(error) => {
                        tracing::debug!("cannot listen for other nodes' writes: {error}");
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}
