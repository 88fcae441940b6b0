//! The Messages API's streamed answer (`"stream": true`): server-sent events
//! `message_start` (the model, input tokens), then per content block `content_block_start`
//! (`text`, or `tool_use` with its id and name and an empty `input`), `content_block_delta`s
//! (`text_delta` with `text`, `input_json_delta` with a `partial_json` fragment of the tool's
//! input) and `content_block_stop`; then `message_delta` (`delta.stop_reason`, cumulative
//! `usage.output_tokens`) and `message_stop`. `ping` events may come anywhere; an `error`
//! event (`{"type": "error", "error": {"type": "overloaded_error", …}}`) ends the answer.
//! Other block and delta types (`thinking`, `signature_delta`, …) are skipped.
//!
//! The blocks are put together into the same [`MessageResponse`] a whole answer parses to
//! and checked the same way (a tool call needs an id, a name and an input that is a JSON
//! object). A stream that ends before `message_stop` is an error.

use super::{ApiUsage, ContentBlock, MessageResponse, reply};
use crate::llm::stream::{Progress, SseEvent, StreamParser};
use crate::llm::{ModelError, ModelReply};
use serde_json::Value;

/// One content block being received; tool input is kept as the JSON text received so far.
struct Block {
    kind: String,
    text: String,
    id: Option<String>,
    name: Option<String>,
    input_json: String,
}

pub(crate) struct AnthropicStream {
    progress: Progress,
    model: String,
    blocks: Vec<Block>,
    stop_reason: Option<String>,
    usage: ApiUsage,
    stopped: bool,
}

impl AnthropicStream {
    pub(crate) fn new(progress: Progress) -> Self {
        Self {
            progress,
            model: String::new(),
            blocks: Vec::new(),
            stop_reason: None,
            usage: ApiUsage::default(),
            stopped: false,
        }
    }

    fn block(&mut self, v: &Value) -> Result<&mut Block, ModelError> {
        v.get("index")
            .and_then(Value::as_u64)
            .and_then(|i| self.blocks.get_mut(usize::try_from(i).ok()?))
            .ok_or(ModelError::MalformedResponse(
                "stream event for an unknown block",
            ))
    }

    fn count(&mut self, usage: Option<&Value>) {
        let Some(u) = usage else { return };
        let field = |name| u.get(name).and_then(Value::as_u64);
        if let Some(i) = field("input_tokens") {
            self.usage.input_tokens = i;
        }
        if let Some(o) = field("output_tokens") {
            self.usage.output_tokens = o;
        }
        self.progress
            .usage(field("input_tokens"), field("output_tokens"));
    }
}

/// The error an `error` event stands for: the same kinds as the API's HTTP errors.
fn stream_error(v: &Value) -> ModelError {
    match v.pointer("/error/type").and_then(Value::as_str) {
        Some("overloaded_error") => ModelError::Overloaded {
            status: 529,
            retry_after: None,
        },
        Some("api_error") => ModelError::Overloaded {
            status: 500,
            retry_after: None,
        },
        Some("rate_limit_error") => ModelError::RateLimited { retry_after: None },
        _ => ModelError::MalformedResponse("the stream reported an error"),
    }
}

impl StreamParser for AnthropicStream {
    fn event(&mut self, event: &SseEvent) -> Result<(), ModelError> {
        if self.stopped {
            return Ok(());
        }
        let v: Value = serde_json::from_str(&event.data)
            .map_err(|_| ModelError::MalformedResponse("stream event is not JSON"))?;
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .or(event.event.as_deref())
            .unwrap_or_default();
        match kind {
            "message_start" => {
                let m = v.get("message").unwrap_or(&Value::Null);
                if let Some(model) = m.get("model").and_then(Value::as_str) {
                    self.model = model.to_owned();
                    self.progress.model(model);
                }
                self.count(m.get("usage"));
            }
            "content_block_start" => {
                let index = v.get("index").and_then(Value::as_u64);
                if index != Some(self.blocks.len() as u64) {
                    return Err(ModelError::MalformedResponse("stream blocks out of order"));
                }
                let b = v.get("content_block").unwrap_or(&Value::Null);
                let s = |name| b.get(name).and_then(Value::as_str).map(str::to_owned);
                let kind = s("type").unwrap_or_default();
                let text = s("text").unwrap_or_default();
                if kind == "tool_use" {
                    self.progress.tool_use();
                } else if kind == "text" {
                    self.progress.text(&text);
                }
                self.blocks.push(Block {
                    kind,
                    text,
                    id: s("id"),
                    name: s("name"),
                    input_json: String::new(),
                });
            }
            "content_block_delta" => {
                let progress = self.progress.clone();
                let block = self.block(&v)?;
                let d = v.get("delta").unwrap_or(&Value::Null);
                let s = |name| d.get(name).and_then(Value::as_str).unwrap_or_default();
                match s("type") {
                    "text_delta" if block.kind == "text" => {
                        block.text.push_str(s("text"));
                        progress.text(s("text"));
                    }
                    "input_json_delta" if block.kind == "tool_use" => {
                        block.input_json.push_str(s("partial_json"));
                    }
                    "text_delta" | "input_json_delta" => {
                        return Err(ModelError::MalformedResponse(
                            "stream delta does not fit its block",
                        ));
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                self.block(&v)?;
            }
            "message_delta" => {
                if let Some(r) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(r.to_owned());
                }
                self.count(v.get("usage"));
            }
            "message_stop" => self.stopped = true,
            "error" => return Err(stream_error(&v)),
            // `ping`, and event types added later.
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<ModelReply, ModelError> {
        if !self.stopped {
            return Err(ModelError::MalformedResponse(
                "stream ended before message_stop",
            ));
        }
        let content =
            self.blocks
                .into_iter()
                .map(|b| {
                    let input = if b.kind != "tool_use" {
                        None
                    } else if b.input_json.trim().is_empty() {
                        // A tool without parameters may get no input delta at all.
                        Some(Value::Object(serde_json::Map::new()))
                    } else {
                        Some(serde_json::from_str(&b.input_json).map_err(|_| {
                            ModelError::MalformedResponse("tool_use input is not JSON")
                        })?)
                    };
                    Ok(ContentBlock {
                        kind: b.kind,
                        text: Some(b.text),
                        id: b.id,
                        name: b.name,
                        input,
                    })
                })
                .collect::<Result<Vec<_>, ModelError>>()?;
        reply(MessageResponse {
            model: self.model,
            content,
            stop_reason: self.stop_reason,
            usage: self.usage,
        })
    }
}
