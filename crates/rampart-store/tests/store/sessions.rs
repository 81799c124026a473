//! Dashboard sessions: lookup by cookie secret, expiry (absolute and idle),
//! touching, sign-out, purging; none of it is a configuration revision.

use rampart_store::{AuditFilter, Role, SESSION_IDLE_MS, SESSION_MAX_MS, Store};
use sqlx::Row as _;

use crate::crud::new_user;
use crate::fixture::{Fixture, admin};

const HOUR: i64 = 3600 * 1000;

async fn user(store: &Store, email: &str) -> rampart_store::User {
    let acme = match store.account_by_name("acme").await.unwrap() {
        Some(account) => account,
        None => store.create_account(&admin(), "acme").await.unwrap(),
    };
    store
        .create_user(
            &admin(),
            new_user(Some(&acme.id), email, Role::AccountOwner),
        )
        .await
        .unwrap()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Moves a session's `last_seen_at` into the past, as if unused since.
async fn age(fx: &Fixture, id_hash: &str, idle_ms: i64) {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
        .bind(now_ms() - idle_ms)
        .bind(id_hash)
        .execute(&mut fx.raw().await)
        .await
        .unwrap();
}

async fn last_seen(fx: &Fixture, id_hash: &str) -> Option<i64> {
    sqlx::query("SELECT last_seen_at FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .fetch_optional(&mut fx.raw().await)
        .await
        .unwrap()
        .map(|row| row.try_get("last_seen_at").unwrap())
}

pub async fn sessions_lookup_signout_and_no_revision(fx: Fixture) {
    let store = fx.open().await;
    let owner = user(&store, "owner@acme.test").await;
    let revision = store.revision().await.unwrap();

    let (secret, session) = store.create_session(&owner.id, 8 * HOUR).await.unwrap();
    assert!(secret.starts_with("rps_") && secret.len() == 47, "{secret}");
    assert_eq!(session.id_hash.len(), 64);
    assert!(!session.id_hash.contains(&secret));
    assert_ne!(session.csrf_token, secret);
    assert!(session.csrf_token.len() >= 43);
    assert_eq!(session.expires_at - session.created_at, 8 * HOUR);
    assert_eq!(session.account_view, None);

    let (found, found_user) = store.session_by_secret(&secret).await.unwrap().unwrap();
    assert_eq!(found, session);
    assert_eq!(found_user, owner);

    // The cookie value is not what the table holds.
    let stored: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sessions WHERE id_hash = $1")
        .bind(secret.as_str())
        .fetch_one(&mut fx.raw().await)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    assert_eq!(stored, 0);

    for bad in [
        String::new(),
        "rps_".to_owned(),
        format!("rps_{}", "A".repeat(43)),
        secret.replacen("rps_", "rpt_", 1),
        session.id_hash.clone(),
    ] {
        assert!(
            store.session_by_secret(&bad).await.unwrap().is_none(),
            "{bad}"
        );
    }

    store
        .set_account_view(&session.id_hash, Some("acct_x"))
        .await
        .unwrap();
    let (viewed, _) = store.session_by_secret(&secret).await.unwrap().unwrap();
    assert_eq!(viewed.account_view.as_deref(), Some("acct_x"));
    store
        .set_account_view(&session.id_hash, None)
        .await
        .unwrap();

    // A second session of the same user is independent of the first.
    let (other, _) = store.create_session(&owner.id, HOUR).await.unwrap();
    store.delete_session(&session.id_hash).await.unwrap();
    assert!(store.session_by_secret(&secret).await.unwrap().is_none());
    assert!(store.session_by_secret(&other).await.unwrap().is_some());
    // Signing out twice is harmless.
    store.delete_session(&session.id_hash).await.unwrap();

    assert_eq!(
        store.revision().await.unwrap(),
        revision,
        "sessions are not configuration"
    );
    let audit = store
        .list_audit(&AuditFilter {
            limit: 50,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "session.create").count(),
        2
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "session.delete").count(),
        1
    );
    let signin = audit.iter().find(|e| e.action == "session.create").unwrap();
    assert_eq!(signin.actor_label, "owner@acme.test");
    assert_eq!(signin.target_id, owner.id);
    assert_eq!(signin.account_id, owner.account_id);
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains(&secret) && !text.contains(&session.id_hash));
}

pub async fn sessions_expire_idle_and_absolute(fx: Fixture) {
    let store = fx.open().await;
    let owner = user(&store, "owner@acme.test").await;

    // Absolute: a lifetime of zero is over at once; a huge one is capped.
    let (gone, _) = store.create_session(&owner.id, 0).await.unwrap();
    assert!(store.session_by_secret(&gone).await.unwrap().is_none());
    let (_, capped) = store
        .create_session(&owner.id, 100 * SESSION_MAX_MS)
        .await
        .unwrap();
    assert_eq!(capped.expires_at - capped.created_at, SESSION_MAX_MS);

    // Touching: a lookup after more than a minute writes `last_seen_at`,
    // one within the minute does not.
    let (secret, session) = store.create_session(&owner.id, 8 * HOUR).await.unwrap();
    age(&fx, &session.id_hash, 2 * 60 * 1000).await;
    let before = last_seen(&fx, &session.id_hash).await.unwrap();
    let (touched, _) = store.session_by_secret(&secret).await.unwrap().unwrap();
    assert!(touched.last_seen_at > before);
    assert_eq!(
        last_seen(&fx, &session.id_hash).await,
        Some(touched.last_seen_at)
    );
    age(&fx, &session.id_hash, 10 * 1000).await;
    let recent = last_seen(&fx, &session.id_hash).await.unwrap();
    store.session_by_secret(&secret).await.unwrap().unwrap();
    assert_eq!(last_seen(&fx, &session.id_hash).await, Some(recent));

    // Idle: an hour without use ends it, and the row goes on lookup.
    age(&fx, &session.id_hash, SESSION_IDLE_MS - 60 * 1000).await;
    assert!(store.session_by_secret(&secret).await.unwrap().is_some());
    age(&fx, &session.id_hash, SESSION_IDLE_MS + 1000).await;
    assert!(store.session_by_secret(&secret).await.unwrap().is_none());
    assert_eq!(last_seen(&fx, &session.id_hash).await, None);
}

pub async fn sessions_purge_and_per_user_removal(fx: Fixture) {
    let store = fx.open().await;
    let owner = user(&store, "owner@acme.test").await;
    let member = user(&store, "member@acme.test").await;

    let (_, idle) = store.create_session(&owner.id, 8 * HOUR).await.unwrap();
    age(&fx, &idle.id_hash, 2 * HOUR).await;
    store.create_session(&owner.id, 0).await.unwrap();
    let (live, _) = store.create_session(&owner.id, 8 * HOUR).await.unwrap();
    assert_eq!(store.purge_expired_sessions().await.unwrap(), 2);
    assert_eq!(store.purge_expired_sessions().await.unwrap(), 0);
    assert!(store.session_by_secret(&live).await.unwrap().is_some());

    let (second, _) = store.create_session(&owner.id, HOUR).await.unwrap();
    let (members, _) = store.create_session(&member.id, HOUR).await.unwrap();
    assert_eq!(store.delete_sessions_of_user(&owner.id).await.unwrap(), 2);
    assert!(store.session_by_secret(&live).await.unwrap().is_none());
    assert!(store.session_by_secret(&second).await.unwrap().is_none());
    assert!(store.session_by_secret(&members).await.unwrap().is_some());

    // Deleting the user takes their sessions with it.
    store.delete_user(&admin(), &member.id).await.unwrap();
    assert!(store.session_by_secret(&members).await.unwrap().is_none());
    let left: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sessions")
        .fetch_one(&mut fx.raw().await)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
    assert_eq!(left, 0);
}
