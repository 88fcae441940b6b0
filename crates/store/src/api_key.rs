//! The form of an API key: `fdk_<prefix>_<secret>`.
//!
//! - `fdk_` says what it is (secret scanners and people recognise it);
//! - the prefix, 12 characters of RFC 4648 base32 in lower case (60 random bits), is public:
//!   it routes the key to its clinic and names it in lists and in the audit log;
//! - the secret is 256 random bits in URL-safe base64 (43 characters).
//!
//! Only the SHA-256 of the whole key is stored (a 256-bit random secret needs no slow hash:
//! nothing can be guessed), and it is compared in constant time.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

pub const KEY_TAG: &str = "fdk_";
pub const PREFIX_LEN: usize = 12;
const SECRET_LEN: usize = 43;
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The most requests a minute a key may be given.
pub const MAX_RATE_PER_MINUTE: u32 = 6_000;
/// The rate a key gets unless told otherwise.
pub const DEFAULT_RATE_PER_MINUTE: u32 = 600;
/// The longest overlap a rotation may leave (30 days), as for channel secrets.
pub const MAX_OVERLAP_HOURS: u32 = 720;

/// A fresh key: its public prefix (with the tag, `fdk_abcd…`) and the whole key.
pub fn generate() -> (String, Zeroizing<String>) {
    generate_tagged(KEY_TAG)
}

/// A fresh token of this form with another tag (`fdcal_` for calendar feeds).
pub(crate) fn generate_tagged(tag: &str) -> (String, Zeroizing<String>) {
    let mut raw = [0u8; PREFIX_LEN];
    rand::fill(&mut raw[..]);
    let prefix: String = raw
        .iter()
        .map(|b| BASE32[usize::from(*b) % 32] as char)
        .collect();
    let mut secret = Zeroizing::new([0u8; 32]);
    rand::fill(&mut secret[..]);
    let key = Zeroizing::new(format!(
        "{tag}{prefix}_{}",
        URL_SAFE_NO_PAD.encode(&secret[..])
    ));
    (format!("{tag}{prefix}"), key)
}

/// The public prefix (`fdk_…`) of something that has the form of a key; `None` otherwise,
/// so that a malformed header costs no database read.
pub fn prefix_of(key: &str) -> Option<&str> {
    prefix_of_tagged(KEY_TAG, key)
}

/// [`prefix_of`] for a token with another tag.
pub(crate) fn prefix_of_tagged<'a>(tag: &str, key: &'a str) -> Option<&'a str> {
    let rest = key.strip_prefix(tag)?;
    if rest.len() != PREFIX_LEN + 1 + SECRET_LEN || !rest.is_ascii() {
        return None;
    }
    let (prefix, secret) = rest.split_at(PREFIX_LEN);
    let secret = secret.strip_prefix('_')?;
    let prefix_ok = prefix.bytes().all(|b| BASE32.contains(&b));
    let secret_ok = secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (prefix_ok && secret_ok).then(|| &key[..tag.len() + PREFIX_LEN])
}

/// Whether `s` looks like a key's public prefix (`fdk_` and 12 base32 characters).
pub fn is_prefix(s: &str) -> bool {
    s.strip_prefix(KEY_TAG)
        .is_some_and(|p| p.len() == PREFIX_LEN && p.bytes().all(|b| BASE32.contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_to_their_prefix_and_differ() {
        let (p1, k1) = generate();
        let (p2, k2) = generate();
        assert_ne!(p1, p2);
        assert_ne!(*k1, *k2);
        assert_eq!(prefix_of(&k1), Some(p1.as_str()));
        assert!(is_prefix(&p1));
        assert_eq!(k1.len(), KEY_TAG.len() + PREFIX_LEN + 1 + SECRET_LEN);
    }

    #[test]
    fn malformed_keys_have_no_prefix() {
        let (_, k) = generate();
        let k = k.as_str();
        assert_eq!(prefix_of(&k[..k.len() - 1]), None, "too short");
        assert_eq!(prefix_of(&format!("{k}A")), None, "too long");
        assert_eq!(prefix_of(&k.replacen("fdk_", "fdx_", 1)), None, "tag");
        assert_eq!(prefix_of(&k.to_uppercase()), None, "prefix is lower case");
        let mut bad = k.to_owned();
        bad.replace_range(16..17, "-");
        assert_eq!(prefix_of(&bad), None, "separator");
        let mut bad = k.to_owned();
        bad.replace_range(20..21, "é");
        assert_eq!(prefix_of(&bad), None, "not ascii");
        assert_eq!(prefix_of(""), None);
        assert!(!is_prefix("fdk_ABCDEFGHIJKL"));
        assert!(!is_prefix("fdk_abc"));
    }
}
