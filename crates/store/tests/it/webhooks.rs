//! Signed outbound webhooks on both engines: endpoints made (URL and secrets sealed, never in
//! the audit), limited to ten active per clinic, events queued once per subscribed endpoint,
//! deliveries claimed across clinics under a lease and settled, secrets rotated with an
//! overlap, endpoints disabled, and everything confined to its clinic.

use crate::encryption::{contains, storage_dump};
use crate::harness::*;
use frontdesk_domain::{Clock, WebhookEndpointId};
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    an_endpoint_is_made_listed_and_audited_without_its_url_or_secret,
    bad_endpoint_settings_are_refused_with_the_field_named,
    a_clinic_has_at_most_ten_active_endpoints,
    an_event_is_queued_once_for_each_subscribed_active_endpoint,
    a_test_event_goes_to_one_endpoint_whatever_it_subscribes_to,
    a_delivery_is_claimed_and_settled_delivered_retried_or_dead,
    a_held_lease_is_not_claimed_twice_and_a_lost_lease_cannot_settle,
    disabling_an_endpoint_kills_its_pending_deliveries,
    a_rotated_secret_signs_beside_the_new_one_until_its_overlap_ends,
    another_clinics_endpoint_is_not_found_anywhere,
    a_terminated_clinics_deliveries_wait,
    appointment_changes_queue_their_events_with_the_change,
    escalations_hand_offs_and_erasures_queue_their_events,
    every_new_patient_message_queues_one_message_received,
    an_answered_access_request_queues_data_request_completed,
);

// The application's own tenant filters alone, without row-level security.
postgres_as_owner_tests!(another_clinics_endpoint_is_not_found_anywhere);

const URL_TOKEN: &str = "tok-s3cr3t-path";

fn endpoint(n: u32, events: &[&str]) -> NewWebhookEndpoint {
    NewWebhookEndpoint {
        url: format!("https://hooks{n}.example/in/{URL_TOKEN}?q={n}"),
        host: format!("hooks{n}.example"),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secret: format!("whsec_secret{n}xyz").into(),
    }
}

fn body(event_id: &str) -> Vec<u8> {
    format!(r#"{{"id":"{event_id}","type":"appointment.created"}}"#).into_bytes()
}

async fn deliveries(store: &dyn Store, scope: TenantScope) -> Vec<WebhookDelivery> {
    store.webhook_deliveries(scope, None, 100).await.unwrap()
}

async fn an_endpoint_is_made_listed_and_audited_without_its_url_or_secret(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let made = store
        .create_webhook_endpoint(
            scope,
            &endpoint(1, &["appointment.created", "ping"]),
            Actor::Operator,
        )
        .await
        .unwrap();
    clock.advance(SignedDuration::from_secs(1));
    let second = store
        .create_webhook_endpoint(scope, &endpoint(2, &["message.received"]), Actor::Operator)
        .await
        .unwrap();
    assert_eq!(
        made.url,
        format!("https://hooks1.example/in/{URL_TOKEN}?q=1")
    );
    assert_eq!(made.host, "hooks1.example");
    assert_eq!(made.events, ["appointment.created", "ping"]);
    assert!(made.active);
    assert_eq!(made.created_by, "operator");
    assert_eq!(made.created_at, start());
    assert_eq!(made.previous_until, None);
    let listed = store.webhook_endpoints(scope).await.unwrap();
    assert_eq!(listed, vec![second.clone(), made.clone()], "newest first");

    let debug = format!("{made:?} {:?}", endpoint(1, &["ping"]));
    assert!(debug.contains("hooks1.example"), "{debug}");
    assert!(
        !debug.contains(URL_TOKEN) && !debug.contains("whsec_"),
        "{debug}"
    );

    let audit = all_audit(&*store, scope).await;
    let created: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "webhook.endpoint_created")
        .collect();
    assert_eq!(created.len(), 2);
    assert_eq!(
        created[0].target_id.as_deref(),
        Some(made.id.to_string().as_str())
    );
    assert!(created[0].details.contains("hooks1.example"));
    for e in &audit {
        assert!(
            !e.details.contains(URL_TOKEN) && !e.details.contains("whsec_"),
            "{e:?}"
        );
    }

    let dump = storage_dump(db).await;
    for secret in [URL_TOKEN, "whsec_secret1xyz", "whsec_secret2xyz", "/in/"] {
        assert!(
            !contains(&dump, secret.as_bytes()),
            "{secret} stored in clear"
        );
    }
    assert!(
        contains(&dump, b"hooks1.example"),
        "the host is kept in clear"
    );
}

async fn bad_endpoint_settings_are_refused_with_the_field_named(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let good = || endpoint(1, &["ping"]);
    let cases: Vec<(&str, NewWebhookEndpoint)> = vec![
        (
            "url",
            NewWebhookEndpoint {
                url: "  ".into(),
                ..good()
            },
        ),
        (
            "url",
            NewWebhookEndpoint {
                url: format!("https://a.example/{}", "x".repeat(2048)),
                ..good()
            },
        ),
        (
            "host",
            NewWebhookEndpoint {
                host: String::new(),
                ..good()
            },
        ),
        (
            "events",
            NewWebhookEndpoint {
                events: vec![],
                ..good()
            },
        ),
        (
            "events",
            NewWebhookEndpoint {
                events: vec!["ping".into(), "appointment.deleted".into()],
                ..good()
            },
        ),
        (
            "secret",
            NewWebhookEndpoint {
                secret: String::new().into(),
                ..good()
            },
        ),
    ];
    for (field, bad) in cases {
        match store
            .create_webhook_endpoint(scope, &bad, Actor::Operator)
            .await
        {
            Err(StoreError::Invalid(e)) => assert!(e.to_string().contains(field), "{field}: {e}"),
            other => panic!("expected Invalid({field}), got {other:?}"),
        }
    }
    assert!(store.webhook_endpoints(scope).await.unwrap().is_empty());
    assert!(
        all_audit(&*store, scope)
            .await
            .iter()
            .all(|e| !e.action.starts_with("webhook."))
    );
    let made = store
        .create_webhook_endpoint(scope, &good(), Actor::Operator)
        .await
        .unwrap();
    assert_err!(
        store
            .enqueue_webhook_event(scope, "evt_1", "appointment.deleted", b"{}")
            .await,
        StoreError::Invalid(_)
    );
    assert_err!(
        store.enqueue_webhook_event(scope, "", "ping", b"{}").await,
        StoreError::Invalid(_)
    );
    assert_err!(
        store
            .rotate_webhook_secret(
                scope,
                made.id,
                String::new().into(),
                SignedDuration::ZERO,
                Actor::Operator
            )
            .await,
        StoreError::Invalid(_)
    );
}

async fn a_clinic_has_at_most_ten_active_endpoints(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let other = new_tenant(&*store, "clinic-b").await;
    let mut made = Vec::new();
    for n in 0..10 {
        made.push(
            store
                .create_webhook_endpoint(scope, &endpoint(n, &["ping"]), Actor::Operator)
                .await
                .unwrap(),
        );
    }
    match store
        .create_webhook_endpoint(scope, &endpoint(10, &["ping"]), Actor::Operator)
        .await
    {
        Err(StoreError::Invalid(e)) => assert!(e.to_string().contains("endpoints"), "{e}"),
        other => panic!("expected Invalid(endpoints), got {other:?}"),
    }
    // Another clinic has its own ten; a disabled endpoint frees a place.
    store
        .create_webhook_endpoint(other, &endpoint(11, &["ping"]), Actor::Operator)
        .await
        .unwrap();
    assert!(
        store
            .disable_webhook_endpoint(scope, made[0].id, Actor::Operator)
            .await
            .unwrap()
    );
    store
        .create_webhook_endpoint(scope, &endpoint(12, &["ping"]), Actor::Operator)
        .await
        .unwrap();
    assert_eq!(store.webhook_endpoints(scope).await.unwrap().len(), 11);
}

async fn an_event_is_queued_once_for_each_subscribed_active_endpoint(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let other = new_tenant(&*store, "clinic-b").await;
    assert_eq!(
        store
            .enqueue_webhook_event(scope, "evt_0", "appointment.created", &body("evt_0"))
            .await
            .unwrap(),
        0,
        "no endpoint, nothing queued"
    );
    let both = store
        .create_webhook_endpoint(
            scope,
            &endpoint(1, &["appointment.created", "appointment.cancelled"]),
            Actor::Operator,
        )
        .await
        .unwrap();
    let created = store
        .create_webhook_endpoint(
            scope,
            &endpoint(2, &["appointment.created"]),
            Actor::Operator,
        )
        .await
        .unwrap();
    let pinged = store
        .create_webhook_endpoint(scope, &endpoint(3, &["ping"]), Actor::Operator)
        .await
        .unwrap();
    let off = store
        .create_webhook_endpoint(
            scope,
            &endpoint(4, &["appointment.created"]),
            Actor::Operator,
        )
        .await
        .unwrap();
    store
        .disable_webhook_endpoint(scope, off.id, Actor::Operator)
        .await
        .unwrap();
    let theirs = store
        .create_webhook_endpoint(
            other,
            &endpoint(5, &["appointment.created"]),
            Actor::Operator,
        )
        .await
        .unwrap();

    assert_eq!(
        store
            .enqueue_webhook_event(scope, "evt_1", "appointment.created", &body("evt_1"))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .enqueue_webhook_event(scope, "evt_1", "appointment.created", &body("evt_1"))
            .await
            .unwrap(),
        0,
        "the same event again queues nothing"
    );
    assert_eq!(
        store
            .enqueue_webhook_event(scope, "evt_2", "appointment.cancelled", b"{}")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .enqueue_webhook_event(scope, "evt_3", "ping", b"{}")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .enqueue_webhook_event(scope, "evt_4", "message.received", b"{}")
            .await
            .unwrap(),
        0
    );

    let log = deliveries(&*store, scope).await;
    let mut got: Vec<(WebhookEndpointId, &str)> = log
        .iter()
        .map(|d| (d.endpoint_id, d.event_id.as_str()))
        .collect();
    got.sort();
    let mut want = vec![
        (both.id, "evt_1"),
        (created.id, "evt_1"),
        (both.id, "evt_2"),
        (pinged.id, "evt_3"),
    ];
    want.sort();
    assert_eq!(got, want);
    assert!(
        log.iter()
            .all(|d| d.status == WebhookDeliveryStatus::Pending && d.attempts == 0)
    );
    assert_eq!(
        log.iter()
            .find(|d| d.event_id == "evt_2")
            .unwrap()
            .event_type,
        "appointment.cancelled"
    );
    assert_eq!(
        log.iter().find(|d| d.event_id == "evt_3").unwrap().host,
        "hooks3.example"
    );
    assert_eq!(
        store
            .webhook_deliveries(scope, Some(both.id), 100)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .webhook_deliveries(scope, None, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        deliveries(&*store, other).await.is_empty(),
        "{theirs:?} got nothing"
    );
}

async fn a_test_event_goes_to_one_endpoint_whatever_it_subscribes_to(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let one = store
        .create_webhook_endpoint(scope, &endpoint(1, &["message.received"]), Actor::Operator)
        .await
        .unwrap();
    let two = store
        .create_webhook_endpoint(scope, &endpoint(2, &["ping"]), Actor::Operator)
        .await
        .unwrap();
    assert!(
        store
            .enqueue_webhook_test(scope, one.id, "evt_test", b"{\"type\":\"ping\"}")
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_webhook_test(scope, one.id, "evt_test", b"{\"type\":\"ping\"}")
            .await
            .unwrap()
    );
    let log = deliveries(&*store, scope).await;
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].endpoint_id, log[0].event_type.as_str()),
        (one.id, "ping")
    );
    let jobs = store
        .claim_webhook_deliveries("w1", SignedDuration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].body, b"{\"type\":\"ping\"}");
    store
        .disable_webhook_endpoint(scope, two.id, Actor::Operator)
        .await
        .unwrap();
    assert_err!(
        store
            .enqueue_webhook_test(scope, two.id, "evt_t2", b"{}")
            .await,
        StoreError::Conflict(_)
    );
}

async fn a_delivery_is_claimed_and_settled_delivered_retried_or_dead(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let made = store
        .create_webhook_endpoint(
            scope,
            &endpoint(1, &["appointment.created"]),
            Actor::Operator,
        )
        .await
        .unwrap();
    for id in ["evt_ok", "evt_retry", "evt_dead"] {
        store
            .enqueue_webhook_event(scope, id, "appointment.created", &body(id))
            .await
            .unwrap();
    }
    let lease = SignedDuration::from_secs(30);
    let jobs = store
        .claim_webhook_deliveries("w1", lease, 10)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3);
    let job = |id: &str| jobs.iter().find(|j| j.event_id == id).unwrap();
    let ok = job("evt_ok");
    assert_eq!(ok.lease.scope, scope);
    assert_eq!(ok.endpoint, made.id);
    assert_eq!(ok.url, made.url);
    assert_eq!(ok.secret.as_str(), "whsec_secret1xyz");
    assert!(ok.previous_secret.is_none());
    assert_eq!(ok.body, body("evt_ok"));
    assert_eq!(
        (ok.attempt, ok.event_type.as_str()),
        (1, "appointment.created")
    );
    let debug = format!("{ok:?}");
    assert!(
        !debug.contains(URL_TOKEN)
            && !debug.contains("whsec_")
            && !debug.contains("evt_ok\",\"type"),
        "{debug}"
    );

    store
        .settle_webhook_delivery(&ok.lease, &WebhookSettle::Delivered { status: 204 })
        .await
        .unwrap();
    let retry_at = clock.now() + SignedDuration::from_mins(5);
    let retry = WebhookSettle::Retry {
        at: retry_at,
        status: Some(503),
        error: "http_503".into(),
    };
    store
        .settle_webhook_delivery(&job("evt_retry").lease, &retry)
        .await
        .unwrap();
    let dead = WebhookSettle::Dead {
        status: Some(410),
        error: "http_410".into(),
    };
    store
        .settle_webhook_delivery(&job("evt_dead").lease, &dead)
        .await
        .unwrap();
    assert_err!(
        store
            .settle_webhook_delivery(&ok.lease, &WebhookSettle::Delivered { status: 200 })
            .await,
        StoreError::Conflict(_)
    );
    let bad = WebhookSettle::Dead {
        status: None,
        error: "https://hooks1.example/in".into(),
    };
    assert_err!(
        store
            .settle_webhook_delivery(&job("evt_retry").lease, &bad)
            .await,
        StoreError::Invalid(_)
    );

    // Only the delivery given up on is audited: the host, the event and the reason, never
    // the URL.
    let audit = all_audit(&*store, scope).await;
    let failed: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "webhook.delivery_failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (
            failed[0].actor_kind.as_str(),
            failed[0].target_kind.as_deref()
        ),
        ("system", Some("webhook_delivery"))
    );
    assert_eq!(
        failed[0].target_id,
        Some(job("evt_dead").lease.id.to_string())
    );
    let details: serde_json::Value = serde_json::from_str(&failed[0].details).unwrap();
    assert_eq!(details["host"], "hooks1.example");
    assert_eq!(details["event_id"], "evt_dead");
    assert_eq!(details["event_type"], "appointment.created");
    assert_eq!(details["attempts"], 1);
    assert_eq!(details["last_status"], 410);
    assert_eq!(details["error"], "http_410");
    assert!(
        !failed[0].details.contains(URL_TOKEN),
        "{}",
        failed[0].details
    );
    assert!(store.verify_audit_chain(scope).await.unwrap().is_intact());

    let log = deliveries(&*store, scope).await;
    let row = |id: &str| log.iter().find(|d| d.event_id == id).unwrap().clone();
    let delivered = row("evt_ok");
    assert_eq!(delivered.status, WebhookDeliveryStatus::Delivered);
    assert_eq!(
        (
            delivered.attempts,
            delivered.last_status,
            delivered.last_error
        ),
        (1, Some(204), None)
    );
    assert_eq!(delivered.delivered_at, Some(clock.now()));
    let waiting = row("evt_retry");
    assert_eq!(waiting.status, WebhookDeliveryStatus::Pending);
    assert_eq!((waiting.attempts, waiting.last_status), (1, Some(503)));
    assert_eq!(waiting.last_error.as_deref(), Some("http_503"));
    assert_eq!(waiting.next_attempt_at, retry_at);
    let gone = row("evt_dead");
    assert_eq!(gone.status, WebhookDeliveryStatus::Dead);
    assert_eq!(
        (gone.attempts, gone.last_error.as_deref()),
        (1, Some("http_410"))
    );

    // Not due yet; due once the clock reaches the retry time, as attempt 2.
    clock.advance(SignedDuration::from_mins(4));
    assert!(
        store
            .claim_webhook_deliveries("w1", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(SignedDuration::from_mins(1));
    let again = store
        .claim_webhook_deliveries("w2", lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].event_id.as_str(), again[0].attempt),
        ("evt_retry", 2)
    );
    assert_eq!(
        again[0].body,
        body("evt_retry"),
        "the same bytes on every attempt"
    );
    store
        .settle_webhook_delivery(&again[0].lease, &WebhookSettle::Delivered { status: 200 })
        .await
        .unwrap();
    assert_eq!(row_after(&*store, scope, "evt_retry").await.attempts, 2);
    assert!(
        store
            .claim_webhook_deliveries("w1", lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn row_after(store: &dyn Store, scope: TenantScope, event_id: &str) -> WebhookDelivery {
    deliveries(store, scope)
        .await
        .into_iter()
        .find(|d| d.event_id == event_id)
        .unwrap()
}

async fn a_held_lease_is_not_claimed_twice_and_a_lost_lease_cannot_settle(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    store
        .create_webhook_endpoint(scope, &endpoint(1, &["ping"]), Actor::Operator)
        .await
        .unwrap();
    store
        .enqueue_webhook_event(scope, "evt_1", "ping", b"{}")
        .await
        .unwrap();
    store
        .enqueue_webhook_event(scope, "evt_2", "ping", b"{}")
        .await
        .unwrap();
    let lease = SignedDuration::from_secs(30);
    let first = store
        .claim_webhook_deliveries("w1", lease, 1)
        .await
        .unwrap();
    assert_eq!(first.len(), 1, "the limit holds");
    let second = store
        .claim_webhook_deliveries("w2", lease, 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_ne!(first[0].lease.id, second[0].lease.id);
    assert!(
        store
            .claim_webhook_deliveries("w3", lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "both are held"
    );

    // w1's lease runs out; w3 takes the row over, and w1 can no longer settle it.
    clock.advance(SignedDuration::from_secs(31));
    store
        .settle_webhook_delivery(&second[0].lease, &WebhookSettle::Delivered { status: 200 })
        .await
        .unwrap();
    let taken = store
        .claim_webhook_deliveries("w3", lease, 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].lease.id, first[0].lease.id);
    assert_eq!(taken[0].attempt, 1, "the lost attempt was never settled");
    assert_err!(
        store
            .settle_webhook_delivery(&first[0].lease, &WebhookSettle::Delivered { status: 200 })
            .await,
        StoreError::Conflict(_)
    );
    store
        .settle_webhook_delivery(
            &taken[0].lease,
            &WebhookSettle::Dead {
                status: None,
                error: "timeout".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        row_after(&*store, scope, "evt_1").await.status,
        WebhookDeliveryStatus::Dead
    );
}

async fn disabling_an_endpoint_kills_its_pending_deliveries(db: &TestDb) {
    let store = store(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let off = store
        .create_webhook_endpoint(scope, &endpoint(1, &["ping"]), Actor::Operator)
        .await
        .unwrap();
    let on = store
        .create_webhook_endpoint(scope, &endpoint(2, &["ping"]), Actor::Operator)
        .await
        .unwrap();
    store
        .enqueue_webhook_event(scope, "evt_1", "ping", b"{}")
        .await
        .unwrap();
    let held = store
        .claim_webhook_deliveries("w1", SignedDuration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(held.len(), 2);
    store
        .enqueue_webhook_event(scope, "evt_2", "ping", b"{}")
        .await
        .unwrap();

    assert!(
        store
            .disable_webhook_endpoint(scope, off.id, Actor::Operator)
            .await
            .unwrap()
    );
    assert!(
        !store
            .disable_webhook_endpoint(scope, off.id, Actor::Operator)
            .await
            .unwrap(),
        "already off"
    );
    let log = store
        .webhook_deliveries(scope, Some(off.id), 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    for d in &log {
        assert_eq!(d.status, WebhookDeliveryStatus::Dead);
        assert_eq!(d.last_error.as_deref(), Some("endpoint_disabled"));
    }
    let in_flight = held.iter().find(|j| j.endpoint == off.id).unwrap();
    assert_err!(
        store
            .settle_webhook_delivery(&in_flight.lease, &WebhookSettle::Delivered { status: 200 })
            .await,
        StoreError::Conflict(_)
    );
    let listed = store.webhook_endpoints(scope).await.unwrap();
    assert!(!listed.iter().find(|e| e.id == off.id).unwrap().active);
    assert_eq!(
        store
            .enqueue_webhook_event(scope, "evt_3", "ping", b"{}")
            .await
            .unwrap(),
        1,
        "only the active one"
    );
    let jobs = store
        .claim_webhook_deliveries("w2", SignedDuration::from_secs(30), 10)
        .await
        .unwrap();
    assert!(
        jobs.iter().all(|j| j.endpoint == on.id) && jobs.len() == 2,
        "{jobs:?}"
    );
    let disabled: Vec<_> = all_audit(&*store, scope)
        .await
        .into_iter()
        .filter(|e| e.action == "webhook.endpoint_disabled")
        .collect();
    assert_eq!(disabled.len(), 1);
    assert!(
        disabled[0].details.contains("\"deliveries_dropped\":2"),
        "{}",
        disabled[0].details
    );
    assert_err!(
        store
            .rotate_webhook_secret(
                scope,
                off.id,
                String::from("whsec_new").into(),
                SignedDuration::ZERO,
                Actor::Operator
            )
            .await,
        StoreError::Conflict(_)
    );
}

async fn a_rotated_secret_signs_beside_the_new_one_until_its_overlap_ends(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "clinic-a").await;
    let made = store
        .create_webhook_endpoint(scope, &endpoint(1, &["ping"]), Actor::Operator)
        .await
        .unwrap();
    let overlap = SignedDuration::from_hours(24);
    store
        .rotate_webhook_secret(
            scope,
            made.id,
            String::from("whsec_rotated2").into(),
            overlap,
            Actor::Operator,
        )
        .await
        .unwrap();
    let listed = store.webhook_endpoints(scope).await.unwrap();
    assert_eq!(listed[0].previous_until, Some(clock.now() + overlap));
    let lease = SignedDuration::from_secs(30);
    store
        .enqueue_webhook_event(scope, "evt_1", "ping", b"{}")
        .await
        .unwrap();
    let jobs = store
        .claim_webhook_deliveries("w1", lease, 10)
        .await
        .unwrap();
    assert_eq!(jobs[0].secret.as_str(), "whsec_rotated2");
    assert_eq!(
        jobs[0].previous_secret.as_deref().map(String::as_str),
        Some("whsec_secret1xyz")
    );
    store
        .settle_webhook_delivery(&jobs[0].lease, &WebhookSettle::Delivered { status: 200 })
        .await
        .unwrap();

    clock.advance(overlap + SignedDuration::from_secs(1));
    store
        .enqueue_webhook_event(scope, "evt_2", "ping", b"{}")
        .await
        .unwrap();
    let jobs = store
        .claim_webhook_deliveries("w1", lease, 10)
        .await
        .unwrap();
    assert_eq!(jobs[0].secret.as_str(), "whsec_rotated2");
    assert!(jobs[0].previous_secret.is_none(), "the overlap is over");
    assert_eq!(
        store.webhook_endpoints(scope).await.unwrap()[0].previous_until,
        None
    );

    // Without an overlap the old secret goes at once.
    store
        .rotate_webhook_secret(
            scope,
            made.id,
            String::from("whsec_rotated3").into(),
            SignedDuration::ZERO,
            Actor::Operator,
        )
        .await
        .unwrap();
    store
        .enqueue_webhook_event(scope, "evt_3", "ping", b"{}")
        .await
        .unwrap();
    clock.advance(SignedDuration::from_secs(31));
    let jobs = store
        .claim_webhook_deliveries("w1", lease, 10)
        .await
        .unwrap();
    let job = jobs.iter().find(|j| j.event_id == "evt_3").unwrap();
    assert_eq!(job.secret.as_str(), "whsec_rotated3");
    assert!(job.previous_secret.is_none());

    let audit = all_audit(&*store, scope).await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "webhook.secret_rotated")
            .count(),
        2
    );
    assert!(audit.iter().all(|e| !e.details.contains("whsec_")));
    let dump = storage_dump(db).await;
    for secret in ["whsec_rotated2", "whsec_rotated3", "whsec_secret1xyz"] {
        assert!(
            !contains(&dump, secret.as_bytes()),
            "{secret} stored in clear"
        );
    }
}

async fn another_clinics_endpoint_is_not_found_anywhere(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    let theirs = b.webhook_endpoint;
    assert_err!(
        store
            .disable_webhook_endpoint(a.scope, theirs, Actor::Staff(a.user))
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .rotate_webhook_secret(
                a.scope,
                theirs,
                String::from("whsec_x").into(),
                SignedDuration::ZERO,
                Actor::Staff(a.user)
            )
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store
            .enqueue_webhook_test(a.scope, theirs, "evt_x", b"{}")
            .await,
        StoreError::NotFound
    );
    assert_err!(
        store.webhook_deliveries(a.scope, Some(theirs), 10).await,
        StoreError::NotFound
    );
    let unknown = WebhookEndpointId::new();
    assert_err!(
        store
            .disable_webhook_endpoint(a.scope, unknown, Actor::Staff(a.user))
            .await,
        StoreError::NotFound
    );
    let mine = store.webhook_endpoints(a.scope).await.unwrap();
    assert_eq!(
        mine.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![a.webhook_endpoint]
    );
    let log = deliveries(&*store, a.scope).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].endpoint_id, a.webhook_endpoint);
    // B's endpoint still works, untouched.
    assert!(store.webhook_endpoints(b.scope).await.unwrap()[0].active);
    assert_eq!(
        deliveries(&*store, b.scope).await[0].status,
        WebhookDeliveryStatus::Pending
    );
}

async fn a_terminated_clinics_deliveries_wait(db: &TestDb) {
    let store = store(db).await;
    let (a, b) = seed_two(&*store).await;
    store
        .terminate_tenant(a.scope, Actor::Operator)
        .await
        .unwrap();
    let jobs = store
        .claim_webhook_deliveries("w1", SignedDuration::from_secs(30), 10)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].lease.scope, b.scope);
    assert_eq!(jobs[0].endpoint, b.webhook_endpoint);
    assert!(jobs[0].url.starts_with("https://hooks.beta.example/"));
    assert_eq!(
        deliveries(&*store, a.scope).await[0].status,
        WebhookDeliveryStatus::Pending
    );
}

/// Booking, moving, confirming and cancelling queue `appointment.*` events in the same
/// transaction, only for endpoints subscribed to them, as envelopes of ids and times.
async fn appointment_changes_queue_their_events_with_the_change(db: &TestDb) {
    use crate::appointments::{WED_10, booking, diary, ts};
    let d = diary(db, 1).await;
    let store = &*d.store;
    // No endpoint: booking queues nothing.
    let first = store
        .book_appointment(d.scope, &booking(&d, 0, WED_10, "k0"))
        .await
        .unwrap();
    assert!(deliveries(store, d.scope).await.is_empty());
    let created = store
        .create_webhook_endpoint(
            d.scope,
            &endpoint(1, &["appointment.created"]),
            Actor::Operator,
        )
        .await
        .unwrap();
    let changes = store
        .create_webhook_endpoint(
            d.scope,
            &endpoint(2, &["appointment.changed", "appointment.cancelled"]),
            Actor::Operator,
        )
        .await
        .unwrap();
    let second = store
        .book_appointment(d.scope, &booking(&d, 0, "2026-11-24T23:00:00Z", "k1"))
        .await
        .unwrap();
    // The same booking asked again (its idempotency key) queues nothing more.
    store
        .book_appointment(d.scope, &booking(&d, 0, "2026-11-24T23:00:00Z", "k1"))
        .await
        .unwrap();
    let moved = store
        .reschedule_appointment(
            d.scope,
            first.id,
            ts("2026-11-25T01:00:00Z"),
            d.practitioner,
            Actor::Agent,
            "move-1",
        )
        .await
        .unwrap();
    store
        .confirm_appointment(d.scope, moved.id, Actor::Agent)
        .await
        .unwrap();
    store
        .cancel_appointment(d.scope, second.id, Actor::Agent)
        .await
        .unwrap();
    let jobs = store
        .claim_webhook_deliveries("test", SignedDuration::from_mins(1), 100)
        .await
        .unwrap();
    let mut seen: Vec<(WebhookEndpointId, String, String)> = jobs
        .iter()
        .map(|j| {
            let v: serde_json::Value = serde_json::from_slice(&j.body).unwrap();
            assert_eq!(v["id"].as_str(), Some(j.event_id.as_str()));
            assert!(j.event_id.starts_with("evt_"));
            assert_eq!(v["type"].as_str(), Some(j.event_type.as_str()));
            assert_eq!(v["tenant"], "diary-clinic");
            let keys: Vec<&str> = v["data"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            for k in &keys {
                assert!(
                    [
                        "appointment_id",
                        "patient_id",
                        "practitioner_id",
                        "service_id",
                        "starts_at",
                        "ends_at",
                        "status",
                        "previous_appointment_id"
                    ]
                    .contains(k),
                    "ids, times and status only: {k}"
                );
            }
            (
                j.endpoint,
                j.event_type.clone(),
                format!(
                    "{} {}",
                    v["data"]["appointment_id"].as_str().unwrap(),
                    v["data"]["status"].as_str().unwrap()
                ),
            )
        })
        .collect();
    seen.sort();
    let mut want = vec![
        (
            created.id,
            "appointment.created".to_owned(),
            format!("{} booked", second.id),
        ),
        (
            changes.id,
            "appointment.changed".to_owned(),
            format!("{} booked", moved.id),
        ),
        (
            changes.id,
            "appointment.changed".to_owned(),
            format!("{} confirmed", moved.id),
        ),
        (
            changes.id,
            "appointment.cancelled".to_owned(),
            format!("{} cancelled", second.id),
        ),
    ];
    want.sort();
    assert_eq!(seen, want);
    let move_event = jobs
        .iter()
        .map(|j| serde_json::from_slice::<serde_json::Value>(&j.body).unwrap())
        .find(|v| v["data"]["previous_appointment_id"].is_string())
        .unwrap();
    assert_eq!(
        move_event["data"]["previous_appointment_id"],
        first.id.to_string()
    );
}

/// A red flag, a staff takeover and an erasure queue `conversation.escalated`,
/// `conversation.handed_off` and `data_request.completed` (ids and times only).
async fn escalations_hand_offs_and_erasures_queue_their_events(db: &TestDb) {
    let store = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let ep = store
        .create_webhook_endpoint(
            a.scope,
            &endpoint(
                3,
                &[
                    "conversation.escalated",
                    "conversation.handed_off",
                    "data_request.completed",
                ],
            ),
            Actor::Operator,
        )
        .await
        .unwrap();
    let mut red = turn(delivered("chest pain", "wamid.red"), &["Call 111 now."]);
    red.escalation = Some(Escalation {
        urgency: Urgency::Emergency,
        notify: NotificationKind::Emergency,
        details: serde_json::json!({ "rule": "chest_pain" }),
    });
    store
        .record_turn(a.scope, a.conversation, &red)
        .await
        .unwrap();
    // A calm turn queues nothing.
    store
        .record_turn(
            a.scope,
            a.conversation,
            &turn(delivered("thanks", "wamid.calm"), &["Kia ora"]),
        )
        .await
        .unwrap();
    store
        .take_over(
            a.scope,
            a.conversation,
            a.user,
            SignedDuration::from_mins(5),
        )
        .await
        .unwrap();
    store
        .erase_patient(a.scope, a.patient, Actor::Operator)
        .await
        .unwrap();
    let jobs = store
        .claim_webhook_deliveries("test", SignedDuration::from_mins(1), 100)
        .await
        .unwrap();
    let mut got: Vec<(String, serde_json::Value)> = jobs
        .iter()
        .filter(|j| j.endpoint == ep.id)
        .map(|j| {
            (
                j.event_type.clone(),
                serde_json::from_slice::<serde_json::Value>(&j.body).unwrap()["data"].clone(),
            )
        })
        .collect();
    got.sort_by(|x, y| x.0.cmp(&y.0));
    let kinds: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "conversation.escalated",
            "conversation.handed_off",
            "data_request.completed"
        ]
    );
    assert_eq!(got[0].1["conversation_id"], a.conversation.to_string());
    assert_eq!(got[0].1["channel"], "whatsapp");
    assert_eq!(got[2].1["patient_id"], a.patient.to_string());
    assert_eq!(got[2].1["kind"], "erasure");
    for (_, data) in &got {
        let text = data.to_string();
        assert!(
            !text.contains("chest") && !text.contains("215550101"),
            "ids and times only: {text}"
        );
    }
}

/// The `message.received` events queued for `ep`, as (message id, data).
async fn received_events(store: &dyn Store, ep: WebhookEndpointId) -> Vec<serde_json::Value> {
    let jobs = store
        .claim_webhook_deliveries("test", SignedDuration::from_mins(1), 100)
        .await
        .unwrap();
    jobs.iter()
        .filter(|j| j.endpoint == ep)
        .map(|j| {
            assert_eq!(j.event_type, "message.received");
            let env: serde_json::Value = serde_json::from_slice(&j.body).unwrap();
            assert_eq!(env["type"], "message.received");
            env["data"].clone()
        })
        .collect()
}

async fn every_new_patient_message_queues_one_message_received(db: &TestDb) {
    let store = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let b = seed(&*store, "clinic-b", "beta", "+64 21 555 0202").await;
    // Clinic B subscribes to everything but message.received: it gets none.
    store
        .create_webhook_endpoint(
            b.scope,
            &endpoint(9, &["appointment.created", "conversation.escalated"]),
            Actor::Operator,
        )
        .await
        .unwrap();
    // Before any endpoint subscribes, nothing is queued (and nothing is kept for later).
    let early = InboundDelivery {
        channel: Channel::Whatsapp,
        from: phone("+64 21 555 0301"),
        provider_message_id: "wamid.early".into(),
        body: "hello before".into(),
        consent: None,
        auto_reply: None,
        run_agent: true,
    };
    store.ingest_inbound(a.scope, &early).await.unwrap();
    let ep = store
        .create_webhook_endpoint(
            a.scope,
            &endpoint(4, &["message.received"]),
            Actor::Operator,
        )
        .await
        .unwrap();

    // A provider delivery (SMS / WhatsApp), and its redelivery: one event.
    let first = InboundDelivery {
        provider_message_id: "wamid.mr1".into(),
        body: "my knee hurts 021 555 0301".into(),
        ..early.clone()
    };
    let got = store.ingest_inbound(a.scope, &first).await.unwrap();
    assert_err!(
        store.ingest_inbound(a.scope, &first).await,
        StoreError::Duplicate
    );
    // A turn with the patient's message (web chat, voice) is one more; the replies are none.
    store
        .record_turn(
            a.scope,
            a.conversation,
            &turn(
                delivered("is parking free?", "wamid.mr2"),
                &["Yes, behind the clinic."],
            ),
        )
        .await
        .unwrap();
    // A staff reply is not a received message.
    store
        .record_turn(
            a.scope,
            a.conversation,
            &Turn {
                inbound: None,
                replies: vec![NewMessage {
                    sender: Sender::Staff,
                    ..NewMessage::agent_reply("See you soon")
                }],
                ..turn(delivered("unused", "unused"), &[])
            },
        )
        .await
        .unwrap();
    // Another clinic's patient message queues nothing for clinic A's endpoint.
    store
        .ingest_inbound(
            b.scope,
            &InboundDelivery {
                provider_message_id: "wamid.b1".into(),
                ..first.clone()
            },
        )
        .await
        .unwrap();

    let mut events = received_events(&*store, ep.id).await;
    events.sort_by_key(|d| d["message_id"].as_str().unwrap().to_owned());
    assert_eq!(events.len(), 2, "{events:?}");
    let provider = &events[0];
    assert_eq!(provider["message_id"], got.message.to_string());
    assert_eq!(provider["conversation_id"], got.conversation.to_string());
    assert_eq!(provider["patient_id"], got.patient.to_string());
    assert_eq!(provider["channel"], "whatsapp");
    assert!(provider["received_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(events[1]["conversation_id"], a.conversation.to_string());
    for data in &events {
        let text = data.to_string();
        assert!(
            !text.contains("knee") && !text.contains("parking") && !text.contains("215550"),
            "ids and times only: {text}"
        );
    }
    // Clinic B's endpoint got nothing: it does not subscribe.
    assert!(
        deliveries(&*store, b.scope)
            .await
            .iter()
            .all(|d| d.event_type != "message.received")
    );
}

async fn an_answered_access_request_queues_data_request_completed(db: &TestDb) {
    let store = store(db).await;
    let a = seed(&*store, "clinic-a", "alpha", "+64 21 555 0101").await;
    let b = seed(&*store, "clinic-b", "beta", "+64 21 555 0202").await;
    let ep = store
        .create_webhook_endpoint(
            a.scope,
            &endpoint(5, &["data_request.completed"]),
            Actor::Operator,
        )
        .await
        .unwrap();
    store
        .record_patient_export(a.scope, a.patient, Actor::Staff(a.user), "json")
        .await
        .unwrap();
    // Another clinic's patient is not found, and nothing is written for it.
    assert_err!(
        store
            .record_patient_export(a.scope, b.patient, Actor::Staff(a.user), "json")
            .await,
        StoreError::NotFound
    );
    let jobs = store
        .claim_webhook_deliveries("test", SignedDuration::from_mins(1), 100)
        .await
        .unwrap();
    let ours: Vec<_> = jobs.iter().filter(|j| j.endpoint == ep.id).collect();
    assert_eq!(ours.len(), 1);
    let env: serde_json::Value = serde_json::from_slice(&ours[0].body).unwrap();
    assert_eq!(env["type"], "data_request.completed");
    assert_eq!(env["data"]["kind"], "export");
    assert_eq!(env["data"]["patient_id"], a.patient.to_string());
    let audit = all_audit(&*store, a.scope).await;
    let exported: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "patient.exported")
        .collect();
    assert_eq!(exported.len(), 1);
    assert_eq!(
        exported[0].target_id.as_deref(),
        Some(a.patient.to_string().as_str())
    );
    assert!(
        exported[0].details.contains("\"format\":\"json\""),
        "{}",
        exported[0].details
    );
    assert!(store.verify_audit_chain(a.scope).await.unwrap().is_intact());
}
