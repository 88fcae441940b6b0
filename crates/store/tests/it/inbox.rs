//! The staff inbox and conversation takeover on both engines: one holder at a time (also
//! when many race), holds that expire back to the AI with an audited event, the AI silenced
//! at the store (its replies refused by `record_turn`, its queued messages refused when the
//! outbox claims them), staff replies through the same outbox, unread state per staff
//! member, search by phone (blind index) and by name, and nothing across clinics.

use crate::harness::*;
use frontdesk_domain::*;
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;
use std::sync::Arc;

engine_tests!(
    one_holder_at_a_time_and_a_hold_expires_back_to_the_ai,
    while_held_the_ai_sends_nothing_and_staff_replies_go_through_the_outbox,
    racing_takeovers_have_exactly_one_winner,
    inbox_shows_holder_unread_state_and_finds_by_phone_and_name,
    inbox_and_takeover_stay_inside_their_clinic,
    the_inbox_version_moves_with_every_change_it_shows,
);

async fn the_inbox_version_moves_with_every_change_it_shows(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let (a, b) = seed_two(&*store).await;
    let clinic = |s: &Arc<dyn Store>| {
        let s = s.clone();
        async move { s.inbox_version(a.scope, None).await.unwrap() }
    };
    let one = |s: &Arc<dyn Store>| {
        let s = s.clone();
        async move {
            s.inbox_version(a.scope, Some(a.conversation))
                .await
                .unwrap()
        }
    };
    let (c0, v0) = (clinic(&store).await, one(&store).await);
    assert_eq!(
        (clinic(&store).await, one(&store).await),
        (c0, v0),
        "stable when idle"
    );
    // Reading moves nothing.
    store
        .mark_read(a.scope, a.user, a.conversation)
        .await
        .unwrap();
    assert_eq!(clinic(&store).await, c0);

    clock.advance(SignedDuration::from_secs(1));
    store
        .take_over(a.scope, a.conversation, a.user, HOLD)
        .await
        .unwrap();
    let (c1, v1) = (clinic(&store).await, one(&store).await);
    assert!(c1 != c0 && v1 != v0, "a takeover shows");

    clock.advance(SignedDuration::from_secs(1));
    store
        .record_turn(
            a.scope,
            a.conversation,
            &turn(delivered("hello?", "wamid.v1"), &[]),
        )
        .await
        .unwrap();
    let (c2, v2) = (clinic(&store).await, one(&store).await);
    assert!(c2 != c1 && v2 != v1, "a message shows");

    // Another conversation of the clinic moves the clinic's version only.
    clock.advance(SignedDuration::from_secs(1));
    store
        .take_over(a.scope, a.webchat_conversation, a.user, HOLD)
        .await
        .unwrap();
    assert!(clinic(&store).await != c2);
    assert_eq!(one(&store).await, v2);

    // Another clinic's changes move nothing here, and its ids are unknown here.
    let c3 = clinic(&store).await;
    clock.advance(SignedDuration::from_secs(1));
    store
        .take_over(b.scope, b.conversation, b.user, HOLD)
        .await
        .unwrap();
    assert_eq!(clinic(&store).await, c3);
    assert_err!(
        store.inbox_version(a.scope, Some(b.conversation)).await,
        StoreError::NotFound
    );
}

const HOLD: SignedDuration = SignedDuration::from_mins(15);
const LEASE: SignedDuration = SignedDuration::from_secs(60);

async fn colleague(store: &dyn Store, scope: TenantScope, name: &str) -> UserId {
    let new = NewUser {
        email: email(&format!(
            "{}@example.org",
            name.to_lowercase().replace(' ', ".")
        )),
        name: name.to_owned(),
        role: Role::Reception,
    };
    store.create_user(scope, &new).await.unwrap()
}

fn actions(audit: &[AuditEntry], action: &str) -> usize {
    audit.iter().filter(|e| e.action == action).count()
}

async fn one_holder_at_a_time_and_a_hold_expires_back_to_the_ai(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let other = colleague(&*store, a.scope, "Rangi Parata").await;
    let conv = a.conversation;

    let hold = store.take_over(a.scope, conv, a.user, HOLD).await.unwrap();
    assert_eq!(hold.user, a.user);
    assert_eq!(hold.name, "Staff alpha");
    assert_eq!(hold.expires_at, start() + HOLD);
    assert_eq!(
        store.holder(a.scope, conv).await.unwrap(),
        Some(hold.clone())
    );

    // The second staff member sees who holds it and can neither take it nor act in it.
    assert_err!(
        store.take_over(a.scope, conv, other, HOLD).await,
        StoreError::Conflict(HELD_BY_ANOTHER)
    );
    assert_err!(
        store.release(a.scope, conv, other).await,
        StoreError::Conflict(NOT_HOLDING)
    );
    assert_err!(
        store
            .staff_reply(a.scope, conv, other, "I'll call you", HOLD)
            .await,
        StoreError::Conflict(NOT_HOLDING)
    );
    // The holder renews by taking it again.
    clock.advance(SignedDuration::from_mins(10));
    let renewed = store.take_over(a.scope, conv, a.user, HOLD).await.unwrap();
    assert_eq!(renewed.expires_at, start() + SignedDuration::from_mins(25));

    // Inactivity: after the hold runs out the AI is back at once, before any sweep.
    clock.advance(SignedDuration::from_mins(16));
    assert_eq!(store.holder(a.scope, conv).await.unwrap(), None);
    let c = store.conversation(a.scope, conv).await.unwrap();
    assert_eq!(c.holder(clock.now()), None);
    assert_eq!(c.held_by, Some(a.user), "cleared by the sweep, not before");
    assert_err!(
        store
            .staff_reply(a.scope, conv, a.user, "still there?", HOLD)
            .await,
        StoreError::Conflict(NOT_HOLDING)
    );
    // The sweep clears it with a visible, audited event; a second sweep finds nothing.
    assert_eq!(store.expire_holds(a.scope).await.unwrap(), 1);
    assert_eq!(store.expire_holds(a.scope).await.unwrap(), 0);
    let c = store.conversation(a.scope, conv).await.unwrap();
    assert_eq!((c.held_by, c.hold_expires_at), (None, None));
    let audit = all_audit(&*store, a.scope).await;
    let expired = audit
        .iter()
        .find(|e| e.action == "conversation.hold_expired")
        .expect("an audited expiry");
    assert_eq!(
        expired.target_id.as_deref(),
        Some(conv.to_string().as_str())
    );
    let details: serde_json::Value = serde_json::from_str(&expired.details).unwrap();
    assert_eq!(details["user"], a.user.to_string());

    // Now the other staff member may take it, and release it; a release is audited.
    store.take_over(a.scope, conv, other, HOLD).await.unwrap();
    // A sweep leaves a live hold alone.
    assert_eq!(store.expire_holds(a.scope).await.unwrap(), 0);
    store.release(a.scope, conv, other).await.unwrap();
    assert_eq!(store.holder(a.scope, conv).await.unwrap(), None);
    assert_err!(
        store.release(a.scope, conv, other).await,
        StoreError::Conflict(NOT_HOLDING)
    );
    let audit = all_audit(&*store, a.scope).await;
    assert_eq!(actions(&audit, "conversation.taken_over"), 3);
    assert_eq!(actions(&audit, "conversation.released"), 1);
    assert_eq!(actions(&audit, "conversation.hold_expired"), 1);
    // The conversation's own events, in order, for its page.
    let events: Vec<String> = store
        .conversation_events(a.scope, conv, 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        events,
        [
            "conversation.taken_over",
            "conversation.taken_over",
            "conversation.hold_expired",
            "conversation.taken_over",
            "conversation.released"
        ]
    );
    assert!(
        store
            .conversation_events(a.scope, a.webchat_conversation, 50)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        audit
            .iter()
            .filter(|e| e.action.starts_with("conversation."))
            .all(|e| !e.details.contains("Staff alpha")),
        "no names in the audit details"
    );
    assert!(store.verify_audit_chain(a.scope).await.unwrap().is_intact());
}

async fn while_held_the_ai_sends_nothing_and_staff_replies_go_through_the_outbox(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let conv = a.conversation;
    // The seed's AI reply ("Kia ora alpha") is queued in the outbox; staff take over first.
    store.take_over(a.scope, conv, a.user, HOLD).await.unwrap();

    // The send layer refuses the AI's queued message: not sent, recorded as refused.
    assert!(store.claim_outbox("w", LEASE, 10).await.unwrap().is_empty());
    let entries = store.outbox_entries(a.scope, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].status.as_str(), entries[0].last_error.as_deref()),
        ("failed", Some("held_by_staff"))
    );

    // A turn with AI replies is refused whole at the store; the patient's message alone is
    // stored.
    let before = store.messages(a.scope, conv).await.unwrap().len();
    clock.advance(SignedDuration::from_secs(5));
    assert_err!(
        store
            .record_turn(
                a.scope,
                conv,
                &turn(delivered("are you there?", "wamid.h1"), &["Yes!"])
            )
            .await,
        StoreError::Conflict(HELD_BY_STAFF)
    );
    assert_eq!(store.messages(a.scope, conv).await.unwrap().len(), before);
    store
        .record_turn(
            a.scope,
            conv,
            &turn(delivered("are you there?", "wamid.h1"), &[]),
        )
        .await
        .unwrap();
    assert_eq!(
        store.messages(a.scope, conv).await.unwrap().len(),
        before + 1
    );

    // The holder's reply goes through the outbox, renews the hold, and is audited without text.
    clock.advance(SignedDuration::from_mins(10));
    let sent = store
        .staff_reply(
            a.scope,
            conv,
            a.user,
            "  Hi, this is Anna from reception.  ",
            HOLD,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .holder(a.scope, conv)
            .await
            .unwrap()
            .unwrap()
            .expires_at,
        clock.now() + HOLD
    );
    let items = store.claim_outbox("w", LEASE, 10).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].message, Some(sent));
    assert_eq!(
        (items[0].to.as_str(), items[0].body.as_str()),
        (a.phone.as_str(), "Hi, this is Anna from reception.")
    );
    let stored = store.message(a.scope, conv, sent).await.unwrap();
    assert_eq!(stored.sender, Sender::Staff);
    let audit = all_audit(&*store, a.scope).await;
    let ev = audit
        .iter()
        .find(|e| e.action == "message.staff_sent")
        .unwrap();
    assert_eq!(ev.actor_id.as_deref(), Some(a.user.to_string().as_str()));
    assert!(!ev.details.contains("Anna"));

    // Bad replies are refused before anything is written.
    for bad in ["", "   ", &"x".repeat(4097)] {
        assert_err!(
            store.staff_reply(a.scope, conv, a.user, bad, HOLD).await,
            StoreError::Invalid(_)
        );
    }
    // On web chat the reply is stored `sent`, with no outbox entry: the patient's chat
    // fetches it (the outbox claim below finds only the WhatsApp reply).
    store
        .take_over(a.scope, a.webchat_conversation, a.user, HOLD)
        .await
        .unwrap();
    let web = store
        .staff_reply(
            a.scope,
            a.webchat_conversation,
            a.user,
            "hello from staff",
            HOLD,
        )
        .await
        .unwrap();
    let stored = store
        .message(a.scope, a.webchat_conversation, web)
        .await
        .unwrap();
    assert_eq!(
        (stored.sender, stored.status.as_str(), stored.body.as_str()),
        (Sender::Staff, "sent", "hello from staff")
    );
    // A phone call cannot carry a typed reply: refused, not silently dropped.
    let call = store
        .start_call(a.scope, "CA00staff", &phone("+64 21 555 0199"), "Hello")
        .await
        .unwrap()
        .call;
    store
        .take_over(a.scope, call.conversation, a.user, HOLD)
        .await
        .unwrap();
    assert_err!(
        store
            .staff_reply(a.scope, call.conversation, a.user, "hello", HOLD)
            .await,
        StoreError::Invalid(_)
    );

    // Released: the AI answers again.
    store.release(a.scope, conv, a.user).await.unwrap();
    store
        .record_turn(
            a.scope,
            conv,
            &turn(delivered("thanks", "wamid.h2"), &["You're welcome"]),
        )
        .await
        .unwrap();
    assert_eq!(store.claim_outbox("w", LEASE, 10).await.unwrap().len(), 1);
    assert!(store.verify_audit_chain(a.scope).await.unwrap().is_intact());
}

async fn racing_takeovers_have_exactly_one_winner(db: &TestDb) {
    let store: Arc<dyn Store> = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let mut users = vec![a.user];
    for i in 0..7 {
        users.push(colleague(&*store, a.scope, &format!("Staff {i}")).await);
    }
    let tasks: Vec<_> = users
        .iter()
        .map(|&u| {
            let store = store.clone();
            tokio::spawn(async move { store.take_over(a.scope, a.conversation, u, HOLD).await })
        })
        .collect();
    let mut winners = Vec::new();
    for (t, u) in tasks.into_iter().zip(&users) {
        match t.await.unwrap() {
            Ok(h) => winners.push((h.user, *u)),
            Err(StoreError::Conflict(HELD_BY_ANOTHER)) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one takeover wins");
    let (holder, asked) = winners[0];
    assert_eq!(holder, asked);
    assert_eq!(
        store
            .holder(a.scope, a.conversation)
            .await
            .unwrap()
            .unwrap()
            .user,
        holder
    );
    let audit = all_audit(&*store, a.scope).await;
    assert_eq!(actions(&audit, "conversation.taken_over"), 1);
}

async fn inbox_shows_holder_unread_state_and_finds_by_phone_and_name(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let all = InboxQuery {
        limit: 50,
        ..InboxQuery::default()
    };
    let list = store.inbox(a.scope, a.user, &all).await.unwrap();
    assert_eq!(list.len(), 2, "the WhatsApp and the web chat conversation");
    let wa = list
        .iter()
        .find(|e| e.conversation == a.conversation)
        .unwrap();
    assert_eq!(wa.patient, a.patient);
    assert_eq!(wa.patient_name.as_deref(), Some("Patient alpha"));
    assert_eq!(wa.channel, Channel::Whatsapp);
    assert!(wa.unread);
    assert_eq!(wa.holder, None);
    // Anonymous web chat visitor: no name.
    let web = list
        .iter()
        .find(|e| e.conversation == a.webchat_conversation)
        .unwrap();
    assert_eq!(web.patient_name, None);

    // Read, then a new message makes it unread again (for this staff member only).
    store
        .mark_read(a.scope, a.user, a.conversation)
        .await
        .unwrap();
    let other = colleague(&*store, a.scope, "Rangi Parata").await;
    let find = |list: Vec<InboxEntry>| {
        list.into_iter()
            .find(|e| e.conversation == a.conversation)
            .unwrap()
    };
    assert!(!find(store.inbox(a.scope, a.user, &all).await.unwrap()).unread);
    assert!(find(store.inbox(a.scope, other, &all).await.unwrap()).unread);
    clock.advance(SignedDuration::from_secs(30));
    store
        .record_turn(
            a.scope,
            a.conversation,
            &turn(delivered("one more thing", "wamid.u1"), &["Sure"]),
        )
        .await
        .unwrap();
    let entry = find(store.inbox(a.scope, a.user, &all).await.unwrap());
    assert!(entry.unread);
    // Newest first.
    assert_eq!(
        store.inbox(a.scope, a.user, &all).await.unwrap()[0].conversation,
        a.conversation
    );

    // Held: everyone sees who holds it.
    store
        .take_over(a.scope, a.conversation, a.user, HOLD)
        .await
        .unwrap();
    let entry = find(store.inbox(a.scope, other, &all).await.unwrap());
    assert_eq!(
        entry.holder.map(|h| (h.user, h.name)),
        Some((a.user, "Staff alpha".into()))
    );

    // By phone (blind index, exact number) and by any part of the name, any case.
    let by_phone = InboxQuery {
        phone: Some(phone("+64 21 555 0101")),
        limit: 50,
        ..InboxQuery::default()
    };
    let got: Vec<_> = store
        .inbox(a.scope, a.user, &by_phone)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.conversation)
        .collect();
    assert_eq!(got, [a.conversation]);
    let nobody = InboxQuery {
        phone: Some(phone("+64 21 555 0999")),
        limit: 50,
        ..InboxQuery::default()
    };
    assert!(
        store
            .inbox(a.scope, a.user, &nobody)
            .await
            .unwrap()
            .is_empty()
    );
    for (needle, hits) in [("ALPHA", 1), ("patient a", 1), ("  ", 2), ("zzz", 0)] {
        let q = InboxQuery {
            name: Some(needle.into()),
            limit: 50,
            ..InboxQuery::default()
        };
        assert_eq!(
            store.inbox(a.scope, a.user, &q).await.unwrap().len(),
            hits,
            "name search {needle:?}"
        );
    }
    // The limit is honoured.
    let one = InboxQuery {
        limit: 1,
        ..InboxQuery::default()
    };
    assert_eq!(store.inbox(a.scope, a.user, &one).await.unwrap().len(), 1);
}

async fn inbox_and_takeover_stay_inside_their_clinic(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let all = InboxQuery {
        limit: 50,
        ..InboxQuery::default()
    };
    let listed: Vec<_> = store
        .inbox(a.scope, a.user, &all)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.conversation)
        .collect();
    assert!(!listed.contains(&b.conversation));
    // B's conversation asked from A's scope does not exist, whoever asks.
    assert_err!(
        store.take_over(a.scope, b.conversation, a.user, HOLD).await,
        StoreError::NotFound
    );
    assert_err!(
        store.holder(a.scope, b.conversation).await,
        StoreError::NotFound
    );
    assert_err!(
        store.mark_read(a.scope, a.user, b.conversation).await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .staff_reply(a.scope, b.conversation, a.user, "hi", HOLD)
            .await,
        StoreError::NotFound
    );
    store
        .take_over(b.scope, b.conversation, b.user, HOLD)
        .await
        .unwrap();
    assert_err!(
        store.release(a.scope, b.conversation, a.user).await,
        StoreError::NotFound
    );
    // A's sweep never touches B's holds.
    assert_eq!(store.expire_holds(a.scope).await.unwrap(), 0);
    assert!(
        store
            .holder(b.scope, b.conversation)
            .await
            .unwrap()
            .is_some()
    );
}
