//! Every class of mistake yields a diagnostic at the right line:col, and all
//! mistakes in a file are reported together.

mod support;

use rampart_config::load_file;
use support::{MIN_SITE, TempDir, assert_has, assert_single, errors, pos};

#[test]
fn syntax_error_is_one_diagnostic_at_its_position() {
    let dir = TempDir::new();
    let text = "[node]\nid = edge\n[listen]\nhttp = 5\n";
    assert_single(&dir, text, (2, 6), &["TOML syntax error", "quoted"]);

    let text = "[node]\nid = \"a\"\nid = \"b\"\n";
    assert_single(&dir, text, (3, 1), &["duplicate key \"id\""]);

    let text = "[[site]]\nname = \"a\"\nhosts = [\"a.test\"\n";
    assert_single(&dir, text, (3, 18), &["TOML syntax error: unclosed array"]);
}

#[test]
fn unknown_keys_everywhere() {
    let dir = TempDir::new();
    let text = format!(
        "colour = 1\n[node]\nidd = \"x\"\n[listen]\nhttp = {{ addr = \"127.0.0.1:80\", proxy = true }}\n{MIN_SITE}hosst = []\nhealth = {{ intervall = \"1s\" }}\norigins2 = 1\n"
    );
    let errs = errors(&dir, &text);
    assert_eq!(errs.len(), 6, "{errs:#?}");
    assert_has(
        &errs,
        pos(&text, "colour"),
        &[
            "unknown key \"colour\" at the top level",
            "node, listen, log, proxy, store, shared, admin, analytics, notify, geoip, dos, dns, waf, lists, rules, verified_bots, site",
        ],
    );
    assert_has(
        &errs,
        pos(&text, "idd"),
        &["unknown key \"idd\" in [node]", "did you mean \"id\"?"],
    );
    assert_has(
        &errs,
        pos(&text, "proxy ="),
        &[
            "unknown key \"proxy\" in [listen.http]",
            "addr, proxy_protocol",
        ],
    );
    assert_has(
        &errs,
        pos(&text, "hosst"),
        &[
            "unknown key \"hosst\" in [site]",
            "did you mean \"hosts\"?",
            "expected one of: name, hosts, origins, lb,",
        ],
    );
    assert_has(
        &errs,
        pos(&text, "intervall"),
        &["in [site.health]", "did you mean \"interval\"?"],
    );
    assert_has(
        &errs,
        pos(&text, "origins2"),
        &["unknown key \"origins2\" in [site]"],
    );
}

#[test]
fn wrong_types_name_the_key_and_what_was_found() {
    let dir = TempDir::new();
    let text = "[listen]\nhttps = true\nadmin = 9090\n[node]\nworkers = \"4\"\nshutdown_grace = 30\n[proxy]\ntrusted_proxies = \"10.0.0.0/8\"\ntimeouts = 5\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 6, "{errs:#?}");
    assert_has(
        &errs,
        pos(text, "true"),
        &["for `listen.https`, found boolean"],
    );
    assert_has(
        &errs,
        pos(text, "9090"),
        &["expected a string for `listen.admin`, found integer"],
    );
    assert_has(
        &errs,
        pos(text, "\"4\""),
        &["expected an integer for `node.workers`, found string"],
    );
    assert_has(
        &errs,
        pos(text, "30"),
        &["expected a duration string such as \"5s\" for `node.shutdown_grace`, found integer"],
    );
    assert_has(
        &errs,
        pos(text, "\"10.0.0.0/8\""),
        &["expected an array for `proxy.trusted_proxies`, found string"],
    );
    assert_has(
        &errs,
        pos(text, "5\n"),
        &["expected a table for `proxy.timeouts`, found integer"],
    );

    let text = "[listen]\nhttp = 8080\n";
    assert_single(&dir, text, (2, 8), &["for `listen.http`, found integer"]);
    let text = "listen = 1\n";
    assert_single(
        &dir,
        text,
        (1, 10),
        &["expected a table for `listen`, found integer"],
    );
    let text = "[[site]]\nname = 1\nhosts = \"a.test\"\norigins = [\"http://a:1\"]\n";
    let errs = errors(&dir, text);
    assert_has(
        &errs,
        (2, 8),
        &["expected a string for `site.name`, found integer"],
    );
    assert_has(
        &errs,
        (3, 9),
        &["expected an array for `site.hosts`, found string"],
    );
}

#[test]
fn bad_socket_addresses_explain_the_fix() {
    let dir = TempDir::new();
    let text =
        "[listen]\nhttp = \"127.0.0.1\"\nhttps = \"localhost:443\"\nadmin = { addr = \"x\" }\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_eq!(
        errs[0],
        (
            2,
            8,
            "`listen.http`: invalid socket address \"127.0.0.1\": expected IP:PORT such as 127.0.0.1:8080; the port is missing".to_owned()
        )
    );
    assert_has(
        &errs,
        (3, 9),
        &[
            "`listen.https`: invalid socket address \"localhost:443\"",
            "not a name",
        ],
    );
    assert_has(
        &errs,
        (4, 9),
        &["expected a string for `listen.admin`, found table"],
    );

    let text = "[listen]\nhttp = { addr = \"1.2.3.4:99999\", proxy_protocol = \"yes\" }\n";
    let errs = errors(&dir, text);
    assert_has(&errs, pos(text, "\"1.2.3.4"), &["0 to 65535"]);
    assert_has(&errs, pos(text, "\"yes\""), &["expected a boolean"]);
}

#[test]
fn listeners_on_the_same_port_conflict() {
    let dir = TempDir::new();
    let text = "[listen]\nhttp = \"0.0.0.0:8080\"\nhttps = \"127.0.0.1:8080\"\n";
    assert_single(
        &dir,
        text,
        (3, 9),
        &["`listen.https` (127.0.0.1:8080) conflicts with `listen.http` (0.0.0.0:8080, line 2)"],
    );
    let text = "[listen]\nhttp = \"127.0.0.1:9090\"\n";
    assert_single(
        &dir,
        text,
        (1, 1),
        &["`listen.admin` (127.0.0.1:9090, the default) conflicts with `listen.http`"],
    );
    // Port 0 means "any free port" and never conflicts.
    assert!(
        dir.parse(
            "[listen]\nhttp = \"127.0.0.1:0\"\nhttps = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n"
        )
        .is_ok()
    );
}

#[test]
fn trusted_proxies_entries() {
    let dir = TempDir::new();
    let text = "[proxy]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/33\", \"proxy.local\", 1]\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        pos(text, "\"10.0.0.0/33"),
        &["invalid IP address or CIDR \"10.0.0.0/33\""],
    );
    assert_has(
        &errs,
        pos(text, "\"proxy.local"),
        &["invalid IP address or CIDR"],
    );
    assert_has(
        &errs,
        pos(text, "1]"),
        &["expected a string for `proxy.trusted_proxies[3]`, found integer"],
    );
}

#[test]
fn node_and_log_rules() {
    let dir = TempDir::new();
    let text = "[node]\nid = \"edge 1\"\nworkers = 0\nshutdown_grace = \"forever\"\ndata_dir = \"\"\n[log]\naccess = \"\"\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    assert_has(&errs, (2, 6), &["invalid `node.id` \"edge 1\""]);
    assert_has(
        &errs,
        (3, 11),
        &["`node.workers` must be between 1 and 1024, found 0"],
    );
    assert_has(
        &errs,
        (4, 18),
        &["`node.shutdown_grace`: invalid duration \"forever\""],
    );
    assert_has(&errs, (5, 12), &["`node.data_dir` must not be empty"]);
    assert_has(
        &errs,
        (7, 10),
        &["`log.access` must be \"off\", \"stdout\" or a file path"],
    );

    assert_single(&dir, "[node]\nid = \"\"\n", (2, 6), &["must not be empty"]);
    assert_single(
        &dir,
        "[node]\nworkers = 1025\n",
        (2, 11),
        &["between 1 and 1024"],
    );
    assert_single(
        &dir,
        "[node]\nworkers = 99999999999999999999999999\n",
        (2, 11),
        &["between 1 and 1024"],
    );
    assert_single(
        &dir,
        "[node]\nshutdown_grace = \"2h\"\n",
        (2, 18),
        &["at most 1h"],
    );
    assert_single(
        &dir,
        "[proxy]\nmax_header_bytes = 100\n",
        (2, 20),
        &["between 8192 and 1048576"],
    );
    assert_single(
        &dir,
        "[proxy]\ntimeouts = { connect = \"0s\" }\n",
        (2, 24),
        &["`proxy.timeouts.connect`", "greater than zero"],
    );
}

#[test]
fn every_problem_in_a_file_is_reported_in_order() {
    let dir = TempDir::new();
    let text = r#"[node]
id = "bad id"
workers = 0

[listen]
http = "127.0.0.1"
bogus = 1

[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["ftp://x"]

[[site]]
name = "shop"
hosts = ["shop.test"]
origins = ["http://127.0.0.1:1/x"]
tls = { cert = "nope.pem", key = "nope.key" }
"#;
    let err = dir.parse(text).unwrap_err();
    let got: Vec<(usize, usize)> = err.diagnostics.iter().map(|d| (d.line, d.col)).collect();
    assert_eq!(
        got,
        [
            (2, 6),
            (3, 11),
            (6, 8),
            (7, 1),
            (12, 12),
            (15, 8),
            (16, 10),
            (17, 12),
            (18, 16),
            (18, 34)
        ],
        "{err}"
    );
    assert!(err.diagnostics.iter().all(|d| d.file == dir.config_path()));
}

#[test]
fn unreadable_and_non_utf8_files() {
    let dir = TempDir::new();
    let missing = dir.path().join("nope.toml");
    let err = load_file(&missing).unwrap_err();
    assert_eq!(err.diagnostics.len(), 1);
    let d = &err.diagnostics[0];
    assert_eq!((d.line, d.col), (1, 1));
    assert!(
        d.message.contains("cannot read config file") && d.message.contains("No such file"),
        "{d}"
    );
    assert_eq!(d.file, missing);

    let path = dir.write("bad.toml", b"[node]\nid = \"\xff\"\n");
    let err = load_file(&path).unwrap_err();
    let d = &err.diagnostics[0];
    assert_eq!(
        (d.line, d.col, d.message.as_str()),
        (2, 7, "config file is not valid UTF-8")
    );
}

#[test]
fn store_and_admin_values() {
    let dir = TempDir::new();
    let text = "[store]\nurl = \"mysql://root:pw@db/rampart\"\nuri = 1\n[admin]\npublic_url = \"ftp://edge.test\"\n";
    let errs = errors(&dir, text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_has(
        &errs,
        pos(text, "\"mysql"),
        &[
            "`store.url` must start with sqlite:// or postgres://",
            "found \"mysql:\"",
        ],
    );
    // The rest of a database URL may be a password: it is not echoed.
    assert!(errs.iter().all(|(_, _, m)| !m.contains("pw@")), "{errs:#?}");
    assert_has(
        &errs,
        pos(text, "uri"),
        &["unknown key \"uri\" in [store]", "did you mean \"url\"?"],
    );
    assert_has(
        &errs,
        pos(text, "\"ftp"),
        &["`admin.public_url` must be an http:// or https:// URL"],
    );

    let text = "[store]\nurl = \"sqlite://\"\n";
    assert_single(
        &dir,
        text,
        (2, 7),
        &["`store.url` needs a database file after sqlite://"],
    );
    let text = "[store]\nurl = 5\n";
    assert_single(
        &dir,
        text,
        (2, 7),
        &["expected a string for `store.url`, found integer"],
    );
    let text = "[admin]\npublic_url = \"edge.test\"\n";
    assert_single(
        &dir,
        text,
        (2, 14),
        &["`admin.public_url` must be an http://"],
    );
    let text = "[admin]\npublic_url = \"https://edge.test/?a=1\"\n";
    assert_single(&dir, text, (2, 14), &["must not have a query"]);
    let text = "[analytics]\nretention = \"1m\"\n";
    assert_single(&dir, text, (2, 13), &["`analytics.retention`"]);
    let text = "[analytics]\nkeep = \"1d\"\n";
    assert_single(&dir, text, (2, 1), &["unknown key \"keep\" in [analytics]"]);
    let text = "[notify]\nsmtp = \"http://mail.test\"\n";
    assert_single(
        &dir,
        text,
        (2, 8),
        &["`notify.smtp` must be smtp://host:port"],
    );
    let text = "[notify]\nfrom = \"Abuse desk\"\n";
    assert_single(
        &dir,
        text,
        (2, 8),
        &["`notify.from` must be an email address"],
    );
    let text = "[notify]\nwebhook_secret = \"hunter2\"\n";
    assert_single(&dir, text, (2, 18), &["at least 16 characters"]);
    assert!(
        !errors(&dir, text)
            .iter()
            .any(|(_, _, m)| m.contains("hunter2"))
    );
    let text = "[notify]\nretry_base = \"2h\"\n";
    assert_single(&dir, text, (2, 14), &["`notify.retry_base`"]);
    let text = "[notify]\nsmpt = \"smtp://127.0.0.1:25\"\n";
    assert_single(&dir, text, (2, 1), &["unknown key \"smpt\" in [notify]"]);
    let text = "store = \"sqlite://x\"\n";
    assert_single(
        &dir,
        text,
        (1, 9),
        &["expected a table for `store`, found string"],
    );
}
