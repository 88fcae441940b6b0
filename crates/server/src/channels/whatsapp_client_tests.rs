//! Tests of the Graph client against wiremock on loopback, with Graph's real shapes.

use super::*;
use crate::channels::DEFAULT_TIMEOUT;
use wiremock::matchers::{body_json, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PNID: &str = "106540352242922";

async fn client(server: &MockServer, timeout: Duration) -> GraphClient {
    GraphClient::with_base_url(&server.uri(), timeout).unwrap()
}

fn outbound(body: OutboundBody) -> Outbound {
    Outbound {
        to: "+254700000001".into(),
        body,
        idempotency_key: "k1".into(),
    }
}

fn text(t: &str) -> Outbound {
    outbound(OutboundBody::Text(t.into()))
}

fn accepted(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": "+254700000001", "wa_id": "254700000001"}],
        "messages": [{"id": id}]
    }))
}

fn graph_error(status: u16, code: i64) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "message": "(#131047) Re-engagement message",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": "x"},
        "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"
    }}))
}

#[tokio::test]
async fn text_is_posted_with_bearer_token_and_exact_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PNID}/messages")))
        .and(header("authorization", "Bearer EAAtoken"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "254700000001",
            "type": "text",
            "text": {"preview_url": false, "body": "Karibu — see you at 10"}
        })))
        .respond_with(accepted("wamid.HBgM"))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, DEFAULT_TIMEOUT).await;
    let sent = c
        .send(PNID, "EAAtoken", &text("Karibu — see you at 10"))
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "wamid.HBgM");
}

#[tokio::test]
async fn buttons_are_interactive_with_truncated_titles() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Which time suits you?"},
                "action": {"buttons": [
                    {"type": "reply", "reply": {"id": "slot_1", "title": "Tuesday 10:00"}},
                    {"type": "reply", "reply": {"id": "slot_2", "title": "Mittwoch 14:30 Uhr –"}},
                ]}
            }
        })))
        .respond_with(accepted("wamid.B"))
        .expect(1)
        .mount(&server)
        .await;
    let msg = outbound(OutboundBody::Buttons {
        text: "Which time suits you?".into(),
        buttons: vec![
            ("slot_1".into(), "Tuesday 10:00".into()),
            ("slot_2".into(), "Mittwoch 14:30 Uhr – Praxis".into()),
        ],
    });
    let sent = client(&server, DEFAULT_TIMEOUT)
        .await
        .send(PNID, "t", &msg)
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "wamid.B");
}

#[test]
fn titles_are_cut_at_20_characters_on_char_boundaries() {
    assert_eq!(
        truncate_chars("ééééééééééééééééééééééé", 20)
            .chars()
            .count(),
        20
    );
    assert_eq!(truncate_chars("short", 20), "short");
    assert_eq!(truncate_chars("🦷🦷🦷", 2), "🦷🦷");
}

#[test]
fn more_than_three_buttons_become_numbered_text() {
    let buttons = (1..=4)
        .map(|i| (format!("id{i}"), format!("Option {i}")))
        .collect();
    let v = message_json(&outbound(OutboundBody::Buttons {
        text: "Pick".into(),
        buttons,
    }));
    assert_eq!(v["type"], "text");
    assert_eq!(
        v["text"]["body"],
        "Pick\n1. Option 1\n2. Option 2\n3. Option 3\n4. Option 4"
    );
}

#[tokio::test]
async fn templates_carry_language_and_body_parameters() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({
            "to": "254700000001",
            "type": "template",
            "template": {
                "name": "appointment_reminder",
                "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Amina"},
                    {"type": "text", "text": "Tue 10:00"}
                ]}]
            }
        })))
        .respond_with(accepted("wamid.T"))
        .expect(1)
        .mount(&server)
        .await;
    let msg = outbound(OutboundBody::Template {
        name: "appointment_reminder".into(),
        language: "en_US".into(),
        params: vec!["Amina".into(), "Tue 10:00".into()],
    });
    let c = client(&server, DEFAULT_TIMEOUT).await;
    assert_eq!(
        c.send(PNID, "t", &msg).await.unwrap().provider_message_id,
        "wamid.T"
    );
    let bare = message_json(&outbound(OutboundBody::Template {
        name: "hello_world".into(),
        language: "en_US".into(),
        params: vec![],
    }));
    assert!(bare["template"].get("components").is_none());
}

async fn send_against(resp: ResponseTemplate) -> Result<Sent, SendError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(resp)
        .mount(&server)
        .await;
    client(&server, DEFAULT_TIMEOUT)
        .await
        .send(PNID, "t", &text("hi"))
        .await
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let e = send_against(ResponseTemplate::new(500)).await.unwrap_err();
    assert_eq!(
        e,
        SendError::Retryable {
            code: "http_500".into(),
            retry_after: None
        }
    );
    let e = send_against(graph_error(500, 131000)).await.unwrap_err();
    assert_eq!(e.code(), "graph_131000");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn rate_limits_are_retryable_and_honour_retry_after() {
    let resp = graph_error(429, 130429).insert_header("Retry-After", "7");
    let e = send_against(resp).await.unwrap_err();
    assert_eq!(
        e,
        SendError::Retryable {
            code: "graph_130429".into(),
            retry_after: Some(Duration::from_secs(7))
        }
    );
    let e = send_against(graph_error(400, 131056)).await.unwrap_err();
    assert!(e.is_retryable(), "pair rate limit arrives as a 400");
}

#[tokio::test]
async fn outside_the_service_window_is_permanent() {
    let e = send_against(graph_error(400, 131047)).await.unwrap_err();
    assert_eq!(
        e,
        SendError::Permanent {
            code: "graph_131047".into()
        }
    );
    let e = send_against(graph_error(401, 190)).await.unwrap_err();
    assert_eq!(
        e,
        SendError::Permanent {
            code: "graph_190".into()
        }
    );
}

#[tokio::test]
async fn unknown_codes_and_plain_4xx_fall_back_to_the_http_status() {
    let e = send_against(graph_error(400, 555_555)).await.unwrap_err();
    assert_eq!(
        e,
        SendError::Permanent {
            code: "graph_555555".into()
        }
    );
    let e = send_against(graph_error(503, 555_555)).await.unwrap_err();
    assert!(e.is_retryable());
    let e = send_against(ResponseTemplate::new(404).set_body_string("<html>"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        SendError::Permanent {
            code: "http_404".into()
        }
    );
}

#[tokio::test]
async fn a_success_without_an_id_is_not_retried() {
    let e = send_against(ResponseTemplate::new(200).set_body_json(json!({"messages": []})))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        SendError::Permanent {
            code: "graph_bad_response".into()
        }
    );
}

#[tokio::test]
async fn a_slow_provider_times_out_as_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("late").set_delay(Duration::from_millis(500)))
        .mount(&server)
        .await;
    let c = client(&server, Duration::from_millis(50)).await;
    let e = c.send(PNID, "t", &text("hi")).await.unwrap_err();
    assert_eq!(
        e,
        SendError::Retryable {
            code: "timeout".into(),
            retry_after: None
        }
    );
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    // A port that was just free: nothing listens there (wiremock pools its servers, so
    // dropping a MockServer would not close its port).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c =
        GraphClient::with_base_url(&format!("http://127.0.0.1:{port}"), DEFAULT_TIMEOUT).unwrap();
    let e = c.send(PNID, "t", &text("hi")).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
}

#[tokio::test]
async fn a_non_numeric_phone_number_id_is_rejected_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("x"))
        .expect(0)
        .mount(&server)
        .await;
    let c = client(&server, DEFAULT_TIMEOUT).await;
    let e = c.send("../me", "t", &text("hi")).await.unwrap_err();
    assert_eq!(
        e,
        SendError::Permanent {
            code: "bad_phone_number_id".into()
        }
    );
}
