//! `ConcurrencyLimiter`: per-address and per-prefix caps, release on drop,
//! a bounded table, and exact counts under threads.

use rampart_limits::{ConcurrencyConfig, ConcurrencyLimiter, KeyHasher, Refused};
use std::net::IpAddr;
use std::sync::Arc;

fn limiter(per_ip: u32, per_prefix: u32, max_tracked: usize) -> Arc<ConcurrencyLimiter> {
    let config = ConcurrencyConfig {
        per_ip,
        per_prefix,
        max_tracked,
        shards: 4,
        ..ConcurrencyConfig::default()
    };
    Arc::new(ConcurrencyLimiter::new(config, KeyHasher::from_seed([2; 16])).unwrap())
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn caps_per_address_and_per_prefix() {
    let l = limiter(2, 3, 1_000);
    let a1 = l.try_acquire(ip("198.51.100.1")).unwrap();
    let a2 = l.try_acquire(ip("198.51.100.1")).unwrap();
    assert_eq!(
        l.try_acquire(ip("198.51.100.1")).unwrap_err(),
        Refused::PerIp
    );
    // Another address of the same /24 has one prefix slot left.
    let b1 = l.try_acquire(ip("198.51.100.2")).unwrap();
    assert_eq!(
        l.try_acquire(ip("198.51.100.3")).unwrap_err(),
        Refused::PerPrefix
    );
    // A refused acquire left no trace on its address.
    assert_eq!(l.open(ip("198.51.100.3")), (0, 3));
    // Another /24 is independent.
    let _c = l.try_acquire(ip("198.51.101.1")).unwrap();
    assert_eq!(l.open(ip("198.51.100.1")), (2, 3));
    drop(a1);
    assert_eq!(l.open(ip("198.51.100.1")), (1, 2));
    let _a3 = l.try_acquire(ip("198.51.100.3")).unwrap();
    drop((a2, b1));
    assert_eq!(l.open(ip("198.51.100.1")), (0, 1));
}

#[test]
fn ipv6_clients_share_their_slash_64() {
    let l = limiter(10, 2, 1_000);
    let _a = l.try_acquire(ip("2001:db8:0:1::1")).unwrap();
    let _b = l.try_acquire(ip("2001:db8:0:1:ffff::2")).unwrap();
    assert_eq!(
        l.try_acquire(ip("2001:db8:0:1:abcd::3")).unwrap_err(),
        Refused::PerPrefix
    );
    assert!(l.try_acquire(ip("2001:db8:0:2::1")).is_ok());
    // A mapped IPv4 address is the IPv4 client.
    let _v4 = l.try_acquire(ip("192.0.2.1")).unwrap();
    assert_eq!(l.open(ip("::ffff:192.0.2.1")), (1, 1));
}

#[test]
fn entries_exist_only_while_connections_are_open() {
    let l = limiter(100, 100, 64);
    let guards: Vec<_> = (0..8u8)
        .map(|i| l.try_acquire(IpAddr::from([10, i, 0, 1])).unwrap())
        .collect();
    assert_eq!(l.tracked(), 16, "an address and a prefix each");
    drop(guards);
    assert_eq!(l.tracked(), 0);
}

#[test]
fn a_full_table_refuses_new_addresses_but_not_known_ones() {
    let l = limiter(100, 100, 8);
    let mut held = Vec::new();
    let mut refused = 0;
    for i in 0..64u8 {
        match l.try_acquire(IpAddr::from([10, i, 0, 1])) {
            Ok(g) => held.push(g),
            Err(e) => {
                assert_eq!(e, Refused::TableFull);
                refused += 1;
            }
        }
    }
    assert!(refused > 0 && l.tracked() <= 8, "{} tracked", l.tracked());
    // Refusals left nothing behind: releasing everything empties the table.
    drop(held);
    assert_eq!(l.tracked(), 0);
}

#[test]
fn eight_threads_count_exactly() {
    let l = limiter(1_000_000, 1_000_000, 10_000);
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let l = Arc::clone(&l);
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for i in 0..10_000u32 {
                    let addr = IpAddr::from([10, 0, (i % 4) as u8, t % 4]);
                    held.push(l.try_acquire(addr).unwrap());
                    if i % 3 == 0 {
                        drop(held.swap_remove(0));
                    }
                }
                held
            })
        })
        .collect();
    let held: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let total: u32 = (0..4u8)
        .flat_map(|c| (0..4u8).map(move |d| IpAddr::from([10, 0, c, d])))
        .map(|a| l.open(a).0)
        .sum();
    assert_eq!(total as usize, held.len());
    let prefixes: u32 = (0..4u8)
        .map(|c| l.open(IpAddr::from([10, 0, c, 0])).1)
        .sum();
    assert_eq!(prefixes as usize, held.len());
    drop(held);
    assert_eq!(l.tracked(), 0);
}

#[test]
fn configuration_is_checked() {
    let bad = |c: ConcurrencyConfig| ConcurrencyLimiter::new(c, KeyHasher::random()).is_err();
    let d = ConcurrencyConfig::default();
    assert!(bad(ConcurrencyConfig { per_ip: 0, ..d }));
    assert!(bad(ConcurrencyConfig { per_prefix: 0, ..d }));
    assert!(bad(ConcurrencyConfig { v4_prefix: 33, ..d }));
    assert!(bad(ConcurrencyConfig {
        v6_prefix: 129,
        ..d
    }));
    assert!(bad(ConcurrencyConfig { shards: 0, ..d }));
    assert!(bad(ConcurrencyConfig {
        max_tracked: 1,
        ..d
    }));
    assert!(!bad(d));
}
