//! A burst of concurrent writers beside a busy reader: on SQLite, writers
//! from one process queue in order instead of starving past the busy timeout
//! ("database is locked"), and a write's cost does not grow with the number
//! of sites.

use rampart_store::{Actor, SiteWrite, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_burst_beside_a_reader_completes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store = Store::open_in_data_dir(dir.path())
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
    let actor = Actor::system("test");
    let account = store
        .create_account(&actor, "burst")
        .await
        .unwrap_or_else(|e| panic!("account: {e}"));
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                let _ = store.revision().await;
                let _ = store.list_sites(None).await;
            }
        })
    };
    let writers: Vec<_> = (0..8)
        .map(|writer| {
            let store = store.clone();
            let account = account.id.clone();
            let actor = actor.clone();
            tokio::spawn(async move {
                for n in 0..100 {
                    let name = format!("w{writer}-{n}");
                    let site = SiteWrite {
                        hosts: vec![format!("{name}.test")],
                        spec: serde_json::json!({ "name": name }),
                        name,
                    };
                    store
                        .create_site(&actor, &account, site, false)
                        .await
                        .unwrap_or_else(|e| panic!("writer {writer}, write {n}: {e}"));
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap_or_else(|e| panic!("writer task: {e}"));
    }
    reader.abort();
    let sites = store
        .list_sites(None)
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(sites.len(), 800);
}
