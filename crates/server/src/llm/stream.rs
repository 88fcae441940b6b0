//! Streamed answers (server-sent events), used on the phone line: the text a model has said so
//! far is kept in a [`Progress`], so that when a phone turn's deadline passes the caller can
//! still hear the answer's *complete sentences* instead of the built-in reply (see
//! `agent::converse`). A Twilio webhook answers with one TwiML document, so the phone line
//! cannot start speaking on the first sentence: what streaming buys is an answer at the
//! deadline from a model that was still talking.
//!
//! The event stream format (`text/event-stream`): lines `field: value`, an event ends at a
//! blank line, `data` lines of one event are joined with `\n`, lines starting with `:` are
//! comments, `\r\n` and `\n` both end a line, and an event left without its blank line at the
//! end of the body is dropped. Each provider turns its events into a [`ModelReply`]
//! (`anthropic_stream.rs`, `openai_stream.rs`); an answer that ends before the provider's end
//! event, or whose tool-call arguments do not form a JSON object, is an error, never a reply.

use super::{ModelError, ModelReply, Usage};
use std::sync::{Arc, Mutex};

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// Splits a byte stream into [`SseEvent`]s as chunks arrive (a chunk may end anywhere, even
/// inside a UTF-8 character).
#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
}

impl SseDecoder {
    /// The events completed by `bytes`.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, ModelError> {
        let mut out = Vec::new();
        for &b in bytes {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = std::mem::take(&mut self.line);
            let line = String::from_utf8(line)
                .map_err(|_| ModelError::MalformedResponse("stream is not UTF-8"))?;
            if line.is_empty() {
                if let Some(data) = self.data.take() {
                    out.push(SseEvent {
                        event: self.event.take(),
                        data,
                    });
                }
                self.event = None;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line.as_str(), ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.event = Some(value.to_owned()),
                "data" => match &mut self.data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                },
                // `id`, `retry` and unknown fields mean nothing to us.
                _ => {}
            }
        }
        Ok(out)
    }
}

/// What a provider's stream turns into: each event in order, then the reply once the body
/// ended.
pub(crate) trait StreamParser: Send {
    fn event(&mut self, event: &SseEvent) -> Result<(), ModelError>;
    fn finish(self) -> Result<ModelReply, ModelError>;
}

/// The answer so far of a streamed call (of its latest attempt), shared with the caller who
/// may stop waiting for the rest.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<Partial>>);

#[derive(Debug, Default)]
struct Partial {
    text: String,
    tool_use: bool,
    usage: Usage,
    model: String,
}

/// Words that announce an action rather than answer: a cut answer ending with one of these
/// is not said (the model was about to call a tool).
const ANNOUNCES: [&str; 7] = [
    "let me",
    "i'll check",
    "i will check",
    "i'll look",
    "i will look",
    "one moment",
    "checking",
];

impl Progress {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Partial) -> T) -> Option<T> {
        self.0.lock().ok().map(|mut p| f(&mut p))
    }

    /// A new attempt starts: what an earlier one said is forgotten.
    pub(crate) fn restart(&self) {
        self.with(|p| *p = Partial::default());
    }

    pub(crate) fn text(&self, delta: &str) {
        self.with(|p| p.text.push_str(delta));
    }

    /// The answer calls a tool: its text is not the whole answer.
    pub(crate) fn tool_use(&self) {
        self.with(|p| p.tool_use = true);
    }

    /// The provider's token counts so far (a later report replaces an earlier one).
    pub(crate) fn usage(&self, input: Option<u64>, output: Option<u64>) {
        self.with(|p| {
            if let Some(i) = input {
                p.usage.input_tokens = i;
            }
            if let Some(o) = output {
                p.usage.output_tokens = o;
            }
        });
    }

    pub(crate) fn model(&self, model: &str) {
        self.with(|p| p.model = model.to_owned());
    }

    /// The tokens the provider reported so far (OpenAI reports them only at the end of the
    /// stream, Anthropic the input at its start).
    pub fn reported_usage(&self) -> Usage {
        self.with(|p| p.usage).unwrap_or_default()
    }

    /// The model the provider said is answering, if it said so yet.
    pub fn reported_model(&self) -> String {
        self.with(|p| p.model.clone()).unwrap_or_default()
    }

    /// The answer's complete sentences so far: up to the last `.`, `!` or `?` that is
    /// followed by white space (so `8.30` or a sentence still being written is not cut).
    /// `None` when the answer calls a tool, has no complete sentence yet, or its last
    /// complete sentence announces an action ("Let me check…").
    pub fn complete_sentences(&self) -> Option<String> {
        let (text, tool_use) = self.with(|p| (p.text.clone(), p.tool_use))?;
        if tool_use {
            return None;
        }
        let mut end = None;
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if matches!(c, '.' | '!' | '?')
                && chars.peek().is_some_and(|(_, next)| next.is_whitespace())
            {
                end = Some(i + c.len_utf8());
            }
        }
        let said = text[..end?].trim();
        let last = said
            .trim_end_matches(['.', '!', '?'])
            .rsplit(['.', '!', '?'])
            .next()
            .unwrap_or_default()
            .to_lowercase();
        if said.is_empty() || ANNOUNCES.iter().any(|a| last.contains(a)) {
            return None;
        }
        Some(said.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::default();
        chunks.iter().flat_map(|c| d.feed(c).unwrap()).collect()
    }

    #[test]
    fn events_are_split_on_blank_lines_whatever_the_chunking() {
        let body = "event: ping\ndata: {\"type\": \"ping\"}\n\n: a comment\r\ndata: a\r\ndata:b\r\n\r\ndata: [DONE]\n\ndata: cut";
        let want = vec![
            SseEvent {
                event: Some("ping".into()),
                data: "{\"type\": \"ping\"}".into(),
            },
            SseEvent {
                event: None,
                data: "a\nb".into(),
            },
            SseEvent {
                event: None,
                data: "[DONE]".into(),
            },
        ];
        assert_eq!(events(&[body.as_bytes()]), want);
        let bytes = body.as_bytes();
        let one_by_one: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(events(&one_by_one), want);
        // A character split between chunks.
        let e = events(&[b"data: caf\xc3", b"\xa9\n\n"]);
        assert_eq!(e[0].data, "café");
        assert!(SseDecoder::default().feed(b"data: \xff\n\n").is_err());
    }

    #[test]
    fn only_complete_sentences_of_a_text_answer_are_kept() {
        let p = Progress::new();
        p.text("We open at 8.30 on weekdays");
        assert_eq!(p.complete_sentences(), None, "no sentence is complete yet");
        p.text(". On Saturdays we op");
        assert_eq!(
            p.complete_sentences().as_deref(),
            Some("We open at 8.30 on weekdays.")
        );
        p.text("en at nine! Anything el");
        assert_eq!(
            p.complete_sentences().as_deref(),
            Some("We open at 8.30 on weekdays. On Saturdays we open at nine!")
        );
        p.tool_use();
        assert_eq!(p.complete_sentences(), None, "a tool call follows the text");
        p.restart();
        p.text("Sure. Let me check the diary. ");
        assert_eq!(p.complete_sentences(), None, "an announced action");
        p.restart();
        assert_eq!(p.complete_sentences(), None);
        p.usage(Some(10), None);
        p.usage(None, Some(3));
        assert_eq!(
            p.reported_usage(),
            Usage {
                input_tokens: 10,
                output_tokens: 3
            }
        );
    }
}
