//! Anthropic Messages API: `POST {base}/v1/messages` with `x-api-key` and
//! `anthropic-version: 2023-06-01`. The system prompt is the top-level `system`; tools are
//! `{name, description, input_schema}`; the model answers with `text` and `tool_use` content
//! blocks, and tool results go back as `tool_result` blocks in a user message.
//!
//! Errors arrive as `{"type": "error", "error": {"type": "…", "message": "…"}}`: 429
//! `rate_limit_error`, 529 `overloaded_error`, 500 `api_error`, 401 `authentication_error`,
//! 403 `permission_error`, 402 `billing_error`, 400 `invalid_request_error`, 413
//! `request_too_large`. A 429 for a reached spend limit is the same type with
//! `error.details.error_code = "enforced_spend_limit_reached"`: final, not retried.

use super::http::{Endpoint, Failure, classify_status, secret_header};
use super::stream::Progress;
use super::{
    LanguageModel, ModelError, ModelReply, ModelRequest, RetryPolicy, StopReason, ToolCall, Turn,
    Usage,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// The API version header every request carries.
pub const API_VERSION: &str = "2023-06-01";

/// Client for one Claude model with one API key. `Debug` never shows the key.
#[derive(Debug, Clone)]
pub struct AnthropicClient {
    endpoint: Endpoint,
    api_key: SecretString,
}

impl AnthropicClient {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.anthropic.com";

    /// Production client for `model` (e.g. `claude-sonnet-4-5`) with a per-attempt timeout.
    pub fn new(api_key: SecretString, model: &str, timeout: Duration) -> Result<Self, ModelError> {
        Self::with_base_url(Self::DEFAULT_BASE_URL, api_key, model, timeout)
    }

    /// A client for another address (a gateway, or a wiremock server in tests).
    pub fn with_base_url(
        base_url: &str,
        api_key: SecretString,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, ModelError> {
        if api_key.expose_secret().trim().is_empty() {
            return Err(ModelError::Config("anthropic api key is empty"));
        }
        Ok(Self {
            endpoint: Endpoint::new("anthropic", base_url, "/v1/messages", model, timeout)?,
            api_key,
        })
    }

    /// Replaces the default [`RetryPolicy`].
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.endpoint.retry = retry;
        self
    }

    fn headers(&self) -> Result<HeaderMap, ModelError> {
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static("x-api-key"),
            secret_header(self.api_key.expose_secret())?,
        );
        h.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(API_VERSION),
        );
        Ok(h)
    }
}

#[async_trait::async_trait]
impl LanguageModel for AnthropicClient {
    async fn complete(&self, req: &ModelRequest) -> Result<ModelReply, ModelError> {
        let body = request_json(&self.endpoint.model, req);
        let resp: MessageResponse = self
            .endpoint
            .post(&self.headers()?, &body, classify)
            .await?;
        reply(resp)
    }

    /// Streamed (`"stream": true`): see [`streamed`].
    async fn complete_streamed(
        &self,
        req: &ModelRequest,
        progress: &Progress,
    ) -> Result<ModelReply, ModelError> {
        let mut body = request_json(&self.endpoint.model, req);
        body["stream"] = json!(true);
        self.endpoint
            .post_stream(
                &self.headers()?,
                &body,
                classify,
                progress,
                streamed::AnthropicStream::new,
            )
            .await
    }

    fn provider(&self) -> &'static str {
        self.endpoint.provider
    }

    fn model(&self) -> &str {
        &self.endpoint.model
    }
}

/// The Messages API request body for `req`. Consecutive turns of one role are merged into one
/// message (the API wants user and assistant to alternate, and all results of one round of
/// tool calls in the one user message that follows it); empty text blocks are left out
/// (the API refuses them).
pub fn request_json(model: &str, req: &ModelRequest) -> Value {
    let mut messages: Vec<(&str, Vec<Value>)> = Vec::new();
    for turn in &req.turns {
        let (role, blocks) = turn_blocks(turn);
        if blocks.is_empty() {
            continue;
        }
        match messages.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => messages.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": req.max_output_tokens,
        "messages": messages,
    });
    if !req.system.is_empty() {
        body["system"] = json!(req.system);
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "description": t.description,
                    "input_schema": t.input_schema,
                })
            })
            .collect();
        body["tools"] = json!(tools);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    body
}

fn turn_blocks(turn: &Turn) -> (&'static str, Vec<Value>) {
    match turn {
        Turn::User(text) => ("user", text_block(text).into_iter().collect()),
        Turn::Assistant { text, tool_calls } => {
            let mut blocks: Vec<Value> = text_block(text).into_iter().collect();
            blocks.extend(tool_calls.iter().map(
                |c| json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}),
            ));
            ("assistant", blocks)
        }
        Turn::ToolResult {
            call_id,
            content,
            is_error,
        } => {
            let mut block = json!({
                "type": "tool_result",
                "tool_use_id": call_id,
                "content": content,
            });
            if *is_error {
                block["is_error"] = json!(true);
            }
            ("user", vec![block])
        }
    }
}

fn text_block(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"type": "text", "text": text}))
}

#[derive(Deserialize)]
struct MessageResponse {
    model: String,
    content: Vec<ContentBlock>,
    stop_reason: Option<String>,
    #[serde(default)]
    usage: ApiUsage,
}

#[derive(Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
    id: Option<String>,
    name: Option<String>,
    input: Option<Value>,
}

#[derive(Deserialize, Default)]
struct ApiUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

/// The reply from a parsed answer: text blocks joined, `tool_use` blocks checked (an id, a
/// name and an `input` object, or the whole answer is malformed), other block types (e.g.
/// `thinking`) ignored.
fn reply(resp: MessageResponse) -> Result<ModelReply, ModelError> {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in resp.content {
        match block.kind.as_str() {
            "text" => text.push_str(block.text.as_deref().unwrap_or_default()),
            "tool_use" => tool_calls.push(tool_call(block)?),
            _ => {}
        }
    }
    Ok(ModelReply {
        text,
        tool_calls,
        stop_reason: stop_reason(resp.stop_reason.as_deref()),
        usage: Usage {
            input_tokens: resp.usage.input_tokens,
            output_tokens: resp.usage.output_tokens,
        },
        model: resp.model,
    })
}

fn tool_call(block: ContentBlock) -> Result<ToolCall, ModelError> {
    let id = block
        .id
        .filter(|s| !s.is_empty())
        .ok_or(ModelError::MalformedResponse("tool_use without an id"))?;
    let name = block
        .name
        .filter(|s| !s.is_empty())
        .ok_or(ModelError::MalformedResponse("tool_use without a name"))?;
    let arguments = match block.input {
        Some(Value::Object(o)) => Value::Object(o),
        _ => {
            return Err(ModelError::MalformedResponse(
                "tool_use input is not an object",
            ));
        }
    };
    Ok(ToolCall {
        id,
        name,
        arguments,
    })
}

fn stop_reason(s: Option<&str>) -> StopReason {
    match s {
        Some("end_turn") => StopReason::EndTurn,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("tool_use") => StopReason::ToolUse,
        Some("stop_sequence") => StopReason::StopSequence,
        Some("refusal") => StopReason::ContentFilter,
        _ => StopReason::Other,
    }
}

/// Anthropic's error body refines the status: a spend limit (429 with
/// `enforced_spend_limit_reached`) and `billing_error` are out of quota; the rest goes by
/// status (529 `overloaded_error` is a 5xx).
fn classify(f: &Failure<'_>) -> ModelError {
    let body: Value = serde_json::from_slice(f.body).unwrap_or_default();
    let error = body.get("error").unwrap_or(&Value::Null);
    let kind = error.get("type").and_then(Value::as_str);
    let detail = error
        .get("details")
        .and_then(|d| d.get("error_code"))
        .and_then(Value::as_str);
    let status = f.status.as_u16();
    match (kind, detail) {
        (_, Some("enforced_spend_limit_reached")) | (Some("billing_error"), _) => {
            ModelError::QuotaExhausted { status }
        }
        _ => classify_status(f),
    }
}

#[path = "anthropic_stream.rs"]
mod streamed;

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
