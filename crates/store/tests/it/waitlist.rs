//! The waitlist on both engines: joining (validated, idempotent, audited), a cancelled or
//! moved appointment leaving exactly one hold, offers in join order to reachable matching
//! patients only, and taking a hold: never by someone not offered it, never after expiry,
//! and never by two patients, however many confirm at once.

use crate::appointments::{Diary, WED_10, booking, diary, ts};
use crate::harness::{all_audit, phone};
use crate::reminders::{connect, give_phone};
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::{SignedDuration, Timestamp};

engine_tests!(
    joining_is_validated_idempotent_and_audited,
    freeing_a_booked_time_leaves_exactly_one_hold,
    offers_go_in_join_order_to_reachable_matching_patients_only,
    a_freed_time_that_is_no_longer_free_is_offered_to_nobody,
    taking_needs_an_offer_made_before_expiry,
    a_taken_hold_stays_taken_even_when_its_time_frees_again,
    a_time_booked_meanwhile_makes_the_hold_gone,
    eight_patients_confirming_at_once_yield_exactly_one_booking,
    a_freed_time_offered_by_eight_instances_at_once_is_offered_once,
);

/// Wed 25 Nov 2026, 09:00 to 17:00 local (UTC+13).
const WED: (&str, &str) = ("2026-11-24T20:00:00Z", "2026-11-25T04:00:00Z");
/// Thu 26 Nov 2026, 09:00 to 17:00 local.
const THU: (&str, &str) = ("2026-11-25T20:00:00Z", "2026-11-26T04:00:00Z");
const TEXT: &str = "A time came free: Wed 25 Nov at 10:00. Reply YES to take it.";
const LEASE: SignedDuration = SignedDuration::from_secs(60);

fn wants(d: &Diary, patient: usize, window: (&str, &str)) -> NewWaitlistEntry {
    NewWaitlistEntry {
        patient: d.patients[patient],
        service: d.service,
        practitioner: None,
        window_start: ts(window.0),
        window_end: ts(window.1),
        actor: Actor::Patient(d.patients[patient]),
    }
}

/// Joins (one minute after the previous join, so the join order is plain).
async fn join(d: &Diary, new: NewWaitlistEntry) -> WaitlistEntry {
    d.clock.advance(SignedDuration::from_mins(1));
    d.store.join_waitlist(d.scope, &new).await.unwrap()
}

fn later(d: &Diary, mins: i64) -> Timestamp {
    d.clock.now() + SignedDuration::from_mins(mins)
}

/// Books `patient` at `start` and cancels it: the hold it leaves.
async fn free(d: &Diary, patient: usize, start: &str) -> SlotHold {
    let appt = d
        .store
        .book_appointment(
            d.scope,
            &booking(d, patient, start, &format!("free-{patient}-{start}")),
        )
        .await
        .unwrap();
    d.store
        .cancel_appointment(d.scope, appt.id, Actor::Agent)
        .await
        .unwrap();
    let holds = d.store.pending_holds(d.scope, 100).await.unwrap();
    holds
        .into_iter()
        .find(|h| h.source_appointment == appt.id)
        .expect("a hold for the cancelled appointment")
}

async fn notices(d: &Diary) -> Vec<OutboxItem> {
    d.store
        .claim_outbox("test", LEASE, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.purpose == OutboxPurpose::Notice)
        .collect()
}

/// Patients `0..n` with numbers, SMS connected.
async fn reachable_diary(db: &TestDb, n: usize) -> Diary {
    let d = diary(db, n).await;
    connect(&d, Provider::Twilio, "+6495550100").await;
    for p in 0..n {
        give_phone(&d, p, &format!("+64 21 555 04{p:02}")).await;
    }
    d
}

fn audited(audit: &[AuditEntry], action: &str) -> usize {
    audit.iter().filter(|e| e.action == action).count()
}

async fn joining_is_validated_idempotent_and_audited(db: &TestDb) {
    let d = diary(db, 1).await;
    let backwards = NewWaitlistEntry {
        window_start: ts(WED.1),
        window_end: ts(WED.0),
        ..wants(&d, 0, WED)
    };
    assert_err!(
        d.store.join_waitlist(d.scope, &backwards).await,
        StoreError::Invalid(_)
    );
    let over = NewWaitlistEntry {
        window_start: ts("2026-11-20T20:00:00Z"),
        window_end: ts("2026-11-21T04:00:00Z"),
        ..wants(&d, 0, WED)
    };
    assert_err!(
        d.store.join_waitlist(d.scope, &over).await,
        StoreError::Invalid(_)
    );
    let unknown_service = NewWaitlistEntry {
        service: ServiceId::new(),
        ..wants(&d, 0, WED)
    };
    assert_err!(
        d.store.join_waitlist(d.scope, &unknown_service).await,
        StoreError::NotFound
    );
    let unknown_practitioner = NewWaitlistEntry {
        practitioner: Some(PractitionerId::new()),
        ..wants(&d, 0, WED)
    };
    assert_err!(
        d.store.join_waitlist(d.scope, &unknown_practitioner).await,
        StoreError::NotFound
    );
    let unknown_patient = NewWaitlistEntry {
        patient: PatientId::new(),
        ..wants(&d, 0, WED)
    };
    assert_err!(
        d.store.join_waitlist(d.scope, &unknown_patient).await,
        StoreError::NotFound
    );
    assert!(
        audited(
            &all_audit(d.store.as_ref(), d.scope).await,
            "waitlist.joined"
        ) == 0,
        "nothing refused is audited"
    );

    let first = join(&d, wants(&d, 0, WED)).await;
    assert_eq!(
        (first.status, first.practitioner, first.window_start),
        (WaitlistStatus::Waiting, None, ts(WED.0))
    );
    let again = join(&d, wants(&d, 0, WED)).await;
    assert_eq!(again, first, "the same request answers the same entry");
    let with_her = NewWaitlistEntry {
        practitioner: Some(d.practitioner),
        ..wants(&d, 0, WED)
    };
    let second = join(&d, with_her).await;
    assert_ne!(
        second.id, first.id,
        "another practitioner is another request"
    );
    let thursday = join(&d, wants(&d, 0, THU)).await;
    let listed: Vec<_> = d
        .store
        .patient_waitlist(d.scope, d.patients[0])
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed, [first.id, second.id, thursday.id], "oldest first");

    let audit = all_audit(d.store.as_ref(), d.scope).await;
    let joined: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "waitlist.joined")
        .collect();
    assert_eq!(joined.len(), 3, "the repeated join is audited once");
    assert_eq!(joined[0].target_kind.as_deref(), Some("waitlist_entry"));
    assert_eq!(joined[0].target_id, Some(first.id.to_string()));
    assert_eq!(joined[0].actor_id, Some(d.patients[0].to_string()));

    d.store
        .withdraw_waitlist(d.scope, second.id, Actor::Agent)
        .await
        .unwrap();
    d.store
        .withdraw_waitlist(d.scope, second.id, Actor::Agent)
        .await
        .unwrap();
    assert_err!(
        d.store
            .withdraw_waitlist(d.scope, WaitlistEntryId::new(), Actor::Agent)
            .await,
        StoreError::NotFound
    );
    let listed: Vec<_> = d
        .store
        .patient_waitlist(d.scope, d.patients[0])
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed, [first.id, thursday.id]);
    assert_eq!(
        audited(
            &all_audit(d.store.as_ref(), d.scope).await,
            "waitlist.withdrawn"
        ),
        1
    );
    // Joining again after withdrawing is a new entry.
    let rejoined = join(
        &d,
        NewWaitlistEntry {
            practitioner: Some(d.practitioner),
            ..wants(&d, 0, WED)
        },
    )
    .await;
    assert_ne!(rejoined.id, second.id);
}

async fn freeing_a_booked_time_leaves_exactly_one_hold(db: &TestDb) {
    let d = diary(db, 2).await;
    // Nobody waiting yet: a cancellation leaves no hold.
    let early = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "early"))
        .await
        .unwrap();
    d.store
        .cancel_appointment(d.scope, early.id, Actor::Agent)
        .await
        .unwrap();
    assert!(d.store.pending_holds(d.scope, 10).await.unwrap().is_empty());

    join(&d, wants(&d, 1, WED)).await;
    let appt = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "k1"))
        .await
        .unwrap();
    d.store
        .cancel_appointment(d.scope, appt.id, Actor::Agent)
        .await
        .unwrap();
    d.store
        .cancel_appointment(d.scope, appt.id, Actor::Agent)
        .await
        .unwrap();
    let holds = d.store.pending_holds(d.scope, 10).await.unwrap();
    assert_eq!(holds.len(), 1, "cancelling again adds no hold");
    let hold = &holds[0];
    assert_eq!(
        (
            hold.source_appointment,
            hold.practitioner,
            hold.service,
            hold.starts_at,
            hold.status,
            hold.expires_at,
            hold.appointment
        ),
        (
            appt.id,
            d.practitioner,
            d.service,
            ts(WED_10),
            HoldStatus::Pending,
            None,
            None
        )
    );
    assert_eq!(d.store.hold(d.scope, hold.id).await.unwrap(), *hold);
    assert_err!(
        d.store.hold(d.scope, SlotHoldId::new()).await,
        StoreError::NotFound
    );

    // A move frees the old time too (Wed 11:00 → 14:00).
    let moving = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, "2026-11-24T22:00:00Z", "k2"))
        .await
        .unwrap();
    let moved = d
        .store
        .reschedule_appointment(
            d.scope,
            moving.id,
            ts("2026-11-25T01:00:00Z"),
            d.practitioner,
            Actor::Agent,
            "move-1",
        )
        .await
        .unwrap();
    let holds = d.store.pending_holds(d.scope, 10).await.unwrap();
    assert_eq!(
        holds
            .iter()
            .map(|h| (h.source_appointment, h.starts_at))
            .collect::<Vec<_>>(),
        [
            (appt.id, ts(WED_10)),
            (moving.id, ts("2026-11-24T22:00:00Z"))
        ],
        "soonest first"
    );
    // A time nobody waits for (Thursday) leaves no hold.
    let thu = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, "2026-11-25T21:00:00Z", "k3"))
        .await
        .unwrap();
    d.store
        .cancel_appointment(d.scope, thu.id, Actor::Agent)
        .await
        .unwrap();
    d.store
        .cancel_appointment(d.scope, moved.id, Actor::Agent)
        .await
        .unwrap();
    assert_eq!(d.store.pending_holds(d.scope, 10).await.unwrap().len(), 3);
    assert_eq!(d.store.pending_holds(d.scope, 1).await.unwrap().len(), 1);
}

async fn offers_go_in_join_order_to_reachable_matching_patients_only(db: &TestDb) {
    let d = reachable_diary(db, 9).await;
    let other_service = d
        .store
        .add_service(
            d.scope,
            &NewService {
                name: "Follow-up".into(),
                duration_min: 30,
                buffer_min: 0,
                price_minor: None,
            },
        )
        .await
        .unwrap();
    let other_practitioner = d
        .store
        .add_practitioner(d.scope, "Hemi Walker", "Physiotherapist")
        .await
        .unwrap();
    let opted_out = phone("+64 21 555 0404");
    d.store
        .record_consent(
            d.scope,
            Channel::Sms,
            &opted_out,
            ConsentChange::OptOut,
            "test",
        )
        .await
        .unwrap();
    // Patient 8 has no number.
    let p8 = d
        .store
        .create_patient(d.scope, &NewPatient::default())
        .await
        .unwrap();
    let conversations: Vec<ConversationId> = {
        let mut c = Vec::new();
        for p in 0..9 {
            c.push(
                d.store
                    .start_conversation(d.scope, d.patients[p], Channel::Sms)
                    .await
                    .unwrap(),
            );
        }
        c
    };
    // In join order:
    join(&d, wants(&d, 0, WED)).await; // the patient who gives the time up
    join(
        &d,
        NewWaitlistEntry {
            service: other_service,
            ..wants(&d, 1, WED)
        },
    )
    .await;
    join(
        &d,
        NewWaitlistEntry {
            practitioner: Some(other_practitioner),
            ..wants(&d, 2, WED)
        },
    )
    .await;
    join(&d, wants(&d, 3, THU)).await;
    join(&d, wants(&d, 4, WED)).await; // opted out
    join(
        &d,
        NewWaitlistEntry {
            patient: p8,
            actor: Actor::Agent,
            ..wants(&d, 0, WED)
        },
    )
    .await; // no phone
    let e5 = join(&d, wants(&d, 5, WED)).await;
    let e6 = join(
        &d,
        NewWaitlistEntry {
            practitioner: Some(d.practitioner),
            ..wants(&d, 6, WED)
        },
    )
    .await;
    join(&d, wants(&d, 7, WED)).await; // beyond max_offers
    join(&d, wants(&d, 5, WED)).await; // the same request again: still one entry

    let hold = free(&d, 0, WED_10).await;
    let expires = later(&d, 120);
    let offer = d
        .store
        .offer_hold(d.scope, hold.id, 2, expires, TEXT)
        .await
        .unwrap();
    assert_eq!(offer, HoldOffer::Offered { patients: 2 });
    let out = notices(&d).await;
    let mut to: Vec<_> = out.iter().map(|i| i.to.clone()).collect();
    to.sort_by_key(|p| p.as_str().to_owned());
    assert_eq!(
        to,
        [phone("+64 21 555 0405"), phone("+64 21 555 0406")],
        "patients 5 and 6, in join order after the skipped ones"
    );
    assert!(
        out.iter()
            .all(|i| i.body == TEXT && i.channel == Channel::Sms)
    );
    for (p, conv) in conversations.iter().enumerate() {
        let c = d.store.conversation(d.scope, *conv).await.unwrap();
        let expected = (p == 5 || p == 6).then_some(hold.id);
        assert_eq!(c.offered_hold, expected, "patient {p}'s conversation");
    }
    let offered = d.store.hold(d.scope, hold.id).await.unwrap();
    assert_eq!(
        (offered.status, offered.expires_at),
        (HoldStatus::Offered, Some(expires))
    );
    // Nothing further: the hold is no longer pending.
    assert!(d.store.pending_holds(d.scope, 10).await.unwrap().is_empty());
    assert_eq!(
        d.store
            .offer_hold(d.scope, hold.id, 8, expires, TEXT)
            .await
            .unwrap(),
        HoldOffer::NotPending
    );
    assert!(notices(&d).await.is_empty());
    assert_err!(
        d.store
            .offer_hold(d.scope, SlotHoldId::new(), 8, expires, TEXT)
            .await,
        StoreError::NotFound
    );
    let audit = all_audit(d.store.as_ref(), d.scope).await;
    let offers: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "waitlist.offered")
        .collect();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].target_id, Some(hold.id.to_string()));
    assert!(
        offers[0].details.contains("\"offered\":2"),
        "{}",
        offers[0].details
    );
    assert!(
        offers[0].details.contains("\"skipped\":2"),
        "the opted-out patient and the one without a number"
    );
    for e in &audit {
        assert!(
            // The patients' numbers in any form (ids are random hex and may hold "555").
            !e.details.contains("2155504")
                && !e.details.contains("21 555 04")
                && !e.details.contains("came free"),
            "no phone or text in the audit: {}",
            e.details
        );
    }
    // The entries offered stay waiting until one is taken.
    for (p, e) in [(5, e5.id), (6, e6.id)] {
        let waiting = d
            .store
            .patient_waitlist(d.scope, d.patients[p])
            .await
            .unwrap();
        assert_eq!(waiting.iter().map(|e| e.id).collect::<Vec<_>>(), [e]);
    }
}

async fn a_freed_time_that_is_no_longer_free_is_offered_to_nobody(db: &TestDb) {
    let d = reachable_diary(db, 2).await;
    join(&d, wants(&d, 1, WED)).await;
    // Moved by a quarter of an hour: the old 10:00 is freed, yet still overlapped by the new time.
    let appt = d
        .store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "k1"))
        .await
        .unwrap();
    d.store
        .reschedule_appointment(
            d.scope,
            appt.id,
            ts("2026-11-24T21:15:00Z"),
            d.practitioner,
            Actor::Agent,
            "move-1",
        )
        .await
        .unwrap();
    let holds = d.store.pending_holds(d.scope, 10).await.unwrap();
    assert_eq!(holds.len(), 1);
    assert_eq!(
        d.store
            .offer_hold(d.scope, holds[0].id, 5, later(&d, 60), TEXT)
            .await
            .unwrap(),
        HoldOffer::Offered { patients: 0 }
    );
    assert_eq!(
        d.store.hold(d.scope, holds[0].id).await.unwrap().status,
        HoldStatus::Unmatched
    );
    assert!(notices(&d).await.is_empty());
    assert_err!(
        d.store
            .offer_hold(d.scope, holds[0].id, 0, later(&d, 60), TEXT)
            .await,
        StoreError::Invalid(_)
    );
}

async fn taking_needs_an_offer_made_before_expiry(db: &TestDb) {
    let d = reachable_diary(db, 4).await;
    let e1 = join(&d, wants(&d, 1, WED)).await;
    join(&d, wants(&d, 2, WED)).await; // waiting, but not offered (max_offers 1)
    let hold = free(&d, 0, WED_10).await;
    let offer = d
        .store
        .offer_hold(d.scope, hold.id, 1, later(&d, 30), TEXT)
        .await
        .unwrap();
    assert_eq!(offer, HoldOffer::Offered { patients: 1 });
    for p in [2, 3, 0] {
        assert_eq!(
            d.store
                .take_hold(
                    d.scope,
                    hold.id,
                    d.patients[p],
                    Actor::Patient(d.patients[p])
                )
                .await
                .unwrap(),
            TakeOutcome::NotOffered,
            "patient {p}"
        );
    }
    assert_err!(
        d.store
            .take_hold(d.scope, SlotHoldId::new(), d.patients[1], Actor::Agent)
            .await,
        StoreError::NotFound
    );
    d.clock.advance(SignedDuration::from_mins(31));
    assert_eq!(
        d.store.hold(d.scope, hold.id).await.unwrap().status,
        HoldStatus::Expired,
        "an offer that ran out reads as expired"
    );
    assert_eq!(
        d.store
            .take_hold(
                d.scope,
                hold.id,
                d.patients[1],
                Actor::Patient(d.patients[1])
            )
            .await
            .unwrap(),
        TakeOutcome::Gone
    );
    assert!(
        d.store
            .patient_appointments(d.scope, d.patients[1], d.clock.now())
            .await
            .unwrap()
            .is_empty()
    );
    // The entry is still waiting for the next time.
    assert_eq!(
        d.store
            .patient_waitlist(d.scope, d.patients[1])
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        [e1.id]
    );
}

async fn a_taken_hold_stays_taken_even_when_its_time_frees_again(db: &TestDb) {
    let d = reachable_diary(db, 3).await;
    let e1 = join(&d, wants(&d, 1, WED)).await;
    join(&d, wants(&d, 2, WED)).await;
    let hold = free(&d, 0, WED_10).await;
    d.store
        .offer_hold(d.scope, hold.id, 2, later(&d, 30), TEXT)
        .await
        .unwrap();
    let TakeOutcome::Booked(appt) = d
        .store
        .take_hold(
            d.scope,
            hold.id,
            d.patients[1],
            Actor::Patient(d.patients[1]),
        )
        .await
        .unwrap()
    else {
        panic!("the first to confirm gets it")
    };
    assert_eq!(
        (
            appt.patient_id,
            appt.practitioner_id,
            appt.service_id,
            appt.starts_at,
            appt.status
        ),
        (
            d.patients[1],
            d.practitioner,
            d.service,
            ts(WED_10),
            AppointmentStatus::Booked
        )
    );
    let taken = d.store.hold(d.scope, hold.id).await.unwrap();
    assert_eq!(
        (taken.status, taken.appointment),
        (HoldStatus::Taken, Some(appt.id))
    );
    assert!(
        d.store
            .patient_waitlist(d.scope, d.patients[1])
            .await
            .unwrap()
            .iter()
            .all(|e| e.id != e1.id),
        "the entry is booked"
    );
    assert_err!(
        d.store
            .withdraw_waitlist(d.scope, e1.id, Actor::Agent)
            .await,
        StoreError::Conflict(_)
    );
    // Confirming again answers the same booking.
    assert_eq!(
        d.store
            .take_hold(d.scope, hold.id, d.patients[1], Actor::Agent)
            .await
            .unwrap(),
        TakeOutcome::Booked(appt.clone())
    );
    let audit = all_audit(d.store.as_ref(), d.scope).await;
    assert_eq!(audited(&audit, "waitlist.taken"), 1);
    assert!(
        audit
            .iter()
            .any(|e| e.action == "appointment.booked" && e.target_id == Some(appt.id.to_string()))
    );
    // The winner cancels: the time is free again, but this hold is spent (a new hold is made
    // for the new cancellation and offered afresh).
    d.store
        .cancel_appointment(d.scope, appt.id, Actor::Agent)
        .await
        .unwrap();
    assert_eq!(
        d.store
            .take_hold(
                d.scope,
                hold.id,
                d.patients[2],
                Actor::Patient(d.patients[2])
            )
            .await
            .unwrap(),
        TakeOutcome::Gone
    );
    assert_eq!(
        d.store.hold(d.scope, hold.id).await.unwrap().appointment,
        Some(appt.id)
    );
    let pending = d.store.pending_holds(d.scope, 10).await.unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|h| h.source_appointment)
            .collect::<Vec<_>>(),
        [appt.id]
    );
}

async fn a_time_booked_meanwhile_makes_the_hold_gone(db: &TestDb) {
    let d = reachable_diary(db, 3).await;
    join(&d, wants(&d, 1, WED)).await;
    let hold = free(&d, 0, WED_10).await;
    d.store
        .offer_hold(d.scope, hold.id, 1, later(&d, 30), TEXT)
        .await
        .unwrap();
    // Someone books 10:00 by the ordinary route while the offer is out.
    d.store
        .book_appointment(d.scope, &booking(&d, 2, WED_10, "walk-in"))
        .await
        .unwrap();
    assert_eq!(
        d.store
            .take_hold(
                d.scope,
                hold.id,
                d.patients[1],
                Actor::Patient(d.patients[1])
            )
            .await
            .unwrap(),
        TakeOutcome::Gone
    );
    assert_eq!(
        d.store.hold(d.scope, hold.id).await.unwrap().status,
        HoldStatus::Expired
    );
    assert_eq!(
        d.store
            .patient_waitlist(d.scope, d.patients[1])
            .await
            .unwrap()
            .len(),
        1,
        "still waiting"
    );
    assert_eq!(
        audited(
            &all_audit(d.store.as_ref(), d.scope).await,
            "waitlist.taken"
        ),
        0
    );
}

async fn eight_patients_confirming_at_once_yield_exactly_one_booking(db: &TestDb) {
    let d = reachable_diary(db, 9).await;
    for p in 1..9 {
        join(&d, wants(&d, p, WED)).await;
    }
    let hold = free(&d, 0, WED_10).await;
    assert_eq!(
        d.store
            .offer_hold(d.scope, hold.id, 8, later(&d, 30), TEXT)
            .await
            .unwrap(),
        HoldOffer::Offered { patients: 8 }
    );
    let hold_id = hold.id;
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for p in 1..9 {
        let (store, scope, patient, barrier) =
            (d.store.clone(), d.scope, d.patients[p], barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .take_hold(scope, hold_id, patient, Actor::Patient(patient))
                .await
                .unwrap()
        }));
    }
    let mut booked = Vec::new();
    let mut gone = 0;
    for t in tasks {
        match t.await.unwrap() {
            TakeOutcome::Booked(a) => booked.push(a),
            TakeOutcome::Gone => gone += 1,
            TakeOutcome::NotOffered => panic!("every one of them was offered the time"),
        }
    }
    assert_eq!(
        (booked.len(), gone),
        (1, 7),
        "one winner, seven told it is gone"
    );
    let winner = &booked[0];
    let mut live_at_ten = Vec::new();
    for p in &d.patients {
        for a in d
            .store
            .patient_appointments(d.scope, *p, d.clock.now())
            .await
            .unwrap()
        {
            if a.starts_at == ts(WED_10) {
                live_at_ten.push(a.id);
            }
        }
    }
    assert_eq!(
        live_at_ten,
        [winner.id],
        "exactly one live appointment at 10:00"
    );
    let taken = d.store.hold(d.scope, hold.id).await.unwrap();
    assert_eq!(
        (taken.status, taken.appointment),
        (HoldStatus::Taken, Some(winner.id))
    );
    let audit = all_audit(d.store.as_ref(), d.scope).await;
    assert_eq!(audited(&audit, "waitlist.taken"), 1);
    // The losers are still waiting; the winner is not.
    for p in 1..9 {
        let waiting = d
            .store
            .patient_waitlist(d.scope, d.patients[p])
            .await
            .unwrap()
            .len();
        assert_eq!(waiting, usize::from(d.patients[p] != winner.patient_id));
    }
}

/// Eight instances' waitlist passes offer the same freed time at once: one claims it and
/// messages each matching patient once; the others find it no longer pending.
async fn a_freed_time_offered_by_eight_instances_at_once_is_offered_once(db: &TestDb) {
    let d = reachable_diary(db, 3).await;
    for p in 1..3 {
        d.store
            .start_conversation(d.scope, d.patients[p], Channel::Sms)
            .await
            .unwrap();
    }
    join(&d, wants(&d, 1, WED)).await;
    join(&d, wants(&d, 2, WED)).await;
    let hold = free(&d, 0, WED_10).await;
    let expires = later(&d, 60);
    let offers: Vec<_> = (0..8)
        .map(|_| {
            let (store, scope) = (d.store.clone(), d.scope);
            tokio::spawn(async move { store.offer_hold(scope, hold.id, 3, expires, TEXT).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for o in offers {
        outcomes.push(o.await.unwrap().unwrap());
    }
    let offered: Vec<_> = outcomes
        .iter()
        .filter(|o| **o != HoldOffer::NotPending)
        .collect();
    assert_eq!(
        offered,
        [&HoldOffer::Offered { patients: 2 }],
        "{outcomes:?}"
    );
    assert_eq!(notices(&d).await.len(), 2, "each patient messaged once");
    let audit = all_audit(d.store.as_ref(), d.scope).await;
    assert_eq!(audited(&audit, "waitlist.offered"), 1);
}
