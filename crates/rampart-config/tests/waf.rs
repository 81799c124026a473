//! WAF settings in the file and in site specs: defaults, every key read,
//! each mistake at its position, `crs` checked on disk and refused from
//! the API.

mod support;

use rampart_config::*;
use serde_json::json;
use support::{MIN_SITE, TempDir, assert_single, base, errors, pos, spec};

fn site_with(waf: &str) -> String {
    format!("{MIN_SITE}waf = {waf}\n")
}

fn crs_dir(dir: &TempDir) {
    dir.write("crs/rules/REQUEST-901-INITIALIZATION.conf", "# rules\n");
    dir.write("crs/crs-setup.conf.example", "# setup\n");
}

#[test]
fn absent_is_off_with_crs_defaults() {
    let dir = TempDir::new();
    let config = dir.parse(MIN_SITE).unwrap();
    let w = &config.sites[0].security.waf;
    assert_eq!(*w, WafSettings::default());
    assert_eq!(w.mode, WafMode::Off);
    assert_eq!(
        (w.paranoia, w.inbound_threshold, w.outbound_threshold),
        (1, 5, 4)
    );
    assert_eq!(w.request_body_limit, 128 * 1024);
    assert_eq!(config.waf, WafNodeConfig::default());
}

#[test]
fn every_key_is_read_inline_and_as_a_table() {
    let dir = TempDir::new();
    crs_dir(&dir);
    let text = format!(
        "[waf]\ncrs = \"crs\"\n\n{MIN_SITE}\n[site.waf]\nmode = \"block\"\nparanoia = 2\ninbound_threshold = 10\noutbound_threshold = 8\nrequest_body_limit = \"1MiB\"\nbody_limit_action = \"inspect_partial\"\ninspect_responses = true\ncrs = \"crs\"\nexclusions = [{{ rule_ids = [942100, 942100, 941100], target = \"ARGS:password\", path = \"/login\" }}, {{ tags = [\"attack-sqli\"] }}]\n"
    );
    let config = dir.parse(&text).unwrap();
    let crs = dir.path().join("crs");
    assert_eq!(config.waf.crs.as_deref(), Some(crs.as_path()));
    let w = &config.sites[0].security.waf;
    assert_eq!(w.mode, WafMode::Block);
    assert_eq!(
        (w.paranoia, w.inbound_threshold, w.outbound_threshold),
        (2, 10, 8)
    );
    assert_eq!(w.request_body_limit, 1 << 20);
    assert_eq!(w.body_limit_action, BodyLimitAction::InspectPartial);
    assert!(w.inspect_responses);
    assert_eq!(w.crs.as_deref(), Some(crs.as_path()));
    assert_eq!(
        w.exclusions,
        vec![
            WafExclusion {
                rule_ids: vec![942100, 941100],
                tags: vec![],
                target: Some("ARGS:password".into()),
                path: Some("/login".into()),
            },
            WafExclusion {
                rule_ids: vec![],
                tags: vec!["attack-sqli".into()],
                target: None,
                path: None,
            },
        ]
    );
    assert_eq!(config.waf.crs_for(w), Some(crs.as_path()));

    let inline = dir
        .parse(&site_with(
            "{ mode = \"detect\", request_body_limit = 4096 }",
        ))
        .unwrap();
    let w = &inline.sites[0].security.waf;
    assert_eq!((w.mode, w.request_body_limit), (WafMode::Detect, 4096));
    assert_eq!(inline.waf.crs_for(w), None);

    // The file site's spec keeps every setting, `crs` included, and
    // compiles back only on the file's path.
    let spec = SiteSpec::from_config(&config.sites[0]);
    let back = compile_file_site_with_lists(&spec, &config.proxy.timeouts, &|_| false).unwrap();
    assert_eq!(back.security.waf, config.sites[0].security.waf);
    let refused = compile_site(&spec, &config.proxy.timeouts).unwrap_err();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        (refused[0].field.as_str(), refused[0].code),
        ("waf.crs", "forbidden")
    );
}

#[test]
fn mistakes_are_reported_at_their_position() {
    let dir = TempDir::new();
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "{ mode = \"on\" }",
            "\"on\"",
            &["site.waf.mode", "\"detect\""],
        ),
        ("{ paranoia = 5 }", "5", &["site.waf.paranoia", "1", "4"]),
        (
            "{ inbound_threshold = 0 }",
            "0",
            &["site.waf.inbound_threshold"],
        ),
        (
            "{ request_body_limit = \"off\" }",
            "\"off\"",
            &["cannot be \"off\""],
        ),
        ("{ request_body_limit = \"2GiB\" }", "\"2GiB\"", &["1GiB"]),
        ("{ request_body_limit = \"lots\" }", "\"lots\"", &["128KiB"]),
        (
            "{ body_limit_action = \"drop\" }",
            "\"drop\"",
            &["inspect_partial"],
        ),
        ("{ inspect_responses = \"yes\" }", "\"yes\"", &["boolean"]),
        ("{ modes = \"block\" }", "modes", &["mode"]),
        ("{ crs = \"nowhere\" }", "\"nowhere\"", &["not a directory"]),
        (
            "{ exclusions = [{ path = \"/x\" }] }",
            "{ path",
            &["needs `rule_ids` or `tags`"],
        ),
        (
            "{ exclusions = [{ rule_ids = [0] }] }",
            "0]",
            &["rule ids are 1 to"],
        ),
        (
            "{ exclusions = [{ rule_ids = [\"942100\"] }] }",
            "\"942100\"",
            &["rule id"],
        ),
        (
            "{ exclusions = [{ tags = [\"\"] }] }",
            "\"\"",
            &["a tag is"],
        ),
        (
            "{ exclusions = [{ tags = [\"a'b\"] }] }",
            "\"a'b\"",
            &["a tag is"],
        ),
        (
            "{ exclusions = [{ tags = [\"x\"], path = \"/a%20b\" }] }",
            "\"/a%20b\"",
            &["'%'"],
        ),
        (
            "{ exclusions = [{ tags = [\"x\"], target = 'ARGS:a\"b' }] }",
            "'ARGS",
            &["selectors"],
        ),
        (
            "{ exclusions = [{ tags = [\"x\"], target = \"args password\" }] }",
            "\"args password\"",
            &["ARGS:password"],
        ),
        (
            "{ exclusions = [{ tags = [\"x\"], path = \"login\" }] }",
            "\"login\"",
            &["starts with '/'"],
        ),
        (
            "{ exclusions = [{ tags = [\"x\"], rule = 1 }] }",
            "rule =",
            &["rule"],
        ),
    ];
    for (waf, at, fragments) in cases {
        let text = site_with(waf);
        let needle_in_waf = text.rfind("waf = ").unwrap();
        let offset = needle_in_waf + text[needle_in_waf..].find(at).unwrap();
        let line = text[..offset].matches('\n').count() + 1;
        let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
        assert_single(&dir, &text, (line, col), fragments);
    }
    // A directory without rules/ is not a CRS checkout.
    dir.write("empty/readme", "");
    let text = "[waf]\ncrs = \"empty\"\n";
    assert_single(&dir, text, pos(text, "\"empty\""), &["has no rules/"]);
    let text = "[waf]\ncrs = \"nowhere\"\nrules = 1\n";
    assert_eq!(errors(&dir, text).len(), 2);
}

#[test]
fn specs_take_the_same_checks_and_refuse_crs() {
    let timeouts = Timeouts::default();
    let mut ok = base();
    ok["waf"] = json!({"mode": "block", "paranoia": 3, "request_body_limit": "64KiB",
        "exclusions": [{"rule_ids": [920350], "path": "/health"}]});
    let site = compile_site(&spec(ok), &timeouts).unwrap();
    assert_eq!(site.security.waf.mode, WafMode::Block);
    assert_eq!(site.security.waf.request_body_limit, 64 << 10);
    assert_eq!(site.security.waf.exclusions[0].rule_ids, vec![920350]);

    let mut bad = base();
    bad["waf"] = json!({"mode": "loud", "paranoia": 0, "inbound_threshold": 20000,
        "request_body_limit": 0, "body_limit_action": "x", "crs": "/etc",
        "exclusions": [{"target": "ARGS"}, {"rule_ids": [1], "path": "x"}]});
    let errs = compile_site(&spec(bad), &timeouts).unwrap_err();
    let fields: Vec<(&str, &str)> = errs.iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(
        fields,
        vec![
            ("waf.mode", "invalid"),
            ("waf.paranoia", "out_of_range"),
            ("waf.request_body_limit", "invalid"),
            ("waf.body_limit_action", "invalid"),
            ("waf.crs", "forbidden"),
            ("waf.inbound_threshold", "out_of_range"),
            ("waf.exclusions[0].rule_ids", "required"),
            ("waf.exclusions[1].path", "invalid"),
        ]
    );
    let crs = errs.iter().find(|e| e.field == "waf.crs").unwrap();
    assert!(
        crs.message.contains("cannot be set through the API"),
        "{}",
        crs.message
    );

    let mut unknown = base();
    unknown["waf"] = json!({"paranoia_level": 2});
    assert!(serde_json::from_value::<SiteSpec>(unknown).is_err());
}
