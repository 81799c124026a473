//! The Unicode → US-ASCII "best fit" folding `urlDecodeUni` applies to
//! `%uHHHH`: the code page 20127 map the CRS reference deployments load
//! (`SecUnicodeMapFile unicode.mapping 20127`) and Coraza builds in. Accented
//! Latin letters fold to their base letter, typographic quotes, dashes and
//! spaces to their ASCII forms, full-width ASCII to ASCII. Code points with
//! no fit fall back to the escape's low byte (ModSecurity without a map).

/// U+00C0–U+00FF by offset; 0 where the character has no ASCII fit
/// (×, Þ, ß, ð, ÷, þ).
const LATIN1_LETTERS: &[u8; 64] =
    b"AAAAAAACEEEEIIIIDNOOOOO\0OUUUUY\0\0aaaaaaaceeeeiiii\0nooooo\0ouuuuy\0y";

/// U+0100–U+017F (Latin Extended-A), pairs of capital/small by offset; 0 for
/// the ligatures and letters with no base (Ĳ ĳ ĸ ŉ Ŋ ŋ ſ).
const LATIN_EXT_A: &[u8; 128] = b"AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi\0\0JjKk\0LlLlLlLlLlNnNnNn\0\0\0OoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZz\0";

/// Individual fits outside the two tables above.
const SINGLES: &[(u32, u8)] = &[
    (0xa0, b' '),
    (0xa1, b'!'),
    (0xa2, b'c'),
    (0xa4, b'$'),
    (0xa5, b'Y'),
    (0xa6, b'|'),
    (0xa9, b'C'),
    (0xaa, b'a'),
    (0xab, b'<'),
    (0xad, b'-'),
    (0xae, b'R'),
    (0xb2, b'2'),
    (0xb3, b'3'),
    (0xb7, b'.'),
    (0xb8, b','),
    (0xb9, b'1'),
    (0xba, b'o'),
    (0xbb, b'>'),
    (0x180, b'b'),
    (0x189, b'D'),
    (0x191, b'F'),
    (0x192, b'f'),
    (0x197, b'I'),
    (0x19a, b'l'),
    (0x19f, b'O'),
    (0x1a0, b'O'),
    (0x1a1, b'o'),
    (0x1ab, b't'),
    (0x1ae, b'T'),
    (0x1af, b'U'),
    (0x1b0, b'u'),
    (0x1b6, b'z'),
    (0x1de, b'A'),
    (0x1df, b'a'),
    (0x1e4, b'G'),
    (0x1e5, b'g'),
    (0x1e6, b'G'),
    (0x1e7, b'g'),
    (0x1e8, b'K'),
    (0x1e9, b'k'),
    (0x1ea, b'O'),
    (0x1eb, b'o'),
    (0x1ec, b'O'),
    (0x1ed, b'o'),
    (0x1f0, b'j'),
    (0x261, b'g'),
    (0x2b9, b'\''),
    (0x2ba, b'"'),
    (0x2bc, b'\''),
    (0x2c4, b'^'),
    (0x2c6, b'^'),
    (0x2c8, b'\''),
    (0x2cb, b'`'),
    (0x2cd, b'_'),
    (0x2dc, b'~'),
    (0x300, b'`'),
    (0x302, b'^'),
    (0x303, b'~'),
    (0x30e, b'"'),
    (0x331, b'_'),
    (0x332, b'_'),
    (0x2010, b'-'),
    (0x2011, b'-'),
    (0x2013, b'-'),
    (0x2014, b'-'),
    (0x2018, b'\''),
    (0x2019, b'\''),
    (0x201a, b','),
    (0x201c, b'"'),
    (0x201d, b'"'),
    (0x201e, b'"'),
    (0x2022, b'.'),
    (0x2026, b'.'),
    (0x2032, b'\''),
    (0x2035, b'`'),
    (0x2039, b'<'),
    (0x203a, b'>'),
    (0x2122, b'T'),
];

/// Pinyin vowels U+01CD–U+01DC: Ǎ ǎ Ǐ ǐ Ǒ ǒ Ǔ ǔ and four Ǖ-style Ü pairs.
const PINYIN: &[u8; 16] = b"AaIiOoUuUuUuUuUu";

pub(super) fn best_fit(code: u32) -> Option<u8> {
    let at = |table: &[u8], base: u32| {
        let offset = usize::try_from(code.checked_sub(base)?).ok()?;
        table.get(offset).copied().filter(|&b| b != 0)
    };
    match code {
        0xc0..=0xff => at(LATIN1_LETTERS, 0xc0),
        0x100..=0x17f => at(LATIN_EXT_A, 0x100),
        0x1cd..=0x1dc => at(PINYIN, 0x1cd),
        0x2000..=0x2006 => Some(b' '),
        // Full-width ASCII sits 0xFEE0 above ASCII.
        0xff01..=0xff5e => u8::try_from(code - 0xfee0).ok(),
        _ => SINGLES.iter().find(|&&(c, _)| c == code).map(|&(_, b)| b),
    }
}
