//! Signed proof-of-work challenges (`p1.` strings).
//!
//! The challenge is stateless: everything the verifier needs is in the
//! payload, tagged with HMAC over the site and the client's address prefix
//! (which are not carried). The only state is the [`SpentSet`] that makes a
//! solved challenge single-use.

mod page;

pub use page::{ChallengeJson, ScryptJson};

use std::net::IpAddr;

use rand::Rng;
use sha2::{Digest, Sha256};

use crate::binding::PrefixPolicy;
use crate::codec::{self, Reader};
use crate::keys::{KeyRing, MacError, TAG_LEN};
use crate::memory_hard;
use crate::spent::SpentSet;

/// The text prefix of a challenge (format version 1).
pub const CHALLENGE_PREFIX: &str = "p1.";
const VERSION: u8 = 1;
const MAC_CONTEXT: &[u8] = b"rampart-pow-v1";
/// version 1 + key id 4 + issued 8 + expires 8 + algorithm 1 + difficulty 1
/// + n_log2 1 + r 1 + p 1 + nonce 16.
const PAYLOAD_LEN: usize = 42;
const RAW_LEN: usize = PAYLOAD_LEN + TAG_LEN;
/// Every challenge string has exactly this length (81 characters).
pub const CHALLENGE_LEN: usize = CHALLENGE_PREFIX.len() + codec::b64_encoded_len(RAW_LEN);
/// The longest solution text: `u64::MAX` in decimal.
const MAX_NONCE_LEN: usize = 20;

/// Highest SHA-256 difficulty accepted (leading zero bits). 2^32 hashes
/// is already hours in a browser; more is a configuration mistake.
pub const MAX_SHA256_DIFFICULTY: u8 = 32;
/// Highest scrypt difficulty accepted: each try costs milliseconds.
pub const MAX_SCRYPT_DIFFICULTY: u8 = 16;
/// Highest scrypt log2(N).
pub const MAX_N_LOG2: u8 = 16;
/// Highest scrypt block size r.
pub const MAX_R: u8 = 16;
/// Highest scrypt parallelism p.
pub const MAX_P: u8 = 4;
/// Highest scrypt memory per hash (128 · r · N bytes). The server computes
/// one hash per verification, so this bounds what one request can make the
/// edge allocate.
pub const MAX_SCRYPT_MEMORY: u64 = 64 << 20;
/// Longest challenge lifetime accepted (one day).
pub const MAX_TTL_SECS: u64 = 86_400;

/// The hash the client must grind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// SHA-256: `crypto.subtle.digest` in the browser; cheap to verify.
    Sha256,
    /// scrypt(N = 2^n_log2, r, p), salt "rampart-pow", 32 bytes.
    Scrypt {
        /// log2 of N.
        n_log2: u8,
        /// Block size.
        r: u8,
        /// Parallelism.
        p: u8,
    },
}

impl Algorithm {
    /// The name in the page JSON: `"sha256"` or `"scrypt"`.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Scrypt { .. } => "scrypt",
        }
    }

    /// The payload's algorithm byte and scrypt bytes (zero for SHA-256).
    fn wire(&self) -> [u8; 4] {
        match *self {
            Algorithm::Sha256 => [0, 0, 0, 0],
            Algorithm::Scrypt { n_log2, r, p } => [1, n_log2, r, p],
        }
    }

    fn from_wire(alg: u8, n_log2: u8, r: u8, p: u8) -> Option<Self> {
        match (alg, n_log2, r, p) {
            // SHA-256 carries zero scrypt bytes; anything else is a second
            // encoding of the same challenge.
            (0, 0, 0, 0) => Some(Algorithm::Sha256),
            (1, ..) => Some(Algorithm::Scrypt { n_log2, r, p }),
            _ => None,
        }
    }
}

/// What a site asks of its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowParams {
    /// The hash.
    pub algorithm: Algorithm,
    /// Leading zero bits required of the hash.
    pub difficulty: u8,
    /// Seconds from issue until the challenge expires.
    pub ttl_secs: u64,
}

impl PowParams {
    /// SHA-256 at 16 bits (about 65,000 tries: around a second of
    /// `crypto.subtle.digest` in a browser), valid for 5 minutes.
    pub const DEFAULT_SHA256: PowParams = PowParams {
        algorithm: Algorithm::Sha256,
        difficulty: 16,
        ttl_secs: 300,
    };

    /// scrypt N = 2^10, r = 8, p = 1 (1 MiB per try) at 5 bits (32 tries
    /// on average), valid for 5 minutes. See the crate docs for the numbers.
    pub const DEFAULT_SCRYPT: PowParams = PowParams {
        algorithm: Algorithm::Scrypt {
            n_log2: 10,
            r: 8,
            p: 1,
        },
        difficulty: 5,
        ttl_secs: 300,
    };

    /// Checks the parameters against the limits above. [`issue`] refuses
    /// what this refuses; call it when a configuration is loaded to report
    /// the mistake there.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.ttl_secs == 0 || self.ttl_secs > MAX_TTL_SECS {
            return Err(ParamsError::Ttl(self.ttl_secs));
        }
        validate_work(self.algorithm, self.difficulty)
    }
}

fn validate_work(algorithm: Algorithm, difficulty: u8) -> Result<(), ParamsError> {
    match algorithm {
        Algorithm::Sha256 if difficulty > MAX_SHA256_DIFFICULTY => {
            Err(ParamsError::Difficulty(difficulty, MAX_SHA256_DIFFICULTY))
        }
        Algorithm::Sha256 => Ok(()),
        Algorithm::Scrypt { n_log2, r, p } => {
            if difficulty > MAX_SCRYPT_DIFFICULTY {
                return Err(ParamsError::Difficulty(difficulty, MAX_SCRYPT_DIFFICULTY));
            }
            let in_range = (1..=MAX_N_LOG2).contains(&n_log2)
                && (1..=MAX_R).contains(&r)
                && (1..=MAX_P).contains(&p);
            // Only computed within range, where it cannot overflow.
            let ok = in_range
                // RFC 7914: N < 2^(128 r / 8).
                && u32::from(n_log2) < 16 * u32::from(r)
                && (128 * u64::from(r)) << n_log2 <= MAX_SCRYPT_MEMORY;
            if ok {
                Ok(())
            } else {
                Err(ParamsError::Scrypt { n_log2, r, p })
            }
        }
    }
}

/// Parameters outside the accepted limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    /// Difficulty above the algorithm's maximum.
    #[error("difficulty {0} is above the maximum of {1}")]
    Difficulty(u8, u8),
    /// scrypt parameters outside the limits.
    #[error(
        "scrypt n_log2 {n_log2}, r {r}, p {p} outside the limits (n_log2 1..=16, r 1..=16, p 1..=4, at most 64 MiB)"
    )]
    Scrypt {
        /// log2 of N.
        n_log2: u8,
        /// Block size.
        r: u8,
        /// Parallelism.
        p: u8,
    },
    /// Lifetime of zero or above a day.
    #[error("challenge lifetime {0} s is outside 1..=86400")]
    Ttl(u64),
}

/// Why a solution was refused. Each case is what the edge answers with a
/// fresh challenge page; the distinction is for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    /// Not a challenge string, or a nonce that is not a canonical decimal.
    #[error("malformed challenge or nonce")]
    Malformed,
    /// Signed with a key this node no longer (or never) held.
    #[error("challenge signed with an unknown key")]
    UnknownKey,
    /// Tag mismatch: forged, altered, or issued for another site or address.
    #[error("bad challenge signature")]
    BadSignature,
    /// Past its expiry.
    #[error("challenge expired")]
    Expired,
    /// The hash has fewer leading zero bits than required.
    #[error("insufficient work")]
    InsufficientWork,
    /// Already redeemed, or the spent set is full and fails closed.
    #[error("challenge already used")]
    Replayed,
}

impl From<MacError> for PowError {
    fn from(e: MacError) -> Self {
        match e {
            MacError::UnknownKey => PowError::UnknownKey,
            MacError::BadSignature => PowError::BadSignature,
        }
    }
}

/// A challenge's payload, as [`decode`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeInfo {
    /// Key that tagged it.
    pub key_id: u32,
    /// Issue time (unix seconds).
    pub issued: u64,
    /// Expiry (unix seconds); valid while `now < expires`.
    pub expires: u64,
    /// The hash to grind.
    pub algorithm: Algorithm,
    /// Leading zero bits required.
    pub difficulty: u8,
    /// The random nonce: the challenge's identity in the spent set.
    pub nonce: [u8; 16],
}

/// A verified solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Passed {
    /// The challenge that was solved.
    pub challenge: ChallengeInfo,
}

/// Issues a challenge for `site` and the prefix of `ip`, with a random
/// nonce.
pub fn issue(
    ring: &KeyRing,
    site: &str,
    ip: IpAddr,
    policy: &PrefixPolicy,
    params: &PowParams,
    now: u64,
) -> Result<String, ParamsError> {
    let nonce: [u8; 16] = rand::rng().random();
    issue_with_nonce(ring, site, ip, policy, params, now, nonce)
}

/// [`issue`] with a given nonce: for reproducible test vectors only. A
/// repeated nonce makes two challenges one entry in the spent set.
pub fn issue_with_nonce(
    ring: &KeyRing,
    site: &str,
    ip: IpAddr,
    policy: &PrefixPolicy,
    params: &PowParams,
    now: u64,
    nonce: [u8; 16],
) -> Result<String, ParamsError> {
    params.validate()?;
    let mut raw = [0u8; RAW_LEN];
    let [alg, n_log2, r, p] = params.algorithm.wire();
    let mut payload = Vec::with_capacity(PAYLOAD_LEN);
    payload.push(VERSION);
    payload.extend_from_slice(&ring.current_id().to_be_bytes());
    payload.extend_from_slice(&now.to_be_bytes());
    payload.extend_from_slice(&now.saturating_add(params.ttl_secs).to_be_bytes());
    payload.extend_from_slice(&[alg, params.difficulty, n_log2, r, p]);
    payload.extend_from_slice(&nonce);
    let prefix = policy.prefix(ip);
    let (_, tag) = ring.mac16_current(&mac_parts(site, &prefix, &payload));
    for (d, s) in raw.iter_mut().zip(payload.iter().chain(tag.iter())) {
        *d = *s;
    }
    Ok(format!("{CHALLENGE_PREFIX}{}", codec::b64_encode(&raw)))
}

fn mac_parts<'a>(
    site: &'a str,
    prefix: &'a crate::binding::IpPrefix,
    payload: &'a [u8],
) -> [&'a [u8]; 6] {
    [
        MAC_CONTEXT,
        site.as_bytes(),
        &[0],
        prefix.as_bytes(),
        prefix.len_byte(),
        payload,
    ]
}

/// Splits a challenge string into its payload fields and tag, checking the
/// format and the parameter limits but not the tag.
fn parse(challenge: &str) -> Result<(ChallengeInfo, [u8; PAYLOAD_LEN], [u8; TAG_LEN]), PowError> {
    let body = challenge
        .strip_prefix(CHALLENGE_PREFIX)
        .filter(|_| challenge.len() == CHALLENGE_LEN)
        .ok_or(PowError::Malformed)?;
    let mut raw = [0u8; RAW_LEN];
    if codec::b64_decode_into(body.as_bytes(), &mut raw) != Some(RAW_LEN) {
        return Err(PowError::Malformed);
    }
    let payload: [u8; PAYLOAD_LEN] = codec::first(&raw).ok_or(PowError::Malformed)?;
    let mut r = Reader::new(&raw);
    let info = (|| {
        if r.u8()? != VERSION {
            return None;
        }
        let key_id = r.u32()?;
        let issued = r.u64()?;
        let expires = r.u64()?;
        let [alg, difficulty, n_log2, sr, sp] = r.bytes::<5>()?;
        let algorithm = Algorithm::from_wire(alg, n_log2, sr, sp)?;
        validate_work(algorithm, difficulty).ok()?;
        let nonce = r.bytes::<16>()?;
        Some(ChallengeInfo {
            key_id,
            issued,
            expires,
            algorithm,
            difficulty,
            nonce,
        })
    })()
    .ok_or(PowError::Malformed)?;
    let tag = r.bytes::<TAG_LEN>().ok_or(PowError::Malformed)?;
    Ok((info, payload, tag))
}

/// Reads a challenge's parameters without checking its tag: for the page
/// that shows it to the browser (the edge issued it a moment ago).
pub fn decode(challenge: &str) -> Result<ChallengeInfo, PowError> {
    parse(challenge).map(|(info, _, _)| info)
}

/// Verifies a solution: the tag (for this `site` and the prefix of `ip`),
/// the expiry, then redeems the challenge in `spent`, then checks the work.
///
/// The challenge is redeemed *before* the hash is computed, so a solved
/// challenge replayed a thousand times costs one scrypt, not a thousand; a
/// wrong solution burns the challenge, and the client is given a new one.
#[allow(clippy::too_many_arguments)] // the protocol's inputs, each needed
pub fn verify(
    ring: &KeyRing,
    challenge: &str,
    nonce: &str,
    site: &str,
    ip: IpAddr,
    policy: &PrefixPolicy,
    now: u64,
    spent: &dyn SpentSet,
) -> Result<Passed, PowError> {
    let (info, payload, tag) = parse(challenge)?;
    // A NUL in the site would let "a" + 0 + prefix bytes read as a longer
    // site name over a shorter address: the separator must be unambiguous.
    if site.as_bytes().contains(&0) {
        return Err(PowError::BadSignature);
    }
    let prefix = policy.prefix(ip);
    ring.verify16(info.key_id, &mac_parts(site, &prefix, &payload), &tag)?;
    if now >= info.expires {
        return Err(PowError::Expired);
    }
    if nonce.len() > MAX_NONCE_LEN || codec::parse_decimal_u64(nonce.as_bytes()).is_none() {
        return Err(PowError::Malformed);
    }
    if !spent.spend(info.nonce, info.expires, now) {
        return Err(PowError::Replayed);
    }
    let hash = pow_hash(challenge, nonce.as_bytes(), info.algorithm).ok_or(PowError::Malformed)?;
    if leading_zero_bits(&hash) < u32::from(info.difficulty) {
        return Err(PowError::InsufficientWork);
    }
    Ok(Passed { challenge: info })
}

/// H(`challenge` ":" `nonce`) under `algorithm`, without allocating.
fn pow_hash(challenge: &str, nonce: &[u8], algorithm: Algorithm) -> Option<[u8; 32]> {
    match algorithm {
        Algorithm::Sha256 => Some(
            Sha256::new()
                .chain_update(challenge.as_bytes())
                .chain_update(b":")
                .chain_update(nonce)
                .finalize()
                .into(),
        ),
        Algorithm::Scrypt { n_log2, r, p } => {
            // scrypt takes the password as one slice: assemble it on the
            // stack (81 + 1 + 20 bytes at most).
            let mut buf = [0u8; CHALLENGE_LEN + 1 + MAX_NONCE_LEN];
            let parts = challenge.as_bytes().iter().chain(b":").chain(nonce);
            let mut len = 0;
            for (d, s) in buf.iter_mut().zip(parts) {
                *d = *s;
                len += 1;
            }
            if len != challenge.len() + 1 + nonce.len() {
                return None;
            }
            memory_hard::scrypt_hash(buf.get(..len)?, n_log2, r, p).ok()
        }
    }
}

/// Leading zero bits of `bytes`, most significant bit of byte 0 first.
pub fn leading_zero_bits(bytes: &[u8]) -> u32 {
    let mut bits = 0;
    for &b in bytes {
        if b == 0 {
            bits += 8;
        } else {
            return bits + b.leading_zeros();
        }
    }
    bits
}

/// Brute-forces a solution, trying nonces 0, 1, 2, … up to `max_tries`:
/// for tests and benchmarks (the browser does this in JS). The tag is not
/// checked.
pub fn solve(challenge: &str, max_tries: u64) -> Option<u64> {
    let info = decode(challenge).ok()?;
    let mut text = [0u8; MAX_NONCE_LEN];
    (0..max_tries).find(|&n| {
        let digits = fmt_decimal(n, &mut text);
        pow_hash(challenge, digits, info.algorithm)
            .is_some_and(|h| leading_zero_bits(&h) >= u32::from(info.difficulty))
    })
}

/// Writes `n` in decimal into the end of `buf`, returning the digits.
fn fmt_decimal(mut n: u64, buf: &mut [u8; MAX_NONCE_LEN]) -> &[u8] {
    let mut start = MAX_NONCE_LEN;
    for slot in buf.iter_mut().rev() {
        // u8::try_from cannot fail on a remainder below 10.
        *slot = b'0' + u8::try_from(n % 10).unwrap_or(0);
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.get(start..).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zeros() {
        assert_eq!(leading_zero_bits(&[]), 0);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0x01]), 7);
        assert_eq!(leading_zero_bits(&[0, 0, 0x10, 0]), 19);
        assert_eq!(leading_zero_bits(&[0; 32]), 256);
    }

    #[test]
    fn decimal_formatting() {
        let mut b = [0u8; MAX_NONCE_LEN];
        assert_eq!(fmt_decimal(0, &mut b), b"0");
        assert_eq!(fmt_decimal(907, &mut b), b"907");
        assert_eq!(fmt_decimal(u64::MAX, &mut b), b"18446744073709551615");
    }

    #[test]
    fn params_limits() {
        assert!(PowParams::DEFAULT_SHA256.validate().is_ok());
        assert!(PowParams::DEFAULT_SCRYPT.validate().is_ok());
        let mut p = PowParams::DEFAULT_SHA256;
        p.difficulty = 33;
        assert_eq!(p.validate(), Err(ParamsError::Difficulty(33, 32)));
        p.difficulty = 32;
        p.ttl_secs = 0;
        assert_eq!(p.validate(), Err(ParamsError::Ttl(0)));
        let scrypt = |n_log2, r, p| PowParams {
            algorithm: Algorithm::Scrypt { n_log2, r, p },
            difficulty: 1,
            ttl_secs: 60,
        };
        assert!(scrypt(16, 8, 4).validate().is_ok());
        assert!(scrypt(16, 16, 1).validate().is_err(), "128 MiB");
        assert!(scrypt(17, 1, 1).validate().is_err());
        assert!(scrypt(16, 1, 1).validate().is_err(), "N < 2^(16 r)");
        assert!(scrypt(0, 8, 1).validate().is_err());
        assert!(scrypt(10, 0, 1).validate().is_err());
        assert!(scrypt(10, 17, 1).validate().is_err());
        assert!(scrypt(10, 8, 5).validate().is_err());
        assert!(scrypt(10, 8, 0).validate().is_err());
    }
}
