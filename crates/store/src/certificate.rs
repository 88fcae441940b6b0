//! The end of a clinic (#8 item 2): what a purge is told to do ([`PurgePlan`]) and the
//! deletion certificate it leaves behind ([`DeletionCertificate`]).
//!
//! The certificate's body is canonical JSON: compact (no whitespace), every object's keys in
//! sorted order (the structs below declare their fields alphabetically; counts are a
//! `BTreeMap`). Its SHA-256 is taken over exactly those bytes, as stored, so anyone can check
//! a printed certificate with `sha256sum` on its `certificate` member re-serialised the same
//! way, or with [`DeletionCertificate::verify`].

use crate::model::hex;
use frontdesk_domain::{TenantId, TenantSlug};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The `format` of a certificate body.
pub const CERTIFICATE_FORMAT: &str = "frontdesk.deletion-certificate.v1";

/// What [`crate::TenantLifecycleStore::begin_tenant_purge`] found: the clinic, now `purging`
/// (nothing of it can be read any more), and the blob keys of its call recordings, to be
/// deleted from blob storage before its rows go. `already_purged`: an earlier purge finished;
/// its certificate is all there is to do.
#[derive(Debug, Clone)]
pub struct PurgePlan {
    pub tenant: TenantId,
    pub slug: TenantSlug,
    pub blob_keys: Vec<String>,
    pub already_purged: bool,
}

/// The clinic's audit chain head just before its entries were deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// SHA-256 of the last entry, lowercase hex.
    pub hash: String,
    pub seq: i64,
}

/// One tenant key destroyed with the clinic (ids only, never key material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroyedKey {
    /// The master key that wrapped it.
    pub master_key_id: String,
    /// `data` or `index`.
    pub purpose: String,
    pub version: i32,
}

/// The certificate's body. Fields are declared in sorted order: serialised, this is the
/// canonical form the digest covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateBody {
    /// The audit chain head before the purge (its last entry is `tenant.purge_started`).
    pub audit_head: ChainHead,
    /// Recording audio objects deleted from blob storage.
    pub blobs_deleted: u64,
    pub format: String,
    /// The hold configured when the clinic was purged, in days.
    pub hold_days: i64,
    /// RFC 3339, UTC.
    pub purged_at: String,
    /// Whether the operator purged before the hold ended (`tenant purge --now`).
    pub purged_before_hold_ended: bool,
    /// Rows deleted, per table.
    pub rows_deleted: BTreeMap<String, u64>,
    pub slug: String,
    pub tenant_id: String,
    /// The clinic's data and index keys, destroyed: without them no copy of its ciphertexts
    /// (a replica, an exported table) can be opened.
    pub tenant_keys_destroyed: Vec<DestroyedKey>,
    /// RFC 3339, UTC.
    pub terminated_at: String,
}

impl CertificateBody {
    /// The canonical JSON text of the body.
    pub fn canonical(&self) -> crate::Result<String> {
        serde_json::to_string(self).map_err(|_| crate::StoreError::Corrupt("certificate body"))
    }
}

/// A purged clinic's deletion certificate, as stored.
#[derive(Debug, Clone)]
pub struct DeletionCertificate {
    pub tenant: TenantId,
    pub slug: TenantSlug,
    pub purged_at: Timestamp,
    /// The canonical JSON body (see the module documentation).
    pub body: String,
    /// SHA-256 of `body`, lowercase hex.
    pub sha256: String,
}

/// SHA-256 of `text`, lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

impl DeletionCertificate {
    /// Whether the digest matches the body.
    pub fn verify(&self) -> bool {
        sha256_hex(&self.body) == self.sha256
    }

    /// The parsed body; `None` if it is not a certificate body.
    pub fn parsed(&self) -> Option<CertificateBody> {
        serde_json::from_str(&self.body).ok()
    }

    /// The printable document: `{"certificate": BODY, "sha256": HEX}`, BODY exactly as
    /// hashed.
    pub fn to_document(&self) -> String {
        format!(
            "{{\"certificate\":{},\"sha256\":\"{}\"}}",
            self.body, self.sha256
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The canonical form really has its keys in sorted order, at every level.
    #[test]
    fn the_canonical_body_lists_its_keys_in_sorted_order() {
        let body = CertificateBody {
            audit_head: ChainHead {
                hash: "ab".into(),
                seq: 3,
            },
            blobs_deleted: 1,
            format: CERTIFICATE_FORMAT.into(),
            hold_days: 30,
            purged_at: "2026-12-02T00:00:00Z".into(),
            purged_before_hold_ended: false,
            rows_deleted: BTreeMap::from([("b".to_owned(), 2), ("a".to_owned(), 1)]),
            slug: "x".into(),
            tenant_id: "t".into(),
            tenant_keys_destroyed: vec![DestroyedKey {
                master_key_id: "k1".into(),
                purpose: "data".into(),
                version: 1,
            }],
            terminated_at: "2026-11-01T00:00:00Z".into(),
        };
        let text = body.canonical().unwrap();
        fn check(v: &serde_json::Value, text: &str) {
            if let serde_json::Value::Object(m) = v {
                let mut keys: Vec<&String> = m.keys().collect();
                let at = |k: &String| text.find(&format!("\"{k}\":")).unwrap();
                keys.sort_by_key(|k| at(k));
                let mut sorted = keys.clone();
                sorted.sort();
                assert_eq!(keys, sorted);
                m.values().for_each(|v| check(v, text));
            }
            if let serde_json::Value::Array(a) = v {
                a.iter().for_each(|v| check(v, text));
            }
        }
        check(&serde_json::from_str(&text).unwrap(), &text);
        assert!(!text.contains(' '));
        let cert = DeletionCertificate {
            tenant: frontdesk_domain::TenantId::new(),
            slug: TenantSlug::parse("x-clinic").unwrap(),
            purged_at: Timestamp::UNIX_EPOCH,
            sha256: sha256_hex(&text),
            body: text,
        };
        assert!(cert.verify());
    }
}
