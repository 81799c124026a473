use super::*;

#[test]
fn continuation_lines_join_and_keep_the_first_line_number() {
    let text =
        "# comment\n\nSecRule ARGS \"@rx a\" \\\n    \"id:1,\\\n    phase:2\"\nSecMarker END\n";
    let d = parse_directives(text).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].line, 3);
    assert_eq!(d[0].name, "SecRule");
    assert_eq!(d[0].args, vec!["ARGS", "@rx a", "id:1,    phase:2"]);
    assert_eq!(d[1].line, 6);
    assert_eq!(d[1].args, vec!["END"]);
}

#[test]
fn quoted_arguments_unescape_only_quotes() {
    let d = parse_directives(r#"SecRule ARGS "@rx \"\d+\\" "id:1""#).unwrap();
    assert_eq!(d[0].args[1], r#"@rx "\d+\\"#);
}

#[test]
fn unterminated_quote_is_an_error_with_its_line() {
    let err = parse_directives("\nSecRule ARGS \"@rx a").unwrap_err();
    assert_eq!(err.line, 2);
}

#[test]
fn actions_split_outside_quotes() {
    let a = split_actions("id:1, msg:'a, b', t:none,nolog,setvar:'tx.x=%{tx.y}'").unwrap();
    let names: Vec<_> = a.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, vec!["id", "msg", "t", "nolog", "setvar"]);
    assert_eq!(a[1].value.as_deref(), Some("a, b"));
    assert_eq!(a[3].value, None);
    assert_eq!(a[4].value.as_deref(), Some("tx.x=%{tx.y}"));
}

#[test]
fn malformed_action_is_refused() {
    assert!(split_actions("id:1,msg:'oops").is_err());
    assert!(split_actions("id:1,bad name").is_err());
}

#[test]
fn targets_split_but_not_inside_regex_selectors() {
    let t = split_targets("ARGS|XML:/*|XML://@*|!ARGS:/^(a|b)$/|REQUEST_HEADERS:User-Agent|&TX:x");
    assert_eq!(
        t,
        vec![
            "ARGS",
            "XML:/*",
            "XML://@*",
            "!ARGS:/^(a|b)$/",
            "REQUEST_HEADERS:User-Agent",
            "&TX:x"
        ]
    );
}

proptest::proptest! {
    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_directives(&text);
        let _ = split_actions(&text);
        let _ = split_targets(&text);
    }

    #[test]
    fn parsing_seclang_shaped_text_never_panics(
        parts in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("SecRule ".to_owned()),
                proptest::strategy::Just("\"".to_owned()),
                proptest::strategy::Just("'".to_owned()),
                proptest::strategy::Just("\\".to_owned()),
                proptest::strategy::Just("\n".to_owned()),
                proptest::strategy::Just("|".to_owned()),
                proptest::strategy::Just(":/".to_owned()),
                proptest::strategy::Just(",".to_owned()),
                "[a-z:=%{}.]{0,6}",
            ],
            0..40,
        )
    ) {
        let text = parts.concat();
        let _ = parse_directives(&text);
        let _ = split_actions(&text);
        let _ = split_targets(&text);
    }
}
