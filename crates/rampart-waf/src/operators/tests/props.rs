//! Properties over arbitrary input: operators never panic, and agree with
//! simple reference definitions where one exists.

use proptest::prelude::*;

use super::*;

const SPECS: &[&str] = &[
    "@rx (?i)(a+|b)(c)?\\x{bc}",
    "@rxGlobal ([0-9]+)",
    "@pm foo bar |00 ff|",
    "@strmatch ab",
    "@streq abc",
    "@contains %{tx.x}",
    "@containsWord sel",
    "@beginsWith ab",
    "@endsWith %{tx.x}",
    "@within %{tx.x}",
    "@eq %{tx.x}",
    "@lt 5",
    "@validateByteRange 9,10,32-126",
    "@validateUrlEncoding",
    "@validateUtf8Encoding",
    "@ipMatch 10.0.0.0/8,::1",
    "@detectSQLi",
    "@detectXSS",
];

const VARS: &[(&str, &str)] = &[("tx.x", "b")];

proptest! {
    #[test]
    fn operators_never_panic(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        for spec in SPECS {
            let op = op(spec);
            let mut captures = Captures::default();
            let hit = op.evaluate(&input, &Vars(VARS), Some(&mut captures));
            prop_assert!(captures.groups.len() <= super::super::MAX_CAPTURES);
            prop_assert_eq!(hit, op.evaluate(&input, &Vars(VARS), None), "{}", spec);
        }
    }

    #[test]
    fn compile_never_panics(spec in "[!@ ]{0,2}[a-zA-Z]{0,20} ?[ -~]{0,40}") {
        let _ = compile(&spec);
    }

    #[test]
    fn regex_rewrite_never_panics(pattern in "[\\\\x{}0-9a-fA-F\\[\\]()é]{0,30}") {
        let _ = compile(&format!("@rx {pattern}"));
    }

    #[test]
    fn valid_utf8_is_never_flagged(text in any::<String>()) {
        prop_assert!(!matches("@validateUtf8Encoding", text.as_bytes()));
    }

    #[test]
    fn flagged_utf8_is_invalid(input in proptest::collection::vec(any::<u8>(), 0..40)) {
        if matches("@validateUtf8Encoding", &input) {
            prop_assert!(std::str::from_utf8(&input).is_err());
        }
    }

    #[test]
    fn contains_word_implies_contains(input in "[a-c 1]{0,20}") {
        if matches("@containsWord ab", input.as_bytes()) {
            prop_assert!(input.contains("ab"));
        }
    }

    #[test]
    fn pm_agrees_with_lowercase_search(input in "[a-dA-D]{0,20}") {
        let lower = input.to_ascii_lowercase();
        let expected = lower.contains("abc") || lower.contains("dd");
        prop_assert_eq!(matches("@pm aBc DD", input.as_bytes()), expected);
    }

    #[test]
    fn regex_hints_are_sound(
        pattern in "(?:\\(\\?i\\)|)[abc(|)*+?.^$]{1,10}",
        input in "[abcABC\n]{0,12}",
    ) {
        if let Ok(op) = compile(&format!("@rx {pattern}"))
            && let Some(required) = op.required_literals()
            && op.evaluate(input.as_bytes(), &NoMacros, None)
        {
            prop_assert!(required.may_match(input.as_bytes()), "{:?}", required);
        }
    }
}
