//! Conformance of conversations, messages and the audit chain on both engines: turns stored
//! whole and in order, redeliveries dropped without a trace, and an unbroken hash chain.

use crate::harness::*;
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    conversation_reads_back_and_needs_a_patient_of_the_tenant,
    recorded_turns_come_back_in_order_with_bodies_directions_and_senders,
    redelivered_inbound_message_is_a_duplicate_and_writes_nothing,
    a_conversation_is_read_with_its_newest_messages_oldest_first,
    audit_chain_is_contiguous_from_one_and_each_entry_links_to_the_previous,
);
postgres_tests!(
    a_turn_locks_its_conversation_before_the_clinics_audit_head,
    a_read_ended_without_waiting_leaves_no_transaction_open,
);

/// The turn's reads end their transaction without waiting (`end_read`): the `ROLLBACK` goes
/// out as the connection returns to the pool, and no session is left inside a transaction.
async fn a_read_ended_without_waiting_leaves_no_transaction_open(db: &TestDb) {
    let (store, _clock) = store_with_clock(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let (_, conv) = new_conversation(&*store, a, Channel::Sms).await;
    store
        .record_turn(a, conv, &turn(delivered("hello", "SM-read"), &["Hi!"]))
        .await
        .unwrap();
    let mut owner = owner_connection(db).await;
    for _ in 0..3 {
        let (read, history) = store.conversation_with_recent(a, conv, 10).await.unwrap();
        assert_eq!((read.id, history.len()), (conv, 2));
    }
    let sessions = "SELECT COUNT(*) FILTER (WHERE state = 'idle in transaction'), COUNT(*) \
                    FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
                    AND backend_type = 'client backend'";
    let mut seen = (1, 0);
    for _ in 0..100 {
        seen = sqlx::query_as::<_, (i64, i64)>(sessions)
            .fetch_one(&mut owner)
            .await
            .unwrap();
        if seen.0 == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        seen.0 == 0 && seen.1 > 0,
        "(in a transaction, sessions) = {seen:?}"
    );
}

/// A turn's write takes the conversation's row before the clinic's audit chain head, as every
/// other writer of both does (staff taking a conversation over, the statement-by-statement
/// write): the other order could deadlock with them. While another transaction holds the
/// conversation, a turn waiting for it must not hold the head.
async fn a_turn_locks_its_conversation_before_the_clinics_audit_head(db: &TestDb) {
    use sqlx::Connection;
    let (store, _clock) = store_with_clock(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let (_, conv) = new_conversation(&*store, a, Channel::Sms).await;
    let (mut holder, mut prober) = (owner_connection(db).await, owner_connection(db).await);
    let mut held = holder.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM conversations WHERE id = $1 FOR NO KEY UPDATE")
        .bind(conv.as_uuid())
        .execute(&mut *held)
        .await
        .unwrap();
    let mut t = turn(delivered("hello", "SM-lock"), &["Hi!"]);
    t.audit = vec![AuditEvent::new(Actor::Agent, "agent.replied").target("conversation", conv)];
    t.llm_usage = Some(llm_usage(conv, 10));
    let writer = store.clone();
    let turn = tokio::spawn(async move { writer.record_turn(a, conv, &t).await });
    // Until the turn waits for the conversation's row.
    let mut waited = false;
    for _ in 0..200 {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut prober)
        .await
        .unwrap();
        if n > 0 {
            waited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(waited, "the turn never waited for the held conversation");
    let mut probe = prober.begin().await.unwrap();
    let head = sqlx::query("SELECT 1 FROM audit_heads WHERE tenant_id = $1 FOR UPDATE NOWAIT")
        .bind(a.tenant_id().as_uuid())
        .execute(&mut *probe)
        .await;
    assert!(
        head.is_ok(),
        "the waiting turn holds the audit head: {head:?}"
    );
    probe.rollback().await.unwrap();
    held.rollback().await.unwrap();
    assert_eq!(turn.await.unwrap().unwrap().len(), 2);
    assert!(store.verify_audit_chain(a).await.unwrap().is_intact());
}

async fn conversation_reads_back_and_needs_a_patient_of_the_tenant(db: &TestDb) {
    let (store, _clock) = store_with_clock(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let patient = store
        .create_patient(a, &NewPatient::default())
        .await
        .unwrap();
    let id = store
        .start_conversation(a, patient, Channel::Sms)
        .await
        .unwrap();
    let expected = Conversation {
        id,
        patient_id: patient,
        channel: Channel::Sms,
        status: "open".into(),
        urgency: "normal".into(),
        created_at: start(),
        last_message_at: start(),
        summary: None,
        dialogue_state: None,
        verified_patient: None,
        reminded_appointment: None,
        offered_hold: None,
        held_by: None,
        hold_expires_at: None,
        assignee: None,
    };
    assert_eq!(store.conversation(a, id).await.unwrap(), expected);
    assert!(store.messages(a, id).await.unwrap().is_empty());
    let last = all_audit(&*store, a).await.pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.target_id),
        ("conversation.started", Some(id.to_string()))
    );

    assert_err!(
        store
            .start_conversation(a, PatientId::new(), Channel::Voice)
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store.conversation(a, ConversationId::new()).await,
        StoreError::NotFound
    );
    assert_err!(
        store.messages(a, ConversationId::new()).await,
        StoreError::NotFound
    );
    let t = turn(NewMessage::inbound("hello?"), &[]);
    assert_err!(
        store.record_turn(a, ConversationId::new(), &t).await,
        StoreError::NotFound
    );
}

async fn recorded_turns_come_back_in_order_with_bodies_directions_and_senders(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let (_, conv) = new_conversation(&*store, a, Channel::Sms).await;

    clock.advance(SignedDuration::from_mins(1));
    let first = Turn {
        inbound: Some(NewMessage::inbound(
            "Can I book for Tuesday? 🦷 <script>x</script>",
        )),
        job: None,
        replies: vec![
            NewMessage::agent_reply("Yes — 9:00 or 10:30?"),
            NewMessage {
                direction: Direction::Outbound,
                sender: Sender::System,
                body: "Reply STOP to opt out".into(),
                provider_message_id: None,
            },
        ],
        audit: vec![AuditEvent::new(Actor::Agent, "agent.replied").target("conversation", conv)],
        escalation: None,
        summary: None,
        dialogue_state: None,
        llm_usage: None,
    };
    let ids1 = store.record_turn(a, conv, &first).await.unwrap();
    clock.advance(SignedDuration::from_mins(1));
    let second = turn(
        delivered("10:30 please\nthanks", "SM0001"),
        &["Booked: Tuesday 10:30."],
    );
    let ids2 = store.record_turn(a, conv, &second).await.unwrap();
    assert_eq!((ids1.len(), ids2.len()), (3, 2));

    let t1 = start().checked_add(SignedDuration::from_mins(1)).unwrap();
    let t2 = start().checked_add(SignedDuration::from_mins(2)).unwrap();
    // On SMS the replies wait in the outbox ("queued") until the provider accepts them.
    let expected = [
        (
            ids1[0],
            Direction::Inbound,
            Sender::Patient,
            "Can I book for Tuesday? 🦷 <script>x</script>",
            "received",
            t1,
        ),
        (
            ids1[1],
            Direction::Outbound,
            Sender::Agent,
            "Yes — 9:00 or 10:30?",
            "queued",
            t1,
        ),
        (
            ids1[2],
            Direction::Outbound,
            Sender::System,
            "Reply STOP to opt out",
            "queued",
            t1,
        ),
        (
            ids2[0],
            Direction::Inbound,
            Sender::Patient,
            "10:30 please\nthanks",
            "received",
            t2,
        ),
        (
            ids2[1],
            Direction::Outbound,
            Sender::Agent,
            "Booked: Tuesday 10:30.",
            "queued",
            t2,
        ),
    ];
    let messages = store.messages(a, conv).await.unwrap();
    let got: Vec<_> = messages
        .iter()
        .map(|m| {
            (
                m.id,
                m.direction,
                m.sender,
                m.body.as_str(),
                m.status.as_str(),
                m.created_at,
            )
        })
        .collect();
    assert_eq!(got, expected);
    assert!(
        messages
            .iter()
            .all(|m| m.conversation_id == conv && m.channel == Channel::Sms)
    );

    let c = store.conversation(a, conv).await.unwrap();
    assert_eq!((c.created_at, c.last_message_at), (start(), t2));
    let audit = all_audit(&*store, a).await;
    assert!(
        audit
            .iter()
            .any(|e| e.action == "agent.replied" && e.actor_kind == "agent"),
        "the turn's audit event"
    );
}

async fn redelivered_inbound_message_is_a_duplicate_and_writes_nothing(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let (patient, conv) = new_conversation(&*store, a, Channel::Whatsapp).await;
    let mut original = turn(delivered("First delivery", "wamid.HBgL"), &["Reply"]);
    original
        .audit
        .push(AuditEvent::new(Actor::Agent, "agent.replied"));
    store.record_turn(a, conv, &original).await.unwrap();

    let messages_before = store.messages(a, conv).await.unwrap();
    let audit_before = all_audit(&*store, a).await;
    let conversation_before = store.conversation(a, conv).await.unwrap();
    let mut raw = crate::raw::Raw::open(db).await;
    let rows_before = raw.row_counts().await;

    clock.advance(SignedDuration::from_mins(5));
    let mut redelivery = turn(
        delivered("Second delivery, same id", "wamid.HBgL"),
        &["Another reply"],
    );
    redelivery
        .audit
        .push(AuditEvent::new(Actor::Agent, "agent.replied"));
    assert_err!(
        store.record_turn(a, conv, &redelivery).await,
        StoreError::Duplicate
    );

    assert_eq!(raw.row_counts().await, rows_before, "no row in any table");
    assert_eq!(store.messages(a, conv).await.unwrap(), messages_before);
    assert_eq!(all_audit(&*store, a).await, audit_before);
    assert_eq!(
        store.conversation(a, conv).await.unwrap(),
        conversation_before,
        "last_message_at unchanged"
    );

    // The same provider id on another channel, or in another clinic, is another message.
    let sms = store
        .start_conversation(a, patient, Channel::Sms)
        .await
        .unwrap();
    store
        .record_turn(a, sms, &turn(delivered("Via SMS", "wamid.HBgL"), &[]))
        .await
        .unwrap();
    let b = new_tenant(&*store, "beta-clinic").await;
    let pb = store
        .create_patient(b, &NewPatient::default())
        .await
        .unwrap();
    let cb = store
        .start_conversation(b, pb, Channel::Whatsapp)
        .await
        .unwrap();
    store
        .record_turn(b, cb, &turn(delivered("Other clinic", "wamid.HBgL"), &[]))
        .await
        .unwrap();
    assert_eq!(store.messages(b, cb).await.unwrap()[0].body, "Other clinic");
}

async fn audit_chain_is_contiguous_from_one_and_each_entry_links_to_the_previous(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let event = AuditEvent::new(Actor::Staff(a.user), "record.viewed")
        .target("patient", a.patient)
        .details(serde_json::json!({ "reason": "follow-up" }));
    store.append_audit(a.scope, &event).await.unwrap();

    for tenant in [&a, &b] {
        let entries = all_audit(&*store, tenant.scope).await;
        assert!(
            entries.len() >= 10,
            "every seeded operation is audited, got {}",
            entries.len()
        );
        assert_eq!(
            entries[0].prev_hash,
            vec![0u8; 32],
            "the chain starts at the genesis hash"
        );
        assert_eq!(entries[0].action, "tenant.created");
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.seq, i as i64 + 1, "seq is contiguous from 1");
            assert_eq!(e.hash.len(), 32);
        }
        for pair in entries.windows(2) {
            assert_eq!(
                pair[1].prev_hash, pair[0].hash,
                "entry {} links to entry {}",
                pair[1].seq, pair[0].seq
            );
            assert_ne!(pair[1].hash, pair[0].hash);
        }
    }

    let entries = all_audit(&*store, a.scope).await;
    let last = entries.last().unwrap();
    assert_eq!(
        (last.actor_kind.as_str(), last.actor_id.clone()),
        ("staff", Some(a.user.to_string()))
    );
    assert_eq!(
        (last.action.as_str(), last.target_kind.as_deref()),
        ("record.viewed", Some("patient"))
    );
    assert_eq!(last.target_id, Some(a.patient.to_string()));
    assert_eq!(last.details, r#"{"reason":"follow-up"}"#);

    assert_eq!(
        store.audit_entries(a.scope, 2, 3).await.unwrap(),
        entries[2..5]
    );
    assert!(
        store
            .audit_entries(a.scope, last.seq, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_conversation_is_read_with_its_newest_messages_oldest_first(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = new_tenant(&*store, "alpha-clinic").await;
    let b = new_tenant(&*store, "beta-clinic").await;
    let (patient, conv) = new_conversation(&*store, a, Channel::Voice).await;
    let other = store
        .start_conversation(a, patient, Channel::Sms)
        .await
        .unwrap();
    // A conversation without a message yet: itself, and no message.
    let (c, nothing) = store.conversation_with_recent(a, conv, 5).await.unwrap();
    assert_eq!(c, store.conversation(a, conv).await.unwrap());
    assert!(nothing.is_empty());
    for i in 0..7 {
        clock.advance(SignedDuration::from_secs(1));
        let mut t = turn(
            NewMessage::inbound(format!("question {i}")),
            &[&format!("answer {i}")],
        );
        t.dialogue_state = Some(format!("{{\"step\":{i}}}"));
        store.record_turn(a, conv, &t).await.unwrap();
        let t = turn(NewMessage::inbound(format!("elsewhere {i}")), &[]);
        store.record_turn(a, other, &t).await.unwrap();
    }
    let all = store.messages(a, conv).await.unwrap();
    assert_eq!(all.len(), 14);
    // The conversation as read alone (its dialogue state opened), and the newest five
    // messages in the conversation's order, opened like the whole read.
    let (c, recent) = store.conversation_with_recent(a, conv, 5).await.unwrap();
    assert_eq!(c, store.conversation(a, conv).await.unwrap());
    assert_eq!(c.dialogue_state.as_deref(), Some("{\"step\":6}"));
    assert_eq!(recent, all[9..]);
    assert_eq!(recent[0].body, "answer 4");
    let (_, everything) = store.conversation_with_recent(a, conv, 100).await.unwrap();
    assert_eq!(everything, all);
    let (_, none) = store.conversation_with_recent(a, conv, 0).await.unwrap();
    assert!(none.is_empty());
    let (_, elsewhere) = store.conversation_with_recent(a, other, 2).await.unwrap();
    let bodies: Vec<&str> = elsewhere.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["elsewhere 5", "elsewhere 6"]);
    // Another clinic's scope, or a conversation that does not exist: not found.
    assert_err!(
        store.conversation_with_recent(b, conv, 5).await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .conversation_with_recent(a, ConversationId::new(), 5)
            .await,
        StoreError::NotFound
    );
}
