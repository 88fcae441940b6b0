//! Phone calls on both engines: a call is its own voice conversation with the caller's
//! patient, started once per call sid, and ended once with a sealed note.

use crate::harness::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;

engine_tests!(
    a_call_is_a_voice_conversation_of_the_callers_patient_started_once,
    a_call_ends_once_with_its_note_and_closes_its_conversation,
    calls_stay_inside_their_clinic,
    a_phone_turn_reads_its_call_conversation_and_newest_messages_in_one_go,
);

const GREETING: &str = "Kia ora, you've reached Clinic alpha. Calls are stored encrypted.";

fn ended(note: &str) -> CallEnd {
    CallEnd {
        status: "completed".into(),
        duration_secs: Some(95),
        note: note.into(),
    }
}

async fn a_call_is_a_voice_conversation_of_the_callers_patient_started_once(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let first = store
        .start_call(a.scope, "CA0001", &a.phone, GREETING)
        .await
        .unwrap();
    assert!(first.started);
    assert_eq!(first.call.patient, a.patient, "found by caller id");
    assert_eq!(first.call.status, "in-progress");
    assert_eq!(first.call.started_at, start());
    let conv = store
        .conversation(a.scope, first.call.conversation)
        .await
        .unwrap();
    assert_eq!(conv.channel, Channel::Voice);
    assert_ne!(conv.id, a.conversation, "a new conversation per call");
    let messages = store.messages(a.scope, conv.id).await.unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].body, GREETING);
    // A retried webhook for the same call writes nothing and finds the same call.
    clock.advance(jiff::SignedDuration::from_secs(3));
    let again = store
        .start_call(a.scope, "CA0001", &a.phone, GREETING)
        .await
        .unwrap();
    assert!(!again.started);
    assert_eq!(again.call, first.call);
    assert_eq!(store.call(a.scope, "CA0001").await.unwrap(), first.call);
    assert_eq!(store.messages(a.scope, conv.id).await.unwrap().len(), 1);
    // An unknown number becomes a new patient with that number.
    let stranger = phone("+64 21 555 0777");
    let other = store
        .start_call(a.scope, "CA0002", &stranger, GREETING)
        .await
        .unwrap();
    assert_ne!(other.call.patient, a.patient);
    assert_eq!(
        store
            .patient(a.scope, other.call.patient)
            .await
            .unwrap()
            .phone,
        Some(stranger)
    );
    let audit = all_audit(&*store, a.scope).await;
    assert_eq!(
        audit.iter().filter(|e| e.action == "call.started").count(),
        2
    );
    assert_err!(
        store
            .start_call(a.scope, "CA 1; --", &a.phone, GREETING)
            .await,
        StoreError::Invalid(_)
    );
}

async fn a_call_ends_once_with_its_note_and_closes_its_conversation(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let call = store
        .start_call(a.scope, "CA0001", &a.phone, GREETING)
        .await
        .unwrap()
        .call;
    clock.advance(jiff::SignedDuration::from_secs(95));
    assert!(
        store
            .end_call(a.scope, "CA0001", &ended("Call ended: booked"))
            .await
            .unwrap()
    );
    let done = store.call(a.scope, "CA0001").await.unwrap();
    assert_eq!(done.status, "completed");
    assert_eq!(done.duration_secs, Some(95));
    assert_eq!(
        done.ended_at,
        Some(start() + jiff::SignedDuration::from_secs(95))
    );
    let conv = store
        .conversation(a.scope, call.conversation)
        .await
        .unwrap();
    assert_eq!(conv.status, "closed");
    let messages = store.messages(a.scope, call.conversation).await.unwrap();
    let last = messages.last().unwrap();
    assert_eq!(last.body, "Call ended: booked");
    assert_eq!(last.sender, Sender::System);
    // The second report of the same end (status callback after our own hang-up) is a no-op.
    assert!(
        !store
            .end_call(a.scope, "CA0001", &ended("again"))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .messages(a.scope, call.conversation)
            .await
            .unwrap()
            .len(),
        messages.len()
    );
    assert_err!(
        store.end_call(a.scope, "CA9999", &ended("x")).await,
        StoreError::NotFound
    );
    let bad = CallEnd {
        status: "in-progress".into(),
        ..ended("x")
    };
    assert_err!(
        store.end_call(a.scope, "CA0001", &bad).await,
        StoreError::Invalid(_)
    );
    assert!(
        all_audit(&*store, a.scope)
            .await
            .iter()
            .any(|e| e.action == "call.ended")
    );
}

async fn calls_stay_inside_their_clinic(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    store
        .start_call(a.scope, "CA0001", &a.phone, GREETING)
        .await
        .unwrap();
    assert_err!(store.call(b.scope, "CA0001").await, StoreError::NotFound);
    assert_err!(
        store.end_call(b.scope, "CA0001", &ended("x")).await,
        StoreError::NotFound
    );
    // The same sid in another clinic is another call (sids are per provider account).
    let other = store
        .start_call(b.scope, "CA0001", &b.phone, GREETING)
        .await
        .unwrap();
    assert!(other.started);
    assert_eq!(other.call.patient, b.patient);
    assert_eq!(
        store.call(a.scope, "CA0001").await.unwrap().patient,
        a.patient
    );
}

/// The phone line's one read per turn: the call, its conversation (dialogue state opened) and
/// only the newest messages asked for, oldest first; the same as the separate reads give.
async fn a_phone_turn_reads_its_call_conversation_and_newest_messages_in_one_go(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let (a, b) = seed_two(&*store).await;
    let call = store
        .start_call(a.scope, "CA0001", &a.phone, GREETING)
        .await
        .unwrap()
        .call;
    for i in 0..3 {
        clock.advance(jiff::SignedDuration::from_secs(5));
        let turn = Turn {
            inbound: Some(NewMessage::inbound(format!("question {i}"))),
            replies: vec![NewMessage::agent_reply(format!("answer {i}"))],
            dialogue_state: Some(format!("{{\"turn\":{i}}}")),
            ..Turn::default()
        };
        store
            .record_turn(a.scope, call.conversation, &turn)
            .await
            .unwrap();
    }
    let (read, conv, recent) = store.call_with_recent(a.scope, "CA0001", 3).await.unwrap();
    assert_eq!(read, store.call(a.scope, "CA0001").await.unwrap());
    assert_eq!(conv.id, call.conversation);
    assert_eq!(conv.channel, Channel::Voice);
    assert_eq!(conv.dialogue_state.as_deref(), Some("{\"turn\":2}"));
    let (alone, _) = store
        .conversation_with_recent(a.scope, call.conversation, 3)
        .await
        .unwrap();
    assert_eq!(
        (alone.last_message_at, alone.dialogue_state.as_deref()),
        (conv.last_message_at, conv.dialogue_state.as_deref())
    );
    let bodies: Vec<_> = recent.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["answer 1", "question 2", "answer 2"],
        "the newest, oldest first"
    );
    // None asked: the call and the conversation, no message read.
    let (_, conv, none) = store.call_with_recent(a.scope, "CA0001", 0).await.unwrap();
    assert!(none.is_empty());
    assert_eq!(conv.dialogue_state.as_deref(), Some("{\"turn\":2}"));
    // Another clinic's scope finds no such call.
    assert_err!(
        store.call_with_recent(b.scope, "CA0001", 3).await,
        StoreError::NotFound
    );
    assert_err!(
        store.call_with_recent(a.scope, "CA9999", 3).await,
        StoreError::NotFound
    );
}
