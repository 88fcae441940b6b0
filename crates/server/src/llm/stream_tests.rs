//! Streamed answers against wiremock on loopback serving real server-sent-event bodies: the
//! Messages API's event sequence (as in Anthropic's streaming documentation: `message_start`,
//! `content_block_start`, `ping`, `content_block_delta` with `text_delta` and
//! `input_json_delta`, `content_block_stop`, `message_delta` with usage, `message_stop`, and
//! `error`), and Chat Completions chunks (`chat.completion.chunk` with `delta.content` and
//! `delta.tool_calls`, the usage chunk of `stream_options.include_usage`, `[DONE]`). Cut
//! streams and malformed tool input are errors, never replies. Then a phone turn whose
//! streamed answer is cut by the deadline, on the real turn path.

use super::stream::Progress;
use super::test_support::{assert_text_reply, hello};
use super::{
    AnthropicClient, LanguageModel, ModelError, ModelReply, OpenAiClient, RetryPolicy, StopReason,
    ToolCall,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An SSE body from `(event, data)` pairs (`event` empty: no `event:` line, as OpenAI sends).
fn sse(events: &[(&str, Value)]) -> String {
    let mut out = String::new();
    for (event, data) in events {
        if !event.is_empty() {
            out.push_str(&format!("event: {event}\n"));
        }
        out.push_str(&format!("data: {data}\n\n"));
    }
    out
}

fn anthropic_events(blocks: Vec<(&'static str, Value)>, stop: &str) -> Vec<(&'static str, Value)> {
    let mut e = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {
                "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant",
                "content": [], "model": "claude-sonnet-4-5-20250929", "stop_reason": null,
                "stop_sequence": null, "usage": {"input_tokens": 472, "output_tokens": 1}}}),
        ),
        ("ping", json!({"type": "ping"})),
    ];
    e.extend(blocks);
    e.push((
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
               "usage": {"output_tokens": 64}}),
    ));
    e.push(("message_stop", json!({"type": "message_stop"})));
    e
}

/// One content block: its start, its deltas, its stop.
fn block(index: u64, start: Value, deltas: Vec<Value>) -> Vec<(&'static str, Value)> {
    let mut e = vec![(
        "content_block_start",
        json!({"type": "content_block_start", "index": index, "content_block": start}),
    )];
    e.extend(deltas.into_iter().map(|delta| {
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        )
    }));
    e.push((
        "content_block_stop",
        json!({"type": "content_block_stop", "index": index}),
    ));
    e
}

fn text_block(index: u64, pieces: &[&str]) -> Vec<(&'static str, Value)> {
    let deltas = pieces
        .iter()
        .map(|p| json!({"type": "text_delta", "text": p}))
        .collect();
    block(index, json!({"type": "text", "text": ""}), deltas)
}

fn tool_block(
    index: u64,
    id: &str,
    name: &str,
    json_pieces: &[&str],
) -> Vec<(&'static str, Value)> {
    let deltas = json_pieces
        .iter()
        .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
        .collect();
    let start = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
    block(index, start, deltas)
}

fn event_stream(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

/// Streams `body` from a fake Messages API that insists on `"stream": true`.
async fn anthropic(body: String) -> (Result<ModelReply, ModelError>, Progress) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(event_stream(body))
        .expect(1)
        .mount(&server)
        .await;
    let client = AnthropicClient::with_base_url(
        &server.uri(),
        SecretString::from("sk-ant-test".to_owned()),
        "claude-sonnet-4-5",
        Duration::from_secs(5),
    )
    .unwrap()
    .with_retry_policy(RetryPolicy::none());
    let progress = Progress::new();
    let got = client.complete_streamed(&hello(), &progress).await;
    (got, progress)
}

/// Streams `body` from a fake OpenAI-compatible server that insists on `"stream": true` and
/// the usage chunk.
async fn openai(body: String) -> (Result<ModelReply, ModelError>, Progress) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"stream": true, "stream_options": {"include_usage": true}}),
        ))
        .respond_with(event_stream(body))
        .expect(1)
        .mount(&server)
        .await;
    let client =
        OpenAiClient::compatible(&server.uri(), None, "qwen2.5:7b", Duration::from_secs(5))
            .unwrap()
            .with_retry_policy(RetryPolicy::none());
    let progress = Progress::new();
    let got = client.complete_streamed(&hello(), &progress).await;
    (got, progress)
}

fn malformed(got: Result<ModelReply, ModelError>) {
    let e = got.unwrap_err();
    assert_eq!(e.code(), "malformed_response", "{e:?}");
}

#[tokio::test]
async fn an_anthropic_text_stream_becomes_the_whole_reply() {
    let body = sse(&anthropic_events(
        text_block(0, &["Hello", "! We open", " at 8."]),
        "end_turn",
    ));
    let (got, progress) = anthropic(body).await;
    assert_text_reply(
        &got.unwrap(),
        "Hello! We open at 8.",
        (472, 64),
        "claude-sonnet-4-5-20250929",
    );
    assert_eq!(progress.reported_usage().output_tokens, 64);
}

#[tokio::test]
async fn an_anthropic_tool_use_stream_joins_its_input_json() {
    let mut blocks = text_block(0, &["Let me check."]);
    blocks.extend(tool_block(
        1,
        "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
        "find_slots",
        &["", "{\"date\": \"2026", "-12-08\"}"],
    ));
    blocks.extend(tool_block(2, "toolu_02", "hand_off", &[]));
    let (got, progress) = anthropic(sse(&anthropic_events(blocks, "tool_use"))).await;
    let r = got.unwrap();
    assert_eq!(r.stop_reason, StopReason::ToolUse);
    assert_eq!(r.text, "Let me check.");
    assert_eq!(
        r.tool_calls,
        vec![
            ToolCall {
                id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
                name: "find_slots".into(),
                arguments: json!({"date": "2026-12-08"}),
            },
            ToolCall {
                id: "toolu_02".into(),
                name: "hand_off".into(),
                arguments: json!({}),
            }
        ]
    );
    assert_eq!(
        progress.complete_sentences(),
        None,
        "a tool call was started"
    );
}

#[tokio::test]
async fn a_cut_or_broken_anthropic_stream_is_an_error() {
    // Cut before message_stop (after a complete sentence).
    let mut events = anthropic_events(text_block(0, &["We open at 8. On Sat"]), "end_turn");
    events.truncate(events.len() - 3);
    let (got, progress) = anthropic(sse(&events)).await;
    malformed(got);
    assert_eq!(
        progress.complete_sentences().as_deref(),
        Some("We open at 8.")
    );
    // Tool input that is not JSON, or not an object.
    for pieces in [&["{\"date\": \"2026-"][..], &["[1, 2]"][..]] {
        let events = anthropic_events(tool_block(0, "toolu_1", "find_slots", pieces), "tool_use");
        malformed(anthropic(sse(&events)).await.0);
    }
    // A delta for a block that never started.
    let mut events = anthropic_events(text_block(0, &["Hi."]), "end_turn");
    events.insert(
        3,
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 7, "delta": {"type": "text_delta", "text": "x"}}),
        ),
    );
    malformed(anthropic(sse(&events)).await.0);
    // The API's own error event in the middle of the stream.
    let mut events = anthropic_events(text_block(0, &["Hi"]), "end_turn");
    events.truncate(3);
    events.push((
        "error",
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    let e = anthropic(sse(&events)).await.0.unwrap_err();
    assert_eq!(e.code(), "overloaded");
    // Not an event stream at all.
    malformed(anthropic("{\"type\": \"message\"}".into()).await.0);
}

fn chunk(delta: Value, finish: Option<&str>) -> (&'static str, Value) {
    (
        "",
        json!({"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
               "model": "qwen2.5:7b", "system_fingerprint": "fp_44709d6fcb",
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
               "usage": null}),
    )
}

fn usage_chunk(choices: Value) -> (&'static str, Value) {
    (
        "",
        json!({"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
               "model": "qwen2.5:7b", "choices": choices,
               "usage": {"prompt_tokens": 700, "completion_tokens": 30, "total_tokens": 730}}),
    )
}

fn openai_body(chunks: &[(&str, Value)], done: bool) -> String {
    let mut body = sse(chunks);
    if done {
        body.push_str("data: [DONE]\n\n");
    }
    body
}

#[tokio::test]
async fn an_openai_text_stream_becomes_the_whole_reply_with_its_usage() {
    let chunks = [
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": "We open"}), None),
        chunk(json!({"content": " at 8."}), None),
        chunk(json!({}), Some("stop")),
        usage_chunk(json!([])),
    ];
    let (got, _) = openai(openai_body(&chunks, true)).await;
    assert_text_reply(&got.unwrap(), "We open at 8.", (700, 30), "qwen2.5:7b");
    // vLLM's usage chunk says `"choices": null`.
    let mut chunks = chunks.to_vec();
    chunks[4] = usage_chunk(Value::Null);
    let (got, _) = openai(openai_body(&chunks, true)).await;
    assert_eq!(got.unwrap().usage.input_tokens, 700);
}

#[tokio::test]
async fn openai_tool_call_deltas_are_joined_by_index() {
    let chunks = [
        chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [
            {"index": 0, "id": "call_abc", "type": "function",
             "function": {"name": "find_slots", "arguments": ""}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"da"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "te\": \"2026-12-08\"}"}}]}),
            None,
        ),
        chunk(
            json!({"tool_calls": [{"index": 1, "id": "call_def", "type": "function",
            "function": {"name": "hand_off", "arguments": ""}}]}),
            None,
        ),
        chunk(json!({}), Some("tool_calls")),
        usage_chunk(json!([])),
    ];
    let (got, progress) = openai(openai_body(&chunks, true)).await;
    let r = got.unwrap();
    assert_eq!(r.stop_reason, StopReason::ToolUse);
    assert_eq!(
        r.tool_calls,
        vec![
            ToolCall {
                id: "call_abc".into(),
                name: "find_slots".into(),
                arguments: json!({"date": "2026-12-08"}),
            },
            ToolCall {
                id: "call_def".into(),
                name: "hand_off".into(),
                arguments: json!({}),
            }
        ]
    );
    assert_eq!(progress.complete_sentences(), None);
}

#[tokio::test]
async fn a_cut_or_broken_openai_stream_is_an_error() {
    let text = [
        chunk(json!({"content": "We open at 8. On Sat"}), None),
        chunk(json!({}), Some("stop")),
    ];
    // No [DONE].
    let (got, progress) = openai(openai_body(&text, false)).await;
    malformed(got);
    assert_eq!(
        progress.complete_sentences().as_deref(),
        Some("We open at 8.")
    );
    // Arguments that never become a JSON object.
    for args in ["{\"date\": \"2026-", "[1]"] {
        let chunks = [
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "find_slots", "arguments": args}}]}),
                None,
            ),
            chunk(json!({}), Some("tool_calls")),
        ];
        malformed(openai(openai_body(&chunks, true)).await.0);
    }
    // A tool call that skips an index, or never says its name.
    let skips = [chunk(
        json!({"tool_calls": [{"index": 2, "id": "c", "function": {"name": "faq", "arguments": "{}"}}]}),
        None,
    )];
    malformed(openai(openai_body(&skips, true)).await.0);
    let nameless = [chunk(
        json!({"tool_calls": [{"index": 0, "id": "c", "function": {"arguments": "{}"}}]}),
        Some("tool_calls"),
    )];
    malformed(openai(openai_body(&nameless, true)).await.0);
    // An error in the middle of the stream.
    let e =
        openai("data: {\"error\": {\"message\": \"boom\", \"type\": \"server_error\"}}\n\n".into())
            .await
            .0
            .unwrap_err();
    assert_eq!(e.code(), "overloaded");
    malformed(openai("data: {not json\n\n".into()).await.0);
}

/// A server that answers every connection with `head` (status line, headers, and the start
/// of a chunked body) and then says nothing more: a model still talking.
async fn stalled_server(first_chunk: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{first_chunk}\r\n",
        first_chunk.len()
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                // The request (small: one read is enough for a test request's headers).
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(response.as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn phone_turn_cut_at_the_deadline(first_chunk: &str) -> (crate::turn::Answered, String) {
    use super::agent::TenantModels;
    use std::sync::Arc;
    let fx = super::injection_harness::Fixture::new(frontdesk_store::testing::Engine::Sqlite)
        .await
        .unwrap();
    let base = stalled_server(first_chunk).await;
    let client: Arc<dyn LanguageModel> = Arc::new(
        OpenAiClient::compatible(&base, None, "qwen2.5:7b", Duration::from_secs(20)).unwrap(),
    );
    let mut m = TenantModels::new(client.clone(), client);
    m.voice.turn_deadline = Duration::from_millis(600);
    let got = fx
        .say_with(false, "what are your opening hours", &m.for_voice())
        .await;
    let by = fx.answered_by().await;
    fx.db.cleanup().await;
    (got, by)
}

#[tokio::test]
async fn a_phone_turn_says_the_complete_sentences_of_a_stream_cut_by_the_deadline() {
    let text = openai_body(
        &[
            chunk(json!({"role": "assistant", "content": ""}), None),
            chunk(
                json!({"content": "We are open on weekdays from eight. On Saturd"}),
                None,
            ),
        ],
        false,
    );
    let (got, by) = phone_turn_cut_at_the_deadline(&text).await;
    assert_eq!(
        got.messages.last().map(String::as_str),
        Some("We are open on weekdays from eight."),
        "{:?}",
        got.messages
    );
    assert_eq!(by, "model");

    // A stream cut inside a tool call: the built-in receptionist answers.
    let tool = openai_body(
        &[chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                "function": {"name": "faq", "arguments": "{\"quest"}}]}),
            None,
        )],
        false,
    );
    let (got, by) = phone_turn_cut_at_the_deadline(&tool).await;
    assert_eq!(by, frontdesk_agent::RULE_SET);
    assert!(
        got.messages.iter().any(|m| m.contains("08:00")),
        "{:?}",
        got.messages
    );
}
