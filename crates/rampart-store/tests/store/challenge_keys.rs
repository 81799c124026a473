//! Challenge signing keys: made when missing, rotated when old (with a
//! made-up "now" rather than a day of waiting), at most two kept, one key
//! per rotation however many nodes race, and never in the audit log. Also
//! `update_site_with`, the read-modify-write the captcha keys API uses.

use rampart_store::{AuditFilter, SiteWrite, Store, StoreError};
use serde_json::json;

use crate::fixture::{Fixture, admin, site};

const DAY_MS: i64 = 24 * 3600 * 1000;
const T0: i64 = 1_800_000_000_000;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn challenge_keys_rotate_when_old(fx: Fixture) {
    let store = fx.open().await;
    assert!(store.challenge_keys(2).await.unwrap().is_empty());

    let first = store.rotate_challenge_key(T0, DAY_MS).await.unwrap();
    let first = first.expect("a store without keys gets one");
    assert_eq!((first.id, first.created_at), (1, T0));
    assert_ne!(first.secret, [0; 32]);
    assert_eq!(
        store.revision().await.unwrap(),
        1,
        "a new key moves the revision"
    );

    // Not due yet: nothing written, the revision stays.
    let early = store.rotate_challenge_key(T0 + DAY_MS - 1, DAY_MS).await;
    assert_eq!(early.unwrap(), None);
    assert_eq!(store.revision().await.unwrap(), 1);
    assert_eq!(store.challenge_keys(2).await.unwrap(), vec![first.clone()]);

    let second = store
        .rotate_challenge_key(T0 + DAY_MS, DAY_MS)
        .await
        .unwrap()
        .expect("due after a day");
    assert_eq!(second.id, 2);
    assert_ne!(second.secret, first.secret);
    assert_eq!(
        store.challenge_keys(2).await.unwrap(),
        vec![second.clone(), first.clone()],
        "newest first"
    );

    // A third: the first is gone, two are kept.
    let third = store
        .rotate_challenge_key(T0 + 2 * DAY_MS, DAY_MS)
        .await
        .unwrap()
        .expect("due after two days");
    assert_eq!(third.id, 3);
    assert_eq!(
        store.challenge_keys(10).await.unwrap(),
        vec![third.clone(), second.clone()]
    );
    assert_eq!(store.revision().await.unwrap(), 3);

    // Another process sees the same keys.
    store.close().await;
    let again = fx.open().await;
    assert_eq!(again.challenge_keys(2).await.unwrap(), vec![third, second]);
}

pub async fn challenge_keys_are_not_audited_in_plain(fx: Fixture) {
    let store = fx.open().await;
    let key = store
        .rotate_challenge_key(T0, DAY_MS)
        .await
        .unwrap()
        .expect("made");
    let entries = store.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.action, "challenge_key.rotate");
    assert_eq!(entry.target_id, "1");
    assert_eq!(entry.account_id, None);
    assert_eq!(entry.after, Some(json!({ "id": 1, "created_at": T0 })));
    let text = serde_json::to_string(entry).unwrap();
    assert!(!text.contains(&hex(&key.secret)), "{text}");
}

/// Four nodes on one store rotate at the same moment: one key between them.
pub async fn challenge_keys_one_rotation_per_race(fx: Fixture) {
    let mut nodes: Vec<Store> = Vec::new();
    for _ in 0..4 {
        nodes.push(fx.open().await);
    }
    for round in 0..3_i64 {
        let now = T0 + round * DAY_MS;
        let racers: Vec<_> = nodes
            .iter()
            .map(|node| {
                let node = node.clone();
                tokio::spawn(async move { node.rotate_challenge_key(now, DAY_MS).await })
            })
            .collect();
        let mut made = 0;
        for racer in racers {
            if racer.await.unwrap().unwrap().is_some() {
                made += 1;
            }
        }
        assert_eq!(made, 1, "round {round}");
        let newest = nodes[0].challenge_keys(1).await.unwrap();
        assert_eq!(newest[0].id, u32::try_from(round + 1).unwrap());
    }
    // Every node reads the same two keys.
    let expected = nodes[0].challenge_keys(2).await.unwrap();
    assert_eq!(expected.len(), 2);
    for node in &nodes {
        assert_eq!(node.challenge_keys(2).await.unwrap(), expected);
    }
}

/// Changes computed inside the transaction do not lose each other, and a
/// refused change writes nothing.
pub async fn update_site_with_reads_inside_the_transaction(fx: Fixture) {
    let store = fx.open().await;
    let acme = store.create_account(&admin(), "acme").await.unwrap();
    let shop = store
        .create_site(&admin(), &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let id = shop.id.clone();
            tokio::spawn(async move {
                store
                    .update_site_with(&admin(), &id, "site.tag.add", |current| {
                        let mut spec = current.spec.clone();
                        let tags = spec["tags"].as_array().cloned().unwrap_or_default();
                        let mut tags = tags;
                        tags.push(json!(i));
                        spec["tags"] = json!(tags);
                        let write = SiteWrite {
                            name: current.name.clone(),
                            hosts: current.hosts.clone(),
                            spec,
                        };
                        Ok::<_, StoreError>((write, i))
                    })
                    .await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    let after = store.get_site(&shop.id).await.unwrap();
    let mut tags: Vec<i64> = after.spec["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, (0..8).collect::<Vec<_>>(), "no write was lost");
    let audit = store.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        audit.iter().filter(|e| e.action == "site.tag.add").count(),
        8
    );

    let revision = store.revision().await.unwrap();
    let refused = store
        .update_site_with(&admin(), &shop.id, "site.tag.add", |_| {
            Err::<(SiteWrite, ()), _>(StoreError::Conflict {
                field: "tags",
                message: "no".into(),
            })
        })
        .await;
    assert!(matches!(refused, Err(StoreError::Conflict { .. })));
    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.get_site(&shop.id).await.unwrap(), after);
    let missing = store
        .update_site_with(&admin(), "site_nope", "site.tag.add", |_| {
            Ok::<_, StoreError>((site("x", &["x.test"]), ()))
        })
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
}

/// A captcha key's secret is kept as its SHA-256 in the site's spec; the
/// audit log keeps not even that.
pub async fn captcha_secret_hashes_are_not_audited(fx: Fixture) {
    let store = fx.open().await;
    let acme = store.create_account(&admin(), "acme").await.unwrap();
    let hash = "ab".repeat(32);
    let mut write = site("shop", &["shop.test"]);
    write.spec["captcha_keys"] = json!([{ "sitekey": "rk_abcdefgh", "secret_sha256": hash }]);
    let shop = store
        .create_site(&admin(), &acme.id, write.clone(), false)
        .await
        .unwrap();
    write.spec["captcha_keys"][0]["secret_sha256"] = json!("cd".repeat(32));
    store.update_site(&admin(), &shop.id, write).await.unwrap();
    let text =
        serde_json::to_string(&store.list_audit(&AuditFilter::default()).await.unwrap()).unwrap();
    assert!(
        !text.contains(&hash) && !text.contains(&"cd".repeat(32)),
        "{text}"
    );
    assert!(
        text.contains("rk_abcdefgh"),
        "the sitekey is public: {text}"
    );
}
