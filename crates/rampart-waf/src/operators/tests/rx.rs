//! `@rx` and `@rxGlobal`.

use super::*;

#[test]
fn matches_anywhere_and_not() {
    assert!(matches("@rx select.+from", b"1 union select a from t"));
    assert!(!matches("@rx select.+from", b"selected"));
}

#[test]
fn captures_whole_match_and_groups() {
    let groups = captures("@rx (\\d+)-(\\d+)", b"id 12-34 x").expect("match");
    assert_eq!(groups, ["12-34", "12", "34"]);
}

#[test]
fn unmatched_optional_group_captures_empty() {
    let groups = captures("@rx a(x)?(b)", b"ab").expect("match");
    assert_eq!(groups, ["ab", "", "b"]);
}

#[test]
fn captures_stop_at_tx9() {
    let groups = captures("@rx (a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)", b"abcdefghijk").expect("match");
    assert_eq!(groups.len(), 10);
    assert_eq!(groups.get(9).map(String::as_str), Some("i"));
}

#[test]
fn no_match_leaves_captures_alone() {
    let mut kept = Captures {
        groups: vec![b"old".to_vec()],
    };
    assert!(!op("@rx (z)").evaluate(b"abc", &NoMacros, Some(&mut kept)));
    assert_eq!(kept.groups, [b"old".to_vec()]);
}

#[test]
fn dot_matches_newline() {
    // PCRE_DOTALL
    assert!(matches("@rx a.b", b"a\nb"));
}

#[test]
fn anchors_are_the_ends_of_the_value_not_lines() {
    // ModSecurity v2 (no PCRE_MULTILINE): an allow-list cannot be escaped
    // with a newline.
    assert!(matches("!@rx ^\\d+$", b"123\nevil"));
    assert!(!matches("@rx ^second$", b"first\nsecond\nthird"));
    // PCRE_DOLLAR_ENDONLY: `$` does not match before a final newline.
    assert!(!matches("@rx ^abc$", b"abc\n"));
    assert!(matches("@rx ^abc$", b"abc"));
    // Inline flags still work for rules that want lines.
    assert!(matches("@rx (?m)^second$", b"first\nsecond\nthird"));
}

#[test]
fn works_on_bytes_not_utf8() {
    assert!(matches("@rx \\xff\\xfe", b"x\xff\xfey"));
    assert!(matches("@rx ^.$", b"\xe9"), "`.` is one byte");
    assert!(!matches("@rx ^\\w$", "é".as_bytes()), "`\\w` is ASCII only");
}

#[test]
fn braced_hex_escape_is_a_byte() {
    // CRS 941310: 8-bit `<`/`>` (0xBC/0xBE), also inside classes.
    let spec = "@rx \\x{bc}[^\\x{be}>]*[\\x{be}>]";
    assert!(matches(spec, b"\xbcscript\xbe"));
    assert!(!matches(spec, b"\xbcscript"));
    // A code point above 0xFF (PCRE without UTF refuses it) is left to the
    // regex crate: its UTF-8 bytes outside a class, an error inside one.
    assert!(matches("@rx \\x{263a}", "☺".as_bytes()));
    assert!(compile("@rx [\\x{263a}]").is_err());
}

#[test]
fn escaped_backslash_before_x_is_literal() {
    assert!(matches("@rx a\\\\x{2}", b"a\\xx"));
    assert!(!matches("@rx a\\\\x{2}", b"a\x02"));
}

#[test]
fn non_ascii_literal_is_its_utf8_bytes() {
    assert!(
        matches("@rx caf[é]", b"caf\xc3"),
        "class holds the bytes C3 and A9"
    );
    assert!(matches("@rx café", "un café".as_bytes()));
}

#[test]
fn case_insensitive_flag_is_ascii() {
    assert!(matches("@rx (?i)SeLeCt", b"select"));
}

#[test]
fn empty_pattern_always_matches() {
    assert!(matches("@rx", b"anything"));
    assert!(matches("@rx ", b""));
}

#[test]
fn pcre_only_syntax_is_a_bad_argument() {
    let message = bad_argument("@rx (?<=a)b");
    assert!(
        message.contains("look-around") || message.contains("regex"),
        "{message}"
    );
    assert!(compile("@rx (a)\\1").is_err());
    assert!(compile("@rx [unclosed").is_err());
}

#[test]
fn macro_pattern_is_expanded_per_call() {
    let vars: &[(&str, &str)] = &[("tx.bad", "ev[i]l")];
    assert!(matches_with("@rx ^%{tx.bad}$", b"evil", vars));
    assert!(!matches_with("@rx ^%{tx.bad}$", b"good", vars));
    // An expanded pattern that does not compile cannot match.
    let broken: &[(&str, &str)] = &[("tx.bad", "(")];
    assert!(!matches_with("@rx %{tx.bad}", b"(", broken));
}

#[test]
fn rx_global_captures_the_last_match() {
    let groups = captures("@rxGlobal (\\d)", b"a1b2c3").expect("match");
    assert_eq!(groups, ["3", "3"]);
    assert!(!matches("@rxGlobal \\d", b"abc"));
}

#[test]
fn long_hostile_input_is_linear() {
    // Catastrophic for a backtracking engine; the regex crate is linear.
    let input = vec![b'a'; 100_000];
    assert!(!matches("@rx ^(a|aa)+c$", &input));
}
