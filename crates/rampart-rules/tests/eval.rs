//! Every field, operator and function on one typical request.

mod common;

use common::{default_headers, eval_on, headers, ip, request};
use rampart_rules::{EvalScratch, RequestFields, RuleSet, compile};

fn check(cases: &[(&str, bool)]) {
    let h = default_headers();
    let req = request(&h);
    for (src, want) in cases {
        assert_eq!(eval_on(src, &req), *want, "{src}");
    }
}

#[test]
fn string_fields_and_operators() {
    check(&[
        ("http.host eq \"www.example.com\"", true),
        ("http.host == \"WWW.example.com\"", false),
        ("http.host ne \"x\"", true),
        ("http.host != \"www.example.com\"", false),
        ("http.request.method eq \"POST\"", true),
        (
            "http.request.uri eq \"/wp-login.php?user=admin&redirect_to=%2Fwp-admin%2F&tag=a&tag=b+c\"",
            true,
        ),
        ("http.request.uri.path eq \"/wp-login.php\"", true),
        ("http.request.uri.query contains \"user=admin\"", true),
        ("http.request.version eq \"HTTP/1.1\"", true),
        ("http.user_agent contains \"Firefox\"", true),
        ("http.referer eq \"https://example.com/start\"", true),
        ("http.cookie contains \"session=abc\"", true),
        ("ip.src.country eq \"DE\"", true),
        ("ip.src.country in {\"US\" \"CN\"}", false),
        ("http.host lt \"zzz\"", true),
        ("http.host le \"www.example.com\"", true),
        ("http.host gt \"www.example.com\"", false),
        ("http.host ge \"a\"", true),
        ("http.host contains \"example\"", true),
        ("http.host contains \"\"", true),
        ("http.request.uri.path matches \"^/wp-(admin|login)\"", true),
        ("http.request.uri.path ~ r\"^/wp-\\w+\\.php$\"", true),
        ("http.request.uri.path matches r#\"^/api\"#", false),
        ("http.host wildcard \"*.EXAMPLE.com\"", true),
        ("http.host wildcard \"example.com\"", false),
        ("http.host strict wildcard \"*.EXAMPLE.com\"", false),
        ("http.host strict wildcard \"www.*.com\"", true),
        ("http.request.method in {\"GET\" \"HEAD\"}", false),
        ("http.request.method in {\"GET\", \"POST\"}", true),
        ("http.request.method in {}", false),
    ]);
}

#[test]
fn integers_booleans_and_ranges() {
    check(&[
        ("ip.src.asnum eq 64500", true),
        ("ip.src.asnum in {13335 64496..64511}", true),
        ("ip.src.asnum in {1..10 20}", false),
        ("http.request.body.size gt 1000", true),
        ("http.request.body.size <= 1233", false),
        (
            "http.request.body.size >= 1234 && http.request.body.size < 1235",
            true,
        ),
        ("ssl", true),
        ("not ssl", false),
        ("!ssl", false),
        ("ssl eq true", true),
        ("ssl ne true", false),
        ("ssl == false", false),
        ("rampart.bot.verified", false),
        ("rampart.client.clearance", true),
        (
            "rampart.client.clearance and not rampart.bot.verified",
            true,
        ),
    ]);
}

#[test]
fn ip_addresses_sets_and_lists() {
    check(&[
        ("ip.src eq 203.0.113.9", true),
        ("ip.src ne 203.0.113.9", false),
        ("ip.src in {10.0.0.0/8 203.0.113.0/28 2001:db8::/32}", true),
        ("ip.src in {10.0.0.0/8 192.168.1.1 2001:db8::/32}", false),
        ("ip.src in $office", true),
        ("not ip.src in $office", false),
        ("ip.src in $bad_v6", false),
    ]);
    let h = headers(&[]);
    let v6 = RequestFields {
        ip: ip("2001:db8::42"),
        ..RequestFields::empty(&h)
    };
    assert!(eval_on("ip.src in $bad_v6", &v6));
    assert!(eval_on("ip.src in {2001:db8::/32}", &v6));
    assert!(!eval_on("ip.src in {10.0.0.0/8}", &v6));
    assert!(eval_on("ip.src eq 2001:db8::42", &v6));
    // An IPv4 client seen through an IPv6 socket is an IPv4 client.
    let mapped = RequestFields {
        ip: ip("::ffff:203.0.113.9"),
        ..RequestFields::empty(&h)
    };
    assert!(eval_on("ip.src in $office", &mapped));
    assert!(eval_on("ip.src eq 203.0.113.9", &mapped));
    assert!(eval_on("ip.src in {203.0.113.0/24}", &mapped));
}

#[test]
fn logic_and_precedence() {
    check(&[
        ("ssl and rampart.bot.verified", false),
        ("ssl or rampart.bot.verified", true),
        ("ssl xor rampart.client.clearance", false),
        ("ssl ^^ rampart.bot.verified", true),
        ("ssl || rampart.bot.verified && rampart.bot.verified", true),
        (
            "(ssl || rampart.bot.verified) && rampart.bot.verified",
            false,
        ),
        // `or` is looser than `xor`, which is looser than `and`.
        ("ssl or ssl xor ssl", true),
        ("(ssl or ssl) xor ssl", false),
        ("not not ssl", true),
        ("not (ssl and rampart.bot.verified)", true),
        (
            "http.request.uri.path matches \"^/wp-(admin|login)\" and not ip.src in $office",
            false,
        ),
    ]);
}

#[test]
fn functions() {
    check(&[
        ("lower(http.host) eq \"www.example.com\"", true),
        ("upper(http.request.uri.path) eq \"/WP-LOGIN.PHP\"", true),
        ("lower(upper(http.host)) eq \"www.example.com\"", true),
        ("len(http.host) eq 15", true),
        ("len(http.request.uri.path) gt 100", false),
        ("starts_with(http.request.uri.path, \"/wp-\")", true),
        ("ends_with(http.request.uri.path, \".php\")", true),
        ("ends_with(lower(http.host), \".org\")", false),
        ("not starts_with(http.host, \"api.\")", true),
        (
            "url_decode(http.request.uri.query) contains \"redirect_to=/wp-admin/\"",
            true,
        ),
        ("url_decode(http.request.uri.query) contains \"b c\"", true),
        (
            "lower(url_decode(http.request.uri)) contains \"/wp-admin/\"",
            true,
        ),
        ("len(lower(url_decode(http.request.uri.query))) eq 47", true),
        ("len(\"abc\") eq 3", true),
        ("starts_with(http.host, \"www\") eq true", true),
    ]);
}

#[test]
fn arrays_any_all() {
    check(&[
        (
            "any(http.request.headers[\"accept\"][*] contains \"json\")",
            true,
        ),
        (
            "all(http.request.headers[\"accept\"][*] contains \"json\")",
            false,
        ),
        (
            "all(http.request.headers[\"Accept\"][*] contains \"/\")",
            true,
        ),
        (
            "any(lower(http.request.headers[\"USER-AGENT\"][*]) contains \"firefox\")",
            true,
        ),
        ("any(http.request.headers[\"x-missing\"][*] eq \"\")", false),
        ("all(http.request.headers[\"x-missing\"][*] eq \"\")", true),
        ("len(http.request.headers[\"accept\"]) eq 2", true),
        ("len(http.request.headers[\"x-missing\"]) eq 0", true),
        ("any(http.request.uri.args[\"user\"][*] eq \"admin\")", true),
        (
            "any(http.request.uri.args[\"redirect_to\"][*] eq \"/wp-admin/\")",
            true,
        ),
        ("any(http.request.uri.args[\"tag\"][*] eq \"b c\")", true),
        (
            "all(http.request.uri.args[\"tag\"][*] in {\"a\" \"b c\"})",
            true,
        ),
        ("len(http.request.uri.args[\"tag\"]) eq 2", true),
        (
            "any(starts_with(http.request.headers[\"x-forwarded-for\"][*], \"198.51.\"))",
            true,
        ),
        ("any(len(http.request.headers[\"accept\"][*]) gt 10)", true),
        (
            "any(http.request.headers[\"accept\"][*] eq \"text/html\" and http.request.headers[\"accept\"][*] ne \"x\")",
            true,
        ),
        (
            "not any(http.request.headers[\"accept\"][*] matches \"^image/\")",
            true,
        ),
    ]);
}

#[test]
fn absent_values_read_as_empty_or_zero() {
    let h = headers(&[]);
    let req = RequestFields::empty(&h);
    for (src, want) in [
        ("http.user_agent eq \"\"", true),
        ("http.cookie eq \"\"", true),
        ("ip.src.country eq \"\"", true),
        ("ip.src.asnum eq 0", true),
        ("http.referer contains \"x\"", false),
        ("len(http.user_agent) eq 0", true),
    ] {
        assert_eq!(eval_on(src, &req), want, "{src}");
    }
    // An explicit cookie string wins over the header.
    let h = headers(&[("cookie", "a=1")]);
    let req = RequestFields {
        cookie: Some("a=1; b=2"),
        ..RequestFields::empty(&h)
    };
    assert!(eval_on("http.cookie contains \"b=2\"", &req));
}

#[test]
fn bytes_that_are_not_utf8() {
    // %ff decodes to a byte that is not UTF-8; literals can say it with \x.
    let h = headers(&[]);
    let req = RequestFields {
        query: "a=%ff%fe",
        ..RequestFields::empty(&h)
    };
    assert!(eval_on(
        "url_decode(http.request.uri.query) eq \"a=\\xff\\xfe\"",
        &req
    ));
    assert!(eval_on(
        "any(http.request.uri.args[\"a\"][*] eq \"\\xff\\xfe\")",
        &req
    ));
    assert!(eval_on(
        "url_decode(http.request.uri.query) wildcard \"a=\\xff*\"",
        &req
    ));
}

#[test]
fn missing_list_at_evaluation_holds_nothing() {
    let h = default_headers();
    let req = request(&h);
    let rule = compile("ip.src in $office", &common::scheme()).unwrap();
    let empty = rampart_rules::Lists::new();
    assert!(!rule.matches(&req, &empty, &mut EvalScratch::new()));
    assert!(rule.matches(&req, &common::lists(), &mut EvalScratch::new()));
}

#[test]
fn rule_set_in_order() {
    let set = RuleSet::compile(
        [
            (1, "http.host eq \"other\""),
            (2, "ssl"),
            (3, "http.request.method eq \"POST\""),
            (4, "not ssl"),
        ],
        &common::scheme(),
    )
    .unwrap();
    let h = default_headers();
    let req = request(&h);
    let lists = common::lists();
    let mut scratch = EvalScratch::new();
    assert_eq!(set.first_match(&req, &lists, &mut scratch), Some(&2));
    let all: Vec<i32> = set.matching(&req, &lists, &mut scratch).copied().collect();
    assert_eq!(all, [2, 3]);
    assert_eq!(set.len(), 4);

    let errs = RuleSet::compile(
        [("a", "ssl"), ("b", "ssl and"), ("c", "nope")],
        &common::scheme(),
    )
    .unwrap_err();
    let ids: Vec<&str> = errs.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, ["b", "c"]);
}

#[test]
fn compiled_rules_are_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<rampart_rules::CompiledRule>();
    assert_send_sync::<RuleSet<u64>>();
    assert_send_sync::<rampart_rules::Lists>();
}

#[test]
fn constant_conditions_match_every_request_or_none() {
    check(&[
        ("true", true),
        ("false", false),
        ("not true", false),
        ("(true)", true),
        ("true and http.host eq \"www.example.com\"", true),
        ("false or ssl", eval_on("ssl", &request(&default_headers()))),
    ]);
    // A constant is a whole condition, not a comparable value.
    assert!(compile("true eq 1", &rampart_rules::Scheme::new()).is_err());
}
