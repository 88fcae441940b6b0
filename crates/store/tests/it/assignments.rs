//! Assignments and drafts on both engines: what a Doctor or Read-Only Doctor may reach (a
//! conversation assigned to them, its patient and recordings; their practitioner's
//! appointments and the patients booked with them), nothing of another clinic's, every
//! change audited; and replies drafted by one staff member, sealed with the patient's key,
//! sent once by someone else through the same outbox, or discarded.

use crate::appointments::{WED_10, booking, diary};
use crate::harness::*;
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    a_conversation_assigned_brings_its_patient_and_recordings,
    a_linked_practitioner_brings_their_appointments_and_patients,
    assignments_stay_inside_their_clinic_and_need_active_staff,
    a_draft_is_sent_once_by_someone_else_through_the_outbox,
    a_draft_can_be_discarded_and_never_leaves_its_clinic,
);

const HOLD: SignedDuration = SignedDuration::from_mins(15);

async fn staff(store: &dyn Store, scope: TenantScope, name: &str, role: Role) -> UserId {
    let new = NewUser {
        email: email(&format!(
            "{}@example.org",
            name.to_lowercase().replace(' ', ".")
        )),
        name: name.to_owned(),
        role,
    };
    store.create_user(scope, &new).await.unwrap()
}

async fn audit(store: &dyn Store, scope: TenantScope) -> Vec<AuditEntry> {
    store.audit_entries(scope, 0, 1000).await.unwrap()
}

fn count(entries: &[AuditEntry], action: &str) -> usize {
    entries.iter().filter(|e| e.action == action).count()
}

async fn a_conversation_assigned_brings_its_patient_and_recordings(db: &TestDb) {
    let store = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let doctor = staff(&*store, a.scope, "Aroha Doctor", Role::Doctor).await;
    let conv = Assignable::Conversation(a.conversation);
    let patient = Assignable::Patient(a.patient);
    assert!(!store.is_assigned(a.scope, doctor, conv).await.unwrap());
    assert!(!store.is_assigned(a.scope, doctor, patient).await.unwrap());
    let mine = InboxQuery {
        assignee: Some(doctor),
        limit: 50,
        ..InboxQuery::default()
    };
    assert!(
        store
            .inbox(a.scope, doctor, &mine)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .assign_conversation(a.scope, a.conversation, Some(doctor), Actor::Staff(a.user))
        .await
        .unwrap();
    assert!(store.is_assigned(a.scope, doctor, conv).await.unwrap());
    assert!(store.is_assigned(a.scope, doctor, patient).await.unwrap());
    // Not the clinic's other conversation, and not to anyone else.
    assert!(
        !store
            .is_assigned(
                a.scope,
                doctor,
                Assignable::Conversation(a.webchat_conversation)
            )
            .await
            .unwrap()
    );
    assert!(!store.is_assigned(a.scope, a.user, conv).await.unwrap());
    let listed = store.inbox(a.scope, doctor, &mine).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.conversation).collect::<Vec<_>>(),
        [a.conversation]
    );
    assert_eq!(
        listed[0].assignee,
        Some((doctor, "Aroha Doctor".to_owned())),
        "the inbox names the assignee"
    );
    // Assigning again is no change (and no second audit entry).
    store
        .assign_conversation(a.scope, a.conversation, Some(doctor), Actor::Staff(a.user))
        .await
        .unwrap();
    let entries = audit(&*store, a.scope).await;
    assert_eq!(count(&entries, "conversation.assigned"), 1);
    let e = entries
        .iter()
        .find(|e| e.action == "conversation.assigned")
        .unwrap();
    assert_eq!(e.actor_id, Some(a.user.to_string()));
    assert_eq!(e.target_id, Some(a.conversation.to_string()));
    assert!(e.details.contains(&doctor.to_string()));

    // A call's recording comes with the call's conversation.
    let caller = phone("+64 21 555 0177");
    let call = store
        .start_call(a.scope, "CA0001", &caller, "Hello")
        .await
        .unwrap()
        .call;
    let rec = store
        .note_recording(a.scope, "CA0001", "RE0001", Some(12))
        .await
        .unwrap()
        .unwrap();
    let recording = Assignable::Recording(rec);
    assert!(!store.is_assigned(a.scope, doctor, recording).await.unwrap());
    store
        .assign_conversation(a.scope, call.conversation, Some(doctor), Actor::Operator)
        .await
        .unwrap();
    assert!(store.is_assigned(a.scope, doctor, recording).await.unwrap());
    assert!(
        store
            .is_assigned(a.scope, doctor, Assignable::Patient(call.patient))
            .await
            .unwrap()
    );

    // Taking the assignment away takes everything that came with it.
    store
        .assign_conversation(a.scope, a.conversation, None, Actor::Staff(a.user))
        .await
        .unwrap();
    assert!(!store.is_assigned(a.scope, doctor, conv).await.unwrap());
    assert!(!store.is_assigned(a.scope, doctor, patient).await.unwrap());
    assert_eq!(
        count(&audit(&*store, a.scope).await, "conversation.unassigned"),
        1
    );
    let listed = store.inbox(a.scope, doctor, &mine).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.conversation).collect::<Vec<_>>(),
        [call.conversation]
    );
}

async fn a_linked_practitioner_brings_their_appointments_and_patients(db: &TestDb) {
    let d = diary(db, 2).await;
    let store = &*d.store;
    let doctor = staff(store, d.scope, "Mere Doctor", Role::Doctor).await;
    let booked = store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "k1"))
        .await
        .unwrap();
    let appt = Assignable::Appointment(booked.id);
    let patient = Assignable::Patient(d.patients[0]);
    assert!(!store.is_assigned(d.scope, doctor, appt).await.unwrap());
    assert!(!store.is_assigned(d.scope, doctor, patient).await.unwrap());

    store
        .link_practitioner(d.scope, doctor, Some(d.practitioner), Actor::Operator)
        .await
        .unwrap();
    assert!(store.is_assigned(d.scope, doctor, appt).await.unwrap());
    assert!(store.is_assigned(d.scope, doctor, patient).await.unwrap());
    // A patient never booked with this practitioner is not theirs.
    assert!(
        !store
            .is_assigned(d.scope, doctor, Assignable::Patient(d.patients[1]))
            .await
            .unwrap()
    );
    // The link is part of the staff member's sessions and of the users list.
    let users = store.list_users(d.scope).await.unwrap();
    let me = users.iter().find(|u| u.id == doctor).unwrap();
    assert_eq!(me.practitioner, Some(d.practitioner));
    let entries = audit(store, d.scope).await;
    assert_eq!(count(&entries, "user.practitioner_linked"), 1);

    store
        .link_practitioner(d.scope, doctor, None, Actor::Operator)
        .await
        .unwrap();
    assert!(!store.is_assigned(d.scope, doctor, appt).await.unwrap());
    assert!(!store.is_assigned(d.scope, doctor, patient).await.unwrap());
    assert_eq!(
        count(&audit(store, d.scope).await, "user.practitioner_linked"),
        2
    );
    // An unknown practitioner is refused; an unknown user is not found.
    assert!(matches!(
        store
            .link_practitioner(
                d.scope,
                doctor,
                Some(PractitionerId::new()),
                Actor::Operator
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .link_practitioner(d.scope, UserId::new(), None, Actor::Operator)
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn assignments_stay_inside_their_clinic_and_need_active_staff(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let doctor = staff(&*store, a.scope, "Aroha Doctor", Role::Doctor).await;
    let far = staff(&*store, b.scope, "Far Doctor", Role::Doctor).await;
    // Another clinic's conversation is unknown here, and its staff are no assignees here.
    assert!(matches!(
        store
            .assign_conversation(a.scope, b.conversation, Some(doctor), Actor::Operator)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .assign_conversation(a.scope, a.conversation, Some(far), Actor::Operator)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .link_practitioner(a.scope, doctor, Some(b.practitioner), Actor::Operator)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .link_practitioner(a.scope, far, Some(a.practitioner), Actor::Operator)
            .await,
        Err(StoreError::NotFound)
    ));
    // A disabled staff member cannot be given work.
    store
        .set_user_active(a.scope, doctor, false, Actor::Operator)
        .await
        .unwrap();
    assert!(matches!(
        store
            .assign_conversation(a.scope, a.conversation, Some(doctor), Actor::Operator)
            .await,
        Err(StoreError::Invalid(_))
    ));
    // In clinic B, B's conversation assigned to B's doctor is not reachable from A's scope.
    store
        .assign_conversation(b.scope, b.conversation, Some(far), Actor::Operator)
        .await
        .unwrap();
    for what in [
        Assignable::Conversation(b.conversation),
        Assignable::Patient(b.patient),
    ] {
        assert!(!store.is_assigned(a.scope, far, what).await.unwrap());
        assert!(store.is_assigned(b.scope, far, what).await.unwrap());
    }
    assert!(
        audit(&*store, a.scope)
            .await
            .iter()
            .all(|e| e.action != "conversation.assigned")
    );
}

async fn a_draft_is_sent_once_by_someone_else_through_the_outbox(db: &TestDb) {
    let store = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let author = staff(&*store, a.scope, "Tama ReadOnly", Role::ReadOnlyDoctor).await;
    let text = "Please come in at 10 for the dressing change.";
    let draft = store
        .write_draft(a.scope, a.conversation, author, text)
        .await
        .unwrap();
    let waiting = store.drafts(a.scope, a.conversation).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].id, draft);
    assert_eq!(waiting[0].text, text);
    assert_eq!(waiting[0].author, author);
    assert_eq!(waiting[0].author_name, "Tama ReadOnly");
    // Its author cannot send it; someone who does not hold the conversation cannot either,
    // and a refused send leaves the draft waiting.
    assert_eq!(
        format!(
            "{:?}",
            store
                .send_draft(a.scope, a.conversation, draft, author, HOLD)
                .await
                .unwrap_err()
        ),
        format!("{:?}", StoreError::Conflict(OWN_DRAFT))
    );
    assert_eq!(
        format!(
            "{:?}",
            store
                .send_draft(a.scope, a.conversation, draft, a.user, HOLD)
                .await
                .unwrap_err()
        ),
        format!("{:?}", StoreError::Conflict(NOT_HOLDING))
    );
    assert_eq!(
        store.drafts(a.scope, a.conversation).await.unwrap().len(),
        1
    );
    let before = store.messages(a.scope, a.conversation).await.unwrap().len();

    store
        .take_over(a.scope, a.conversation, a.user, HOLD)
        .await
        .unwrap();
    let sent = store
        .send_draft(a.scope, a.conversation, draft, a.user, HOLD)
        .await
        .unwrap();
    let messages = store.messages(a.scope, a.conversation).await.unwrap();
    assert_eq!(messages.len(), before + 1);
    let m = messages.iter().find(|m| m.id == sent).unwrap();
    assert_eq!((m.sender, m.body.as_str()), (Sender::Staff, text));
    assert!(
        store
            .drafts(a.scope, a.conversation)
            .await
            .unwrap()
            .is_empty()
    );
    // Through the outbox, like any staff reply.
    let claimed = store
        .claim_outbox("o1", SignedDuration::from_secs(60), 10)
        .await
        .unwrap();
    assert!(
        claimed.iter().any(|o| o.message == Some(sent)),
        "queued to send"
    );
    // Once only.
    assert_eq!(
        format!(
            "{:?}",
            store
                .send_draft(a.scope, a.conversation, draft, a.user, HOLD)
                .await
                .unwrap_err()
        ),
        format!("{:?}", StoreError::Conflict(DRAFT_DECIDED))
    );
    let entries = audit(&*store, a.scope).await;
    assert_eq!(count(&entries, "draft.written"), 1);
    assert_eq!(count(&entries, "draft.sent"), 1);
    assert_eq!(count(&entries, "message.staff_sent"), 1);
    assert!(
        entries.iter().all(|e| !e.details.contains("dressing")),
        "no draft text in the audit log"
    );
}

async fn a_draft_can_be_discarded_and_never_leaves_its_clinic(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let author = staff(&*store, a.scope, "Tama ReadOnly", Role::ReadOnlyDoctor).await;
    assert!(matches!(
        store
            .write_draft(a.scope, a.conversation, author, "   ")
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .write_draft(a.scope, a.conversation, author, &"x".repeat(4097))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .write_draft(a.scope, b.conversation, author, "hello")
            .await,
        Err(StoreError::NotFound)
    ));
    let draft = store
        .write_draft(a.scope, a.conversation, author, "Call us back")
        .await
        .unwrap();
    // Not reachable through another conversation or another clinic.
    assert!(
        store
            .drafts(b.scope, a.conversation)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        format!(
            "{:?}",
            store
                .discard_draft(a.scope, a.webchat_conversation, draft, a.user)
                .await
                .unwrap_err()
        ),
        format!("{:?}", StoreError::NotFound)
    );
    assert_eq!(
        format!(
            "{:?}",
            store
                .discard_draft(b.scope, a.conversation, draft, b.user)
                .await
                .unwrap_err()
        ),
        format!("{:?}", StoreError::NotFound)
    );
    store
        .discard_draft(a.scope, a.conversation, draft, a.user)
        .await
        .unwrap();
    assert!(
        store
            .drafts(a.scope, a.conversation)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        format!(
            "{:?}",
            store
                .discard_draft(a.scope, a.conversation, draft, a.user)
                .await
                .unwrap_err()
        ),
        format!("{:?}", StoreError::Conflict(DRAFT_DECIDED))
    );
    assert_eq!(count(&audit(&*store, a.scope).await, "draft.discarded"), 1);
}
