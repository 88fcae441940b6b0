//! Envelope encryption at rest, blind indexes and secret tokens.
//!
//! Key hierarchy: a **keyring** of 256-bit master keys (KEKs, each with an id, one active) wraps
//! a **tenant data key** and a **tenant index key** per clinic; the tenant data key wraps a
//! **patient data key** per patient. Patient PII and message bodies are sealed with the
//! patient's key, so destroying that one key (crypto-shredding) makes every ciphertext of the
//! patient unreadable, including copies in old backups.
//!
//! Every ciphertext is AES-256-GCM with a fresh random 96-bit nonce and AAD binding it to
//! (tenant, table, column, row id): a ciphertext copied into another row, column or tenant
//! fails to open. Layout: `[version = 1][nonce (12)][ciphertext + tag (16)]`.
//!
//! Phone and email lookups use a blind index: HMAC-SHA256 keyed by the tenant index key, so
//! equal values match within one clinic but nothing is learnt across clinics.

use aes_gcm::{
    Aes256Gcm, Nonce,
    aead::{Aead, KeyInit, Payload},
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("ciphertext could not be opened (wrong key, wrong binding or tampered)")]
    Open,
    #[error("encryption failed")]
    Seal,
    #[error("unknown master key id")]
    UnknownMasterKey,
    #[error("invalid master key: {0}")]
    InvalidMasterKey(&'static str),
}

/// A 256-bit symmetric key, wiped from memory when dropped. `Debug` never shows it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::fill(&mut k);
        Self(k)
    }

    fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::Open)?;
        Ok(Self(arr))
    }

    /// Seals `plaintext` bound to `aad`.
    pub fn seal(&self, aad: &Aad, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| CryptoError::Seal)?;
        let mut nonce_bytes = [0u8; NONCE_LEN];
        rand::fill(&mut nonce_bytes);
        let nonce = Nonce::from(nonce_bytes);
        let aad_bytes = aad.bytes();
        let ct = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad_bytes,
                },
            )
            .map_err(|_| CryptoError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a ciphertext made by [`DataKey::seal`] with the same `aad`.
    pub fn open(&self, aad: &Aad, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if blob.len() < 1 + NONCE_LEN + TAG_LEN || blob[0] != FORMAT_V1 {
            return Err(CryptoError::Open);
        }
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| CryptoError::Open)?;
        let nonce_bytes: [u8; NONCE_LEN] = blob[1..1 + NONCE_LEN]
            .try_into()
            .map_err(|_| CryptoError::Open)?;
        let aad_bytes = aad.bytes();
        cipher
            .decrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: &blob[1 + NONCE_LEN..],
                    aad: &aad_bytes,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }

    pub fn seal_str(&self, aad: &Aad, s: &str) -> Result<Vec<u8>, CryptoError> {
        self.seal(aad, s.as_bytes())
    }

    pub fn open_string(&self, aad: &Aad, blob: &[u8]) -> Result<String, CryptoError> {
        let bytes = self.open(aad, blob)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CryptoError::Open)
    }

    /// Wraps another key under this one.
    pub fn wrap(&self, aad: &Aad, key: &DataKey) -> Result<Vec<u8>, CryptoError> {
        self.seal(aad, &key.0)
    }

    pub fn unwrap_key(&self, aad: &Aad, blob: &[u8]) -> Result<DataKey, CryptoError> {
        let bytes = self.open(aad, blob)?;
        DataKey::from_slice(&bytes)
    }

    /// Blind index of `value` for lookups of `kind` (e.g. "phone"): HMAC-SHA256 under this key.
    pub fn blind_index(&self, kind: &str, value: &str) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
        let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// Additional authenticated data: binds a ciphertext to where it is stored.
#[derive(Debug, Clone, Copy)]
pub struct Aad<'a> {
    pub tenant: uuid::Uuid,
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

impl Aad<'_> {
    fn bytes(&self) -> Vec<u8> {
        format!(
            "frontdesk/v1|{}|{}|{}|{}",
            self.tenant, self.table, self.column, self.row
        )
        .into_bytes()
    }
}

/// One master key (KEK) with its id, e.g. `k2026a`. Loaded from config as `ID:BASE64`.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: DataKey,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, <redacted>)", self.id)
    }
}

impl MasterKey {
    /// Parses `ID:BASE64` where the base64 decodes to exactly 32 bytes.
    pub fn parse(s: &str) -> Result<Self, CryptoError> {
        let (id, b64) = s
            .trim()
            .split_once(':')
            .ok_or(CryptoError::InvalidMasterKey("expected ID:BASE64"))?;
        if id.is_empty()
            || id.len() > 32
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(CryptoError::InvalidMasterKey(
                "the id must be 1-32 of A-Z a-z 0-9 - _",
            ));
        }
        let bytes = Zeroizing::new(
            STANDARD
                .decode(b64.trim())
                .map_err(|_| CryptoError::InvalidMasterKey("the key is not valid base64"))?,
        );
        if bytes.len() != 32 {
            return Err(CryptoError::InvalidMasterKey(
                "the key must be 32 bytes (256 bits)",
            ));
        }
        let key =
            DataKey::from_slice(&bytes).map_err(|_| CryptoError::InvalidMasterKey("length"))?;
        Ok(Self {
            id: id.to_owned(),
            key,
        })
    }

    /// A new random master key, e.g. for `frontdesk demo` or `frontdesk keys generate`.
    pub fn generate(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            key: DataKey::generate(),
        }
    }

    /// The `ID:BASE64` form, for writing a key file. Handle the result as a secret.
    pub fn export(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("{}:{}", self.id, STANDARD.encode(self.key.0)))
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The master keys this process knows: one active (used to wrap new tenant keys) and any
/// retired ones still needed to unwrap older tenant keys until they are re-wrapped.
#[derive(Debug, Clone)]
pub struct Keyring {
    active: String,
    keys: HashMap<String, MasterKey>,
}

impl Keyring {
    pub fn new(active: MasterKey, retired: Vec<MasterKey>) -> Self {
        let active_id = active.id.clone();
        let mut keys: HashMap<String, MasterKey> =
            retired.into_iter().map(|k| (k.id.clone(), k)).collect();
        keys.insert(active_id.clone(), active);
        Self {
            active: active_id,
            keys,
        }
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    /// Wraps a tenant key with the active master key; returns (master key id, wrapped bytes).
    pub fn wrap(&self, aad: &Aad, key: &DataKey) -> Result<(String, Vec<u8>), CryptoError> {
        let mk = self
            .keys
            .get(&self.active)
            .ok_or(CryptoError::UnknownMasterKey)?;
        Ok((self.active.clone(), mk.key.wrap(aad, key)?))
    }

    pub fn unwrap_key(&self, key_id: &str, aad: &Aad, blob: &[u8]) -> Result<DataKey, CryptoError> {
        let mk = self.keys.get(key_id).ok_or(CryptoError::UnknownMasterKey)?;
        mk.key.unwrap_key(aad, blob)
    }
}

/// A new secret token: `prefix` + 256 random bits in URL-safe base64. Shown once; only its
/// [`token_hash`] is stored.
pub fn new_token(prefix: &str) -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; 32]);
    rand::fill(&mut raw[..]);
    Zeroizing::new(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(&raw[..])))
}

/// SHA-256 of a high-entropy token. Lookups go by this hash, so the token itself is never
/// stored and a database reader cannot use what they read.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aad(row: &str) -> Aad<'_> {
        Aad {
            tenant: uuid::Uuid::nil(),
            table: "messages",
            column: "body",
            row,
        }
    }

    #[test]
    fn seal_open_round_trip_and_nonces_differ() -> Result<(), CryptoError> {
        let k = DataKey::generate();
        let a = k.seal_str(&aad("1"), "hello")?;
        let b = k.seal_str(&aad("1"), "hello")?;
        assert_ne!(a, b, "a fresh nonce per seal");
        assert_eq!(k.open_string(&aad("1"), &a)?, "hello");
        Ok(())
    }

    #[test]
    fn ciphertext_moved_to_another_row_or_key_fails() -> Result<(), CryptoError> {
        let k = DataKey::generate();
        let ct = k.seal_str(&aad("1"), "hello")?;
        assert!(k.open(&aad("2"), &ct).is_err());
        assert!(DataKey::generate().open(&aad("1"), &ct).is_err());
        let mut tampered = ct.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(k.open(&aad("1"), &tampered).is_err());
        assert!(k.open(&aad("1"), &ct[..10]).is_err());
        Ok(())
    }

    #[test]
    fn master_key_parse_and_export_round_trip() -> Result<(), CryptoError> {
        let mk = MasterKey::generate("k1");
        let again = MasterKey::parse(&mk.export())?;
        assert_eq!(again.id(), "k1");
        let ring = Keyring::new(mk, vec![]);
        let dk = DataKey::generate();
        let (id, w) = ring.wrap(&aad("t"), &dk)?;
        let ring2 = Keyring::new(again, vec![]);
        let back = ring2.unwrap_key(&id, &aad("t"), &w)?;
        assert_eq!(back.0, dk.0);
        assert!(!format!("{ring2:?}").contains(&STANDARD.encode(dk.0)));
        Ok(())
    }

    #[test]
    fn master_key_parse_rejects_bad_input() {
        for bad in [
            "",
            "nokey",
            "k1:notbase64!!",
            "k1:AAAA",
            ":AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            assert!(MasterKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blind_index_is_deterministic_per_key() {
        let k1 = DataKey::generate();
        let k2 = DataKey::generate();
        assert_eq!(
            k1.blind_index("phone", "+6421"),
            k1.blind_index("phone", "+6421")
        );
        assert_ne!(
            k1.blind_index("phone", "+6421"),
            k2.blind_index("phone", "+6421")
        );
        assert_ne!(
            k1.blind_index("phone", "+6421"),
            k1.blind_index("email", "+6421")
        );
    }

    #[test]
    fn tokens_are_unique_and_hashed() {
        let a = new_token("fdw_");
        let b = new_token("fdw_");
        assert_ne!(*a, *b);
        assert!(a.starts_with("fdw_") && a.len() > 40);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
    }
}
