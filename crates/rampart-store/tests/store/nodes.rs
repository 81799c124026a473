//! Cluster nodes: heartbeats, per-node request figures, and the writes a
//! node replays from its spool, which must never count twice.

use rampart_analytics::{Counters, MinuteBucket};
use rampart_store::{NodeHeartbeat, ReportIdentity, SecurityEventWrite};

use crate::fixture::{Fixture, admin, site};

const T0: i64 = 1_700_000_040; // a minute start

fn beat(id: &str, last_seen: i64) -> NodeHeartbeat {
    NodeHeartbeat {
        id: id.into(),
        version: "0.1.0".into(),
        snapshot_version: 3,
        store_revision: 7,
        shared_state: "off".into(),
        started_at: 1,
        last_seen,
    }
}

pub async fn heartbeats_upsert_one_row_per_node(fx: Fixture) {
    let store = fx.open().await;
    let revision = store.revision().await.unwrap();
    store.heartbeat(&beat("node-b", 10)).await.unwrap();
    store.heartbeat(&beat("node-a", 10)).await.unwrap();
    let mut newer = beat("node-b", 20);
    newer.shared_state = "degraded".into();
    newer.snapshot_version = 4;
    store.heartbeat(&newer).await.unwrap();
    let nodes = store.list_nodes().await.unwrap();
    assert_eq!(nodes, vec![beat("node-a", 10), newer]);
    // Heartbeats are not configuration: the edge must not rebuild on them.
    assert_eq!(store.revision().await.unwrap(), revision);
    assert!(store.forget_node("node-a").await.unwrap());
    assert!(!store.forget_node("node-a").await.unwrap());
    assert_eq!(store.list_nodes().await.unwrap().len(), 1);
}

fn bucket(requests: u64) -> MinuteBucket {
    MinuteBucket {
        site: "shop".into(),
        minute: T0,
        counters: Counters {
            requests,
            status_2xx: requests,
            passed: requests,
            ..Counters::default()
        },
        ..MinuteBucket::default()
    }
}

pub async fn spooled_batches_count_once(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    let batch = [bucket(5)];
    assert_eq!(
        store
            .record_minutes_once("n1", Some("minutes_1"), &batch)
            .await
            .unwrap(),
        1
    );
    // The same batch replayed (a crash before the spool was rewritten).
    assert_eq!(
        store
            .record_minutes_once("n1", Some("minutes_1"), &batch)
            .await
            .unwrap(),
        0
    );
    store.record_minutes("n2", &[bucket(2)]).await.unwrap();
    let by_node = store.requests_by_node(T0).await.unwrap();
    let figures: Vec<(&str, i64)> = by_node
        .iter()
        .map(|n| (n.node_id.as_str(), n.requests))
        .collect();
    assert_eq!(figures, vec![("n1", 5), ("n2", 2)]);
    assert!(store.requests_by_node(T0 + 60).await.unwrap().is_empty());

    let event = SecurityEventWrite {
        at_ms: T0 * 1000,
        site: "shop".into(),
        reference: "ray1".into(),
        client_ip: "192.0.2.1".into(),
        method: "GET".into(),
        uri: "/".into(),
        source: "waf".into(),
        action: "block".into(),
        inbound_score: 5,
        outbound_score: 0,
        rules: Vec::new(),
    };
    let events = [event];
    for _ in 0..2 {
        store
            .record_security_events_once("n1", Some("events_1"), &events, i64::MAX / 2, 100)
            .await
            .unwrap();
    }
    let found = store.security_events_by_reference("ray1").await.unwrap();
    assert_eq!(found.len(), 1);
}

pub async fn a_report_filed_twice_by_id_is_stored_once(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let shop = store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    let new = rampart_store::NewAbuseReport {
        site_id: shop.id.clone(),
        account_id: acme.id.clone(),
        category: "spam".into(),
        urls: vec!["https://shop.test/".into()],
        explanation: String::new(),
        reporter_name: Some("R".into()),
        reporter_email: Some("r@mail.test".into()),
        good_faith: true,
        share_with_owner: "anonymous".into(),
        share_with_host: "anonymous".into(),
        client_ip_hash: "h".into(),
    };
    let identity = ReportIdentity::new(1_000);
    let (first, case, _) = store
        .file_abuse_report_once(&actor, new.clone(), 3_600_000, &identity)
        .await
        .unwrap();
    assert_eq!(
        (first.id.as_str(), first.created_at),
        (identity.id.as_str(), 1_000)
    );
    assert_eq!(first.reference, identity.reference);
    let (again, same_case, _) = store
        .file_abuse_report_once(&actor, new, 3_600_000, &identity)
        .await
        .unwrap();
    assert_eq!((again, same_case.id), (first, case.id));
    assert_eq!(
        store
            .count_reports_from_email("r@mail.test", 0)
            .await
            .unwrap(),
        1
    );
}
