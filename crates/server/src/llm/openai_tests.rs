//! Tests of the Chat Completions client against wiremock on loopback, with OpenAI's real
//! request, response and error shapes, and an OpenAI-compatible server (Ollama's shapes).

use super::*;
use crate::llm::DEFAULT_TIMEOUT;
use crate::llm::http::MAX_RESPONSE_BYTES;
use crate::llm::test_support::{
    assert_text_reply, capture_logs, conversation, hello, refused_url, retried, sent,
    two_tool_calls,
};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-proj-TESTKEY-do-not-print";
const MODEL: &str = "gpt-4o-mini";

fn openai(server: &MockServer, retry: RetryPolicy) -> OpenAiClient {
    OpenAiClient::openai_at(
        &server.uri(),
        SecretString::from(KEY.to_owned()),
        MODEL,
        DEFAULT_TIMEOUT,
    )
    .unwrap()
    .with_retry_policy(retry)
}

fn completion(message: Value, finish_reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason
        }],
        "usage": {
            "prompt_tokens": 19,
            "completion_tokens": 10,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306"
    }))
}

fn text_reply(text: &str) -> ResponseTemplate {
    completion(
        json!({"role": "assistant", "content": text, "refusal": null, "annotations": []}),
        "stop",
    )
}

fn tool_calls_reply(calls: Value) -> ResponseTemplate {
    completion(
        json!({"role": "assistant", "content": null, "tool_calls": calls, "refusal": null}),
        "tool_calls",
    )
}

fn api_error(status: u16, kind: &str, code: Option<&str>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "message": "Something went wrong",
        "type": kind,
        "param": null,
        "code": code
    }}))
}

async fn complete_against(resp: ResponseTemplate) -> Result<ModelReply, ModelError> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(resp)
        .mount(&server)
        .await;
    openai(&server, RetryPolicy::none())
        .complete(&hello())
        .await
}

#[tokio::test]
async fn request_has_bearer_auth_roles_tools_and_tool_messages() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "model": MODEL,
            "max_completion_tokens": 300,
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": "You are the receptionist of Kilimani Dental."},
                {"role": "user", "content": "Any slot on Tuesday?"},
                {"role": "assistant", "content": "Let me check.", "tool_calls": [{
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "find_slots", "arguments": "{\"date\":\"2026-12-08\"}"}
                }]},
                {"role": "tool", "tool_call_id": "call_1", "content": "10:00, 14:30"},
                {"role": "user", "content": "10:00 please"}
            ],
            "tools": [{"type": "function", "function": {
                "name": "find_slots",
                "description": "Free appointment slots on a day",
                "parameters": {
                    "type": "object",
                    "properties": {"date": {"type": "string", "format": "date"}},
                    "required": ["date"]
                }
            }}]
        })))
        .respond_with(text_reply("Booked for 10:00."))
        .expect(1)
        .mount(&server)
        .await;
    let reply = openai(&server, RetryPolicy::none())
        .complete(&conversation())
        .await
        .unwrap();
    assert_text_reply(
        &reply,
        "Booked for 10:00.",
        (19, 10),
        "gpt-4o-mini-2024-07-18",
    );
}

#[tokio::test]
async fn tool_calls_have_their_string_arguments_parsed() {
    let resp = tool_calls_reply(json!([
        {"id": "call_12345xyz", "type": "function",
         "function": {"name": "find_slots", "arguments": "{\"date\":\"2026-12-08\"}"}},
        {"id": "call_2", "type": "function",
         "function": {"name": "clinic_hours", "arguments": ""}}
    ]));
    let reply = complete_against(resp).await.unwrap();
    assert_eq!(reply.text, "");
    assert_eq!(reply.stop_reason, StopReason::ToolUse);
    assert_eq!(reply.tool_calls, two_tool_calls("call_12345xyz", "call_2"));
}

#[tokio::test]
async fn malformed_tool_call_arguments_are_malformed_responses() {
    let call =
        |function: Value| json!([{"id": "call_1", "type": "function", "function": function}]);
    let cases = [
        call(json!({"name": "find_slots", "arguments": "{\"date\": \"2026-12-"})),
        call(json!({"name": "find_slots", "arguments": "date=tuesday"})),
        call(json!({"name": "find_slots", "arguments": "[\"2026-12-08\"]"})),
        call(json!({"name": "find_slots", "arguments": 42})),
        call(json!({"name": "find_slots"})),
        call(json!({"arguments": "{}"})),
        json!([{"type": "function", "function": {"name": "find_slots", "arguments": "{}"}}]),
    ];
    for calls in cases {
        let e = complete_against(tool_calls_reply(calls.clone()))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "malformed_response", "{calls}");
        assert!(!e.is_retryable());
    }
}

#[tokio::test]
async fn truncated_empty_or_oversized_bodies_are_malformed_responses() {
    let truncated = r#"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"mess"#;
    for body in [truncated, "not json", "{\"choices\": \"none\"}"] {
        let e = complete_against(ResponseTemplate::new(200).set_body_string(body))
            .await
            .unwrap_err();
        assert_eq!(
            e,
            ModelError::MalformedResponse("not the expected JSON"),
            "{body}"
        );
    }
    let e = complete_against(ResponseTemplate::new(200).set_body_json(json!({"choices": []})))
        .await
        .unwrap_err();
    assert_eq!(e, ModelError::MalformedResponse("no choices"));
    let huge = "x".repeat(MAX_RESPONSE_BYTES + 1);
    let e = complete_against(ResponseTemplate::new(200).set_body_string(huge))
        .await
        .unwrap_err();
    assert_eq!(e, ModelError::MalformedResponse("answer too large"));
}

#[test]
fn finish_reasons_are_normalised() {
    assert_eq!(finish_reason(Some("length")), StopReason::MaxTokens);
    assert_eq!(
        finish_reason(Some("content_filter")),
        StopReason::ContentFilter
    );
    assert_eq!(finish_reason(Some("function_call")), StopReason::ToolUse);
    assert_eq!(finish_reason(None), StopReason::Other);
}

#[tokio::test]
async fn each_error_status_maps_to_its_code_and_retryability() {
    let cases = [
        (
            api_error(429, "requests", Some("rate_limit_exceeded"))
                .insert_header("retry-after", "3"),
            ModelError::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
            },
        ),
        (
            api_error(429, "insufficient_quota", Some("insufficient_quota")),
            ModelError::QuotaExhausted { status: 429 },
        ),
        (
            api_error(401, "invalid_request_error", Some("invalid_api_key")),
            ModelError::Unauthorized { status: 401 },
        ),
        (
            api_error(
                403,
                "invalid_request_error",
                Some("unsupported_country_region_territory"),
            ),
            ModelError::Unauthorized { status: 403 },
        ),
        (
            api_error(400, "invalid_request_error", None),
            ModelError::BadRequest { status: 400 },
        ),
        (
            api_error(404, "invalid_request_error", Some("model_not_found")),
            ModelError::BadRequest { status: 404 },
        ),
        (
            api_error(503, "server_error", None),
            ModelError::Overloaded {
                status: 503,
                retry_after: None,
            },
        ),
        (
            api_error(500, "server_error", None),
            ModelError::Overloaded {
                status: 500,
                retry_after: None,
            },
        ),
        (ResponseTemplate::new(408), ModelError::Timeout),
    ];
    for (resp, want) in cases {
        let got = complete_against(resp).await.unwrap_err();
        assert_eq!(got, want);
    }
}

#[tokio::test]
async fn rate_limits_and_unavailability_are_retried_then_succeed() {
    for first in [
        api_error(429, "requests", Some("rate_limit_exceeded")).insert_header("retry-after", "0"),
        api_error(503, "server_error", None),
    ] {
        let (got, waits) = retried(first, text_reply("Hello again"), openai).await;
        assert_eq!(got.unwrap().text, "Hello again");
        assert_eq!(waits.len(), 1);
    }
}

#[tokio::test]
async fn each_attempt_is_logged_with_provider_model_status_and_attempt_only() {
    let (logs, _guard) = capture_logs();
    let first = api_error(503, "server_error", None);
    let (got, _) = retried(first, text_reply("Hello again, Amina"), openai).await;
    assert_eq!(got.unwrap().text, "Hello again, Amina");
    let logs = logs.text();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("language model"))
        .collect();
    assert_eq!(lines.len(), 2, "{logs}");
    for (line, (status, attempt)) in lines.iter().zip([("503", "1"), ("200", "2")]) {
        for field in [
            "provider=\"openai\"".to_owned(),
            format!("model=\"{MODEL}\""),
            format!("status={status}"),
            format!("attempt={attempt}"),
            "latency_ms=".to_owned(),
        ] {
            assert!(line.contains(&field), "{field} missing in {line}");
        }
    }
    assert!(lines[0].contains("code=\"overloaded\"") && lines[0].contains("retryable=true"));
    for secret in ["TESTKEY", "Hello", "Amina", "127.0.0.1"] {
        assert!(!logs.contains(secret), "{secret} in {logs}");
    }
}

#[tokio::test]
async fn a_bad_key_a_bad_request_or_no_quota_is_sent_once() {
    for (status, kind, code) in [
        (401, "invalid_request_error", Some("invalid_api_key")),
        (400, "invalid_request_error", None),
        (429, "insufficient_quota", Some("insufficient_quota")),
    ] {
        let (got, waits) = sent(api_error(status, kind, code), 1, 3, openai).await;
        let e = got.unwrap_err();
        assert!(!e.is_retryable(), "{e:?}");
        assert!(waits.is_empty());
    }
}

#[tokio::test]
async fn a_slow_server_times_out_as_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(text_reply("late").set_delay(Duration::from_millis(500)))
        .mount(&server)
        .await;
    let c = OpenAiClient::compatible(
        &server.uri(),
        None,
        "llama3.1:8b",
        Duration::from_millis(50),
    )
    .unwrap()
    .with_retry_policy(RetryPolicy::none());
    let e = c.complete(&hello()).await.unwrap_err();
    assert_eq!(e, ModelError::Timeout);
    assert!(e.is_retryable());
}

#[tokio::test]
async fn a_compatible_server_without_a_key_gets_no_authorization_and_max_tokens() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_json(json!({
            "model": "llama3.1:8b",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "Hello"}]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-310",
            "object": "chat.completion",
            "created": 1733000000,
            "model": "llama3.1:8b",
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "",
                "tool_calls": [{"id": "call_x1", "index": 0, "type": "function",
                    "function": {"name": "find_slots", "arguments": {"date": "2026-12-08"}}}]},
                "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}
        })))
        .expect(1)
        .mount(&server)
        .await;
    // Ollama's address is often given with its `/v1` suffix.
    let base = format!("{}/v1", server.uri());
    let c = OpenAiClient::compatible(&base, None, "llama3.1:8b", DEFAULT_TIMEOUT).unwrap();
    assert_eq!(c.provider(), "openai_compatible");
    let reply = c.complete(&hello()).await.unwrap();
    assert_eq!(reply.tool_calls[0].arguments, json!({"date": "2026-12-08"}));
    assert_eq!(reply.model, "llama3.1:8b");
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(!requests[0].headers.contains_key("authorization"));
}

#[tokio::test]
async fn a_compatible_server_with_a_key_gets_it_as_a_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer vllm-local-key"))
        .respond_with(text_reply("hi"))
        .expect(1)
        .mount(&server)
        .await;
    let key = Some(SecretString::from("vllm-local-key".to_owned()));
    let c = OpenAiClient::compatible(&server.uri(), key, "qwen", DEFAULT_TIMEOUT).unwrap();
    assert_eq!(c.complete(&hello()).await.unwrap().text, "hi");
}

#[tokio::test]
async fn a_refused_connection_is_a_retryable_connection_error() {
    let c = OpenAiClient::compatible(&refused_url(), None, "llama3.1:8b", DEFAULT_TIMEOUT)
        .unwrap()
        .with_retry_policy(RetryPolicy::none());
    let e = c.complete(&hello()).await.unwrap_err();
    assert_eq!(e, ModelError::Connection);
    assert!(e.is_retryable());
}

#[test]
fn the_key_never_appears_in_debug_output() {
    let c =
        OpenAiClient::openai(SecretString::from(KEY.to_owned()), MODEL, DEFAULT_TIMEOUT).unwrap();
    let shown = format!("{c:?} {c:#?}");
    assert!(!shown.contains("TESTKEY"), "{shown}");
    assert!(shown.contains(MODEL));
    let headers = format!("{:?}", c.headers().unwrap());
    assert!(!headers.contains("TESTKEY"), "{headers}");
    assert_eq!(c.provider(), "openai");
}

#[test]
fn openai_needs_a_key_and_a_model() {
    let empty = SecretString::from(String::new());
    let e = OpenAiClient::openai(empty, MODEL, DEFAULT_TIMEOUT).unwrap_err();
    assert_eq!(e, ModelError::Config("openai api key is empty"));
    let e =
        OpenAiClient::compatible("http://127.0.0.1:11434", None, "", DEFAULT_TIMEOUT).unwrap_err();
    assert_eq!(e, ModelError::Config("model is empty"));
}
