//! Verifying the audit chain: an intact chain verifies (also while the clinic keeps
//! appending, and across pages), and each way of tampering with the stored rows — an edited
//! row, a deleted row, two rows swapped, a truncated tail, an altered prev_hash (even with
//! the row's hash recomputed to match), an edited head — is reported at the right seq with
//! the right reason, while another clinic's chain in the same database stays intact.
//! Tampering goes below the store (see `raw`): the SQLite file, or PostgreSQL as the owner.

use crate::harness::*;
use crate::raw::Raw;
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use sha2::{Digest, Sha256};
use std::sync::Arc;

engine_tests!(
    an_intact_chain_verifies_and_verifying_writes_nothing,
    an_edited_row_is_a_hash_break_at_its_seq,
    a_deleted_middle_row_is_a_gap_at_the_next_seq,
    two_swapped_rows_break_at_the_first_swapped_position,
    a_truncated_tail_breaks_the_head,
    an_altered_prev_hash_breaks_at_its_seq,
    a_prev_hash_rewritten_with_a_matching_hash_still_breaks_the_link,
    an_edited_or_deleted_head_breaks_the_head,
    breaks_are_found_across_pages,
    verifying_while_the_clinic_appends_sees_an_intact_chain,
);

/// Entries a clinic made by [`clinic_with_chain`]`(…, EXTRA)` holds: `tenant.created` + EXTRA.
const EXTRA: usize = 6;
const ENTRIES: i64 = EXTRA as i64 + 1;

/// A new clinic whose chain holds `tenant.created` and `extra` entries of every shape (actor
/// with and without an id, with and without a target, non-ASCII details).
async fn clinic_with_chain(store: &dyn Store, slug: &str, extra: usize) -> TenantScope {
    let scope = new_tenant(store, slug).await;
    for i in 0..extra {
        let ev = match i % 3 {
            0 => AuditEvent::new(Actor::Operator, "test.noted")
                .details(serde_json::json!({ "i": i, "note": "Whangārei ✓" })),
            1 => AuditEvent::new(Actor::Patient(PatientId::new()), "test.touched")
                .target("thing", format!("t{i}")),
            _ => AuditEvent::new(Actor::System, "test.ran"),
        };
        store.append_audit(scope, &ev).await.unwrap();
    }
    scope
}

/// Two clinics with [`ENTRIES`] entries each: the one to tamper with, and a bystander.
async fn two_clinics(store: &dyn Store) -> (TenantScope, TenantScope) {
    let target = clinic_with_chain(store, "tampered", EXTRA).await;
    let other = clinic_with_chain(store, "bystander", EXTRA).await;
    assert!(verify(store, target).await.is_intact());
    (target, other)
}

async fn verify(store: &dyn Store, scope: TenantScope) -> ChainReport {
    store.verify_audit_chain(scope).await.unwrap()
}

/// Runs `sql` below the store with the clinic's id bound as `$1`.
async fn tamper(db: &TestDb, scope: TenantScope, sql: &str) {
    let mut raw = Raw::open(db).await;
    let n = raw
        .execute(sql.to_owned(), &[scope.tenant_id().as_uuid()])
        .await;
    assert!(n >= 1, "the tampering changed nothing: {sql}");
}

/// Asserts the chain is broken first at `seq` for `reason`, and the bystander is intact.
async fn assert_broken(
    store: &dyn Store,
    scope: TenantScope,
    other: TenantScope,
    seq: i64,
    reason: BreakReason,
) -> ChainReport {
    let report = verify(store, scope).await;
    assert_eq!(
        report.first_break,
        Some(ChainBreak { seq, reason }),
        "{report:?}"
    );
    let intact = verify(store, other).await;
    assert_eq!(
        intact,
        ChainReport {
            entries: ENTRIES as u64,
            head_seq: ENTRIES,
            floor_seq: 0,
            first_break: None
        }
    );
    report
}

async fn an_intact_chain_verifies_and_verifying_writes_nothing(db: &TestDb) {
    let store = store(db).await;
    let fresh = new_tenant(store.as_ref(), "fresh").await;
    assert_eq!(
        verify(store.as_ref(), fresh).await,
        ChainReport {
            entries: 1,
            head_seq: 1,
            floor_seq: 0,
            first_break: None
        },
        "a new clinic's chain: tenant.created alone"
    );
    let (a, b) = two_clinics(store.as_ref()).await;
    // Real operations' entries too, not only append_audit's.
    store.add_faq(a, "Parking?", "Out the back.").await.unwrap();
    let report = verify(store.as_ref(), a).await;
    assert_eq!(
        report,
        ChainReport {
            entries: ENTRIES as u64 + 1,
            head_seq: ENTRIES + 1,
            floor_seq: 0,
            first_break: None
        }
    );
    assert!(report.is_intact());
    let mut raw = Raw::open(db).await;
    let before = raw.row_counts().await;
    for scope in [a, b, fresh] {
        verify(store.as_ref(), scope).await;
    }
    assert_eq!(raw.row_counts().await, before, "verification is read-only");
    assert_eq!(
        all_audit(store.as_ref(), a).await.len(),
        ENTRIES as usize + 1
    );
}

async fn an_edited_row_is_a_hash_break_at_its_seq(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = two_clinics(store.as_ref()).await;
    tamper(
        db,
        a,
        r#"UPDATE audit_log SET details = '{"i":0,"note":"nothing to see"}' WHERE tenant_id = $1 AND seq = 2"#,
    )
    .await;
    let report = assert_broken(store.as_ref(), a, b, 2, BreakReason::Hash).await;
    assert_eq!(report.entries, 2, "the walk stops at the first break");
    assert_eq!(report.head_seq, ENTRIES);
}

async fn a_deleted_middle_row_is_a_gap_at_the_next_seq(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = two_clinics(store.as_ref()).await;
    tamper(
        db,
        a,
        "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 4",
    )
    .await;
    assert_broken(store.as_ref(), a, b, 5, BreakReason::Gap).await;

    // The very first entry deleted: the chain must start at 1.
    let c = clinic_with_chain(store.as_ref(), "first-gone", 2).await;
    tamper(
        db,
        c,
        "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 1",
    )
    .await;
    assert_broken(store.as_ref(), c, b, 2, BreakReason::Gap).await;
}

async fn two_swapped_rows_break_at_the_first_swapped_position(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = two_clinics(store.as_ref()).await;
    // (tenant_id, seq) is the primary key: swap through a free seq.
    for sql in [
        "UPDATE audit_log SET seq = -1 WHERE tenant_id = $1 AND seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE tenant_id = $1 AND seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE tenant_id = $1 AND seq = -1",
    ] {
        tamper(db, a, sql).await;
    }
    // Seqs still run 1, 2, 3…: the row now at 3 does not follow row 2.
    assert_broken(store.as_ref(), a, b, 3, BreakReason::PrevHash).await;

    // Adjacent rows swapped.
    let c = clinic_with_chain(store.as_ref(), "adjacent", EXTRA).await;
    for sql in [
        "UPDATE audit_log SET seq = -1 WHERE tenant_id = $1 AND seq = 6",
        "UPDATE audit_log SET seq = 6 WHERE tenant_id = $1 AND seq = 7",
        "UPDATE audit_log SET seq = 7 WHERE tenant_id = $1 AND seq = -1",
    ] {
        tamper(db, c, sql).await;
    }
    assert_broken(store.as_ref(), c, b, 6, BreakReason::PrevHash).await;
}

async fn a_truncated_tail_breaks_the_head(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = two_clinics(store.as_ref()).await;
    tamper(
        db,
        a,
        "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = (SELECT max(seq) FROM audit_log WHERE tenant_id = $1)",
    )
    .await;
    let report = assert_broken(store.as_ref(), a, b, ENTRIES, BreakReason::Head).await;
    assert_eq!(
        (report.entries, report.head_seq),
        (ENTRIES as u64 - 1, ENTRIES),
        "every remaining link holds; only the head shows the loss"
    );

    // The whole log deleted.
    tamper(db, a, "DELETE FROM audit_log WHERE tenant_id = $1").await;
    let report = assert_broken(store.as_ref(), a, b, ENTRIES, BreakReason::Head).await;
    assert_eq!(report.entries, 0);
}

async fn an_altered_prev_hash_breaks_at_its_seq(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = two_clinics(store.as_ref()).await;
    tamper(
        db,
        a,
        "UPDATE audit_log SET prev_hash = hash WHERE tenant_id = $1 AND seq = 3",
    )
    .await;
    assert_broken(store.as_ref(), a, b, 3, BreakReason::PrevHash).await;

    // The first entry must follow GENESIS.
    let c = clinic_with_chain(store.as_ref(), "not-genesis", 1).await;
    tamper(
        db,
        c,
        "UPDATE audit_log SET prev_hash = hash WHERE tenant_id = $1 AND seq = 1",
    )
    .await;
    assert_broken(store.as_ref(), c, b, 1, BreakReason::PrevHash).await;
}

/// The chain hash, written again from its specification (crates/store/src/audit.rs), as an
/// attacker who knows the algorithm would.
fn rehash(tenant: uuid::Uuid, prev_hash: &[u8], e: &AuditEntry) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"frontdesk-audit-v1");
    h.update(tenant.as_bytes());
    h.update(prev_hash);
    h.update(e.seq.to_be_bytes());
    h.update(e.at.as_microsecond().to_be_bytes());
    for field in [
        Some(e.actor_kind.as_str()),
        e.actor_id.as_deref(),
        Some(e.action.as_str()),
        e.target_kind.as_deref(),
        e.target_id.as_deref(),
        Some(e.details.as_str()),
    ] {
        match field {
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

async fn a_prev_hash_rewritten_with_a_matching_hash_still_breaks_the_link(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = two_clinics(store.as_ref()).await;
    let tenant = a.tenant_id().as_uuid();
    let entries = all_audit(store.as_ref(), a).await;
    // The reimplementation agrees with the store on every stored row.
    for e in &entries {
        assert_eq!(rehash(tenant, &e.prev_hash, e), e.hash, "seq {}", e.seq);
    }
    let row = &entries[2];
    let forged_prev = vec![7u8; 32];
    let forged_hash = rehash(tenant, &forged_prev, row);
    let sql = "UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE tenant_id = $3 AND seq = 3";
    let n = match Raw::open(db).await {
        Raw::Sqlite(mut c) => sqlx::query(sql)
            .bind(&forged_prev)
            .bind(&forged_hash)
            .bind(tenant)
            .execute(&mut c)
            .await
            .unwrap()
            .rows_affected(),
        Raw::Pg(mut c) => sqlx::query(sql)
            .bind(&forged_prev)
            .bind(&forged_hash)
            .bind(tenant)
            .execute(&mut c)
            .await
            .unwrap()
            .rows_affected(),
    };
    assert_eq!(n, 1);
    // Row 3 is self-consistent now, but no longer follows row 2.
    assert_broken(store.as_ref(), a, b, 3, BreakReason::PrevHash).await;
}

async fn an_edited_or_deleted_head_breaks_the_head(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = two_clinics(store.as_ref()).await;
    // The head's hash replaced by another entry's.
    tamper(
        db,
        a,
        "UPDATE audit_heads SET hash = (SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = 2) \
         WHERE tenant_id = $1",
    )
    .await;
    assert_broken(store.as_ref(), a, b, ENTRIES, BreakReason::Head).await;

    // The head moved back: the entries after it are not covered.
    let c = clinic_with_chain(store.as_ref(), "head-back", EXTRA).await;
    tamper(
        db,
        c,
        "UPDATE audit_heads SET seq = seq - 1, \
         hash = (SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = 6) WHERE tenant_id = $1",
    )
    .await;
    let report = assert_broken(store.as_ref(), c, b, ENTRIES - 1, BreakReason::Head).await;
    assert_eq!(report.head_seq, ENTRIES - 1);

    // No head at all.
    let d = clinic_with_chain(store.as_ref(), "headless", EXTRA).await;
    tamper(db, d, "DELETE FROM audit_heads WHERE tenant_id = $1").await;
    let report = assert_broken(store.as_ref(), d, b, ENTRIES, BreakReason::Head).await;
    assert_eq!(report.head_seq, 0);
}

async fn breaks_are_found_across_pages(db: &TestDb) {
    // More entries than several pages of the walk (500 rows each), so each break is found on
    // a later page with the previous link carried over from the page before.
    const MANY: usize = 1_200;
    let store = store(db).await;
    let (_, b) = two_clinics(store.as_ref()).await;
    let a = clinic_with_chain(store.as_ref(), "long-gap", MANY).await;
    let c = clinic_with_chain(store.as_ref(), "long-edit", MANY).await;
    for scope in [a, c] {
        assert_eq!(
            verify(store.as_ref(), scope).await,
            ChainReport {
                entries: MANY as u64 + 1,
                head_seq: MANY as i64 + 1,
                floor_seq: 0,
                first_break: None
            }
        );
    }
    // The first row of the second page deleted.
    tamper(
        db,
        a,
        "DELETE FROM audit_log WHERE tenant_id = $1 AND seq = 501",
    )
    .await;
    let report = assert_broken(store.as_ref(), a, b, 502, BreakReason::Gap).await;
    assert_eq!(report.entries, 501);
    // A row of the third page edited.
    tamper(
        db,
        c,
        "UPDATE audit_log SET action = 'test.other' WHERE tenant_id = $1 AND seq = 1001",
    )
    .await;
    assert_broken(store.as_ref(), c, b, 1001, BreakReason::Hash).await;
}

async fn verifying_while_the_clinic_appends_sees_an_intact_chain(db: &TestDb) {
    // The walk reads the head and every page from one snapshot: entries committed meanwhile
    // (which move the head past the last page read) must not look like a broken head.
    let store = store(db).await;
    let a = clinic_with_chain(store.as_ref(), "busy", 600).await;
    let writer = {
        let store: Arc<dyn Store> = store.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                let ev = AuditEvent::new(Actor::System, "test.busy")
                    .details(serde_json::json!({ "i": i }));
                store.append_audit(a, &ev).await.unwrap();
            }
        })
    };
    let mut checks = 0;
    while !writer.is_finished() {
        let report = verify(store.as_ref(), a).await;
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.entries, report.head_seq as u64);
        checks += 1;
    }
    writer.await.unwrap();
    assert!(checks > 0);
    assert_eq!(
        verify(store.as_ref(), a).await,
        ChainReport {
            entries: 901,
            head_seq: 901,
            floor_seq: 0,
            first_break: None
        }
    );
}
