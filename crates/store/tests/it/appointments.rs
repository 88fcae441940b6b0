//! The diary on both engines: free slots, booking rules, idempotent bookings, cancellation,
//! cross-tenant answers, and the race that must never produce a double booking.

use crate::harness::{new_tenant, profile, weekdays};
use frontdesk_domain::schedule::Span;
use frontdesk_domain::*;
use frontdesk_store::testing::{TestDb, test_keyring};
use frontdesk_store::*;
use jiff::{SignedDuration, Timestamp, civil::Date};
use std::sync::Arc;

engine_tests!(
    free_slots_follow_hours_bookings_and_exceptions,
    bookings_outside_hours_in_the_past_or_overlapping_are_refused,
    the_same_idempotency_key_books_once,
    hundred_concurrent_bookings_of_one_slot_yield_exactly_one,
    concurrent_overlapping_bookings_never_overlap,
    concurrent_retries_with_one_key_answer_one_appointment,
    appointments_of_another_tenant_are_not_found,
);

/// Tue 2026-11-24 08:00 in Auckland (NZDT, UTC+13).
pub(crate) const NOW: &str = "2026-11-23T19:00:00Z";

pub(crate) struct Diary {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) scope: TenantScope,
    pub(crate) practitioner: PractitionerId,
    pub(crate) service: ServiceId,
    pub(crate) patients: Vec<PatientId>,
    pub(crate) clock: Arc<ManualClock>,
}

pub(crate) async fn diary(db: &TestDb, patients: usize) -> Diary {
    let clock = Arc::new(ManualClock::new(NOW.parse().unwrap()));
    let store = db.open(test_keyring(), clock.clone()).await.unwrap();
    let scope = new_tenant(store.as_ref(), "diary-clinic").await;
    let practitioner = store
        .add_practitioner(scope, "Aroha Ngata", "Physiotherapist")
        .await
        .unwrap();
    store
        .set_practitioner_hours(scope, practitioner, &weekdays(9 * 60, 17 * 60))
        .await
        .unwrap();
    let new = NewService {
        name: "Initial consultation".into(),
        duration_min: 45,
        buffer_min: 15,
        price_minor: Some(9500),
    };
    let service = store.add_service(scope, &new).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..patients {
        ids.push(
            store
                .create_patient(scope, &NewPatient::default())
                .await
                .unwrap(),
        );
    }
    Diary {
        store,
        scope,
        practitioner,
        service,
        patients: ids,
        clock,
    }
}

pub(crate) fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

pub(crate) fn search(d: &Diary, from: Date, to: Date) -> SlotSearch {
    SlotSearch {
        practitioner: d.practitioner,
        service: d.service,
        from,
        to,
        min_notice: SignedDuration::from_hours(1),
        day_start: None,
        day_end: None,
        limit: 100,
    }
}

pub(crate) fn booking(d: &Diary, patient: usize, start: &str, key: &str) -> NewAppointment {
    NewAppointment {
        patient: d.patients[patient],
        practitioner: d.practitioner,
        service: d.service,
        starts_at: ts(start),
        idempotency_key: key.into(),
        actor: Actor::Agent,
    }
}

/// 10:00 local on Wed 25 Nov 2026 (UTC+13).
pub(crate) const WED_10: &str = "2026-11-24T21:00:00Z";

async fn free_slots_follow_hours_bookings_and_exceptions(db: &TestDb) {
    let d = diary(db, 1).await;
    let wed = Date::constant(2026, 11, 25);
    let slots = d
        .store
        .free_slots(d.scope, &search(&d, wed, wed))
        .await
        .unwrap();
    assert_eq!(
        slots[0].start,
        ts("2026-11-24T20:00:00Z"),
        "09:00 local is the first start"
    );
    assert_eq!(
        slots.len(),
        30,
        "09:00 to 16:15 every 15 min (16:15 ends exactly at 17:00)"
    );
    let today = Date::constant(2026, 11, 24);
    let today_slots = d
        .store
        .free_slots(d.scope, &search(&d, today, today))
        .await
        .unwrap();
    assert_eq!(
        today_slots[0].start,
        ts("2026-11-23T20:00:00Z"),
        "now 08:00 + 1 h notice → 09:00"
    );

    let appt = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "k1"))
        .await
        .unwrap();
    assert_eq!(appt.ends_at, ts("2026-11-24T21:45:00Z"));
    assert_eq!(
        appt.busy_until,
        ts("2026-11-24T22:00:00Z"),
        "45 min + 15 min buffer"
    );
    let after = d
        .store
        .free_slots(d.scope, &search(&d, wed, wed))
        .await
        .unwrap();
    let busy = Span {
        start: appt.starts_at,
        end: appt.busy_until,
    };
    assert!(after.iter().all(|s| !busy.overlaps(&Span {
        start: s.start,
        end: s.busy_until
    })));
    assert_eq!(after.len(), 30 - 7, "09:15 … 10:45 starts are gone");

    // Leave for the whole afternoon removes those starts too.
    let leave = Span {
        start: ts("2026-11-25T00:00:00Z"),
        end: ts("2026-11-25T04:00:00Z"),
    };
    d.store
        .add_schedule_exception(d.scope, Some(d.practitioner), leave, "leave")
        .await
        .unwrap();
    let with_leave = d
        .store
        .free_slots(d.scope, &search(&d, wed, wed))
        .await
        .unwrap();
    assert!(
        with_leave
            .iter()
            .all(|s| s.busy_until <= leave.start || s.start >= leave.end)
    );
    assert!(with_leave.len() < after.len());

    d.store
        .cancel_appointment(d.scope, appt.id, Actor::Agent)
        .await
        .unwrap();
    let reopened = d
        .store
        .free_slots(d.scope, &search(&d, wed, wed))
        .await
        .unwrap();
    assert!(
        reopened.iter().any(|s| s.start == appt.starts_at),
        "a cancelled booking frees its time"
    );
}

async fn bookings_outside_hours_in_the_past_or_overlapping_are_refused(db: &TestDb) {
    let d = diary(db, 2).await;
    let refuse = |r: Result<Appointment>| match r {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("expected Invalid, got {other:?}"),
    };
    refuse(
        d.store
            .book_appointment(d.scope, &booking(&d, 0, "2026-11-23T18:00:00Z", "past"))
            .await,
    );
    refuse(
        d.store
            .book_appointment(
                d.scope,
                &booking(&d, 0, "2026-11-24T19:00:00Z", "before-open"),
            )
            .await,
    );
    refuse(
        d.store
            .book_appointment(
                d.scope,
                &booking(&d, 0, "2026-11-25T03:30:00Z", "ends-after-close"),
            )
            .await,
    );
    refuse(
        d.store
            .book_appointment(d.scope, &booking(&d, 0, "2026-11-27T22:00:00Z", "saturday"))
            .await,
    );
    d.store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "first"))
        .await
        .unwrap();
    for (start, key) in [
        (WED_10, "same"),
        ("2026-11-24T21:30:00Z", "inside"),
        ("2026-11-24T20:30:00Z", "into-it"),
        ("2026-11-24T21:45:00Z", "in-buffer"),
    ] {
        match d
            .store
            .book_appointment(d.scope, &booking(&d, 1, start, key))
            .await
        {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("{key}: expected Conflict, got {other:?}"),
        }
    }
    d.store
        .book_appointment(
            d.scope,
            &booking(&d, 1, "2026-11-24T22:00:00Z", "after-buffer"),
        )
        .await
        .unwrap();
    let mut unknown = booking(&d, 1, "2026-11-25T00:00:00Z", "unknown");
    unknown.practitioner = PractitionerId::new();
    assert!(matches!(
        d.store.book_appointment(d.scope, &unknown).await,
        Err(StoreError::NotFound)
    ));
    let mut unknown = booking(&d, 1, "2026-11-25T00:00:00Z", "unknown-patient");
    unknown.patient = PatientId::new();
    assert!(matches!(
        d.store.book_appointment(d.scope, &unknown).await,
        Err(StoreError::NotFound)
    ));
}

async fn the_same_idempotency_key_books_once(db: &TestDb) {
    let d = diary(db, 1).await;
    let a = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "wamid.HBgL123"))
        .await
        .unwrap();
    let b = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "wamid.HBgL123"))
        .await
        .unwrap();
    assert_eq!(a, b);
    let booked = d
        .store
        .patient_appointments(d.scope, d.patients[0], ts(NOW))
        .await
        .unwrap();
    assert_eq!(booked, vec![a.clone()]);
    let audit = crate::harness::all_audit(d.store.as_ref(), d.scope).await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "appointment.booked")
            .count(),
        1
    );
    let c1 = d
        .store
        .cancel_appointment(d.scope, a.id, Actor::Agent)
        .await
        .unwrap();
    let c2 = d
        .store
        .cancel_appointment(d.scope, a.id, Actor::Agent)
        .await
        .unwrap();
    assert_eq!(
        (c1.status, c2.status),
        (AppointmentStatus::Cancelled, AppointmentStatus::Cancelled)
    );
    let audit = crate::harness::all_audit(d.store.as_ref(), d.scope).await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "appointment.cancelled")
            .count(),
        1
    );
    assert!(
        d.store
            .patient_appointments(d.scope, d.patients[0], ts(NOW))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn hundred_concurrent_bookings_of_one_slot_yield_exactly_one(db: &TestDb) {
    let d = diary(db, 100).await;
    let d = Arc::new(d);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            d.store
                .book_appointment(d.scope, &booking(&d, i, WED_10, &format!("race-{i}")))
                .await
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
    assert_eq!((ok, conflict), (1, 99));
}

async fn concurrent_overlapping_bookings_never_overlap(db: &TestDb) {
    let d = Arc::new(diary(db, 24).await);
    let wed_9: Timestamp = ts("2026-11-24T20:00:00Z");
    // As many bookings at once as the test pool has connections (4): more would only queue
    // for a connection, and on a loaded machine time out there (`PoolTimedOut`), which is not
    // what this test is about. Each of the four still races its overlapping neighbours.
    let gate = Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = Vec::new();
    for i in 0..24 {
        let d = d.clone();
        let start = wed_9
            .checked_add(SignedDuration::from_mins(15 * i as i64))
            .unwrap();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _turn = gate.acquire().await.unwrap();
            let mut b = booking(&d, i, WED_10, &format!("step-{i}"));
            b.starts_at = start;
            d.store.book_appointment(d.scope, &b).await
        }));
    }
    let mut booked = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(a) => booked.push(a),
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert!(!booked.is_empty());
    for (i, a) in booked.iter().enumerate() {
        for b in &booked[i + 1..] {
            let (x, y) = (
                Span {
                    start: a.starts_at,
                    end: a.busy_until,
                },
                Span {
                    start: b.starts_at,
                    end: b.busy_until,
                },
            );
            assert!(!x.overlaps(&y), "{a:?} overlaps {b:?}");
        }
    }
}

async fn concurrent_retries_with_one_key_answer_one_appointment(db: &TestDb) {
    let d = Arc::new(diary(db, 1).await);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            d.store
                .book_appointment(d.scope, &booking(&d, 0, WED_10, "SM-redelivered"))
                .await
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap().unwrap().id);
    }
    assert_eq!(ids.len(), 1, "every retry answers the one booking");
}

async fn appointments_of_another_tenant_are_not_found(db: &TestDb) {
    let d = diary(db, 1).await;
    let a = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "mine"))
        .await
        .unwrap();
    let other = d
        .store
        .create_tenant(
            &TenantSlug::parse("other-clinic").unwrap(),
            &profile("Other"),
        )
        .await
        .unwrap();
    assert!(matches!(
        d.store.appointment(other, a.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        d.store.cancel_appointment(other, a.id, Actor::Agent).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        d.store
            .patient_appointments(other, d.patients[0], ts(NOW))
            .await
            .unwrap()
            .is_empty()
    );
    let wed = Date::constant(2026, 11, 25);
    assert!(matches!(
        d.store.free_slots(other, &search(&d, wed, wed)).await,
        Err(StoreError::NotFound)
    ));
    let mut b = booking(&d, 0, "2026-11-24T23:00:00Z", "theirs");
    assert!(matches!(
        d.store.book_appointment(other, &b).await,
        Err(StoreError::NotFound)
    ));
    b.idempotency_key = "mine".into();
    assert!(
        matches!(
            d.store.book_appointment(other, &b).await,
            Err(StoreError::NotFound)
        ),
        "another tenant's key reveals nothing"
    );
    assert_eq!(
        d.store.appointment(d.scope, a.id).await.unwrap().status,
        AppointmentStatus::Booked
    );
}
