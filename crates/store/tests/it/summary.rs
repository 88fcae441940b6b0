//! Conversation summaries, on both engines: written with the turn that produced them, read
//! back opened, never lowered by a summary computed from a stale read, sealed at rest and
//! bound to their conversation, untouched by a redelivery or a rejected summary, and
//! invisible to another tenant.

use crate::harness::{delivered, new_tenant, store, turn};
use crate::raw::Raw;
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;

engine_tests!(
    a_summary_is_written_with_the_turn_and_read_back,
    a_summary_from_a_stale_read_never_lowers_the_stored_level,
    a_summary_is_sealed_at_rest,
    a_summary_copied_onto_another_conversation_does_not_open,
    a_redelivered_turn_leaves_the_summary_unchanged,
    a_summary_holding_free_text_is_rejected_and_nothing_is_written,
    another_tenant_can_neither_read_nor_write_a_summary,
    the_dialogue_state_is_sealed_kept_across_turns_and_unchanged_by_redelivery,
);

fn emergency() -> ConversationSummary {
    ConversationSummary {
        reason: "red_flag:chest_pain".into(),
        triage_level: Urgency::Emergency,
        outcome: "escalated_emergency".into(),
        appointment: None,
        turns: 1,
    }
}

async fn conversation(store: &dyn Store, scope: TenantScope) -> ConversationId {
    let patient = store
        .create_patient(scope, &NewPatient::default())
        .await
        .unwrap();
    store
        .start_conversation(scope, patient, Channel::Whatsapp)
        .await
        .unwrap()
}

/// A turn carrying `summary`, delivered with `provider_id`.
fn summarised(body: &str, provider_id: &str, summary: ConversationSummary) -> Turn {
    let mut t = turn(delivered(body, provider_id), &["Noted."]);
    t.summary = Some(summary);
    t
}

async fn summary(
    store: &dyn Store,
    scope: TenantScope,
    conv: ConversationId,
) -> Option<ConversationSummary> {
    store.conversation(scope, conv).await.unwrap().summary
}

async fn a_summary_is_written_with_the_turn_and_read_back(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(store.as_ref(), "sum-clinic").await;
    let conv = conversation(store.as_ref(), scope).await;
    assert_eq!(
        summary(store.as_ref(), scope, conv).await,
        None,
        "none before any turn"
    );

    let first = ConversationSummary {
        reason: "opening_hours".into(),
        triage_level: Urgency::Normal,
        outcome: "answered".into(),
        appointment: None,
        turns: 1,
    };
    store
        .record_turn(scope, conv, &summarised("hours?", "wamid.1", first.clone()))
        .await
        .unwrap();
    assert_eq!(
        summary(store.as_ref(), scope, conv).await,
        Some(first.clone())
    );

    // A turn without a summary keeps the stored one.
    store
        .record_turn(
            scope,
            conv,
            &turn(delivered("ok", "wamid.2"), &["Anything else?"]),
        )
        .await
        .unwrap();
    assert_eq!(summary(store.as_ref(), scope, conv).await, Some(first));

    let booked = ConversationSummary {
        reason: "book".into(),
        triage_level: Urgency::Urgent,
        outcome: "flagged_urgent".into(),
        appointment: Some(AppointmentId::new()),
        turns: 3,
    };
    store
        .record_turn(scope, conv, &summarised("fever", "wamid.3", booked.clone()))
        .await
        .unwrap();
    let c = store.conversation(scope, conv).await.unwrap();
    assert_eq!(c.summary, Some(booked));
    assert_eq!(
        store.messages(scope, conv).await.unwrap().len(),
        6,
        "messages unaffected"
    );
}

async fn a_summary_from_a_stale_read_never_lowers_the_stored_level(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(store.as_ref(), "sum-clinic").await;
    let conv = conversation(store.as_ref(), scope).await;
    store
        .record_turn(
            scope,
            conv,
            &summarised("chest pain", "wamid.1", emergency()),
        )
        .await
        .unwrap();
    // A calm turn handled at the same time, summarised from the empty summary it read first.
    let stale = ConversationSummary {
        reason: "opening_hours".into(),
        triage_level: Urgency::Normal,
        outcome: "answered".into(),
        appointment: None,
        turns: 1,
    };
    store
        .record_turn(scope, conv, &summarised("hours?", "wamid.2", stale))
        .await
        .unwrap();
    assert_eq!(
        summary(store.as_ref(), scope, conv).await,
        Some(ConversationSummary {
            turns: 2,
            ..emergency()
        })
    );
}

async fn a_summary_is_sealed_at_rest(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(store.as_ref(), "sum-clinic").await;
    let conv = conversation(store.as_ref(), scope).await;
    store
        .record_turn(
            scope,
            conv,
            &summarised("chest pain", "wamid.1", emergency()),
        )
        .await
        .unwrap();
    let mut raw = Raw::open(db).await;
    let ct = raw
        .bytes("conversations", "summary_ct", conv.as_uuid())
        .await
        .expect("summary_ct written");
    assert_eq!(ct[0], 1, "sealed format version 1");
    for clear in [
        "chest_pain",
        "red_flag",
        "escalated_emergency",
        "emergency",
        "reason",
        "triage_level",
    ] {
        assert!(
            !ct.windows(clear.len()).any(|w| w == clear.as_bytes()),
            "{clear:?} in clear in summary_ct"
        );
    }
}

async fn a_summary_copied_onto_another_conversation_does_not_open(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(store.as_ref(), "sum-clinic").await;
    let patient = store
        .create_patient(scope, &NewPatient::default())
        .await
        .unwrap();
    // Same patient, so the same key: only the binding to the conversation id stops the swap.
    let from = store
        .start_conversation(scope, patient, Channel::Sms)
        .await
        .unwrap();
    let to = store
        .start_conversation(scope, patient, Channel::Sms)
        .await
        .unwrap();
    // Another patient's conversation, whose key differs as well.
    let other = conversation(store.as_ref(), scope).await;
    store
        .record_turn(scope, from, &summarised("chest pain", "SM-1", emergency()))
        .await
        .unwrap();
    let calm = ConversationSummary {
        reason: "opening_hours".into(),
        triage_level: Urgency::Normal,
        outcome: "answered".into(),
        appointment: None,
        turns: 1,
    };
    store
        .record_turn(scope, to, &summarised("hours?", "SM-2", calm))
        .await
        .unwrap();

    let mut raw = Raw::open(db).await;
    for target in [to, other] {
        raw.copy_column(
            "conversations",
            "summary_ct",
            from.as_uuid(),
            target.as_uuid(),
        )
        .await;
        assert_err!(
            store.conversation(scope, target).await,
            StoreError::Crypto(_)
        );
    }
    assert_eq!(
        summary(store.as_ref(), scope, from).await,
        Some(emergency())
    );
}

async fn a_redelivered_turn_leaves_the_summary_unchanged(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(store.as_ref(), "sum-clinic").await;
    let conv = conversation(store.as_ref(), scope).await;
    store
        .record_turn(
            scope,
            conv,
            &summarised("chest pain", "wamid.1", emergency()),
        )
        .await
        .unwrap();
    let recounted = ConversationSummary {
        turns: 2,
        ..emergency()
    };
    assert_err!(
        store
            .record_turn(scope, conv, &summarised("chest pain", "wamid.1", recounted))
            .await,
        StoreError::Duplicate
    );
    assert_eq!(
        summary(store.as_ref(), scope, conv).await,
        Some(emergency())
    );
}

async fn a_summary_holding_free_text_is_rejected_and_nothing_is_written(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(store.as_ref(), "sum-clinic").await;
    let conv = conversation(store.as_ref(), scope).await;
    let bad = [
        ConversationSummary {
            reason: "my chest hurts".into(),
            ..emergency()
        },
        ConversationSummary {
            outcome: "Told her to call 111".into(),
            ..emergency()
        },
        ConversationSummary {
            outcome: String::new(),
            ..emergency()
        },
        ConversationSummary {
            reason: "x".repeat(ConversationSummary::MAX_LABEL + 1),
            ..emergency()
        },
    ];
    for (i, s) in bad.into_iter().enumerate() {
        assert_err!(
            store
                .record_turn(scope, conv, &summarised("hi", &format!("SM-{i}"), s))
                .await,
            StoreError::Invalid(_)
        );
    }
    let c = store.conversation(scope, conv).await.unwrap();
    assert_eq!(c.summary, None);
    assert!(
        store.messages(scope, conv).await.unwrap().is_empty(),
        "the turn is not stored"
    );
}

async fn another_tenant_can_neither_read_nor_write_a_summary(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(store.as_ref(), "sum-a").await;
    let b = new_tenant(store.as_ref(), "sum-b").await;
    let conv = conversation(store.as_ref(), a).await;
    store
        .record_turn(a, conv, &summarised("chest pain", "wamid.1", emergency()))
        .await
        .unwrap();
    assert_err!(store.conversation(b, conv).await, StoreError::NotFound);
    let overwrite = ConversationSummary {
        reason: "greeting".into(),
        triage_level: Urgency::Normal,
        outcome: "answered".into(),
        appointment: None,
        turns: 9,
    };
    assert_err!(
        store
            .record_turn(b, conv, &summarised("hi", "wamid.2", overwrite))
            .await,
        StoreError::NotFound
    );
    assert_eq!(summary(store.as_ref(), a, conv).await, Some(emergency()));
}

async fn the_dialogue_state_is_sealed_kept_across_turns_and_unchanged_by_redelivery(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(store.as_ref(), "state-clinic").await;
    let conv = conversation(store.as_ref(), scope).await;
    let state = r#"{"booking":{"name":"Zebulon Quixote","phone":"+64215550199"}}"#;
    let mut t = turn(delivered("book me in", "SM-1"), &["Which day?"]);
    t.dialogue_state = Some(state.to_owned());
    store.record_turn(scope, conv, &t).await.unwrap();
    assert_eq!(
        store
            .conversation(scope, conv)
            .await
            .unwrap()
            .dialogue_state
            .as_deref(),
        Some(state)
    );
    let mut raw = Raw::open(db).await;
    let ct = raw
        .bytes("conversations", "state_ct", conv.as_uuid())
        .await
        .expect("state_ct written");
    let text = String::from_utf8_lossy(&ct);
    assert!(
        !text.contains("Zebulon") && !text.contains("5550199"),
        "the state is ciphertext at rest"
    );
    // A turn without a state keeps it; a redelivery changes nothing.
    store
        .record_turn(scope, conv, &turn(delivered("hello?", "SM-2"), &["Hi"]))
        .await
        .unwrap();
    assert_eq!(
        store
            .conversation(scope, conv)
            .await
            .unwrap()
            .dialogue_state
            .as_deref(),
        Some(state)
    );
    let mut again = turn(delivered("book me in", "SM-1"), &["Which day?"]);
    again.dialogue_state = Some("{}".to_owned());
    assert!(matches!(
        store.record_turn(scope, conv, &again).await,
        Err(StoreError::Duplicate)
    ));
    assert_eq!(
        store
            .conversation(scope, conv)
            .await
            .unwrap()
            .dialogue_state
            .as_deref(),
        Some(state)
    );
}
