//! Tests of the Africa's Talking client against wiremock on loopback, with AT's real shapes.

use super::*;
use crate::channels::{DEFAULT_TIMEOUT, OutboundBody};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn msg(text: &str) -> Outbound {
    Outbound {
        to: "+254711000001".into(),
        body: OutboundBody::Text(text.into()),
        idempotency_key: "k".into(),
    }
}

fn form(req: &Request) -> Vec<(String, String)> {
    let body = String::from_utf8(req.body.clone()).unwrap();
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn recipient(status_code: i64, status: &str, message_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({"SMSMessageData": {
        "Message": "Sent to 1/1 Total Cost: KES 0.8000",
        "Recipients": [{
            "statusCode": status_code,
            "number": "+254711000001",
            "status": status,
            "cost": "KES 0.8000",
            "messageId": message_id
        }]
    }}))
}

async fn server_with(
    resp: ResponseTemplate,
    timeout: Duration,
) -> (MockServer, AfricasTalkingClient) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(resp)
        .mount(&server)
        .await;
    let c = AfricasTalkingClient::with_base_url(&server.uri(), timeout).unwrap();
    (server, c)
}

#[tokio::test]
async fn sms_is_posted_as_a_form_with_the_api_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/version1/messaging"))
        .and(header("apiKey", "atsk_secret"))
        .and(header("accept", "application/json"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(recipient(101, "Success", "ATXid_abc"))
        .expect(1)
        .mount(&server)
        .await;
    let c = AfricasTalkingClient::with_base_url(&server.uri(), DEFAULT_TIMEOUT).unwrap();
    let sent = c
        .send(
            "clinicke",
            "atsk_secret",
            Some("22384"),
            &msg("Miadi yako: Jumanne 10:00 & asante"),
        )
        .await
        .unwrap();
    assert_eq!(sent.provider_message_id, "ATXid_abc");
    let f = form(&server.received_requests().await.unwrap()[0]);
    assert_eq!(
        f,
        vec![
            ("username".to_owned(), "clinicke".to_owned()),
            ("to".to_owned(), "+254711000001".to_owned()),
            (
                "message".to_owned(),
                "Miadi yako: Jumanne 10:00 & asante".to_owned()
            ),
            ("from".to_owned(), "22384".to_owned()),
        ]
    );
}

#[tokio::test]
async fn without_a_sender_no_from_field_is_sent() {
    let (server, c) = server_with(recipient(102, "Queued", "ATXid_q"), DEFAULT_TIMEOUT).await;
    let sent = c.send("sandbox", "k", None, &msg("hi")).await.unwrap();
    assert_eq!(sent.provider_message_id, "ATXid_q");
    let f = form(&server.received_requests().await.unwrap()[0]);
    assert!(!f.iter().any(|(k, _)| k == "from"));
}

async fn send_err(resp: ResponseTemplate) -> SendError {
    let (_s, c) = server_with(resp, DEFAULT_TIMEOUT).await;
    c.send("u", "k", None, &msg("hi")).await.unwrap_err()
}

#[tokio::test]
async fn recipient_status_codes_are_classified() {
    for (code, status) in [
        (401, "RiskHold"),
        (402, "InvalidSenderId"),
        (403, "InvalidPhoneNumber"),
        (404, "UnsupportedNumberType"),
        (406, "UserInBlacklist"),
        (407, "CouldNotRoute"),
    ] {
        let e = send_err(recipient(code, status, "None")).await;
        assert_eq!(
            e,
            SendError::Permanent {
                code: format!("at_{code}")
            },
            "{status}"
        );
    }
    for (code, status) in [
        (405, "InsufficientBalance"),
        (500, "InternalServerError"),
        (502, "InternalSMSChannelError"),
    ] {
        let e = send_err(recipient(code, status, "None")).await;
        assert_eq!(
            e,
            SendError::Retryable {
                code: format!("at_{code}"),
                retry_after: None
            }
        );
    }
}

#[tokio::test]
async fn http_failures_are_classified() {
    let e = send_err(ResponseTemplate::new(500)).await;
    assert_eq!(
        e,
        SendError::Retryable {
            code: "http_500".into(),
            retry_after: None
        }
    );
    let e = send_err(ResponseTemplate::new(429).insert_header("Retry-After", "12")).await;
    assert_eq!(
        e,
        SendError::Retryable {
            code: "http_429".into(),
            retry_after: Some(Duration::from_secs(12))
        }
    );
    let e = send_err(
        ResponseTemplate::new(401).set_body_string("The supplied authentication is invalid"),
    )
    .await;
    assert_eq!(
        e,
        SendError::Permanent {
            code: "http_401".into()
        }
    );
}

#[tokio::test]
async fn refused_requests_and_odd_bodies_are_permanent() {
    let refused = ResponseTemplate::new(201)
        .set_body_json(json!({"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}));
    assert_eq!(send_err(refused).await.code(), "at_402");
    let odd = ResponseTemplate::new(201).set_body_json(
        json!({"SMSMessageData": {"Message": "+254711000001 whatever", "Recipients": []}}),
    );
    let e = send_err(odd).await;
    assert_eq!(
        e,
        SendError::Permanent {
            code: "at_no_recipients".into()
        }
    );
    assert_eq!(
        send_err(ResponseTemplate::new(201).set_body_string("ok"))
            .await
            .code(),
        "at_bad_response"
    );
    assert_eq!(
        send_err(recipient(101, "Success", "")).await.code(),
        "at_bad_response"
    );
}

#[tokio::test]
async fn a_slow_provider_times_out_as_retryable() {
    let resp = recipient(101, "Success", "late").set_delay(Duration::from_millis(500));
    let (_s, c) = server_with(resp, Duration::from_millis(50)).await;
    let e = c.send("u", "k", None, &msg("hi")).await.unwrap_err();
    assert_eq!(
        e,
        SendError::Retryable {
            code: "timeout".into(),
            retry_after: None
        }
    );
}

#[tokio::test]
async fn an_api_key_that_cannot_be_a_header_is_rejected_before_any_request() {
    let (server, c) = server_with(recipient(101, "Success", "x"), DEFAULT_TIMEOUT).await;
    let e = c.send("u", "bad\nkey", None, &msg("hi")).await.unwrap_err();
    assert_eq!(e.code(), "bad_api_key");
    assert!(server.received_requests().await.unwrap().is_empty());
}
