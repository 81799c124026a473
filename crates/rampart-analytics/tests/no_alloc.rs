//! The hot path allocates nothing once keys are known, even when new client
//! addresses replace old ones and when a new minute starts after a drain.
//!
//! A counting global allocator sees every allocation of this process, so this
//! file holds a single test: no other test thread allocates meanwhile.

use rampart_analytics::{Aggregator, AggregatorConfig, RequestEvent, Verdict};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const T0: i64 = 1_767_225_600_000;
const PATHS: [&str; 8] = [
    "/",
    "/a",
    "/b/c",
    "/login",
    "/api/v1/x",
    "/s.css",
    "/j.js",
    "/i.png",
];

fn record_minute(agg: &Aggregator, site: &Arc<str>, minute: i64, new_ips_from: u32) {
    for i in 0..20_000u32 {
        // 90% from a few hundred known clients, 10% from never-seen ones.
        let ip = if i % 10 == 0 {
            new_ips_from + i
        } else {
            i % 300
        };
        agg.record(
            site,
            &RequestEvent {
                status: 200 + (i % 4) as u16 * 100,
                bytes_out: u64::from(i),
                verdict: if i % 50 == 0 {
                    Verdict::Blocked
                } else {
                    Verdict::Passed
                },
                client_ip: IpAddr::V4(Ipv4Addr::from(ip)),
                country: Some([b'A' + (i % 20) as u8, b'Z']),
                path: PATHS[(i % 8) as usize],
                rules_hit: if i % 50 == 0 { &["sqli"] } else { &[] },
                unix_ms: T0 + minute * 60_000 + i64::from(i % 60_000),
                ..RequestEvent::default()
            },
        );
    }
}

#[test]
fn record_does_not_allocate_in_steady_state() {
    let agg = Aggregator::new(AggregatorConfig {
        shards: 1,
        ..AggregatorConfig::default()
    });
    let site: Arc<str> = Arc::from("steady");

    // First minute: buckets, slot arrays, index and key buffers are made.
    record_minute(&agg, &site, 0, 1 << 24);
    let region = Region::new(GLOBAL);
    record_minute(&agg, &site, 0, 2 << 24);
    let change = region.change();
    assert_eq!(change.allocations, 0, "same minute: {change:?}");
    assert_eq!(change.reallocations, 0, "same minute: {change:?}");

    // Draining allocates (the output); the next minute reuses the drained
    // bucket and its buffers.
    let drained = agg.drain_closed(T0 + 60_000);
    assert_eq!(drained.len(), 1);
    let region = Region::new(GLOBAL);
    record_minute(&agg, &site, 1, 3 << 24);
    let change = region.change();
    assert_eq!(change.allocations, 0, "new minute: {change:?}");
    assert_eq!(change.reallocations, 0, "new minute: {change:?}");
}
