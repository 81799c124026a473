//! The challenge signing keys every node shares through the store: made at
//! start when the store has none, rotated once a day, and handed to the
//! edge's snapshot (newest first) by the sync.

use crate::api::tokens::now_ms;
use std::time::Duration;

use rampart_config::ChallengeKey;
use rampart_store::{ChallengeKeyRecord, Store, StoreError};

/// How long a key signs before the next one takes over. The previous key
/// still verifies for one more period, so whatever was signed stays valid
/// for between one and two periods: a `clearance_ttl` longer than a day is
/// in effect cut to that.
pub(crate) const ROTATION: Duration = Duration::from_secs(24 * 3600);

/// How often the sync loop asks whether a rotation is due. The check is
/// one indexed read per node; a rotation lands at most this late.
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// The signing key and the one before it.
const IN_SNAPSHOT: u32 = 2;

fn period_ms() -> i64 {
    i64::try_from(ROTATION.as_millis()).unwrap_or(i64::MAX)
}

/// Makes a key when the store has none or the newest is a period old.
/// Every node runs this; the store makes sure they make one key between
/// them. The log line names the key's id, never its secret.
pub(crate) async fn rotate_if_due(store: &Store) -> Result<(), StoreError> {
    if let Some(key) = store.rotate_challenge_key(now_ms(), period_ms()).await? {
        tracing::info!(key_id = key.id, "new challenge signing key");
    }
    Ok(())
}

/// The keys for the edge's snapshot, newest first.
pub(crate) async fn load(store: &Store) -> Result<Vec<ChallengeKey>, StoreError> {
    Ok(store
        .challenge_keys(IN_SNAPSHOT)
        .await?
        .into_iter()
        .map(to_config)
        .collect())
}

fn to_config(record: ChallengeKeyRecord) -> ChallengeKey {
    ChallengeKey {
        id: record.id,
        secret: record.secret,
    }
}
