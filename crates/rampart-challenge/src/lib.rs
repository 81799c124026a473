//! The cryptographic core of Rampart's bot challenges and of its
//! Turnstile/hCaptcha-compatible captcha. No I/O and no clock: every call
//! takes `now` as unix seconds, and the edge owns the HTTP side.
//!
//! * [`keys`]: [`SigningKey`] and [`KeyRing`] (current key signs, previous
//!   key still verifies: rotation without invalidating what was issued).
//!   Every tag is the first 16 bytes of HMAC-SHA256, compared in constant
//!   time.
//! * [`binding`]: [`PrefixPolicy`] (address prefix bound into MACs, default
//!   /24 and /64) and [`ua_hash`].
//! * [`pow`]: signed proof-of-work challenges `p1.…` — [`pow::issue`],
//!   [`pow::verify`], [`pow::decode`], [`pow::solve`],
//!   [`pow::ChallengeJson`] for the page.
//! * [`memory_hard`]: [`scrypt_hash`] (salt `rampart-pow`).
//! * [`clearance`]: the `rampart_clearance` cookie —
//!   [`clearance::issue`], [`clearance::check`] (no allocation),
//!   [`clearance::check_header`].
//! * [`spent`]: [`SpentSet`], the single-use seam for shared state, and
//!   [`LocalSpentSet`] (bounded, fails closed when full).
//! * [`captcha`]: sitekeys and [`captcha::SitekeyDirectory`], the widget's
//!   endpoints ([`captcha::challenge_json`], [`captcha::solve`]), response
//!   tokens `r1.…` ([`captcha::issue_token`]), and [`captcha::siteverify`]
//!   answering Turnstile's JSON with [`captcha::IdempotencyCache`].
//!
//! The wire formats are fixed by the shared protocol (the browser script
//! and the edge rely on them byte for byte):
//!
//! * challenge `p1.` b64url(payload ‖ tag16), payload = version 1 ‖ key id
//!   u32 ‖ issued u64 ‖ expires u64 ‖ algorithm u8 ‖ difficulty u8 ‖ scrypt
//!   n_log2, r, p ‖ nonce\[16\] (big-endian), tag over `"rampart-pow-v1"` ‖
//!   site ‖ 0x00 ‖ masked prefix (4 or 16 bytes) ‖ prefix length ‖ payload;
//!   a solution is a decimal u64 `n` with H(challenge ":" n) having
//!   `difficulty` leading zero bits;
//! * clearance `c1.<key id>.<expires>.<b64url(tag16)>`, tag over
//!   `"rampart-clr-v1"` ‖ site ‖ 0x00 ‖ prefix ‖ prefix length ‖
//!   SHA-256(User-Agent)\[..16\] ‖ expires u64;
//! * captcha token `r1.` b64url(payload ‖ tag16), payload = version 1 ‖ key
//!   id ‖ issued ‖ id\[16\] ‖ u16-length-prefixed sitekey, hostname, action,
//!   cdata; tag over `"rampart-captcha-v1"` ‖ payload; 300 s, single use,
//!   at most 2048 characters.
//!
//! Default PoW parameters: [`PowParams::DEFAULT_SHA256`] (16 bits) and
//! [`PowParams::DEFAULT_SCRYPT`] (N = 2^10, r = 8, p = 1, 5 bits). One
//! scrypt hash at those parameters takes about 2 ms natively (measured,
//! `bench/results/challenge-2026-11-28.md`); a JS scrypt is several times
//! slower, so 32 tries on average is a fraction of a second to a second in a
//! browser, while the server verifies with one hash. Larger N raises the
//! server's cost per verification as much as the client's per try, and each
//! verification of an unspent challenge costs the edge one hash: issuing
//! challenges must be rate-limited per client.
//!
//! ```
//! use rampart_challenge::*;
//!
//! let ring = KeyRing::new(SigningKey { id: 1, secret: [7; 32] }, None);
//! let policy = PrefixPolicy::default();
//! let ip = "192.0.2.10".parse().unwrap();
//! let params = PowParams { difficulty: 8, ..PowParams::DEFAULT_SHA256 };
//! let now = 1_795_851_600;
//!
//! let challenge = pow::issue(&ring, "shop", ip, &policy, &params, now)?;
//! let nonce = pow::solve(&challenge, 1 << 20).unwrap().to_string();
//! let spent = LocalSpentSet::new(10_000);
//! pow::verify(&ring, &challenge, &nonce, "shop", ip, &policy, now + 2, &spent).unwrap();
//!
//! let cookie = clearance::issue(&ring, "shop", ip, &policy, b"Mozilla/5.0", now + 1800);
//! assert!(clearance::check(&ring, &cookie, "shop", ip, &policy, b"Mozilla/5.0", now + 3).is_ok());
//! # Ok::<(), pow::ParamsError>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]
#![warn(missing_docs)]

pub mod binding;
pub mod captcha;
pub mod clearance;
mod codec;
mod expiring;
pub mod keys;
pub mod memory_hard;
pub mod pow;
pub mod spent;
mod time;

pub use binding::{IpPrefix, PolicyError, PrefixPolicy, masked_prefix, ua_hash};
pub use clearance::ClearanceError;
pub use keys::{KeyError, KeyRing, MacError, SigningKey};
pub use memory_hard::{ScryptError, scrypt_hash};
pub use pow::{Algorithm, ChallengeInfo, Passed, PowError, PowParams};
pub use spent::{LocalSpentSet, Recorded, SpentSet};
pub use time::rfc3339_utc;
