//! Helpers shared by the provider clients' tests: a retry policy that records its waits
//! instead of sleeping, a sample conversation with a tool round, and an address nobody
//! listens on.

use super::{
    LanguageModel, ModelError, ModelReply, ModelRequest, RetryPolicy, Sleeper, StopReason,
    ToolCall, ToolSpec, Turn, Usage,
};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The waits a [`recording_policy`] would have slept, in order.
pub type Waits = Arc<Mutex<Vec<Duration>>>;

/// What a call returned and the waits it would have slept.
pub type Outcome = (Result<ModelReply, ModelError>, Vec<Duration>);

/// Sends [`hello`] with up to `attempts` attempts through the client `make` builds, to a
/// server that answers every POST with `resp` and must be asked exactly `times` times.
pub async fn sent<M: LanguageModel>(
    resp: ResponseTemplate,
    times: u64,
    attempts: u32,
    make: impl FnOnce(&MockServer, RetryPolicy) -> M,
) -> Outcome {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(resp)
        .expect(times)
        .mount(&server)
        .await;
    let (policy, w) = recording_policy(attempts);
    let got = make(&server, policy).complete(&hello()).await;
    (got, waits(&w))
}

/// Sends [`hello`] with up to 3 attempts to a server that answers `first` once and `then`
/// once after that.
pub async fn retried<M: LanguageModel>(
    first: ResponseTemplate,
    then: ResponseTemplate,
    make: impl FnOnce(&MockServer, RetryPolicy) -> M,
) -> Outcome {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(first)
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(then)
        .expect(1)
        .mount(&server)
        .await;
    let (policy, w) = recording_policy(3);
    let got = make(&server, policy).complete(&hello()).await;
    (got, waits(&w))
}

/// `attempts` attempts, 100 ms base delay (never actually slept: the waits are recorded).
pub fn recording_policy(attempts: u32) -> (RetryPolicy, Waits) {
    let waits: Waits = Arc::default();
    let rec = waits.clone();
    let policy = RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(10),
        sleeper: Sleeper::new(move |d| {
            rec.lock().unwrap().push(d);
            std::future::ready(())
        }),
    };
    (policy, waits)
}

pub fn waits(w: &Waits) -> Vec<Duration> {
    w.lock().unwrap().clone()
}

pub fn booking_tool() -> ToolSpec {
    ToolSpec {
        name: "find_slots".into(),
        description: "Free appointment slots on a day".into(),
        input_schema: json!({
            "type": "object",
            "properties": {"date": {"type": "string", "format": "date"}},
            "required": ["date"]
        }),
    }
}

/// System prompt, a patient message, an assistant tool call, its result and a follow-up.
pub fn conversation() -> ModelRequest {
    ModelRequest {
        system: "You are the receptionist of Kilimani Dental.".into(),
        turns: vec![
            Turn::User("Any slot on Tuesday?".into()),
            Turn::Assistant {
                text: "Let me check.".into(),
                tool_calls: vec![ToolCall {
                    id: "call_1".into(),
                    name: "find_slots".into(),
                    arguments: json!({"date": "2026-12-08"}),
                }],
            },
            Turn::ToolResult {
                call_id: "call_1".into(),
                content: "10:00, 14:30".into(),
                is_error: false,
            },
            Turn::User("10:00 please".into()),
        ],
        tools: vec![booking_tool()],
        max_output_tokens: 300,
        temperature: Some(0.2),
    }
}

/// Checks a plain text answer: its text, no tool calls, `EndTurn`, the token counts and the
/// model the provider says answered.
pub fn assert_text_reply(reply: &ModelReply, text: &str, tokens: (u64, u64), model: &str) {
    assert_eq!(reply.text, text);
    assert!(reply.tool_calls.is_empty());
    assert_eq!(reply.stop_reason, StopReason::EndTurn);
    let (input_tokens, output_tokens) = tokens;
    let usage = Usage {
        input_tokens,
        output_tokens,
    };
    assert_eq!(reply.usage, usage);
    assert_eq!(reply.model, model);
}

/// The two calls the tool-call fixtures ask for: `find_slots` for a date, `clinic_hours`
/// with no arguments, under the provider's ids.
pub fn two_tool_calls(first_id: &str, second_id: &str) -> Vec<ToolCall> {
    vec![
        ToolCall {
            id: first_id.into(),
            name: "find_slots".into(),
            arguments: json!({"date": "2026-12-08"}),
        },
        ToolCall {
            id: second_id.into(),
            name: "clinic_hours".into(),
            arguments: json!({}),
        },
    ]
}

/// One patient message, no tools.
pub fn hello() -> ModelRequest {
    ModelRequest {
        system: String::new(),
        turns: vec![Turn::User("Hello".into())],
        tools: vec![],
        max_output_tokens: 100,
        temperature: None,
    }
}

/// A loopback address with nothing listening (a port that was just free; wiremock pools its
/// servers, so dropping a MockServer would not close its port).
pub fn refused_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

/// Log output gathered by [`capture_logs`].
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Gathers this thread's INFO and higher events (plain text) until the guard is dropped.
/// `#[tokio::test]` runs on one thread, so the client's events land here.
pub fn capture_logs() -> (LogCapture, tracing::subscriber::DefaultGuard) {
    let capture = LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // Other tests' threads run without a subscriber; a callsite first reached there may have
    // cached "never" (or lowered the global level hint) before this one was set.
    tracing::callsite::rebuild_interest_cache();
    (capture, guard)
}
