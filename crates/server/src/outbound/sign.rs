//! The `Frontdesk-Signature` header: a timestamped HMAC-SHA256 over the raw body, in the
//! shape Stripe made familiar, so receivers can verify it in a few lines.
//!
//! ```text
//! Frontdesk-Signature: t=1796587200,v1=<hex>[,v1=<hex>]
//! v1 = lowercase hex of HMAC-SHA256(key = the secret as shown, "whsec_…" included, UTF-8;
//!                                   message = "{t}." followed by the raw body bytes)
//! ```
//!
//! During a secret rotation both the new and the old secret sign, so the header carries two
//! `v1` values and a receiver holding either secret accepts it. The timestamp is the time of
//! the attempt (not of the event), so a captured request cannot be replayed after
//! [`DEFAULT_TOLERANCE`]; the event id (`Frontdesk-Event-Id`) is what receivers deduplicate on.
//!
//! [`verify`] is what a receiver does, and what our tests use to check what a server got:
//! any `v1` matching any secret (compared in constant time), then the timestamp within the
//! tolerance either way. Each failure has a stable [`code`](VerifyError::code).

use crate::channels::{hex_decode, hex_lower};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha2::Sha256;
use std::fmt;
use std::time::Duration;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "Frontdesk-Signature";

/// How far the signed timestamp may be from the receiver's clock, either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The prefix of every webhook-signing secret (recognisable in a leaked paste or a scan).
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes behind a secret (256 bits).
const SECRET_BYTES: usize = 32;

/// A webhook-signing secret, `whsec_` + 32 random bytes in unpadded base64url (49 chars).
///
/// The HMAC key is the whole string as UTF-8 (prefix included), so receivers paste it as is.
/// `Debug` never shows it; the memory is wiped on drop. The clinic is shown it once; the
/// server must keep it *encrypted* (not hashed): signing needs the secret itself.
#[derive(Clone)]
pub struct WebhookSecret(Zeroizing<String>);

impl WebhookSecret {
    /// A fresh secret from the operating system's randomness.
    pub fn generate() -> Self {
        let mut raw = Zeroizing::new([0u8; SECRET_BYTES]);
        rand::fill(&mut raw[..]);
        Self(Zeroizing::new(format!(
            "{SECRET_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(&raw[..])
        )))
    }

    /// Parses a secret read back from storage or pasted by an operator: the prefix and
    /// exactly 32 bytes of canonical unpadded base64url.
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let encoded = s.strip_prefix(SECRET_PREFIX).ok_or(SecretError)?;
        let raw = Zeroizing::new(URL_SAFE_NO_PAD.decode(encoded).map_err(|_| SecretError)?);
        if raw.len() != SECRET_BYTES {
            return Err(SecretError);
        }
        Ok(Self(Zeroizing::new(s.to_owned())))
    }

    /// The secret's text, to show the clinic once and to encrypt for storage. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// HMAC-SHA256 of `"{timestamp}." + body`. `None` is unreachable (HMAC takes keys of
    /// any length) but never turned into a default value that could match.
    fn mac(&self, timestamp: i64, body: &[u8]) -> Option<[u8; 32]> {
        mac(self.0.as_bytes(), timestamp, body)
    }
}

/// HMAC-SHA256 of `"{timestamp}." + body` under `key` (Stripe's signed payload).
fn mac(key: &[u8], timestamp: i64, body: &[u8]) -> Option<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac.finalize().into_bytes().into())
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

/// A string that is not a webhook secret (says nothing about its content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a webhook secret (expected whsec_ and 43 base64url characters)")]
pub struct SecretError;

/// The header value for `body` sent at `at` (whole seconds), one `v1` per secret in the
/// order given (the current secret first, then the one being retired). `None` when there
/// is no secret: nothing may be sent unsigned.
pub fn sign(body: &[u8], secrets: &[WebhookSecret], at: Timestamp) -> Option<String> {
    if secrets.is_empty() {
        return None;
    }
    let timestamp = at.as_second();
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&hex_lower(&secret.mac(timestamp, body)?));
    }
    Some(header)
}

/// Why a signature was not accepted. Messages name the rule, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Empty, or a part that is not `key=value`, or a `v1` that is not 64 hex digits.
    #[error("signature header is malformed")]
    Malformed,
    /// No `t=` part.
    #[error("signature header has no timestamp")]
    MissingTimestamp,
    /// `t=` is not a whole number of seconds, or appears twice.
    #[error("signature timestamp is not valid")]
    BadTimestamp,
    /// No `v1=` part.
    #[error("signature header has no v1 signature")]
    MissingSignature,
    /// The verifier holds no secret.
    #[error("no secret to verify with")]
    NoSecret,
    /// No `v1` matches any secret.
    #[error("signature does not match")]
    Mismatch,
    /// Authentic, but signed longer ago than the tolerance (a replay or a stuck queue).
    #[error("signature timestamp is too old")]
    TooOld,
    /// Authentic, but signed further in the future than the tolerance (clock skew).
    #[error("signature timestamp is in the future")]
    InFuture,
}

impl VerifyError {
    /// Stable code: `malformed_header`, `missing_timestamp`, `bad_timestamp`,
    /// `missing_signature`, `no_secret`, `signature_mismatch`, `timestamp_too_old` or
    /// `timestamp_in_future`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed_header",
            Self::MissingTimestamp => "missing_timestamp",
            Self::BadTimestamp => "bad_timestamp",
            Self::MissingSignature => "missing_signature",
            Self::NoSecret => "no_secret",
            Self::Mismatch => "signature_mismatch",
            Self::TooOld => "timestamp_too_old",
            Self::InFuture => "timestamp_in_future",
        }
    }
}

/// Verifies `header` for `body` at `now` with [`DEFAULT_TOLERANCE`].
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[WebhookSecret],
    now: Timestamp,
) -> Result<(), VerifyError> {
    verify_with_tolerance(header, body, secrets, now, DEFAULT_TOLERANCE)
}

/// Verifies `header` for `body`: some `v1` equals the HMAC under some secret (constant-time
/// comparison), and `|now - t| <= tolerance`. Unknown keys (a future `v2`) are ignored.
/// The signature is checked before the time, so only an authentic header can be reported
/// as stale.
pub fn verify_with_tolerance(
    header: &str,
    body: &[u8],
    secrets: &[WebhookSecret],
    now: Timestamp,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let keys: Vec<&[u8]> = secrets.iter().map(|s| s.0.as_bytes()).collect();
    verify_with_keys(header, body, &keys, now, tolerance)
}

/// [`verify_with_tolerance`] with secrets of any form, used as the HMAC key byte for byte:
/// how Stripe's `Stripe-Signature` is checked (its `whsec_…` secrets are not ours). Empty
/// keys are never tried.
pub fn verify_with_keys(
    header: &str,
    body: &[u8],
    keys: &[&[u8]],
    now: Timestamp,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let (timestamp, given) = parse_header(header)?;
    let keys: Vec<&[u8]> = keys.iter().copied().filter(|k| !k.is_empty()).collect();
    if keys.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let mut matched = subtle::Choice::from(0);
    for key in keys {
        let Some(expected) = mac(key, timestamp, body) else {
            continue;
        };
        for sig in &given {
            matched |= expected.as_slice().ct_eq(sig.as_slice());
        }
    }
    if !bool::from(matched) {
        return Err(VerifyError::Mismatch);
    }
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    let age = now.as_second().saturating_sub(timestamp);
    if age > tolerance {
        Err(VerifyError::TooOld)
    } else if age < -tolerance {
        Err(VerifyError::InFuture)
    } else {
        Ok(())
    }
}

/// `t=<digits>` once and one or more `v1=<64 hex>`, comma-separated (spaces around parts
/// tolerated).
fn parse_header(header: &str) -> Result<(i64, Vec<[u8; 32]>), VerifyError> {
    let mut timestamp = None;
    let mut sigs = Vec::new();
    if header.trim().is_empty() {
        return Err(VerifyError::Malformed);
    }
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(VerifyError::Malformed)?;
        match key {
            "t" => {
                let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
                let t = value
                    .parse::<i64>()
                    .ok()
                    .filter(|_| digits)
                    .ok_or(VerifyError::BadTimestamp)?;
                if timestamp.replace(t).is_some() {
                    return Err(VerifyError::BadTimestamp);
                }
            }
            "v1" => {
                let bytes = hex_decode(value)
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or(VerifyError::Malformed)?;
                sigs.push(bytes);
            }
            "" => return Err(VerifyError::Malformed),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::MissingTimestamp)?;
    if sigs.is_empty() {
        return Err(VerifyError::MissingSignature);
    }
    Ok((timestamp, sigs))
}

#[cfg(test)]
#[path = "sign_tests.rs"]
mod tests;
