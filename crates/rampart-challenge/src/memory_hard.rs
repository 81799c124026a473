//! scrypt (RFC 7914) for the memory-hard proof of work.
//!
//! A SHA-256 proof of work is cheap on GPUs and ASICs relative to a
//! browser; scrypt makes each try cost memory (128 · r · N bytes), which
//! narrows that gap. The browser computes the same function over the same
//! string with the same salt, so the fixed salt below is part of the
//! protocol.

/// The salt of every PoW scrypt hash (UTF-8, no terminator).
pub const POW_SALT: &[u8] = b"rampart-pow";

/// scrypt parameters the underlying implementation refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid scrypt parameters (n_log2 {n_log2}, r {r}, p {p}, output {len} bytes)")]
pub struct ScryptError {
    /// log2 of N.
    pub n_log2: u8,
    /// Block size.
    pub r: u32,
    /// Parallelism.
    pub p: u32,
    /// Requested output length.
    pub len: usize,
}

/// scrypt(`password`, `salt`, N = 2^`n_log2`, `r`, `p`) filling `out`
/// (dkLen = `out.len()`). The general form, used by the test vectors;
/// [`scrypt_hash`] is the PoW's fixed-salt, 32-byte instance.
pub fn scrypt_into(
    password: &[u8],
    salt: &[u8],
    n_log2: u8,
    r: u32,
    p: u32,
    out: &mut [u8],
) -> Result<(), ScryptError> {
    let err = ScryptError {
        n_log2,
        r,
        p,
        len: out.len(),
    };
    // RFC 7914 requires N > 1; the crate would accept N = 1.
    if n_log2 == 0 {
        return Err(err);
    }
    // `Params::new` also checks the output length; 10..=64 bytes covers
    // both the PoW (32) and the RFC vectors (64).
    let params = scrypt::Params::new(n_log2, r, p, out.len().clamp(10, 64)).map_err(|_| err)?;
    scrypt::scrypt(password, salt, &params, out).map_err(|_| err)
}

/// The PoW hash: scrypt(`input`, "rampart-pow", 2^`n_log2`, `r`, `p`,
/// dkLen = 32).
pub fn scrypt_hash(input: &[u8], n_log2: u8, r: u8, p: u8) -> Result<[u8; 32], ScryptError> {
    let mut out = [0u8; 32];
    scrypt_into(
        input,
        POW_SALT,
        n_log2,
        u32::from(r),
        u32::from(p),
        &mut out,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn rfc(password: &[u8], salt: &[u8], n_log2: u8, r: u32, p: u32) -> String {
        let mut out = [0u8; 64];
        scrypt_into(password, salt, n_log2, r, p, &mut out).unwrap();
        hex(&out)
    }

    // RFC 7914 §12 test vectors, through the same call scrypt_hash makes.
    #[test]
    fn rfc7914_vector_1() {
        assert_eq!(
            rfc(b"", b"", 4, 1, 1),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442\
             fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
        );
    }

    #[test]
    fn rfc7914_vector_2() {
        assert_eq!(
            rfc(b"password", b"NaCl", 10, 8, 16),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162\
             2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
        );
    }

    #[test]
    fn rfc7914_vector_3() {
        assert_eq!(
            rfc(b"pleaseletmein", b"SodiumChloride", 14, 8, 1),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2\
             d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
        );
    }

    /// The PoW instance the browser side is tested against (salt
    /// "rampart-pow", dkLen 32). Cross-checked with OpenSSL's scrypt through
    /// Python's `hashlib.scrypt`.
    #[test]
    fn rampart_pow_vector() {
        let input = b"p1.AQAAAAEAAAAAaSlqMAAAAABpKWtcAQQMCAEAAQIDBAUGBwgJCgsMDQ4P:42";
        assert_eq!(
            hex(&scrypt_hash(input, 10, 8, 1).unwrap()),
            RAMPART_POW_VECTOR_HEX
        );
    }

    const RAMPART_POW_VECTOR_HEX: &str =
        "c589338d8078d8f2a7e001d9d2ea2b99b93c48d9a84aeed414a19faa0dc9fc63";

    #[test]
    fn refuses_bad_parameters() {
        assert!(scrypt_hash(b"x", 0, 8, 1).is_err());
        assert!(scrypt_hash(b"x", 4, 0, 1).is_err());
        assert!(scrypt_hash(b"x", 4, 1, 0).is_err());
        // N must be below 2^(16 r).
        assert!(scrypt_hash(b"x", 16, 1, 1).is_err());
    }
}
