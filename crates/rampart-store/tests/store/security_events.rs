//! Security events: written per site by name, listed newest first with a
//! cursor, found by reference, bounded by age and count, gone with their
//! site, and never moving the revision.

use rampart_store::{
    MAX_EVENTS_PER_SITE, SECURITY_EVENTS_RETENTION_MS, SecurityEventWrite, SecurityRuleHit,
};

use crate::fixture::{Fixture, admin, site};

const DAY_MS: i64 = 24 * 3600 * 1000;

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

fn event(site: &str, at_ms: i64, reference: &str) -> SecurityEventWrite {
    SecurityEventWrite {
        at_ms,
        site: site.to_owned(),
        reference: reference.to_owned(),
        client_ip: "192.0.2.7".to_owned(),
        method: "GET".to_owned(),
        uri: "/search?q=<script>".to_owned(),
        source: "waf".to_owned(),
        action: "block".to_owned(),
        inbound_score: 10,
        outbound_score: 0,
        rules: vec![SecurityRuleHit {
            id: 941100,
            message: "XSS Attack Detected via libinjection".to_owned(),
            data: "Matched Data: XSS data found within ARGS:q: <script>".to_owned(),
            severity: Some(2),
        }],
    }
}

pub async fn security_events_list_find_and_bound(fx: Fixture) {
    let store = fx.open().await;
    let actor = admin();
    let acme = store.create_account(&actor, "acme").await.unwrap();
    let shop = store
        .create_site(&actor, &acme.id, site("shop", &["shop.test"]), false)
        .await
        .unwrap();
    let blog = store
        .create_site(&actor, &acme.id, site("blog", &["blog.test"]), false)
        .await
        .unwrap();
    let revision = store.revision().await.unwrap();
    let now = now_ms();

    let batch: Vec<_> = (0..5)
        .map(|i| event("shop", now - 5000 + i * 1000, &format!("ref-{i}")))
        .chain([
            event("blog", now, "ref-blog"),
            event("gone", now, "ref-gone"),
            event("shop", now - 40 * DAY_MS, "ref-old"),
        ])
        .collect();
    let written = store
        .record_security_events(
            "edge-1",
            &batch,
            SECURITY_EVENTS_RETENTION_MS,
            MAX_EVENTS_PER_SITE,
        )
        .await
        .unwrap();
    assert_eq!(written, 7, "the unknown site's event is skipped");
    assert_eq!(store.revision().await.unwrap(), revision);

    // Newest first; the 40-day-old one went with the retention.
    let page = store.security_events(&shop.id, None, 3).await.unwrap();
    let refs: Vec<&str> = page.iter().map(|e| e.reference.as_str()).collect();
    assert_eq!(refs, ["ref-4", "ref-3", "ref-2"]);
    let next = store
        .security_events(&shop.id, Some(&page[2].id), 10)
        .await
        .unwrap();
    let refs: Vec<&str> = next.iter().map(|e| e.reference.as_str()).collect();
    assert_eq!(refs, ["ref-1", "ref-0"]);
    let first = &page[0];
    assert_eq!(first.site_id, shop.id);
    assert_eq!(first.node_id, "edge-1");
    assert_eq!(first.uri, "/search?q=<script>");
    assert_eq!((first.inbound_score, first.action.as_str()), (10, "block"));
    assert_eq!(first.rules, batch[4].rules);

    let found = store
        .security_events_by_reference("ref-blog")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].site_id, blog.id);
    assert!(
        store
            .security_events_by_reference("ref-old")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .security_events_by_reference("nope")
            .await
            .unwrap()
            .is_empty()
    );

    // At most `max_per_site` per site: the oldest go.
    let more: Vec<_> = (0..3)
        .map(|i| event("shop", now + 1000 + i, &format!("new-{i}")))
        .collect();
    store
        .record_security_events("edge-1", &more, SECURITY_EVENTS_RETENTION_MS, 4)
        .await
        .unwrap();
    let kept = store.security_events(&shop.id, None, 100).await.unwrap();
    let refs: Vec<&str> = kept.iter().map(|e| e.reference.as_str()).collect();
    assert_eq!(refs, ["new-2", "new-1", "new-0", "ref-4"]);
    assert_eq!(
        store
            .security_events(&blog.id, None, 100)
            .await
            .unwrap()
            .len(),
        1
    );

    // A deleted site takes its events with it.
    store.delete_site(&actor, &blog.id).await.unwrap();
    assert!(
        store
            .security_events_by_reference("ref-blog")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .record_security_events("edge-1", &[], SECURITY_EVENTS_RETENTION_MS, 4)
            .await
            .unwrap(),
        0
    );
}
