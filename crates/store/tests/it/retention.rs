//! Retention on both engines: a clinic's conversations go with everything hanging off them
//! once their last message is older than its policy, recordings once they are older than
//! theirs, in batches of at most 100 conversations and 250 messages, each batch audited with counts; a recent message keeps
//! a conversation; another clinic, and a longer policy, keep theirs. Audit entries older
//! than the audit retention go from the start of the chain, which still verifies from its
//! new floor; a floor moved by hand does not.

use crate::harness::*;
use frontdesk_domain::{Clock, ManualClock};
use frontdesk_store::testing::TestDb;
use frontdesk_store::testing::test_keyring;
use frontdesk_store::*;
use jiff::SignedDuration;
use std::sync::Arc;

engine_tests!(
    expired_conversations_and_recordings_go_and_each_batch_is_audited,
    a_large_purge_goes_in_batches_of_one_hundred,
    a_long_expired_conversation_goes_in_batches_of_at_most_250_messages,
    audit_entries_past_retention_go_from_the_start_and_the_rest_still_verifies,
    language_model_usage_goes_with_conversations_but_never_within_its_month,
);

const DAY: SignedDuration = SignedDuration::from_hours(24);

async fn expired_conversations_and_recordings_go_and_each_batch_is_audited(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let (a, b) = seed_two(&*store).await;
    let mut calls = Vec::new();
    for (sid, rsid, number) in [
        ("CA00one", "RE00one", "+64 21 555 0177"),
        ("CA00two", "RE00two", "+64 21 555 0178"),
    ] {
        let call = store
            .start_call(a.scope, sid, &phone(number), "Hello")
            .await
            .unwrap()
            .call;
        let rec = store
            .note_recording(a.scope, sid, rsid, Some(10))
            .await
            .unwrap()
            .unwrap();
        calls.push((call.conversation, rec));
    }
    let (one, two) = (calls[0], calls[1]);
    assert!(store.expired_recordings(a.scope).await.unwrap().is_empty());
    assert_eq!(
        store.purge_expired(a.scope).await.unwrap(),
        PurgeBatch::default()
    );

    // 31 days: both recordings are past their 30 days; the conversations are not. Only the
    // rows whose audio the caller deleted go (here: the first).
    clock.advance(DAY * 31);
    let expired = store.expired_recordings(a.scope).await.unwrap();
    assert_eq!(
        expired.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [one.1, two.1]
    );
    assert_eq!(store.purge_recordings(a.scope, &[one.1]).await.unwrap(), 1);
    assert!(matches!(
        store.recording(a.scope, one.1).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.recording(a.scope, two.1).await.is_ok());
    assert!(store.conversation(a.scope, one.0).await.is_ok());
    assert_eq!(
        store.purge_recordings(a.scope, &[one.1]).await.unwrap(),
        0,
        "once"
    );

    // 91 days: conversations silent for 90 days go, unless a recording is still left; one
    // with a new message stays.
    clock.advance(DAY * 60);
    store
        .record_turn(
            a.scope,
            a.conversation,
            &turn(delivered("still here", "wamid.keep"), &[]),
        )
        .await
        .unwrap();
    let before = store
        .messages(a.scope, a.webchat_conversation)
        .await
        .unwrap()
        .len();
    let batch = store.purge_expired(a.scope).await.unwrap();
    assert_eq!(batch.conversations, 2, "the web chat and the first call");
    assert!(batch.messages >= before as u64);
    assert!(!batch.more);
    for gone in [a.webchat_conversation, one.0] {
        assert!(matches!(
            store.conversation(a.scope, gone).await,
            Err(StoreError::NotFound)
        ));
    }
    assert!(
        store.conversation(a.scope, two.0).await.is_ok(),
        "its recording is left"
    );
    assert_eq!(store.purge_recordings(a.scope, &[two.1]).await.unwrap(), 1);
    assert_eq!(store.purge_expired(a.scope).await.unwrap().conversations, 1);
    assert!(store.messages(a.scope, a.conversation).await.is_ok());
    assert!(
        store.patient(a.scope, a.patient).await.is_ok(),
        "patient records stay"
    );
    assert_eq!(
        store.purge_expired(a.scope).await.unwrap(),
        PurgeBatch::default()
    );

    // Each batch that removed something is audited as the system, with counts.
    let audit = store.audit_entries(a.scope, 0, 10_000).await.unwrap();
    let purged: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "retention.purged")
        .collect();
    assert_eq!(
        purged.len(),
        4,
        "two recording batches, two conversation batches"
    );
    assert!(purged.iter().all(|e| e.actor_kind == "system"));
    assert!(
        purged[1].details.contains("\"conversations\":2")
            && purged[1].details.contains("\"conversation_days\":90"),
        "{}",
        purged[1].details
    );
    assert!(store.verify_audit_chain(a.scope).await.unwrap().is_intact());

    // Clinic B keeps a year: nothing of it goes, and A's purge never touched it.
    let mut profile = store.clinic(b.scope).await.unwrap().profile;
    profile.retention.conversation_days = 365;
    store.update_profile(b.scope, &profile).await.unwrap();
    assert_eq!(store.purge_expired(b.scope).await.unwrap().conversations, 0);
    assert!(store.conversation(b.scope, b.conversation).await.is_ok());
    assert!(
        store
            .conversation(b.scope, b.webchat_conversation)
            .await
            .is_ok()
    );

    // A policy out of range is refused.
    profile.retention.conversation_days = 0;
    assert!(matches!(
        store.update_profile(b.scope, &profile).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn a_large_purge_goes_in_batches_of_one_hundred(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    for _ in 0..148 {
        let p = store
            .create_patient(a.scope, &NewPatient::default())
            .await
            .unwrap();
        store
            .start_conversation(a.scope, p, Channel::Webchat)
            .await
            .unwrap();
    }
    clock.advance(DAY * 91);
    let first = store.purge_expired(a.scope).await.unwrap();
    assert_eq!((first.conversations, first.more), (100, true));
    let second = store.purge_expired(a.scope).await.unwrap();
    assert_eq!(
        (second.conversations, second.more),
        (50, false),
        "148 + the 2 seeded"
    );
    assert_eq!(store.purge_expired(a.scope).await.unwrap().conversations, 0);
}

async fn audit_entries_past_retention_go_from_the_start_and_the_rest_still_verifies(db: &TestDb) {
    // The clinics were made eight years ago (PostgreSQL's purge function refuses entries
    // younger than a year by the database's own clock, so the past must be real).
    let now = jiff::Timestamp::now();
    let clock = Arc::new(ManualClock::new(now - DAY * (8 * 366)));
    let store = db.open(test_keyring(), clock.clone()).await.unwrap();
    let (a, b) = seed_two(&*store).await;
    for i in 0..1100 {
        store
            .add_faq(a.scope, &format!("Old question {i}?"), "Yes.")
            .await
            .unwrap();
    }
    let early = store.take_audit_checkpoint(a.scope).await.unwrap();
    store
        .add_faq(a.scope, "One more old question?", "Yes.")
        .await
        .unwrap();
    let old_entries = store.verify_audit_chain(a.scope).await.unwrap().entries;
    assert!(old_entries > 1100);
    // Seven years and a half later: those are past retention; a new entry is not.
    clock.advance(DAY * (7 * 366 + 180));
    // Signed now, over the last old entry (its own record is recent).
    let at_floor = store.take_audit_checkpoint(a.scope).await.unwrap();
    store
        .add_faq(a.scope, "Recent question?", "Yes.")
        .await
        .unwrap();
    let mut purged = 0;
    let mut batches = 0;
    loop {
        let batch = store.purge_audit(a.scope).await.unwrap();
        purged += batch.entries;
        batches += 1;
        assert!(batch.entries <= 1000);
        if !batch.more {
            break;
        }
    }
    assert_eq!((purged, batches), (old_entries, 2));
    assert_eq!(
        store.purge_audit(a.scope).await.unwrap(),
        AuditPurge::default()
    );
    let report = store.verify_audit_chain(a.scope).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.floor_seq, old_entries as i64);
    // Checkpoints of the removed part: the floor's still checks, older ones are retired.
    assert_eq!(at_floor.seq, report.floor_seq);
    assert_eq!(
        store
            .check_audit_checkpoint(a.scope, &at_floor)
            .await
            .unwrap(),
        CheckpointCheck::Holds
    );
    assert_eq!(
        store.check_audit_checkpoint(a.scope, &early).await.unwrap(),
        CheckpointCheck::Retired
    );
    // The checkpoint's record, the recent entry and the two purge records remain.
    assert_eq!(report.entries, 4);
    let kept = store.audit_entries(a.scope, 0, 100).await.unwrap();
    assert_eq!(
        kept.iter().filter(|e| e.action == "audit.purged").count(),
        2,
        "{kept:?}"
    );
    assert!(kept.iter().all(|e| e.seq > old_entries as i64));
    // The other clinic keeps its chain whole.
    let other = store.verify_audit_chain(b.scope).await.unwrap();
    assert!(other.is_intact() && other.floor_seq == 0 && other.entries > 1);

    // Moving the floor by hand, to hide entries, is caught.
    let mut raw = crate::raw::Raw::open(db).await;
    let t = a.scope.tenant_id().as_uuid();
    let hide = report.floor_seq + 1;
    let hash = raw
        .blob(
            &format!("SELECT hash FROM audit_log WHERE tenant_id = $1 AND seq = {hide}"),
            &[t],
        )
        .await;
    raw.execute_blob(
        "UPDATE audit_heads SET floor_seq = floor_seq + 1, floor_hash = $1 WHERE tenant_id = $2",
        &hash,
        &[t],
    )
    .await;
    raw.execute(
        format!("DELETE FROM audit_log WHERE tenant_id = $1 AND seq = {hide}"),
        &[t],
    )
    .await;
    let broken = store.verify_audit_chain(a.scope).await.unwrap();
    assert_eq!(
        broken.first_break,
        Some(ChainBreak {
            seq: hide,
            reason: BreakReason::Floor
        })
    );
    if let crate::raw::Raw::Pg(c) = &mut raw {
        // PostgreSQL's purge function refuses a cutoff within the last year, whoever calls.
        use sqlx::Connection;
        let mut tx = c.begin().await.unwrap();
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(t.to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        let recent = frontdesk_store_to_us(now);
        let refused = sqlx::query("SELECT frontdesk_purge_audit($1, $2, $3)")
            .bind(t)
            .bind(hide + 2)
            .bind(recent)
            .execute(&mut *tx)
            .await;
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("younger than a year"),
            "the database refuses"
        );
    }
}

fn frontdesk_store_to_us(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

async fn language_model_usage_goes_with_conversations_but_never_within_its_month(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    // Each clinic has one usage row from its seeding, 17 March (UTC).
    let (a, b) = seed_two(&*store).await;
    let mut profile = store.clinic(a.scope).await.unwrap().profile;
    profile.retention.conversation_days = 1;
    store.update_profile(a.scope, &profile).await.unwrap();
    let month = |at: jiff::Timestamp| (month_start(at), at + SignedDuration::from_secs(1));
    let turns = |scope| {
        let store = store.clone();
        let (from, to) = month(clock.now());
        async move {
            store
                .llm_usage_summary(scope, from, to)
                .await
                .unwrap()
                .turns
        }
    };

    // Two days on, still March: the conversation is past its one day and goes, but the
    // month's usage row stays (the budget counts it).
    clock.advance(DAY * 2);
    let batch = store.purge_expired(a.scope).await.unwrap();
    assert!(batch.conversations >= 1);
    assert_eq!(batch.llm_usage, 0);
    assert_eq!(turns(a.scope).await, 1);

    // April: March is over; A's row goes, audited with the count, and B's (90 days) stays.
    clock.advance(DAY * 16);
    let batch = store.purge_expired(a.scope).await.unwrap();
    assert_eq!(batch.llm_usage, 1);
    assert!(!batch.more);
    let since_start = |scope| {
        let store = store.clone();
        let to = clock.now();
        async move {
            store
                .llm_usage_summary(scope, start() - DAY, to)
                .await
                .unwrap()
                .turns
        }
    };
    assert_eq!(since_start(a.scope).await, 0);
    assert_eq!(store.purge_expired(b.scope).await.unwrap().llm_usage, 0);
    assert_eq!(since_start(b.scope).await, 1);
    let audit = store.audit_entries(a.scope, 0, 10_000).await.unwrap();
    let last = audit
        .iter()
        .rev()
        .find(|e| e.action == "retention.purged")
        .unwrap();
    assert!(last.details.contains("\"llm_usage\":1"), "{}", last.details);
    assert_eq!(
        store.purge_expired(a.scope).await.unwrap(),
        PurgeBatch::default()
    );
}

/// One transaction never deletes more than 250 messages: a long conversation goes over several
/// batches, messages first, then the conversation; each batch is audited with its counts.
async fn a_long_expired_conversation_goes_in_batches_of_at_most_250_messages(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let before = store.messages(a.scope, a.conversation).await.unwrap().len();
    for i in 0..150 {
        let turn = Turn {
            inbound: Some(NewMessage::inbound(format!("question {i}"))),
            replies: vec![NewMessage::agent_reply(format!("answer {i}"))],
            ..Turn::default()
        };
        store
            .record_turn(a.scope, a.conversation, &turn)
            .await
            .unwrap();
    }
    let total = (before + 300) as u64;
    clock.advance(DAY * 91);
    let audited = all_audit(&*store, a.scope).await.len();
    let mut batches = Vec::new();
    loop {
        let batch = store.purge_expired(a.scope).await.unwrap();
        assert!(batch.messages <= 250, "{batch:?}");
        batches.push((batch.conversations, batch.messages));
        if !batch.more {
            break;
        }
        assert!(batches.len() < 10, "the purge ends");
    }
    assert_eq!(
        batches[0],
        (0, 250),
        "messages first, the conversation kept"
    );
    // This conversation's messages, and any other the seed made (also expired).
    let removed = batches.iter().map(|b| b.1).sum::<u64>();
    assert!(removed >= total, "{removed} of at least {total}");
    assert!(batches.iter().map(|b| b.0).sum::<u64>() >= 1);
    assert_err!(
        store.conversation(a.scope, a.conversation).await,
        StoreError::NotFound
    );
    let purged: Vec<_> = all_audit(&*store, a.scope).await[audited..]
        .iter()
        .filter(|e| e.action == "retention.purged")
        .map(|e| {
            serde_json::from_str::<serde_json::Value>(&e.details).unwrap()["messages"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(purged.iter().sum::<u64>(), removed, "every batch audited");
}
