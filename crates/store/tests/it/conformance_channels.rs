//! Conformance of the messaging pipeline on both engines: provider accounts with write-only
//! secrets, inbound deliveries stored once (even when copies race), the reply job and the
//! outbox with their leases, retries, dead letters, delivery reports and opt-outs.

use crate::harness::*;
use frontdesk_domain::*;
use frontdesk_store::testing::{TestDb, test_keyring};
use frontdesk_store::*;
use jiff::SignedDuration;
use std::sync::Arc;

engine_tests!(
    channel_account_routes_to_its_clinic_with_its_secrets_and_an_address_has_one_owner,
    inbound_delivery_is_stored_once_with_patient_conversation_job_and_audit,
    three_concurrent_copies_of_one_delivery_store_one_message,
    reply_job_completes_with_its_turn_and_a_lost_lease_writes_nothing,
    expired_job_lease_is_claimed_again_and_the_late_worker_is_refused,
    outbox_delivers_once_and_delivery_reports_only_move_forward,
    outbox_retries_at_the_given_time_then_dead_letters_with_a_staff_alert,
    opted_out_number_gets_only_the_opt_out_confirmation,
    job_out_of_attempts_fails_and_alerts_staff,
    every_staff_alert_queues_one_email_job_and_is_marked_sent_with_it,
    a_channel_change_made_through_another_instance_is_routed_by_the_next_webhook,
);

pub(crate) const LEASE: SignedDuration = SignedDuration::from_secs(60);

pub(crate) async fn whatsapp_clinic(store: &dyn Store, slug: &str, address: &str) -> TenantScope {
    let scope = new_tenant(store, slug).await;
    let secrets = ChannelSecrets::new()
        .with("app_secret", format!("secret-of-{slug}"))
        .with("access_token", "EAAG-token");
    store
        .set_channel_account(
            scope,
            Provider::Whatsapp,
            address,
            &serde_json::json!({ "waba": "1" }),
            &secrets,
        )
        .await
        .unwrap();
    scope
}

pub(crate) fn text(from: &str, id: &str, body: &str) -> InboundDelivery {
    InboundDelivery {
        channel: Channel::Whatsapp,
        from: phone(from),
        provider_message_id: id.to_owned(),
        body: body.to_owned(),
        consent: None,
        auto_reply: None,
        run_agent: true,
    }
}

async fn channel_account_routes_to_its_clinic_with_its_secrets_and_an_address_has_one_owner(
    db: &TestDb,
) {
    let store = store(db).await;
    let a = whatsapp_clinic(&*store, "alpha-clinic", "1001").await;
    let account = store
        .route_channel(Provider::Whatsapp, "1001")
        .await
        .unwrap();
    assert_eq!(account.verified_scope(), a);
    assert_eq!(
        account.secrets.get("app_secret"),
        Some("secret-of-alpha-clinic")
    );
    assert_eq!(account.config["waba"], "1");
    // Debug never shows a secret value.
    assert!(!format!("{account:?}").contains("secret-of"));
    assert_err!(
        store.route_channel(Provider::Whatsapp, "9999").await,
        StoreError::NotFound
    );
    assert_err!(
        store.route_channel(Provider::Twilio, "1001").await,
        StoreError::NotFound
    );
    // Another clinic cannot take the address; nothing of it is written.
    let b = new_tenant(&*store, "beta-clinic").await;
    assert_err!(
        store
            .set_channel_account(
                b,
                Provider::Whatsapp,
                "1001",
                &serde_json::json!({}),
                &ChannelSecrets::new()
            )
            .await,
        StoreError::Conflict(_)
    );
    assert_err!(
        store.channel_account(b, Provider::Whatsapp).await,
        StoreError::NotFound
    );
    // Re-pointing one's own account frees the old address.
    store
        .set_channel_account(
            a,
            Provider::Whatsapp,
            "1002",
            &serde_json::json!({}),
            &ChannelSecrets::new().with("app_secret", "new"),
        )
        .await
        .unwrap();
    assert_err!(
        store.route_channel(Provider::Whatsapp, "1001").await,
        StoreError::NotFound
    );
    let moved = store.channel_account(a, Provider::Whatsapp).await.unwrap();
    assert_eq!(
        (moved.address.as_str(), moved.secrets.get("app_secret")),
        ("1002", Some("new"))
    );
    // The audit names the secrets, never their values.
    let audit = store.audit_entries(a, 0, 100).await.unwrap();
    let configured: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "channel.configured")
        .collect();
    assert_eq!(configured.len(), 2);
    assert!(configured[0].details.contains("app_secret"));
    assert!(
        audit
            .iter()
            .all(|e| !e.details.contains("secret-of") && !e.details.contains("EAAG"))
    );
}

async fn inbound_delivery_is_stored_once_with_patient_conversation_job_and_audit(db: &TestDb) {
    let store = store(db).await;
    let a = whatsapp_clinic(&*store, "alpha-clinic", "1001").await;
    let first = store
        .ingest_inbound(a, &text("+254700000001", "wamid.1", "Habari"))
        .await
        .unwrap();
    assert!(first.job.is_some());
    let patient = store.patient(a, first.patient).await.unwrap();
    assert_eq!(patient.phone, Some(phone("+254700000001")));
    // The redelivery writes nothing.
    assert_err!(
        store
            .ingest_inbound(a, &text("+254700000001", "wamid.1", "Habari"))
            .await,
        StoreError::Duplicate
    );
    // The next message joins the same patient and open conversation.
    let second = store
        .ingest_inbound(a, &text("+254700000001", "wamid.2", "kesho?"))
        .await
        .unwrap();
    assert_eq!(
        (second.patient, second.conversation),
        (first.patient, first.conversation)
    );
    let messages = store.messages(a, first.conversation).await.unwrap();
    let bodies: Vec<_> = messages
        .iter()
        .map(|m| (m.body.as_str(), m.status.as_str()))
        .collect();
    assert_eq!(bodies, [("Habari", "received"), ("kesho?", "received")]);
    assert_eq!(
        store
            .message(a, first.conversation, second.message)
            .await
            .unwrap()
            .body,
        "kesho?"
    );
    let jobs = store.claim_jobs("w1", LEASE, 10).await.unwrap();
    assert_eq!(jobs.len(), 2);
    let payload: ReplyJob = serde_json::from_value(jobs[0].payload.clone()).unwrap();
    assert_eq!(
        payload,
        ReplyJob {
            conversation: first.conversation,
            message: first.message,
            first_contact: true,
        }
    );
    let later: ReplyJob = serde_json::from_value(jobs[1].payload.clone()).unwrap();
    assert!(
        !later.first_contact,
        "only the first message of the conversation"
    );
    assert_eq!(jobs[0].lease.scope, a);
    let audit = store.audit_entries(a, 0, 100).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "message.received")
            .count(),
        2
    );
    assert!(
        audit
            .iter()
            .all(|e| !e.details.contains("Habari") && !e.details.contains("254700000001"))
    );
    // The entries link up to the head (the redelivery moved nothing), and each message's
    // entry names it.
    let chain = store.verify_audit_chain(a).await.unwrap();
    assert!(chain.is_intact(), "{chain:?}");
    assert_eq!(chain.head_seq, audit.last().unwrap().seq);
    for m in [first.message, second.message] {
        let id = m.to_string();
        assert!(
            audit
                .iter()
                .any(|e| e.action == "message.received" && e.target_id.as_deref() == Some(&id)),
            "no entry for {id}"
        );
    }
}

async fn three_concurrent_copies_of_one_delivery_store_one_message(db: &TestDb) {
    let store = store(db).await;
    let a = whatsapp_clinic(&*store, "alpha-clinic", "1001").await;
    let d = text("+254700000002", "wamid.race", "Nataka miadi");
    let (r1, r2, r3) = tokio::join!(
        store.ingest_inbound(a, &d),
        store.ingest_inbound(a, &d),
        store.ingest_inbound(a, &d)
    );
    let results = [r1, r2, r3];
    let stored: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(stored.len(), 1, "{results:?}");
    for r in &results {
        // A loser either saw the stored message or lost the race for the new patient's phone
        // (the caller retries, and then sees `Duplicate`).
        assert!(
            matches!(
                r,
                Ok(_) | Err(StoreError::Duplicate) | Err(StoreError::Conflict(_))
            ),
            "{r:?}"
        );
    }
    assert_err!(store.ingest_inbound(a, &d).await, StoreError::Duplicate);
    let conv = stored[0].conversation;
    assert_eq!(store.messages(a, conv).await.unwrap().len(), 1);
    assert_eq!(store.claim_jobs("w", LEASE, 10).await.unwrap().len(), 1);
}

pub(crate) fn reply_turn(job: &Job, replies: &[&str]) -> Turn {
    Turn {
        inbound: None,
        job: Some(job.lease.clone()),
        replies: replies
            .iter()
            .map(|r| NewMessage::agent_reply(*r))
            .collect(),
        audit: vec![AuditEvent::new(Actor::Agent, "agent.replied")],
        escalation: None,
        summary: None,
        dialogue_state: Some("{}".into()),
        llm_usage: None,
    }
}

async fn reply_job_completes_with_its_turn_and_a_lost_lease_writes_nothing(db: &TestDb) {
    let store = store(db).await;
    let a = whatsapp_clinic(&*store, "alpha-clinic", "1001").await;
    let got = store
        .ingest_inbound(a, &text("+254700000003", "wamid.3", "Hi"))
        .await
        .unwrap();
    let job = store.claim_jobs("w1", LEASE, 10).await.unwrap().remove(0);
    assert_eq!(job.lease.attempt, 1);
    store
        .record_turn(
            a,
            got.conversation,
            &reply_turn(&job, &["Hello!", "How can I help?"]),
        )
        .await
        .unwrap();
    // The same lease again (a retried worker): refused, nothing more written.
    assert_err!(
        store
            .record_turn(a, got.conversation, &reply_turn(&job, &["Hello!"]))
            .await,
        StoreError::Conflict(_)
    );
    let messages = store.messages(a, got.conversation).await.unwrap();
    let shape: Vec<_> = messages
        .iter()
        .map(|m| (m.direction, m.status.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            (Direction::Inbound, "received"),
            (Direction::Outbound, "queued"),
            (Direction::Outbound, "queued")
        ]
    );
    let outbox = store.outbox_entries(a, 10).await.unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(
        outbox
            .iter()
            .all(|o| o.status == "pending" && o.purpose == OutboxPurpose::Reply)
    );
    assert!(store.claim_jobs("w2", LEASE, 10).await.unwrap().is_empty());
}

async fn expired_job_lease_is_claimed_again_and_the_late_worker_is_refused(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = whatsapp_clinic(&*store, "alpha-clinic", "1001").await;
    let got = store
        .ingest_inbound(a, &text("+254700000004", "wamid.4", "Hi"))
        .await
        .unwrap();
    let first = store
        .claim_jobs("crashed", LEASE, 10)
        .await
        .unwrap()
        .remove(0);
    assert!(
        store.claim_jobs("w2", LEASE, 10).await.unwrap().is_empty(),
        "leased"
    );
    clock.advance(SignedDuration::from_secs(61));
    let second = store.claim_jobs("w2", LEASE, 10).await.unwrap().remove(0);
    assert_eq!((second.lease.id, second.lease.attempt), (first.lease.id, 2));
    assert_err!(
        store
            .record_turn(a, got.conversation, &reply_turn(&first, &["late"]))
            .await,
        StoreError::Conflict(_)
    );
    store
        .record_turn(a, got.conversation, &reply_turn(&second, &["on time"]))
        .await
        .unwrap();
    let bodies: Vec<_> = store
        .messages(a, got.conversation)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["Hi", "on time"]);
}

/// A clinic with one stored reply waiting in the outbox.
pub(crate) async fn one_reply_queued(
    store: &Arc<dyn Store>,
    from: &str,
) -> (TenantScope, ConversationId) {
    let a = whatsapp_clinic(&**store, "alpha-clinic", "1001").await;
    let got = store
        .ingest_inbound(a, &text(from, "wamid.q", "Hi"))
        .await
        .unwrap();
    let job = store.claim_jobs("w", LEASE, 10).await.unwrap().remove(0);
    store
        .record_turn(a, got.conversation, &reply_turn(&job, &["Karibu!"]))
        .await
        .unwrap();
    (a, got.conversation)
}

async fn outbox_delivers_once_and_delivery_reports_only_move_forward(db: &TestDb) {
    let store = store(db).await;
    let (a, conv) = one_reply_queued(&store, "+254700000005").await;
    let item = store.claim_outbox("o1", LEASE, 10).await.unwrap().remove(0);
    assert_eq!(
        (item.to.as_str(), item.body.as_str()),
        ("+254700000005", "Karibu!")
    );
    assert_eq!(
        (item.channel, item.purpose, item.lease.attempt),
        (Channel::Whatsapp, OutboxPurpose::Reply, 1)
    );
    assert!(item.last_inbound_at.is_some());
    assert!(
        store
            .claim_outbox("o2", LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    store
        .settle_outbox(
            &item.lease,
            &DeliveryOutcome::Sent {
                provider_message_id: "wamid.out".into(),
            },
        )
        .await
        .unwrap();
    assert_err!(
        store
            .settle_outbox(
                &item.lease,
                &DeliveryOutcome::Sent {
                    provider_message_id: "again".into()
                }
            )
            .await,
        StoreError::Conflict(_)
    );
    let entry = store.outbox_entries(a, 10).await.unwrap().remove(0);
    assert_eq!(
        (entry.status.as_str(), entry.provider_message_id.as_deref()),
        ("sent", Some("wamid.out"))
    );
    let status = |s: &'static str| {
        let store = store.clone();
        async move {
            store
                .delivery_status(a, Channel::Whatsapp, "wamid.out", s, None)
                .await
                .unwrap()
        }
    };
    assert!(status("delivered").await);
    assert!(
        !status("sent").await,
        "a late 'sent' does not undo 'delivered'"
    );
    assert!(status("read").await);
    assert!(
        !store
            .delivery_status(a, Channel::Whatsapp, "unknown", "read", None)
            .await
            .unwrap()
    );
    let last = store.messages(a, conv).await.unwrap().pop().unwrap();
    assert_eq!(last.status, "read");
    assert!(
        store
            .claim_outbox("o2", LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn outbox_retries_at_the_given_time_then_dead_letters_with_a_staff_alert(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let (a, conv) = one_reply_queued(&store, "+254700000006").await;
    let item = store.claim_outbox("o1", LEASE, 10).await.unwrap().remove(0);
    let at = clock.now() + SignedDuration::from_secs(30);
    store
        .settle_outbox(
            &item.lease,
            &DeliveryOutcome::Retry {
                at,
                error_code: "http_503".into(),
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_outbox("o1", LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    clock.advance(SignedDuration::from_secs(30));
    let again = store.claim_outbox("o1", LEASE, 10).await.unwrap().remove(0);
    assert_eq!(again.lease.attempt, 2);
    store
        .settle_outbox(
            &again.lease,
            &DeliveryOutcome::Permanent {
                error_code: "graph_131026".into(),
            },
        )
        .await
        .unwrap();
    let entry = store.outbox_entries(a, 10).await.unwrap().remove(0);
    assert_eq!(
        (
            entry.status.as_str(),
            entry.attempts,
            entry.last_error.as_deref()
        ),
        ("dead", 2, Some("graph_131026"))
    );
    let alerts = store.pending_notifications(a, 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].kind, alerts[0].conversation_id),
        (NotificationKind::DeliveryFailure, Some(conv))
    );
    assert_eq!(
        store.messages(a, conv).await.unwrap().pop().unwrap().status,
        "failed"
    );
    let audit = store.audit_entries(a, 0, 100).await.unwrap();
    assert!(audit.iter().any(|e| e.action == "outbox.dead_lettered"));
}

async fn opted_out_number_gets_only_the_opt_out_confirmation(db: &TestDb) {
    let store = store(db).await;
    let (a, _conv) = one_reply_queued(&store, "+254700000007").await;
    let stop = InboundDelivery {
        consent: Some((ConsentChange::OptOut, "keyword:STOP".into())),
        auto_reply: Some((
            "You will get no more messages. Reply START to undo.".into(),
            OutboxPurpose::OptoutConfirmation,
        )),
        run_agent: false,
        ..text("+254700000007", "wamid.stop", "STOP")
    };
    let got = store.ingest_inbound(a, &stop).await.unwrap();
    assert_eq!(got.job, None);
    let consent = store
        .consent(a, Channel::Whatsapp, &phone("+254700000007"))
        .await
        .unwrap()
        .unwrap();
    assert!(!consent.opted_in);
    assert_eq!(consent.source, "keyword:STOP");
    // The earlier reply is refused; only the confirmation goes out.
    let items = store.claim_outbox("o1", LEASE, 10).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].purpose, OutboxPurpose::OptoutConfirmation);
    let entries = store.outbox_entries(a, 10).await.unwrap();
    let refused = entries
        .iter()
        .find(|e| e.purpose == OutboxPurpose::Reply)
        .unwrap();
    assert_eq!(
        (refused.status.as_str(), refused.last_error.as_deref()),
        ("failed", Some("opted_out"))
    );
    assert!(
        store.pending_notifications(a, 10).await.unwrap().is_empty(),
        "a refusal is no alarm"
    );
    // START records the opt-in again.
    store
        .record_consent(
            a,
            Channel::Whatsapp,
            &phone("+254700000007"),
            ConsentChange::OptIn,
            "keyword:START",
        )
        .await
        .unwrap();
    assert!(
        store
            .consent(a, Channel::Whatsapp, &phone("+254700000007"))
            .await
            .unwrap()
            .unwrap()
            .opted_in
    );
}

async fn job_out_of_attempts_fails_and_alerts_staff(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let a = whatsapp_clinic(&*store, "alpha-clinic", "1001").await;
    store
        .ingest_inbound(a, &text("+254700000008", "wamid.8", "Hi"))
        .await
        .unwrap();
    let job = store.claim_jobs("w", LEASE, 10).await.unwrap().remove(0);
    store
        .retry_job(
            &job.lease,
            Some(clock.now() + SignedDuration::from_secs(5)),
            "store_unavailable",
        )
        .await
        .unwrap();
    assert!(store.pending_notifications(a, 10).await.unwrap().is_empty());
    clock.advance(SignedDuration::from_secs(5));
    let job = store.claim_jobs("w", LEASE, 10).await.unwrap().remove(0);
    assert_eq!(job.lease.attempt, 2);
    store
        .retry_job(&job.lease, None, "agent_error")
        .await
        .unwrap();
    clock.advance(SignedDuration::from_hours(1));
    // Not run again; what is left is the job that emails the staff about it.
    let left = store.claim_jobs("w", LEASE, 10).await.unwrap();
    let kinds: Vec<_> = left.iter().map(|j| j.kind.as_str()).collect();
    assert_eq!(kinds, [NOTIFY_STAFF_JOB]);
    let alerts = store.pending_notifications(a, 10).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, NotificationKind::DeliveryFailure);
    assert!(alerts[0].details.contains("agent_error"));
}

async fn every_staff_alert_queues_one_email_job_and_is_marked_sent_with_it(db: &TestDb) {
    let store = store(db).await;
    let a = whatsapp_clinic(&*store, "alpha-clinic", "1001").await;
    for (name, mail, role) in [
        ("Olive", "owner@alpha.example", Role::Owner),
        ("Rae", "desk@alpha.example", Role::Reception),
    ] {
        store
            .create_user(
                a,
                &NewUser {
                    email: email(mail),
                    name: name.into(),
                    role,
                },
            )
            .await
            .unwrap();
    }
    let contacts = store.staff_contacts(a).await.unwrap();
    let got: Vec<_> = contacts
        .iter()
        .map(|c| (c.role, c.email.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (Role::Owner, "owner@alpha.example"),
            (Role::Reception, "desk@alpha.example")
        ]
    );
    let got = store
        .ingest_inbound(a, &text("+254700000009", "wamid.9", "help"))
        .await
        .unwrap();
    let job = store.claim_jobs("w", LEASE, 10).await.unwrap().remove(0);
    let mut turn = reply_turn(&job, &["Call 999 now."]);
    turn.escalation = Some(Escalation {
        urgency: Urgency::Emergency,
        notify: NotificationKind::Emergency,
        details: serde_json::json!({ "rule": "chest_pain" }),
    });
    store.record_turn(a, got.conversation, &turn).await.unwrap();
    let jobs = store.claim_jobs("w", LEASE, 10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, NOTIFY_STAFF_JOB);
    let payload: NotifyStaffJob = serde_json::from_value(jobs[0].payload.clone()).unwrap();
    let alert = store.notification(a, payload.notification).await.unwrap();
    assert_eq!(
        (alert.kind, alert.conversation_id, alert.status.as_str()),
        (
            NotificationKind::Emergency,
            Some(got.conversation),
            "pending"
        )
    );
    store
        .mark_notification_sent(&jobs[0].lease, payload.notification)
        .await
        .unwrap();
    assert_eq!(
        store
            .notification(a, payload.notification)
            .await
            .unwrap()
            .status,
        "sent"
    );
    assert!(store.pending_notifications(a, 10).await.unwrap().is_empty());
    assert_err!(
        store
            .mark_notification_sent(&jobs[0].lease, payload.notification)
            .await,
        StoreError::Conflict(_)
    );
    // Another clinic cannot read it.
    let b = new_tenant(&*store, "beta-clinic").await;
    assert_err!(
        store.notification(b, payload.notification).await,
        StoreError::NotFound
    );
}

/// Every store keeps the channel accounts it opened (checked against the clinic's
/// `channels_version`): a secret rotated, an account moved or a clinic ended through another
/// instance must be seen by the very next webhook, with no waiting for a copy to expire.
async fn a_channel_change_made_through_another_instance_is_routed_by_the_next_webhook(db: &TestDb) {
    let clock = Arc::new(ManualClock::new(start()));
    let keyring = test_keyring();
    let here = db.open(keyring.clone(), clock.clone()).await.unwrap();
    let there = db.open(keyring, clock).await.unwrap();
    let scope = whatsapp_clinic(&*there, "cached-clinic", "2001").await;
    let secret = |a: &ChannelAccount| a.secrets.get("app_secret").map(str::to_owned);
    let first = here
        .route_channel(Provider::Whatsapp, "2001")
        .await
        .unwrap();
    assert_eq!(secret(&first).as_deref(), Some("secret-of-cached-clinic"));
    // Unchanged: the same account again (from the copy).
    let again = here
        .route_channel(Provider::Whatsapp, "2001")
        .await
        .unwrap();
    assert_eq!(again.verified_scope(), scope);
    assert_eq!(secret(&again), secret(&first));

    // A secret rotated elsewhere, without overlap: the old value is refused at once here.
    there
        .rotate_channel_secret(
            scope,
            Provider::Whatsapp,
            "app_secret",
            zeroize::Zeroizing::new("rotated-secret".to_owned()),
            SignedDuration::ZERO,
            Actor::Operator,
        )
        .await
        .unwrap();
    let rotated = here
        .route_channel(Provider::Whatsapp, "2001")
        .await
        .unwrap();
    assert_eq!(secret(&rotated).as_deref(), Some("rotated-secret"));
    assert!(
        !rotated
            .secrets
            .accepted("app_secret", start())
            .contains(&"secret-of-cached-clinic"),
        "a rotated secret without overlap is refused by the next webhook"
    );

    // The account moved to another address elsewhere: the old one routes nowhere here.
    there
        .set_channel_account(
            scope,
            Provider::Whatsapp,
            "2002",
            &serde_json::json!({ "waba": "2" }),
            &ChannelSecrets::new().with("app_secret", "moved-secret"),
        )
        .await
        .unwrap();
    assert_err!(
        here.route_channel(Provider::Whatsapp, "2001").await,
        StoreError::NotFound
    );
    let moved = here
        .route_channel(Provider::Whatsapp, "2002")
        .await
        .unwrap();
    assert_eq!(
        (
            moved.address.as_str(),
            secret(&moved).as_deref(),
            moved.config["waba"].as_str()
        ),
        ("2002", Some("moved-secret"), Some("2"))
    );

    // The clinic ended elsewhere: no webhook of it is routed here, from the copy or not.
    there
        .terminate_tenant(scope, Actor::Operator)
        .await
        .unwrap();
    assert_err!(
        here.route_channel(Provider::Whatsapp, "2002").await,
        StoreError::NotFound
    );
}
