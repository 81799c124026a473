//! Signing keys and the ring that holds the current and the previous one.
//!
//! Every token in this crate carries the id of the key that tagged it, so a
//! rotation does not invalidate what was issued just before it: the ring
//! keeps the previous key for verification only.

use hmac::{Hmac, Mac};
use rand::TryRngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Length of the truncated tags on every token (128 bits).
pub const TAG_LEN: usize = 16;

/// One HMAC-SHA256 key with the id that tokens carry.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Carried in each token so the verifier knows which key to use.
    pub id: u32,
    /// The HMAC key. Never printed (see the `Debug` impl).
    pub secret: [u8; 32],
}

impl SigningKey {
    /// A key with a random id and a 256-bit secret, both from the operating
    /// system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut secret = [0u8; 32];
        let mut id = [0u8; 4];
        rand::rngs::OsRng
            .try_fill_bytes(&mut secret)
            .and_then(|()| rand::rngs::OsRng.try_fill_bytes(&mut id))
            .map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self {
            id: u32::from_be_bytes(id),
            secret,
        })
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys end up in config dumps and panic messages; the secret must not.
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Failure to create a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The operating system's random source failed.
    #[error("the OS random source failed: {0}")]
    Random(String),
}

/// Why a tag did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    /// The token names a key the ring does not hold (too old, or forged).
    #[error("unknown signing key")]
    UnknownKey,
    /// The tag does not match the content.
    #[error("bad signature")]
    BadSignature,
}

/// A key with its HMAC state already keyed: cloning that state is a copy of
/// two SHA-256 midstates, where keying anew would hash two blocks.
#[derive(Clone)]
struct KeyedMac {
    id: u32,
    state: HmacSha256,
}

impl KeyedMac {
    fn new(key: &SigningKey) -> Self {
        // HMAC zero-pads a short key to the block size (RFC 2104 §2), so
        // keying with the padded block is the same MAC, through the
        // infallible constructor.
        let mut block = [0u8; 64];
        for (dst, src) in block.iter_mut().zip(key.secret.iter()) {
            *dst = *src;
        }
        Self {
            id: key.id,
            state: <HmacSha256 as hmac::digest::KeyInit>::new(&block.into()),
        }
    }

    fn tag(&self, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        let mut mac = self.state.clone();
        for part in parts {
            mac.update(part);
        }
        let full: [u8; 32] = mac.finalize().into_bytes().into();
        let mut out = [0u8; TAG_LEN];
        for (dst, src) in out.iter_mut().zip(full.iter()) {
            *dst = *src;
        }
        out
    }
}

/// The keys a node signs and verifies with: the current key (signs and
/// verifies) and optionally the previous one (verifies only).
#[derive(Clone)]
pub struct KeyRing {
    current: KeyedMac,
    previous: Option<KeyedMac>,
}

impl KeyRing {
    /// A ring signing with `current`. A `previous` key with the same id as
    /// `current` is dropped: ids must name one key, and the current one wins.
    pub fn new(current: SigningKey, previous: Option<SigningKey>) -> Self {
        let previous = previous
            .filter(|p| p.id != current.id)
            .map(|p| KeyedMac::new(&p));
        Self {
            current: KeyedMac::new(&current),
            previous,
        }
    }

    /// Id of the key new tokens are signed with.
    pub fn current_id(&self) -> u32 {
        self.current.id
    }

    /// Id of the verify-only previous key, if any.
    pub fn previous_id(&self) -> Option<u32> {
        self.previous.as_ref().map(|k| k.id)
    }

    fn key(&self, key_id: u32) -> Option<&KeyedMac> {
        if key_id == self.current.id {
            Some(&self.current)
        } else {
            self.previous.as_ref().filter(|k| k.id == key_id)
        }
    }

    /// First 16 bytes of HMAC-SHA256 over the concatenation of `parts`,
    /// with the key `key_id`; `None` when the ring does not hold that key.
    pub fn mac16(&self, key_id: u32, parts: &[&[u8]]) -> Option<[u8; TAG_LEN]> {
        self.key(key_id).map(|k| k.tag(parts))
    }

    /// [`KeyRing::mac16`] with the current key, and that key's id.
    pub fn mac16_current(&self, parts: &[&[u8]]) -> (u32, [u8; TAG_LEN]) {
        (self.current.id, self.current.tag(parts))
    }

    /// Checks `tag` against the MAC of `parts` under `key_id`, comparing in
    /// constant time so the time taken says nothing about how many leading
    /// bytes of a guessed tag were right.
    pub fn verify16(
        &self,
        key_id: u32,
        parts: &[&[u8]],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), MacError> {
        let expected = self.mac16(key_id, parts).ok_or(MacError::UnknownKey)?;
        if bool::from(expected.ct_eq(tag)) {
            Ok(())
        } else {
            Err(MacError::BadSignature)
        }
    }
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("current_id", &self.current.id)
            .field("previous_id", &self.previous_id())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u32, byte: u8) -> SigningKey {
        SigningKey {
            id,
            secret: [byte; 32],
        }
    }

    #[test]
    fn matches_plain_hmac_sha256() {
        // The pre-keyed, padded-block state must equal HMAC keyed the usual
        // way, or the JS-free verifiers elsewhere would disagree with us.
        let ring = KeyRing::new(key(7, 0x42), None);
        let mut plain = <HmacSha256 as Mac>::new_from_slice(&[0x42; 32]).unwrap();
        plain.update(b"hello world");
        let full = plain.finalize().into_bytes();
        let tag = ring.mac16(7, &[b"hello", b" ", b"world"]).unwrap();
        assert_eq!(tag[..], full[..16]);
    }

    #[test]
    fn rfc4231_case_2() {
        // RFC 4231 test case 2: key "Jefe" (short key, zero-padded).
        let mut mac = <HmacSha256 as Mac>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let full = mac.finalize().into_bytes();
        let mut secret = [0u8; 32];
        secret[..4].copy_from_slice(b"Jefe");
        let ring = KeyRing::new(SigningKey { id: 1, secret }, None);
        let tag = ring.mac16(1, &[b"what do ya want for nothing?"]).unwrap();
        assert_eq!(tag[..], full[..16]);
        assert_eq!(
            full[..16],
            [
                0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
                0x75, 0xc7
            ]
        );
    }

    #[test]
    fn previous_key_verifies_unknown_refused() {
        let old = KeyRing::new(key(1, 1), None);
        let (id, tag) = old.mac16_current(&[b"x"]);
        let ring = KeyRing::new(key(2, 2), Some(key(1, 1)));
        assert_eq!(ring.verify16(id, &[b"x"], &tag), Ok(()));
        assert_eq!(
            ring.verify16(id, &[b"y"], &tag),
            Err(MacError::BadSignature)
        );
        let newer = KeyRing::new(key(3, 3), Some(key(2, 2)));
        assert_eq!(newer.verify16(id, &[b"x"], &tag), Err(MacError::UnknownKey));
    }

    #[test]
    fn debug_hides_the_secret() {
        let k = key(9, 0xAB);
        let text = format!("{k:?} {:?}", KeyRing::new(k.clone(), None));
        assert!(!text.contains("171") && !text.to_lowercase().contains("ab, "));
        assert!(text.contains("redacted"));
    }

    #[test]
    fn same_id_previous_is_dropped() {
        let ring = KeyRing::new(key(5, 1), Some(key(5, 2)));
        assert_eq!(ring.previous_id(), None);
        let generated = SigningKey::generate().unwrap();
        assert_ne!(generated.secret, [0u8; 32]);
    }
}
