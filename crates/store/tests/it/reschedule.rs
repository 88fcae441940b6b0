//! Moving an appointment on both engines: one transaction books the new time and cancels the
//! old one, or changes nothing; a retried move with the same key moves once; another tenant's
//! appointment is not found (also as the PostgreSQL owner, without row-level security).

use crate::appointments::{Diary, NOW, WED_10, booking, diary, search, ts};
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::{SignedDuration, civil::Date};
use std::sync::Arc;

engine_tests!(
    a_move_books_the_new_time_cancels_the_old_and_is_audited_once,
    a_move_may_overlap_its_own_old_time,
    a_taken_time_is_a_conflict_and_the_old_appointment_is_untouched,
    a_time_outside_hours_or_in_the_past_changes_nothing,
    cancelled_or_started_appointments_are_not_moved,
    the_same_idempotency_key_moves_once,
    concurrent_moves_into_one_slot_yield_exactly_one,
    a_move_of_another_tenants_appointment_is_not_found,
);

postgres_as_owner_tests!(a_move_of_another_tenants_appointment_is_not_found);

/// 14:00 local on Wed 25 Nov 2026.
const WED_14: &str = "2026-11-25T01:00:00Z";

async fn move_to(
    d: &Diary,
    id: AppointmentId,
    start: &str,
    key: &str,
) -> frontdesk_store::Result<Appointment> {
    d.store
        .reschedule_appointment(d.scope, id, ts(start), d.practitioner, Actor::Agent, key)
        .await
}

async fn audit_count(d: &Diary, action: &str) -> usize {
    crate::harness::all_audit(d.store.as_ref(), d.scope)
        .await
        .iter()
        .filter(|e| e.action == action)
        .count()
}

async fn a_move_books_the_new_time_cancels_the_old_and_is_audited_once(db: &TestDb) {
    let d = diary(db, 1).await;
    let old = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "first"))
        .await
        .unwrap();
    let moved = move_to(&d, old.id, WED_14, "move-1").await.unwrap();
    assert_ne!(moved.id, old.id);
    assert_eq!(moved.starts_at, ts(WED_14));
    assert_eq!(
        (moved.patient_id, moved.service_id, moved.status),
        (old.patient_id, old.service_id, AppointmentStatus::Booked)
    );
    assert_eq!(moved.ends_at, ts("2026-11-25T01:45:00Z"));
    assert_eq!(
        d.store.appointment(d.scope, old.id).await.unwrap().status,
        AppointmentStatus::Cancelled
    );
    assert_eq!(
        d.store
            .patient_appointments(d.scope, d.patients[0], ts(NOW))
            .await
            .unwrap(),
        vec![moved.clone()]
    );
    let audit = crate::harness::all_audit(d.store.as_ref(), d.scope).await;
    let moves: Vec<&AuditEntry> = audit
        .iter()
        .filter(|e| e.action == "appointment.rescheduled")
        .collect();
    assert_eq!(moves.len(), 1);
    let details: serde_json::Value = serde_json::from_str(&moves[0].details).unwrap();
    assert_eq!(details["from"], old.id.to_string());
    assert_eq!(details["starts_at"], ts(WED_14).to_string());
    let wed = Date::constant(2026, 11, 25);
    let free = d
        .store
        .free_slots(d.scope, &search(&d, wed, wed))
        .await
        .unwrap();
    assert!(
        free.iter().any(|s| s.start == old.starts_at),
        "the old time is free again"
    );
    assert!(!free.iter().any(|s| s.start == moved.starts_at));
}

async fn a_move_may_overlap_its_own_old_time(db: &TestDb) {
    let d = diary(db, 1).await;
    let old = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "first"))
        .await
        .unwrap();
    let later = move_to(&d, old.id, "2026-11-24T21:15:00Z", "fifteen-later")
        .await
        .unwrap();
    assert_eq!(later.starts_at, ts("2026-11-24T21:15:00Z"));
}

async fn a_taken_time_is_a_conflict_and_the_old_appointment_is_untouched(db: &TestDb) {
    let d = diary(db, 2).await;
    let mine = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "mine"))
        .await
        .unwrap();
    d.store
        .book_appointment(d.scope, &booking(&d, 1, WED_14, "theirs"))
        .await
        .unwrap();
    for start in [WED_14, "2026-11-25T00:30:00Z", "2026-11-25T01:45:00Z"] {
        assert_err!(
            move_to(&d, mine.id, start, &format!("onto-{start}")).await,
            StoreError::Conflict(_)
        );
    }
    assert_eq!(d.store.appointment(d.scope, mine.id).await.unwrap(), mine);
    assert_eq!(
        d.store
            .patient_appointments(d.scope, d.patients[0], ts(NOW))
            .await
            .unwrap(),
        vec![mine]
    );
    assert_eq!(audit_count(&d, "appointment.rescheduled").await, 0);
    assert_eq!(audit_count(&d, "appointment.cancelled").await, 0);
}

async fn a_time_outside_hours_or_in_the_past_changes_nothing(db: &TestDb) {
    let d = diary(db, 1).await;
    let mine = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "mine"))
        .await
        .unwrap();
    for (start, key) in [
        ("2026-11-23T18:00:00Z", "past"),
        ("2026-11-24T19:00:00Z", "before-open"),
        ("2026-11-27T22:00:00Z", "saturday"),
    ] {
        assert_err!(
            move_to(&d, mine.id, start, key).await,
            StoreError::Invalid(_)
        );
    }
    assert_eq!(d.store.appointment(d.scope, mine.id).await.unwrap(), mine);
    let moved = move_to(&d, mine.id, WED_14, "later").await.unwrap();
    // A practitioner of no such clinic: nothing found, nothing moved.
    assert_err!(
        d.store
            .reschedule_appointment(
                d.scope,
                moved.id,
                ts(WED_10),
                PractitionerId::new(),
                Actor::Agent,
                "ghost"
            )
            .await,
        StoreError::NotFound
    );
    assert_eq!(
        d.store.appointment(d.scope, moved.id).await.unwrap().status,
        AppointmentStatus::Booked
    );
}

async fn cancelled_or_started_appointments_are_not_moved(db: &TestDb) {
    let d = diary(db, 1).await;
    let gone = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "gone"))
        .await
        .unwrap();
    d.store
        .cancel_appointment(d.scope, gone.id, Actor::Agent)
        .await
        .unwrap();
    assert_err!(
        move_to(&d, gone.id, WED_14, "revive").await,
        StoreError::Conflict(_)
    );
    let today = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, "2026-11-23T21:00:00Z", "today-10"))
        .await
        .unwrap();
    d.clock.advance(SignedDuration::from_mins(150)); // 10:30: under way
    assert_err!(
        move_to(&d, today.id, WED_14, "too-late").await,
        StoreError::Invalid(_)
    );
    assert_eq!(
        d.store.appointment(d.scope, today.id).await.unwrap().status,
        AppointmentStatus::Booked
    );
    assert_err!(
        move_to(&d, AppointmentId::new(), WED_14, "unknown").await,
        StoreError::NotFound
    );
}

async fn the_same_idempotency_key_moves_once(db: &TestDb) {
    let d = Arc::new(diary(db, 1).await);
    let old = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "first"))
        .await
        .unwrap();
    let a = move_to(&d, old.id, WED_14, "conv:move:1").await.unwrap();
    let b = move_to(&d, old.id, WED_14, "conv:move:1").await.unwrap();
    assert_eq!(a, b, "the retry answers the first move");
    assert_eq!(audit_count(&d, "appointment.rescheduled").await, 1);
    assert_eq!(audit_count(&d, "appointment.booked").await, 1);

    // Concurrent retries of one move (a redelivered message) answer one appointment.
    let other = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, "2026-11-25T20:00:00Z", "second"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            move_to(&d, other.id, "2026-11-26T02:00:00Z", "conv:move:2").await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap().unwrap().id);
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(audit_count(&d, "appointment.rescheduled").await, 2);
    assert_eq!(
        d.store
            .patient_appointments(d.scope, d.patients[0], ts(NOW))
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn concurrent_moves_into_one_slot_yield_exactly_one(db: &TestDb) {
    let d = Arc::new(diary(db, 6).await);
    let mut olds = Vec::new();
    for i in 0..6 {
        // Thursday 09:00, 10:00, … one per patient.
        let start = ts("2026-11-25T20:00:00Z")
            .checked_add(SignedDuration::from_hours(i as i64))
            .unwrap();
        let mut b = booking(&d, i, WED_10, &format!("old-{i}"));
        b.starts_at = start;
        olds.push(d.store.book_appointment(d.scope, &b).await.unwrap());
    }
    let mut tasks = Vec::new();
    for (i, old) in olds.iter().enumerate() {
        let (d, id) = (d.clone(), old.id);
        tasks.push(tokio::spawn(async move {
            move_to(&d, id, WED_14, &format!("race-{i}")).await
        }));
    }
    let (mut ok, mut conflict) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict(_)) => conflict += 1,
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!((ok, conflict), (1, 5));
    let mut still_booked = 0;
    for old in &olds {
        if d.store.appointment(d.scope, old.id).await.unwrap().status == AppointmentStatus::Booked {
            still_booked += 1;
        }
    }
    assert_eq!(still_booked, 5, "every loser keeps its old appointment");
}

async fn a_move_of_another_tenants_appointment_is_not_found(db: &TestDb) {
    let d = diary(db, 1).await;
    let mine = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "mine"))
        .await
        .unwrap();
    let other = crate::harness::new_tenant(d.store.as_ref(), "other-clinic").await;
    assert_err!(
        d.store
            .reschedule_appointment(
                other,
                mine.id,
                ts(WED_14),
                d.practitioner,
                Actor::Agent,
                "theirs"
            )
            .await,
        StoreError::NotFound
    );
    // Not even with the key of a move made in the first tenant.
    move_to(&d, mine.id, WED_14, "moved").await.unwrap();
    assert_err!(
        d.store
            .reschedule_appointment(
                other,
                mine.id,
                ts(WED_10),
                d.practitioner,
                Actor::Agent,
                "moved"
            )
            .await,
        StoreError::NotFound
    );
    assert_eq!(
        d.store.appointment(d.scope, mine.id).await.unwrap().status,
        AppointmentStatus::Cancelled
    );
    let live = d
        .store
        .patient_appointments(d.scope, d.patients[0], ts(NOW))
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].starts_at, ts(WED_14));
}
