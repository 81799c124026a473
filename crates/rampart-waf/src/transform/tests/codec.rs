//! base64, hex, `sqlHexDecode`, digests, `length` and the path normalisers.

use std::borrow::Cow;

use super::check;
use crate::transform::Transformation as T;

#[test]
fn base64_decode() {
    let t = T::Base64Decode;
    check(t, b"", b"");
    check(t, b"dGVzdA==", b"test");
    check(t, b"dGVzdA", b"test");
    check(t, b"dGVz\r\ndA==", b"test");
    // Stops at the first byte outside the alphabet, keeping what it has.
    check(t, b"dGVzdA==garbage", b"test");
    check(t, b"dGVz dA==", b"tes");
    check(t, b"dGVzdA\xff", b"test");
    check(t, b"!!!", b"");
    // A lone trailing sextet carries no whole byte.
    check(t, b"dGVzx", b"tes");
    check(t, b"dGVzdAx", b"test\x0c");
    // URL-safe letters are not part of this alphabet.
    check(t, b"-_", b"");
}

#[test]
fn base64_decode_ext() {
    let t = T::Base64DecodeExt;
    check(t, b"", b"");
    check(t, b"dGVz dA==", b"test");
    check(t, b"d.G.V.z.d.A", b"test");
    check(t, b"dGVzdA==garbage", b"test\x08\x1a\xad\xb6\xa0");
    // Both alphabets.
    check(t, b"-_-_", b"\xfb\xff\xbf");
    check(t, b"+/+/", b"\xfb\xff\xbf");
}

#[test]
fn base64_encode() {
    check(T::Base64Encode, b"", b"");
    check(T::Base64Encode, b"test", b"dGVzdA==");
    check(T::Base64Encode, b"\xff\x00", b"/wA=");
}

#[test]
fn hex() {
    check(T::HexEncode, b"", b"");
    check(T::HexEncode, b"A\x00\xff", b"4100ff");
    check(T::HexDecode, b"", b"");
    check(T::HexDecode, b"4142", b"AB");
    check(T::HexDecode, b"4a4B", b"JK");
    // Odd last digit dropped; anything non-hex leaves the value alone.
    check(T::HexDecode, b"41424", b"AB");
    check(T::HexDecode, b"4", b"");
    check(T::HexDecode, b"41zz", b"41zz");
    check(T::HexDecode, b"0x41", b"0x41");
}

#[test]
fn sql_hex_decode() {
    let t = T::SqlHexDecode;
    check(t, b"", b"");
    check(t, b"select 1", b"select 1");
    check(t, b"select 0x414243", b"select ABC");
    check(t, b"0X41,0x4242", b"A,BB");
    // An odd trailing digit stays as text.
    check(t, b"0x4142a", b"ABa");
    // No pair: kept.
    check(t, b"0x", b"0x");
    check(t, b"0x4", b"0x4");
    check(t, b"0xzz", b"0xzz");
    check(t, b"00x41", b"0A");
}

#[test]
fn length() {
    check(T::Length, b"", b"0");
    check(T::Length, b"hello", b"5");
    check(T::Length, "é".as_bytes(), b"2");
    // A value that happens to equal its own length is "unchanged".
    assert!(matches!(T::Length.apply(b"1"), Cow::Borrowed(_)));
}

#[test]
fn digests_are_raw_bytes() {
    let md5 = T::Md5.apply(b"");
    assert_eq!(md5.len(), 16);
    assert_eq!(
        T::HexEncode.apply(&md5).as_ref(),
        b"d41d8cd98f00b204e9800998ecf8427e"
    );
    let sha1 = T::Sha1.apply(b"abc");
    assert_eq!(sha1.len(), 20);
    assert_eq!(
        T::HexEncode.apply(&sha1).as_ref(),
        b"a9993e364706816aba3e25717850c26c9cd0d89d"
    );
}

/// ModSecurity's regression vectors for normalisePath.
const PATH_VECTORS: &[(&str, &str)] = &[
    ("", ""),
    ("/foo/bar/baz", "/foo/bar/baz"),
    ("/foo/bar\\u0000/baz", "/foo/bar\\u0000/baz"),
    ("x", "x"),
    (".", ""),
    ("./", ""),
    ("./..", ".."),
    ("./../", "../"),
    ("..", ".."),
    ("../", "../"),
    ("../.", ".."),
    (".././", "../"),
    ("../..", "../.."),
    ("../../", "../../"),
    ("/dir/foo//bar", "/dir/foo/bar"),
    ("dir/foo//bar/", "dir/foo/bar/"),
    ("dir/../foo", "foo"),
    ("dir/../../foo", "../foo"),
    ("dir/./.././../../foo/bar", "../../foo/bar"),
    ("dir/./.././../../foo/bar/.", "../../foo/bar"),
    ("dir/./.././../../foo/bar/./", "../../foo/bar/"),
    ("dir/./.././../../foo/bar/..", "../../foo"),
    ("dir/./.././../../foo/bar/../", "../../foo/"),
    ("dir/./.././../../foo/bar/", "../../foo/bar/"),
    ("dir//.//..//.//..//..//foo//bar", "../../foo/bar"),
    ("dir//.//..//.//..//..//foo//bar//", "../../foo/bar/"),
    ("dir/subdir/subsubdir/subsubsubdir/../../..", "dir"),
    ("dir/./subdir/./subsubdir/./subsubsubdir/../../..", "dir"),
    ("dir/./subdir/../subsubdir/../subsubsubdir/..", "dir"),
    ("/dir/./subdir/../subsubdir/../subsubsubdir/../", "/dir/"),
    (
        "/./.././../../../../../../../\\u0000/../etc/./passwd",
        "/etc/passwd",
    ),
    ("//", "//"),
];

#[test]
fn normalize_path_vectors() {
    for &(input, want) in PATH_VECTORS {
        check(T::NormalizePath, input.as_bytes(), want.as_bytes());
        // Without backslashes the Windows variant agrees.
        if !input.contains('\\') {
            check(T::NormalizePathWin, input.as_bytes(), want.as_bytes());
        }
    }
}

#[test]
fn normalize_path_edges() {
    let t = T::NormalizePath;
    check(t, b"/", b"/");
    check(t, b"/..", b"/");
    check(t, b"/../../etc/passwd", b"/etc/passwd");
    check(t, b"/a/b/../../..", b"/");
    check(t, b"a/..", b"");
    check(t, b"a\\..\\b", b"a\\..\\b");
    check(t, b"/\xff/./\x00", b"/\xff/\x00");
    check(t, b"/index.php", b"/index.php");
    check(t, b"/a..b/.c/", b"/a..b/.c/");
}

#[test]
fn normalize_path_win() {
    let t = T::NormalizePathWin;
    check(t, b"\\foo\\bar\\baz", b"/foo/bar/baz");
    check(t, b"foo\\bar", b"foo/bar");
    check(t, b".\\..\\", b"../");
    check(t, b"dir\\.\\..\\.\\..\\..\\foo\\bar\\..\\", b"../../foo/");
    check(
        t,
        b"\\.\\..\\.\\..\\..\\..\\..\\..\\..\\..\\\\0\\..\\etc\\.\\passwd",
        b"/etc/passwd",
    );
    check(t, b"c:\\windows\\..\\boot.ini", b"c:/boot.ini");
}
