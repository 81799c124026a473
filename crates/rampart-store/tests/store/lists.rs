//! Named IP lists and operator rules: scopes, name uniqueness per scope,
//! entry writes, guarded renames and deletes, audit rows without entries,
//! a million entries in reasonable time.

use std::time::{Duration, Instant};

use rampart_store::{AuditFilter, IpListWrite, ListsOf, StoreError};
use serde_json::json;

use crate::fixture::{Fixture, admin, site};

fn list(name: &str, entries: &[&str]) -> IpListWrite {
    IpListWrite {
        name: name.to_owned(),
        description: format!("{name} list"),
        entries: entries.join("\n"),
        entry_count: entries.len() as i64,
    }
}

pub async fn lists_crud(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let other = store.create_account(&actor, "other").await.unwrap();
    let revision = store.revision().await.unwrap();

    let office = store
        .create_ip_list(
            &actor,
            Some(&acme.id),
            list("office", &["192.0.2.0/24", "2001:db8::1"]),
        )
        .await
        .unwrap();
    assert!(office.id.starts_with("list_"));
    assert_eq!(office.account_id.as_deref(), Some(acme.id.as_str()));
    assert_eq!(office.entry_count, 2);
    assert_eq!(store.revision().await.unwrap(), revision + 1);
    assert_eq!(store.get_ip_list(&office.id).await.unwrap(), office);
    assert_eq!(
        store.ip_list_entries(&office.id).await.unwrap(),
        "192.0.2.0/24\n2001:db8::1"
    );

    // Unique per scope: the same name in another account or for the
    // operator is fine, twice in one scope is not.
    let err = store
        .create_ip_list(&actor, Some(&acme.id), list("office", &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict { field: "name", message } if message.contains("'office'")),
        "{err:?}"
    );
    let theirs = store
        .create_ip_list(&actor, Some(&other.id), list("office", &["198.51.100.1"]))
        .await
        .unwrap();
    let global = store
        .create_ip_list(&actor, None, list("office", &["203.0.113.0/24"]))
        .await
        .unwrap();
    assert_eq!(global.account_id, None);
    let err = store
        .create_ip_list(&actor, None, list("office", &[]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let missing = store
        .create_ip_list(&actor, Some("acct_missing"), list("x", &[]))
        .await
        .unwrap_err();
    assert!(matches!(
        missing,
        StoreError::NotFound {
            kind: "account",
            ..
        }
    ));

    let names = |lists: Vec<rampart_store::IpListRecord>| {
        lists
            .into_iter()
            .map(|l| (l.account_id, l.name))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(
            store
                .list_ip_lists(ListsOf::Account(&acme.id))
                .await
                .unwrap()
        ),
        [(Some(acme.id.clone()), "office".to_owned())]
    );
    assert_eq!(
        names(store.list_ip_lists(ListsOf::Operator).await.unwrap()),
        [(None, "office".to_owned())]
    );
    assert_eq!(store.list_ip_lists(ListsOf::All).await.unwrap().len(), 3);

    // Rename and describe; the guard runs only for a rename.
    let renamed = store
        .update_ip_list(&actor, &office.id, Some("hq".into()), None, |_, _| Ok(()))
        .await
        .unwrap();
    assert_eq!(renamed.name, "hq");
    assert_eq!(renamed.description, "office list");
    assert!(renamed.updated_at > office.updated_at);
    let described = store
        .update_ip_list(&actor, &office.id, None, Some("HQ".into()), |_, _| {
            panic!("no rename, no guard")
        })
        .await
        .unwrap();
    assert_eq!(described.description, "HQ");
    let taken = store
        .create_ip_list(&actor, Some(&acme.id), list("branch", &[]))
        .await
        .unwrap();
    let err = store
        .update_ip_list(&actor, &taken.id, Some("hq".into()), None, |_, _| Ok(()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { field: "name", .. }),
        "{err:?}"
    );
    let before = store.revision().await.unwrap();
    store
        .update_ip_list(
            &actor,
            &taken.id,
            Some("branch".into()),
            None,
            |_, _| Ok(()),
        )
        .await
        .unwrap();
    assert_eq!(
        store.revision().await.unwrap(),
        before,
        "a no-op writes nothing"
    );

    // Entries: replace, then append through the merge function.
    let replaced = store
        .replace_ip_list_entries(&actor, &office.id, "10.0.0.0/8", 1)
        .await
        .unwrap();
    assert_eq!(replaced.entry_count, 1);
    assert!(replaced.updated_at > described.updated_at);
    let appended = store
        .append_ip_list_entries(&actor, &office.id, |stored| {
            assert_eq!(stored, "10.0.0.0/8");
            Ok((format!("{stored}\n::1"), 2))
        })
        .await
        .unwrap();
    assert_eq!(appended.entry_count, 2);
    assert_eq!(
        store.ip_list_entries(&office.id).await.unwrap(),
        "10.0.0.0/8\n::1"
    );
    let refused = store
        .append_ip_list_entries(&actor, &office.id, |_| {
            Err(StoreError::Conflict {
                field: "entries",
                message: "too many".into(),
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Conflict { .. }));
    assert_eq!(store.get_ip_list(&office.id).await.unwrap(), appended);

    // Deletes: the guard sees the sites in scope (and operator rules for
    // operator lists) and may refuse.
    let shop = store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    store
        .create_site(&actor, &other.id, site("elsewhere", &["else.test"]), false)
        .await
        .unwrap();
    let err = store
        .delete_ip_list(&actor, &office.id, |list, users| {
            assert_eq!(list.name, "hq");
            let names: Vec<_> = users.sites.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, ["shop"]);
            assert!(users.operator_rules.is_none());
            Err(StoreError::Conflict {
                field: "name",
                message: "in use".into(),
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }));
    store.get_ip_list(&office.id).await.unwrap();
    store
        .delete_ip_list(&actor, &global.id, |_, users| {
            assert_eq!(
                users.sites.len(),
                2,
                "operator lists are seen by every site"
            );
            assert_eq!(users.operator_rules, Some(json!([])));
            Ok(())
        })
        .await
        .unwrap();
    assert!(matches!(
        store.get_ip_list(&global.id).await,
        Err(StoreError::NotFound { kind: "list", .. })
    ));
    store
        .delete_ip_list(&actor, &office.id, |_, _| Ok(()))
        .await
        .unwrap();
    let _ = shop;

    // Audit rows carry counts, not entries, and belong to the list's account.
    let audit = store
        .list_audit(&AuditFilter {
            account_id: Some(acme.id.clone()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let actions: Vec<_> = audit
        .iter()
        .filter(|e| e.target_kind == "list")
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "list.delete",
            "list.append",
            "list.import",
            "list.create",
            "list.update",
            "list.update",
            "list.create"
        ]
    );
    for entry in audit.iter().filter(|e| e.target_kind == "list") {
        let text = format!("{:?}{:?}", entry.before, entry.after);
        assert!(!text.contains("10.0.0.0"), "{text}");
    }

    // An account's lists go with it.
    store.delete_account(&actor, &other.id).await.unwrap();
    assert!(matches!(
        store.get_ip_list(&theirs.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

pub async fn operator_rules_roundtrip(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let empty = store.operator_rules().await.unwrap();
    assert_eq!(empty.rules, json!([]));
    assert_eq!(empty.updated_at, 0);
    let revision = store.revision().await.unwrap();
    let rules = json!([{ "id": "no-bots", "expression": "http.user_agent contains \"bot\"", "action": "block" }]);
    let set = store
        .set_operator_rules(&actor, rules.clone())
        .await
        .unwrap();
    assert_eq!(set.rules, rules);
    assert!(set.updated_at > 0);
    assert_eq!(store.revision().await.unwrap(), revision + 1);
    assert_eq!(store.operator_rules().await.unwrap(), set);
    store
        .set_operator_rules(&actor, rules.clone())
        .await
        .unwrap();
    assert_eq!(
        store.revision().await.unwrap(),
        revision + 1,
        "unchanged: no write"
    );

    let audit = store.list_audit(&AuditFilter::default()).await.unwrap();
    let entry = audit
        .iter()
        .find(|e| e.action == "operator_rules.update")
        .unwrap();
    assert_eq!(entry.account_id, None);
    assert_eq!(entry.before, Some(json!([])));
    assert_eq!(entry.after, Some(rules));
}

/// The largest list the product allows, written, read back, appended to and
/// listed on both backends within a few seconds each.
pub async fn a_million_entries(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let mut text = String::with_capacity(16_000_000);
    for i in 0..1_000_000u32 {
        let [a, b, c, d] = (0x0a00_0000 + i).to_be_bytes();
        text.push_str(&format!("{a}.{b}.{c}.{d}\n"));
    }
    let started = Instant::now();
    let big = store
        .create_ip_list(
            &actor,
            None,
            IpListWrite {
                name: "big".into(),
                description: String::new(),
                entries: text.clone(),
                entry_count: 1_000_000,
            },
        )
        .await
        .unwrap();
    let write = started.elapsed();
    let started = Instant::now();
    let back = store.ip_list_entries(&big.id).await.unwrap();
    let read = started.elapsed();
    assert_eq!(back.len(), text.len());
    assert!(back == text);
    let started = Instant::now();
    let listed = store.list_ip_lists(ListsOf::All).await.unwrap();
    let listing = started.elapsed();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].entry_count, 1_000_000);
    let started = Instant::now();
    store
        .replace_ip_list_entries(&actor, &big.id, &text, 1_000_000)
        .await
        .unwrap();
    let replace = started.elapsed();
    eprintln!("1M entries: write {write:?}, read {read:?}, list {listing:?}, replace {replace:?}");
    let budget = Duration::from_secs(10);
    assert!(write < budget && read < budget && replace < budget);
    assert!(
        listing < Duration::from_millis(500),
        "listing read the entries? {listing:?}"
    );
}
