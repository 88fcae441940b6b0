//! Cal.com as a clinic's calendar (#11 item 3), against a wiremock Cal.com answering with its
//! documented JSON: the dialogue books through it (a refused time re-offers the next ones and
//! books nothing here), cancel and move go through it, and its signed webhooks are verified,
//! reflected idempotently and kept to their clinic.

use crate::both_engines;
use crate::harness::TestApp;
use frontdesk_domain::{ConversationId, PractitionerId, ServiceId};
use frontdesk_server::booking::diary::{self, Diary, DiaryError};
use frontdesk_store::{Actor, AppointmentStatus, CalcomSecretChange, TenantScope};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CLINIC: &str = "harbour-physio";
const SECRET: &str = "whsec_harbour_test";
const EVENT_TYPE: i64 = 42;

struct Setup {
    scope: TenantScope,
    mei: PractitionerId,
    massage: ServiceId,
    cal: MockServer,
}

/// Cal.com on for `harbour-physio`: Mei Chen's sports massage is event type 42.
async fn setup(app: &TestApp) -> Setup {
    let cal = MockServer::start().await;
    let scope = app.scope(CLINIC).await;
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let mei = catalog
        .practitioners
        .iter()
        .find(|p| p.name == "Mei Chen")
        .unwrap()
        .id;
    let massage = catalog
        .services
        .iter()
        .find(|s| s.name == "Sports massage")
        .unwrap()
        .id;
    app.store
        .set_calcom_settings(
            scope,
            &cal.uri(),
            true,
            CalcomSecretChange::Set("cal_test_key".to_owned().into()),
            CalcomSecretChange::Set(SECRET.to_owned().into()),
            Actor::Operator,
        )
        .await
        .unwrap();
    app.store
        .map_calcom_event_type(scope, mei, massage, Some(EVENT_TYPE), Actor::Operator)
        .await
        .unwrap();
    Setup {
        scope,
        mei,
        massage,
        cal,
    }
}

/// Cal.com's slots answer: every day of the next three weeks at the given local hours.
fn slots(hours: &[i8]) -> Value {
    let tz = jiff::tz::TimeZone::get("Pacific/Auckland").unwrap();
    let today = jiff::Timestamp::now().to_zoned(tz.clone()).date();
    let mut data = serde_json::Map::new();
    for d in 1..21 {
        let day = today.checked_add(jiff::Span::new().days(d)).unwrap();
        let items: Vec<Value> = hours
            .iter()
            .map(|h| {
                let z = day.at(*h, 0, 0, 0).to_zoned(tz.clone()).unwrap();
                json!({ "start": z.strftime("%Y-%m-%dT%H:%M:%S.000%:z").to_string() })
            })
            .collect();
        data.insert(day.to_string(), Value::Array(items));
    }
    json!({ "status": "success", "data": data })
}

/// Cal.com accepting a booking: the requested start, an hour long, a fresh uid.
struct Accept(&'static str);

impl Respond for Accept {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let start: jiff::Timestamp = body["start"].as_str().unwrap().parse().unwrap();
        let end = start + jiff::SignedDuration::from_hours(1);
        ResponseTemplate::new(201).set_body_json(json!({
            "status": "success",
            "data": {
                "id": 7001, "uid": self.0, "title": "Sports massage", "status": "accepted",
                "start": start.to_string(), "end": end.to_string(), "duration": 60,
                "eventTypeId": body["eventTypeId"], "attendees": [body["attendee"]],
                "metadata": body["metadata"], "location": "Harbour Physio"
            }
        }))
    }
}

fn taken() -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(json!({
        "status": "error", "timestamp": "2026-12-07T09:00:00.000Z", "path": "/v2/bookings",
        "error": { "code": "BadRequestException",
                   "message": "User either already has booking at this time or is not available" }
    }))
}

async fn appointments_of(
    app: &TestApp,
    scope: TenantScope,
    conv: &str,
) -> Vec<frontdesk_store::Appointment> {
    let id = ConversationId::parse(conv).unwrap();
    let c = app.store.conversation(scope, id).await.unwrap();
    live_of(app, scope, c.patient_id).await
}

/// A patient the clinic already knows.
async fn ana(app: &TestApp, scope: TenantScope) -> frontdesk_domain::PatientId {
    let new = frontdesk_store::NewPatient {
        name: Some("Ana Reyes".into()),
        ..Default::default()
    };
    app.store.create_patient(scope, &new).await.unwrap()
}

async fn live_of(
    app: &TestApp,
    scope: TenantScope,
    patient: frontdesk_domain::PatientId,
) -> Vec<frontdesk_store::Appointment> {
    app.store
        .patient_appointments(scope, patient, jiff::Timestamp::UNIX_EPOCH)
        .await
        .unwrap()
}

fn local_hour(t: jiff::Timestamp) -> i8 {
    t.to_zoned(jiff::tz::TimeZone::get("Pacific/Auckland").unwrap())
        .hour()
}

async fn a_taken_time_on_calcom_reoffers_the_next_ones_and_the_booking_is_mirrored(app: TestApp) {
    let s = setup(&app).await;
    // The first search sees 10:00 and 14:00 each day; once 10:00 is refused, only 14:00.
    Mock::given(method("GET"))
        .and(path("/v2/slots"))
        .and(header("cal-api-version", "2024-09-04"))
        .and(header("authorization", "Bearer cal_test_key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(slots(&[10, 14])))
        .up_to_n_times(1)
        .mount(&s.cal)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/slots"))
        .respond_with(ResponseTemplate::new(200).set_body_json(slots(&[14])))
        .mount(&s.cal)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .respond_with(taken())
        .up_to_n_times(1)
        .expect(1)
        .mount(&s.cal)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .and(header("cal-api-version", "2024-08-13"))
        .and(body_partial_json(json!({
            "eventTypeId": EVENT_TYPE,
            "attendee": { "name": "Zebulon Quixote", "timeZone": "Pacific/Auckland",
                          "phoneNumber": "+64215550199" },
            "metadata": { "frontdesk_practitioner": s.mei.to_string(),
                          "frontdesk_service": s.massage.to_string() }
        })))
        .respond_with(Accept("bk_zq_1"))
        .expect(1)
        .mount(&s.cal)
        .await;

    let (token, conv) = app.start_chat(CLINIC).await;
    let offers = app
        .ask(
            CLINIC,
            &token,
            "I'd like to book a sports massage with Mei, anytime next week",
        )
        .await;
    assert!(offers.last().unwrap().contains("I have: 1) "), "{offers:?}");
    app.ask(CLINIC, &token, "the first one").await;
    let after = app
        .ask(CLINIC, &token, "Zebulon Quixote, 021 555 0199")
        .await;
    assert!(
        after.iter().any(|m| m.contains("has just been taken"))
            && after.iter().any(|m| m.contains("I have: 1) ")),
        "the next times are offered: {after:?}"
    );
    assert!(
        !after.iter().any(|m| m.contains("You're booked")),
        "{after:?}"
    );
    assert!(
        appointments_of(&app, s.scope, &conv).await.is_empty(),
        "nothing booked here for a time Cal.com refused"
    );
    let mut done = app.ask(CLINIC, &token, "the first one").await;
    if done.iter().any(|m| m.contains("full name")) {
        done = app
            .ask(CLINIC, &token, "Zebulon Quixote, 021 555 0199")
            .await;
    }
    assert!(
        done.iter()
            .any(|m| m.starts_with("You're booked: Sports massage with Mei Chen on ")),
        "{done:?}"
    );
    let appts = appointments_of(&app, s.scope, &conv).await;
    assert_eq!(appts.len(), 1, "one mirrored appointment");
    assert_eq!(
        local_hour(appts[0].starts_at),
        14,
        "the time Cal.com accepted"
    );
    assert_eq!(
        app.store
            .appointment_calcom_uid(s.scope, appts[0].id)
            .await
            .unwrap()
            .as_deref(),
        Some("bk_zq_1")
    );
    let audit = app.store.audit_entries(s.scope, 0, 1000).await.unwrap();
    let booked: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "appointment.booked" && e.details.contains("bk_zq_1"))
        .collect();
    assert_eq!(booked.len(), 1, "audited once with the booking");
    assert!(
        !audit
            .iter()
            .any(|e| e.details.contains("cal_test_key") || e.details.contains(SECRET)),
        "no secret in the audit log"
    );
    app.finish().await;
}

/// Three days ahead, to the second (as Cal.com writes times).
fn in_three_days() -> jiff::Timestamp {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 72 * 3600).unwrap()
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn post_webhook(
    app: &TestApp,
    slug: &str,
    body: &Value,
    secret: Option<&str>,
) -> reqwest::Response {
    let raw = serde_json::to_vec(body).unwrap();
    let mut req = app
        .client
        .post(app.url(&format!("/webhooks/calcom/{slug}")))
        .header("content-type", "application/json");
    if let Some(secret) = secret {
        req = req.header("x-cal-signature-256", sign(secret, &raw));
    }
    req.body(raw).send().await.unwrap()
}

/// Posts a signed event for `harbour-physio` twice: `first`, then `unchanged` (a redelivery).
async fn reflected_once(app: &TestApp, body: &Value, first: &str) {
    for want in [first, "unchanged"] {
        assert_eq!(
            result_of(post_webhook(app, CLINIC, body, Some(SECRET)).await).await,
            want
        );
    }
}

async fn result_of(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["result"].as_str().unwrap().to_owned()
}

fn event(trigger: &str, uid: &str, start: jiff::Timestamp, extra: Value) -> Value {
    let mut payload = json!({
        "type": "sports-massage", "title": "Sports massage", "bookingId": 9001,
        "uid": uid, "eventTypeId": EVENT_TYPE,
        "startTime": start.to_string(),
        "endTime": (start + jiff::SignedDuration::from_hours(1)).to_string(),
        "organizer": { "name": "Mei Chen", "timeZone": "Pacific/Auckland" },
        "attendees": [{ "name": "Walk-in", "timeZone": "Pacific/Auckland", "language": { "locale": "en" } }],
        "status": "ACCEPTED", "metadata": {}
    });
    if let (Some(p), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    json!({ "triggerEvent": trigger, "createdAt": "2026-12-07T09:00:00.000Z", "payload": payload })
}

async fn calcom_webhooks_are_verified_reflected_once_and_kept_to_their_clinic(app: TestApp) {
    let s = setup(&app).await;
    let at = in_three_days();
    let created = event("BOOKING_CREATED", "bk_outside_1", at, json!({}));
    // Absent, forged, or signed with another secret: refused, nothing stored.
    crate::harness::assert_error(
        post_webhook(&app, CLINIC, &created, None).await,
        401,
        "invalid_signature",
    )
    .await;
    crate::harness::assert_error(
        post_webhook(&app, CLINIC, &created, Some("forged")).await,
        401,
        "invalid_signature",
    )
    .await;
    // A clinic without Cal.com takes no Cal.com webhooks.
    crate::harness::assert_error(
        post_webhook(&app, "nairobi-family", &created, Some(SECRET)).await,
        404,
        "unknown_calendar",
    )
    .await;
    let audit_count = |app: &TestApp| {
        let store = app.store.clone();
        let scope = s.scope;
        async move {
            store
                .audit_entries(scope, 0, 1000)
                .await
                .unwrap()
                .iter()
                .filter(|e| e.action.starts_with("calcom.busy"))
                .count()
        }
    };
    assert_eq!(audit_count(&app).await, 0);
    // Someone booked Mei directly on Cal.com: a busy time, no patient invented; once.
    reflected_once(&app, &created, "busy").await;
    assert_eq!(audit_count(&app).await, 1);
    let patients_before = app
        .store
        .diary(
            s.scope,
            at - jiff::SignedDuration::from_hours(1),
            at + jiff::SignedDuration::from_hours(2),
        )
        .await
        .unwrap();
    assert!(
        patients_before.is_empty(),
        "no appointment (and no patient) for an outside booking"
    );
    // Its cancellation frees the time, once.
    let cancelled = event("BOOKING_CANCELLED", "bk_outside_1", at, json!({}));
    reflected_once(&app, &cancelled, "busy").await;
    assert_eq!(audit_count(&app).await, 2);

    // A booking we made (our ids in its metadata) is mirrored, then moved and cancelled.
    let patient = ana(&app, s.scope).await;
    let ours = json!({ "metadata": {
        "frontdesk_key": "conv-x:book:1", "frontdesk_patient": patient.to_string(),
        "frontdesk_practitioner": s.mei.to_string(), "frontdesk_service": s.massage.to_string() } });
    let made = event("BOOKING_CREATED", "bk_ours_1", at, ours.clone());
    reflected_once(&app, &made, "appointment").await;
    let live = live_of(&app, s.scope, patient).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].starts_at, at);
    // Another clinic cannot touch it: its own secret, its own scope, nothing of ours found.
    let nairobi = app.scope("nairobi-family").await;
    app.store
        .set_calcom_settings(
            nairobi,
            &s.cal.uri(),
            true,
            CalcomSecretChange::Set("key2".to_owned().into()),
            CalcomSecretChange::Set("whsec_nairobi".to_owned().into()),
            Actor::Operator,
        )
        .await
        .unwrap();
    let cancel_ours = event("BOOKING_CANCELLED", "bk_ours_1", at, json!({}));
    crate::harness::assert_error(
        post_webhook(&app, "nairobi-family", &cancel_ours, Some(SECRET)).await,
        401,
        "invalid_signature",
    )
    .await;
    assert_eq!(
        result_of(post_webhook(&app, "nairobi-family", &cancel_ours, Some("whsec_nairobi")).await)
            .await,
        "unchanged"
    );
    assert_eq!(
        app.store
            .appointment(s.scope, live[0].id)
            .await
            .unwrap()
            .status,
        AppointmentStatus::Booked
    );
    // Moved on Cal.com (a new uid replaces the old one), then cancelled there.
    let later = at + jiff::SignedDuration::from_hours(24);
    let moved = event(
        "BOOKING_RESCHEDULED",
        "bk_ours_2",
        later,
        json!({ "rescheduleUid": "bk_ours_1", "metadata": ours["metadata"] }),
    );
    reflected_once(&app, &moved, "appointment").await;
    let live = live_of(&app, s.scope, patient).await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].starts_at, later);
    assert_eq!(
        app.store
            .appointment_calcom_uid(s.scope, live[0].id)
            .await
            .unwrap()
            .as_deref(),
        Some("bk_ours_2")
    );
    let gone = event("BOOKING_CANCELLED", "bk_ours_2", later, json!({}));
    reflected_once(&app, &gone, "appointment").await;
    assert_eq!(
        app.store
            .appointment(s.scope, live[0].id)
            .await
            .unwrap()
            .status,
        AppointmentStatus::Cancelled
    );
    // A trigger frontdesk does not reflect is accepted and ignored.
    let ping = json!({ "triggerEvent": "MEETING_ENDED", "payload": { "uid": "bk_ours_2" } });
    assert_eq!(
        result_of(post_webhook(&app, CLINIC, &ping, Some(SECRET)).await).await,
        "ignored"
    );
    app.finish().await;
}

async fn cancel_and_move_go_through_calcom_and_clinics_without_it_keep_the_built_in_diary(
    app: TestApp,
) {
    let s = setup(&app).await;
    let knowledge = frontdesk_server::turn::clinic_knowledge(app.store.as_ref(), s.scope)
        .await
        .unwrap();
    let patient = ana(&app, s.scope).await;
    let at = in_three_days();
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .respond_with(Accept("bk_d_1"))
        .expect(1)
        .mount(&s.cal)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings/bk_d_1/reschedule"))
        .and(header("cal-api-version", "2024-08-13"))
        .respond_with(Accept("bk_d_2"))
        .expect(1)
        .mount(&s.cal)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings/bk_d_2/cancel"))
        .and(body_partial_json(
            json!({ "cancellationReason": "Cancelled by the patient through frontdesk" }),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success", "data": { "uid": "bk_d_2", "status": "cancelled" } })))
        .expect(1)
        .mount(&s.cal)
        .await;
    let d = Diary::load(app.store.as_ref(), s.scope).await.unwrap();
    assert!(matches!(d, Diary::Calcom(_)));
    let b = diary::Booking {
        patient,
        practitioner: s.mei,
        service: s.massage,
        start: at,
        key: "direct:1".into(),
        actor: Actor::Agent,
    };
    let booked = diary::book(app.store.as_ref(), s.scope, &d, &knowledge, &b)
        .await
        .unwrap();
    // The same request again (a retried turn): the mirror answers, Cal.com is not asked twice.
    let again = app
        .store
        .mirror_calcom_booking(
            s.scope,
            &frontdesk_store::CalcomRequest {
                key: "direct:1".into(),
                patient,
                practitioner: s.mei,
                service: s.massage,
            },
            &frontdesk_store::CalcomBooking {
                uid: "bk_d_1".into(),
                start: at,
                end: at + jiff::SignedDuration::from_hours(1),
            },
            Actor::Agent,
        )
        .await
        .unwrap();
    assert_eq!(again.id, booked.id);
    let later = at + jiff::SignedDuration::from_hours(2);
    let moved = diary::reschedule(
        app.store.as_ref(),
        s.scope,
        &d,
        &knowledge,
        &booked,
        later,
        s.mei,
        "direct:move:1",
        Actor::Agent,
    )
    .await
    .unwrap();
    assert_eq!(moved.starts_at, later);
    assert_eq!(
        app.store
            .appointment(s.scope, booked.id)
            .await
            .unwrap()
            .status,
        AppointmentStatus::Cancelled
    );
    assert_eq!(
        app.store
            .appointment_calcom_uid(s.scope, moved.id)
            .await
            .unwrap()
            .as_deref(),
        Some("bk_d_2")
    );
    let cancelled = diary::cancel(app.store.as_ref(), s.scope, &d, moved.id, Actor::Agent)
        .await
        .unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);

    // Cal.com down: nothing is booked here instead, and nothing is claimed.
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&down)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&down)
        .await;
    app.store
        .set_calcom_settings(
            s.scope,
            &down.uri(),
            true,
            CalcomSecretChange::Keep,
            CalcomSecretChange::Keep,
            Actor::Operator,
        )
        .await
        .unwrap();
    let d = Diary::load(app.store.as_ref(), s.scope).await.unwrap();
    let b = diary::Booking {
        key: "direct:2".into(),
        ..b
    };
    assert!(matches!(
        diary::book(app.store.as_ref(), s.scope, &d, &knowledge, &b).await,
        Err(DiaryError::Unavailable)
    ));
    assert!(live_of(&app, s.scope, patient).await.is_empty());

    // Turned off: the built-in diary again; a clinic that never had Cal.com: built-in.
    assert!(
        app.store
            .disable_calcom(s.scope, Actor::Operator)
            .await
            .unwrap()
    );
    assert!(matches!(
        Diary::load(app.store.as_ref(), s.scope).await.unwrap(),
        Diary::Builtin
    ));
    let nairobi = app.scope("nairobi-family").await;
    assert!(matches!(
        Diary::load(app.store.as_ref(), nairobi).await.unwrap(),
        Diary::Builtin
    ));
    // The settings never show a secret.
    let shown = format!("{:?}", app.store.calcom_settings(s.scope).await.unwrap());
    assert!(
        !shown.contains("cal_test_key") && !shown.contains(SECRET),
        "{shown}"
    );
    app.finish().await;
}

async fn the_rest_api_books_and_cancels_through_calcom_too(app: TestApp) {
    let s = setup(&app).await;
    let key = crate::api::make_key(&app, s.scope, "appointments:write", 100).await;
    let patient = ana(&app, s.scope).await;
    let at = in_three_days();
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .and(body_partial_json(
            json!({ "start": (at + jiff::SignedDuration::from_hours(1)).to_string() }),
        ))
        .respond_with(taken())
        .expect(1)
        .mount(&s.cal)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .and(body_partial_json(
            json!({ "start": at.to_string(), "attendee": { "name": "Ana Reyes" } }),
        ))
        .respond_with(Accept("bk_api_1"))
        .expect(1)
        .mount(&s.cal)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings/bk_api_1/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success", "data": { "uid": "bk_api_1", "status": "cancelled" } })))
        .expect(1)
        .mount(&s.cal)
        .await;
    let book = |start: jiff::Timestamp, idem: &'static str| {
        app.client
            .post(app.url("/v1/appointments"))
            .bearer_auth(&key)
            .header("idempotency-key", idem)
            .json(&json!({
                "patient_id": patient.to_string(), "practitioner_id": s.mei.to_string(),
                "service_id": s.massage.to_string(), "starts_at": start.to_string(),
            }))
            .send()
    };
    // Refused by Cal.com: the built-in diary's 409, nothing stored here.
    let refused = book(at + jiff::SignedDuration::from_hours(1), "api-2")
        .await
        .unwrap();
    crate::harness::assert_error(refused, 409, "conflict").await;
    assert!(live_of(&app, s.scope, patient).await.is_empty());
    let made = book(at, "api-1").await.unwrap();
    assert_eq!(made.status(), 201);
    let v: Value = made.json().await.unwrap();
    let id = frontdesk_domain::AppointmentId::parse(v["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        app.store
            .appointment_calcom_uid(s.scope, id)
            .await
            .unwrap()
            .as_deref(),
        Some("bk_api_1")
    );
    // The same Idempotency-Key again: the same appointment, Cal.com not asked again.
    let again: Value = book(at, "api-1").await.unwrap().json().await.unwrap();
    assert_eq!(again["id"], v["id"]);
    let cancelled = app
        .client
        .post(app.url(&format!("/v1/appointments/{id}/cancel")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    assert_eq!(
        app.store.appointment(s.scope, id).await.unwrap().status,
        AppointmentStatus::Cancelled
    );
    app.finish().await;
}

/// The REST API's availability and FHIR `Slot` read the clinic's Cal.com slots too: Cal.com's
/// times (each as long as the service), not the built-in diary's hours; Cal.com down is
/// `503 calendar_unavailable`.
async fn availability_and_fhir_slots_come_from_calcom(app: TestApp) {
    let s = setup(&app).await;
    let key = crate::api::make_key(&app, s.scope, "schedule:read", 100).await;
    // Cal.com offers times the built-in hours never would: 06:00 and 21:00.
    Mock::given(method("GET"))
        .and(path("/v2/slots"))
        .and(query_param("eventTypeId", EVENT_TYPE.to_string()))
        .respond_with(ResponseTemplate::new(200).set_body_json(slots(&[6, 21])))
        .mount(&s.cal)
        .await;
    let tz = jiff::tz::TimeZone::get("Pacific/Auckland").unwrap();
    let from = jiff::Timestamp::now()
        .to_zoned(tz.clone())
        .date()
        .tomorrow()
        .unwrap();
    let availability = format!(
        "/v1/availability?practitioner={}&service={}&from={from}&days=3",
        s.mei, s.massage
    );
    let v: Value = crate::api::get(&app, &key, &availability)
        .await
        .json()
        .await
        .unwrap();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 6, "{v}");
    for slot in data {
        let start: jiff::Timestamp = slot["starts_at"].as_str().unwrap().parse().unwrap();
        let end: jiff::Timestamp = slot["ends_at"].as_str().unwrap().parse().unwrap();
        assert!([6, 21].contains(&local_hour(start)), "{slot}");
        let length = catalog_minutes(&app, s.scope, s.massage).await;
        assert_eq!(
            end.duration_since(start),
            jiff::SignedDuration::from_mins(length)
        );
    }
    let fhir_slots = format!(
        "/fhir/r4/Slot?schedule=Schedule/{}&service-type={}&_count=4",
        s.mei, s.massage
    );
    let bundle: Value = crate::api::get(&app, &key, &fhir_slots)
        .await
        .json()
        .await
        .unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{bundle}");
    for e in entries {
        let start: jiff::Timestamp = e["resource"]["start"].as_str().unwrap().parse().unwrap();
        assert!([6, 21].contains(&local_hour(start)), "{e}");
    }
    // Cal.com down: no times from the built-in diary instead.
    s.cal.reset().await;
    Mock::given(method("GET"))
        .and(path("/v2/slots"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&s.cal)
        .await;
    let down = crate::api::get(&app, &key, &availability).await;
    crate::harness::assert_error(down, 503, "calendar_unavailable").await;
    app.finish().await;
}

async fn catalog_minutes(app: &TestApp, scope: TenantScope, service: ServiceId) -> i64 {
    let catalog = app.store.clinic_catalog(scope).await.unwrap();
    let s = catalog.services.iter().find(|s| s.id == service).unwrap();
    i64::from(s.duration_min)
}

both_engines!(
    a_taken_time_on_calcom_reoffers_the_next_ones_and_the_booking_is_mirrored,
    calcom_webhooks_are_verified_reflected_once_and_kept_to_their_clinic,
    cancel_and_move_go_through_calcom_and_clinics_without_it_keep_the_built_in_diary,
    the_rest_api_books_and_cancels_through_calcom_too,
    availability_and_fhir_slots_come_from_calcom,
);

/// `frontdesk calcom set | map | show | disable` on the demo's SQLite data: secrets only from
/// stdin or an environment variable and never printed, practitioners and services by name.
#[test]
fn the_operator_sets_maps_shows_and_disables_calcom_from_the_command_line() {
    use crate::cli::{frontdesk, outcome, seed_demo, with_stdin};
    const KEY: &str = "cal_live_cli_0123456789";
    const HOOK: &str = "whsec_cli_secret_abcdef";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    seed_demo(&data);
    let d = data.to_str().unwrap();
    let cal = |args: &[&str], stdin: Option<&[u8]>| {
        let mut all = vec!["calcom"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--tenant", CLINIC, "--data-dir", d]);
        let mut cmd = frontdesk(&all);
        cmd.env("TEST_CALCOM_HOOK", HOOK);
        match stdin {
            Some(input) => outcome(with_stdin(cmd, input)),
            None => outcome(cmd.output().unwrap()),
        }
    };
    let (ok, out, _) = cal(&["show"], None);
    assert!(ok && out.contains("has no Cal.com settings"), "{out}");
    // No key, a bad URL, a key on the command line: refused.
    let (ok, _, err) = cal(&["set"], None);
    assert!(!ok && err.contains("--api-key-stdin"), "{err}");
    let (ok, _, err) = cal(
        &["set", "--base-url", "ftp://cal.local", "--api-key-stdin"],
        Some(b"k\n"),
    );
    assert!(!ok && err.contains("--base-url"), "{err}");
    let (ok, _, _) = cal(&["set", "--api-key", KEY], None);
    assert!(!ok);
    let (ok, out, err) = cal(
        &[
            "set",
            "--api-key-stdin",
            "--webhook-secret-env",
            "TEST_CALCOM_HOOK",
        ],
        Some(format!("{KEY}\n").as_bytes()),
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("Cal.com on at https://api.cal.com; API key set on"),
        "{out}"
    );
    assert!(!format!("{out}{err}").contains(KEY) && !out.contains(HOOK));
    let (ok, out, err) = cal(
        &[
            "map",
            "--practitioner",
            "mei chen",
            "--service",
            "Sports massage",
            "--event-type",
            "4242",
        ],
        None,
    );
    assert!(ok && out.contains("event type 4242"), "{out}{err}");
    let (ok, _, err) = cal(
        &[
            "map",
            "--practitioner",
            "Nobody",
            "--service",
            "Sports massage",
            "--event-type",
            "1",
        ],
        None,
    );
    assert!(!ok && err.contains("no practitioner"), "{err}");
    let (ok, out, err) = cal(&["show"], None);
    assert!(ok, "{err}");
    for line in [
        "enabled\ttrue",
        "event_type\t4242\tMei Chen\tSports massage",
        "webhook_url\t<public URL>/webhooks/calcom/harbour-physio",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    assert!(out.contains("webhook_secret\tset on"), "{out}");
    assert!(
        !out.contains(KEY) && !out.contains(HOOK),
        "never printed: {out}"
    );
    let (ok, out, err) = cal(&["disable"], None);
    assert!(ok && out.contains("turned off"), "{out}");
    assert!(!format!("{out}{err}").contains(KEY));
}
