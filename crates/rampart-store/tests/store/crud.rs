//! Accounts, users and tokens.

use rampart_store::{NewToken, NewUser, Role, Store, StoreError};

use crate::fixture::{Fixture, admin, site};

pub fn new_user(account_id: Option<&str>, email: &str, role: Role) -> NewUser {
    NewUser {
        account_id: account_id.map(str::to_owned),
        email: email.into(),
        name: email.split('@').next().unwrap().into(),
        role,
        password_hash: Some(format!("$argon2id$v=19$hash-of-{email}")),
    }
}

pub fn new_token(user_id: &str, role: Role) -> NewToken {
    NewToken {
        user_id: user_id.into(),
        name: "deploy".into(),
        role,
        site_ids: None,
        expires_at: None,
    }
}

fn assert_conflict(err: StoreError, field: &str, value: &str) {
    match &err {
        StoreError::Conflict { field: f, message } => {
            assert_eq!(*f, field, "{message}");
            assert!(message.contains(&format!("'{value}'")), "{message}");
        }
        other => panic!("expected a {field} conflict, got {other:?}"),
    }
}

pub async fn accounts_crud(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let b = store.create_account(&actor, "bravo").await.unwrap();
    let a = store.create_account(&actor, "alpha").await.unwrap();
    assert!(a.id.starts_with("acct_"));
    assert_ne!(a.id, b.id);
    assert_eq!(store.get_account(&a.id).await.unwrap(), a);
    assert_eq!(
        store.account_by_name("bravo").await.unwrap(),
        Some(b.clone())
    );
    assert_eq!(store.account_by_name("charlie").await.unwrap(), None);
    assert_eq!(
        store.list_accounts().await.unwrap(),
        vec![a.clone(), b.clone()]
    );

    let renamed = store.rename_account(&actor, &a.id, "zulu").await.unwrap();
    assert_eq!(renamed.name, "zulu");
    assert_eq!(renamed.created_at, a.created_at);
    assert!(renamed.updated_at >= a.updated_at);
    assert_eq!(store.get_account(&a.id).await.unwrap(), renamed);
    // Renaming to its own name is no conflict.
    store.rename_account(&actor, &a.id, "zulu").await.unwrap();
    let names: Vec<_> = store
        .list_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["bravo", "zulu"]);

    store.delete_account(&actor, &b.id).await.unwrap();
    assert!(matches!(
        store.get_account(&b.id).await,
        Err(StoreError::NotFound {
            kind: "account",
            ..
        })
    ));
    assert_eq!(store.list_accounts().await.unwrap().len(), 1);
}

pub async fn users_crud(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    assert_eq!(store.count_users().await.unwrap(), 0);

    let op = store
        .create_user(
            &actor,
            new_user(None, "op@rampart.test", Role::OperatorAdmin),
        )
        .await
        .unwrap();
    let owner = store
        .create_user(
            &actor,
            new_user(Some(&acme.id), "owner@acme.test", Role::AccountOwner),
        )
        .await
        .unwrap();
    assert!(op.id.starts_with("user_"));
    assert_eq!(op.account_id, None);
    assert_eq!(owner.account_id.as_deref(), Some(acme.id.as_str()));
    assert_eq!(store.count_users().await.unwrap(), 2);
    assert_eq!(store.get_user(&owner.id).await.unwrap(), owner);

    let (found, hash) = store
        .user_by_email("owner@acme.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, owner);
    assert_eq!(
        hash.as_deref(),
        Some("$argon2id$v=19$hash-of-owner@acme.test")
    );
    assert!(
        store
            .user_by_email("nobody@acme.test")
            .await
            .unwrap()
            .is_none()
    );
    let json = serde_json::to_string(&owner).unwrap();
    assert!(!json.contains("argon2"), "{json}");

    assert_eq!(
        store.list_users(None).await.unwrap(),
        vec![op.clone(), owner.clone()]
    );
    assert_eq!(
        store.list_users(Some(&acme.id)).await.unwrap(),
        vec![owner.clone()]
    );

    let updated = store
        .update_user(
            &actor,
            &owner.id,
            Some("Olivia"),
            Some(Role::AccountMember),
            Some("$argon2id$new"),
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Olivia");
    assert_eq!(updated.role, Role::AccountMember);
    assert_eq!(updated.email, owner.email);
    let (_, hash) = store
        .user_by_email("owner@acme.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$new"));
    // Fields left as None stay, the password hash included.
    let same = store
        .update_user(&actor, &owner.id, None, None, None)
        .await
        .unwrap();
    assert_eq!(
        (same.name.as_str(), same.role.clone()),
        ("Olivia", Role::AccountMember)
    );
    let (_, hash) = store
        .user_by_email("owner@acme.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$new"));

    store.delete_user(&actor, &op.id).await.unwrap();
    assert!(matches!(
        store.get_user(&op.id).await,
        Err(StoreError::NotFound { kind: "user", .. })
    ));
    assert_eq!(store.count_users().await.unwrap(), 1);
}

pub async fn tokens_lookup_expiry_and_no_hashes(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let owner = store
        .create_user(
            &actor,
            new_user(Some(&acme.id), "owner@acme.test", Role::AccountOwner),
        )
        .await
        .unwrap();
    let scoped = NewToken {
        site_ids: Some(vec!["site_a".into(), "site_b".into()]),
        ..new_token(&owner.id, Role::AccountMember)
    };
    let (token, secret) = store.create_token(&actor, scoped).await.unwrap();
    assert!(token.id.starts_with("tok_"));
    assert!(secret.starts_with("rpt_") && secret.len() == 47, "{secret}");
    assert_eq!(token.account_id.as_deref(), Some(acme.id.as_str()));
    assert_eq!(
        token.site_ids,
        Some(vec!["site_a".to_owned(), "site_b".to_owned()])
    );
    assert_eq!(token.last_used_at, None);
    assert_eq!(store.get_token(&token.id).await.unwrap(), token);

    let (found, user) = store.token_by_secret(&secret).await.unwrap().unwrap();
    assert_eq!(user, owner);
    assert_eq!(found.id, token.id);
    let used = found.last_used_at.expect("lookup notes the use");
    // A second use within the minute does not write again.
    let (again, _) = store.token_by_secret(&secret).await.unwrap().unwrap();
    assert_eq!(again.last_used_at, Some(used));
    assert_eq!(
        store.get_token(&token.id).await.unwrap().last_used_at,
        Some(used)
    );

    // Wrong, malformed and truncated secrets find nothing.
    let wrong = format!("rpt_{}", "A".repeat(43));
    for bad in [
        wrong.as_str(),
        "",
        "rpt_",
        &secret[..secret.len() - 1],
        &secret[4..],
    ] {
        assert!(store.token_by_secret(bad).await.unwrap().is_none(), "{bad}");
    }

    // Expired tokens are unknown.
    let expired = NewToken {
        expires_at: Some(1),
        ..new_token(&owner.id, Role::AccountMember)
    };
    let (_, old_secret) = store.create_token(&actor, expired).await.unwrap();
    assert!(store.token_by_secret(&old_secret).await.unwrap().is_none());
    let future = NewToken {
        expires_at: Some(i64::MAX),
        ..new_token(&owner.id, Role::AccountMember)
    };
    let (_, live_secret) = store.create_token(&actor, future).await.unwrap();
    assert!(store.token_by_secret(&live_secret).await.unwrap().is_some());

    // Neither the secret nor its hash ever leaves the store.
    let tokens = store.list_tokens(None, None).await.unwrap();
    assert_eq!(tokens.len(), 3);
    let json = serde_json::to_string(&tokens).unwrap();
    for needle in [&secret[4..], &sha256_hex(&secret), "secret", "hash"] {
        assert!(!json.contains(needle), "{needle} in {json}");
    }

    assert_eq!(
        store
            .list_tokens(Some(&owner.id), None)
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store.list_tokens(None, Some(&acme.id)).await.unwrap().len(),
        3
    );
    assert_eq!(
        store
            .list_tokens(Some(&owner.id), Some("acct_other"))
            .await
            .unwrap()
            .len(),
        0
    );
    store.delete_token(&actor, &token.id).await.unwrap();
    assert!(store.token_by_secret(&secret).await.unwrap().is_none());
    assert_eq!(store.list_tokens(None, None).await.unwrap().len(), 2);
}

/// The stored form of a secret, recomputed independently of the store.
fn sha256_hex(secret: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub async fn cascade_deletes(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let other = store.create_account(&actor, "other").await.unwrap();
    let owner = store
        .create_user(
            &actor,
            new_user(Some(&acme.id), "o@acme.test", Role::AccountOwner),
        )
        .await
        .unwrap();
    let member = store
        .create_user(
            &actor,
            new_user(Some(&acme.id), "m@acme.test", Role::AccountMember),
        )
        .await
        .unwrap();
    let outsider = store
        .create_user(
            &actor,
            new_user(Some(&other.id), "x@other.test", Role::AccountOwner),
        )
        .await
        .unwrap();
    let (_, owner_secret) = store
        .create_token(&actor, new_token(&owner.id, Role::AccountOwner))
        .await
        .unwrap();
    let (member_token, member_secret) = store
        .create_token(&actor, new_token(&member.id, Role::AccountMember))
        .await
        .unwrap();
    store
        .create_token(&actor, new_token(&outsider.id, Role::AccountOwner))
        .await
        .unwrap();
    store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    store
        .create_site(&actor, &other.id, site("blog", &["blog.test"]), false)
        .await
        .unwrap();

    // Deleting a user takes their tokens.
    store.delete_user(&actor, &member.id).await.unwrap();
    assert!(
        store
            .token_by_secret(&member_secret)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.get_token(&member_token.id).await.is_err());

    // Deleting an account takes its users, their tokens, its sites and hosts.
    store.delete_account(&actor, &acme.id).await.unwrap();
    assert!(store.get_user(&owner.id).await.is_err());
    assert!(
        store
            .token_by_secret(&owner_secret)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.list_sites(Some(&acme.id)).await.unwrap().is_empty());
    assert_eq!(store.list_users(None).await.unwrap(), vec![outsider]);
    assert_eq!(store.list_tokens(None, None).await.unwrap().len(), 1);
    assert_eq!(store.list_sites(None).await.unwrap().len(), 1);
    // The freed host can be taken again.
    store
        .create_site(&actor, &other.id, site("shop2", &["shop.test"]), false)
        .await
        .unwrap();
}

pub async fn name_and_email_conflicts(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let globex = store.create_account(&actor, "globex").await.unwrap();
    assert_conflict(
        store.create_account(&actor, "acme").await.unwrap_err(),
        "name",
        "acme",
    );
    assert_conflict(
        store
            .rename_account(&actor, &globex.id, "acme")
            .await
            .unwrap_err(),
        "name",
        "acme",
    );
    store
        .create_user(
            &actor,
            new_user(Some(&acme.id), "a@x.test", Role::AccountOwner),
        )
        .await
        .unwrap();
    assert_conflict(
        store
            .create_user(
                &actor,
                new_user(Some(&globex.id), "a@x.test", Role::AccountOwner),
            )
            .await
            .unwrap_err(),
        "email",
        "a@x.test",
    );
    store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    assert_conflict(
        store
            .create_site(&actor, &globex.id, site("shop", &["other.test"]), false)
            .await
            .unwrap_err(),
        "name",
        "shop",
    );
    assert_conflict(
        store
            .create_site(
                &actor,
                &globex.id,
                site("dup", &["d.test", "d.test"]),
                false,
            )
            .await
            .unwrap_err(),
        "hosts",
        "d.test",
    );
    // Nothing of the refused writes stuck.
    assert_eq!(store.list_accounts().await.unwrap().len(), 2);
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(store.list_sites(None).await.unwrap().len(), 1);
}

pub async fn missing_rows_are_not_found(fx: Fixture) {
    let store: Store = fx.open().await;
    let actor = admin();
    let err = store.get_account("acct_nope").await.unwrap_err();
    assert_eq!(err.to_string(), "account 'acct_nope' not found");
    assert!(matches!(
        store.rename_account(&actor, "acct_nope", "x").await,
        Err(StoreError::NotFound {
            kind: "account",
            ..
        })
    ));
    assert!(matches!(
        store.delete_account(&actor, "acct_nope").await,
        Err(StoreError::NotFound {
            kind: "account",
            ..
        })
    ));
    assert!(matches!(
        store
            .create_user(
                &actor,
                new_user(Some("acct_nope"), "a@x.test", Role::AccountOwner)
            )
            .await,
        Err(StoreError::NotFound {
            kind: "account",
            ..
        })
    ));
    assert!(matches!(
        store
            .update_user(&actor, "user_nope", Some("x"), None, None)
            .await,
        Err(StoreError::NotFound { kind: "user", .. })
    ));
    assert!(matches!(
        store
            .create_token(&actor, new_token("user_nope", Role::AccountOwner))
            .await,
        Err(StoreError::NotFound { kind: "user", .. })
    ));
    assert!(matches!(
        store.delete_token(&actor, "tok_nope").await,
        Err(StoreError::NotFound { kind: "token", .. })
    ));
    assert!(matches!(
        store.get_site("site_nope").await,
        Err(StoreError::NotFound { kind: "site", .. })
    ));
    assert!(matches!(
        store.update_site(&actor, "site_nope", site("a", &[])).await,
        Err(StoreError::NotFound { kind: "site", .. })
    ));
    assert!(matches!(
        store
            .create_site(&actor, "acct_nope", site("a", &[]), false)
            .await,
        Err(StoreError::NotFound {
            kind: "account",
            ..
        })
    ));
    assert_eq!(store.site_by_name("a").await.unwrap(), None);
    assert_eq!(store.revision().await.unwrap(), 0);
}
