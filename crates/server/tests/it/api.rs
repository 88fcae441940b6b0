//! The REST API `/v1` on both engines: keys and scopes checked before anything is read,
//! another clinic's ids answering 404, cursor pages without gaps or repeats, idempotent
//! booking, the per-key rate limit, audited reads with the key as the actor, and revoked or
//! rotated keys.

use crate::both_engines;
use crate::harness::{TestApp, assert_error};
use frontdesk_domain::{ApiScopes, E164Phone, PatientId};
use frontdesk_store::{Actor, Channel, IssuedApiKey, NewApiKey, NewPatient, TenantScope};
use serde_json::{Value, json};

both_engines!(
    calls_without_a_valid_key_or_scope_are_refused_before_reading,
    another_clinics_ids_answer_not_found,
    free_times_are_booked_once_per_idempotency_key,
    appointment_pages_follow_their_cursor_without_gaps_or_repeats,
    a_key_over_its_rate_gets_429_with_retry_after,
    reading_a_patient_or_a_conversation_is_audited_as_the_key,
    revoked_and_rotated_keys,
    a_message_is_sent_once_per_idempotency_key_and_reaches_the_chat,
    completed_erasures_are_listed_newest_first_a_page_at_a_time,
);

async fn issue_key(app: &TestApp, scope: TenantScope, scopes: &str, rate: u32) -> IssuedApiKey {
    app.store
        .create_api_key(
            scope,
            &NewApiKey {
                name: "test integration".into(),
                scopes: ApiScopes::parse(scopes).unwrap(),
                rate_per_minute: rate,
            },
            Actor::Operator,
        )
        .await
        .unwrap()
}

pub(crate) async fn make_key(app: &TestApp, scope: TenantScope, scopes: &str, rate: u32) -> String {
    issue_key(app, scope, scopes, rate).await.key.to_string()
}

const ALL: &str =
    "schedule:read appointments:read appointments:write conversations:read patients:read";

pub(crate) async fn get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn ok_json(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn new_patient(app: &TestApp, scope: TenantScope, phone: &str) -> PatientId {
    app.store
        .create_patient(
            scope,
            &NewPatient {
                name: Some("Aroha Test".into()),
                phone: Some(E164Phone::parse(phone).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

/// The first practitioner and service of the clinic, and free times for them.
async fn free_times(app: &TestApp, key: &str) -> (String, String, Vec<Value>) {
    let services = ok_json(get(app, key, "/v1/services").await).await;
    let service = &services["data"][0];
    let practitioner = service["practitioner_ids"][0].as_str().unwrap().to_owned();
    let service = service["id"].as_str().unwrap().to_owned();
    let path =
        format!("/v1/availability?practitioner={practitioner}&service={service}&days=14&limit=20");
    let slots = ok_json(get(app, key, &path).await).await;
    let slots = slots["data"].as_array().unwrap().clone();
    assert!(
        slots.len() >= 6,
        "free times in a fortnight: {}",
        slots.len()
    );
    (practitioner, service, slots)
}

async fn book(app: &TestApp, key: &str, idem: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/v1/appointments"))
        .bearer_auth(key)
        .json(body);
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.unwrap()
}

async fn calls_without_a_valid_key_or_scope_are_refused_before_reading(app: TestApp) {
    let scope = app.scope("harbour-physio").await;
    let resp = app
        .client
        .get(app.url("/v1/practitioners"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_error(resp, 401, "invalid_api_key").await;
    for bad in [
        "nonsense",
        "fdk_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    ] {
        assert_error(
            get(&app, bad, "/v1/practitioners").await,
            401,
            "invalid_api_key",
        )
        .await;
    }
    let schedule_only = make_key(&app, scope, "schedule:read", 600).await;
    let list = ok_json(get(&app, &schedule_only, "/v1/practitioners").await).await;
    assert!(!list["data"].as_array().unwrap().is_empty());
    assert_eq!(list["next_cursor"], Value::Null);
    let patient = new_patient(&app, scope, "+64 21 555 0199").await;
    for path in [
        format!("/v1/patients/{patient}"),
        "/v1/appointments".to_owned(),
        format!("/v1/conversations/{}", uuid::Uuid::new_v4()),
    ] {
        assert_error(
            get(&app, &schedule_only, &path).await,
            403,
            "insufficient_scope",
        )
        .await;
    }
    let resp = book(&app, &schedule_only, Some("k1"), &json!({})).await;
    assert_error(resp, 403, "insufficient_scope").await;
    let all = make_key(&app, scope, ALL, 600).await;
    assert_error(
        get(&app, &all, "/v1/appointments?limit=0").await,
        400,
        "invalid_limit",
    )
    .await;
    assert_error(
        get(&app, &all, "/v1/appointments?cursor=%21%21").await,
        400,
        "invalid_cursor",
    )
    .await;
    assert_error(
        get(&app, &all, "/v1/availability").await,
        400,
        "invalid_query",
    )
    .await;
    assert_error(get(&app, &all, "/v1/nothing-here").await, 404, "not_found").await;
    app.finish().await;
}

async fn another_clinics_ids_answer_not_found(app: TestApp) {
    let harbour = app.scope("harbour-physio").await;
    let nairobi = app.scope("nairobi-family").await;
    let harbour_key = make_key(&app, harbour, ALL, 600).await;
    let nairobi_key = make_key(&app, nairobi, ALL, 600).await;
    // A booking, patient and conversation of Nairobi, made through Nairobi's own key.
    let patient = new_patient(&app, nairobi, "+254 712 345 678").await;
    let conversation = app
        .store
        .start_conversation(nairobi, patient, Channel::Sms)
        .await
        .unwrap();
    let (practitioner, service, slots) = free_times(&app, &nairobi_key).await;
    let body = json!({
        "patient_id": patient.to_string(),
        "practitioner_id": practitioner,
        "service_id": service,
        "starts_at": slots[0]["starts_at"],
    });
    let booked = book(&app, &nairobi_key, Some("n-1"), &body).await;
    assert_eq!(booked.status(), 201);
    let appointment = booked.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Nairobi reads its own; Harbour's key gets 404 for each, like an id that never existed.
    for path in [
        format!("/v1/appointments/{appointment}"),
        format!("/v1/patients/{patient}"),
        format!("/v1/conversations/{conversation}"),
        format!("/v1/conversations/{conversation}/messages"),
    ] {
        ok_json(get(&app, &nairobi_key, &path).await).await;
        assert_error(get(&app, &harbour_key, &path).await, 404, "not_found").await;
    }
    let resp = app
        .client
        .post(app.url(&format!("/v1/appointments/{appointment}/cancel")))
        .bearer_auth(&harbour_key)
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "not_found").await;
    // Booking Harbour's practitioner for Nairobi's patient: the patient is not Harbour's.
    let resp = book(&app, &harbour_key, Some("h-1"), &body).await;
    assert_error(resp, 404, "not_found").await;
    assert_error(
        get(
            &app,
            &harbour_key,
            "/v1/appointments?to=2100-01-01T00:00:00Z",
        )
        .await,
        400,
        "invalid_range",
    )
    .await;
    let mine = ok_json(get(&app, &harbour_key, "/v1/appointments").await).await;
    assert!(
        mine["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != appointment.as_str()),
        "Harbour's list never shows Nairobi's booking"
    );
    app.finish().await;
}

async fn free_times_are_booked_once_per_idempotency_key(app: TestApp) {
    let scope = app.scope("harbour-physio").await;
    let key = make_key(&app, scope, ALL, 600).await;
    let patient = new_patient(&app, scope, "+64 21 555 0198").await;
    let (practitioner, service, slots) = free_times(&app, &key).await;
    let body = json!({
        "patient_id": patient.to_string(),
        "practitioner_id": practitioner,
        "service_id": service,
        "starts_at": slots[0]["starts_at"],
    });
    assert_error(
        book(&app, &key, None, &body).await,
        400,
        "idempotency_key_required",
    )
    .await;
    let first = book(&app, &key, Some("order-42"), &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "booked");
    // A retry with the same key answers the same appointment, and books nothing more.
    let again: Value = book(&app, &key, Some("order-42"), &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["id"], first["id"]);
    let booked = app
        .store
        .patient_appointments(scope, patient, jiff::Timestamp::now())
        .await
        .unwrap();
    assert_eq!(booked.len(), 1);
    // The same key for another time is refused; another key for the taken time conflicts.
    let mut other = body.clone();
    other["starts_at"] = slots[3]["starts_at"].clone();
    assert_error(
        book(&app, &key, Some("order-42"), &other).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_error(
        book(&app, &key, Some("order-43"), &body).await,
        409,
        "conflict",
    )
    .await;
    let bad = json!({ "patient_id": "x", "practitioner_id": practitioner, "service_id": service, "starts_at": "soon" });
    assert_error(
        book(&app, &key, Some("order-44"), &bad).await,
        400,
        "invalid_patient_id",
    )
    .await;
    let resp = app
        .client
        .post(app.url("/v1/appointments"))
        .bearer_auth(&key)
        .header("Idempotency-Key", "order-45")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_error(resp, 400, "invalid_body").await;
    // Cancelling is idempotent.
    let id = first["id"].as_str().unwrap();
    for _ in 0..2 {
        let resp = app
            .client
            .post(app.url(&format!("/v1/appointments/{id}/cancel")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(ok_json(resp).await["status"], "cancelled");
    }
    app.finish().await;
}

async fn appointment_pages_follow_their_cursor_without_gaps_or_repeats(app: TestApp) {
    let scope = app.scope("harbour-physio").await;
    let key = make_key(&app, scope, ALL, 600).await;
    let mut made = Vec::new();
    for i in 0..5 {
        // The first free time each round, so no two bookings overlap.
        let (practitioner, service, slots) = free_times(&app, &key).await;
        let patient = new_patient(&app, scope, &format!("+64 21 555 01{i:02}")).await;
        let body = json!({
            "patient_id": patient.to_string(),
            "practitioner_id": practitioner,
            "service_id": service,
            "starts_at": slots[0]["starts_at"],
        });
        let resp = book(&app, &key, Some(&format!("page-{i}")), &body).await;
        made.push(ok_json(resp).await["id"].as_str().unwrap().to_owned());
    }
    let window = "from=2000-01-01T00:00:00Z&to=2000-03-01T00:00:00Z";
    let empty = ok_json(get(&app, &key, &format!("/v1/appointments?{window}")).await).await;
    assert_eq!(empty["data"], json!([]));
    let to = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/v1/appointments?limit=2&to={to}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = ok_json(get(&app, &key, &path).await).await;
        pages += 1;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        let starts: Vec<&str> = data
            .iter()
            .map(|a| a["starts_at"].as_str().unwrap())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "start order");
        seen.extend(data.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pages end");
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no repeats");
    for id in &made {
        assert!(seen.contains(id), "every booking listed once");
    }
    assert!(pages >= 3);
    // A cursor from another list is refused.
    let conversation_cursor = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("messages:x|y")
    };
    assert_error(
        get(
            &app,
            &key,
            &format!("/v1/appointments?cursor={conversation_cursor}"),
        )
        .await,
        400,
        "invalid_cursor",
    )
    .await;
    app.finish().await;
}

async fn a_key_over_its_rate_gets_429_with_retry_after(app: TestApp) {
    let scope = app.scope("harbour-physio").await;
    let key = make_key(&app, scope, "schedule:read", 2).await;
    for _ in 0..2 {
        ok_json(get(&app, &key, "/v1/services").await).await;
    }
    let resp = get(&app, &key, "/v1/services").await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_error(resp, 429, "rate_limited").await;
    // Another key of the same clinic is not held back.
    let other = make_key(&app, scope, "schedule:read", 2).await;
    ok_json(get(&app, &other, "/v1/services").await).await;
    app.finish().await;
}

async fn reading_a_patient_or_a_conversation_is_audited_as_the_key(app: TestApp) {
    let scope = app.scope("harbour-physio").await;
    let issued = issue_key(&app, scope, ALL, 600).await;
    let key = issued.key.to_string();
    let (token, conversation) = app.start_chat("harbour-physio").await;
    app.ask("harbour-physio", &token, "What time do you open?")
        .await;
    let c = ok_json(get(&app, &key, &format!("/v1/conversations/{conversation}")).await).await;
    let patient = c["patient_id"].as_str().unwrap().to_owned();
    let p = ok_json(get(&app, &key, &format!("/v1/patients/{patient}")).await).await;
    let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["created_at", "id", "language", "name"],
        "minimal: no phone, no email"
    );
    let page1 = ok_json(
        get(
            &app,
            &key,
            &format!("/v1/conversations/{conversation}/messages?limit=1"),
        )
        .await,
    )
    .await;
    assert_eq!(page1["data"][0]["body"], "What time do you open?");
    assert_eq!(page1["data"][0]["sender"], "patient");
    let next = page1["next_cursor"].as_str().unwrap();
    let page2 = ok_json(
        get(
            &app,
            &key,
            &format!("/v1/conversations/{conversation}/messages?limit=50&cursor={next}"),
        )
        .await,
    )
    .await;
    assert_eq!(page2["data"][0]["sender"], "agent");
    let audit = app.store.audit_entries(scope, 0, 100_000).await.unwrap();
    let by_key: Vec<&str> = audit
        .iter()
        .filter(|e| e.actor_kind == "api_key")
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        by_key,
        [
            "patient.viewed",
            "conversation.viewed",
            "conversation.viewed"
        ]
    );
    assert!(
        audit
            .iter()
            .filter(|e| e.actor_kind == "api_key")
            .all(|e| { e.actor_id.as_deref() == Some(&*issued.info.id.to_string()) })
    );
    let report = app
        .store
        .access_report(
            scope,
            &issued.info.id.to_string(),
            jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1),
            jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
        )
        .await
        .unwrap();
    assert_eq!(report.len(), 1, "one patient touched");
    assert_eq!(report[0].patient.map(|p| p.to_string()), Some(patient));
    app.finish().await;
}

async fn revoked_and_rotated_keys(app: TestApp) {
    let scope = app.scope("harbour-physio").await;
    let issued = issue_key(&app, scope, "schedule:read", 600).await;
    let old = issued.key.to_string();
    ok_json(get(&app, &old, "/v1/services").await).await;
    let next = app
        .store
        .rotate_api_key(scope, issued.info.id, 1, Actor::Operator)
        .await
        .unwrap();
    ok_json(get(&app, &old, "/v1/services").await).await;
    ok_json(get(&app, &next.key, "/v1/services").await).await;
    app.store
        .revoke_api_key(scope, issued.info.id, Actor::Operator)
        .await
        .unwrap();
    assert_error(
        get(&app, &old, "/v1/services").await,
        401,
        "invalid_api_key",
    )
    .await;
    ok_json(get(&app, &next.key, "/v1/services").await).await;
    let listed = app.store.api_keys(scope).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|k| k.id == next.info.id && k.last_used_at.is_some())
    );
    app.finish().await;
}

async fn send(
    app: &TestApp,
    key: &str,
    conversation: &str,
    idem: Option<&str>,
    text: &str,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(&format!("/v1/conversations/{conversation}/messages")))
        .bearer_auth(key)
        .json(&json!({ "text": text }));
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    req.send().await.unwrap()
}

async fn a_message_is_sent_once_per_idempotency_key_and_reaches_the_chat(app: TestApp) {
    let scope = app.scope("harbour-physio").await;
    let key = make_key(&app, scope, "messages:write conversations:read", 600).await;
    let read_only = make_key(&app, scope, "conversations:read", 600).await;
    let (token, conversation) = app.start_chat("harbour-physio").await;
    app.ask("harbour-physio", &token, "Can someone call me back?")
        .await;
    let text = "Hi, this is reception: we will call you at 3pm.";
    assert_error(
        send(&app, &read_only, &conversation, Some("m-1"), text).await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_error(
        send(&app, &key, &conversation, None, text).await,
        400,
        "idempotency_key_required",
    )
    .await;
    let first = send(&app, &key, &conversation, Some("m-1"), text).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    assert_eq!(
        (first["sender"].as_str(), first["body"].as_str()),
        (Some("staff"), Some(text))
    );
    let again = send(&app, &key, &conversation, Some("m-1"), text).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_error(
        send(&app, &key, &conversation, Some("m-1"), "other").await,
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_error(
        send(&app, &key, &conversation, Some("m-2"), "   ").await,
        422,
        "invalid_text",
    )
    .await;
    // The patient's chat shows it once, from staff.
    let history: Value = app
        .client
        .get(app.url("/v1/webchat/harbour-physio/messages"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let from_staff: Vec<&Value> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["from"] == "staff")
        .collect();
    assert_eq!(from_staff.len(), 1);
    assert_eq!(from_staff[0]["text"], text);
    // Another clinic's conversation is not found.
    let nairobi = make_key(
        &app,
        app.scope("nairobi-family").await,
        "messages:write",
        600,
    )
    .await;
    assert_error(
        send(&app, &nairobi, &conversation, Some("m-1"), text).await,
        404,
        "not_found",
    )
    .await;
    app.finish().await;
}

async fn completed_erasures_are_listed_newest_first_a_page_at_a_time(app: TestApp) {
    let scope = app.scope("harbour-physio").await;
    let key = make_key(&app, scope, "data_requests:read", 600).await;
    let empty = ok_json(get(&app, &key, "/v1/data-requests").await).await;
    assert_eq!(empty["data"], json!([]));
    let mut erased = Vec::new();
    for phone in ["+64 21 555 0171", "+64 21 555 0172", "+64 21 555 0173"] {
        let p = new_patient(&app, scope, phone).await;
        app.store
            .erase_patient(scope, p, Actor::Operator)
            .await
            .unwrap();
        erased.push(p.to_string());
    }
    let other = app.scope("nairobi-family").await;
    let far = new_patient(&app, other, "+254 712 000 171").await;
    app.store
        .erase_patient(other, far, Actor::Operator)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut path = "/v1/data-requests?limit=2".to_owned();
    loop {
        let page = ok_json(get(&app, &key, &path).await).await;
        for d in page["data"].as_array().unwrap() {
            assert_eq!(
                (d["kind"].as_str(), d["status"].as_str()),
                (Some("erasure"), Some("completed"))
            );
            seen.push(d["patient_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/data-requests?limit=2&cursor={c}"),
            None => break,
        }
    }
    erased.reverse();
    assert_eq!(seen, erased, "newest first, each once, only this clinic's");
    app.finish().await;
}
