//! Provider adapters for the messaging channels: Meta's WhatsApp Cloud API, Twilio SMS and
//! Africa's Talking SMS. Each adapter verifies its provider's webhook authentication, parses
//! payloads into the one [`InboundEvent`] shape used by the rest of the server, and sends
//! [`Outbound`] messages, classifying failures as retryable or permanent for the outbox.
//!
//! Deliberately pure: no database and no axum here. Handlers and jobs own persistence,
//! dedupe (no provider's scheme carries a timestamp: replays are stopped by message ids) and
//! rate limiting. Nothing in this module logs; error codes are short stable strings and never
//! carry phone numbers, message text or tokens, and the `Debug` impls of the message types
//! redact both.

pub mod africastalking;
pub mod africastalking_client;
pub mod http;
pub mod twilio;
pub mod twilio_client;
pub mod voice;
pub mod whatsapp;
pub mod whatsapp_client;

pub use africastalking_client::AfricasTalkingClient;
pub use http::{DEFAULT_TIMEOUT, build_http_client, install_crypto_provider};
pub use twilio_client::TwilioClient;
pub use whatsapp_client::GraphClient;

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Something a provider told us through a webhook or callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundEvent {
    Message(InboundMessage),
    Status(StatusUpdate),
    /// A message we cannot read (image, audio, location, MMS…): the caller may answer
    /// "I can only read text" without ever storing the content.
    Unsupported {
        provider_message_id: String,
        from: String,
        to: String,
    },
}

impl DeliveryStatus {
    /// The stored form: "queued", "sent", "delivered", "read" or "failed" (permanence is
    /// the outbox's business, carried separately).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed { .. } => "failed",
        }
    }
}

/// [`DeliveryStatus::as_str`] as a function.
pub fn status_str(status: DeliveryStatus) -> &'static str {
    status.as_str()
}

/// A text (or button reply) from a patient.
#[derive(Clone, PartialEq, Eq)]
pub struct InboundMessage {
    pub provider_message_id: String,
    /// Raw, as the provider gave it: "254700000000" (WhatsApp) or "+254700000000" (SMS).
    pub from: String,
    /// The channel address: WhatsApp phone_number_id, Twilio / AT number or short code.
    pub to: String,
    /// The message text; for interactive replies, the chosen option's title.
    pub text: String,
    /// The id of the chosen button / list row, when the message is an interactive reply.
    pub reply_id: Option<String>,
    /// When the provider says the message was sent (unix seconds), if it says so.
    pub sent_at: Option<i64>,
}

/// Delivery progress of a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub provider_message_id: String,
    /// Our channel address the message was sent from, when the provider says: the WhatsApp
    /// phone_number_id, or Twilio's `From` (our number) / `MessagingServiceSid`. Empty for
    /// Africa's Talking, whose delivery reports do not name it (its callback path does).
    pub to: String,
    pub status: DeliveryStatus,
    /// A short stable code such as "graph_131047", "twilio_30003" or "at_user_in_blacklist".
    pub error_code: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Read,
    /// `permanent`: sending the same message again would fail the same way (opt-out, invalid
    /// number, outside the WhatsApp service window…), so the outbox must not retry it.
    Failed {
        permanent: bool,
    },
}

#[derive(Clone, PartialEq, Eq)]
pub enum OutboundBody {
    Text(String),
    /// Quick-reply buttons: (id, title). WhatsApp shows up to three; SMS gets numbered lines.
    Buttons {
        text: String,
        buttons: Vec<(String, String)>,
    },
    /// A pre-approved WhatsApp template with positional body parameters.
    Template {
        name: String,
        language: String,
        params: Vec<String>,
    },
}

#[derive(Clone, PartialEq, Eq)]
pub struct Outbound {
    /// E.164 with the leading `+`.
    pub to: String,
    pub body: OutboundBody,
    /// The outbox's key for this message. None of the three providers accepts an idempotency
    /// key on send, so it is not transmitted: dedupe stays with the outbox.
    pub idempotency_key: String,
}

/// Why a send failed. `code` is a short stable code ("http_503", "timeout", "graph_131047",
/// "twilio_21610", "at_406"), never provider message text, a phone number or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("retryable: {code}")]
    Retryable {
        code: String,
        retry_after: Option<std::time::Duration>,
    },
    #[error("permanent: {code}")]
    Permanent { code: String },
}

impl SendError {
    pub fn code(&self) -> &str {
        match self {
            Self::Retryable { code, .. } | Self::Permanent { code } => code,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }
}

/// The provider accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub provider_message_id: String,
}

/// A payload we could not understand. Variants never carry any of the body's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("malformed JSON at line {line}, column {column}")]
    Json { line: usize, column: usize },
    #[error("not a WhatsApp Business Account payload")]
    WrongObject,
    #[error("missing or empty field `{0}`")]
    MissingField(&'static str),
    #[error("unknown status value")]
    UnknownStatus,
}

impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        // serde_json's message can quote the offending input: keep only the position.
        Self::Json {
            line: e.line(),
            column: e.column(),
        }
    }
}

/// Carrier-level SMS keywords (Twilio's standard lists; Africa's Talking has none of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    Stop,
    Start,
    Help,
}

const STOP_WORDS: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const START_WORDS: &[&str] = &["START", "YES", "UNSTOP"];
const HELP_WORDS: &[&str] = &["HELP", "INFO"];

/// Classifies a whole SMS as an opt-out / opt-in / help keyword: case-insensitive, surrounding
/// whitespace ignored, and only when the keyword is the entire message ("stop" is a keyword,
/// "please stop the reminders" is not — that is for the conversation to handle).
pub fn sms_keyword(text: &str) -> Option<Keyword> {
    let t = text.trim();
    let is_in = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(t));
    if is_in(STOP_WORDS) {
        Some(Keyword::Stop)
    } else if is_in(START_WORDS) {
        Some(Keyword::Start)
    } else if is_in(HELP_WORDS) {
        Some(Keyword::Help)
    } else {
        None
    }
}

/// The body as plain text for SMS, which has neither buttons nor templates: buttons become
/// numbered lines under the text ("1. Tuesday 10:00"), so a reply of "1" can be mapped back by
/// the caller; a template degrades to its parameters, one per line. Callers that know they
/// are on SMS should render their own text and send [`OutboundBody::Text`].
pub fn plain_text(body: &OutboundBody) -> String {
    match body {
        OutboundBody::Text(t) => t.clone(),
        OutboundBody::Buttons { text, buttons } => {
            let mut out = text.clone();
            for (i, (_, title)) in buttons.iter().enumerate() {
                out.push_str(&format!("\n{}. {title}", i + 1));
            }
            out
        }
        OutboundBody::Template { params, .. } => params.join("\n"),
    }
}

/// Lowercase hex, for signatures and digests.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Decodes hex of either case; `None` on odd length or a non-hex character.
pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    s.chunks_exact(2)
        .map(|p| Some((nibble(p[0])? << 4) | nibble(p[1])?))
        .collect()
}

/// Constant-time equality of two secrets of possibly different lengths: both are hashed
/// first, so neither the content nor the length of the expected value leaks through timing.
/// An empty expected value never matches (an unset secret must not open the door).
pub(crate) fn secret_eq(expected: &[u8], given: &[u8]) -> bool {
    if expected.is_empty() {
        return false;
    }
    let a = Sha256::digest(expected);
    let b = Sha256::digest(given);
    a.as_slice().ct_eq(b.as_slice()).into()
}

fn redacted_len(s: &str) -> String {
    format!("<{} chars>", s.chars().count())
}

impl fmt::Debug for InboundMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundMessage")
            .field("provider_message_id", &self.provider_message_id)
            .field("from", &"<redacted>")
            .field("to", &self.to)
            .field("text", &redacted_len(&self.text))
            .field("reply_id", &self.reply_id)
            .field("sent_at", &self.sent_at)
            .finish()
    }
}

impl fmt::Debug for OutboundBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(t) => f.debug_tuple("Text").field(&redacted_len(t)).finish(),
            Self::Buttons { text, buttons } => f
                .debug_struct("Buttons")
                .field("text", &redacted_len(text))
                .field("buttons", &buttons.len())
                .finish(),
            Self::Template {
                name,
                language,
                params,
            } => f
                .debug_struct("Template")
                .field("name", name)
                .field("language", language)
                .field("params", &params.len())
                .finish(),
        }
    }
}

impl fmt::Debug for Outbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbound")
            .field("to", &"<redacted>")
            .field("body", &self.body)
            .field("idempotency_key", &self.idempotency_key)
            .finish()
    }
}

#[cfg(test)]
mod tests;
