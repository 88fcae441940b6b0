//! Anomaly alerts (#12 item 4) on both engines: one alert per episode, audited and with one
//! email job; acknowledged once (audited); each rule raising exactly at its threshold and not
//! before: record reads against the staff member's usual hour, failed second factors and
//! sign-in link requests, webhook signature failures per clinic address, an API key on a new
//! network, and a provider outage from the outbox. Another clinic's alerts are not found.

use crate::conformance_channels::{LEASE, one_reply_queued, whatsapp_clinic};
use crate::harness::*;
use frontdesk_domain::{Clock, ManualClock, PatientId, SecurityAlertId, UserId};
use frontdesk_store::testing::TestDb;
use frontdesk_store::*;
use jiff::SignedDuration;

engine_tests!(
    an_alert_is_raised_once_per_episode_audited_and_emailed_once,
    an_acknowledged_or_quiet_episode_ends_and_the_next_occurrence_opens_a_new_one,
    another_clinics_alerts_are_not_found,
    record_reads_beyond_five_times_the_usual_hour_raise_an_alert,
    failed_second_factors_raise_an_alert_at_the_fifth_in_fifteen_minutes,
    sign_in_link_requests_beyond_the_limit_raise_an_alert_about_the_account,
    signature_failures_raise_an_alert_for_the_clinic_address_at_ten_in_five_minutes,
    an_api_key_on_a_new_network_raises_an_alert_but_its_first_network_does_not,
    a_provider_outage_is_raised_after_fifteen_minutes_of_failing_sends,
);

fn security_jobs(jobs: &[Job]) -> usize {
    jobs.iter()
        .filter(|j| j.kind == NOTIFY_SECURITY_ALERT_JOB)
        .count()
}

async fn an_alert_is_raised_once_per_episode_audited_and_emailed_once(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "alert-clinic").await;
    let details = serde_json::json!({ "events": 3 });
    let id = store
        .raise_security_alert(scope, AlertKind::LoginFailures, "user:x", &details)
        .await
        .unwrap()
        .expect("a new episode");
    clock.advance(SignedDuration::from_mins(10));
    let again = store
        .raise_security_alert(scope, AlertKind::LoginFailures, "user:x", &details)
        .await
        .unwrap();
    assert_eq!(again, None, "a repeat bumps the open episode");
    let other = store
        .raise_security_alert(scope, AlertKind::LoginFailures, "user:y", &details)
        .await
        .unwrap();
    assert!(other.is_some(), "another subject is another alert");

    let alert = store.security_alert(scope, id).await.unwrap();
    assert_eq!(alert.occurrences, 2);
    assert_eq!(alert.last_seen_at, clock.now());
    assert_eq!(alert.details, details);
    let raised: Vec<_> = all_audit(&*store, scope)
        .await
        .into_iter()
        .filter(|e| e.action == "security_alert.raised")
        .collect();
    assert_eq!(raised.len(), 2);
    assert_eq!(
        raised[0].target_id.as_deref(),
        Some(id.to_string().as_str())
    );

    // One email job per alert; finishing it notes the email.
    let jobs = store.claim_jobs("w", LEASE, 10).await.unwrap();
    assert_eq!(security_jobs(&jobs), 2);
    let job = jobs
        .iter()
        .find(|j| j.payload["alert"] == id.to_string())
        .unwrap();
    store
        .finish_security_alert_job(&job.lease, id, true)
        .await
        .unwrap();
    assert_eq!(
        store.security_alert(scope, id).await.unwrap().emailed_at,
        Some(clock.now())
    );
    assert!(matches!(
        store.finish_security_alert_job(&job.lease, id, true).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn an_acknowledged_or_quiet_episode_ends_and_the_next_occurrence_opens_a_new_one(
    db: &TestDb,
) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "ack-clinic").await;
    let d = serde_json::json!({});
    let raise = || store.raise_security_alert(scope, AlertKind::ProviderOutage, "channel:sms", &d);
    let first = raise().await.unwrap().unwrap();
    let user = UserId::new();
    assert!(
        store
            .acknowledge_security_alert(scope, first, Actor::Staff(user))
            .await
            .unwrap()
    );
    assert!(
        !store
            .acknowledge_security_alert(scope, first, Actor::Staff(user))
            .await
            .unwrap(),
        "acknowledged once"
    );
    let acked = store.security_alert(scope, first).await.unwrap();
    assert_eq!(acked.acknowledged_by, Some(format!("staff:{user}")));
    assert!(acked.closed_at.is_some());
    let audit = all_audit(&*store, scope).await;
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "security_alert.acknowledged")
            .count(),
        1
    );

    let second = raise()
        .await
        .unwrap()
        .expect("a new episode after acknowledgement");
    assert_ne!(second, first);
    clock.advance(SignedDuration::from_hours(23));
    assert_eq!(raise().await.unwrap(), None, "still the same episode");
    clock.advance(SignedDuration::from_hours(25));
    let third = raise()
        .await
        .unwrap()
        .expect("a new episode after a quiet day");
    assert_ne!(third, second);
    let listed = store.security_alerts(scope).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(
        listed.last().unwrap().id,
        first,
        "acknowledged alerts come last"
    );
}

async fn another_clinics_alerts_are_not_found(db: &TestDb) {
    let store = store(db).await;
    let a = new_tenant(&*store, "clinic-one").await;
    let b = new_tenant(&*store, "clinic-two").await;
    let id = store
        .raise_security_alert(a, AlertKind::RecordReads, "user:z", &serde_json::json!({}))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        store.security_alert(b, id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .acknowledge_security_alert(b, id, Actor::Operator)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .acknowledge_security_alert(a, SecurityAlertId::new(), Actor::Operator)
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(store.security_alerts(b).await.unwrap().is_empty());
}

async fn read_records(store: &dyn Store, scope: TenantScope, who: UserId, n: usize) {
    for _ in 0..n {
        store
            .append_audit(
                scope,
                &AuditEvent::new(Actor::Staff(who), "patient.viewed")
                    .target("patient", PatientId::new()),
            )
            .await
            .unwrap();
    }
}

async fn record_reads_beyond_five_times_the_usual_hour_raise_an_alert(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let scope = new_tenant(&*store, "reads-clinic").await;
    let usual = UserId::new();
    let newcomer = UserId::new();
    // Three working hours in the last days with 6 reads each: the limit is 5 × 6 = 30.
    for _ in 0..3 {
        read_records(&*store, scope, usual, 6).await;
        clock.advance(SignedDuration::from_hours(20));
    }
    read_records(&*store, scope, usual, 30).await;
    // Someone with no history: the floor of 20 applies.
    read_records(&*store, scope, newcomer, 20).await;
    assert!(store.detect_anomalies(scope).await.unwrap().is_empty());

    read_records(&*store, scope, usual, 1).await;
    read_records(&*store, scope, newcomer, 1).await;
    let raised = store.detect_anomalies(scope).await.unwrap();
    assert_eq!(raised.len(), 2);
    let alerts = store.security_alerts(scope).await.unwrap();
    let of = |u: UserId| {
        alerts
            .iter()
            .find(|a| a.subject == format!("user:{u}"))
            .unwrap()
            .details
            .clone()
    };
    assert_eq!(
        of(usual),
        serde_json::json!({ "reads_last_hour": 31, "limit": 30, "usual_per_hour": 6 })
    );
    assert_eq!(of(newcomer)["limit"], 20);
    // The next pass within the episode raises nothing new.
    assert!(store.detect_anomalies(scope).await.unwrap().is_empty());
    // An hour on, the reads have left the window.
    clock.advance(SignedDuration::from_mins(61));
    assert!(store.detect_anomalies(scope).await.unwrap().is_empty());
    assert_eq!(
        store.security_alerts(scope).await.unwrap()[0].occurrences,
        2
    );
}

async fn failed_second_factors_raise_an_alert_at_the_fifth_in_fifteen_minutes(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let s = seed(&*store, "mfa-clinic", "mfa", "+64 21 555 0303").await;
    let session = sign_in(&*store, &s).await;
    store.begin_totp(s.scope, s.user).await.unwrap();
    let tenant = s.scope.tenant_id();
    let wrong = |store: std::sync::Arc<dyn Store>, token: String| async move {
        store.confirm_totp(tenant, &token, "000000").await
    };
    for _ in 0..4 {
        assert!(
            wrong(store.clone(), session.token.to_string())
                .await
                .is_err()
        );
    }
    // A quarter of an hour later the first four have aged out.
    clock.advance(SignedDuration::from_mins(16));
    let session = sign_in(&*store, &s).await;
    for _ in 0..4 {
        assert!(
            wrong(store.clone(), session.token.to_string())
                .await
                .is_err()
        );
    }
    assert!(store.security_alerts(s.scope).await.unwrap().is_empty());
    // The fifth within the window, from a fresh session, raises it.
    let session = sign_in(&*store, &s).await;
    assert!(
        wrong(store.clone(), session.token.to_string())
            .await
            .is_err()
    );
    let alerts = store.security_alerts(s.scope).await.unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::LoginFailures);
    assert_eq!(alerts[0].subject, format!("user:{}", s.user));
    assert_eq!(alerts[0].details["events"], 5);
}

async fn sign_in_link_requests_beyond_the_limit_raise_an_alert_about_the_account(db: &TestDb) {
    let store = store(db).await;
    let s = seed(&*store, "link-clinic", "link", "+64 21 555 0404").await;
    let policy = LoginLinkPolicy {
        max_per_email: 3,
        max_per_ip: 100,
        ..LoginLinkPolicy::default()
    };
    for _ in 0..3 {
        let got = store
            .request_login_link(&s.slug, &s.user_email, "192.0.2.7", "b", &policy)
            .await
            .unwrap();
        assert!(matches!(got, LoginLinkOutcome::Created { .. }));
    }
    assert!(store.security_alerts(s.scope).await.unwrap().is_empty());
    for _ in 0..2 {
        let got = store
            .request_login_link(&s.slug, &s.user_email, "192.0.2.7", "b", &policy)
            .await
            .unwrap();
        assert!(matches!(got, LoginLinkOutcome::RateLimited));
    }
    let alerts = store.security_alerts(s.scope).await.unwrap();
    assert_eq!(alerts.len(), 1, "one episode for the repeated requests");
    assert_eq!(alerts[0].kind, AlertKind::LoginRequests);
    assert_eq!(alerts[0].subject, format!("user:{}", s.user));
    assert_eq!(alerts[0].occurrences, 2);
    assert_eq!(alerts[0].details["requests_for_account"], 5);
    // No email address and no IP address in what is kept.
    let text = format!("{:?}", alerts[0]);
    assert!(!text.contains(s.user_email.as_str()) && !text.contains("192.0.2.7"));
}

async fn signature_failures_raise_an_alert_for_the_clinic_address_at_ten_in_five_minutes(
    db: &TestDb,
) {
    let (store, clock) = store_with_clock(db).await;
    let scope = whatsapp_clinic(&*store, "sig-clinic", "5551").await;
    let account = store
        .route_channel(Provider::Whatsapp, "5551")
        .await
        .unwrap();
    for _ in 0..9 {
        assert_eq!(
            store.record_signature_failure(&account).await.unwrap(),
            None
        );
    }
    clock.advance(SignedDuration::from_mins(6));
    assert_eq!(
        store.record_signature_failure(&account).await.unwrap(),
        None
    );
    for _ in 0..8 {
        assert_eq!(
            store.record_signature_failure(&account).await.unwrap(),
            None
        );
    }
    let id = store
        .record_signature_failure(&account)
        .await
        .unwrap()
        .expect("the tenth within five minutes");
    let alert = store.security_alert(scope, id).await.unwrap();
    assert_eq!(
        (alert.kind, alert.subject.as_str()),
        (AlertKind::SignatureFailures, "whatsapp:5551")
    );
    assert_eq!(alert.details["events"], 10);
}

async fn an_api_key_on_a_new_network_raises_an_alert_but_its_first_network_does_not(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let s = seed(&*store, "key-clinic", "key", "+64 21 555 0505").await;
    let note = |net: &'static str| store.note_api_key_network(s.scope, s.api_key, net);
    assert_eq!(note("203.0.113.0/24").await.unwrap(), None, "first network");
    clock.advance(SignedDuration::from_mins(5));
    assert_eq!(note("203.0.113.0/24").await.unwrap(), None, "known network");
    let id = note("198.51.100.0/24")
        .await
        .unwrap()
        .expect("a new network");
    let alert = store.security_alert(s.scope, id).await.unwrap();
    assert_eq!(alert.kind, AlertKind::ApiKeyNetwork);
    assert_eq!(alert.details["network"], "198.51.100.0/24");
    assert_eq!(alert.details["known_networks"], 1);
    assert!(alert.subject.ends_with("@198.51.100.0/24"));
    assert_eq!(note("198.51.100.0/24").await.unwrap(), None, "now known");
    // After 30 days away, both networks are forgotten: the next use is a first one again.
    clock.advance(SignedDuration::from_hours(31 * 24));
    assert_eq!(note("2001:db8:1::/48").await.unwrap(), None);
    assert_eq!(store.security_alerts(s.scope).await.unwrap().len(), 1);
}

async fn a_provider_outage_is_raised_after_fifteen_minutes_of_failing_sends(db: &TestDb) {
    let (store, clock) = store_with_clock(db).await;
    let (scope, _) = one_reply_queued(&store, "+254700000009").await;
    let fail = |clock: &ManualClock| DeliveryOutcome::Retry {
        at: clock.now() + SignedDuration::from_mins(5),
        error_code: "http_503".into(),
    };
    let item = store.claim_outbox("o1", LEASE, 10).await.unwrap().remove(0);
    store
        .settle_outbox(&item.lease, &fail(&clock))
        .await
        .unwrap();
    clock.advance(SignedDuration::from_mins(10));
    assert!(
        store.detect_anomalies(scope).await.unwrap().is_empty(),
        "ten minutes is not yet an outage"
    );
    let item = store.claim_outbox("o1", LEASE, 10).await.unwrap().remove(0);
    store
        .settle_outbox(&item.lease, &fail(&clock))
        .await
        .unwrap();
    clock.advance(SignedDuration::from_mins(6));
    let raised = store.detect_anomalies(scope).await.unwrap();
    assert_eq!(raised.len(), 1);
    let alert = store.security_alert(scope, raised[0]).await.unwrap();
    assert_eq!(
        (alert.kind, alert.subject.as_str()),
        (AlertKind::ProviderOutage, "channel:whatsapp")
    );
    assert_eq!(alert.details["failing_messages"], 1);
    // Once a message goes through, it is no longer an outage (the episode stays for staff).
    let item = store.claim_outbox("o1", LEASE, 10).await.unwrap().remove(0);
    store
        .settle_outbox(
            &item.lease,
            &DeliveryOutcome::Sent {
                provider_message_id: "wamid.ok".into(),
            },
        )
        .await
        .unwrap();
    assert!(store.detect_anomalies(scope).await.unwrap().is_empty());
    assert_eq!(
        store
            .security_alert(scope, raised[0])
            .await
            .unwrap()
            .occurrences,
        1
    );
}
