//! Loading: errors with FILE:LINE, includes, removals and updates, names.

use super::*;

#[test]
fn errors_name_file_and_line() {
    let e = load_err("SecRuleEngine On\n\nSecRule ARGS \"@rx a\" \"id:1,phase:2,bogus\"\n");
    assert!(e.starts_with("test.conf:3: "), "{e}");
    assert!(e.contains("bogus"), "{e}");
    let e = load_err("# c\nSecNoSuchThing On\n");
    assert!(e.starts_with("test.conf:2: "), "{e}");
    let e = load_err("SecRule ARGS \"@rx (\" \"id:1,phase:2\"\n");
    assert!(e.starts_with("test.conf:1: "), "{e}");
    let e = load_err("SecRule NOPE \"@rx a\" \"id:1\"\n");
    assert!(e.contains("unknown variable"), "{e}");
    let e = load_err("SecRule ARGS \"@rx a\" \"phase:2\"\n");
    assert!(e.contains("without an id"), "{e}");
    let e = load_err("SecAction \"id:5,pass\"\nSecAction \"id:5,pass\"\n");
    assert!(
        e.starts_with("test.conf:2: ") && e.contains("duplicate"),
        "{e}"
    );
    let e = load_err("SecRule ARGS \"@rx a\" \"id:1,chain\"\n");
    assert!(e.contains("chain"), "{e}");
}

#[test]
fn include_errors_name_the_included_file() {
    let dir = std::env::temp_dir().join(format!("rampart-waf-inc-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/a.conf"), "SecAction \"id:10,pass\"\n").unwrap();
    std::fs::write(dir.join("sub/b.conf"), "\n\nSecAction \"id:11,nonsense\"\n").unwrap();
    std::fs::write(dir.join("main.conf"), "Include sub/*.conf\n").unwrap();
    let mut b = RuleSetBuilder::new();
    let e = b.add_file(&dir.join("main.conf")).unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.file.ends_with("sub/b.conf"), "{e}");
    std::fs::write(dir.join("sub/b.conf"), "SecAction \"id:11,pass\"\n").unwrap();
    let mut b = RuleSetBuilder::new();
    b.add_file(&dir.join("main.conf")).unwrap();
    assert_eq!(b.build().unwrap().rule_count(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn static_removal_and_target_updates_apply_regardless_of_order() {
    let rs = build(
        "SecRuleRemoveById 3 7-8\n\
         SecRuleUpdateTargetById 2 \"!REQUEST_HEADERS:X-Ok|REQUEST_URI\"\n\
         SecRule REQUEST_HEADERS \"@rx bad\" \"id:2,phase:1,pass\"\n\
         SecAction \"id:3,phase:1,pass\"\n\
         SecAction \"id:8,phase:1,pass\"\n\
         SecAction \"id:9,phase:1,pass,tag:drop-me\"\n\
         SecRuleRemoveByTag drop-me",
    );
    assert_eq!(rs.rule_count(), 1);
    let r = run(&rs, &request("/", &[("X-Ok", "bad")]));
    assert!(ids(&r).is_empty());
    let r = run(&rs, &request("/bad", &[("X-Ok", "bad")]));
    assert_eq!(ids(&r), vec![2]);
}

#[test]
fn default_action_block_and_transformations() {
    let rs = build(
        "SecDefaultAction \"phase:1,log,deny,status:406,t:lowercase\"\n\
         SecRule REQUEST_HEADERS:A \"@streq abc\" \"id:1,phase:1,block\"\n\
         SecRule REQUEST_HEADERS:B \"@streq abc\" \"id:2,phase:1,t:none,pass\"",
    );
    let r = run(&rs, &request("/", &[("A", "ABC"), ("B", "ABC")]));
    let i = r.interrupted.expect("block uses the default deny");
    assert_eq!((i.rule_id, i.status), (1, 406));
    let r = run(&rs, &request("/", &[("B", "ABC")]));
    assert!(ids(&r).is_empty(), "t:none drops the inherited lowercase");
}

#[test]
fn variable_names_round_trip() {
    for name in [
        "ARGS",
        "MATCHED_VAR",
        "MULTIPART_STRICT_ERROR",
        "REQBODY_ERROR",
        "TX",
        "IP",
    ] {
        let var = vars::Var::from_name(&name.to_ascii_lowercase()).expect(name);
        assert_eq!(var.name(), name);
    }
    let alias = vars::Var::from_name("REQBODY_PROCESSOR_ERROR").expect("alias");
    assert_eq!(alias.name(), "REQBODY_ERROR");
}

#[test]
fn rule_sets_and_transactions_cross_threads() {
    fn shareable<T: Send + Sync>() {}
    fn sendable<T: Send>() {}
    shareable::<RuleSet>();
    sendable::<Transaction<'static>>();
}

#[test]
fn selectors_literal_prefix_and_regex() {
    let p = vars::Selector::parse(Some("/^header_name_/")).expect("prefix");
    assert!(matches!(p, vars::Selector::Prefix(_)));
    assert!(p.matches(b"HEADER_NAME_x"));
    assert!(!p.matches(b"x_header_name_"));
    assert!(!p.matches(b"head"));
    let r = vars::Selector::parse(Some("/^_ga(?:_\\w+)?$/")).expect("regex");
    assert!(matches!(r, vars::Selector::Regex(_)));
    assert!(r.matches(b"_GA_abc"));
    assert!(!r.matches(b"_gab"));
    assert!(vars::Selector::parse(Some("/(/")).is_err());
}

#[test]
fn update_action_by_id_replaces_and_appends() {
    let rs = build(
        "SecDefaultAction \"phase:1,log,deny,status:406\"\n\
         SecRule REQUEST_HEADERS:A \"@streq abc\" \"id:1,phase:1,pass,msg:'old',tag:a\"\n\
         SecRuleUpdateActionById 1 \"block,msg:'new %{MATCHED_VAR}',tag:b,t:lowercase,nolog,setvar:tx.hit=1\"",
    );
    let r = run(&rs, &request("/", &[("A", "ABC")]));
    let i = r
        .interrupted
        .expect("block now resolves to the default deny");
    assert_eq!((i.rule_id, i.status), (1, 406));
    let m = &r.tx.matched_rules()[0];
    assert_eq!(m.message, "new abc");
    assert_eq!(m.tags, vec!["a".to_owned(), "b".to_owned()]);
    assert!(!m.logged);
    assert_eq!(r.tx.tx_var("hit").as_deref(), Some("1"));
    let e = load_err("SecAction \"id:1,pass\"\nSecRuleUpdateActionById 1 \"phase:2\"\n");
    assert!(e.starts_with("test.conf:2: "), "{e}");
}
