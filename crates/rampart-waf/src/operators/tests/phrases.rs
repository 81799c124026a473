//! `@pm`, `@pmFromFile`/`@pmf`, `@strmatch`.

use super::*;

#[test]
fn pm_matches_any_phrase_case_insensitively() {
    assert!(matches("@pm gzip deflate br", b"Accept: DEFLATE"));
    assert!(!matches("@pm gzip deflate br", b"identity"));
    assert!(matches("!@pm AppleWebKit Android", b"curl/8.0"));
}

#[test]
fn pm_captures_the_phrase_as_found() {
    let groups =
        captures("@pm document.cookie window.location", b"x=Document.Cookie;").expect("match");
    assert_eq!(groups, ["Document.Cookie"]);
}

#[test]
fn pm_prefers_the_longest_phrase_at_the_first_position() {
    let groups = captures("@pm doc document", b"a document").expect("match");
    assert_eq!(groups, ["document"]);
}

#[test]
fn pm_phrases_are_single_characters_too() {
    // CRS 921: `@pm ( )`
    assert!(matches("@pm ( )", b"a(b"));
    assert!(!matches("@pm ( )", b"ab"));
}

#[test]
fn pm_hex_notation() {
    assert!(matches("@pm |41 42|c", b"xABCx"));
    assert!(matches("@pm a|00|b", b"a\x00b"));
    // Unterminated hex: taken literally.
    assert!(matches("@pm a|41", b"a|41"));
}

#[test]
fn pm_without_phrases_is_rejected() {
    assert!(bad_argument("@pm").contains("no phrases"));
    assert!(bad_argument("@pm    ").contains("no phrases"));
}

#[test]
fn pm_from_file_reads_relative_to_base_dir() {
    let dir = scratch_dir("pmf");
    std::fs::write(
        dir.join("words.data"),
        "# a comment\n\n/etc/passwd\r\n.htaccess\n   \n",
    )
    .expect("write");
    std::fs::write(dir.join("more.data"), "boot.ini\n").expect("write");
    let op = compile_in("@pmFromFile words.data more.data", &dir).expect("compile");
    assert!(op.evaluate(b"GET /../../ETC/PASSWD", &NoMacros, None));
    assert!(op.evaluate(b"/.htaccess", &NoMacros, None));
    assert!(op.evaluate(b"c:\\boot.ini", &NoMacros, None));
    assert!(
        !op.evaluate(b"# a comment", &NoMacros, None),
        "comments are not phrases"
    );
    let pmf = compile_in("@pmf words.data", &dir).expect("compile");
    assert!(pmf.evaluate(b"/etc/passwd", &NoMacros, None));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pm_from_file_errors() {
    let dir = scratch_dir("pmf-errors");
    let missing = compile_in("@pmFromFile missing.data", &dir);
    assert!(
        matches!(missing, Err(OperatorError::BadArgument { ref message, .. }) if message.contains("missing.data"))
    );
    std::fs::write(dir.join("empty.data"), "# nothing\n").expect("write");
    assert!(compile_in("@pmFromFile empty.data", &dir).is_err());
    assert!(compile_in("@pmFromFile", &dir).is_err());
    assert!(compile_in("@pmFromFile https://example.com/x.data", &dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn strmatch_is_case_sensitive_substring() {
    assert!(matches("@strmatch WebZIP", b"Mozilla WebZIP/4.0"));
    assert!(!matches("@strmatch WebZIP", b"webzip"));
    assert_eq!(
        captures("@strmatch ZIP", b"WebZIP").expect("match"),
        ["ZIP"]
    );
}
