//! The audit chain: each entry's hash covers the tenant, the previous hash, its sequence
//! number, time, actor, action, target and details, so editing, deleting or reordering any
//! row breaks every later link, and the chain head (`audit_heads`: last seq and hash) makes a
//! truncated tail show too. `AuditStore::verify_audit_chain` recomputes every link (CLI:
//! `frontdesk audit verify`; see docs/OPERATIONS.md). Still to come (issue #8): signed
//! checkpoints of the head kept outside the database, so that rewriting the whole chain from
//! the first changed entry onwards (by someone holding write access) shows too.

use sha2::{Digest, Sha256};

/// The `prev_hash` of a tenant's first entry.
pub(crate) const GENESIS: [u8; 32] = [0; 32];

/// Rows per page when verifying a chain (the whole log is never held in memory).
pub(crate) const AUDIT_VERIFY_PAGE: usize = 500;

pub(crate) struct ChainFields<'a> {
    pub tenant: uuid::Uuid,
    pub prev_hash: &'a [u8],
    pub seq: i64,
    pub at_us: i64,
    pub actor_kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub target_kind: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub details: &'a str,
}

pub(crate) fn chain_hash(f: &ChainFields<'_>) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"frontdesk-audit-v1");
    h.update(f.tenant.as_bytes());
    h.update(f.prev_hash);
    h.update(f.seq.to_be_bytes());
    h.update(f.at_us.to_be_bytes());
    for field in [
        Some(f.actor_kind),
        f.actor_id,
        Some(f.action),
        f.target_kind,
        f.target_id,
        Some(f.details),
    ] {
        match field {
            // Length-prefixed so field boundaries cannot be shifted; None differs from "".
            Some(s) => {
                h.update([1]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
            None => h.update([0]),
        }
    }
    h.finalize().to_vec()
}

/// One event as an audit row: the fields as stored, and its link after `prev_hash` at `seq`.
pub(crate) struct Entry<'a> {
    pub seq: i64,
    pub actor_kind: &'a str,
    pub actor_id: Option<String>,
    pub action: &'a str,
    pub target_kind: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub details: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl<'a> Entry<'a> {
    pub(crate) fn new(
        tenant: uuid::Uuid,
        prev_hash: &[u8],
        seq: i64,
        at_us: i64,
        ev: &'a crate::model::AuditEvent,
    ) -> crate::Result<Self> {
        let details = serde_json::to_string(&ev.details)
            .map_err(|_| crate::StoreError::Corrupt("audit details"))?;
        let actor_id = ev.actor.id();
        let (target_kind, target_id) = match &ev.target {
            Some((k, id)) => (Some(*k), Some(id.as_str())),
            None => (None, None),
        };
        let hash = chain_hash(&ChainFields {
            tenant,
            prev_hash,
            seq,
            at_us,
            actor_kind: ev.actor.kind(),
            actor_id: actor_id.as_deref(),
            action: ev.action,
            target_kind,
            target_id,
            details: &details,
        });
        Ok(Self {
            seq,
            actor_kind: ev.actor.kind(),
            actor_id,
            action: ev.action,
            target_kind,
            target_id,
            details,
            prev_hash: prev_hash.to_vec(),
            hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(details: &'a str, actor_id: Option<&'a str>) -> ChainFields<'a> {
        ChainFields {
            tenant: uuid::Uuid::nil(),
            prev_hash: &GENESIS,
            seq: 1,
            at_us: 5,
            actor_kind: "system",
            actor_id,
            action: "x",
            target_kind: None,
            target_id: None,
            details,
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = chain_hash(&fields("{}", None));
        assert_ne!(base, chain_hash(&fields("{ }", None)));
        assert_ne!(base, chain_hash(&fields("{}", Some(""))));
        let mut f = fields("{}", None);
        f.seq = 2;
        assert_ne!(base, chain_hash(&f));
    }
}
