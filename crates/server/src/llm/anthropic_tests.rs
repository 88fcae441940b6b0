//! Tests of the Anthropic client against wiremock on loopback, with the Messages API's real
//! request, response and error shapes.

use super::*;
use crate::llm::DEFAULT_TIMEOUT;
use crate::llm::test_support::{
    assert_text_reply, conversation, hello, refused_url, retried, sent, two_tool_calls,
};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-ant-api03-TESTKEY-do-not-print";
const MODEL: &str = "claude-sonnet-4-5";

fn client_at(base: &str, retry: RetryPolicy, timeout: Duration) -> AnthropicClient {
    AnthropicClient::with_base_url(base, SecretString::from(KEY.to_owned()), MODEL, timeout)
        .unwrap()
        .with_retry_policy(retry)
}

fn client(server: &MockServer, retry: RetryPolicy) -> AnthropicClient {
    client_at(&server.uri(), retry, DEFAULT_TIMEOUT)
}

fn message(content: Value, stop_reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {
            "input_tokens": 472,
            "output_tokens": 64,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0
        }
    }))
}

fn text_reply(text: &str) -> ResponseTemplate {
    message(json!([{"type": "text", "text": text}]), "end_turn")
}

fn api_error(status: u16, kind: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "type": "error",
        "error": {"type": kind, "message": "Overloaded"},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"
    }))
}

async fn mounted(resp: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(resp)
        .mount(&server)
        .await;
    server
}

async fn complete_against(resp: ResponseTemplate) -> Result<ModelReply, ModelError> {
    let server = mounted(resp).await;
    client(&server, RetryPolicy::none())
        .complete(&hello())
        .await
}

#[tokio::test]
async fn request_has_the_headers_system_tools_and_tool_results_of_the_messages_api() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "model": MODEL,
            "max_tokens": 300,
            "system": "You are the receptionist of Kilimani Dental.",
            "temperature": 0.2,
            "tools": [{
                "name": "find_slots",
                "description": "Free appointment slots on a day",
                "input_schema": {
                    "type": "object",
                    "properties": {"date": {"type": "string", "format": "date"}},
                    "required": ["date"]
                }
            }],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Any slot on Tuesday?"}]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "call_1", "name": "find_slots",
                     "input": {"date": "2026-12-08"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "10:00, 14:30"},
                    {"type": "text", "text": "10:00 please"}
                ]}
            ]
        })))
        .respond_with(text_reply("Booked for 10:00."))
        .expect(1)
        .mount(&server)
        .await;
    let reply = client(&server, RetryPolicy::none())
        .complete(&conversation())
        .await
        .unwrap();
    assert_text_reply(
        &reply,
        "Booked for 10:00.",
        (472, 64),
        "claude-sonnet-4-5-20250929",
    );
}

#[test]
fn a_failed_tool_is_flagged_and_empty_turns_and_optional_fields_are_left_out() {
    let req = ModelRequest {
        system: String::new(),
        turns: vec![
            Turn::Assistant {
                text: String::new(),
                tool_calls: vec![ToolCall {
                    id: "toolu_1".into(),
                    name: "find_slots".into(),
                    arguments: json!({}),
                }],
            },
            Turn::ToolResult {
                call_id: "toolu_1".into(),
                content: "calendar unavailable".into(),
                is_error: true,
            },
            Turn::Assistant {
                text: String::new(),
                tool_calls: vec![],
            },
            Turn::User("Try again".into()),
        ],
        tools: vec![],
        max_output_tokens: 50,
        temperature: None,
    };
    assert_eq!(
        request_json(MODEL, &req),
        json!({
            "model": MODEL,
            "max_tokens": 50,
            "messages": [
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "find_slots", "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1",
                     "content": "calendar unavailable", "is_error": true},
                    {"type": "text", "text": "Try again"}
                ]}
            ]
        })
    );
}

#[tokio::test]
async fn a_tool_use_answer_gives_parsed_tool_calls() {
    let resp = message(
        json!([
            {"type": "text", "text": "I'll check Tuesday."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "find_slots",
             "input": {"date": "2026-12-08"}},
            {"type": "tool_use", "id": "toolu_02", "name": "clinic_hours", "input": {}}
        ]),
        "tool_use",
    );
    let reply = complete_against(resp).await.unwrap();
    assert_eq!(reply.text, "I'll check Tuesday.");
    assert_eq!(reply.stop_reason, StopReason::ToolUse);
    assert_eq!(
        reply.tool_calls,
        two_tool_calls("toolu_01A09q90qw90lq917835lq9", "toolu_02")
    );
}

#[tokio::test]
async fn malformed_tool_use_blocks_are_malformed_responses() {
    let cases = [
        json!({"type": "tool_use", "id": "toolu_1", "name": "find_slots"}),
        json!({"type": "tool_use", "id": "toolu_1", "name": "find_slots", "input": "date=tue"}),
        json!({"type": "tool_use", "id": "toolu_1", "name": "find_slots", "input": null}),
        json!({"type": "tool_use", "name": "find_slots", "input": {}}),
        json!({"type": "tool_use", "id": "toolu_1", "input": {}}),
    ];
    for block in cases {
        let e = complete_against(message(json!([block]), "tool_use"))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "malformed_response", "{block}");
        assert!(!e.is_retryable());
    }
}

#[tokio::test]
async fn truncated_or_foreign_bodies_are_malformed_responses() {
    let truncated = r#"{"id":"msg_01","type":"message","role":"assistant","content":[{"type":"te"#;
    for body in [truncated, "<html>proxy error</html>", "{}", ""] {
        let e = complete_against(ResponseTemplate::new(200).set_body_string(body))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            ModelError::MalformedResponse("not the expected JSON"),
            "{body}"
        );
    }
}

#[test]
fn stop_reasons_are_normalised() {
    assert_eq!(stop_reason(Some("max_tokens")), StopReason::MaxTokens);
    assert_eq!(stop_reason(Some("stop_sequence")), StopReason::StopSequence);
    assert_eq!(stop_reason(Some("refusal")), StopReason::ContentFilter);
    assert_eq!(stop_reason(Some("pause_turn")), StopReason::Other);
    assert_eq!(stop_reason(None), StopReason::Other);
}

#[tokio::test]
async fn each_error_status_maps_to_its_code_and_retryability() {
    let spend_limit = ResponseTemplate::new(429).set_body_json(json!({
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "spend limit",
                  "details": {"error_code": "enforced_spend_limit_reached"}}
    }));
    let cases = [
        (
            api_error(429, "rate_limit_error").insert_header("retry-after", "7"),
            ModelError::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
            },
        ),
        (
            api_error(529, "overloaded_error"),
            ModelError::Overloaded {
                status: 529,
                retry_after: None,
            },
        ),
        (
            api_error(500, "api_error"),
            ModelError::Overloaded {
                status: 500,
                retry_after: None,
            },
        ),
        (
            api_error(401, "authentication_error"),
            ModelError::Unauthorized { status: 401 },
        ),
        (
            api_error(403, "permission_error"),
            ModelError::Unauthorized { status: 403 },
        ),
        (
            api_error(400, "invalid_request_error"),
            ModelError::BadRequest { status: 400 },
        ),
        (
            api_error(404, "not_found_error"),
            ModelError::BadRequest { status: 404 },
        ),
        (
            api_error(402, "billing_error"),
            ModelError::QuotaExhausted { status: 402 },
        ),
        (spend_limit, ModelError::QuotaExhausted { status: 429 }),
        (
            ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"),
            ModelError::Overloaded {
                status: 502,
                retry_after: None,
            },
        ),
    ];
    for (resp, want) in cases {
        assert_eq!(complete_against(resp).await.unwrap_err(), want);
    }
}

#[tokio::test]
async fn a_rate_limit_is_retried_after_the_providers_retry_after() {
    let first = api_error(429, "rate_limit_error").insert_header("retry-after", "2");
    let (got, waits) = retried(first, text_reply("Hello again"), client).await;
    assert_eq!(got.unwrap().text, "Hello again");
    assert_eq!(waits.len(), 1);
    assert!(waits[0] >= Duration::from_secs(2), "{waits:?}");
}

#[tokio::test]
async fn an_overloaded_api_is_retried_with_backoff() {
    let first = api_error(529, "overloaded_error");
    let (got, waits) = retried(first, text_reply("Hello again"), client).await;
    assert_eq!(got.unwrap().text, "Hello again");
    assert_eq!(waits.len(), 1);
    assert!(waits[0] <= Duration::from_millis(100), "{waits:?}");
}

#[tokio::test]
async fn a_bad_key_or_a_bad_request_is_sent_once() {
    for (status, kind) in [
        (401, "authentication_error"),
        (403, "permission_error"),
        (400, "invalid_request_error"),
    ] {
        let (got, waits) = sent(api_error(status, kind), 1, 3, client).await;
        let e = got.unwrap_err();
        assert!(!e.is_retryable(), "{e:?}");
        assert!(waits.is_empty());
    }
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_ends_the_call_at_once() {
    let resp = api_error(429, "rate_limit_error").insert_header("retry-after", "60");
    let (got, waits) = sent(resp, 1, 3, client).await;
    assert_eq!(
        got.unwrap_err(),
        ModelError::RateLimited {
            retry_after: Some(Duration::from_secs(60))
        }
    );
    assert!(waits.is_empty());
}

#[tokio::test]
async fn a_slow_api_times_out_and_is_retried() {
    let slow = text_reply("late").set_delay(Duration::from_millis(500));
    let (got, waits) = sent(slow, 2, 2, |server, policy| {
        client_at(&server.uri(), policy, Duration::from_millis(50))
    })
    .await;
    let e = got.unwrap_err();
    assert_eq!(e, ModelError::Timeout);
    assert!(e.is_retryable());
    assert_eq!(waits.len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_connection_error() {
    let c = client_at(&refused_url(), RetryPolicy::none(), DEFAULT_TIMEOUT);
    let e = c.complete(&hello()).await.unwrap_err();
    assert_eq!(e, ModelError::Connection);
    assert!(e.is_retryable());
}

#[test]
fn the_key_never_appears_in_debug_output() {
    let c = client_at(
        "https://api.anthropic.com",
        RetryPolicy::none(),
        DEFAULT_TIMEOUT,
    );
    let shown = format!("{c:?} {c:#?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains("TESTKEY"), "{shown}");
    assert!(shown.contains(MODEL));
    let headers = format!("{:?}", c.headers().unwrap());
    assert!(!headers.contains("TESTKEY"), "{headers}");
}

#[test]
fn unusable_settings_are_refused_without_echoing_them() {
    let key = || SecretString::from(KEY.to_owned());
    let empty = SecretString::from(" ".to_owned());
    let cases = [
        AnthropicClient::with_base_url("https://api.anthropic.com", empty, MODEL, DEFAULT_TIMEOUT),
        AnthropicClient::with_base_url("https://api.anthropic.com", key(), " ", DEFAULT_TIMEOUT),
        AnthropicClient::with_base_url("ftp://example.org", key(), MODEL, DEFAULT_TIMEOUT),
        AnthropicClient::with_base_url("https://u:pw@example.org", key(), MODEL, DEFAULT_TIMEOUT),
        AnthropicClient::with_base_url("not a url", key(), MODEL, DEFAULT_TIMEOUT),
    ];
    for c in cases {
        let e = c.unwrap_err();
        assert_eq!(e.code(), "config");
        assert!(!e.to_string().contains("pw"), "{e}");
    }
}

#[test]
fn a_base_url_with_v1_or_a_trailing_slash_gives_the_same_endpoint() {
    for base in [
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/",
        "http://127.0.0.1:9/v1/",
    ] {
        let c = client_at(base, RetryPolicy::none(), DEFAULT_TIMEOUT);
        assert_eq!(c.endpoint.url, "http://127.0.0.1:9/v1/messages", "{base}");
    }
}
