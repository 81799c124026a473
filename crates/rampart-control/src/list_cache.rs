//! The store's IP lists, parsed for the edge's snapshot and kept between
//! rebuilds: a rebuild happens on every write to any site, and reparsing a
//! million-entry list each time would cost about a second. A list is parsed
//! again only when its `updated_at` (bumped by every write to it) moves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rampart_config::{ListScope, NamedList};
use rampart_rules::IpList;
use rampart_store::{IpListRecord, ListsOf, Store, StoreError};

#[derive(Default)]
pub(crate) struct ListCache {
    /// List id → (updated_at, parsed entries).
    parsed: Mutex<HashMap<String, (i64, Arc<IpList>)>>,
}

impl ListCache {
    fn cached(&self, id: &str, updated_at: i64) -> Option<Arc<IpList>> {
        let parsed = self.parsed.lock().ok()?;
        parsed
            .get(id)
            .filter(|(at, _)| *at == updated_at)
            .map(|(_, list)| list.clone())
    }

    /// Every list in the store, parsing only the new and changed ones.
    /// Lists no longer in the store leave the cache.
    pub(crate) async fn load(
        &self,
        store: &Store,
    ) -> Result<Vec<(IpListRecord, Arc<IpList>)>, StoreError> {
        let records = store.list_ip_lists(ListsOf::All).await?;
        let mut fresh = HashMap::with_capacity(records.len());
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let entries = match self.cached(&record.id, record.updated_at) {
                Some(list) => list,
                None => {
                    let text = match store.ip_list_entries(&record.id).await {
                        Ok(text) => text,
                        // Deleted since the listing: the next rebuild has it gone.
                        Err(StoreError::NotFound { .. }) => continue,
                        Err(error) => return Err(error),
                    };
                    // A million lines take a while to parse; not on the
                    // async workers the admin API and sync loop share.
                    let parsed =
                        tokio::task::spawn_blocking(move || IpList::from_text(&text)).await;
                    match parsed {
                        Ok(Ok(list)) => Arc::new(list),
                        Ok(Err(error)) => {
                            // The API stores only entries that parse, so
                            // this is a store edited by hand: an empty
                            // list keeps the rules that use it compiling.
                            tracing::error!(list = %record.name, id = %record.id,
                                "stored list does not parse, used as empty: {error}");
                            Arc::new(IpList::default())
                        }
                        Err(error) => {
                            tracing::error!(list = %record.name, "parsing the list failed: {error}");
                            Arc::new(IpList::default())
                        }
                    }
                }
            };
            fresh.insert(record.id.clone(), (record.updated_at, entries.clone()));
            out.push((record, entries));
        }
        if let Ok(mut parsed) = self.parsed.lock() {
            *parsed = fresh;
        }
        Ok(out)
    }
}

/// The lists as the snapshot's configuration names them.
pub(crate) fn named(lists: &[(IpListRecord, Arc<IpList>)]) -> Vec<NamedList> {
    lists
        .iter()
        .map(|(record, entries)| NamedList {
            scope: match &record.account_id {
                Some(account) => ListScope::Account(account.clone()),
                None => ListScope::Operator,
            },
            name: record.name.clone(),
            description: record.description.clone(),
            entries: entries.clone(),
        })
        .collect()
}
