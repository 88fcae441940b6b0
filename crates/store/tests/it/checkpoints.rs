//! Signed audit checkpoints on both engines: a checkpoint of the chain head holds while the
//! chain does, and tells a truncated or rewritten chain, a forged or altered checkpoint and
//! another clinic's checkpoint apart.

use crate::harness::*;
use crate::raw::Raw;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;

engine_tests!(
    a_checkpoint_holds_while_the_chain_does_and_catches_truncation_and_rewrites,
    a_forged_altered_or_foreign_checkpoint_is_refused,
);

async fn a_checkpoint_holds_while_the_chain_does_and_catches_truncation_and_rewrites(db: &TestDb) {
    let store = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let head = store.verify_audit_chain(a.scope).await.unwrap().head_seq;
    let cp = store.take_audit_checkpoint(a.scope).await.unwrap();
    assert_eq!(cp.seq, head, "it signs the head as it was");
    assert_eq!(
        store.check_audit_checkpoint(a.scope, &cp).await.unwrap(),
        CheckpointCheck::Holds
    );
    // Kept, exportable as JSON and read back the same.
    assert_eq!(
        store.audit_checkpoints(a.scope, 10).await.unwrap(),
        std::slice::from_ref(&cp)
    );
    let json = cp.to_json().to_string();
    let back = AuditCheckpoint::from_json(&serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(back, cp);
    // More entries later: it still holds.
    for _ in 0..3 {
        let ev = AuditEvent::new(Actor::Operator, "test.later");
        store.append_audit(a.scope, &ev).await.unwrap();
    }
    assert_eq!(
        store.check_audit_checkpoint(a.scope, &cp).await.unwrap(),
        CheckpointCheck::Holds
    );

    // Someone with write access rewrites the checkpointed entry: caught.
    let mut raw = Raw::open(db).await;
    let t = a.scope.tenant_id().as_uuid();
    let old_hash = cp.hash.clone();
    raw.execute(
        format!(
            "UPDATE audit_log SET hash = prev_hash WHERE tenant_id = $1 AND seq = {}",
            cp.seq
        ),
        &[t],
    )
    .await;
    assert_eq!(
        store.check_audit_checkpoint(a.scope, &cp).await.unwrap(),
        CheckpointCheck::Rewritten
    );
    // ... or cuts the chain off before it: caught too.
    raw.execute(
        format!(
            "DELETE FROM audit_log WHERE tenant_id = $1 AND seq >= {}",
            cp.seq
        ),
        &[t],
    )
    .await;
    assert_eq!(
        store.check_audit_checkpoint(a.scope, &cp).await.unwrap(),
        CheckpointCheck::Missing
    );
    assert!(!old_hash.is_empty());
}

async fn a_forged_altered_or_foreign_checkpoint_is_refused(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let cp = store.take_audit_checkpoint(a.scope).await.unwrap();
    let mut altered = cp.clone();
    altered.mac[0] ^= 1;
    assert_eq!(
        store
            .check_audit_checkpoint(a.scope, &altered)
            .await
            .unwrap(),
        CheckpointCheck::BadSignature
    );
    // Pointing it at an earlier entry (with that entry's real hash) breaks the MAC.
    let earlier = store.audit_entries(a.scope, 0, 1).await.unwrap().remove(0);
    let moved = AuditCheckpoint {
        seq: earlier.seq,
        hash: earlier.hash.clone(),
        ..cp.clone()
    };
    assert_eq!(
        store.check_audit_checkpoint(a.scope, &moved).await.unwrap(),
        CheckpointCheck::BadSignature
    );
    // Clinic B's own checkpoint machinery cannot vouch for A's chain, nor A's for B's.
    assert_eq!(
        store.check_audit_checkpoint(b.scope, &cp).await.unwrap(),
        CheckpointCheck::OtherClinic
    );
    let as_b = AuditCheckpoint {
        tenant: b.scope.tenant_id(),
        ..cp.clone()
    };
    assert_eq!(
        store.check_audit_checkpoint(b.scope, &as_b).await.unwrap(),
        CheckpointCheck::BadSignature
    );
    assert!(
        store
            .audit_checkpoints(b.scope, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(AuditCheckpoint::from_json(&serde_json::json!({"format": "other"})).is_none());
}
