//! Bot-defence settings: `[site.challenge]`, `[site.bots]`,
//! `[[site.captcha]]` and `[[verified_bots]]` in the file, the same fields
//! in site specs, mistakes pointed at, and a lossless way back through
//! `SiteSpec::from_config`.

mod support;

use std::time::Duration;

use rampart_config::*;
use serde_json::json;
use support::{MIN_SITE, TempDir, assert_single, pos, spec, with};

const SECRET: &str = "0123456789abcdef0123456789abcdef-secret";

fn full() -> String {
    format!(
        r#"
[[lists]]
name = "crawlers"
items = ["66.249.64.0/19"]

[[verified_bots]]
name = "googlebot"
user_agent = "Googlebot"
list = "crawlers"
rdns = ["googlebot.com", ".google.com"]

{MIN_SITE}
[site.challenge]
algorithm = "scrypt"
scrypt = {{ n_log2 = 10, r = 4, p = 1 }}
difficulty = {{ low = 2, medium = 3, high = 5 }}
ttl = "2m"
clearance_ttl = "1h"
ip_prefix = {{ v4 = 16, v6 = 48 }}
nojs_fallback = false

[site.bots]
challenge_feeds = true

[[site.bots.rules]]
id = "headless"
expression = 'http.user_agent contains "HeadlessChrome"'
weight = 15

[[site.bots.rules]]
id = "office"
expression = "ip.src in $crawlers"
weight = -5

[[site.bots.thresholds]]
min_weight = 30
action = "block"

[[site.bots.thresholds]]
min_weight = 5
action = "challenge"
level = "high"

[[site.captcha]]
sitekey = "rk_contact_form"
secret = "{SECRET}"
hostnames = ["A.test"]
mode = "invisible"
"#
    )
}

#[test]
fn a_full_file_reads_as_written() {
    let dir = TempDir::new();
    let config = dir.parse(&full()).expect("valid");
    assert_eq!(
        config.verified_bots,
        vec![VerifiedBot {
            name: "googlebot".into(),
            user_agent: "Googlebot".into(),
            list: Some("crawlers".into()),
            rdns: vec!["googlebot.com".into(), "google.com".into()],
        }]
    );
    let sec = &config.sites[0].security;
    let c = &sec.challenge;
    assert_eq!(
        c.algorithm,
        PowAlgorithm::Scrypt {
            n_log2: 10,
            r: 4,
            p: 1
        }
    );
    assert_eq!(
        c.difficulty,
        Difficulty {
            low: 2,
            medium: 3,
            high: 5
        }
    );
    assert_eq!(c.ttl, Duration::from_secs(120));
    assert_eq!(c.clearance_ttl, Duration::from_secs(3600));
    assert_eq!((c.ip_prefix_v4, c.ip_prefix_v6), (16, 48));
    assert!(!c.nojs_fallback);

    let b = &sec.bots;
    assert!(b.enabled && b.challenge_feeds);
    assert_eq!(b.rules.len(), 2);
    assert_eq!(b.rules[1].weight, -5);
    // Sorted by weight whatever the file order.
    assert_eq!(b.thresholds[0].min_weight, 5);
    assert_eq!(b.decide(4), BotAction::Allow);
    assert_eq!(b.decide(15), BotAction::Challenge(ThreatLevel::High));
    assert_eq!(b.decide(30), BotAction::Block);

    let k = &sec.captcha[0];
    assert_eq!(k.sitekey, "rk_contact_form");
    assert_eq!(k.hostnames, vec!["a.test".to_string()]);
    assert_eq!(k.mode, CaptchaMode::Invisible);
    assert_ne!(k.secret_sha256, [0; 32]);
    assert!(
        !format!("{config:?}").contains(SECRET),
        "the secret is kept hashed only"
    );
}

#[test]
fn absent_sections_are_defaults() {
    let dir = TempDir::new();
    let config = dir.parse(MIN_SITE).expect("valid");
    let sec = &config.sites[0].security;
    assert_eq!(sec.challenge, ChallengeSettings::default());
    assert_eq!(sec.challenge.difficulty.medium, 18);
    assert!(!sec.bots.enabled);
    assert_eq!(sec.bots.decide(0), BotAction::Allow);
    assert_eq!(
        sec.bots.decide(12),
        BotAction::Challenge(ThreatLevel::Medium)
    );
    assert!(sec.captcha.is_empty());
}

#[test]
fn a_single_difficulty_is_medium_with_levels_around_it() {
    let dir = TempDir::new();
    let text = format!("{MIN_SITE}[site.challenge]\ndifficulty = 18\n");
    let c = dir.parse(&text).expect("valid").sites[0]
        .security
        .challenge
        .clone();
    assert_eq!(
        (c.difficulty.low, c.difficulty.medium, c.difficulty.high),
        (16, 18, 20)
    );
}

#[test]
fn mistakes_are_pointed_at() {
    let dir = TempDir::new();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "[site.challenge]\nalgorithm = \"md5\"\n",
            "\"md5\"",
            &["sha256", "scrypt"],
        ),
        (
            "[site.challenge]\ndifficulty = 40\n",
            "40",
            &["between 1 and 26"],
        ),
        (
            "[site.challenge]\ndifficulty = { low = 9, medium = 8, high = 10 }\n",
            "{ low",
            &["low (9) ≤ medium (8)"],
        ),
        (
            "[site.challenge]\nip_prefix = { v4 = 4 }\n",
            "4 }",
            &["ip_prefix.v4"],
        ),
        (
            "[site.challenge]\nclearance_ttl = \"1s\"\n",
            "\"1s\"",
            &["clearance_ttl"],
        ),
        (
            "[site.challenge]\ndificulty = 3\n",
            "dificulty",
            &["difficulty"],
        ),
        (
            "[[site.bots.rules]]\nid = \"x\"\nexpression = 'http.user_agent contans \"a\"'\nweight = 1\n",
            "contans",
            &["site.bots.rules[0].expression", "column"],
        ),
        (
            "[[site.bots.thresholds]]\nmin_weight = 3\naction = \"tarpit\"\n",
            "\"tarpit\"",
            &["allow", "light", "challenge", "block"],
        ),
        (
            "[[site.captcha]]\nsitekey = \"nope\"\nsecret = \"0123456789abcdef0123456789abcdef\"\n",
            "\"nope\"",
            &["rk_"],
        ),
        (
            "[[site.captcha]]\nsitekey = \"rk_abcdefgh\"\nsecret = \"short\"\n",
            "\"short\"",
            &["32 to 256"],
        ),
    ];
    for (section, needle, fragments) in cases {
        let text = format!("{MIN_SITE}{section}");
        assert_single(&dir, &text, pos(&text, needle), fragments);
    }
    let text = "[[verified_bots]]\nname = \"bing\"\nuser_agent = \"bingbot\"\n".to_string();
    assert_single(
        &dir,
        &text,
        pos(&text, "[[verified_bots]]"),
        &["`list`", "`rdns`"],
    );
    let text = "[[verified_bots]]\nname = \"bing\"\nuser_agent = \"bingbot\"\nlist = \"nope\"\n"
        .to_string();
    assert_single(&dir, &text, pos(&text, "\"nope\""), &["no [[lists]] named"]);
}

fn compile(v: serde_json::Value) -> Result<SiteConfig, Vec<FieldError>> {
    compile_site(&spec(v), &Timeouts::default())
}

#[test]
fn specs_compile_and_come_back_unchanged() {
    let v = json!({
        "name": "a", "hosts": ["a.test"], "origins": ["http://127.0.0.1:9001"],
        "challenge": {"algorithm": "sha256", "difficulty": {"low": 10, "medium": 12, "high": 14},
                      "ttl": "1m", "ip_prefix": {"v4": 32}},
        "bots": {"rules": [{"id": "curl", "expression": "http.user_agent contains \"curl\"", "weight": 12}],
                 "thresholds": [{"min_weight": 10, "action": "light"}]},
        "captcha_keys": [{"sitekey": "rk_abcdefgh", "secret_sha256": "ab".repeat(32), "hostnames": ["a.test"]}]
    });
    let site = compile(v).expect("valid");
    let sec = &site.security;
    assert_eq!(sec.challenge.difficulty.at(ThreatLevel::High), 14);
    assert_eq!(sec.challenge.ip_prefix_v4, 32);
    assert_eq!(sec.bots.decide(12), BotAction::Challenge(ThreatLevel::Low));
    assert_eq!(sec.captcha[0].secret_sha256, [0xab; 32]);
    let back = SiteSpec::from_config(&site);
    assert_eq!(
        compile(serde_json::to_value(&back).expect("json")).expect("valid"),
        site
    );
}

#[test]
fn spec_mistakes_name_their_path() {
    let cases = [
        (
            with("challenge", json!({"algorithm": "md5"})),
            "challenge.algorithm",
        ),
        (
            with("challenge", json!({"difficulty": 99})),
            "challenge.difficulty",
        ),
        (
            with("challenge", json!({"ip_prefix": {"v6": 8}})),
            "challenge.ip_prefix.v6",
        ),
        (
            with(
                "bots",
                json!({"rules": [{"id": "x", "expression": "http.host eq", "weight": 1}]}),
            ),
            "bots.rules[0].expression",
        ),
        (
            with(
                "bots",
                json!({"rules": [{"id": "x", "expression": "true", "weight": 5000}]}),
            ),
            "bots.rules[0].weight",
        ),
        (
            with(
                "bots",
                json!({"thresholds": [{"min_weight": 1, "action": "allow", "level": "high"}]}),
            ),
            "bots.thresholds[0].action",
        ),
        (
            with(
                "captcha_keys",
                json!([{"sitekey": "rk_abcdefgh", "secret_sha256": "xyz"}]),
            ),
            "captcha_keys[0].secret_sha256",
        ),
    ];
    for (v, field) in cases {
        let errs = compile(v).expect_err("refused");
        assert!(errs.iter().any(|e| e.field == field), "{field}: {errs:#?}");
    }
}
