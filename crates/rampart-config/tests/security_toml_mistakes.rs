//! Mistakes in the TOML file's security settings: site and operator
//! rules, skip targets, rate limits, request limits, automatic
//! under-attack mode, lists, `[geoip]` and `[dos]`. Every mistake is one
//! diagnostic at the offending text that says what to write instead;
//! expression errors point inside the string. Good values are in
//! `security_toml.rs`.

mod support;

use support::{MIN_SITE, TempDir, assert_has, assert_single, errors, pos, pos_nth};

/// The message format of an expression error, and its column mapped into
/// the file whatever string form the expression is written in.
#[test]
fn expression_errors_point_inside_the_string() {
    let dir = TempDir::new();
    let text = format!(
        "{MIN_SITE}[[site.rules]]\nid = \"r\"\nexpression = \"http.host contains 3\"\naction = \"block\"\n"
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "3\""),
        &[
            "site.rules[0].expression: column 20: expected a string after `contains`, found integer 3",
        ],
    );

    // A literal string, and a multi-line one: still exact.
    let text = format!(
        "{MIN_SITE}[[site.rules]]\nid = \"r\"\nexpression = 'http.hots eq \"x\"'\naction = \"log\"\n"
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "http.hots"),
        &["column 1", "http.hots", "did you mean"],
    );
    let text = format!(
        "{MIN_SITE}[[site.rules]]\nid = \"r\"\nexpression = '''\nhttp.host eq \"x\"\n  and ssl eq \"yes\"'''\naction = \"log\"\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!((errs[0].0, errs[0].1), pos(&text, "\"yes\""), "{errs:#?}");

    // Escapes: the column cannot be mapped, so the string is pointed at and
    // the column named.
    let text = format!(
        "{MIN_SITE}[[site.rules]]\nid = \"r\"\nexpression = \"http.host eq \\\"x\\\" and len(3)\"\naction = \"log\"\n"
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "\"http.host"),
        &[
            "site.rules[0].expression: column 26 of the expression: expected a field or a function, found integer 3",
        ],
    );
}

#[test]
fn lists_are_in_scope_only_when_declared() {
    let dir = TempDir::new();
    let rule =
        "[[site.rules]]\nid = \"r\"\nexpression = \"ip.src in $offise\"\naction = \"allow\"\n";
    let text = format!("[[lists]]\nname = \"office\"\nitems = []\n{MIN_SITE}{rule}");
    assert_single(
        &dir,
        &text,
        pos(&text, "$offise"),
        &["list `$offise` does not exist", "did you mean `$office`?"],
    );
    // A list with errors still declares its name: one error, not two.
    let text = format!("[[lists]]\nname = \"offise\"\nitems = [\"10.0.0.300\"]\n{MIN_SITE}{rule}");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"10.0.0.300"),
        &["`lists[0].items`"],
    );
    // Counting expressions see lists and the response code; plain ones do not see the code.
    let text = format!(
        "[[lists]]\nname = \"office\"\nitems = []\n{MIN_SITE}[[site.rate_limits]]\nid = \"x\"\nperiod = \"1m\"\nrequests = 5\nexpression = \"http.response.code eq 404\"\ncounting_expression = \"not ip.src in $office and http.response.code eq 404\"\n"
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "http.response.code eq 404\"\ncounting"),
        &["site.rate_limits[0].expression: column 1:"],
    );
}

#[test]
fn rule_mistakes() {
    let dir = TempDir::new();
    let rule = |body: &str| format!("{MIN_SITE}[[site.rules]]\n{body}\n");
    let base = "id = \"r\"\nexpression = \"ssl\"\n";

    let text = rule("expression = \"ssl\"\naction = \"block\"");
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rules]]"),
        &["`site.rules[0]` is missing `id`"],
    );
    let text = rule("id = \"r\"\naction = \"block\"");
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rules]]"),
        &["missing `expression`"],
    );
    let text = rule(base);
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rules]]"),
        &["needs an `action`", "\"block\""],
    );
    let text = rule(&format!("{base}action = \"deny\""));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"deny\""),
        &["unknown action \"deny\"", "\"challenge\""],
    );
    let text = rule(&format!("{base}action = \"block\"\nstatuss = 403"));
    assert_single(
        &dir,
        &text,
        pos(&text, "statuss"),
        &[
            "unknown key \"statuss\" in [[site.rules]]",
            "did you mean \"status\"?",
        ],
    );
    let text = rule(&format!("{base}action = \"block\"\nstatus = 302"));
    assert_single(
        &dir,
        &text,
        pos(&text, "302"),
        &["`site.rules[0].status` must be between 400 and 599, found 302"],
    );
    let text = rule(&format!(
        "{base}action = \"block\"\nstatus = 99999999999999999999"
    ));
    assert_single(
        &dir,
        &text,
        pos(&text, "999"),
        &["`site.rules[0].status` must be between 100 and 999"],
    );
    let text = rule(&format!(
        "{base}action = \"redirect\"\nredirect_url = \"/x\"\nstatus = 404"
    ));
    assert_single(
        &dir,
        &text,
        pos(&text, "404"),
        &["301, 302, 303, 307 or 308"],
    );
    let text = rule(&format!("{base}action = \"redirect\""));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"redirect\""),
        &["needs a `redirect_url`"],
    );
    let text = rule(&format!(
        "{base}action = \"redirect\"\nredirect_url = \"example.com\""
    ));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"example.com"),
        &["absolute http:// or https:// URL"],
    );
    let text = rule(&format!("{base}action = \"log\"\nstatus = 403"));
    assert_single(
        &dir,
        &text,
        pos(&text, "403"),
        &[
            "`site.rules[0].status` only applies to action \"block\" or \"redirect\", not \"log\"; remove it",
        ],
    );
    let text = rule(&format!(
        "{base}action = \"challenge\"\nchallenge = \"captcha\""
    ));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"captcha"),
        &["unknown challenge \"captcha\"", "\"managed\""],
    );
    let text = rule(&format!("{base}action = \"skip\""));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"skip\""),
        &["needs `skip_phases`", "`skip_rules`"],
    );
    let text = rule(&format!(
        "{base}action = \"skip\"\nskip_phases = [\"rules\", \"ratelimits\", \"rules\"]"
    ));
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"ratelimits"),
        &["unknown phase \"ratelimits\"", "\"rate_limits\""],
    );
    assert_has(
        &errs,
        pos_nth(&text, "\"rules\"", 1),
        &["lists \"rules\" twice"],
    );
    let text = rule(&format!(
        "{base}action = \"log\"\nskip_rules = [\"nobody\"]"
    ));
    assert_single(
        &dir,
        &text,
        pos(&text, "[\"nobody"),
        &["`site.rules[0].skip_rules` only applies to action \"skip\", not \"log\""],
    );
    let text = rule(&format!("{base}action = \"block\"\nenabled = \"yes\""));
    assert_single(
        &dir,
        &text,
        pos(&text, "\"yes\""),
        &["expected a boolean", "`site.rules[0].enabled`"],
    );
    let text = rule("id = \"Bad Id\"\nexpression = \"ssl\"\naction = \"log\"");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"Bad Id"),
        &["`site.rules[0].id` \"Bad Id\" is not valid"],
    );
    let text = rule(&format!(
        "{base}action = \"log\"\ndescription = \"{}\"",
        "x".repeat(501)
    ));
    assert_single(&dir, &text, pos(&text, "\"xxx"), &["at most 500"]);
}

#[test]
fn rule_ids_and_skip_targets() {
    let dir = TempDir::new();
    let r = |id: &str, extra: &str| {
        format!("[[site.rules]]\nid = \"{id}\"\nexpression = \"ssl\"\naction = \"log\"\n{extra}")
    };
    let text = format!("{MIN_SITE}{}{}", r("a", ""), r("a", ""));
    assert_single(
        &dir,
        &text,
        pos_nth(&text, "\"a\"", 2),
        &["rule id \"a\" is already used by the rule at line 6"],
    );

    let skip = |targets: &str| {
        r("s", &format!("action = \"skip\"\nskip_rules = {targets}\n"))
            .replace("action = \"log\"\n", "")
    };
    let text = format!(
        "{MIN_SITE}{}{}{}",
        r("before", ""),
        skip("[\"before\", \"s\", \"after\", \"nobody\"]"),
        r("after", "")
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"before\", "),
        &["rule \"before\" comes before this one", "move this rule up"],
    );
    assert_has(&errs, pos(&text, "\"s\", "), &["cannot skip itself"]);
    assert_has(
        &errs,
        pos(&text, "\"nobody\""),
        &["no rule with id \"nobody\""],
    );

    // Operator rules are their own list: a site rule id is not a target.
    let text = format!(
        "[[rules]]\nid = \"o\"\nexpression = \"ssl\"\naction = \"skip\"\nskip_rules = [\"a\"]\n{MIN_SITE}{}",
        r("a", "")
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "\"a\"]"),
        &["`rules[0].skip_rules`: no rule with id \"a\""],
    );
}

#[test]
fn too_many_rules() {
    let dir = TempDir::new();
    let mut text = MIN_SITE.to_owned();
    for i in 0..1001 {
        text.push_str(&format!(
            "[[site.rules]]\nid = \"r{i}\"\nexpression = \"ssl\"\naction = \"log\"\n"
        ));
    }
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rules]]\nid = \"r1000\""),
        &["`site.rules` has 1001 entries; at most 1000"],
    );
}

#[test]
fn too_many_rate_limits() {
    let dir = TempDir::new();
    let mut text = MIN_SITE.to_owned();
    for i in 0..101 {
        text.push_str(&format!(
            "[[site.rate_limits]]\nid = \"l{i}\"\nperiod = \"1m\"\nrequests = 1\n"
        ));
    }
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rate_limits]]\nid = \"l100\""),
        &["`site.rate_limits` has 101 entries; at most 100"],
    );
}

#[test]
fn rate_limit_mistakes() {
    let dir = TempDir::new();
    let rl = |body: &str| format!("{MIN_SITE}[[site.rate_limits]]\nid = \"x\"\n{body}\n");
    let text = rl("requests = 5");
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rate_limits]]"),
        &["missing `period`", "\"1m\""],
    );
    let text = rl("period = \"1m\"");
    assert_single(
        &dir,
        &text,
        pos(&text, "[[site.rate_limits]]"),
        &["missing `requests`"],
    );
    let text = rl("period = \"2d\"\nrequests = 5");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"2d\""),
        &["`site.rate_limits[0].period`", "at most 1day"],
    );
    let text = rl("period = \"1m\"\nrequests = 0");
    assert_single(
        &dir,
        &text,
        pos(&text, "0\n"),
        &["between 1 and 1000000000"],
    );
    let text = rl("period = \"1m\"\nrequests = 5\naction = \"redirect\"");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"redirect"),
        &["unknown rate-limit action \"redirect\""],
    );
    let text = rl("period = \"1m\"\nrequests = 5\ncharacteristics = []");
    assert_single(
        &dir,
        &text,
        pos(&text, "[]"),
        &["at least one characteristic"],
    );
    let text = rl("period = \"1m\"\nrequests = 5\ncharacteristics = [\"ip\", \"ua\", \"ip\"]");
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"ua\""),
        &["unknown characteristic \"ua\"", "\"header:NAME\""],
    );
    assert_has(&errs, pos_nth(&text, "\"ip\"", 1), &["lists \"ip\" twice"]);
    let text = rl("period = \"1m\"\nrequests = 5\nmitigation_timeout = \"forever\"");
    assert_single(&dir, &text, pos(&text, "\"forever"), &["invalid duration"]);
    let text = rl(
        "period = \"1m\"\nrequests = 5\ncounting_expression = \"http.response.code eq \\\"x\\\"\"",
    );
    assert_single(
        &dir,
        &text,
        pos(&text, "\"http.response"),
        &["counting_expression: column 23 of the expression"],
    );
    let text = rl("period = \"1m\"\nrequests = 5\nburst = 3");
    assert_single(
        &dir,
        &text,
        pos(&text, "burst"),
        &["unknown key \"burst\" in [[site.rate_limits]]"],
    );
    let text = format!(
        "{}[[site.rate_limits]]\nid = \"x\"\nperiod = \"1s\"\nrequests = 1\n",
        rl("period = \"1m\"\nrequests = 5")
    );
    assert_single(
        &dir,
        &text,
        pos_nth(&text, "\"x\"", 1),
        &["rate limit id \"x\" is already used"],
    );
}

#[test]
fn limits_and_auto_under_attack_mistakes() {
    let dir = TempDir::new();
    let text = format!("{MIN_SITE}limits = {{ max_uri_bytes = 8, max_headers = 3 }}\n");
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "8,"),
        &["`site.limits.max_uri_bytes` must be between 16 and 1048576, found 8"],
    );
    assert_has(
        &errs,
        pos(&text, "max_headers"),
        &["unknown key \"max_headers\"", "max_header_count"],
    );
    let text =
        format!("{MIN_SITE}auto_under_attack = {{ factor = 1.0, min_rps = 0, on = true }}\n");
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "1.0"),
        &["`site.auto_under_attack.factor` must be between 1.5 and 1000, found 1"],
    );
    assert_has(
        &errs,
        pos(&text, "0, on"),
        &["`site.auto_under_attack.min_rps` must be between 1 and 10000000"],
    );
    let text = format!(
        "{MIN_SITE}auto_under_attack = {{ warmup = \"0s\", window = \"2h\", hold = \"soon\" }}\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"0s\""),
        &["`site.auto_under_attack.warmup`"],
    );
    assert_has(
        &errs,
        pos(&text, "\"2h\""),
        &["`site.auto_under_attack.window`"],
    );
    assert_has(
        &errs,
        pos(&text, "\"soon\""),
        &["`site.auto_under_attack.hold`"],
    );
    let text = format!("{MIN_SITE}auto_under_attack = {{ hold = 5 }}\n");
    assert_single(&dir, &text, pos(&text, "5 }"), &["duration string"]);
    let text = format!("{MIN_SITE}auto_under_attack = {{ factor = \"4\" }}\n");
    assert_single(&dir, &text, pos(&text, "\"4\""), &["expected a number"]);
    let text = format!("{MIN_SITE}auto_under_attack = {{ factor = 8 }}\n");
    assert_eq!(
        dir.parse(&text).unwrap().sites[0]
            .security
            .auto_under_attack
            .factor,
        8.0
    );
    let text = format!("{MIN_SITE}auto_under_attack = {{ factor = nan }}\n");
    assert_single(&dir, &text, pos(&text, "nan"), &["between 1.5 and 1000"]);
}

#[test]
fn list_mistakes() {
    let dir = TempDir::new();
    dir.write("bad.txt", "10.0.0.0/8\nnot-an-ip\n\n::1/129\n");
    let text = "[[lists]]\nname = \"a\"\nfile = \"bad.txt\"\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    let bad = dir.path().join("bad.txt").display().to_string();
    assert_has(
        &errs,
        pos(text, "\"bad.txt"),
        &["`lists[0].file`", &format!("{bad}:2:"), "not-an-ip"],
    );
    assert_has(&errs, pos(text, "\"bad.txt"), &[&format!("{bad}:4:")]);

    let text = "[[lists]]\nname = \"a\"\nfile = \"missing.txt\"\n";
    assert_single(
        &dir,
        text,
        pos(text, "\"missing"),
        &["`lists[0].file`: cannot read"],
    );
    let text = "[[lists]]\nname = \"a\"\nfile = \"x\"\nitems = []\n";
    assert_single(&dir, text, pos(text, "[]"), &["both `file` and `items`"]);
    let text = "[[lists]]\nname = \"a\"\n";
    assert_single(&dir, text, (1, 1), &["`lists[0]` needs its entries"]);
    let text = "[[lists]]\nitems = []\n";
    assert_single(&dir, text, (1, 1), &["missing `name`"]);
    let text = "[[lists]]\nname = \"my-list\"\nitems = []\n";
    assert_single(
        &dir,
        text,
        pos(text, "\"my-list"),
        &["`lists[0].name` \"my-list\" is not valid", "'_'"],
    );
    let text = "[[lists]]\nname = \"a\"\nitems = []\n[[lists]]\nname = \"a\"\nitems = []\n";
    assert_single(
        &dir,
        text,
        pos_nth(text, "\"a\"", 1),
        &["list name \"a\" is already used by the list at line 2"],
    );
    let text = "[[lists]]\nname = \"a\"\nitems = [\"10.0.0.1\", 7, \"x\\ny\"]\n";
    assert_single(
        &dir,
        text,
        pos(text, "7"),
        &["expected a string for `lists[0].items`"],
    );
    let text = "[lists]\nname = \"a\"\n";
    assert_single(&dir, text, (1, 1), &["write each entry as [[lists]]"]);
}

#[test]
fn geoip_and_dos_mistakes() {
    let dir = TempDir::new();
    let text = "[geoip]\ncountry_db = \"nowhere.mmdb\"\nasn = \"x\"\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos(text, "\"nowhere"),
        &[
            "`geoip.country_db`: cannot read",
            "nowhere.mmdb",
            "remove the key",
        ],
    );
    assert_has(
        &errs,
        pos(text, "asn "),
        &["unknown key \"asn\" in [geoip]", "asn_db"],
    );

    let text = "[dos]\nmax_connections_per_ip = 0\nsend_timeout = \"0s\"\nmax_streams_per_connection = 5000\nslowloris = true\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert_has(
        &errs,
        pos(text, "0\n"),
        &["`dos.max_connections_per_ip` must be between 1 and 1000000"],
    );
    assert_has(&errs, pos(text, "\"0s\""), &["`dos.send_timeout`"]);
    assert_has(&errs, pos(text, "5000"), &["between 1 and 1000"]);
    assert_has(
        &errs,
        pos(text, "slowloris"),
        &["unknown key \"slowloris\" in [dos]"],
    );
}

/// Mistakes in several sections come back together, in file order.
#[test]
fn all_problems_at_once() {
    let dir = TempDir::new();
    let text = format!(
        "[dos]\nmin_body_rate = -1\n[[lists]]\nname = \"A\"\nitems = []\n[[rules]]\nid = \"o\"\nexpression = \"ssl eq\"\naction = \"log\"\n{MIN_SITE}limits = {{ max_header_count = 0 }}\n[[site.rules]]\nid = \"r\"\nexpression = \"ssl\"\naction = \"nope\"\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    let lines: Vec<usize> = errs.iter().map(|e| e.0).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}
