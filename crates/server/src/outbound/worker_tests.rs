//! The delivery worker against a real store (SQLite and PostgreSQL) and a wiremock receiver on
//! loopback (allowlisted, as a deployment would allowlist an internal receiver): a test event
//! arrives signed with the endpoint's secret and is logged delivered; a 5xx is retried later
//! with the same event id and body; a 410 is dead; a secret rotation signs with both.

use super::*;
use crate::outbound::{Allowlist, EventData, SsrfPolicy, verify};
use frontdesk_domain::{ManualClock, TenantSlug};
use frontdesk_store::testing::{Engine, TestDb};
use frontdesk_store::{Actor, NewWebhookEndpoint, WebhookDeliveryStatus};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOW: &str = "2026-12-07T09:00:00Z";

struct Fixture {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    worker: WebhookWorker,
    receiver: MockServer,
    db: TestDb,
}

async fn fixture(engine: Engine) -> Option<Fixture> {
    let db = match engine {
        Engine::Sqlite => TestDb::sqlite().await.unwrap(),
        Engine::Postgres => TestDb::postgres().await.unwrap()?,
    };
    let clock = Arc::new(ManualClock::new(NOW.parse().unwrap()));
    let store = db
        .open(frontdesk_store::testing::test_keyring(), clock.clone())
        .await
        .unwrap();
    crate::demo::seed(store.as_ref()).await.unwrap();
    let client = WebhookClient::new(SsrfPolicy {
        allowlist: Allowlist::parse(&["127.0.0.0/8"]).unwrap(),
        allow_http: true,
    })
    .unwrap();
    let worker = WebhookWorker::new(store.clone(), clock.clone(), client);
    Some(Fixture {
        store,
        clock,
        worker,
        receiver: MockServer::start().await,
        db,
    })
}

async fn endpoint(
    f: &Fixture,
    secret: &WebhookSecret,
) -> (
    frontdesk_store::TenantScope,
    frontdesk_domain::WebhookEndpointId,
) {
    let scope = f
        .store
        .operator_scope(&TenantSlug::parse("harbour-physio").unwrap())
        .await
        .unwrap();
    let url = format!("{}/hooks/frontdesk?token=abc", f.receiver.uri());
    let ep = f
        .store
        .create_webhook_endpoint(
            scope,
            &NewWebhookEndpoint {
                host: Destination::parse(&url).unwrap().host().to_owned(),
                url,
                events: vec!["ping".into(), "appointment.created".into()],
                secret: zeroize::Zeroizing::new(secret.expose().to_owned()),
            },
            Actor::Operator,
        )
        .await
        .unwrap();
    (scope, ep.id)
}

fn ping() -> Envelope {
    Envelope::new(
        TenantSlug::parse("harbour-physio").unwrap(),
        EventData::Ping,
        NOW.parse().unwrap(),
    )
    .unwrap()
}

async fn a_test_event_arrives_signed_and_failures_are_retried_then_dead(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let secret = WebhookSecret::generate();
    let (scope, ep) = endpoint(&f, &secret).await;
    // First a 503, then 200.
    Mock::given(method("POST"))
        .and(path("/hooks/frontdesk"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&f.receiver)
        .await;
    Mock::given(method("POST"))
        .and(path("/hooks/frontdesk"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&f.receiver)
        .await;
    let env = ping();
    let body = env.to_body().unwrap();
    assert!(
        f.store
            .enqueue_webhook_test(scope, ep, &env.id().to_string(), &body)
            .await
            .unwrap()
    );
    assert_eq!(f.worker.run_once().await.unwrap(), 1);
    let log = f
        .store
        .webhook_deliveries(scope, Some(ep), 10)
        .await
        .unwrap();
    assert_eq!(log[0].status, WebhookDeliveryStatus::Pending);
    assert_eq!((log[0].attempts, log[0].last_status), (1, Some(503)));
    assert_eq!(f.worker.run_once().await.unwrap(), 0, "not due yet");
    f.clock.advance(jiff::SignedDuration::from_mins(1));
    assert_eq!(
        f.worker.run_once().await.unwrap(),
        1,
        "retried after the backoff"
    );
    let log = f
        .store
        .webhook_deliveries(scope, Some(ep), 10)
        .await
        .unwrap();
    assert_eq!(
        (log[0].status, log[0].attempts, log[0].last_status),
        (WebhookDeliveryStatus::Delivered, 2, Some(200))
    );
    // Both attempts carried the same body and event id, signed with the endpoint's secret.
    let got = f.receiver.received_requests().await.unwrap();
    assert_eq!(got.len(), 2);
    let start: jiff::Timestamp = NOW.parse().unwrap();
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.body, body, "the stored body, byte for byte");
        assert_eq!(
            r.headers["frontdesk-event-id"],
            env.id().to_string().as_str()
        );
        let header = r.headers[crate::outbound::SIGNATURE_HEADER]
            .to_str()
            .unwrap();
        let at = start + jiff::SignedDuration::from_mins(i as i64);
        verify(header, &r.body, std::slice::from_ref(&secret), at).unwrap();
    }
    // A receiver that says 410 Gone gets no more attempts.
    f.receiver.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(410))
        .mount(&f.receiver)
        .await;
    let second = ping();
    f.store
        .enqueue_webhook_test(
            scope,
            ep,
            &second.id().to_string(),
            &second.to_body().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(f.worker.run_once().await.unwrap(), 1);
    let log = f
        .store
        .webhook_deliveries(scope, Some(ep), 10)
        .await
        .unwrap();
    let dead = log
        .iter()
        .find(|d| d.event_id == second.id().to_string())
        .unwrap();
    assert_eq!(
        (dead.status, dead.last_status, dead.last_error.as_deref()),
        (WebhookDeliveryStatus::Dead, Some(410), Some("http_status"))
    );
    f.clock.advance(jiff::SignedDuration::from_hours(7));
    assert_eq!(f.worker.run_once().await.unwrap(), 0, "dead stays dead");
    // Given up on: audited once, with the reason, never the URL.
    let audit = f.store.audit_entries(scope, 0, u32::MAX).await.unwrap();
    let failed: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "webhook.delivery_failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].details.contains("\"error\":\"http_status\""));
    assert!(failed[0].details.contains("\"last_status\":410"));
    f.db.cleanup().await;
}

#[test]
fn dead_reasons_are_a_fixed_set_of_labels() {
    assert_eq!(dead_reason("out_of_attempts"), "out_of_attempts");
    assert_eq!(dead_reason("address_refused"), "address_refused");
    assert_eq!(dead_reason("http_status"), "http_status");
    // Whatever else a future code is, it never becomes a new label.
    assert_eq!(dead_reason("https://hooks.example/secret"), "other");
}

async fn during_a_secret_rotation_both_secrets_sign(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let old = WebhookSecret::generate();
    let (scope, ep) = endpoint(&f, &old).await;
    let new = WebhookSecret::generate();
    f.store
        .rotate_webhook_secret(
            scope,
            ep,
            zeroize::Zeroizing::new(new.expose().to_owned()),
            jiff::SignedDuration::from_hours(24),
            Actor::Operator,
        )
        .await
        .unwrap();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&f.receiver)
        .await;
    let env = ping();
    f.store
        .enqueue_webhook_test(scope, ep, &env.id().to_string(), &env.to_body().unwrap())
        .await
        .unwrap();
    assert_eq!(f.worker.run_once().await.unwrap(), 1);
    let got = f.receiver.received_requests().await.unwrap();
    let header = got[0].headers[crate::outbound::SIGNATURE_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    let now = NOW.parse().unwrap();
    verify(&header, &got[0].body, std::slice::from_ref(&old), now).unwrap();
    verify(&header, &got[0].body, std::slice::from_ref(&new), now).unwrap();
    assert_eq!(header.matches("v1=").count(), 2);
    f.db.cleanup().await;
}

async fn a_booking_reaches_the_receiver_as_an_envelope_it_can_read(engine: Engine) {
    let Some(f) = fixture(engine).await else {
        return;
    };
    let secret = WebhookSecret::generate();
    let (scope, _) = endpoint(&f, &secret).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&f.receiver)
        .await;
    let service = f.store.list_services(scope).await.unwrap().remove(0);
    let practitioner = service.practitioners[0];
    let today = f.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let slot = f
        .store
        .free_slots(
            scope,
            &frontdesk_store::SlotSearch {
                practitioner,
                service: service.id,
                from: today,
                to: today + jiff::Span::new().days(14),
                min_notice: jiff::SignedDuration::from_hours(1),
                day_start: None,
                day_end: None,
                limit: 1,
            },
        )
        .await
        .unwrap()
        .remove(0);
    let patient = f
        .store
        .create_patient(scope, &frontdesk_store::NewPatient::default())
        .await
        .unwrap();
    let appt = f
        .store
        .book_appointment(
            scope,
            &frontdesk_store::NewAppointment {
                patient,
                practitioner,
                service: service.id,
                starts_at: slot.start,
                idempotency_key: "hook".into(),
                actor: Actor::Agent,
            },
        )
        .await
        .unwrap();
    assert_eq!(f.worker.run_once().await.unwrap(), 1);
    let got = f.receiver.received_requests().await.unwrap();
    let env = Envelope::from_body(&got[0].body).unwrap();
    assert_eq!(
        env.event_type(),
        crate::outbound::EventType::AppointmentCreated
    );
    assert_eq!(env.tenant().as_str(), "harbour-physio");
    assert_eq!(env.data()["appointment_id"], appt.id.to_string());
    assert_eq!(env.data()["status"], "booked");
    assert_eq!(
        got[0].headers["frontdesk-event-type"],
        "appointment.created"
    );
    f.db.cleanup().await;
}

#[test]
fn settling_follows_the_outcome_and_the_schedule() {
    let now: jiff::Timestamp = NOW.parse().unwrap();
    assert_eq!(
        settle_for(1, &Outcome::Delivered(202), now),
        WebhookSettle::Delivered { status: 202 }
    );
    let gone = Outcome::Permanent(super::super::Failure::Http {
        status: 410,
        retry_after: None,
    });
    assert_eq!(
        settle_for(1, &gone, now),
        WebhookSettle::Dead {
            status: Some(410),
            error: "http_status".into()
        }
    );
    let busy = Outcome::Retryable(super::super::Failure::Http {
        status: 503,
        retry_after: None,
    });
    match settle_for(1, &busy, now) {
        WebhookSettle::Retry {
            at,
            status: Some(503),
            ..
        } => {
            let wait = at.duration_since(now);
            assert!(
                wait >= jiff::SignedDuration::from_secs(27)
                    && wait <= jiff::SignedDuration::from_secs(33),
                "{wait:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let last = super::super::backoff::MAX_ATTEMPTS;
    assert_eq!(
        settle_for(last, &busy, now),
        WebhookSettle::Dead {
            status: Some(503),
            error: "out_of_attempts".into()
        }
    );
}

macro_rules! both {
    ($($name:ident),*) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(frontdesk_store::testing::Engine::Sqlite).await;
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name(frontdesk_store::testing::Engine::Postgres).await;
                }
            }
        )*
    };
}
both!(
    a_test_event_arrives_signed_and_failures_are_retried_then_dead,
    during_a_secret_rotation_both_secrets_sign,
    a_booking_reaches_the_receiver_as_an_envelope_it_can_read
);
