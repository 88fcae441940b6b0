//! OpenAI Chat Completions: `POST {base}/v1/chat/completions` with `Authorization: Bearer`.
//! Messages have roles `system`, `user`, `assistant` (with `tool_calls`) and `tool`; tools are
//! `{"type": "function", "function": {name, description, parameters}}`; the answer is
//! `choices[0].message` with `content` and `tool_calls[]` whose `function.arguments` is a JSON
//! object *encoded as a string*, which we parse (anything but an object is malformed).
//!
//! The same client speaks to OpenAI-compatible servers (Ollama, vLLM, llama.cpp server) by
//! base URL, with the key optional: without one no `Authorization` header is sent. Two
//! differences: the output limit is sent as `max_completion_tokens` to OpenAI (which
//! deprecated `max_tokens`) and as `max_tokens` to compatible servers (which may know only
//! that). Tool-call `arguments` sent as a JSON object instead of a string (as some
//! compatible servers do) are accepted as they are.
//!
//! Errors arrive as `{"error": {"message", "type", "code"}}`; a 429 with code
//! `insufficient_quota` means the account has no credit left and is not retried.

use super::http::{Endpoint, Failure, classify_status, secret_header};
use super::stream::Progress;
use super::{
    LanguageModel, ModelError, ModelReply, ModelRequest, RetryPolicy, StopReason, ToolCall, Turn,
    Usage,
};
use reqwest::header::{AUTHORIZATION, HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// Client for one chat model at OpenAI or at an OpenAI-compatible server. `Debug` never
/// shows the key.
#[derive(Debug, Clone)]
pub struct OpenAiClient {
    endpoint: Endpoint,
    api_key: Option<SecretString>,
    /// `max_completion_tokens` (OpenAI) or `max_tokens` (compatible servers).
    max_tokens_field: &'static str,
}

impl OpenAiClient {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.openai.com";

    /// Production OpenAI client for `model` (e.g. `gpt-4o-mini`) with a per-attempt timeout.
    pub fn openai(
        api_key: SecretString,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, ModelError> {
        Self::openai_at(Self::DEFAULT_BASE_URL, api_key, model, timeout)
    }

    /// OpenAI's API at another address (a gateway, or a wiremock server in tests).
    pub fn openai_at(
        base_url: &str,
        api_key: SecretString,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, ModelError> {
        if api_key.expose_secret().trim().is_empty() {
            return Err(ModelError::Config("openai api key is empty"));
        }
        Self::build(
            "openai",
            base_url,
            Some(api_key),
            model,
            timeout,
            "max_completion_tokens",
        )
    }

    /// A self-hosted OpenAI-compatible server, e.g. `http://127.0.0.1:11434` (Ollama),
    /// `http://gpu-box:8000` (vLLM) or `http://127.0.0.1:8080` (llama.cpp). `api_key` is
    /// sent as a bearer token when given (vLLM's `--api-key`, a proxy's key).
    pub fn compatible(
        base_url: &str,
        api_key: Option<SecretString>,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, ModelError> {
        let api_key = api_key.filter(|k| !k.expose_secret().trim().is_empty());
        Self::build(
            "openai_compatible",
            base_url,
            api_key,
            model,
            timeout,
            "max_tokens",
        )
    }

    fn build(
        provider: &'static str,
        base_url: &str,
        api_key: Option<SecretString>,
        model: &str,
        timeout: Duration,
        max_tokens_field: &'static str,
    ) -> Result<Self, ModelError> {
        let path = "/v1/chat/completions";
        Ok(Self {
            endpoint: Endpoint::new(provider, base_url, path, model, timeout)?,
            api_key,
            max_tokens_field,
        })
    }

    /// Replaces the default [`RetryPolicy`].
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.endpoint.retry = retry;
        self
    }

    fn headers(&self) -> Result<HeaderMap, ModelError> {
        let mut h = HeaderMap::new();
        if let Some(key) = &self.api_key {
            let bearer = format!("Bearer {}", key.expose_secret());
            h.insert(AUTHORIZATION, secret_header(&bearer)?);
        }
        Ok(h)
    }

    /// The Chat Completions request body for `req`.
    pub fn request_json(&self, req: &ModelRequest) -> Value {
        let mut messages = Vec::with_capacity(req.turns.len() + 1);
        if !req.system.is_empty() {
            messages.push(json!({"role": "system", "content": req.system}));
        }
        messages.extend(req.turns.iter().map(message_json));
        let mut body = json!({
            "model": self.endpoint.model,
            "messages": messages,
        });
        body[self.max_tokens_field] = json!(req.max_output_tokens);
        if !req.tools.is_empty() {
            let tools: Vec<Value> = req
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.input_schema,
                    }})
                })
                .collect();
            body["tools"] = json!(tools);
        }
        if let Some(t) = req.temperature {
            body["temperature"] = json!(t);
        }
        body
    }
}

#[async_trait::async_trait]
impl LanguageModel for OpenAiClient {
    async fn complete(&self, req: &ModelRequest) -> Result<ModelReply, ModelError> {
        let body = self.request_json(req);
        let resp: ChatResponse = self
            .endpoint
            .post(&self.headers()?, &body, classify)
            .await?;
        reply(resp, &self.endpoint.model)
    }

    /// Streamed (`"stream": true` with the usage in the last chunk): see [`streamed`].
    async fn complete_streamed(
        &self,
        req: &ModelRequest,
        progress: &Progress,
    ) -> Result<ModelReply, ModelError> {
        let mut body = self.request_json(req);
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        let asked = self.endpoint.model.as_str();
        self.endpoint
            .post_stream(&self.headers()?, &body, classify, progress, |p| {
                streamed::OpenAiStream::new(p, asked)
            })
            .await
    }

    fn provider(&self) -> &'static str {
        self.endpoint.provider
    }

    fn model(&self) -> &str {
        &self.endpoint.model
    }
}

/// One turn as a message. An assistant turn that only called tools has `content: null`.
fn message_json(turn: &Turn) -> Value {
    match turn {
        Turn::User(text) => json!({"role": "user", "content": text}),
        Turn::Assistant { text, tool_calls } if tool_calls.is_empty() => {
            json!({"role": "assistant", "content": text})
        }
        Turn::Assistant { text, tool_calls } => {
            let calls: Vec<Value> = tool_calls
                .iter()
                .map(|c| {
                    json!({"id": c.id, "type": "function", "function": {
                        "name": c.name,
                        "arguments": c.arguments.to_string(),
                    }})
                })
                .collect();
            let content = if text.is_empty() {
                Value::Null
            } else {
                json!(text)
            };
            json!({"role": "assistant", "content": content, "tool_calls": calls})
        }
        Turn::ToolResult {
            call_id, content, ..
        } => json!({"role": "tool", "tool_call_id": call_id, "content": content}),
    }
}

#[derive(Deserialize)]
struct ChatResponse {
    model: Option<String>,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ApiUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ApiToolCall>>,
}

#[derive(Deserialize)]
struct ApiToolCall {
    id: Option<String>,
    function: Option<ApiFunction>,
}

#[derive(Deserialize)]
struct ApiFunction {
    name: Option<String>,
    /// A string holding JSON (the spec), or an object (some compatible servers).
    arguments: Option<Value>,
}

#[derive(Deserialize)]
struct ApiUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// The reply from the first choice. `asked` names the model when a compatible server does
/// not say which one answered.
fn reply(resp: ChatResponse, asked: &str) -> Result<ModelReply, ModelError> {
    let choice = resp
        .choices
        .into_iter()
        .next()
        .ok_or(ModelError::MalformedResponse("no choices"))?;
    let tool_calls = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(tool_call)
        .collect::<Result<Vec<_>, _>>()?;
    let usage = resp.usage.map_or_else(Usage::default, |u| Usage {
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
    });
    Ok(ModelReply {
        text: choice.message.content.unwrap_or_default(),
        tool_calls,
        stop_reason: finish_reason(choice.finish_reason.as_deref()),
        usage,
        model: resp
            .model
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| asked.to_owned()),
    })
}

fn tool_call(call: ApiToolCall) -> Result<ToolCall, ModelError> {
    let id = call
        .id
        .filter(|s| !s.is_empty())
        .ok_or(ModelError::MalformedResponse("tool call without an id"))?;
    let function = call.function.ok_or(ModelError::MalformedResponse(
        "tool call without a function",
    ))?;
    let name = function
        .name
        .filter(|s| !s.is_empty())
        .ok_or(ModelError::MalformedResponse("tool call without a name"))?;
    let arguments = match function.arguments {
        // A function without parameters may come back with "" instead of "{}".
        Some(Value::String(s)) if s.trim().is_empty() => json!({}),
        Some(Value::String(s)) => serde_json::from_str::<Value>(&s)
            .map_err(|_| ModelError::MalformedResponse("tool call arguments are not JSON"))?,
        Some(v) => v,
        None => return Err(ModelError::MalformedResponse("tool call without arguments")),
    };
    if !arguments.is_object() {
        return Err(ModelError::MalformedResponse(
            "tool call arguments are not an object",
        ));
    }
    Ok(ToolCall {
        id,
        name,
        arguments,
    })
}

fn finish_reason(s: Option<&str>) -> StopReason {
    match s {
        Some("stop") => StopReason::EndTurn,
        Some("length") => StopReason::MaxTokens,
        Some("tool_calls" | "function_call") => StopReason::ToolUse,
        Some("content_filter") => StopReason::ContentFilter,
        _ => StopReason::Other,
    }
}

/// OpenAI's error body refines the status: `insufficient_quota` (a 429) is out of credit;
/// the rest goes by status.
fn classify(f: &Failure<'_>) -> ModelError {
    let body: Value = serde_json::from_slice(f.body).unwrap_or_default();
    let error = body.get("error").unwrap_or(&Value::Null);
    let quota = ["code", "type"]
        .iter()
        .any(|k| error.get(k).and_then(Value::as_str) == Some("insufficient_quota"));
    if quota {
        return ModelError::QuotaExhausted {
            status: f.status.as_u16(),
        };
    }
    classify_status(f)
}

#[path = "openai_stream.rs"]
mod streamed;

#[cfg(test)]
#[path = "openai_tests.rs"]
mod tests;
