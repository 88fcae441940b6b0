use super::*;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &[u8] = b"whsec_calcom_test_secret";
const BODY: &[u8] = br#"{"triggerEvent":"BOOKING_CREATED","createdAt":"2026-12-07T09:00:00.000Z","payload":{"uid":"bk_kat_1"}}"#;
// Known answer, computed independently:
// python3 -c "import hmac,hashlib; print(hmac.new(b'whsec_calcom_test_secret',
//   b'{\"triggerEvent\":\"BOOKING_CREATED\",\"createdAt\":\"2026-12-07T09:00:00.000Z\",\"payload\":{\"uid\":\"bk_kat_1\"}}',
//   hashlib.sha256).hexdigest())"
const KAT: &str = "93e75a009553e0099f082e9df9d91317a48dc89a5358ed2cbaa1733648c7fcc5";

#[test]
fn signature_matches_the_known_answer_and_nothing_else() {
    assert!(verify_signature(SECRET, BODY, Some(KAT)));
    assert!(verify_signature(SECRET, BODY, Some(&KAT.to_uppercase())));
    assert!(!verify_signature(SECRET, BODY, None));
    assert!(!verify_signature(SECRET, BODY, Some("")));
    assert!(!verify_signature(
        SECRET,
        BODY,
        Some(&format!("sha256={KAT}"))
    ));
    assert!(!verify_signature(b"another secret", BODY, Some(KAT)));
    assert!(!verify_signature(b"", BODY, Some(KAT)));
    let mut tampered = BODY.to_vec();
    tampered[30] ^= 1;
    assert!(!verify_signature(SECRET, &tampered, Some(KAT)));
}

fn ids() -> CalcomRequest {
    CalcomRequest {
        key: "conv:prac:1".into(),
        patient: PatientId::new(),
        practitioner: PractitionerId::new(),
        service: ServiceId::new(),
    }
}

#[test]
fn webhooks_parse_into_events_with_our_ids_when_we_made_the_booking() {
    let r = ids();
    let body = json!({
        "triggerEvent": "BOOKING_RESCHEDULED",
        "createdAt": "2026-12-07T09:00:00.000Z",
        "payload": {
            "uid": "new_uid", "rescheduleUid": "old_uid", "eventTypeId": 42,
            "startTime": "2026-12-08T10:00:00Z", "endTime": "2026-12-08T10:30:00Z",
            "attendees": [{"name": "A", "timeZone": "Europe/London"}],
            "metadata": metadata(&r),
        }
    });
    let ev = parse_webhook(body.to_string().as_bytes()).unwrap().unwrap();
    assert_eq!(
        ev.change,
        CalcomChange::Rescheduled {
            from_uid: "old_uid".into()
        }
    );
    assert_eq!(ev.uid, "new_uid");
    assert_eq!(ev.event_type_id, Some(42));
    assert_eq!(ev.start.to_string(), "2026-12-08T10:00:00Z");
    assert_eq!(ev.request, Some(r));
    // Someone else's booking: no ids. Other triggers: nothing to reflect.
    let outside = json!({"triggerEvent": "BOOKING_CANCELLED", "payload": {"uid": "x",
        "startTime": "2026-12-08T10:00:00Z", "endTime": "2026-12-08T10:30:00Z", "metadata": {}}});
    let ev = parse_webhook(outside.to_string().as_bytes())
        .unwrap()
        .unwrap();
    assert_eq!((ev.change, ev.request), (CalcomChange::Cancelled, None));
    let ping = json!({"triggerEvent": "PING", "payload": {}});
    assert_eq!(parse_webhook(ping.to_string().as_bytes()), Ok(None));
    // A booking trigger missing its uid or times, or a reschedule without the old uid.
    let no_uid = json!({"triggerEvent": "BOOKING_CREATED", "payload": {
        "startTime": "2026-12-08T10:00:00Z", "endTime": "2026-12-08T10:30:00Z"}});
    assert_eq!(parse_webhook(no_uid.to_string().as_bytes()), Err(Malformed));
    let no_from = json!({"triggerEvent": "BOOKING_RESCHEDULED", "payload": {"uid": "n",
        "startTime": "2026-12-08T10:00:00Z", "endTime": "2026-12-08T10:30:00Z"}});
    assert_eq!(
        parse_webhook(no_from.to_string().as_bytes()),
        Err(Malformed)
    );
    assert_eq!(parse_webhook(b"not json"), Err(Malformed));
}

fn client(server: &MockServer, timeout: Duration) -> Client {
    Client::new(
        &server.uri(),
        zeroize::Zeroizing::new("cal_test_key".into()),
        timeout,
    )
    .unwrap()
}

fn booking_json(uid: &str, key: &str) -> Value {
    json!({"status": "success", "data": {
        "id": 101, "uid": uid, "title": "Physiotherapy", "status": "accepted",
        "start": "2026-12-08T10:00:00.000Z", "end": "2026-12-08T10:30:00.000Z",
        "duration": 30, "eventTypeId": 42,
        "attendees": [{"name": "Ana", "timeZone": "Europe/London", "language": "en", "absent": false}],
        "metadata": {"frontdesk_key": key}
    }})
}

#[tokio::test]
async fn slots_are_read_from_every_day_in_time_order() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/slots"))
        .and(header("cal-api-version", "2024-09-04"))
        .and(header("authorization", "Bearer cal_test_key"))
        .and(query_param("eventTypeId", "42"))
        .and(query_param("start", "2026-12-08"))
        .and(query_param("end", "2026-12-09"))
        .and(query_param("timeZone", "Europe/London"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success",
            "data": {
                "2026-12-09": [{"start": "2026-12-09T09:00:00.000+00:00"}],
                "2026-12-08": [{"start": "2026-12-08T14:00:00.000+00:00"}, {"start": "2026-12-08T10:00:00.000+00:00"}]
            }
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, CALL_TIMEOUT);
    let d = |s: &str| s.parse::<jiff::civil::Date>().unwrap();
    let got = c
        .slots(42, d("2026-12-08"), d("2026-12-09"), "Europe/London")
        .await
        .unwrap();
    let got: Vec<String> = got.iter().map(ToString::to_string).collect();
    assert_eq!(
        got,
        [
            "2026-12-08T10:00:00Z",
            "2026-12-08T14:00:00Z",
            "2026-12-09T09:00:00Z"
        ]
    );
}

#[tokio::test]
async fn a_refused_time_is_taken_and_a_lost_answer_is_looked_up_before_booking_again() {
    let server = MockServer::start().await;
    let r = ids();
    let req = BookRequest {
        event_type: 42,
        start: "2026-12-08T10:00:00Z".parse().unwrap(),
        name: "Ana",
        time_zone: "Europe/London",
        phone: Some("+447700900123"),
        language: "en",
        ids: &r,
    };
    // Taken: Cal.com's documented error shape.
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "timestamp": "2026-12-07T09:00:00.000Z", "path": "/v2/bookings",
            "error": {"code": "BadRequestException",
                      "message": "User either already has booking at this time or is not available"}
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let c = client(&server, Duration::from_millis(400));
    assert_eq!(c.book(&req).await, Err(CalcomError::Taken));
    // Slow answer (lost to the timeout), but Cal.com made the booking: found by our key,
    // not sent a second time.
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .and(header("cal-api-version", "2024-08-13"))
        .and(body_partial_json(json!({
            "start": "2026-12-08T10:00:00Z", "eventTypeId": 42,
            "attendee": {"name": "Ana", "timeZone": "Europe/London", "phoneNumber": "+447700900123", "language": "en"},
            "metadata": {"frontdesk_key": "conv:prac:1"}
        })))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(booking_json("bk_1", "conv:prac:1"))
                .set_delay(Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/bookings"))
        .and(query_param("eventTypeId", "42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success",
            "data": [booking_json("bk_other", "someone-else")["data"], booking_json("bk_1", "conv:prac:1")["data"]],
            "pagination": {"totalItems": 2}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let got = c.book(&req).await.unwrap();
    assert_eq!(got.uid, "bk_1");
    assert_eq!(got.end.to_string(), "2026-12-08T10:30:00Z");
}

#[tokio::test]
async fn a_refused_key_is_a_configuration_error_and_an_outage_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings/bk_1/cancel"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings/bk_2/reschedule"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let c = client(&server, CALL_TIMEOUT);
    assert!(matches!(
        c.cancel("bk_1").await,
        Err(CalcomError::Config(_))
    ));
    let at = "2026-12-08T10:00:00Z".parse().unwrap();
    assert_eq!(
        c.reschedule("bk_2", at).await,
        Err(CalcomError::Unavailable("status_503".into()))
    );
    // A uid that is not one path segment is never sent.
    assert!(matches!(
        c.cancel("../admin").await,
        Err(CalcomError::Config(_))
    ));
}
