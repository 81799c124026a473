//! `[shared]`: the Redis tier's URL for each kind of deployment, its
//! timings, and every mistake at its line:col without echoing a password.

mod support;

use rampart_config::{RedisKind, load_file};
use std::time::Duration;
use support::{TempDir, assert_has, assert_single, errors, pos};

#[test]
fn absent_means_no_shared_tier() {
    let dir = TempDir::new();
    let cfg = dir
        .parse("[node]\nid = \"a\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.shared.is_none());
}

#[test]
fn one_server_cluster_and_sentinel() {
    let dir = TempDir::new();
    let cfg = dir
        .parse("[shared]\nurl = \"redis://:s3cr%2Ft@10.0.0.5:6380/1\"\nsync_interval = \"40ms\"\ntimeout = \"80ms\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let shared = cfg.shared.unwrap();
    assert_eq!(shared.redis.kind, RedisKind::Server);
    assert_eq!(shared.redis.hosts, vec![("10.0.0.5".to_owned(), 6380)]);
    assert_eq!(shared.redis.password.as_deref(), Some("s3cr/t"));
    assert_eq!(shared.redis.db, 1);
    assert!(!shared.redis.tls);
    assert_eq!(shared.sync_interval, Duration::from_millis(40));
    assert_eq!(shared.timeout, Duration::from_millis(80));
    // Debug output (which reaches logs) hides the password.
    let debug = format!("{:?}", cfg.store).to_owned() + &format!("{shared:?}");
    assert!(!debug.contains("s3cr"), "{debug}");
    assert!(debug.contains(":***@10.0.0.5:6380"), "{debug}");

    let cfg = dir
        .parse("[shared]\nurl = \"rediss://edge:pw@redis.internal\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let shared = cfg.shared.unwrap();
    assert!(shared.redis.tls);
    assert_eq!(
        shared.redis.hosts,
        vec![("redis.internal".to_owned(), 6379)]
    );
    assert_eq!(shared.redis.username.as_deref(), Some("edge"));
    assert_eq!(shared.sync_interval, rampart_config::DEFAULT_SYNC_INTERVAL);
    assert_eq!(shared.timeout, rampart_config::DEFAULT_TIMEOUT);

    let cfg = dir
        .parse("[shared]\nurl = \"redis+cluster://10.0.0.5:7000,10.0.0.6:7000,[fd00::7]:7000\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let shared = cfg.shared.unwrap();
    assert_eq!(shared.redis.kind, RedisKind::Cluster);
    assert_eq!(shared.redis.hosts.len(), 3);
    assert_eq!(shared.redis.hosts[2], ("fd00::7".to_owned(), 7000));

    let cfg = dir
        .parse("[shared]\nurl = \"redis+sentinel://s1,s2:26380/mymaster/2\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let shared = cfg.shared.unwrap();
    assert_eq!(
        shared.redis.kind,
        RedisKind::Sentinel {
            master: "mymaster".into()
        }
    );
    assert_eq!(
        shared.redis.hosts,
        vec![("s1".to_owned(), 26379), ("s2".to_owned(), 26380)]
    );
    assert_eq!(shared.redis.db, 2);
}

#[test]
fn mistakes_point_at_the_value_and_hide_the_password() {
    let dir = TempDir::new();
    let text = "[shared]\nurl = \"http://:hunter2@10.0.0.5\"\n";
    assert_single(
        &dir,
        text,
        (2, 7),
        &[
            "`shared.url` has the unknown scheme \"http://\"",
            "redis+sentinel://",
        ],
    );
    assert!(
        errors(&dir, text)
            .iter()
            .all(|(_, _, m)| !m.contains("hunter2"))
    );

    for (url, fragment) in [
        ("redis://:pw@h:99999", "has the port \"99999\""),
        ("redis://h/x", "has the database \"x\""),
        ("redis://a,b", "names 2 servers"),
        ("redis+cluster://a:1,b:2/0", "takes no path"),
        ("redis+sentinel://s1:26379", "needs the master's name"),
        ("redis://", "needs a host"),
        ("redis://h?timeout=1", "takes no query"),
        ("redis://:p%zz@h", "badly percent-encoded password"),
        ("redis", "must be a redis:// URL"),
        ("redis://h o", "not a host name"),
    ] {
        let text = format!("[shared]\nurl = \"{url}\"\n");
        assert_single(&dir, &text, (2, 7), &[fragment]);
    }

    let text = "[shared]\nsync_interval = \"1ms\"\ntimeout = \"1h\"\nurls = 1\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert_has(&errs, pos(text, "\"1ms\""), &["`shared.sync_interval`"]);
    assert_has(&errs, pos(text, "\"1h\""), &["`shared.timeout`"]);
    assert_has(
        &errs,
        pos(text, "urls"),
        &["unknown key \"urls\" in [shared]"],
    );
    assert_has(&errs, (1, 1), &["missing required key `url`"]);

    let text = "[shared]\nurl = 6379\n";
    assert_single(&dir, text, (2, 7), &["expected a string for `shared.url`"]);
    let text = "shared = \"redis://h\"\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!((errs[0].0, errs[0].1), (1, 10));
}

#[test]
fn a_file_with_a_bad_shared_url_does_not_load() {
    let dir = TempDir::new();
    let path = dir.write("rampart.toml", "[shared]\nurl = \"memcached://x\"\n");
    let err = load_file(&path).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("rampart.toml:2:7"), "{shown}");
}
