//! Tests of the provider-neutral types: stable error codes and retryability, and `Debug`
//! output that shows no patient text.

use super::test_support::conversation;
use super::*;
use serde_json::json;

#[test]
fn error_codes_are_stable_and_only_transient_failures_are_retryable() {
    let secs = Some(Duration::from_secs(3));
    let table = [
        (ModelError::Timeout, "timeout", true),
        (
            ModelError::RateLimited { retry_after: secs },
            "rate_limited",
            true,
        ),
        (
            ModelError::Overloaded {
                status: 529,
                retry_after: None,
            },
            "overloaded",
            true,
        ),
        (ModelError::Connection, "connection", true),
        (
            ModelError::Unauthorized { status: 401 },
            "unauthorized",
            false,
        ),
        (
            ModelError::QuotaExhausted { status: 429 },
            "quota_exhausted",
            false,
        ),
        (ModelError::BadRequest { status: 400 }, "bad_request", false),
        (
            ModelError::MalformedResponse("x"),
            "malformed_response",
            false,
        ),
        (ModelError::Config("x"), "config", false),
    ];
    for (err, code, retryable) in table {
        assert_eq!(err.code(), code);
        assert_eq!(err.is_retryable(), retryable, "{code}");
    }
    assert_eq!(
        ModelError::RateLimited { retry_after: secs }.retry_after(),
        secs
    );
    assert_eq!(
        ModelError::RateLimited { retry_after: secs }.status(),
        Some(429)
    );
    assert_eq!(ModelError::Timeout.retry_after(), None);
    assert_eq!(ModelError::Connection.status(), None);
}

#[test]
fn debug_of_requests_and_replies_shows_sizes_not_patient_text() {
    let req = conversation();
    let shown = format!("{req:?}");
    for secret in ["Kilimani", "Tuesday", "10:00", "2026-12-08", "Let me check"] {
        assert!(!shown.contains(secret), "{secret} leaked into {shown}");
    }
    assert!(
        shown.contains("find_slots"),
        "tool names stay visible: {shown}"
    );
    assert!(shown.contains("<20 chars>"), "{shown}");
    let reply = ModelReply {
        text: "See you Tuesday, Amina".into(),
        tool_calls: vec![ToolCall {
            id: "toolu_1".into(),
            name: "book".into(),
            arguments: json!({"patient_name": "Amina Njeri"}),
        }],
        stop_reason: StopReason::ToolUse,
        usage: Usage {
            input_tokens: 10,
            output_tokens: 5,
        },
        model: "claude-x".into(),
    };
    let shown = format!("{reply:?}");
    assert!(!shown.contains("Amina"), "{shown}");
    assert!(
        shown.contains("patient_name") && shown.contains("<22 chars>"),
        "{shown}"
    );
}
