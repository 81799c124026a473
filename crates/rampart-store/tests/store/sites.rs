//! Sites, host ownership, file sync, concurrency.

use rampart_store::{Actor, StoreError, SyncReport};

use crate::fixture::{Fixture, admin, site};

fn assert_host_conflict(err: StoreError, host: &str) {
    match &err {
        StoreError::Conflict { field, message } => {
            assert_eq!(*field, "hosts", "{message}");
            assert_eq!(
                message,
                &format!("host '{host}' already belongs to another site")
            );
        }
        other => panic!("expected a host conflict, got {other:?}"),
    }
}

pub async fn sites_crud(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let shop = store
        .create_site(
            &actor,
            &acme.id,
            site("shop", &["shop.test", "*.shop.test", "alt.test"]),
            false,
        )
        .await
        .unwrap();
    assert!(shop.id.starts_with("site_"));
    assert_eq!(shop.hosts, ["shop.test", "*.shop.test", "alt.test"]);
    assert!(!shop.file_managed);
    assert_eq!(shop.spec["origins"][0], "http://shop.origin:8080");
    assert_eq!(store.get_site(&shop.id).await.unwrap(), shop);
    assert_eq!(
        store.site_by_name("shop").await.unwrap(),
        Some(shop.clone())
    );

    let blog = store
        .create_site(&actor, &acme.id, site("blog", &["blog.test"]), true)
        .await
        .unwrap();
    assert!(blog.file_managed);
    assert_eq!(
        store.list_sites(Some(&acme.id)).await.unwrap(),
        vec![blog.clone(), shop.clone()]
    );
    assert_eq!(store.list_sites(None).await.unwrap().len(), 2);
    assert!(
        store
            .list_sites(Some("acct_other"))
            .await
            .unwrap()
            .is_empty()
    );

    // Update replaces name, hosts (order kept) and spec; a dropped host is freed.
    let mut write = site("shop-renamed", &["alt.test", "new.test"]);
    write.spec = serde_json::json!({ "origins": ["http://10.0.0.1"], "nested": { "a": [1, 2] } });
    let updated = store
        .update_site(&actor, &shop.id, write.clone())
        .await
        .unwrap();
    assert_eq!(updated.name, "shop-renamed");
    assert_eq!(updated.hosts, ["alt.test", "new.test"]);
    assert_eq!(updated.spec, write.spec);
    assert_eq!(updated.created_at, shop.created_at);
    assert_eq!(updated.account_id, acme.id);
    assert_eq!(store.get_site(&shop.id).await.unwrap(), updated);
    assert_eq!(store.site_by_name("shop").await.unwrap(), None);
    store
        .create_site(&actor, &acme.id, site("reuse", &["shop.test"]), false)
        .await
        .unwrap();

    store.delete_site(&actor, &shop.id).await.unwrap();
    assert!(matches!(
        store.get_site(&shop.id).await,
        Err(StoreError::NotFound { kind: "site", .. })
    ));
    store
        .create_site(&actor, &acme.id, site("again", &["new.test"]), false)
        .await
        .unwrap();
}

pub async fn host_conflict_across_accounts(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let evil = store.create_account(&actor, "evil").await.unwrap();
    let shop = store
        .create_site(
            &actor,
            &acme.id,
            site("shop", &["shop.test", "*.shop.test"]),
            false,
        )
        .await
        .unwrap();

    for host in ["shop.test", "*.shop.test"] {
        let err = store
            .create_site(&actor, &evil.id, site("phish", &["ok.test", host]), false)
            .await
            .unwrap_err();
        assert_host_conflict(err, host);
    }
    // Patterns compare exactly: a different pattern is a different host.
    let mine = store
        .create_site(&actor, &evil.id, site("mine", &["www.shop.test"]), false)
        .await
        .unwrap();
    let err = store
        .update_site(
            &actor,
            &mine.id,
            site("mine", &["www.shop.test", "shop.test"]),
        )
        .await
        .unwrap_err();
    assert_host_conflict(err, "shop.test");
    assert_eq!(store.get_site(&mine.id).await.unwrap(), mine);
    assert_eq!(store.get_site(&shop.id).await.unwrap(), shop);
    // Updating a site with its own hosts is no conflict.
    store
        .update_site(
            &actor,
            &shop.id,
            site("shop", &["*.shop.test", "shop.test"]),
        )
        .await
        .unwrap();
}

pub async fn sync_file_sites_create_update_noop_delete(fx: Fixture) {
    let store = fx.open().await;
    let file = Actor::system("config file");
    let acme = store.create_account(&admin(), "acme").await.unwrap();
    let default = store.create_account(&admin(), "default").await.unwrap();

    let first = vec![
        site("a", &["a.test"]),
        site("b", &["b.test", "*.b.test"]),
        site("c", &["c.test"]),
    ];
    let report = store
        .sync_file_sites(&file, &default.id, first.clone())
        .await
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            created: 3,
            updated: 0,
            deleted: 0
        }
    );
    let sites = store.list_sites(Some(&default.id)).await.unwrap();
    assert_eq!(sites.len(), 3);
    assert!(sites.iter().all(|s| s.file_managed));
    assert_eq!(sites[1].hosts, ["b.test", "*.b.test"]);

    // The same file again (a restart): nothing written, revision unchanged.
    let revision = store.revision().await.unwrap();
    let audit_len = store.list_audit(&Default::default()).await.unwrap().len();
    let report = store
        .sync_file_sites(&file, &default.id, first)
        .await
        .unwrap();
    assert_eq!(report, SyncReport::default());
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(
        store.list_audit(&Default::default()).await.unwrap().len(),
        audit_len
    );
    let unchanged = store.list_sites(Some(&default.id)).await.unwrap();
    assert_eq!(unchanged, sites);

    // A host moves from b to a, c goes, d arrives; an API site stays put.
    let api = store
        .create_site(&admin(), &acme.id, site("api", &["api.test"]), false)
        .await
        .unwrap();
    let second = vec![
        site("a", &["a.test", "b.test"]),
        site("b", &["*.b.test"]),
        site("d", &["d.test"]),
    ];
    let report = store
        .sync_file_sites(&file, &default.id, second)
        .await
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            created: 1,
            updated: 2,
            deleted: 1
        }
    );
    assert_eq!(
        store.revision().await.unwrap(),
        revision + 2,
        "one bump per sync"
    );
    let now = store.list_sites(Some(&default.id)).await.unwrap();
    let summary: Vec<_> = now
        .iter()
        .map(|s| (s.name.as_str(), s.hosts.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("a", vec!["a.test".to_owned(), "b.test".to_owned()]),
            ("b", vec!["*.b.test".to_owned()]),
            ("d", vec!["d.test".to_owned()]),
        ]
    );
    // Updated sites keep their ids.
    assert_eq!(now[0].id, sites[0].id);
    assert_eq!(store.get_site(&api.id).await.unwrap(), api);

    // A spec change alone is an update.
    let mut third = vec![
        site("a", &["a.test", "b.test"]),
        site("b", &["*.b.test"]),
        site("d", &["d.test"]),
    ];
    third[2].spec = serde_json::json!({ "changed": true });
    let report = store
        .sync_file_sites(&file, &default.id, third)
        .await
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            created: 0,
            updated: 1,
            deleted: 0
        }
    );

    // An empty file removes every file site and nothing else.
    let report = store
        .sync_file_sites(&file, &default.id, vec![])
        .await
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            created: 0,
            updated: 0,
            deleted: 3
        }
    );
    assert_eq!(store.list_sites(None).await.unwrap(), vec![api]);
}

pub async fn sync_refuses_api_managed_sites(fx: Fixture) {
    let store = fx.open().await;
    let file = Actor::system("config file");
    let acme = store.create_account(&admin(), "acme").await.unwrap();
    let default = store.create_account(&admin(), "default").await.unwrap();
    store
        .sync_file_sites(&file, &default.id, vec![site("mine", &["mine.test"])])
        .await
        .unwrap();
    let api = store
        .create_site(&admin(), &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    let revision = store.revision().await.unwrap();
    let before = store.list_sites(None).await.unwrap();

    let err = store
        .sync_file_sites(
            &file,
            &default.id,
            vec![site("new", &["new.test"]), site("shop", &["other.test"])],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict { field: "name", message } if message.contains("'shop'")),
        "{err:?}"
    );
    let err = store
        .sync_file_sites(
            &file,
            &default.id,
            vec![site("mine", &["mine.test", "shop.test"])],
        )
        .await
        .unwrap_err();
    assert_host_conflict(err, "shop.test");
    let err = store
        .sync_file_sites(
            &file,
            &default.id,
            vec![site("x", &["x.test"]), site("y", &["x.test"])],
        )
        .await
        .unwrap_err();
    assert_host_conflict(err, "x.test");

    // Refusals change nothing at all.
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.list_sites(None).await.unwrap(), before);
    assert_eq!(store.get_site(&api.id).await.unwrap(), api);
}

/// Writers racing on one store all succeed: SQLite's busy timeout and
/// up-front write lock mean no "database is locked".
pub async fn concurrent_writers(fx: Fixture) {
    let store = fx.open().await;
    let acme = store.create_account(&admin(), "acme").await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let account = acme.id.clone();
            tokio::spawn(async move {
                let name = format!("site{i:02}");
                let host = format!("{name}.test");
                store
                    .create_site(&admin(), &account, site(&name, &[&host]), false)
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // And racing for the same host, exactly one wins; the rest get Conflict.
    let racers: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let account = acme.id.clone();
            tokio::spawn(async move {
                store
                    .create_site(
                        &admin(),
                        &account,
                        site(&format!("race{i}"), &["contested.test"]),
                        false,
                    )
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => won += 1,
            Err(err) => assert_host_conflict(err, "contested.test"),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.list_sites(None).await.unwrap().len(), 21);
    assert_eq!(store.revision().await.unwrap(), 22);
}
