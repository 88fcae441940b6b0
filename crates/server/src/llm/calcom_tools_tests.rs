//! The language model's tools against a clinic whose calendar is Cal.com (a wiremock Cal.com
//! with its documented JSON): the same tools find Cal.com's slots and book through it; a time
//! Cal.com refuses books nothing and is told to the model as taken.

use super::injection_harness::{Fixture, Scripted, Step, call};
use frontdesk_store::testing::Engine;
use frontdesk_store::{Actor, CalcomSecretChange};
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Thursday 10 December 2026, 10:00 in Auckland (the first of Cal.com's two slots that day).
const TEN: &str = "2026-12-09T21:00:00Z";

/// Cal.com on for Harbour Physio, every practitioner's follow-up on event type 42, its slots
/// answered.
async fn calcom(fx: &Fixture) -> MockServer {
    let cal = MockServer::start().await;
    let s = fx.store.as_ref();
    s.set_calcom_settings(
        fx.scope,
        &cal.uri(),
        true,
        CalcomSecretChange::Set("cal_key".to_owned().into()),
        CalcomSecretChange::Keep,
        Actor::Operator,
    )
    .await
    .unwrap();
    let catalog = s.clinic_catalog(fx.scope).await.unwrap();
    let follow_up = catalog
        .services
        .iter()
        .find(|v| v.name == "Follow-up physiotherapy")
        .unwrap()
        .id;
    for p in &catalog.practitioners {
        s.map_calcom_event_type(fx.scope, p.id, follow_up, Some(42), Actor::Operator)
            .await
            .unwrap();
    }
    Mock::given(method("GET"))
        .and(path("/v2/slots"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success",
            "data": { "2026-12-10": [
                {"start": "2026-12-10T10:00:00.000+13:00"}, {"start": "2026-12-10T14:00:00.000+13:00"}
            ] }
        })))
        .mount(&cal)
        .await;
    cal
}

/// The patient asks; the model finds Thursday's times and books the first. What was said.
async fn book_thursday(fx: &Fixture) -> String {
    let said = fx
        .say(
            false,
            "Book me a follow-up on Thursday, the first time you have.",
            &script(),
            Duration::from_secs(20),
        )
        .await;
    said.messages.join("\n")
}

fn script() -> std::sync::Arc<Scripted> {
    Scripted::new(vec![
        call(
            "find_slots",
            json!({"service": "Follow-up physiotherapy", "date": "2026-12-10"}),
        ),
        call("book", json!({"slot": 1})),
        Step::EchoLast,
    ])
}

async fn the_model_books_through_calcom(engine: Engine) {
    let Some(fx) = Fixture::new(engine).await else {
        return;
    };
    let cal = calcom(&fx).await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "status": "success",
            "data": { "id": 1, "uid": "bk_tool_1", "status": "accepted", "start": TEN,
                      "end": "2026-12-09T21:30:00Z", "eventTypeId": 42 }
        })))
        .expect(1)
        .mount(&cal)
        .await;
    let before = fx.diary().await.len();
    let all = book_thursday(&fx).await;
    assert!(
        all.contains("You're booked: Follow-up physiotherapy"),
        "{all}"
    );
    let mine = fx
        .store
        .patient_appointments(fx.scope, fx.me, TEN.parse().unwrap())
        .await
        .unwrap();
    let new = mine
        .iter()
        .find(|a| a.starts_at.to_string() == TEN)
        .unwrap();
    assert_eq!(
        fx.store
            .appointment_calcom_uid(fx.scope, new.id)
            .await
            .unwrap()
            .as_deref(),
        Some("bk_tool_1")
    );
    assert_eq!(fx.diary().await.len(), before + 1);
    fx.db.cleanup().await;
}

async fn a_time_calcom_refuses_books_nothing_through_the_model(engine: Engine) {
    let Some(fx) = Fixture::new(engine).await else {
        return;
    };
    let cal = calcom(&fx).await;
    Mock::given(method("POST"))
        .and(path("/v2/bookings"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "error", "path": "/v2/bookings",
            "error": {"code": "BadRequestException",
                      "message": "User either already has booking at this time or is not available"}
        })))
        .expect(1)
        .mount(&cal)
        .await;
    let before = fx.diary().await;
    let all = book_thursday(&fx).await;
    assert!(!all.contains("You're booked"), "{all}");
    assert_eq!(fx.diary().await, before, "nothing booked here");
    fx.db.cleanup().await;
}

#[tokio::test]
async fn sqlite_the_model_books_through_calcom() {
    the_model_books_through_calcom(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_model_books_through_calcom() {
    the_model_books_through_calcom(Engine::Postgres).await;
}

#[tokio::test]
async fn sqlite_a_time_calcom_refuses_books_nothing_through_the_model() {
    a_time_calcom_refuses_books_nothing_through_the_model(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_time_calcom_refuses_books_nothing_through_the_model() {
    a_time_calcom_refuses_books_nothing_through_the_model(Engine::Postgres).await;
}
