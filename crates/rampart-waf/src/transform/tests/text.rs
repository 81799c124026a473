//! Case, whitespace, NULs, comments, `cmdLine`, trims, parity.

use super::check;
use crate::transform::Transformation as T;

#[test]
fn case() {
    check(T::Lowercase, b"", b"");
    check(T::Lowercase, b"already lower 123", b"already lower 123");
    check(T::Lowercase, b"SeLeCt", b"select");
    // Non-ASCII bytes (Latin-1 or UTF-8) are left alone.
    check(T::Lowercase, "ÉA\u{c9}".as_bytes(), "Éa\u{c9}".as_bytes());
    check(T::Lowercase, b"\xc9\xffA", b"\xc9\xffa");
    check(T::Uppercase, b"SeLeCt\xe9", b"SELECT\xe9");
    check(T::Uppercase, b"ABC", b"ABC");
}

#[test]
fn compress_whitespace() {
    let t = T::CompressWhitespace;
    check(t, b"", b"");
    check(t, b"a b c", b"a b c");
    check(t, b"a  b", b"a b");
    check(t, b"a\tb", b"a b");
    check(t, b" \t\r\n\x0b\x0c x ", b" x ");
    check(t, b"a\xa0\xa0b\x85c", b"a b c");
    check(t, b"trailing   ", b"trailing ");
}

#[test]
fn remove_whitespace() {
    let t = T::RemoveWhitespace;
    check(t, b"", b"");
    check(t, b"nospace", b"nospace");
    check(t, b" s e\tl\r\ne\x0bc\x0ct ", b"select");
    // NBSP as a Latin-1 byte (ModSecurity) and as UTF-8 (Coraza).
    check(t, b"a\xa0b\xc2\xa0c", b"abc");
    check(t, "a\u{2003}b\u{3000}c\u{85}d".as_bytes(), b"abcd");
    // Other non-ASCII text stays.
    check(t, "é x".as_bytes(), "éx".as_bytes());
    check(t, b"\xe2\x80", b"\xe2\x80");
}

#[test]
fn nulls() {
    check(T::RemoveNulls, b"", b"");
    check(T::RemoveNulls, b"abc", b"abc");
    check(T::RemoveNulls, b"\x00a\x00\x00b\x00", b"ab");
    check(T::ReplaceNulls, b"abc", b"abc");
    check(T::ReplaceNulls, b"\x00a\x00b", b" a b");
}

#[test]
fn trims() {
    check(T::Trim, b"", b"");
    check(T::Trim, b"   ", b"");
    check(T::Trim, b"x", b"x");
    check(T::Trim, b" \t\r\n\x0b\x0cx y\n ", b"x y");
    check(T::TrimLeft, b"  x  ", b"x  ");
    check(T::TrimRight, b"  x  ", b"  x");
    // NBSP is not C whitespace.
    check(T::Trim, b"\xa0x\xa0", b"\xa0x\xa0");
}

#[test]
fn cmd_line() {
    let t = T::CmdLine;
    check(t, b"", b"");
    check(t, b"ls -la", b"ls -la");
    check(t, br#"c^a"t'\ /ETC/PASSWD"#, b"cat/etc/passwd");
    check(t, b"echo  ;  id,whoami", b"echo id whoami");
    check(t, b"cmd\t\r\n/c   (dir)", b"cmd/c(dir)");
    check(t, b"a ^ /b", b"a/b");
    check(t, b"a ( b", b"a( b");
    check(t, b"X\xff", b"x\xff");
    check(t, b"trailing  ", b"trailing ");
    // A lone space before an ordinary character is already canonical.
    check(t, b"a b", b"a b");
}

#[test]
fn remove_comments() {
    let t = T::RemoveComments;
    check(t, b"", b"");
    check(t, b"hello world", b"hello world");
    check(t, b"hello /* comment */ world", b"hello  world");
    check(t, b"hello <!-- comment --> world", b"hello  world");
    check(t, b"hello /* unclosed", b"hello  ");
    check(t, b"hello <!-- unclosed", b"hello  ");
    check(t, b"hello -- rest", b"hello ");
    check(t, b"hello # rest", b"hello ");
    check(t, b"/* comment */", b"");
    check(t, b"a/*x*/bc", b"abc");
    // ModSecurity copies the byte after a closer without inspecting it.
    check(t, b"/**//*x*/", b"/*x*/");
    check(t, b"/*", b" ");
    check(t, b"a-b", b"a-b");
}

#[test]
fn remove_comments_char() {
    let t = T::RemoveCommentsChar;
    check(t, b"", b"");
    check(t, b"a-b*c/d", b"a-b*c/d");
    check(t, b"UNION/**/SELECT", b"UNIONSELECT");
    check(t, b"<!--x-->", b"x");
    check(t, b"1--2#3", b"123");
    check(t, b"---", b"-");
}

#[test]
fn replace_comments() {
    let t = T::ReplaceComments;
    check(t, b"", b"");
    check(t, b"a*/b", b"a*/b");
    check(t, b"UNION/**/SELECT", b"UNION SELECT");
    check(t, b"a/*x*/b/*y*/c", b"a b c");
    check(t, b"a/*unclosed", b"a ");
    check(t, b"/*/", b" ");
    check(t, b"<!-- html -->", b"<!-- html -->");
}

#[test]
fn parity() {
    // 'A' = 0x41 has two set bits (even), 'C' = 0x43 three (odd).
    check(T::ParityEven7bit, b"", b"");
    check(T::ParityEven7bit, b"AC", b"A\xc3");
    check(T::ParityOdd7bit, b"AC", b"\xc1C");
    check(T::ParityZero7bit, b"\xc1C", b"AC");
    check(T::ParityZero7bit, b"AC", b"AC");
    // Bit 7 of the input is replaced, not counted.
    check(T::ParityEven7bit, b"\xc1\x43", b"\x41\xc3");
    check(T::ParityOdd7bit, b"\x41\xc3", b"\xc1\x43");
}

#[test]
fn reverse() {
    let t = T::Reverse;
    check(t, b"", b"");
    check(t, b"a", b"a");
    check(t, b"abba", b"abba");
    check(t, b"tceles", b"select");
    check(t, "d\u{e9}j\u{e0}".as_bytes(), "\u{e0}j\u{e9}d".as_bytes());
    check(t, b"a\xff\xfeb", b"b\xfe\xffa");
}
