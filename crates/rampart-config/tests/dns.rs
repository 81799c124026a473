//! `[dns]`: the resolvers the edge asks when it verifies bots by reverse
//! DNS. Absent means /etc/resolv.conf; every mistake is pointed at. And
//! the `rdns` suffixes of `[[verified_bots]]` those lookups are matched to.

mod support;

use std::net::SocketAddr;

use rampart_config::*;
use support::{TempDir, assert_has, assert_single, errors, pos};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

#[test]
fn absent_means_the_system_resolvers() {
    let dir = TempDir::new();
    let config = dir.parse("").expect("valid");
    assert_eq!(config.dns, DnsConfig::default());
    assert!(config.dns.servers.is_empty());
    let config = dir.parse("[dns]\n").expect("valid");
    assert!(config.dns.servers.is_empty());
}

#[test]
fn servers_with_and_without_ports() {
    let dir = TempDir::new();
    let text =
        "[dns]\nservers = [\"127.0.0.1:5353\", \"9.9.9.9\", \"[::1]:53\", \"2001:db8::53\"]\n";
    let config = dir.parse(text).expect("valid");
    assert_eq!(
        config.dns.servers,
        vec![
            addr("127.0.0.1:5353"),
            addr("9.9.9.9:53"),
            addr("[::1]:53"),
            addr("[2001:db8::53]:53"),
        ]
    );
}

#[test]
fn mistakes_are_pointed_at() {
    let dir = TempDir::new();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "[dns]\nserver = []\n",
            "server",
            &["unknown key \"server\""],
        ),
        (
            "[dns]\nservers = []\n",
            "[]",
            &["empty", "/etc/resolv.conf"],
        ),
        ("[dns]\nservers = \"1.1.1.1\"\n", "\"1.1.1.1\"", &["array"]),
        (
            "[dns]\nservers = [\"dns.example:53\"]\n",
            "\"dns.example:53\"",
            &["`dns.servers[0]`", "not a resolver address"],
        ),
        (
            "[dns]\nservers = [\"127.0.0.1:0\"]\n",
            "\"127.0.0.1:0\"",
            &["port 0"],
        ),
        (
            "[dns]\nservers = [\"9.9.9.9\", \"9.9.9.9:53\"]\n",
            "\"9.9.9.9:53\"",
            &["already listed at line 2"],
        ),
        ("[dns]\nservers = [53]\n", "53]", &["dns.servers"]),
        ("dns = 1\n", "1", &["dns"]),
    ];
    for (text, needle, fragments) in cases {
        assert_single(&dir, text, pos(text, needle), fragments);
    }
    let many: Vec<String> = (1..=9).map(|i| format!("\"10.0.0.{i}\"")).collect();
    let text = format!("[dns]\nservers = [{}]\n", many.join(", "));
    assert_single(&dir, &text, pos(&text, "[\"10.0.0.1\""), &["at most 8"]);
}

#[test]
fn every_bad_server_is_reported_at_once() {
    let dir = TempDir::new();
    let text = "[dns]\nservers = [\"x\", \"1.1.1.1\", \"y:1\"]\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(&errs, pos(text, "\"x\""), &["`dns.servers[0]`"]);
    assert_has(&errs, pos(text, "\"y:1\""), &["`dns.servers[2]`"]);
}

#[test]
fn rdns_suffixes_are_domains() {
    let dir = TempDir::new();
    let bot = "[[verified_bots]]\nname = \"googlebot\"\nuser_agent = \"Googlebot\"\n";
    let text = format!("{bot}rdns = [\"GoogleBot.com.\", \".google.com\"]\n");
    let config = dir.parse(&text).expect("valid");
    assert_eq!(
        config.verified_bots[0].rdns,
        ["googlebot.com", "google.com"]
    );
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "rdns = [\"com\"]\n",
            "\"com\"",
            &["`verified_bots[0].rdns`", "top-level domain"],
        ),
        (
            "rdns = [\".\"]\n",
            "\".\"",
            &["`verified_bots[0].rdns`", "empty"],
        ),
        (
            "rdns = [\"google bot.com\"]\n",
            "\"google bot.com\"",
            &["' '"],
        ),
        ("rdns = [\"*.google.com\"]\n", "\"*.google.com\"", &["'*'"]),
    ];
    for (line, needle, fragments) in cases {
        let text = format!("{bot}{line}");
        assert_single(&dir, &text, pos(&text, needle), fragments);
    }
}
