//! Language model providers behind one object-safe trait, [`LanguageModel`] (issue #9, first
//! part): the Anthropic Messages API ([`AnthropicClient`]) and OpenAI Chat Completions
//! ([`OpenAiClient`]), which also serves OpenAI-compatible servers (Ollama, vLLM, llama.cpp
//! server) for clinics that keep all data on their own hardware.
//!
//! The types here are provider-neutral: a [`ModelRequest`] (system prompt, turns, tools) goes
//! in, a [`ModelReply`] (text, tool calls with parsed JSON arguments, a normalised
//! [`StopReason`], token usage) comes out, and every failure is a [`ModelError`] with a stable
//! [`code`](ModelError::code) and [`is_retryable`](ModelError::is_retryable). Each client sends
//! with a per-request timeout and retries retryable failures itself ([`RetryPolicy`]).
//!
//! Patient text is in requests and replies, so their `Debug` output shows sizes, never text;
//! API keys are [`secrecy::SecretString`]s. Logs carry only provider, model, HTTP status,
//! error code, latency and attempt.
//!
//! On top of the clients (issue #9, parts 2–4): [`route`] decides by risk whether a turn goes
//! to a model at all (red flags never do), [`context`] builds what the model is shown,
//! [`tools`] and [`tools_exec`] are the only way it can act, [`guard`] checks its text, and
//! [`agent`] runs the turn and falls back to the built-in receptionist on any failure.

pub mod agent;
pub mod anthropic;
pub mod context;
pub mod guard;
mod http;
pub mod openai;
pub mod retry;
pub mod route;
pub mod settings;
pub mod stream;
pub mod tools;
pub mod tools_exec;

pub use anthropic::AnthropicClient;
pub use openai::OpenAiClient;
pub use retry::{RetryPolicy, Sleeper};

use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// Whole-request timeout of one attempt (connect, send, whole answer). Long enough for a
/// few hundred output tokens; callers on the voice path should pass less.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// A chat model that answers one request with one reply.
#[async_trait::async_trait]
pub trait LanguageModel: Send + Sync + fmt::Debug {
    /// Sends `req` (retrying retryable failures per the client's [`RetryPolicy`]) and returns
    /// the model's reply.
    async fn complete(&self, req: &ModelRequest) -> Result<ModelReply, ModelError>;
    /// [`LanguageModel::complete`] with the answer streamed (server-sent events) where the
    /// client supports it, its text so far kept in `progress` for a caller that stops waiting
    /// (see [`stream`]). By default the answer is not streamed and `progress` stays empty.
    async fn complete_streamed(
        &self,
        req: &ModelRequest,
        progress: &stream::Progress,
    ) -> Result<ModelReply, ModelError> {
        let _ = progress;
        self.complete(req).await
    }
    /// `anthropic`, `openai` or `openai_compatible`, for logs and metrics.
    fn provider(&self) -> &'static str;
    /// The model asked for (the reply says which one answered).
    fn model(&self) -> &str;
}

/// One call's input. `Debug` shows counts and sizes only: turns carry patient text.
#[derive(Clone, PartialEq)]
pub struct ModelRequest {
    /// Instructions; empty means none (the field is then left out of the request).
    pub system: String,
    /// The conversation so far, oldest first.
    pub turns: Vec<Turn>,
    /// Tools the model may call; empty means none.
    pub tools: Vec<ToolSpec>,
    /// Upper bound on output tokens (Anthropic requires one; OpenAI honours it).
    pub max_output_tokens: u32,
    /// Sampling temperature; `None` leaves the provider's default (some OpenAI reasoning
    /// models accept no other).
    pub temperature: Option<f64>,
}

impl fmt::Debug for ModelRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelRequest")
            .field("system", &redacted_len(&self.system))
            .field("turns", &self.turns)
            .field(
                "tools",
                &self.tools.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .field("max_output_tokens", &self.max_output_tokens)
            .field("temperature", &self.temperature)
            .finish()
    }
}

/// One entry of the conversation.
#[derive(Clone, PartialEq)]
pub enum Turn {
    /// What the patient (or the caller on their behalf) said.
    User(String),
    /// What the model said earlier: text (may be empty) and the tools it called.
    Assistant {
        text: String,
        tool_calls: Vec<ToolCall>,
    },
    /// The outcome of running the tool call `call_id`. `is_error` is sent to Anthropic
    /// (`tool_result.is_error`); Chat Completions has no such field.
    ToolResult {
        call_id: String,
        content: String,
        is_error: bool,
    },
}

impl fmt::Debug for Turn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(text) => f.debug_tuple("User").field(&redacted_len(text)).finish(),
            Self::Assistant { text, tool_calls } => f
                .debug_struct("Assistant")
                .field("text", &redacted_len(text))
                .field("tool_calls", tool_calls)
                .finish(),
            Self::ToolResult {
                call_id,
                content,
                is_error,
            } => f
                .debug_struct("ToolResult")
                .field("call_id", call_id)
                .field("content", &redacted_len(content))
                .field("is_error", is_error)
                .finish(),
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// `^[a-zA-Z0-9_-]{1,64}$` for both providers.
    pub name: String,
    pub description: String,
    /// JSON Schema of the input object (`{"type": "object", "properties": …}`).
    pub input_schema: Value,
}

/// A call the model asked for. `arguments` is always a JSON object: providers' malformed
/// arguments are a [`ModelError::MalformedResponse`], never passed on.
#[derive(Clone, PartialEq)]
pub struct ToolCall {
    /// The provider's id (`toolu_…`, `call_…`), echoed back in the [`Turn::ToolResult`].
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

impl fmt::Debug for ToolCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Arguments are patient data ("name": "…", "phone": "…"): keys only.
        let keys: Vec<&String> = self
            .arguments
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        f.debug_struct("ToolCall")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("argument_keys", &keys)
            .finish()
    }
}

/// Why the model stopped, normalised across providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Finished its answer (`end_turn`, `stop`).
    EndTurn,
    /// Hit `max_output_tokens`: the text is cut off (`max_tokens`, `length`).
    MaxTokens,
    /// Wants its tool calls run (`tool_use`, `tool_calls`).
    ToolUse,
    /// Produced one of the request's stop sequences (Anthropic `stop_sequence`).
    StopSequence,
    /// Declined or was filtered (`refusal`, `content_filter`).
    ContentFilter,
    /// Missing or a value this code does not know (e.g. Anthropic `pause_turn`).
    Other,
}

/// Tokens billed for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// One call's output. `Debug` shows the text's size only.
#[derive(Clone, PartialEq)]
pub struct ModelReply {
    /// The text blocks joined; empty when the model only called tools.
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub stop_reason: StopReason,
    pub usage: Usage,
    /// The model the provider says answered (e.g. a dated snapshot of the one asked for).
    pub model: String,
}

impl fmt::Debug for ModelReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelReply")
            .field("text", &redacted_len(&self.text))
            .field("tool_calls", &self.tool_calls)
            .field("stop_reason", &self.stop_reason)
            .field("usage", &self.usage)
            .field("model", &self.model)
            .finish()
    }
}

/// Why a call failed. Messages carry no provider text, no URLs and no keys: an HTTP status
/// and a fixed reason at most. [`code`](Self::code) is stable for logs, metrics and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// No complete answer within the timeout (ours, or HTTP 408 from the server).
    #[error("language model timed out")]
    Timeout,
    /// HTTP 429: too many requests or tokens per minute. `retry_after` from the header.
    #[error("language model rate limited")]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx, including Anthropic's 529 `overloaded_error`.
    #[error("language model unavailable (HTTP {status})")]
    Overloaded {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// HTTP 401 or 403: a wrong, revoked or unauthorised key. Retrying cannot help.
    #[error("language model refused the credentials (HTTP {status})")]
    Unauthorized { status: u16 },
    /// Out of credit: OpenAI's 429 `insufficient_quota`, Anthropic's 402 `billing_error` or
    /// 429 spend limit. Looks like a rate limit but waiting does not help.
    #[error("language model account is out of quota (HTTP {status})")]
    QuotaExhausted { status: u16 },
    /// Any other 4xx (400, 404 unknown model, 413 too large, 422 …): our request is wrong.
    #[error("language model rejected the request (HTTP {status})")]
    BadRequest { status: u16 },
    /// A success status with a body we cannot use (not JSON, cut short, missing fields,
    /// tool-call arguments that are not a JSON object, too large). Never retried: the same
    /// request would likely get the same answer, and the caller can fall back.
    #[error("language model answer unusable: {0}")]
    MalformedResponse(&'static str),
    /// Could not connect, or the connection broke before the answer was complete.
    #[error("language model unreachable")]
    Connection,
    /// The client's settings are unusable (names the setting, never its value).
    #[error("language model settings: {0}")]
    Config(&'static str),
}

impl ModelError {
    /// Stable short code: `timeout`, `rate_limited`, `overloaded`, `unauthorized`,
    /// `quota_exhausted`, `bad_request`, `malformed_response`, `connection` or `config`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::RateLimited { .. } => "rate_limited",
            Self::Overloaded { .. } => "overloaded",
            Self::Unauthorized { .. } => "unauthorized",
            Self::QuotaExhausted { .. } => "quota_exhausted",
            Self::BadRequest { .. } => "bad_request",
            Self::MalformedResponse(_) => "malformed_response",
            Self::Connection => "connection",
            Self::Config(_) => "config",
        }
    }

    /// Whether the same request may succeed later: timeouts, 429 rate limits, 5xx and
    /// connection failures. Credentials, quota, bad requests and unusable answers are final.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::RateLimited { .. } | Self::Overloaded { .. } | Self::Connection
        )
    }

    /// The provider's `Retry-After`, when it sent one with a retryable status.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } | Self::Overloaded { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The HTTP status behind the error, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::RateLimited { .. } => Some(429),
            Self::Overloaded { status, .. }
            | Self::Unauthorized { status }
            | Self::QuotaExhausted { status }
            | Self::BadRequest { status } => Some(*status),
            _ => None,
        }
    }
}

fn redacted_len(s: &str) -> String {
    format!("<{} chars>", s.chars().count())
}

#[cfg(test)]
mod calcom_tools_tests;
#[cfg(test)]
mod injection_harness;
#[cfg(test)]
mod injection_tests;
#[cfg(test)]
#[path = "stream_tests.rs"]
mod stream_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
