//! The audit log: what each write records, and what it must never record.

use rampart_store::{AuditEntry, AuditFilter, Role};
use serde_json::json;

use crate::crud::{new_token, new_user};
use crate::fixture::{Fixture, admin, site};

fn newest(entries: &[AuditEntry], action: &str) -> AuditEntry {
    entries
        .iter()
        .find(|e| e.action == action)
        .cloned()
        .unwrap_or_else(|| panic!("no {action} entry in {entries:#?}"))
}

pub async fn audit_records_before_and_after(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let renamed = store
        .rename_account(&actor, &acme.id, "acme2")
        .await
        .unwrap();
    let shop = store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    let moved = store
        .update_site(&actor, &shop.id, site("shop", &["www.shop.test"]))
        .await
        .unwrap();
    store.delete_site(&actor, &shop.id).await.unwrap();

    let all = store.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.len(), 5);
    let actions: Vec<_> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "site.delete",
            "site.update",
            "site.create",
            "account.update",
            "account.create"
        ],
        "newest first"
    );
    for entry in &all {
        assert_eq!(entry.actor_user_id.as_deref(), Some("user_admin"));
        assert_eq!(entry.actor_token_id.as_deref(), Some("tok_admin"));
        assert_eq!(entry.actor_label, "admin@example.test");
        assert_eq!(entry.actor_role, Role::OperatorAdmin);
        assert_eq!(entry.account_id.as_deref(), Some(acme.id.as_str()));
        assert!(entry.at > 0);
    }

    let created = newest(&all, "account.create");
    assert_eq!(
        (created.target_kind.as_str(), created.target_id.as_str()),
        ("account", acme.id.as_str())
    );
    assert_eq!(created.before, None);
    assert_eq!(created.after, Some(serde_json::to_value(&acme).unwrap()));
    let update = newest(&all, "account.update");
    assert_eq!(update.before, Some(serde_json::to_value(&acme).unwrap()));
    assert_eq!(update.after, Some(serde_json::to_value(&renamed).unwrap()));

    let site_update = newest(&all, "site.update");
    assert_eq!(
        site_update.before.as_ref().unwrap()["hosts"],
        json!(["shop.test"])
    );
    assert_eq!(
        site_update.after,
        Some(serde_json::to_value(&moved).unwrap())
    );
    let site_delete = newest(&all, "site.delete");
    assert_eq!(site_delete.target_id, shop.id);
    assert_eq!(
        site_delete.before,
        Some(serde_json::to_value(&moved).unwrap())
    );
    assert_eq!(site_delete.after, None);
}

pub async fn audit_holds_no_secrets(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let mut new = new_user(Some(&acme.id), "o@acme.test", Role::AccountOwner);
    new.password_hash = Some("$argon2id$SECRET-HASH-1".into());
    let user = store.create_user(&actor, new).await.unwrap();
    store
        .update_user(
            &actor,
            &user.id,
            None,
            None,
            Some("$argon2id$SECRET-HASH-2"),
        )
        .await
        .unwrap();
    let (token, secret) = store
        .create_token(&actor, new_token(&user.id, Role::AccountOwner))
        .await
        .unwrap();
    store.token_by_secret(&secret).await.unwrap().unwrap();
    store.delete_token(&actor, &token.id).await.unwrap();
    store.delete_user(&actor, &user.id).await.unwrap();

    let all = store.list_audit(&AuditFilter::default()).await.unwrap();
    let actions: Vec<_> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user.delete",
            "token.delete",
            "token.create",
            "user.update",
            "user.create",
            "account.create"
        ],
        "token use is not audited"
    );
    let text = serde_json::to_string(&all).unwrap();
    for needle in ["SECRET-HASH", "argon2", &secret[4..], "secret", "hash"] {
        assert!(!text.contains(needle), "{needle} in {text}");
    }
    // A password change is visible as a fact, without the hash.
    let update = newest(&all, "user.update");
    assert_eq!(
        update.after.as_ref().unwrap()["password_changed"],
        json!(true)
    );
    let created = newest(&all, "token.create");
    assert_eq!(created.target_id, token.id);
    assert_eq!(created.after, Some(serde_json::to_value(&token).unwrap()));
    assert_eq!(created.account_id.as_deref(), Some(acme.id.as_str()));
}

pub async fn audit_pages_and_filters(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let other = store.create_account(&actor, "other").await.unwrap();
    for i in 0..7 {
        store
            .create_site(
                &actor,
                &acme.id,
                site(&format!("s{i}"), &[&format!("s{i}.test")]),
                false,
            )
            .await
            .unwrap();
    }
    store
        .create_site(&actor, &other.id, site("o", &["o.test"]), false)
        .await
        .unwrap();

    let mine = AuditFilter {
        account_id: Some(acme.id.clone()),
        before_id: None,
        limit: 3,
    };
    let mut pages = Vec::new();
    let mut filter = mine.clone();
    loop {
        let page = store.list_audit(&filter).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        filter.before_id = page.last().map(|e| e.id.clone());
        pages.extend(page);
    }
    // 1 account.create + 7 site.create, newest first, no duplicates or gaps.
    assert_eq!(pages.len(), 8);
    assert!(pages.windows(2).all(|w| w[0].id > w[1].id));
    assert!(
        pages
            .iter()
            .all(|e| e.account_id.as_deref() == Some(acme.id.as_str()))
    );
    assert_eq!(pages.last().unwrap().action, "account.create");
    let names: Vec<_> = pages[..7]
        .iter()
        .map(|e| {
            e.after.as_ref().unwrap()["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        ["s6", "s5", "s4", "s3", "s2", "s1", "s0"],
        "chronological ids"
    );

    let all = store
        .list_audit(&AuditFilter {
            limit: 10_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 10);
    let one = store
        .list_audit(&AuditFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(one[0].target_kind, "site");
    assert_eq!(one[0].account_id.as_deref(), Some(other.id.as_str()));
}

/// The chain holds over ordinary writes, and a changed, removed or
/// reordered entry is named by `verify_audit_chain`.
pub async fn audit_chain_detects_tampering(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    for i in 0..4 {
        store
            .rename_account(&actor, &acme.id, &format!("acme{i}"))
            .await
            .unwrap();
    }
    let intact = store.verify_audit_chain().await.unwrap();
    assert_eq!((intact.entries, intact.broken), (5, None));

    let all = store.list_audit(&AuditFilter::default()).await.unwrap();
    let third = all.get(2).unwrap().id.clone();
    let mut raw = fx.raw().await;
    use sqlx::Executor as _;
    raw.execute(
        sqlx::query("UPDATE audit_log SET after = $1 WHERE id = $2")
            .bind(r#"{"name":"forged"}"#)
            .bind(third.as_str()),
    )
    .await
    .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    let broken = report
        .broken
        .unwrap_or_else(|| panic!("tampering not found"));
    assert_eq!(broken.id, third);
    assert!(broken.reason.contains("changed"), "{}", broken.reason);
    assert_eq!(report.entries, 2, "the two entries before it still hold");

    // Removing an entry breaks the sequence at the next one.
    let second = all.get(3).unwrap().id.clone();
    raw.execute(sqlx::query("DELETE FROM audit_log WHERE id = $1").bind(second.as_str()))
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    let broken = report.broken.unwrap_or_else(|| panic!("removal not found"));
    assert!(broken.reason.contains("missing"), "{}", broken.reason);
}
