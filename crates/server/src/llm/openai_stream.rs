//! Chat Completions streamed (`"stream": true`, `"stream_options": {"include_usage": true}`):
//! server-sent events whose `data` is a `chat.completion.chunk` with
//! `choices[0].delta.content` (a piece of text) or `choices[0].delta.tool_calls[]` (pieces of
//! tool calls by `index`: the first carries `id` and `function.name`, later ones fragments of
//! `function.arguments`), `choices[0].finish_reason` on the last chunk of the choice, then one
//! chunk with `usage` and empty `choices` (some compatible servers send `null`), then
//! `data: [DONE]`. An error in the middle of a stream arrives as `data: {"error": {…}}`.
//!
//! The pieces are put together into the same [`ChatResponse`] a whole answer parses to and
//! checked the same way (the arguments must be a JSON object). A stream that ends before
//! `[DONE]` is an error.

use super::{ApiFunction, ApiToolCall, ApiUsage, ChatResponse, Choice, Message, reply};
use crate::llm::stream::{Progress, SseEvent, StreamParser};
use crate::llm::{ModelError, ModelReply};
use serde_json::Value;

/// A tool call being received: its arguments as the JSON text received so far (or the object
/// a compatible server sent whole).
#[derive(Default)]
struct Call {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
    whole: Option<Value>,
}

pub(crate) struct OpenAiStream {
    progress: Progress,
    asked: String,
    model: Option<String>,
    text: String,
    calls: Vec<Call>,
    finish_reason: Option<String>,
    usage: Option<ApiUsage>,
    done: bool,
}

impl OpenAiStream {
    /// `asked`: the model asked for, named in the reply when the server does not say.
    pub(crate) fn new(progress: Progress, asked: &str) -> Self {
        Self {
            progress,
            asked: asked.to_owned(),
            model: None,
            text: String::new(),
            calls: Vec::new(),
            finish_reason: None,
            usage: None,
            done: false,
        }
    }

    fn delta_calls(&mut self, calls: &[Value]) -> Result<(), ModelError> {
        for c in calls {
            let index = c
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| usize::try_from(i).ok())
                .filter(|i| *i <= self.calls.len())
                .ok_or(ModelError::MalformedResponse(
                    "tool call delta out of order",
                ))?;
            if index == self.calls.len() {
                self.calls.push(Call::default());
                self.progress.tool_use();
            }
            let call = &mut self.calls[index];
            if let Some(id) = c.get("id").and_then(Value::as_str) {
                call.id = Some(id.to_owned());
            }
            let f = c.get("function").unwrap_or(&Value::Null);
            if let Some(name) = f.get("name").and_then(Value::as_str) {
                call.name.get_or_insert_default().push_str(name);
            }
            match f.get("arguments") {
                Some(Value::String(piece)) => call.arguments.push_str(piece),
                Some(Value::Null) | None => {}
                Some(whole) => call.whole = Some(whole.clone()),
            }
        }
        Ok(())
    }
}

impl StreamParser for OpenAiStream {
    fn event(&mut self, event: &SseEvent) -> Result<(), ModelError> {
        if self.done {
            return Ok(());
        }
        if event.data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let v: Value = serde_json::from_str(&event.data)
            .map_err(|_| ModelError::MalformedResponse("stream chunk is not JSON"))?;
        if let Some(e) = v.get("error") {
            let kind = e.get("type").and_then(Value::as_str);
            return Err(if kind == Some("server_error") {
                ModelError::Overloaded {
                    status: 500,
                    retry_after: None,
                }
            } else {
                ModelError::MalformedResponse("the stream reported an error")
            });
        }
        if let Some(m) = v
            .get("model")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
        {
            if self.model.is_none() {
                self.progress.model(m);
            }
            self.model = Some(m.to_owned());
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            let usage: ApiUsage = serde_json::from_value(u.clone()).map_err(|_| {
                ModelError::MalformedResponse("stream usage is not the expected JSON")
            })?;
            self.progress
                .usage(Some(usage.prompt_tokens), Some(usage.completion_tokens));
            self.usage = Some(usage);
        }
        let first = v.get("choices").and_then(Value::as_array).and_then(|c| {
            c.iter()
                .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
        });
        let Some(choice) = first else {
            return Ok(());
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            self.text.push_str(text);
            self.progress.text(text);
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            self.delta_calls(calls)?;
        }
        if let Some(r) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(r.to_owned());
        }
        Ok(())
    }

    fn finish(self) -> Result<ModelReply, ModelError> {
        if !self.done {
            return Err(ModelError::MalformedResponse("stream ended before [DONE]"));
        }
        let tool_calls = self
            .calls
            .into_iter()
            .map(|c| ApiToolCall {
                id: c.id,
                function: Some(ApiFunction {
                    name: c.name,
                    arguments: Some(c.whole.unwrap_or(Value::String(c.arguments))),
                }),
            })
            .collect::<Vec<_>>();
        let resp = ChatResponse {
            model: self.model,
            choices: vec![Choice {
                message: Message {
                    content: Some(self.text),
                    tool_calls: Some(tool_calls),
                },
                finish_reason: self.finish_reason,
            }],
            usage: self.usage,
        };
        reply(resp, &self.asked)
    }
}
