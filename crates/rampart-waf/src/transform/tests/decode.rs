//! URL, HTML, JS, CSS and C-escape decoders.

use super::check;
use crate::transform::Transformation as T;

#[test]
fn url_decode() {
    let t = T::UrlDecode;
    check(t, b"", b"");
    check(t, b"plain", b"plain");
    check(t, b"a%20b+c", b"a b c");
    check(t, b"%3Cscript%3e", b"<script>");
    check(t, b"%00%ff", b"\x00\xff");
    // Invalid and truncated escapes stay.
    check(t, b"100%", b"100%");
    check(t, b"%4", b"%4");
    check(t, b"%zz%4g", b"%zz%4g");
    check(t, b"%%41", b"%A");
    // One pass only: %2541 is %41, not A.
    check(t, b"%2541", b"%41");
    // Not urlDecodeUni.
    check(t, b"%u0041", b"%u0041");
    check(t, b"\xff%41\xfe", b"\xffA\xfe");
}

#[test]
fn url_decode_uni() {
    let t = T::UrlDecodeUni;
    check(t, b"", b"");
    check(t, b"no escapes", b"no escapes");
    check(t, b"a+%41", b"a A");
    check(t, b"%u0041%U0042", b"AB");
    // Low byte when there is no best fit.
    check(t, b"%u4e3c", b"<");
    check(t, b"%u0100", b"A");
    check(t, b"%u0138", b"\x38");
    // Best fit (code page 20127): accents, typographic quotes, dashes.
    check(t, b"%u00e9%u00C0%u00f8%u0153", b"eAoo");
    check(t, b"%u2018OR%u2019 %u201c1%u201d%u2014", b"'OR' \"1\"-");
    check(t, b"%u00d7%u00df%u00a0", b"\xd7\xdf ");
    check(t, b"%u017e%u01d4%u2003%u2122", b"zu T");
    // Full-width ASCII folds: U+FF1C is < and U+FF41 is a.
    check(t, b"%uff1cscript%uFF1E", b"<script>");
    check(t, b"%uff41", b"a");
    // ff5f is past the full-width block, ff00 maps to NUL unchanged.
    check(t, b"%uff5f", b"\x5f");
    check(t, b"%uff00", b"\x00");
    // Invalid / truncated: %u kept, decoding continues after it.
    check(t, b"%u12", b"%u12");
    check(t, b"%u", b"%u");
    check(t, b"%uzz41", b"%uzz41");
    check(t, b"%u%41", b"%uA");
    check(t, b"%", b"%");
    check(t, b"%4", b"%4");
    check(t, b"%c0%af", b"\xc0\xaf");
}

#[test]
fn url_encode() {
    let t = T::UrlEncode;
    check(t, b"", b"");
    check(t, b"abcXYZ019*", b"abcXYZ019*");
    check(t, b"a b", b"a+b");
    check(t, b"<a href='x'>", b"%3ca+href%3d%27x%27%3e");
    check(t, b"\x00\xff-._~", b"%00%ff%2d%2e%5f%7e");
}

#[test]
fn utf8_to_unicode() {
    let t = T::Utf8ToUnicode;
    check(t, b"", b"");
    check(t, b"ascii only", b"ascii only");
    check(t, "é".as_bytes(), b"%u00e9");
    check(t, "a\u{ff1c}b".as_bytes(), b"a%uff1cb");
    check(t, "\u{4e2d}".as_bytes(), b"%u4e2d");
    check(t, "\u{1f600}".as_bytes(), b"%u1f600");
    check(t, "\u{80}".as_bytes(), b"%u0080");
    // Not UTF-8: kept byte for byte, valid neighbours still converted.
    check(t, b"\xff", b"\xff");
    check(t, b"\xc0\xaf", b"\xc0\xaf");
    check(t, b"\xe2\x82", b"\xe2\x82");
    check(t, b"\xed\xa0\x80", b"\xed\xa0\x80");
    check(t, b"\xffx\xc3\xa9", b"\xffx%u00e9");
}

#[test]
fn html_entity_decode_modsecurity_forms() {
    let t = T::HtmlEntityDecode;
    check(t, b"", b"");
    check(t, b"no entities", b"no entities");
    check(t, b"&lt;script&gt;", b"<script>");
    check(t, b"&quot;&amp;&LT;&Gt;", b"\"&<>");
    check(t, b"&nbsp;", b"\xa0");
    check(t, b"&NBSP", b"\xa0");
    // Semicolon optional.
    check(t, b"&lt&gt", b"<>");
    check(t, b"&#60;&#x3c;&#X3C;&#060", b"<<<<");
    check(t, b"&#x3cscript", b"<script");
    check(t, b"&#0;", b"\x00");
    check(t, b"&#255;", b"\xff");
    // One pass: &amp;lt; is &lt;.
    check(t, b"&amp;lt;", b"&lt;");
}

#[test]
fn html_entity_decode_invalid_kept() {
    let t = T::HtmlEntityDecode;
    check(t, b"&", b"&");
    check(t, b"a & b", b"a & b");
    check(t, b"&#", b"&#");
    check(t, b"&#x", b"&#x");
    check(t, b"&#;", b"&#;");
    check(t, b"&#xzz;", b"&#xzz;");
    check(t, b"&foo;", b"&foo;");
    check(t, b"&&lt;", b"&<");
    check(t, b"&\xff;", b"&\xff;");
    // HTML5-only names need their semicolon.
    check(t, b"&colon", b"&colon");
}

#[test]
fn html_entity_decode_html5_extensions() {
    let t = T::HtmlEntityDecode;
    check(
        t,
        b"javascript&colon;alert&lpar;1&rpar;",
        b"javascript:alert(1)",
    );
    check(t, b"java&Tab;script", b"java\tscript");
    check(t, b"&NewLine;&sol;&bsol;&apos;&grave;", b"\n/\\'`");
    // Case matters for HTML5 names.
    check(t, b"&COLON;", b"&COLON;");
    // Legacy names end at their longest prefix, as browsers do.
    check(t, b"&ltscript&gtx", b"<script>x");
    check(t, b"&ampfoo", b"&foo");
    // Code points past 0xFF are UTF-8, not truncated to a low byte.
    check(t, b"&#x13c;", "\u{13c}".as_bytes());
    check(t, b"&#20013;", "\u{4e2d}".as_bytes());
    check(t, b"&#xd800;", "\u{fffd}".as_bytes());
    check(t, b"&#99999999999999999999;", "\u{fffd}".as_bytes());
    check(t, b"&#x110000", "\u{fffd}".as_bytes());
}

#[test]
fn js_decode() {
    let t = T::JsDecode;
    check(t, b"", b"");
    check(t, b"no escapes", b"no escapes");
    check(t, br"\x3cscript\x3E", b"<script>");
    check(t, br"\u003c\u0041", b"<A");
    check(t, br"\u4e3c", b"<");
    check(t, br"\uff1cscript\uFF1E", b"<script>");
    check(t, br"\a\b\f\n\r\t\v", b"\x07\x08\x0c\n\r\t\x0b");
    check(t, br#"\\\"\'\?\z"#, br#"\"'?z"#);
    // Octal: up to three digits, but only two when the first is 4-7.
    check(t, br"\101\60\0", b"A0\x00");
    check(t, br"\377", b"\xff");
    check(t, br"\477", b"\x277");
    check(t, br"\1018", b"A8");
    // Truncated or invalid: the escape letter survives without backslash.
    check(t, br"\u12", b"u12");
    check(t, br"\x4", b"x4");
    check(t, br"\xzz", b"xzz");
    check(t, br"\U0041", b"U0041");
    // A trailing backslash is kept.
    check(t, br"abc\", br"abc\");
    check(t, b"\\\xff", b"\xff");
}

#[test]
fn css_decode() {
    let t = T::CssDecode;
    check(t, b"", b"");
    check(t, b"no escapes", b"no escapes");
    check(t, br"\3c script\3e", b"<script>");
    check(t, br"\00003c", b"<");
    check(t, br"\3C\3c", b"<<");
    // A single whitespace after the digits belongs to the escape.
    check(t, b"\\41  b", b"A b");
    check(t, b"\\41\tb", b"Ab");
    // Past six digits the rest is text.
    check(t, br"\0000411", b"A1");
    // Whole code points, UTF-8 encoded.
    check(t, br"\e9", "\u{e9}".as_bytes());
    check(t, br"\4e2d", "\u{4e2d}".as_bytes());
    check(t, br"\ff1c", b"<");
    check(t, br"\0", "\u{fffd}".as_bytes());
    check(t, br"\d800", "\u{fffd}".as_bytes());
    check(t, br"\ffffff", "\u{fffd}".as_bytes());
    // Non-hex: the backslash goes, the character stays.
    check(t, br"java\script", b"javascript");
    check(t, br"\g\\", b"g\\");
    // Line continuations vanish.
    check(t, b"a\\\nb\\\r\nc\\\x0cd\\\re", b"abcde");
    // Trailing backslash dropped.
    check(t, br"abc\", b"abc");
    check(t, b"\\\xff", b"\xff");
}

#[test]
fn escape_seq_decode() {
    let t = T::EscapeSeqDecode;
    check(t, b"", b"");
    check(t, b"plain", b"plain");
    check(t, br"\a\b\f\n\r\t\v", b"\x07\x08\x0c\n\r\t\x0b");
    check(t, br#"\\\?\'\""#, br#"\?'""#);
    check(t, br"\x41\X42", b"AB");
    check(t, br"\101\1\18", b"A\x01\x018");
    // Three octal digits are always taken; the value is truncated to a byte.
    check(t, br"\777", b"\xff");
    check(t, br"\400", b"\x00");
    // Unknown or incomplete: the character without its backslash.
    check(t, br"\x4", b"x4");
    check(t, br"\xg1", b"xg1");
    check(t, br"\q\u0041", b"qu0041");
    check(t, br"end\", br"end\");
    check(t, b"\\\x00", b"\x00");
}

#[test]
fn best_fit_only_yields_printable_ascii() {
    for code in 0..=0xffff_u32 {
        if let Some(b) = crate::transform::bestfit::best_fit(code) {
            assert!(b == b' ' || b.is_ascii_graphic(), "U+{code:04X} -> {b:#x}");
        }
    }
    assert_eq!(crate::transform::bestfit::best_fit(0x41), None);
}
