//! Opening, migrations and the revision counter.

use rampart_store::{Actor, Backend, NewToken, NewUser, Role, SCHEMA_VERSION, Store, StoreError};
use sqlx::{Executor as _, Row as _};

use crate::fixture::{Fixture, admin, site};

pub async fn migrations_create_schema(fx: Fixture) {
    let store = fx.open().await;
    let expected = if fx.url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_eq!(store.backend(), expected);
    assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(store.revision().await.unwrap(), 0);

    let mut raw = fx.raw().await;
    for table in [
        "schema_migrations",
        "store_revision",
        "accounts",
        "users",
        "api_tokens",
        "sites",
        "site_hosts",
        "audit_log",
        "ip_lists",
        "operator_rules",
        "challenge_keys",
        "safety_cases",
        "abuse_reports",
        "safety_decisions",
    ] {
        let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .fetch_one(&mut raw)
            .await
            .unwrap_or_else(|e| panic!("{table}: {e}"));
        let n: i64 = row.try_get("n").unwrap();
        let expected = match table {
            "schema_migrations" => SCHEMA_VERSION,
            "store_revision" | "operator_rules" => 1,
            _ => 0,
        };
        assert_eq!(n, expected, "{table}");
    }
    store.close().await;
}

pub async fn reopening_is_idempotent(fx: Fixture) {
    let store = fx.open().await;
    let account = store.create_account(&admin(), "acme").await.unwrap();
    store.close().await;

    let again = fx.open().await;
    assert_eq!(again.schema_version().await.unwrap(), SCHEMA_VERSION);
    assert_eq!(again.get_account(&account.id).await.unwrap(), account);
    assert_eq!(again.revision().await.unwrap(), 1);
    let row = sqlx::query("SELECT COUNT(*) AS n FROM schema_migrations")
        .fetch_one(&mut fx.raw().await)
        .await
        .unwrap();
    assert_eq!(row.try_get::<i64, _>("n").unwrap(), SCHEMA_VERSION);
}

/// A CLI command and the server may open one fresh store at once.
pub async fn concurrent_opens_migrate_once(fx: Fixture) {
    let opens = (0..4).map(|_| {
        let url = fx.url.clone();
        tokio::spawn(async move { Store::open(&url).await })
    });
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.unwrap().unwrap());
    }
    for store in &stores {
        assert_eq!(store.schema_version().await.unwrap(), SCHEMA_VERSION);
    }
    stores[0].create_account(&admin(), "acme").await.unwrap();
    assert_eq!(stores[3].list_accounts().await.unwrap().len(), 1);
}

pub async fn newer_schema_is_refused(fx: Fixture) {
    fx.open().await.close().await;
    let found = SCHEMA_VERSION + 6;
    fx.raw()
        .await
        .execute(
            format!(
                "INSERT INTO schema_migrations (version, name, applied_at) \
                 VALUES ({found}, 'from the future', 0)"
            )
            .as_str(),
        )
        .await
        .unwrap();
    let err = Store::open(&fx.url).await.unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: f, supported } if f == found && supported == SCHEMA_VERSION),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "the store's schema is version {found} but this rampart knows only up to \
             {SCHEMA_VERSION}: it was written by a newer rampart; run that version or newer"
        )
    );
}

pub async fn revision_bumps_on_writes_only(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let mut expected = 0;
    let mut wrote = |what: &str, revision: i64| {
        expected += 1;
        assert_eq!(revision, expected, "after {what}");
    };

    let account = store.create_account(&actor, "acme").await.unwrap();
    wrote("create_account", store.revision().await.unwrap());
    store
        .rename_account(&actor, &account.id, "acme2")
        .await
        .unwrap();
    wrote("rename_account", store.revision().await.unwrap());
    let user = store
        .create_user(
            &actor,
            NewUser {
                account_id: Some(account.id.clone()),
                email: "o@acme.test".into(),
                name: "Owner".into(),
                role: Role::AccountOwner,
                password_hash: Some("$argon2id$fake".into()),
            },
        )
        .await
        .unwrap();
    wrote("create_user", store.revision().await.unwrap());
    store
        .update_user(&actor, &user.id, Some("O"), None, None)
        .await
        .unwrap();
    wrote("update_user", store.revision().await.unwrap());
    let (token, secret) = store
        .create_token(
            &actor,
            NewToken {
                user_id: user.id.clone(),
                name: "ci".into(),
                role: Role::AccountMember,
                site_ids: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    wrote("create_token", store.revision().await.unwrap());
    let s = store
        .create_site(&actor, &account.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    wrote("create_site", store.revision().await.unwrap());
    store
        .update_site(&actor, &s.id, site("shop", &["shop.test", "www.shop.test"]))
        .await
        .unwrap();
    wrote("update_site", store.revision().await.unwrap());

    // Reads, token use and failed writes leave it alone.
    let before = store.revision().await.unwrap();
    store.list_accounts().await.unwrap();
    store.list_users(None).await.unwrap();
    store.list_tokens(None, None).await.unwrap();
    store.list_sites(None).await.unwrap();
    store.get_site(&s.id).await.unwrap();
    assert!(store.token_by_secret(&secret).await.unwrap().is_some());
    assert!(
        store
            .get_token(&token.id)
            .await
            .unwrap()
            .last_used_at
            .is_some()
    );
    store.create_account(&actor, "acme2").await.unwrap_err();
    store
        .create_site(&actor, &account.id, site("other", &["shop.test"]), false)
        .await
        .unwrap_err();
    store
        .delete_site(&Actor::system("cli"), "site_missing")
        .await
        .unwrap_err();
    assert_eq!(store.revision().await.unwrap(), before);

    store.delete_token(&actor, &token.id).await.unwrap();
    wrote("delete_token", store.revision().await.unwrap());
    store.delete_site(&actor, &s.id).await.unwrap();
    wrote("delete_site", store.revision().await.unwrap());
    store.delete_user(&actor, &user.id).await.unwrap();
    wrote("delete_user", store.revision().await.unwrap());
    store.delete_account(&actor, &account.id).await.unwrap();
    wrote("delete_account", store.revision().await.unwrap());
}

/// A write through one handle (another node, on PostgreSQL) wakes a
/// listener opened on another; a failed write (nothing committed) does
/// not. SQLite has no listener: its one node learns of its own writes.
pub async fn writes_notify_listeners(fx: Fixture) {
    let writer = fx.open().await;
    let reader = fx.open().await;
    let Some(mut listener) = reader.revision_listener().await.unwrap() else {
        assert_eq!(writer.backend(), Backend::Sqlite);
        return;
    };
    let actor = admin();
    writer.create_account(&actor, "acme").await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), listener.changed())
        .await
        .expect("no notification within 10 s of a committed write")
        .unwrap();
    // A refused write rolls back, and its notification with it.
    assert!(writer.create_account(&actor, "acme").await.is_err());
    let quiet =
        tokio::time::timeout(std::time::Duration::from_millis(500), listener.changed()).await;
    assert!(quiet.is_err(), "a rolled-back write notified: {quiet:?}");
}
