//! Mistakes inside `[[site]]` tables, and across sites.

mod support;

use support::{MIN_SITE, TempDir, assert_has, assert_single, errors, pos, pos_nth};

#[test]
fn missing_required_site_keys_point_at_the_header() {
    let dir = TempDir::new();
    let text = "[node]\nid = \"x\"\n\n[[site]]\nlb = \"ip_hash\"\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    for key in ["name", "hosts", "origins"] {
        assert_has(
            &errs,
            (4, 1),
            &[&format!("missing required key `{key}` in [site]")],
        );
    }
    // Inline form: the diagnostic points at the `{`.
    let text = "site = [ { name = \"a\", hosts = [\"a.test\"] } ]\n";
    assert_single(&dir, text, (1, 10), &["missing required key `origins`"]);
    // Required keys in nested tables.
    let text = format!("{MIN_SITE}tls = {{ cert = \"x.pem\" }}\n");
    let errs = errors(&dir, &text);
    assert_has(
        &errs,
        pos(&text, "{ cert"),
        &["missing required key `key` in [site.tls]"],
    );
    let text = format!("{MIN_SITE}origins2 = 0\n").replace(
        "origins = [\"http://127.0.0.1:9001\"]",
        "origins = [{ weight = 2 }]",
    );
    let errs = errors(&dir, &text);
    assert_has(
        &errs,
        pos(&text, "{ weight"),
        &["missing required key `url`"],
    );
}

#[test]
fn bad_origins_point_at_the_element() {
    let dir = TempDir::new();
    let text = r#"[[site]]
name = "a"
hosts = ["a.test"]
origins = ["http://127.0.0.1:9001", "ftp://b:21", "http://c:80/api", "http://d:80/?x=1", "127.0.0.1:9002",
  { url = "http://e:1", protocol = "auto" }, { url = "http://f:1", weight = 0 }, { url = "http://g:1", protocol = "h3" },
  "http://127.0.0.1:9001/", 7]
"#;
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 9, "{errs:#?}");
    assert_has(
        &errs,
        pos(text, "\"ftp://"),
        &[
            "invalid origin URL \"ftp://b:21\"",
            "use http:// or https://",
        ],
    );
    assert_has(
        &errs,
        pos(text, "\"http://c:80/api"),
        &["cannot have a path (\"/api\")"],
    );
    assert_has(&errs, pos(text, "\"http://d"), &["cannot have a query"]);
    assert_has(
        &errs,
        pos(text, "\"127.0.0.1:9002"),
        &["missing scheme", "http://127.0.0.1:9002"],
    );
    assert_has(&errs, pos(text, "\"auto\""), &["needs an https:// origin"]);
    assert_has(
        &errs,
        pos(text, "0 }"),
        &["`site.origins.weight` must be between 1 and 1000, found 0"],
    );
    assert_has(
        &errs,
        pos(text, "\"h3\""),
        &["unknown origin protocol \"h3\""],
    );
    assert_has(
        &errs,
        pos(text, "\"http://127.0.0.1:9001/\""),
        &["listed twice", "line 4"],
    );
    assert_has(
        &errs,
        pos(text, "7]"),
        &["expected a URL string or a table"],
    );

    let text = "[[site]]\nname = \"a\"\nhosts = [\"a.test\"]\norigins = []\n";
    assert_single(&dir, text, (4, 11), &["at least one origin"]);
}

#[test]
fn bad_and_duplicate_hosts() {
    let dir = TempDir::new();
    let text = r#"[[site]]
name = "shop"
hosts = ["shop.test", "*.shop.test", "bad_host.test", "a.*.test", "-x.test", "shop.test:80", 5]
origins = ["http://127.0.0.1:9001"]

[[site]]
name = "shop2"
hosts = ["Shop.Test", "*.SHOP.test", "www.shop2.test", "www.shop2.test", "api.shop.test"]
origins = ["http://127.0.0.1:9001"]
"#;
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 8, "{errs:#?}");
    assert_has(
        &errs,
        pos(text, "\"bad_host"),
        &["invalid host \"bad_host.test\"", "'_'"],
    );
    assert_has(&errs, pos(text, "\"a.*"), &["leading \"*.\""]);
    assert_has(
        &errs,
        pos(text, "\"-x"),
        &["must not start or end with '-'"],
    );
    assert_has(&errs, pos(text, "\"shop.test:80"), &["without the port"]);
    assert_has(
        &errs,
        pos(text, "5]"),
        &["expected a string for `site.hosts`, found integer"],
    );
    assert_has(
        &errs,
        pos(text, "\"Shop.Test"),
        &["host \"shop.test\" is already used by site \"shop\" (line 3)"],
    );
    assert_has(
        &errs,
        pos(text, "\"*.SHOP"),
        &["host \"*.shop.test\" is already used by site \"shop\" (line 3)"],
    );
    assert_has(
        &errs,
        pos_nth(text, "\"www.shop2.test\"", 1),
        &["host \"www.shop2.test\" is already used by site \"shop2\" (line 8)"],
    );

    let text = "[[site]]\nname = \"a\"\nhosts = []\norigins = [\"http://a:1\"]\n";
    assert_single(&dir, text, (3, 9), &["at least one host"]);
}

#[test]
fn duplicate_and_invalid_site_names() {
    let dir = TempDir::new();
    let text = "[[site]]\nname = \"shop\"\nhosts = [\"a.test\"]\norigins = [\"http://a:1\"]\n\
                [[site]]\nname = \"shop\"\nhosts = [\"b.test\"]\norigins = [\"http://a:1\"]\n\
                [[site]]\nname = \"Bad Name\"\nhosts = [\"c.test\"]\norigins = [\"http://a:1\"]\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos_nth(text, "\"shop\"", 1),
        &["site name \"shop\" is already used by the site at line 2"],
    );
    assert_has(
        &errs,
        pos(text, "\"Bad Name\""),
        &["invalid site name \"Bad Name\""],
    );

    let text = "[site]\nname = \"a\"\n";
    assert_single(&dir, text, (1, 1), &["write each site as [[site]]"]);
}

#[test]
fn tls_file_problems() {
    let dir = TempDir::new();
    dir.write_cert("ok", "a.test");
    dir.write("empty.pem", "");
    let text = format!(
        "{MIN_SITE}tls = {{ cert = \"missing/cert.pem\", key = \"certs/ok.key\" }}\n\
         [[site]]\nname = \"b\"\nhosts = [\"b.test\"]\norigins = [\"http://b:1\"]\n\
         tls = {{ cert = \"certs/ok.key\", key = \"certs/ok.pem\" }}\n\
         [[site]]\nname = \"c\"\nhosts = [\"c.test\"]\norigins = [\"http://c:1\"]\n\
         tls = {{ cert = \"empty.pem\", key = \"certs\" }}\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    let missing = dir.path().join("missing/cert.pem");
    assert_has(
        &errs,
        pos(&text, "\"missing/cert.pem\""),
        &[
            "`site.tls.cert`: cannot read",
            &missing.display().to_string(),
            "No such file or directory",
        ],
    );
    assert_has(
        &errs,
        pos(&text, "\"certs/ok.key\", key"),
        &["no certificate found in"],
    );
    assert_has(
        &errs,
        pos(&text, "\"certs/ok.pem\" }"),
        &["no private key found in"],
    );
    assert_has(
        &errs,
        pos(&text, "\"empty.pem\""),
        &["no certificate found"],
    );
    assert_has(
        &errs,
        pos(&text, "\"certs\" }"),
        &["`site.tls.key`: cannot read", "directory"],
    );
}

#[test]
fn page_template_problems() {
    let dir = TempDir::new();
    dir.write("bin.html", [0xff, 0xfe, 0x00]);
    let text = format!(
        "{MIN_SITE}pages = {{ not_found = \"nope.html\", bad_gateway = \"bin.html\", teapot = \"x\" }}\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"nope.html\""),
        &["`site.pages.not_found`: cannot read", "nope.html"],
    );
    assert_has(&errs, pos(&text, "\"bin.html\""), &["not valid UTF-8"]);
    assert_has(
        &errs,
        pos(&text, "teapot"),
        &["unknown key \"teapot\" in [site.pages]"],
    );

    // Wrong files must not hang or balloon the load.
    dir.write("huge.html", vec![b'x'; (1 << 20) + 1]);
    let text = format!(
        "{MIN_SITE}pages = {{ service_unavailable = \"huge.html\", gateway_timeout = \"/dev/zero\" }}\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"huge.html\""),
        &["larger than 1048576 bytes"],
    );
    assert_has(&errs, pos(&text, "\"/dev/zero\""), &["not a regular file"]);
}

#[test]
fn health_check_rules() {
    let dir = TempDir::new();
    let text = format!(
        "{MIN_SITE}health = {{ path = \"healthz\", interval = \"1s\", timeout = \"2s\", rise = 0, fall = -1, host = \"*.a.test\" }}\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    assert_has(&errs, pos(&text, "\"healthz\""), &["must start with '/'"]);
    assert_has(
        &errs,
        pos(&text, "\"2s\""),
        &["`site.health.timeout` (2s) must not be longer than `site.health.interval` (1s)"],
    );
    assert_has(
        &errs,
        pos(&text, "0,"),
        &["`site.health.rise` must be between 1 and 1000, found 0"],
    );
    assert_has(
        &errs,
        pos(&text, "-1"),
        &["`site.health.fall` must be between 1 and 1000"],
    );
    assert_has(&errs, pos(&text, "\"*.a.test\""), &["not a wildcard"]);

    // The default timeout (2s) against a short interval.
    let text = format!("{MIN_SITE}health = {{ interval = \"500ms\" }}\n");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"500ms\""),
        &["(2s, the default) must not be longer"],
    );
    let text = format!("{MIN_SITE}health = {{ interval = \"0s\" }}\n");
    assert_single(&dir, &text, pos(&text, "\"0s\""), &["greater than zero"]);
}

#[test]
fn misc_site_values() {
    let dir = TempDir::new();
    let text = format!(
        "{MIN_SITE}lb = \"random\"\nretries = 11\nhttps_redirect = \"yes\"\nhsts = {{ preload = true }}\ntimeouts = {{ idle = \"1x\" }}\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"random\""),
        &["unknown load-balancing policy \"random\""],
    );
    assert_has(
        &errs,
        pos(&text, "11"),
        &["`site.retries` must be between 0 and 10"],
    );
    assert_has(
        &errs,
        pos(&text, "\"yes\""),
        &["expected a boolean (true or false) for `site.https_redirect`, found string"],
    );
    assert_has(
        &errs,
        pos(&text, "true }"),
        &["preload = true` requires `include_subdomains = true`"],
    );
    assert_has(
        &errs,
        pos(&text, "\"1x\""),
        &["`site.timeouts.idle`: invalid duration"],
    );
}

#[test]
fn key_of_another_certificate_is_refused_at_the_key() {
    let dir = TempDir::new();
    dir.write_cert("one", "a.test");
    dir.write_cert("two", "a.test");
    let text = format!("{MIN_SITE}tls = {{ cert = \"certs/one.pem\", key = \"certs/two.key\" }}\n");
    assert_single(
        &dir,
        &text,
        pos(&text, "\"certs/two.key\""),
        &["`site.tls.key`", "does not belong to the certificate"],
    );
    let good = format!("{MIN_SITE}tls = {{ cert = \"certs/one.pem\", key = \"certs/one.key\" }}\n");
    assert!(dir.parse(&good).is_ok());
}

#[test]
fn security_level_and_under_attack_values() {
    let dir = TempDir::new();
    let text = format!("{MIN_SITE}security_level = \"extreme\"\nunder_attack = \"yes\"\n");
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "\"extreme\""),
        &["unknown security level \"extreme\"; expected \"off\", \"low\", \"medium\" or \"high\""],
    );
    assert_has(
        &errs,
        pos(&text, "\"yes\""),
        &["expected a boolean (true or false) for `site.under_attack`, found string"],
    );
    let text = format!("{MIN_SITE}security_level = 3\n");
    assert_single(
        &dir,
        &text,
        pos(&text, "3\n"),
        &["expected a string for `site.security_level`, found integer"],
    );
}
