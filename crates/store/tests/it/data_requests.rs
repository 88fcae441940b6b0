//! Data subject requests on both engines: erasing a patient destroys their data key, deletes
//! their rows in one transaction and keeps a ledger of ids and counts; their old ciphertexts,
//! put back from a copy, no longer open; another clinic is untouched; and the audit entries
//! about a target can be listed (a patient's access log), as can a clinic's patients (for a
//! whole-clinic export).

use crate::harness::*;
use crate::raw::Raw;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;

engine_tests!(
    erasing_a_patient_destroys_their_key_and_rows_and_keeps_a_ledger,
    the_audit_entries_about_a_target_are_listed_in_its_clinic_only,
    a_clinics_patients_are_listed_oldest_first_in_its_clinic_only,
);

/// The first free time with the seeded practitioner in the next two weeks.
async fn book(store: &dyn Store, s: &Seeded, key: &str) -> Appointment {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let search = SlotSearch {
        practitioner: s.practitioner,
        service: s.service,
        from: today,
        to: today.checked_add(jiff::Span::new().days(14)).unwrap(),
        min_notice: jiff::SignedDuration::from_hours(2),
        day_start: None,
        day_end: None,
        limit: 1,
    };
    let slot = store.free_slots(s.scope, &search).await.unwrap()[0].start;
    store
        .book_appointment(
            s.scope,
            &NewAppointment {
                patient: s.patient,
                practitioner: s.practitioner,
                service: s.service,
                starts_at: slot,
                idempotency_key: key.into(),
                actor: Actor::Agent,
            },
        )
        .await
        .unwrap()
}

async fn erasing_a_patient_destroys_their_key_and_rows_and_keeps_a_ledger(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    book(&*store, &a, "erase-a").await;
    book(&*store, &b, "erase-b").await;
    let call = store
        .start_call(a.scope, "CA00erase", &a.phone, "Hello")
        .await
        .unwrap()
        .call;
    assert_eq!(call.patient, a.patient, "the call is the same patient's");
    store
        .note_recording(a.scope, "CA00erase", "RE00erase", Some(20))
        .await
        .unwrap()
        .unwrap();
    let messages_before = store.messages(a.scope, a.conversation).await.unwrap().len();
    assert!(messages_before > 0);

    // A copy of their rows, as a stale backup or a replica would hold them.
    let mut raw = Raw::open(db).await;
    let p = a.patient.as_uuid();
    for (copy, sql) in [
        ("kept_patients", "SELECT * FROM patients WHERE id = $1"),
        (
            "kept_conversations",
            "SELECT * FROM conversations WHERE patient_id = $1",
        ),
        (
            "kept_messages",
            "SELECT * FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE patient_id = $1)",
        ),
    ] {
        raw.execute(format!("CREATE TABLE {copy} AS {sql}"), &[p])
            .await;
    }

    let actor = Actor::Staff(a.user);
    let erased = store
        .erase_patient(a.scope, a.patient, actor)
        .await
        .unwrap();
    assert_eq!(erased.patient, a.patient);
    assert_eq!(erased.counts.conversations, 2, "WhatsApp and the call");
    assert!(erased.counts.messages >= messages_before as u64);
    assert_eq!(
        (
            erased.counts.appointments,
            erased.counts.calls,
            erased.counts.recordings
        ),
        (1, 1, 1)
    );

    // Gone: the record, the conversation, the number, the key and every row of theirs.
    assert!(matches!(
        store.patient(a.scope, a.patient).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.conversation(a.scope, a.conversation).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .find_patient_by_phone(a.scope, &a.phone)
            .await
            .unwrap()
            .is_none()
    );
    for sql in [
        "SELECT COUNT(*) FROM patient_keys WHERE patient_id = $1",
        "SELECT COUNT(*) FROM patients WHERE id = $1",
        "SELECT COUNT(*) FROM conversations WHERE patient_id = $1",
        "SELECT COUNT(*) FROM appointments WHERE patient_id = $1",
        "SELECT COUNT(*) FROM call_recordings WHERE patient_id = $1",
        "SELECT COUNT(*) FROM messages WHERE conversation_id IN (SELECT id FROM kept_conversations)",
    ] {
        assert_eq!(raw.scalar(sql.to_owned(), &[p]).await, 0, "{sql}");
    }

    // The ledger and the audit entry keep ids and counts, nothing personal; the chain holds.
    let ledger = store.erasure_ledger(a.scope).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].patient, a.patient);
    assert_eq!(ledger[0].counts, erased.counts);
    assert_eq!(
        (ledger[0].actor_kind.as_str(), ledger[0].actor_id.clone()),
        ("staff", Some(a.user.to_string()))
    );
    let audit = store.audit_entries(a.scope, 0, 10_000).await.unwrap();
    let entry = audit.iter().find(|e| e.action == "patient.erased").unwrap();
    assert_eq!(entry.target_id, Some(a.patient.to_string()));
    assert!(!entry.details.contains(a.phone.as_str()));
    assert!(store.verify_audit_chain(a.scope).await.unwrap().is_intact());

    // Crypto-shredding: their old ciphertexts, put back from the copy, no longer open.
    for (table, copy) in [
        ("patients", "kept_patients"),
        ("conversations", "kept_conversations"),
        ("messages", "kept_messages"),
    ] {
        raw.execute(format!("INSERT INTO {table} SELECT * FROM {copy}"), &[])
            .await;
    }
    assert!(store.conversation(a.scope, a.conversation).await.is_ok());
    assert!(
        store.messages(a.scope, a.conversation).await.is_err(),
        "message text cannot be opened without the destroyed key"
    );
    assert!(
        store.patient(a.scope, a.patient).await.is_err(),
        "nor can the name and number"
    );

    // Once only, and never another clinic's patient; clinic B is untouched.
    assert!(matches!(
        store.erase_patient(a.scope, b.patient, actor).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.patient(b.scope, b.patient).await.is_ok());
    assert!(
        !store
            .messages(b.scope, b.conversation)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.erasure_ledger(b.scope).await.unwrap().is_empty());
    assert_eq!(
        store
            .patient_appointments(b.scope, b.patient, jiff::Timestamp::UNIX_EPOCH)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn the_audit_entries_about_a_target_are_listed_in_its_clinic_only(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    for _ in 0..3 {
        let ev =
            AuditEvent::new(Actor::Staff(a.user), "patient.viewed").target("patient", a.patient);
        store.append_audit(a.scope, &ev).await.unwrap();
    }
    let about = store
        .audit_about(a.scope, "patient", &a.patient.to_string(), 100)
        .await
        .unwrap();
    assert_eq!(
        about
            .iter()
            .filter(|e| e.action == "patient.viewed")
            .count(),
        3
    );
    assert!(
        about.windows(2).all(|w| w[0].seq < w[1].seq),
        "oldest first"
    );
    assert!(
        about
            .iter()
            .all(|e| e.target_id.as_deref() == Some(a.patient.to_string().as_str()))
    );
    let last_two = store
        .audit_about(a.scope, "patient", &a.patient.to_string(), 2)
        .await
        .unwrap();
    assert_eq!(last_two.len(), 2);
    assert_eq!(last_two[1].seq, about.last().unwrap().seq);
    assert!(
        store
            .audit_about(b.scope, "patient", &a.patient.to_string(), 100)
            .await
            .unwrap()
            .is_empty(),
        "another clinic sees nothing about it"
    );
}

async fn a_clinics_patients_are_listed_oldest_first_in_its_clinic_only(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let mut made = store.patient_ids(a.scope).await.unwrap();
    assert!(made.contains(&a.patient), "{made:?}");
    for _ in 0..3 {
        made.push(
            store
                .create_patient(a.scope, &NewPatient::default())
                .await
                .unwrap(),
        );
    }
    assert_eq!(store.patient_ids(a.scope).await.unwrap(), made);
    let theirs = store.patient_ids(b.scope).await.unwrap();
    assert!(theirs.contains(&b.patient), "{theirs:?}");
    assert!(
        theirs.iter().all(|p| !made.contains(p)),
        "each clinic lists its own patients only"
    );
    let gone = made.remove(1);
    store
        .erase_patient(a.scope, gone, Actor::Operator)
        .await
        .unwrap();
    assert_eq!(
        store.patient_ids(a.scope).await.unwrap(),
        made,
        "an erased patient is gone from the list"
    );
}
